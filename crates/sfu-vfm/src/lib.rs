//! Video Frame Marking RTP header extension (RFC 9626): parser, writer, and
//! the per-subscriber layer decisions an SFU needs to forward temporal and
//! spatial layers of VP8, VP9, H.264 and other codecs without reading their
//! (possibly encrypted) payloads.
//!
//! Follows RFC 9626 §3.1 (non-scalable form, 1 byte: S, E, I, D) and §3.2
//! (scalable form: S, E, I, D, B, TID, then LID and TL0PICIDX, each of which
//! may be omitted from the end: 1, 2 or 3 bytes).
//!
//! # What it does
//!
//! * [`FrameMarkingInfo::parse`] reads the extension value (no allocation,
//!   no state); every 1–3 byte value is valid, other lengths are typed errors.
//! * [`write()`] / [`encoded_len`] produce the value; `write(parse(x)) == x`.
//! * [`VfmLayerFilter`] decides per packet and subscriber: forward, drop, or
//!   drop and request a keyframe; it switches layers only at frames whose
//!   marks make the switch decodable and watches `TL0PICIDX` for base-layer loss.
//!
//! # What it does not do
//!
//! It does not read RTP packets or the header extension framing (the caller
//! hands it the value), does not map `LID` to codec-specific layer semantics,
//! does not rewrite sequence numbers, `TL0PICIDX` or picture ids for the
//! subscriber, and does not choose layers from bandwidth: those belong to the
//! forwarding layer. It never reads a clock.
//!
//! # Spec field → Rust
//!
//! | RFC 9626 | Rust |
//! |---|---|
//! | `S` (start of frame) | [`FrameMarkingInfo::start_of_frame`] |
//! | `E` (end of frame) | [`FrameMarkingInfo::end_of_frame`] |
//! | `I` (independent frame) | [`FrameMarkingInfo::independent`] |
//! | `D` (discardable frame) | [`FrameMarkingInfo::discardable`] |
//! | `B` (base layer sync), §3.2 | [`FrameMarkingInfo::base_layer_sync`] |
//! | `TID` (temporal id, 3 bits), §3.2 | [`FrameMarkingInfo::temporal_id`] ([`TemporalId`]) |
//! | `LID` (layer id, 8 bits), §3.2 | [`LayerFields::LayerId`] / [`FrameMarkingInfo::layer_id`] ([`LayerId`]) |
//! | `TL0PICIDX` (8 bits), §3.2 | [`LayerFields::LayerIdAndTl0PicIdx`] / [`FrameMarkingInfo::tl0_pic_idx`] ([`Tl0PicIdx`]) |
//! | extension length (L = 0, 1, 2) | [`FrameMarkingInfo::layer`]: [`LayerFields::Omitted`], `LayerId`, `LayerIdAndTl0PicIdx` |
//!
//! # Example
//!
//! ```
//! use sfu_vfm::{FrameMarkingInfo, TemporalId, VfmAction, VfmLayerFilter, VfmTarget, LayerId};
//!
//! // S=1 E=1 I=1, TID 0, LID 0, TL0PICIDX 9: an independent base frame.
//! let key = FrameMarkingInfo::parse(&[0xe0, 0x00, 0x09])?;
//! // S=1 E=1 B=1, TID 2, LID 0, TL0PICIDX 9.
//! let t2 = FrameMarkingInfo::parse(&[0xca, 0x00, 0x09])?;
//! assert_eq!(t2.temporal_id, TemporalId(2));
//!
//! // A subscriber that only wants the base temporal layer.
//! let mut sub = VfmLayerFilter::new(VfmTarget {
//!     max_temporal_id: TemporalId(0),
//!     max_layer_id: LayerId(0),
//!     drop_discardable: false,
//! });
//! assert_eq!(sub.handle_packet(&key), VfmAction::Forward);
//! assert!(matches!(sub.handle_packet(&t2), VfmAction::Drop(_)));
//! # Ok::<(), sfu_vfm::VfmError>(())
//! ```

mod decision;
mod error;
mod info;
mod writer;

#[doc(hidden)]
pub mod harness;

pub use decision::{VfmAction, VfmDropReason, VfmLayerFilter, VfmTarget};
pub use error::{VfmError, VfmWriteError};
pub use info::{FrameMarkingInfo, LayerFields, LayerId, TemporalId, Tl0PicIdx};
pub use writer::{encoded_len, write};
