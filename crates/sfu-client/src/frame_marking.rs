//! The Video Frame Marking header extension (RFC 9626) on the media path.
//!
//! Like the Dependency Descriptor it is a user extension to str0m ([`VfmSerializer`]): str0m
//! hands over its bytes on receive and writes back the forwarded ones. Each value is parsed
//! on its own (the extension carries no state), and it tells the temporal layer (and, in
//! the scalable form, a layer id) of codecs whose payload does not, such as H.264, or whose
//! payload is encrypted.

use sfu_ids::SfuSvcLayer;
use sfu_vfm::FrameMarkingInfo;
use str0m::rtp::{ExtensionSerializer, ExtensionValues};

/// The extension's URI (RFC 9626 §4).
pub(crate) const VFM_URI: &str = "urn:ietf:params:rtp-hdrext:framemarking";

/// One frame marking value (1 to 3 bytes), as str0m stores it among a packet's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VfmBytes {
    bytes: [u8; 3],
    len: u8,
}

impl VfmBytes {
    /// The value of `buf`, when it has a valid length.
    pub(crate) fn new(buf: &[u8]) -> Option<Self> {
        if !(1..=3).contains(&buf.len()) {
            return None;
        }
        let mut bytes = [0; 3];
        bytes[..buf.len()].copy_from_slice(buf);
        Some(Self {
            bytes,
            len: buf.len() as u8,
        })
    }

    /// The value's bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Reads and writes frame marking values as they are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VfmSerializer;

impl ExtensionSerializer for VfmSerializer {
    fn write_to(&self, buf: &mut [u8], ev: &ExtensionValues) -> usize {
        match ev.user_values.get::<VfmBytes>() {
            Some(v) if v.as_slice().len() <= buf.len() => {
                buf[..v.as_slice().len()].copy_from_slice(v.as_slice());
                v.as_slice().len()
            }
            _ => 0,
        }
    }

    fn parse_value(&self, buf: &[u8], ev: &mut ExtensionValues) -> bool {
        match VfmBytes::new(buf) {
            Some(v) => {
                ev.user_values.set(v);
                true
            }
            None => false,
        }
    }

    fn is_video(&self) -> bool {
        true
    }

    fn is_audio(&self) -> bool {
        false
    }
}

/// The layer frame marking puts its packet in: the temporal id, and the layer id as the
/// spatial id (its meaning is the codec's; VP9 and H.264 SVC number spatial layers by it).
pub(crate) fn svc_layer_of(m: &FrameMarkingInfo) -> SfuSvcLayer {
    SfuSvcLayer {
        spatial: m.layer_id().0,
        temporal: m.temporal_id.0,
        frame_start: m.start_of_frame,
        frame_end: m.end_of_frame,
        temporal_switch: m.base_layer_sync,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_bad_lengths_are_refused() {
        let mut ev = ExtensionValues::default();
        assert!(VfmSerializer.parse_value(&[0xca, 0x00, 0x09], &mut ev));
        let mut buf = [0u8; 8];
        let n = VfmSerializer.write_to(&mut buf, &ev);
        assert_eq!(&buf[..n], &[0xca, 0x00, 0x09]);
        assert!(!VfmSerializer.parse_value(&[], &mut ExtensionValues::default()));
        assert!(!VfmSerializer.parse_value(&[1, 2, 3, 4], &mut ExtensionValues::default()));
        let info =
            FrameMarkingInfo::parse(ev.user_values.get::<VfmBytes>().unwrap().as_slice()).unwrap();
        let l = svc_layer_of(&info);
        assert_eq!((l.spatial, l.temporal, l.temporal_switch), (0, 2, true));
    }
}
