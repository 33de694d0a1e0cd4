//! Over-use detector with adaptive threshold (draft-ietf-rmcat-gcc-02 §5.4, §5.5 threshold
//! adaptation; the detection half of libwebrtc `TrendlineEstimator`).
//!
//! The trend is scaled by `min(deltas, 60) × gain` so it is comparable to a delay in ms, then
//! compared with a threshold γ that follows |scaled trend| (fast upwards, slowly
//! downwards). A fixed threshold would starve against loss-based flows such as TCP, which
//! keep a queue standing; the adaptive one lets the flow keep its share.

use sfu_bwe::BandwidthUsage;

/// Trend values this far above the threshold are outliers and do not move it.
const MAX_ADAPT_OFFSET_MS: f64 = 15.0;
/// The threshold stays within this range (ms).
const THRESHOLD_RANGE: (f64, f64) = (6.0, 600.0);
/// Trend scaling saturates after this many deltas.
const MIN_NUM_DELTAS: u32 = 60;

/// Tunables of the detector.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DetectorParams {
    pub(crate) threshold_gain: f64,
    pub(crate) initial_threshold_ms: f64,
    pub(crate) k_up: f64,
    pub(crate) k_down: f64,
    pub(crate) overuse_time_ms: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct OveruseDetector {
    params: DetectorParams,
    threshold_ms: f64,
    last_update_ms: Option<f64>,
    time_over_using_ms: Option<f64>,
    overuse_counter: u32,
    prev_trend: f64,
    state: BandwidthUsage,
}

impl OveruseDetector {
    pub(crate) fn new(params: DetectorParams) -> Self {
        Self {
            params,
            threshold_ms: params.initial_threshold_ms,
            last_update_ms: None,
            time_over_using_ms: None,
            overuse_counter: 0,
            prev_trend: 0.0,
            state: BandwidthUsage::Normal,
        }
    }

    pub(crate) fn state(&self) -> BandwidthUsage {
        self.state
    }

    /// Current adaptive threshold, ms.
    #[cfg(test)]
    fn threshold_ms(&self) -> f64 {
        self.threshold_ms
    }

    /// Classifies one trend sample. `send_delta_ms` is the group's send spacing (how much
    /// time this sample covers); `now_ms` is its arrival time.
    pub(crate) fn detect(
        &mut self,
        trend: f64,
        send_delta_ms: f64,
        num_deltas: u32,
        now_ms: f64,
    ) -> BandwidthUsage {
        if num_deltas < 2 {
            self.state = BandwidthUsage::Normal;
            return self.state;
        }
        let modified =
            f64::from(num_deltas.min(MIN_NUM_DELTAS)) * trend * self.params.threshold_gain;
        if modified > self.threshold_ms {
            let over = match self.time_over_using_ms {
                None => send_delta_ms / 2.0,
                Some(t) => t + send_delta_ms,
            };
            self.time_over_using_ms = Some(over);
            self.overuse_counter += 1;
            if over > self.params.overuse_time_ms
                && self.overuse_counter > 1
                && trend >= self.prev_trend
            {
                self.time_over_using_ms = Some(0.0);
                self.overuse_counter = 0;
                self.state = BandwidthUsage::Overusing;
            }
        } else if modified < -self.threshold_ms {
            self.time_over_using_ms = None;
            self.overuse_counter = 0;
            self.state = BandwidthUsage::Underusing;
        } else {
            self.time_over_using_ms = None;
            self.overuse_counter = 0;
            self.state = BandwidthUsage::Normal;
        }
        self.prev_trend = trend;
        self.update_threshold(modified, now_ms);
        self.state
    }

    fn update_threshold(&mut self, modified: f64, now_ms: f64) {
        let last = *self.last_update_ms.get_or_insert(now_ms);
        let abs = modified.abs();
        if !abs.is_finite() || abs > self.threshold_ms + MAX_ADAPT_OFFSET_MS {
            self.last_update_ms = Some(now_ms);
            return;
        }
        let k = if abs < self.threshold_ms {
            self.params.k_down
        } else {
            self.params.k_up
        };
        // Arrival clocks may go backwards; never let that shrink the threshold oddly.
        let dt = (now_ms - last).clamp(0.0, 100.0);
        self.threshold_ms += k * (abs - self.threshold_ms) * dt;
        self.threshold_ms = self
            .threshold_ms
            .clamp(THRESHOLD_RANGE.0, THRESHOLD_RANGE.1);
        self.last_update_ms = Some(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> DetectorParams {
        DetectorParams {
            threshold_gain: 4.0,
            initial_threshold_ms: 12.5,
            k_up: 0.0087,
            k_down: 0.039,
            overuse_time_ms: 10.0,
        }
    }

    #[test]
    fn sustained_positive_trend_signals_overuse() {
        let mut d = OveruseDetector::new(params());
        let mut s = BandwidthUsage::Normal;
        for i in 0..10 {
            s = d.detect(0.5, 5.0, 60, f64::from(i) * 5.0);
        }
        assert_eq!(s, BandwidthUsage::Overusing);
    }

    #[test]
    fn single_spike_is_not_overuse() {
        let mut d = OveruseDetector::new(params());
        assert_eq!(d.detect(0.5, 5.0, 60, 0.0), BandwidthUsage::Normal);
        assert_eq!(d.detect(0.0, 5.0, 60, 5.0), BandwidthUsage::Normal);
    }

    #[test]
    fn negative_trend_signals_underuse() {
        let mut d = OveruseDetector::new(params());
        assert_eq!(d.detect(-0.5, 5.0, 60, 0.0), BandwidthUsage::Underusing);
    }

    #[test]
    fn threshold_stays_within_range() {
        let mut d = OveruseDetector::new(params());
        for i in 0..10_000 {
            d.detect(
                if i % 2 == 0 { 0.2 } else { -0.2 },
                5.0,
                60,
                f64::from(i) * 100.0,
            );
            assert!((THRESHOLD_RANGE.0..=THRESHOLD_RANGE.1).contains(&d.threshold_ms()));
        }
        for i in 0..1000 {
            d.detect(0.0, 5.0, 60, 1e6 + f64::from(i) * 100.0);
        }
        assert!((d.threshold_ms() - THRESHOLD_RANGE.0).abs() < 1e-6);
    }
}
