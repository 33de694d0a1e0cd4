//! [`QueueDelay`]: how long the bottleneck queue is, from one-way delays.
//!
//! A packet's one-way delay is the path's base delay plus the queue it met plus jitter, and
//! jitter only ever adds delay. So the smallest delay over a span, less the smallest over a
//! long history (the base, as far as seen), is the queue that stood through the whole span,
//! with jitter filtered out:
//!
//! - [`QueueDelay::standing`] over the last second or so: a queue that stays, as a
//!   loss-based competitor keeps it ([`crate::CompetitionDetector`]);
//! - [`QueueDelay::recent`] over the last 500 ms: whether there is a queue now, for
//!   [`underuse_needs_a_queue`] and [`queue_means_overuse`].
//!
//! The clocks of sender and receiver need not agree: only differences of delays are used.

use std::time::Duration;

use sfu_bwe::{BandwidthUsage, Timestamp};

/// Buckets of one-way delay history kept for the base delay, and their width: 120 s, long
/// enough to span the sawtooth of a TCP flow in a one-second queue.
const BASE_BUCKETS: usize = 30;
const BASE_BUCKET_S: u64 = 4;
/// Width of the short buckets, how many make a second, and how many the ring keeps: the
/// current and the previous second.
const SHORT_BUCKET_US: u64 = 100_000;
const SHORT_PER_SECOND: u64 = 10;
const SHORT_BUCKETS: usize = 20;
/// How far back from the newest bucket the ring reaches.
const SHORT_SPAN: u64 = SHORT_BUCKETS as u64 - 1;
/// Short buckets in the recent span: 500 ms.
const RECENT_BUCKETS: u64 = 5;

/// One-way delay minima over a long and two short spans (see the module documentation).
#[derive(Debug, Clone)]
pub struct QueueDelay {
    /// Smallest one-way delay (µs, arbitrary offset) per base bucket, ring indexed by bucket.
    minima: [i64; BASE_BUCKETS],
    /// The bucket number each slot holds.
    slot_bucket: [u64; BASE_BUCKETS],
    /// The smallest delay over the base buckets still in the window, recomputed when a new
    /// bucket starts (every 4 s) and lowered by each sample in between.
    base: i64,
    newest_bucket: u64,
    /// Smallest delay per 100 ms bucket of the last two seconds, ring indexed by bucket;
    /// slots of buckets that have passed are cleared as the newest bucket advances.
    short_minima: [i64; SHORT_BUCKETS],
    newest_short: Option<u64>,
}

impl Default for QueueDelay {
    fn default() -> Self {
        Self::new()
    }
}

impl QueueDelay {
    /// A tracker that has seen nothing.
    #[must_use]
    pub fn new() -> Self {
        Self {
            minima: [i64::MAX; BASE_BUCKETS],
            slot_bucket: [u64::MAX; BASE_BUCKETS],
            base: i64::MAX,
            newest_bucket: 0,
            short_minima: [i64::MAX; SHORT_BUCKETS],
            newest_short: None,
        }
    }

    /// A packet sent at `send` (sender clock) arrived at `arrival` (receiver clock). O(1),
    /// except when a 100 ms bucket starts (at most 20 slots cleared) and once per 4 s of
    /// send time (the base recomputed over 30 buckets).
    pub fn on_delay(&mut self, send: Timestamp, arrival: Timestamp) {
        let delay = arrival.as_micros() as i64 - send.as_micros() as i64;
        let bucket = send.as_micros() / SHORT_BUCKET_US;
        self.base_sample(bucket / SHORT_PER_SECOND, delay);
        let newest = match self.newest_short {
            Some(n) if bucket <= n => n,
            previous => {
                // A new bucket: clear the slots of the buckets it skipped and its own.
                let from = previous
                    .map_or(0, |n| n + 1)
                    .max(bucket.saturating_sub(SHORT_SPAN));
                for b in from..=bucket {
                    self.short_minima[Self::slot(b)] = i64::MAX;
                }
                self.newest_short = Some(bucket);
                bucket
            }
        };
        // A packet sent before the ring's span says nothing about the last two seconds.
        if newest - bucket <= SHORT_SPAN {
            let slot = &mut self.short_minima[Self::slot(bucket)];
            *slot = (*slot).min(delay);
        }
    }

    fn slot(bucket: u64) -> usize {
        (bucket % SHORT_BUCKETS as u64) as usize
    }

    fn base_sample(&mut self, second: u64, delay: i64) {
        let bucket = second / BASE_BUCKET_S;
        let slot = (bucket % BASE_BUCKETS as u64) as usize;
        if self.slot_bucket[slot] != bucket {
            self.slot_bucket[slot] = bucket;
            self.minima[slot] = i64::MAX;
        }
        self.minima[slot] = self.minima[slot].min(delay);
        if bucket > self.newest_bucket || self.base == i64::MAX {
            self.newest_bucket = self.newest_bucket.max(bucket);
            let newest = self.newest_bucket;
            self.base = (0..BASE_BUCKETS)
                .filter(|&i| {
                    self.slot_bucket[i] != u64::MAX
                        && newest.saturating_sub(self.slot_bucket[i]) < BASE_BUCKETS as u64
                })
                .map(|i| self.minima[i])
                .min()
                .unwrap_or(i64::MAX);
        } else {
            self.base = self.base.min(delay);
        }
    }

    fn above_base(&self, min: i64) -> Option<Duration> {
        if min == i64::MAX || self.base == i64::MAX {
            return None;
        }
        Some(Duration::from_micros(
            u64::try_from(min - self.base).unwrap_or(0),
        ))
    }

