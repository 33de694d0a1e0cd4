//! Costs of `BandwidthEstimator`: `record_send_time` while the history fills and once it is
//! at capacity (O(1) ⇒ ratio ≈ 1), a 50-report feedback against a bare `SendHistory`
//! baseline resolving the same reports, and `estimate`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use sfu_bwe::{
    CongestionControl, DataSize, SendHistory, SentPacket, Timestamp, TwccFeedback, TwccSeq,
};
use sfu_bwe_kalman::{BandwidthEstimator, KalmanConfig};

const PACKET_US: u64 = 4_000;

fn estimator() -> BandwidthEstimator {
    BandwidthEstimator::new(KalmanConfig::default()).expect("default is valid")
}

const RING: u64 = 1 << 16;

fn big_estimator() -> BandwidthEstimator {
    let mut config = KalmanConfig::default();
    config.history_capacity = RING as usize;
    BandwidthEstimator::new(config).expect("valid")
}

fn send_time(i: u64) -> Timestamp {
    Timestamp::from_micros(i * PACKET_US)
}

fn fill(cc: &mut BandwidthEstimator, fb: &mut TwccFeedback, first: u64, count: u64) {
    let last = first + count - 1;
    fb.clear(Timestamp::from_micros(last * PACKET_US + 40_000));
    for i in first..=last {
        cc.record_send_time(
            TwccSeq::new(i as u16),
            send_time(i),
            DataSize::from_bytes(1200),
        );
        let arrival = i * PACKET_US + 20_000 + (i * 7919 % 500);
        fb.push(
            TwccSeq::new(i as u16),
            Some(Timestamp::from_micros(arrival)),
        );
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("kalman");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let size = DataSize::from_bytes(1200);

    // Same 2^16-slot history in both cases: "steady" fills a fresh history without
    // wrapping, "at capacity" overwrites the oldest entry of one that wrapped long ago.
    g.bench_function("record_send_time_steady", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = (iters - done).min(RING / 2);
                let mut cc = big_estimator();
                let start = Instant::now();
                for i in 0..n {
                    cc.record_send_time(black_box(TwccSeq::new(i as u16)), send_time(i), size);
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
        full.record_send_time(TwccSeq::new(i as u16), send_time(i), size);
        i += 1;
    }
    g.bench_function("record_send_time_at_capacity", |b| {
        b.iter(|| {
            full.record_send_time(black_box(TwccSeq::new(i as u16)), send_time(i), size);
            i += 1;
        });
    });

    let mut cc = estimator();
    let mut fb = TwccFeedback::with_capacity(Timestamp::ZERO, 64);
    let mut next = 0u64;
    while next < 20_000 {
        fill(&mut cc, &mut fb, next, 50);
        cc.on_feedback(&fb);
        next += 50;
    }
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
    let mut history = SendHistory::default();
    g.bench_function("baseline_resolve_50_in_send_history", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let first = next;
                next += 50;
                fb.clear(Timestamp::ZERO);
                for i in first..next {
                    history.record(SentPacket {
                        seq: TwccSeq::new(i as u16),
                        send_time: send_time(i),
                        size,
                    });
                    fb.push(TwccSeq::new(i as u16), Some(send_time(i)));
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
