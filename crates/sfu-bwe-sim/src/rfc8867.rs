//! The RFC 8867 test cases with the RFC's parameters, extra path conditions, and the
//! targets every run is judged against.
//!
//! Common to every case (RFC 8867 §4): drop-tail bottleneck queue of 300 ms at the current
//! capacity, 50 ms one-way propagation unless the case says otherwise, video sources of
//! 150 kbit/s – 1.5 Mbit/s starting at 150 kbit/s, 1200-byte media packets, TWCC feedback
//! every 50 or 100 ms, an uncongested reverse path. Capacities are decimal (1 Mbit/s =
//! 10⁶ bit/s).

use std::time::Duration;

use sfu_bwe::{Bitrate, Timestamp};

use crate::flow::{FlowKind, FlowSpec, Jitter, NetworkConfig};
use crate::link::{CapacitySchedule, QueueLimit};
use crate::metrics::{self, WindowMetrics};
use crate::network::Network;
use crate::record::Record;
use crate::scenarios::EstimatorKind;

/// Time allowed after a capacity change before a phase counts as steady.
pub const SETTLE_AFTER_CAPACITY_S: f64 = 5.0;
/// Time allowed after a flow joins, leaves, pauses or resumes before a phase counts as
/// steady (the flows must first find their new shares).
pub const SETTLE_AFTER_FLOWS_S: f64 = 10.0;

/// One RFC 8867 test case, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Identifier, e.g. `5.1` or `5.1-loss5`.
    pub name: String,
    /// One-line description.
    pub title: String,
    /// The shared path.
    pub network: NetworkConfig,
    /// The flows, media first.
    pub flows: Vec<FlowSpec>,
    /// Times (s) at which the capacity changes.
    pub capacity_changes: Vec<f64>,
    /// Times (s) at which a flow starts, stops, pauses or resumes.
    pub flow_changes: Vec<f64>,
}

/// Conditions the suite runs a case under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conditions {
    /// The estimator of every media flow.
    pub estimator: EstimatorKind,
    /// Seed of loss and jitter.
    pub seed: u64,
    /// TWCC feedback interval.
    pub feedback_interval: Duration,
}

const MS50: Duration = Duration::from_millis(50);

fn s(v: f64) -> Timestamp {
    Timestamp::from_duration(Duration::from_secs_f64(v))
}

fn mbps(v: f64) -> Bitrate {
    Bitrate::from_bps_f64(v * 1e6)
}

fn network(c: Conditions, capacity: CapacitySchedule, duration_s: u64) -> NetworkConfig {
    NetworkConfig {
        capacity,
        queue_limit: QueueLimit::Delay(Duration::from_millis(300)),
        loss: Vec::new(),
        jitter: Jitter::default(),
        feedback_interval: c.feedback_interval,
        duration: Duration::from_secs(duration_s),
        seed: c.seed,
        bin: Duration::from_millis(100),
    }
}

fn schedule(steps: &[(f64, f64)]) -> (CapacitySchedule, Vec<f64>) {
    let mut sched = CapacitySchedule::constant(mbps(steps[0].1));
    for &(t, r) in &steps[1..] {
        sched = sched.then(s(t), mbps(r));
    }
    (sched, steps[1..].iter().map(|(t, _)| *t).collect())
}

impl Case {
    /// §5.1: one flow; 1.0 → 2.5 → 0.6 → 1.0 Mbit/s at 0, 40, 60, 80 s; 100 s; the flow
    /// ends at 99 s. `one_way` is 50 or 100 ms in the RFC.
    #[must_use]
    pub fn variable_capacity(c: Conditions, one_way: Duration) -> Self {
        let (capacity, changes) = schedule(&[(0.0, 1.0), (40.0, 2.5), (60.0, 0.6), (80.0, 1.0)]);
        let mut flow = FlowSpec::media(c.estimator, Timestamp::ZERO, one_way);
        flow.stop = s(99.0);
        Self {
            name: if one_way == MS50 {
                "5.1".into()
            } else {
                format!("5.1-{}ms", one_way.as_millis())
            },
            title: format!(
                "variable capacity, one flow, {} ms one-way",
                one_way.as_millis()
            ),
            network: network(c, capacity, 100),
            flows: vec![flow],
            capacity_changes: changes,
            flow_changes: vec![0.0, 99.0],
        }
    }

