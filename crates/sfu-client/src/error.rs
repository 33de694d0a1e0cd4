//! Client errors.

use sfu_ids::DatagramError;

/// What went wrong in a [`Client`](crate::Client) operation.
///
/// Every variant comes from peer input or signaling; none is a bug in the caller. The room
/// maps them to actions: a bad datagram is dropped and counted, bad SDP is answered with a
/// signaling error, a failed connection closes the peer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The SDP text does not parse.
    #[error("SDP does not parse: {0}")]
    SdpParse(String),
    /// str0m refused the offer or answer (for example no usable m-line, no fingerprint).
    #[error("SDP rejected: {0}")]
    SdpRejected(#[source] str0m::RtcError),
    /// An answer arrived but no offer of ours is outstanding.
    #[error("an answer arrived but no offer is outstanding")]
    NoPendingOffer,
    /// The peer's offer crossed one of ours on a connection this side opened
    /// ([`Client::create_offer`](crate::Client::create_offer)): ours wins, and the peer
    /// offers again once it has answered ours.
    #[error("the offer crossed one of ours, which wins")]
    OfferCollision,
    /// [`Client::create_offer`](crate::Client::create_offer) on a connection that already
    /// has an offer.
    #[error("the connection already has an offer")]
    AlreadyNegotiated,
    /// The datagram is not STUN, DTLS, RTP or RTCP.
    #[error(transparent)]
    Datagram(#[from] DatagramError),
    /// str0m rejected the input (the datagram is dropped; the connection stays unless
    /// str0m closed it, see `Client::is_alive`).
    #[error("str0m rejected the input: {0}")]
    Rtc(#[source] str0m::RtcError),
    /// The client is already closed.
    #[error("the peer connection is closed")]
    Closed,
}
