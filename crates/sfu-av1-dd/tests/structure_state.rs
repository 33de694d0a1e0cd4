//! The parser's remembered state: a new structure replaces the old one only
//! when its whole descriptor parsed, active decode targets persist until the
//! next update (A.4) and reset to "all" with a new structure.

use sfu_av1_dd::{
    Av1DdError, Av1DdInfo, Av1DdParser, DecodeTargetMask, FrameNumber, TemplateStructure,
    scalability, write,
};

fn bytes(s: &TemplateStructure, index: usize, carries: bool, active: Option<u32>) -> Vec<u8> {
    let t = s.templates()[index];
    let info = Av1DdInfo {
        start_of_frame: true,
        end_of_frame: true,
        template_id: s.template_id_of(index),
        frame_number: FrameNumber(5),
        spatial_id: t.spatial_id,
        temporal_id: t.temporal_id,
        dtis: t.dtis,
        frame_diffs: t.frame_diffs,
        chain_diffs: t.chain_diffs,
        active_decode_targets: active.map(DecodeTargetMask),
        carries_structure: carries,
        max_render_resolution: s
            .render_resolutions()
            .map(|r| r[usize::from(t.spatial_id.0)]),
    };
    let mut buf = vec![0u8; 256];
    let n = write(&info, s, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn every_truncation_of_a_new_structure_keeps_the_old_one() {
    let old = scalability::l1t3(0);
    let new = scalability::l3t3(32, true);
    let mut p = Av1DdParser::new();
    p.parse(&bytes(&old, 0, true, None)).unwrap();
    p.parse(&bytes(&old, 2, false, Some(0b011))).unwrap();
    let full = bytes(&new, 0, true, None);
    for cut in 4..full.len() {
        assert!(p.parse(&full[..cut]).is_err(), "cut {cut}");
        assert_eq!(p.structure(), Some(&old));
        assert_eq!(p.active_decode_targets(), Some(DecodeTargetMask(0b011)));
    }
    p.parse(&full).unwrap();
    assert_eq!(p.structure(), Some(&new));
    assert_eq!(p.active_decode_targets(), Some(DecodeTargetMask::all(9)));
}

#[test]
fn active_decode_targets_persist_until_the_next_update() {
    let s = scalability::l3t3(0, false);
    let mut p = Av1DdParser::new();
    p.parse(&bytes(&s, 0, true, None)).unwrap();
    assert_eq!(p.active_decode_targets(), Some(DecodeTargetMask(0x1ff)));
    let info = p.parse(&bytes(&s, 1, false, Some(0b1_1100_0000))).unwrap();
    assert_eq!(
        info.active_decode_targets,
        Some(DecodeTargetMask(0b1_1100_0000))
    );
    let info = p.parse(&bytes(&s, 3, false, None)).unwrap();
    assert_eq!(info.active_decode_targets, None);
    assert_eq!(
        p.active_decode_targets(),
        Some(DecodeTargetMask(0b1_1100_0000))
    );
}

#[test]
fn a_template_outside_the_new_range_is_unknown_after_a_structure_change() {
    let first = scalability::l1t3(0);
    let second = scalability::l1t3(5);
    let mut p = Av1DdParser::new();
    p.parse(&bytes(&first, 0, true, None)).unwrap();
    let late_old_packet = bytes(&first, 3, false, None);
    p.parse(&bytes(&second, 0, true, None)).unwrap();
    assert_eq!(
        p.parse(&late_old_packet),
        Err(Av1DdError::UnknownTemplate {
            template_id: 3,
            template_id_offset: 5,
            template_count: 5
        })
    );
    assert_eq!(p.structure(), Some(&second));
}

#[test]
fn an_active_mask_without_any_structure_is_no_structure() {
    // Extended descriptor (4 bytes) setting only active_decode_targets_present_flag.
    let mut p = Av1DdParser::new();
    assert_eq!(
        p.parse(&[0x80, 0x00, 0x09, 0x40]),
        Err(Av1DdError::NoStructure { frame_number: 9 })
    );
    assert_eq!(p.active_decode_targets(), None);
}
