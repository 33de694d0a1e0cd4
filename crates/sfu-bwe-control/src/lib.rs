//! Control blocks the sfu-kit bandwidth estimators share.
//!
//! Both estimators (`sfu-bwe-googcc`, `sfu-bwe-kalman`) combine a delay-based controller of
//! their own with pieces that do not depend on how delay is filtered:
//!
//! - [`additive_increase`]: the pace of additive increase, the same for every flow, and
//!   faster while recovering from a cut;
//! - [`LossController`]: a loss-based cap whose decisions need statistical evidence
//!   (Wilson score intervals), so random loss does not read as congestion;
//! - [`Prober`]: probe clusters at start and, when the path looks uncongested, periodically,
//!   and the rate their feedback shows;
//! - [`CompetitionDetector`]: notices a standing queue that the flow's own back-off does not
//!   drain — a loss-based flow (TCP) sharing the bottleneck — so the owner can stop
//!   yielding to it;
//! - [`QueueDelay`]: the queue the one-way delays show, with jitter filtered out, and
//!   [`underuse_needs_a_queue`], which keeps a jitter-made under-use from holding the rate
//!   on an empty link, and [`queue_means_overuse`], which bounds a queue a jitter-blurred
//!   detector misses.
//!
//! Like every estimator crate: time is an argument, there is no clock and no I/O, and the
//! per-packet paths are O(1) and allocation-free.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use sfu_bwe::{Bitrate, Timestamp};
//! use sfu_bwe_control::{LossController, LossParams};
//!
//! let mut loss = LossController::new(LossParams::default());
//! for i in 0..100u64 {
//!     // Every third packet lost: far above 10 % even at 99 % confidence.
//!     loss.on_report(i % 3 == 0, Timestamp::from_millis(i * 10));
//! }
//! let cap = loss.update(
//!     Bitrate::from_kbps(1000),
//!     Duration::from_millis(100),
//!     Timestamp::from_millis(1000),
//! );
//! assert!(cap < Bitrate::from_kbps(1000));
//! ```
#![forbid(unsafe_code)]

mod competition;
mod increase;
mod loss;
mod probe;
mod queue;
#[cfg(test)]
mod test_rng;

pub use competition::{CompetitionDetector, CompetitionParams};
pub use increase::{ADDITIVE_INCREASE_PER_SECOND, RECOVERY_SPEEDUP, additive_increase};
pub use loss::{LossController, LossParams, wilson_interval};
pub use probe::{PathState, ProbeParams, ProbeResult, Prober};
pub use queue::{QueueDelay, queue_means_overuse, underuse_needs_a_queue};
