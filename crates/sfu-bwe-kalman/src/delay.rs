//! [`DelayEstimator`]: the Kalman arrival-time filter and over-use detector of
//! draft-ietf-rmcat-gcc-02 §5.3–5.4 (libwebrtc `OveruseEstimator` + `OveruseDetector`).

use std::time::Duration;

use sfu_bwe::{BandwidthUsage, TwccSample};

use crate::group::{GroupDelta, Grouper};

/// State noise variance q (§5.3).
const PROCESS_NOISE: f64 = 1e-3;
/// Measurement noise variance floor (§5.3).
const MIN_NOISE_VAR: f64 = 1.0;
/// χ of the noise-variance filter (§5.3, within the suggested 0.001–0.1).
const CHI: f64 = 0.01;
/// Groups over which the highest group rate f_max is taken.
const FMAX_WINDOW: usize = 60;
/// The scaled offset saturates after this many deltas (libwebrtc `kMinNumDeltas`).
const MIN_NUM_DELTAS: u32 = 60;
/// Offsets this far above the threshold do not adapt it (§5.5 "15 ms").
const MAX_ADAPT_OFFSET_MS: f64 = 15.0;
const THRESHOLD_RANGE: (f64, f64) = (6.0, 600.0);
const INITIAL_THRESHOLD_MS: f64 = 12.5;
/// Threshold gains per ms (libwebrtc defaults; the draft suggests K_u = 0.01,
/// K_d = 0.00018).
const K_UP: f64 = 0.0087;
const K_DOWN: f64 = 0.039;

/// Estimates the queueing-delay gradient m(i) with a scalar Kalman filter and classifies it
/// against an adaptive threshold γ(i).
///
/// Each group delta d(i) updates
///
/// ```text
/// z(i)  = d(i) − m(i−1)
/// k(i)  = (P(i−1) + q) / (σ²(i) + P(i−1) + q)
/// m(i)  = m(i−1) + k(i)·z(i)
/// P(i)  = (1 − k(i))·(P(i−1) + q)
/// σ²(i) = max(α·σ²(i−1) + (1 − α)·min(z, 3σ)², 1),  α = (1 − χ)^(30 / (1000·f_max))
/// ```
///
/// Over-use is `min(n, 60)·m(i) > γ(i)` for longer than `overuse_time` with m not
/// decreasing; under-use is `< −γ(i)`. γ follows |scaled m| with gains K_u/K_d and is kept
/// in [6, 600] ms. The `min(n, 60)` scaling is libwebrtc's: it makes the per-group
/// gradient comparable with a threshold in ms.
#[derive(Debug, Clone)]
pub struct DelayEstimator {
    grouper: Grouper,
    offset_ms: f64,
    error_var: f64,
    noise_var: f64,
    send_deltas: [f64; FMAX_WINDOW],
    send_delta_len: usize,
    send_delta_head: usize,
    /// Smallest send delta in the window (1/f_max), kept incrementally.
    min_send_delta: f64,
    /// α of the noise filter for `min_send_delta`, recomputed only when that changes.
    noise_alpha: f64,
    num_deltas: u32,
    threshold_ms: f64,
    last_threshold_update_ms: Option<f64>,
    time_over_using_ms: Option<f64>,
    overuse_counter: u32,
    prev_offset_ms: f64,
    overuse_time_ms: f64,
    usage: BandwidthUsage,
}

impl DelayEstimator {
    /// An estimator grouping packets sent within `burst` and requiring over-use to last
    /// `overuse_time` (§5.4 `overuse_time_th`, 10 ms by default).
    #[must_use]
    pub fn new(burst: Duration, overuse_time: Duration) -> Self {
        Self {
            grouper: Grouper::new(burst),
            offset_ms: 0.0,
            error_var: 0.1,
            noise_var: 50.0,
            send_deltas: [0.0; FMAX_WINDOW],
            send_delta_len: 0,
            send_delta_head: 0,
            min_send_delta: f64::INFINITY,
            noise_alpha: 1.0,
            num_deltas: 0,
            threshold_ms: INITIAL_THRESHOLD_MS,
            last_threshold_update_ms: None,
            time_over_using_ms: None,
            overuse_counter: 0,
            prev_offset_ms: 0.0,
            overuse_time_ms: overuse_time.as_secs_f64() * 1000.0,
            usage: BandwidthUsage::Normal,
        }
    }

