//! The descriptor parser (A.8.2 `dependency_descriptor(sz)`): a small state
//! machine remembering the latest template dependency structure and active
//! decode targets, committed only after a whole descriptor parsed.

use crate::bit_reader::BitReader;
use crate::error::Av1DdError;
use crate::structure::{FrameTemplate, TemplateStructure};
use crate::types::{
    ChainDiffs, DecodeTargetMask, Dti, DtiList, FrameDiffs, FrameNumber, MAX_DECODE_TARGETS,
    MAX_FRAME_DIFFS, MAX_SPATIAL_LAYERS, MAX_TEMPLATES, MAX_TEMPORAL_LAYERS, RenderResolution,
    SpatialId, TemporalId,
};

/// The mandatory fields, present in every descriptor and readable without any
/// structure (A.8.2 `mandatory_descriptor_fields`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MandatoryFields {
    /// `start_of_frame`.
    pub start_of_frame: bool,
    /// `end_of_frame`.
    pub end_of_frame: bool,
    /// `frame_dependency_template_id`, `0..=63`.
    pub template_id: u8,
    /// `frame_number`.
    pub frame_number: FrameNumber,
}

impl MandatoryFields {
    /// Reads the first 3 bytes of a descriptor. Stateless; useful to find
    /// frame boundaries while no structure is known.
    pub fn parse(data: &[u8]) -> Result<Self, Av1DdError> {
        read_mandatory(&mut BitReader::new(data))
    }
}

/// Everything one descriptor says about its packet's frame, with template
/// values already resolved. `Copy`, no heap: the mandatory-only path of
/// [`Av1DdParser::parse`] never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Av1DdInfo {
    /// `start_of_frame`.
    pub start_of_frame: bool,
    /// `end_of_frame`.
    pub end_of_frame: bool,
    /// `frame_dependency_template_id`, `0..=63`.
    pub template_id: u8,
    /// `frame_number`.
    pub frame_number: FrameNumber,
    /// `FrameSpatialId` (from the template).
    pub spatial_id: SpatialId,
    /// `FrameTemporalId` (from the template).
    pub temporal_id: TemporalId,
    /// `frame_dti[]`: custom, or the template's.
    pub dtis: DtiList,
    /// `FrameFdiff[]`: custom (`1..=4096`), or the template's.
    pub frame_diffs: FrameDiffs,
    /// `frame_chain_fdiff[]`: custom, or the template's.
    pub chain_diffs: ChainDiffs,
    /// `active_decode_targets_bitmask` when this packet sets it: explicitly,
    /// or implicitly (all targets) by carrying a structure. `None` means "as
    /// before" (A.4); [`Av1DdParser::active_decode_targets`] has the value in effect.
    pub active_decode_targets: Option<DecodeTargetMask>,
    /// `template_dependency_structure_present_flag`: this packet carries the
    /// structure, i.e. it starts a coded video sequence (a keyframe).
    pub carries_structure: bool,
    /// `FrameMaxWidth` / `FrameMaxHeight`, when the structure has resolutions.
    pub max_render_resolution: Option<RenderResolution>,
}

/// Stateful descriptor parser for one RTP stream.
///
/// Drive it with every packet's descriptor in arrival order; it remembers the
/// latest structure and active decode target set. A failed parse leaves both
/// untouched, so a corrupt or truncated keyframe packet never replaces a good
/// structure with half a new one.
///
/// ```
/// use sfu_av1_dd::{Av1DdError, Av1DdParser};
///
/// let mut parser = Av1DdParser::new();
/// // A mandatory-only descriptor cannot be resolved before a structure arrived.
/// assert!(matches!(parser.parse(&[0x40, 0x00, 0x01]), Err(Av1DdError::NoStructure { .. })));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Av1DdParser {
    structure: Option<TemplateStructure>,
    active: Option<DecodeTargetMask>,
}

