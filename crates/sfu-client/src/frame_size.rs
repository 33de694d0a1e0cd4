//! The picture size a keyframe announces, for codecs that carry it in a cheap place.
//!
//! Simulcast layers are ranked by what they are, and a layer's resolution is the most
//! direct statement of that. VP8 keyframes carry their size in the frame header right after
//! the payload descriptor; VP9 keyframes from WebRTC encoders carry it in the scalability
//! structure of the payload descriptor. For other codecs the size sits deep in parameter
//! sets (H.264/H.265 SPS, AV1 sequence header) and the layers are ranked by their SDP order.
//! Every function is total: a payload that does not tell yields `None`.

use sfu_ids::FrameSize;
use str0m::format::Codec;

use crate::keyframe_detect::vp8_frame_start;

/// The picture size `payload` (the first RTP payload of a keyframe of `codec`) announces.
pub fn keyframe_size(codec: Codec, payload: &[u8]) -> Option<FrameSize> {
    match codec {
        Codec::Vp8 => vp8(payload),
        Codec::Vp9 => vp9(payload),
        _ => None,
    }
}

/// RFC 6386 §9.1: after the 3-byte frame tag of a keyframe, the start code `9d 01 2a`, then
/// 14-bit width and height (little-endian, 2 bits of scaling each).
fn vp8(p: &[u8]) -> Option<FrameSize> {
    let i = vp8_frame_start(p)?;
    let h = p.get(i..i + 10)?;
    if h[0] & 0x01 != 0 || h[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u16::from_le_bytes([h[6], h[7]]) & 0x3fff;
    let height = u16::from_le_bytes([h[8], h[9]]) & 0x3fff;
    (width > 0 && height > 0).then_some(FrameSize { width, height })
}

/// RFC 9628 §4.2/§4.3.1: a payload descriptor with V=1 carries the scalability structure,
/// and with Y=1 each spatial layer's size; the largest is the stream's picture size.
fn vp9(p: &[u8]) -> Option<FrameSize> {
    let &b0 = p.first()?;
    let (i_bit, p_bit, l_bit, f_bit, v_bit) = (
        b0 & 0x80 != 0,
        b0 & 0x40 != 0,
        b0 & 0x20 != 0,
        b0 & 0x10 != 0,
        b0 & 0x02 != 0,
    );
    if !v_bit {
        return None;
    }
    let mut i = 1;
    if i_bit {
        i += if p.get(i)? & 0x80 != 0 { 2 } else { 1 };
    }
    if l_bit {
        // Layer indices, plus TL0PICIDX in non-flexible mode.
        i += if f_bit { 1 } else { 2 };
    }
    if f_bit && p_bit {
        // Up to three reference indices, each with an N bit announcing the next.
        for _ in 0..3 {
            let &diff = p.get(i)?;
            i += 1;
            if diff & 0x01 == 0 {
                break;
            }
        }
    }
    let &ss = p.get(i)?;
    i += 1;
    let layers = usize::from(ss >> 5) + 1;
    if ss & 0x10 == 0 {
        return None;
    }
    let mut best: Option<FrameSize> = None;
    for l in 0..layers {
        let at = i + 4 * l;
        let b = p.get(at..at + 4)?;
        let size = FrameSize {
            width: u16::from_be_bytes([b[0], b[1]]),
            height: u16::from_be_bytes([b[2], b[3]]),
        };
        if size.pixels() > 0 && best.is_none_or(|b| size.pixels() > b.pixels()) {
            best = Some(size);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A VP8 keyframe's first packet: descriptor with a 15-bit picture id, frame tag, start
    /// code and a 640x480 size.
    const VP8_KEY_640: [u8; 14] = [
        0x90, 0x80, 0x81, 0x23, // descriptor: X, S; I; 15-bit picture id
        0x50, 0x2a, 0x00, // frame tag, P=0 (keyframe)
        0x9d, 0x01, 0x2a, // start code
        0x80, 0x02, 0xe0, 0x01, // 640, 480
    ];

    #[test]
    fn vp8_keyframe_announces_its_size() {
        assert_eq!(
            keyframe_size(Codec::Vp8, &VP8_KEY_640),
            Some(FrameSize {
                width: 640,
                height: 480
            })
        );
    }

    #[test]
    fn vp8_delta_frames_and_bad_start_codes_announce_nothing() {
        let mut delta = VP8_KEY_640;
        delta[4] |= 0x01;
        assert_eq!(keyframe_size(Codec::Vp8, &delta), None);
        let mut bad = VP8_KEY_640;
        bad[8] = 0x00;
        assert_eq!(keyframe_size(Codec::Vp8, &bad), None);
        assert_eq!(keyframe_size(Codec::Vp8, &VP8_KEY_640[..12]), None);
    }

    #[test]
    fn vp9_scalability_structure_gives_the_largest_layer() {
        // I, B, E, V; 15-bit picture id; SS: N_S = 1 (two layers), Y, no G; 320x240, 640x360.
        let p = [
            0x8e, 0x80, 0x01, 0x30, 0x01, 0x40, 0x00, 0xf0, 0x02, 0x80, 0x01, 0x68,
        ];
        assert_eq!(
            keyframe_size(Codec::Vp9, &p),
            Some(FrameSize {
                width: 640,
                height: 360
            })
        );
        // Without V there is no structure.
        assert_eq!(keyframe_size(Codec::Vp9, &[0x8c, 0x80, 0x01]), None);
    }

    #[test]
    fn codecs_without_a_cheap_size_announce_nothing() {
        assert_eq!(keyframe_size(Codec::H264, &[0x65, 0, 0, 0]), None);
        assert_eq!(keyframe_size(Codec::Opus, &VP8_KEY_640), None);
    }

    proptest! {
        #[test]
        fn arbitrary_payloads_never_panic(p in proptest::collection::vec(any::<u8>(), 0..64)) {
            for c in [Codec::Vp8, Codec::Vp9, Codec::H264, Codec::Av1] {
                let _ = keyframe_size(c, &p);
            }
        }
    }
}
