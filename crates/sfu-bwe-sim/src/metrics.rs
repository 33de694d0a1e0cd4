//! RFC 8868 metrics over a [`Record`]: per flow, sending rate and its utilisation of a
//! max-min fair share, goodput, loss and queueing delay; per window, Jain's fairness index; per event,
//! the time to reach a share and the time to get below capacity.

use std::time::Duration;

use sfu_bwe::{Bitrate, DataSize};

use crate::flow::FlowSpec;
use crate::record::Record;

/// One flow over a window of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowMetrics {
    /// Rate handed to the network over the bins the flow was active in (RFC 8868 §3.1
    /// "sending rate"; lost packets and probe padding included).
    pub sending_rate: Bitrate,
    /// Delivered rate over the same bins.
    pub goodput: Bitrate,
    /// Mean max-min fair share over the same bins.
    pub fair_share: Bitrate,
    /// `sending_rate / fair_share` (RFC 8868 §3.4 "bandwidth utilization", against the
    /// flow's share of the bottleneck).
    pub utilisation: f64,
    /// Fraction of the flow's packets lost (queue drops and random loss).
    pub loss: f64,
    /// Mean queueing delay of the flow's packets.
    pub queue_mean: Duration,
    /// 95th percentile queueing delay.
    pub queue_p95: Duration,
    /// Largest queueing delay.
    pub queue_max: Duration,
}

/// All flows over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowMetrics {
    /// Per flow, `None` if it was not active in the window.
    pub flows: Vec<Option<FlowMetrics>>,
    /// Jain's index over the active flows' utilisations (1 is perfectly fair).
    pub jain: f64,
}

/// Max-min fair shares of `capacity` among flows with the given ceilings (`None`:
/// inactive), written to `out`.
pub fn fair_shares(capacity: Bitrate, ceilings: &[Option<Bitrate>], out: &mut Vec<Bitrate>) {
    out.clear();
    out.resize(ceilings.len(), Bitrate::ZERO);
    let mut left = capacity.as_bps_f64();
    let mut open: Vec<usize> = (0..ceilings.len())
        .filter(|&i| ceilings[i].is_some())
        .collect();
    while !open.is_empty() {
        let share = left / open.len() as f64;
        let capped: Vec<usize> = open
            .iter()
            .copied()
            .filter(|&i| ceilings[i].is_some_and(|c| c.as_bps_f64() <= share))
            .collect();
        if capped.is_empty() {
            for &i in &open {
                out[i] = Bitrate::from_bps_f64(share);
            }
            return;
        }
        for &i in &capped {
            let c = ceilings[i].unwrap_or(Bitrate::ZERO);
            out[i] = c;
            left -= c.as_bps_f64();
        }
        open.retain(|i| !capped.contains(i));
    }
}

/// Jain's fairness index of `xs`: `(Σx)² / (n Σx²)`; 1 for an empty or all-zero set.
#[must_use]
pub fn jain(xs: &[f64]) -> f64 {
    let sum: f64 = xs.iter().sum();
    let sq: f64 = xs.iter().map(|x| x * x).sum();
    if xs.is_empty() || sq == 0.0 {
        1.0
    } else {
        sum * sum / (xs.len() as f64 * sq)
    }
}

fn ceilings_at(record: &Record, specs: &[FlowSpec], bin: usize, out: &mut Vec<Option<Bitrate>>) {
    out.clear();
    out.extend(
        specs
            .iter()
            .zip(&record.flows)
            .map(|(s, f)| f.bins[bin].active.then_some(s.max_rate)),
    );
}

