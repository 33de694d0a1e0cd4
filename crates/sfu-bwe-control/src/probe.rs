//! [`Prober`]: when to send probe clusters, and what their feedback says the path carries
//! (libwebrtc `ProbeController` and `ProbeBitrateEstimator`, reshaped).
//!
//! - **Start**: two clusters at 3× and 6× the first estimate, back to back; while a result
//!   reaches 70 % of what was probed, the next cluster probes twice the result.
//! - **Later**: once `periodic_interval` has passed since the last cluster and the owner
//!   says the path looks uncongested, one cluster at `periodic_scale` × the estimate; a
//!   success is followed up after 500 ms from the new estimate, so a capacity increase is
//!   found in a few steps instead of by additive increase.
//!
//! A cluster is every packet sent during its window. Its result needs 80 % of its packets
//! received; it is `min(send rate, receive rate)`, both over the received packets (so
//! random loss does not read as a path that fell behind; a queue that overflows still
//! shows as a receive rate below the send rate), and when the path delivered less than
//! 90 % of the send rate, `0.95 ×` the receive rate — the path's capacity as this flow saw
//! it. The start probes accept that capacity reading; a periodic probe is only trusted when
//! the path kept up (≥ 90 %), since on a shared, saturated link the share a burst gets
//! exceeds the flow's fair share.

use std::time::Duration;

use sfu_bwe::{Bitrate, DataSize, ProbeCluster, SentPacket, Timestamp, TwccSample};

/// Tunables of a [`Prober`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeParams {
    /// Scales of the start clusters over the first estimate (libwebrtc: 3 and 6).
    pub initial_scales: [f64; 2],
    /// A result at least this fraction of the probed rate earns a further probe.
    pub further_fraction: f64,
    /// A further probe asks this multiple of the previous result.
    pub further_scale: f64,
    /// Time between periodic probes (`Duration::MAX`: none).
    pub periodic_interval: Duration,
    /// Periodic probes ask this multiple of the estimate.
    pub periodic_scale: f64,
    /// Shortest cluster.
    pub min_duration: Duration,
    /// Fewest packets a cluster should hold at its rate, assuming 1200-byte packets.
    pub min_packets: u32,
    /// Highest rate ever probed.
    pub max_rate: Bitrate,
}

impl Default for ProbeParams {
    fn default() -> Self {
        Self {
            initial_scales: [3.0, 6.0],
            further_fraction: 0.7,
            further_scale: 2.0,
            periodic_interval: Duration::from_secs(2),
            periodic_scale: 1.5,
            min_duration: Duration::from_millis(60),
            min_packets: 6,
            max_rate: Bitrate::from_mbps(50),
        }
    }
}

/// What the owner of a [`Prober`] knows about the path when a periodic probe could go
/// out; [`PathState::uncongested`] decides whether it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathState {
    /// The estimate in force.
    pub estimate: Bitrate,
    /// Whether the delay-based detector currently reads the path as normal.
    pub delay_normal: bool,
    /// When the owner last saw over-use.
    pub last_overuse: Option<Timestamp>,
    /// The rate the receiver currently gets (acknowledged or received rate).
    pub received: Option<Bitrate>,
    /// The capacity measured at the last over-uses, while the owner believes it.
    pub capacity: Option<Bitrate>,
    /// Whether something other than delay limits the rate (a loss cap, competition).
    pub otherwise_limited: bool,
}

/// Periodic probes wait this long after the last over-use: a flow that keeps meeting the
/// queue is at its share, and a burst would only take slack another flow left.
const CALM_BEFORE_PROBING: Duration = Duration::from_secs(1);
/// Periodic probes only once the flow carries this much more than the capacity measured at
/// its last over-uses: in a steady sawtooth, over-use comes first. (Flows that share a
/// saturated link never get there: one of them would take the slack the others' back-off
/// left.)
const BEYOND_CAPACITY: f64 = 1.05;
/// Periodic probes only while the received rate is within this factor of the estimate: a
/// sender that does not use its estimate (application-limited) learns nothing from a probe
/// it would not use either.
const USING_ESTIMATE: f64 = 1.25;

