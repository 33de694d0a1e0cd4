//! Rooms by name, each a room task of its own, plus the signaling state around them.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use sfu_kit::{
    BulkHistogram, ClientId, EstimatorKind, HOLD_BUCKETS, HoldTimes, RoomHandle, RoomStats,
    SfuConfig, SfuMetrics, UdpMux, Workers,
};
use tokio::sync::broadcast;

/// A participant as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Participant {
    pub(crate) id: u64,
    pub(crate) name: String,
    /// The participant's own m-line of the screen share it publishes, if it does.
    pub(crate) screen: Option<String>,
    /// Its microphone is muted.
    pub(crate) mic_muted: bool,
    /// Its camera is off.
    pub(crate) camera_off: bool,
    /// What every later call for this participant must carry.
    #[serde(skip)]
    pub(crate) secret: String,
    /// Its token grants publishing: its later offers may send.
    #[serde(skip)]
    pub(crate) may_publish: bool,
    /// It is another node's relay of the room ([`crate::cascade`]), not a person: the
    /// roster shows the far node's participants in its place.
    #[serde(skip)]
    pub(crate) relay: bool,
}

/// The far end of a relay of a room: the other node's participants, and which of them
/// each of the relay's m-lines carries.
#[derive(Debug, Clone, Default)]
pub(crate) struct FarNode {
    /// The other node's own participants, with their ids there.
    pub(crate) participants: Vec<Participant>,
    /// The relay connection's m-line → the owner there: its participant id, with
    /// `:screen` for a screen share (as the pages' `tracks` name owners).
    pub(crate) owners: HashMap<String, String>,
    /// The other node's active speaker among its own participants (its id there).
    pub(crate) speaker: Option<u64>,
}

/// What a room tells all its pages at once.
#[derive(Debug, Clone)]
pub(crate) enum News {
    /// The roster changed: the JSON list (`peers`).
    Roster(String),
    /// The active speaker, as the pages know it, is now this id (`speaker`).
    Speaker(String),
}

/// What the node at the far end of a relay says of itself; `None` keeps what was known.
#[derive(Debug, Default)]
pub(crate) struct FarUpdate {
    /// Its participants (those it brought over relays of its own are not).
    pub(crate) participants: Option<Vec<Participant>>,
    /// The owners of the relay's m-lines it sends.
    pub(crate) owners: Option<HashMap<String, String>>,
    /// Its active speaker among its participants.
    pub(crate) speaker: Option<u64>,
}

/// The id under which the pages of this node know participant `far` of the node at the
/// other end of relay client `relay`: unique in the room, and the relay's id is
/// `id >> REMOTE_SHIFT` again. A page's ids are JavaScript numbers, exact below 2^53.
pub(crate) fn remote_id(relay: u64, far: u64) -> u64 {
    (relay << REMOTE_SHIFT) | (far & ((1 << REMOTE_SHIFT) - 1))
}

/// See [`remote_id`]: local client ids stay below `1 << REMOTE_SHIFT`.
pub(crate) const REMOTE_SHIFT: u32 = 24;

/// How much the server takes on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Rooms open at once.
    pub(crate) max_rooms: usize,
    /// Participants (joined or joining) per room.
    pub(crate) max_participants: usize,
}

/// Why a join cannot get a room.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RoomsError {
    #[error("the server has its maximum of {0} rooms open")]
    TooManyRooms(usize),
    #[error("the room is full ({0} participants)")]
    RoomFull(usize),
    #[error("cannot start room: {0}")]
    Start(#[from] anyhow::Error),
}

/// What a page last reported of its browser's `getStats()`.
pub(crate) type Report = serde_json::Value;

pub(crate) struct Room {
    pub(crate) handle: RoomHandle,
    pub(crate) participants: Vec<Participant>,
    pub(crate) roster: broadcast::Sender<News>,
    pub(crate) reports: HashMap<u64, Report>,
    /// Joins holding a [`Reservation`]: the room is kept while any is in flight.
    joining: usize,
    /// The room's UDP port when taken from the configured range (0: any port).
    port: u16,
    /// The room's counters as last added to the process's `/metrics` totals.
    pub(crate) reported: Reported,
    /// The room's relays to and from other nodes, by their client id here.
    pub(crate) relays: HashMap<u64, FarNode>,
    /// The room's active speaker, as the room task last announced it.
    speaker: Option<u64>,
    /// Dropped with the room: the relays this node opened for it see the room is gone.
    _relays_open: Option<tokio::sync::watch::Sender<()>>,
}

