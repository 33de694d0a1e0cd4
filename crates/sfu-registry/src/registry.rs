//! The room.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use sfu_client::{
    Bitrate, Client, ClientError, ClientOutput, ClientStats, LayerChange, Propagated, SfuOffer,
    TrackHints, TrackPriority,
};
use sfu_ids::{
    ClientId, IncomingDatagram, KeyEpoch, OutgoingDatagram, SfuMediaKind, SfuMid, SfuRid,
};
use sfu_speaker::DominantSpeaker;
use tracing::debug;

use crate::dynacast::Dynacast;
use crate::route::{RouteMiss, Routed, Router};
use crate::shards::{Clients, Entry, Pending, Shard, fan_out_batch, transmit_shard};
use crate::workers::{Job, TransmitSink, Workers, recv_spinning};

/// What a helper hands back after a shared batch: its shard, what the sink left of its
/// datagrams, and the panic of a client, if one panicked.
struct Returned {
    /// Which shard.
    index: usize,
    shard: Shard,
    /// What the shard made that the [`TransmitSink`] did not send (a reused buffer).
    unsent: Vec<OutgoingDatagram>,
    /// How many datagrams the sink sent.
    sent: u64,
    /// A client's panic, to resume on the room's thread.
    outcome: std::thread::Result<()>,
}

/// The answer to an offer from a client's peer ([`Registry::accept_offer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AcceptedOffer {
    /// The SDP answer.
    pub answer: String,
    /// The room's offers to this client up to this number ([`sfu_client::SfuOffer::seq`])
    /// are answered or dropped: the peer must not answer any of them it has not answered.
    pub superseded: u64,
}

/// Counters of a room. Read with [`Registry::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistryStats {
    /// Datagrams handed to a client.
    pub datagrams_routed: u64,
    /// Datagrams from an address no client owns (and not STUN naming one).
    pub dropped_unknown_source: u64,
    /// Datagrams a client rejected, or STUN that did not parse.
    pub dropped_malformed: u64,
    /// STUN from a new address naming a client, dropped: its MESSAGE-INTEGRITY did not
    /// verify, or the client has bound its maximum of addresses.
    pub dropped_unauthenticated: u64,
    /// Media events fanned out.
    pub media_fanned_out: u64,
    /// Batches of events fanned out over the room's [`Workers`] at once.
    pub parallel_fanouts: u64,
    /// Datagrams sent through the room's [`TransmitSink`] in shared batches, by the
    /// helpers and, alongside them, the room's thread for its own shard.
    pub sink_transmits: u64,
    /// Clients removed (left, timed out, or failed).
    pub clients_removed: u64,
}

/// Something the application must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoomEvent {
    /// Deliver this SDP offer to the client's peer; pass the answer to
    /// [`Registry::accept_answer`].
    Offer {
        /// The client whose peer must answer.
        client: ClientId,
        /// The offer, with the publisher of each m-line it sends.
        offer: SfuOffer,
    },
    /// A client joined the room.
    ClientJoined(ClientId),
    /// A client was removed (its peer left, timed out or failed).
    ClientRemoved(ClientId),
    /// A client published a track: it is offered to the others.
    TrackPublished {
        /// The publisher.
        client: ClientId,
        /// Its m-line of the track.
        mid: SfuMid,
        /// Audio or video.
        kind: SfuMediaKind,
    },
    /// Dynacast: the publisher should send only these simulcast layers of its track `mid`
    /// (set the others' encodings inactive), because no subscriber may be sent the others.
    PublisherLayers {
        /// The publisher.
        client: ClientId,
        /// Its m-line of the track.
        mid: SfuMid,
        /// The layers to send, lowest first; the lowest is always among them.
        active: Vec<SfuRid>,
    },
    /// A client muted or unmuted one of its tracks ([`Registry::set_muted`]).
    TrackMuted {
        /// The publisher.
        client: ClientId,
        /// Its m-line of the track.
        mid: SfuMid,
        /// Muted (or unmuted).
        muted: bool,
    },
    /// An end-to-end encrypted publisher's track moved on to a newer SFrame key epoch
    /// ([`PayloadEncryption::Sframe`](sfu_client::PayloadEncryption::Sframe)); the first
    /// epoch a track shows counts as one. An application that hands out keys learns here
    /// when every frame is under the new one.
    KeyEpochChanged {
        /// The publisher.
        client: ClientId,
        /// Its m-line of the track.
        mid: SfuMid,
        /// The epoch its frames are now encrypted under.
        epoch: KeyEpoch,
    },
    /// A client's track ended (it stopped sending on that m-line); its subscribers' m-lines
    /// free. The tracks of a client that leaves end with [`RoomEvent::ClientRemoved`].
    TrackUnpublished {
        /// The publisher.
        client: ClientId,
        /// Its m-line of the track.
        mid: SfuMid,
    },
    /// The room's active (dominant) speaker changed. Every subscriber now gives that
    /// speaker's video [`TrackPriority::Speaker`] when its budget is short.
    ActiveSpeaker(ClientId),
    /// What a client receives of one track changed: another layer, paused or resumed.
    LayerChanged {
        /// The subscriber.
        client: ClientId,
        /// What changed and why.
        change: LayerChange,
    },
}

