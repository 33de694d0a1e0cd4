//! The bottleneck: a FIFO drop-tail queue served at a scheduled capacity, then a fixed
//! propagation delay and seeded random (non-congestion) loss.

use std::collections::VecDeque;
use std::time::Duration;

use sfu_bwe::{Bitrate, DataSize, Timestamp};

use crate::rng::SplitMix64;

/// Piecewise-constant link capacity over time.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacitySchedule {
    /// `(from, capacity)` steps, sorted by time; the first starts at zero.
    steps: Vec<(Timestamp, Bitrate)>,
}

impl CapacitySchedule {
    /// A constant capacity.
    #[must_use]
    pub fn constant(capacity: Bitrate) -> Self {
        Self {
            steps: vec![(Timestamp::ZERO, capacity)],
        }
    }

    /// Adds a step: from `at` on, the capacity is `capacity`. Steps must be added in time
    /// order; an earlier one replaces everything after it.
    #[must_use]
    pub fn then(mut self, at: Timestamp, capacity: Bitrate) -> Self {
        self.steps.retain(|(t, _)| *t < at);
        self.steps.push((at, capacity));
        self
    }

    /// The capacity in force at `t` (never below 1 kbit/s, so service times stay finite).
    #[must_use]
    pub fn at(&self, t: Timestamp) -> Bitrate {
        let idx = self.steps.partition_point(|(from, _)| *from <= t);
        let rate = if idx == 0 {
            self.steps.first()
        } else {
            self.steps.get(idx - 1)
        };
        rate.map_or(Bitrate::from_kbps(1), |(_, r)| {
            (*r).max(Bitrate::from_kbps(1))
        })
    }
}

/// Link parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// Bottleneck capacity over time.
    pub capacity: CapacitySchedule,
    /// One-way propagation delay (both directions).
    pub propagation: Duration,
    /// Drop-tail limit of the bottleneck queue.
    pub queue_limit: QueueLimit,
    /// Random loss probability after the bottleneck, as `(from, probability)` steps.
    pub loss: Vec<(Timestamp, f64)>,
    /// Seed of the loss generator.
    pub seed: u64,
}

/// How much the bottleneck queue holds before dropping arrivals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueLimit {
    /// A fixed number of bytes (a router buffer).
    Bytes(DataSize),
    /// A maximum queueing delay at the current capacity, as the RMCAT evaluation test
    /// cases specify it (RFC 8867 §4: "queue size … 300 ms").
    Delay(Duration),
}

/// What happened to one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Arrives at the receiver at this time.
    Arrives(Timestamp),
    /// Dropped at the tail of a full queue.
    QueueDrop,
    /// Lost at random after the bottleneck.
    RandomLoss,
}

/// The simulated bottleneck link.
#[derive(Debug, Clone)]
pub struct Link {
    config: LinkConfig,
    rng: SplitMix64,
    busy_until: Timestamp,
    /// Departure time and size of every packet still queued, oldest first.
    queue: VecDeque<(Timestamp, DataSize)>,
    queued: DataSize,
}

impl Link {
    /// A link with an empty queue.
    #[must_use]
    pub fn new(config: LinkConfig) -> Self {
        Self {
            rng: SplitMix64::new(config.seed),
            config,
            busy_until: Timestamp::ZERO,
            queue: VecDeque::new(),
            queued: DataSize::ZERO,
        }
    }

    /// The link's configuration.
    #[must_use]
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Hands a packet of `size` to the link at `now`.
    pub fn send(&mut self, now: Timestamp, size: DataSize) -> Delivery {
        while let Some(&(depart, s)) = self.queue.front() {
            if depart > now {
                break;
            }
            self.queue.pop_front();
            self.queued = self.queued.saturating_sub(s);
        }
        let start = now.max(self.busy_until);
        let full = match self.config.queue_limit {
            QueueLimit::Bytes(limit) => self.queued.saturating_add(size) > limit,
            QueueLimit::Delay(limit) => start.saturating_duration_since(now) > limit,
        };
        if full {
            return Delivery::QueueDrop;
        }
        let service = self
            .config
            .capacity
            .at(start)
            .time_to_send(size)
            .unwrap_or(Duration::ZERO);
        let depart = start.saturating_add(service);
        self.busy_until = depart;
        self.queue.push_back((depart, size));
        self.queued = self.queued.saturating_add(size);
        let loss = self.loss_at(now);
        // Draw for every packet, lossy or not, so changing the loss schedule later in a run
        // does not shift the random sequence earlier in it.
        if self.rng.next_f64() < loss {
            return Delivery::RandomLoss;
        }
        Delivery::Arrives(depart.saturating_add(self.config.propagation))
    }

    /// Queueing delay a packet entering at `now` would see.
    #[must_use]
    pub fn queue_delay(&self, now: Timestamp) -> Duration {
        self.busy_until.saturating_duration_since(now)
    }

    fn loss_at(&self, t: Timestamp) -> f64 {
        self.config
            .loss
            .iter()
            .rev()
            .find(|(from, _)| *from <= t)
            .map_or(0.0, |(_, p)| *p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(limit: u64) -> Link {
        Link::new(LinkConfig {
            capacity: CapacitySchedule::constant(Bitrate::from_mbps(1)),
            propagation: Duration::from_millis(10),
            queue_limit: QueueLimit::Bytes(DataSize::from_bytes(limit)),
            loss: vec![],
            seed: 1,
        })
    }

    #[test]
    fn packets_are_serialised_at_capacity() {
        let mut l = link(100_000);
        let size = DataSize::from_bytes(1250); // 10 ms at 1 Mbit/s
        assert_eq!(
            l.send(Timestamp::ZERO, size),
            Delivery::Arrives(Timestamp::from_millis(20))
        );
        assert_eq!(
            l.send(Timestamp::ZERO, size),
            Delivery::Arrives(Timestamp::from_millis(30))
        );
        assert_eq!(l.queue_delay(Timestamp::ZERO), Duration::from_millis(20));
    }

    #[test]
    fn full_queue_drops_the_tail() {
        let mut l = link(2500);
        let size = DataSize::from_bytes(1250);
        assert!(matches!(
            l.send(Timestamp::ZERO, size),
            Delivery::Arrives(_)
        ));
        assert!(matches!(
            l.send(Timestamp::ZERO, size),
            Delivery::Arrives(_)
        ));
        assert_eq!(l.send(Timestamp::ZERO, size), Delivery::QueueDrop);
        // Once the first has left, there is room again.
        assert!(matches!(
            l.send(Timestamp::from_millis(10), size),
            Delivery::Arrives(_)
        ));
    }

    #[test]
    fn delay_limit_drops_once_the_backlog_exceeds_it() {
        let mut l = link(0);
        l.config.queue_limit = QueueLimit::Delay(Duration::from_millis(15));
        let size = DataSize::from_bytes(1250);
        // Backlogs of 0 and 10 ms are accepted; 20 ms exceeds the limit.
        for _ in 0..2 {
            assert!(matches!(
                l.send(Timestamp::ZERO, size),
                Delivery::Arrives(_)
            ));
        }
        assert_eq!(l.send(Timestamp::ZERO, size), Delivery::QueueDrop);
    }

    #[test]
    fn schedule_steps_apply_from_their_time() {
        let s = CapacitySchedule::constant(Bitrate::from_mbps(2))
            .then(Timestamp::from_millis(1000), Bitrate::from_kbps(500));
        assert_eq!(s.at(Timestamp::from_millis(999)), Bitrate::from_mbps(2));
        assert_eq!(s.at(Timestamp::from_millis(1000)), Bitrate::from_kbps(500));
    }
}
