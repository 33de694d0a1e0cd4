//! The room task: one registry, one loop, fed by its own UDP socket or by a [`UdpMux`].
//!
//! [`UdpMux`]: crate::UdpMux

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use sfu_client::ClientError;
use sfu_ids::{ClientId, IncomingDatagram};
use sfu_registry::{Registry, RoomEvent, TransmitSink};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::batch::{self, BATCH, Receiver, Sender};
use crate::config::SfuConfig;
use crate::handle::{
    ClientSignal, Command, Joined, RoomError, RoomHandle, RoomInbox, RoomStats, room_channel,
};
use crate::mux::MuxLink;
use crate::relay_socket::RelaySockets;
use crate::sink::SocketSink;

/// Binds the UDP socket described by `config`, with its buffers sized per
/// [`SfuConfig::socket_buffer_bytes`].
pub async fn bind(config: &SfuConfig) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddr::new(config.bind_addr, config.udp_port)).await?;
    batch::configure(&socket, config.socket_buffer_bytes);
    Ok(socket)
}

/// Spawns a room task on `socket` in the current tokio runtime; returns its handle.
pub fn serve_socket(socket: UdpSocket, config: SfuConfig) -> io::Result<RoomHandle> {
    let candidate = config.candidate_addr(socket.local_addr()?.port());
    let (handle, inbox) = room_channel(config, candidate);
    tokio::spawn(async move {
        if let Err(e) = run_udp_loop(socket, inbox, std::future::pending::<()>()).await {
            warn!(error = %e, "room task ended with an error");
        }
    });
    Ok(handle)
}

/// Binds per `config` and spawns a room task; returns its handle and the bound address.
pub async fn serve(config: SfuConfig) -> io::Result<(RoomHandle, SocketAddr)> {
    let socket = bind(&config).await?;
    let addr = socket.local_addr()?;
    Ok((serve_socket(socket, config)?, addr))
}

/// A datagram and when the kernel received it, if it said.
pub(crate) type Stamped = (IncomingDatagram, Option<SystemTime>);

/// Where a room task's datagrams come from.
pub(crate) enum Source {
    /// Its own socket, read in batches, each into a pooled buffer that is reused once
    /// the batch is handled, so the steady state allocates nothing per datagram here.
    Socket {
        socket: Arc<UdpSocket>,
        receiver: Receiver,
    },
    /// A socket shared through a mux, which hands over the datagrams of this room's
    /// clients.
    Mux {
        rx: mpsc::Receiver<Stamped>,
        batch: Vec<Stamped>,
        link: MuxLink,
    },
}

impl Source {
    pub(crate) fn mux(rx: mpsc::Receiver<Stamped>, link: MuxLink) -> Self {
        Self::Mux {
            rx,
            batch: Vec::with_capacity(BATCH),
            link,
        }
    }

    /// Waits for datagrams; `false` when no more can come.
    async fn ready(&mut self) -> io::Result<bool> {
        match self {
            Self::Socket { socket, .. } => socket.readable().await.map(|()| true),
            Self::Mux { rx, batch, .. } => Ok(rx.recv_many(batch, BATCH).await > 0),
        }
    }

    /// Hands each datagram that is ready to `handle`, with its arrival time if stamped
    /// (see [`Receiver::drain`]).
    fn drain(
        &mut self,
        local: SocketAddr,
        mut handle: impl FnMut(&IncomingDatagram, Option<SystemTime>),
    ) {
        match self {
            Self::Socket { socket, receiver } => {
                receiver.drain(socket, |source, contents, arrived| {
                    handle(&IncomingDatagram::udp(source, local, contents), arrived);
                });
            }
            Self::Mux { batch, .. } => {
                for (mut d, arrived) in batch.drain(..) {
                    // The address the peer sent to, as its ICE agent knows it: the room's
                    // candidate (the mux socket may be bound to the unspecified address).
                    d.destination = local;
                    handle(&d, arrived);
                }
            }
        }
    }

