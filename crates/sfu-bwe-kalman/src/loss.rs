//! [`LossEstimator`]: the loss-based controller of draft-ietf-rmcat-gcc-02 §6.

use std::time::Duration;

use sfu_bwe::{Bitrate, Timestamp};

/// Fewest reports a loss window needs before it decides anything.
const MIN_PACKETS: u32 = 20;
/// Consecutive low-loss windows that end a loss episode.
const CLEAN_WINDOWS_TO_LIFT: u32 = 3;

/// Measures the loss fraction p over windows and turns it into a rate cap A_s:
///
/// - p < `low` (2 %): A_s relaxes by 5 % per window (the draft's 1.05 × A_s); after three
///   consecutive clean windows (≈ 3 s without loss) the episode is over and the cap is
///   lifted, so the delay-based controller alone decides;
/// - `low` ≤ p ≤ `high` (10 %): hold;
/// - p > `high`: A_s = target × (1 − p/2).
///
/// Windows last at least `window` and 20 packets: the draft's controller runs per RTCP
/// receiver report (about one per second); per-50 ms TWCC windows would turn random loss
/// into noise. A_s starts unbounded, so it only caps the delay-based rate once loss has
/// mattered.
#[derive(Debug, Clone)]
pub struct LossEstimator {
    low: f64,
    high: f64,
    window: Duration,
    window_start: Option<Timestamp>,
    expected: u32,
    lost: u32,
    fraction: f64,
    limit: Bitrate,
    clean_windows: u32,
}

impl LossEstimator {
    /// A controller with thresholds `low ≤ high` in `[0, 1]` (checked by
    /// [`KalmanConfig::validate`](crate::KalmanConfig::validate)) and minimum `window`.
    #[must_use]
    pub fn new(low: f64, high: f64, window: Duration) -> Self {
        Self {
            low,
            high,
            window,
            window_start: None,
            expected: 0,
            lost: 0,
            fraction: 0.0,
            limit: Bitrate::MAX,
            clean_windows: 0,
        }
    }

    /// Counts one reported packet. O(1).
    pub fn on_report(&mut self, lost: bool, now: Timestamp) {
        self.window_start.get_or_insert(now);
        self.expected = self.expected.saturating_add(1);
        self.lost = self.lost.saturating_add(u32::from(lost));
    }

    /// Closes the window if it is long enough and applies the rules against `target`, the
    /// estimate in force. Returns the (possibly unchanged) cap.
    pub fn update(&mut self, target: Bitrate, now: Timestamp) -> Bitrate {
        let Some(start) = self.window_start else {
            return self.limit;
        };
        if self.expected < MIN_PACKETS || now.saturating_duration_since(start) < self.window {
            return self.limit;
        }
        let p = f64::from(self.lost) / f64::from(self.expected);
        self.fraction = p;
        self.window_start = None;
        self.expected = 0;
        self.lost = 0;
        if p < self.low {
            self.clean_windows = self.clean_windows.saturating_add(1);
            if self.clean_windows >= CLEAN_WINDOWS_TO_LIFT {
                self.limit = Bitrate::MAX;
            } else if self.limit != Bitrate::MAX {
                self.limit = self.limit.scale(1.05);
            }
        } else {
            self.clean_windows = 0;
            if p > self.high {
                self.limit = target.scale(1.0 - 0.5 * p);
            }
        }
        self.limit
    }

    /// The cap A_s (`Bitrate::MAX` while loss has never mattered).
    #[must_use]
    pub fn limit(&self) -> Bitrate {
        self.limit
    }

    /// Loss fraction of the last closed window.
    #[must_use]
    pub fn fraction(&self) -> f64 {
        self.fraction
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(l: &mut LossEstimator, start_ms: u64, lost_every: u32) -> Bitrate {
        for i in 0..100u32 {
            let t = Timestamp::from_millis(start_ms + u64::from(i) * 10);
            l.on_report(lost_every != 0 && i % lost_every == 0, t);
        }
        l.update(
            Bitrate::from_kbps(1000),
            Timestamp::from_millis(start_ms + 1000),
        )
    }

    fn est() -> LossEstimator {
        LossEstimator::new(0.02, 0.1, Duration::from_secs(1))
    }

    #[test]
    fn heavy_loss_cuts_by_half_the_fraction() {
        assert_eq!(window(&mut est(), 0, 4), Bitrate::from_kbps(875));
    }

    #[test]
    fn moderate_loss_holds() {
        let mut l = est();
        assert_eq!(window(&mut l, 0, 20), Bitrate::MAX);
        assert!((l.fraction() - 0.05).abs() < 1e-9);
    }

    #[test]
    fn low_loss_relaxes_a_cap_by_five_percent_then_lifts_it() {
        let mut l = est();
        window(&mut l, 0, 4);
        assert_eq!(window(&mut l, 1000, 0), Bitrate::from_kbps(875).scale(1.05));
        assert_ne!(window(&mut l, 2000, 0), Bitrate::MAX);
        assert_eq!(window(&mut l, 3000, 0), Bitrate::MAX);
    }
}
