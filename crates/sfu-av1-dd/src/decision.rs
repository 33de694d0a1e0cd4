//! Per-subscriber forwarding decisions from parsed descriptors (A.1, A.4–A.7):
//! which packets belong to the subscriber's decode target, when the target can
//! be switched, and when a broken chain means a keyframe is needed.
//!
//! Pure: no clock, no I/O. One [`Av1LayerSelector`] per subscriber of one
//! published AV1 stream.

use crate::parser::Av1DdInfo;
use crate::structure::TemplateStructure;
use crate::types::{DecodeTargetIndex, DecodeTargetMask, Dti, FrameNumber, MAX_CHAINS};

/// What the forwarder must do with one packet for one subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Av1Action {
    /// Send the packet to the subscriber.
    Forward,
    /// Do not send it; nothing else to do.
    Drop(Av1DropReason),
    /// Do not send it, and ask the publisher for a keyframe (PLI/FIR): the
    /// subscriber's decode target cannot be decoded any more, or cannot be
    /// started, without one. Returned once per break; later packets of the
    /// broken stream get [`Av1DropReason::AwaitingKeyframe`].
    DropAndRequestKeyframe,
}

/// Why a packet is not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Av1DropReason {
    /// The frame carries no payload for the decode target being forwarded
    /// (its DTI is "not present").
    NotInDecodeTarget,
    /// The subscriber has no target, or no active decode target fits it.
    NoDecodeTarget,
    /// Waiting for the keyframe that was requested: forwarding has not
    /// started yet, or the chain protecting the target is broken.
    AwaitingKeyframe,
    /// A discardable frame whose referred frames were not forwarded.
    Undecodable,
}

/// Frames remembered for per-frame decisions (later packets of a frame,
/// retransmissions, reordering).
const FRAME_LOG: usize = 32;
/// Forwarded frame numbers remembered to check that a frame's references
/// were forwarded (A.1). Template fdiffs are at most 16; custom ones larger
/// than this window count as not forwarded.
const FORWARDED_WINDOW: usize = 256;

#[derive(Debug, Clone, Copy, Default)]
struct FrameEntry {
    frame: FrameNumber,
    valid: bool,
    reason: Option<Av1DropReason>,
    seen_start: bool,
    seen_end: bool,
    credited: bool,
    /// Chains that are intact at this frame and that this frame belongs to.
    chain_credit: u32,
}

/// Forwarding state of one subscriber for one AV1 stream.
///
/// Drive loop: for every packet of the stream, in arrival order, parse its
/// descriptor with the stream's [`crate::Av1DdParser`] (one parser per
/// published stream, shared by its subscribers), then call
/// [`Av1LayerSelector::handle_parsed`] (or [`Av1LayerSelector::handle_packet`]
/// with the parser's structure and active decode targets) and act on the
/// returned [`Av1Action`]. Packets whose descriptor fails to parse are dropped
/// without calling the selector. Change the
/// subscriber's wish with [`Av1LayerSelector::set_target`] at any time; the
/// switch happens at the next frame where it is safe.
///
/// Rules, from the spec:
/// * forward a frame when its DTI for the current decode target is present,
///   the chain protecting the target is intact, and (for discardable frames)
///   every referred frame was forwarded (A.1);
/// * start, or switch up, only at the start of a frame with a Switch
///   indication for the new target whose referred frames were forwarded and
///   whose chain is intact (A.7); switch down at any frame start where the
///   lower target's chain is intact;
/// * a target marked inactive (A.4) is replaced by the best active target
///   within the same spatial/temporal limits;
/// * a broken chain (a frame's `frame_chain_fdiff` points at a chain frame
///   that was not completely received) means a keyframe is needed (A.5, A.6).
///
/// A chain frame counts as received when both its first (`start_of_frame`)
/// and last (`end_of_frame`) packet arrived; loss of a middle packet is left
/// to retransmission (NACK/RTX) in the RTP layer. Per-frame verdicts are
/// remembered for the last 32 frame numbers (so late packets and
/// retransmissions of those frames get the same verdict) and forwarded
/// frames for the last 256 (the window in which references are checked).
#[derive(Debug, Clone)]
pub struct Av1LayerSelector {
    desired: Option<DecodeTargetIndex>,
    current: Option<DecodeTargetIndex>,
    /// Per chain: the last chain frame received completely with its chain intact.
    chain_last: [Option<FrameNumber>; MAX_CHAINS],
    frames: [FrameEntry; FRAME_LOG],
    forwarded: [Option<FrameNumber>; FORWARDED_WINDOW],
    keyframe_requested: bool,
    /// Identifies the structure in use: equal `template_id_offset`s mean
    /// identical structures (A.8.3), so a repeated structure is no new one.
    structure_key: Option<(u8, usize, usize)>,
}

