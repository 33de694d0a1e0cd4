//! Threads that fan a room's media out to its subscribers in parallel.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, OnceLock};

use tracing::warn;

/// A pool of threads over which a room spreads the work of fanning one packet out: each
/// subscriber's forwarding decision, RTP rewrite and SRTP encryption run on one of them.
/// Clones share the threads, so the rooms made with clones of one `Workers` share one
/// pool. The threads start when a room first fans out in parallel.
///
/// One worker (the default) means no pool: the room fans out on the thread that drives it.
/// A room fans out in parallel only when it has at least [`Workers::PARALLEL_MIN`]
/// clients, below which handing the work to other threads costs more than it saves.
///
/// ```
/// use sfu_registry::{Registry, Workers};
///
/// let workers = Workers::new(2);
/// let big_room = Registry::with_workers(workers.clone());
/// let other_room = Registry::with_workers(workers); // the same two threads
/// # let _ = (big_room, other_room);
/// ```
#[derive(Clone, Default)]
pub struct Workers {
    shared: Option<Arc<Shared>>,
}

struct Shared {
    count: NonZeroUsize,
    /// `None` once building the pool failed: the rooms then fan out on their own thread.
    pool: OnceLock<Option<rayon::ThreadPool>>,
}

impl Workers {
    /// The fewest clients a room must have for its fanout to go parallel.
    pub const PARALLEL_MIN: usize = 16;

    /// `count` threads; 0 and 1 both mean none besides the room's own.
    pub fn new(count: usize) -> Self {
        let shared = NonZeroUsize::new(count)
            .filter(|c| c.get() > 1)
            .map(|count| {
                Arc::new(Shared {
                    count,
                    pool: OnceLock::new(),
                })
            });
        Self { shared }
    }

    /// The number of threads that fan out (1 when the room's own thread does).
    pub fn count(&self) -> usize {
        self.shared.as_ref().map_or(1, |s| s.count.get())
    }

    /// The pool, started on first use; `None` with one worker or if threads could not be
    /// started.
    pub(crate) fn pool(&self) -> Option<&rayon::ThreadPool> {
        let shared = self.shared.as_ref()?;
        shared
            .pool
            .get_or_init(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(shared.count.get())
                    .thread_name(|i| format!("sfu-fanout-{i}"))
                    .build()
                    .inspect_err(|e| {
                        warn!(error = %e, "fanout threads did not start; fanning out on the room's thread");
                    })
                    .ok()
            })
            .as_ref()
    }
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
    fn one_worker_is_no_pool_and_clones_share_theirs() {
        assert!(Workers::new(0).pool().is_none());
        assert!(Workers::new(1).pool().is_none());
        assert_eq!(Workers::default().count(), 1);
        let two = Workers::new(2);
        let clone = two.clone();
        let pool = two.pool().expect("two threads start");
        assert_eq!(pool.current_num_threads(), 2);
        assert!(std::ptr::eq(pool, clone.pool().expect("shared")));
    }
}