impl Av1DdParser {
    /// A parser that has seen no structure.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The structure in effect, if one was received.
    #[must_use]
    pub fn structure(&self) -> Option<&TemplateStructure> {
        self.structure.as_ref()
    }

    /// The active decode target set in effect: the last one signalled, all
    /// targets after a new structure, `None` before any structure.
    #[must_use]
    pub fn active_decode_targets(&self) -> Option<DecodeTargetMask> {
        self.active
    }

    /// Parses one descriptor (the header extension's value, `sz` bytes).
    ///
    /// On success the parser commits the structure and active set the packet
    /// carried; on error nothing changes.
    pub fn parse(&mut self, data: &[u8]) -> Result<Av1DdInfo, Av1DdError> {
        // Most packets carry only the mandatory fields and change no state:
        // read them straight from the 3 bytes.
        if let (&[b0, b1, b2], Some(structure)) = (data, &self.structure) {
            let m = MandatoryFields {
                start_of_frame: b0 & 0x80 != 0,
                end_of_frame: b0 & 0x40 != 0,
                template_id: b0 & 0x3f,
                frame_number: FrameNumber(u16::from_be_bytes([b1, b2])),
            };
            return resolve_template(&m, structure);
        }
        let (info, new_structure) = parse_descriptor(data, self.structure.as_ref())?;
        if let Some(s) = new_structure {
            // The spec says a structure with the same template_id_offset is
            // identical; every packet of a keyframe may repeat it.
            if self.structure.as_ref() != Some(&s) {
                self.structure = Some(s);
            }
        }
        if let Some(mask) = info.active_decode_targets {
            self.active = Some(mask);
        }
        Ok(info)
    }
}

/// Parses one descriptor against `known`, without touching any state.
/// Returns the structure the descriptor carried, if any, for the caller to commit.
pub(crate) fn parse_descriptor(
    data: &[u8],
    known: Option<&TemplateStructure>,
) -> Result<(Av1DdInfo, Option<TemplateStructure>), Av1DdError> {
    let mut r = BitReader::new(data);
    let m = read_mandatory(&mut r)?;
    let (mut structure_present, mut active_present) = (false, false);
    let (mut custom_dtis, mut custom_fdiffs, mut custom_chains) = (false, false, false);
    if data.len() > 3 {
        structure_present = r.read_flag("template_dependency_structure_present_flag")?;
        active_present = r.read_flag("active_decode_targets_present_flag")?;
        custom_dtis = r.read_flag("custom_dtis_flag")?;
        custom_fdiffs = r.read_flag("custom_fdiffs_flag")?;
        custom_chains = r.read_flag("custom_chains_flag")?;
    }
    let new_structure = if structure_present {
        Some(read_structure(&mut r)?)
    } else {
        None
    };
    let Some(structure) = new_structure.as_ref().or(known) else {
        return Err(Av1DdError::NoStructure {
            frame_number: m.frame_number.0,
        });
    };
    let dt_count = structure.decode_target_count();
    let mut active = new_structure
        .as_ref()
        .map(|_| DecodeTargetMask::all(dt_count));
    if active_present {
        active = Some(DecodeTargetMask(
            r.read_bits(dt_count as u32, "active_decode_targets_bitmask")?,
        ));
    }

    // frame_dependency_definition()
    let Some(template) = structure.template(m.template_id) else {
        return Err(Av1DdError::UnknownTemplate {
            template_id: m.template_id,
            template_id_offset: structure.template_id_offset(),
            template_count: structure.templates().len(),
        });
    };
    let dtis = if custom_dtis {
        read_frame_dtis(&mut r, dt_count)?
    } else {
        template.dtis
    };
    let frame_diffs = if custom_fdiffs {
        read_frame_fdiffs(&mut r)?
    } else {
        template.frame_diffs
    };
    let chain_diffs = if custom_chains {
        read_frame_chains(&mut r, structure.chain_count())?
    } else {
        template.chain_diffs
    };
    let max_render_resolution = structure
        .render_resolutions()
        .and_then(|res| res.get(usize::from(template.spatial_id.0)).copied());
    // zero_padding: "MUST be set to 0 and be ignored by receivers" (A.8.3).
    let info = Av1DdInfo {
        start_of_frame: m.start_of_frame,
        end_of_frame: m.end_of_frame,
        template_id: m.template_id,
        frame_number: m.frame_number,
        spatial_id: template.spatial_id,
        temporal_id: template.temporal_id,
        dtis,
        frame_diffs,
        chain_diffs,
        active_decode_targets: active,
        carries_structure: structure_present,
        max_render_resolution,
    };
    Ok((info, new_structure))
}

