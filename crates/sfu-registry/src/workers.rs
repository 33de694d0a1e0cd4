//! Threads that share a large room's fanout with the thread that drives it.

use std::fmt;
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::thread;

use sfu_ids::OutgoingDatagram;
use tracing::warn;

/// Where a room's helper threads send the datagrams their shard made in a shared batch,
/// so that a large room's sending is spread over its workers like its fanout; the runtime
/// implements it over the room's socket ([`Registry::set_transmit_sink`]).
///
/// It is called on helper threads, concurrently, and must not wait: what it cannot send
/// at once (a full socket buffer, a datagram for another socket) it leaves in place, and
/// the room hands that out through [`Registry::poll_transmit`] as usual.
///
/// [`Registry::set_transmit_sink`]: crate::Registry::set_transmit_sink
/// [`Registry::poll_transmit`]: crate::Registry::poll_transmit
pub trait TransmitSink: Send + Sync + fmt::Debug {
    /// Sends what it can of `datagrams` now and removes those it sent, leaving the rest
    /// in their order.
    fn transmit(&self, datagrams: &mut Vec<OutgoingDatagram>);
}

/// A job for a helper thread.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// How many times a helper looks for its next job before it sleeps, and the room's thread
/// for a helper's result: about 100 µs on a 2-vCPU VM, counted rather than timed so the
/// room reads no clock. Waking a sleeping thread costs ~100 µs there; under load the next
/// batch comes sooner than that, and a helper finishes its shard about when the room's
/// thread finishes its own.
const SPIN_ROUNDS: u32 = 4_000;

/// Takes the next message of `rx`, spinning for [`SPIN_ROUNDS`] before it sleeps; `None`
/// once every sender is gone.
pub(crate) fn recv_spinning<T>(rx: &mpsc::Receiver<T>) -> Option<T> {
    for _ in 0..SPIN_ROUNDS {
        match rx.try_recv() {
            Ok(message) => return Some(message),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) => std::hint::spin_loop(),
        }
    }
    rx.recv().ok()
}

/// Threads that share a large room's fanout: `count` workers are the thread that drives
/// the room and `count - 1` helper threads. A room with workers keeps its clients in one
/// shard per worker, each client in one shard for its lifetime, and fans a batch of
/// media out shard by shard at once, so a helper always serves the same clients and
/// their state stays in one core's cache.
///
/// Clones share the helper threads, so rooms made with clones of one `Workers` share
/// them; the threads start when a room first hands them work, and end when the last
/// clone is dropped. One worker (the default) is the room's own thread alone.
///
/// ```
/// use sfu_registry::{Registry, Workers};
///
/// let workers = Workers::new(2);
/// let big_room = Registry::with_workers(workers.clone());
/// let other_room = Registry::with_workers(workers); // the same helper thread
/// assert_eq!(big_room.workers().count(), 2);
/// # let _ = other_room;
/// ```
#[derive(Clone, Default)]
pub struct Workers {
    shared: Option<Arc<Shared>>,
}

struct Shared {
    count: usize,
    min_batch_work: usize,
    /// One job queue per helper thread; empty once starting them failed, and the room
    /// then does every shard's work itself.
    helpers: OnceLock<Vec<mpsc::Sender<Job>>>,
}

impl Workers {
    /// The default of [`Workers::with_min_batch_work`]: about where sharing a batch starts
    /// to pay on a 2-vCPU VM, where waking a helper and waiting for it costs ~100 µs and
    /// a client takes a forwarded packet in ~1-3 µs (the `fanout` bench).
    pub const DEFAULT_MIN_BATCH_WORK: usize = 400;

    /// `count` workers, the room's own thread included; 0 and 1 both mean that one only.
    pub fn new(count: usize) -> Self {
        let shared = (count > 1).then(|| {
            Arc::new(Shared {
                count,
                min_batch_work: Self::DEFAULT_MIN_BATCH_WORK,
                helpers: OnceLock::new(),
            })
        });
        Self { shared }
    }

    /// Sets the least work for which a batch is shared with the helpers, counted as
    /// clients × (events + 2): each client's timer and poll cost about two packets'
    /// worth. Smaller batches are fanned out on the room's thread alone (still shard by
    /// shard). 0 shares every batch. The result has helper threads of its own: set this
    /// before cloning.
    pub fn with_min_batch_work(self, work: usize) -> Self {
        let shared = self.shared.map(|s| {
            Arc::new(Shared {
                count: s.count,
                min_batch_work: work,
                helpers: OnceLock::new(),
            })
        });
        Self { shared }
    }

    /// See [`Workers::with_min_batch_work`].
    pub fn min_batch_work(&self) -> usize {
        self.shared
            .as_ref()
            .map_or(usize::MAX, |s| s.min_batch_work)
    }

    /// The number of workers (1 when the room's own thread does all the work).
    pub fn count(&self) -> usize {
        self.shared.as_ref().map_or(1, |s| s.count)
    }

    /// The job queue of helper `index` (`0..count - 1`), its thread started on first use;
    /// `None` with one worker, or when the threads could not be started.
    pub(crate) fn helper(&self, index: usize) -> Option<&mpsc::Sender<Job>> {
        let shared = self.shared.as_ref()?;
        shared
            .helpers
            .get_or_init(|| start_helpers(shared.count - 1))
            .get(index)
    }
}

/// Starts `n` helper threads, each running the jobs of its queue until every sender is
/// gone; none when any fails to start.
fn start_helpers(n: usize) -> Vec<mpsc::Sender<Job>> {
    let mut queues = Vec::with_capacity(n);
    for i in 0..n {
        let (tx, rx) = mpsc::channel::<Job>();
        let started = thread::Builder::new()
            .name(format!("sfu-fanout-{i}"))
            .spawn(move || {
                while let Some(job) = recv_spinning(&rx) {
                    job();
                }
            });
        if let Err(e) = started {
            warn!(error = %e, "fanout threads did not start; rooms fan out on their own thread");
            return Vec::new();
        }
        queues.push(tx);
    }
    queues
}

impl fmt::Debug for Workers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workers")
            .field("count", &self.count())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_worker_has_no_helpers_and_clones_share_theirs() {
        assert!(Workers::new(0).helper(0).is_none());
        assert!(Workers::new(1).helper(0).is_none());
        assert_eq!(Workers::default().count(), 1);
        let two = Workers::new(2);
        let clone = two.clone();
        assert!(two.helper(1).is_none(), "two workers are one helper");
        let helper = two.helper(0).expect("the helper starts");
        assert!(std::ptr::eq(helper, clone.helper(0).expect("shared")));
        let (tx, rx) = mpsc::channel();
        helper
            .send(Box::new(move || tx.send(7).expect("the test waits")))
            .expect("the helper runs");
        assert_eq!(rx.recv(), Ok(7));
    }
}
