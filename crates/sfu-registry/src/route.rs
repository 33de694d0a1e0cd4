//! Datagram → client routing in O(1).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::SocketAddr;
use std::sync::OnceLock;

use sfu_ids::ClientId;
use str0m::config::CryptoProvider;
use str0m::ice::StunMessage;

/// Remote addresses one client may have bound: a browser checks a pair per candidate of its
/// own (host, server-reflexive, relayed, per address family), so a handful is plenty.
pub const MAX_ADDRESSES_PER_CLIENT: usize = 8;

/// Maps remote addresses and ICE username fragments to clients (or to whatever key `K`
/// names a client: a room's registry uses [`ClientId`], a socket shared by many rooms a
/// (room, client) pair).
///
/// A datagram from a known 5-tuple (one UDP socket, so the remote address suffices) is one
/// hash lookup. The first STUN binding requests of a peer come from an address not yet
/// known; their USERNAME attribute (`<our ufrag>:<peer ufrag>`, RFC 8445 §7.2.2) names the
/// client, and the address is learned from them once the request's MESSAGE-INTEGRITY
/// verifies against that client's ICE password: a forged request binds nothing. At most
/// [`MAX_ADDRESSES_PER_CLIENT`] addresses are bound per client. Nothing ever scans the
/// clients, not even to remove one.
#[derive(Debug)]
pub struct Router<K = ClientId> {
    by_addr: HashMap<SocketAddr, K>,
    /// Local ICE ufrag → the client and its local ICE password.
    by_ufrag: HashMap<String, (K, String)>,
    /// Per client: its bound addresses and its ufrags.
    of_client: HashMap<K, ClientRoutes>,
}

#[derive(Debug, Default)]
struct ClientRoutes {
    addrs: Vec<SocketAddr>,
    ufrags: Vec<String>,
}

impl<K> Default for Router<K> {
    fn default() -> Self {
        Self {
            by_addr: HashMap::new(),
            by_ufrag: HashMap::new(),
            of_client: HashMap::new(),
        }
    }
}

/// How a datagram found its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routed<K = ClientId> {
    /// The source address is bound to this client.
    Known(K),
    /// A STUN request from a new address names this client's ICE ufrag.
    ByUfrag(K),
}

impl<K> Routed<K> {
    /// The client, however it was found.
    pub fn client(self) -> K {
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
    /// STUN naming a client whose MESSAGE-INTEGRITY does not verify with its password.
    Unauthenticated,
    /// STUN for a client that has bound [`MAX_ADDRESSES_PER_CLIENT`] addresses already.
    TooManyAddresses,
}

/// ICE credentials routed per client: the current ones and those before an ICE restart.
const UFRAGS_PER_CLIENT: usize = 2;

/// str0m's HMAC-SHA1, the one its ICE agent checks STUN with.
fn sha1_hmac(key: &[u8], payloads: &[&[u8]]) -> [u8; 20] {
    static PROVIDER: OnceLock<CryptoProvider> = OnceLock::new();
    PROVIDER
        .get_or_init(str0m::crypto::from_feature_flags)
        .sha1_hmac_provider
        .sha1_hmac(key, payloads)
}

impl<K: Copy + Eq + Hash> Router<K> {
    /// Registers a client's local ICE credentials: the username fragment its peer's STUN
    /// requests name, and the password they are signed with. After an ICE restart the
    /// client's previous credentials still route (checks of the old session may still be
    /// on their way); older ones are forgotten, so restarts cannot grow the table.
    pub fn add_credentials(&mut self, ufrag: String, password: String, id: K) {
        let ufrags = &mut self.of_client.entry(id).or_default().ufrags;
        ufrags.push(ufrag.clone());
        while ufrags.len() > UFRAGS_PER_CLIENT {
            let old = ufrags.remove(0);
            if self
                .by_ufrag
                .get(&old)
                .is_some_and(|(owner, _)| *owner == id)
            {
                self.by_ufrag.remove(&old);
            }
        }
        if let Some((previous, _)) = self.by_ufrag.insert(ufrag.clone(), (id, password))
            && previous != id
            && let Some(r) = self.of_client.get_mut(&previous)
        {
            r.ufrags.retain(|u| *u != ufrag);
        }
    }

    /// Forgets every address and fragment of a client.
    pub fn remove_client(&mut self, id: K) {
        let Some(routes) = self.of_client.remove(&id) else {
            return;
        };
        for a in routes.addrs {
            self.by_addr.remove(&a);
        }
        for u in routes.ufrags {
            self.by_ufrag.remove(&u);
        }
    }

