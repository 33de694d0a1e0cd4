//! `SendHistory::record` while filling versus at capacity (ratio ≈ 1 means O(1)).
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use sfu_bwe::{DataSize, SendHistory, SentPacket, Timestamp, TwccSeq};

const RING: usize = 1 << 16;

fn packet(i: u64) -> SentPacket {
    SentPacket {
        seq: TwccSeq::new(i as u16),
        send_time: Timestamp::from_micros(i * 400),
        size: DataSize::from_bytes(1200),
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("send_history");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    // Same 2^16-slot ring in both cases: "steady" records into slots never used before
    // (each timed run starts on a fresh ring and stays below capacity), "at capacity"
    // records into a ring that wrapped long ago, overwriting the oldest entry each time.
    g.bench_function("record_steady", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = (iters - done).min(RING as u64 / 2);
                let mut h = SendHistory::new(RING);
                let start = Instant::now();
                for i in 0..n {
                    h.record(black_box(packet(i)));
                }
                total += start.elapsed();
                black_box(&h);
                done += n;
            }
            total
        });
    });
    let mut full = SendHistory::new(RING);
    let mut i = 0u64;
    while i < 3 * RING as u64 {
        full.record(packet(i));
        i += 1;
    }
    g.bench_function("record_at_capacity", |b| {
        b.iter(|| {
            full.record(black_box(packet(i)));
            i += 1;
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
