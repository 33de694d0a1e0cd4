//! Forwarding decisions on marked streams: a VP8-style L1T3 temporal
//! pattern with TL0PICIDX, temporal switches at base-layer-sync frames, an
//! L2T1 spatial stream with LID, and discardable-frame dropping.

use sfu_vfm::{
    FrameMarkingInfo, LayerFields, LayerId, TemporalId, Tl0PicIdx, VfmAction, VfmDropReason,
    VfmLayerFilter, VfmTarget,
};

fn target(t: u8, l: u8) -> VfmTarget {
    VfmTarget {
        max_temporal_id: TemporalId(t),
        max_layer_id: LayerId(l),
        drop_discardable: false,
    }
}

/// Frame `k` of an L1T3 stream (TIDs 0,2,1,2,...) starting with a keyframe;
/// TID 1 and 2 frames are base-layer-sync when they directly follow a base
/// frame's period start, and TID 2 frames are discardable.
fn l1t3_frame(k: u32) -> FrameMarkingInfo {
    let tid = [0u8, 2, 1, 2][(k % 4) as usize];
    FrameMarkingInfo {
        start_of_frame: true,
        end_of_frame: true,
        independent: k == 0,
        discardable: tid == 2,
        base_layer_sync: k % 4 == 1 || k % 4 == 2,
        temporal_id: TemporalId(tid),
        layer: LayerFields::LayerIdAndTl0PicIdx(LayerId(0), Tl0PicIdx((k / 4) as u8)),
    }
}

fn forwarded(filter: &mut VfmLayerFilter, frames: std::ops::Range<u32>) -> Vec<u32> {
    frames
        .filter(|&k| filter.handle_packet(&l1t3_frame(k)) == VfmAction::Forward)
        .collect()
}

#[test]
fn l1t3_temporal_targets_receive_their_frame_rates() {
    assert_eq!(
        forwarded(&mut VfmLayerFilter::new(target(2, 0)), 0..8).len(),
        8
    );
    assert_eq!(
        forwarded(&mut VfmLayerFilter::new(target(1, 0)), 0..8),
        [0, 2, 4, 6]
    );
    assert_eq!(
        forwarded(&mut VfmLayerFilter::new(target(0, 0)), 0..8),
        [0, 4]
    );
}

#[test]
fn temporal_up_switch_waits_for_a_base_layer_sync_frame() {
    let mut f = VfmLayerFilter::new(target(0, 0));
    assert_eq!(forwarded(&mut f, 0..4), [0]);
    f.set_target(target(2, 0));
    // Frame 4 (TID 0) forwards; frame 5 (TID 2, B) switches up to TID 2.
    assert_eq!(forwarded(&mut f, 4..8), [4, 5, 6, 7]);
    assert_eq!(f.current(), Some((TemporalId(2), LayerId(0))));
    // Down-switch is immediate.
    f.set_target(target(0, 0));
    assert_eq!(forwarded(&mut f, 8..12), [8]);
}

#[test]
fn a_frame_without_base_layer_sync_does_not_switch_up() {
    let mut f = VfmLayerFilter::new(target(0, 0));
    let _ = forwarded(&mut f, 0..1);
    f.set_target(target(2, 0));
    let mut no_sync = l1t3_frame(3);
    no_sync.base_layer_sync = false;
    assert_eq!(
        f.handle_packet(&no_sync),
        VfmAction::Drop(VfmDropReason::AboveLayer)
    );
}

#[test]
fn losing_a_base_frame_requests_a_keyframe_once() {
    let mut f = VfmLayerFilter::new(target(2, 0));
    let mut actions = Vec::new();
    for k in (0..10).filter(|&k| k != 4) {
        actions.push(f.handle_packet(&l1t3_frame(k)));
    }
    let mut key = l1t3_frame(12);
    key.independent = true;
    actions.push(f.handle_packet(&key));
    use VfmAction::*;
    assert_eq!(
        actions,
        [
            Forward,
            Forward,
            Forward,
            Forward,
            // Frame 5 carries TL0PICIDX 1 but base frame 4 (index 1) never came.
            DropAndRequestKeyframe,
            Drop(VfmDropReason::AwaitingKeyframe),
            Drop(VfmDropReason::AwaitingKeyframe),
            Drop(VfmDropReason::AwaitingKeyframe),
            Drop(VfmDropReason::AwaitingKeyframe),
            Forward,
        ]
    );
}

#[test]
fn discardable_frames_are_dropped_on_request() {
    let mut f = VfmLayerFilter::new(VfmTarget {
        drop_discardable: true,
        ..target(2, 0)
    });
    assert_eq!(forwarded(&mut f, 0..8), [0, 2, 4, 6]);
}

/// An L2T1 stream: each temporal unit has a LID 0 and a LID 1 frame.
fn l2t1(tu: u32, lid: u8) -> FrameMarkingInfo {
    FrameMarkingInfo {
        start_of_frame: true,
        end_of_frame: true,
        independent: tu.is_multiple_of(8),
        discardable: false,
        base_layer_sync: false,
        temporal_id: TemporalId(0),
        layer: LayerFields::LayerIdAndTl0PicIdx(LayerId(lid), Tl0PicIdx(tu as u8)),
    }
}

#[test]
fn spatial_up_switch_waits_for_an_independent_frame() {
    let mut f = VfmLayerFilter::new(target(0, 0));
    let mut got = Vec::new();
    for tu in 0..12u32 {
        if tu == 2 {
            f.set_target(target(0, 1));
        }
        for lid in 0..2 {
            if f.handle_packet(&l2t1(tu, lid)) == VfmAction::Forward {
                got.push((tu, lid));
            }
        }
    }
    let mut want: Vec<(u32, u8)> = (0..8).map(|tu| (tu, 0)).collect();
    want.extend((8..12).flat_map(|tu| [(tu, 0), (tu, 1)]));
    assert_eq!(got, want);
}
