//! Where a packet sits in a scalable (SVC) video stream, read from the codec's payload.
//!
//! VP9 carries the spatial and temporal layer of every packet in its payload descriptor
//! (RFC 9628 §4.2) when the encoder runs more than one layer, which WebRTC encoders signal
//! with the L bit. Every function is total: a payload that does not tell yields `None`.

use sfu_ids::SfuSvcLayer;
use str0m::format::Codec;

/// The SVC layer `payload` (an RTP payload of `codec`) belongs to, for streams that say.
pub fn svc_layer(codec: Codec, payload: &[u8]) -> Option<SfuSvcLayer> {
    match codec {
        Codec::Vp9 => vp9(payload),
        _ => None,
    }
}

/// RFC 9628 §4.2: `I P L F B E V Z`, then the picture id when I is set, then (L set) the
/// layer byte `TID(3) U SID(3) D`.
fn vp9(p: &[u8]) -> Option<SfuSvcLayer> {
    let &b0 = p.first()?;
    let (i_bit, l_bit, b_bit, e_bit) = (
        b0 & 0x80 != 0,
        b0 & 0x20 != 0,
        b0 & 0x08 != 0,
        b0 & 0x04 != 0,
    );
    if !l_bit {
        return None;
    }
    let mut i = 1;
    if i_bit {
        i += if p.get(i)? & 0x80 != 0 { 2 } else { 1 };
    }
    let &layer = p.get(i)?;
    Some(SfuSvcLayer {
        spatial: (layer >> 1) & 0x07,
        temporal: layer >> 5,
        frame_start: b_bit,
        frame_end: e_bit,
        temporal_switch: layer & 0x10 != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn vp9_layer_byte_after_a_long_picture_id() {
        // I, L, B, E; 15-bit picture id; TID 2, U, SID 1, D.
        let p = [0xac, 0x81, 0x23, 0x53, 0x07];
        assert_eq!(
            svc_layer(Codec::Vp9, &p),
            Some(SfuSvcLayer {
                spatial: 1,
                temporal: 2,
                frame_start: true,
                frame_end: true,
                temporal_switch: true,
            })
        );
    }

    #[test]
    fn vp9_inter_predicted_middle_packet() {
        // I, P, L; 7-bit picture id; TID 0, SID 2.
        let p = [0xe0, 0x05, 0x04, 0x00];
        let l = svc_layer(Codec::Vp9, &p).unwrap();
        assert_eq!((l.spatial, l.temporal), (2, 0));
        assert!(!l.frame_start && !l.frame_end && !l.temporal_switch);
    }

    #[test]
    fn no_layer_byte_no_layer() {
        assert_eq!(svc_layer(Codec::Vp9, &[0x8c, 0x05]), None);
        assert_eq!(svc_layer(Codec::Vp9, &[0xa0, 0x85]), None);
        assert_eq!(svc_layer(Codec::Vp8, &[0xac, 0x05, 0x04]), None);
    }

    proptest! {
        #[test]
        fn any_payload_is_answered(p in proptest::collection::vec(any::<u8>(), 0..8)) {
            for c in [Codec::Vp8, Codec::Vp9, Codec::H264, Codec::Av1] {
                let _ = svc_layer(c, &p);
            }
        }
    }
}
