//! ns per frame marking parse, for both forms, against a plain byte copy of
//! the same length measured in the same run (the README ratios).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sfu_vfm::FrameMarkingInfo;

fn bench_parse(c: &mut Criterion) {
    let non_scalable = [0xe0u8];
    let scalable = [0xaau8, 0x01, 0x2a];
    let mut group = c.benchmark_group("vfm");
    group.bench_function("baseline_copy_3_bytes", |b| {
        b.iter(|| {
            let mut out = [0u8; 3];
            out.copy_from_slice(black_box(&scalable[..]));
            black_box(out)
        })
    });
    group.bench_function("parse_non_scalable_1_byte", |b| {
        b.iter(|| black_box(FrameMarkingInfo::parse(black_box(&non_scalable[..]))))
    });
    group.bench_function("parse_scalable_3_bytes", |b| {
        b.iter(|| black_box(FrameMarkingInfo::parse(black_box(&scalable[..]))))
    });
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