impl Av1LayerSelector {
    /// A selector aiming at `target` (`None`: forward nothing).
    #[must_use]
    pub fn new(target: Option<DecodeTargetIndex>) -> Self {
        Self {
            desired: target,
            current: None,
            chain_last: [None; MAX_CHAINS],
            frames: [FrameEntry::default(); FRAME_LOG],
            forwarded: [None; FORWARDED_WINDOW],
            keyframe_requested: false,
            structure_key: None,
        }
    }

    /// Sets the decode target the subscriber wants (`None` pauses forwarding).
    pub fn set_target(&mut self, target: Option<DecodeTargetIndex>) {
        self.desired = target;
    }

    /// The decode target the subscriber wants.
    #[must_use]
    pub fn target(&self) -> Option<DecodeTargetIndex> {
        self.desired
    }

    /// The decode target being forwarded now (may lag [`Self::target`] until
    /// a switch point).
    #[must_use]
    pub fn current(&self) -> Option<DecodeTargetIndex> {
        self.current
    }

    /// True while the forwarded stream waits for a keyframe. The selector
    /// asks once ([`Av1Action::DropAndRequestKeyframe`]); a forwarder that
    /// wants to repeat a lost request on a timer polls this.
    #[must_use]
    pub fn needs_keyframe(&self) -> bool {
        self.keyframe_requested
    }

    /// True when the wanted target differs from the forwarded one: the switch
    /// waits for a safe frame (for a spatial up-switch usually a keyframe,
    /// which the forwarder may choose to request).
    #[must_use]
    pub fn switch_pending(&self) -> bool {
        self.desired != self.current
    }

    /// Decides what to do with one packet whose descriptor `parser` just
    /// parsed into `info`, using the parser's structure and active decode
    /// targets. Equivalent to [`Self::handle_packet`] with those.
    pub fn handle_parsed(&mut self, info: &Av1DdInfo, parser: &crate::Av1DdParser) -> Av1Action {
        match (parser.structure(), parser.active_decode_targets()) {
            (Some(structure), Some(active)) => self.handle_packet(info, structure, active),
            // A successful parse always leaves both set; a caller passing a
            // different parser gets the safe answer.
            _ => Av1Action::Drop(Av1DropReason::NoDecodeTarget),
        }
    }

    /// Decides what to do with one packet. `structure` and `active` are the
    /// parser's state after parsing this packet's descriptor.
    pub fn handle_packet(
        &mut self,
        info: &Av1DdInfo,
        structure: &TemplateStructure,
        active: DecodeTargetMask,
    ) -> Av1Action {
        if info.carries_structure {
            self.on_new_structure(structure);
        }
        let slot = usize::from(info.frame_number.0) % FRAME_LOG;
        if self.frames[slot].valid && self.frames[slot].frame == info.frame_number {
            let entry = &mut self.frames[slot];
            entry.seen_start |= info.start_of_frame;
            entry.seen_end |= info.end_of_frame;
            let action = match entry.reason {
                None => Av1Action::Forward,
                Some(reason) => Av1Action::Drop(reason),
            };
            self.credit_if_complete(slot);
            return action;
        }

        let action = self.decide_frame(info, structure, active);
        self.frames[slot] = FrameEntry {
            frame: info.frame_number,
            valid: true,
            reason: match action {
                Av1Action::Forward => None,
                Av1Action::Drop(r) => Some(r),
                Av1Action::DropAndRequestKeyframe => Some(Av1DropReason::AwaitingKeyframe),
            },
            seen_start: info.start_of_frame,
            seen_end: info.end_of_frame,
            credited: false,
            chain_credit: self.chain_credit(info, structure),
        };
        if action == Av1Action::Forward {
            self.forwarded[usize::from(info.frame_number.0) % FORWARDED_WINDOW] =
                Some(info.frame_number);
        }
        self.credit_if_complete(slot);
        action
    }

