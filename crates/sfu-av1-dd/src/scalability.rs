//! The example structures of A.10.2, built from the spec's tables. Useful as
//! test fixtures here and in the crates that forward AV1.

use crate::structure::{FrameTemplate, TemplateStructure};
use crate::types::{ChainDiffs, Dti, DtiList, FrameDiffs, SpatialId, TemporalId};

/// Parses a DTI row written with the symbols of Table A.1 (`-`, `D`, `S`, `R`).
fn dtis(symbols: &str) -> DtiList {
    let list: Vec<Dti> = symbols
        .chars()
        .map(|c| match c {
            'D' => Dti::Discardable,
            'S' => Dti::Switch,
            'R' => Dti::Required,
            _ => Dti::NotPresent,
        })
        .collect();
    // Rows below have at most 9 entries.
    DtiList::from_slice(&list).expect("example rows have at most 32 DTIs")
}

fn template(s: u8, t: u8, fdiffs: &[u16], chains: &[u8], dti: &str) -> FrameTemplate {
    FrameTemplate {
        spatial_id: SpatialId(s),
        temporal_id: TemporalId(t),
        dtis: dtis(dti),
        // Rows below have at most 2 fdiffs and 3 chains.
        frame_diffs: FrameDiffs::from_slice(fdiffs).expect("example rows have few fdiffs"),
        chain_diffs: ChainDiffs::from_slice(chains).expect("example rows have few chains"),
    }
}

/// A.10.2.1 "L1T3 Single Spatial Layer with 3 Temporal Layers".
///
/// Decode targets: 0 = 30 fps (T0–T2), 1 = 15 fps (T0–T1), 2 = 7.5 fps (T0);
/// one chain (the T0 frames) protects all three. Template index = table
/// `Idx - 1`; template ids start at `template_id_offset`.
///
/// # Panics
/// Never: the offset is taken modulo 64 and the table is a valid structure.
#[must_use]
pub fn l1t3(template_id_offset: u8) -> TemplateStructure {
    let templates = vec![
        template(0, 0, &[], &[0], "SSS"),
        template(0, 0, &[4], &[4], "SSS"),
        template(0, 1, &[2], &[2], "SD-"),
        template(0, 2, &[1], &[1], "D--"),
        template(0, 2, &[1], &[3], "D--"),
    ];
    TemplateStructure::new(template_id_offset & 63, 3, templates, 1, &[0, 0, 0], None)
        .expect("the spec's L1T3 table is a valid structure")
}

/// A.10.2.2 "L3T3 Full SVC".
///
/// Decode targets, in the table's order: 0–2 = HD at 30/15/7.5 fps,
/// 3–5 = VGA, 6–8 = QVGA; chains 2, 1, 0 protect them. `resolutions` adds
/// render resolutions 320x180, 640x360, 1280x720 per spatial layer.
///
/// # Panics
/// Never: the offset is taken modulo 64 and the table is a valid structure.
#[must_use]
pub fn l3t3(template_id_offset: u8, resolutions: bool) -> TemplateStructure {
    let templates = vec![
        template(0, 0, &[], &[0, 0, 0], "SSSSSSSSS"),
        template(0, 0, &[12], &[12, 11, 10], "RRRRRRSSS"),
        template(0, 1, &[6], &[6, 5, 4], "RR-RR-SD-"),
        template(0, 2, &[3], &[3, 2, 1], "R--R--D--"),
        template(0, 2, &[3], &[9, 8, 7], "R--R--D--"),
        template(1, 0, &[1], &[1, 1, 1], "SSSSSS---"),
        template(1, 0, &[12, 1], &[1, 1, 1], "RRRSSS---"),
        template(1, 1, &[6, 1], &[7, 6, 5], "RR-SD----"),
        template(1, 2, &[3, 1], &[4, 3, 2], "R--D-----"),
        template(1, 2, &[3, 1], &[10, 9, 8], "R--D-----"),
        template(2, 0, &[1], &[2, 1, 1], "SSS------"),
        template(2, 0, &[12, 1], &[2, 1, 1], "SSS------"),
        template(2, 1, &[6, 1], &[8, 7, 6], "SD-------"),
        template(2, 2, &[3, 1], &[5, 4, 3], "D--------"),
        template(2, 2, &[3, 1], &[11, 10, 9], "D--------"),
    ];
    let res = resolutions.then(|| {
        [(320, 180), (640, 360), (1280, 720)]
            .into_iter()
            .map(|(width, height)| crate::types::RenderResolution { width, height })
            .collect()
    });
    TemplateStructure::new(
        template_id_offset & 63,
        9,
        templates,
        3,
        &[2, 2, 2, 1, 1, 1, 0, 0, 0],
        res,
    )
    .expect("the spec's L3T3 table is a valid structure")
}

/// Template index for frame `k` (0-based, decode order) of an L1T3 stream
/// that starts with a keyframe, following the prediction structure of A.10.2.1.
#[must_use]
pub fn l1t3_template_index(k: u32) -> usize {
    match k % 4 {
        0 if k == 0 => 0,
        0 => 1,
        1 => 3,
        2 => 2,
        _ => 4,
    }
}

/// Template index for the frame of spatial layer `spatial` (0..3) in temporal
/// unit `tu` (0-based, starting with a keyframe) of an L3T3 stream (A.10.2.2).
/// Frame numbers are `3 * tu + spatial`.
#[must_use]
pub fn l3t3_template_index(tu: u32, spatial: u8) -> usize {
    let base = match tu % 4 {
        0 if tu == 0 => 0,
        0 => 1,
        1 => 3,
        2 => 2,
        _ => 4,
    };
    usize::from(spatial.min(2)) * 5 + base
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::DecodeTargetIndex;

    #[test]
    fn l3t3_decode_targets_map_to_the_tables_layers() {
        let s = l3t3(0, false);
        let layer = |dt| s.decode_target_layer(DecodeTargetIndex(dt)).unwrap();
        assert_eq!(layer(0), (SpatialId(2), TemporalId(2)));
        assert_eq!(layer(4), (SpatialId(1), TemporalId(1)));
        assert_eq!(layer(8), (SpatialId(0), TemporalId(0)));
        assert_eq!(s.chain_of(DecodeTargetIndex(0)), Some(2));
        assert_eq!(s.chain_of(DecodeTargetIndex(7)), Some(0));
    }

    #[test]
    fn l1t3_decode_targets_map_to_frame_rates() {
        let s = l1t3(0);
        let t = |dt| s.decode_target_layer(DecodeTargetIndex(dt)).unwrap().1;
        assert_eq!(
            (t(0), t(1), t(2)),
            (TemporalId(2), TemporalId(1), TemporalId(0))
        );
    }
}
