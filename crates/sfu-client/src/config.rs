//! Per-client configuration.

use std::time::Duration;

/// Tunables of a [`Client`](crate::Client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// At most one keyframe request per published track (and layer) per interval.
    pub keyframe_request_interval: Duration,
    /// When a requested keyframe has not arrived after this long, the next request is a
    /// FIR instead of a PLI.
    pub fir_after: Duration,
    /// A peer whose ICE stays disconnected this long is closed.
    pub ice_disconnect_timeout: Duration,
    /// A peer from which no valid datagram arrived for this long is closed. Browsers send
    /// consent checks every ~5 s (RFC 7675) even without media, so silence means gone.
    pub inactivity_timeout: Duration,
    /// How often the layer selector is consulted per simulcast track (and at once when
    /// the forwarded layer stalls).
    pub layer_evaluation_interval: Duration,
    /// A higher simulcast layer is switched to only after the selector chose it
    /// continuously for this long; lower layers take effect at once. (The allocator adds
    /// its own rule: a step up needs 1.2× its cost in the budget.)
    pub layer_upswitch_hold: Duration,
    /// A non-simulcast video track starts at a keyframe; when none arrives within this
    /// time, forwarding starts anyway (the subscriber's decoder will ask for one).
    pub keyframe_wait_limit: Duration,
    /// The peer receives the room's tracks. A peer that cannot take renegotiation offers
    /// (a WHIP publisher) is `false`: it only publishes, and is never sent an offer.
    pub subscribe: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            keyframe_request_interval: Duration::from_millis(500),
            fir_after: Duration::from_secs(2),
            ice_disconnect_timeout: Duration::from_secs(5),
            inactivity_timeout: Duration::from_secs(15),
            layer_evaluation_interval: Duration::from_millis(500),
            layer_upswitch_hold: Duration::from_secs(3),
            keyframe_wait_limit: Duration::from_secs(1),
            subscribe: true,
        }
    }
}

impl ClientConfig {
    /// Sets [`ClientConfig::keyframe_request_interval`].
    pub fn with_keyframe_request_interval(mut self, d: Duration) -> Self {
        self.keyframe_request_interval = d;
        self
    }

    /// Sets [`ClientConfig::inactivity_timeout`].
    pub fn with_inactivity_timeout(mut self, d: Duration) -> Self {
        self.inactivity_timeout = d;
        self
    }

    /// Sets [`ClientConfig::layer_upswitch_hold`].
    pub fn with_layer_upswitch_hold(mut self, d: Duration) -> Self {
        self.layer_upswitch_hold = d;
        self
    }

    /// Sets [`ClientConfig::subscribe`].
    pub fn with_subscribe(mut self, subscribe: bool) -> Self {
        self.subscribe = subscribe;
        self
    }

    /// Sets [`ClientConfig::ice_disconnect_timeout`].
    pub fn with_ice_disconnect_timeout(mut self, d: Duration) -> Self {
        self.ice_disconnect_timeout = d;
        self
    }
}
