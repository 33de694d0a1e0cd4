//! The signaling side's view of a room task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use sfu_client::{
    Bitrate, Client, ClientConfig, ClientStats, EstimatorKind, PayloadEncryption, PeerRole,
    PeerRtcpStats, ReceiveMode, SfuOffer, SfuRtc, SfuRtcBuilder, TrackHints, TrackPriority,
};
use sfu_ids::{ClientId, SfuMid, SfuRid};
use sfu_registry::{AcceptedOffer, RoomEvent, Workers};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::config::SfuConfig;

/// Signaling messages for one client's peer, produced by the room task.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientSignal {
    /// Deliver this SDP offer to the peer (with the publisher of each m-line it sends);
    /// send its answer with [`RoomHandle::answer`].
    Offer(SfuOffer),
    /// The client was removed from the room.
    Closed,
    /// The room's active speaker is now this client.
    ActiveSpeaker(ClientId),
    /// Send only these simulcast layers of the peer's track `mid` (dynacast: nobody may be
    /// sent the others); the peer sets the other encodings inactive.
    PublisherLayers {
        /// The peer's m-line of the track.
        mid: SfuMid,
        /// The layers to send, lowest first.
        active: Vec<SfuRid>,
    },
}

/// How a peer joins a room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JoinOptions {
    /// How the peer receives the room's tracks: by default on m-lines the room's
    /// renegotiation offers add.
    pub receive: ReceiveMode,
    /// Whether the peer's media is end-to-end encrypted; `None` leaves it to the room's
    /// client configuration ([`SfuConfig::with_client`](crate::SfuConfig::with_client)).
    pub payload_encryption: Option<PayloadEncryption>,
    /// A participant, or another SFU node relaying the room ([`PeerRole`]).
    pub role: PeerRole,
}

impl JoinOptions {
    /// A peer that only publishes (a WHIP publisher): it is sent no tracks and so never an
    /// offer.
    pub const fn publish_only() -> Self {
        Self {
            receive: ReceiveMode::Nothing,
            payload_encryption: None,
            role: PeerRole::Participant,
        }
    }

    /// Another SFU node that opened a relay of this room to us ([`PeerRole::Relay`]): it
    /// publishes its node's tracks and receives ours, with renegotiation offers both ways.
    pub const fn relay() -> Self {
        Self {
            receive: ReceiveMode::Renegotiate,
            payload_encryption: None,
            role: PeerRole::Relay,
        }
    }

    /// A peer that receives on the receiving m-lines of its own offer and is never sent an
    /// offer (a WHEP player): see [`ReceiveMode::OfferedSlots`].
    pub const fn offered_slots() -> Self {
        Self {
            receive: ReceiveMode::OfferedSlots,
            payload_encryption: None,
            role: PeerRole::Participant,
        }
    }

    /// The peer's media is end-to-end encrypted as `encryption` says.
    pub const fn with_payload_encryption(mut self, encryption: PayloadEncryption) -> Self {
        self.payload_encryption = Some(encryption);
        self
    }
}

/// A client that joined.
#[derive(Debug)]
pub struct Joined {
    /// Its id in the room.
    pub client: ClientId,
    /// The SDP answer to the peer's offer.
    pub answer: String,
    /// Offers and the close notice for this peer, in order.
    pub signals: mpsc::Receiver<ClientSignal>,
}

/// The estimator of a peer of `role` in a room configured with `room`: none for a relay,
/// which carries whatever the far node's subscribers need (each of them has an estimate
/// of its own, and the link between nodes is provisioned for the room).
fn estimator_for(role: PeerRole, room: EstimatorKind) -> EstimatorKind {
    match role {
        PeerRole::Relay => EstimatorKind::Off,
        _ => room,
    }
}

/// A relay this room opened to another SFU node ([`RoomHandle::open_relay`]).
#[derive(Debug)]
pub struct RelayOffer {
    /// The relay's client in this room.
    pub client: ClientId,
    /// The offer for the other node's room; its answer goes to [`RoomHandle::answer`].
    pub offer: String,
    /// The room's later offers to the other node, and the close notice, in order.
    pub signals: mpsc::Receiver<ClientSignal>,
}

