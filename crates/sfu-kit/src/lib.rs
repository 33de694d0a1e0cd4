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
//! | metrics | `sfu-metrics` | [`SfuMetrics`] (feature `metrics-prometheus`) |
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
//!     // The room renegotiates as other peers publish: forward its offers and the answers.
//!     while let Some(sfu_kit::ClientSignal::Offer(sdp)) = joined.signals.recv().await {
//!         let answer = forward_offer_somehow(sdp).await;
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
//! | `metrics-prometheus` | [`SfuMetrics`], Prometheus handles for rooms |
//! | `test-utils` | `test_seed`: helpers to craft STUN binding requests in your tests |
//!
//! # Not included, by design
//!
//! Signaling (bring your own; the example ships a minimal HTTP one), a TURN server, E2EE
//! payload processing (SFrame payloads pass through untouched), MCU mixing.

pub use sfu_client::{
    BestFitSelector, Client, ClientConfig, ClientError, ClientOutput, ClientStats, LayerInfo,
    LayerSelector, Propagated, RawRtc, RawRtcConfig, SfuRtc, SfuRtcBuilder, TrackInfo, rtc_config,
};
pub use sfu_ids::{
    ClientId, ClientOrigin, DatagramError, IncomingDatagram, InvalidPt, InvalidRid, KeyEpoch,
    OutgoingDatagram, SfuKeyframeKind, SfuKeyframeRequest, SfuMediaKind, SfuMediaPayload, SfuMid,
    SfuNodeId, SfuProtocol, SfuPt, SfuRid,
};
pub use sfu_registry::{Registry, RegistryError, RegistryStats, RoomEvent, RouteError};
pub use sfu_udp::{
    ClientSignal, Joined, RoomError, RoomHandle, RoomInbox, RoomStats, SfuConfig, bind,
    room_channel, run_udp_loop, serve, serve_socket,
};

#[cfg(feature = "metrics-prometheus")]
pub use sfu_metrics::SfuMetrics;

/// Test helpers (feature `test-utils`).
#[cfg(feature = "test-utils")]
pub mod test_seed {
    pub use sfu_registry::testing::stun_binding_request;
}