    /// The client for a datagram from `source`: by its address, or for an authenticated
    /// STUN request from an unknown address by the ICE username fragment it names. In the
    /// second case the caller binds the address with [`Router::learn`] once the client's
    /// ICE agent took the request.
    pub fn route(&self, source: SocketAddr, contents: &[u8]) -> Result<Routed<K>, RouteMiss> {
        if let Some(&id) = self.by_addr.get(&source) {
            return Ok(Routed::Known(id));
        }
        // RFC 7983: STUN starts with 0 or 1, and a STUN header is 20 bytes.
        if contents.len() < 20 || contents[0] > 1 {
            return Err(RouteMiss::UnknownSource);
        }
        let msg = StunMessage::parse(contents).map_err(|_| RouteMiss::MalformedStun)?;
        let (ours, _theirs) = msg.split_username().ok_or(RouteMiss::UnknownSource)?;
        let (id, password) = self.by_ufrag.get(ours).ok_or(RouteMiss::UnknownSource)?;
        if !msg.verify(password.as_bytes(), sha1_hmac) {
            return Err(RouteMiss::Unauthenticated);
        }
        if self.of_client.get(id).map_or(0, |r| r.addrs.len()) >= MAX_ADDRESSES_PER_CLIENT {
            return Err(RouteMiss::TooManyAddresses);
        }
        Ok(Routed::ByUfrag(*id))
    }

    /// Binds `addr` to a client (learned from an authenticated STUN request, or configured,
    /// for example a relay link). An address already bound moves to the new client.
    pub fn learn(&mut self, addr: SocketAddr, id: K) {
        match self.by_addr.insert(addr, id) {
            Some(previous) if previous == id => return,
            Some(previous) => {
                if let Some(r) = self.of_client.get_mut(&previous) {
                    r.addrs.retain(|a| *a != addr);
                }
            }
            None => {}
        }
        self.of_client.entry(id).or_default().addrs.push(addr);
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
        let r = Router::<ClientId>::default();
        assert_eq!(r.route(addr(1), &[0x80; 40]), Err(RouteMiss::UnknownSource));
        assert_eq!(r.route(addr(1), &[]), Err(RouteMiss::UnknownSource));
    }

    #[test]
    fn malformed_stun_is_a_miss() {
        let r = Router::<ClientId>::default();
        let mut stun = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
        stun.extend_from_slice(&[0; 12]);
        assert_eq!(r.route(addr(1), &stun), Err(RouteMiss::MalformedStun));
    }

    #[test]
    fn removing_a_client_forgets_its_addresses() {
        let mut r = Router::<ClientId>::default();
        r.learn(addr(1), ClientId::new(1));
        r.learn(addr(2), ClientId::new(2));
        r.add_credentials("abcd".into(), "pass".into(), ClientId::new(1));
        r.remove_client(ClientId::new(1));
        assert_eq!(r.known_addresses(), 1);
        assert_eq!(r.route(addr(1), &[0x80; 40]), Err(RouteMiss::UnknownSource));
        assert_eq!(
            r.route(addr(2), &[0x80; 40]),
            Ok(Routed::Known(ClientId::new(2)))
        );
    }

    #[test]
    fn signed_stun_naming_a_ufrag_routes_without_binding_the_address() {
        let mut r = Router::<ClientId>::default();
        r.add_credentials("abcd".into(), "secret-pass".into(), ClientId::new(4));
        let stun = crate::testing::signed_stun_binding_request("abcd", "peer", "secret-pass");
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

    #[test]
    fn forged_stun_and_address_floods_bind_nothing() {
        let mut r = Router::<ClientId>::default();
        r.add_credentials("abcd".into(), "secret-pass".into(), ClientId::new(4));
        let zeros = crate::testing::stun_binding_request("abcd", "peer");
        assert_eq!(r.route(addr(7), &zeros), Err(RouteMiss::Unauthenticated));
        let wrong = crate::testing::signed_stun_binding_request("abcd", "peer", "guessed");
        assert_eq!(r.route(addr(7), &wrong), Err(RouteMiss::Unauthenticated));
        let good = crate::testing::signed_stun_binding_request("abcd", "peer", "secret-pass");
        for p in 0..MAX_ADDRESSES_PER_CLIENT as u16 {
            assert!(r.route(addr(100 + p), &good).is_ok());
            r.learn(addr(100 + p), ClientId::new(4));
        }
        assert_eq!(r.route(addr(7), &good), Err(RouteMiss::TooManyAddresses));
        assert_eq!(r.known_addresses(), MAX_ADDRESSES_PER_CLIENT);
    }

    proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut r = Router::<ClientId>::default();
            r.add_credentials("abcd".into(), "pass".into(), ClientId::new(1));
            let _ = r.route(addr(9), &bytes);
            prop_assert_eq!(r.known_addresses(), 0);
        }
    }
}
