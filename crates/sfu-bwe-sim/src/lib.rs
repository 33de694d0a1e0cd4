//! A deterministic network model for the sfu-kit bandwidth estimators (dev-only).
//!
//! The model is a discrete-event simulation in simulated time:
//!
//! - a **sender** that paces 1200-byte packets at the estimator's current estimate and
//!   tells it about each one ([`CongestionControl::on_packet_sent`](sfu_bwe::CongestionControl));
//! - a **bottleneck** ([`Link`]): drop-tail FIFO served at a piecewise-constant capacity
//!   ([`CapacitySchedule`]), a propagation delay, and seeded random loss after the queue;
//! - a **receiver** that, like a browser's TWCC generator, sends feedback every 50 ms for
//!   every sequence number up to the newest arrival, gaps reported lost, in its own clock;
//!   feedback returns after the propagation delay over an uncongested reverse path.
//!
//! Same seed, same trace: there is no wall clock and no global state. [`Scenario`] holds the
//! standard setups that `tests/` asserts on and the `bwe-plot` binary draws.
//!
//! It deliberately does not model cross traffic, jitter, reordering or ALR; those belong in
//! further scenarios, not in the estimators' unit tests.
//!
//! # Example
//!
//! ```
//! use sfu_bwe_sim::{EstimatorKind, Scenario};
//!
//! let trace = EstimatorKind::GoogCc.run(&Scenario::steady(1000));
//! let steady = trace.stats(20.0, 40.0).expect("the run lasts 40 s");
//! assert!(steady.mean_estimate.bps() > 500_000);
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