/// Why a datagram was not delivered. Each is also counted in [`RegistryStats`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// No client owns the source address, and it is not a STUN request naming one.
    #[error("datagram from an unknown source")]
    UnknownSource,
    /// A STUN message that does not parse.
    #[error("malformed STUN from an unknown source")]
    MalformedStun,
    /// A STUN request naming a client that failed authentication (or the client has bound
    /// its maximum of addresses).
    #[error("unauthenticated STUN from an unknown source")]
    Unauthenticated,
    /// The owning client rejected the datagram.
    #[error("client {client} rejected the datagram: {source}")]
    Rejected {
        /// The client the datagram was routed to.
        client: ClientId,
        /// Its reason.
        #[source]
        source: ClientError,
    },
}

/// Errors of room operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A client with this id is already in the room.
    #[error("client {0} is already in the room")]
    DuplicateClient(ClientId),
    /// No client with this id.
    #[error("no client {0} in the room")]
    UnknownClient(ClientId),
    /// The client refused the operation.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// One room: a set of clients, the routing from datagrams to them and the fanout of
/// events between them. Owned by one task; no locks.
///
/// Events fan out in batches: those that datagrams and timers cause wait until the next
/// call of another method (every `poll_*` among them); then each client takes the whole
/// batch and its timer and is polled once, so what it was given leaves in the same pass
/// instead of at its next timer. With several [`Workers`], the room keeps its clients in
/// one shard per worker, and helper threads do that for their shards while the room's
/// thread does its own.
///
/// # Drive loop
///
/// 1. Input: [`Registry::handle_incoming`] for every datagram, [`Registry::handle_timeout`]
///    when [`Registry::poll_timeout`] is reached, and client operations ([`Registry::insert`],
///    [`Registry::accept_answer`], …) from signaling.
/// 2. After any input, send every [`Registry::poll_transmit`] and act on every
///    [`Registry::poll_event`].
/// 3. Sleep until [`Registry::poll_timeout`] or the next input.
///
/// Each input drives only the clients it touched: the routed client, the subscribers an
/// event fans out to, and the clients whose timer expired. No step scans all clients
/// per datagram.
#[derive(Debug, Default)]
pub struct Registry {
    clients: Clients,
    router: Router,
    timers: BinaryHeap<Reverse<(Instant, ClientId)>>,
    dirty: Vec<ClientId>,
    transmits: VecDeque<OutgoingDatagram>,
    events: VecDeque<RoomEvent>,
    stats: RegistryStats,
    /// The media counters of removed clients, summed.
    departed: ClientStats,
    /// Who speaks, from the audio levels publishers send (RFC 6464).
    speaker: DominantSpeaker<ClientId>,
    /// The speaker the clients were last told about.
    announced_speaker: Option<ClientId>,
    /// Which simulcast layers each publisher is asked to send.
    dynacast: Dynacast,
    /// Threads that share the fanout.
    workers: Workers,
    /// Events waiting to fan out as one batch, at the next `poll_*` or other call.
    pending: Vec<Pending>,
    /// Where helpers send their shards back; made when first needed.
    returns: Option<(mpsc::Sender<Returned>, mpsc::Receiver<Returned>)>,
    /// Where helpers send their shards' datagrams themselves.
    sink: Option<Arc<dyn TransmitSink>>,
    /// One buffer per shard for a helper to gather its shard's datagrams in; reused.
    gathered: Vec<Vec<OutgoingDatagram>>,
}

