//! Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01).

use crate::{DataSize, Timestamp};

/// A transport-wide sequence number as carried on the wire (16 bits, wrapping).
///
/// Deliberately not `Ord`: after a wrap, 3 follows 65533, so comparing raw values would
/// mislead. Estimators order packets by send or arrival time instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TwccSeq(u16);

impl TwccSeq {
    /// The sequence number `seq`.
    #[must_use]
    pub const fn new(seq: u16) -> Self {
        Self(seq)
    }

    /// The raw wire value.
    #[must_use]
    pub const fn get(self) -> u16 {
        self.0
    }

    /// The next sequence number, wrapping after `u16::MAX`.
    #[must_use]
    pub const fn next(self) -> Self {
        Self(self.0.wrapping_add(1))
    }
}

/// One packet as the sender handed it to the network, recorded for later feedback matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SentPacket {
    /// Its transport-wide sequence number.
    pub seq: TwccSeq,
    /// When it left the sender.
    pub send_time: Timestamp,
    /// Its size on the wire.
    pub size: DataSize,
}

/// What the receiver reported for one sequence number: when it arrived, or that it did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TwccReport {
    /// The reported sequence number.
    pub seq: TwccSeq,
    /// Arrival time in the receiver's clock, `None` when reported lost.
    ///
    /// Only differences between arrival times matter, so the receiver clock's epoch is free.
    pub arrival: Option<Timestamp>,
}

/// One TWCC feedback message: the reports for a run of sequence numbers.
///
/// Reuse one value across messages ([`TwccFeedback::clear`]) so the hot path allocates
/// nothing once its buffer has grown to the usual message size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TwccFeedback {
    received_at: Timestamp,
    reports: Vec<TwccReport>,
}

impl TwccFeedback {
    /// An empty feedback message that reached the sender at `received_at` (sender clock).
    #[must_use]
    pub fn new(received_at: Timestamp) -> Self {
        Self {
            received_at,
            reports: Vec::new(),
        }
    }

    /// An empty message with room for `capacity` reports.
    #[must_use]
    pub fn with_capacity(received_at: Timestamp, capacity: usize) -> Self {
        Self {
            received_at,
            reports: Vec::with_capacity(capacity),
        }
    }

    /// Empties the message for reuse, keeping its buffer, and sets its receive time.
    pub fn clear(&mut self, received_at: Timestamp) {
        self.received_at = received_at;
        self.reports.clear();
    }

    /// Adds a report: `arrival` is `None` for a packet the receiver reported lost.
    pub fn push(&mut self, seq: TwccSeq, arrival: Option<Timestamp>) {
        self.reports.push(TwccReport { seq, arrival });
    }

    /// When the message reached the sender (sender clock).
    #[must_use]
    pub const fn received_at(&self) -> Timestamp {
        self.received_at
    }

    /// The reports, in message order.
    #[must_use]
    pub fn reports(&self) -> &[TwccReport] {
        &self.reports
    }

    /// Number of reports.
    #[must_use]
    pub fn len(&self) -> usize {
        self.reports.len()
    }

    /// Whether the message reports nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.reports.is_empty()
    }
}

/// A report matched with what the sender recorded: the unit every estimator consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TwccSample {
    /// Transport-wide sequence number.
    pub seq: TwccSeq,
    /// When the packet left the sender (sender clock).
    pub send_time: Timestamp,
    /// When it arrived (receiver clock), `None` if lost.
    pub arrival: Option<Timestamp>,
    /// Its size on the wire.
    pub size: DataSize,
}

impl TwccSample {
    /// Whether the receiver reported the packet lost.
    #[must_use]
    pub const fn is_lost(&self) -> bool {
        self.arrival.is_none()
    }
}
