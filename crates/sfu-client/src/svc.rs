//! Which layers of one scalable (SVC) stream one subscriber receives.
//!
//! An SVC publisher sends one RTP stream whose packets belong to spatial layers (resolutions,
//! each built on the ones below in the same picture) and temporal layers (frame rates). A
//! subscriber receives an *operating point* `(spatial, temporal)`: every packet at or below
//! both. The choice follows the budget like simulcast does, with the same hysteresis (down
//! at once, up after the higher choice held), and takes effect only where the stream allows
//! it:
//! - Going down, at the start of the next picture, so no picture is cut in half.
//! - Going up in resolution, at a keyframe picture, where every spatial layer refers only to
//!   the layers below it; until one comes the client asks for a keyframe. (A higher layer
//!   frame could start mid-picture when it refers to no earlier picture, but the marker bit
//!   of that picture would already have gone out on the layer below.)
//! - Going up in frame rate, at a switching-up point of the base spatial layer.
//!
//! The RTP marker bit ends a picture; when the top spatial layers are dropped it moves to
//! the end of the highest layer forwarded.
//!
//! A stream that carries the AV1 Dependency Descriptor says more than layer ids: which
//! frames each decode target needs, where a target may start, and whether the chains that
//! protect it are intact. For such a stream the budget still chooses the operating point
//! here, and [`Av1LayerSelector`] decides each packet against the decode target that
//! matches it. A stream with Video Frame Marking (RFC 9626) is decided by
//! [`VfmLayerFilter`] against the point's temporal and layer ids. Pure: no str0m, no clock.

use std::time::{Duration, Instant};

use sfu_av1_dd::{Av1Action, Av1LayerSelector, SpatialId, TemporalId};
use sfu_bwe::Bitrate;
use sfu_ids::{SfuDependencyDescriptor, SfuSvcLayer};
use sfu_vfm::{FrameMarkingInfo, LayerId, VfmAction, VfmLayerFilter, VfmTarget};

use crate::forwarder::INITIAL_SETTLE;
use crate::layer_tracker::{MAX_LAYERS, PACKET_OVERHEAD, RateMeter};

/// Spatial and temporal layers tracked; ids at or above are counted as the top one.
const MAX_IDS: usize = 4;
/// A layer id silent this long is gone.
const LAYER_TIMEOUT: Duration = Duration::from_millis(1500);

/// An operating point of an SVC stream: every layer at or below both ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SvcLayers {
    /// Highest spatial layer received.
    pub spatial: u8,
    /// Highest temporal layer received.
    pub temporal: u8,
}

impl SvcLayers {
    fn admits(self, l: &SfuSvcLayer) -> bool {
        l.spatial <= self.spatial && l.temporal <= self.temporal
    }
}

/// The operating points a stream offers, lowest first: one per spatial layer at the full
/// frame rate, preceded (while there is room) by lower frame rates of the base layer, so a
/// single-spatial-layer stream still has steps.
#[derive(Debug, Clone, Copy)]
struct Points {
    points: [SvcLayers; MAX_LAYERS],
    len: usize,
}

impl Points {
    fn of(spatial_layers: u8, temporal_layers: u8) -> Self {
        let top_t = temporal_layers.saturating_sub(1);
        let mut points = [SvcLayers {
            spatial: 0,
            temporal: 0,
        }; MAX_LAYERS];
        let spatial = usize::from(spatial_layers.max(1)).min(MAX_LAYERS);
        let lower_rates = usize::from(top_t).min(MAX_LAYERS - spatial);
        let mut len = 0;
        for t in (0..lower_rates).rev() {
            points[len] = SvcLayers {
                spatial: 0,
                temporal: top_t - 1 - t as u8,
            };
            len += 1;
        }
        for s in 0..spatial {
            points[len] = SvcLayers {
                spatial: s as u8,
                temporal: top_t,
            };
            len += 1;
        }
        Self { points, len }
    }

