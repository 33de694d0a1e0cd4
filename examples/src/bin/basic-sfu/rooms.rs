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
    pub(crate) metrics: SfuMetrics,
}

impl Rooms {
    pub(crate) fn new(
        bind: IpAddr,
        public_ip: Option<IpAddr>,
        udp_port: u16,
        estimator: EstimatorKind,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            inner: Arc::default(),
            bind,
            public_ip,
            next_udp_port: Arc::new(Mutex::new(udp_port)),
            estimator,
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
    ) -> anyhow::Result<(RoomHandle, broadcast::Sender<String>)> {
        if let Some(r) = self.lock().get_mut(name) {
            r.joining += 1;
            return Ok((r.handle.clone(), r.roster.clone()));
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
        let (handle, addr) = sfu_kit::serve(config).await?;
        tracing::info!(room = name, %addr, "room started");
        let mut rooms = self.lock();
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

    pub(crate) fn add_participant(&self, room: &str, id: ClientId, name: String) {
        let mut rooms = self.lock();
        if let Some(r) = rooms.get_mut(room) {
            r.joining = r.joining.saturating_sub(1);
            r.participants.push(Participant { id: id.get(), name });
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
}

pub(crate) fn roster_json(p: &[Participant]) -> String {
    serde_json::to_string(p).unwrap_or_else(|_| "[]".into())
}