fn read_mandatory(r: &mut BitReader<'_>) -> Result<MandatoryFields, Av1DdError> {
    Ok(MandatoryFields {
        start_of_frame: r.read_flag("start_of_frame")?,
        end_of_frame: r.read_flag("end_of_frame")?,
        template_id: r.read_bits(6, "frame_dependency_template_id")? as u8,
        frame_number: FrameNumber(r.read_bits(16, "frame_number")? as u16),
    })
}

/// `frame_dependency_definition()` for a descriptor without extended fields:
/// everything comes from the template.
fn resolve_template(
    m: &MandatoryFields,
    structure: &TemplateStructure,
) -> Result<Av1DdInfo, Av1DdError> {
    let Some(template) = structure.template(m.template_id) else {
        return Err(Av1DdError::UnknownTemplate {
            template_id: m.template_id,
            template_id_offset: structure.template_id_offset(),
            template_count: structure.templates().len(),
        });
    };
    Ok(Av1DdInfo {
        start_of_frame: m.start_of_frame,
        end_of_frame: m.end_of_frame,
        template_id: m.template_id,
        frame_number: m.frame_number,
        spatial_id: template.spatial_id,
        temporal_id: template.temporal_id,
        dtis: template.dtis,
        frame_diffs: template.frame_diffs,
        chain_diffs: template.chain_diffs,
        active_decode_targets: None,
        carries_structure: false,
        max_render_resolution: structure
            .render_resolutions()
            .and_then(|res| res.get(usize::from(template.spatial_id.0)).copied()),
    })
}

/// `template_dependency_structure()`.
fn read_structure(r: &mut BitReader<'_>) -> Result<TemplateStructure, Av1DdError> {
    let template_id_offset = r.read_bits(6, "template_id_offset")? as u8;
    let dt_count = r.read_bits(5, "dt_cnt_minus_one")? as usize + 1;
    let mut templates = read_template_layers(r)?;
    for t in &mut templates {
        t.dtis = read_dtis(r, dt_count, "template_dti")?;
    }
    for t in &mut templates {
        t.frame_diffs = read_template_fdiffs(r)?;
    }
    // template_chains()
    let chain_count = r.read_ns(dt_count as u32 + 1, "chain_cnt")? as usize;
    let mut protected_by = [0u8; MAX_DECODE_TARGETS];
    if chain_count > 0 {
        for p in protected_by.iter_mut().take(dt_count) {
            *p = r.read_ns(chain_count as u32, "decode_target_protected_by")? as u8;
        }
        for t in &mut templates {
            for _ in 0..chain_count {
                t.chain_diffs
                    .push(r.read_bits(4, "template_chain_fdiff")? as u8);
            }
        }
    }
    let render_resolutions = if r.read_flag("resolutions_present_flag")? {
        let spatial_layers = usize::from(templates.last().map_or(0, |t| t.spatial_id.0)) + 1;
        let mut res = Vec::with_capacity(spatial_layers);
        for _ in 0..spatial_layers {
            let width = r.read_bits(16, "max_render_width_minus_1")? + 1;
            let height = r.read_bits(16, "max_render_height_minus_1")? + 1;
            res.push(RenderResolution { width, height });
        }
        Some(res)
    } else {
        None
    };
    Ok(TemplateStructure::from_checked_parts(
        template_id_offset,
        dt_count as u8,
        chain_count as u8,
        templates,
        protected_by,
        render_resolutions,
    ))
}

