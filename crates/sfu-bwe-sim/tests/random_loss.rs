//! 5 % random loss without congestion: the GCC loss rules hold (2–10 % ⇒ hold), so the
//! estimate stays ≥ 50 % of capacity.

use sfu_bwe::{CongestionControl, Timestamp};
use sfu_bwe_googcc::{GoogCcConfig, GoogCcEstimator};
use sfu_bwe_kalman::{BandwidthEstimator, KalmanConfig};
use sfu_bwe_sim::{HIGH_KBPS, LOSS_FROM_S, RANDOM_LOSS, Scenario, Simulation, Trace};

fn run<C: CongestionControl>(cc: C, loss_fraction: impl Fn(&C) -> f64) -> Trace {
    let scenario = Scenario::random_loss();
    let mut sim = Simulation::new(scenario.config.clone(), cc);
    let trace = sim.run();
    // The loss really happened, and the estimator measured it.
    let measured = loss_fraction(sim.estimator());
    assert!(
        (measured - RANDOM_LOSS).abs() < 0.03,
        "measured loss {measured}"
    );
    trace
}

fn check(name: &str, trace: &Trace) {
    let during = trace.stats(LOSS_FROM_S, 40.0).expect("run lasts 40 s");
    let floor = HIGH_KBPS * 1000 / 2;
    assert!(
        during.min_estimate.bps() >= floor,
        "{name}: estimate fell to {} under random loss",
        during.min_estimate
    );
    assert!(
        trace
            .points()
            .last()
            .is_some_and(|p| p.time > Timestamp::from_millis(39_000))
    );
}

#[test]
fn googcc_holds_under_random_loss() {
    let cc = GoogCcEstimator::new(GoogCcConfig::default()).expect("default is valid");
    let trace = run(cc, GoogCcEstimator::loss_fraction);
    check("googcc", &trace);
}

#[test]
fn kalman_holds_under_random_loss() {
    let cc = BandwidthEstimator::new(KalmanConfig::default()).expect("default is valid");
    let trace = run(cc, |c| c.loss_estimator().fraction());
    check("kalman", &trace);
}
