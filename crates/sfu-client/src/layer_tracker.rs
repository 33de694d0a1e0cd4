//! What the simulcast layers of one track are, and which of them are flowing.
//!
//! Layers are ranked by what they are, never by their momentary bytes: by the picture size
//! their keyframes announce when every candidate has announced one, otherwise by their
//! position in the publisher's `a=simulcast` list (lowest quality first, the order browsers
//! and SFU clients use). Bitrate is measured too, for fitting a budget, over delta frames
//! only: a keyframe (asked for by some subscriber) must not make its layer look expensive to
//! everyone.
//!
//! A layer stops counting as flowing when another layer of the same track delivered
//! [`STALL_FRAMES`] frames since its last packet: it missed a few frame intervals while the
//! publisher kept encoding. A pause of the whole publisher stalls no layer.

use std::time::{Duration, Instant};

use sfu_bwe::Bitrate;
use sfu_ids::{FrameSize, SfuRid};

use crate::layer::LayerInfo;

/// Simulcast never has more than a handful of layers; more rids than this are ignored.
pub(crate) const MAX_LAYERS: usize = 4;
/// A layer silent this long is gone, whatever the others do.
const LAYER_TIMEOUT: Duration = Duration::from_millis(1500);
/// Frames another layer delivers while a layer is silent before that layer counts as stalled.
pub(crate) const STALL_FRAMES: usize = 3;
/// Bitrate measurement window; the windows are averaged exponentially.
const WINDOW: Duration = Duration::from_millis(500);
/// Weight of the newest window in the average.
const ALPHA: f64 = 0.3;
/// Bytes each packet costs on the wire beyond its payload: RTP header (12), header
/// extensions (~16), SRTP tag (10), UDP (8) and IPv4 (20). Budgets are wire rates: for a
/// 100-byte audio packet this is most of the cost.
pub(crate) const PACKET_OVERHEAD: usize = 66;

/// What one packet tells the tracker (`len`: its payload bytes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LayerPacket {
    pub(crate) rid: SfuRid,
    pub(crate) rtp_time: u32,
    pub(crate) len: usize,
    pub(crate) keyframe: bool,
    pub(crate) size: Option<FrameSize>,
}

/// A bitrate averaged exponentially over fixed windows. No allocation, O(1) per packet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateMeter {
    window_start: Option<Instant>,
    window_bytes: u64,
    rate: Option<f64>,
}

impl RateMeter {
    pub(crate) const fn new() -> Self {
        Self {
            window_start: None,
            window_bytes: 0,
            rate: None,
        }
    }

    /// Accounts `len` bytes at `now`.
    pub(crate) fn add(&mut self, len: usize, now: Instant) {
        self.window_bytes += len as u64;
        self.tick(now);
    }

    /// Closes the window when it is due, without adding bytes.
    pub(crate) fn tick(&mut self, now: Instant) {
        let start = *self.window_start.get_or_insert(now);
        let span = now.saturating_duration_since(start);
        if span >= WINDOW {
            let bps = self.window_bytes as f64 * 8.0 / span.as_secs_f64();
            self.rate = Some(match self.rate {
                Some(avg) => avg + ALPHA * (bps - avg),
                None => bps,
            });
            self.window_start = Some(now);
            self.window_bytes = 0;
        }
    }

    /// The average, zero before the first window closed.
    pub(crate) fn rate(&self) -> Bitrate {
        Bitrate::from_bps_f64(self.rate.unwrap_or(0.0))
    }
}

#[derive(Debug, Clone, Copy)]
struct Layer {
    rid: SfuRid,
    /// Position in the publisher's simulcast list (`u8::MAX` when not listed).
    sdp_rank: u8,
    last_seen: Instant,
    /// Arrival times of the first packets of the last `STALL_FRAMES` frames, newest first.
    frames: [Option<Instant>; STALL_FRAMES],
    last_frame_ts: Option<u32>,
    /// RTP time of the latest keyframe: packets of that frame are not measured.
    key_ts: Option<u32>,
    size: Option<FrameSize>,
    bitrate: RateMeter,
}

impl Layer {
    /// `true` when this layer began `STALL_FRAMES` frames after `t`.
    fn delivered_frames_since(&self, t: Instant) -> bool {
        self.frames[STALL_FRAMES - 1].is_some_and(|oldest| oldest > t)
    }
}

/// Tracks the simulcast layers of one track as packets arrive. Fixed capacity, no
/// allocation per packet.
#[derive(Debug, Clone, Default)]
pub(crate) struct LayerTracker {
    layers: [Option<Layer>; MAX_LAYERS],
    /// The publisher's `a=simulcast` rids, lowest quality first.
    declared: [Option<SfuRid>; MAX_LAYERS],
}

impl LayerTracker {
    /// A tracker for a track whose publisher declared `rids` (lowest quality first).
    pub(crate) fn new(rids: &[SfuRid]) -> Self {
        let mut declared = [None; MAX_LAYERS];
        for (slot, rid) in declared.iter_mut().zip(rids) {
            *slot = Some(*rid);
        }
        Self {
            layers: [None; MAX_LAYERS],
            declared,
        }
    }

