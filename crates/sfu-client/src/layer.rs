//! Simulcast layer selection policy.
//!
//! Each subscriber receives exactly one simulcast layer (rid) of a track. Which one is a
//! policy, expressed by a [`LayerSelector`]: the client ranks the flowing layers by what they
//! are (picture size, SDP order), measures their bitrate, and asks the selector for a
//! target. When the selector's answer takes effect (at once when going down, after it held
//! when going up, at a keyframe of the target layer either way) is the client's business.

use sfu_bwe::Bitrate;
use sfu_ids::{FrameSize, SfuRid};

/// What a subscriber needs of one track beyond what its budget allows: the layers above
/// these are never chosen for it, whatever the budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackHints {
    /// The highest simulcast layer to receive, counting from 0 for the lowest.
    pub max_layer: Option<u8>,
    /// The size the video is shown at (device pixels): no layer above the smallest one
    /// whose keyframes announce a picture at least that large. Codecs that announce no
    /// size are not limited by it.
    pub rendered: Option<FrameSize>,
}

impl TrackHints {
    /// Sets [`TrackHints::max_layer`].
    pub fn with_max_layer(mut self, layer: Option<u8>) -> Self {
        self.max_layer = layer;
        self
    }

    /// Sets [`TrackHints::rendered`].
    pub fn with_rendered(mut self, size: Option<FrameSize>) -> Self {
        self.rendered = size;
        self
    }

    /// How many of `layers` (ranked lowest first) the hints allow.
    pub(crate) fn allowed(&self, layers: &[LayerInfo]) -> usize {
        let mut n = layers.len();
        if let Some(max) = self.max_layer {
            n = n.min(usize::from(max) + 1);
        }
        if let Some(want) = self.rendered
            && let Some(i) = layers[..n].iter().position(|l| {
                l.size
                    .is_some_and(|s| s.width >= want.width && s.height >= want.height)
            })
        {
            n = i + 1;
        }
        n
    }
}

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

    fn sized(r: &str, width: u16) -> LayerInfo {
        LayerInfo {
            size: Some(FrameSize {
                width,
                height: width * 3 / 4,
            }),
            ..info(r, 100)
        }
    }

    #[test]
    fn hints_cut_the_layers_a_subscriber_may_get() {
        let layers = [sized("q", 160), sized("h", 320), sized("f", 640)];
        let hints = TrackHints::default();
        assert_eq!(hints.allowed(&layers), 3);
        assert_eq!(hints.with_max_layer(Some(0)).allowed(&layers), 1);
        assert_eq!(hints.with_max_layer(Some(7)).allowed(&layers), 3);
        let shown = |w, h| {
            hints.with_rendered(Some(FrameSize {
                width: w,
                height: h,
            }))
        };
        // The smallest layer that covers the tile; a tile larger than every layer: all.
        assert_eq!(shown(300, 200).allowed(&layers), 2);
        assert_eq!(shown(160, 120).allowed(&layers), 1);
        assert_eq!(shown(1280, 720).allowed(&layers), 3);
        // Sizes unknown: not limited.
        let plain = [info("q", 100), info("h", 500)];
        assert_eq!(shown(10, 10).allowed(&plain), 2);
        assert_eq!(shown(10, 10).with_max_layer(Some(0)).allowed(&layers), 1);
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
