//! The example structures of Appendix A.10.2 (L1T3, L3T3) on the wire:
//! they survive write → parse, and every frame of their prediction patterns
//! fits in the 3 mandatory bytes (no custom fields needed).

use sfu_av1_dd::{
    Av1DdInfo, Av1DdParser, DecodeTargetMask, FrameNumber, RenderResolution, SpatialId,
    TemplateStructure, encoded_len, scalability, write,
};

fn info(s: &TemplateStructure, index: usize, frame: u16, carries_structure: bool) -> Av1DdInfo {
    let t = s.templates()[index];
    Av1DdInfo {
        start_of_frame: true,
        end_of_frame: true,
        template_id: s.template_id_of(index),
        frame_number: FrameNumber(frame),
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
    }
}

fn send(p: &mut Av1DdParser, s: &TemplateStructure, i: &Av1DdInfo) -> (usize, Av1DdInfo) {
    let mut buf = [0u8; 256];
    let n = write(i, s, &mut buf).unwrap();
    assert_eq!(n, encoded_len(i, s).unwrap());
    (n, p.parse(&buf[..n]).unwrap())
}

#[test]
fn l1t3_structure_round_trips_and_its_frames_take_three_bytes() {
    let s = scalability::l1t3(11);
    let mut p = Av1DdParser::new();
    let key = info(&s, 0, 0, true);
    assert_eq!(send(&mut p, &s, &key).1, key);
    assert_eq!(p.structure(), Some(&s));
    for k in 1..40u32 {
        let i = info(&s, scalability::l1t3_template_index(k), k as u16, false);
        let (n, parsed) = send(&mut p, &s, &i);
        assert_eq!(n, 3, "frame {k}");
        assert_eq!(parsed, i);
    }
}

#[test]
fn l3t3_structure_with_resolutions_round_trips() {
    let s = scalability::l3t3(60, true);
    let mut p = Av1DdParser::new();
    let key = info(&s, 0, 65535, true);
    let (_, parsed) = send(&mut p, &s, &key);
    assert_eq!(parsed, key);
    assert_eq!(
        parsed.max_render_resolution,
        Some(RenderResolution {
            width: 320,
            height: 180
        })
    );
    assert_eq!(p.structure(), Some(&s));
    for tu in 1..20u32 {
        for spatial in 0..3u8 {
            let frame = (3 * tu + u32::from(spatial)) as u16;
            let i = info(
                &s,
                scalability::l3t3_template_index(tu, spatial),
                frame,
                false,
            );
            let (n, parsed) = send(&mut p, &s, &i);
            assert_eq!(n, 3);
            assert_eq!(parsed.spatial_id, SpatialId(spatial));
            assert_eq!(parsed, i);
        }
    }
}

#[test]
fn template_ids_wrap_past_63() {
    // Offset 60 puts L3T3's 15 templates at ids 60..=63 and 0..=10.
    let s = scalability::l3t3(60, false);
    let mut p = Av1DdParser::new();
    send(&mut p, &s, &info(&s, 0, 0, true));
    let last = info(&s, 14, 1, false);
    assert_eq!(last.template_id, 10);
    assert_eq!(send(&mut p, &s, &last).1, last);
}