impl PathState {
    /// Whether a periodic probe may go out at `now`.
    #[must_use]
    pub fn uncongested(&self, now: Timestamp) -> bool {
        let calm = self
            .last_overuse
            .is_none_or(|t| now.saturating_duration_since(t) >= CALM_BEFORE_PROBING);
        let using_estimate = self
            .received
            .is_some_and(|r| r.scale(USING_ESTIMATE) >= self.estimate);
        let beyond_capacity = match (self.capacity, self.received) {
            (Some(c), Some(r)) => r >= c.scale(BEYOND_CAPACITY),
            _ => true,
        };
        self.delay_normal && calm && using_estimate && beyond_capacity && !self.otherwise_limited
    }
}

/// What a completed cluster measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeResult {
    /// The rate the cluster was asked to send at.
    pub probed: Bitrate,
    /// What the path carried, as far as the cluster shows.
    pub rate: Bitrate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Start,
    Further,
    Periodic,
}

/// One cluster's window and counters.
#[derive(Debug, Clone, Copy)]
struct Cluster {
    kind: Kind,
    rate: Bitrate,
    start: Timestamp,
    end: Timestamp,
    sent: u32,
    received: u32,
    received_bytes: DataSize,
    first_arrival: Timestamp,
    first_size: DataSize,
    last_arrival: Timestamp,
    /// Send time of the first and the last received packet, and the last one's size: the
    /// send rate is measured over the packets that arrived.
    first_received_send: Option<Timestamp>,
    last_received_send: Timestamp,
    last_received_size: DataSize,
}

const MAX_CLUSTERS: usize = 2;
/// A cluster whose feedback has not completed this long after its end is given up.
const RESULT_TIMEOUT: Duration = Duration::from_secs(2);
const FOLLOW_UP: Duration = Duration::from_millis(500);
const PACKET: DataSize = DataSize::from_bytes(1200);

/// Probe scheduling and measurement for one estimator (see the module documentation).
#[derive(Debug, Clone)]
pub struct Prober {
    params: ProbeParams,
    started: bool,
    /// Start clusters not yet handed out.
    queued: [Option<Bitrate>; 2],
    /// The largest start cluster.
    start_max: Bitrate,
    /// Clusters sent or being sent whose results are not in, oldest first.
    clusters: [Option<Cluster>; MAX_CLUSTERS],
    /// The next further probe, once the latest result asks for one.
    further: Option<Bitrate>,
    last_end: Option<Timestamp>,
    follow_up_at: Option<Timestamp>,
}

impl Prober {
    /// A prober that has sent nothing.
    #[must_use]
    pub fn new(params: ProbeParams) -> Self {
        Self {
            params,
            started: false,
            queued: [None; 2],
            start_max: Bitrate::ZERO,
            clusters: [None; MAX_CLUSTERS],
            further: None,
            last_end: None,
            follow_up_at: None,
        }
    }

    /// Whether a cluster is being sent or awaits its result.
    #[must_use]
    pub fn busy(&self) -> bool {
        self.clusters.iter().any(Option::is_some)
    }

    fn cluster_for(&self, rate: Bitrate) -> Duration {
        let packets = rate
            .time_to_send(DataSize::from_bytes(
                PACKET.bytes() * u64::from(self.params.min_packets),
            ))
            .unwrap_or(self.params.min_duration);
        packets.max(self.params.min_duration)
    }

