//! Splitting the subscriber's budget over the tracks it receives, and telling str0m's
//! estimator what to probe for.

use std::time::{Duration, Instant};

use sfu_bwe::Bitrate;

use super::Client;
use crate::allocation::{Demand, KEEP_SLACK, UNMEASURED_LAYER, allocate};
use crate::layer_tracker::MAX_LAYERS;
use crate::propagate::{ClientOutput, LayerChangeReason};
use crate::track::OutState;

/// How long the budget must stay short of a track's lowest layer before it pauses.
const PAUSE_AFTER: Duration = Duration::from_secs(2);
/// How far padding may take the outgoing rate past our own estimate.
const PADDING_OVER_ESTIMATE: f64 = 1.25;

impl Client {
    /// After the estimate changed: when what the tracks were granted at the last allocation
    /// no longer fits it, even with the slack an allocation allows them, brings the next
    /// allocation forward to now. On a link that fell, every interval waited keeps a layer
    /// the link cannot carry while the queue and the loss grow. A rising estimate still
    /// waits for the interval.
    pub(super) fn allocate_soon_if_short(&mut self) {
        if let Some(estimate) = self.estimation.estimate()
            && estimate.scale(1.0 + KEEP_SLACK) < self.granted
        {
            self.next_allocation = self.next_allocation.min(self.last_now);
        }
    }

    /// Splits the budget (the lower of the estimate and the application's cap) over the
    /// open tracks: pauses what it cannot carry, resumes what it can again, and gives each
    /// video track the budget its layer selector decides with.
    pub(super) fn allocate(&mut self, now: Instant) {
        self.next_allocation = now + self.config.layer_evaluation_interval;
        let estimate = self.estimation.estimate();
        let (budget, reason) = match (estimate, self.cap) {
            (Some(e), Some(c)) if c < e => (Some(c), LayerChangeReason::ApplicationCap),
            (Some(e), _) => (Some(e), LayerChangeReason::Estimate),
            (None, c) => (c, LayerChangeReason::ApplicationCap),
        };
        self.budget_reason = reason;
        self.budget = budget;

        // Unsubscribed and muted tracks stay paused and ask for nothing.
        let open: Vec<usize> = (0..self.tracks_out.len())
            .filter(|&i| {
                let t = &self.tracks_out[i];
                t.subscribed && !t.muted && matches!(t.state, OutState::Open(_))
            })
            .collect();
        let mut rates = vec![[Bitrate::ZERO; MAX_LAYERS]; open.len()];
        let mut counts = vec![0; open.len()];
        for (k, &i) in open.iter().enumerate() {
            counts[k] = self.tracks_out[i].forwarder.rates(now, &mut rates[k]);
        }
        let mut grants = vec![None; open.len()];
        let mut probe = None;
        let mut granted = Bitrate::ZERO;
        if let Some(budget) = budget {
            let demands: Vec<Demand<'_>> = open
                .iter()
                .enumerate()
                .map(|(k, &i)| {
                    let t = &self.tracks_out[i];
                    Demand {
                        audio: !t.info.kind.is_video(),
                        priority: t.priority,
                        layers: &rates[k][..counts[k]],
                        previous: t.granted,
                    }
                })
                .collect();
            let (used, next_step) = allocate(budget, &demands, &mut grants);
            granted = used;
            let desired = demands
                .iter()
                .filter_map(|d| d.layers.last().map(|&r| r.max(UNMEASURED_LAYER)))
                .fold(Bitrate::ZERO, Bitrate::saturating_add);
            // str0m pads towards the minimum whenever no media is queued: in the room tests
            // about as much again as the media. With video flowing, that padding lifts the
            // estimate above what the subscriber receives (room for the next layer and for
            // a dip); with no video wanted (every track out of sight, muted or
            // unsubscribed) it would only double the audio's traffic. Nor is there then
            // anything to probe for (audio does not adapt), and str0m's periodic probes in
            // an application-limited stretch would pad at twice the desired rate every 5 s.
            let wants_video = demands.iter().any(|d| !d.audio && !d.layers.is_empty());
            probe = Some(if wants_video || next_step.is_some() {
                let minimum = used.saturating_add(next_step.unwrap_or(Bitrate::ZERO));
                (minimum, desired)
            } else {
                (Bitrate::ZERO, Bitrate::ZERO)
            });
        }

        for (k, &i) in open.iter().enumerate() {
            let layers = &rates[k][..counts[k]];
            let t = &mut self.tracks_out[i];
            if !t.info.kind.is_video() || (budget.is_some() && layers.is_empty()) {
                // Audio is never paused; a video track with nothing measured yet waits.
                continue;
            }
            let cost = |g: usize| layers[g].max(UNMEASURED_LAYER);
            // A short dip does not pause: the lowest layer goes on until the budget has
            // been short of it for PAUSE_AFTER.
            if budget.is_some() && grants[k].is_none() && !t.forwarder.is_paused() {
                let since = *t.short_since.get_or_insert(now);
                if now.saturating_duration_since(since) < PAUSE_AFTER {
                    grants[k] = Some(0);
                }
            } else {
                t.short_since = None;
            }
            let (paused, track_budget) = match (budget, grants[k]) {
                (None, _) => (false, None),
                (Some(_), None) => (true, None),
                // Half way to the next layer: the selector picks the granted one, and
                // measurement noise does not tip it over.
                (Some(_), Some(g)) if g + 1 < layers.len() => {
                    let (a, b) = (cost(g), cost(g + 1));
                    (
                        false,
                        Some(a.saturating_add(b.saturating_sub(a).scale(0.5))),
                    )
                }
                (Some(_), Some(_)) => (false, None),
            };
            t.granted = grants[k];
            if t.budget != track_budget {
                t.budget = track_budget;
                t.forwarder.reevaluate();
            }
            if t.forwarder.set_paused(paused) {
                let reason = if paused {
                    LayerChangeReason::Paused
                } else {
                    LayerChangeReason::Resumed
                };
                let change = t.pause_change(paused, reason, budget);
                self.queue.push_back(ClientOutput::LayerChanged(change));
            }
        }

        self.granted = granted;
        if let Some((mut minimum, desired)) = probe
            && self.estimation.kind().is_adaptive()
        {
            // str0m pads up to `minimum`, capped by its own estimate. When our estimator
            // sets the budget, padding runs at most a little past ours: enough that the
            // acknowledged rate can lift our estimate, not so much that it congests a link
            // our estimate already found (every loss would cut the estimate again).
            if self.estimation.kind().needs_raw_packets()
                && let Some(e) = estimate
            {
                minimum = minimum.min(e.scale(PADDING_OVER_ESTIMATE));
            }
            let rate = |b: Bitrate| str0m::bwe::Bitrate::bps(b.bps());
            self.rtc.bwe().set_bitrate(rate(minimum), rate(desired));
        }
    }
}
