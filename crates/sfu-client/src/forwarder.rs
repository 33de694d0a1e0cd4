//! What to do with each packet of one track towards one subscriber: the layer choice, the
//! switch at a keyframe, and the rewriting into one continuous stream.
//!
//! Pure: no str0m, no clock. The client feeds every packet of the publisher's track with the
//! subscriber's budget and acts on the [`Outcome`]: write the packet with the rewritten
//! header fields, count the drop, ask the publisher for a keyframe.
//!
//! The rules that keep a subscriber's video clean:
//! - Layers are ranked by what they are ([`LayerTracker`]), so the target never flips on
//!   momentary bytes.
//! - Going down takes effect at once; going up only after the higher choice held for
//!   [`ForwardConfig::upswitch_hold`] (the budget's own headroom rule is the allocator's,
//!   see [`allocation`](crate::allocation)).
//! - A paused track forwards nothing and restarts at a keyframe when resumed.
//! - A keyframe is requested only when the target really changed, and again once per
//!   interval while it has not come.
//! - When the forwarded layer stalls while others flow, the best flowing layer replaces it
//!   without waiting for any timeout.
//! - A source that restarts (sequence or timestamp jump) is rebased at its next keyframe.
//! - In a scalable (SVC) stream the [`SvcSelector`] picks the spatial and temporal layers
//!   the budget carries; what it drops is closed over in the sequence numbers.

use std::time::{Duration, Instant};

use sfu_bwe::Bitrate;
use sfu_ids::{FrameSize, SfuDependencyDescriptor, SfuRid, SfuSvcLayer};
use sfu_vfm::FrameMarkingInfo;
use str0m::rtp::{Vp8Descriptor, Vp8Patch};

use crate::layer::{LayerSelector, TrackHints};
use crate::layer_tracker::{LayerPacket, LayerTracker, MAX_LAYERS, PACKET_OVERHEAD, RateMeter};
use crate::rewrite::{RewriteError, SeqTsRewriter};
use crate::svc::{SvcLayers, SvcSelector, SvcVerdict};
use crate::vp8_rewrite::Vp8Rewriter;

/// Before the first layer is chosen, wait this long for every declared layer to show up,
/// so a subscriber does not start on whichever layer's packet happened to arrive first.
pub(crate) const INITIAL_SETTLE: Duration = Duration::from_millis(300);
/// A track without simulcast that sent nothing for this long takes no budget.
const SILENT_AFTER: Duration = Duration::from_millis(1500);

/// Timing of the forwarding decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ForwardConfig {
    pub(crate) evaluation_interval: Duration,
    pub(crate) upswitch_hold: Duration,
    pub(crate) keyframe_request_interval: Duration,
    pub(crate) keyframe_wait_limit: Duration,
}

/// One packet of the publisher's track.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Packet<'a> {
    pub(crate) rid: Option<SfuRid>,
    pub(crate) seq_no: u64,
    pub(crate) rtp_time: u32,
    pub(crate) marker: bool,
    pub(crate) keyframe: bool,
    pub(crate) frame_size: Option<FrameSize>,
    pub(crate) len: usize,
    pub(crate) vp8: Option<&'a Vp8Descriptor>,
    pub(crate) svc: Option<SfuSvcLayer>,
    pub(crate) dd: Option<&'a SfuDependencyDescriptor>,
    pub(crate) vfm: Option<&'a FrameMarkingInfo>,
}

/// Why a packet was not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// It belongs to a layer this subscriber does not receive.
    OtherLayer,
    /// The track waits for a keyframe (to start, to switch, or after a restart).
    WaitingKeyframe,
    /// A late packet from before the current layer started.
    Stale,
    /// The subscriber's budget does not carry this track now.
    Paused,
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Write it with these header fields.
    Forward {
        seq_no: u64,
        rtp_time: u32,
        marker: bool,
        vp8: Option<Vp8Patch>,
        /// It starts a new layer (or restarts the stream).
        switched: bool,
    },
    /// Drop it.
    Drop(DropReason),
}

/// The decision for one packet, plus whether to ask the publisher for a keyframe (on
/// which layer; `Some(None)` for a track without simulcast).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) verdict: Verdict,
    pub(crate) keyframe_request: Option<Option<SfuRid>>,
}

