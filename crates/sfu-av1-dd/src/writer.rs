//! The descriptor writer: the inverse of [`crate::Av1DdParser::parse`]. It
//! picks the shortest encoding the syntax allows: custom DTIs, fdiffs and
//! chains only where the frame differs from its template, the active decode
//! target mask only where it is not implied, and the extended fields only when
//! something needs them.

use crate::bit_writer::BitWriter;
use crate::error::Av1DdWriteError;
use crate::parser::Av1DdInfo;
use crate::structure::TemplateStructure;
use crate::types::{DecodeTargetMask, MAX_FRAME_DIFF};

/// Bytes [`write()`] would produce for `info` against `structure`.
pub fn encoded_len(
    info: &Av1DdInfo,
    structure: &TemplateStructure,
) -> Result<usize, Av1DdWriteError> {
    let mut counter = BitWriter::new(&mut []);
    encode(info, structure, &mut counter)?;
    Ok(counter.bits() / 8)
}

/// Writes the descriptor for `info` into `out` and returns its length in bytes.
///
/// `structure` resolves `info.template_id`; it is also written into the
/// descriptor when `info.carries_structure` is set. With a structure attached,
/// `active_decode_targets: None` means "all" (as the parser reports it).
/// On error the contents of `out` are unspecified.
pub fn write(
    info: &Av1DdInfo,
    structure: &TemplateStructure,
    out: &mut [u8],
) -> Result<usize, Av1DdWriteError> {
    let available = out.len();
    let mut w = BitWriter::new(out);
    encode(info, structure, &mut w)?;
    if w.overflowed() {
        return Err(Av1DdWriteError::BufferTooSmall {
            needed: w.bits() / 8,
            available,
        });
    }
    Ok(w.bits() / 8)
}

fn encode(
    info: &Av1DdInfo,
    structure: &TemplateStructure,
    w: &mut BitWriter<'_>,
) -> Result<(), Av1DdWriteError> {
    if info.template_id > 63 {
        return Err(Av1DdWriteError::TemplateId(info.template_id));
    }
    let template =
        structure
            .template(info.template_id)
            .ok_or(Av1DdWriteError::UnknownTemplate {
                template_id: info.template_id,
            })?;
    if (template.spatial_id, template.temporal_id) != (info.spatial_id, info.temporal_id) {
        return Err(Av1DdWriteError::LayerMismatch {
            template_id: info.template_id,
        });
    }
    let dt_count = structure.decode_target_count();
    if info.dtis.len() != dt_count {
        return Err(Av1DdWriteError::DtiCount {
            expected: dt_count,
            got: info.dtis.len(),
        });
    }
    let chain_count = structure.chain_count();
    if info.chain_diffs.as_slice().len() != chain_count {
        return Err(Av1DdWriteError::ChainCount {
            expected: chain_count,
            got: info.chain_diffs.as_slice().len(),
        });
    }
    if let Some(&d) = info
        .frame_diffs
        .as_slice()
        .iter()
        .find(|&&d| !(1..=MAX_FRAME_DIFF).contains(&d))
    {
        return Err(Av1DdWriteError::FrameDiff(d));
    }
    let all = DecodeTargetMask::all(dt_count);
    if let Some(mask) = info.active_decode_targets
        && mask.0 & !all.0 != 0
    {
        return Err(Av1DdWriteError::ActiveMask {
            mask: mask.0,
            count: dt_count,
        });
    }

    let custom_dtis = info.dtis != template.dtis;
    let custom_fdiffs = info.frame_diffs != template.frame_diffs;
    let custom_chains = info.chain_diffs != template.chain_diffs;
    let active_present = match info.active_decode_targets {
        Some(mask) => !info.carries_structure || mask != all,
        None => false,
    };
    let extended =
        info.carries_structure || active_present || custom_dtis || custom_fdiffs || custom_chains;

    // mandatory_descriptor_fields()
    w.write_flag(info.start_of_frame);
    w.write_flag(info.end_of_frame);
    w.write_bits(6, u32::from(info.template_id));
    w.write_bits(16, u32::from(info.frame_number.0));
    if !extended {
        return Ok(());
    }
    // extended_descriptor_fields()
    w.write_flag(info.carries_structure);
    w.write_flag(active_present);
    w.write_flag(custom_dtis);
    w.write_flag(custom_fdiffs);
    w.write_flag(custom_chains);
    if info.carries_structure {
        write_structure(structure, w);
    }
    if active_present {
        // `active_present` implies `Some`.
        let mask = info.active_decode_targets.unwrap_or(all);
        w.write_bits(dt_count as u32, mask.0);
    }
    // frame_dependency_definition()
    if custom_dtis {
        for dti in info.dtis.iter() {
            w.write_bits(2, u32::from(dti.to_bits()));
        }
    }
    if custom_fdiffs {
        for &d in info.frame_diffs.as_slice() {
            let minus_one = u32::from(d - 1);
            let size = match minus_one {
                0..=0xf => 1,
                0x10..=0xff => 2,
                _ => 3,
            };
            w.write_bits(2, size);
            w.write_bits(4 * size, minus_one);
        }
        w.write_bits(2, 0);
    }
    if custom_chains {
        for &c in info.chain_diffs.as_slice() {
            w.write_bits(8, u32::from(c));
        }
    }
    w.pad_to_byte();
    Ok(())
}

