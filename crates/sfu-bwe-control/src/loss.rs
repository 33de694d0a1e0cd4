//! [`LossController`]: a loss-based cap that acts on statistical evidence.
//!
//! GCC's loss rules (draft-ietf-rmcat-gcc-02 §6) compare a window's loss fraction with
//! 2 % and 10 %. On a window of 20 packets, 5 % random loss alone reads above 10 % about
//! one window in twelve, so a rule on the raw fraction keeps cutting a path that is not
//! congested. Here every decision uses a Wilson score interval on the counts, so its
//! confidence grows with the number of packets:
//!
//! - **decrease** when the latest window's loss exceeds `high` with 99.9 % confidence
//!   (on 20 packets that takes 7 losses; 5 % random loss gets there once in 30 000
//!   windows): the cap becomes `target × (1 − p/2)` with the window's fraction p, at most
//!   once per 300 ms + RTT;
//! - **relax** (× `relax_per_second` per second, and by at least 96 kbit/s per second)
//!   while the recent history (windows folded with a decay of 0.8, about five windows)
//!   gives no such evidence: loss is moderate, as random loss is, so it no longer
//!   justifies the cap;
//! - **lift** the cap when the history shows loss below `low` with 99 % confidence: the
//!   loss episode is over and the delay-based controller decides alone.
//!
//! So one unlucky window costs at most a cut that relaxes within a few seconds, not a cap
//! that waits for three windows which happen to be clean in a row.

use std::time::Duration;

use sfu_bwe::{Bitrate, Timestamp};

use crate::ADDITIVE_INCREASE_PER_SECOND;

/// Fewest reports a window needs before it decides anything.
const MIN_PACKETS: u32 = 20;
/// The z-score a cut needs: the window's loss exceeds `high` with 99.9 % confidence.
const Z_CUT: f64 = 3.09;
/// The z-score of the history's interval: 99 %.
const Z: f64 = 2.576;
/// Weight of the history each time a window is folded in.
const HISTORY_DECAY: f64 = 0.8;
const DECREASE_INTERVAL: Duration = Duration::from_millis(300);
const RELAX_INTERVAL: Duration = Duration::from_secs(1);
/// The least the cap relaxes per second: the delay-based controllers' additive increase.
/// Lifting the cap needs the history to show loss below `low` with confidence: over 300
/// packets, more than about five 1 s windows hold below roughly 600 kbit/s. A flow that a
/// burst of queue-overflow loss cut to the floor would then climb back only by the
/// multiplicative relax (8 %/s: 15 s from 150 to 500 kbit/s) while the flows that lost
/// less keep its share.
const RELAX_AT_LEAST_PER_SECOND: Bitrate = ADDITIVE_INCREASE_PER_SECOND;

/// Thresholds and cadence of a [`LossController`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossParams {
    /// Below this loss fraction (with confidence) the cap is lifted (GCC: 0.02).
    pub low: f64,
    /// Above this loss fraction (with confidence) the rate is cut (GCC: 0.10).
    pub high: f64,
    /// Shortest window a decision is made on.
    pub window: Duration,
    /// Growth of the cap per second while loss is moderate (libwebrtc: 1.08).
    pub relax_per_second: f64,
}

impl Default for LossParams {
    fn default() -> Self {
        Self {
            low: 0.02,
            high: 0.10,
            window: Duration::from_secs(1),
            relax_per_second: 1.08,
        }
    }
}

