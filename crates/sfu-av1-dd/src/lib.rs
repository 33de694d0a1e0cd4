//! AV1 Dependency Descriptor RTP header extension: a parser that cannot
//! panic, a writer, and the per-subscriber forwarding decisions an SFU needs
//! to forward AV1 SVC (or any codec using the descriptor) layer by layer.
//!
//! Follows Appendix A of the *RTP Payload Format for AV1* (AOMedia, v1.0.0):
//! A.8.2 (syntax) and A.8.3 (semantics) for the bits, A.4–A.7 for active
//! decode targets, chains and switching, and A.10.2 for the example
//! structures in [`scalability`].
//!
//! # What it does
//!
//! * [`Av1DdParser`] parses each packet's descriptor into an [`Av1DdInfo`]
//!   (`Copy`, no heap). The template dependency structure only arrives on some
//!   packets (the first packets of a keyframe), so the parser remembers the
//!   latest one and the active decode target set; a descriptor that needs a
//!   structure it never saw is [`Av1DdError::NoStructure`] or
//!   [`Av1DdError::UnknownTemplate`]. State is committed only after the whole
//!   descriptor parsed.
//! * [`write()`] / [`encoded_len`] produce the shortest descriptor for an
//!   [`Av1DdInfo`], e.g. to rewrite `active_decode_targets` on the way out.
//! * [`Av1LayerSelector`] decides, per packet and subscriber, whether to
//!   forward, drop, or drop and request a keyframe, switching decode targets
//!   only where the spec says it is safe and tracking chain integrity.
//!
//! # What it does not do
//!
//! It does not read RTP packets or header extension framing (the caller hands
//! it the extension's value), does not parse AV1 OBUs, does not rewrite RTP
//! sequence numbers or timestamps, and does not choose a subscriber's decode
//! target from bandwidth: those belong to the forwarding layer. It never reads
//! a clock; re-sending a lost keyframe request on a timer is the caller's call
//! (see [`Av1LayerSelector::needs_keyframe`]).
//!
//! # Spec field → Rust
//!
//! | spec (A.8.2 / A.8.3) | Rust |
//! |---|---|
//! | `start_of_frame`, `end_of_frame` | [`Av1DdInfo::start_of_frame`], [`Av1DdInfo::end_of_frame`] (also [`MandatoryFields`]) |
//! | `frame_dependency_template_id` | [`Av1DdInfo::template_id`] |
//! | `frame_number` | [`Av1DdInfo::frame_number`] ([`FrameNumber`], wrapping) |
//! | `template_dependency_structure_present_flag` | [`Av1DdInfo::carries_structure`]; the structure: [`Av1DdParser::structure`] |
//! | `active_decode_targets_present_flag`, `active_decode_targets_bitmask` | [`Av1DdInfo::active_decode_targets`] (this packet), [`Av1DdParser::active_decode_targets`] (in effect) |
//! | `custom_dtis_flag`, `frame_dti[]` / `template_dti[][]` | resolved into [`Av1DdInfo::dtis`] ([`DtiList`] of [`Dti`]); template's: [`FrameTemplate::dtis`] |
//! | `custom_fdiffs_flag`, `next_fdiff_size`, `fdiff_minus_one` / `fdiff_follows_flag` | resolved into [`Av1DdInfo::frame_diffs`] ([`FrameDiffs`], values `+1`); template's: [`FrameTemplate::frame_diffs`] |
//! | `custom_chains_flag`, `frame_chain_fdiff[]` / `template_chain_fdiff[][]` | resolved into [`Av1DdInfo::chain_diffs`] ([`ChainDiffs`]); template's: [`FrameTemplate::chain_diffs`] |
//! | `FrameSpatialId`, `FrameTemporalId` | [`Av1DdInfo::spatial_id`], [`Av1DdInfo::temporal_id`] |
//! | `FrameMaxWidth`, `FrameMaxHeight` | [`Av1DdInfo::max_render_resolution`] |
//! | `template_id_offset` | [`TemplateStructure::template_id_offset`] |
//! | `dt_cnt_minus_one` (+1 = `DtCnt`) | [`TemplateStructure::decode_target_count`] |
//! | `next_layer_idc` (`template_layers()`) | [`FrameTemplate::spatial_id`], [`FrameTemplate::temporal_id`] of each of [`TemplateStructure::templates`] |
//! | `chain_cnt` | [`TemplateStructure::chain_count`] |
//! | `decode_target_protected_by[]` | [`TemplateStructure::protected_by`], [`TemplateStructure::chain_of`] |
//! | `DecodeTargetSpatialId[]`, `DecodeTargetTemporalId[]` | [`TemplateStructure::decode_target_layer`] |
//! | `resolutions_present_flag`, `max_render_width_minus_1`, `max_render_height_minus_1` | [`TemplateStructure::render_resolutions`] ([`RenderResolution`], values `+1`) |
//! | `zero_padding` | written as zero, ignored when read (A.8.3) |
//!
//! Limits beyond the syntax: at most 64 templates (the template id is 6 bits),
//! spatial ids below 4 and temporal ids below 8 (what AV1 codes), and at most
//! [`MAX_FRAME_DIFFS`] frame diffs per frame (an AV1 frame refers to at most 7);
//! inputs beyond them are typed errors.
//!
//! # Example
//!
//! ```
//! use sfu_av1_dd::{scalability, Av1Action, Av1DdInfo, Av1DdParser, Av1LayerSelector, DecodeTargetIndex, FrameNumber};
//!
//! // The publisher's first packet carries the L1T3 structure (A.10.2.1).
//! let structure = scalability::l1t3(0);
//! let t = structure.templates()[0];
//! let keyframe = Av1DdInfo {
//!     start_of_frame: true,
//!     end_of_frame: true,
//!     template_id: 0,
//!     frame_number: FrameNumber(100),
//!     spatial_id: t.spatial_id,
//!     temporal_id: t.temporal_id,
//!     dtis: t.dtis,
//!     frame_diffs: t.frame_diffs,
//!     chain_diffs: t.chain_diffs,
//!     active_decode_targets: None,
//!     carries_structure: true,
//!     max_render_resolution: None,
//! };
//! let mut wire = [0u8; 64];
//! let len = sfu_av1_dd::write(&keyframe, &structure, &mut wire)?;
//!
//! // The SFU parses it and forwards it to a subscriber who wants 15 fps.
//! let mut parser = Av1DdParser::new();
//! let info = parser.parse(&wire[..len])?;
//! assert_eq!(info.frame_number, FrameNumber(100));
//! let mut subscriber = Av1LayerSelector::new(Some(DecodeTargetIndex(1)));
//! assert_eq!(subscriber.handle_parsed(&info, &parser), Av1Action::Forward);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bit_reader;
mod bit_writer;
mod decision;
mod error;
mod parser;
mod structure;
mod types;
mod writer;

#[doc(hidden)]
pub mod harness;
pub mod scalability;

pub use decision::{Av1Action, Av1DropReason, Av1LayerSelector};
pub use error::{Av1DdError, Av1DdWriteError, StructureError};
pub use parser::{Av1DdInfo, Av1DdParser, MandatoryFields};
pub use structure::{FrameTemplate, TemplateStructure};
pub use types::{
    ChainDiffs, DecodeTargetIndex, DecodeTargetMask, Dti, DtiList, FrameDiffs, FrameNumber,
    MAX_CHAINS, MAX_DECODE_TARGETS, MAX_FRAME_DIFF, MAX_FRAME_DIFFS, MAX_SPATIAL_LAYERS,
    MAX_TEMPLATES, MAX_TEMPORAL_LAYERS, RenderResolution, SpatialId, TemporalId,
};
pub use writer::{encoded_len, write};