    fn as_slice(&self) -> &[SvcLayers] {
        &self.points[..self.len]
    }

    fn position(&self, p: SvcLayers) -> Option<usize> {
        self.as_slice().iter().position(|&q| q == p)
    }
}

/// What to do with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SvcVerdict {
    /// Forward it with this marker bit.
    Forward { marker: bool },
    /// Drop it: a layer this subscriber does not receive.
    Drop,
    /// Drop it, and the stream cannot go on without a keyframe.
    DropAndRequestKeyframe,
}

/// Layer selection in one SVC stream towards one subscriber. Fixed size, no allocation.
#[derive(Debug, Clone)]
pub(crate) struct SvcSelector {
    rates: [[RateMeter; MAX_IDS]; MAX_IDS],
    spatial_seen: [Option<Instant>; MAX_IDS],
    temporal_seen: [Option<Instant>; MAX_IDS],
    /// RTP time of the latest keyframe: its packets are not measured.
    key_ts: Option<u32>,
    /// What the budget asks for (`None`: everything).
    target: Option<SvcLayers>,
    /// What is forwarded now.
    current: SvcLayers,
    /// RTP time of the picture being forwarded.
    picture_ts: Option<u32>,
    /// Since when a higher point than the target would fit.
    up_since: Option<Instant>,
    first_seen: Option<Instant>,
    /// The per-packet decisions, for a stream with Dependency Descriptors.
    av1: Option<Av1LayerSelector>,
    /// The per-packet decisions, for a stream with frame marking.
    vfm: Option<VfmLayerFilter>,
}

impl Default for SvcSelector {
    fn default() -> Self {
        Self {
            rates: [[RateMeter::new(); MAX_IDS]; MAX_IDS],
            spatial_seen: [None; MAX_IDS],
            temporal_seen: [None; MAX_IDS],
            key_ts: None,
            target: None,
            current: SvcLayers {
                spatial: 0,
                temporal: 0,
            },
            picture_ts: None,
            up_since: None,
            first_seen: None,
            av1: None,
            vfm: None,
        }
    }
}

fn id(v: u8) -> usize {
    usize::from(v).min(MAX_IDS - 1)
}

impl SvcSelector {
    /// Accounts a packet of `len` payload bytes at `now`.
    pub(crate) fn record(
        &mut self,
        l: &SfuSvcLayer,
        rtp_time: u32,
        keyframe: bool,
        len: usize,
        now: Instant,
    ) {
        let (s, t) = (id(l.spatial), id(l.temporal));
        self.first_seen.get_or_insert(now);
        self.spatial_seen[s] = Some(now);
        self.temporal_seen[t] = Some(now);
        if keyframe {
            self.key_ts = Some(rtp_time);
        }
        let meter = &mut self.rates[s][t];
        if self.key_ts == Some(rtp_time) {
            meter.tick(now);
        } else {
            meter.add(len + PACKET_OVERHEAD, now);
        }
    }

    /// The stream (re)starts at the next keyframe: from its base layer up.
    pub(crate) fn restart(&mut self) {
        self.current = SvcLayers {
            spatial: 0,
            temporal: 0,
        };
        self.picture_ts = None;
        self.av1 = None;
        self.vfm = None;
    }

    /// What is forwarded now.
    pub(crate) fn current(&self) -> SvcLayers {
        self.current
    }

    /// `true` while the target needs a spatial layer above what is forwarded: only a
    /// switching point (a keyframe) can bring it.
    pub(crate) fn wants_spatial_up(&self) -> bool {
        self.target
            .is_some_and(|t| t.spatial > self.current.spatial)
    }

    fn points(&self, now: Instant) -> Points {
        let present = |seen: &[Option<Instant>; MAX_IDS]| {
            seen.iter()
                .rposition(|t| t.is_some_and(|t| now.saturating_duration_since(t) <= LAYER_TIMEOUT))
                .map_or(0, |i| i as u8 + 1)
        };
        Points::of(present(&self.spatial_seen), present(&self.temporal_seen))
    }

