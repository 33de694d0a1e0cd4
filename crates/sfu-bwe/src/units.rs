//! Unit newtypes: [`Bitrate`] and [`DataSize`].

use std::fmt;
use std::time::Duration;

/// A rate in bits per second. Arithmetic saturates; scaling by a float never panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bitrate(u64);

impl Bitrate {
    /// Zero bits per second.
    pub const ZERO: Self = Self(0);
    /// The largest representable rate.
    pub const MAX: Self = Self(u64::MAX);

    /// `bps` bits per second.
    #[must_use]
    pub const fn from_bps(bps: u64) -> Self {
        Self(bps)
    }

    /// `kbps` kilobits (1000 bits) per second, saturating.
    #[must_use]
    pub const fn from_kbps(kbps: u64) -> Self {
        Self(kbps.saturating_mul(1_000))
    }

    /// `mbps` megabits per second, saturating.
    #[must_use]
    pub const fn from_mbps(mbps: u64) -> Self {
        Self(mbps.saturating_mul(1_000_000))
    }

    /// Bits per second from a float; NaN and negative values give zero, huge values saturate.
    #[must_use]
    pub fn from_bps_f64(bps: f64) -> Self {
        if bps.is_nan() || bps <= 0.0 {
            Self::ZERO
        } else if bps >= u64::MAX as f64 {
            Self::MAX
        } else {
            Self(bps as u64)
        }
    }

    /// The rate needed to move `size` in `over`; `None` when `over` is zero.
    #[must_use]
    pub fn from_size_over(size: DataSize, over: Duration) -> Option<Self> {
        let micros = over.as_micros();
        if micros == 0 {
            return None;
        }
        let bps = u128::from(size.bits()).saturating_mul(1_000_000) / micros;
        Some(Self(u64::try_from(bps).unwrap_or(u64::MAX)))
    }

    /// Bits per second.
    #[must_use]
    pub const fn bps(self) -> u64 {
        self.0
    }

    /// Bits per second as a float.
    #[must_use]
    pub fn as_bps_f64(self) -> f64 {
        self.0 as f64
    }

    /// Kilobits per second as a float.
    #[must_use]
    pub fn as_kbps_f64(self) -> f64 {
        self.0 as f64 / 1_000.0
    }

    /// `self + rhs`, saturating.
    #[must_use]
    pub const fn saturating_add(self, rhs: Self) -> Self {
        Self(self.0.saturating_add(rhs.0))
    }

    /// `self - rhs`, saturating at zero.
    #[must_use]
    pub const fn saturating_sub(self, rhs: Self) -> Self {
        Self(self.0.saturating_sub(rhs.0))
    }

    /// `self × factor`; NaN or negative factors give zero, overflow saturates.
    #[must_use]
    pub fn scale(self, factor: f64) -> Self {
        Self::from_bps_f64(self.0 as f64 * factor)
    }

    /// How much data this rate moves in `d` (rounded down, saturating).
    #[must_use]
    pub fn bytes_in(self, d: Duration) -> DataSize {
        let bits = u128::from(self.0).saturating_mul(d.as_micros()) / 1_000_000;
        DataSize(u64::try_from(bits / 8).unwrap_or(u64::MAX))
    }

    /// How long moving `size` takes at this rate; `None` for a zero rate.
    #[must_use]
    pub fn time_to_send(self, size: DataSize) -> Option<Duration> {
        if self.0 == 0 {
            return None;
        }
        let micros = u128::from(size.bits()).saturating_mul(1_000_000) / u128::from(self.0);
        Some(Duration::from_micros(
            u64::try_from(micros).unwrap_or(u64::MAX),
        ))
    }
}

impl fmt::Display for Bitrate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= 1_000_000 {
            write!(f, "{:.3} Mbit/s", self.0 as f64 / 1e6)
        } else {
            write!(f, "{:.1} kbit/s", self.0 as f64 / 1e3)
        }
    }
}

/// An amount of data in bytes. Arithmetic saturates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DataSize(u64);

impl DataSize {
    /// Zero bytes.
    pub const ZERO: Self = Self(0);

    /// `bytes` bytes.
    #[must_use]
    pub const fn from_bytes(bytes: u64) -> Self {
        Self(bytes)
    }

    /// Bytes.
    #[must_use]
    pub const fn bytes(self) -> u64 {
        self.0
    }

    /// Bits, saturating.
    #[must_use]
    pub const fn bits(self) -> u64 {
        self.0.saturating_mul(8)
    }

    /// `self + rhs`, saturating.
    #[must_use]
    pub const fn saturating_add(self, rhs: Self) -> Self {
        Self(self.0.saturating_add(rhs.0))
    }

    /// `self - rhs`, saturating at zero.
    #[must_use]
    pub const fn saturating_sub(self, rhs: Self) -> Self {
        Self(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for DataSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} B", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_never_panics_and_clamps_to_range() {
        let r = Bitrate::from_kbps(100);
        assert_eq!(r.scale(f64::NAN), Bitrate::ZERO);
        assert_eq!(r.scale(-3.0), Bitrate::ZERO);
        assert_eq!(Bitrate::MAX.scale(2.0), Bitrate::MAX);
        assert_eq!(r.scale(0.85), Bitrate::from_bps(85_000));
    }

    #[test]
    fn rate_size_and_time_are_consistent() {
        let r = Bitrate::from_mbps(1);
        let size = DataSize::from_bytes(1250);
        assert_eq!(r.time_to_send(size), Some(Duration::from_millis(10)));
        assert_eq!(r.bytes_in(Duration::from_millis(10)), size);
        assert_eq!(
            Bitrate::from_size_over(size, Duration::from_millis(10)),
            Some(r)
        );
        assert_eq!(Bitrate::from_size_over(size, Duration::ZERO), None);
        assert_eq!(Bitrate::ZERO.time_to_send(size), None);
    }

    #[test]
    fn add_and_sub_saturate() {
        assert_eq!(
            Bitrate::MAX.saturating_add(Bitrate::from_bps(1)),
            Bitrate::MAX
        );
        assert_eq!(
            Bitrate::ZERO.saturating_sub(Bitrate::from_bps(1)),
            Bitrate::ZERO
        );
        assert_eq!(
            DataSize::ZERO.saturating_sub(DataSize::from_bytes(1)),
            DataSize::ZERO
        );
    }
}
