//! [`PacerConfig`] and its validation.

use std::time::Duration;

use sfu_bwe::Bitrate;

/// Tunables of [`SubscriberPacer`](crate::SubscriberPacer).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct PacerConfig {
    /// The pacing rate is `pacing_factor × estimate`, in `[1, 10]`. Default 2.5
    /// (libwebrtc `kDefaultPaceMultiplier`): layer selection keeps the average under the
    /// estimate; the factor only lets queued bursts (keyframes) drain quickly.
    pub pacing_factor: f64,
    /// The pacing rate never goes below this, > 0. Default 30 kbit/s.
    pub min_rate: Bitrate,
    /// Most packets queued at once, in `1..=65536`. Default 1024.
    pub max_queue_packets: usize,
    /// Unused budget accumulates up to this much sending time, in `(0, 1 s]`.
    /// Default 5 ms (libwebrtc's media burst interval).
    pub max_burst: Duration,
    /// Non-keyframe video waiting longer than this is dropped rather than sent late, in
    /// `[10 ms, 10 s]`. Default 2 s.
    pub max_queue_delay: Duration,
}

impl Default for PacerConfig {
    fn default() -> Self {
        Self {
            pacing_factor: 2.5,
            min_rate: Bitrate::from_kbps(30),
            max_queue_packets: 1024,
            max_burst: Duration::from_millis(5),
            max_queue_delay: Duration::from_secs(2),
        }
    }
}

/// Why a [`PacerConfig`] was rejected.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PacerConfigError {
    /// `pacing_factor` is not in `[1, 10]` (or is NaN).
    #[error("pacing factor {0} not in [1, 10]")]
    PacingFactor(f64),
    /// `min_rate` is zero.
    #[error("minimum pacing rate must be positive")]
    ZeroMinRate,
    /// `max_queue_packets` is not in `1..=65536`.
    #[error("queue bound {0} not in 1..=65536")]
    QueueBound(usize),
    /// `max_burst` is zero or above 1 s.
    #[error("max burst {0:?} not in (0, 1 s]")]
    MaxBurst(Duration),
    /// `max_queue_delay` is outside `[10 ms, 10 s]`.
    #[error("max queue delay {0:?} not in [10 ms, 10 s]")]
    MaxQueueDelay(Duration),
}

impl PacerConfig {
    /// Checks every field; [`SubscriberPacer::new`](crate::SubscriberPacer::new) calls this.
    pub fn validate(&self) -> Result<(), PacerConfigError> {
        if !(1.0..=10.0).contains(&self.pacing_factor) {
            return Err(PacerConfigError::PacingFactor(self.pacing_factor));
        }
        if self.min_rate == Bitrate::ZERO {
            return Err(PacerConfigError::ZeroMinRate);
        }
        if !(1..=65_536).contains(&self.max_queue_packets) {
            return Err(PacerConfigError::QueueBound(self.max_queue_packets));
        }
        if self.max_burst.is_zero() || self.max_burst > Duration::from_secs(1) {
            return Err(PacerConfigError::MaxBurst(self.max_burst));
        }
        if self.max_queue_delay < Duration::from_millis(10)
            || self.max_queue_delay > Duration::from_secs(10)
        {
            return Err(PacerConfigError::MaxQueueDelay(self.max_queue_delay));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        assert_eq!(PacerConfig::default().validate(), Ok(()));
    }

    #[test]
    fn each_invalid_field_has_its_error() {
        let base = PacerConfig::default();
        let mut c = base;
        c.pacing_factor = f64::NAN;
        assert!(matches!(
            c.validate(),
            Err(PacerConfigError::PacingFactor(_))
        ));
        let mut c = base;
        c.min_rate = Bitrate::ZERO;
        assert_eq!(c.validate(), Err(PacerConfigError::ZeroMinRate));
        let mut c = base;
        c.max_queue_packets = 0;
        assert_eq!(c.validate(), Err(PacerConfigError::QueueBound(0)));
        let mut c = base;
        c.max_burst = Duration::ZERO;
        assert_eq!(
            c.validate(),
            Err(PacerConfigError::MaxBurst(Duration::ZERO))
        );
        let mut c = base;
        c.max_queue_delay = Duration::from_secs(11);
        assert!(matches!(
            c.validate(),
            Err(PacerConfigError::MaxQueueDelay(_))
        ));
    }
}
