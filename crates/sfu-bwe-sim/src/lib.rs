//! Deterministic network models for the sfu-kit bandwidth estimators (dev-only).
//!
//! Two discrete-event simulations in simulated time, no wall clock, no global state: same
//! seed, same result.
//!
//! **[`Network`]** (the RFC 8867 suite, [`rfc8867`]): media flows, each with its own
//! estimator, and TCP NewReno flows share one drop-tail bottleneck ([`Link`]: served at a
//! [`CapacitySchedule`], queue limited in time, seeded random loss), then travel their own
//! propagation delay with RFC 8868 jitter, in order or reordered. A media sender paces
//! 1200-byte packets at its estimate within an encoder range and pads up to any probe
//! cluster the estimator asks for; its receiver sends TWCC feedback every 50 or 100 ms like
//! a browser. The run yields a [`Record`] (per flow and 100 ms bin: sent, delivered, lost,
//! target; per packet: queueing delay) that [`metrics`] turns into RFC 8868 metrics and
//! [`rfc8867::Case::evaluate`] judges against the targets. `tests/rfc8867.rs` runs every
//! case; the `bwe-suite` and `bwe-plot` binaries print and draw them.
//!
//! **[`Simulation`]** (the [`Scenario`]s): one media flow without probing over a link of
//! its own, yielding a [`Trace`]; the older unit-level scenarios (convergence, a capacity
//! drop, random loss) that `tests/` asserts on.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use sfu_bwe_sim::EstimatorKind;
//! use sfu_bwe_sim::rfc8867::{Case, Conditions};
//!
//! let case = Case::against_tcp(
//!     Conditions {
//!         estimator: EstimatorKind::GoogCc,
//!         seed: 1,
//!         feedback_interval: Duration::from_millis(50),
//!     },
//!     300,
//! );
//! let record = case.run();
//! let share = sfu_bwe_sim::metrics::window(&record, &case.flows, 20.0, 110.0);
//! // The media flow (flow 0) holds a share against NewReno.
//! assert!(share.flows[0].expect("active").utilisation > 0.4);
//! ```
#![forbid(unsafe_code)]

mod flow;
mod link;
mod media;
pub mod metrics;
mod network;
mod record;
pub mod rfc8867;
mod rng;
mod scenarios;
mod sim;
mod tcp;
mod trace;

pub use flow::{FlowKind, FlowSpec, Jitter, NetworkConfig};
pub use network::Network;
pub use record::{Bin, FlowRecord, QueueSample, Record};

pub use link::{CapacitySchedule, Delivery, Link, LinkConfig, QueueLimit};
pub use rng::SplitMix64;
pub use scenarios::{
    DROP_AT_S, EstimatorKind, HIGH_KBPS, LOSS_FROM_S, LOW_KBPS, RANDOM_LOSS, RETURN_AT_S, Scenario,
};
pub use sim::{SimConfig, Simulation};
pub use trace::{Trace, TracePoint, WindowStats};
