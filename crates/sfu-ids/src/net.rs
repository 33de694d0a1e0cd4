//! Datagrams crossing the socket boundary.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use str0m::net::{Protocol, Receive, Transmit};

/// Transport protocol of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SfuProtocol {
    /// Plain UDP.
    Udp,
    /// TCP with RFC 4571 framing.
    Tcp,
    /// TCP with a fixed SSL hello exchange.
    SslTcp,
    /// TLS.
    Tls,
}

impl From<Protocol> for SfuProtocol {
    fn from(p: Protocol) -> Self {
        match p {
            Protocol::Udp => Self::Udp,
            Protocol::Tcp => Self::Tcp,
            Protocol::SslTcp => Self::SslTcp,
            Protocol::Tls => Self::Tls,
        }
    }
}

impl From<SfuProtocol> for Protocol {
    fn from(p: SfuProtocol) -> Self {
        match p {
            SfuProtocol::Udp => Self::Udp,
            SfuProtocol::Tcp => Self::Tcp,
            SfuProtocol::SslTcp => Self::SslTcp,
            SfuProtocol::Tls => Self::Tls,
        }
    }
}

/// Why a datagram could not be handed to str0m.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DatagramError {
    /// Not STUN, DTLS, RTP or RTCP by its first byte (RFC 7983 demultiplexing), or a STUN
    /// message that does not parse.
    #[error("datagram of {len} bytes is not a well-formed STUN, DTLS, RTP or RTCP datagram")]
    Unparseable {
        /// Length of the rejected datagram.
        len: usize,
    },
}

/// A datagram received from the network, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingDatagram {
    /// Transport protocol.
    pub proto: SfuProtocol,
    /// The remote address that sent it.
    pub source: SocketAddr,
    /// The local address it arrived on.
    pub destination: SocketAddr,
    /// The bytes.
    pub contents: Bytes,
}

impl IncomingDatagram {
    /// A UDP datagram.
    pub fn udp(source: SocketAddr, destination: SocketAddr, contents: impl Into<Bytes>) -> Self {
        Self {
            proto: SfuProtocol::Udp,
            source,
            destination,
            contents: contents.into(),
        }
    }

    /// Borrows the datagram as str0m input, classifying its contents (RFC 7983).
    pub fn to_receive(&self) -> Result<Receive<'_>, DatagramError> {
        let contents =
            self.contents
                .as_ref()
                .try_into()
                .map_err(|_| DatagramError::Unparseable {
                    len: self.contents.len(),
                })?;
        Ok(Receive {
            proto: self.proto.into(),
            source: self.source,
            destination: self.destination,
            contents,
        })
    }

    /// Borrows the datagram as a str0m [`str0m::Input`] at time `now`.
    pub fn to_input(&self, now: Instant) -> Result<str0m::Input<'_>, DatagramError> {
        Ok(str0m::Input::Receive(now, self.to_receive()?))
    }
}

/// A datagram to send to the network, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingDatagram {
    /// Transport protocol.
    pub proto: SfuProtocol,
    /// The local address to send from.
    pub source: SocketAddr,
    /// The remote address to send to.
    pub destination: SocketAddr,
    /// The bytes.
    pub contents: Bytes,
}

impl From<Transmit> for OutgoingDatagram {
    fn from(t: Transmit) -> Self {
        let bytes: Vec<u8> = t.contents.into();
        Self {
            proto: t.proto.into(),
            source: t.source,
            destination: t.destination,
            // `Bytes::from(Vec)` takes ownership of the buffer; no copy.
            contents: Bytes::from(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn protocol_round_trips_through_str0m() {
        for p in [
            SfuProtocol::Udp,
            SfuProtocol::Tcp,
            SfuProtocol::SslTcp,
            SfuProtocol::Tls,
        ] {
            assert_eq!(SfuProtocol::from(Protocol::from(p)), p);
        }
    }

    #[test]
    fn empty_datagram_is_a_typed_error() {
        let d = IncomingDatagram::udp(addr(1), addr(2), Vec::new());
        assert_eq!(
            d.to_receive().unwrap_err(),
            DatagramError::Unparseable { len: 0 }
        );
    }

    #[test]
    fn truncated_stun_is_a_typed_error() {
        // A STUN binding request header claiming 8 attribute bytes that are not there.
        let mut stun = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
        stun.extend_from_slice(&[7; 12]);
        let d = IncomingDatagram::udp(addr(1), addr(2), stun);
        assert_eq!(
            d.to_receive().unwrap_err(),
            DatagramError::Unparseable { len: 20 }
        );
    }

    #[test]
    fn dtls_record_is_classified() {
        // First byte 22 (handshake) falls in the DTLS range of RFC 7983.
        let d = IncomingDatagram::udp(addr(1), addr(2), vec![22, 254, 253, 0, 0]);
        let r = d.to_receive().unwrap();
        assert_eq!(r.source, addr(1));
        assert_eq!(r.destination, addr(2));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let d = IncomingDatagram::udp(addr(1), addr(2), bytes);
            let _ = d.to_receive();
        }
    }
}