    fn on_new_structure(&mut self, structure: &TemplateStructure) {
        let key = (
            structure.template_id_offset(),
            structure.decode_target_count(),
            structure.templates().len(),
        );
        if self.structure_key == Some(key) {
            // The same structure repeated (e.g. on every packet of a keyframe).
            return;
        }
        self.structure_key = Some(key);
        // A new structure: chains restart at its keyframe, and decode target
        // indices may mean something else now.
        self.chain_last = [None; MAX_CHAINS];
        if self
            .current
            .is_some_and(|c| usize::from(c.0) >= structure.decode_target_count())
        {
            self.current = None;
        }
    }

    fn decide_frame(
        &mut self,
        info: &Av1DdInfo,
        structure: &TemplateStructure,
        active: DecodeTargetMask,
    ) -> Av1Action {
        let Some(want) = self.effective_target(structure, active) else {
            self.current = None;
            return Av1Action::Drop(Av1DropReason::NoDecodeTarget);
        };
        if self.current != Some(want)
            && info.start_of_frame
            && self.can_switch(info, structure, want)
        {
            self.current = Some(want);
        }
        let Some(cur) = self.current else {
            // Not started, and this frame is no entry point. Entry points are
            // Switch frames whose references the subscriber has, which for a
            // subscriber that has nothing yet means frames without references:
            // keyframes. Ask for one rather than wait for the next periodic one.
            return self.request_keyframe();
        };
        let dti = info.dtis.get(cur).unwrap_or(Dti::NotPresent);
        if !dti.is_present() {
            return Av1Action::Drop(Av1DropReason::NotInDecodeTarget);
        }
        if let Some(chain) = structure.chain_of(cur)
            && !self.chain_intact(info, chain)
        {
            return self.request_keyframe();
        }
        if !self.references_forwarded(info) {
            return match dti {
                Dti::Discardable => Av1Action::Drop(Av1DropReason::Undecodable),
                // A frame later frames depend on is undecodable: without a
                // chain to say so earlier, this is where the break shows.
                _ => self.request_keyframe(),
            };
        }
        self.keyframe_requested = false;
        Av1Action::Forward
    }

    fn request_keyframe(&mut self) -> Av1Action {
        if self.keyframe_requested {
            Av1Action::Drop(Av1DropReason::AwaitingKeyframe)
        } else {
            self.keyframe_requested = true;
            Av1Action::DropAndRequestKeyframe
        }
    }

    /// The desired target if active, else the best active one within its layers.
    fn effective_target(
        &self,
        structure: &TemplateStructure,
        active: DecodeTargetMask,
    ) -> Option<DecodeTargetIndex> {
        let desired = self.desired?;
        let (s, t) = structure.decode_target_layer(desired)?;
        if active.contains(desired) {
            return Some(desired);
        }
        structure.decode_target_for(s, t, active)
    }

    fn can_switch(
        &self,
        info: &Av1DdInfo,
        structure: &TemplateStructure,
        want: DecodeTargetIndex,
    ) -> bool {
        let chain_ok = structure
            .chain_of(want)
            .is_none_or(|c| self.chain_intact(info, c));
        if !chain_ok {
            return false;
        }
        let is_down = self.current.is_some_and(|cur| {
            match (
                structure.decode_target_layer(want),
                structure.decode_target_layer(cur),
            ) {
                (Some((ws, wt)), Some((cs, ct))) => ws <= cs && wt <= ct,
                _ => false,
            }
        });
        if is_down {
            return true;
        }
        info.dtis.get(want) == Some(Dti::Switch) && self.references_forwarded(info)
    }

