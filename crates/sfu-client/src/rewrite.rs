//! Sequence number and timestamp rewriting for one outgoing track.
//!
//! A subscriber must see one continuous RTP stream per track, whichever simulcast layer the
//! SFU currently forwards. Each layer has its own sequence space and RTP timestamp base, so
//! on every switch the rewriter rebases: the first packet of the new layer gets the next
//! sequence number, and a timestamp advanced by the wall-clock time since the last packet.
//!
//! A publisher that restarts its stream (a new SSRC, an encoder restart) jumps in sequence
//! number or timestamp; the rewriter reports that as a [`Discontinuity`] so the forwarder can
//! treat it like a layer switch instead of dropping the stream forever.
//!
//! A forwarder that drops packets of the current stream on purpose (the SVC layers a
//! subscriber does not receive) reports each with [`SeqTsRewriter::skip`]: later packets
//! close the gap, so the subscriber never asks for a packet that was never meant for it.
//! The offsets of the last [`REGIMES`] runs of skipped packets are kept, so a reordered or
//! retransmitted packet from before a run still gets its own number.

use std::time::Instant;

/// Per-track rewriting state. Pure: time is an argument.
#[derive(Debug, Clone)]
pub struct SeqTsRewriter {
    clock_rate: u32,
    state: Option<Active>,
}

/// Runs of skipped packets whose offsets are remembered.
const REGIMES: usize = 32;

/// From incoming sequence number `from` on (up to the next regime), `out = in + offset`
/// (wrapping in u64).
#[derive(Debug, Clone, Copy, Default)]
struct Regime {
    from: u64,
    offset: u64,
}

#[derive(Debug, Clone, Copy)]
struct Active {
    /// The offset of the newest regime.
    seq_offset: u64,
    /// Ring of regimes, `newest` the current one, `count` of them valid.
    regimes: [Regime; REGIMES],
    newest: usize,
    count: usize,
    /// Highest incoming sequence number seen, forwarded or skipped.
    max_in: u64,
    /// `out = in + ts_offset` (wrapping in u32).
    ts_offset: u32,
    /// Smallest outgoing sequence number of the current layer: older packets of the
    /// new layer would collide with the previous layer's numbers.
    floor: u64,
    /// Highest outgoing sequence number so far.
    max_seq: u64,
    /// Outgoing timestamp and arrival time of the most recent packet.
    last_ts: u32,
    last_at: Instant,
    /// Incoming timestamp of the most recent packet.
    last_in_ts: u32,
}

/// The rewritten header fields of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    /// Outgoing extended sequence number.
    pub seq_no: u64,
    /// Outgoing RTP timestamp.
    pub rtp_time: u32,
    /// `true` when this is the newest packet so far (not a reordered or repeated one).
    pub newest: bool,
}

/// Why [`SeqTsRewriter::rewrite`] refused a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RewriteError {
    /// Nothing was forwarded yet: call [`SeqTsRewriter::switch`] first.
    #[error("no stream started yet")]
    NotStarted,
    /// A late packet from before the current layer started; drop it.
    #[error("packet from before the current layer")]
    Stale,
    /// The source jumped in sequence number or timestamp: it restarted. Rebase with
    /// [`SeqTsRewriter::switch`] at the next keyframe (audio: at this packet).
    #[error("the source stream restarted")]
    Discontinuity,
}

/// A sequence jump larger than this, either way, is a restart, not loss or reordering.
const MAX_SEQ_JUMP: u64 = 3000;
/// A timestamp jump larger than this many seconds, either way, is a restart.
const MAX_TS_JUMP_SECS: u32 = 10;

/// The first outgoing sequence number. Small, so the SRTP roll-over counter starts at 0
/// on the subscriber without out-of-band signalling.
const FIRST_SEQ: u64 = 1;

