//! How long the test machine itself stopped running things.
//!
//! A browser test on a 2-core machine shares it with the browsers' encoders and decoders,
//! and a virtual machine can lose its cores to the host for a while. Either shows up in
//! `getStats()` as a freeze although the SFU forwarded every packet in time. A thread that
//! asks to sleep [`TICK`] and measures how late it wakes sees the same stall, so a test can
//! tell a freeze the machine caused from one the SFU caused: it reports the longest stall
//! of a window beside the freezes of that window.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the probe sleeps between wakes.
const TICK: Duration = Duration::from_millis(5);
/// Lateness below this is ordinary scheduling and is not recorded.
const RECORD_FROM: Duration = Duration::from_millis(30);
/// Stalls kept at most (the oldest go first); a test's windows are far shorter.
const KEEP: usize = 4096;
/// A stall at least this long is counted as long ([`StallReport::long`]).
pub(crate) const LONG: Duration = Duration::from_millis(100);

/// A background thread that records each time it woke [`RECORD_FROM`] or more late.
pub(crate) struct StallProbe {
    stop: Arc<AtomicBool>,
    stalls: Arc<Mutex<VecDeque<Stall>>>,
    thread: Option<JoinHandle<()>>,
}

/// One late wake: when the probe woke and how late.
#[derive(Clone, Copy)]
struct Stall {
    woke: Instant,
    late: Duration,
}

/// The stalls of one window and the CPU time the host took from this machine in it.
pub(crate) struct StallReport {
    /// The longest stall.
    pub(crate) longest: Duration,
    /// Stalls of [`LONG`] or more.
    pub(crate) long: usize,
    /// CPU time the hypervisor gave to others while this machine wanted it (`steal` in
    /// `/proc/stat`), summed over all cores.
    pub(crate) stolen: Duration,
    /// The share of the window in which some runnable task waited for a core (the kernel's
    /// pressure stall information, `/proc/pressure/cpu`), if the kernel reports it.
    pub(crate) pressure: Option<f64>,
}

impl std::fmt::Display for StallReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the machine stalled at most {} ms ({} stalls of {} ms or more), {} ms of CPU stolen by the host",
            self.longest.as_millis(),
            self.long,
            LONG.as_millis(),
            self.stolen.as_millis()
        )?;
        match self.pressure {
            Some(p) => write!(
                f,
                ", a task waited for a core {:.0} % of the time",
                p * 100.0
            ),
            None => Ok(()),
        }
    }
}

impl StallProbe {
    pub(crate) fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stalls = Arc::new(Mutex::new(VecDeque::new()));
        let thread = {
            let (stop, stalls) = (stop.clone(), stalls.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let asleep = Instant::now();
                    std::thread::sleep(TICK);
                    let late = asleep.elapsed().saturating_sub(TICK);
                    if late >= RECORD_FROM {
                        let mut stalls = stalls.lock().unwrap_or_else(|e| e.into_inner());
                        if stalls.len() == KEEP {
                            stalls.pop_front();
                        }
                        stalls.push_back(Stall {
                            woke: Instant::now(),
                            late,
                        });
                    }
                }
            })
        };
        Self {
            stop,
            stalls,
            thread: Some(thread),
        }
    }

    /// A mark to measure a window from: `back` before now, and the machine's counters now.
    pub(crate) fn mark(&self, back: Duration) -> Mark {
        let now = Instant::now();
        Mark {
            from: now.checked_sub(back).unwrap_or(now),
            counted: now,
            stolen: stolen(),
            waited: waited(),
        }
    }

    /// The stalls that ended after `from`'s moment and until now, and how the machine's
    /// counters moved since `from` was taken.
    pub(crate) fn since(&self, from: Mark) -> StallReport {
        let stalls = self.stalls.lock().unwrap_or_else(|e| e.into_inner());
        let window = stalls.iter().filter(|s| s.woke >= from.from);
        let (longest, long) = window.fold((Duration::ZERO, 0), |(longest, long), s| {
            (longest.max(s.late), long + usize::from(s.late >= LONG))
        });
        StallReport {
            longest,
            long,
            stolen: stolen().saturating_sub(from.stolen),
            pressure: waited().zip(from.waited).map(|(now, then)| {
                now.saturating_sub(then).as_secs_f64() / from.counted.elapsed().as_secs_f64()
            }),
        }
    }
}

