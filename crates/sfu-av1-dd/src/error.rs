//! Typed errors. A parse error maps to one forwarder action: drop the packet
//! (and count it); [`Av1DdError::NoStructure`] and
//! [`Av1DdError::UnknownTemplate`] also mean "ask the publisher for a keyframe",
//! since the structure that would explain the packet was lost.

use thiserror::Error;

/// Why a descriptor could not be parsed. The parser's remembered state is
/// unchanged whenever this is returned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Av1DdError {
    /// The input ended inside a syntax element.
    #[error(
        "descriptor truncated in `{field}` at bit {bit_offset}: needs {needed_bits} bits, {available_bits} left"
    )]
    Truncated {
        /// Spec name of the element being read.
        field: &'static str,
        /// Bit offset of the element from the start of the descriptor.
        bit_offset: usize,
        /// Bits the element needs.
        needed_bits: u32,
        /// Bits that were left.
        available_bits: usize,
    },
    /// The descriptor needs a template dependency structure and none has been
    /// received (the keyframe packet carrying it was lost or not seen yet).
    #[error("frame {frame_number}: no template dependency structure received yet")]
    NoStructure {
        /// `frame_number` of the packet.
        frame_number: u16,
    },
    /// `frame_dependency_template_id` falls outside the known structure's
    /// template range; typically the packet with a newer structure was lost.
    #[error(
        "template id {template_id} outside structure range {template_id_offset}+{template_count} (mod 64)"
    )]
    UnknownTemplate {
        /// `frame_dependency_template_id` of the packet.
        template_id: u8,
        /// `template_id_offset` of the structure in effect.
        template_id_offset: u8,
        /// Number of templates in that structure.
        template_count: usize,
    },
    /// `template_layers()` announced more than 64 templates.
    #[error("more than 64 templates in template_layers at bit {bit_offset}")]
    TooManyTemplates {
        /// Bit offset of the `next_layer_idc` that added one too many.
        bit_offset: usize,
    },
    /// `template_layers()` reached a spatial id that AV1 cannot code (above 3).
    #[error("spatial id above 3 in template_layers at bit {bit_offset}")]
    SpatialIdOutOfRange {
        /// Bit offset of the offending `next_layer_idc`.
        bit_offset: usize,
    },
    /// `template_layers()` reached a temporal id that AV1 cannot code (above 7).
    #[error("temporal id above 7 in template_layers at bit {bit_offset}")]
    TemporalIdOutOfRange {
        /// Bit offset of the offending `next_layer_idc`.
        bit_offset: usize,
    },
    /// A template or frame lists more frame diffs than this crate keeps inline
    /// ([`crate::MAX_FRAME_DIFFS`]).
    #[error("more than {limit} frame diffs in `{field}` at bit {bit_offset}")]
    TooManyFrameDiffs {
        /// `template_fdiffs` or `frame_fdiffs`.
        field: &'static str,
        /// Bit offset of the diff that did not fit.
        bit_offset: usize,
        /// The inline capacity.
        limit: usize,
    },
}

