//! One UDP port for many rooms: the socket's datagrams demultiplexed to room tasks.
//!
//! ICE-lite makes this cheap (LiveKit's UDP mux and mediasoup's `WebRtcServer` do the
//! same): the SFU only answers connectivity checks, so the first datagram of every peer
//! address is a STUN binding request whose USERNAME names the SFU-side ufrag, and hence the
//! room and client. The mux verifies the request's MESSAGE-INTEGRITY with that client's
//! password before it binds the address, exactly as a room's own router does; after that
//! every datagram from the address is one hash lookup and one channel send to its room.
//! Rooms send on the shared socket directly.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sfu_ids::{ClientId, IncomingDatagram};
use sfu_registry::{RouteMiss, Routed, Router};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::warn;

use crate::batch::{self, Receiver};
use crate::config::{DEFAULT_SOCKET_BUFFER, SfuConfig};
use crate::handle::{RoomHandle, room_channel};
use crate::udp_loop::{Source, Stamped, run_room};

/// Datagrams queued per room before the mux drops (and counts) the next ones: a room that
/// falls this far behind loses packets instead of stalling the others.
const ROOM_QUEUE: usize = 1024;

/// A UDP socket shared by every room started on it. Cloning is cheap; the socket closes
/// when the last clone and the last of its rooms are gone.
///
/// ```no_run
/// use sfu_udp::{SfuConfig, UdpMux};
///
/// # async fn run() -> std::io::Result<()> {
/// let mux = UdpMux::bind("127.0.0.1:3478".parse().unwrap()).await?;
/// let a = mux.serve_room(SfuConfig::default());
/// let b = mux.serve_room(SfuConfig::default());
/// // Peers of both rooms send to 127.0.0.1:3478.
/// # let _ = (a, b);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct UdpMux {
    shared: Arc<Shared>,
    control: mpsc::UnboundedSender<Control>,
}

#[derive(Debug)]
struct Shared {
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    next_room: AtomicU64,
    stats: AtomicStats,
}

/// Counters of a [`UdpMux`]: what reached the socket and what could not be routed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MuxStats {
    /// Datagrams read from the socket.
    pub datagrams_in: u64,
    /// Datagrams handed to a room.
    pub routed: u64,
    /// From an unknown address and not STUN naming a client of any room.
    pub dropped_unknown_source: u64,
    /// STUN that did not parse.
    pub dropped_malformed: u64,
    /// STUN naming a client whose MESSAGE-INTEGRITY did not verify, or a client that has
    /// bound its maximum of addresses.
    pub dropped_unauthenticated: u64,
    /// For a room whose queue was full.
    pub dropped_room_busy: u64,
    /// Dropped by the kernel because the socket's receive buffer was full (0 where the
    /// system does not tell).
    pub kernel_drops: u64,
}

#[derive(Debug, Default)]
struct AtomicStats {
    datagrams_in: AtomicU64,
    routed: AtomicU64,
    dropped_unknown_source: AtomicU64,
    dropped_malformed: AtomicU64,
    dropped_unauthenticated: AtomicU64,
    dropped_room_busy: AtomicU64,
}

/// Room id within one mux.
type RoomKey = u64;

/// What room tasks tell the mux. Unbounded: one message per join, leave and room end, so
/// its length is bounded by what signaling admits.
#[derive(Debug)]
pub(crate) enum Control {
    Room {
        room: RoomKey,
        datagrams: mpsc::Sender<Stamped>,
    },
    AddClient {
        room: RoomKey,
        client: ClientId,
        ufrag: String,
        password: String,
    },
    RemoveClient {
        room: RoomKey,
        client: ClientId,
    },
    RoomClosed(RoomKey),
}

/// A room task's tie to its mux; telling the mux the room is gone when dropped, also
/// when the task panics.
#[derive(Debug)]
pub(crate) struct MuxLink {
    room: RoomKey,
    control: mpsc::UnboundedSender<Control>,
    pub(crate) socket: Arc<UdpSocket>,
}

impl MuxLink {
    pub(crate) fn add_client(&self, client: ClientId, ufrag: String, password: String) {
        let _ = self.control.send(Control::AddClient {
            room: self.room,
            client,
            ufrag,
            password,
        });
    }

    pub(crate) fn remove_client(&self, client: ClientId) {
        let _ = self.control.send(Control::RemoveClient {
            room: self.room,
            client,
        });
    }
}

impl Drop for MuxLink {
    fn drop(&mut self) {
        let _ = self.control.send(Control::RoomClosed(self.room));
    }
}

