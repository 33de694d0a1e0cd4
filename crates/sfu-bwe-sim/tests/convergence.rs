//! Both estimators converge to ≥ 85 % of a 1 and a 2.5 Mbit/s link within 10 s and keep
//! the queueing delay under 100 ms at steady state.

use std::time::Duration;

use sfu_bwe_sim::{EstimatorKind, Scenario};

fn check(kind: EstimatorKind, capacity_kbps: u64) {
    let trace = kind.run(&Scenario::steady(capacity_kbps));
    let target = capacity_kbps * 1000 * 85 / 100;
    let reached = trace
        .first_time(0.0, |p| p.estimate.bps() >= target)
        .unwrap_or_else(|| panic!("{} never reached 85 % of {capacity_kbps}k", kind.name()));
    assert!(
        reached <= 10.0,
        "{}: 85 % of {capacity_kbps}k reached at {reached:.2}s",
        kind.name()
    );

    let steady = trace.stats(10.0, 40.0).expect("run lasts 40 s");
    assert!(
        steady.mean_estimate.bps() >= target,
        "{}: steady mean {} below 85 % of {capacity_kbps}k",
        kind.name(),
        steady.mean_estimate
    );
    assert!(
        steady.max_queue_delay < Duration::from_millis(100),
        "{}: steady-state queue delay up to {:?}",
        kind.name(),
        steady.max_queue_delay
    );
}

#[test]
fn googcc_converges_on_1_mbps() {
    check(EstimatorKind::GoogCc, 1000);
}

#[test]
fn googcc_converges_on_2_5_mbps() {
    check(EstimatorKind::GoogCc, 2500);
}

#[test]
fn kalman_converges_on_1_mbps() {
    check(EstimatorKind::Kalman, 1000);
}

#[test]
fn kalman_converges_on_2_5_mbps() {
    check(EstimatorKind::Kalman, 2500);
}
