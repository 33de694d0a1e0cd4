//! Per-subscriber temporal/spatial layer filtering from frame marking:
//! forward or drop each packet, switch layers only where the marks say the
//! result stays decodable, and detect base-layer loss from `TL0PICIDX`.
//!
//! Pure: no clock, no I/O. One [`VfmLayerFilter`] per subscriber of one
//! published stream.

use crate::info::{FrameMarkingInfo, LayerId, TemporalId, Tl0PicIdx};

/// The layers a subscriber wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VfmTarget {
    /// Highest `TID` to forward.
    pub max_temporal_id: TemporalId,
    /// Highest `LID` to forward.
    pub max_layer_id: LayerId,
    /// Also drop frames marked discardable (`D`), e.g. under congestion.
    pub drop_discardable: bool,
}

impl VfmTarget {
    /// Everything: every temporal and spatial layer, discardable frames too.
    pub const ALL: Self = Self {
        max_temporal_id: TemporalId(7),
        max_layer_id: LayerId(u8::MAX),
        drop_discardable: false,
    };
}

/// What the forwarder must do with one packet for one subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum VfmAction {
    /// Send the packet to the subscriber.
    Forward,
    /// Do not send it; nothing else to do.
    Drop(VfmDropReason),
    /// Do not send it, and ask the publisher for a keyframe (PLI/FIR):
    /// forwarding cannot start, or continue, without one. Returned once per
    /// need; later packets get [`VfmDropReason::AwaitingKeyframe`].
    DropAndRequestKeyframe,
}

/// Why a packet is not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VfmDropReason {
    /// Its temporal or spatial layer is above what is forwarded now.
    AboveLayer,
    /// A discardable frame, and the target drops those.
    Discardable,
    /// Waiting for the requested keyframe (not started, or base layer lost).
    AwaitingKeyframe,
}

/// Forwarding state of one subscriber for one stream carrying frame marking.
///
/// Drive loop: for every packet of the stream, in arrival order, parse its
/// extension with [`FrameMarkingInfo::parse`], call
/// [`VfmLayerFilter::handle_packet`] and act on the [`VfmAction`]. Change the
/// subscriber's wish with [`VfmLayerFilter::set_target`] at any time.
///
/// Rules (RFC 9626 §3.2 semantics of I, D, B, TID, LID, TL0PICIDX):
/// * forwarding starts at an independent (`I`) frame of the base layers
///   (`TID` 0, `LID` 0); until then it drops and asks for a keyframe once;
/// * a packet is forwarded when its `TID` and `LID` are within the layers
///   forwarded now (and, if asked, it is not discardable);
/// * the forwarded layers go down at once, at the next frame start; temporal
///   layers go up at a frame start marked `B` (it depends only on `TID` 0) or
///   `I`; spatial layers go up at an independent frame start;
/// * with `TL0PICIDX`, a jump of more than one base frame means base-layer
///   frames were lost: forwarding stops until the next independent base
///   frame and a keyframe is requested. Without it, loss is left to the RTP
///   layer (sequence numbers, NACK).
#[derive(Debug, Clone)]
pub struct VfmLayerFilter {
    target: VfmTarget,
    /// Layers forwarded now; `None` before the first independent base frame.
    current: Option<(TemporalId, LayerId)>,
    last_tl0: Option<Tl0PicIdx>,
    keyframe_requested: bool,
}

impl VfmLayerFilter {
    /// A filter aiming at `target`.
    #[must_use]
    pub fn new(target: VfmTarget) -> Self {
        Self {
            target,
            current: None,
            last_tl0: None,
            keyframe_requested: false,
        }
    }

    /// Sets the layers the subscriber wants.
    pub fn set_target(&mut self, target: VfmTarget) {
        self.target = target;
    }

    /// The layers the subscriber wants.
    #[must_use]
    pub fn target(&self) -> VfmTarget {
        self.target
    }

    /// The highest temporal and layer ids forwarded now.
    #[must_use]
    pub fn current(&self) -> Option<(TemporalId, LayerId)> {
        self.current
    }

    /// True while forwarding waits for a keyframe (see
    /// [`VfmAction::DropAndRequestKeyframe`]); a forwarder that repeats lost
    /// requests on a timer polls this.
    #[must_use]
    pub fn needs_keyframe(&self) -> bool {
        self.keyframe_requested
    }

