//! What one room spends fanning a publisher's media out to 200 subscribers, on one worker
//! and on two ([`Workers`]): the time of the room's own calls only (the peers around it run
//! untimed on the bench's thread), so the ratio is the room's own scaling. And what handing
//! work to another thread costs here, which decides how large a batch must be to be worth
//! sharing (docs/load.md, "Rooms bigger than a core").
//!
//! `cargo bench -p sfu-registry --bench fanout`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::World;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sfu_client::EstimatorKind;
use sfu_ids::ClientId;
use sfu_registry::{Registry, Workers};
use str0m::Input;

const SUBSCRIBERS: usize = 200;
/// Video frames of 4 and of 16 packets of ~1200 bytes (25 a second: 1 and 3.7 Mbit/s).
const FRAME_PACKETS: [usize; 2] = [4, 16];

/// A room of one publisher and [`SUBSCRIBERS`] WHEP-style viewers, connected and receiving,
/// forwarding without an estimator (every subscriber gets every packet).
fn room(workers: Workers, frame_packets: usize) -> (World, ClientId) {
    let mut w = World::new();
    w.room = Registry::with_workers(workers);
    w.estimator = EstimatorKind::Off;
    let publisher = w.join(false);
    w.peer(publisher).layer_bytes = match frame_packets {
        4 => |_, _| 4 * 1150,
        _ => |_, _| 16 * 1150,
    };
    for _ in 0..SUBSCRIBERS {
        w.join_viewer(1, 1);
    }
    w.run(Duration::from_secs(2));
    (w, publisher)
}

/// One 20 ms tick: the publisher's media goes through the room, up to the timers and the
/// poll that complete its fanout (timed); the room's datagrams reach the viewers, and
/// their feedback the room (untimed).
fn tick(w: &mut World, publisher: ClientId) -> Duration {
    w.now += Duration::from_millis(20);
    let now = w.now;
    let p = w.peer(publisher);
    p.send_media(now);
    let _ = p.rtc.handle_input(Input::Timeout(now));
    let datagrams = p.drain(now);
    let start = Instant::now();
    for d in &datagrams {
        let _ = w.room.handle_incoming(d, now);
    }
    // The poll completes the batch: each subscriber takes it, its timer, and is polled.
    w.room.handle_timeout(now);
    let _ = w.room.poll_timeout();
    let spent = start.elapsed();
    for p in w.peers.iter_mut() {
        let _ = p.rtc.handle_input(Input::Timeout(now));
    }
    w.exchange();
    spent
}

fn bench_fanout(c: &mut Criterion) {
    let mut g = c.benchmark_group(format!("fanout_1x{SUBSCRIBERS}"));
    g.sample_size(20);
    for (frame_packets, workers) in FRAME_PACKETS.into_iter().flat_map(|f| [(f, 1), (f, 2)]) {
        let (mut w, publisher) = room(Workers::new(workers), frame_packets);
        let before = w.room.stats().media_fanned_out;
        for _ in 0..10 {
            tick(&mut w, publisher);
        }
        assert!(
            w.room.stats().media_fanned_out > before,
            "the room forwarded nothing"
        );
        let id = BenchmarkId::new(format!("frame_{frame_packets}_packets"), workers);
        g.bench_with_input(id, &workers, |b, _| {
            b.iter_custom(|iters| (0..iters).map(|_| tick(&mut w, publisher)).sum())
        });
        assert_eq!(
            w.room.stats().parallel_fanouts > 0,
            workers > 1,
            "whether batches went to the helper on {workers} workers"
        );
    }
    g.finish();
}

/// The cost of handing work to another thread and back, and of touching 2 MiB that another
/// core touched last: what a parallel fanout pays per hand-off.
fn bench_handoff(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("one thread starts");
    c.bench_function("handoff/empty", |b| {
        b.iter(|| pool.install(|| std::hint::black_box(1)))
    });
    let mut data = vec![0u8; 2 << 20];
    let touch = |data: &mut Vec<u8>| {
        for x in data.iter_mut().step_by(64) {
            *x = x.wrapping_add(1);
        }
    };
    c.bench_function("handoff/touch_2mib_here", |b| b.iter(|| touch(&mut data)));
    c.bench_function("handoff/touch_2mib_there_then_here", |b| {
        b.iter(|| {
            pool.install(|| touch(&mut data));
            touch(&mut data);
        })
    });
}

criterion_group!(benches, bench_fanout);
criterion_group!(handoff, bench_handoff);
criterion_main!(benches, handoff);
