//! Keyframe requests: from subscribers to the publisher of a track they receive, and to
//! our own peer when it is the publisher.

use std::time::Instant;

use sfu_ids::{SfuKeyframeKind, SfuKeyframeRequest, SfuRid};

use super::Client;
use crate::keyframe_throttle::KeyframeThrottle;
use crate::propagate::{ClientOutput, Propagated};
use crate::track::OutState;

impl Client {
    /// The peer (as a subscriber) asked for a keyframe on one of its incoming m-lines: ask
    /// the publisher, for the layer this peer receives.
    pub(super) fn on_keyframe_request_from_peer(&mut self, req: SfuKeyframeRequest) {
        let Some(i) = self
            .tracks_out
            .iter()
            .position(|t| t.state == OutState::Open(req.mid))
        else {
            return;
        };
        // A relay asks for the layer it names; a participant's forwarder knows its own.
        let rid = if self.tracks_out[i].passthrough {
            req.rid
        } else {
            self.tracks_out[i].forwarder.keyframe_layer()
        };
        self.request_keyframe_for(i, rid, req.kind);
    }

    /// Queues a keyframe request for layer `rid` to the publisher of outgoing track `i`.
    pub(super) fn request_keyframe_for(
        &mut self,
        i: usize,
        rid: Option<SfuRid>,
        kind: SfuKeyframeKind,
    ) {
        let t = &self.tracks_out[i];
        if !t.info.kind.is_video() {
            return;
        }
        self.stats.keyframe_requests += 1;
        self.queue
            .push_back(ClientOutput::Propagate(Propagated::KeyframeRequest {
                origin: t.info.origin,
                request: SfuKeyframeRequest {
                    mid: t.info.mid,
                    rid,
                    kind,
                },
            }));
    }

    /// We are the publisher: ask our peer for a keyframe, throttled per layer.
    pub(super) fn request_keyframe_from_peer(&mut self, req: SfuKeyframeRequest, now: Instant) {
        let Some(track) = self.tracks_in.iter_mut().find(|t| t.info.mid == req.mid) else {
            return;
        };
        let throttle = match track.requests.iter().position(|r| r.rid == req.rid) {
            Some(i) => &mut track.requests[i],
            None => {
                track.requests.push(KeyframeThrottle::new(req.rid));
                let last = track.requests.len() - 1;
                &mut track.requests[last]
            }
        };
        let Some(kind) = throttle.admit(
            req.kind,
            now,
            self.config.keyframe_request_interval,
            self.config.fir_after,
        ) else {
            return;
        };
        self.stats.keyframe_requests_to_peer += 1;
        let mut api = self.rtc.direct_api();
        if let Some(rx) = api.stream_rx_by_mid(req.mid.into(), req.rid.map(Into::into)) {
            rx.request_keyframe(kind.into());
        }
    }
}
