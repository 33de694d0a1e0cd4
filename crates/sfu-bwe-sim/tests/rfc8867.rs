//! The RFC 8867 suite as tests: every case, both estimators, seeds 0–9, feedback every 50
//! and 100 ms, judged against every target of `sfu_bwe_sim::rfc8867` (utilisation of the
//! fair share, p95 queueing delay, loss, fairness, time to 85 % after start and after an
//! increase, time to get below capacity after a drop, the share held against TCP).
//!
//! Every run meets every target; a test fails with each missed target of its case, its
//! value and the run (seed, feedback interval) that missed it.

use std::time::Duration;

use sfu_bwe_sim::EstimatorKind;
use sfu_bwe_sim::rfc8867::{Case, Conditions};

fn suite(kind: EstimatorKind, case_name: &str) {
    let mut missed = Vec::new();
    for seed in 0..10 {
        for interval in [50, 100] {
            let conditions = Conditions {
                estimator: kind,
                seed,
                feedback_interval: Duration::from_millis(interval),
            };
            let case = Case::all(conditions)
                .into_iter()
                .find(|c| c.name == case_name)
                .expect("the case exists");
            let record = case.run();
            for check in case.evaluate(&record).failures() {
                missed.push(format!(
                    "seed {seed}, {interval} ms: {} = {:?} (target {} {})",
                    check.what,
                    check.value,
                    if check.at_least { "≥" } else { "≤" },
                    check.target
                ));
            }
        }
    }
    assert!(
        missed.is_empty(),
        "{} {case_name}: targets missed:\n{}",
        kind.name(),
        missed.join("\n")
    );
}

macro_rules! cases {
    ($($name:ident => $case:literal,)*) => {
        mod googcc {
            $(
                #[test]
                fn $name() {
                    super::suite(super::EstimatorKind::GoogCc, $case);
                }
            )*
        }
        mod kalman {
            $(
                #[test]
                fn $name() {
                    super::suite(super::EstimatorKind::Kalman, $case);
                }
            )*
        }
    };
}

cases! {
    variable_capacity => "5.1",
    variable_capacity_100ms => "5.1-100ms",
    variable_capacity_jitter => "5.1-jitter",
    variable_capacity_reorder => "5.1-reorder",
    variable_capacity_loss1 => "5.1-loss1",
    variable_capacity_loss5 => "5.1-loss5",
    variable_capacity_two_flows => "5.2",
    competing_flows => "5.4",
    rtt_fairness => "5.5",
    against_tcp => "5.6",
    against_tcp_deep_buffer => "5.6-1000ms",
    pause_resume => "5.8",
}

#[test]
fn every_case_is_tested() {
    let names: Vec<String> = Case::all(Conditions {
        estimator: EstimatorKind::GoogCc,
        seed: 0,
        feedback_interval: Duration::from_millis(50),
    })
    .into_iter()
    .map(|c| c.name)
    .collect();
    let source = include_str!("rfc8867.rs");
    for name in names {
        assert!(
            source.contains(&format!("=> \"{name}\",")),
            "case {name} has no test"
        );
    }
}