    /// §5.1 with random loss `p` from the start (RFC 8868 §4.4 loss rates).
    #[must_use]
    pub fn variable_capacity_with_loss(c: Conditions, p: f64) -> Self {
        let mut case = Self::variable_capacity(c, MS50);
        case.network.loss = vec![(Timestamp::ZERO, p)];
        case.name = format!("5.1-loss{}", (p * 100.0).round());
        case.title = format!("{}, {} % random loss", case.title, (p * 100.0).round());
        case
    }

    /// §5.1 with RFC 8868 §4.5 jitter: up to 30 ms (σ = 10 ms), order kept; or, with
    /// `reorder`, σ = 5 ms (up to 15 ms) with packets free to overtake each other.
    #[must_use]
    pub fn variable_capacity_with_jitter(c: Conditions, reorder: bool) -> Self {
        let mut case = Self::variable_capacity(c, MS50);
        case.network.jitter = if reorder {
            Jitter {
                std: Duration::from_millis(5),
                reorder: true,
            }
        } else {
            Jitter {
                std: Duration::from_millis(10),
                reorder: false,
            }
        };
        case.name = if reorder { "5.1-reorder" } else { "5.1-jitter" }.into();
        case.title = if reorder {
            format!("{}, jitter ≤ 15 ms with reordering", case.title)
        } else {
            format!("{}, jitter ≤ 30 ms", case.title)
        };
        case
    }

    /// §5.2: two flows; 4 → 2 → 3.5 → 1 → 2 Mbit/s at 0, 25, 50, 75, 100 s; 125 s.
    #[must_use]
    pub fn variable_capacity_two_flows(c: Conditions) -> Self {
        let (capacity, changes) = schedule(&[
            (0.0, 4.0),
            (25.0, 2.0),
            (50.0, 3.5),
            (75.0, 1.0),
            (100.0, 2.0),
        ]);
        let flows = (0..2)
            .map(|_| FlowSpec::media(c.estimator, Timestamp::ZERO, MS50))
            .collect();
        Self {
            name: "5.2".into(),
            title: "variable capacity, two flows".into(),
            network: network(c, capacity, 125),
            flows,
            capacity_changes: changes,
            flow_changes: vec![0.0],
        }
    }

    /// §5.4: three flows starting at 0, 20 and 40 s over 3.5 Mbit/s; 120 s.
    #[must_use]
    pub fn competing_flows(c: Conditions) -> Self {
        let flows = [0.0, 20.0, 40.0]
            .iter()
            .map(|&t| FlowSpec::media(c.estimator, s(t), MS50))
            .collect();
        Self {
            name: "5.4".into(),
            title: "three flows joining at 0, 20, 40 s, 3.5 Mbit/s".into(),
            network: network(c, CapacitySchedule::constant(mbps(3.5)), 120),
            flows,
            capacity_changes: Vec::new(),
            flow_changes: vec![0.0, 20.0, 40.0],
        }
    }

    /// §5.5: five flows with one-way delays 10, 25, 50, 100, 150 ms starting at 0, 10, 20,
    /// 30, 40 s over 4 Mbit/s; 300 s.
    #[must_use]
    pub fn rtt_fairness(c: Conditions) -> Self {
        let flows = [10, 25, 50, 100, 150]
            .iter()
            .enumerate()
            .map(|(i, &d)| {
                FlowSpec::media(c.estimator, s(10.0 * i as f64), Duration::from_millis(d))
            })
            .collect();
        Self {
            name: "5.5".into(),
            title: "RTT fairness: one-way 10–150 ms, 4 Mbit/s".into(),
            network: network(c, CapacitySchedule::constant(mbps(4.0)), 300),
            flows,
            capacity_changes: Vec::new(),
            flow_changes: vec![0.0, 10.0, 20.0, 30.0, 40.0],
        }
    }

    /// §5.6: a media flow from 5 s against a long NewReno flow from 0 s over 2 Mbit/s,
    /// queue `queue_ms` (300 or 1000 in the RFC); 120 s.
    #[must_use]
    pub fn against_tcp(c: Conditions, queue_ms: u64) -> Self {
        let mut network = network(c, CapacitySchedule::constant(mbps(2.0)), 120);
        network.queue_limit = QueueLimit::Delay(Duration::from_millis(queue_ms));
        let mut media = FlowSpec::media(c.estimator, s(5.0), MS50);
        media.stop = s(119.0);
        let mut tcp = FlowSpec::tcp(Timestamp::ZERO, MS50);
        tcp.stop = s(119.0);
        Self {
            name: if queue_ms == 300 {
                "5.6".into()
            } else {
                format!("5.6-{queue_ms}ms")
            },
            title: format!("one media flow against a long TCP flow, {queue_ms} ms queue"),
            network,
            flows: vec![media, tcp],
            capacity_changes: Vec::new(),
            flow_changes: vec![0.0, 5.0, 119.0],
        }
    }