    fn rate_of(&self, p: SvcLayers) -> Bitrate {
        self.rates[..=id(p.spatial)]
            .iter()
            .flat_map(|row| &row[..=id(p.temporal)])
            .fold(Bitrate::ZERO, |sum, m| sum.saturating_add(m.rate()))
    }

    /// The rates of the operating points, lowest first, into `out`; returns how many.
    pub(crate) fn rates(&self, now: Instant, out: &mut [Bitrate; MAX_LAYERS]) -> usize {
        let points = self.points(now);
        for (o, p) in out.iter_mut().zip(points.as_slice()) {
            *o = self.rate_of(*p);
        }
        points.len
    }

    /// Decides the target from `budget` (`None`: unlimited): the best point that fits, the
    /// lowest when none does; down at once, up once the higher choice held for `hold`.
    /// `true` when the target now needs a spatial layer not forwarded yet. Until the
    /// stream's layers had [`INITIAL_SETTLE`] to show up, everything is forwarded.
    pub(crate) fn evaluate(
        &mut self,
        budget: Option<Bitrate>,
        hold: Duration,
        now: Instant,
    ) -> bool {
        if self
            .first_seen
            .is_none_or(|t| now.saturating_duration_since(t) < INITIAL_SETTLE)
        {
            return false;
        }
        let points = self.points(now);
        let list = points.as_slice();
        let Some(&top) = list.last() else {
            return false;
        };
        let choice = match budget {
            None => top,
            Some(b) => list
                .iter()
                .rev()
                .copied()
                .find(|&p| self.rate_of(p) <= b)
                .unwrap_or(list[0]),
        };
        let at = self.target.and_then(|t| points.position(t));
        let next = match (at, points.position(choice)) {
            (Some(at), Some(c)) if c > at => {
                let since = *self.up_since.get_or_insert(now);
                if now.saturating_duration_since(since) >= hold {
                    choice
                } else {
                    return false;
                }
            }
            (Some(at), Some(c)) if c == at => {
                self.up_since = None;
                return false;
            }
            _ => choice,
        };
        self.up_since = None;
        let before = self.target.replace(next);
        before != Some(next) && next.spatial > self.current.spatial
    }

    /// Decides packet `l` (RTP time `rtp_time`, marker `marker`, `keyframe` when it starts
    /// a keyframe picture, `dd` its Dependency Descriptor if it has one).
    pub(crate) fn filter(
        &mut self,
        l: &SfuSvcLayer,
        dd: Option<&SfuDependencyDescriptor>,
        vfm: Option<&FrameMarkingInfo>,
        rtp_time: u32,
        marker: bool,
        keyframe: bool,
    ) -> SvcVerdict {
        if let Some(dd) = dd {
            return self.filter_described(dd, marker);
        }
        if let Some(m) = vfm {
            return self.filter_marked(m, marker);
        }
        let Some(target) = self.target else {
            // Everything passes until the first decision, which then starts from here.
            self.current.spatial = self.current.spatial.max(l.spatial);
            self.current.temporal = self.current.temporal.max(l.temporal);
            return SvcVerdict::Forward { marker };
        };
        if self.picture_ts != Some(rtp_time) && l.frame_start {
            self.picture_ts = Some(rtp_time);
            if keyframe {
                // Every layer may start at a keyframe picture: its upper spatial layers
                // refer only to the layers below them in the same picture.
                self.current = target;
            } else {
                self.current.spatial = self.current.spatial.min(target.spatial);
                self.current.temporal = self.current.temporal.min(target.temporal);
            }
        }
        if l.frame_start
            && l.spatial == 0
            && l.temporal > self.current.temporal
            && l.temporal <= target.temporal
            && l.temporal_switch
        {
            self.current.temporal = l.temporal;
        }
        if !self.current.admits(l) {
            return SvcVerdict::Drop;
        }
        SvcVerdict::Forward {
            marker: marker || (l.frame_end && l.spatial == self.current.spatial),
        }
    }

