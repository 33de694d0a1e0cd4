//! Build multi-party WebRTC SFUs (Selective Forwarding Units) on top of
//! [str0m](https://crates.io/crates/str0m), the sans-I/O WebRTC library.
//!
//! str0m speaks WebRTC for one peer. sfu-kit connects many str0m `Rtc`s into rooms: it
//! routes datagrams to the right peer in O(1), forwards each publisher's RTP packets to its
//! subscribers (one simulcast layer each, rewritten into one continuous stream), asks for
//! keyframes when needed, renegotiates as tracks come and go, and runs it all over UDP with
//! tokio.
//!
//! This crate re-exports the layers under one roof; depend on the layer crates directly to
//! take only what you need.
//!
//! | layer | crate | here as |
//! |---|---|---|
//! | vocabulary | `sfu-ids` | [`ClientId`], [`SfuMid`], [`SfuRid`], [`IncomingDatagram`], … |
//! | peer | `sfu-client` | [`Client`], [`Propagated`], [`SfuRtc`], [`LayerSelector`], … |
//! | room | `sfu-registry` | [`Registry`], [`RoomEvent`] |
//! | runtime | `sfu-udp` | [`serve`], [`serve_socket`], [`run_udp_loop`], [`bind`], [`SfuConfig`], [`RoomHandle`] |
//! | metrics | `sfu-metrics` | `SfuMetrics` (feature `metrics-prometheus`) |
//! | bandwidth | `sfu-bwe`, `sfu-bwe-kalman`, `sfu-bwe-googcc`, `sfu-pacer` | `bwe` (features `kalman-bwe`, `googcc-bwe`, `pacer`) |
//! | codecs | `sfu-av1-dd`, `sfu-vfm`, `sfu-sframe` | `av1`, `vfm`, `sframe` (features `av1-dd`, `vfm`, `sframe`) |
//!
//! # Quick start: the smallest working SFU
//!
//! ```no_run
//! use sfu_kit::{SfuConfig, serve};
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     // One room on UDP port 3478, advertised to peers as 127.0.0.1.
//!     let (room, addr) = serve(SfuConfig::default().with_udp_port(3478)).await?;
//!     println!("SFU room on {addr}");
//!
//!     // Your signaling delivers each browser's SDP offer; the answer goes back to it.
//!     let offer: String = receive_offer_somehow().await;
//!     let mut joined = room.join(offer).await.expect("a valid offer");
//!     send_answer_somehow(joined.answer).await;
//!
//!     // The room renegotiates as other peers publish: forward its offers (with the
//!     // publisher of each m-line, `offer.tracks`) and the answers.
//!     while let Some(sfu_kit::ClientSignal::Offer(offer)) = joined.signals.recv().await {
//!         let answer = forward_offer_somehow(offer.sdp).await;
//!         room.answer(joined.client, answer).await.expect("a valid answer");
//!     }
//!     Ok(())
//! }
//! # async fn receive_offer_somehow() -> String { String::new() }
//! # async fn send_answer_somehow(_: String) {}
//! # async fn forward_offer_somehow(_: String) -> String { String::new() }
//! ```
//!
//! `examples/` in the repository has `basic-sfu`: this plus HTTP signaling and a browser page.
//!
//! # Feature flags
//!
//! | feature | enables |
//! |---|---|
//! | `metrics-prometheus` | `SfuMetrics`, Prometheus handles for rooms |
//! | `kalman-bwe` | `bwe::kalman`: `BandwidthEstimator`, `DelayEstimator`, `LossEstimator`, `PerSubscriber`, `ClientHint` |
//! | `googcc-bwe` | `bwe::googcc`: `GoogCcEstimator`, `DefaultGoogCC` |
//! | `pacer` | `bwe::pacer`: `SubscriberPacer`, `PacerConfig`, `PacerAction` |
//! | `av1-dd` | `av1`: `Av1DdParser`, `Av1DdInfo`, `Av1LayerSelector` |
//! | `vfm` | `vfm`: `FrameMarkingInfo`, `VfmLayerFilter` |
//! | `sframe` | `sframe`: `SframeHeader`, `KeyId`, `KeyEpoch` |
//! | `active-speaker` | `speaker`: `DominantSpeaker` |
//! | `test-utils` | `test_seed`: helpers to craft STUN binding requests in your tests |
//!
//! # Not included, by design
//!
//! Signaling (bring your own; the example ships a minimal HTTP one), a TURN server,
//! decrypting end-to-end encrypted media (SFrame payloads pass through untouched; the room
//! reads only their key ids), MCU mixing.