    /// Accounts a packet at `now`.
    pub(crate) fn record(&mut self, p: &LayerPacket, now: Instant) {
        let Some(slot) = self.slot_for(p.rid, now) else {
            return;
        };
        let Some(l) = self.layers[slot].as_mut() else {
            return;
        };
        l.last_seen = now;
        if l.last_frame_ts != Some(p.rtp_time) {
            l.last_frame_ts = Some(p.rtp_time);
            l.frames.rotate_right(1);
            l.frames[0] = Some(now);
        }
        if p.keyframe {
            l.key_ts = Some(p.rtp_time);
            if p.size.is_some() {
                l.size = p.size;
            }
        }
        if l.key_ts == Some(p.rtp_time) {
            l.bitrate.tick(now);
        } else {
            l.bitrate.add(p.len + PACKET_OVERHEAD, now);
        }
    }

    fn slot_for(&mut self, rid: SfuRid, now: Instant) -> Option<usize> {
        if let Some(i) = self
            .layers
            .iter()
            .position(|l| l.is_some_and(|l| l.rid == rid))
        {
            return Some(i);
        }
        // A free slot, or the one silent the longest.
        let i = self.layers.iter().position(Option::is_none).or_else(|| {
            self.layers
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.map(|l| (i, l.last_seen)))
                .min_by_key(|&(_, t)| t)
                .map(|(i, _)| i)
        })?;
        let sdp_rank = self
            .declared
            .iter()
            .position(|d| *d == Some(rid))
            .map_or(u8::MAX, |p| p as u8);
        self.layers[i] = Some(Layer {
            rid,
            sdp_rank,
            last_seen: now,
            frames: [None; STALL_FRAMES],
            last_frame_ts: None,
            key_ts: None,
            size: None,
            bitrate: RateMeter::new(),
        });
        Some(i)
    }

    fn flowing(&self, l: &Layer, now: Instant) -> bool {
        now.saturating_duration_since(l.last_seen) <= LAYER_TIMEOUT
            && !self
                .layers
                .iter()
                .flatten()
                .any(|o| o.rid != l.rid && o.delivered_frames_since(l.last_seen))
    }

    /// `true` when `rid` is flowing: seen within the layer timeout, and no other layer
    /// delivered [`STALL_FRAMES`] frames since its last packet.
    pub(crate) fn is_flowing(&self, rid: SfuRid, now: Instant) -> bool {
        self.layers
            .iter()
            .flatten()
            .any(|l| l.rid == rid && self.flowing(l, now))
    }

    /// `true` before any simulcast packet arrived.
    pub(crate) fn is_empty(&self) -> bool {
        self.layers.iter().all(Option::is_none)
    }

    /// `true` once every declared layer has been seen (or none was declared).
    pub(crate) fn all_declared_seen(&self) -> bool {
        self.declared
            .iter()
            .flatten()
            .all(|d| self.layers.iter().flatten().any(|l| l.rid == *d))
    }

    /// The flowing layers, lowest quality first: an array and how many of it are filled
    /// (the rest repeats the first). `None` when no layer flows.
    pub(crate) fn flowing_ranked(&self, now: Instant) -> Option<([LayerInfo; MAX_LAYERS], usize)> {
        self.ranked(|l| self.flowing(l, now))
    }

    /// Every layer seen so far, flowing or not, ranked like
    /// [`flowing_ranked`](Self::flowing_ranked).
    pub(crate) fn seen_ranked(&self) -> Option<([LayerInfo; MAX_LAYERS], usize)> {
        self.ranked(|_| true)
    }

    fn ranked(&self, keep: impl Fn(&Layer) -> bool) -> Option<([LayerInfo; MAX_LAYERS], usize)> {
        let mut found = [None; MAX_LAYERS];
        let mut n = 0;
        for l in self.layers.iter().flatten() {
            if keep(l) {
                found[n] = Some(*l);
                n += 1;
            }
        }
        let found = &mut found[..n];
        let by_size = found.iter().flatten().all(|l| l.size.is_some());
        let key = |l: &Layer| {
            let pixels = if by_size {
                l.size.map_or(0, FrameSize::pixels)
            } else {
                0
            };
            (pixels, l.sdp_rank, l.rid)
        };
        found.sort_by_key(|l| l.map(|l| key(&l)));
        let info = |l: &Layer| LayerInfo {
            rid: l.rid,
            bitrate: l.bitrate.rate(),
            size: l.size,
        };
        let first = info(&(*found.first()?)?);
        let mut out = [first; MAX_LAYERS];
        for (o, l) in out.iter_mut().zip(found.iter().flatten()) {
            *o = info(l);
        }
        Some((out, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rid(s: &str) -> SfuRid {
        s.parse().unwrap()
    }

    fn rids(list: &[&str]) -> Vec<SfuRid> {
        list.iter().map(|s| rid(s)).collect()
    }

    fn packet(r: &str, ts: u32, len: usize) -> LayerPacket {
        LayerPacket {
            rid: rid(r),
            rtp_time: ts,
            len,
            keyframe: false,
            size: None,
        }
    }

    fn ranked(t: &LayerTracker, now: Instant) -> Vec<LayerInfo> {
        t.flowing_ranked(now)
            .map(|(buf, n)| buf[..n].to_vec())
            .unwrap_or_default()
    }

    /// Every layer sends one frame of `sizes[i]` bytes per 50 ms.
    fn feed(t: &mut LayerTracker, t0: Instant, from: u32, frames: u32, layers: &[(&str, usize)]) {
        for f in from..from + frames {
            let now = t0 + Duration::from_millis(u64::from(f) * 50);
            for (r, len) in layers {
                t.record(&packet(r, f * 4500, *len), now);
            }
        }
    }

    #[test]
    fn a_static_scene_ranks_layers_by_sdp_order_not_by_bytes() {
        let mut t = LayerTracker::new(&rids(&["q", "h", "f"]));
        let t0 = Instant::now();
        // A static scene: the full layer happens to be the smallest.
        feed(&mut t, t0, 0, 40, &[("q", 300), ("h", 280), ("f", 200)]);
        let order: Vec<_> = ranked(&t, t0 + Duration::from_secs(2))
            .iter()
            .map(|l| l.rid)
            .collect();
        assert_eq!(order, rids(&["q", "h", "f"]));
    }

    #[test]
    fn announced_sizes_outrank_sdp_order() {
        // A publisher listing its best layer first.
        let mut t = LayerTracker::new(&rids(&["hi", "lo"]));
        let t0 = Instant::now();
        for (r, w) in [("hi", 640), ("lo", 160)] {
            t.record(
                &LayerPacket {
                    keyframe: true,
                    size: Some(FrameSize {
                        width: w,
                        height: w * 3 / 4,
                    }),
                    ..packet(r, 0, 1000)
                },
                t0,
            );
        }
        let order: Vec<_> = ranked(&t, t0).iter().map(|l| l.rid).collect();
        assert_eq!(order, rids(&["lo", "hi"]));
    }

    #[test]
    fn keyframes_do_not_inflate_the_measured_bitrate() {
        let mut t = LayerTracker::new(&rids(&["q"]));
        let t0 = Instant::now();
        for f in 0..80u32 {
            let now = t0 + Duration::from_millis(u64::from(f) * 50);
            // Every 10th frame is a keyframe of 20 packets of 1000 bytes.
            let key = f % 10 == 0;
            for i in 0..if key { 20 } else { 1 } {
                t.record(
                    &LayerPacket {
                        keyframe: key && i == 0,
                        ..packet("q", f * 4500, 1000)
                    },
                    now,
                );
            }
        }
        let bps = ranked(&t, t0 + Duration::from_secs(4))[0].bitrate.bps();
        // 18 delta frames of 1000 bytes per second: 144 kbit/s, ±20 %.
        assert!((115_000..175_000).contains(&bps), "{bps}");
    }

    #[test]
    fn a_layer_that_stops_while_others_flow_stalls_within_a_few_frames() {
        let mut t = LayerTracker::new(&rids(&["q", "h", "f"]));
        let t0 = Instant::now();
        feed(&mut t, t0, 0, 20, &[("q", 300), ("h", 600), ("f", 1200)]);
        // f stops; q and h go on.
        feed(&mut t, t0, 20, 2, &[("q", 300), ("h", 600)]);
        let now = t0 + Duration::from_millis(21 * 50);
        assert!(t.is_flowing(rid("f"), now), "two missed frames are jitter");
        feed(&mut t, t0, 22, 1, &[("q", 300), ("h", 600)]);
        let now = t0 + Duration::from_millis(22 * 50);
        assert!(!t.is_flowing(rid("f"), now));
        assert_eq!(ranked(&t, now).len(), 2);
    }

    #[test]
    fn a_pause_of_the_whole_publisher_stalls_no_layer() {
        let mut t = LayerTracker::new(&rids(&["q", "f"]));
        let t0 = Instant::now();
        feed(&mut t, t0, 0, 20, &[("q", 300), ("f", 1200)]);
        // 600 ms of silence, then q's packet of the next frame arrives first.
        let now = t0 + Duration::from_millis(19 * 50 + 600);
        t.record(&packet("q", 100 * 4500, 300), now);
        assert!(t.is_flowing(rid("f"), now));
        // Much later, only the layer timeout removes a silent layer.
        assert!(!t.is_flowing(rid("f"), now + LAYER_TIMEOUT + WINDOW));
    }

    #[test]
    fn the_tracker_holds_a_bounded_number_of_layers() {
        let mut t = LayerTracker::default();
        let now = Instant::now();
        for r in ["a", "b", "c", "d", "e", "f"] {
            t.record(&packet(r, 0, 10), now);
        }
        assert_eq!(ranked(&t, now).len(), MAX_LAYERS);
    }
}