/// `template_dependency_structure()`; `structure` is valid by construction.
fn write_structure(structure: &TemplateStructure, w: &mut BitWriter<'_>) {
    let templates = structure.templates();
    let dt_count = structure.decode_target_count();
    w.write_bits(6, u32::from(structure.template_id_offset()));
    w.write_bits(5, dt_count as u32 - 1);
    // template_layers(): each template's next_layer_idc describes the step to the next one.
    for (i, t) in templates.iter().enumerate() {
        let idc = match templates.get(i + 1) {
            None => 3,
            Some(n) if (n.spatial_id, n.temporal_id) == (t.spatial_id, t.temporal_id) => 0,
            Some(n) if n.spatial_id == t.spatial_id => 1,
            Some(_) => 2,
        };
        w.write_bits(2, idc);
    }
    for t in templates {
        for dti in t.dtis.iter() {
            w.write_bits(2, u32::from(dti.to_bits()));
        }
    }
    for t in templates {
        for &d in t.frame_diffs.as_slice() {
            w.write_flag(true);
            w.write_bits(4, u32::from(d - 1));
        }
        w.write_flag(false);
    }
    let chain_count = structure.chain_count();
    w.write_ns(dt_count as u32 + 1, chain_count as u32);
    if chain_count > 0 {
        for &c in structure.protected_by() {
            w.write_ns(chain_count as u32, u32::from(c));
        }
        for t in templates {
            for &c in t.chain_diffs.as_slice() {
                w.write_bits(4, u32::from(c));
            }
        }
    }
    match structure.render_resolutions() {
        Some(res) => {
            w.write_flag(true);
            for r in res {
                w.write_bits(16, r.width - 1);
                w.write_bits(16, r.height - 1);
            }
        }
        None => w.write_flag(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::Av1DdParser;
    use crate::structure::FrameTemplate;
    use crate::types::{ChainDiffs, Dti, DtiList, FrameDiffs, FrameNumber, SpatialId, TemporalId};

    fn one_template_structure() -> TemplateStructure {
        // Two decode targets, two chains, one template "SR" with fdiff 1 and
        // chain fdiffs (2, 2): the structure of libwebrtc's
        // RtpDependencyDescriptorExtensionTest.Writer3BytesForPerfectTemplate.
        TemplateStructure::new(
            0,
            2,
            vec![FrameTemplate {
                dtis: DtiList::from_slice(&[Dti::Switch, Dti::Required]).unwrap(),
                frame_diffs: FrameDiffs::from_slice(&[1]).unwrap(),
                chain_diffs: ChainDiffs::from_slice(&[2, 2]).unwrap(),
                ..FrameTemplate::default()
            }],
            2,
            &[0, 1],
            None,
        )
        .unwrap()
    }

    fn info_for(s: &TemplateStructure) -> Av1DdInfo {
        let t = s.templates()[0];
        Av1DdInfo {
            start_of_frame: true,
            end_of_frame: false,
            template_id: s.template_id_of(0),
            frame_number: FrameNumber(77),
            spatial_id: t.spatial_id,
            temporal_id: t.temporal_id,
            dtis: t.dtis,
            frame_diffs: t.frame_diffs,
            chain_diffs: t.chain_diffs,
            active_decode_targets: None,
            carries_structure: false,
            max_render_resolution: None,
        }
    }

    /// libwebrtc: "Writer3BytesForPerfectTemplate".
    #[test]
    fn a_frame_matching_its_template_takes_three_bytes() {
        let s = one_template_structure();
        assert_eq!(encoded_len(&info_for(&s), &s).unwrap(), 3);
    }

    /// libwebrtc: "RoundTripsFrameDiffsUpToLimit" — the 4, 8 and 12-bit
    /// boundaries of custom fdiffs, and 4096 as the largest.
    #[test]
    fn custom_frame_diffs_round_trip_at_every_size_boundary() {
        let s = one_template_structure();
        let mut p = Av1DdParser::new();
        let mut with_structure = info_for(&s);
        with_structure.carries_structure = true;
        let mut buf = [0u8; 64];
        let n = write(&with_structure, &s, &mut buf).unwrap();
        p.parse(&buf[..n]).unwrap();
        for fdiff in [1u16, 16, 17, 256, 257, 4096] {
            let mut info = info_for(&s);
            info.frame_diffs = FrameDiffs::from_slice(&[fdiff, 3]).unwrap();
            let n = write(&info, &s, &mut buf).unwrap();
            assert_eq!(p.parse(&buf[..n]).unwrap(), info, "fdiff {fdiff}");
        }
    }

    /// libwebrtc: "FailsToWriteTooLargeFrameDiff", "FailsToWriteNonPositiveFrameDiff".
    #[test]
    fn frame_diffs_outside_1_to_4096_are_refused() {
        let s = one_template_structure();
        for bad in [0u16, 4097, 5275] {
            let mut info = info_for(&s);
            info.frame_diffs = FrameDiffs::from_slice(&[bad]).unwrap();
            assert_eq!(encoded_len(&info, &s), Err(Av1DdWriteError::FrameDiff(bad)));
        }
    }

    /// libwebrtc: "FailsToWriteInvalidDescriptor" and the count-mismatch tests.
    #[test]
    fn frames_the_template_cannot_describe_are_refused() {
        let s = one_template_structure();
        let mut info = info_for(&s);
        info.temporal_id = TemporalId(1);
        assert!(matches!(
            encoded_len(&info, &s),
            Err(Av1DdWriteError::LayerMismatch { .. })
        ));
        let mut info = info_for(&s);
        info.spatial_id = SpatialId(1);
        assert!(matches!(
            encoded_len(&info, &s),
            Err(Av1DdWriteError::LayerMismatch { .. })
        ));
        let mut info = info_for(&s);
        info.chain_diffs = ChainDiffs::from_slice(&[2]).unwrap();
        assert_eq!(
            encoded_len(&info, &s),
            Err(Av1DdWriteError::ChainCount {
                expected: 2,
                got: 1
            })
        );
        let mut info = info_for(&s);
        info.dtis = DtiList::from_slice(&[Dti::Switch]).unwrap();
        assert_eq!(
            encoded_len(&info, &s),
            Err(Av1DdWriteError::DtiCount {
                expected: 2,
                got: 1
            })
        );
        let mut info = info_for(&s);
        info.template_id = 1;
        assert_eq!(
            encoded_len(&info, &s),
            Err(Av1DdWriteError::UnknownTemplate { template_id: 1 })
        );
        let mut info = info_for(&s);
        info.active_decode_targets = Some(DecodeTargetMask(0b100));
        assert!(matches!(
            encoded_len(&info, &s),
            Err(Av1DdWriteError::ActiveMask { .. })
        ));
    }

    /// libwebrtc: "WriteZeroInUnusedBits".
    #[test]
    fn padding_bits_are_zero_even_over_a_dirty_buffer() {
        let s = one_template_structure();
        let mut info = info_for(&s);
        info.frame_diffs = FrameDiffs::from_slice(&[2]).unwrap();
        let mut buf = [0xffu8; 32];
        let n = write(&info, &s, &mut buf).unwrap();
        // 24 mandatory + 5 flags + (2 + 4 + 2) fdiffs = 37 bits: 3 padding bits.
        assert_eq!(n, 5);
        assert_eq!(buf[4] & 0b111, 0);
    }

    #[test]
    fn a_short_buffer_is_reported_with_the_needed_size() {
        let s = one_template_structure();
        let mut info = info_for(&s);
        info.carries_structure = true;
        let needed = encoded_len(&info, &s).unwrap();
        let mut buf = vec![0u8; needed - 1];
        assert_eq!(
            write(&info, &s, &mut buf),
            Err(Av1DdWriteError::BufferTooSmall {
                needed,
                available: needed - 1
            })
        );
    }
}
