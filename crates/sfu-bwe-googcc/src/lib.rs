//! Google Congestion Control (GCC) as a pure, clock-free send-side bandwidth estimator.
//!
//! This follows the shape of current libwebrtc (`modules/congestion_controller/goog_cc`),
//! which refines draft-ietf-rmcat-gcc-02. Each part lives in a file named for it:
//!
//! | file | libwebrtc component | draft-ietf-rmcat-gcc-02 |
//! |---|---|---|
//! | `inter_arrival.rs` | `InterArrivalDelta` | §5.2 packet groups |
//! | `trendline.rs` | `TrendlineEstimator` (regression) | replaces the §5.3 Kalman filter |
//! | `overuse_detector.rs` | `TrendlineEstimator::Detect`, adaptive threshold | §5.4, §5.5 threshold |
//! | `aimd.rs`, `link_capacity.rs` | `AimdRateControl`, `LinkCapacityEstimator` | §5.5 rate control |
//! | `acknowledged_bitrate.rs` | `AcknowledgedBitrateEstimator`, `BitrateEstimator` | R in §5.5 |
//! | `loss_based.rs` | `SendSideBandwidthEstimation` loss rules | §6 |
//! | `estimator.rs` | `GoogCcNetworkController`, `DelayBasedBwe` | §4 overview |
//!
//! The final estimate is `clamp(min(delay-based, loss-based))` within the configured
//! bounds (see [`GoogCcEstimator`] for the drive loop).
//!
//! What it deliberately does not do: read a clock (time comes from the feedback's
//! `received_at`), touch I/O, parse RTCP, send probe clusters, or handle ALR
//! (application-limited) detection. Without probing, start-up and recovery use a faster
//! multiplicative increase than libwebrtc's 1.08/s; see
//! [`GoogCcConfig::multiplicative_increase_per_second`].
//!
//! # Example
//!
//! ```
//! use sfu_bwe::{CongestionControl, DataSize, SentPacket, Timestamp, TwccFeedback, TwccSeq};
//! use sfu_bwe_googcc::DefaultGoogCC;
//!
//! let mut cc = DefaultGoogCC::new();
//! let mut feedback = TwccFeedback::new(Timestamp::ZERO);
//! let mut seq = TwccSeq::new(0);
//! for round in 0..40u64 {
//!     // 10 packets of 1200 bytes every 50 ms: 1.92 Mbit/s on an uncongested path.
//!     feedback.clear(Timestamp::from_millis(round * 50 + 70));
//!     for i in 0..10u64 {
//!         let sent = Timestamp::from_millis(round * 50 + i * 5);
//!         cc.on_packet_sent(SentPacket { seq, send_time: sent, size: DataSize::from_bytes(1200) });
//!         feedback.push(seq, Some(sent.saturating_add(std::time::Duration::from_millis(20))));
//!         seq = seq.next();
//!     }
//!     cc.on_feedback(&feedback);
//! }
//! // No queueing delay, no loss: the estimate grew from its 300 kbit/s start.
//! assert!(cc.estimate().bps() > 300_000);
//! ```
#![forbid(unsafe_code)]

mod acknowledged_bitrate;
mod aimd;
mod config;
mod estimator;
mod inter_arrival;
mod link_capacity;
mod loss_based;
mod overuse_detector;
mod trendline;

pub use config::{GoogCcConfig, GoogCcConfigError};
pub use estimator::{DefaultGoogCC, GoogCcEstimator};