impl Room {
    fn new(
        handle: RoomHandle,
        port: u16,
        relays_open: Option<tokio::sync::watch::Sender<()>>,
    ) -> Self {
        Self {
            handle,
            participants: Vec::new(),
            roster: broadcast::channel(16).0,
            reports: HashMap::new(),
            joining: 0,
            port,
            reported: Reported::default(),
            relays: HashMap::new(),
            speaker: None,
            _relays_open: relays_open,
        }
    }

    /// The id the pages know client `id` as the speaker by: for a relay, the far node's
    /// own speaker (when it said who), else the client itself.
    fn speaker_shown(&self, id: u64) -> String {
        match self.relays.get(&id).and_then(|far| far.speaker) {
            Some(far) => remote_id(id, far).to_string(),
            None => id.to_string(),
        }
    }

    /// The roster as the pages read it: the room's people (not the relays), then the
    /// participants of the nodes at the far end of each relay under their [`remote_id`]s,
    /// with `via`, the relay's client id.
    pub(crate) fn roster_json(&self) -> String {
        let mut list: Vec<serde_json::Value> = self
            .participants
            .iter()
            .filter(|p| !p.relay)
            .filter_map(|p| serde_json::to_value(p).ok())
            .collect();
        for (&relay, far) in &self.relays {
            for p in &far.participants {
                let mut p = p.clone();
                p.id = remote_id(relay, p.id);
                if let Ok(mut v) = serde_json::to_value(&p) {
                    v["via"] = relay.into();
                    list.push(v);
                }
            }
        }
        serde_json::Value::Array(list).to_string()
    }

    /// Tells the room's event streams the roster changed.
    fn announce(&self) {
        let _ = self.roster.send(News::Roster(self.roster_json()));
    }
}

/// The monotonic counters of one room, in the order [`add_counts`] reads them.
type RoomCounts = [u64; 14];

/// What a room had counted when it was last added to the `/metrics` totals.
#[derive(Debug, Default)]
pub(crate) struct Reported {
    counts: RoomCounts,
    hold: HoldTimes,
}

/// The process's metrics: the library's set, and the hold-time histogram the rooms count.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    pub(crate) sfu: SfuMetrics,
    hold: BulkHistogram,
}

impl Metrics {
    fn new() -> anyhow::Result<Self> {
        let sfu = SfuMetrics::new()?;
        let hold = BulkHistogram::new(
            "sfu_datagram_hold_seconds",
            "Time from a datagram's arrival at the SFU's socket (kernel timestamp) to the end \
             of the room's send call after handling it",
            HOLD_BUCKETS.iter().map(|b| b.as_secs_f64()).collect(),
        )?;
        sfu.registry.register(Box::new(hold.clone()))?;
        Ok(Self { sfu, hold })
    }
}

/// Adds what a room counted since `reported` to the process's totals. Rooms come and go;
/// the totals only grow.
pub(crate) fn add_counts(metrics: &Metrics, st: &RoomStats, reported: &mut Reported) {
    let m = &metrics.sfu;
    let hold = st.hold.since(&reported.hold);
    metrics
        .hold
        .add(hold.per_bucket(), hold.sum().as_secs_f64());
    reported.hold = st.hold;
    let reported = &mut reported.counts;
    let now: RoomCounts = [
        st.datagrams_in,
        st.datagrams_out,
        st.messages_out,
        st.registry.dropped_unknown_source,
        st.registry.dropped_malformed,
        st.registry.dropped_unauthenticated,
        st.registry.media_fanned_out,
        st.registry.clients_removed,
        st.layer_changes,
        st.kernel_drops,
        st.media.packets_forwarded,
        st.media.keyframe_requests,
        st.media.keyframe_requests_to_peer,
        st.media.layer_switches,
    ];
    let counters = [
        &m.datagrams_in,
        &m.datagrams_out,
        &m.messages_out,
        &m.dropped_unknown_source,
        &m.dropped_malformed,
        &m.dropped_unauthenticated,
        &m.media_fanned_out,
        &m.clients_removed,
        &m.layer_changes,
        &m.dropped_kernel,
        &m.packets_forwarded,
        &m.keyframe_requests,
        &m.keyframe_requests_to_publishers,
        &m.layer_switches,
    ];
    for ((counter, now), before) in counters.iter().zip(now).zip(reported.iter_mut()) {
        counter.inc_by(now.saturating_sub(*before));
        *before = now.max(*before);
    }
}

