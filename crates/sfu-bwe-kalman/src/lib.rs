//! The original Google Congestion Control design, draft-ietf-rmcat-gcc-02, as a pure,
//! clock-free send-side estimator.
//!
//! - [`DelayEstimator`] (§5.2–5.4): packet groups, the scalar Kalman filter of the
//!   queueing-delay gradient, and the adaptive-threshold over-use detector (libwebrtc's
//!   historical `OveruseEstimator` / `OveruseDetector`).
//! - Rate controller (§5.5): increase / hold / decrease driven by the detector, decrease to
//!   β × the received rate R, multiplicative increase far from convergence and additive
//!   near it (twice as fast below 0.95 of the rate at the last over-uses, where no queue
//!   forms). Unlike the draft, the additive step (one packet per 100 ms) and the interval
//!   between decreases do not depend on the RTT, and every flow reacts to every over-use
//!   episode, even one the other flows' cuts ended, a flow whose RTT is under 150 ms only
//!   after holding it for the difference, so flows with different RTTs converge to equal shares (RFC 8867 §5.5
//!   in `sfu-bwe-sim`).
//! - [`LossEstimator`] (§6): the loss-based cap A_s, decided on confidence intervals.
//! - From `sfu-bwe-control`: probe clusters at start and when the flow is calm, and
//!   detection of a competing loss-based flow, against which over-use is read from loss
//!   instead of delay.
//! - [`BandwidthEstimator`]: all of the above behind [`CongestionControl`](sfu_bwe::CongestionControl),
//!   with an O(1) send-time history.
//! - [`PerSubscriber`] / [`ClientHint`]: a subscriber's own limits (max bitrate, max layer)
//!   applied on top of the network estimate.
//!
//! For the current libwebrtc shape (trendline instead of Kalman, acknowledged-bitrate
//! estimator), use `sfu-bwe-googcc`; both implement the same trait.
//!
//! What it deliberately does not do: read a clock, perform I/O, parse RTCP, or pace (the
//! caller sends the probe clusters
//! [`poll_probe`](sfu_bwe::CongestionControl::poll_probe) asks for). Growth far from
//! convergence uses η = 1.5/s by default instead of the draft's 1.08, for callers that
//! cannot send probes (see [`KalmanConfig::eta_per_second`]).
//!
//! # Example
//!
//! ```
//! use sfu_bwe::{CongestionControl, DataSize, Timestamp, TwccFeedback, TwccSeq};
//! use sfu_bwe_kalman::{BandwidthEstimator, ClientHint, KalmanConfig, PerSubscriber};
//!
//! let mut sub = PerSubscriber::new(BandwidthEstimator::new(KalmanConfig::default())?);
//! sub.set_hint(ClientHint { max_bitrate: Some(sfu_bwe::Bitrate::from_kbps(400)), max_layer: None });
//!
//! let mut feedback = TwccFeedback::new(Timestamp::ZERO);
//! let mut seq = TwccSeq::new(0);
//! for round in 0..60u64 {
//!     feedback.clear(Timestamp::from_millis(round * 50 + 70));
//!     for i in 0..10u64 {
//!         let sent = Timestamp::from_millis(round * 50 + i * 5);
//!         sub.on_packet_sent(sfu_bwe::SentPacket { seq, send_time: sent, size: DataSize::from_bytes(1200) });
//!         feedback.push(seq, Some(sent.saturating_add(std::time::Duration::from_millis(20))));
//!         seq = seq.next();
//!     }
//!     sub.on_feedback(&feedback);
//! }
//! // The path carried 1.9 Mbit/s without queueing, but the subscriber asked for 400 kbit/s.
//! assert!(sub.network_estimate().bps() > 400_000);
//! assert_eq!(sub.estimate().bps(), 400_000);
//! # Ok::<(), sfu_bwe_kalman::KalmanConfigError>(())
//! ```
#![forbid(unsafe_code)]

mod config;
mod delay;
mod estimator;
mod group;
mod loss;
mod rate;
mod reaction;
mod subscriber;

pub use config::{KalmanConfig, KalmanConfigError};
pub use delay::DelayEstimator;
pub use estimator::BandwidthEstimator;
pub use loss::LossEstimator;
pub use subscriber::{ClientHint, LayerIndex, PerSubscriber};
