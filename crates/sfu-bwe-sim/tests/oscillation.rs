//! At steady state the estimate oscillates within ±20 % of its mean.

use sfu_bwe_sim::{EstimatorKind, Scenario};

fn check(kind: EstimatorKind, capacity_kbps: u64) {
    let trace = kind.run(&Scenario::steady(capacity_kbps));
    let steady = trace.stats(15.0, 40.0).expect("run lasts 40 s");
    let osc = steady.oscillation();
    assert!(
        osc <= 0.20,
        "{} on {capacity_kbps}k: ±{:.1} % around {} (min {}, max {})",
        kind.name(),
        osc * 100.0,
        steady.mean_estimate,
        steady.min_estimate,
        steady.max_estimate
    );
}

#[test]
fn googcc_oscillation_is_bounded() {
    check(EstimatorKind::GoogCc, 1000);
    check(EstimatorKind::GoogCc, 2500);
}

#[test]
fn kalman_oscillation_is_bounded() {
    check(EstimatorKind::Kalman, 1000);
    check(EstimatorKind::Kalman, 2500);
}