    fn socket(&self) -> &Arc<UdpSocket> {
        match self {
            Self::Socket { socket, .. } => socket,
            Self::Mux { link, .. } => &link.socket,
        }
    }

    /// Datagrams the kernel dropped on the room's own socket (a mux counts its own).
    fn kernel_drops(&self) -> u64 {
        match self {
            Self::Socket { socket, .. } => batch::kernel_drops(socket),
            Self::Mux { .. } => 0,
        }
    }

    fn link(&self) -> Option<&MuxLink> {
        match self {
            Self::Socket { .. } => None,
            Self::Mux { link, .. } => Some(link),
        }
    }
}

/// Runs one room on `socket` (whose inbox came from [`room_channel`]) until `shutdown`
/// resolves or every [`RoomHandle`] is dropped.
///
/// The registry is owned by this future: no locks on the packet path.
pub async fn run_udp_loop(
    socket: UdpSocket,
    inbox: RoomInbox,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let source = Source::Socket {
        socket: Arc::new(socket),
        receiver: Receiver::new(),
    };
    run_room(source, inbox, shutdown).await
}

/// Passes [`handle_due`] makes at most. A pass releases one packet for each subscriber
/// whose pacer asked for it, and str0m's pacer ends a burst at its allowance (40 ms of its
/// pacing rate), far fewer packets than this; the bound keeps a peer whose timeouts keep
/// coming due from holding the room.
const MAX_DUE_PASSES: usize = 256;

/// Handles the room's timeouts that are already due, again and again, before what they
/// produced is sent. str0m's pacer lets one packet go per timeout it handles and asks for
/// the next timeout a microsecond later, so a frame it releases at once would otherwise
/// take one wake-up and one send call a packet; here it leaves in one batch, as trains.
fn handle_due(room: &mut Registry) {
    for _ in 0..MAX_DUE_PASSES {
        let now = Instant::now();
        if room.poll_timeout().is_none_or(|due| due > now) {
            return;
        }
        room.handle_timeout(now);
    }
}

