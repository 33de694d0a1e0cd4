//! Robustness harness shared by the property tests and the `sfu-fuzz` binary:
//! the invariants every input must satisfy, and generators of valid
//! descriptors to mutate. Not part of the stable API.

use std::fmt;

use crate::parser::{Av1DdInfo, Av1DdParser};
use crate::structure::{FrameTemplate, TemplateStructure};
use crate::types::{
    ChainDiffs, DecodeTargetMask, Dti, DtiList, FrameDiffs, FrameNumber, MAX_FRAME_DIFF,
    RenderResolution, SpatialId, TemporalId,
};
use crate::writer;

/// A broken invariant, with what was being checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The invariant.
    pub invariant: &'static str,
    /// Values that show the failure.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

fn violation(invariant: &'static str, detail: impl fmt::Debug) -> Violation {
    Violation {
        invariant,
        detail: format!("{detail:?}"),
    }
}

/// A tiny deterministic generator (SplitMix64): same seed, same values.
#[derive(Debug, Clone)]
pub struct Entropy(u64);

impl Entropy {
    /// A generator from `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability 1/`n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// Parsers primed with the spec's example structures: the states the
/// invariants are checked from, besides a fresh parser.
#[must_use]
pub fn primed_parsers() -> Vec<Av1DdParser> {
    let mut out = vec![Av1DdParser::new()];
    for s in [
        crate::scalability::l1t3(0),
        crate::scalability::l3t3(20, true),
    ] {
        let mut p = Av1DdParser::new();
        let info = keyframe_info(&s);
        let mut buf = [0u8; 256];
        // The example structures are valid and their keyframe fits in 256 bytes.
        let n =
            writer::write(&info, &s, &mut buf).expect("example keyframe descriptor is writable");
        p.parse(&buf[..n])
            .expect("example keyframe descriptor parses");
        out.push(p);
    }
    out
}

fn keyframe_info(s: &TemplateStructure) -> Av1DdInfo {
    let t = s.templates()[0];
    Av1DdInfo {
        start_of_frame: true,
        end_of_frame: true,
        template_id: s.template_id_of(0),
        frame_number: FrameNumber(0),
        spatial_id: t.spatial_id,
        temporal_id: t.temporal_id,
        dtis: t.dtis,
        frame_diffs: t.frame_diffs,
        chain_diffs: t.chain_diffs,
        active_decode_targets: Some(DecodeTargetMask::all(s.decode_target_count())),
        carries_structure: true,
        max_render_resolution: s.render_resolutions().map(|r| r[0]),
    }
}

/// Checks every invariant for one input, from each state in `parsers`:
///
/// * parsing returns `Ok` or a typed `Err` (a panic is caught by the caller);
/// * an `Err` leaves the parser state exactly as it was;
/// * an `Ok` result is consistent with the structure in effect, and writing
///   it back and parsing that (from the same starting state) gives it again.
pub fn check_input(data: &[u8], parsers: &[Av1DdParser]) -> Result<(), Violation> {
    for before in parsers {
        let mut p = before.clone();
        match p.parse(data) {
            Err(_) => {
                if p.structure() != before.structure()
                    || p.active_decode_targets() != before.active_decode_targets()
                {
                    return Err(violation("failed parse changed parser state", data));
                }
            }
            Ok(info) => {
                let Some(s) = p.structure() else {
                    return Err(violation("parse succeeded without a structure", info));
                };
                check_consistent(&info, s)?;
                check_rewrite(&info, s, before)?;
            }
        }
    }
    Ok(())
}

/// A successful parse agrees with the structure it was resolved against.
pub fn check_consistent(info: &Av1DdInfo, s: &TemplateStructure) -> Result<(), Violation> {
    let Some(t) = s.template(info.template_id) else {
        return Err(violation("template id outside structure", info.template_id));
    };
    if (t.spatial_id, t.temporal_id) != (info.spatial_id, info.temporal_id) {
        return Err(violation("frame layer differs from template", (info, t)));
    }
    if info.dtis.len() != s.decode_target_count()
        || info.chain_diffs.as_slice().len() != s.chain_count()
    {
        return Err(violation("DTI or chain count differs from structure", info));
    }
    if info
        .frame_diffs
        .as_slice()
        .iter()
        .any(|&d| !(1..=MAX_FRAME_DIFF).contains(&d))
    {
        return Err(violation("frame diff outside 1..=4096", info));
    }
    let all = DecodeTargetMask::all(s.decode_target_count());
    if info
        .active_decode_targets
        .is_some_and(|m| m.0 & !all.0 != 0)
    {
        return Err(violation("active mask beyond decode target count", info));
    }
    if info.carries_structure && info.active_decode_targets.is_none() {
        return Err(violation("structure without active decode targets", info));
    }
    if info.max_render_resolution.is_some() != s.render_resolutions().is_some() {
        return Err(violation(
            "render resolution presence differs from structure",
            info,
        ));
    }
    Ok(())
}

/// Writing `info` and parsing the result from `before` gives `info` again.
pub fn check_rewrite(
    info: &Av1DdInfo,
    s: &TemplateStructure,
    before: &Av1DdParser,
) -> Result<(), Violation> {
    let mut buf = [0u8; 1024];
    let n = writer::write(info, s, &mut buf)
        .map_err(|e| violation("parsed descriptor not writable", (info, e)))?;
    let len =
        writer::encoded_len(info, s).map_err(|e| violation("encoded_len failed after write", e))?;
    if len != n {
        return Err(violation(
            "encoded_len differs from written length",
            (len, n),
        ));
    }
    let mut again = before.clone();
    let reparsed = again
        .parse(&buf[..n])
        .map_err(|e| violation("rewritten descriptor does not parse", (info, e, &buf[..n])))?;
    if reparsed != *info {
        return Err(violation(
            "rewritten descriptor parses differently",
            (info, reparsed),
        ));
    }
    if again.structure() != Some(s) {
        return Err(violation(
            "rewritten descriptor leaves a different structure",
            info,
        ));
    }
    Ok(())
}

/// A random valid structure: any layer layout, decode target and chain
/// counts, DTIs, fdiffs, chains and resolutions the format allows.
#[must_use]
pub fn arbitrary_structure(e: &mut Entropy) -> TemplateStructure {
    let dt_count = 1 + e.below(32) as usize;
    let chain_count = if e.one_in(3) {
        0
    } else {
        e.below(dt_count as u64 + 1) as usize
    };
    let max_templates = if e.one_in(8) { 64 } else { 12 };
    let template_count = 1 + e.below(max_templates) as usize;
    let mut templates = Vec::with_capacity(template_count);
    let (mut s, mut t) = (0u8, 0u8);
    for i in 0..template_count {
        if i > 0 {
            match e.below(3) {
                1 if t < 7 => t += 1,
                2 if s < 3 => (s, t) = (s + 1, 0),
                _ => {}
            }
        }
        let dtis: Vec<Dti> = (0..dt_count)
            .map(|_| Dti::from_bits(e.below(4) as u8))
            .collect();
        let fdiffs: Vec<u16> = (0..e.below(4)).map(|_| 1 + e.below(16) as u16).collect();
        let chains: Vec<u8> = (0..chain_count).map(|_| e.below(16) as u8).collect();
        templates.push(FrameTemplate {
            spatial_id: SpatialId(s),
            temporal_id: TemporalId(t),
            // Sizes are bounded above: at most 32 DTIs, 3 fdiffs, 32 chains.
            dtis: DtiList::from_slice(&dtis).expect("at most 32 DTIs"),
            frame_diffs: FrameDiffs::from_slice(&fdiffs).expect("at most 3 fdiffs"),
            chain_diffs: ChainDiffs::from_slice(&chains).expect("at most 32 chains"),
        });
    }
    let protected: Vec<u8> = if chain_count == 0 {
        Vec::new()
    } else {
        (0..dt_count)
            .map(|_| e.below(chain_count as u64) as u8)
            .collect()
    };
    let resolutions = e.one_in(2).then(|| {
        (0..=s)
            .map(|_| RenderResolution {
                width: 1 + e.below(65536) as u32,
                height: 1 + e.below(65536) as u32,
            })
            .collect()
    });
    // Every choice above stays inside the limits `new` checks.
    TemplateStructure::new(
        e.below(64) as u8,
        dt_count,
        templates,
        chain_count,
        &protected,
        resolutions,
    )
    .expect("generated structure is valid by construction")
}

/// A random valid descriptor for `s`: a template, optionally with custom
/// DTIs, fdiffs (up to 4096), chains and an active decode target mask.
#[must_use]
pub fn arbitrary_info(
    e: &mut Entropy,
    s: &TemplateStructure,
    carries_structure: bool,
) -> Av1DdInfo {
    let index = e.below(s.templates().len() as u64) as usize;
    let t = s.templates()[index];
    let dt_count = s.decode_target_count();
    let mut info = Av1DdInfo {
        start_of_frame: e.one_in(2),
        end_of_frame: e.one_in(2),
        template_id: s.template_id_of(index),
        frame_number: FrameNumber(e.next_u64() as u16),
        spatial_id: t.spatial_id,
        temporal_id: t.temporal_id,
        dtis: t.dtis,
        frame_diffs: t.frame_diffs,
        chain_diffs: t.chain_diffs,
        active_decode_targets: None,
        carries_structure,
        max_render_resolution: s
            .render_resolutions()
            .map(|r| r[usize::from(t.spatial_id.0)]),
    };
    if e.one_in(3) {
        let dtis: Vec<Dti> = (0..dt_count)
            .map(|_| Dti::from_bits(e.below(4) as u8))
            .collect();
        info.dtis = DtiList::from_slice(&dtis).expect("at most 32 DTIs");
    }
    if e.one_in(3) {
        let fdiffs: Vec<u16> = (0..e.below(17))
            .map(|_| 1 + e.below(u64::from(MAX_FRAME_DIFF)) as u16)
            .collect();
        info.frame_diffs = FrameDiffs::from_slice(&fdiffs).expect("at most 16 fdiffs");
    }
    if e.one_in(3) {
        let chains: Vec<u8> = (0..s.chain_count()).map(|_| e.next_u64() as u8).collect();
        info.chain_diffs = ChainDiffs::from_slice(&chains).expect("at most 32 chains");
    }
    let all = DecodeTargetMask::all(dt_count);
    if carries_structure {
        info.active_decode_targets = Some(if e.one_in(2) {
            all
        } else {
            DecodeTargetMask(e.next_u64() as u32 & all.0)
        });
    } else if e.one_in(3) {
        info.active_decode_targets = Some(DecodeTargetMask(e.next_u64() as u32 & all.0));
    }
    info
}

/// Valid descriptors (writer outputs) to mutate: keyframes with structures
/// and follow-up packets, generated deterministically from `seed`.
#[must_use]
pub fn seed_corpus(seed: u64, count: usize) -> Vec<Vec<u8>> {
    let mut e = Entropy::new(seed);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let s = match e.below(4) {
            0 => crate::scalability::l1t3(e.below(64) as u8),
            1 => crate::scalability::l3t3(e.below(64) as u8, e.one_in(2)),
            _ => arbitrary_structure(&mut e),
        };
        let carries = e.one_in(2);
        let info = arbitrary_info(&mut e, &s, carries);
        let mut buf = vec![0u8; 1024];
        // Generated infos are valid for their structure and fit in 1 KiB.
        let n = writer::write(&info, &s, &mut buf).expect("generated descriptor is writable");
        buf.truncate(n);
        out.push(buf);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_is_deterministic_per_seed() {
        let a: Vec<u64> = (0..4)
            .scan(Entropy::new(7), |e, _| Some(e.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .scan(Entropy::new(7), |e, _| Some(e.next_u64()))
            .collect();
        let c: Vec<u64> = (0..4)
            .scan(Entropy::new(8), |e, _| Some(e.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn the_seed_corpus_satisfies_every_invariant() {
        let parsers = primed_parsers();
        for input in seed_corpus(1, 200) {
            check_input(&input, &parsers).unwrap();
        }
    }

    #[test]
    fn consistency_check_rejects_a_template_from_another_structure() {
        // Template id 0 is outside a structure whose ids start at 1 (and has 5 templates).
        let info = keyframe_info(&crate::scalability::l1t3(0));
        let s = crate::scalability::l1t3(1);
        assert!(check_consistent(&info, &s).is_err());
    }
}