pub use sfu_client::{
    BestFitSelector, Bitrate, ChannelConfig, ChannelReliability, Client, ClientConfig, ClientError,
    ClientOutput, ClientStats, EstimatorKind, LayerChange, LayerChangeReason, LayerInfo,
    LayerSelector, OfferedTrack, PayloadEncryption, PeerRole, PeerRtcpStats, Propagated, RawRtc,
    RawRtcConfig, ReceiveMode, SfuOffer, SfuRtc, SfuRtcBuilder, SvcLayers, TrackHints, TrackInfo,
    TrackPriority, UnknownEstimator, rtc_config,
};
pub use sfu_ids::{
    ClientId, ClientOrigin, DatagramError, FrameSize, IncomingDatagram, InvalidPt, InvalidRid,
    KeyEpoch, OutgoingDatagram, SfuDependencyDescriptor, SfuHeaderExtensions, SfuKeyframeKind,
    SfuKeyframeRequest, SfuMediaKind, SfuMediaPayload, SfuMid, SfuNodeId, SfuProtocol, SfuPt,
    SfuRid, SfuSvcLayer,
};
pub use sfu_registry::{
    AcceptedOffer, Registry, RegistryError, RegistryStats, RoomEvent, RouteError, Workers,
};
/// Batched UDP I/O (`recvmmsg` / `sendmmsg`), socket buffers and kernel drop counts: the
/// runtime's I/O path, for loops of an application's own.
pub use sfu_udp::batch;
pub use sfu_udp::{
    ClientSignal, DEFAULT_SOCKET_BUFFER, HOLD_BUCKETS, HoldTimes, JoinOptions, Joined, MuxStats,
    ROOM_EVENTS_BUFFER, RelayOffer, RoomError, RoomHandle, RoomInbox, RoomStats, RtcConfigFn,
    SelectorFactory, SfuConfig, UdpMux, bind, room_channel, run_udp_loop, serve, serve_socket,
};

#[cfg(feature = "metrics-prometheus")]
pub use sfu_metrics::{BulkHistogram, SfuMetrics};

/// Bandwidth estimation and pacing (features `kalman-bwe`, `googcc-bwe`, `pacer`).
#[cfg(any(feature = "kalman-bwe", feature = "googcc-bwe", feature = "pacer"))]
pub mod bwe {
    pub use sfu_bwe::{
        BandwidthEstimate, Bitrate, CongestionControl, DataSize, ProbeCluster, Timestamp,
        TwccFeedback, TwccSample,
    };

    /// The Kalman-filter estimator of the original GCC design.
    #[cfg(feature = "kalman-bwe")]
    pub mod kalman {
        pub use sfu_bwe_kalman::{
            BandwidthEstimator, ClientHint, DelayEstimator, LossEstimator, PerSubscriber,
        };
    }

    /// Google Congestion Control, libwebrtc shape.
    #[cfg(feature = "googcc-bwe")]
    pub mod googcc {
        pub use sfu_bwe_googcc::{DefaultGoogCC, GoogCcConfig, GoogCcEstimator};
    }

    /// The per-subscriber pacer.
    #[cfg(feature = "pacer")]
    pub mod pacer {
        pub use sfu_pacer::{PacerAction, PacerConfig, PacerConfigError, SubscriberPacer};
    }

    #[cfg(feature = "googcc-bwe")]
    pub use googcc::{DefaultGoogCC, GoogCcEstimator};
    #[cfg(feature = "kalman-bwe")]
    pub use kalman::{
        BandwidthEstimator, ClientHint, DelayEstimator, LossEstimator, PerSubscriber,
    };
    #[cfg(feature = "pacer")]
    pub use pacer::{PacerAction, PacerConfig, PacerConfigError, SubscriberPacer};
}

/// AV1 Dependency Descriptor (feature `av1-dd`).
#[cfg(feature = "av1-dd")]
pub mod av1 {
    pub use sfu_av1_dd::{Av1Action, Av1DdError, Av1DdInfo, Av1DdParser, Av1LayerSelector};
}

/// Dominant speaker identification (feature `active-speaker`); rooms announce their
/// speaker as `RoomEvent::ActiveSpeaker` whether or not it is enabled.
#[cfg(feature = "active-speaker")]
pub mod speaker {
    pub use sfu_speaker::{DECISION_INTERVAL, DominantSpeaker};
}

/// End-to-end encrypted media (feature `sframe`): the SFrame header the room reads key
/// epochs from. Mark a publisher's media encrypted with
/// [`ClientConfig::with_payload_encryption`]; its epochs arrive as
/// `RoomEvent::KeyEpochChanged`.
#[cfg(feature = "sframe")]
pub mod sframe {
    pub use sfu_ids::KeyEpoch;
    pub use sfu_sframe::{Counter, KeyId, SframeError, SframeHeader};
}

/// Video Frame Marking (feature `vfm`).
#[cfg(feature = "vfm")]
pub mod vfm {
    pub use sfu_vfm::{FrameMarkingInfo, VfmAction, VfmError, VfmLayerFilter, VfmTarget};
}

#[cfg(feature = "av1-dd")]
pub use av1::Av1DdInfo;
#[cfg(feature = "vfm")]
pub use vfm::FrameMarkingInfo;

/// Test helpers (feature `test-utils`).
#[cfg(feature = "test-utils")]
pub mod test_seed {
    pub use sfu_registry::testing::stun_binding_request;
}
