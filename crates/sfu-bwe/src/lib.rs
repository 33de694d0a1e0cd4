//! Shared vocabulary for sfu-kit bandwidth estimation.
//!
//! The estimator crates (`sfu-bwe-kalman`, `sfu-bwe-googcc`) and the pacer (`sfu-pacer`) are
//! picked independently; this small crate is the only thing they share:
//!
//! - units: [`Bitrate`], [`DataSize`], [`BandwidthEstimate`] (saturating newtypes, never bare
//!   floats), [`BitrateBounds`];
//! - time: [`Timestamp`], microseconds since an epoch the caller picks, so simulations and
//!   real time use the same code;
//! - transport-wide congestion control feedback
//!   (draft-holmer-rmcat-transport-wide-cc-extensions-01): [`TwccSeq`], [`SentPacket`],
//!   [`TwccReport`], [`TwccFeedback`], [`TwccSample`], and [`SendHistory`], an O(1) ring
//!   buffer that matches reports with send times;
//! - the [`CongestionControl`] trait a room drives, the [`ProbeCluster`] it may ask the
//!   pacer to send, and the detector verdict
//!   [`BandwidthUsage`] (draft-ietf-rmcat-gcc-02 §5.4).
//!
//! It deliberately contains no estimation algorithm, no clock, no I/O and no RTP parsing:
//! turning RTCP bytes into a [`TwccFeedback`] is the transport's job.
//!
//! # Example
//!
//! ```
//! use sfu_bwe::{DataSize, SendHistory, SentPacket, Timestamp, TwccFeedback, TwccSeq};
//!
//! let mut history = SendHistory::new(1024);
//! history.record(SentPacket {
//!     seq: TwccSeq::new(65535),
//!     send_time: Timestamp::from_millis(10),
//!     size: DataSize::from_bytes(1200),
//! });
//!
//! let mut feedback = TwccFeedback::new(Timestamp::from_millis(80));
//! feedback.push(TwccSeq::new(65535), Some(Timestamp::from_millis(45)));
//! let sample = history.resolve(feedback.reports()[0]).expect("recorded above");
//! assert_eq!(sample.send_time, Timestamp::from_millis(10));
//! assert!(!sample.is_lost());
//! ```
#![forbid(unsafe_code)]

mod control;
mod error;
mod estimate;
mod history;
mod time;
mod twcc;
mod units;

pub use control::{CongestionControl, ProbeCluster};
pub use error::BoundsError;
pub use estimate::{BandwidthEstimate, BandwidthUsage, BitrateBounds};
pub use history::SendHistory;
pub use time::Timestamp;
pub use twcc::{SentPacket, TwccFeedback, TwccReport, TwccSample, TwccSeq};
pub use units::{Bitrate, DataSize};