/// Why a [`crate::TemplateStructure`] is not one the descriptor can carry.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StructureError {
    /// `template_id_offset` is 6 bits.
    #[error("template_id_offset {0} is above 63")]
    TemplateIdOffset(u8),
    /// `dt_cnt_minus_one + 1` is in `1..=32`.
    #[error("decode target count {0} is outside 1..=32")]
    DecodeTargetCount(usize),
    /// A structure has between 1 and 64 templates.
    #[error("template count {0} is outside 1..=64")]
    TemplateCount(usize),
    /// `template_layers()` can only express templates that start at spatial 0,
    /// temporal 0 and step by "same", "temporal + 1" or "next spatial, temporal 0".
    #[error(
        "template {index}: layer ({spatial}, {temporal}) does not follow the previous template in template_layers order"
    )]
    LayerOrder {
        /// Index of the template.
        index: usize,
        /// Its spatial id.
        spatial: u8,
        /// Its temporal id.
        temporal: u8,
    },
    /// A template's spatial or temporal id is beyond what AV1 can code.
    #[error("template {index}: layer ids out of range")]
    LayerOutOfRange {
        /// Index of the template.
        index: usize,
    },
    /// A template's DTI list does not have one entry per decode target.
    #[error("template {index}: {got} DTIs for {expected} decode targets")]
    DtiCount {
        /// Index of the template.
        index: usize,
        /// The decode target count.
        expected: usize,
        /// DTIs given.
        got: usize,
    },
    /// `chain_cnt` is at most the decode target count.
    #[error("{chains} chains for {decode_targets} decode targets")]
    ChainCount {
        /// Chains given.
        chains: usize,
        /// The decode target count.
        decode_targets: usize,
    },
    /// With chains, every decode target names its protecting chain.
    #[error("decode_target_protected_by has {got} entries for {expected} decode targets")]
    ProtectedByCount {
        /// Required entries (decode targets, or 0 without chains).
        expected: usize,
        /// Entries given.
        got: usize,
    },
    /// `decode_target_protected_by` names a chain that does not exist.
    #[error("decode target {decode_target} protected by chain {chain}, which does not exist")]
    ProtectedByChain {
        /// The decode target.
        decode_target: usize,
        /// The chain it names.
        chain: u8,
    },
    /// A template's chain fdiff list does not have one entry per chain, or an
    /// entry is above 15 (`template_chain_fdiff` is 4 bits).
    #[error("template {index}: chain fdiffs do not match {chains} chains of 0..=15")]
    TemplateChainDiffs {
        /// Index of the template.
        index: usize,
        /// The chain count.
        chains: usize,
    },
    /// Template frame diffs are `fdiff_minus_one + 1` with 4 bits: `1..=16`.
    #[error("template {index}: frame diff {diff} outside 1..=16")]
    TemplateFrameDiff {
        /// Index of the template.
        index: usize,
        /// The offending diff.
        diff: u16,
    },
    /// Render resolutions, when present, give one entry per spatial layer,
    /// each side in `1..=65536`.
    #[error("render resolutions: expected {expected} entries of 1..=65536, got {got}")]
    RenderResolutions {
        /// Spatial layers in the structure.
        expected: usize,
        /// Entries given.
        got: usize,
    },
}

/// Why a descriptor could not be written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Av1DdWriteError {
    /// The output buffer is shorter than the descriptor.
    #[error("descriptor needs {needed} bytes, buffer has {available}")]
    BufferTooSmall {
        /// Bytes the descriptor needs.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The structure to attach is not valid.
    #[error("invalid structure: {0}")]
    Structure(#[from] StructureError),
    /// `template_id` selects no template of the structure.
    #[error("template id {template_id} selects no template of the structure")]
    UnknownTemplate {
        /// The template id asked for.
        template_id: u8,
    },
    /// The frame's spatial or temporal id differs from its template's: the
    /// descriptor cannot express that (it has no custom layer fields).
    #[error("frame layer differs from template {template_id}'s layer")]
    LayerMismatch {
        /// The template id.
        template_id: u8,
    },
    /// The frame has not exactly one DTI per decode target.
    #[error("{got} DTIs for {expected} decode targets")]
    DtiCount {
        /// The decode target count.
        expected: usize,
        /// DTIs given.
        got: usize,
    },
    /// The frame has not exactly one chain fdiff per chain.
    #[error("{got} chain fdiffs for {expected} chains")]
    ChainCount {
        /// The chain count.
        expected: usize,
        /// Entries given.
        got: usize,
    },
    /// A custom frame diff is outside `1..=4096`.
    #[error("frame diff {0} outside 1..=4096")]
    FrameDiff(u16),
    /// The active decode target mask has bits above the decode target count.
    #[error("active decode target mask {mask:#x} has bits beyond {count} decode targets")]
    ActiveMask {
        /// The mask.
        mask: u32,
        /// The decode target count.
        count: usize,
    },
    /// `template_id` is 6 bits.
    #[error("template id {0} is above 63")]
    TemplateId(u8),
}
