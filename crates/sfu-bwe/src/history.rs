//! [`SendHistory`]: O(1) send-time bookkeeping indexed by transport sequence number.

use crate::{DataSize, SentPacket, Timestamp, TwccFeedback, TwccReport, TwccSample, TwccSeq};

#[derive(Debug, Clone, Copy)]
struct Slot {
    seq: TwccSeq,
    send_time: Timestamp,
    size: DataSize,
    /// Recorded and not yet matched by a report; cleared on the first match so duplicated
    /// reports are ignored.
    pending: bool,
    /// Holds a recorded packet, matched or not.
    recorded: bool,
}

const EMPTY: Slot = Slot {
    seq: TwccSeq::new(0),
    send_time: Timestamp::ZERO,
    size: DataSize::ZERO,
    pending: false,
    recorded: false,
};

/// Remembers the send time and size of recently sent packets, to resolve feedback reports
/// into [`TwccSample`]s.
///
/// A ring buffer whose slot is `seq mod capacity` (capacity is a power of two dividing
/// 2¹⁶), so recording and looking up are O(1) whether or not the ring is full: a new packet
/// simply overwrites the one sent `capacity` packets earlier, whose feedback is long overdue.
/// The buffer is allocated once, in [`SendHistory::new`].
#[derive(Debug, Clone)]
pub struct SendHistory {
    slots: Box<[Slot]>,
    mask: usize,
}

impl SendHistory {
    /// Smallest capacity: a few feedback intervals at low rates.
    pub const MIN_CAPACITY: usize = 64;
    /// Largest capacity: the whole 16-bit sequence space.
    pub const MAX_CAPACITY: usize = 1 << 16;

    /// A history for about `capacity` packets, rounded up to a power of two within
    /// [`MIN_CAPACITY`](Self::MIN_CAPACITY)..=[`MAX_CAPACITY`](Self::MAX_CAPACITY).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity
            .clamp(Self::MIN_CAPACITY, Self::MAX_CAPACITY)
            .next_power_of_two();
        Self {
            slots: vec![EMPTY; capacity].into_boxed_slice(),
            mask: capacity - 1,
        }
    }

    /// Number of packets remembered.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Records a sent packet, overwriting whatever shared its slot. O(1).
    #[inline]
    pub fn record(&mut self, packet: SentPacket) {
        let idx = usize::from(packet.seq.get()) & self.mask;
        self.slots[idx] = Slot {
            seq: packet.seq,
            send_time: packet.send_time,
            size: packet.size,
            pending: true,
            recorded: true,
        };
    }

    /// The packet recorded as `seq`, matched or not, while its slot still holds it. O(1).
    #[must_use]
    pub fn sent(&self, seq: TwccSeq) -> Option<SentPacket> {
        let slot = &self.slots[usize::from(seq.get()) & self.mask];
        (slot.recorded && slot.seq == seq).then_some(SentPacket {
            seq,
            send_time: slot.send_time,
            size: slot.size,
        })
    }

    /// Matches a report with its recorded packet. O(1).
    ///
    /// Returns `None` for a sequence number never recorded, already overwritten, or already
    /// matched (a duplicated report).
    #[inline]
    pub fn resolve(&mut self, report: TwccReport) -> Option<TwccSample> {
        let idx = usize::from(report.seq.get()) & self.mask;
        let slot = &mut self.slots[idx];
        if !slot.pending || slot.seq != report.seq {
            return None;
        }
        slot.pending = false;
        Some(TwccSample {
            seq: report.seq,
            send_time: slot.send_time,
            arrival: report.arrival,
            size: slot.size,
        })
    }

    /// Resolves every report of `feedback`: calls `on_report(lost)` for each matched one
    /// (for loss accounting) and leaves the received samples in `received`, cleared first
    /// and sorted by arrival time. Reuses `received`'s allocation.
    pub fn resolve_feedback(
        &mut self,
        feedback: &TwccFeedback,
        received: &mut Vec<TwccSample>,
        mut on_report: impl FnMut(bool),
    ) {
        received.clear();
        for report in feedback.reports() {
            if let Some(sample) = self.resolve(*report) {
                on_report(sample.is_lost());
                if !sample.is_lost() {
                    received.push(sample);
                }
            }
        }
        received.sort_unstable_by_key(|s| s.arrival);
    }
}