/// Which source layer the track currently carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Current {
    /// Nothing forwarded yet, or the source restarted: waiting for a keyframe since then.
    Waiting { since: Option<Instant> },
    /// Forwarding this layer (`None`: the track is not simulcast).
    Layer(Option<SfuRid>),
}

/// Where a forwarder's outgoing numbering stands (RTP sequence and timestamp, VP8 picture
/// fields): a forwarder that takes over an m-line carries on from it.
#[derive(Debug, Clone)]
pub(crate) struct Numbering {
    rewriter: SeqTsRewriter,
    vp8: Vp8Rewriter,
}

/// Why a forwarder's target layer changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetCause {
    /// The budget moved (or the target was first chosen).
    Budget,
    /// The target stopped arriving while other layers flowed.
    Stalled,
    /// The subscriber's hints changed which layers it may be sent.
    Hints,
}

/// Forwarding state of one track towards one subscriber.
#[derive(Debug)]
pub(crate) struct Forwarder {
    is_video: bool,
    current: Current,
    /// The layer the subscriber should receive (simulcast only).
    target: Option<SfuRid>,
    /// Since when a higher layer than the target would fit.
    up_since: Option<Instant>,
    first_seen: Option<Instant>,
    last_evaluation: Option<Instant>,
    last_keyframe_request: Option<Instant>,
    layers: LayerTracker,
    /// Every packet of the publisher's track, for tracks without simulcast.
    incoming: RateMeter,
    /// When the last packet of the track arrived.
    last_packet: Option<Instant>,
    paused: bool,
    /// Why the target last changed.
    cause: TargetCause,
    /// The hints changed and have not yet changed the target, nor been found to leave it
    /// as it is.
    hints_pending: bool,
    rewriter: SeqTsRewriter,
    vp8: Vp8Rewriter,
    /// Layer selection inside the stream, once its packets show it is scalable (tracks
    /// without simulcast only).
    svc: Option<SvcSelector>,
    /// What the subscriber needs of the track beyond its budget (simulcast only).
    hints: TrackHints,
}

impl Forwarder {
    /// A forwarder for a track whose publisher declared simulcast `rids` (lowest first;
    /// empty without simulcast) and whose RTP clock runs at `clock_rate`.
    pub(crate) fn new(is_video: bool, rids: &[SfuRid], clock_rate: u32) -> Self {
        Self {
            is_video,
            current: Current::Waiting { since: None },
            target: None,
            up_since: None,
            first_seen: None,
            last_evaluation: None,
            last_keyframe_request: None,
            layers: LayerTracker::new(rids),
            incoming: RateMeter::new(),
            last_packet: None,
            paused: false,
            cause: TargetCause::Budget,
            hints_pending: false,
            rewriter: SeqTsRewriter::new(clock_rate),
            vp8: Vp8Rewriter::default(),
            svc: None,
            hints: TrackHints::default(),
        }
    }

    /// The simulcast layers (of `declared`) the subscriber may be sent, into `out`; returns
    /// how many. Without hints: every declared one. With hints: the seen layers they allow
    /// (every declared one while none has been seen).
    pub(crate) fn wanted_layers(
        &self,
        declared: &[SfuRid],
        out: &mut [Option<SfuRid>; MAX_LAYERS],
    ) -> usize {
        let all = |out: &mut [Option<SfuRid>; MAX_LAYERS]| {
            for (o, r) in out.iter_mut().zip(declared) {
                *o = Some(*r);
            }
            declared.len().min(MAX_LAYERS)
        };
        if self.hints == TrackHints::default() {
            return all(out);
        }
        let Some((layers, n)) = self.layers.seen_ranked() else {
            return all(out);
        };
        let n = self.hints.allowed(&layers[..n]);
        for (o, l) in out.iter_mut().zip(&layers[..n]) {
            *o = Some(l.rid);
        }
        n
    }

    /// Sets what the subscriber needs of the track; takes effect at the next evaluation,
    /// which is made due.
    pub(crate) fn set_hints(&mut self, hints: TrackHints) {
        if self.hints != hints {
            self.hints = hints;
            self.hints_pending = true;
        }
        self.last_evaluation = None;
    }

