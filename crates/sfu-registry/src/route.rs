//! Datagram → client routing in O(1).

use std::collections::HashMap;
use std::net::SocketAddr;

use sfu_ids::ClientId;
use str0m::ice::StunMessage;

/// Maps remote addresses and ICE username fragments to clients.
///
/// A datagram from a known 5-tuple (one UDP socket, so the remote address suffices) is one
/// hash lookup. The first STUN binding requests of a peer come from an address not yet
/// known; their USERNAME attribute (`<our ufrag>:<peer ufrag>`, RFC 8445 §7.2.2) names the
/// client, and the address is learned from them. Nothing ever scans the clients.
#[derive(Debug, Default)]
pub struct Router {
    by_addr: HashMap<SocketAddr, ClientId>,
    by_ufrag: HashMap<String, ClientId>,
}

/// How a datagram found its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routed {
    /// The source address is bound to this client.
    Known(ClientId),
    /// A STUN request from a new address names this client's ICE ufrag.
    ByUfrag(ClientId),
}

impl Routed {
    /// The client, however it was found.
    pub fn client(self) -> ClientId {
        match self {
            Self::Known(id) | Self::ByUfrag(id) => id,
        }
    }
}

/// Why a datagram has no client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteMiss {
    /// Not STUN, or STUN without a USERNAME we know.
    UnknownSource,
    /// STUN that does not parse.
    MalformedStun,
}

impl Router {
    /// Registers a client's local ICE username fragment.
    pub fn add_ufrag(&mut self, ufrag: String, id: ClientId) {
        self.by_ufrag.insert(ufrag, id);
    }

    /// Forgets every address and fragment of a client.
    pub fn remove_client(&mut self, id: ClientId) {
        self.by_addr.retain(|_, c| *c != id);
        self.by_ufrag.retain(|_, c| *c != id);
    }

    /// The client for a datagram from `source`: by its address, or for a STUN request from
    /// an unknown address by the ICE username fragment it names. In the second case the
    /// caller binds the address with [`Router::learn`] once the client has authenticated the
    /// request, so a forged STUN message cannot redirect anything.
    pub fn route(&self, source: SocketAddr, contents: &[u8]) -> Result<Routed, RouteMiss> {
        if let Some(&id) = self.by_addr.get(&source) {
            return Ok(Routed::Known(id));
        }
        // RFC 7983: STUN starts with 0 or 1, and a STUN header is 20 bytes.
        if contents.len() < 20 || contents[0] > 1 {
            return Err(RouteMiss::UnknownSource);
        }
        let msg = StunMessage::parse(contents).map_err(|_| RouteMiss::MalformedStun)?;
        let (ours, _theirs) = msg.split_username().ok_or(RouteMiss::UnknownSource)?;
        let &id = self.by_ufrag.get(ours).ok_or(RouteMiss::UnknownSource)?;
        Ok(Routed::ByUfrag(id))
    }

    /// Binds `addr` to a client directly (for example a relay link whose address is
    /// configured, not learned).
    pub fn learn(&mut self, addr: SocketAddr, id: ClientId) {
        self.by_addr.insert(addr, id);
    }

    /// Number of remote addresses bound to clients.
    pub fn known_addresses(&self) -> usize {
        self.by_addr.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn addr(p: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], p))
    }

    #[test]
    fn unknown_non_stun_is_a_miss() {
        let r = Router::default();
        assert_eq!(r.route(addr(1), &[0x80; 40]), Err(RouteMiss::UnknownSource));
        assert_eq!(r.route(addr(1), &[]), Err(RouteMiss::UnknownSource));
    }

    #[test]
    fn malformed_stun_is_a_miss() {
        let r = Router::default();
        let mut stun = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
        stun.extend_from_slice(&[0; 12]);
        assert_eq!(r.route(addr(1), &stun), Err(RouteMiss::MalformedStun));
    }

    #[test]
    fn removing_a_client_forgets_its_addresses() {
        let mut r = Router::default();
        r.by_addr.insert(addr(1), ClientId::new(1));
        r.by_addr.insert(addr(2), ClientId::new(2));
        r.add_ufrag("abcd".into(), ClientId::new(1));
        r.remove_client(ClientId::new(1));
        assert_eq!(r.known_addresses(), 1);
        assert_eq!(r.route(addr(1), &[0x80; 40]), Err(RouteMiss::UnknownSource));
        assert_eq!(
            r.route(addr(2), &[0x80; 40]),
            Ok(Routed::Known(ClientId::new(2)))
        );
    }

    #[test]
    fn stun_naming_a_ufrag_routes_without_binding_the_address() {
        let mut r = Router::default();
        r.add_ufrag("abcd".into(), ClientId::new(4));
        let stun = crate::testing::stun_binding_request("abcd", "peer");
        assert_eq!(
            r.route(addr(7), &stun),
            Ok(Routed::ByUfrag(ClientId::new(4)))
        );
        assert_eq!(r.known_addresses(), 0);
        r.learn(addr(7), ClientId::new(4));
        assert_eq!(
            r.route(addr(7), &[0x80; 40]),
            Ok(Routed::Known(ClientId::new(4)))
        );
    }

    proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut r = Router::default();
            r.add_ufrag("abcd".into(), ClientId::new(1));
            let _ = r.route(addr(9), &bytes);
            prop_assert_eq!(r.known_addresses(), 0);
        }
    }
}
