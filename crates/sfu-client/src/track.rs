//! Per-track state: what a client publishes and what it receives from others.

use std::time::Instant;

use sfu_ids::{ClientId, SfuMid, SfuRid};

use crate::layer::LayerTracker;
use crate::propagate::TrackInfo;
use crate::rewrite::SeqTsRewriter;

/// A track this client publishes.
#[derive(Debug)]
pub(crate) struct TrackIn {
    pub(crate) info: TrackInfo,
    /// Keyframe request throttling per layer.
    pub(crate) requests: Vec<KeyframeThrottle>,
}

/// Throttle state of keyframe requests for one published layer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyframeThrottle {
    pub(crate) rid: Option<SfuRid>,
    pub(crate) last_sent: Instant,
    /// Set when a request is outstanding (no keyframe seen since).
    pub(crate) outstanding_since: Option<Instant>,
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
    /// Publisher gone; the m-line must be stopped in the next offer.
    ToStop(SfuMid),
    /// Stop offered, awaiting the answer.
    NegotiatingStop(SfuMid),
}

/// Which source layer an outgoing track currently carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Current {
    /// Nothing forwarded yet (or waiting for a keyframe after the track opened).
    Waiting { since: Option<Instant> },
    /// Forwarding this layer (`None`: the track is not simulcast).
    Layer(Option<SfuRid>),
}

/// A track this client receives from another client.
#[derive(Debug)]
pub(crate) struct TrackOut {
    pub(crate) info: TrackInfo,
    pub(crate) state: OutState,
    pub(crate) current: Current,
    /// Layer the selector wants (simulcast only).
    pub(crate) target: Option<SfuRid>,
    pub(crate) layers: LayerTracker,
    pub(crate) last_evaluation: Option<Instant>,
    /// When this track last asked its publisher for a keyframe.
    pub(crate) last_keyframe_request: Option<Instant>,
    pub(crate) rewriter: Option<SeqTsRewriter>,
    /// Publisher payload type → our payload type; `NO_PT` when unmapped. Filled when the
    /// track opens.
    pub(crate) pt_map: [u8; 128],
}

pub(crate) const NO_PT: u8 = u8::MAX;

impl TrackOut {
    pub(crate) fn new(info: TrackInfo) -> Self {
        Self {
            info,
            state: OutState::ToOpen,
            current: Current::Waiting { since: None },
            target: None,
            layers: LayerTracker::default(),
            last_evaluation: None,
            last_keyframe_request: None,
            rewriter: None,
            pt_map: [NO_PT; 128],
        }
    }

    pub(crate) fn source(&self) -> (ClientId, SfuMid) {
        (self.info.origin, self.info.mid)
    }
}
