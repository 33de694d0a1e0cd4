//! The AV1 Dependency Descriptor header extension on the media path.
//!
//! str0m does not know the extension, so it is registered as a user extension
//! ([`DdSerializer`]): str0m hands us its bytes on receive and writes back whatever bytes the
//! forwarder puts in the outgoing packet's values. The publisher's client parses each
//! descriptor once per published layer ([`DdIngest`]): the template structure arrives only
//! with keyframes and every later descriptor is read against it, so the parser state is per
//! stream, and the structure is shared with every subscriber's forwarder through an `Arc`.

use std::sync::Arc;

use sfu_av1_dd::{Av1DdParser, TemplateStructure};
use sfu_ids::{SfuDependencyDescriptor, SfuSvcLayer};
use str0m::rtp::{ExtensionSerializer, ExtensionValues};

/// The extension's URI (AV1 RTP specification, Appendix A).
pub(crate) const DD_URI: &str =
    "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension";

/// The bytes of one descriptor, as str0m stores them among a packet's user values.
#[derive(Debug, Clone)]
pub(crate) struct DdBytes(pub(crate) Arc<[u8]>);

/// Reads and writes the descriptor's bytes as they are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DdSerializer;

impl ExtensionSerializer for DdSerializer {
    fn write_to(&self, buf: &mut [u8], ev: &ExtensionValues) -> usize {
        match ev.user_values.get::<DdBytes>() {
            Some(DdBytes(b)) if b.len() <= buf.len() => {
                buf[..b.len()].copy_from_slice(b);
                b.len()
            }
            _ => 0,
        }
    }

    fn parse_value(&self, buf: &[u8], ev: &mut ExtensionValues) -> bool {
        // The mandatory fields alone take 3 bytes.
        if buf.len() < 3 {
            return false;
        }
        ev.user_values.set(DdBytes(Arc::from(buf)));
        true
    }

    fn is_video(&self) -> bool {
        true
    }

    fn is_audio(&self) -> bool {
        false
    }

    fn requires_two_byte_form(&self, ev: &ExtensionValues) -> bool {
        // The one-byte form carries at most 16 bytes; a descriptor with its structure is
        // longer.
        ev.user_values
            .get::<DdBytes>()
            .is_some_and(|b| b.0.len() > 16)
    }
}

/// Parsing state of one published stream (track and layer).
#[derive(Debug, Default)]
pub(crate) struct DdIngest {
    parser: Av1DdParser,
    structure: Option<Arc<TemplateStructure>>,
}

impl DdIngest {
    /// Parses the descriptor `raw` of the stream's next packet; `None` when it does not
    /// parse (for example before the first structure arrived), and the packet then goes
    /// on without one.
    pub(crate) fn parse(&mut self, raw: Arc<[u8]>) -> Option<Arc<SfuDependencyDescriptor>> {
        let info = self.parser.parse(&raw).ok()?;
        let current = self.parser.structure()?;
        let structure = match &self.structure {
            Some(s) if **s == *current => Arc::clone(s),
            _ => {
                let s = Arc::new(current.clone());
                self.structure = Some(Arc::clone(&s));
                s
            }
        };
        Some(Arc::new(SfuDependencyDescriptor {
            raw,
            info,
            structure,
            active: self.parser.active_decode_targets()?,
        }))
    }
}

/// The layer a descriptor puts its packet in.
pub(crate) fn svc_layer_of(dd: &SfuDependencyDescriptor) -> SfuSvcLayer {
    SfuSvcLayer {
        spatial: dd.info.spatial_id.0,
        temporal: dd.info.temporal_id.0,
        frame_start: dd.info.start_of_frame,
        frame_end: dd.info.end_of_frame,
        temporal_switch: dd.info.dtis.iter().any(|d| d == sfu_av1_dd::Dti::Switch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sfu_av1_dd::{Av1DdInfo, FrameNumber, scalability, write};

    fn descriptor(frame: u16, with_structure: bool) -> Vec<u8> {
        let structure = scalability::l1t3(0);
        let t = structure.templates()[0];
        let info = Av1DdInfo {
            start_of_frame: true,
            end_of_frame: true,
            template_id: 0,
            frame_number: FrameNumber(frame),
            spatial_id: t.spatial_id,
            temporal_id: t.temporal_id,
            dtis: t.dtis,
            frame_diffs: t.frame_diffs,
            chain_diffs: t.chain_diffs,
            active_decode_targets: None,
            carries_structure: with_structure,
            max_render_resolution: None,
        };
        let mut wire = [0u8; 64];
        let len = write(&info, &structure, &mut wire).unwrap();
        wire[..len].to_vec()
    }

    #[test]
    fn the_structure_is_shared_until_it_changes() {
        let mut ingest = DdIngest::default();
        assert!(ingest.parse(Arc::from(&descriptor(1, false)[..])).is_none());
        let first = ingest.parse(Arc::from(&descriptor(2, true)[..])).unwrap();
        let later = ingest.parse(Arc::from(&descriptor(3, false)[..])).unwrap();
        assert!(Arc::ptr_eq(&first.structure, &later.structure));
        assert_eq!(later.info.frame_number, FrameNumber(3));
        assert_eq!(svc_layer_of(&later).spatial, 0);
    }

    #[test]
    fn bytes_round_trip_through_str0m_values() {
        let mut ev = ExtensionValues::default();
        let d = descriptor(9, true);
        assert!(DdSerializer.parse_value(&d, &mut ev));
        assert_eq!(DdSerializer.requires_two_byte_form(&ev), d.len() > 16);
        assert!(!DdSerializer.requires_two_byte_form(&ExtensionValues::default()));
        let mut buf = [0u8; 255];
        let n = DdSerializer.write_to(&mut buf, &ev);
        assert_eq!(&buf[..n], &d[..]);
        assert!(!DdSerializer.parse_value(&[1, 2], &mut ExtensionValues::default()));
        assert_eq!(DdSerializer.write_to(&mut buf[..4], &ev), 0);
    }
}
