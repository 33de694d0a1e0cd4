//! A media flow: a sender paced at its estimator's rate within an encoder range, padded
//! up to the rate of any probe cluster the estimator asks for, and a receiver that answers
//! with TWCC feedback like a browser does.

use std::collections::VecDeque;
use std::time::Duration;

use sfu_bwe::{Bitrate, CongestionControl, DataSize, SentPacket, Timestamp, TwccFeedback, TwccSeq};

/// Size of every media packet.
pub(crate) const MEDIA_PACKET: DataSize = DataSize::from_bytes(1200);

/// A packet on its way, as the receiver will see it.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    seq: TwccSeq,
    sent: Timestamp,
    /// `None`: lost.
    arrival: Option<Timestamp>,
}

/// Sender and receiver state of one media flow.
pub(crate) struct MediaFlow {
    cc: Box<dyn CongestionControl>,
    min_rate: Bitrate,
    max_rate: Bitrate,
    next_seq: TwccSeq,
    /// A probe cluster being sent: until when, and at what rate (padding fills the gap).
    probe: Option<(Timestamp, Bitrate)>,
    in_flight: VecDeque<InFlight>,
    receiver_clock_offset: Duration,
}

/// A feedback message and what the sender needs to take an RTT sample from it.
pub(crate) struct Feedback {
    pub(crate) message: TwccFeedback,
    /// Send time of the newest packet reported received, and how long the receiver held it
    /// before reporting.
    rtt_probe: Option<(Timestamp, Duration)>,
}

impl MediaFlow {
    pub(crate) fn new(
        cc: Box<dyn CongestionControl>,
        min_rate: Bitrate,
        max_rate: Bitrate,
    ) -> Self {
        Self {
            cc,
            min_rate,
            max_rate,
            next_seq: TwccSeq::new(65_000),
            probe: None,
            in_flight: VecDeque::new(),
            receiver_clock_offset: Duration::from_secs(1234),
        }
    }

    /// The rate the encoder produces: the estimate within the encoder's range.
    pub(crate) fn target(&self) -> Bitrate {
        self.cc
            .estimate()
            .bitrate()
            .clamp(self.min_rate, self.max_rate.max(self.min_rate))
    }

    /// Records a packet leaving at `now`, that arrives at `arrival` (or is lost), and
    /// returns when the next one leaves.
    pub(crate) fn sent(&mut self, now: Timestamp, arrival: Option<Timestamp>) -> Timestamp {
        if let Some(cluster) = self.cc.poll_probe(now) {
            self.probe = Some((now.saturating_add(cluster.duration), cluster.rate));
        }
        let seq = self.next_seq;
        self.next_seq = seq.next();
        self.cc.on_packet_sent(SentPacket {
            seq,
            send_time: now,
            size: MEDIA_PACKET,
        });
        self.in_flight.push_back(InFlight {
            seq,
            sent: now,
            arrival,
        });
        let mut rate = self.target().max(Bitrate::from_kbps(10));
        match self.probe {
            Some((until, probe)) if now < until => rate = rate.max(probe),
            Some(_) => self.probe = None,
            None => {}
        }
        now.saturating_add(
            rate.time_to_send(MEDIA_PACKET)
                .unwrap_or(Duration::from_millis(10)),
        )
    }

    /// The feedback the receiver sends at `now`: every packet up to the newest one that has
    /// arrived, those not (yet) there reported lost, like a browser's TWCC generator.
    /// `deliver_at` is when it will reach the sender.
    pub(crate) fn feedback(&mut self, now: Timestamp, deliver_at: Timestamp) -> Option<Feedback> {
        let newest = self
            .in_flight
            .iter()
            .rposition(|p| p.arrival.is_some_and(|a| a <= now))?;
        let mut message = TwccFeedback::with_capacity(deliver_at, newest + 1);
        let mut rtt_probe = None;
        for p in self.in_flight.drain(..=newest) {
            let arrival = p.arrival.filter(|a| *a <= now);
            if let Some(a) = arrival {
                rtt_probe = Some((p.sent, now.saturating_duration_since(a)));
            }
            message.push(
                p.seq,
                arrival.map(|a| a.saturating_add(self.receiver_clock_offset)),
            );
        }
        Some(Feedback { message, rtt_probe })
    }

    /// Hands feedback that reached the sender at `now` to the estimator, with the RTT
    /// sample RTCP would give.
    pub(crate) fn on_feedback(&mut self, feedback: &Feedback, now: Timestamp) {
        if let Some((sent, held)) = feedback.rtt_probe {
            let rtt = now.saturating_duration_since(sent).saturating_sub(held);
            self.cc.on_rtt(rtt, now);
        }
        self.cc.on_feedback(&feedback.message);
    }
}