    /// §5.8: three flows from 0 s over 3.5 Mbit/s; flow 2 pauses at 40 s and resumes at
    /// 60 s; 120 s.
    #[must_use]
    pub fn pause_resume(c: Conditions) -> Self {
        let mut flows: Vec<FlowSpec> = (0..3)
            .map(|_| FlowSpec::media(c.estimator, Timestamp::ZERO, MS50))
            .collect();
        flows[1].pauses = vec![(s(40.0), s(60.0))];
        Self {
            name: "5.8".into(),
            title: "three flows, the second paused 40–60 s, 3.5 Mbit/s".into(),
            network: network(c, CapacitySchedule::constant(mbps(3.5)), 120),
            flows,
            capacity_changes: Vec::new(),
            flow_changes: vec![0.0, 40.0, 60.0],
        }
    }

    /// Every case of the suite under `c`.
    #[must_use]
    pub fn all(c: Conditions) -> Vec<Self> {
        vec![
            Self::variable_capacity(c, MS50),
            Self::variable_capacity(c, Duration::from_millis(100)),
            Self::variable_capacity_with_jitter(c, false),
            Self::variable_capacity_with_jitter(c, true),
            Self::variable_capacity_with_loss(c, 0.01),
            Self::variable_capacity_with_loss(c, 0.05),
            Self::variable_capacity_two_flows(c),
            Self::competing_flows(c),
            Self::rtt_fairness(c),
            Self::against_tcp(c, 300),
            Self::against_tcp(c, 1000),
            Self::pause_resume(c),
        ]
    }

    /// Runs the case.
    #[must_use]
    pub fn run(&self) -> Record {
        Network::new(self.network.clone(), &self.flows).run()
    }

    fn has_tcp(&self) -> bool {
        self.flows.iter().any(|f| f.kind == FlowKind::Tcp)
    }

    fn has_random_loss(&self) -> bool {
        self.network.loss.iter().any(|(_, p)| *p > 0.0)
    }