    /// Where this forwarder's numbering stopped.
    pub(crate) fn numbering(&self) -> Numbering {
        Numbering {
            rewriter: self.rewriter.clone(),
            vp8: self.vp8.clone(),
        }
    }

    /// Carries on from `numbering` (another forwarder's, on the same m-line): the first
    /// packet forwarded follows the last one forwarded there.
    pub(crate) fn continue_numbering(&mut self, numbering: Numbering) {
        self.rewriter.carry_on(&numbering.rewriter);
        self.vp8 = numbering.vp8;
    }

    /// The layer being forwarded, once one is.
    pub(crate) fn current_layer(&self) -> Option<Option<SfuRid>> {
        match self.current {
            Current::Layer(rid) => Some(rid),
            Current::Waiting { .. } => None,
        }
    }

    /// The SVC layers being forwarded, for a scalable stream.
    pub(crate) fn svc_layers(&self) -> Option<SvcLayers> {
        match self.current {
            Current::Layer(None) => self.svc.as_ref().map(SvcSelector::current),
            _ => None,
        }
    }

    /// The layer to ask a keyframe for on the subscriber's behalf.
    pub(crate) fn keyframe_layer(&self) -> Option<SfuRid> {
        match self.current {
            Current::Layer(rid) => rid,
            Current::Waiting { .. } => self.target,
        }
    }

    /// The budget changed: decide again at the next packet.
    pub(crate) fn reevaluate(&mut self) {
        self.last_evaluation = None;
    }

    /// Pauses or resumes the track; `true` when that changed anything. A resumed track
    /// starts again at a keyframe.
    pub(crate) fn set_paused(&mut self, paused: bool) -> bool {
        if self.paused == paused {
            return false;
        }
        self.paused = paused;
        self.current = Current::Waiting { since: None };
        self.last_evaluation = None;
        self.last_keyframe_request = None;
        true
    }

    /// `true` while paused.
    pub(crate) fn is_paused(&self) -> bool {
        self.paused
    }

    /// Why the target last changed.
    pub(crate) fn cause(&self) -> TargetCause {
        self.cause
    }

    /// The rates of the track's flowing layers, lowest quality first (for a track without
    /// simulcast: its one stream), into `out`; returns how many.
    pub(crate) fn rates(&self, now: Instant, out: &mut [Bitrate; MAX_LAYERS]) -> usize {
        if let Some(svc) = &self.svc {
            return svc.rates(now, out);
        }
        match self.layers.flowing_ranked(now) {
            Some((layers, n)) => {
                let n = self.hints.allowed(&layers[..n]);
                for (o, l) in out.iter_mut().zip(&layers[..n]) {
                    *o = l.bitrate;
                }
                n
            }
            // A track that sends nothing (a muted camera, a publisher gone quiet) asks
            // for nothing.
            None if self.layers.is_empty()
                && self
                    .last_packet
                    .is_some_and(|t| now.saturating_duration_since(t) <= SILENT_AFTER) =>
            {
                out[0] = self.incoming.rate();
                1
            }
            None => 0,
        }
    }

    /// The track was (re)negotiated and starts from a keyframe at `now`.
    pub(crate) fn restart(&mut self, now: Instant) -> Outcome {
        self.current = Current::Waiting { since: Some(now) };
        Outcome {
            verdict: Verdict::Drop(DropReason::WaitingKeyframe),
            keyframe_request: self.request_keyframe(self.target, now),
        }
    }

