//! [`LossEstimator`]: the loss-based cap A_s of draft-ietf-rmcat-gcc-02 §6, decided on
//! evidence.

use std::time::Duration;

use sfu_bwe::{Bitrate, Timestamp};
use sfu_bwe_control::{LossController, LossParams};

/// Measures loss over windows and turns it into a rate cap A_s.
///
/// The draft's rules compare a window's loss fraction p with `low` (2 %) and `high`
/// (10 %): relax A_s by 5 % below `low`, hold between, and set A_s = target × (1 − p/2)
/// above `high`. On the small windows of low rates, random loss alone crosses 10 % often,
/// so here the comparisons are made on confidence intervals
/// ([`sfu_bwe_control::LossController`]): a cut needs the window's loss to exceed `high`
/// with 99.9 % confidence, the cap relaxes by 5 % a second while the recent history gives
/// no such evidence, and it is lifted once the history shows loss below `low`. A_s starts
/// unbounded, so it only caps the delay-based rate once loss has mattered.
#[derive(Debug, Clone)]
pub struct LossEstimator {
    inner: LossController,
}

impl LossEstimator {
    /// A controller with thresholds `low ≤ high` in `[0, 1]` (checked by
    /// [`KalmanConfig::validate`](crate::KalmanConfig::validate)) and minimum `window`.
    #[must_use]
    pub fn new(low: f64, high: f64, window: Duration) -> Self {
        Self {
            inner: LossController::new(LossParams {
                low,
                high,
                window,
                relax_per_second: 1.05,
            }),
        }
    }

    /// Counts one reported packet. O(1).
    pub fn on_report(&mut self, lost: bool, now: Timestamp) {
        self.inner.on_report(lost, now);
    }

    /// Closes the window if it is long enough and applies the rules against `target`, the
    /// estimate in force; cuts are at least 300 ms + `rtt` apart. Returns the (possibly
    /// unchanged) cap.
    pub fn update(&mut self, target: Bitrate, rtt: Duration, now: Timestamp) -> Bitrate {
        self.inner.update(target, rtt, now)
    }

    /// The cap A_s (`Bitrate::MAX` while loss does not limit the rate).
    #[must_use]
    pub fn limit(&self) -> Bitrate {
        self.inner.limit()
    }

    /// Loss fraction of the last closed window.
    #[must_use]
    pub fn fraction(&self) -> f64 {
        self.inner.last_fraction()
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
            Duration::from_millis(100),
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
    fn without_loss_a_cap_relaxes_then_lifts() {
        let mut l = est();
        window(&mut l, 0, 4);
        let relaxed = window(&mut l, 1000, 0);
        assert!(relaxed > Bitrate::from_kbps(875), "{relaxed}");
        let mut t = 2000;
        while l.limit() != Bitrate::MAX && t < 20_000 {
            window(&mut l, t, 0);
            t += 1000;
        }
        assert_eq!(l.limit(), Bitrate::MAX, "lifted by {t} ms");
    }
}