    /// Feeds one received sample (lost samples are ignored) and returns the verdict. O(1).
    pub fn update(&mut self, sample: &TwccSample) -> BandwidthUsage {
        if let Some(arrival) = sample.arrival
            && let Some(delta) = self.grouper.on_packet(sample.send_time, arrival)
        {
            self.on_group(delta);
        }
        self.usage
    }

    /// The current verdict.
    #[must_use]
    pub fn usage(&self) -> BandwidthUsage {
        self.usage
    }

    /// The filtered delay gradient m(i), ms per group.
    #[must_use]
    pub fn offset_ms(&self) -> f64 {
        self.offset_ms
    }

    /// The adaptive threshold γ(i), ms.
    #[must_use]
    pub fn threshold_ms(&self) -> f64 {
        self.threshold_ms
    }

    fn on_group(&mut self, d: GroupDelta) {
        self.num_deltas = self.num_deltas.saturating_add(1).min(1000);
        self.push_send_delta(d.send_delta_ms);

        // Kalman update.
        let z = d.delay_variation_ms - self.offset_ms;
        let predicted = self.error_var + PROCESS_NOISE;
        let gain = predicted / (self.noise_var + predicted);
        self.offset_ms += gain * z;
        self.error_var = (1.0 - gain) * predicted;
        let alpha = self.noise_alpha;
        let sigma = self.noise_var.sqrt();
        let z_clamped = z.clamp(-3.0 * sigma, 3.0 * sigma);
        self.noise_var =
            (alpha * self.noise_var + (1.0 - alpha) * z_clamped * z_clamped).max(MIN_NOISE_VAR);
        if !self.offset_ms.is_finite() || !self.error_var.is_finite() || !self.noise_var.is_finite()
        {
            self.offset_ms = 0.0;
            self.error_var = 0.1;
            self.noise_var = 50.0;
        }

        self.detect(d.send_delta_ms, d.arrival_ms);
    }

    /// Records a send delta and keeps 1/f_max (the window's smallest delta) and the noise
    /// filter's α = (1 − χ)^(30 / (1000·f_max)) up to date. Amortised O(1): the window is
    /// rescanned only when its minimum leaves it.
    fn push_send_delta(&mut self, send_delta_ms: f64) {
        let idx = (self.send_delta_head + self.send_delta_len) % FMAX_WINDOW;
        let evicted = if self.send_delta_len < FMAX_WINDOW {
            self.send_delta_len += 1;
            None
        } else {
            self.send_delta_head = (self.send_delta_head + 1) % FMAX_WINDOW;
            Some(self.send_deltas[idx])
        };
        self.send_deltas[idx] = send_delta_ms;
        let previous = self.min_send_delta;
        if send_delta_ms <= self.min_send_delta {
            self.min_send_delta = send_delta_ms;
        } else if evicted == Some(self.min_send_delta) {
            self.min_send_delta = self.send_deltas[..self.send_delta_len]
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min);
        }
        if self.min_send_delta != previous {
            let f_max_per_ms = 1.0 / self.min_send_delta.max(1.0);
            self.noise_alpha = (1.0 - CHI).powf(30.0 / (1000.0 * f_max_per_ms));
        }
    }

    fn detect(&mut self, send_delta_ms: f64, now_ms: f64) {
        let scaled = f64::from(self.num_deltas.min(MIN_NUM_DELTAS)) * self.offset_ms;
        if self.num_deltas < 2 {
            self.usage = BandwidthUsage::Normal;
        } else if scaled > self.threshold_ms {
            let over = self
                .time_over_using_ms
                .map_or(send_delta_ms / 2.0, |t| t + send_delta_ms);
            self.time_over_using_ms = Some(over);
            self.overuse_counter += 1;
            if over > self.overuse_time_ms
                && self.overuse_counter > 1
                && self.offset_ms >= self.prev_offset_ms
            {
                self.time_over_using_ms = Some(0.0);
                self.overuse_counter = 0;
                self.usage = BandwidthUsage::Overusing;
            }
        } else if scaled < -self.threshold_ms {
            self.time_over_using_ms = None;
            self.overuse_counter = 0;
            self.usage = BandwidthUsage::Underusing;
        } else {
            self.time_over_using_ms = None;
            self.overuse_counter = 0;
            self.usage = BandwidthUsage::Normal;
        }
        self.prev_offset_ms = self.offset_ms;
        self.adapt_threshold(scaled, now_ms);
    }

    fn adapt_threshold(&mut self, scaled: f64, now_ms: f64) {
        let last = *self.last_threshold_update_ms.get_or_insert(now_ms);
        let abs = scaled.abs();
        if abs > self.threshold_ms + MAX_ADAPT_OFFSET_MS {
            self.last_threshold_update_ms = Some(now_ms);
            return;
        }
        let k = if abs < self.threshold_ms {
            K_DOWN
        } else {
            K_UP
        };
        let dt = (now_ms - last).clamp(0.0, 100.0);
        self.threshold_ms = (self.threshold_ms + k * (abs - self.threshold_ms) * dt)
            .clamp(THRESHOLD_RANGE.0, THRESHOLD_RANGE.1);
        self.last_threshold_update_ms = Some(now_ms);
    }
}