    /// The cluster to send from `now`, if one is due, given what the owner knows of the
    /// path (periodic probes wait until [`PathState::uncongested`]).
    pub fn poll(&mut self, now: Timestamp, path: &PathState) -> Option<ProbeCluster> {
        let estimate = path.estimate;
        if self.clusters.iter().flatten().any(|c| now < c.end) {
            return None;
        }
        if !self.started {
            self.started = true;
            let [a, b] = self.params.initial_scales;
            self.queued = [Some(estimate.scale(a)), Some(estimate.scale(b))];
            self.start_max = estimate.scale(a.max(b));
        }
        let queued = self
            .queued
            .iter_mut()
            .filter_map(Option::take)
            .find(|r| *r > estimate);
        let (kind, rate) = if let Some(rate) = queued {
            (Kind::Start, rate)
        } else if self.busy() {
            return None;
        } else if let Some(rate) = self.further.take() {
            (Kind::Further, rate)
        } else if self.periodic_due(now) && path.uncongested(now) {
            (Kind::Periodic, estimate.scale(self.params.periodic_scale))
        } else {
            return None;
        };
        let rate = rate.min(self.params.max_rate);
        if rate <= estimate {
            return None;
        }
        let duration = self.cluster_for(rate);
        let slot = self.clusters.iter_mut().find(|c| c.is_none())?;
        let end = now.saturating_add(duration);
        *slot = Some(Cluster {
            kind,
            rate,
            start: now,
            end,
            sent: 0,
            received: 0,
            received_bytes: DataSize::ZERO,
            first_arrival: Timestamp::MAX,
            first_size: DataSize::ZERO,
            last_arrival: Timestamp::ZERO,
            first_received_send: None,
            last_received_send: now,
            last_received_size: DataSize::ZERO,
        });
        self.last_end = Some(end);
        self.follow_up_at = None;
        Some(ProbeCluster { rate, duration })
    }

    fn periodic_due(&self, now: Timestamp) -> bool {
        if let Some(t) = self.follow_up_at {
            return now >= t;
        }
        let interval = self.params.periodic_interval;
        interval != Duration::MAX
            && self
                .last_end
                .is_none_or(|t| now.saturating_duration_since(t) >= interval)
    }

    /// Counts a sent packet into the cluster whose window holds it. O(1).
    pub fn on_sent(&mut self, packet: &SentPacket) {
        // Outside every cluster window (nearly every packet): one comparison.
        if self.last_end.is_none_or(|end| packet.send_time >= end) {
            return;
        }
        for c in self.clusters.iter_mut().flatten() {
            if packet.send_time >= c.start && packet.send_time < c.end {
                c.sent += 1;
            }
        }
    }

    /// Feeds one resolved feedback sample; returns a result when it completes a cluster.
    /// Samples must come in sequence order, as feedback reports them.
    pub fn on_sample(&mut self, sample: &TwccSample, now: Timestamp) -> Option<ProbeResult> {
        let mut done = None;
        for slot in &mut self.clusters {
            let Some(c) = slot.as_mut() else { continue };
            let t = sample.send_time;
            if t >= c.start && t < c.end {
                if let Some(a) = sample.arrival {
                    c.received += 1;
                    c.received_bytes = c.received_bytes.saturating_add(sample.size);
                    if a < c.first_arrival {
                        c.first_arrival = a;
                        c.first_size = sample.size;
                    }
                    c.last_arrival = c.last_arrival.max(a);
                    c.first_received_send.get_or_insert(t);
                    if t >= c.last_received_send {
                        c.last_received_send = t;
                        c.last_received_size = sample.size;
                    }
                }
            } else if t >= c.end || now.saturating_duration_since(c.end) > RESULT_TIMEOUT {
                let cluster = *c;
                *slot = None;
                if done.is_none() {
                    done = Some(cluster);
                }
            }
        }
        let cluster = done?;
        let result = Self::measure(&cluster);
        self.on_result(&cluster, result);
        result
    }

    fn measure(c: &Cluster) -> Option<ProbeResult> {
        if c.sent < 3 || f64::from(c.received) < 0.8 * f64::from(c.sent) {
            return None;
        }
        // Both rates count the received packets only: a packet lost on the way says
        // nothing about the rate the path kept up with, and counting it on the send side
        // would make random loss read as a path that fell behind.
        let send_span = c
            .last_received_send
            .saturating_duration_since(c.first_received_send?);
        let receive_span = c.last_arrival.saturating_duration_since(c.first_arrival);
        let send = Bitrate::from_size_over(
            c.received_bytes.saturating_sub(c.last_received_size),
            send_span,
        )?;
        let receive =
            Bitrate::from_size_over(c.received_bytes.saturating_sub(c.first_size), receive_span)?;
        if receive.as_bps_f64() > 2.0 * send.as_bps_f64() {
            return None;
        }
        let kept_up = receive.as_bps_f64() >= 0.9 * send.as_bps_f64();
        let rate = if kept_up {
            send.min(receive)
        } else if c.kind == Kind::Periodic {
            return None;
        } else {
            receive.scale(0.95)
        };
        Some(ProbeResult {
            probed: c.rate,
            rate,
        })
    }