/// Errors of room operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RoomError {
    /// The room task has stopped.
    #[error("the room has stopped")]
    Stopped,
    /// The SDP was refused.
    #[error("bad SDP: {0}")]
    BadSdp(String),
    /// No such client in the room.
    #[error("no client {0} in this room")]
    UnknownClient(ClientId),
    /// A socket for a relay could not be opened.
    #[error("relay socket: {0}")]
    Io(String),
    /// The peer's offer crossed an offer of a relay this room opened, which wins (see
    /// [`ClientError::OfferCollision`](sfu_client::ClientError::OfferCollision)).
    #[error("the offer crossed one of ours, which wins")]
    OfferCollision,
}

pub(crate) enum Command {
    Join {
        /// Built, with the peer's offer applied (or its own first offer made), outside
        /// the room task.
        client: Box<Client>,
        /// What the peer gets back: the answer to its offer, or that first offer.
        sdp: String,
        /// The socket of a relay the room opens.
        relay: Option<crate::relay_socket::RelaySocket>,
        reply: oneshot::Sender<Result<Joined, RoomError>>,
    },
    Answer {
        client: ClientId,
        sdp: String,
        reply: oneshot::Sender<Result<(), RoomError>>,
    },
    Offer {
        client: ClientId,
        sdp: String,
        reply: oneshot::Sender<Result<AcceptedOffer, RoomError>>,
    },
    Leave {
        client: ClientId,
    },
    SetBitrate {
        client: ClientId,
        available: Option<Bitrate>,
        reply: oneshot::Sender<Result<(), RoomError>>,
    },
    SetPriority {
        client: ClientId,
        publisher: ClientId,
        mid: SfuMid,
        priority: TrackPriority,
        reply: oneshot::Sender<Result<bool, RoomError>>,
    },
    SetSubscribed {
        client: ClientId,
        publisher: ClientId,
        mid: SfuMid,
        subscribed: bool,
        reply: oneshot::Sender<Result<bool, RoomError>>,
    },
    SetHints {
        client: ClientId,
        publisher: ClientId,
        mid: SfuMid,
        hints: TrackHints,
        reply: oneshot::Sender<Result<bool, RoomError>>,
    },
    SetSentLayers {
        client: ClientId,
        mid: SfuMid,
        active: Vec<SfuRid>,
        reply: oneshot::Sender<Result<bool, RoomError>>,
    },
    SetMuted {
        client: ClientId,
        mid: SfuMid,
        muted: bool,
        reply: oneshot::Sender<Result<bool, RoomError>>,
    },
    PeerStats {
        client: ClientId,
        reply: oneshot::Sender<Result<PeerRtcpStats, RoomError>>,
    },
    Stats {
        reply: oneshot::Sender<RoomStats>,
    },
}

/// A snapshot of a room's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoomStats {
    /// Clients in the room.
    pub clients: usize,
    /// Registry counters.
    pub registry: sfu_registry::RegistryStats,
    /// The media counters of every client the room has had, summed (packets forwarded,
    /// keyframe requests, layer switches, …); they only grow.
    pub media: ClientStats,
    /// Datagrams received from the socket.
    pub datagrams_in: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Messages the room handed to the kernel for those datagrams: a train of datagrams
    /// for one destination, segmented by the kernel (UDP GSO), counts once.
    pub messages_out: u64,
    /// Changes of a subscriber's forwarded layer or pause state (see `RoomEvent::LayerChanged`).
    pub layer_changes: u64,
    /// Datagrams the kernel dropped on the room's own socket because its receive buffer was
    /// full (0 on a shared port, whose mux counts them; and where the system does not tell).
    pub kernel_drops: u64,
    /// How long the room held the datagrams it received, from the kernel's timestamp to
    /// the end of its send call after handling them (helper workers send their shards'
    /// datagrams before they hand the shards back, so before that call).
    pub hold: crate::HoldTimes,
}