impl UdpMux {
    /// Binds `addr` and starts the mux task in the current tokio runtime, with socket
    /// buffers of [`DEFAULT_SOCKET_BUFFER`].
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        Self::bind_with_buffer(addr, DEFAULT_SOCKET_BUFFER).await
    }

    /// [`UdpMux::bind`] with socket buffers of `socket_buffer_bytes` each way.
    pub async fn bind_with_buffer(
        addr: SocketAddr,
        socket_buffer_bytes: usize,
    ) -> io::Result<Self> {
        let socket = UdpSocket::bind(addr).await?;
        batch::configure(&socket, socket_buffer_bytes);
        let socket = Arc::new(socket);
        let local = socket.local_addr()?;
        let (control, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            socket: Arc::clone(&socket),
            local,
            next_room: AtomicU64::new(1),
            stats: AtomicStats::default(),
        });
        let task_shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if let Err(e) = run_mux(&task_shared, rx).await {
                warn!(error = %e, "UDP mux ended with an error");
            }
        });
        Ok(Self { shared, control })
    }

    /// The socket's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// Starts a room task on this socket; returns its handle. The room advertises
    /// `config.candidate_addr(port)` for the socket's port; `config.udp_port` is not used.
    pub fn serve_room(&self, config: SfuConfig) -> RoomHandle {
        let room = self.shared.next_room.fetch_add(1, Ordering::Relaxed);
        let (datagrams, rx) = mpsc::channel(ROOM_QUEUE);
        let _ = self.control.send(Control::Room { room, datagrams });
        let link = MuxLink {
            room,
            control: self.control.clone(),
            socket: Arc::clone(&self.shared.socket),
        };
        let candidate = config.candidate_addr(self.shared.local.port());
        let (handle, inbox) = room_channel(config, candidate);
        tokio::spawn(async move {
            let source = Source::mux(rx, link);
            if let Err(e) = run_room(source, inbox, std::future::pending()).await {
                warn!(error = %e, "room task ended with an error");
            }
        });
        handle
    }

    /// The mux's counters.
    pub fn stats(&self) -> MuxStats {
        let s = &self.shared.stats;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MuxStats {
            datagrams_in: get(&s.datagrams_in),
            routed: get(&s.routed),
            dropped_unknown_source: get(&s.dropped_unknown_source),
            dropped_malformed: get(&s.dropped_malformed),
            dropped_unauthenticated: get(&s.dropped_unauthenticated),
            dropped_room_busy: get(&s.dropped_room_busy),
            kernel_drops: batch::kernel_drops(&self.shared.socket),
        }
    }
}

/// The mux task: reads the socket, routes each datagram, applies room tasks' messages. Ends
/// when every [`UdpMux`] clone and every room is gone.
async fn run_mux(shared: &Shared, mut control: mpsc::UnboundedReceiver<Control>) -> io::Result<()> {
    let socket = &shared.socket;
    let stats = &shared.stats;
    let mut router: Router<(RoomKey, ClientId)> = Router::default();
    let mut rooms: HashMap<RoomKey, (mpsc::Sender<Stamped>, Vec<ClientId>)> = HashMap::new();
    let mut receiver = Receiver::new();
    // A room whose task has ended, seen while routing.
    let mut closed = None;
    loop {
        tokio::select! {
            // Registrations first: a client's ufrag is known before its peer has the
            // answer that names it.
            biased;
            msg = control.recv() => match msg {
                None => return Ok(()),
                Some(msg) => apply(msg, &mut router, &mut rooms),
            },
            ready = socket.readable() => {
                ready?;
                receiver.drain(socket, |source, contents, arrived| {
                    stats.datagrams_in.fetch_add(1, Ordering::Relaxed);
                    let key = match router.route(source, &contents) {
                        Ok(Routed::Known(key)) => key,
                        Ok(Routed::ByUfrag(key)) => {
                            router.learn(source, key);
                            key
                        }
                        Err(miss) => {
                            let counter = match miss {
                                RouteMiss::MalformedStun => &stats.dropped_malformed,
                                RouteMiss::Unauthenticated | RouteMiss::TooManyAddresses => {
                                    &stats.dropped_unauthenticated
                                }
                                _ => &stats.dropped_unknown_source,
                            };
                            counter.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    };
                    let Some((tx, _)) = rooms.get(&key.0) else {
                        stats.dropped_unknown_source.fetch_add(1, Ordering::Relaxed);
                        return;
                    };
                    let d = IncomingDatagram::udp(source, shared.local, contents);
                    match tx.try_send((d, arrived)) {
                        Ok(()) => {
                            stats.routed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            stats.dropped_room_busy.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => {
                            closed = Some(key.0);
                        }
                    }
                });
                if let Some(room) = closed.take() {
                    close_room(room, &mut router, &mut rooms);
                }
            }
        }
    }
}

fn apply(
    msg: Control,
    router: &mut Router<(RoomKey, ClientId)>,
    rooms: &mut HashMap<RoomKey, (mpsc::Sender<Stamped>, Vec<ClientId>)>,
) {
    match msg {
        Control::Room { room, datagrams } => {
            rooms.insert(room, (datagrams, Vec::new()));
        }
        Control::AddClient {
            room,
            client,
            ufrag,
            password,
        } => {
            if let Some((_, clients)) = rooms.get_mut(&room) {
                router.add_credentials(ufrag, password, (room, client));
                clients.push(client);
            }
        }
        Control::RemoveClient { room, client } => {
            router.remove_client((room, client));
            if let Some((_, clients)) = rooms.get_mut(&room) {
                clients.retain(|c| *c != client);
            }
        }
        Control::RoomClosed(room) => close_room(room, router, rooms),
    }
}

fn close_room(
    room: RoomKey,
    router: &mut Router<(RoomKey, ClientId)>,
    rooms: &mut HashMap<RoomKey, (mpsc::Sender<Stamped>, Vec<ClientId>)>,
) {
    if let Some((_, clients)) = rooms.remove(&room) {
        for c in clients {
            router.remove_client((room, c));
        }
    }
}
