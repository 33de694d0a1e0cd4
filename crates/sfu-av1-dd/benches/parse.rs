//! ns per descriptor parse: mandatory-only (the common packet), a keyframe
//! descriptor carrying the full L3T3 structure, and a plain 3-byte copy as
//! the in-run baseline the README ratios are taken against.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sfu_av1_dd::{
    Av1DdInfo, Av1DdParser, DecodeTargetMask, FrameNumber, TemplateStructure, scalability, write,
};

fn descriptor(s: &TemplateStructure, index: usize, carries_structure: bool) -> Vec<u8> {
    let t = s.templates()[index];
    let info = Av1DdInfo {
        start_of_frame: true,
        end_of_frame: false,
        template_id: s.template_id_of(index),
        frame_number: FrameNumber(1234),
        spatial_id: t.spatial_id,
        temporal_id: t.temporal_id,
        dtis: t.dtis,
        frame_diffs: t.frame_diffs,
        chain_diffs: t.chain_diffs,
        active_decode_targets: carries_structure
            .then(|| DecodeTargetMask::all(s.decode_target_count())),
        carries_structure,
        max_render_resolution: s
            .render_resolutions()
            .map(|r| r[usize::from(t.spatial_id.0)]),
    };
    let mut buf = vec![0u8; 256];
    let n = write(&info, s, &mut buf).expect("L3T3 example descriptors are writable");
    buf.truncate(n);
    buf
}

fn bench_parse(c: &mut Criterion) {
    let l3t3 = scalability::l3t3(0, true);
    let keyframe = descriptor(&l3t3, 0, true);
    let mandatory = descriptor(&l3t3, 8, false);
    assert_eq!(mandatory.len(), 3);

    let mut group = c.benchmark_group("av1_dd");
    group.bench_function("baseline_copy_3_bytes", |b| {
        b.iter(|| {
            let mut out = [0u8; 3];
            out.copy_from_slice(black_box(&mandatory[..]));
            black_box(out)
        })
    });
    let mut primed = Av1DdParser::new();
    primed.parse(&keyframe).expect("keyframe parses");
    group.bench_function("parse_mandatory_only", |b| {
        b.iter(|| black_box(primed.parse(black_box(&mandatory))))
    });
    group.bench_function("parse_l3t3_structure_repeat", |b| {
        // Every packet of a keyframe repeats the structure; the parser keeps
        // the one it has when they are equal.
        b.iter(|| black_box(primed.parse(black_box(&keyframe))))
    });
    group.bench_function("parse_l3t3_structure_new", |b| {
        b.iter_batched(
            Av1DdParser::new,
            |mut fresh| black_box(fresh.parse(black_box(&keyframe)).map(|i| i.frame_number)),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
