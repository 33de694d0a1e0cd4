//! A per-subscriber pacer for an SFU.
//!
//! Forwarded media arrives in bursts (a keyframe is dozens of packets at once); sending
//! them at line rate builds queues in the network that the subscriber's bandwidth
//! estimator then reads as congestion. [`SubscriberPacer`] spreads packets out with a
//! leaky-bucket budget at `pacing_factor × estimate` (libwebrtc `PacingController` /
//! `IntervalBudget`; str0m's `pacer` follows the same model), sends audio first, keeps the
//! queue bounded by dropping the least valuable packets, and never reorders a stream.
//!
//! What it deliberately does not do: read a clock (time is an argument), send anything
//! (it returns [`PacerAction`]s), produce padding or probes, or estimate bandwidth (feed
//! it any `sfu_bwe::CongestionControl` output with [`SubscriberPacer::set_estimate`]).
//!
//! # Example
//!
//! ```
//! use sfu_bwe::{BandwidthEstimate, Bitrate, DataSize, Timestamp};
//! use sfu_pacer::{PacedPacket, PacerAction, PacerConfig, PacketKind, StreamId, SubscriberPacer};
//!
//! let mut pacer = SubscriberPacer::new(PacerConfig::default())?;
//! pacer.set_estimate(BandwidthEstimate::new(Bitrate::from_kbps(500)));
//!
//! let now = Timestamp::from_millis(1000);
//! for n in 0..3u16 {
//!     let packet = PacedPacket {
//!         stream: StreamId(0x1234),
//!         kind: PacketKind::Video { keyframe: true },
//!         size: DataSize::from_bytes(1200),
//!         payload: n,
//!     };
//!     assert!(pacer.enqueue(packet, now).is_none(), "queue bound not reached");
//! }
//!
//! let mut sent = Vec::new();
//! let mut t = now;
//! while sent.len() < 3 {
//!     match pacer.poll(t) {
//!         PacerAction::SendNow(p) => sent.push(p.payload),
//!         PacerAction::WaitUntil(next) => t = next,
//!         other => panic!("unexpected {other:?}"),
//!     }
//! }
//! assert_eq!(sent, [0, 1, 2]);
//! // 3 × 1200 B at 2.5 × 500 kbit/s takes about 15 ms.
//! assert!(t.saturating_duration_since(now).as_millis() >= 14);
//! # Ok::<(), sfu_pacer::PacerConfigError>(())
//! ```
#![forbid(unsafe_code)]

mod config;
mod pacer;
mod packet;

pub use config::{PacerConfig, PacerConfigError};
pub use pacer::{PacerAction, SubscriberPacer};
pub use packet::{PacedPacket, PacketKind, StreamId};
