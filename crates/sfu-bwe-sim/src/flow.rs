//! What shares a bottleneck: [`FlowSpec`]s of media flows (one estimator each) and TCP
//! flows, and the [`NetworkConfig`] of the path they share.

use std::time::Duration;

use sfu_bwe::{Bitrate, Timestamp};

use crate::link::{CapacitySchedule, QueueLimit};
use crate::scenarios::EstimatorKind;

/// What a flow is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    /// RTP media paced at the estimate of one of our estimators, with TWCC feedback.
    Media(EstimatorKind),
    /// A bulk TCP NewReno transfer: slow start from 10 segments, congestion avoidance,
    /// fast retransmit and recovery with partial ACKs, an RFC 6298 timer with backoff; an
    /// ACK per segment, no SACK, no pacing.
    Tcp,
}

/// One flow through the shared bottleneck.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowSpec {
    /// What the flow is.
    pub kind: FlowKind,
    /// When it starts sending.
    pub start: Timestamp,
    /// When it stops for good ([`Timestamp::MAX`]: at the end of the run).
    pub stop: Timestamp,
    /// `(from, to)` intervals in which a media flow sends nothing (RFC 8867 §5.8).
    pub pauses: Vec<(Timestamp, Timestamp)>,
    /// One-way propagation delay of this flow's path, both directions.
    pub one_way: Duration,
    /// The rate a media flow's estimator starts from.
    pub start_rate: Bitrate,
    /// A media flow never sends below this rate (the encoder's floor).
    pub min_rate: Bitrate,
    /// A media flow never sends above this rate (the encoder's ceiling).
    pub max_rate: Bitrate,
}

impl FlowSpec {
    /// A media flow of `kind` from `start` to the end of the run: it starts at 150 kbit/s and
    /// sends 150 kbit/s – 1.5 Mbit/s (RFC 8867 §4.3, the video source).
    #[must_use]
    pub fn media(kind: EstimatorKind, start: Timestamp, one_way: Duration) -> Self {
        Self {
            kind: FlowKind::Media(kind),
            start,
            stop: Timestamp::MAX,
            pauses: Vec::new(),
            one_way,
            start_rate: Bitrate::from_kbps(150),
            min_rate: Bitrate::from_kbps(150),
            max_rate: Bitrate::from_kbps(1500),
        }
    }

    /// A bulk TCP flow from `start` to the end of the run.
    #[must_use]
    pub fn tcp(start: Timestamp, one_way: Duration) -> Self {
        Self {
            kind: FlowKind::Tcp,
            start,
            stop: Timestamp::MAX,
            pauses: Vec::new(),
            one_way,
            start_rate: Bitrate::ZERO,
            min_rate: Bitrate::ZERO,
            max_rate: Bitrate::MAX,
        }
    }

    /// Whether the flow sends at `t`.
    #[must_use]
    pub fn active_at(&self, t: Timestamp) -> bool {
        t >= self.start && t < self.stop && !self.pauses.iter().any(|(a, b)| t >= *a && t < *b)
    }

    /// When the flow next sends at or after `t`, if ever.
    #[must_use]
    pub fn next_active(&self, t: Timestamp) -> Option<Timestamp> {
        let mut t = t.max(self.start);
        while let Some(&(_, to)) = self.pauses.iter().find(|(a, b)| t >= *a && t < *b) {
            t = to;
        }
        (t < self.stop).then_some(t)
    }
}

/// Delay variation added to every packet after the bottleneck: RFC 8868 §4.5, an extra
/// delay `|N(0, std²)|` truncated at three standard deviations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Jitter {
    /// Standard deviation of the extra delay (zero: no jitter); it never exceeds 3 × this.
    pub std: Duration,
    /// `false` (RFC 8868's NR-BPDV, the model evaluations must use): a packet never
    /// overtakes an earlier one of its flow; its delay is raised to keep the order.
    /// `true` (RB-PDV): packets may arrive out of order.
    pub reorder: bool,
}

/// The shared path: one bottleneck, then per-flow propagation and jitter.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfig {
    /// Bottleneck capacity over time.
    pub capacity: CapacitySchedule,
    /// Drop-tail limit of the bottleneck queue.
    pub queue_limit: QueueLimit,
    /// Random loss probability after the bottleneck, as `(from, probability)` steps.
    pub loss: Vec<(Timestamp, f64)>,
    /// Delay variation after the bottleneck.
    pub jitter: Jitter,
    /// How often each media receiver sends TWCC feedback.
    pub feedback_interval: Duration,
    /// Simulated run length.
    pub duration: Duration,
    /// Seed of every random draw (loss, jitter).
    pub seed: u64,
    /// Width of the record's time bins.
    pub bin: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_and_stop_bound_activity() {
        let mut f = FlowSpec::media(
            EstimatorKind::GoogCc,
            Timestamp::from_millis(1000),
            Duration::from_millis(50),
        );
        f.pauses = vec![(Timestamp::from_millis(2000), Timestamp::from_millis(3000))];
        f.stop = Timestamp::from_millis(4000);
        assert!(!f.active_at(Timestamp::from_millis(999)));
        assert!(f.active_at(Timestamp::from_millis(1500)));
        assert!(!f.active_at(Timestamp::from_millis(2500)));
        assert_eq!(
            f.next_active(Timestamp::from_millis(2500)),
            Some(Timestamp::from_millis(3000))
        );
        assert_eq!(f.next_active(Timestamp::from_millis(4000)), None);
    }
}