/// Cloneable handle to a room task: how signaling code adds and removes peers. The room
/// stops when every handle is dropped.
#[derive(Debug, Clone)]
pub struct RoomHandle {
    pub(crate) tx: mpsc::Sender<Command>,
    joins: Arc<JoinContext>,
}

/// What a join needs to build its client outside the room task.
#[derive(Debug)]
struct JoinContext {
    config: SfuConfig,
    candidate: SocketAddr,
    next_id: AtomicU64,
    /// The room's events, for [`RoomHandle::events`].
    events: broadcast::Sender<RoomEvent>,
}

impl JoinContext {
    /// A new client of this room with client settings `config`, its `Rtc` from `rtc`
    /// with the room's estimator (none for a relay) and `Rtc` edits, and the room's layer
    /// selector.
    fn new_client(&self, rtc: SfuRtcBuilder, config: ClientConfig) -> Client {
        let id = ClientId::new(self.next_id.fetch_add(1, Ordering::Relaxed));
        let mut rtc = rtc.estimator(estimator_for(config.role, self.config.estimator));
        if let Some(edit) = &self.config.rtc_config {
            let raw = std::mem::take(rtc.raw_config());
            *rtc.raw_config() = edit.apply(raw);
        }
        let client = Client::new(id, rtc.build(Instant::now()), config);
        match &self.config.layer_selector {
            Some(selectors) => client.with_boxed_selector(selectors.make()),
            None => client,
        }
    }
}

/// The receiving half the room task reads commands from; see [`room_channel`].
#[derive(Debug)]
pub struct RoomInbox {
    pub(crate) rx: mpsc::Receiver<Command>,
    /// The room's host candidate: the address its peers send to.
    pub(crate) candidate: SocketAddr,
    /// Where the room task publishes its events.
    pub(crate) events: broadcast::Sender<RoomEvent>,
    /// The threads the room fans out on.
    pub(crate) workers: Workers,
}

/// Events a subscriber of [`RoomHandle::events`] may fall behind by before it loses the
/// oldest.
pub const ROOM_EVENTS_BUFFER: usize = 1024;

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Join { .. } => "Join",
            Self::Answer { .. } => "Answer",
            Self::Offer { .. } => "Offer",
            Self::Leave { .. } => "Leave",
            Self::SetBitrate { .. } => "SetBitrate",
            Self::SetPriority { .. } => "SetPriority",
            Self::SetSubscribed { .. } => "SetSubscribed",
            Self::SetMuted { .. } => "SetMuted",
            Self::SetSentLayers { .. } => "SetSentLayers",
            Self::SetHints { .. } => "SetHints",
            Self::PeerStats { .. } => "PeerStats",
            Self::Stats { .. } => "Stats",
        })
    }
}

/// A handle and the inbox of a room task that [`run_udp_loop`](crate::run_udp_loop)
/// serves. Its peers are configured by `config` and told to send to `candidate` (see
/// [`SfuConfig::candidate_addr`]).
pub fn room_channel(config: SfuConfig, candidate: SocketAddr) -> (RoomHandle, RoomInbox) {
    let (tx, rx) = mpsc::channel(64);
    let events = broadcast::channel(ROOM_EVENTS_BUFFER).0;
    let workers = config.workers.clone();
    let joins = Arc::new(JoinContext {
        config,
        candidate,
        next_id: AtomicU64::new(1),
        events: events.clone(),
    });
    (
        RoomHandle { tx, joins },
        RoomInbox {
            rx,
            candidate,
            events,
            workers,
        },
    )
}

