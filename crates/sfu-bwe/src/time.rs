//! Simulated-time friendly timestamps.

use std::fmt;
use std::time::Duration;

/// A point in time, as microseconds since an arbitrary epoch chosen by the caller.
///
/// Every crate of the BWE family takes time as an argument of this type and never reads a
/// clock. A real-time caller keeps one `std::time::Instant` as its epoch and converts with
/// [`Timestamp::from_duration`]`(now - epoch)`; a simulator simply counts. All arithmetic
/// saturates, so no input can make it panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The epoch itself.
    pub const ZERO: Self = Self(0);
    /// The latest representable time.
    pub const MAX: Self = Self(u64::MAX);

    /// A timestamp `micros` microseconds after the epoch.
    #[must_use]
    pub const fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    /// A timestamp `millis` milliseconds after the epoch (saturating).
    #[must_use]
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis.saturating_mul(1000))
    }

    /// A timestamp `since_epoch` after the epoch (saturating at [`Timestamp::MAX`]).
    #[must_use]
    pub fn from_duration(since_epoch: Duration) -> Self {
        Self(u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX))
    }

    /// Microseconds since the epoch.
    #[must_use]
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Time since the epoch.
    #[must_use]
    pub const fn as_duration(self) -> Duration {
        Duration::from_micros(self.0)
    }

    /// Seconds since the epoch as a float, for plots and reports.
    #[must_use]
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// `self + d`, saturating at [`Timestamp::MAX`].
    #[must_use]
    pub fn saturating_add(self, d: Duration) -> Self {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Self(self.0.saturating_add(micros))
    }

    /// `self - d`, saturating at [`Timestamp::ZERO`].
    #[must_use]
    pub fn saturating_sub(self, d: Duration) -> Self {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Self(self.0.saturating_sub(micros))
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    #[must_use]
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }

    /// Signed difference `self - other` in milliseconds; negative when `other` is later.
    ///
    /// Arrival-time filters work on signed delay variations, which this gives without a
    /// round trip through `Duration`.
    #[must_use]
    pub fn signed_millis_since(self, other: Self) -> f64 {
        if self.0 >= other.0 {
            (self.0 - other.0) as f64 / 1000.0
        } else {
            -((other.0 - self.0) as f64 / 1000.0)
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6}s", self.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        assert_eq!(
            Timestamp::MAX.saturating_add(Duration::from_secs(1)),
            Timestamp::MAX
        );
        assert_eq!(
            Timestamp::ZERO.saturating_sub(Duration::from_secs(1)),
            Timestamp::ZERO
        );
        assert_eq!(
            Timestamp::ZERO.saturating_duration_since(Timestamp::from_millis(5)),
            Duration::ZERO
        );
        assert_eq!(Timestamp::from_millis(u64::MAX), Timestamp::MAX);
    }

    #[test]
    fn signed_millis_is_antisymmetric() {
        let a = Timestamp::from_micros(1_500);
        let b = Timestamp::from_micros(4_000);
        assert!((b.signed_millis_since(a) - 2.5).abs() < 1e-12);
        assert!((a.signed_millis_since(b) + 2.5).abs() < 1e-12);
    }

    #[test]
    fn duration_round_trips() {
        let d = Duration::from_micros(123_456_789);
        assert_eq!(Timestamp::from_duration(d).as_duration(), d);
    }
}