impl Registry {
    /// An empty room that does all its work on the thread that drives it.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty room that shares its fanout with `workers`' helper threads.
    pub fn with_workers(workers: Workers) -> Self {
        Self {
            clients: Clients::with_shards(workers.count()),
            workers,
            ..Self::default()
        }
    }

    /// The threads this room shares its fanout with.
    pub fn workers(&self) -> &Workers {
        &self.workers
    }

    /// Number of clients.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// `true` when no client is in the room.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Counters.
    pub fn stats(&self) -> RegistryStats {
        self.stats
    }

    /// The media counters of every client the room has had, summed: those present now
    /// and those removed, so the totals only grow.
    pub fn client_totals(&self) -> ClientStats {
        let mut total = self.departed;
        for entry in self.clients.values() {
            total.add(&entry.client.stats());
        }
        total
    }

    /// The ids of the clients in the room.
    pub fn client_ids(&self) -> impl Iterator<Item = ClientId> + '_ {
        self.clients.keys().copied()
    }

    /// Read access to a client.
    pub fn client(&self, id: ClientId) -> Option<&Client> {
        self.clients.get(&id).map(|e| &*e.client)
    }

    /// Adds a client (after its first offer/answer) at `now`. It is announced the tracks
    /// already published in the room.
    pub fn insert(&mut self, mut client: Client, now: Instant) -> Result<(), RegistryError> {
        let id = client.id();
        self.flush_fanout();
        if self.clients.contains_key(&id) {
            return Err(RegistryError::DuplicateClient(id));
        }
        self.router
            .add_credentials(client.ice_ufrag(), client.ice_password(), id);
        for other in self.clients.values() {
            for track in other.client.published_tracks() {
                client.handle_propagated(&Propagated::TrackOpen(track.clone()), now);
            }
        }
        self.clients.insert(id, Entry::new(client));
        self.events.push_back(RoomEvent::ClientJoined(id));
        self.dynacast.wake(now);
        self.mark_dirty(id);
        self.drive(now);
        Ok(())
    }

    /// The room's active speaker, as last announced ([`RoomEvent::ActiveSpeaker`]); `None`
    /// before anyone spoke, or after the speaker left.
    pub fn active_speaker(&self) -> Option<ClientId> {
        self.announced_speaker
    }

    /// Removes a client; the others drop its tracks and renegotiate.
    pub fn remove(&mut self, id: ClientId, now: Instant) -> Option<Client> {
        self.flush_fanout();
        let entry = self.clients.remove(&id)?;
        self.router.remove_client(id);
        self.speaker.remove(id);
        if self.announced_speaker == Some(id) {
            self.announced_speaker = None;
        }
        self.stats.clients_removed += 1;
        self.departed.add(&entry.client.stats());
        self.events.push_back(RoomEvent::ClientRemoved(id));
        self.fanout(id, Propagated::ClientLeft(id), now);
        self.drive(now);
        Some(*entry.client)
    }

    /// Routes a datagram to its client and drives the room.
    pub fn handle_incoming(
        &mut self,
        datagram: &IncomingDatagram,
        now: Instant,
    ) -> Result<ClientId, RouteError> {
        let routed = match self.router.route(datagram.source, &datagram.contents) {
            Ok(r) => r,
            Err(RouteMiss::UnknownSource) => {
                self.stats.dropped_unknown_source += 1;
                return Err(RouteError::UnknownSource);
            }
            Err(RouteMiss::MalformedStun) => {
                self.stats.dropped_malformed += 1;
                return Err(RouteError::MalformedStun);
            }
            Err(RouteMiss::Unauthenticated | RouteMiss::TooManyAddresses) => {
                self.stats.dropped_unauthenticated += 1;
                return Err(RouteError::Unauthenticated);
            }
        };
        let id = routed.client();
        let Some(entry) = self.clients.get_mut(&id) else {
            // The router only knows ids of clients in the room; stay total anyway.
            self.stats.dropped_unknown_source += 1;
            return Err(RouteError::UnknownSource);
        };
        let result = entry.client.handle_input(datagram, now);
        // The router verified the request's message integrity; bind the address once the
        // client's ICE agent took it too.
        if result.is_ok() && matches!(routed, Routed::ByUfrag(_)) {
            self.router.learn(datagram.source, id);
        }
        self.mark_dirty(id);
        self.drive(now);
        match result {
            Ok(()) => {
                self.stats.datagrams_routed += 1;
                Ok(id)
            }
            Err(source) => {
                self.stats.dropped_malformed += 1;
                Err(RouteError::Rejected { client: id, source })
            }
        }
    }

    /// Advances time: every client whose timer expired by `now` handles it.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(entry) = self.clients.get_mut(&id) else {
                continue;
            };
            // Stale heap entries (the client has a newer timeout) are skipped.
            if entry.timeout != Some(at) {
                continue;
            }
            entry.timeout = None;
            entry.client.handle_timeout(now);
            self.mark_dirty(id);
        }
        if self.dynacast.next().is_some_and(|at| at <= now) {
            let changes = self
                .dynacast
                .evaluate(self.clients.values().map(|e| &*e.client), now);
            for c in changes {
                debug!(client = %c.client, mid = %c.mid, active = ?c.active, "publisher layers");
                self.events.push_back(RoomEvent::PublisherLayers {
                    client: c.client,
                    mid: c.mid,
                    active: c.active,
                });
            }
        }
        self.drive(now);
    }

    /// Lets the helper threads of shared batches send their shards' datagrams through
    /// `sink` themselves, in parallel, instead of handing them all to the room's thread
    /// ([`Registry::poll_transmit`]); `None` goes back to that. Without helpers (one
    /// worker, or batches too small to share) it is not used.
    pub fn set_transmit_sink(&mut self, sink: Option<Arc<dyn TransmitSink>>) {
        self.sink = sink;
    }

    /// Handles timeouts due at `now` and drives every client. It visits every client;
    /// [`Registry::handle_timeout`] visits only those whose timer expired.
    pub fn poll_all(&mut self, now: Instant) {
        self.flush_fanout();
        let ids: Vec<ClientId> = self.clients.keys().copied().collect();
        for id in ids {
            if let Some(e) = self.clients.get_mut(&id) {
                e.client.handle_timeout(now);
            }
            self.mark_dirty(id);
        }
        self.drive(now);
    }

    /// Binds a remote address to a client without a STUN exchange, e.g. a relay link to
    /// another SFU whose address is configured.
    pub fn bind_address(
        &mut self,
        addr: std::net::SocketAddr,
        id: ClientId,
    ) -> Result<(), RegistryError> {
        self.flush_fanout();
        if !self.clients.contains_key(&id) {
            return Err(RegistryError::UnknownClient(id));
        }
        self.router.learn(addr, id);
        Ok(())
    }

    /// Applies a client's answer to the room's last offer to it. For a connection the
    /// room opened ([`Client::create_offer`]), the answer's host candidates are bound to
    /// the client, as [`Registry::bind_address`] does.
    pub fn accept_answer(
        &mut self,
        id: ClientId,
        sdp: &str,
        now: Instant,
    ) -> Result<(), RegistryError> {
        let entry = self.entry_mut(id)?;
        let result = entry.client.accept_answer(sdp);
        if result.is_ok() && entry.client.opened_connection() {
            // The far side is ICE-lite: it sends no checks whose source the router could
            // learn, so its answer's candidates are bound (as many as a client may have).
            for addr in candidate_addresses(sdp).take(crate::route::MAX_ADDRESSES_PER_CLIENT) {
                self.router.learn(addr, id);
            }
        }
        self.mark_dirty(id);
        self.drive(now);
        Ok(result?)
    }

    /// Applies a new offer from a client's peer (tracks it publishes or stops, an ICE
    /// restart) and returns the answer, with the number of the room's offers to that
    /// client it supersedes ([`Client::offers_superseded`]). An ICE restart's new
    /// credentials are routed at once.
    pub fn accept_offer(
        &mut self,
        id: ClientId,
        sdp: &str,
        now: Instant,
    ) -> Result<AcceptedOffer, RegistryError> {
        let entry = self.entry_mut(id)?;
        let ufrag = entry.client.ice_ufrag();
        let result = entry.client.accept_offer(sdp).map(|answer| AcceptedOffer {
            answer,
            superseded: entry.client.offers_superseded(),
        });
        let restarted = entry.client.ice_ufrag();
        if restarted != ufrag {
            let password = entry.client.ice_password();
            self.router.add_credentials(restarted, password, id);
        }
        self.mark_dirty(id);
        self.drive(now);
        Ok(result?)
    }

    /// Sets what client `id` needs of the track `mid` of `publisher` (see
    /// [`Client::set_track_hints`]); `Ok(false)` when it receives no such track.
    pub fn set_track_hints(
        &mut self,
        id: ClientId,
        publisher: ClientId,
        mid: SfuMid,
        hints: TrackHints,
        now: Instant,
    ) -> Result<bool, RegistryError> {
        let entry = self.entry_mut(id)?;
        let found = entry.client.set_track_hints(publisher, mid, hints);
        self.mark_dirty(id);
        self.drive(now);
        Ok(found)
    }

    /// Tells relay `id` which layers of the simulcast track on its m-line `mid` the far
    /// node needs (see [`Client::set_sent_layers`]); `Ok(false)` when it sends no
    /// simulcast track there.
    pub fn set_sent_layers(
        &mut self,
        id: ClientId,
        mid: SfuMid,
        active: &[SfuRid],
        now: Instant,
    ) -> Result<bool, RegistryError> {
        let entry = self.entry_mut(id)?;
        let found = entry.client.set_sent_layers(mid, active);
        self.dynacast.wake(now);
        self.mark_dirty(id);
        self.drive(now);
        Ok(found)
    }

    /// Mutes or unmutes the track `mid` that client `id` publishes (see
    /// [`Client::set_muted`]); `Ok(false)` when it publishes no such track.
    pub fn set_muted(
        &mut self,
        id: ClientId,
        mid: SfuMid,
        muted: bool,
        now: Instant,
    ) -> Result<bool, RegistryError> {
        let entry = self.entry_mut(id)?;
        let found = entry.client.set_muted(mid, muted);
        self.mark_dirty(id);
        self.drive(now);
        Ok(found)
    }

    /// Caps the bitrate towards a client (see `Client::set_available_bitrate`).
    pub fn set_available_bitrate(
        &mut self,
        id: ClientId,
        available: Option<Bitrate>,
    ) -> Result<(), RegistryError> {
        let entry = self.entry_mut(id)?;
        entry.client.set_available_bitrate(available);
        self.mark_dirty(id);
        Ok(())
    }

    /// Sets how much client `id` wants the track `mid` of `publisher` when its budget is
    /// short (see `Client::set_track_priority`); `false` when it receives no such track.
    pub fn set_track_priority(
        &mut self,
        id: ClientId,
        publisher: ClientId,
        mid: SfuMid,
        priority: TrackPriority,
        now: Instant,
    ) -> Result<bool, RegistryError> {
        let entry = self.entry_mut(id)?;
        let found = entry.client.set_track_priority(publisher, mid, priority);
        self.mark_dirty(id);
        self.drive(now);
        Ok(found)
    }

    /// Subscribes client `id` to the track `mid` of `publisher`, or unsubscribes it (see
    /// `Client::set_subscribed`); `false` when it receives no such track.
    pub fn set_subscribed(
        &mut self,
        id: ClientId,
        publisher: ClientId,
        mid: SfuMid,
        subscribed: bool,
        now: Instant,
    ) -> Result<bool, RegistryError> {
        let entry = self.entry_mut(id)?;
        let found = entry.client.set_subscribed(publisher, mid, subscribed);
        self.mark_dirty(id);
        self.drive(now);
        Ok(found)
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<OutgoingDatagram> {
        self.flush_fanout();
        self.transmits.pop_front()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<RoomEvent> {
        self.flush_fanout();
        self.events.pop_front()
    }

    /// When [`Registry::handle_timeout`] must be called next.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.flush_fanout();
        let mut client = None;
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            match self.clients.get(&id) {
                Some(e) if e.timeout == Some(at) => {
                    client = Some(at);
                    break;
                }
                _ => {
                    self.timers.pop();
                }
            }
        }
        let dynacast = self.dynacast.next().filter(|_| !self.clients.is_empty());
        client.into_iter().chain(dynacast).min()
    }

    /// The entry of a client an application call acts on, after the events that earlier
    /// calls caused have fanned out, so calls take effect in their order.
    fn entry_mut(&mut self, id: ClientId) -> Result<&mut Entry, RegistryError> {
        self.flush_fanout();
        self.clients
            .get_mut(&id)
            .ok_or(RegistryError::UnknownClient(id))
    }

    fn mark_dirty(&mut self, id: ClientId) {
        if let Some(e) = self.clients.get_mut(&id) {
            e.touch(id, &mut self.dirty);
        }
    }

    /// Drains the output of every dirty client, fanning events out (which dirties the
    /// recipients) until nothing is dirty; then removes dead clients.
    fn drive(&mut self, now: Instant) {
        let mut dead = Vec::new();
        while let Some(id) = self.dirty.pop() {
            while let Some(entry) = self.clients.get_mut(&id) {
                let output = match entry.held.pop_front() {
                    Some(held) => held,
                    None => entry.client.poll_output(),
                };
                match output {
                    ClientOutput::Transmit(t) => self.transmits.push_back(t),
                    ClientOutput::Offer(offer) => self
                        .events
                        .push_back(RoomEvent::Offer { client: id, offer }),
                    ClientOutput::Propagate(event) => self.route_event(id, event, now),
                    ClientOutput::LayerChanged(change) => self
                        .events
                        .push_back(RoomEvent::LayerChanged { client: id, change }),
                    ClientOutput::Timeout(at) => {
                        entry.dirty = false;
                        if !entry.client.is_alive() {
                            dead.push(id);
                        } else if entry.set_timeout(at) {
                            self.timers.push(Reverse((at, id)));
                        }
                        break;
                    }
                    _ => {}
                }
            }
        }
        for id in dead {
            debug!(client = %id, "removing closed client");
            self.remove(id, now);
        }
    }

    fn route_event(&mut self, from: ClientId, event: Propagated, now: Instant) {
        match &event {
            Propagated::KeyframeRequest { origin, .. } => {
                if let Some(e) = self.clients.get_mut(origin) {
                    e.client.handle_propagated(&event, now);
                    let origin = *origin;
                    self.mark_dirty(origin);
                }
            }
            Propagated::Media { media, .. } => {
                self.stats.media_fanned_out += 1;
                if let Some(level) = media.extensions.audio_level {
                    self.speaker.level(from, level.unsigned_abs(), now);
                    if let Some(speaker) = self.speaker.poll(now) {
                        self.on_active_speaker(speaker);
                    }
                }
                self.fanout(from, event, now);
            }
            Propagated::TrackOpen(track) => {
                self.events.push_back(RoomEvent::TrackPublished {
                    client: track.origin,
                    mid: track.mid,
                    kind: track.kind,
                });
                self.fanout(from, event, now);
            }
            Propagated::TrackMuted { origin, mid, muted } => {
                self.events.push_back(RoomEvent::TrackMuted {
                    client: *origin,
                    mid: *mid,
                    muted: *muted,
                });
                self.fanout(from, event, now);
            }
            Propagated::KeyEpochChanged { origin, mid, epoch } => {
                self.events.push_back(RoomEvent::KeyEpochChanged {
                    client: *origin,
                    mid: *mid,
                    epoch: *epoch,
                });
            }
            Propagated::TrackClosed { origin, mid } => {
                self.events.push_back(RoomEvent::TrackUnpublished {
                    client: *origin,
                    mid: *mid,
                });
                self.fanout(from, event, now);
            }
            _ => self.fanout(from, event, now),
        }
    }

    /// Tells every subscriber who speaks now (and who no longer does), so its allocation
    /// favours that video.
    fn on_active_speaker(&mut self, speaker: ClientId) {
        debug!(%speaker, "active speaker");
        let previous = self.announced_speaker.replace(speaker);
        for (&id, entry) in self.clients.iter_mut() {
            entry.client.set_active_speaker(speaker, true);
            if let Some(p) = previous.filter(|&p| p != speaker) {
                entry.client.set_active_speaker(p, false);
            }
            entry.touch(id, &mut self.dirty);
        }
        self.events.push_back(RoomEvent::ActiveSpeaker(speaker));
    }

    /// Hands `event` to every client but `origin`, with the batch it joins
    /// ([`Registry::flush_fanout`]).
    fn fanout(&mut self, origin: ClientId, event: Propagated, now: Instant) {
        self.pending.push(Pending { origin, event, now });
    }

    /// Fans the waiting events out until none wait: every shard gives each of its clients
    /// the whole batch and polls it once. With helpers and a batch large enough, helper
    /// threads take shards 1.. while this thread takes shard 0.
    fn flush_fanout(&mut self) {
        while let Some(last) = self.pending.last() {
            let now = last.now;
            let batch = std::mem::take(&mut self.pending);
            // A client's timer and poll cost about two packets' worth.
            let work = (batch.len() + 2) * self.clients.len();
            let shared = self.clients.shard_count() > 1 && work >= self.workers.min_batch_work();
            let spent = if shared {
                self.fan_out_shared(Arc::new(batch))
            } else {
                for shard in self.clients.shards_mut() {
                    fan_out_batch(shard, &batch);
                }
                Some(batch)
            };
            // The batch's buffer is kept for the next one.
            if let Some(mut spent) = spent {
                spent.clear();
                self.pending = spent;
            }
            self.collect_fanout();
            self.drive(now);
        }
    }

    /// Fans `batch` out with the helpers; returns the batch once every helper let go of it.
    fn fan_out_shared(&mut self, batch: Arc<Vec<Pending>>) -> Option<Vec<Pending>> {
        let sent = self.hand_out(&batch);
        // Shard 0, and any a helper did not take, on this thread; shard 0 sends its
        // datagrams while the helpers send theirs.
        let shards = self.clients.shards_mut();
        fan_out_batch(&mut shards[0], &batch);
        if sent > 0
            && let Some(sink) = &self.sink
        {
            let unsent = &mut self.gathered[0];
            self.stats.sink_transmits += transmit_shard(&mut shards[0], sink.as_ref(), unsent);
            self.transmits.extend(unsent.drain(..));
        }
        for shard in &mut shards[1 + sent..] {
            fan_out_batch(shard, &batch);
        }
        if sent > 0 {
            self.stats.parallel_fanouts += 1;
            self.take_back(sent);
        }
        // Every helper drops its reference before sending its shard back.
        Arc::try_unwrap(batch).ok()
    }

    /// Sends shards 1.. to the helper threads with `batch`, helper `k - 1` always taking
    /// shard `k`; returns how many went (shards 1 to that number).
    fn hand_out(&mut self, batch: &Arc<Vec<Pending>>) -> usize {
        let (tx, _) = self.returns.get_or_insert_with(mpsc::channel);
        let shards = self.clients.shard_count();
        self.gathered.resize_with(shards, Vec::new);
        let mut sent = 0;
        for k in 1..shards {
            let Some(helper) = self.workers.helper(k - 1) else {
                break;
            };
            let mut shard = std::mem::take(&mut self.clients.shards_mut()[k]);
            let mut unsent = std::mem::take(&mut self.gathered[k]);
            let (batch, tx, sink) = (Arc::clone(batch), tx.clone(), self.sink.clone());
            let job: Job = Box::new(move || {
                let mut sent = 0;
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    fan_out_batch(&mut shard, &batch);
                    if let Some(sink) = &sink {
                        sent = transmit_shard(&mut shard, sink.as_ref(), &mut unsent);
                    }
                }));
                drop(batch);
                let _ = tx.send(Returned {
                    index: k,
                    shard,
                    unsent,
                    sent,
                    outcome,
                });
            });
            // A helper that is gone hands the job back: run it here.
            if let Err(mpsc::SendError(job)) = helper.send(job) {
                job();
            }
            sent += 1;
        }
        sent
    }

    /// Waits for `n` shards to come back; a client's panic on a helper resumes here.
    fn take_back(&mut self, n: usize) {
        let Some((_, rx)) = &self.returns else {
            return;
        };
        for _ in 0..n {
            // The room holds a sender, so this waits until a helper sends.
            let Some(back) = recv_spinning(rx) else {
                return;
            };
            let k = back.index;
            self.clients.shards_mut()[k] = back.shard;
            let mut unsent = back.unsent;
            self.transmits.extend(unsent.drain(..));
            self.gathered[k] = unsent;
            self.stats.sink_transmits += back.sent;
            if let Err(panic) = back.outcome {
                resume_unwind(panic);
            }
        }
    }

    /// After a batch fanout: queues every client's datagrams, and either settles its timer
    /// (when waiting is all that is left of it) or leaves its other outputs to
    /// [`Registry::drive`], in order.
    fn collect_fanout(&mut self) {
        for (&id, entry) in self.clients.iter_mut() {
            self.transmits.extend(entry.sent.drain(..));
            match entry.held.front() {
                None => {}
                Some(&ClientOutput::Timeout(at))
                    if entry.held.len() == 1 && entry.client.is_alive() =>
                {
                    entry.held.clear();
                    if entry.set_timeout(at) {
                        self.timers.push(Reverse((at, id)));
                    }
                }
                Some(_) if !entry.dirty => {
                    entry.dirty = true;
                    self.dirty.push(id);
                }
                Some(_) => {}
            }
        }
    }
}

