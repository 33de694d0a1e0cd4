//! The standard scenarios, shared by the tests in `tests/` and the `bwe-plot` binary.

use std::time::Duration;

use sfu_bwe::{Bitrate, CongestionControl, DataSize, Timestamp};
use sfu_bwe_googcc::{GoogCcConfig, GoogCcEstimator};
use sfu_bwe_kalman::{BandwidthEstimator, KalmanConfig};

use crate::link::{CapacitySchedule, LinkConfig, QueueLimit};
use crate::sim::{SimConfig, Simulation};
use crate::trace::Trace;

/// When the capacity drops in [`Scenario::capacity_drop`], seconds.
pub const DROP_AT_S: f64 = 20.0;
/// When the capacity returns in [`Scenario::capacity_drop`], seconds.
pub const RETURN_AT_S: f64 = 40.0;
/// When random loss starts in [`Scenario::random_loss`], seconds.
pub const LOSS_FROM_S: f64 = 10.0;
/// The high capacity of the drop scenario and the loss scenario, kbit/s.
pub const HIGH_KBPS: u64 = 2500;
/// The low capacity of the drop scenario, kbit/s.
pub const LOW_KBPS: u64 = 500;
/// The random loss probability of [`Scenario::random_loss`].
pub const RANDOM_LOSS: f64 = 0.05;

/// A named simulation setup.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Short identifier, used in file names.
    pub name: String,
    /// One-line description, used in plot titles.
    pub title: String,
    /// The simulation parameters.
    pub config: SimConfig,
}

fn ms(v: u64) -> Timestamp {
    Timestamp::from_millis(v)
}

fn s(v: f64) -> Timestamp {
    Timestamp::from_duration(Duration::from_secs_f64(v))
}

/// Drop-tail buffer of 300 ms at the current capacity (RFC 8867 §4).
const QUEUE_LIMIT: QueueLimit = QueueLimit::Delay(Duration::from_millis(300));

fn base(capacity: CapacitySchedule, duration_s: u64, seed: u64) -> SimConfig {
    SimConfig {
        link: LinkConfig {
            capacity,
            propagation: Duration::from_millis(25),
            queue_limit: QUEUE_LIMIT,
            loss: vec![],
            seed,
        },
        duration: Duration::from_secs(duration_s),
        packet_size: DataSize::from_bytes(1200),
        feedback_interval: Duration::from_millis(50),
        sample_interval: Duration::from_millis(50),
        first_seq: 65_000,
        receiver_clock_offset: Duration::from_secs(1234),
    }
}

impl Scenario {
    /// A constant-capacity link for 40 s.
    #[must_use]
    pub fn steady(capacity_kbps: u64) -> Self {
        Self {
            name: format!("steady-{capacity_kbps}k"),
            title: format!("constant {capacity_kbps} kbit/s"),
            config: base(
                CapacitySchedule::constant(Bitrate::from_kbps(capacity_kbps)),
                40,
                1,
            ),
        }
    }

    /// 2.5 Mbit/s, dropping to 0.5 Mbit/s at 20 s and returning at 40 s; 70 s.
    #[must_use]
    pub fn capacity_drop() -> Self {
        let schedule = CapacitySchedule::constant(Bitrate::from_kbps(HIGH_KBPS))
            .then(s(DROP_AT_S), Bitrate::from_kbps(LOW_KBPS))
            .then(s(RETURN_AT_S), Bitrate::from_kbps(HIGH_KBPS));
        Self {
            name: "capacity-drop".into(),
            title: "2.5 → 0.5 → 2.5 Mbit/s".into(),
            config: base(schedule, 70, 2),
        }
    }

    /// 2.5 Mbit/s with 5 % random loss from 10 s on; 40 s.
    #[must_use]
    pub fn random_loss() -> Self {
        let mut config = base(
            CapacitySchedule::constant(Bitrate::from_kbps(HIGH_KBPS)),
            40,
            3,
        );
        config.link.loss = vec![(ms(0), 0.0), (s(LOSS_FROM_S), RANDOM_LOSS)];
        Self {
            name: "random-loss".into(),
            title: "2.5 Mbit/s, 5 % random loss from 10 s".into(),
            config,
        }
    }

    /// Every standard scenario.
    #[must_use]
    pub fn all() -> Vec<Self> {
        vec![
            Self::steady(1000),
            Self::steady(HIGH_KBPS),
            Self::capacity_drop(),
            Self::random_loss(),
        ]
    }

    /// Runs the scenario with `cc`.
    pub fn run<C: CongestionControl>(&self, cc: C) -> Trace {
        Simulation::new(self.config.clone(), cc).run()
    }
}

/// The estimators under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstimatorKind {
    /// `sfu-bwe-googcc`.
    GoogCc,
    /// `sfu-bwe-kalman`.
    Kalman,
}

impl EstimatorKind {
    /// Both estimators.
    pub const ALL: [Self; 2] = [Self::GoogCc, Self::Kalman];

    /// Short name for file names and messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::GoogCc => "googcc",
            Self::Kalman => "kalman",
        }
    }

    /// A fresh estimator with default configuration.
    #[must_use]
    pub fn build(self) -> Box<dyn CongestionControl> {
        match self {
            // Default configurations are validated by each crate's unit tests.
            Self::GoogCc => Box::new(
                GoogCcEstimator::new(GoogCcConfig::default()).expect("default config is valid"),
            ),
            Self::Kalman => Box::new(
                BandwidthEstimator::new(KalmanConfig::default()).expect("default config is valid"),
            ),
        }
    }

    /// A fresh estimator with default configuration that starts at `initial` (kept within
    /// its bounds).
    #[must_use]
    pub fn build_starting_at(self, initial: Bitrate) -> Box<dyn CongestionControl> {
        match self {
            Self::GoogCc => {
                let mut config = GoogCcConfig::default();
                config.initial_bitrate = config.bounds.clamp(initial);
                Box::new(GoogCcEstimator::new(config).expect("clamped initial rate is valid"))
            }
            Self::Kalman => {
                let mut config = KalmanConfig::default();
                config.initial_bitrate = config.bounds.clamp(initial);
                Box::new(BandwidthEstimator::new(config).expect("clamped initial rate is valid"))
            }
        }
    }

    /// Runs `scenario` with a fresh estimator of this kind.
    #[must_use]
    pub fn run(self, scenario: &Scenario) -> Trace {
        scenario.run(self.build())
    }
}
