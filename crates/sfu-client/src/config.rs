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
    /// How the peer receives the room's tracks.
    pub receive: ReceiveMode,
    /// Whether the peer's published media is end-to-end encrypted, which decides what the
    /// SFU may read of it.
    pub payload_encryption: PayloadEncryption,
    /// What the peer is: a participant, or another SFU relaying its room's tracks.
    pub role: PeerRole,
}

/// Whether a publisher's media payloads are end-to-end encrypted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadEncryption {
    /// In the clear: keyframes, keyframe sizes and layers are read from the payload.
    #[default]
    None,
    /// Every frame is an SFrame ciphertext (RFC 9605) behind the codec's RTP payload
    /// descriptor, as an encoded transform (`RTCRtpSFrameTransform`, or a script
    /// transform writing SFrame) leaves it. The SFU reads no frame byte but the SFrame
    /// header: keyframes come from the Dependency Descriptor or frame marking extension
    /// (or VP9's payload descriptor), and a simulcast layer of a codec with neither never
    /// starts. The low `epoch_bits` bits of the key id are the key epoch, reported when
    /// it moves on ([`Propagated::KeyEpochChanged`](crate::Propagated::KeyEpochChanged)).
    Sframe {
        /// Bits of the key id that number the epoch (1–64).
        epoch_bits: u8,
    },
}

/// What a client's peer is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PeerRole {
    /// A participant: it publishes its own tracks and receives every other track.
    #[default]
    Participant,
    /// Another SFU node holding the same room (a cascade). It publishes the tracks of that
    /// node's room ([`TrackInfo::relayed`](crate::TrackInfo::relayed)) and receives this
    /// node's own: never a track that came from a relay, so media crosses each link once
    /// and never returns to a node it left, whatever the shape of the cascade. The room's
    /// nodes are meant to be linked in a full mesh (each pair once); a track reaches
    /// only the nodes linked to its origin's node. Data channel messages do not cross it.
    Relay,
}

/// How a peer receives the room's tracks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiveMode {
    /// Each track on an m-line the room adds for it with a renegotiation offer, and
    /// closes with another (a browser page of the room).
    #[default]
    Renegotiate,
    /// On the receiving m-lines of the peer's own offer, with no offer ever sent to it (a
    /// WHEP player). Tracks take a free m-line of their kind in the order they open; a
    /// track that finds none waits until the track on one ends. The peer receives as many
    /// tracks at once as its offer has receiving m-lines.
    OfferedSlots,
    /// Nothing: the peer only publishes (a WHIP publisher).
    Nothing,
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
            receive: ReceiveMode::Renegotiate,
            payload_encryption: PayloadEncryption::None,
            role: PeerRole::Participant,
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

    /// Sets [`ClientConfig::receive`].
    pub fn with_receive(mut self, receive: ReceiveMode) -> Self {
        self.receive = receive;
        self
    }

    /// Sets [`ClientConfig::role`].
    pub fn with_role(mut self, role: PeerRole) -> Self {
        self.role = role;
        self
    }

    /// Sets [`ClientConfig::payload_encryption`].
    pub fn with_payload_encryption(mut self, encryption: PayloadEncryption) -> Self {
        self.payload_encryption = encryption;
        self
    }

    /// Sets [`ClientConfig::ice_disconnect_timeout`].
    pub fn with_ice_disconnect_timeout(mut self, d: Duration) -> Self {
        self.ice_disconnect_timeout = d;
        self
    }
}
