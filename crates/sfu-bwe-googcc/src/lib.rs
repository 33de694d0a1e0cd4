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
//! | `estimator.rs` | `GoogCcNetworkController`, `DelayBasedBwe` | §4 overview |
//!
//! From `sfu-bwe-control` it takes the loss-based cap (`LossController`, in place of
//! libwebrtc's loss rules, §6), probe clusters (`Prober`, like libwebrtc's
//! `ProbeController`) and the detection of a competing loss-based flow
//! (`CompetitionDetector`, which libwebrtc lacks).
//!
//! The final estimate is `clamp(min(delay-based, loss-based))` within the configured
//! bounds (see [`GoogCcEstimator`] for the drive loop).
//!
//! Where it departs from libwebrtc, measured on the RFC 8867 suite of `sfu-bwe-sim`
//! (`docs/bench-bwe.md`): additive increase and the interval between decreases do not
//! depend on the RTT, so flows with different RTTs converge to equal shares, and that
//! interval runs from the last decrease, not from the last increase; the additive
//! step is one full packet per 100 ms, two while the estimate is below 0.9 of the capacity
//! the last over-uses measured; periodic probes run only when the flow is calm, uses
//! its estimate and has passed the capacity it last measured; an over-use within 300 ms
//! of a probe result cuts from that result where the acknowledged rate reads lower; and
//! while a loss-based flow keeps the queue full, over-use is read from loss instead of
//! delay.
//!
//! What it deliberately does not do: read a clock (time comes from the feedback's
//! `received_at`), touch I/O, parse RTCP, or pace (the caller sends the probe clusters
//! [`poll_probe`](sfu_bwe::CongestionControl::poll_probe) asks for).
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
mod overuse_detector;
mod trendline;

pub use config::{GoogCcConfig, GoogCcConfigError};
pub use estimator::{DefaultGoogCC, GoogCcEstimator};
