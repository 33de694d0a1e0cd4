//! [`KalmanConfig`] and its validation.

use std::time::Duration;

use sfu_bwe::{Bitrate, BitrateBounds};

/// Tunables of [`BandwidthEstimator`](crate::BandwidthEstimator).
///
/// ```
/// use sfu_bwe::Bitrate;
/// use sfu_bwe_kalman::{BandwidthEstimator, KalmanConfig};
///
/// let mut config = KalmanConfig::default();
/// config.initial_bitrate = Bitrate::from_kbps(800);
/// let estimator = BandwidthEstimator::new(config)?;
/// # Ok::<(), sfu_bwe_kalman::KalmanConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct KalmanConfig {
    /// Every estimate stays within these bounds.
    pub bounds: BitrateBounds,
    /// Estimate before any feedback; within `bounds`. Default 300 kbit/s.
    pub initial_bitrate: Bitrate,
    /// Decrease factor β applied to the received rate on over-use, in `(0, 1)`.
    /// Default 0.85 (§5.5).
    pub beta: f64,
    /// Growth per second far from convergence (η), in `(1, 4]`. The draft's 1.08 assumes
    /// probing finds the capacity. This estimator asks for probes
    /// ([`poll_probe`](sfu_bwe::CongestionControl::poll_probe)), but a caller whose pacer
    /// cannot send them (str0m's pacer sends its own) still needs to find the capacity, so
    /// the default is 1.5.
    pub eta_per_second: f64,
    /// Packets sent within this interval form one group (§5.2), in `(0, 100 ms]`.
    /// Default 5 ms.
    pub burst_interval: Duration,
    /// Over-use must last this long (§5.4 `overuse_time_th`), at most 1 s. Default 10 ms.
    pub overuse_time: Duration,
    /// Window of the received rate R (§5.5 suggests 0.5–1 s), in `[100 ms, 5 s]`.
    /// Default 500 ms.
    pub receive_window: Duration,
    /// Loss fraction below which the loss cap grows (§6), in `[0, 1]`. Default 0.02.
    pub loss_low: f64,
    /// Loss fraction above which the loss cap shrinks (§6), in `[loss_low, 1]`.
    /// Default 0.10.
    pub loss_high: f64,
    /// Shortest loss-measurement window, in `(0, 10 s]`. Default 1 s.
    pub loss_window: Duration,
    /// Packets remembered by [`record_send_time`](crate::BandwidthEstimator::record_send_time)
    /// (rounded to a power of two). Default 8192.
    pub history_capacity: usize,
}

impl Default for KalmanConfig {
    fn default() -> Self {
        Self {
            bounds: BitrateBounds::default(),
            initial_bitrate: Bitrate::from_kbps(300),
            beta: 0.85,
            eta_per_second: 1.5,
            burst_interval: Duration::from_millis(5),
            overuse_time: Duration::from_millis(10),
            receive_window: Duration::from_millis(500),
            loss_low: 0.02,
            loss_high: 0.10,
            loss_window: Duration::from_secs(1),
            history_capacity: 8192,
        }
    }
}

/// Why a [`KalmanConfig`] was rejected.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum KalmanConfigError {
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
    /// `eta_per_second` is not in `(1, 4]`.
    #[error("eta {0} not in (1, 4]")]
    Eta(f64),
    /// `burst_interval` is zero or above 100 ms.
    #[error("burst interval {0:?} not in (0, 100 ms]")]
    BurstInterval(Duration),
    /// `overuse_time` is above 1 s.
    #[error("overuse time {0:?} above 1 s")]
    OveruseTime(Duration),
    /// `receive_window` is outside `[100 ms, 5 s]`.
    #[error("receive window {0:?} not in [100 ms, 5 s]")]
    ReceiveWindow(Duration),
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

impl KalmanConfig {
    /// Checks every field; [`BandwidthEstimator::new`](crate::BandwidthEstimator::new) calls
    /// this.
    pub fn validate(&self) -> Result<(), KalmanConfigError> {
        use KalmanConfigError as E;
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
        if !(self.eta_per_second > 1.0 && self.eta_per_second <= 4.0) {
            return Err(E::Eta(self.eta_per_second));
        }
        if self.burst_interval.is_zero() || self.burst_interval > Duration::from_millis(100) {
            return Err(E::BurstInterval(self.burst_interval));
        }
        if self.overuse_time > Duration::from_secs(1) {
            return Err(E::OveruseTime(self.overuse_time));
        }
        if self.receive_window < Duration::from_millis(100)
            || self.receive_window > Duration::from_secs(5)
        {
            return Err(E::ReceiveWindow(self.receive_window));
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
        assert_eq!(KalmanConfig::default().validate(), Ok(()));
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        let base = KalmanConfig::default();
        let mut c = base;
        c.beta = 1.0;
        assert!(matches!(c.validate(), Err(KalmanConfigError::Beta(_))));
        let mut c = base;
        c.eta_per_second = f64::NAN;
        assert!(matches!(c.validate(), Err(KalmanConfigError::Eta(_))));
        let mut c = base;
        c.receive_window = Duration::from_millis(10);
        assert!(matches!(
            c.validate(),
            Err(KalmanConfigError::ReceiveWindow(_))
        ));
        let mut c = base;
        c.loss_high = 1.5;
        assert!(matches!(
            c.validate(),
            Err(KalmanConfigError::LossThresholds { .. })
        ));
    }
}
