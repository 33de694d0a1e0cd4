//! Estimator outputs: [`BandwidthEstimate`], [`BandwidthUsage`] and [`BitrateBounds`].

use std::fmt;

use crate::{Bitrate, BoundsError};

/// An estimator's view of the bandwidth available on a path, in bits per second.
///
/// A newtype over [`Bitrate`] so that "what the network can carry" is not confused with
/// "what a stream sends". All math saturates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BandwidthEstimate(Bitrate);

impl BandwidthEstimate {
    /// An estimate of `bitrate`.
    #[must_use]
    pub const fn new(bitrate: Bitrate) -> Self {
        Self(bitrate)
    }

    /// The estimated rate.
    #[must_use]
    pub const fn bitrate(self) -> Bitrate {
        self.0
    }

    /// The estimated rate in bits per second.
    #[must_use]
    pub const fn bps(self) -> u64 {
        self.0.bps()
    }

    /// `self + rate`, saturating.
    #[must_use]
    pub const fn saturating_add(self, rate: Bitrate) -> Self {
        Self(self.0.saturating_add(rate))
    }

    /// `self - rate`, saturating at zero.
    #[must_use]
    pub const fn saturating_sub(self, rate: Bitrate) -> Self {
        Self(self.0.saturating_sub(rate))
    }

    /// `self × factor`, saturating; NaN or negative factors give zero.
    #[must_use]
    pub fn scale(self, factor: f64) -> Self {
        Self(self.0.scale(factor))
    }

    /// The estimate limited to `bounds`.
    #[must_use]
    pub fn clamp_to(self, bounds: BitrateBounds) -> Self {
        Self(bounds.clamp(self.0))
    }
}

impl From<Bitrate> for BandwidthEstimate {
    fn from(bitrate: Bitrate) -> Self {
        Self(bitrate)
    }
}

impl From<BandwidthEstimate> for Bitrate {
    fn from(estimate: BandwidthEstimate) -> Self {
        estimate.0
    }
}

impl fmt::Display for BandwidthEstimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The delay-based detector's verdict on the path (draft-ietf-rmcat-gcc-02 §5.4;
/// libwebrtc `BandwidthUsage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BandwidthUsage {
    /// Queueing delay is stable: the sender may probe upwards.
    #[default]
    Normal,
    /// Queueing delay grows: the sender exceeds the bottleneck capacity.
    Overusing,
    /// Queueing delay shrinks: a queue is draining; hold the rate.
    Underusing,
}

/// An inclusive `[min, max]` range every estimate is kept within.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BitrateBounds {
    min: Bitrate,
    max: Bitrate,
}

impl BitrateBounds {
    /// Bounds `[min, max]`; `min` must be positive and not above `max`.
    pub fn new(min: Bitrate, max: Bitrate) -> Result<Self, BoundsError> {
        if min == Bitrate::ZERO {
            return Err(BoundsError::ZeroMinimum);
        }
        if min > max {
            return Err(BoundsError::MinAboveMax { min, max });
        }
        Ok(Self { min, max })
    }

    /// The lower bound.
    #[must_use]
    pub const fn min(self) -> Bitrate {
        self.min
    }

    /// The upper bound.
    #[must_use]
    pub const fn max(self) -> Bitrate {
        self.max
    }

    /// `rate` limited to the bounds.
    #[must_use]
    pub fn clamp(self, rate: Bitrate) -> Bitrate {
        rate.clamp(self.min, self.max)
    }

    /// Whether `rate` lies within the bounds.
    #[must_use]
    pub fn contains(self, rate: Bitrate) -> bool {
        rate >= self.min && rate <= self.max
    }
}

impl Default for BitrateBounds {
    /// 30 kbit/s to 50 Mbit/s: below one audio stream is useless, above is beyond any
    /// single subscriber an SFU serves.
    fn default() -> Self {
        Self {
            min: Bitrate::from_kbps(30),
            max: Bitrate::from_mbps(50),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_reject_inverted_or_zero_ranges() {
        assert!(BitrateBounds::new(Bitrate::ZERO, Bitrate::from_kbps(1)).is_err());
        assert!(BitrateBounds::new(Bitrate::from_kbps(2), Bitrate::from_kbps(1)).is_err());
        let b = BitrateBounds::new(Bitrate::from_kbps(1), Bitrate::from_kbps(1)).unwrap();
        assert_eq!(b.clamp(Bitrate::MAX), Bitrate::from_kbps(1));
    }

    #[test]
    fn estimate_math_saturates() {
        let e = BandwidthEstimate::new(Bitrate::MAX);
        assert_eq!(
            e.saturating_add(Bitrate::from_bps(1)).bitrate(),
            Bitrate::MAX
        );
        assert_eq!(
            BandwidthEstimate::default()
                .saturating_sub(Bitrate::from_bps(1))
                .bps(),
            0
        );
    }
}