    fn on_result(&mut self, c: &Cluster, result: Option<ProbeResult>) {
        let Some(r) = result else { return };
        let far_enough = r.rate.as_bps_f64() >= self.params.further_fraction * c.rate.as_bps_f64();
        match c.kind {
            Kind::Start | Kind::Further => {
                // The start pair is judged on its larger cluster.
                let largest_start = c.kind == Kind::Start && c.rate >= self.start_max;
                if far_enough && (c.kind == Kind::Further || largest_start) {
                    self.further = Some(r.rate.scale(self.params.further_scale));
                }
            }
            Kind::Periodic => {
                if far_enough {
                    self.follow_up_at = Some(c.end.saturating_add(FOLLOW_UP));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sfu_bwe::TwccSeq;

    /// A path that allows periodic probes (`open`) or not, with `estimate` in force.
    fn path(estimate: Bitrate, open: bool) -> PathState {
        PathState {
            estimate,
            delay_normal: open,
            last_overuse: None,
            received: Some(estimate),
            capacity: None,
            otherwise_limited: false,
        }
    }

    /// Sends `cluster` from `at` over a path of `capacity`; returns the result.
    fn run_cluster(
        p: &mut Prober,
        cluster: ProbeCluster,
        at: Timestamp,
        capacity: Bitrate,
    ) -> Option<ProbeResult> {
        run_cluster_losing(p, cluster, at, capacity, &[])
    }

    /// [`run_cluster`], with the cluster's packets numbered in `lost` lost on the way.
    fn run_cluster_losing(
        p: &mut Prober,
        cluster: ProbeCluster,
        at: Timestamp,
        capacity: Bitrate,
        lost: &[u16],
    ) -> Option<ProbeResult> {
        let gap = cluster.rate.time_to_send(PACKET).expect("positive rate");
        let service = capacity.time_to_send(PACKET).expect("positive capacity");
        let mut t = at;
        let mut busy = at;
        let mut samples = Vec::new();
        let mut seq = 0u16;
        while t < at.saturating_add(cluster.duration) {
            let packet = SentPacket {
                seq: TwccSeq::new(seq),
                send_time: t,
                size: PACKET,
            };
            p.on_sent(&packet);
            let arrival = if lost.contains(&seq) {
                None
            } else {
                busy = busy.max(t).saturating_add(service);
                Some(busy)
            };
            samples.push(TwccSample {
                seq: packet.seq,
                send_time: t,
                arrival,
                size: PACKET,
            });
            seq += 1;
            t = t.saturating_add(gap);
        }
        // One packet after the window completes the cluster.
        samples.push(TwccSample {
            seq: TwccSeq::new(seq),
            send_time: t,
            arrival: Some(busy.saturating_add(service)),
            size: PACKET,
        });
        let now = busy.saturating_add(Duration::from_millis(50));
        samples.iter().find_map(|s| p.on_sample(s, now))
    }

    #[test]
    fn start_probes_find_the_capacity_and_probe_further_only_while_it_keeps_up() {
        let mut p = Prober::new(ProbeParams::default());
        let start = Bitrate::from_kbps(150);
        let capacity = Bitrate::from_kbps(2_000);
        let first = p
            .poll(Timestamp::ZERO, &path(start, true))
            .expect("start probe");
        assert_eq!(first.rate, Bitrate::from_kbps(450));
        let r1 = run_cluster(&mut p, first, Timestamp::ZERO, capacity).expect("result");
        assert!(r1.rate.as_kbps_f64() > 400.0, "{r1:?}");
        let t = Timestamp::from_millis(500);
        let second = p.poll(t, &path(start, true)).expect("second start probe");
        assert_eq!(second.rate, Bitrate::from_kbps(900));
        run_cluster(&mut p, second, t, capacity).expect("result");
        // 900 kbit/s got through: probe 1.8 Mbit/s next.
        let t = Timestamp::from_millis(1000);
        let third = p.poll(t, &path(start, true)).expect("further probe");
        assert!(third.rate.as_kbps_f64() > 1700.0, "{third:?}");
        let r3 = run_cluster(&mut p, third, t, capacity).expect("result");
        // 3.6 Mbit/s next, which the 2 Mbit/s path caps.
        let t = Timestamp::from_millis(1500);
        let fourth = p.poll(t, &path(r3.rate, true)).expect("further probe");
        let r4 = run_cluster(&mut p, fourth, t, capacity).expect("result");
        assert!(
            (r4.rate.as_kbps_f64() - 1900.0).abs() < 150.0,
            "capacity reading {r4:?}"
        );
        // Below 70 % of 3.6 Mbit/s: no further probe.
        assert_eq!(
            p.poll(Timestamp::from_millis(2000), &path(r4.rate, true)),
            None
        );
    }

    #[test]
    fn periodic_probes_wait_for_an_uncongested_path_and_need_it_to_keep_up() {
        let mut p = Prober::new(ProbeParams {
            initial_scales: [0.0, 0.0],
            ..ProbeParams::default()
        });
        let est = Bitrate::from_kbps(1000);
        assert_eq!(p.poll(Timestamp::ZERO, &path(est, false)), None);
        let c = p
            .poll(Timestamp::from_millis(10), &path(est, true))
            .expect("periodic probe");
        assert_eq!(c.rate, Bitrate::from_kbps(1500));
        // A path of 1.2 Mbit/s cannot carry 1.5: no result to trust.
        let t = Timestamp::from_millis(10);
        assert_eq!(run_cluster(&mut p, c, t, Bitrate::from_kbps(1200)), None);
        // Not again before the interval.
        assert_eq!(p.poll(Timestamp::from_millis(1000), &path(est, true)), None);
        let t = Timestamp::from_millis(2500);
        let c = p.poll(t, &path(est, true)).expect("next periodic probe");
        let r = run_cluster(&mut p, c, t, Bitrate::from_kbps(5000)).expect("kept up");
        assert!(r.rate.as_kbps_f64() > 1400.0, "{r:?}");
        // Success is followed up soon.
        assert!(
            p.poll(Timestamp::from_millis(3200), &path(r.rate, true))
                .is_some()
        );
    }

    #[test]
    fn a_packet_lost_at_random_does_not_read_as_a_path_that_fell_behind() {
        let mut p = Prober::new(ProbeParams {
            initial_scales: [0.0, 0.0],
            ..ProbeParams::default()
        });
        let est = Bitrate::from_kbps(1000);
        let t = Timestamp::from_millis(10);
        let c = p.poll(t, &path(est, true)).expect("periodic probe");
        // Ten packets; the fifth is lost on a path with room to spare.
        let r = run_cluster_losing(&mut p, c, t, Bitrate::from_kbps(5000), &[4])
            .expect("the path kept up with what it carried");
        // The rate of what arrived: nine packets of ten.
        assert!(r.rate.as_kbps_f64() > 1300.0, "{r:?}");
    }

    #[test]
    fn periodic_probes_need_calm_use_of_the_estimate_and_news_beyond_the_last_capacity() {
        let k = Bitrate::from_kbps;
        let now = Timestamp::from_millis(10_000);
        let open = PathState {
            estimate: k(1000),
            delay_normal: true,
            last_overuse: Some(Timestamp::from_millis(8_000)),
            received: Some(k(1000)),
            capacity: Some(k(900)),
            otherwise_limited: false,
        };
        assert!(open.uncongested(now));
        let recent_overuse = PathState {
            last_overuse: Some(Timestamp::from_millis(9_500)),
            ..open
        };
        assert!(!recent_overuse.uncongested(now));
        let app_limited = PathState {
            received: Some(k(500)),
            ..open
        };
        assert!(!app_limited.uncongested(now));
        let at_old_capacity = PathState {
            capacity: Some(k(1000)),
            ..open
        };
        assert!(!at_old_capacity.uncongested(now));
        let loss_capped = PathState {
            otherwise_limited: true,
            ..open
        };
        assert!(!loss_capped.uncongested(now));
    }
}