impl SeqTsRewriter {
    /// A rewriter for a codec with `clock_rate` Hz RTP clock.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            state: None,
        }
    }

    /// Takes over where `previous` (another rewriter on the same outgoing stream) stopped:
    /// the next [`switch`](Self::switch) continues its sequence numbers and timestamps.
    /// This rewriter keeps its own clock rate.
    pub(crate) fn carry_on(&mut self, previous: &SeqTsRewriter) {
        self.state = previous.state;
    }

    /// `true` once a packet has been forwarded.
    pub fn is_started(&self) -> bool {
        self.state.is_some()
    }

    /// Rebases onto a new source stream whose next packet is `(seq_no, rtp_time)`, arriving
    /// at `now`. Call on the first packet after a layer switch (a keyframe).
    pub fn switch(&mut self, seq_no: u64, rtp_time: u32, now: Instant) -> Rewritten {
        let (out_seq, out_ts) = match self.state {
            None => (FIRST_SEQ, rtp_time),
            Some(a) => {
                let elapsed = now.saturating_duration_since(a.last_at);
                let ticks = (elapsed.as_micros() * u128::from(self.clock_rate) / 1_000_000)
                    .clamp(1, u128::from(u32::MAX / 2)) as u32;
                (a.max_seq + 1, a.last_ts.wrapping_add(ticks))
            }
        };
        let seq_offset = out_seq.wrapping_sub(seq_no);
        let mut regimes = [Regime::default(); REGIMES];
        regimes[0] = Regime {
            from: seq_no,
            offset: seq_offset,
        };
        self.state = Some(Active {
            seq_offset,
            regimes,
            newest: 0,
            count: 1,
            max_in: seq_no,
            ts_offset: out_ts.wrapping_sub(rtp_time),
            floor: out_seq,
            max_seq: out_seq,
            last_ts: out_ts,
            last_at: now,
            last_in_ts: rtp_time,
        });
        Rewritten {
            seq_no: out_seq,
            rtp_time: out_ts,
            newest: true,
        }
    }

    /// Rewrites a packet of the current source stream.
    pub fn rewrite(
        &mut self,
        seq_no: u64,
        rtp_time: u32,
        now: Instant,
    ) -> Result<Rewritten, RewriteError> {
        let max_ts_jump = self.clock_rate.saturating_mul(MAX_TS_JUMP_SECS);
        let a = self.state.as_mut().ok_or(RewriteError::NotStarted)?;
        let out = seq_no.wrapping_add(a.seq_offset);
        // Seen through the newest offset; a packet from before the newest run of skips
        // takes the offset it had then (if it was remembered).
        let newest_from = a.regimes[a.newest].from;
        let out = if a.count > 1
            && seq_no < newest_from
            && seq_no.saturating_add(MAX_SEQ_JUMP) >= newest_from
        {
            match a.offset_of(seq_no) {
                Some(offset) => seq_no.wrapping_add(offset),
                None => return Err(RewriteError::Stale),
            }
        } else {
            out
        };
        let ts_jump = rtp_time.wrapping_sub(a.last_in_ts);
        let ts_jumped = ts_jump > max_ts_jump && ts_jump.wrapping_neg() > max_ts_jump;
        // In u64, a source that restarted lower wraps around to a huge `out`.
        if out > a.max_seq.saturating_add(MAX_SEQ_JUMP)
            || out.saturating_add(MAX_SEQ_JUMP) < a.floor
            || ts_jumped
        {
            return Err(RewriteError::Discontinuity);
        }
        if out < a.floor {
            return Err(RewriteError::Stale);
        }
        let ts = rtp_time.wrapping_add(a.ts_offset);
        let newest = out > a.max_seq;
        a.max_in = a.max_in.max(seq_no);
        if newest {
            a.max_seq = out;
            a.last_ts = ts;
            a.last_at = now;
            a.last_in_ts = rtp_time;
        }
        Ok(Rewritten {
            seq_no: out,
            rtp_time: ts,
            newest,
        })
    }

    /// The packet `seq_no` of the current stream is dropped on purpose: the packets after
    /// it move down by one. A packet older than the newest one seen cannot be closed over
    /// (later packets already went out) and leaves its gap.
    pub fn skip(&mut self, seq_no: u64) {
        let Some(a) = self.state.as_mut() else {
            return;
        };
        if seq_no <= a.max_in || seq_no > a.max_in.saturating_add(MAX_SEQ_JUMP) {
            return;
        }
        a.max_in = seq_no;
        a.seq_offset = a.seq_offset.wrapping_sub(1);
        let current = &mut a.regimes[a.newest];
        if current.from == seq_no {
            // Another packet of the same run.
            *current = Regime {
                from: seq_no + 1,
                offset: a.seq_offset,
            };
            return;
        }
        a.newest = (a.newest + 1) % REGIMES;
        a.count = (a.count + 1).min(REGIMES);
        a.regimes[a.newest] = Regime {
            from: seq_no + 1,
            offset: a.seq_offset,
        };
    }
}