/// The Wilson score interval of `lost` out of `n` at `z` standard deviations.
#[must_use]
pub fn wilson_interval(lost: f64, n: f64, z: f64) -> (f64, f64) {
    if n <= 0.0 {
        return (0.0, 1.0);
    }
    let p = (lost / n).clamp(0.0, 1.0);
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// A loss-based rate cap (see the module documentation).
#[derive(Debug, Clone)]
pub struct LossController {
    params: LossParams,
    limit: Bitrate,
    window_start: Option<Timestamp>,
    expected: u32,
    lost: u32,
    history_expected: f64,
    history_lost: f64,
    last_fraction: f64,
    last_decrease: Option<Timestamp>,
    last_relax: Option<Timestamp>,
}

impl LossController {
    /// A controller with `params`; the cap starts unbounded.
    #[must_use]
    pub fn new(params: LossParams) -> Self {
        Self {
            params,
            limit: Bitrate::MAX,
            window_start: None,
            expected: 0,
            lost: 0,
            history_expected: 0.0,
            history_lost: 0.0,
            last_fraction: 0.0,
            last_decrease: None,
            last_relax: None,
        }
    }

    /// The current cap (`Bitrate::MAX` while loss does not limit the rate).
    #[must_use]
    pub fn limit(&self) -> Bitrate {
        self.limit
    }

    /// Loss fraction of the last closed window.
    #[must_use]
    pub fn last_fraction(&self) -> f64 {
        self.last_fraction
    }

    /// Loss fraction over the recent history (decayed), `None` before any window closed.
    #[must_use]
    pub fn recent_fraction(&self) -> Option<f64> {
        (self.history_expected > 0.0).then(|| self.history_lost / self.history_expected)
    }

    /// Counts one reported packet. O(1).
    pub fn on_report(&mut self, lost: bool, now: Timestamp) {
        self.window_start.get_or_insert(now);
        self.expected = self.expected.saturating_add(1);
        self.lost = self.lost.saturating_add(u32::from(lost));
    }

    /// Closes the window if it is long enough and applies the rules against `target`, the
    /// estimate in force. Returns the (possibly unchanged) cap.
    pub fn update(&mut self, target: Bitrate, rtt: Duration, now: Timestamp) -> Bitrate {
        let Some(start) = self.window_start else {
            return self.limit;
        };
        if self.expected < MIN_PACKETS || now.saturating_duration_since(start) < self.params.window
        {
            return self.limit;
        }
        let (n, lost) = (f64::from(self.expected), f64::from(self.lost));
        self.last_fraction = lost / n;
        self.window_start = None;
        self.expected = 0;
        self.lost = 0;
        self.history_expected = self.history_expected * HISTORY_DECAY + n;
        self.history_lost = self.history_lost * HISTORY_DECAY + lost;

        let (window_low, _) = wilson_interval(lost, n, Z_CUT);
        if window_low > self.params.high {
            let due = self
                .last_decrease
                .is_none_or(|t| now.saturating_duration_since(t) >= DECREASE_INTERVAL + rtt);
            if due {
                self.limit = target.scale(1.0 - 0.5 * self.last_fraction);
                self.last_decrease = Some(now);
                self.last_relax = Some(now);
            }
            return self.limit;
        }
        let (recent_low, recent_high) =
            wilson_interval(self.history_lost, self.history_expected, Z);
        if recent_high < self.params.low {
            self.limit = Bitrate::MAX;
        } else if recent_low <= self.params.high && self.limit != Bitrate::MAX {
            let elapsed = self
                .last_relax
                .map_or(RELAX_INTERVAL, |t| now.saturating_duration_since(t));
            if elapsed >= RELAX_INTERVAL {
                let seconds = elapsed.as_secs_f64().min(2.0);
                let factor = self.params.relax_per_second.powf(seconds);
                let additive = self
                    .limit
                    .saturating_add(RELAX_AT_LEAST_PER_SECOND.scale(seconds));
                self.limit = self
                    .limit
                    .scale(factor)
                    .max(additive)
                    .saturating_add(Bitrate::from_kbps(1));
                self.last_relax = Some(now);
            }
        }
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Lcg;

    fn feed(c: &mut LossController, from_ms: u64, packets: u32, loss: f64, rng: &mut Lcg) {
        for i in 0..packets {
            let t = Timestamp::from_millis(from_ms + u64::from(i) * 1000 / u64::from(packets));
            c.on_report(rng.next_f64() < loss, t);
        }
    }

    #[test]
    fn wilson_interval_narrows_with_more_samples() {
        let (l20, h20) = wilson_interval(1.0, 20.0, Z);
        let (l2000, h2000) = wilson_interval(100.0, 2000.0, Z);
        assert!(l20 < l2000 && h20 > h2000);
        assert!(l2000 < 0.05 && h2000 > 0.05);
    }

    #[test]
    fn five_percent_random_loss_never_cuts_at_low_rates() {
        // 20 packets a second, 5 % random loss, 300 s, 20 seeds: never a decrease.
        for seed in 0..20 {
            let mut rng = Lcg(seed);
            let mut c = LossController::new(LossParams::default());
            for s in 0..300u64 {
                feed(&mut c, s * 1000, 20, 0.05, &mut rng);
                let cap = c.update(
                    Bitrate::from_kbps(200),
                    Duration::from_millis(100),
                    Timestamp::from_millis(s * 1000 + 1000),
                );
                assert_eq!(cap, Bitrate::MAX, "seed {seed} cut at {s} s");
            }
        }
    }

    #[test]
    fn heavy_loss_cuts_then_the_cap_relaxes_and_lifts() {
        let mut rng = Lcg(1);
        let mut c = LossController::new(LossParams::default());
        let target = Bitrate::from_kbps(1000);
        feed(&mut c, 0, 100, 0.3, &mut rng);
        let cap = c.update(
            target,
            Duration::from_millis(100),
            Timestamp::from_millis(1000),
        );
        assert!(cap < target, "{cap}");
        let mut t = 1000;
        let mut relaxed = false;
        while c.limit() != Bitrate::MAX && t < 30_000 {
            let before = c.limit();
            feed(&mut c, t, 100, 0.0, &mut rng);
            t += 1000;
            c.update(
                target,
                Duration::from_millis(100),
                Timestamp::from_millis(t),
            );
            relaxed |= c.limit() > before;
        }
        assert!(relaxed);
        assert_eq!(c.limit(), Bitrate::MAX, "lifted within {t} ms");
    }

    #[test]
    fn a_low_rate_cap_relaxes_at_the_additive_pace_while_it_cannot_lift() {
        let mut rng = Lcg(2);
        let mut c = LossController::new(LossParams::default());
        let target = Bitrate::from_kbps(200);
        let rtt = Duration::from_millis(100);
        // 20 packets a second: 200 kbit/s. Half of one window lost, then none.
        feed(&mut c, 0, 20, 0.5, &mut rng);
        let cap = c.update(target, rtt, Timestamp::from_millis(1000));
        assert!(cap < target, "{cap}");
        for second in 1..=5u64 {
            let before = c.limit();
            feed(&mut c, second * 1000, 20, 0.0, &mut rng);
            let after = c.update(target, rtt, Timestamp::from_millis((second + 1) * 1000));
            assert_ne!(after, Bitrate::MAX, "too few packets to lift the cap");
            assert!(
                after >= before.saturating_add(RELAX_AT_LEAST_PER_SECOND),
                "second {second}: {before} -> {after}"
            );
        }
    }
}
