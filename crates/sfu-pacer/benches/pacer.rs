//! Per-packet pacer decision (enqueue + poll) against a bare `VecDeque` push/pop baseline
//! in the same run.
#![allow(missing_docs)]

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sfu_bwe::{BandwidthEstimate, Bitrate, DataSize, Timestamp};
use sfu_pacer::{PacedPacket, PacerAction, PacerConfig, PacketKind, StreamId, SubscriberPacer};

fn packet(i: u64) -> PacedPacket<u64> {
    // Every tenth packet is audio on stream 0; video alternates between streams 1 and 2.
    let (stream, kind) = if i.is_multiple_of(10) {
        (0, PacketKind::Audio)
    } else {
        (1 + (i % 2) as u32, PacketKind::Video { keyframe: false })
    };
    PacedPacket {
        stream: StreamId(stream),
        kind,
        size: DataSize::from_bytes(1200),
        payload: i,
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("pacer");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    let mut pacer = SubscriberPacer::new(PacerConfig::default()).expect("valid");
    pacer.set_estimate(BandwidthEstimate::new(Bitrate::from_mbps(2)));
    // Keep ~100 packets queued so decisions run against a realistic backlog.
    let mut now = Timestamp::from_millis(1);
    for i in 0..100 {
        let _ = pacer.enqueue(packet(i), now);
    }
    let mut i = 100u64;
    g.bench_function("enqueue_and_poll_per_packet", |b| {
        b.iter(|| {
            let _ = pacer.enqueue(black_box(packet(i)), now);
            i += 1;
            // One packet interval at 5 Mbit/s pacing = 1.92 ms.
            now = now.saturating_add(Duration::from_micros(1920));
            while let PacerAction::SendNow(p) | PacerAction::Drop(p) = pacer.poll(now) {
                black_box(p);
            }
        });
    });
    g.bench_function("poll_wait_decision", |b| {
        b.iter(|| black_box(pacer.poll(black_box(now))));
    });

    let mut queue: VecDeque<PacedPacket<u64>> = VecDeque::with_capacity(1024);
    for i in 0..100 {
        queue.push_back(packet(i));
    }
    g.bench_function("baseline_vecdeque_push_pop", |b| {
        b.iter(|| {
            queue.push_back(black_box(packet(i)));
            i += 1;
            black_box(queue.pop_front());
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