    fn media(&self) -> impl Iterator<Item = usize> + '_ {
        self.flows
            .iter()
            .enumerate()
            .filter(|(_, f)| matches!(f.kind, FlowKind::Media(_)))
            .map(|(i, _)| i)
    }

    fn end_s(&self) -> f64 {
        self.network.duration.as_secs_f64()
    }

    /// The steady windows `[from, to)`: from each event plus its settling time to the next
    /// event.
    #[must_use]
    pub fn steady_windows(&self) -> Vec<(f64, f64)> {
        let mut events: Vec<(f64, f64)> = self
            .capacity_changes
            .iter()
            .map(|&t| (t, SETTLE_AFTER_CAPACITY_S))
            .chain(self.flow_changes.iter().map(|&t| (t, SETTLE_AFTER_FLOWS_S)))
            .collect();
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut windows = Vec::new();
        for (k, &(t, settle)) in events.iter().enumerate() {
            let next = events
                .iter()
                .skip(k + 1)
                .map(|e| e.0)
                .find(|&n| n > t)
                .unwrap_or(self.end_s());
            let from = t + settle;
            // A later event at the same time settles the window further.
            let from = events
                .iter()
                .filter(|e| e.0 == t)
                .map(|e| e.0 + e.1)
                .fold(from, f64::max);
            if from < next && !windows.iter().any(|w: &(f64, f64)| w.0 == from) {
                windows.push((from, next));
            }
        }
        windows
    }

    /// Judges a run of this case against the targets.
    #[must_use]
    pub fn evaluate(&self, record: &Record) -> Evaluation {
        let mut ev = Evaluation::default();
        let media: Vec<usize> = self.media().collect();
        let multi = media.len() > 1;
        let tcp = self.has_tcp();
        let end = self.end_s();

        for (from, to) in self.steady_windows() {
            let w = metrics::window(record, &self.flows, from, to);
            for &i in &media {
                let Some(m) = w.flows[i] else { continue };
                let floor = if tcp { 0.40 } else { 0.85 };
                let what = if tcp {
                    "share against TCP"
                } else {
                    "utilisation"
                };
                ev.at_least(
                    format!("flow {i} {what} {from:.0}–{to:.0} s"),
                    m.utilisation,
                    floor,
                );
            }
            for (i, f) in self.flows.iter().enumerate() {
                if f.kind == FlowKind::Tcp
                    && let Some(m) = w.flows[i]
                {
                    // Holding a share must not mean starving the TCP flow.
                    ev.at_least(
                        format!("TCP flow {i} share {from:.0}–{to:.0} s"),
                        m.utilisation,
                        0.40,
                    );
                }
            }
            if multi && !tcp {
                let media_only = media_window(&w, &media);
                ev.at_least(format!("Jain {from:.0}–{to:.0} s"), media_only.0, 0.9);
                ev.at_least(
                    format!("lowest flow's share {from:.0}–{to:.0} s"),
                    media_only.1,
                    0.7,
                );
            }
        }

        if !tcp {
            let drops = self.capacity_drops();
            for &i in &media {
                let mut worst: f64 = 0.0;
                let mut edges = vec![0.0];
                for &d in &drops {
                    edges.push(d);
                    edges.push(d + 2.0);
                }
                edges.push(end);
                for pair in edges.chunks(2) {
                    let w = metrics::window(record, &self.flows, pair[0], pair[1]);
                    if let Some(m) = w.flows[i] {
                        worst = worst.max(m.queue_p95.as_secs_f64() * 1000.0);
                    }
                }
                ev.at_most(format!("flow {i} p95 queue delay (ms)"), worst, 100.0);
                if !self.has_random_loss() {
                    let w = metrics::window(record, &self.flows, 0.0, end);
                    if let Some(m) = w.flows[i] {
                        ev.at_most(format!("flow {i} loss"), m.loss, 0.02);
                    }
                }
            }
        }

        if !tcp {
            // The first flow's start, and every capacity increase.
            if let Some(&first) = media.first() {
                let start = self.flows[first].start.as_secs_f64();
                let t = metrics::time_to_share(record, &self.flows, first, 0.85, start, end);
                ev.at_most_opt(format!("flow {first} 85 % after start (s)"), t, 2.0);
            }
            for (at, up) in self.capacity_steps() {
                if up {
                    for &i in &media {
                        let t = metrics::time_to_share(record, &self.flows, i, 0.85, at, end);
                        ev.at_most_opt(
                            format!("flow {i} 85 % after increase at {at:.0} s (s)"),
                            t,
                            3.0,
                        );
                    }
                } else {
                    let t = metrics::time_below_capacity(record, at, end);
                    ev.at_most_opt(
                        format!("below capacity after drop at {at:.0} s (s)"),
                        t,
                        0.5,
                    );
                }
            }
        }
        ev
    }

    /// `(time, increase?)` of every capacity change.
    fn capacity_steps(&self) -> Vec<(f64, bool)> {
        self.capacity_changes
            .iter()
            .map(|&t| {
                let before = self.network.capacity.at(s((t - 0.001).max(0.0)));
                let after = self.network.capacity.at(s(t));
                (t, after > before)
            })
            .collect()
    }

    fn capacity_drops(&self) -> Vec<f64> {
        self.capacity_steps()
            .into_iter()
            .filter(|(_, up)| !up)
            .map(|(t, _)| t)
            .collect()
    }
}

/// Jain's index and the lowest utilisation among the media flows of a window.
fn media_window(w: &WindowMetrics, media: &[usize]) -> (f64, f64) {
    let u: Vec<f64> = media
        .iter()
        .filter_map(|&i| w.flows[i].map(|m| m.utilisation))
        .collect();
    let lowest = u.iter().copied().fold(f64::INFINITY, f64::min);
    (metrics::jain(&u), if u.is_empty() { 1.0 } else { lowest })
}

/// One target, measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// What was measured.
    pub what: String,
    /// The measured value (`None`: the event never happened, e.g. never reached 85 %).
    pub value: Option<f64>,
    /// The target.
    pub target: f64,
    /// `true`: the value must be at least the target; `false`: at most.
    pub at_least: bool,
}

impl Check {
    /// Whether the target is met.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.value.is_some_and(|v| {
            if self.at_least {
                v >= self.target
            } else {
                v <= self.target
            }
        })
    }
}

/// Every target of one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// The checks in the order made.
    pub checks: Vec<Check>,
}

impl Evaluation {
    fn at_least(&mut self, what: String, value: f64, target: f64) {
        self.checks.push(Check {
            what,
            value: Some(value),
            target,
            at_least: true,
        });
    }

    fn at_most(&mut self, what: String, value: f64, target: f64) {
        self.at_most_opt(what, Some(value), target);
    }

    fn at_most_opt(&mut self, what: String, value: Option<f64>, target: f64) {
        self.checks.push(Check {
            what,
            value,
            target,
            at_least: false,
        });
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed())
    }
}