impl Active {
    /// The offset in force for incoming `seq_no`, newest regime first.
    fn offset_of(&self, seq_no: u64) -> Option<u64> {
        (0..self.count)
            .map(|k| self.regimes[(self.newest + REGIMES - k) % REGIMES])
            .find(|r| r.from <= seq_no)
            .map(|r| r.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    #[test]
    fn first_packet_starts_at_one_with_source_timestamp() {
        let mut r = SeqTsRewriter::new(90_000);
        let now = Instant::now();
        assert_eq!(
            r.switch(40_000, 1234, now),
            Rewritten {
                seq_no: 1,
                rtp_time: 1234,
                newest: true,
            }
        );
        assert_eq!(r.rewrite(40_001, 4234, now).unwrap().seq_no, 2);
    }

    #[test]
    fn switch_continues_sequence_and_advances_time_by_wallclock() {
        let mut r = SeqTsRewriter::new(90_000);
        let t0 = Instant::now();
        r.switch(100, 0, t0);
        r.rewrite(101, 3000, t0).unwrap();
        let t1 = t0 + Duration::from_millis(33);
        let out = r.switch(9_000, 777_777, t1);
        assert_eq!(out.seq_no, 3);
        assert_eq!(out.rtp_time, 3000 + 2970);
    }

    #[test]
    fn packets_from_before_the_switch_are_dropped() {
        let mut r = SeqTsRewriter::new(90_000);
        let t = Instant::now();
        r.switch(100, 0, t);
        r.rewrite(101, 0, t).unwrap();
        r.switch(5_000, 0, t);
        assert_eq!(r.rewrite(4_999, 0, t), Err(RewriteError::Stale));
        assert_eq!(r.rewrite(5_001, 0, t).unwrap().seq_no, 4);
    }

    #[test]
    fn nothing_is_forwarded_before_the_first_switch() {
        let mut r = SeqTsRewriter::new(48_000);
        assert_eq!(
            r.rewrite(1, 1, Instant::now()),
            Err(RewriteError::NotStarted)
        );
        assert!(!r.is_started());
    }

    #[test]
    fn a_restarted_source_is_a_discontinuity_not_a_stale_packet() {
        let t = Instant::now();
        // Sequence numbers restart far below.
        let mut r = SeqTsRewriter::new(90_000);
        r.switch(60_000, 1000, t);
        r.rewrite(60_001, 4000, t).unwrap();
        assert_eq!(r.rewrite(12, 4000, t), Err(RewriteError::Discontinuity));
        // ... or far above.
        assert_eq!(r.rewrite(90_000, 7000, t), Err(RewriteError::Discontinuity));
        // The timestamp jumps while the sequence continues.
        assert_eq!(
            r.rewrite(60_002, 4000 + 90_000 * 60, t),
            Err(RewriteError::Discontinuity)
        );
        // Reordering and loss within bounds are not.
        assert!(r.rewrite(60_003, 7000, t).is_ok());
        assert!(r.rewrite(60_900, 97_000, t).is_ok());
        assert!(r.rewrite(60_002, 4000, t).is_ok_and(|w| !w.newest));
    }

    #[test]
    fn skipped_packets_leave_no_gap_and_late_packets_keep_their_number() {
        let mut r = SeqTsRewriter::new(90_000);
        let t = Instant::now();
        r.switch(100, 0, t);
        // 101 goes; 102 and 103 are skipped; 105 arrives before 104; 106 skipped.
        assert_eq!(r.rewrite(101, 0, t).unwrap().seq_no, 2);
        r.skip(102);
        r.skip(103);
        assert_eq!(r.rewrite(105, 0, t).unwrap().seq_no, 4);
        assert_eq!(r.rewrite(104, 0, t).unwrap().seq_no, 3);
        r.skip(106);
        assert_eq!(r.rewrite(107, 0, t).unwrap().seq_no, 5);
        // A retransmission of 101 still maps to 2, of 105 to 4.
        assert_eq!(r.rewrite(101, 0, t).unwrap().seq_no, 2);
        assert_eq!(r.rewrite(105, 0, t).unwrap().seq_no, 4);
        // A late skip cannot renumber what went out: ignored.
        r.skip(104);
        assert_eq!(r.rewrite(108, 0, t).unwrap().seq_no, 6);
    }

    #[test]
    fn packets_older_than_the_remembered_skips_are_stale() {
        let mut r = SeqTsRewriter::new(90_000);
        let t = Instant::now();
        r.switch(1000, 0, t);
        let mut seq = 1000;
        for _ in 0..REGIMES + 2 {
            seq += 1;
            r.rewrite(seq, 0, t).unwrap();
            seq += 1;
            r.skip(seq);
        }
        assert_eq!(r.rewrite(1001, 0, t), Err(RewriteError::Stale));
        assert!(r.rewrite(seq - 1, 0, t).is_ok());
    }

    proptest! {
        /// Forwarding some packets of a stream and skipping the rest, in order, yields
        /// gapless outgoing numbers; any forwarded packet repeated later gets its number
        /// again.
        #[test]
        fn skips_are_closed_over(
            keep in proptest::collection::vec(any::<bool>(), 1..200),
            base in any::<u32>(),
        ) {
            let mut r = SeqTsRewriter::new(90_000);
            let t = Instant::now();
            let base = u64::from(base);
            r.switch(base, 0, t);
            let mut expected = 2u64;
            let mut sent = Vec::new();
            for (i, k) in keep.iter().enumerate() {
                let seq = base + 1 + i as u64;
                if *k {
                    let out = r.rewrite(seq, 0, t).unwrap();
                    prop_assert_eq!(out.seq_no, expected);
                    sent.push((seq, expected));
                    expected += 1;
                } else {
                    r.skip(seq);
                }
            }
            // Repeats within the remembered runs keep their numbers.
            for &(seq, out) in sent.iter().rev().take(REGIMES / 2) {
                prop_assert_eq!(r.rewrite(seq, 0, t).unwrap().seq_no, out);
            }
        }
    }

    proptest! {
        /// Whatever layers we switch between and however they interleave, outgoing sequence
        /// numbers of forwarded in-order packets are strictly increasing without gaps.
        #[test]
        fn output_is_continuous_across_switches(
            layers in proptest::collection::vec((any::<u32>(), any::<u32>(), 1usize..20), 1..10),
        ) {
            let mut r = SeqTsRewriter::new(90_000);
            let mut t = Instant::now();
            let mut expected = 1u64;
            for (base_seq, base_ts, count) in layers {
                let base = u64::from(base_seq);
                let first = r.switch(base, base_ts, t);
                prop_assert_eq!(first.seq_no, expected);
                expected += 1;
                for i in 1..count as u64 {
                    t += Duration::from_millis(10);
                    let out = r.rewrite(base + i, base_ts.wrapping_add(i as u32 * 900), t).unwrap();
                    prop_assert_eq!(out.seq_no, expected);
                    expected += 1;
                }
                t += Duration::from_millis(10);
            }
        }
    }
}
