//! [`CompetitionDetector`]: notices a loss-based flow (TCP) sharing the bottleneck.
//!
//! A delay-based controller yields as soon as the queue grows. A loss-based flow does not:
//! it fills the queue until packets drop, so a delay-based flow beside it backs off again
//! and again while the queue stays full, and ends near its minimum rate. The detector
//! recognises that situation from two facts the owner reports:
//!
//! - one-way delays of received packets: the **queue** is the smallest delay of the last
//!   second or so minus the smallest of the last 120 s (the path's base delay as far as
//!   seen);
//! - **loss events**: packets dropped although the owner backs off on delay.
//!
//! It enters *competing* when the queue has stayed above `enter_queue` for `enter_hold`
//! and a loss event happened within that time (the queue overflowed although this flow
//! yields), or when it has stayed above `long_queue` for `long_hold` (a deep buffer that
//! overflows rarely). While competing, the owner should ignore delay and answer loss instead, like
//! the competing flow does. Every `check_every`, the detector reports not competing for
//! `check_for`, so the owner yields on delay again: if the queue then falls below
//! `exit_queue`, nobody else kept it full, and competing ends. Otherwise the queue was
//! someone else's and competing resumes.

use std::time::Duration;

use sfu_bwe::{BandwidthUsage, Timestamp};

/// Thresholds of a [`CompetitionDetector`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompetitionParams {
    /// A queue at least this long, for `enter_hold`, with loss, means competition.
    pub enter_queue: Duration,
    /// How long the queue must stay above `enter_queue`.
    pub enter_hold: Duration,
    /// A queue at least this long for `long_hold` means competition even without loss: a
    /// loss-based flow in a deep buffer loses packets only once a minute or so, and a
    /// delay-based flow never keeps such a queue that long.
    pub long_queue: Duration,
    /// How long the queue must stay above `long_queue`.
    pub long_hold: Duration,
    /// A queue below this during a check ends competing.
    pub exit_queue: Duration,
    /// Time between checks while competing.
    pub check_every: Duration,
    /// How long a check yields on delay.
    pub check_for: Duration,
}

impl Default for CompetitionParams {
    fn default() -> Self {
        Self {
            enter_queue: Duration::from_millis(60),
            enter_hold: Duration::from_secs(2),
            long_queue: Duration::from_millis(150),
            long_hold: Duration::from_secs(10),
            exit_queue: Duration::from_millis(25),
            check_every: Duration::from_secs(10),
            check_for: Duration::from_millis(1500),
        }
    }
}

/// Buckets of one-way delay history kept for the base delay, and their width: 120 s, long
/// enough to span the sawtooth of a TCP flow in a one-second queue.
const BASE_BUCKETS: usize = 30;
const BASE_BUCKET_S: u64 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Yielding,
    Competing { since: Timestamp },
    Checking { until: Timestamp, drained: bool },
}

/// Detects a competing loss-based flow (see the module documentation).
#[derive(Debug, Clone)]
pub struct CompetitionDetector {
    params: CompetitionParams,
    /// Smallest one-way delay (µs, arbitrary offset) per bucket, ring indexed by bucket.
    minima: [i64; BASE_BUCKETS],
    /// The bucket number each slot holds.
    slot_bucket: [u64; BASE_BUCKETS],
    /// The second of the newest sample, and the smallest delays of that second and the
    /// one before.
    second: u64,
    second_min: i64,
    previous_min: i64,
    /// The smallest delay over the buckets still in the window, recomputed when a new
    /// bucket starts (every 4 s) and lowered by each sample in between.
    base: i64,
    newest_bucket: u64,
    above_since: Option<Timestamp>,
    long_since: Option<Timestamp>,
    last_loss: Option<Timestamp>,
    last_loss_cut: Option<Timestamp>,
    mode: Mode,
}

