//! The additive increase both delay-based controllers share.

use std::time::Duration;

use sfu_bwe::Bitrate;

/// Additive increase: one 1200-byte packet per 100 ms, 96 kbit/s per second, at every rate
/// and RTT. Every flow adds the same rate, which is what makes AIMD converge to equal
/// shares, and the short cycle keeps utilisation high. libwebrtc adds about one average-size
/// packet per RTT + 100 ms: slower, and faster for short-RTT flows than for long ones.
pub const ADDITIVE_INCREASE_PER_SECOND: Bitrate = Bitrate::from_kbps(96);

/// How much faster additive increase runs while the estimate is well below the rate the
/// last over-uses measured (each controller says where "well below" ends): the path
/// carried that rate without a queue a moment ago, so climbing there only makes up the
/// cut, and a capacity rise just after a cut shows seconds sooner. Near that rate, where
/// overshoot costs queueing delay, the pace is the usual one.
pub const RECOVERY_SPEEDUP: f64 = 2.0;

/// The additive step over `elapsed`, at [`RECOVERY_SPEEDUP`] times the usual pace while
/// `recovering`.
#[must_use]
pub fn additive_increase(elapsed: Duration, recovering: bool) -> Bitrate {
    let pace = if recovering { RECOVERY_SPEEDUP } else { 1.0 };
    ADDITIVE_INCREASE_PER_SECOND.scale(pace * elapsed.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_packet_per_100_ms_and_twice_that_while_recovering() {
        let second = Duration::from_secs(1);
        assert_eq!(additive_increase(second, false), Bitrate::from_kbps(96));
        assert_eq!(additive_increase(second, true), Bitrate::from_kbps(192));
        assert_eq!(
            additive_increase(Duration::from_millis(10), true),
            Bitrate::from_bps(1920)
        );
    }
}
