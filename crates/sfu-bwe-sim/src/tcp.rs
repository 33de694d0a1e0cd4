//! A bulk TCP NewReno transfer (RFC 5681 congestion control, RFC 6582 fast recovery,
//! RFC 6298 retransmission timer), counted in whole segments.
//!
//! The model keeps what decides how hard TCP pushes on a shared queue: slow start from an
//! initial window of 10 segments (RFC 6928), congestion avoidance of one segment per
//! window, halving on three duplicate ACKs with NewReno partial-ACK retransmission, and a
//! timeout that resets the window to one segment with exponential backoff. Like RFC
//! 6582's recommended "impatient" variant, only the first partial ACK of a recovery
//! restarts the timer, so a window that lost many segments ends in a timeout instead of
//! one retransmission per round trip. The receiver acknowledges every segment (no delayed
//! ACKs) with a cumulative ACK, echoes the send time of the segment that triggered it (the
//! RFC 7323 timestamp option, which gives an RTT sample per ACK without Karn's ambiguity),
//! and buffers out-of-order segments. There is no SACK, no receive-window limit and no
//! pacing, so a window leaves in one burst as it does from a real bulk sender.

use std::collections::BTreeSet;
use std::time::Duration;

use sfu_bwe::{Bitrate, DataSize, Timestamp};

/// Size of every segment on the wire.
pub(crate) const SEGMENT: DataSize = DataSize::from_bytes(1500);
const INITIAL_WINDOW: f64 = 10.0;
const MIN_RTO: Duration = Duration::from_secs(1);
const MAX_RTO: Duration = Duration::from_secs(60);
/// A window the queue can never hold; it only keeps the arithmetic bounded.
const MAX_WINDOW: f64 = 100_000.0;

/// What the sender state machine asks the network to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TcpAction {
    /// Send segment `seq`.
    Send(u64),
    /// Arm the retransmission timer: it fires at `at` unless re-armed (`generation`).
    ArmTimer { at: Timestamp, generation: u64 },
}

/// Sender state.
#[derive(Debug, Clone)]
pub(crate) struct TcpSender {
    cwnd: f64,
    ssthresh: f64,
    snd_una: u64,
    snd_nxt: u64,
    /// Highest segment ever sent + 1 (go-back-N after a timeout rewinds `snd_nxt` only).
    high_water: u64,
    dupacks: u32,
    /// `Some(recover)` during fast recovery.
    recover: Option<u64>,
    /// Whether the current recovery has seen a partial ACK.
    partial_acked: bool,
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    timer_generation: u64,
}

impl TcpSender {
    pub(crate) fn new() -> Self {
        Self {
            cwnd: INITIAL_WINDOW,
            ssthresh: MAX_WINDOW,
            snd_una: 0,
            snd_nxt: 0,
            high_water: 0,
            dupacks: 0,
            recover: None,
            partial_acked: false,
            srtt: None,
            rttvar: Duration::ZERO,
            rto: MIN_RTO,
            timer_generation: 0,
        }
    }

    /// The rate the window allows: `cwnd` segments per smoothed RTT.
    pub(crate) fn target(&self) -> Bitrate {
        let rtt = self.srtt.unwrap_or(Duration::from_millis(100));
        let bytes = DataSize::from_bytes((self.cwnd * SEGMENT.bytes() as f64) as u64);
        Bitrate::from_size_over(bytes, rtt).unwrap_or(Bitrate::ZERO)
    }

    /// Starts the transfer at `now`.
    pub(crate) fn start(&mut self, now: Timestamp, out: &mut Vec<TcpAction>) {
        self.fill(now, out);
    }

    fn flight(&self) -> f64 {
        (self.snd_nxt - self.snd_una) as f64
    }

    fn transmit(seq: u64, out: &mut Vec<TcpAction>) {
        out.push(TcpAction::Send(seq));
    }

    /// Sends new segments while the window allows.
    fn fill(&mut self, now: Timestamp, out: &mut Vec<TcpAction>) {
        let armed = self.snd_nxt > self.snd_una;
        while self.flight() < self.cwnd.floor() {
            let seq = self.snd_nxt;
            self.snd_nxt += 1;
            self.high_water = self.high_water.max(self.snd_nxt);
            Self::transmit(seq, out);
        }
        if !armed && self.snd_nxt > self.snd_una {
            self.arm(now, out);
        }
    }

    fn arm(&mut self, now: Timestamp, out: &mut Vec<TcpAction>) {
        self.timer_generation += 1;
        out.push(TcpAction::ArmTimer {
            at: now.saturating_add(self.rto),
            generation: self.timer_generation,
        });
    }