impl Default for SendHistory {
    /// 8192 packets: about 3 s at 25 Mbit/s of 1200-byte packets.
    fn default() -> Self {
        Self::new(8192)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(seq: u16, ms: u64) -> SentPacket {
        SentPacket {
            seq: TwccSeq::new(seq),
            send_time: Timestamp::from_millis(ms),
            size: DataSize::from_bytes(1200),
        }
    }

    fn report(seq: u16) -> TwccReport {
        TwccReport {
            seq: TwccSeq::new(seq),
            arrival: Some(Timestamp::from_millis(1)),
        }
    }

    #[test]
    fn feedback_resolution_counts_loss_and_sorts_received_by_arrival() {
        let mut h = SendHistory::new(64);
        for seq in 1..=4 {
            h.record(sent(seq, u64::from(seq)));
        }
        let mut fb = TwccFeedback::new(Timestamp::from_millis(100));
        fb.push(TwccSeq::new(3), Some(Timestamp::from_millis(40)));
        fb.push(TwccSeq::new(1), Some(Timestamp::from_millis(50)));
        fb.push(TwccSeq::new(2), None);
        fb.push(TwccSeq::new(1), Some(Timestamp::from_millis(60))); // duplicate
        fb.push(TwccSeq::new(9), Some(Timestamp::from_millis(10))); // never sent
        let mut received = vec![TwccSample {
            seq: TwccSeq::new(0),
            send_time: Timestamp::ZERO,
            arrival: None,
            size: DataSize::from_bytes(0),
        }];
        let mut outcomes = Vec::new();
        h.resolve_feedback(&fb, &mut received, |lost| outcomes.push(lost));
        assert_eq!(outcomes, vec![false, false, true]);
        let seqs: Vec<u16> = received.iter().map(|s| s.seq.get()).collect();
        assert_eq!(seqs, vec![3, 1]);
    }

    #[test]
    fn duplicated_report_resolves_once() {
        let mut h = SendHistory::new(64);
        h.record(sent(7, 3));
        assert_eq!(
            h.resolve(report(7)).map(|s| s.send_time),
            Some(Timestamp::from_millis(3))
        );
        assert_eq!(h.resolve(report(7)), None);
    }

    #[test]
    fn sent_finds_a_recorded_packet_matched_or_not_and_nothing_else() {
        let mut h = SendHistory::new(64);
        // An empty slot is not a packet, not even for sequence number 0.
        assert_eq!(h.sent(TwccSeq::new(0)), None);
        h.record(sent(5, 3));
        assert_eq!(h.sent(TwccSeq::new(5)), Some(sent(5, 3)));
        assert!(h.resolve(report(5)).is_some());
        assert_eq!(h.sent(TwccSeq::new(5)), Some(sent(5, 3)));
        // Overwritten by the packet sharing its slot.
        h.record(sent(69, 4));
        assert_eq!(h.sent(TwccSeq::new(5)), None);
    }

    #[test]
    fn overwritten_slot_does_not_match_old_sequence() {
        let mut h = SendHistory::new(64);
        h.record(sent(1, 1));
        h.record(sent(65, 2));
        assert_eq!(h.resolve(report(1)), None);
        assert!(h.resolve(report(65)).is_some());
    }

    #[test]
    fn wrapping_sequence_numbers_resolve() {
        let mut h = SendHistory::new(64);
        h.record(sent(u16::MAX, 1));
        h.record(sent(0, 2));
        assert!(h.resolve(report(u16::MAX)).is_some());
        assert!(h.resolve(report(0)).is_some());
    }

    #[test]
    fn capacity_is_a_power_of_two_within_limits() {
        assert_eq!(SendHistory::new(0).capacity(), 64);
        assert_eq!(SendHistory::new(100).capacity(), 128);
        assert_eq!(SendHistory::new(usize::MAX).capacity(), 1 << 16);
    }
}