/// Metrics over `[from_s, to_s)` seconds.
#[must_use]
pub fn window(record: &Record, specs: &[FlowSpec], from_s: f64, to_s: f64) -> WindowMetrics {
    let (a, b) = (record.index_at_secs(from_s), record.index_at_secs(to_s));
    let n = specs.len();
    let mut fair_sum = vec![0.0; n];
    let mut delivered = vec![DataSize::ZERO; n];
    let mut sent = vec![DataSize::ZERO; n];
    let mut active_bins = vec![0u32; n];
    let (mut packets, mut lost) = (vec![0u64; n], vec![0u64; n]);
    let (mut ceilings, mut shares) = (Vec::new(), Vec::new());
    for bin in a..b {
        ceilings_at(record, specs, bin, &mut ceilings);
        fair_shares(record.capacity[bin], &ceilings, &mut shares);
        for i in 0..n {
            let fb = record.flows[i].bins[bin];
            packets[i] += u64::from(fb.packets);
            lost[i] += u64::from(fb.lost);
            if fb.active {
                active_bins[i] += 1;
                fair_sum[i] += shares[i].as_bps_f64();
                delivered[i] = delivered[i].saturating_add(fb.delivered);
                sent[i] = sent[i].saturating_add(fb.sent);
            }
        }
    }
    let (from, to) = (secs(from_s), secs(to_s));
    let flows: Vec<Option<FlowMetrics>> = (0..n)
        .map(|i| {
            if active_bins[i] == 0 {
                return None;
            }
            let span = record.bin * active_bins[i];
            let goodput = Bitrate::from_size_over(delivered[i], span).unwrap_or(Bitrate::ZERO);
            let sending_rate = Bitrate::from_size_over(sent[i], span).unwrap_or(Bitrate::ZERO);
            let fair = fair_sum[i] / f64::from(active_bins[i]);
            let mut delays: Vec<Duration> = record.flows[i]
                .queue
                .iter()
                .filter(|q| q.at.as_duration() >= from && q.at.as_duration() < to)
                .map(|q| q.delay)
                .collect();
            delays.sort_unstable();
            let mean = if delays.is_empty() {
                Duration::ZERO
            } else {
                delays.iter().sum::<Duration>() / delays.len() as u32
            };
            Some(FlowMetrics {
                sending_rate,
                goodput,
                fair_share: Bitrate::from_bps_f64(fair),
                utilisation: if fair > 0.0 {
                    sending_rate.as_bps_f64() / fair
                } else {
                    1.0
                },
                loss: if packets[i] == 0 {
                    0.0
                } else {
                    lost[i] as f64 / packets[i] as f64
                },
                queue_mean: mean,
                queue_p95: percentile(&delays, 0.95),
                queue_max: delays.last().copied().unwrap_or_default(),
            })
        })
        .collect();
    let utilisations: Vec<f64> = flows.iter().flatten().map(|f| f.utilisation).collect();
    WindowMetrics {
        jain: jain(&utilisations),
        flows,
    }
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

/// Seconds after `from_s` until flow `flow`'s target rate first reaches `fraction` of its
/// fair share; `None` if it never does before `to_s`.
#[must_use]
pub fn time_to_share(
    record: &Record,
    specs: &[FlowSpec],
    flow: usize,
    fraction: f64,
    from_s: f64,
    to_s: f64,
) -> Option<f64> {
    let (a, b) = (record.index_at_secs(from_s), record.index_at_secs(to_s));
    let (mut ceilings, mut shares) = (Vec::new(), Vec::new());
    (a..b)
        .find(|&bin| {
            ceilings_at(record, specs, bin, &mut ceilings);
            fair_shares(record.capacity[bin], &ceilings, &mut shares);
            record.flows[flow].bins[bin].target.as_bps_f64() >= fraction * shares[flow].as_bps_f64()
        })
        // A bin's target is read at its end.
        .map(|bin| record.secs(bin + 1) - from_s)
}

/// Seconds after `from_s` until the active flows' summed target rates are first at or
/// below the capacity; `None` if not before `to_s`.
#[must_use]
pub fn time_below_capacity(record: &Record, from_s: f64, to_s: f64) -> Option<f64> {
    let (a, b) = (record.index_at_secs(from_s), record.index_at_secs(to_s));
    (a..b)
        .find(|&bin| {
            let total: f64 = record
                .flows
                .iter()
                .filter(|f| f.bins[bin].active)
                .map(|f| f.bins[bin].target.as_bps_f64())
                .sum();
            total <= record.capacity[bin].as_bps_f64()
        })
        .map(|bin| record.secs(bin + 1) - from_s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_min_shares_give_capped_flows_their_ceiling() {
        let mut out = Vec::new();
        let k = Bitrate::from_kbps;
        fair_shares(
            k(3000),
            &[Some(k(500)), Some(Bitrate::MAX), None, Some(Bitrate::MAX)],
            &mut out,
        );
        assert_eq!(out, vec![k(500), k(1250), Bitrate::ZERO, k(1250)]);
    }

    #[test]
    fn jain_is_one_when_equal_and_one_over_n_when_one_takes_all() {
        assert!((jain(&[1.0, 1.0, 1.0]) - 1.0).abs() < 1e-12);
        assert!((jain(&[1.0, 0.0, 0.0, 0.0]) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn percentile_picks_the_rank() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&d, 0.95), Duration::from_millis(95));
    }
}