impl Drop for StallProbe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Where a window starts, for [`StallProbe::since`].
#[derive(Clone, Copy)]
pub(crate) struct Mark {
    /// Stalls that ended at or after this count.
    from: Instant,
    /// When the counters below were read.
    counted: Instant,
    stolen: Duration,
    waited: Option<Duration>,
}

/// How long, since boot, some runnable task waited for a core, if the kernel says.
fn waited() -> Option<Duration> {
    waited_in(&std::fs::read_to_string("/proc/pressure/cpu").ok()?)
}

/// The `some` line's `total` (in microseconds) of a `/proc/pressure/cpu` text.
fn waited_in(psi: &str) -> Option<Duration> {
    let some = psi.lines().find(|l| l.starts_with("some "))?;
    let total = some
        .split_whitespace()
        .find_map(|f| f.strip_prefix("total="))?;
    total.parse().ok().map(Duration::from_micros)
}

/// CPU time stolen from this machine since boot, summed over its cores (zero where
/// `/proc/stat` does not say).
fn stolen() -> Duration {
    std::fs::read_to_string("/proc/stat").map_or(Duration::ZERO, |stat| stolen_in(&stat))
}

/// The `steal` field of a `/proc/stat` text's first line: "cpu  user nice system idle
/// iowait irq softirq steal ...", in clock ticks of 10 ms (USER_HZ is 100 on every Linux
/// architecture this runs on).
fn stolen_in(stat: &str) -> Duration {
    let ticks = stat
        .lines()
        .next()
        .filter(|line| line.starts_with("cpu "))
        .and_then(|line| line.split_whitespace().nth(8))
        .and_then(|steal| steal.parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_millis(ticks.saturating_mul(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_waiting_time_of_the_some_line() {
        let psi = "some avg10=1.00 avg60=0.50 avg300=0.10 total=2781252189\n\
                   full avg10=0.00 avg60=0.00 avg300=0.00 total=7\n";
        assert_eq!(waited_in(psi), Some(Duration::from_micros(2_781_252_189)));
        assert_eq!(waited_in("full avg10=0.00 total=7\n"), None);
    }

    #[test]
    fn reads_the_steal_field_of_the_summary_line() {
        let stat = "cpu  2431616 3703 207851 8548389 23971 0 8972 14770 0 0\n\
                    cpu0 1 2 3 4 5 6 7 8 0 0\n";
        assert_eq!(stolen_in(stat), Duration::from_millis(147_700));
        assert_eq!(stolen_in("cpu0 1 2 3 4 5 6 7 8\n"), Duration::ZERO);
        assert_eq!(stolen_in(""), Duration::ZERO);
    }

    #[test]
    fn a_window_counts_only_the_stalls_after_its_mark() {
        let probe = StallProbe::start();
        let from = probe.mark(Duration::ZERO);
        let before = Stall {
            woke: from
                .from
                .checked_sub(Duration::from_secs(1))
                .unwrap_or(from.from),
            late: Duration::from_secs(5),
        };
        probe.stalls.lock().unwrap().push_back(before);
        assert!(probe.since(from).longest < Duration::from_secs(5));
        let inside = Stall {
            woke: Instant::now(),
            late: Duration::from_millis(250),
        };
        probe.stalls.lock().unwrap().push_back(inside);
        let report = probe.since(from);
        assert!(report.longest >= Duration::from_millis(250));
        assert!(report.long >= 1);
    }
}
