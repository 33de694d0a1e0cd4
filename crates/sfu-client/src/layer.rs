//! Simulcast layer selection.
//!
//! Each subscriber receives exactly one simulcast layer (rid) of a track. Which one is a
//! policy, expressed by a [`LayerSelector`]. The client measures the layers it sees
//! ([`LayerTracker`]) and asks the selector for a target; the switch itself waits for a
//! keyframe on the target layer.

use std::time::{Duration, Instant};

use sfu_ids::SfuRid;

/// What a selector knows about one simulcast layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerInfo {
    /// The layer.
    pub rid: SfuRid,
    /// Measured bitrate of the layer in bits per second.
    pub bitrate_bps: u64,
}

/// A policy choosing the simulcast layer a subscriber receives.
///
/// `layers` holds the layers currently arriving, sorted by ascending bitrate (so the last
/// one is the best quality). `available_bps` is what the subscriber can take, when known.
pub trait LayerSelector: Send + std::fmt::Debug {
    /// The layer to forward, or `None` to forward nothing.
    fn select(&mut self, layers: &[LayerInfo], available_bps: Option<u64>) -> Option<SfuRid>;
}

/// The default policy: the best layer whose bitrate fits the available bandwidth; the lowest
/// layer when none fits; the best layer when the bandwidth is unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct BestFitSelector;

impl LayerSelector for BestFitSelector {
    fn select(&mut self, layers: &[LayerInfo], available_bps: Option<u64>) -> Option<SfuRid> {
        let Some(avail) = available_bps else {
            return layers.last().map(|l| l.rid);
        };
        layers
            .iter()
            .rev()
            .find(|l| l.bitrate_bps <= avail)
            .or_else(|| layers.first())
            .map(|l| l.rid)
    }
}

/// A layer is gone when nothing arrived on it for this long.
const LAYER_TIMEOUT: Duration = Duration::from_millis(1500);
/// Bitrate measurement window.
const WINDOW: Duration = Duration::from_millis(500);
/// Simulcast never has more than a handful of layers; more rids than this are ignored.
const MAX_LAYERS: usize = 4;

#[derive(Debug, Clone, Copy)]
struct Layer {
    rid: SfuRid,
    last_seen: Instant,
    window_start: Instant,
    window_bytes: u64,
    bitrate_bps: u64,
}

/// Measures the simulcast layers of one track as packets arrive. Fixed capacity, no
/// allocation per packet.
#[derive(Debug, Clone, Default)]
pub struct LayerTracker {
    layers: [Option<Layer>; MAX_LAYERS],
}

impl LayerTracker {
    /// Accounts a packet of `len` payload bytes on layer `rid` at `now`.
    pub fn record(&mut self, rid: SfuRid, len: usize, now: Instant) {
        let slot = match self
            .layers
            .iter()
            .position(|l| l.is_some_and(|l| l.rid == rid))
        {
            Some(i) => i,
            None => {
                // A free slot, or the one silent the longest.
                let Some(i) = self
                    .layers
                    .iter()
                    .position(Option::is_none)
                    .or_else(|| self.oldest())
                else {
                    return;
                };
                self.layers[i] = Some(Layer {
                    rid,
                    last_seen: now,
                    window_start: now,
                    window_bytes: 0,
                    bitrate_bps: 0,
                });
                i
            }
        };
        if let Some(l) = self.layers[slot].as_mut() {
            l.last_seen = now;
            l.window_bytes += len as u64;
            let span = now.saturating_duration_since(l.window_start);
            if span >= WINDOW {
                let micros = span.as_micros().max(1) as u64;
                l.bitrate_bps = l.window_bytes.saturating_mul(8_000_000) / micros;
                l.window_start = now;
                l.window_bytes = 0;
            }
        }
    }

    fn oldest(&self) -> Option<usize> {
        self.layers
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.map(|l| (i, l.last_seen)))
            .min_by_key(|&(_, t)| t)
            .map(|(i, _)| i)
    }

    /// Layers seen recently, by ascending bitrate, written into `out`; returns how many.
    ///
    /// A layer without a full measurement window yet counts with the bitrate measured so
    /// far, which ranks it low until its first window closes.
    pub fn active(&self, now: Instant, out: &mut [LayerInfo; LAYER_CAPACITY]) -> usize {
        let mut n = 0;
        for l in self.layers.iter().flatten() {
            if now.saturating_duration_since(l.last_seen) <= LAYER_TIMEOUT {
                out[n] = LayerInfo {
                    rid: l.rid,
                    bitrate_bps: l.bitrate_bps,
                };
                n += 1;
            }
        }
        out[..n].sort_by_key(|l| l.bitrate_bps);
        n
    }

    /// `true` when `rid` has been seen within the layer timeout.
    pub fn is_active(&self, rid: SfuRid, now: Instant) -> bool {
        self.layers
            .iter()
            .flatten()
            .any(|l| l.rid == rid && now.saturating_duration_since(l.last_seen) <= LAYER_TIMEOUT)
    }
}

/// Capacity of the buffer [`LayerTracker::active`] fills.
pub const LAYER_CAPACITY: usize = MAX_LAYERS;

#[cfg(test)]
mod tests {
    use super::*;

    fn rid(s: &str) -> SfuRid {
        s.parse().unwrap()
    }

    fn info(r: &str, bps: u64) -> LayerInfo {
        LayerInfo {
            rid: rid(r),
            bitrate_bps: bps,
        }
    }

    #[test]
    fn best_fit_takes_highest_without_estimate() {
        let layers = [info("q", 100), info("h", 500), info("f", 1500)];
        assert_eq!(BestFitSelector.select(&layers, None), Some(rid("f")));
    }

    #[test]
    fn best_fit_takes_highest_that_fits_or_lowest() {
        let layers = [info("q", 100), info("h", 500), info("f", 1500)];
        assert_eq!(BestFitSelector.select(&layers, Some(800)), Some(rid("h")));
        assert_eq!(BestFitSelector.select(&layers, Some(50)), Some(rid("q")));
        assert_eq!(BestFitSelector.select(&[], Some(50)), None);
    }

    #[test]
    fn tracker_orders_layers_by_measured_rate_and_expires_silent_ones() {
        let mut t = LayerTracker::default();
        let t0 = Instant::now();
        for i in 0..=10u64 {
            let now = t0 + Duration::from_millis(i * 60);
            t.record(rid("a"), 1000, now);
            t.record(rid("b"), 100, now);
        }
        let mut buf = [info("x", 0); MAX_LAYERS];
        let n = t.active(t0 + Duration::from_millis(600), &mut buf);
        assert_eq!(n, 2);
        assert_eq!(buf[0].rid, rid("b"));
        assert_eq!(buf[1].rid, rid("a"));
        assert!(buf[1].bitrate_bps > buf[0].bitrate_bps);
        let later = t0 + Duration::from_secs(10);
        assert_eq!(t.active(later, &mut buf), 0);
        assert!(!t.is_active(rid("a"), later));
    }

    #[test]
    fn tracker_holds_a_bounded_number_of_layers() {
        let mut t = LayerTracker::default();
        let now = Instant::now();
        for r in ["a", "b", "c", "d", "e", "f"] {
            t.record(rid(r), 10, now);
        }
        let mut buf = [info("x", 0); MAX_LAYERS];
        assert_eq!(t.active(now, &mut buf), MAX_LAYERS);
    }
}