    /// A.5/A.6: chain `chain` is intact at this frame when its previous chain
    /// frame (`frame_number - frame_chain_fdiff`) was received completely, or
    /// when the chain starts here (fdiff 0).
    fn chain_intact(&self, info: &Av1DdInfo, chain: usize) -> bool {
        match info.chain_diffs.as_slice().get(chain) {
            Some(0) => true,
            Some(&d) => self.chain_last[chain] == Some(info.frame_number.minus(u16::from(d))),
            None => false,
        }
    }

    /// Chains this frame belongs to (every decode target the chain protects
    /// has a Switch or Required indication) and that are intact at it.
    fn chain_credit(&self, info: &Av1DdInfo, structure: &TemplateStructure) -> u32 {
        let protected = structure.protected_by();
        let mut credit = 0u32;
        for chain in 0..structure.chain_count() {
            let mut member = false;
            let mut all_essential = true;
            for (dt, _) in protected
                .iter()
                .enumerate()
                .filter(|&(_, &c)| usize::from(c) == chain)
            {
                member = true;
                let dti = info
                    .dtis
                    .get(DecodeTargetIndex(dt as u8))
                    .unwrap_or(Dti::NotPresent);
                all_essential &= matches!(dti, Dti::Switch | Dti::Required);
            }
            if member && all_essential && self.chain_intact(info, chain) {
                credit |= 1 << chain;
            }
        }
        credit
    }

    fn credit_if_complete(&mut self, slot: usize) {
        let entry = &mut self.frames[slot];
        if entry.credited || !(entry.seen_start && entry.seen_end) {
            return;
        }
        entry.credited = true;
        for chain in 0..MAX_CHAINS {
            if entry.chain_credit & (1 << chain) != 0 {
                self.chain_last[chain] = Some(entry.frame);
            }
        }
    }

