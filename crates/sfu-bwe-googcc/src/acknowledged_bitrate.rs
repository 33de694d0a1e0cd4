//! Acknowledged (received) bitrate (libwebrtc `AcknowledgedBitrateEstimator` /
//! `BitrateEstimator`; the R of draft-ietf-rmcat-gcc-02 §5.5).
//!
//! Bytes of acknowledged packets are summed over windows of receiver time (500 ms for the
//! first sample, 150 ms after); each window's rate is merged into a Bayesian estimate whose
//! sample variance grows with the sample's distance from the estimate, so one bursty window
//! barely moves it while a sustained change moves it within a few windows.
//!
//! The latest unsmoothed window is kept too: while the detector reports over-use the
//! bottleneck is saturated, so the freshest window *is* a capacity measurement, and the
//! estimator decreases from whichever of the two is lower (see `estimator.rs`).

use sfu_bwe::{Bitrate, DataSize, Timestamp};

const INITIAL_WINDOW_MS: f64 = 500.0;
const WINDOW_MS: f64 = 150.0;
const UNCERTAINTY_SCALE: f64 = 10.0;
const INITIAL_VARIANCE: f64 = 50.0;
const PROCESS_NOISE: f64 = 5.0;

#[derive(Debug, Clone, Default)]
pub(crate) struct AcknowledgedBitrate {
    prev_arrival_ms: Option<f64>,
    window_elapsed_ms: f64,
    window_bytes: u64,
    estimate_kbps: Option<f64>,
    variance: f64,
    latest_sample_kbps: Option<f64>,
}

impl AcknowledgedBitrate {
    /// Adds one acknowledged packet, in arrival order.
    pub(crate) fn on_packet(&mut self, arrival: Timestamp, size: DataSize) {
        let window = if self.estimate_kbps.is_some() {
            WINDOW_MS
        } else {
            INITIAL_WINDOW_MS
        };
        let now_ms = arrival.as_micros() as f64 / 1000.0;
        if let Some(sample) = self.update_window(now_ms, size.bytes(), window) {
            self.latest_sample_kbps = Some(sample);
            self.merge(sample);
        }
    }

    /// The rate of the most recent complete window, unsmoothed.
    pub(crate) fn latest_sample(&self) -> Option<Bitrate> {
        self.latest_sample_kbps
            .map(|k| Bitrate::from_bps_f64(k * 1000.0))
    }

    pub(crate) fn estimate(&self) -> Option<Bitrate> {
        self.estimate_kbps
            .map(|k| Bitrate::from_bps_f64(k * 1000.0))
    }

    fn update_window(&mut self, now_ms: f64, bytes: u64, window_ms: f64) -> Option<f64> {
        match self.prev_arrival_ms {
            Some(prev) if now_ms < prev => {
                // Receiver time went backwards: restart the window.
                self.window_elapsed_ms = 0.0;
                self.window_bytes = 0;
            }
            Some(prev) => {
                let dt = now_ms - prev;
                self.window_elapsed_ms += dt;
                if dt > window_ms {
                    // A gap longer than a window: the old partial window says nothing.
                    self.window_bytes = 0;
                    self.window_elapsed_ms %= window_ms;
                }
            }
            None => {}
        }
        self.prev_arrival_ms = Some(now_ms);
        let mut sample = None;
        if self.window_elapsed_ms >= window_ms {
            sample = Some(8.0 * self.window_bytes as f64 / window_ms);
            self.window_elapsed_ms -= window_ms;
            self.window_bytes = 0;
        }
        self.window_bytes = self.window_bytes.saturating_add(bytes);
        sample
    }

    fn merge(&mut self, sample_kbps: f64) {
        let Some(estimate) = self.estimate_kbps else {
            self.estimate_kbps = Some(sample_kbps);
            self.variance = INITIAL_VARIANCE;
            return;
        };
        let uncertainty = UNCERTAINTY_SCALE * (estimate - sample_kbps).abs() / estimate.max(1.0);
        let sample_var = uncertainty * uncertainty;
        let pred_var = self.variance + PROCESS_NOISE;
        let denom = sample_var + pred_var;
        let merged = (sample_var * estimate + pred_var * sample_kbps) / denom;
        if merged.is_finite() {
            self.estimate_kbps = Some(merged);
            self.variance = sample_var * pred_var / denom;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(a: &mut AcknowledgedBitrate, from_ms: u64, to_ms: u64, kbps: u64) {
        // 1200-byte packets at `kbps`.
        let interval_us = 1200 * 8 * 1000 / kbps;
        let mut t = from_ms * 1000;
        while t < to_ms * 1000 {
            a.on_packet(Timestamp::from_micros(t), DataSize::from_bytes(1200));
            t += interval_us;
        }
    }

    #[test]
    fn steady_rate_is_measured() {
        let mut a = AcknowledgedBitrate::default();
        feed(&mut a, 0, 3000, 1000);
        let e = a.estimate().expect("several windows elapsed").as_kbps_f64();
        assert!((e - 1000.0).abs() < 60.0, "estimate {e}");
    }

    #[test]
    fn sustained_drop_is_followed_within_two_seconds() {
        let mut a = AcknowledgedBitrate::default();
        feed(&mut a, 0, 3000, 2500);
        feed(&mut a, 3000, 5000, 500);
        let e = a.estimate().expect("measured").as_kbps_f64();
        assert!(e < 700.0, "estimate {e}");
    }

    #[test]
    fn no_estimate_before_first_window() {
        let mut a = AcknowledgedBitrate::default();
        feed(&mut a, 0, 400, 1000);
        assert_eq!(a.estimate(), None);
    }
}