    fn rtt_sample(&mut self, rtt: Duration) {
        // RFC 6298 §2.
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(rtt);
                self.rttvar = self.rttvar.mul_f64(0.75) + diff.mul_f64(0.25);
                self.srtt = Some(srtt.mul_f64(0.875) + rtt.mul_f64(0.125));
            }
        }
        let srtt = self.srtt.unwrap_or(rtt);
        self.rto = (srtt + (self.rttvar * 4).max(Duration::from_millis(1))).clamp(MIN_RTO, MAX_RTO);
    }

    /// A cumulative ACK for everything below `ack`, echoing the send time `echo` of the
    /// segment that triggered it, reached the sender at `now`.
    pub(crate) fn on_ack(
        &mut self,
        ack: u64,
        echo: Timestamp,
        now: Timestamp,
        out: &mut Vec<TcpAction>,
    ) {
        if ack > self.snd_una {
            let newly = ack - self.snd_una;
            self.rtt_sample(now.saturating_duration_since(echo));
            self.snd_una = ack;
            self.snd_nxt = self.snd_nxt.max(ack);
            self.dupacks = 0;
            match self.recover {
                Some(recover) if ack >= recover => {
                    // Full ACK: leave fast recovery with the halved window.
                    self.recover = None;
                    self.cwnd = self.ssthresh;
                }
                Some(_) => {
                    // Partial ACK: the next hole was lost too; retransmit it, deflate.
                    Self::transmit(self.snd_una, out);
                    self.cwnd = (self.cwnd - newly as f64 + 1.0).max(1.0);
                }
                None if self.cwnd < self.ssthresh => self.cwnd += newly as f64,
                None => self.cwnd += newly as f64 / self.cwnd,
            }
            self.cwnd = self.cwnd.min(MAX_WINDOW);
            let partial = self.recover.is_some();
            if self.snd_nxt == self.snd_una {
                self.timer_generation += 1;
            } else if !partial || !self.partial_acked {
                self.arm(now, out);
            }
            self.partial_acked |= partial;
        } else if ack == self.snd_una && self.snd_nxt > self.snd_una {
            self.dupacks += 1;
            if self.recover.is_none() && self.dupacks == 3 {
                self.ssthresh = (self.flight() / 2.0).max(2.0);
                self.cwnd = self.ssthresh + 3.0;
                self.recover = Some(self.high_water);
                self.partial_acked = false;
                Self::transmit(self.snd_una, out);
            } else if self.recover.is_some() {
                self.cwnd += 1.0;
            }
        }
        self.fill(now, out);
    }

    /// The retransmission timer armed with `generation` fired at `now`.
    pub(crate) fn on_timer(&mut self, generation: u64, now: Timestamp, out: &mut Vec<TcpAction>) {
        if generation != self.timer_generation || self.snd_nxt == self.snd_una {
            return;
        }
        // RFC 5681 §3.1 (equation 4) and RFC 6298 §5.5: one segment, back off, go back N.
        self.ssthresh = (self.flight() / 2.0).max(2.0);
        self.cwnd = 1.0;
        self.recover = None;
        self.dupacks = 0;
        self.rto = (self.rto * 2).min(MAX_RTO);
        self.snd_nxt = self.snd_una + 1;
        Self::transmit(self.snd_una, out);
        self.arm(now, out);
    }
}

/// Receiver state: cumulative ACK point and out-of-order segments.
#[derive(Debug, Clone, Default)]
pub(crate) struct TcpReceiver {
    rcv_nxt: u64,
    out_of_order: BTreeSet<u64>,
}

impl TcpReceiver {
    /// Segment `seq` arrived; returns whether it was new data and the ACK to send.
    pub(crate) fn on_segment(&mut self, seq: u64) -> (bool, u64) {
        let new = seq >= self.rcv_nxt && !self.out_of_order.contains(&seq);
        if seq == self.rcv_nxt {
            self.rcv_nxt += 1;
            while self.out_of_order.remove(&self.rcv_nxt) {
                self.rcv_nxt += 1;
            }
        } else if seq > self.rcv_nxt {
            self.out_of_order.insert(seq);
        }
        (new, self.rcv_nxt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sends(out: &[TcpAction]) -> Vec<u64> {
        out.iter()
            .filter_map(|a| match a {
                TcpAction::Send(s) => Some(*s),
                TcpAction::ArmTimer { .. } => None,
            })
            .collect()
    }

    #[test]
    fn slow_start_doubles_the_window_per_round_trip() {
        let mut s = TcpSender::new();
        let mut out = Vec::new();
        s.start(Timestamp::ZERO, &mut out);
        assert_eq!(sends(&out), (0..10).collect::<Vec<_>>());
        out.clear();
        for ack in 1..=10 {
            s.on_ack(ack, Timestamp::ZERO, Timestamp::from_millis(100), &mut out);
        }
        assert_eq!(sends(&out).len(), 20);
    }

    #[test]
    fn three_duplicate_acks_halve_the_window_and_retransmit() {
        let mut s = TcpSender::new();
        let mut out = Vec::new();
        s.start(Timestamp::ZERO, &mut out);
        s.ssthresh = 5.0; // congestion avoidance from here
        out.clear();
        let t = Timestamp::from_millis(100);
        s.on_ack(1, Timestamp::ZERO, t, &mut out);
        out.clear();
        for _ in 0..3 {
            s.on_ack(1, Timestamp::ZERO, t, &mut out);
        }
        assert!(sends(&out).contains(&1), "{out:?}");
        assert!(s.cwnd < 10.0 && s.recover.is_some());
        // A full ACK ends recovery with the halved window.
        s.on_ack(s.high_water, Timestamp::ZERO, t, &mut out);
        assert_eq!(s.recover, None);
        assert!((s.cwnd - s.ssthresh).abs() < 1e-9);
    }

    #[test]
    fn timeout_resets_to_one_segment() {
        let mut s = TcpSender::new();
        let mut out = Vec::new();
        s.start(Timestamp::ZERO, &mut out);
        let generation = s.timer_generation;
        out.clear();
        s.on_timer(generation, Timestamp::from_millis(1000), &mut out);
        assert_eq!(sends(&out), vec![0]);
        assert!((s.cwnd - 1.0).abs() < 1e-9);
        assert_eq!(s.rto, Duration::from_secs(2));
    }

    #[test]
    fn receiver_acks_cumulatively_and_counts_duplicates_as_old() {
        let mut r = TcpReceiver::default();
        assert_eq!(r.on_segment(0), (true, 1));
        assert_eq!(r.on_segment(2), (true, 1));
        assert_eq!(r.on_segment(2), (false, 1));
        assert_eq!(r.on_segment(1), (true, 3));
        assert_eq!(r.on_segment(0), (false, 3));
    }
}