    /// A.1: every frame this one refers to was forwarded to the subscriber.
    fn references_forwarded(&self, info: &Av1DdInfo) -> bool {
        info.frame_diffs.as_slice().iter().all(|&d| {
            let referred = info.frame_number.minus(d);
            usize::from(d) < FORWARDED_WINDOW
                && self.forwarded[usize::from(referred.0) % FORWARDED_WINDOW] == Some(referred)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::structure::FrameTemplate;
    use crate::types::{ChainDiffs, DtiList, FrameDiffs, SpatialId, TemporalId};

    /// L1T1 with one chain: every frame refers to the previous one.
    fn l1t1() -> TemplateStructure {
        let t = |diffs: &[u16], chain: u8| FrameTemplate {
            spatial_id: SpatialId(0),
            temporal_id: TemporalId(0),
            dtis: DtiList::from_slice(&[Dti::Switch]).unwrap(),
            frame_diffs: FrameDiffs::from_slice(diffs).unwrap(),
            chain_diffs: ChainDiffs::from_slice(&[chain]).unwrap(),
        };
        TemplateStructure::new(0, 1, vec![t(&[], 0), t(&[1], 1)], 1, &[0], None).unwrap()
    }

    fn frame(s: &TemplateStructure, index: usize, number: u16) -> Av1DdInfo {
        let t = s.templates()[index];
        Av1DdInfo {
            start_of_frame: true,
            end_of_frame: true,
            template_id: s.template_id_of(index),
            frame_number: FrameNumber(number),
            spatial_id: t.spatial_id,
            temporal_id: t.temporal_id,
            dtis: t.dtis,
            frame_diffs: t.frame_diffs,
            chain_diffs: t.chain_diffs,
            active_decode_targets: None,
            carries_structure: index == 0,
            max_render_resolution: None,
        }
    }

    #[test]
    fn a_subscriber_joining_mid_stream_asks_once_for_a_keyframe() {
        let s = l1t1();
        let all = DecodeTargetMask::all(1);
        let mut sel = Av1LayerSelector::new(Some(DecodeTargetIndex(0)));
        assert_eq!(
            sel.handle_packet(&frame(&s, 1, 10), &s, all),
            Av1Action::DropAndRequestKeyframe
        );
        assert_eq!(
            sel.handle_packet(&frame(&s, 1, 11), &s, all),
            Av1Action::Drop(Av1DropReason::AwaitingKeyframe)
        );
        assert_eq!(
            sel.handle_packet(&frame(&s, 0, 12), &s, all),
            Av1Action::Forward
        );
        assert!(!sel.needs_keyframe());
        assert_eq!(
            sel.handle_packet(&frame(&s, 1, 13), &s, all),
            Av1Action::Forward
        );
    }

    #[test]
    fn every_packet_of_a_frame_gets_the_first_packets_verdict() {
        let s = l1t1();
        let all = DecodeTargetMask::all(1);
        let mut sel = Av1LayerSelector::new(Some(DecodeTargetIndex(0)));
        let mut head = frame(&s, 0, 1);
        head.end_of_frame = false;
        let mut tail = head;
        tail.start_of_frame = false;
        tail.end_of_frame = true;
        tail.carries_structure = false;
        assert_eq!(sel.handle_packet(&head, &s, all), Av1Action::Forward);
        assert_eq!(sel.handle_packet(&tail, &s, all), Av1Action::Forward);
        // The chain frame completed, so the next frame's chain is intact.
        assert_eq!(
            sel.handle_packet(&frame(&s, 1, 2), &s, all),
            Av1Action::Forward
        );
    }

    #[test]
    fn a_lost_chain_frame_breaks_the_chain_until_a_keyframe() {
        let s = l1t1();
        let all = DecodeTargetMask::all(1);
        let mut sel = Av1LayerSelector::new(Some(DecodeTargetIndex(0)));
        assert_eq!(
            sel.handle_packet(&frame(&s, 0, 1), &s, all),
            Av1Action::Forward
        );
        // Frame 2 lost entirely.
        assert_eq!(
            sel.handle_packet(&frame(&s, 1, 3), &s, all),
            Av1Action::DropAndRequestKeyframe
        );
        assert!(sel.needs_keyframe());
        assert_eq!(
            sel.handle_packet(&frame(&s, 1, 4), &s, all),
            Av1Action::Drop(Av1DropReason::AwaitingKeyframe)
        );
        assert_eq!(
            sel.handle_packet(&frame(&s, 0, 5), &s, all),
            Av1Action::Forward
        );
        assert_eq!(
            sel.handle_packet(&frame(&s, 1, 6), &s, all),
            Av1Action::Forward
        );
    }

    #[test]
    fn handle_parsed_uses_the_parsers_state_and_refuses_a_stateless_parser() {
        let s = l1t1();
        let key = frame(&s, 0, 1);
        let mut buf = [0u8; 64];
        let n = crate::write(&key, &s, &mut buf).unwrap();
        let mut parser = crate::Av1DdParser::new();
        let info = parser.parse(&buf[..n]).unwrap();
        let mut sel = Av1LayerSelector::new(Some(DecodeTargetIndex(0)));
        assert_eq!(
            sel.handle_parsed(&info, &crate::Av1DdParser::new()),
            Av1Action::Drop(Av1DropReason::NoDecodeTarget)
        );
        assert_eq!(sel.handle_parsed(&info, &parser), Av1Action::Forward);
    }

    #[test]
    fn no_target_forwards_nothing() {
        let s = l1t1();
        let mut sel = Av1LayerSelector::new(None);
        assert_eq!(
            sel.handle_packet(&frame(&s, 0, 1), &s, DecodeTargetMask::all(1)),
            Av1Action::Drop(Av1DropReason::NoDecodeTarget)
        );
    }
}