/// `template_layers()`, bounded by what AV1 and the 6-bit template id can express.
fn read_template_layers(r: &mut BitReader<'_>) -> Result<Vec<FrameTemplate>, Av1DdError> {
    let mut templates = Vec::with_capacity(16);
    let (mut spatial, mut temporal) = (0u8, 0u8);
    loop {
        templates.push(FrameTemplate {
            spatial_id: SpatialId(spatial),
            temporal_id: TemporalId(temporal),
            ..FrameTemplate::default()
        });
        let bit_offset = r.position();
        let next_layer_idc = r.read_bits(2, "next_layer_idc")?;
        match next_layer_idc {
            0 => {}
            1 => {
                temporal += 1;
                if usize::from(temporal) >= MAX_TEMPORAL_LAYERS {
                    return Err(Av1DdError::TemporalIdOutOfRange { bit_offset });
                }
            }
            2 => {
                temporal = 0;
                spatial += 1;
                if usize::from(spatial) >= MAX_SPATIAL_LAYERS {
                    return Err(Av1DdError::SpatialIdOutOfRange { bit_offset });
                }
            }
            _ => return Ok(templates),
        }
        if templates.len() == MAX_TEMPLATES {
            return Err(Av1DdError::TooManyTemplates { bit_offset });
        }
    }
}

fn read_dtis(
    r: &mut BitReader<'_>,
    dt_count: usize,
    field: &'static str,
) -> Result<DtiList, Av1DdError> {
    let mut dtis = DtiList::default();
    for _ in 0..dt_count {
        dtis.push(Dti::from_bits(r.read_bits(2, field)? as u8));
    }
    Ok(dtis)
}

/// `frame_dtis()`.
fn read_frame_dtis(r: &mut BitReader<'_>, dt_count: usize) -> Result<DtiList, Av1DdError> {
    read_dtis(r, dt_count, "frame_dti")
}

/// `template_fdiffs()` for one template.
fn read_template_fdiffs(r: &mut BitReader<'_>) -> Result<FrameDiffs, Av1DdError> {
    let mut diffs = FrameDiffs::default();
    while r.read_flag("fdiff_follows_flag")? {
        let bit_offset = r.position();
        let diff = r.read_bits(4, "fdiff_minus_one")? as u16 + 1;
        if !diffs.try_push(diff) {
            return Err(Av1DdError::TooManyFrameDiffs {
                field: "template_fdiffs",
                bit_offset,
                limit: MAX_FRAME_DIFFS,
            });
        }
    }
    Ok(diffs)
}

/// `frame_fdiffs()`.
fn read_frame_fdiffs(r: &mut BitReader<'_>) -> Result<FrameDiffs, Av1DdError> {
    let mut diffs = FrameDiffs::default();
    loop {
        let size = r.read_bits(2, "next_fdiff_size")?;
        if size == 0 {
            return Ok(diffs);
        }
        let bit_offset = r.position();
        let diff = r.read_bits(4 * size, "fdiff_minus_one")? as u16 + 1;
        if !diffs.try_push(diff) {
            return Err(Av1DdError::TooManyFrameDiffs {
                field: "frame_fdiffs",
                bit_offset,
                limit: MAX_FRAME_DIFFS,
            });
        }
    }
}

