//! Codec-specific keyframe detection on RTP payloads.
//!
//! The SFU forwards packets, so it must tell from the first packet of a frame whether that
//! frame is a keyframe: simulcast switches happen only there. Every function is total: a
//! payload too short to tell is "not a keyframe". Every video codec that
//! [`rtc_config`](crate::rtc_config) offers is detected here: a codec without detection
//! could never start a simulcast layer.

use str0m::format::Codec;

/// `true` when `payload` (an RTP payload of `codec`) starts a keyframe.
pub fn is_keyframe(codec: Codec, payload: &[u8]) -> bool {
    match codec {
        Codec::Vp8 => vp8(payload),
        Codec::Vp9 => vp9(payload),
        Codec::H264 => h264(payload),
        Codec::H265 => h265(payload),
        Codec::Av1 => av1(payload),
        _ => false,
    }
}

/// RFC 7741 §4.2/§4.3: the VP8 payload header whose P bit is 0 on keyframes.
fn vp8(p: &[u8]) -> bool {
    vp8_frame_start(p)
        .and_then(|i| p.get(i))
        .is_some_and(|&h| h & 0x01 == 0)
}

/// RFC 7741 §4.2: the offset of the VP8 payload header (the frame tag) after the payload
/// descriptor, when this packet starts a frame (S=1, partition 0).
pub(crate) fn vp8_frame_start(p: &[u8]) -> Option<usize> {
    let &b0 = p.first()?;
    let x = b0 & 0x80 != 0;
    let s = b0 & 0x10 != 0;
    let pid = b0 & 0x07;
    if !s || pid != 0 {
        return None;
    }
    let mut i = 1;
    if x {
        let &b1 = p.get(i)?;
        i += 1;
        if b1 & 0x80 != 0 {
            // PictureID: 7 or 15 bits, M bit says which.
            let &pic = p.get(i)?;
            i += if pic & 0x80 != 0 { 2 } else { 1 };
        }
        if b1 & 0x40 != 0 {
            i += 1; // TL0PICIDX
        }
        if b1 & 0x30 != 0 {
            i += 1; // TID/Y/KEYIDX
        }
    }
    (i < p.len()).then_some(i)
}

/// RFC 9628 §4.2: B (start of frame) set and P (inter-picture predicted) clear, on the base
/// spatial layer when the layer byte is present.
fn vp9(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else { return false };
    let i_bit = b0 & 0x80 != 0;
    let p_bit = b0 & 0x40 != 0;
    let l_bit = b0 & 0x20 != 0;
    let b_bit = b0 & 0x08 != 0;
    if p_bit || !b_bit {
        return false;
    }
    if !l_bit {
        return true;
    }
    let mut i = 1;
    if i_bit {
        let Some(&pic) = p.get(i) else { return false };
        i += if pic & 0x80 != 0 { 2 } else { 1 };
    }
    p.get(i).is_some_and(|&layer| (layer >> 1) & 0x07 == 0)
}

/// RFC 6184 §5.2: an IDR slice (5) alone, inside a STAP-A (24), or at the start of a FU-A
/// (28). An SPS or PPS alone is not a keyframe: encoders repeat them before non-IDR frames,
/// and a decoder cannot start from one.
fn h264(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else { return false };
    let is_key = |t: u8| t == 5;
    match b0 & 0x1f {
        24 => any_aggregated(p, 1, |nal| is_key(nal & 0x1f)),
        28 => p
            .get(1)
            .is_some_and(|&fu| fu & 0x80 != 0 && is_key(fu & 0x1f)),
        t => is_key(t),
    }
}

/// RFC 7798 §1.1.4/§4.4: an IRAP picture (NAL unit types 16–21: BLA, IDR, CRA) alone,
/// inside an aggregation packet (48), or at the start of a fragmentation unit (49). The NAL
/// unit header is two bytes; DONL fields (only with `sprop-max-don-diff` > 0, which WebRTC
/// endpoints do not use) are not expected.
fn h265(p: &[u8]) -> bool {
    let nal_type = |b: u8| (b >> 1) & 0x3f;
    let is_irap = |t: u8| (16..=21).contains(&t);
    let Some(&b0) = p.first() else { return false };
    match nal_type(b0) {
        48 => any_aggregated(p, 2, |nal| is_irap(nal_type(nal))),
        49 => p
            .get(2)
            .is_some_and(|&fu| fu & 0x80 != 0 && is_irap(fu & 0x3f)),
        t => p.len() >= 2 && is_irap(t),
    }
}

/// Whether any NAL unit of an aggregation packet (H.264 STAP-A, H.265 AP: a 16-bit size
/// before each unit, from offset `start`) has a first header byte that `is_key` accepts.
fn any_aggregated(p: &[u8], start: usize, is_key: impl Fn(u8) -> bool) -> bool {
    let mut i = start;
    while i + 2 < p.len() {
        let len = usize::from(u16::from_be_bytes([p[i], p[i + 1]]));
        if is_key(p[i + 2]) {
            return true;
        }
        i += 2 + len;
    }
    false
}

