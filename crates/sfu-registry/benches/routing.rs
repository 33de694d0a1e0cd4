//! Routing cost per datagram as the room grows: it must not depend on the number of clients.
//!
//! `cargo bench -p sfu-registry --bench routing`

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sfu_client::{Client, ClientConfig, SfuRtc};
use sfu_ids::{ClientId, IncomingDatagram};
use sfu_registry::testing::stun_binding_request;
use sfu_registry::{Registry, Router};

const SIZES: [u64; 4] = [1, 8, 50, 500];

fn addr(i: u64) -> SocketAddr {
    SocketAddr::from(([127, 0, (i >> 8) as u8, i as u8], 40_000))
}

fn router_with(n: u64) -> Router {
    let mut r = Router::default();
    for i in 0..n {
        r.add_credentials(format!("uf{i:05}"), format!("pw{i:05}"), ClientId::new(i));
        r.learn(addr(i), ClientId::new(i));
    }
    r
}

fn bench_router(c: &mut Criterion) {
    let rtp = [0x80u8; 200];
    let stun_unknown = stun_binding_request("nobody", "peer");
    let unknown_addr = SocketAddr::from(([10, 9, 9, 9], 1));
    let mut g = c.benchmark_group("router");
    for n in SIZES {
        let r = router_with(n);
        let known = addr(n / 2);
        g.bench_with_input(BenchmarkId::new("known_source", n), &n, |b, _| {
            b.iter(|| black_box(r.route(black_box(known), black_box(&rtp))))
        });
        g.bench_with_input(BenchmarkId::new("unknown_source_rtp", n), &n, |b, _| {
            b.iter(|| black_box(r.route(black_box(unknown_addr), black_box(&rtp))))
        });
        g.bench_with_input(BenchmarkId::new("unknown_source_stun", n), &n, |b, _| {
            b.iter(|| black_box(r.route(black_box(unknown_addr), black_box(&stun_unknown))))
        });
    }
    g.finish();
}

/// The SFU's local address and an RTP-looking datagram from an address no one owns.
fn unknown_rtp() -> (Instant, SocketAddr, IncomingDatagram) {
    let local: SocketAddr = "127.0.0.1:3478".parse().expect("literal address");
    let from = SocketAddr::from(([10, 9, 9, 9], 1));
    (
        Instant::now(),
        local,
        IncomingDatagram::udp(from, local, vec![0x80u8; 200]),
    )
}

/// The whole `Registry::handle_incoming` for an unknown source, with real clients whose
/// addresses are bound (so the address map holds `n` entries).
fn bench_registry_unknown(c: &mut Criterion) {
    let (now, local, junk) = unknown_rtp();
    let mut g = c.benchmark_group("registry");
    for n in SIZES {
        let mut room = Registry::new();
        for i in 0..n {
            let rtc = SfuRtc::builder().host_candidate(local).build(now);
            let client = Client::new(ClientId::new(i), rtc, ClientConfig::default());
            room.insert(client, now).expect("unique ids");
            room.bind_address(addr(i), ClientId::new(i))
                .expect("client was inserted");
        }
        g.bench_with_input(BenchmarkId::new("unknown_source", n), &n, |b, _| {
            b.iter(|| black_box(room.handle_incoming(black_box(&junk), now).is_err()))
        });
    }
    g.finish();
}

/// Baseline measured in the same run: the seed crate's routing, which asks every peer's
/// `Rtc::accepts()` in turn (O(n) for a datagram no peer owns).
fn bench_scan_baseline(c: &mut Criterion) {
    let (now, local, junk) = unknown_rtp();
    let input = junk.to_input(now).expect("RTP-looking bytes classify");
    let mut g = c.benchmark_group("scan_baseline");
    for n in SIZES {
        let rtcs: Vec<_> = (0..n)
            .map(|_| {
                SfuRtc::builder()
                    .host_candidate(local)
                    .build(now)
                    .into_raw()
            })
            .collect();
        g.bench_with_input(BenchmarkId::new("unknown_source", n), &n, |b, _| {
            b.iter(|| black_box(rtcs.iter().position(|r| r.accepts(black_box(&input)))))
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_router,
    bench_registry_unknown,
    bench_scan_baseline
);
criterion_main!(benches);