/// A place in a room held for a join in flight. Dropped without
/// [`Rooms::add_participant`] (the join failed, or its HTTP request went away while it
/// waited for the room), it gives the place back and closes the room if it is empty.
pub(crate) struct Reservation {
    rooms: Rooms,
    room: String,
    kept: bool,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.kept {
            self.rooms.release(&self.room);
        }
    }
}

/// Rooms bind UDP ports from `first` up, reusing the ports of closed rooms; a port some
/// other program holds is skipped.
#[derive(Debug, Default)]
struct Ports {
    first: u16,
    in_use: HashSet<u16>,
}

/// Ports tried for one room before giving up.
const PORT_ATTEMPTS: u16 = 256;

/// All rooms of the process. The mutex guards signaling state only; media never takes it.
#[derive(Clone)]
pub(crate) struct Rooms {
    inner: Arc<Mutex<HashMap<String, Room>>>,
    bind: IpAddr,
    public_ip: Option<IpAddr>,
    ports: Arc<Mutex<Ports>>,
    /// The port every room shares, unless each room has its own.
    mux: Option<UdpMux>,
    /// The mux's counters as last added to the `/metrics` totals.
    mux_reported: Arc<Mutex<MuxCounts>>,
    estimator: EstimatorKind,
    /// The fanout threads every room shares.
    workers: Workers,
    limits: Limits,
    pub(crate) metrics: Metrics,
    /// The nodes every room here opens a relay to.
    cascade: Arc<Vec<crate::cascade::Link>>,
}

/// A mux's monotonic counters, in the order [`Rooms::add_mux_counts`] reads them.
type MuxCounts = [u64; 6];

