//! Rooms of several SFU nodes (one [`World`] each) joined by relay connections, in one
//! simulated time: the relay clients' datagrams and offers cross between the worlds as
//! the nodes' signaling would carry them.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sfu_client::{Client, ClientConfig, ClientError, EstimatorKind, PeerRole, SfuRtc};
use sfu_ids::{ClientId, IncomingDatagram};
use sfu_registry::RegistryError;

use super::World;

/// One relay connection: the client on the node that opened it, and the one on the node
/// that answered.
#[derive(Debug, Clone, Copy)]
pub struct Relay {
    pub opener: (usize, ClientId),
    pub answerer: (usize, ClientId),
    /// The answerer's room offers up to this `seq` were superseded by the opener's offer,
    /// and the opener must not answer them.
    superseded: u64,
    /// The most m-lines an offer on this relay had.
    pub max_lines: usize,
}

pub struct Cascade {
    pub nodes: Vec<World>,
    pub relays: Vec<Relay>,
    next_relay_id: u64,
    /// Per node, how many of its room's events were looked at for the relays.
    events_seen: Vec<usize>,
}

impl Cascade {
    /// `n` nodes, with rooms at 127.0.0.1:3478, :3479, …
    pub fn new(n: usize) -> Self {
        let start = Instant::now();
        let nodes = (0..n)
            .map(|i| World::at(start, SocketAddr::from(([127, 0, 0, 1], 3478 + i as u16))))
            .collect();
        Self {
            nodes,
            relays: Vec::new(),
            next_relay_id: 1000,
            events_seen: vec![0; n],
        }
    }

    /// Node `opener` opens a relay to node `answerer`: returns the relay's client ids on
    /// (opener, answerer).
    pub fn link(&mut self, opener: usize, answerer: usize) -> (ClientId, ClientId) {
        let now = self.nodes[opener].now;
        let config = ClientConfig::default().with_role(PeerRole::Relay);
        let a_id = ClientId::new(self.next_relay_id);
        let b_id = ClientId::new(self.next_relay_id + 1);
        self.next_relay_id += 2;

        let rtc = SfuRtc::builder()
            .full_ice()
            .estimator(EstimatorKind::Off)
            .host_candidate(self.nodes[opener].sfu)
            .build(now);
        let mut a = Client::new(a_id, rtc, config);
        let offer = a.create_offer().expect("a first offer");
        assert!(matches!(
            a.create_offer(),
            Err(ClientError::AlreadyNegotiated)
        ));
        self.nodes[opener].room.insert(a, now).expect("unique id");

        let rtc = SfuRtc::builder()
            .estimator(EstimatorKind::Off)
            .host_candidate(self.nodes[answerer].sfu)
            .build(now);
        let mut b = Client::new(b_id, rtc, config);
        let answer = b.accept_offer(&offer).expect("the relay's offer accepted");
        self.nodes[answerer].room.insert(b, now).expect("unique id");
        self.nodes[opener]
            .room
            .accept_answer(a_id, &answer, now)
            .expect("the answer accepted");
        self.relays.push(Relay {
            opener: (opener, a_id),
            answerer: (answerer, b_id),
            superseded: 0,
            max_lines: offer.matches("\r\nm=").count(),
        });
        (a_id, b_id)
    }

    /// Runs every node for `d`, carrying the relays' datagrams and offers after each step.
    pub fn run(&mut self, d: Duration) {
        let end = self.nodes[0].now + d;
        while self.nodes[0].now < end {
            for w in &mut self.nodes {
                w.step();
            }
            for _ in 0..20 {
                if !self.carry() {
                    break;
                }
                for w in &mut self.nodes {
                    w.exchange();
                }
            }
        }
    }

    /// Moves datagrams, offers and dynacast's layer choices between the nodes once;
    /// `false` when there were none.
    fn carry(&mut self) -> bool {
        let mut moved = false;
        for i in 0..self.nodes.len() {
            let now = self.nodes[i].now;
            // A node's dynacast for its end of a relay: the layers the opposite end sends.
            let new_events = self.nodes[i].events.len() - self.events_seen[i];
            self.events_seen[i] = self.nodes[i].events.len();
            let layers: Vec<_> = self.nodes[i].events[self.events_seen[i] - new_events..]
                .iter()
                .filter_map(|e| match e {
                    sfu_registry::RoomEvent::PublisherLayers {
                        client,
                        mid,
                        active,
                    } => Some((*client, *mid, active.clone())),
                    _ => None,
                })
                .collect();
            for (client, mid, active) in layers {
                let Some(r) = self
                    .relays
                    .iter()
                    .find(|r| r.opener == (i, client) || r.answerer == (i, client))
                else {
                    continue;
                };
                let (j, peer) = if r.answerer == (i, client) {
                    r.opener
                } else {
                    r.answerer
                };
                moved = true;
                self.nodes[j]
                    .room
                    .set_sent_layers(peer, mid, &active, now)
                    .expect("the relay is in the room");
            }
            for t in std::mem::take(&mut self.nodes[i].outbox) {
                moved = true;
                let Some(j) = self.nodes.iter().position(|w| w.sfu == t.destination) else {
                    continue;
                };
                let d = IncomingDatagram::udp(t.source, t.destination, t.contents.to_vec());
                let _ = self.nodes[j].room.handle_incoming(&d, now);
            }
            for (client, offer) in std::mem::take(&mut self.nodes[i].relay_offers) {
                moved = true;
                let Some(r) = self
                    .relays
                    .iter_mut()
                    .find(|r| r.opener == (i, client) || r.answerer == (i, client))
                else {
                    continue;
                };
                r.max_lines = r.max_lines.max(offer.sdp.matches("\r\nm=").count());
                let from_answerer = r.answerer == (i, client);
                if from_answerer && offer.seq <= r.superseded {
                    continue;
                }
                let (j, peer) = if from_answerer { r.opener } else { r.answerer };
                match self.nodes[j].room.accept_offer(peer, &offer.sdp, now) {
                    Ok(accepted) => {
                        if !from_answerer {
                            r.superseded = accepted.superseded;
                        }
                        self.nodes[i]
                            .room
                            .accept_answer(client, &accepted.answer, now)
                            .expect("the relay's answer accepted");
                    }
                    // The opener's own offer crossed this one and wins; the answerer
                    // offers again after answering it.
                    Err(RegistryError::Client(ClientError::OfferCollision)) => {}
                    Err(e) => panic!("relay offer refused: {e}"),
                }
            }
        }
        moved
    }
}
