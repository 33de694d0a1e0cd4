//! Events that flow between clients of a room.

use std::sync::Arc;
use std::time::Instant;

use sfu_bwe::Bitrate;
use sfu_ids::{
    ClientId, KeyEpoch, OutgoingDatagram, SfuKeyframeRequest, SfuMediaKind, SfuMediaPayload,
    SfuMid, SfuRid,
};
use str0m::format::PayloadParams;

use crate::svc::SvcLayers;

/// A track a client publishes, as announced to the other clients.
#[derive(Debug, Clone)]
pub struct TrackInfo {
    /// The publishing client.
    pub origin: ClientId,
    /// The publisher's media line.
    pub mid: SfuMid,
    /// Audio or video.
    pub kind: SfuMediaKind,
    /// The publisher's negotiated codecs, so subscribers can map payload types. Shared.
    pub codecs: Arc<[PayloadParams]>,
    /// The simulcast layers the publisher declared (`a=simulcast`), in SDP order, which
    /// is taken as lowest quality first; empty without simulcast.
    pub rids: Arc<[SfuRid]>,
    /// The publisher muted it ([`Client::set_muted`](crate::Client::set_muted)): it sends
    /// nothing until unmuted, and its subscribers spend no budget on it.
    pub muted: bool,
    /// The publisher is a relay from another SFU ([`PeerRole::Relay`](crate::PeerRole)):
    /// the track is a participant's of that node, and no relay receives it.
    pub relayed: bool,
}

/// An event one client produces for others. The registry routes it: media and track
/// events to every client but the origin, keyframe requests to the origin only.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Propagated {
    /// A client started publishing a track.
    TrackOpen(TrackInfo),
    /// A client muted or unmuted one of its tracks.
    TrackMuted {
        /// The publisher.
        origin: ClientId,
        /// Its m-line of the track.
        mid: SfuMid,
        /// Muted (or unmuted).
        muted: bool,
    },
    /// An end-to-end encrypted publisher moved a track on to a newer SFrame key epoch
    /// (the first epoch seen counts as one).
    KeyEpochChanged {
        /// The publisher.
        origin: ClientId,
        /// Its m-line of the track.
        mid: SfuMid,
        /// The epoch its frames are now encrypted under.
        epoch: KeyEpoch,
    },
    /// A client stopped publishing a track.
    TrackClosed {
        /// The publisher.
        origin: ClientId,
        /// The publisher's media line.
        mid: SfuMid,
    },
    /// A media packet from a publisher.
    Media {
        /// The publisher.
        origin: ClientId,
        /// The packet; its payload is shared between all subscribers.
        media: SfuMediaPayload,
    },
    /// A subscriber asks the publisher `origin` for a keyframe.
    KeyframeRequest {
        /// The publisher that must produce the keyframe.
        origin: ClientId,
        /// Which media line and layer of the publisher.
        request: SfuKeyframeRequest,
    },
    /// A client left the room: subscribers drop its tracks.
    ClientLeft(ClientId),
    /// A data channel message from a client, for the others' channels of `label`.
    Data {
        /// The sender.
        origin: ClientId,
        /// The channel's label.
        label: Arc<str>,
        /// Binary (or text) message.
        binary: bool,
        /// The message as relayed: the sender's id in front (see
        /// [`Client`](crate::Client)'s data channel docs).
        data: Arc<[u8]>,
    },
}

impl Propagated {
    /// The client an event is about: the publisher for media and tracks.
    pub fn origin(&self) -> ClientId {
        match self {
            Self::TrackOpen(t) => t.origin,
            Self::TrackClosed { origin, .. }
            | Self::TrackMuted { origin, .. }
            | Self::KeyEpochChanged { origin, .. }
            | Self::Media { origin, .. }
            | Self::KeyframeRequest { origin, .. }
            | Self::Data { origin, .. } => *origin,
            Self::ClientLeft(id) => *id,
        }
    }
}

/// Why a subscriber's forwarded layer or pause state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LayerChangeReason {
    /// The bandwidth estimate towards the subscriber moved.
    Estimate,
    /// The application's cap ([`Client::set_available_bitrate`](crate::Client::set_available_bitrate)).
    ApplicationCap,
    /// The forwarded layer stopped arriving; another one replaced it.
    LayerGone,
    /// The subscriber's hints (its highest layer, the size it shows the video at) changed
    /// which layers it may be sent ([`Client::set_track_hints`](crate::Client::set_track_hints)).
    Hints,
    /// The budget no longer carries the track's lowest layer: video paused, audio goes on.
    Paused,
    /// The budget carries the track again.
    Resumed,
    /// Forwarding started (the first layer after the track opened).
    Started,
    /// The application unsubscribed the subscriber from the track: nothing is forwarded.
    Unsubscribed,
    /// The application subscribed the subscriber to the track again.
    Subscribed,
    /// The publisher muted the track: nothing to forward.
    Muted,
    /// The publisher unmuted the track: it restarts at a keyframe.
    Unmuted,
}

/// A subscriber's forwarded layer or pause state of one track changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LayerChange {
    /// The publisher of the track.
    pub publisher: ClientId,
    /// The publisher's media line.
    pub mid: SfuMid,
    /// The layer now forwarded (`None` without simulcast, or while paused).
    pub layer: Option<SfuRid>,
    /// The spatial and temporal layers now forwarded, for a scalable (SVC) stream.
    pub svc: Option<SvcLayers>,
    /// `true` while the track is paused for this subscriber.
    pub paused: bool,
    /// Why.
    pub reason: LayerChangeReason,
    /// The subscriber's whole budget when it happened (`None`: unlimited).
    pub budget: Option<Bitrate>,
}

/// An SDP offer for a client's peer, with the publisher of each track it sends.
///
/// The SFU reuses the m-line of a track that ended for the next track of the same kind,
/// so a meeting with people coming and going keeps as many m-lines as it has tracks at
/// once. A reused m-line keeps the `a=msid` it was created with (str0m cannot change it),
/// so a peer learns which publisher an m-line carries from [`SfuOffer::tracks`], not from
/// the SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfuOffer {
    /// The SDP text.
    pub sdp: String,
    /// Every m-line the offer sends media on, and whose track it carries.
    pub tracks: Vec<OfferedTrack>,
    /// The offer's number, counting from 1 per client. An offer of the peer's own that
    /// crosses this one drops it; the peer learns up to which number from
    /// [`Client::offers_superseded`](crate::Client::offers_superseded) with the answer to
    /// its offer, and must not answer those.
    pub seq: u64,
}

/// One sending m-line of an [`SfuOffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferedTrack {
    /// The m-line in the offer.
    pub mid: SfuMid,
    /// The client publishing what it carries.
    pub publisher: ClientId,
    /// The publisher's own m-line of the track.
    pub publisher_mid: SfuMid,
    /// Audio or video.
    pub kind: SfuMediaKind,
}

/// What a client wants done next; drain with [`Client::poll_output`](crate::Client::poll_output)
/// until [`ClientOutput::Timeout`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientOutput {
    /// Send this datagram.
    Transmit(OutgoingDatagram),
    /// Route this event to other clients.
    Propagate(Propagated),
    /// Deliver this SDP offer to the remote peer over signaling; its answer goes to
    /// [`Client::accept_answer`](crate::Client::accept_answer).
    Offer(SfuOffer),
    /// The layer or pause state of a track this peer receives changed.
    LayerChanged(LayerChange),
    /// Nothing more until this time (or new input).
    Timeout(Instant),
}
