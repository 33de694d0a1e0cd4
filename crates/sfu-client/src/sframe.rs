//! What the SFU may read of a publisher's end-to-end encrypted media
//! ([`PayloadEncryption::Sframe`](crate::PayloadEncryption::Sframe)).
//!
//! The frame bytes are an SFrame ciphertext, so nothing that the clear path reads from them
//! (the VP8 frame tag, a keyframe's size, H.264 NAL headers) means anything: a byte that
//! happens to look like a keyframe tag would start a layer in the middle of a picture.
//! What stays in the clear decides instead: the Dependency Descriptor and frame marking
//! header extensions, and the codec's RTP payload descriptor (VP9's P bit). The SFrame
//! header in front of the ciphertext gives the key id, and so the key epoch, wherever the
//! payload descriptor says where the frame starts (VP8).

use sfu_ids::{KeyEpoch, SfuDependencyDescriptor};
use sfu_sframe::{SframeError, SframeHeader};
use sfu_vfm::FrameMarkingInfo;
use str0m::format::Codec;

use crate::keyframe_detect::{is_keyframe, vp8_frame_start};

/// `true` when the clear parts of an encrypted packet say it starts an independent frame.
pub(crate) fn is_keyframe_encrypted(
    codec: Codec,
    payload: &[u8],
    dd: Option<&SfuDependencyDescriptor>,
    vfm: Option<&FrameMarkingInfo>,
) -> bool {
    if let Some(dd) = dd {
        return dd.info.start_of_frame && dd.info.frame_diffs.as_slice().is_empty();
    }
    if let Some(m) = vfm {
        return m.start_of_frame && m.independent;
    }
    // VP9's payload descriptor carries the inter-picture predicted bit itself.
    codec == Codec::Vp9 && is_keyframe(codec, payload)
}

/// The key epoch of the frame this packet starts: `Ok(None)` when the packet starts no
/// frame or its codec does not say where the frame begins, an error when the bytes there
/// are not an SFrame header.
pub(crate) fn frame_epoch(
    codec: Codec,
    payload: &[u8],
    epoch_bits: u8,
) -> Result<Option<KeyEpoch>, SframeError> {
    let start = match codec {
        Codec::Vp8 => vp8_frame_start(payload),
        _ => None,
    };
    let Some(start) = start else {
        return Ok(None);
    };
    let (header, _) = SframeHeader::parse(&payload[start..])?;
    Ok(Some(KeyEpoch::from_kid(header.kid.0, epoch_bits)))
}

/// Moves a track's epoch on to `seen` when it is newer in serial-number order (or the
/// first); `true` when it moved. A late packet of the previous epoch is no change.
pub(crate) fn advance_epoch(current: &mut Option<KeyEpoch>, seen: KeyEpoch) -> bool {
    if current.is_some_and(|e| !seen.is_newer_than(e)) {
        return false;
    }
    *current = Some(seen);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use sfu_sframe::{Counter, KeyId};

    /// A VP8 packet that starts a frame (S=1, no extensions) whose bytes are `frame`.
    fn vp8_packet(frame: &[u8]) -> Vec<u8> {
        let mut p = vec![0x10];
        p.extend_from_slice(frame);
        p
    }

    fn sframe(kid: u64) -> Vec<u8> {
        let mut out = [0u8; SframeHeader::MAX_LEN];
        let h = SframeHeader {
            kid: KeyId(kid),
            ctr: Counter(1),
        };
        let n = h.write(&mut out).unwrap();
        let mut f = out[..n].to_vec();
        f.extend_from_slice(&[0x9d; 20]);
        f
    }

    #[test]
    fn a_keyframe_looking_ciphertext_is_not_a_keyframe() {
        // KID 2, CTR 1: config byte 0x21, bit 0 set; KID 2, CTR 0 would be 0x20, whose
        // clear bit 0 is a VP8 keyframe tag.
        let mut frame = sframe(2);
        frame[0] = 0x20;
        let p = vp8_packet(&frame);
        assert!(is_keyframe(Codec::Vp8, &p), "the clear path is fooled");
        assert!(!is_keyframe_encrypted(Codec::Vp8, &p, None, None));
        let mark = FrameMarkingInfo {
            start_of_frame: true,
            independent: true,
            ..FrameMarkingInfo::default()
        };
        assert!(is_keyframe_encrypted(Codec::Vp8, &p, None, Some(&mark)));
    }

    #[test]
    fn an_epoch_moves_only_forward() {
        let mut current = None;
        assert!(advance_epoch(&mut current, KeyEpoch::new(1, 8)));
        assert!(advance_epoch(&mut current, KeyEpoch::new(2, 8)));
        assert!(
            !advance_epoch(&mut current, KeyEpoch::new(1, 8)),
            "late old key"
        );
        assert!(
            !advance_epoch(&mut current, KeyEpoch::new(2, 8)),
            "the same one"
        );
        // Serial order: 0 follows 255 in 8 bits.
        current = Some(KeyEpoch::new(255, 8));
        assert!(advance_epoch(&mut current, KeyEpoch::new(0, 8)));
        assert_eq!(current, Some(KeyEpoch::new(0, 8)));
    }

    #[test]
    fn the_epoch_is_the_low_bits_of_the_key_id() {
        let p = vp8_packet(&sframe(0x0305));
        assert_eq!(
            frame_epoch(Codec::Vp8, &p, 8),
            Ok(Some(KeyEpoch::new(5, 8)))
        );
        // Not a frame start (S=0): no epoch.
        let mut middle = p.clone();
        middle[0] = 0x00;
        assert_eq!(frame_epoch(Codec::Vp8, &middle, 8), Ok(None));
        // A truncated header is an error, not a guess.
        assert!(frame_epoch(Codec::Vp8, &[0x10, 0xff, 1], 8).is_err());
        assert_eq!(frame_epoch(Codec::H264, &p, 8), Ok(None));
    }
}
