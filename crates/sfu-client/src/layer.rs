//! Simulcast layer selection policy.
//!
//! Each subscriber receives exactly one simulcast layer (rid) of a track. Which one is a
//! policy, expressed by a [`LayerSelector`]: the client ranks the flowing layers by what they
//! are (picture size, SDP order), measures their bitrate, and asks the selector for a
//! target. When the selector's answer takes effect (at once when going down, after it held
//! when going up, at a keyframe of the target layer either way) is the client's business.

use sfu_bwe::Bitrate;
use sfu_ids::{FrameSize, SfuRid};

/// What a selector knows about one simulcast layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerInfo {
    /// The layer.
    pub rid: SfuRid,
    /// Measured wire bitrate of the layer's delta frames (keyframes excluded, packet
    /// overhead included), averaged over the last seconds; zero until the first
    /// measurement window closed.
    pub bitrate: Bitrate,
    /// The picture size its latest keyframe announced, for codecs that carry it.
    pub size: Option<FrameSize>,
}

/// A policy choosing the simulcast layer a subscriber receives.
///
/// `layers` holds the flowing layers, lowest quality first (so the last one is the best).
/// `available` is the bandwidth the subscriber can take for this track, when known.
pub trait LayerSelector: Send + std::fmt::Debug {
    /// The layer to forward, or `None` to forward nothing.
    fn select(&mut self, layers: &[LayerInfo], available: Option<Bitrate>) -> Option<SfuRid>;
}

/// The default policy: the best layer whose bitrate fits the available bandwidth; the lowest
/// layer when none fits; the best layer when the bandwidth is unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct BestFitSelector;

impl LayerSelector for BestFitSelector {
    fn select(&mut self, layers: &[LayerInfo], available: Option<Bitrate>) -> Option<SfuRid> {
        let Some(avail) = available else {
            return layers.last().map(|l| l.rid);
        };
        layers
            .iter()
            .rev()
            .find(|l| l.bitrate <= avail)
            .or_else(|| layers.first())
            .map(|l| l.rid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rid(s: &str) -> SfuRid {
        s.parse().unwrap()
    }

    fn info(r: &str, bps: u64) -> LayerInfo {
        LayerInfo {
            rid: rid(r),
            bitrate: Bitrate::from_bps(bps),
            size: None,
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
        let bps = |b| Some(Bitrate::from_bps(b));
        assert_eq!(BestFitSelector.select(&layers, bps(800)), Some(rid("h")));
        assert_eq!(BestFitSelector.select(&layers, bps(50)), Some(rid("q")));
        assert_eq!(BestFitSelector.select(&[], bps(50)), None);
    }
}
