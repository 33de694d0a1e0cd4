//! [`GoogCcConfig`] and its validation.

use std::time::Duration;

use sfu_bwe::{Bitrate, BitrateBounds};

use crate::trendline::MAX_WINDOW;

/// Tunables of [`GoogCcEstimator`](crate::GoogCcEstimator). Defaults follow libwebrtc except
/// where documented.
///
/// ```
/// use sfu_bwe::Bitrate;
/// use sfu_bwe_googcc::{GoogCcConfig, GoogCcEstimator};
///
/// let mut config = GoogCcConfig::default();
/// config.initial_bitrate = Bitrate::from_kbps(500);
/// let estimator = GoogCcEstimator::new(config)?;
/// # Ok::<(), sfu_bwe_googcc::GoogCcConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct GoogCcConfig {
    /// Every estimate stays within these bounds.
    pub bounds: BitrateBounds,
    /// Estimate before any feedback; must lie within `bounds`. Default 300 kbit/s.
    pub initial_bitrate: Bitrate,
    /// Multiplicative decrease factor β applied to the acknowledged rate on over-use, in
    /// `(0, 1)`. Default 0.85 (draft-ietf-rmcat-gcc-02 §5.5).
    pub beta: f64,
    /// Growth per second while the link capacity is unknown, in `(1, 4]`.
    ///
    /// libwebrtc uses 1.08 and leans on its probe controller to find the capacity quickly at
    /// start and after the capacity grows. This estimator asks for probes too
    /// ([`poll_probe`](sfu_bwe::CongestionControl::poll_probe)), but a caller whose pacer
    /// cannot send them (str0m's pacer sends its own) still needs to find the capacity, so
    /// the default is 1.5 (one doubling per ~1.7 s, still capped at 1.5 × acknowledged +
    /// 10 kbit/s).
    pub multiplicative_increase_per_second: f64,
    /// Packets sent within this interval form one group (libwebrtc `kBurstDeltaThresholdMs`,
    /// 5 ms), in `(0, 100 ms]`.
    pub burst_interval: Duration,
    /// Number of groups in the trendline regression, `2..=64`. Default 20.
    pub trendline_window: usize,
    /// Exponential smoothing of the accumulated delay, in `[0, 1)`. Default 0.9.
    pub trendline_smoothing: f64,
    /// Gain applied to the trend before comparing it with the threshold, in `(0, 100]`.
    /// Default 4.
    pub threshold_gain: f64,
    /// The trend must stay above the threshold this long to signal over-use
    /// (draft-ietf-rmcat-gcc-02 §5.4 `overuse_time_th`), at most 1 s. Default 10 ms.
    pub overuse_time: Duration,
    /// Loss fraction below which the loss-based limit may grow, in `[0, 1]`. Default 0.02.
    pub loss_low: f64,
    /// Loss fraction above which the loss-based limit shrinks, in `[loss_low, 1]`.
    /// Default 0.10.
    pub loss_high: f64,
    /// Shortest window over which a loss fraction is measured, at most 10 s. Default 1 s.
    pub loss_window: Duration,
    /// Packets remembered for feedback matching (rounded to a power of two).
    /// Default 8192.
    pub history_capacity: usize,
}

impl Default for GoogCcConfig {
    fn default() -> Self {
        Self {
            bounds: BitrateBounds::default(),
            initial_bitrate: Bitrate::from_kbps(300),
            beta: 0.85,
            multiplicative_increase_per_second: 1.5,
            burst_interval: Duration::from_millis(5),
            trendline_window: 20,
            trendline_smoothing: 0.9,
            threshold_gain: 4.0,
            overuse_time: Duration::from_millis(10),
            loss_low: 0.02,
            loss_high: 0.10,
            loss_window: Duration::from_secs(1),
            history_capacity: 8192,
        }
    }
}