/// Runs one room fed by `source`.
pub(crate) async fn run_room(
    mut source: Source,
    mut inbox: RoomInbox,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let local = inbox.candidate;
    let mut room = Registry::with_workers(inbox.workers.clone());
    let mut signals: HashMap<ClientId, mpsc::Sender<ClientSignal>> = HashMap::new();
    let mut stats = RoomStats::default();
    // What the room has to send after each wake-up, sent in batches; reused.
    let mut out = Vec::with_capacity(BATCH);
    // When the datagrams handled since the last send arrived; reused.
    let mut arrivals: Vec<SystemTime> = Vec::with_capacity(2 * BATCH);
    let mut sender = Sender::new();
    let mut relays = RelaySockets::default();
    // With helper threads, they send their shards' datagrams themselves.
    let sink = (inbox.workers.count() > 1).then(|| {
        let sink = Arc::new(SocketSink::new(Arc::clone(source.socket()), local));
        room.set_transmit_sink(Some(Arc::clone(&sink) as Arc<dyn TransmitSink>));
        sink
    });
    tokio::pin!(shutdown);
    // One timer for the room's life, moved only when the room's deadline changes: a new
    // timer per wake-up would enter and leave the runtime's timer wheel (under its lock)
    // every time a datagram arrives.
    let timer = tokio::time::sleep_until(tokio::time::Instant::now());
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;

    loop {
        let deadline = room.poll_timeout();
        if let Some(d) = deadline
            && armed != Some(d)
        {
            timer.as_mut().reset(tokio::time::Instant::from_std(d));
            armed = Some(d);
        }
        tokio::select! {
            _ = &mut shutdown => break,
            cmd = inbox.rx.recv() => match cmd {
                None => break,
                Some(cmd) => {
                    if matches!(cmd, Command::Stats { .. }) {
                        stats.kernel_drops = source.kernel_drops();
                    }
                    handle_command(
                        cmd,
                        &mut room,
                        &mut signals,
                        &mut relays,
                        &stats,
                        source.link(),
                    );
                }
            },
            ready = source.ready() => {
                if !ready? {
                    break;
                }
                source.drain(local, |d, arrived| {
                    stats.datagrams_in += 1;
                    arrivals.extend(arrived);
                    if let Err(e) = room.handle_incoming(d, Instant::now()) {
                        debug!(source = %d.source, error = %e, "datagram dropped");
                    }
                });
            },
            Some((d, arrived)) = relays.rx.recv() => {
                stats.datagrams_in += 1;
                arrivals.extend(arrived);
                if let Err(e) = room.handle_incoming(&d, Instant::now()) {
                    debug!(source = %d.source, error = %e, "relay datagram dropped");
                }
            },
            () = &mut timer, if deadline.is_some() => {
                room.handle_timeout(Instant::now());
            },
        }
        handle_due(&mut room);

        out.extend(std::iter::from_fn(|| room.poll_transmit()));
        if let Some(sink) = &sink {
            let (datagrams, messages) = sink.take_counts();
            stats.datagrams_out += datagrams;
            stats.messages_out += messages;
        }
        stats.datagrams_out += relays.send_theirs(&mut out).await;
        if !out.is_empty() {
            let messages = sender.messages();
            stats.datagrams_out += sender.send(source.socket(), &out).await? as u64;
            stats.messages_out += sender.messages() - messages;
            out.clear();
        }
        if !arrivals.is_empty() {
            let sent = SystemTime::now();
            for arrived in arrivals.drain(..) {
                stats.hold.record(arrived, sent);
            }
        }
        while let Some(ev) = room.poll_event() {
            if inbox.events.receiver_count() > 0 {
                let _ = inbox.events.send(ev.clone());
            }
            match ev {
                RoomEvent::Offer { client, offer } => {
                    if let Some(tx) = signals.get(&client)
                        && tx.try_send(ClientSignal::Offer(offer)).is_err()
                    {
                        // Its signaling cannot keep up (or is gone): without this offer the
                        // peer and the room would disagree from now on.
                        debug!(%client, "signal queue full or closed; removing the peer");
                        room.remove(client, Instant::now());
                    }
                }
                RoomEvent::ClientRemoved(client) => {
                    if let Some(link) = source.link() {
                        link.remove_client(client);
                    }
                    relays.remove(client);
                    if let Some(tx) = signals.remove(&client) {
                        let _ = tx.try_send(ClientSignal::Closed);
                    }
                }
                RoomEvent::LayerChanged { client, change } => {
                    stats.layer_changes += 1;
                    info!(
                        %client,
                        publisher = %change.publisher,
                        mid = %change.mid,
                        layer = change.layer.as_ref().map_or("-", |r| r.as_str()),
                        paused = change.paused,
                        reason = ?change.reason,
                        budget_kbps = change.budget.map(|b| b.bps() / 1000),
                        "layer changed"
                    );
                }
                RoomEvent::PublisherLayers {
                    client,
                    mid,
                    active,
                } => {
                    // A publisher that misses one keeps encoding what it did; the next
                    // change corrects it.
                    if let Some(tx) = signals.get(&client) {
                        let _ = tx.try_send(ClientSignal::PublisherLayers { mid, active });
                    }
                }
                RoomEvent::ActiveSpeaker(speaker) => {
                    debug!(%speaker, "active speaker");
                    // A page that misses one (its queue is full) gets the next.
                    for tx in signals.values() {
                        let _ = tx.try_send(ClientSignal::ActiveSpeaker(speaker));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn handle_command(
    cmd: Command,
    room: &mut Registry,
    signals: &mut HashMap<ClientId, mpsc::Sender<ClientSignal>>,
    relays: &mut RelaySockets,
    stats: &RoomStats,
    mux: Option<&MuxLink>,
) {
    let now = Instant::now();
    match cmd {
        Command::Join {
            mut client,
            sdp,
            relay,
            reply,
        } => {
            let id = client.id();
            let credentials = (client.ice_ufrag(), client.ice_password());
            let result = match room.insert(*client, now) {
                Err(e) => Err(RoomError::BadSdp(e.to_string())),
                Ok(()) => {
                    match relay {
                        // A relay's far node answers to the relay's own socket.
                        Some(socket) => relays.add(id, socket),
                        None => {
                            if let Some(link) = mux {
                                link.add_client(id, credentials.0, credentials.1);
                            }
                        }
                    }
                    let (tx, rx) = mpsc::channel(32);
                    // A newcomer learns who speaks now, not only who speaks next.
                    if let Some(speaker) = room.active_speaker() {
                        let _ = tx.try_send(ClientSignal::ActiveSpeaker(speaker));
                    }
                    signals.insert(id, tx);
                    Ok(Joined {
                        client: id,
                        answer: sdp,
                        signals: rx,
                    })
                }
            };
            let _ = reply.send(result);
        }
        Command::Answer { client, sdp, reply } => {
            let result = room.accept_answer(client, &sdp, now).map_err(|e| match e {
                sfu_registry::RegistryError::UnknownClient(c) => RoomError::UnknownClient(c),
                other => RoomError::BadSdp(other.to_string()),
            });

            let _ = reply.send(result);
        }
        Command::Offer { client, sdp, reply } => {
            let result = room.accept_offer(client, &sdp, now).map_err(|e| match e {
                sfu_registry::RegistryError::UnknownClient(c) => RoomError::UnknownClient(c),
                sfu_registry::RegistryError::Client(ClientError::OfferCollision) => {
                    RoomError::OfferCollision
                }
                other => RoomError::BadSdp(other.to_string()),
            });
            let _ = reply.send(result);
        }
        Command::Leave { client } => {
            room.remove(client, now);
        }
        Command::SetBitrate {
            client,
            available,
            reply,
        } => {
            let result = room
                .set_available_bitrate(client, available)
                .map_err(|_| RoomError::UnknownClient(client));
            let _ = reply.send(result);
        }
        Command::SetPriority {
            client,
            publisher,
            mid,
            priority,
            reply,
        } => {
            let result = room
                .set_track_priority(client, publisher, mid, priority, now)
                .map_err(|_| RoomError::UnknownClient(client));
            let _ = reply.send(result);
        }
        Command::SetSubscribed {
            client,
            publisher,
            mid,
            subscribed,
            reply,
        } => {
            let result = room
                .set_subscribed(client, publisher, mid, subscribed, now)
                .map_err(|_| RoomError::UnknownClient(client));
            let _ = reply.send(result);
        }
        Command::SetHints {
            client,
            publisher,
            mid,
            hints,
            reply,
        } => {
            let result = room
                .set_track_hints(client, publisher, mid, hints, now)
                .map_err(|_| RoomError::UnknownClient(client));
            let _ = reply.send(result);
        }
        Command::SetSentLayers {
            client,
            mid,
            active,
            reply,
        } => {
            let result = room
                .set_sent_layers(client, mid, &active, now)
                .map_err(|_| RoomError::UnknownClient(client));
            let _ = reply.send(result);
        }
        Command::SetMuted {
            client,
            mid,
            muted,
            reply,
        } => {
            let result = room
                .set_muted(client, mid, muted, now)
                .map_err(|_| RoomError::UnknownClient(client));
            let _ = reply.send(result);
        }
        Command::PeerStats { client, reply } => {
            let result = room
                .client(client)
                .map(|c| c.rtcp_stats())
                .ok_or(RoomError::UnknownClient(client));
            let _ = reply.send(result);
        }
        Command::Stats { reply } => {
            let _ = reply.send(RoomStats {
                clients: room.len(),
                registry: room.stats(),
                media: room.client_totals(),
                ..*stats
            });
        }
    }
}
