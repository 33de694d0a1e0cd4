//! The RFC 8867 suite as tests: every case, both estimators, seeds 0–9, feedback every 50
//! and 100 ms, judged against every target of `sfu_bwe_sim::rfc8867` (utilisation of the
//! fair share, p95 queueing delay, loss, fairness, time to 85 % after start and after an
//! increase, time to get below capacity after a drop, the share held against TCP).
//!
//! Targets some runs still miss are listed in [`KNOWN_MISSES`], with their measured worst
//! values in `docs/bench-bwe.md`. The list is exact both ways: a miss not in it fails the
//! test, and so does an entry that no run misses any more (remove it and update the table).

use std::collections::BTreeSet;
use std::time::Duration;

use sfu_bwe_sim::EstimatorKind;
use sfu_bwe_sim::rfc8867::{Case, Conditions};

/// `(estimator, case, check)` of every target that some run misses today.
const KNOWN_MISSES: &[(&str, &str, &str)] = &[
    (
        "kalman",
        "5.1-loss5",
        "flow 0 85 % after increase at 80 s (s)",
    ),
    ("kalman", "5.1-loss5", "flow 0 utilisation 65–80 s"),
];

fn suite(kind: EstimatorKind, case_name: &str) {
    let mut missed = BTreeSet::new();
    let mut report = Vec::new();
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
                missed.insert(check.what.clone());
                report.push(format!(
                    "seed {seed}, {interval} ms: {} = {:?} (target {} {})",
                    check.what,
                    check.value,
                    if check.at_least { "≥" } else { "≤" },
                    check.target
                ));
            }
        }
    }
    let known: BTreeSet<String> = KNOWN_MISSES
        .iter()
        .filter(|(k, c, _)| *k == kind.name() && *c == case_name)
        .map(|(_, _, what)| (*what).to_string())
        .collect();
    let new: Vec<_> = missed.difference(&known).collect();
    let fixed: Vec<_> = known.difference(&missed).collect();
    assert!(
        new.is_empty(),
        "{} {case_name}: targets missed that were met: {new:?}\n{}",
        kind.name(),
        report.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "{} {case_name}: known misses now met on every run; remove them from KNOWN_MISSES \
         and update docs/bench-bwe.md: {fixed:?}",
        kind.name()
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
