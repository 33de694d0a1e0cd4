//! Where a room's clients live: one shard per worker, each client in one shard for its
//! lifetime, and the work a shard does on its own when a batch of events fans out.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use sfu_client::{Client, ClientOutput, Propagated};
use sfu_ids::{ClientId, OutgoingDatagram};

use crate::workers::TransmitSink;

/// One client of the room and what the room tracks of it.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Boxed: a client is several KiB, and the table grows (and rehashes) by pointers.
    pub(crate) client: Box<Client>,
    /// The client's own next timeout, as last reported.
    pub(crate) timeout: Option<Instant>,
    /// Queued in the room's list of clients to drain.
    pub(crate) dirty: bool,
    /// Datagrams the client made during a batch fanout, moved to the room's queue after.
    pub(crate) sent: Vec<OutgoingDatagram>,
    /// The client's other outputs from a batch fanout, in order, ending with the timeout
    /// that closed the poll; the room's drive hands them on before polling again.
    pub(crate) held: VecDeque<ClientOutput>,
}

impl Entry {
    pub(crate) fn new(client: Client) -> Self {
        Self {
            client: Box::new(client),
            timeout: None,
            dirty: false,
            sent: Vec::new(),
            held: VecDeque::new(),
        }
    }

    /// Queues the client for draining after new input. A timeout held from a batch
    /// fanout is stale once the client has had input since.
    pub(crate) fn touch(&mut self, id: ClientId, dirty: &mut Vec<ClientId>) {
        self.drop_stale_timeout();
        if !self.dirty {
            self.dirty = true;
            dirty.push(id);
        }
    }

    /// Records `at` as the client's next timeout; `true` when it changed, so the room's
    /// timer heap needs an entry for it.
    pub(crate) fn set_timeout(&mut self, at: Instant) -> bool {
        let changed = self.timeout != Some(at);
        self.timeout = Some(at);
        changed
    }

    fn drop_stale_timeout(&mut self) {
        if matches!(self.held.back(), Some(ClientOutput::Timeout(_))) {
            self.held.pop_back();
        }
    }
}

/// An event waiting to fan out with the rest of its batch.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The client it came from, which does not receive it.
    pub(crate) origin: ClientId,
    pub(crate) event: Propagated,
    pub(crate) now: Instant,
}

/// One worker's clients.
pub(crate) type Shard = HashMap<ClientId, Entry>;

/// Gives every client of `shard` each event of `batch` but its own, in order, lets it
/// act on them at the batch's last time (str0m queues forwarded packets, and sends them
/// once time is given), then polls it until it waits, keeping what it made in its entry's
/// `sent` and `held`. This is the part of a fanout that runs on a worker: the forwarding
/// decisions, the rewriting and the encryption of every packet the client is sent.
pub(crate) fn fan_out_batch(shard: &mut Shard, batch: &[Pending]) {
    let Some(now) = batch.last().map(|p| p.now) else {
        return;
    };
    for (&id, entry) in shard.iter_mut() {
        let mut given = false;
        for p in batch.iter().filter(|p| p.origin != id) {
            entry.client.handle_propagated(&p.event, p.now);
            given = true;
        }
        if !given {
            continue;
        }
        entry.drop_stale_timeout();
        entry.client.handle_timeout(now);
        loop {
            match entry.client.poll_output() {
                ClientOutput::Transmit(t) => entry.sent.push(t),
                timeout @ ClientOutput::Timeout(_) => {
                    entry.held.push_back(timeout);
                    break;
                }
                other => entry.held.push_back(other),
            }
        }
    }
}

/// After [`fan_out_batch`] on a helper: gathers what every client of `shard` made into
/// `out` (so one system call carries many subscribers' datagrams) and sends it through
/// `sink`; returns how many went. What the sink left stays in `out` for the room.
pub(crate) fn transmit_shard(
    shard: &mut Shard,
    sink: &dyn TransmitSink,
    out: &mut Vec<OutgoingDatagram>,
) -> u64 {
    for entry in shard.values_mut() {
        out.append(&mut entry.sent);
    }
    let gathered = out.len();
    if gathered > 0 {
        sink.transmit(out);
    }
    (gathered - out.len()) as u64
}

/// The room's clients by id, in one shard per worker.
#[derive(Debug)]
pub(crate) struct Clients {
    shards: Vec<Shard>,
    /// The shard of each client; empty with one shard.
    home: HashMap<ClientId, usize>,
}

impl Default for Clients {
    fn default() -> Self {
        Self::with_shards(1)
    }
}

impl Clients {
    pub(crate) fn with_shards(n: usize) -> Self {
        Self {
            shards: (0..n.max(1)).map(|_| Shard::new()).collect(),
            home: HashMap::new(),
        }
    }

    pub(crate) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    pub(crate) fn shards_mut(&mut self) -> &mut [Shard] {
        &mut self.shards
    }

    fn shard_of(&self, id: &ClientId) -> Option<usize> {
        if self.shards.len() == 1 {
            Some(0)
        } else {
            self.home.get(id).copied()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(HashMap::len).sum()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.shards.iter().all(HashMap::is_empty)
    }

    pub(crate) fn contains_key(&self, id: &ClientId) -> bool {
        self.get(id).is_some()
    }

    pub(crate) fn get(&self, id: &ClientId) -> Option<&Entry> {
        self.shards[self.shard_of(id)?].get(id)
    }

    pub(crate) fn get_mut(&mut self, id: &ClientId) -> Option<&mut Entry> {
        let shard = self.shard_of(id)?;
        self.shards[shard].get_mut(id)
    }

    /// Adds a client to the shard with the fewest.
    pub(crate) fn insert(&mut self, id: ClientId, entry: Entry) {
        let shard = (0..self.shards.len())
            .min_by_key(|&s| self.shards[s].len())
            .unwrap_or(0);
        if self.shards.len() > 1 {
            self.home.insert(id, shard);
        }
        self.shards[shard].insert(id, entry);
    }

    pub(crate) fn remove(&mut self, id: &ClientId) -> Option<Entry> {
        let shard = self.shard_of(id)?;
        self.home.remove(id);
        self.shards[shard].remove(id)
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &ClientId> + Clone {
        self.shards.iter().flat_map(HashMap::keys)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Entry> + Clone {
        self.shards.iter().flat_map(HashMap::values)
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&ClientId, &mut Entry)> {
        self.shards.iter_mut().flat_map(HashMap::iter_mut)
    }
}