/// The addresses of the UDP candidates an SDP names (`a=candidate:` lines).
fn candidate_addresses(sdp: &str) -> impl Iterator<Item = std::net::SocketAddr> + '_ {
    sdp.lines().filter_map(|line| {
        // a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ …
        let mut f = line.trim_end().strip_prefix("a=candidate:")?.split(' ');
        let transport = f.nth(2)?;
        if !transport.eq_ignore_ascii_case("udp") {
            return None;
        }
        let ip: std::net::IpAddr = f.nth(1)?.parse().ok()?;
        let port: u16 = f.next()?.parse().ok()?;
        Some(std::net::SocketAddr::new(ip, port))
    })
}

#[cfg(test)]
mod tests {
    use super::candidate_addresses;

    #[test]
    fn udp_candidates_of_an_answer() {
        let sdp = "v=0\r\n\
            a=candidate:1 1 udp 2130706431 127.0.0.1 3478 typ host\r\n\
            a=candidate:2 1 TCP 1 10.0.0.1 9 typ host tcptype active\r\n\
            a=candidate:3 1 UDP 1 ::1 5000 typ host\r\n\
            a=candidate:4 1 udp 1 not-an-ip 5 typ host\r\n\
            a=candidate:5 1 udp\r\n";
        let found: Vec<String> = candidate_addresses(sdp).map(|a| a.to_string()).collect();
        assert_eq!(found, ["127.0.0.1:3478", "[::1]:5000"]);
    }
}
