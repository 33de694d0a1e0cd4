//! The multi-flow discrete-event loop: media and TCP flows share one drop-tail bottleneck,
//! then each flow's packets travel its own propagation delay plus jitter.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Duration;

use sfu_bwe::{DataSize, Timestamp};

use crate::flow::{FlowKind, FlowSpec, NetworkConfig};
use crate::link::{Delivery, Link, LinkConfig};
use crate::media::{Feedback, MEDIA_PACKET, MediaFlow};
use crate::record::{QueueSample, Record};
use crate::rng::SplitMix64;
use crate::tcp::{SEGMENT, TcpAction, TcpReceiver, TcpSender};

enum Event {
    /// A media flow's pacer releases its next packet.
    MediaSend(usize),
    /// A media receiver sends its periodic feedback.
    MediaReport(usize),
    /// Media feedback reaches the sender.
    MediaFeedback(usize, Feedback),
    /// A TCP flow starts.
    TcpStart(usize),
    /// A TCP segment sent at the given time reaches the receiver.
    TcpSegment(usize, u64, Timestamp),
    /// A cumulative ACK, echoing the triggering segment's send time, reaches the sender.
    TcpAck(usize, u64, Timestamp),
    /// A TCP retransmission timer fires.
    TcpTimer(usize, u64),
    /// The end of a record bin.
    Sample,
}

struct Scheduled {
    at: Timestamp,
    order: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    /// Reversed, so the max-heap pops the earliest event; ties go in scheduling order.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.order).cmp(&(self.at, self.order))
    }
}

enum State {
    Media(MediaFlow),
    Tcp(TcpSender, TcpReceiver),
}

struct Flow {
    spec: FlowSpec,
    state: State,
    /// Latest arrival so far, to keep order when the jitter may not reorder.
    last_arrival: Timestamp,
}

/// One run of flows over a shared bottleneck.
pub struct Network {
    config: NetworkConfig,
    link: Link,
    jitter_rng: SplitMix64,
    flows: Vec<Flow>,
    queue: BinaryHeap<Scheduled>,
    order: u64,
    record: Record,
    actions: Vec<TcpAction>,
}

impl Network {
    /// A network running `flows` under `config`; media flows get a fresh estimator of their
    /// kind.
    #[must_use]
    pub fn new(config: NetworkConfig, flows: &[FlowSpec]) -> Self {
        let link = Link::new(LinkConfig {
            capacity: config.capacity.clone(),
            propagation: Duration::ZERO,
            queue_limit: config.queue_limit,
            loss: config.loss.clone(),
            seed: config.seed,
        });
        let flows = flows
            .iter()
            .map(|spec| Flow {
                state: match spec.kind {
                    FlowKind::Media(kind) => State::Media(MediaFlow::new(
                        kind.build_starting_at(spec.start_rate),
                        spec.min_rate,
                        spec.max_rate,
                    )),
                    FlowKind::Tcp => State::Tcp(TcpSender::new(), TcpReceiver::default()),
                },
                spec: spec.clone(),
                last_arrival: Timestamp::ZERO,
            })
            .collect::<Vec<_>>();
        let record = Record::new(config.bin, config.duration, flows.len());
        Self {
            jitter_rng: SplitMix64::new(config.seed ^ 0x6a09_e667_f3bc_c908),
            link,
            flows,
            queue: BinaryHeap::new(),
            order: 0,
            record,
            actions: Vec::new(),
            config,
        }
    }

    fn schedule(&mut self, at: Timestamp, event: Event) {
        self.order += 1;
        self.queue.push(Scheduled {
            at,
            order: self.order,
            event,
        });
    }

    /// Runs to the configured duration and returns what was recorded.
    #[must_use]
    pub fn run(mut self) -> Record {
        for i in 0..self.flows.len() {
            let start = self.flows[i].spec.start;
            match self.flows[i].state {
                State::Media(_) => {
                    self.schedule(start, Event::MediaSend(i));
                    let first = start.saturating_add(self.config.feedback_interval);
                    self.schedule(first, Event::MediaReport(i));
                }
                State::Tcp(..) => self.schedule(start, Event::TcpStart(i)),
            }
        }
        self.schedule(
            Timestamp::ZERO.saturating_add(self.config.bin),
            Event::Sample,
        );
        let end = Timestamp::from_duration(self.config.duration);
        while let Some(Scheduled { at, event, .. }) = self.queue.pop() {
            if at > end {
                break;
            }
            self.handle(at, event);
        }
        self.record
    }

