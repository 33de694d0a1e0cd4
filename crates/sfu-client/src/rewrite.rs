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

use std::time::Instant;

/// Per-track rewriting state. Pure: time is an argument.
#[derive(Debug, Clone)]
pub struct SeqTsRewriter {
    clock_rate: u32,
    state: Option<Active>,
}

#[derive(Debug, Clone, Copy)]
struct Active {
    /// `out = in + seq_offset` (wrapping in u64).
    seq_offset: u64,
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
        self.state = Some(Active {
            seq_offset: out_seq.wrapping_sub(seq_no),
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
