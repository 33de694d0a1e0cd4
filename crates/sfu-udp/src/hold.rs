//! How long a room holds what it receives: a histogram of hold times, kept by the room
//! task without locks or allocation, read from [`crate::RoomStats`].

use std::time::{Duration, SystemTime};

/// Upper bounds of the histogram's buckets; a last bucket takes everything longer.
pub const HOLD_BUCKETS: [Duration; 16] = [
    Duration::from_micros(50),
    Duration::from_micros(100),
    Duration::from_micros(200),
    Duration::from_micros(500),
    Duration::from_millis(1),
    Duration::from_millis(2),
    Duration::from_millis(3),
    Duration::from_millis(5),
    Duration::from_micros(7_500),
    Duration::from_millis(10),
    Duration::from_millis(15),
    Duration::from_millis(20),
    Duration::from_millis(30),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
];

/// Hold times of a room's datagrams: each from the kernel's receive timestamp to the end
/// of the room's send call after it handled the datagram (so queueing in the socket's
/// receive buffer counts, and so does waiting behind the datagrams read with it). A
/// forwarded packet leaves in that send call; what a datagram produces later (a paced
/// packet, an answer to a timeout) does not count. Datagrams without a timestamp (where the
/// system does not stamp them, or from an in-process relay) are not counted.
///
/// The counts only grow, like the room's other counters: a reader takes differences.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use sfu_udp::HoldTimes;
///
/// let mut hold = HoldTimes::default();
/// let now = SystemTime::now();
/// hold.record(now - Duration::from_micros(300), now);
/// hold.record(now - Duration::from_millis(3), now);
/// assert_eq!(hold.count(), 2);
/// // The bucket bound that half of them are within: (200 µs, 500 µs].
/// assert_eq!(hold.quantile(0.5), Some(Duration::from_micros(500)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HoldTimes {
    /// Datagrams per bucket (not cumulative); the last is beyond every bound.
    counts: [u64; HOLD_BUCKETS.len() + 1],
    /// Sum of every hold time recorded, in nanoseconds.
    sum_nanos: u64,
}

impl HoldTimes {
    /// Records a datagram the kernel stamped `arrived` whose handling ended with a send
    /// call that returned at `sent` (a clock step backwards counts as zero).
    pub fn record(&mut self, arrived: SystemTime, sent: SystemTime) {
        let held = sent.duration_since(arrived).unwrap_or_default();
        let bucket = HOLD_BUCKETS.partition_point(|bound| *bound < held);
        self.counts[bucket] += 1;
        self.sum_nanos = self
            .sum_nanos
            .saturating_add(u64::try_from(held.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Datagrams recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Datagrams per bucket: up to each bound of [`HOLD_BUCKETS`], then beyond the last.
    pub fn per_bucket(&self) -> &[u64] {
        &self.counts
    }

    /// The sum of their hold times.
    pub fn sum(&self) -> Duration {
        Duration::from_nanos(self.sum_nanos)
    }

    /// Each bound of [`HOLD_BUCKETS`] with the datagrams held no longer than it
    /// (cumulative, as Prometheus buckets are); [`HoldTimes::count`] is the total.
    pub fn cumulative(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        HOLD_BUCKETS
            .iter()
            .zip(self.counts.iter().scan(0, |total, n| {
                *total += n;
                Some(*total)
            }))
            .map(|(bound, n)| (*bound, n))
    }

    /// The smallest bucket bound that at least `q` (0..=1) of the datagrams are within;
    /// `None` with none recorded, or when more than `1 - q` are beyond the last bound.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let want = (q.clamp(0.0, 1.0) * total as f64).ceil() as u64;
        self.cumulative()
            .find(|(_, n)| *n >= want.max(1))
            .map(|(bound, _)| bound)
    }

    /// What was recorded since `earlier` (a snapshot of the same histogram).
    pub fn since(&self, earlier: &Self) -> Self {
        let mut counts = self.counts;
        for (n, before) in counts.iter_mut().zip(earlier.counts) {
            *n = n.saturating_sub(before);
        }
        Self {
            counts,
            sum_nanos: self.sum_nanos.saturating_sub(earlier.sum_nanos),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(times_us: &[u64]) -> HoldTimes {
        let mut h = HoldTimes::default();
        let sent = SystemTime::now();
        for us in times_us {
            h.record(sent - Duration::from_micros(*us), sent);
        }
        h
    }

    #[test]
    fn a_hold_time_on_a_bound_belongs_to_that_bucket() {
        let h = held(&[100, 101, 0]);
        let c: Vec<_> = h.cumulative().take(3).collect();
        assert_eq!(
            c,
            [
                (Duration::from_micros(50), 1),
                (Duration::from_micros(100), 2),
                (Duration::from_micros(200), 3)
            ]
        );
        assert_eq!(h.sum(), Duration::from_micros(201));
    }

    #[test]
    fn quantiles_name_the_bucket_and_give_up_beyond_the_last() {
        let mut times = vec![400; 98];
        times.extend([4_000, 300_000]);
        let h = held(&times);
        assert_eq!(h.quantile(0.5), Some(Duration::from_micros(500)));
        assert_eq!(h.quantile(0.99), Some(Duration::from_millis(5)));
        assert_eq!(h.quantile(1.0), None);
        assert_eq!(HoldTimes::default().quantile(0.5), None);
    }

    #[test]
    fn a_clock_step_backwards_is_a_zero_hold() {
        let mut h = HoldTimes::default();
        let now = SystemTime::now();
        h.record(now + Duration::from_secs(1), now);
        assert_eq!(h.quantile(1.0), Some(HOLD_BUCKETS[0]));
    }

    #[test]
    fn since_is_the_difference_of_two_snapshots() {
        let a = held(&[300]);
        let mut b = a;
        b.record(SystemTime::UNIX_EPOCH, SystemTime::UNIX_EPOCH);
        let d = b.since(&a);
        assert_eq!(d.count(), 1);
        assert_eq!(d.sum(), Duration::ZERO);
    }
}
