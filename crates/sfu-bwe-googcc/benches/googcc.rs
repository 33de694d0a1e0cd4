//! Per-packet and per-feedback costs of `GoogCcEstimator`.
//!
//! Each group carries a baseline measured in the same run, so results can be read as ratios
//! on a noisy machine: `on_packet_sent` at capacity vs. while filling (O(1) ⇒ ≈ 1), and the
//! per-packet feedback cost vs. resolving the same reports in a bare `SendHistory`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use sfu_bwe::{
    CongestionControl, DataSize, SendHistory, SentPacket, Timestamp, TwccFeedback, TwccSeq,
};
use sfu_bwe_googcc::{GoogCcConfig, GoogCcEstimator};

const PACKET_US: u64 = 4_000; // 1200 B every 4 ms = 2.4 Mbit/s

fn packet(i: u64) -> SentPacket {
    SentPacket {
        seq: TwccSeq::new(i as u16),
        send_time: Timestamp::from_micros(i * PACKET_US),
        size: DataSize::from_bytes(1200),
    }
}

const RING: u64 = 1 << 16;

fn big_estimator() -> GoogCcEstimator {
    let mut config = GoogCcConfig::default();
    config.history_capacity = RING as usize;
    GoogCcEstimator::new(config).expect("valid")
}

/// An estimator that has run `n` packets of steady traffic with 50-packet feedback.
fn warmed(n: u64) -> GoogCcEstimator {
    let mut cc = GoogCcEstimator::new(GoogCcConfig::default()).expect("default is valid");
    let mut fb = TwccFeedback::with_capacity(Timestamp::ZERO, 64);
    let mut i = 0;
    while i < n {
        fill(&mut cc, &mut fb, i, 50);
        cc.on_feedback(&fb);
        i += 50;
    }
    cc
}

/// Sends `count` packets from index `first` and builds their feedback (20 ms one-way,
/// slight jitter).
fn fill(cc: &mut GoogCcEstimator, fb: &mut TwccFeedback, first: u64, count: u64) {
    let last = first + count - 1;
    fb.clear(Timestamp::from_micros(last * PACKET_US + 40_000));
    for i in first..=last {
        cc.on_packet_sent(packet(i));
        let arrival = i * PACKET_US + 20_000 + (i * 7919 % 500);
        fb.push(
            TwccSeq::new(i as u16),
            Some(Timestamp::from_micros(arrival)),
        );
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("googcc");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    // Same 2^16-slot history in both cases: "steady" fills a fresh history without
    // wrapping, "at capacity" overwrites the oldest entry of one that wrapped long ago.
    g.bench_function("on_packet_sent_steady", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = (iters - done).min(RING / 2);
                let mut cc = big_estimator();
                let start = Instant::now();
                for i in 0..n {
                    cc.on_packet_sent(black_box(packet(i)));
                }
                total += start.elapsed();
                black_box(&cc);
                done += n;
            }
            total
        });
    });
    let mut full = big_estimator();
    let mut i = 0u64;
    while i < 3 * RING {
        full.on_packet_sent(packet(i));
        i += 1;
    }
    g.bench_function("on_packet_sent_at_capacity", |b| {
        b.iter(|| {
            full.on_packet_sent(black_box(packet(i)));
            i += 1;
        });
    });

    // Feedback: the setup sends the packets; only on_feedback is timed.
    let mut cc = warmed(20_000);
    let mut next = 20_000u64;
    let mut fb = TwccFeedback::with_capacity(Timestamp::ZERO, 64);
    g.bench_function("on_feedback_50", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                fill(&mut cc, &mut fb, next, 50);
                next += 50;
                let start = Instant::now();
                cc.on_feedback(black_box(&fb));
                total += start.elapsed();
            }
            total
        });
    });
    g.bench_function("on_feedback_1_per_packet_update", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                fill(&mut cc, &mut fb, next, 1);
                next += 1;
                let start = Instant::now();
                cc.on_feedback(black_box(&fb));
                total += start.elapsed();
            }
            total
        });
    });
    let mut history = SendHistory::default();
    g.bench_function("baseline_resolve_50_in_send_history", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let first = next;
                next += 50;
                fb.clear(Timestamp::ZERO);
                for i in first..next {
                    history.record(packet(i));
                    fb.push(
                        TwccSeq::new(i as u16),
                        Some(Timestamp::from_micros(i * PACKET_US)),
                    );
                }
                let start = Instant::now();
                for r in fb.reports() {
                    black_box(history.resolve(*r));
                }
                total += start.elapsed();
            }
            total
        });
    });
    g.bench_function("estimate", |b| b.iter(|| black_box(&cc).estimate()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