    /// The smallest delay of the short buckets from `first` to the newest. O(20).
    fn short_min_from(&self, first: u64) -> i64 {
        let Some(newest) = self.newest_short else {
            return i64::MAX;
        };
        (first.max(newest.saturating_sub(SHORT_SPAN))..=newest)
            .map(|b| self.short_minima[Self::slot(b)])
            .min()
            .unwrap_or(i64::MAX)
    }

    /// The standing queue: the smallest delay of the last second or so (the current and
    /// the previous second, since the current one may hold few packets) over the base.
    /// O(20).
    #[must_use]
    pub fn standing(&self) -> Option<Duration> {
        let second = self.newest_short.unwrap_or(0) / SHORT_PER_SECOND;
        let first = second.saturating_sub(1) * SHORT_PER_SECOND;
        self.above_base(self.short_min_from(first))
    }

    /// The queue now: the smallest delay of the last 500 ms over the base. O(20).
    #[must_use]
    pub fn recent(&self) -> Option<Duration> {
        let first = (self.newest_short.unwrap_or(0) + 1).saturating_sub(RECENT_BUCKETS);
        self.above_base(self.short_min_from(first))
    }
}

/// A delay detector's verdict, with under-use read as normal while the recent queue
/// ([`QueueDelay::recent`]) is below `threshold`.
///
/// Under-use says the queue is draining, and a controller holds its rate while it drains.
/// With no queue to drain, a falling delay gradient is jitter (in-order jitter bunches
/// arrivals behind a late packet), and holding on it stalls the increase for seconds on an
/// empty link.
#[must_use]
pub fn underuse_needs_a_queue(
    usage: BandwidthUsage,
    queue: &QueueDelay,
    threshold: Duration,
) -> BandwidthUsage {
    match usage {
        BandwidthUsage::Underusing if queue.recent().is_some_and(|q| q < threshold) => {
            BandwidthUsage::Normal
        }
        other => other,
    }
}

/// A delay detector's verdict, with normal read as over-use while the recent queue
/// ([`QueueDelay::recent`]) is above `threshold`.
///
/// Every packet of the last 500 ms met at least that queue, so it stands whatever the delay
/// gradient says: a detector whose gain jitter has lowered can miss its growth, and the
/// queue then grows past what interactive media tolerates.
#[must_use]
pub fn queue_means_overuse(
    usage: BandwidthUsage,
    queue: &QueueDelay,
    threshold: Duration,
) -> BandwidthUsage {
    match usage {
        BandwidthUsage::Normal if queue.recent().is_some_and(|q| q > threshold) => {
            BandwidthUsage::Overusing
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packets every 10 ms from `from_ms` for `ms`, each delayed by 50 ms plus `queue_ms`
    /// plus `jitter(i)`.
    fn feed(q: &mut QueueDelay, from_ms: u64, ms: u64, queue_ms: u64, jitter: impl Fn(u64) -> u64) {
        for i in 0..ms / 10 {
            let t = Timestamp::from_millis(from_ms + i * 10);
            let delay = 50 + queue_ms + jitter(i);
            q.on_delay(t, t.saturating_add(Duration::from_millis(delay)));
        }
    }

    #[test]
    fn jitter_alone_is_no_queue() {
        let mut q = QueueDelay::new();
        // Up to 30 ms of jitter; every seventh packet meets none.
        feed(
            &mut q,
            0,
            3000,
            0,
            |i| if i % 7 == 0 { 0 } else { i * 13 % 31 },
        );
        assert_eq!(q.recent(), Some(Duration::ZERO));
        assert_eq!(q.standing(), Some(Duration::ZERO));
    }

    #[test]
    fn a_queue_shows_in_the_recent_span_before_the_standing_one() {
        let mut q = QueueDelay::new();
        feed(&mut q, 0, 3000, 0, |_| 0);
        feed(&mut q, 3000, 600, 40, |_| 0);
        assert_eq!(q.recent(), Some(Duration::from_millis(40)));
        // The last second still holds packets from before the queue formed.
        assert_eq!(q.standing(), Some(Duration::ZERO));
    }

    #[test]
    fn underuse_stands_only_while_there_is_a_queue_to_drain() {
        let threshold = Duration::from_millis(10);
        let mut q = QueueDelay::new();
        assert_eq!(
            underuse_needs_a_queue(BandwidthUsage::Underusing, &q, threshold),
            BandwidthUsage::Underusing,
            "nothing measured yet"
        );
        feed(&mut q, 0, 2000, 0, |_| 0);
        assert_eq!(
            underuse_needs_a_queue(BandwidthUsage::Underusing, &q, threshold),
            BandwidthUsage::Normal
        );
        feed(&mut q, 2000, 600, 80, |_| 0);
        assert_eq!(
            underuse_needs_a_queue(BandwidthUsage::Underusing, &q, threshold),
            BandwidthUsage::Underusing
        );
        assert_eq!(
            underuse_needs_a_queue(BandwidthUsage::Overusing, &q, threshold),
            BandwidthUsage::Overusing
        );
    }

    #[test]
    fn a_queue_every_recent_packet_met_is_overuse() {
        let threshold = Duration::from_millis(60);
        let mut q = QueueDelay::new();
        feed(&mut q, 0, 2000, 0, |i| i * 13 % 31);
        assert_eq!(
            queue_means_overuse(BandwidthUsage::Normal, &q, threshold),
            BandwidthUsage::Normal,
            "jitter alone"
        );
        feed(&mut q, 2000, 600, 70, |i| i * 13 % 31);
        assert_eq!(
            queue_means_overuse(BandwidthUsage::Normal, &q, threshold),
            BandwidthUsage::Overusing
        );
        assert_eq!(
            queue_means_overuse(BandwidthUsage::Underusing, &q, threshold),
            BandwidthUsage::Underusing,
            "a draining queue is left to drain"
        );
    }
}