/// `frame_chains()`.
fn read_frame_chains(r: &mut BitReader<'_>, chain_count: usize) -> Result<ChainDiffs, Av1DdError> {
    let mut chains = ChainDiffs::default();
    for _ in 0..chain_count {
        chains.push(r.read_bits(8, "frame_chain_fdiff")? as u8);
    }
    Ok(chains)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mandatory_fields_read_without_state() {
        // Chrome 110, S1T1: "400001" (see tests/chrome_vectors.rs for the source).
        let m = MandatoryFields::parse(&[0x40, 0x00, 0x01]).unwrap();
        assert!(!m.start_of_frame);
        assert!(m.end_of_frame);
        assert_eq!(m.template_id, 0);
        assert_eq!(m.frame_number, FrameNumber(1));
    }

    #[test]
    fn the_three_byte_fast_path_agrees_with_the_general_parser() {
        let s = crate::scalability::l3t3(60, true);
        let mut p = Av1DdParser::new();
        p.structure = Some(s.clone());
        for b0 in 0..=255u8 {
            for frame in [0u16, 1, 0x1234, 0xffff] {
                let [b1, b2] = frame.to_be_bytes();
                let bytes = [b0, b1, b2];
                let general = parse_descriptor(&bytes, Some(&s)).map(|(info, _)| info);
                assert_eq!(p.parse(&bytes), general, "{bytes:02x?}");
            }
        }
    }

    #[test]
    fn inputs_shorter_than_three_bytes_are_truncated() {
        for len in 0..3 {
            let err = MandatoryFields::parse(&[0xff; 3][..len]).unwrap_err();
            assert!(matches!(err, Av1DdError::Truncated { .. }), "{err:?}");
        }
    }

    #[test]
    fn too_many_templates_is_refused_at_the_65th() {
        // offset 0, dt_cnt_minus_one 0, then 64 x next_layer_idc = 0 ...
        let mut bytes = vec![0u8; 3];
        bytes.push(0b1000_0000); // structure present, no other flags, offset bits start
        bytes.extend_from_slice(&[0u8; 20]);
        let err = parse_descriptor(&bytes, None).unwrap_err();
        assert!(
            matches!(err, Av1DdError::TooManyTemplates { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_failed_parse_keeps_the_previous_state() {
        let mut p = Av1DdParser::new();
        // Structure with one template and one decode target (L1T1), then a
        // truncated copy of the same descriptor.
        let s = TemplateStructure::new(
            0,
            1,
            vec![FrameTemplate {
                dtis: DtiList::from_slice(&[Dti::Switch]).unwrap(),
                ..FrameTemplate::default()
            }],
            0,
            &[],
            None,
        )
        .unwrap();
        let info = Av1DdInfo {
            start_of_frame: true,
            end_of_frame: true,
            template_id: 0,
            frame_number: FrameNumber(9),
            spatial_id: SpatialId(0),
            temporal_id: TemporalId(0),
            dtis: s.templates()[0].dtis,
            frame_diffs: FrameDiffs::default(),
            chain_diffs: ChainDiffs::default(),
            active_decode_targets: Some(DecodeTargetMask(1)),
            carries_structure: true,
            max_render_resolution: None,
        };
        let mut buf = [0u8; 32];
        let n = crate::writer::write(&info, &s, &mut buf).unwrap();
        p.parse(&buf[..n]).unwrap();
        let before = p.clone();
        // A different structure (offset 5, two templates), cut one byte short.
        let mut t1 = s.templates()[0];
        t1.frame_diffs = FrameDiffs::from_slice(&[1]).unwrap();
        let s2 = TemplateStructure::new(5, 1, vec![s.templates()[0], t1], 0, &[], None).unwrap();
        let mut next = info;
        next.template_id = 5;
        next.active_decode_targets = Some(DecodeTargetMask(0));
        let n2 = crate::writer::write(&next, &s2, &mut buf).unwrap();
        for cut in 4..n2 {
            assert!(p.parse(&buf[..cut]).is_err(), "cut at {cut}");
            assert_eq!(p.structure(), before.structure());
            assert_eq!(p.active_decode_targets(), before.active_decode_targets());
        }
        p.parse(&buf[..n2]).unwrap();
        assert_eq!(p.structure(), Some(&s2));
        assert_eq!(p.active_decode_targets(), Some(DecodeTargetMask(0)));
    }
}