    /// Decides what to do with packet `p` at `now`, given the subscriber's `budget`.
    pub(crate) fn on_packet(
        &mut self,
        p: &Packet<'_>,
        budget: Option<Bitrate>,
        selector: &mut dyn LayerSelector,
        cfg: &ForwardConfig,
        now: Instant,
    ) -> Outcome {
        let mut keyframe_request = None;
        self.incoming.add(p.len + PACKET_OVERHEAD, now);
        self.last_packet = Some(now);
        if let Some(rid) = p.rid {
            self.layers.record(
                &LayerPacket {
                    rid,
                    rtp_time: p.rtp_time,
                    len: p.len,
                    keyframe: p.keyframe,
                    size: p.frame_size,
                },
                now,
            );
            if !self.paused && self.evaluate(budget, selector, cfg, now) {
                keyframe_request = self.request_keyframe(self.target, now);
            }
        } else if let Some(l) = p.svc {
            let svc = self.svc.get_or_insert_with(SvcSelector::default);
            svc.record(&l, p.rtp_time, p.keyframe, p.len, now);
            if !self.paused {
                let due = self
                    .last_evaluation
                    .is_none_or(|at| now.saturating_duration_since(at) >= cfg.evaluation_interval);
                if due {
                    self.last_evaluation = Some(now);
                    if svc.evaluate(budget, cfg.upswitch_hold, now) {
                        keyframe_request = self.request_keyframe(None, now);
                    }
                } else if svc.wants_spatial_up() && self.current == Current::Layer(None) {
                    self.rerequest_if_due(None, cfg, now, &mut keyframe_request);
                }
            }
        }
        if self.paused {
            return Outcome {
                verdict: Verdict::Drop(DropReason::Paused),
                keyframe_request: None,
            };
        }
        let verdict = self.decide(p, cfg, now, &mut keyframe_request);
        Outcome {
            verdict,
            keyframe_request,
        }
    }

    fn decide(
        &mut self,
        p: &Packet<'_>,
        cfg: &ForwardConfig,
        now: Instant,
        keyframe_request: &mut Option<Option<SfuRid>>,
    ) -> Verdict {
        let wanted = p.rid.is_none() || p.rid == self.target;
        let on_current = self.current == Current::Layer(p.rid);
        if !on_current && !wanted {
            return Verdict::Drop(DropReason::OtherLayer);
        }
        if !on_current {
            let waited_out = match &mut self.current {
                Current::Waiting { since } => {
                    let since = *since.get_or_insert(now);
                    p.rid.is_none()
                        && now.saturating_duration_since(since) >= cfg.keyframe_wait_limit
                }
                Current::Layer(_) => false,
            };
            if self.is_video && !p.keyframe && !waited_out {
                self.rerequest_if_due(p.rid, cfg, now, keyframe_request);
                return Verdict::Drop(match self.current {
                    Current::Waiting { .. } => DropReason::WaitingKeyframe,
                    Current::Layer(_) => DropReason::OtherLayer,
                });
            }
            return self.switch(p, now);
        }
        let marker = match self.filter(p) {
            SvcVerdict::Forward { marker } => marker,
            SvcVerdict::Drop => {
                self.rewriter.skip(p.seq_no);
                return Verdict::Drop(DropReason::OtherLayer);
            }
            SvcVerdict::DropAndRequestKeyframe => {
                self.rewriter.skip(p.seq_no);
                self.rerequest_if_due(None, cfg, now, keyframe_request);
                return Verdict::Drop(DropReason::WaitingKeyframe);
            }
        };
        match self.rewriter.rewrite(p.seq_no, p.rtp_time, now) {
            Ok(out) => Verdict::Forward {
                seq_no: out.seq_no,
                rtp_time: out.rtp_time,
                marker,
                vp8: p.vp8.and_then(|d| self.vp8.patch(d, out.newest)),
                switched: false,
            },
            Err(RewriteError::Stale) => Verdict::Drop(DropReason::Stale),
            Err(RewriteError::Discontinuity | RewriteError::NotStarted) => {
                if self.is_video && !p.keyframe {
                    self.current = Current::Waiting { since: Some(now) };
                    *keyframe_request = self.request_keyframe(p.rid, now);
                    return Verdict::Drop(DropReason::WaitingKeyframe);
                }
                self.switch(p, now)
            }
        }
    }

    /// The SVC decision for a packet of the current stream (everything passes in a stream
    /// that is not scalable).
    fn filter(&mut self, p: &Packet<'_>) -> SvcVerdict {
        match (&mut self.svc, p.svc) {
            (Some(svc), Some(l)) if p.rid.is_none() => {
                svc.filter(&l, p.dd, p.vfm, p.rtp_time, p.marker, p.keyframe)
            }
            _ => SvcVerdict::Forward { marker: p.marker },
        }
    }

