//! `SendHistory::record` while filling versus at capacity (ratio ≈ 1 means O(1)).
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sfu_bwe::{DataSize, SendHistory, SentPacket, Timestamp, TwccSeq};

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
    g.bench_function("record_steady", |b| {
        // A fresh ring per batch, never wrapped: the "not yet full" case.
        b.iter_batched_ref(
            || (SendHistory::new(1 << 16), 0u64),
            |(h, i)| {
                h.record(black_box(packet(*i)));
                *i += 1;
            },
            criterion::BatchSize::SmallInput,
        );
    });
    let mut full = SendHistory::new(1024);
    let mut i = 0u64;
    for _ in 0..10_000 {
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