    fn filter_described(&mut self, dd: &SfuDependencyDescriptor, marker: bool) -> SvcVerdict {
        let (s, t) = self
            .target
            .map_or((u8::MAX, u8::MAX), |t| (t.spatial, t.temporal));
        let want = dd
            .structure
            .decode_target_for(SpatialId(s), TemporalId(t), dd.active);
        let av1 = self.av1.get_or_insert_with(|| Av1LayerSelector::new(None));
        av1.set_target(want);
        let action = av1.handle_packet(&dd.info, &dd.structure, dd.active);
        if let Some((s, t)) = av1
            .current()
            .and_then(|dt| dd.structure.decode_target_layer(dt))
        {
            self.current = SvcLayers {
                spatial: s.0,
                temporal: t.0,
            };
        }
        match action {
            Av1Action::Forward => SvcVerdict::Forward {
                marker: marker
                    || (dd.info.end_of_frame && dd.info.spatial_id.0 == self.current.spatial),
            },
            Av1Action::DropAndRequestKeyframe => SvcVerdict::DropAndRequestKeyframe,
            _ => SvcVerdict::Drop,
        }
    }

    fn filter_marked(&mut self, m: &FrameMarkingInfo, marker: bool) -> SvcVerdict {
        let want = self.target.map_or(VfmTarget::ALL, |t| VfmTarget {
            max_temporal_id: sfu_vfm::TemporalId(t.temporal),
            max_layer_id: LayerId(t.spatial),
            drop_discardable: false,
        });
        let filter = self.vfm.get_or_insert_with(|| VfmLayerFilter::new(want));
        filter.set_target(want);
        match filter.handle_packet(m) {
            VfmAction::Forward => {
                let (s, t) = (m.layer_id().0, m.temporal_id.0);
                self.current.spatial = self.current.spatial.max(s).min(want.max_layer_id.0);
                self.current.temporal = self.current.temporal.max(t).min(want.max_temporal_id.0);
                SvcVerdict::Forward {
                    marker: marker || (m.end_of_frame && s == self.current.spatial),
                }
            }
            VfmAction::DropAndRequestKeyframe => SvcVerdict::DropAndRequestKeyframe,
            VfmAction::Drop(_) => SvcVerdict::Drop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(s: u8, t: u8) -> Vec<(u8, u8)> {
        Points::of(s, t)
            .as_slice()
            .iter()
            .map(|p| (p.spatial, p.temporal))
            .collect()
    }

    #[test]
    fn operating_points_step_through_frame_rate_then_resolution() {
        assert_eq!(pts(3, 3), [(0, 1), (0, 2), (1, 2), (2, 2)]);
        assert_eq!(pts(1, 3), [(0, 0), (0, 1), (0, 2)]);
        assert_eq!(pts(2, 2), [(0, 0), (0, 1), (1, 1)]);
        assert_eq!(pts(1, 1), [(0, 0)]);
        assert_eq!(pts(0, 0), [(0, 0)]);
    }

    /// One L3T3 picture: three layer frames of two packets each, temporal id `t`.
    fn picture(t: u8) -> Vec<(SfuSvcLayer, bool)> {
        let mut out = Vec::new();
        for s in 0..3 {
            for half in 0..2 {
                out.push((
                    SfuSvcLayer {
                        spatial: s,
                        temporal: t,
                        frame_start: half == 0,
                        frame_end: half == 1,
                        temporal_switch: true,
                    },
                    s == 2 && half == 1,
                ));
            }
        }
        out
    }

    /// Feeds `n` pictures (temporal pattern 0 2 1 2, first one a keyframe when `key`) and
    /// returns the highest spatial layer forwarded per picture and where markers went.
    fn feed(sel: &mut SvcSelector, ts: &mut u32, n: usize, key: bool) -> Vec<(u8, Vec<bool>)> {
        let mut out = Vec::new();
        for i in 0..n {
            *ts += 3000;
            let t = [0, 2, 1, 2][i % 4];
            let mut top = 0;
            let mut markers = Vec::new();
            for (k, (l, marker)) in picture(t).into_iter().enumerate() {
                let kf = key && i == 0 && k == 0;
                if let SvcVerdict::Forward { marker } = sel.filter(&l, None, None, *ts, marker, kf)
                {
                    top = top.max(l.spatial);
                    markers.push(marker);
                }
            }
            out.push((top, markers));
        }
        out
    }

    #[test]
    fn down_at_the_next_picture_up_at_a_keyframe_marker_on_the_top_forwarded_layer() {
        let mut sel = SvcSelector {
            target: Some(SvcLayers {
                spatial: 2,
                temporal: 2,
            }),
            ..SvcSelector::default()
        };
        let mut ts = 0;
        let all = feed(&mut sel, &mut ts, 4, true);
        assert!(all.iter().all(|(top, _)| *top == 2), "{all:?}");
        assert_eq!(all[0].1, [false, false, false, false, false, true]);

        // Down to (0, 1): from the next picture, one layer, markers on its end, no T2.
        sel.target = Some(SvcLayers {
            spatial: 0,
            temporal: 1,
        });
        let low = feed(&mut sel, &mut ts, 4, false);
        assert_eq!(low[0], (0, vec![false, true]));
        assert_eq!(low[1], (0, vec![]), "T2 dropped");
        assert_eq!(low[2], (0, vec![false, true]));

        // Up: the target rises, nothing above S0 until a picture allows it.
        sel.target = Some(SvcLayers {
            spatial: 2,
            temporal: 2,
        });
        assert!(sel.wants_spatial_up());
        let waiting = feed(&mut sel, &mut ts, 4, false);
        assert!(waiting.iter().all(|(top, _)| *top == 0), "{waiting:?}");
        let keyed = feed(&mut sel, &mut ts, 2, true);
        assert_eq!(keyed[0].0, 2);
        assert_eq!(keyed[1].0, 2);
        assert!(!sel.wants_spatial_up());
    }

    #[test]
    fn evaluate_goes_down_at_once_and_up_after_the_hold() {
        let mut sel = SvcSelector::default();
        let t0 = Instant::now();
        let hold = Duration::from_millis(500);
        // 2 s of L3T3 at 30 pictures/s: every (s, t) at 100 bytes a packet.
        for i in 0..60u32 {
            let now = t0 + Duration::from_millis(u64::from(i) * 33);
            for (l, _) in picture([0, 2, 1, 2][i as usize % 4]) {
                sel.record(&l, i * 3000, false, 100, now);
            }
        }
        let now = t0 + Duration::from_secs(2);
        let mut rates = [Bitrate::ZERO; MAX_LAYERS];
        let n = sel.rates(now, &mut rates);
        assert_eq!(n, 4);
        assert!(rates[..n].windows(2).all(|w| w[0] < w[1]), "{rates:?}");

        // The first decision wants the top, which needs its spatial layers to start.
        assert!(sel.evaluate(None, hold, now));
        assert_eq!(sel.target.unwrap().spatial, 2);
        // A budget between the second and third point: down to (0, 2) at once.
        let budget = rates[1].saturating_add(rates[2].saturating_sub(rates[1]).scale(0.5));
        sel.evaluate(Some(budget), hold, now);
        assert_eq!(
            sel.target,
            Some(SvcLayers {
                spatial: 0,
                temporal: 2
            })
        );
        // Unlimited again: only after the hold, and then a spatial layer is wanted.
        assert!(!sel.evaluate(None, hold, now + Duration::from_millis(100)));
        assert_eq!(sel.target.unwrap().spatial, 0);
        assert!(sel.evaluate(None, hold, now + Duration::from_millis(700)));
        assert_eq!(sel.target.unwrap().spatial, 2);
    }
}