impl Rooms {
    pub(crate) fn new(
        bind: IpAddr,
        public_ip: Option<IpAddr>,
        udp_port: u16,
        mux: Option<UdpMux>,
        estimator: EstimatorKind,
        workers: Workers,
        limits: Limits,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            inner: Arc::default(),
            bind,
            public_ip,
            ports: Arc::new(Mutex::new(Ports {
                first: udp_port,
                in_use: HashSet::new(),
            })),
            mux,
            mux_reported: Arc::default(),
            estimator,
            workers,
            limits,
            metrics: Metrics::new()?,
            cascade: Arc::default(),
        })
    }

    /// Every room started from now on opens a relay to each of `links`.
    pub(crate) fn with_cascade(mut self, links: Vec<crate::cascade::Link>) -> Self {
        self.cascade = Arc::new(links);
        self
    }

    /// Adds what the shared port counted since the last call to the `/metrics` totals:
    /// the datagrams no room saw (the rooms count the ones they got) and why.
    pub(crate) fn add_mux_counts(&self) {
        let Some(mux) = &self.mux else {
            return;
        };
        let st = mux.stats();
        let m = &self.metrics.sfu;
        let now: MuxCounts = [
            st.datagrams_in.saturating_sub(st.routed),
            st.dropped_unknown_source,
            st.dropped_malformed,
            st.dropped_unauthenticated,
            st.dropped_room_busy,
            st.kernel_drops,
        ];
        let counters = [
            &m.datagrams_in,
            &m.dropped_unknown_source,
            &m.dropped_malformed,
            &m.dropped_unauthenticated,
            &m.dropped_room_busy,
            &m.dropped_kernel,
        ];
        let mut reported = self.mux_reported.lock().unwrap_or_else(|e| e.into_inner());
        for ((counter, now), before) in counters.iter().zip(now).zip(reported.iter_mut()) {
            counter.inc_by(now.saturating_sub(*before));
            *before = now.max(*before);
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Room>> {
        // A panic while holding this lock would be a bug in this file; recover the data anyway.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The room called `name`, started on first use, with a place reserved for a join.
    pub(crate) async fn get_or_start(
        &self,
        name: &str,
    ) -> Result<(RoomHandle, Reservation), RoomsError> {
        let reservation = Reservation {
            rooms: self.clone(),
            room: name.to_string(),
            kept: false,
        };
        {
            let mut rooms = self.lock();
            if rooms.get(name).is_some_and(|r| r.handle.is_stopped()) {
                // The room task died (a panic): forget it, start the room anew. Its peers'
                // event streams ended with the task, so their pages join again.
                if let Some(dead) = rooms.remove(name) {
                    tracing::error!(room = name, "room task stopped; starting it again");
                    self.release_port(dead.port);
                }
            }
            if let Some(r) = rooms.get_mut(name) {
                if r.participants.len() + r.joining >= self.limits.max_participants {
                    return Err(RoomsError::RoomFull(self.limits.max_participants));
                }
                r.joining += 1;
                return Ok((r.handle.clone(), reservation));
            }
            if rooms.len() >= self.limits.max_rooms {
                return Err(RoomsError::TooManyRooms(self.limits.max_rooms));
            }
        }
        let (handle, addr, port) = self.start_room().await?;
        tracing::info!(room = name, %addr, "room started");
        let mut rooms = self.lock();
        if !rooms.contains_key(name) && rooms.len() >= self.limits.max_rooms {
            // Other joins took the last places while this room started.
            self.release_port(port);
            return Err(RoomsError::TooManyRooms(self.limits.max_rooms));
        }
        // Another request may have started the room meanwhile; keep the first.
        let room = rooms.entry(name.to_string()).or_insert_with(|| {
            let relays_open = (!self.cascade.is_empty()).then(|| {
                let (open, watch) = tokio::sync::watch::channel(());
                for link in self.cascade.iter() {
                    crate::cascade::spawn_relay(
                        self.clone(),
                        name.to_string(),
                        handle.clone(),
                        link.clone(),
                        watch.clone(),
                    );
                }
                open
            });
            Room::new(handle, port, relays_open)
        });
        if room.port != port {
            self.release_port(port);
        }
        room.joining += 1;
        let handle = room.handle.clone();
        self.metrics.sfu.rooms.set(rooms.len() as i64);
        Ok((handle, reservation))
    }

    /// Starts a room task on the shared port, or on the next free port of the range (or
    /// any port).
    async fn start_room(&self) -> Result<(RoomHandle, std::net::SocketAddr, u16), RoomsError> {
        let mut config = SfuConfig::default()
            .with_bind_addr(self.bind)
            .with_public_ip(self.public_ip)
            .with_estimator(self.estimator);
        config.workers = self.workers.clone();
        if let Some(mux) = &self.mux {
            return Ok((mux.serve_room(config), mux.local_addr(), 0));
        }
        let first = self.ports.lock().unwrap_or_else(|e| e.into_inner()).first;
        if first == 0 {
            let (handle, addr) = sfu_kit::serve(config.with_udp_port(0))
                .await
                .map_err(anyhow::Error::from)?;
            return Ok((handle, addr, 0));
        }
        let mut last_error = None;
        let mut candidate = first;
        for _ in 0..PORT_ATTEMPTS {
            let port = {
                let mut ports = self.ports.lock().unwrap_or_else(|e| e.into_inner());
                let Some(p) = (candidate..=u16::MAX).find(|p| !ports.in_use.contains(p)) else {
                    break;
                };
                ports.in_use.insert(p);
                p
            };
            match sfu_kit::serve(config.clone().with_udp_port(port)).await {
                Ok((handle, addr)) => return Ok((handle, addr, port)),
                Err(e) => {
                    // Held by another program: skip it.
                    self.release_port(port);
                    last_error = Some(e);
                    match port.checked_add(1) {
                        Some(next) => candidate = next,
                        None => break,
                    }
                }
            }
        }
        Err(RoomsError::Start(anyhow::anyhow!(
            "no free UDP port from {first}: {}",
            last_error.map_or_else(|| "range exhausted".to_string(), |e| e.to_string())
        )))
    }

    fn release_port(&self, port: u16) {
        if port != 0 {
            self.ports
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .in_use
                .remove(&port);
        }
    }

    /// Completes the join `reservation` held a place for.
    pub(crate) fn add_participant(&self, mut reservation: Reservation, participant: Participant) {
        reservation.kept = true;
        let room = reservation.room.as_str();
        let mut rooms = self.lock();
        if let Some(r) = rooms.get_mut(room) {
            r.joining = r.joining.saturating_sub(1);
            r.participants.push(participant);
            r.announce();
        }
    }

    /// The participant `client` of `room`, if there is one.
    pub(crate) fn participant(&self, room: &str, client: u64) -> Option<Participant> {
        self.lock()
            .get(room)?
            .participants
            .iter()
            .find(|p| p.id == client)
            .cloned()
    }

    /// Names the m-line of `client`'s screen share (`None`: it shares nothing), and tells
    /// the room's pages.
    pub(crate) fn set_screen(&self, room: &str, client: u64, screen: Option<String>) {
        let mut rooms = self.lock();
        let Some(r) = rooms.get_mut(room) else {
            return;
        };
        let Some(p) = r.participants.iter_mut().find(|p| p.id == client) else {
            return;
        };
        if p.screen != screen {
            p.screen = screen;
            r.announce();
        }
    }

    /// Records that `client`'s microphone (`audio`) or camera is muted or not, and tells
    /// the room's pages.
    pub(crate) fn set_muted_flag(&self, room: &str, client: u64, audio: bool, muted: bool) {
        let mut rooms = self.lock();
        let Some(r) = rooms.get_mut(room) else {
            return;
        };
        let Some(p) = r.participants.iter_mut().find(|p| p.id == client) else {
            return;
        };
        let flag = if audio {
            &mut p.mic_muted
        } else {
            &mut p.camera_off
        };
        if *flag != muted {
            *flag = muted;
            r.announce();
        }
    }

    /// Who the pages see sending the track `mid` of client `publisher` in `room`: the
    /// publisher's id, with `:screen` for its screen share; for a track a relay brings, the
    /// far participant's [`remote_id`].
    pub(crate) fn owner_of(&self, room: &str, publisher: u64, mid: &str) -> String {
        let rooms = self.lock();
        let Some(r) = rooms.get(room) else {
            return publisher.to_string();
        };
        if let Some(far) = r.relays.get(&publisher) {
            let Some(owner) = far.owners.get(mid) else {
                return publisher.to_string();
            };
            let (id, what) = owner.split_once(':').unwrap_or((owner, ""));
            let id = id
                .parse()
                .map_or(publisher, |far| remote_id(publisher, far));
            return if what.is_empty() {
                id.to_string()
            } else {
                format!("{id}:{what}")
            };
        }
        let screen = r
            .participants
            .iter()
            .any(|p| p.id == publisher && p.screen.as_deref() == Some(mid));
        if screen {
            format!("{publisher}:screen")
        } else {
            publisher.to_string()
        }
    }

    /// Records a relay of `room` (its client here), with nothing known of the far node yet.
    pub(crate) fn add_relay(&self, room: &str, relay: u64) {
        if let Some(r) = self.lock().get_mut(room) {
            r.relays.insert(relay, FarNode::default());
        }
    }

    /// Forgets a relay of `room` and the far participants it brought.
    pub(crate) fn remove_relay(&self, room: &str, relay: u64) {
        if let Some(r) = self.lock().get_mut(room)
            && r.relays.remove(&relay).is_some()
        {
            r.announce();
        }
    }

    /// What the node at the far end of relay `relay` of `room` says of itself. The pages
    /// hear of a new roster, and of a new far speaker while the relay is the room's.
    pub(crate) fn set_far(&self, room: &str, relay: u64, update: FarUpdate) {
        let mut rooms = self.lock();
        let Some(r) = rooms.get_mut(room) else {
            return;
        };
        let Some(far) = r.relays.get_mut(&relay) else {
            return;
        };
        let new_roster = update
            .participants
            .as_ref()
            .is_some_and(|p| *p != far.participants);
        if let Some(p) = update.participants {
            far.participants = p;
        }
        if let Some(o) = update.owners {
            far.owners = o;
        }
        let new_speaker = update.speaker.is_some() && update.speaker != far.speaker;
        if new_speaker {
            far.speaker = update.speaker;
        }
        if new_roster {
            r.announce();
        }
        if new_speaker && r.speaker == Some(relay) {
            let _ = r.roster.send(News::Speaker(r.speaker_shown(relay)));
        }
    }

    /// Records that `room`'s active speaker is client `id` and returns the id its pages
    /// know that speaker by.
    pub(crate) fn speaker_shown(&self, room: &str, id: u64) -> String {
        let mut rooms = self.lock();
        match rooms.get_mut(room) {
            Some(r) => {
                r.speaker = Some(id);
                r.speaker_shown(id)
            }
            None => id.to_string(),
        }
    }

    /// Whether `id` is one of the far node's own participants at relay `relay`.
    pub(crate) fn is_far_participant(&self, room: &str, relay: u64, id: u64) -> bool {
        self.lock()
            .get(room)
            .and_then(|r| r.relays.get(&relay))
            .is_some_and(|far| far.participants.iter().any(|p| p.id == id))
    }

    /// `room`'s active speaker when it is one of the room's own people (not a relay).
    pub(crate) fn local_speaker(&self, room: &str) -> Option<u64> {
        let rooms = self.lock();
        let r = rooms.get(room)?;
        let id = r.speaker?;
        r.participants
            .iter()
            .any(|p| p.id == id && !p.relay)
            .then_some(id)
    }

    /// Every room with the number of its own people (not relays): this node's load.
    pub(crate) fn local_loads(&self) -> Vec<(String, usize)> {
        self.lock()
            .iter()
            .map(|(name, r)| {
                let n = r.participants.iter().filter(|p| !p.relay).count();
                (name.clone(), n)
            })
            .collect()
    }

    /// Datagrams received and sent by every open room so far (each room's counts start
    /// with it and end with it).
    pub(crate) async fn datagrams(&self) -> u64 {
        let handles: Vec<RoomHandle> = self.lock().values().map(|r| r.handle.clone()).collect();
        let mut total = 0;
        for h in handles {
            if let Ok(st) = h.stats().await {
                total += st.datagrams_in + st.datagrams_out;
            }
        }
        total
    }

    /// The relays other nodes opened here: (room, client, the node's name).
    pub(crate) fn accepted_relays(&self) -> Vec<(String, u64, String)> {
        self.lock()
            .iter()
            .flat_map(|(name, r)| {
                r.participants
                    .iter()
                    .filter(|p| p.relay)
                    .map(|p| (name.clone(), p.id, p.name.clone()))
            })
            .collect()
    }

    /// The room's own people, as another node shows them (not the relays, nor the
    /// participants they bring).
    pub(crate) fn local_participants(&self, room: &str) -> Vec<Participant> {
        self.lock().get(room).map_or_else(Vec::new, |r| {
            r.participants
                .iter()
                .filter(|p| !p.relay)
                .cloned()
                .collect()
        })
    }

    /// Gives back a place a join had reserved.
    fn release(&self, room: &str) {
        let mut rooms = self.lock();
        if let Some(r) = rooms.get_mut(room) {
            r.joining = r.joining.saturating_sub(1);
        }
        self.close_if_empty(&mut rooms, room);
    }

    /// Drops an empty room with no join in flight: its task ends with its last handle,
    /// and its UDP port is released.
    fn close_if_empty(&self, rooms: &mut HashMap<String, Room>, room: &str) {
        if rooms
            .get(room)
            .is_some_and(|r| r.participants.is_empty() && r.joining == 0)
        {
            if let Some(mut r) = rooms.remove(room) {
                self.release_port(r.port);
                // What the room counted since the last scrape still goes into the totals;
                // its task ends once this last request has been answered.
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    let metrics = self.metrics.clone();
                    rt.spawn(async move {
                        if let Ok(st) = r.handle.stats().await {
                            add_counts(&metrics, &st, &mut r.reported);
                        }
                    });
                }
            }
            tracing::info!(room, "room closed");
            self.metrics.sfu.rooms.set(rooms.len() as i64);
        }
    }

    pub(crate) fn remove_participant(&self, room: &str, id: ClientId) {
        let mut rooms = self.lock();
        if let Some(r) = rooms.get_mut(room) {
            r.participants.retain(|p| p.id != id.get());
            r.reports.remove(&id.get());
            r.relays.remove(&id.get());
            r.announce();
        }
        self.close_if_empty(&mut rooms, room);
    }

    pub(crate) fn roster(&self, room: &str) -> String {
        self.lock()
            .get(room)
            .map(Room::roster_json)
            .unwrap_or_else(|| "[]".into())
    }

    pub(crate) fn handle(&self, room: &str) -> Option<RoomHandle> {
        self.lock().get(room).map(|r| r.handle.clone())
    }

    /// The secret of participant `client` of `room`, if there is one.
    pub(crate) fn secret(&self, room: &str, client: u64) -> Option<String> {
        self.lock()
            .get(room)?
            .participants
            .iter()
            .find(|p| p.id == client)
            .map(|p| p.secret.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_room_whose_task_died_is_started_again() {
        let limits = Limits {
            max_rooms: 4,
            max_participants: 4,
        };
        let mux = UdpMux::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let rooms = Rooms::new(
            IpAddr::from([127, 0, 0, 1]),
            None,
            0,
            Some(mux),
            EstimatorKind::Off,
            Workers::default(),
            limits,
        )
        .unwrap();
        // A room whose task is gone: its inbox was dropped, as a panic would drop it.
        let (dead, inbox) =
            sfu_kit::room_channel(SfuConfig::default(), "127.0.0.1:9".parse().unwrap());
        drop(inbox);
        rooms.lock().insert("r".into(), Room::new(dead, 0, None));
        let (handle, reservation) = rooms.get_or_start("r").await.unwrap();
        assert!(!handle.is_stopped());
        assert!(handle.stats().await.is_ok(), "a live room task answers");
        drop(reservation);
        assert!(rooms.lock().is_empty(), "the empty room closed again");
    }

    fn person(id: u64, name: &str, relay: bool) -> Participant {
        Participant {
            id,
            name: name.into(),
            screen: None,
            mic_muted: false,
            camera_off: false,
            secret: String::new(),
            may_publish: true,
            relay,
        }
    }

    #[tokio::test]
    async fn far_participants_show_under_ids_of_their_own() {
        let rooms = Rooms::new(
            IpAddr::from([127, 0, 0, 1]),
            None,
            0,
            None,
            EstimatorKind::Off,
            Workers::default(),
            Limits {
                max_rooms: 4,
                max_participants: 4,
            },
        )
        .unwrap();
        let (handle, _inbox) =
            sfu_kit::room_channel(SfuConfig::default(), "127.0.0.1:9".parse().unwrap());
        let mut room = Room::new(handle, 0, None);
        room.participants.push(person(1, "ann", false));
        room.participants.push(person(2, "node-b", true));
        rooms.lock().insert("r".into(), room);
        rooms.add_relay("r", 2);
        let mut far = person(1, "bob", false);
        far.screen = Some("5".into());
        let owners = [
            ("3".to_string(), "1".to_string()),
            ("4".into(), "1:screen".into()),
        ];
        let mut news = rooms.lock()["r"].roster.subscribe();
        rooms.set_far(
            "r",
            2,
            FarUpdate {
                participants: Some(vec![far]),
                owners: Some(owners.into_iter().collect()),
                speaker: None,
            },
        );
        assert!(matches!(news.try_recv(), Ok(News::Roster(_))));

        let roster: Vec<serde_json::Value> = serde_json::from_str(&rooms.roster("r")).unwrap();
        let ids: Vec<u64> = roster.iter().map(|p| p["id"].as_u64().unwrap()).collect();
        let bob = remote_id(2, 1);
        assert_eq!(
            ids,
            [1, bob],
            "ann, then bob through the relay; not the relay"
        );
        assert_eq!(roster[1]["via"], 2);
        assert_eq!(bob >> REMOTE_SHIFT, 2, "a far id names its relay");
        // The relay's m-lines are bob's tracks; local tracks stay the publisher's.
        assert_eq!(rooms.owner_of("r", 2, "3"), bob.to_string());
        assert_eq!(rooms.owner_of("r", 2, "4"), format!("{bob}:screen"));
        assert_eq!(rooms.owner_of("r", 1, "0"), "1");
        // The relay is the room's speaker: the pages see the far node's speaker, and hear
        // when it changes.
        assert_eq!(
            rooms.speaker_shown("r", 2),
            "2",
            "the far node named no speaker yet"
        );
        let speaking = FarUpdate {
            speaker: Some(1),
            ..FarUpdate::default()
        };
        rooms.set_far("r", 2, speaking);
        assert!(matches!(news.try_recv(), Ok(News::Speaker(id)) if id == bob.to_string()));
        assert_eq!(rooms.speaker_shown("r", 2), bob.to_string());
        assert_eq!(
            rooms.local_speaker("r"),
            None,
            "a relay is no local speaker"
        );
        assert_eq!(rooms.speaker_shown("r", 1), "1");
        assert_eq!(rooms.local_speaker("r"), Some(1));
        // Only the room's own people go to other nodes.
        let local = rooms.local_participants("r");
        assert_eq!(local.len(), 1);
        assert_eq!(local[0].name, "ann");
        // When the relay goes, so do its far participants.
        rooms.remove_relay("r", 2);
        assert!(!rooms.roster("r").contains("bob"));
    }
}
