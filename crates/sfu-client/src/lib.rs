//! The per-peer state machine of sfu-kit.
//!
//! A [`Client`] wraps one str0m `Rtc` in RTP mode and turns it into a room participant:
//! it announces the tracks its peer publishes, forwards other peers' RTP packets to its
//! peer (one simulcast layer per track, with sequence numbers, timestamps and VP8 picture
//! ids rewritten into one continuous stream), estimates the bandwidth towards its peer
//! ([`EstimatorKind`]) and splits it over the tracks the peer receives (audio first, video
//! by [`TrackPriority`], paused below the lowest layer), asks publishers for keyframes when
//! a subscriber needs one, and renegotiates SDP as tracks come and go.
//!
//! The layer choice follows rules that keep video clean: layers are ranked by what they
//! are (picture size, SDP order), never by momentary bytes; going down is immediate, going
//! up waits until the choice held; a stalled layer is replaced within a few frames; a
//! source that restarts is rebased at its next keyframe.
//!
//! It is sans-I/O like str0m: no sockets, no clock, no tasks. [`Client`] documents its
//! drive loop; the `sfu-registry` crate drives many of them as a room.
//!
//! What it does not do: routing datagrams between clients (the registry), sockets (the
//! `sfu-udp` runtime), signaling transport (the application), decoding media.
//!
//! # Example
//!
//! ```
//! use std::time::Instant;
//! use sfu_client::{Client, ClientConfig, ClientOutput, SfuRtc};
//! use sfu_ids::ClientId;
//!
//! let now = Instant::now();
//! let rtc = SfuRtc::builder()
//!     .host_candidate("127.0.0.1:3478".parse().unwrap())
//!     .build(now);
//! let mut client = Client::new(ClientId::new(1), rtc, ClientConfig::default());
//!
//! // Bad SDP from the peer is a typed error, not a panic.
//! assert!(client.accept_offer("not sdp").is_err());
//!
//! // Drain output until the client has nothing more to do before a timeout.
//! client.handle_timeout(now);
//! loop {
//!     match client.poll_output() {
//!         ClientOutput::Timeout(_) => break,
//!         _other => { /* send datagrams, route events, deliver offers */ }
//!     }
//! }
//! ```

mod allocation;
mod channel;
mod client;
mod config;
mod dependency_descriptor;
mod error;
mod estimator;
mod forwarder;
mod frame_marking;
mod frame_size;
mod keyframe_detect;
mod keyframe_throttle;
mod layer;
mod layer_tracker;
mod propagate;
mod rewrite;
mod rtc;
mod sframe;
mod stats;
mod svc;
mod svc_layer;
mod track;
mod vp8_rewrite;

pub use allocation::TrackPriority;
pub use channel::{ChannelConfig, ChannelReliability};
pub use client::{
    Client, ClientStats, DATA_BURST, DATA_RATE, MAX_CHANNELS, MAX_DATA_BUFFERED, MAX_DATA_MESSAGE,
};
pub use config::{ClientConfig, PayloadEncryption, PeerRole, ReceiveMode};
pub use error::ClientError;
pub use estimator::{EstimatorKind, UnknownEstimator};
pub use frame_size::keyframe_size;
pub use keyframe_detect::is_keyframe;
pub use layer::{BestFitSelector, LayerInfo, LayerSelector, TrackHints};
pub use propagate::{
    ClientOutput, LayerChange, LayerChangeReason, OfferedTrack, Propagated, SfuOffer, TrackInfo,
};
pub use rewrite::{RewriteError, Rewritten, SeqTsRewriter};
pub use rtc::{RawRtc, RawRtcConfig, SfuRtc, SfuRtcBuilder, rtc_config};
pub use stats::PeerRtcpStats;
pub use svc::SvcLayers;
pub use svc_layer::svc_layer;

/// The bitrate unit of budgets and layer rates (from `sfu-bwe`).
pub use sfu_bwe::Bitrate;
/// The str0m codec enum, used by [`is_keyframe`], [`keyframe_size`] and [`svc_layer`].
pub use str0m::format::Codec;
