//! The UDP sockets of the relays a room opens.
//!
//! Every room of a node reaches another node at one address (that node's shared port), so
//! two rooms' relays to the same node would share a 5-tuple if they left from the room's
//! own port too (and with one port for all rooms, they would): the far node could not tell
//! them apart. Each relay a room opens therefore has a socket of its own, whose address is
//! the relay's ICE candidate. A reader task per socket hands its datagrams to the room
//! task, which sends what the relay transmits from that socket.

use std::net::SocketAddr;
use std::sync::Arc;

use sfu_ids::{ClientId, IncomingDatagram, OutgoingDatagram};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::batch::{Receiver, Sender};
use crate::udp_loop::Stamped;

/// Datagrams queued from the relays' sockets before the readers drop what comes.
const QUEUE: usize = 1024;

/// A relay's socket, bound by [`RoomHandle::open_relay`](crate::RoomHandle::open_relay)
/// before the room task takes it over.
#[derive(Debug)]
pub(crate) struct RelaySocket {
    pub(crate) socket: UdpSocket,
    /// The relay's candidate: the address the far node sends to.
    pub(crate) candidate: SocketAddr,
}

/// The room task's relay sockets.
#[derive(Debug)]
pub(crate) struct RelaySockets {
    open: Vec<Open>,
    tx: mpsc::Sender<Stamped>,
    /// What the readers hand over, with its arrival time, for the room task to take.
    pub(crate) rx: mpsc::Receiver<Stamped>,
    /// The datagrams of `out` that no relay sent, while sorting; reused.
    others: Vec<OutgoingDatagram>,
}

#[derive(Debug)]
struct Open {
    client: ClientId,
    candidate: SocketAddr,
    socket: Arc<UdpSocket>,
    reader: JoinHandle<()>,
    sender: Sender,
    /// What the relay sent since the last send; reused.
    pending: Vec<OutgoingDatagram>,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Default for RelaySockets {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Self {
            open: Vec::new(),
            tx,
            rx,
            others: Vec::new(),
        }
    }
}

impl RelaySockets {
    /// Starts reading `socket` for relay `client`: in batches into pooled buffers, like
    /// the room's own socket.
    pub(crate) fn add(&mut self, client: ClientId, relay: RelaySocket) {
        let socket = Arc::new(relay.socket);
        let (reader_socket, tx, local) = (Arc::clone(&socket), self.tx.clone(), relay.candidate);
        let reader = tokio::spawn(async move {
            let mut receiver = Receiver::new();
            while reader_socket.readable().await.is_ok() && !tx.is_closed() {
                receiver.drain(&reader_socket, |from, contents, arrived| {
                    // A room that falls this far behind loses the relay's datagrams, as
                    // a mux drops those of a busy room.
                    let _ = tx.try_send((IncomingDatagram::udp(from, local, contents), arrived));
                });
            }
        });
        self.open.push(Open {
            client,
            candidate: relay.candidate,
            socket,
            reader,
            sender: Sender::new(),
            pending: Vec::new(),
        });
    }

    /// Closes the socket of relay `client`, if it has one.
    pub(crate) fn remove(&mut self, client: ClientId) {
        self.open.retain(|o| o.client != client);
    }

    /// Sends what the relays sent from their sockets, in batches, and leaves the rest
    /// in `out` in its order; returns how many went out. A relay's send error loses those
    /// datagrams (as the network may) and leaves the room running.
    pub(crate) async fn send_theirs(&mut self, out: &mut Vec<OutgoingDatagram>) -> u64 {
        if self.open.is_empty() {
            return 0;
        }
        for d in out.drain(..) {
            match self.open.iter_mut().find(|o| o.candidate == d.source) {
                Some(o) => o.pending.push(d),
                None => self.others.push(d),
            }
        }
        std::mem::swap(out, &mut self.others);
        let mut sent = 0;
        for o in &mut self.open {
            if o.pending.is_empty() {
                continue;
            }
            match o.sender.send(&o.socket, &o.pending).await {
                Ok(n) => sent += n as u64,
                Err(e) => tracing::debug!(error = %e, "relay send failed"),
            }
            o.pending.clear();
        }
        sent
    }
}