    /// Starts forwarding `p`'s layer at `p`.
    fn switch(&mut self, p: &Packet<'_>, now: Instant) -> Verdict {
        if let Some(svc) = &mut self.svc {
            svc.restart();
        }
        let SvcVerdict::Forward { marker } = self.filter(p) else {
            return Verdict::Drop(DropReason::WaitingKeyframe);
        };
        self.current = Current::Layer(p.rid);
        let out = self.rewriter.switch(p.seq_no, p.rtp_time, now);
        let vp8 = p.vp8.and_then(|d| {
            self.vp8.switch(d);
            self.vp8.patch(d, out.newest)
        });
        Verdict::Forward {
            seq_no: out.seq_no,
            rtp_time: out.rtp_time,
            marker,
            vp8,
            switched: true,
        }
    }

    /// Re-decides the target when due; `true` when it changed to a layer not yet forwarded.
    fn evaluate(
        &mut self,
        budget: Option<Bitrate>,
        selector: &mut dyn LayerSelector,
        cfg: &ForwardConfig,
        now: Instant,
    ) -> bool {
        let first_seen = *self.first_seen.get_or_insert(now);
        let target_flowing = self.target.is_some_and(|t| self.layers.is_flowing(t, now));
        let due = self
            .last_evaluation
            .is_none_or(|at| now.saturating_duration_since(at) >= cfg.evaluation_interval);
        if !due && target_flowing {
            return false;
        }
        let starting = self.target.is_none();
        if starting
            && !self.layers.all_declared_seen()
            && now.saturating_duration_since(first_seen) < INITIAL_SETTLE
        {
            return false;
        }
        self.last_evaluation = Some(now);

        let Some((buf, n)) = self.layers.flowing_ranked(now) else {
            return false;
        };
        let layers = &buf[..self.hints.allowed(&buf[..n])];
        let rank = |rid: Option<SfuRid>| rid.and_then(|r| layers.iter().position(|l| l.rid == r));
        let choice = selector.select(layers, budget);
        let next = match rank(self.target).filter(|_| target_flowing) {
            // Nothing chosen yet, or the target stalled: the best that fits now.
            None => choice,
            Some(at) if rank(choice).is_some_and(|d| d < at) => choice,
            Some(at) => {
                let up = choice;
                if rank(up).is_some_and(|u| u > at) {
                    let since = *self.up_since.get_or_insert(now);
                    if now.saturating_duration_since(since) >= cfg.upswitch_hold {
                        up
                    } else {
                        self.target
                    }
                } else {
                    self.up_since = None;
                    self.target
                }
            }
        };
        if next == self.target {
            // A hint change that left the target as it is, with no step up waiting on
            // the hold, is spent.
            if self.up_since.is_none() {
                self.hints_pending = false;
            }
            return false;
        }
        self.up_since = None;
        self.cause = if self.target.is_some() && !target_flowing {
            TargetCause::Stalled
        } else if self.hints_pending {
            TargetCause::Hints
        } else {
            TargetCause::Budget
        };
        self.hints_pending = false;
        self.target = next;
        next.is_some() && self.current != Current::Layer(next)
    }

    fn rerequest_if_due(
        &mut self,
        rid: Option<SfuRid>,
        cfg: &ForwardConfig,
        now: Instant,
        keyframe_request: &mut Option<Option<SfuRid>>,
    ) {
        let due = self
            .last_keyframe_request
            .is_none_or(|at| now.saturating_duration_since(at) >= cfg.keyframe_request_interval);
        if due && keyframe_request.is_none() {
            *keyframe_request = self.request_keyframe(rid, now);
        }
    }

