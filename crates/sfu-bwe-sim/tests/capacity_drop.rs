//! Capacity drops 2.5 → 0.5 Mbit/s and returns: both estimators follow it down within
//! 2 s, drain the queue below 100 ms within 5 s, and regain ≥ 85 % within 15 s.

use std::time::Duration;

use sfu_bwe_sim::{DROP_AT_S, EstimatorKind, HIGH_KBPS, RETURN_AT_S, Scenario};

fn check(kind: EstimatorKind) {
    let name = kind.name();
    let trace = kind.run(&Scenario::capacity_drop());

    let below = trace
        .first_time(DROP_AT_S, |p| p.estimate.bps() < 600_000)
        .unwrap_or_else(|| panic!("{name}: estimate never fell below 600 kbit/s"));
    assert!(
        below - DROP_AT_S <= 2.0,
        "{name}: below 600k {:.2}s after the drop",
        below - DROP_AT_S
    );

    // From this time until the capacity returns, the queue stays under 100 ms.
    let drained = trace
        .settled_time(DROP_AT_S, RETURN_AT_S, |p| {
            p.queue_delay < Duration::from_millis(100)
        })
        .unwrap_or_else(|| panic!("{name}: queue never settled under 100 ms"));
    assert!(
        drained - DROP_AT_S <= 5.0,
        "{name}: queue settled {:.2}s after the drop",
        drained - DROP_AT_S
    );

    let target = HIGH_KBPS * 1000 * 85 / 100;
    let regained = trace
        .first_time(RETURN_AT_S, |p| p.estimate.bps() >= target)
        .unwrap_or_else(|| panic!("{name}: never regained 85 %"));
    assert!(
        regained - RETURN_AT_S <= 15.0,
        "{name}: regained 85 % {:.2}s after the return",
        regained - RETURN_AT_S
    );
    let after = trace
        .stats(RETURN_AT_S + 15.0, 70.0)
        .expect("run lasts 70 s");
    assert!(
        after.mean_estimate.bps() >= target,
        "{name}: mean {} after return",
        after.mean_estimate
    );
}

#[test]
fn googcc_follows_a_capacity_drop_and_return() {
    check(EstimatorKind::GoogCc);
}

#[test]
fn kalman_follows_a_capacity_drop_and_return() {
    check(EstimatorKind::Kalman);
}
