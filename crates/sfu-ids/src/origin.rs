//! Where a publisher's media comes from.

use std::fmt;

use crate::ClientId;

/// Identifies another SFU node that relays media into this one (cascading).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SfuNodeId(u64);

impl SfuNodeId {
    /// Wraps a raw node id.
    pub const fn new(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw node id.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SfuNodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sfu-{}", self.0)
    }
}

/// The origin of a published track: a peer connected to this room, or a peer of another
/// SFU whose media arrives over a relay connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientOrigin {
    /// A peer connected directly to this SFU.
    Local(ClientId),
    /// A peer of an upstream SFU; its media reaches us through the relay `via`.
    RelayFromSfu {
        /// The upstream node.
        node: SfuNodeId,
        /// The client that carries the relay connection in this room.
        via: ClientId,
        /// The publisher's id on the upstream node.
        remote: ClientId,
    },
}

impl ClientOrigin {
    /// The client in this room that delivers the media (the peer itself, or the relay link).
    pub const fn delivering_client(self) -> ClientId {
        match self {
            Self::Local(id) => id,
            Self::RelayFromSfu { via, .. } => via,
        }
    }

    /// `true` when the media arrives through another SFU.
    pub const fn is_relayed(self) -> bool {
        matches!(self, Self::RelayFromSfu { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivering_client_of_relay_is_the_link() {
        let o = ClientOrigin::RelayFromSfu {
            node: SfuNodeId::new(2),
            via: ClientId::new(9),
            remote: ClientId::new(1),
        };
        assert_eq!(o.delivering_client(), ClientId::new(9));
        assert!(o.is_relayed());
        assert_eq!(
            ClientOrigin::Local(ClientId::new(3)).delivering_client(),
            ClientId::new(3)
        );
    }
}