impl CompetitionDetector {
    /// A detector that has seen nothing.
    #[must_use]
    pub fn new(params: CompetitionParams) -> Self {
        Self {
            params,
            minima: [i64::MAX; BASE_BUCKETS],
            slot_bucket: [u64::MAX; BASE_BUCKETS],
            second: 0,
            second_min: i64::MAX,
            previous_min: i64::MAX,
            base: i64::MAX,
            newest_bucket: 0,
            above_since: None,
            long_since: None,
            last_loss: None,
            last_loss_cut: None,
            mode: Mode::Yielding,
        }
    }

    /// Whether the owner should compete (ignore delay, answer loss) now.
    #[must_use]
    pub fn competing(&self) -> bool {
        matches!(self.mode, Mode::Competing { .. })
    }

    /// A packet sent at `send` (sender clock) arrived at `arrival` (receiver clock). O(1).
    pub fn on_delay(&mut self, send: Timestamp, arrival: Timestamp) {
        let delay = arrival.as_micros() as i64 - send.as_micros() as i64;
        let second = send.as_micros() / 1_000_000;
        let bucket = second / BASE_BUCKET_S;
        let slot = (bucket % BASE_BUCKETS as u64) as usize;
        if self.slot_bucket[slot] != bucket {
            self.slot_bucket[slot] = bucket;
            self.minima[slot] = i64::MAX;
        }
        self.minima[slot] = self.minima[slot].min(delay);
        if bucket > self.newest_bucket || self.base == i64::MAX {
            self.newest_bucket = self.newest_bucket.max(bucket);
            let newest = self.newest_bucket;
            self.base = (0..BASE_BUCKETS)
                .filter(|&i| {
                    self.slot_bucket[i] != u64::MAX
                        && newest.saturating_sub(self.slot_bucket[i]) < BASE_BUCKETS as u64
                })
                .map(|i| self.minima[i])
                .min()
                .unwrap_or(i64::MAX);
        } else {
            self.base = self.base.min(delay);
        }
        if second > self.second {
            self.previous_min = if second == self.second + 1 {
                self.second_min
            } else {
                i64::MAX
            };
            self.second = second;
            self.second_min = i64::MAX;
        }
        if second == self.second {
            self.second_min = self.second_min.min(delay);
        }
    }

    /// The verdict the owner should act on: the delay detector's `delay` while yielding;
    /// while competing, over-use only when this feedback reported a loss, at most once per
    /// `rtt` + 100 ms, since queueing delay is the other flow's doing and only a queue
    /// overflow says this flow sends too much.
    pub fn verdict(
        &mut self,
        delay: BandwidthUsage,
        lost: bool,
        rtt: Duration,
        now: Timestamp,
    ) -> BandwidthUsage {
        if !self.competing() {
            return delay;
        }
        let due = self
            .last_loss_cut
            .is_none_or(|t| now.saturating_duration_since(t) >= rtt + Duration::from_millis(100));
        if lost && due {
            self.last_loss_cut = Some(now);
            BandwidthUsage::Overusing
        } else {
            BandwidthUsage::Normal
        }
    }

    /// Packets were reported lost at `now`.
    pub fn on_loss(&mut self, now: Timestamp) {
        self.last_loss = Some(now);
    }

    /// The standing queue: the smallest delay of the last second or so (the current and
    /// the previous second, since the current one may hold few packets) over the smallest
    /// of the last 120 s. O(1).
    #[must_use]
    pub fn queue(&self) -> Option<Duration> {
        let recent = self.second_min.min(self.previous_min);
        if recent == i64::MAX || self.base == i64::MAX {
            return None;
        }
        let base = self.base;
        Some(Duration::from_micros(
            u64::try_from(recent - base).unwrap_or(0),
        ))
    }

