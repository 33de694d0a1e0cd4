//! [`CompetitionDetector`]: notices a loss-based flow (TCP) sharing the bottleneck.
//!
//! A delay-based controller yields as soon as the queue grows. A loss-based flow does not:
//! it fills the queue until packets drop, so a delay-based flow beside it backs off again
//! and again while the queue stays full, and ends near its minimum rate. The detector
//! recognises that situation from two facts the owner reports:
//!
//! - the standing **queue** ([`QueueDelay::standing`](crate::QueueDelay::standing)): the
//!   smallest delay of the last second or so over the path's base delay;
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

    /// Advances the state machine at `now` with the standing `queue`
    /// ([`QueueDelay::standing`](crate::QueueDelay::standing)); call once per feedback
    /// message.
    pub fn update(&mut self, queue: Option<Duration>, now: Timestamp) {
        let queue = queue.unwrap_or(Duration::ZERO);
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
    use crate::QueueDelay;

    /// Feeds `seconds` of packets every 10 ms with a queue of `queue_ms`, a loss every
    /// second if `lossy`, updating every 50 ms. Returns whether it was competing at the end.
    fn feed(
        d: &mut (CompetitionDetector, QueueDelay),
        from_s: u64,
        seconds: u64,
        queue_ms: u64,
        lossy: bool,
    ) -> bool {
        let (d, q) = d;
        for i in 0..seconds * 100 {
            let t = Timestamp::from_millis(from_s * 1000 + i * 10);
            q.on_delay(t, t.saturating_add(Duration::from_millis(50 + queue_ms)));
            if lossy && i % 100 == 0 {
                d.on_loss(t);
            }
            if i % 5 == 0 {
                d.update(q.standing(), t);
            }
        }
        d.competing()
    }

    fn detector() -> (CompetitionDetector, QueueDelay) {
        (
            CompetitionDetector::new(CompetitionParams::default()),
            QueueDelay::new(),
        )
    }

    #[test]
    fn a_queue_that_stays_full_with_loss_means_competition() {
        let mut d = detector();
        assert!(!feed(&mut d, 0, 5, 0, false));
        assert!(!feed(&mut d, 5, 5, 200, false), "no loss: our own queue");
        assert!(feed(&mut d, 10, 3, 200, true));
    }

    #[test]
    fn a_check_that_drains_the_queue_ends_competing() {
        let mut d = detector();
        feed(&mut d, 0, 5, 0, false);
        assert!(feed(&mut d, 5, 4, 200, true));
        // Still full at the check: competing resumes.
        assert!(feed(&mut d, 9, 12, 200, true));
        // The queue drains once the competitor has gone: at the next check, competing ends.
        assert!(!feed(&mut d, 21, 12, 0, false));
    }

    #[test]
    fn while_competing_only_loss_is_over_use_once_per_round_trip() {
        let mut d = detector();
        let rtt = Duration::from_millis(100);
        let t = |ms| Timestamp::from_millis(ms);
        assert_eq!(
            d.0.verdict(BandwidthUsage::Overusing, false, rtt, t(0)),
            BandwidthUsage::Overusing,
            "yielding: the delay verdict stands"
        );
        feed(&mut d, 0, 5, 0, false);
        assert!(feed(&mut d, 5, 4, 200, true));
        let now = 9_000;
        assert_eq!(
            d.0.verdict(BandwidthUsage::Overusing, false, rtt, t(now)),
            BandwidthUsage::Normal
        );
        assert_eq!(
            d.0.verdict(BandwidthUsage::Normal, true, rtt, t(now)),
            BandwidthUsage::Overusing
        );
        assert_eq!(
            d.0.verdict(BandwidthUsage::Normal, true, rtt, t(now + 100)),
            BandwidthUsage::Normal,
            "within RTT + 100 ms of the last cut"
        );
        assert_eq!(
            d.0.verdict(BandwidthUsage::Normal, true, rtt, t(now + 200)),
            BandwidthUsage::Overusing
        );
    }
}
