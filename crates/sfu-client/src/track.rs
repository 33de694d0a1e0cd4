//! Per-track state: what a client publishes and what it receives from others.

use std::time::Instant;

use sfu_bwe::Bitrate;
use sfu_ids::{ClientId, KeyEpoch, SfuMediaKind, SfuMid, SfuRid};

use crate::allocation::TrackPriority;
use crate::dependency_descriptor::DdIngest;
use crate::forwarder::{Forwarder, Numbering};
use crate::keyframe_throttle::KeyframeThrottle;
use crate::propagate::{LayerChange, LayerChangeReason, TrackInfo};

/// A track this client publishes.
#[derive(Debug)]
pub(crate) struct TrackIn {
    pub(crate) info: TrackInfo,
    /// Keyframe request throttling per layer.
    pub(crate) requests: Vec<KeyframeThrottle>,
    /// Dependency Descriptor parsing per layer, for layers that carry one.
    pub(crate) descriptors: Vec<(Option<SfuRid>, DdIngest)>,
    /// The newest SFrame key epoch seen on the track (encrypted publishers).
    pub(crate) epoch: Option<KeyEpoch>,
}

/// Negotiation state of a track this client receives from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutState {
    /// Needs an m-line in the next offer.
    ToOpen,
    /// In an offer awaiting the answer.
    Negotiating(SfuMid),
    /// Negotiated; media flows.
    Open(SfuMid),
    /// Publisher gone; the m-line goes inactive in the next offer.
    ToStop(SfuMid),
    /// Inactive offered, awaiting the answer; then the m-line is free for the next track
    /// of its kind.
    NegotiatingStop(SfuMid),
}

/// An m-line free for the next track of its kind: an inactive one whose track ended, so
/// the peer's m-lines number what it receives at once, not what it ever received; or a
/// receiving m-line of the peer's own offer ([`ReceiveMode::OfferedSlots`]).
///
/// [`ReceiveMode::OfferedSlots`]: crate::ReceiveMode::OfferedSlots
#[derive(Debug)]
pub(crate) struct FreeSlot {
    pub(crate) mid: SfuMid,
    pub(crate) kind: SfuMediaKind,
    /// Where the m-line's numbering stopped, once a track used it: the next track carries
    /// on from there, so the peer sees one RTP stream on that m-line.
    pub(crate) numbering: Option<Numbering>,
}

/// A track this client receives from another client.
#[derive(Debug)]
pub(crate) struct TrackOut {
    pub(crate) info: TrackInfo,
    pub(crate) state: OutState,
    pub(crate) forwarder: Forwarder,
    pub(crate) priority: TrackPriority,
    /// The layer index the last allocation granted (`None`: paused, or not allocated).
    pub(crate) granted: Option<usize>,
    /// The budget the layer selector sees for this track (`None`: unlimited).
    pub(crate) budget: Option<Bitrate>,
    /// Since when the budget has been short of the track's lowest layer.
    pub(crate) short_since: Option<Instant>,
    /// The application wants the subscriber to receive this track (the default).
    pub(crate) subscribed: bool,
    /// The publisher muted the track.
    pub(crate) muted: bool,
    /// Publisher payload type → our payload type; `NO_PT` when unmapped. Filled when the
    /// track opens.
    pub(crate) pt_map: [u8; 128],
    /// Its m-line was a [`FreeSlot`] made active again by the outstanding offer.
    pub(crate) reused: bool,
    /// A simulcast track a relay receives: every layer goes across as it came, on a
    /// simulcast m-line of its own, for the far node's subscribers to choose from.
    pub(crate) passthrough: bool,
    /// The layers (bits by index into `info.rids`) a passthrough track sends: what the
    /// far node's subscribers need.
    pub(crate) sent_layers: u32,
}

pub(crate) const NO_PT: u8 = u8::MAX;

impl TrackOut {
    pub(crate) fn new(info: TrackInfo) -> Self {
        let is_video = info.kind == SfuMediaKind::Video;
        // Every video codec runs a 90 kHz RTP clock; audio takes its first codec's.
        let clock_rate = info
            .codecs
            .iter()
            .find(|p| p.spec().codec.is_video() == is_video)
            .map_or(90_000, |p| p.spec().clock_rate.get());
        let mut forwarder = Forwarder::new(is_video, &info.rids, clock_rate);
        // A track muted before this subscriber came forwards nothing until unmuted.
        forwarder.set_paused(info.muted);
        Self {
            forwarder,
            muted: info.muted,
            info,
            priority: TrackPriority::Normal,
            granted: None,
            budget: None,
            short_since: None,
            subscribed: true,
            state: OutState::ToOpen,
            pt_map: [NO_PT; 128],
            reused: false,
            passthrough: false,
            sent_layers: u32::MAX,
        }
    }

    /// The track as a relay receives it: a simulcast track's layers all go across.
    pub(crate) fn for_relay(info: TrackInfo) -> Self {
        let mut t = Self::new(info);
        t.passthrough = t.info.rids.len() > 1;
        t
    }

    /// The report that this track was paused or resumed for `reason`, under `budget`.
    pub(crate) fn pause_change(
        &self,
        paused: bool,
        reason: LayerChangeReason,
        budget: Option<Bitrate>,
    ) -> LayerChange {
        LayerChange {
            publisher: self.info.origin,
            mid: self.info.mid,
            layer: None,
            svc: None,
            paused,
            reason,
            budget,
        }
    }

    pub(crate) fn source(&self) -> (ClientId, SfuMid) {
        (self.info.origin, self.info.mid)
    }
}