impl Default for DelayEstimator {
    /// 5 ms groups, 10 ms over-use time.
    fn default() -> Self {
        Self::new(Duration::from_millis(5), Duration::from_millis(10))
    }
}

#[cfg(test)]
mod tests {
    use sfu_bwe::{DataSize, Timestamp, TwccSeq};

    use super::*;

    fn sample(send_ms: f64, arrival_ms: f64) -> TwccSample {
        TwccSample {
            seq: TwccSeq::new(0),
            send_time: Timestamp::from_micros((send_ms * 1000.0) as u64),
            arrival: Some(Timestamp::from_micros((arrival_ms * 1000.0) as u64)),
            size: DataSize::from_bytes(1200),
        }
    }

    #[test]
    fn growing_queue_is_detected_as_overuse() {
        let mut d = DelayEstimator::default();
        let mut usage = BandwidthUsage::Normal;
        for i in 0..200 {
            let send = f64::from(i) * 10.0;
            // Each group arrives 1 ms later than its send spacing: a queue builds.
            usage = d.update(&sample(send, 50.0 + f64::from(i) * 11.0));
        }
        assert_eq!(usage, BandwidthUsage::Overusing);
        assert!(d.offset_ms() > 0.5, "offset {}", d.offset_ms());
    }

    #[test]
    fn constant_delay_stays_normal() {
        let mut d = DelayEstimator::default();
        for i in 0..200 {
            let send = f64::from(i) * 10.0;
            assert_eq!(d.update(&sample(send, send + 50.0)), BandwidthUsage::Normal);
        }
        assert!(d.offset_ms().abs() < 1e-6);
    }

    #[test]
    fn draining_queue_is_detected_as_underuse() {
        let mut d = DelayEstimator::default();
        let mut usage = BandwidthUsage::Normal;
        for i in 0..100 {
            let send = f64::from(i) * 10.0;
            usage = d.update(&sample(send, 1000.0 + f64::from(i) * 9.0));
        }
        assert_eq!(usage, BandwidthUsage::Underusing);
    }

    #[test]
    fn f_max_window_forgets_its_minimum_when_it_leaves() {
        let mut d = DelayEstimator::default();
        d.push_send_delta(1.0);
        for _ in 0..FMAX_WINDOW - 1 {
            d.push_send_delta(10.0);
        }
        assert_eq!(d.min_send_delta, 1.0);
        let alpha_fast = d.noise_alpha;
        d.push_send_delta(10.0);
        assert_eq!(d.min_send_delta, 10.0);
        assert!(
            d.noise_alpha < alpha_fast,
            "slower groups adapt the noise faster"
        );
    }

    #[test]
    fn threshold_stays_within_range() {
        let mut d = DelayEstimator::default();
        for i in 0..5000u32 {
            let send = f64::from(i) * 10.0;
            let jitter = if i % 2 == 0 { 4.0 } else { -4.0 };
            d.update(&sample(send, send + 100.0 + jitter));
            assert!((THRESHOLD_RANGE.0..=THRESHOLD_RANGE.1).contains(&d.threshold_ms()));
        }
    }
}
