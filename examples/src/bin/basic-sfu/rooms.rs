//! Rooms by name, each a room task of its own, plus the signaling state around them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use sfu_kit::{ClientId, EstimatorKind, RoomHandle, SfuConfig, SfuMetrics};
use tokio::sync::broadcast;

/// A participant as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Participant {
    pub(crate) id: u64,
    pub(crate) name: String,
    /// What every later call for this participant must carry.
    #[serde(skip)]
    pub(crate) secret: String,
}

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
    pub(crate) roster: broadcast::Sender<String>,
    pub(crate) reports: HashMap<u64, Report>,
    /// Joins between `get_or_start` and `add_participant` / `join_failed`: the room is
    /// kept while any is in flight.
    joining: usize,
}

/// All rooms of the process. The mutex guards signaling state only; media never takes it.
#[derive(Clone)]
pub(crate) struct Rooms {
    inner: Arc<Mutex<HashMap<String, Room>>>,
    bind: IpAddr,
    public_ip: Option<IpAddr>,
    next_udp_port: Arc<Mutex<u16>>,
    estimator: EstimatorKind,
    limits: Limits,
    pub(crate) metrics: SfuMetrics,
}

impl Rooms {
    pub(crate) fn new(
        bind: IpAddr,
        public_ip: Option<IpAddr>,
        udp_port: u16,
        estimator: EstimatorKind,
        limits: Limits,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            inner: Arc::default(),
            bind,
            public_ip,
            next_udp_port: Arc::new(Mutex::new(udp_port)),
            estimator,
            limits,
            metrics: SfuMetrics::new()?,
        })
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Room>> {
        // A panic while holding this lock would be a bug in this file; recover the data anyway.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The room called `name`, started on first use, for a join that must end in
    /// [`Rooms::add_participant`] or [`Rooms::join_failed`].
    pub(crate) async fn get_or_start(
        &self,
        name: &str,
    ) -> Result<(RoomHandle, broadcast::Sender<String>), RoomsError> {
        {
            let mut rooms = self.lock();
            if let Some(r) = rooms.get_mut(name) {
                if r.participants.len() + r.joining >= self.limits.max_participants {
                    return Err(RoomsError::RoomFull(self.limits.max_participants));
                }
                r.joining += 1;
                return Ok((r.handle.clone(), r.roster.clone()));
            }
            if rooms.len() >= self.limits.max_rooms {
                return Err(RoomsError::TooManyRooms(self.limits.max_rooms));
            }
        }
        let port = {
            let mut p = self.next_udp_port.lock().unwrap_or_else(|e| e.into_inner());
            let port = *p;
            if *p != 0 {
                *p = p.wrapping_add(1);
            }
            port
        };
        let config = SfuConfig::default()
            .with_bind_addr(self.bind)
            .with_public_ip(self.public_ip)
            .with_udp_port(port)
            .with_estimator(self.estimator);
        let (handle, addr) = sfu_kit::serve(config).await.map_err(anyhow::Error::from)?;
        tracing::info!(room = name, %addr, "room started");
        let mut rooms = self.lock();
        if !rooms.contains_key(name) && rooms.len() >= self.limits.max_rooms {
            // Other joins took the last places while this room started.
            return Err(RoomsError::TooManyRooms(self.limits.max_rooms));
        }
        // Another request may have started the room meanwhile; keep the first.
        let room = rooms.entry(name.to_string()).or_insert_with(|| Room {
            handle,
            participants: Vec::new(),
            roster: broadcast::channel(16).0,
            reports: HashMap::new(),
            joining: 0,
        });
        room.joining += 1;
        let out = (room.handle.clone(), room.roster.clone());
        self.metrics.rooms.set(rooms.len() as i64);
        Ok(out)
    }

    pub(crate) fn add_participant(&self, room: &str, id: ClientId, name: String, secret: String) {
        let mut rooms = self.lock();
        if let Some(r) = rooms.get_mut(room) {
            r.joining = r.joining.saturating_sub(1);
            r.participants.push(Participant {
                id: id.get(),
                name,
                secret,
            });
            let _ = r.roster.send(roster_json(&r.participants));
        }
    }

    /// A join that `get_or_start` began did not succeed.
    pub(crate) fn join_failed(&self, room: &str) {
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
            rooms.remove(room);
            tracing::info!(room, "room closed");
            self.metrics.rooms.set(rooms.len() as i64);
        }
    }

    pub(crate) fn remove_participant(&self, room: &str, id: ClientId) {
        let mut rooms = self.lock();
        if let Some(r) = rooms.get_mut(room) {
            r.participants.retain(|p| p.id != id.get());
            r.reports.remove(&id.get());
            let _ = r.roster.send(roster_json(&r.participants));
        }
        self.close_if_empty(&mut rooms, room);
    }

    pub(crate) fn roster(&self, room: &str) -> String {
        self.lock()
            .get(room)
            .map(|r| roster_json(&r.participants))
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

pub(crate) fn roster_json(p: &[Participant]) -> String {
    serde_json::to_string(p).unwrap_or_else(|_| "[]".into())
}