    fn request_keyframe(&mut self, rid: Option<SfuRid>, now: Instant) -> Option<Option<SfuRid>> {
        if !self.is_video {
            return None;
        }
        self.last_keyframe_request = Some(now);
        Some(rid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::BestFitSelector;

    const CFG: ForwardConfig = ForwardConfig {
        evaluation_interval: Duration::from_millis(500),
        upswitch_hold: Duration::from_secs(3),
        keyframe_request_interval: Duration::from_millis(500),
        keyframe_wait_limit: Duration::from_secs(1),
    };

    fn rid(s: &str) -> SfuRid {
        s.parse().unwrap()
    }

    fn packet(rid: Option<SfuRid>, seq_no: u64, rtp_time: u32, keyframe: bool) -> Packet<'static> {
        Packet {
            rid,
            seq_no,
            rtp_time,
            marker: true,
            keyframe,
            frame_size: None,
            len: 1000,
            vp8: None,
            svc: None,
            dd: None,
            vfm: None,
        }
    }

    #[test]
    fn a_restarted_source_waits_for_a_keyframe_and_continues_the_sequence() {
        let mut f = Forwarder::new(true, &[], 90_000);
        let t0 = Instant::now();
        let mut sel = BestFitSelector;
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let out = f.on_packet(&packet(None, 1000, 0, true), None, &mut sel, &CFG, at(0));
        assert!(matches!(out.verdict, Verdict::Forward { seq_no: 1, .. }));
        f.on_packet(
            &packet(None, 1001, 3000, false),
            None,
            &mut sel,
            &CFG,
            at(33),
        );
        // The publisher restarts: sequence numbers from 7, a new timestamp base.
        let out = f.on_packet(&packet(None, 7, 555, false), None, &mut sel, &CFG, at(66));
        assert_eq!(out.verdict, Verdict::Drop(DropReason::WaitingKeyframe));
        assert_eq!(out.keyframe_request, Some(None));
        let out = f.on_packet(&packet(None, 8, 3555, true), None, &mut sel, &CFG, at(100));
        assert!(
            matches!(
                out.verdict,
                Verdict::Forward {
                    seq_no: 3,
                    switched: true,
                    ..
                }
            ),
            "{out:?}"
        );
        let out = f.on_packet(&packet(None, 9, 6555, false), None, &mut sel, &CFG, at(133));
        assert!(matches!(out.verdict, Verdict::Forward { seq_no: 4, .. }));
    }

    /// Feeds one frame per layer every 40 ms from `from_ms` for `ms` (a keyframe every
    /// 400 ms); returns the layers of the forwarded packets and the keyframe requests.
    fn run(
        f: &mut Forwarder,
        t0: Instant,
        from_ms: u64,
        ms: u64,
        budget: Option<Bitrate>,
        seq: &mut u64,
    ) -> (Vec<SfuRid>, usize) {
        let mut sel = BestFitSelector;
        let mut forwarded = Vec::new();
        let mut requests = 0;
        for step in 0..ms / 40 {
            let ms = from_ms + step * 40;
            let key = (ms / 40).is_multiple_of(10);
            *seq += 1;
            // Layer q is 100 kbit/s (500 bytes per 40 ms), f 400 kbit/s.
            for (r, len) in [("q", 500), ("f", 2000)] {
                let p = Packet {
                    len,
                    ..packet(Some(rid(r)), *seq, (ms * 90) as u32, key)
                };
                let out = f.on_packet(&p, budget, &mut sel, &CFG, t0 + Duration::from_millis(ms));
                if let Verdict::Forward { .. } = out.verdict {
                    forwarded.push(rid(r));
                }
                requests += usize::from(out.keyframe_request.is_some());
            }
        }
        (forwarded, requests)
    }

    #[test]
    fn an_svc_stream_drops_layers_over_budget_with_gapless_numbers_and_a_moved_marker() {
        let mut f = Forwarder::new(true, &[], 90_000);
        let t0 = Instant::now();
        let mut sel = BestFitSelector;
        let mut seq = 0;
        // (outgoing seq, marker, spatial) of each forwarded packet.
        let mut out = Vec::new();
        // One L3T3 picture every 50 ms for 4 s: three spatial layers of two packets each,
        // S0 100 bytes a packet, S1 400, S2 1600; a keyframe picture first and at 3 s.
        let mut requests = 0;
        for i in 0..80u64 {
            let now = t0 + Duration::from_millis(i * 50);
            // From 2 s on, the budget carries the base layer only.
            let budget = (i >= 40).then(|| Bitrate::from_kbps(60));
            for s in 0..3u8 {
                for half in 0..2 {
                    seq += 1;
                    let key = (i == 0 || i == 60) && s == 0 && half == 0;
                    let p = Packet {
                        len: 100 << (2 * s),
                        marker: s == 2 && half == 1,
                        svc: Some(SfuSvcLayer {
                            spatial: s,
                            temporal: [0, 2, 1, 2][i as usize % 4],
                            frame_start: half == 0,
                            frame_end: half == 1,
                            temporal_switch: true,
                        }),
                        ..packet(None, seq, (i * 4500) as u32, key)
                    };
                    let o = f.on_packet(&p, budget, &mut sel, &CFG, now);
                    requests += usize::from(o.keyframe_request.is_some());
                    if let Verdict::Forward { seq_no, marker, .. } = o.verdict {
                        out.push((seq_no, marker, s, i));
                    }
                }
            }
        }
        let numbers: Vec<u64> = out.iter().map(|o| o.0).collect();
        assert_eq!(numbers, (1..=numbers.len() as u64).collect::<Vec<_>>());
        let before: Vec<_> = out.iter().filter(|o| o.3 < 40).collect();
        assert!(before.iter().any(|o| o.2 == 2));
        assert!(
            before.iter().filter(|o| o.1).all(|o| o.2 == 2),
            "{:?}",
            before
                .iter()
                .filter(|o| o.1 && o.2 != 2)
                .collect::<Vec<_>>()
        );
        // Once down, only the base spatial layer, its layer frames ending pictures.
        let after: Vec<_> = out.iter().filter(|o| o.3 >= 41).collect();
        assert!(
            !after.is_empty() && after.iter().all(|o| o.2 == 0),
            "{after:?}"
        );
        assert!(after.iter().filter(|o| o.1).count() * 2 == after.len());
        assert_eq!(requests, 0, "it started at a keyframe and never went up");
    }

    #[test]
    fn going_down_is_immediate_going_up_waits_for_the_hold() {
        let mut f = Forwarder::new(true, &[rid("q"), rid("f")], 90_000);
        let t0 = Instant::now();
        let mut seq = 0;
        let (fwd, _) = run(&mut f, t0, 0, 2000, None, &mut seq);
        assert_eq!(fwd.last(), Some(&rid("f")));
        // The budget falls below f: q from the next evaluation and keyframe on.
        let low = Some(Bitrate::from_kbps(200));
        let (fwd, _) = run(&mut f, t0, 2000, 1000, low, &mut seq);
        assert_eq!(fwd.last(), Some(&rid("q")));
        // The budget comes back: still q for the hold, then f.
        let (fwd, _) = run(&mut f, t0, 3000, 2800, None, &mut seq);
        assert!(
            fwd.iter().all(|r| *r == rid("q")),
            "went up before the hold"
        );
        let (fwd, _) = run(&mut f, t0, 5800, 1600, None, &mut seq);
        assert_eq!(fwd.last(), Some(&rid("f")));
    }

    #[test]
    fn a_switch_names_its_cause_the_budget_or_the_hints() {
        let mut f = Forwarder::new(true, &[rid("q"), rid("f")], 90_000);
        let t0 = Instant::now();
        let mut seq = 0;
        run(&mut f, t0, 0, 2000, None, &mut seq);
        let low = Some(Bitrate::from_kbps(200));
        let (fwd, _) = run(&mut f, t0, 2000, 1000, low, &mut seq);
        assert_eq!(fwd.last(), Some(&rid("q")));
        assert_eq!(f.cause(), TargetCause::Budget);
        // Back on f after the hold, then a hint of the lowest layer takes it down.
        run(&mut f, t0, 3000, 4400, None, &mut seq);
        f.set_hints(TrackHints::default().with_max_layer(Some(0)));
        let (fwd, _) = run(&mut f, t0, 7400, 1000, None, &mut seq);
        assert_eq!(fwd.last(), Some(&rid("q")));
        assert_eq!(f.cause(), TargetCause::Hints);
        // The same hints again change nothing; a later budget drop is the budget's.
        f.set_hints(TrackHints::default().with_max_layer(Some(0)));
        f.set_hints(TrackHints::default());
        run(&mut f, t0, 8400, 4000, None, &mut seq);
        assert_eq!(f.cause(), TargetCause::Hints, "lifting the hint took it up");
        run(&mut f, t0, 12_400, 1000, low, &mut seq);
        assert_eq!(f.cause(), TargetCause::Budget);
    }
}