    fn handle(&mut self, now: Timestamp, event: Event) {
        match event {
            Event::MediaSend(i) => self.media_send(i, now),
            Event::MediaReport(i) => {
                let one_way = self.flows[i].spec.one_way;
                let deliver = now.saturating_add(one_way);
                if let State::Media(m) = &mut self.flows[i].state
                    && let Some(fb) = m.feedback(now, deliver)
                {
                    self.schedule(deliver, Event::MediaFeedback(i, fb));
                }
                if now < self.flows[i].spec.stop {
                    let next = now.saturating_add(self.config.feedback_interval);
                    self.schedule(next, Event::MediaReport(i));
                }
            }
            Event::MediaFeedback(i, fb) => {
                if let State::Media(m) = &mut self.flows[i].state {
                    m.on_feedback(&fb, now);
                }
            }
            Event::TcpStart(i) => {
                let mut actions = std::mem::take(&mut self.actions);
                if let State::Tcp(s, _) = &mut self.flows[i].state {
                    s.start(now, &mut actions);
                }
                self.tcp_actions(i, now, &mut actions);
                self.actions = actions;
            }
            Event::TcpSegment(i, seq, sent) => {
                if let State::Tcp(_, r) = &mut self.flows[i].state {
                    let (new, ack) = r.on_segment(seq);
                    if new && let Some(bin) = self.record.bin_mut(i, now) {
                        bin.delivered = bin.delivered.saturating_add(SEGMENT);
                    }
                    let at = now.saturating_add(self.flows[i].spec.one_way);
                    self.schedule(at, Event::TcpAck(i, ack, sent));
                }
            }
            Event::TcpAck(i, ack, echo) => {
                let mut actions = std::mem::take(&mut self.actions);
                let flow = &mut self.flows[i];
                if let State::Tcp(s, _) = &mut flow.state
                    && now < flow.spec.stop
                {
                    s.on_ack(ack, echo, now, &mut actions);
                }
                self.tcp_actions(i, now, &mut actions);
                self.actions = actions;
            }
            Event::TcpTimer(i, generation) => {
                let mut actions = std::mem::take(&mut self.actions);
                let flow = &mut self.flows[i];
                if let State::Tcp(s, _) = &mut flow.state
                    && now < flow.spec.stop
                {
                    s.on_timer(generation, now, &mut actions);
                }
                self.tcp_actions(i, now, &mut actions);
                self.actions = actions;
            }
            Event::Sample => self.sample(now),
        }
    }

    /// Puts a packet of flow `i` on the bottleneck at `now`; returns its arrival time at
    /// the receiver, or `None` if it was lost.
    fn transmit(&mut self, i: usize, size: DataSize, now: Timestamp) -> Option<Timestamp> {
        let wait = self.link.queue_delay(now);
        let delivery = self.link.send(now, size);
        let flow = &mut self.flows[i];
        let arrival = match delivery {
            Delivery::Arrives(depart) => {
                let jitter = self.config.jitter;
                let z = self.jitter_rng.next_gaussian().abs().min(3.0);
                let extra = jitter.std.mul_f64(z);
                let mut at = depart
                    .saturating_add(flow.spec.one_way)
                    .saturating_add(extra);
                if !jitter.reorder {
                    at = at.max(flow.last_arrival);
                }
                flow.last_arrival = flow.last_arrival.max(at);
                Some(at)
            }
            Delivery::QueueDrop | Delivery::RandomLoss => None,
        };
        if delivery != Delivery::QueueDrop {
            self.record.flows[i].queue.push(QueueSample {
                at: now,
                delay: wait,
            });
        }
        if let Some(bin) = self.record.bin_mut(i, now) {
            bin.sent = bin.sent.saturating_add(size);
            bin.packets += 1;
            bin.lost += u32::from(arrival.is_none());
        }
        arrival
    }

    fn media_send(&mut self, i: usize, now: Timestamp) {
        let Some(at) = self.flows[i].spec.next_active(now) else {
            return;
        };
        if at > now {
            self.schedule(at, Event::MediaSend(i));
            return;
        }
        let arrival = self.transmit(i, MEDIA_PACKET, now);
        if let Some(a) = arrival
            && let Some(bin) = self.record.bin_mut(i, a)
        {
            bin.delivered = bin.delivered.saturating_add(MEDIA_PACKET);
        }
        if let State::Media(m) = &mut self.flows[i].state {
            let next = m.sent(now, arrival);
            self.schedule(next, Event::MediaSend(i));
        }
    }

    fn tcp_actions(&mut self, i: usize, now: Timestamp, actions: &mut Vec<TcpAction>) {
        for action in actions.drain(..) {
            match action {
                TcpAction::Send(seq) => {
                    if let Some(arrival) = self.transmit(i, SEGMENT, now) {
                        self.schedule(arrival, Event::TcpSegment(i, seq, now));
                    }
                }
                TcpAction::ArmTimer { at, generation } => {
                    self.schedule(at, Event::TcpTimer(i, generation));
                }
            }
        }
    }

    fn sample(&mut self, now: Timestamp) {
        // The bin that just ended.
        let t = now.saturating_sub(self.config.bin);
        if let Some(idx) = self.record.index(t) {
            self.record.capacity[idx] = self.config.capacity.at(t);
            for (i, flow) in self.flows.iter().enumerate() {
                let target = match &flow.state {
                    State::Media(m) => m.target(),
                    State::Tcp(s, _) => s.target(),
                };
                let bin = &mut self.record.flows[i].bins[idx];
                bin.target = target;
                bin.active = flow.spec.active_at(t);
            }
        }
        self.schedule(now.saturating_add(self.config.bin), Event::Sample);
    }
}