/// Why a [`GoogCcConfig`] was rejected.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GoogCcConfigError {
    /// `initial_bitrate` lies outside `bounds`.
    #[error("initial bitrate {initial} outside [{min}, {max}]")]
    InitialOutOfBounds {
        /// The rejected initial bitrate.
        initial: Bitrate,
        /// Lower bound.
        min: Bitrate,
        /// Upper bound.
        max: Bitrate,
    },
    /// `beta` is not in `(0, 1)`.
    #[error("beta {0} not in (0, 1)")]
    Beta(f64),
    /// `multiplicative_increase_per_second` is not in `(1, 4]`.
    #[error("multiplicative increase {0} not in (1, 4]")]
    MultiplicativeIncrease(f64),
    /// `burst_interval` is zero or above 100 ms.
    #[error("burst interval {0:?} not in (0, 100 ms]")]
    BurstInterval(Duration),
    /// `trendline_window` is not in `2..=64`.
    #[error("trendline window {0} not in 2..=64")]
    TrendlineWindow(usize),
    /// `trendline_smoothing` is not in `[0, 1)`.
    #[error("trendline smoothing {0} not in [0, 1)")]
    TrendlineSmoothing(f64),
    /// `threshold_gain` is not in `(0, 100]`.
    #[error("threshold gain {0} not in (0, 100]")]
    ThresholdGain(f64),
    /// `overuse_time` is above 1 s.
    #[error("overuse time {0:?} above 1 s")]
    OveruseTime(Duration),
    /// The loss thresholds are not `0 ≤ loss_low ≤ loss_high ≤ 1`.
    #[error("loss thresholds {low}..{high} not ordered within [0, 1]")]
    LossThresholds {
        /// The rejected low threshold.
        low: f64,
        /// The rejected high threshold.
        high: f64,
    },
    /// `loss_window` is zero or above 10 s.
    #[error("loss window {0:?} not in (0, 10 s]")]
    LossWindow(Duration),
}

impl GoogCcConfig {
    /// Checks every field; [`GoogCcEstimator::new`](crate::GoogCcEstimator::new) calls this.
    pub fn validate(&self) -> Result<(), GoogCcConfigError> {
        use GoogCcConfigError as E;
        if !self.bounds.contains(self.initial_bitrate) {
            return Err(E::InitialOutOfBounds {
                initial: self.initial_bitrate,
                min: self.bounds.min(),
                max: self.bounds.max(),
            });
        }
        if !(self.beta > 0.0 && self.beta < 1.0) {
            return Err(E::Beta(self.beta));
        }
        let m = self.multiplicative_increase_per_second;
        if !(m > 1.0 && m <= 4.0) {
            return Err(E::MultiplicativeIncrease(m));
        }
        if self.burst_interval.is_zero() || self.burst_interval > Duration::from_millis(100) {
            return Err(E::BurstInterval(self.burst_interval));
        }
        if !(2..=MAX_WINDOW).contains(&self.trendline_window) {
            return Err(E::TrendlineWindow(self.trendline_window));
        }
        if !(self.trendline_smoothing >= 0.0 && self.trendline_smoothing < 1.0) {
            return Err(E::TrendlineSmoothing(self.trendline_smoothing));
        }
        if !(self.threshold_gain > 0.0 && self.threshold_gain <= 100.0) {
            return Err(E::ThresholdGain(self.threshold_gain));
        }
        if self.overuse_time > Duration::from_secs(1) {
            return Err(E::OveruseTime(self.overuse_time));
        }
        let (low, high) = (self.loss_low, self.loss_high);
        if !(low >= 0.0 && low <= high && high <= 1.0) {
            return Err(E::LossThresholds { low, high });
        }
        if self.loss_window.is_zero() || self.loss_window > Duration::from_secs(10) {
            return Err(E::LossWindow(self.loss_window));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        assert_eq!(GoogCcConfig::default().validate(), Ok(()));
    }

    #[test]
    fn nan_and_out_of_range_values_are_rejected() {
        let base = GoogCcConfig::default();
        let mut c = base;
        c.beta = f64::NAN;
        assert!(matches!(c.validate(), Err(GoogCcConfigError::Beta(_))));
        let mut c = base;
        c.multiplicative_increase_per_second = 1.0;
        assert!(matches!(
            c.validate(),
            Err(GoogCcConfigError::MultiplicativeIncrease(_))
        ));
        let mut c = base;
        c.loss_low = 0.2;
        assert!(matches!(
            c.validate(),
            Err(GoogCcConfigError::LossThresholds { .. })
        ));
        let mut c = base;
        c.initial_bitrate = Bitrate::from_bps(1);
        assert!(matches!(
            c.validate(),
            Err(GoogCcConfigError::InitialOutOfBounds { .. })
        ));
        let mut c = base;
        c.trendline_window = 65;
        assert!(matches!(
            c.validate(),
            Err(GoogCcConfigError::TrendlineWindow(65))
        ));
    }
}