    /// Decides what to do with one packet.
    pub fn handle_packet(&mut self, info: &FrameMarkingInfo) -> VfmAction {
        let (tid, lid) = (info.temporal_id, info.layer_id());
        let base_keyframe =
            info.start_of_frame && info.independent && tid == TemporalId(0) && lid == LayerId(0);
        if base_keyframe {
            self.current = Some((self.target.max_temporal_id, self.target.max_layer_id));
            self.keyframe_requested = false;
        }
        if let Some(tl0) = info.tl0_pic_idx()
            && !self.base_layer_continuous(tid, tl0, base_keyframe)
        {
            self.current = None;
        }
        let Some((mut cur_t, mut cur_l)) = self.current else {
            return self.request_keyframe();
        };
        if info.start_of_frame {
            // Down at once; up only where the marks make it decodable.
            cur_t = cur_t.min(self.target.max_temporal_id);
            cur_l = cur_l.min(self.target.max_layer_id);
            if tid > cur_t
                && tid <= self.target.max_temporal_id
                && (info.base_layer_sync || info.independent)
            {
                cur_t = tid;
            }
            if lid > cur_l && lid <= self.target.max_layer_id && info.independent {
                cur_l = lid;
            }
            self.current = Some((cur_t, cur_l));
        }
        if tid > cur_t || lid > cur_l {
            return VfmAction::Drop(VfmDropReason::AboveLayer);
        }
        if info.discardable && self.target.drop_discardable {
            return VfmAction::Drop(VfmDropReason::Discardable);
        }
        VfmAction::Forward
    }

    /// Tracks `TL0PICIDX`; false when base-layer frames were lost.
    fn base_layer_continuous(
        &mut self,
        tid: TemporalId,
        tl0: Tl0PicIdx,
        base_keyframe: bool,
    ) -> bool {
        let Some(last) = self.last_tl0 else {
            self.last_tl0 = Some(tl0);
            return true;
        };
        if base_keyframe {
            self.last_tl0 = Some(tl0);
            return true;
        }
        match tl0.distance_from(last) {
            // Same base frame (another packet or layer of it, or a higher
            // temporal layer that follows it).
            0 => true,
            // The next base frame.
            1 if tid == TemporalId(0) => {
                self.last_tl0 = Some(tl0);
                true
            }
            // Older: a late or retransmitted packet; says nothing new.
            d if d >= 128 => true,
            // A base frame was skipped.
            _ => {
                self.last_tl0 = Some(tl0);
                false
            }
        }
    }

    fn request_keyframe(&mut self) -> VfmAction {
        if self.keyframe_requested {
            VfmAction::Drop(VfmDropReason::AwaitingKeyframe)
        } else {
            self.keyframe_requested = true;
            VfmAction::DropAndRequestKeyframe
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info::LayerFields;

    fn pkt(s: bool, i: bool, b: bool, tid: u8, tl0: u8) -> FrameMarkingInfo {
        FrameMarkingInfo {
            start_of_frame: s,
            end_of_frame: true,
            independent: i,
            discardable: false,
            base_layer_sync: b,
            temporal_id: TemporalId(tid),
            layer: LayerFields::LayerIdAndTl0PicIdx(LayerId(0), Tl0PicIdx(tl0)),
        }
    }

    #[test]
    fn nothing_is_forwarded_before_an_independent_base_frame() {
        let mut f = VfmLayerFilter::new(VfmTarget::ALL);
        assert_eq!(
            f.handle_packet(&pkt(true, false, false, 0, 1)),
            VfmAction::DropAndRequestKeyframe
        );
        assert_eq!(
            f.handle_packet(&pkt(true, false, false, 1, 1)),
            VfmAction::Drop(VfmDropReason::AwaitingKeyframe)
        );
        assert_eq!(
            f.handle_packet(&pkt(true, true, false, 0, 2)),
            VfmAction::Forward
        );
        assert!(!f.needs_keyframe());
    }

    #[test]
    fn a_skipped_tl0picidx_stops_forwarding_until_a_keyframe() {
        let mut f = VfmLayerFilter::new(VfmTarget::ALL);
        assert_eq!(
            f.handle_packet(&pkt(true, true, false, 0, 10)),
            VfmAction::Forward
        );
        assert_eq!(
            f.handle_packet(&pkt(true, false, false, 1, 10)),
            VfmAction::Forward
        );
        assert_eq!(
            f.handle_packet(&pkt(true, false, false, 0, 11)),
            VfmAction::Forward
        );
        // Base frame 12 lost: a TID 1 frame already shows TL0PICIDX 12.
        assert_eq!(
            f.handle_packet(&pkt(true, false, false, 1, 12)),
            VfmAction::DropAndRequestKeyframe
        );
        assert_eq!(
            f.handle_packet(&pkt(true, false, false, 0, 13)),
            VfmAction::Drop(VfmDropReason::AwaitingKeyframe)
        );
        assert_eq!(
            f.handle_packet(&pkt(true, true, false, 0, 14)),
            VfmAction::Forward
        );
    }

    #[test]
    fn late_packets_of_older_base_frames_do_not_break_the_base_layer() {
        let mut f = VfmLayerFilter::new(VfmTarget::ALL);
        let _ = f.handle_packet(&pkt(true, true, false, 0, 10));
        let _ = f.handle_packet(&pkt(true, false, false, 0, 11));
        assert_eq!(
            f.handle_packet(&pkt(false, false, false, 0, 10)),
            VfmAction::Forward
        );
        assert_eq!(
            f.handle_packet(&pkt(true, false, false, 0, 12)),
            VfmAction::Forward
        );
    }
}