/// AV1 RTP spec §4.4: the N bit of the aggregation header marks the first packet of a
/// coded video sequence, which starts with a keyframe.
fn av1(p: &[u8]) -> bool {
    p.first().is_some_and(|&b| b & 0x08 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn vp8_keyframe_and_delta() {
        // S=1, PID=0, no extension; payload header with P=0 (key) / P=1 (delta).
        assert!(is_keyframe(Codec::Vp8, &[0x10, 0x00]));
        assert!(!is_keyframe(Codec::Vp8, &[0x10, 0x01]));
        // Not the start of partition 0.
        assert!(!is_keyframe(Codec::Vp8, &[0x00, 0x00]));
        // X=1, I=1 with a 15-bit picture id, L=1: key header at index 5.
        assert!(is_keyframe(
            Codec::Vp8,
            &[0x90, 0xC0, 0x81, 0x23, 0x05, 0x9c]
        ));
        assert!(!is_keyframe(Codec::Vp8, &[0x90, 0xC0, 0x81, 0x23, 0x05]));
    }

    #[test]
    fn vp9_keyframe_needs_start_of_frame_and_no_prediction() {
        assert!(is_keyframe(Codec::Vp9, &[0x08]));
        assert!(!is_keyframe(Codec::Vp9, &[0x48]));
        assert!(!is_keyframe(Codec::Vp9, &[0x00]));
        // L=1, layer byte with SID=1 is not the base layer.
        assert!(!is_keyframe(Codec::Vp9, &[0x28, 0x02]));
        assert!(is_keyframe(Codec::Vp9, &[0x28, 0x00]));
    }

    #[test]
    fn h264_single_stap_and_fu() {
        assert!(is_keyframe(Codec::H264, &[0x65]));
        assert!(!is_keyframe(Codec::H264, &[0x41]));
        // STAP-A with an IDR slice inside (after SPS and PPS).
        assert!(is_keyframe(
            Codec::H264,
            &[0x78, 0x00, 0x01, 0x67, 0x00, 0x01, 0x68, 0x00, 0x01, 0x65]
        ));
        // FU-A start of an IDR slice, and a continuation.
        assert!(is_keyframe(Codec::H264, &[0x7c, 0x85]));
        assert!(!is_keyframe(Codec::H264, &[0x7c, 0x05]));
    }

    #[test]
    fn h264_parameter_sets_alone_are_not_keyframes() {
        // SPS, PPS, and a STAP-A of SPS + PPS followed by nothing: a decoder cannot start.
        assert!(!is_keyframe(Codec::H264, &[0x67]));
        assert!(!is_keyframe(Codec::H264, &[0x68]));
        assert!(!is_keyframe(
            Codec::H264,
            &[0x78, 0x00, 0x01, 0x67, 0x00, 0x01, 0x68]
        ));
        // FU-A start of a non-IDR slice.
        assert!(!is_keyframe(Codec::H264, &[0x7c, 0x81]));
    }

    #[test]
    fn h265_irap_alone_aggregated_and_fragmented() {
        // IDR_W_RADL (19): header 0x26 0x01; CRA (21): 0x2a 0x01; TRAIL_R (1): 0x02 0x01.
        assert!(is_keyframe(Codec::H265, &[0x26, 0x01, 0xaf]));
        assert!(is_keyframe(Codec::H265, &[0x2a, 0x01, 0xaf]));
        assert!(!is_keyframe(Codec::H265, &[0x02, 0x01, 0xaf]));
        // VPS (32) alone is not a keyframe.
        assert!(!is_keyframe(Codec::H265, &[0x40, 0x01, 0x0c]));
        // Aggregation packet (48): VPS, then IDR.
        assert!(is_keyframe(
            Codec::H265,
            &[0x60, 0x01, 0x00, 0x02, 0x40, 0x01, 0x00, 0x02, 0x26, 0x01]
        ));
        assert!(!is_keyframe(
            Codec::H265,
            &[0x60, 0x01, 0x00, 0x02, 0x40, 0x01, 0x00, 0x02, 0x02, 0x01]
        ));
        // Fragmentation unit (49): start of an IDR, its continuation, start of a TRAIL_R.
        assert!(is_keyframe(Codec::H265, &[0x62, 0x01, 0x93]));
        assert!(!is_keyframe(Codec::H265, &[0x62, 0x01, 0x13]));
        assert!(!is_keyframe(Codec::H265, &[0x62, 0x01, 0x81]));
        assert!(!is_keyframe(Codec::H265, &[0x26]));
    }

    #[test]
    fn av1_new_sequence_bit() {
        assert!(is_keyframe(Codec::Av1, &[0x08]));
        assert!(!is_keyframe(Codec::Av1, &[0x00]));
        assert!(!is_keyframe(Codec::Opus, &[0xff]));
    }

    proptest! {
        #[test]
        fn arbitrary_payloads_never_panic(p in proptest::collection::vec(any::<u8>(), 0..64)) {
            for c in [Codec::Vp8, Codec::Vp9, Codec::H264, Codec::H265, Codec::Av1, Codec::Opus] {
                let _ = is_keyframe(c, &p);
            }
        }
    }
}