    /// Advances the state machine at `now`; call once per feedback message.
    pub fn update(&mut self, now: Timestamp) {
        let queue = self.queue().unwrap_or(Duration::ZERO);
        let p = self.params;
        if queue >= p.enter_queue {
            self.above_since.get_or_insert(now);
        } else {
            self.above_since = None;
        }
        if queue >= p.long_queue {
            self.long_since.get_or_insert(now);
        } else {
            self.long_since = None;
        }
        self.mode = match self.mode {
            Mode::Yielding => {
                let held = self
                    .above_since
                    .is_some_and(|t| now.saturating_duration_since(t) >= p.enter_hold);
                let lossy = self
                    .last_loss
                    .is_some_and(|t| now.saturating_duration_since(t) <= p.enter_hold);
                let long = self
                    .long_since
                    .is_some_and(|t| now.saturating_duration_since(t) >= p.long_hold);
                if (held && lossy) || long {
                    Mode::Competing { since: now }
                } else {
                    Mode::Yielding
                }
            }
            Mode::Competing { since } if now.saturating_duration_since(since) >= p.check_every => {
                Mode::Checking {
                    until: now.saturating_add(p.check_for),
                    drained: false,
                }
            }
            Mode::Competing { since } => Mode::Competing { since },
            Mode::Checking { until, drained } => {
                let drained = drained || queue < p.exit_queue;
                if now < until {
                    Mode::Checking { until, drained }
                } else if drained {
                    self.above_since = None;
                    self.long_since = None;
                    Mode::Yielding
                } else {
                    Mode::Competing { since: now }
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `seconds` of packets every 10 ms with a queue of `queue_ms`, a loss every
    /// second if `lossy`, updating every 50 ms. Returns whether it was competing at the end.
    fn feed(
        d: &mut CompetitionDetector,
        from_s: u64,
        seconds: u64,
        queue_ms: u64,
        lossy: bool,
    ) -> bool {
        for i in 0..seconds * 100 {
            let t = Timestamp::from_millis(from_s * 1000 + i * 10);
            d.on_delay(t, t.saturating_add(Duration::from_millis(50 + queue_ms)));
            if lossy && i % 100 == 0 {
                d.on_loss(t);
            }
            if i % 5 == 0 {
                d.update(t);
            }
        }
        d.competing()
    }

    #[test]
    fn a_queue_that_stays_full_with_loss_means_competition() {
        let mut d = CompetitionDetector::new(CompetitionParams::default());
        assert!(!feed(&mut d, 0, 5, 0, false));
        assert!(!feed(&mut d, 5, 5, 200, false), "no loss: our own queue");
        assert!(feed(&mut d, 10, 3, 200, true));
    }

    #[test]
    fn a_check_that_drains_the_queue_ends_competing() {
        let mut d = CompetitionDetector::new(CompetitionParams::default());
        feed(&mut d, 0, 5, 0, false);
        assert!(feed(&mut d, 5, 4, 200, true));
        // Still full at the check: competing resumes.
        assert!(feed(&mut d, 9, 12, 200, true));
        // The queue drains once the competitor has gone: at the next check, competing ends.
        assert!(!feed(&mut d, 21, 12, 0, false));
    }

    #[test]
    fn while_competing_only_loss_is_over_use_once_per_round_trip() {
        let mut d = CompetitionDetector::new(CompetitionParams::default());
        let rtt = Duration::from_millis(100);
        let t = |ms| Timestamp::from_millis(ms);
        assert_eq!(
            d.verdict(BandwidthUsage::Overusing, false, rtt, t(0)),
            BandwidthUsage::Overusing,
            "yielding: the delay verdict stands"
        );
        feed(&mut d, 0, 5, 0, false);
        assert!(feed(&mut d, 5, 4, 200, true));
        let now = 9_000;
        assert_eq!(
            d.verdict(BandwidthUsage::Overusing, false, rtt, t(now)),
            BandwidthUsage::Normal
        );
        assert_eq!(
            d.verdict(BandwidthUsage::Normal, true, rtt, t(now)),
            BandwidthUsage::Overusing
        );
        assert_eq!(
            d.verdict(BandwidthUsage::Normal, true, rtt, t(now + 100)),
            BandwidthUsage::Normal,
            "within RTT + 100 ms of the last cut"
        );
        assert_eq!(
            d.verdict(BandwidthUsage::Normal, true, rtt, t(now + 200)),
            BandwidthUsage::Overusing
        );
    }
}
