//! Loss-based controller (draft-ietf-rmcat-gcc-02 §6; libwebrtc
//! `SendSideBandwidthEstimation` loss rules).
//!
//! The loss fraction p is measured over windows of at least `loss_window` and 20 packets
//! (the RTCP receiver-report cadence GCC was tuned for; shorter windows turn random loss
//! into noise). Then: p < 2 % → the limit relaxes by 8 % + 1 kbit/s, at most once a
//! second; 2–10 % → hold; p > 10 % → limit = target × (1 − p/2), at most once per
//! 300 ms + RTT. The limit starts unbounded, so the loss controller only ever caps the
//! delay-based estimate.
//!
//! libwebrtc's v1 controller grows the *target* by 8 %/s after a loss episode and relies on
//! probing to recover faster. Without probing, this one relaxes its own cap instead and
//! lifts it after three consecutive clean windows (≈ 3 s without loss): the episode is
//! over and the delay-based controller, which watches the queue, decides alone (the
//! behaviour libwebrtc's `LossBasedBweV2` reaches by returning to its delay-based state).

use std::time::Duration;

use sfu_bwe::{Bitrate, Timestamp};

const MIN_PACKETS: u32 = 20;
const INCREASE_INTERVAL: Duration = Duration::from_secs(1);
const DECREASE_INTERVAL: Duration = Duration::from_millis(300);
/// Consecutive low-loss windows that end a loss episode.
const CLEAN_WINDOWS_TO_LIFT: u32 = 3;

/// Loss thresholds and window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LossParams {
    pub(crate) low: f64,
    pub(crate) high: f64,
    pub(crate) window: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct LossBasedControl {
    params: LossParams,
    limit: Bitrate,
    window_start: Option<Timestamp>,
    expected: u32,
    lost: u32,
    last_fraction: f64,
    last_increase: Option<Timestamp>,
    last_decrease: Option<Timestamp>,
    clean_windows: u32,
}

impl LossBasedControl {
    pub(crate) fn new(params: LossParams) -> Self {
        Self {
            params,
            limit: Bitrate::MAX,
            window_start: None,
            expected: 0,
            lost: 0,
            last_fraction: 0.0,
            last_increase: None,
            last_decrease: None,
            clean_windows: 0,
        }
    }

    /// The current cap (`Bitrate::MAX` while loss has never mattered).
    pub(crate) fn limit(&self) -> Bitrate {
        self.limit
    }

    /// Loss fraction of the last closed window.
    pub(crate) fn last_fraction(&self) -> f64 {
        self.last_fraction
    }

    /// Counts one reported packet.
    pub(crate) fn on_report(&mut self, lost: bool, now: Timestamp) {
        self.window_start.get_or_insert(now);
        self.expected = self.expected.saturating_add(1);
        self.lost = self.lost.saturating_add(u32::from(lost));
    }

    /// Closes the window if it is long enough and applies the loss rules against `target`,
    /// the estimate currently in force.
    pub(crate) fn update(&mut self, target: Bitrate, rtt: Duration, now: Timestamp) {
        let Some(start) = self.window_start else {
            return;
        };
        if self.expected < MIN_PACKETS || now.saturating_duration_since(start) < self.params.window
        {
            return;
        }
        let p = f64::from(self.lost) / f64::from(self.expected);
        self.last_fraction = p;
        self.window_start = None;
        self.expected = 0;
        self.lost = 0;
        if p <= self.params.low {
            self.clean_windows = self.clean_windows.saturating_add(1);
            let due = self
                .last_increase
                .is_none_or(|t| now.saturating_duration_since(t) >= INCREASE_INTERVAL);
            if self.clean_windows >= CLEAN_WINDOWS_TO_LIFT {
                self.limit = Bitrate::MAX;
            } else if due && self.limit != Bitrate::MAX {
                self.limit = self.limit.scale(1.08).saturating_add(Bitrate::from_kbps(1));
                self.last_increase = Some(now);
            }
            return;
        }
        self.clean_windows = 0;
        if p > self.params.high {
            let due = self
                .last_decrease
                .is_none_or(|t| now.saturating_duration_since(t) >= DECREASE_INTERVAL + rtt);
            if due {
                self.limit = target.scale(1.0 - 0.5 * p);
                self.last_decrease = Some(now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctl() -> LossBasedControl {
        LossBasedControl::new(LossParams {
            low: 0.02,
            high: 0.1,
            window: Duration::from_secs(1),
        })
    }

    fn window(c: &mut LossBasedControl, start_ms: u64, lost_every: u32) {
        for i in 0..100u32 {
            let t = Timestamp::from_millis(start_ms + u64::from(i) * 10);
            c.on_report(lost_every != 0 && i % lost_every == 0, t);
        }
        c.update(
            Bitrate::from_kbps(1000),
            Duration::from_millis(100),
            Timestamp::from_millis(start_ms + 1000),
        );
    }

    #[test]
    fn high_loss_caps_by_half_the_loss_fraction() {
        let mut c = ctl();
        window(&mut c, 0, 5); // 20 % loss
        assert_eq!(c.limit(), Bitrate::from_kbps(900));
    }

    #[test]
    fn moderate_loss_holds() {
        let mut c = ctl();
        window(&mut c, 0, 20); // 5 % loss
        assert_eq!(c.limit(), Bitrate::MAX);
        assert!((c.last_fraction() - 0.05).abs() < 1e-9);
    }

    #[test]
    fn low_loss_relaxes_a_cap_gradually_then_lifts_it() {
        let mut c = ctl();
        window(&mut c, 0, 5);
        window(&mut c, 2000, 0);
        assert_eq!(
            c.limit(),
            Bitrate::from_kbps(900)
                .scale(1.08)
                .saturating_add(Bitrate::from_kbps(1))
        );
        window(&mut c, 4000, 0);
        assert_ne!(c.limit(), Bitrate::MAX);
        window(&mut c, 6000, 0);
        assert_eq!(c.limit(), Bitrate::MAX);
    }

    #[test]
    fn short_windows_do_not_decide() {
        let mut c = ctl();
        for i in 0..10 {
            c.on_report(true, Timestamp::from_millis(i));
        }
        c.update(
            Bitrate::from_kbps(1000),
            Duration::ZERO,
            Timestamp::from_millis(5000),
        );
        assert_eq!(c.limit(), Bitrate::MAX);
    }
}
