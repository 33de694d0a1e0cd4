//! The wire forms of RFC 9626: §3.1 non-scalable (`S E I D 0 0 0 0`) and
//! §3.2 scalable (`S E I D B TID | LID | TL0PICIDX`, trailing fields omitted
//! with L = 1 and L = 0). Bytes are built from the RFC's figures.

use sfu_vfm::{
    FrameMarkingInfo, LayerFields, LayerId, TemporalId, Tl0PicIdx, VfmError, encoded_len, write,
};

#[test]
fn non_scalable_keyframe_start_packet() {
    // S=1 E=0 I=1 D=0, reserved 0000.
    let info = FrameMarkingInfo::parse(&[0b1010_0000]).unwrap();
    assert!(info.start_of_frame && !info.end_of_frame && info.independent && !info.discardable);
    assert!(info.is_non_scalable());
    assert_eq!(info.layer, LayerFields::Omitted);
}

#[test]
fn non_scalable_discardable_single_packet_frame() {
    let info = FrameMarkingInfo::parse(&[0b1101_0000]).unwrap();
    assert!(info.start_of_frame && info.end_of_frame && !info.independent && info.discardable);
}

#[test]
fn scalable_form_with_every_field() {
    // S=0 E=1 I=0 D=1 B=1 TID=3 | LID=0x02 | TL0PICIDX=0xfe
    let bytes = [0b0101_1011, 0x02, 0xfe];
    let info = FrameMarkingInfo::parse(&bytes).unwrap();
    assert!(!info.start_of_frame && info.end_of_frame && !info.independent && info.discardable);
    assert!(info.base_layer_sync);
    assert_eq!(info.temporal_id, TemporalId(3));
    assert_eq!(
        info.layer,
        LayerFields::LayerIdAndTl0PicIdx(LayerId(2), Tl0PicIdx(0xfe))
    );
    assert!(!info.is_non_scalable());
    let mut out = [0u8; 3];
    assert_eq!(write(&info, &mut out), Ok(3));
    assert_eq!(out, bytes);
}

#[test]
fn scalable_form_without_tl0picidx() {
    let info = FrameMarkingInfo::parse(&[0b1000_0001, 0x01]).unwrap();
    assert_eq!(info.temporal_id, TemporalId(1));
    assert_eq!(info.layer_id(), LayerId(1));
    assert_eq!(info.tl0_pic_idx(), None);
    assert_eq!(encoded_len(&info), 2);
}

#[test]
fn scalable_form_without_lid_and_tl0picidx() {
    let info = FrameMarkingInfo::parse(&[0b1000_1010]).unwrap();
    assert!(info.base_layer_sync);
    assert_eq!(info.temporal_id, TemporalId(2));
    assert_eq!(info.layer_id(), LayerId(0));
    assert_eq!(encoded_len(&info), 1);
}

#[test]
fn lengths_outside_one_to_three_are_typed_errors() {
    assert_eq!(FrameMarkingInfo::parse(&[]), Err(VfmError::Empty));
    assert_eq!(
        FrameMarkingInfo::parse(&[0, 0, 0, 0]),
        Err(VfmError::TooLong { len: 4 })
    );
}
