//! [`PerSubscriber`] and [`ClientHint`]: a subscriber's own limits on top of the estimate.

use std::time::Duration;

use sfu_bwe::{BandwidthEstimate, Bitrate, CongestionControl, SentPacket, Timestamp, TwccFeedback};

use crate::BandwidthEstimator;

/// Index of a simulcast/SVC layer, 0 being the lowest quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LayerIndex(pub u8);

/// What a subscriber asked for: it never wants more than this, whatever the network allows
/// (e.g. a small tile on screen wants the low layer; a metered client caps its bitrate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClientHint {
    /// Highest bitrate the subscriber accepts.
    pub max_bitrate: Option<Bitrate>,
    /// Highest layer the subscriber wants.
    pub max_layer: Option<LayerIndex>,
}

/// An estimator for one subscriber plus that subscriber's [`ClientHint`].
///
/// Its [`CongestionControl::estimate`] is the network estimate capped by the hint, so a
/// pacer or layer selector driven by it honours both.
#[derive(Debug, Clone)]
pub struct PerSubscriber<C = BandwidthEstimator> {
    estimator: C,
    hint: ClientHint,
}

impl<C: CongestionControl> PerSubscriber<C> {
    /// Wraps `estimator` with no hint.
    pub fn new(estimator: C) -> Self {
        Self {
            estimator,
            hint: ClientHint::default(),
        }
    }

    /// Replaces the subscriber's hint.
    pub fn set_hint(&mut self, hint: ClientHint) {
        self.hint = hint;
    }

    /// The subscriber's hint.
    pub fn hint(&self) -> ClientHint {
        self.hint
    }

    /// The wrapped estimator.
    pub fn estimator(&self) -> &C {
        &self.estimator
    }

    /// The network's estimate, without the hint.
    pub fn network_estimate(&self) -> BandwidthEstimate {
        self.estimator.estimate()
    }

    /// The highest layer whose bitrate fits the capped estimate and the hint's
    /// `max_layer`. `layer_bitrates[i]` is layer `i`'s bitrate, lowest first. `None` when
    /// not even layer 0 fits (send audio only, or pause video).
    pub fn select_layer(&self, layer_bitrates: &[Bitrate]) -> Option<LayerIndex> {
        let budget = self.estimate().bitrate();
        let max = self.hint.max_layer.map_or(usize::MAX, |l| usize::from(l.0));
        layer_bitrates
            .iter()
            .enumerate()
            .take(max.saturating_add(1))
            .take_while(|(_, rate)| **rate <= budget)
            .last()
            .map(|(i, _)| LayerIndex(u8::try_from(i).unwrap_or(u8::MAX)))
    }
}

impl<C: CongestionControl> CongestionControl for PerSubscriber<C> {
    fn on_packet_sent(&mut self, packet: SentPacket) {
        self.estimator.on_packet_sent(packet);
    }

    fn on_feedback(&mut self, feedback: &TwccFeedback) {
        self.estimator.on_feedback(feedback);
    }

    fn on_rtt(&mut self, rtt: Duration, now: Timestamp) {
        self.estimator.on_rtt(rtt, now);
    }

    fn estimate(&self) -> BandwidthEstimate {
        let net = self.estimator.estimate();
        match self.hint.max_bitrate {
            Some(cap) => BandwidthEstimate::new(net.bitrate().min(cap)),
            None => net,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Bitrate);

    impl CongestionControl for Fixed {
        fn on_packet_sent(&mut self, _: SentPacket) {}
        fn on_feedback(&mut self, _: &TwccFeedback) {}
        fn estimate(&self) -> BandwidthEstimate {
            BandwidthEstimate::new(self.0)
        }
    }

    const LAYERS: [Bitrate; 3] = [
        Bitrate::from_kbps(150),
        Bitrate::from_kbps(500),
        Bitrate::from_kbps(1500),
    ];

    #[test]
    fn hint_caps_the_estimate() {
        let mut s = PerSubscriber::new(Fixed(Bitrate::from_mbps(2)));
        assert_eq!(s.estimate().bitrate(), Bitrate::from_mbps(2));
        s.set_hint(ClientHint {
            max_bitrate: Some(Bitrate::from_kbps(700)),
            max_layer: None,
        });
        assert_eq!(s.estimate().bitrate(), Bitrate::from_kbps(700));
        assert_eq!(s.network_estimate().bitrate(), Bitrate::from_mbps(2));
        assert_eq!(s.select_layer(&LAYERS), Some(LayerIndex(1)));
    }

    #[test]
    fn max_layer_limits_selection_even_with_ample_bandwidth() {
        let mut s = PerSubscriber::new(Fixed(Bitrate::from_mbps(10)));
        assert_eq!(s.select_layer(&LAYERS), Some(LayerIndex(2)));
        s.set_hint(ClientHint {
            max_bitrate: None,
            max_layer: Some(LayerIndex(0)),
        });
        assert_eq!(s.select_layer(&LAYERS), Some(LayerIndex(0)));
    }

    #[test]
    fn nothing_fits_below_the_lowest_layer() {
        let s = PerSubscriber::new(Fixed(Bitrate::from_kbps(100)));
        assert_eq!(s.select_layer(&LAYERS), None);
        assert_eq!(s.select_layer(&[]), None);
    }
}
