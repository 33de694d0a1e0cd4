//! The discrete-event loop: a paced sender at the estimate, the link, a browser-like TWCC
//! receiver, and the estimator under test.

use std::collections::VecDeque;
use std::time::Duration;

use sfu_bwe::{Bitrate, CongestionControl, DataSize, SentPacket, Timestamp, TwccFeedback, TwccSeq};

use crate::link::{Delivery, Link, LinkConfig};
use crate::trace::{Trace, TracePoint};

/// Everything a run needs besides the estimator.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// The bottleneck.
    pub link: LinkConfig,
    /// Simulated run length.
    pub duration: Duration,
    /// Size of every media packet.
    pub packet_size: DataSize,
    /// The receiver sends TWCC feedback this often (browsers: ~50 ms).
    pub feedback_interval: Duration,
    /// The trace records a point this often.
    pub sample_interval: Duration,
    /// First transport-wide sequence number (start near 65535 to cross the wrap).
    pub first_seq: u16,
    /// Offset of the receiver's clock from the sender's; only arrival differences matter.
    pub receiver_clock_offset: Duration,
}

/// One run of a scenario with one estimator.
#[derive(Debug)]
pub struct Simulation<C> {
    config: SimConfig,
    cc: C,
    link: Link,
    in_flight: VecDeque<(TwccSeq, Option<Timestamp>)>,
    feedback_queue: VecDeque<(Timestamp, TwccFeedback)>,
    report_buf: Vec<(TwccSeq, Option<Timestamp>)>,
    next_seq: TwccSeq,
    delivered: DataSize,
}

impl<C: CongestionControl> Simulation<C> {
    /// A simulation of `cc` under `config`.
    pub fn new(config: SimConfig, cc: C) -> Self {
        Self {
            link: Link::new(config.link.clone()),
            next_seq: TwccSeq::new(config.first_seq),
            config,
            cc,
            in_flight: VecDeque::new(),
            feedback_queue: VecDeque::new(),
            report_buf: Vec::new(),
            delivered: DataSize::ZERO,
        }
    }

    /// The estimator, e.g. to read diagnostics after [`run`](Self::run).
    pub fn estimator(&self) -> &C {
        &self.cc
    }

    /// Runs to the configured duration and returns the trace.
    pub fn run(&mut self) -> Trace {
        let end = Timestamp::from_duration(self.config.duration);
        let mut trace = Trace::default();
        let mut next_send = Timestamp::ZERO;
        let mut next_emit = Timestamp::ZERO.saturating_add(self.config.feedback_interval);
        let mut next_sample = Timestamp::ZERO;
        let mut delivered_at_last_sample = DataSize::ZERO;
        loop {
            let deliver = self
                .feedback_queue
                .front()
                .map_or(Timestamp::MAX, |(t, _)| *t);
            let now = deliver.min(next_emit).min(next_send).min(next_sample);
            if now > end {
                break;
            }
            if deliver == now {
                self.deliver_feedback(now);
            } else if next_emit == now {
                self.emit_feedback(now);
                next_emit = now.saturating_add(self.config.feedback_interval);
            } else if next_send == now {
                next_send = self.send_packet(now);
            } else {
                let interval = self.config.sample_interval;
                let bytes = self.delivered.saturating_sub(delivered_at_last_sample);
                delivered_at_last_sample = self.delivered;
                trace.push(TracePoint {
                    time: now,
                    capacity: self.link.config().capacity.at(now),
                    estimate: self.cc.estimate().bitrate(),
                    queue_delay: self.link.queue_delay(now),
                    delivered: Bitrate::from_size_over(bytes, interval).unwrap_or(Bitrate::ZERO),
                });
                next_sample = now.saturating_add(interval);
            }
        }
        trace
    }

    fn send_packet(&mut self, now: Timestamp) -> Timestamp {
        let size = self.config.packet_size;
        let seq = self.next_seq;
        self.next_seq = seq.next();
        self.cc.on_packet_sent(SentPacket {
            seq,
            send_time: now,
            size,
        });
        let arrival = match self.link.send(now, size) {
            Delivery::Arrives(t) => {
                self.delivered = self.delivered.saturating_add(size);
                Some(t)
            }
            Delivery::QueueDrop | Delivery::RandomLoss => None,
        };
        self.in_flight.push_back((seq, arrival));
        // Pace the next packet at the current estimate.
        let rate = self.cc.estimate().bitrate().max(Bitrate::from_kbps(10));
        now.saturating_add(rate.time_to_send(size).unwrap_or(Duration::from_millis(10)))
    }

    /// The receiver reports every packet up to the newest one that has arrived by `now`;
    /// gaps before it are reported lost, like a browser's TWCC generator.
    fn emit_feedback(&mut self, now: Timestamp) {
        self.report_buf.clear();
        while let Some(&(seq, arrival)) = self.in_flight.front() {
            match arrival {
                Some(t) if t > now => break,
                _ => {
                    self.in_flight.pop_front();
                    self.report_buf.push((seq, arrival));
                }
            }
        }
        // Losses after the last arrival are not known yet: keep them for the next message.
        while let Some(&(seq, None)) = self.report_buf.last() {
            self.report_buf.pop();
            self.in_flight.push_front((seq, None));
        }
        if self.report_buf.is_empty() {
            return;
        }
        let deliver_at = now.saturating_add(self.config.link.propagation);
        let mut fb = TwccFeedback::with_capacity(deliver_at, self.report_buf.len());
        let offset = self.config.receiver_clock_offset;
        for &(seq, arrival) in &self.report_buf {
            fb.push(seq, arrival.map(|t| t.saturating_add(offset)));
        }
        self.feedback_queue.push_back((deliver_at, fb));
    }

    fn deliver_feedback(&mut self, now: Timestamp) {
        let Some((_, fb)) = self.feedback_queue.pop_front() else {
            return;
        };
        // What RTCP would report: both propagation legs plus the standing queue.
        let rtt = self.config.link.propagation * 2 + self.link.queue_delay(now);
        self.cc.on_rtt(rtt, now);
        self.cc.on_feedback(&fb);
    }
}
