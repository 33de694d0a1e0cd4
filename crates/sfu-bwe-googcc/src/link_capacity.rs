//! Link capacity tracking for the AIMD controller (libwebrtc `LinkCapacityEstimator`;
//! draft-ietf-rmcat-gcc-02 §5.5 "close to convergence").
//!
//! An exponential average of the acknowledged rate measured at each over-use, with its
//! normalised variance. While the rate is within three standard deviations of that average
//! the controller is "near convergence" and increases additively; a measured rate outside
//! the band means the link changed, so the estimate is dropped.

use sfu_bwe::Bitrate;

const DEVIATION_RANGE: (f64, f64) = (0.4, 2.5);

#[derive(Debug, Clone, Default)]
pub(crate) struct LinkCapacity {
    estimate_kbps: Option<f64>,
    deviation_kbps: f64,
}

impl LinkCapacity {
    pub(crate) fn has_estimate(&self) -> bool {
        self.estimate_kbps.is_some()
    }

    pub(crate) fn estimate(&self) -> Option<Bitrate> {
        self.estimate_kbps
            .map(|k| Bitrate::from_bps_f64(k * 1000.0))
    }

    fn std_kbps(&self, estimate_kbps: f64) -> f64 {
        (self.deviation_kbps * estimate_kbps).sqrt()
    }

    pub(crate) fn upper_bound(&self) -> Bitrate {
        match self.estimate_kbps {
            Some(e) => Bitrate::from_bps_f64((e + 3.0 * self.std_kbps(e)) * 1000.0),
            None => Bitrate::MAX,
        }
    }

    pub(crate) fn lower_bound(&self) -> Bitrate {
        match self.estimate_kbps {
            Some(e) => Bitrate::from_bps_f64((e - 3.0 * self.std_kbps(e)).max(0.0) * 1000.0),
            None => Bitrate::ZERO,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.estimate_kbps = None;
    }

    pub(crate) fn on_overuse(&mut self, acknowledged: Bitrate) {
        self.update(acknowledged, 0.05);
    }

    fn update(&mut self, sample: Bitrate, alpha: f64) {
        let sample_kbps = sample.as_kbps_f64();
        let estimate = match self.estimate_kbps {
            None => sample_kbps,
            Some(e) => (1.0 - alpha) * e + alpha * sample_kbps,
        };
        let norm = estimate.max(1.0);
        let error = estimate - sample_kbps;
        self.deviation_kbps = ((1.0 - alpha) * self.deviation_kbps + alpha * error * error / norm)
            .clamp(DEVIATION_RANGE.0, DEVIATION_RANGE.1);
        self.estimate_kbps = Some(estimate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_bracket_the_estimate() {
        let mut l = LinkCapacity::default();
        assert_eq!(l.upper_bound(), Bitrate::MAX);
        l.on_overuse(Bitrate::from_kbps(1000));
        let e = l.estimate().expect("set by on_overuse");
        assert!(l.lower_bound() < e && e < l.upper_bound());
    }

    #[test]
    fn reset_forgets_the_estimate() {
        let mut l = LinkCapacity::default();
        l.on_overuse(Bitrate::from_kbps(1000));
        l.reset();
        assert!(!l.has_estimate());
    }
}