impl RoomHandle {
    /// Sends the command `make` builds around a reply channel and waits for the reply.
    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, RoomError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| RoomError::Stopped)?;
        rx.await.map_err(|_| RoomError::Stopped)
    }

    /// `true` once the room task has stopped (it ended, or panicked): every request fails
    /// with [`RoomError::Stopped`] and the room must be started anew.
    pub fn is_stopped(&self) -> bool {
        self.tx.is_closed()
    }

    /// Adds a peer from its SDP offer; returns the answer and its signal stream.
    ///
    /// The offer is parsed and applied, and the peer's connection (its DTLS key among it)
    /// built, here in the caller's task: a large offer or a slow join never holds the
    /// room's media. Only the finished client goes to the room task.
    pub async fn join(&self, offer: String) -> Result<Joined, RoomError> {
        self.join_with(offer, JoinOptions::default()).await
    }

    /// [`RoomHandle::join`] with `options`.
    pub async fn join_with(
        &self,
        offer: String,
        options: JoinOptions,
    ) -> Result<Joined, RoomError> {
        let ctx = &self.joins;
        let mut config = ctx
            .config
            .client
            .with_receive(options.receive)
            .with_role(options.role);
        if let Some(encryption) = options.payload_encryption {
            config = config.with_payload_encryption(encryption);
        }
        let mut client = ctx.new_client(SfuRtc::builder().host_candidate(ctx.candidate), config);
        let answer = client
            .accept_offer(&offer)
            .map_err(|e| RoomError::BadSdp(e.to_string()))?;
        for channel in &ctx.config.channels {
            client.open_channel(channel);
        }
        self.request(|reply| Command::Join {
            client: Box::new(client),
            sdp: answer,
            relay: None,
            reply,
        })
        .await?
    }

    /// Opens a relay of this room to the same room on another SFU node: the returned
    /// offer goes to that node (which joins it with [`JoinOptions::relay`]) and its answer
    /// to [`RoomHandle::answer`]. The relay runs full ICE towards the other node (which is
    /// ICE-lite, as every room is) from a UDP port of its own (on the room's bind address,
    /// advertised like the room's): the rooms of a node all reach the other node at one
    /// address, and their relays must differ in theirs. From then on either side may
    /// offer, through the relay's signals here and [`RoomHandle::offer`] for the other
    /// node's offers; when both offer at once, ours wins and theirs is refused with
    /// [`RoomError::OfferCollision`].
    pub async fn open_relay(&self) -> Result<RelayOffer, RoomError> {
        let ctx = &self.joins;
        let socket = tokio::net::UdpSocket::bind(SocketAddr::new(ctx.config.bind_addr, 0))
            .await
            .map_err(|e| RoomError::Io(e.to_string()))?;
        crate::batch::configure(&socket, ctx.config.socket_buffer_bytes);
        let port = socket
            .local_addr()
            .map_err(|e| RoomError::Io(e.to_string()))?
            .port();
        let candidate = ctx.config.candidate_addr(port);
        let mut client = ctx.new_client(
            SfuRtc::builder().full_ice().host_candidate(candidate),
            ctx.config.client.with_role(PeerRole::Relay),
        );
        let offer = client
            .create_offer()
            .map_err(|e| RoomError::BadSdp(e.to_string()))?;
        let joined = self
            .request(|reply| Command::Join {
                client: Box::new(client),
                sdp: offer,
                relay: Some(crate::relay_socket::RelaySocket { socket, candidate }),
                reply,
            })
            .await??;
        Ok(RelayOffer {
            client: joined.client,
            offer: joined.answer,
            signals: joined.signals,
        })
    }

    /// Delivers the peer's answer to the room's last offer.
    pub async fn answer(&self, client: ClientId, sdp: String) -> Result<(), RoomError> {
        self.request(|reply| Command::Answer { client, sdp, reply })
            .await?
    }

    /// Applies a new offer from a joined peer (it publishes or stops a track, or restarts
    /// ICE) and returns the answer. The room's offers to the peer that the answer
    /// supersedes ([`AcceptedOffer::superseded`]) must not be answered: the peer's offer
    /// crossed them, and their changes come in a later offer.
    pub async fn offer(&self, client: ClientId, sdp: String) -> Result<AcceptedOffer, RoomError> {
        self.request(|reply| Command::Offer { client, sdp, reply })
            .await?
    }

    /// Sets what `client` needs of the track `mid` of `publisher` beyond its budget (a
    /// highest layer, the size it shows the video at). `false` when it receives no such
    /// track.
    pub async fn set_track_hints(
        &self,
        client: ClientId,
        publisher: ClientId,
        mid: SfuMid,
        hints: TrackHints,
    ) -> Result<bool, RoomError> {
        self.request(|reply| Command::SetHints {
            client,
            publisher,
            mid,
            hints,
            reply,
        })
        .await?
    }

    /// Mutes or unmutes the track `mid` that `client` publishes: its subscribers spend
    /// nothing on it while muted and restart it from a keyframe when unmuted. `false`
    /// when the client publishes no such track.
    pub async fn set_muted(
        &self,
        client: ClientId,
        mid: SfuMid,
        muted: bool,
    ) -> Result<bool, RoomError> {
        self.request(|reply| Command::SetMuted {
            client,
            mid,
            muted,
            reply,
        })
        .await?
    }

    /// Tells relay `client` which layers of the simulcast track it sends on its m-line
    /// `mid` the far node needs: the far node's [`ClientSignal::PublisherLayers`] for its
    /// end of the relay. `Ok(false)` when no simulcast track goes out there.
    pub async fn set_sent_layers(
        &self,
        client: ClientId,
        mid: SfuMid,
        active: Vec<SfuRid>,
    ) -> Result<bool, RoomError> {
        self.request(|reply| Command::SetSentLayers {
            client,
            mid,
            active,
            reply,
        })
        .await?
    }

    /// The room's events from now on: joins and removals, tracks published and ended,
    /// the active speaker, every subscriber's layer changes, and the offers the room sends.
    /// A receiver more than [`ROOM_EVENTS_BUFFER`] events behind loses the oldest
    /// (`RecvError::Lagged`); the room never waits for one.
    pub fn events(&self) -> broadcast::Receiver<RoomEvent> {
        self.joins.events.subscribe()
    }

    /// Removes a peer (it left).
    pub async fn leave(&self, client: ClientId) {
        let _ = self.tx.send(Command::Leave { client }).await;
    }

    /// Caps the bandwidth towards a client's peer, or removes the cap with `None`; the
    /// layer selector picks simulcast layers that fit.
    pub async fn set_available_bitrate(
        &self,
        client: ClientId,
        available: Option<Bitrate>,
    ) -> Result<(), RoomError> {
        self.request(|reply| Command::SetBitrate {
            client,
            available,
            reply,
        })
        .await?
    }

    /// Sets how much `client` wants the track `mid` of `publisher` when its bandwidth is
    /// short (a screen share before cameras, the active speaker before the rest); `false`
    /// when it receives no such track.
    pub async fn set_track_priority(
        &self,
        client: ClientId,
        publisher: ClientId,
        mid: SfuMid,
        priority: TrackPriority,
    ) -> Result<bool, RoomError> {
        self.request(|reply| Command::SetPriority {
            client,
            publisher,
            mid,
            priority,
            reply,
        })
        .await?
    }

    /// Subscribes `client` to the track `mid` of `publisher`, or unsubscribes it: an
    /// unsubscribed track costs the client nothing. `false` when it receives no such track.
    pub async fn set_subscribed(
        &self,
        client: ClientId,
        publisher: ClientId,
        mid: SfuMid,
        subscribed: bool,
    ) -> Result<bool, RoomError> {
        self.request(|reply| Command::SetSubscribed {
            client,
            publisher,
            mid,
            subscribed,
            reply,
        })
        .await?
    }

    /// A client's connection statistics, with the bandwidth estimate towards it.
    pub async fn peer_stats(&self, client: ClientId) -> Result<PeerRtcpStats, RoomError> {
        self.request(|reply| Command::PeerStats { client, reply })
            .await?
    }

    /// The room's counters.
    pub async fn stats(&self) -> Result<RoomStats, RoomError> {
        self.request(|reply| Command::Stats { reply }).await
    }
}
