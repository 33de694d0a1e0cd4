//! Same seed, same trace; another seed, another trace.

use sfu_bwe_sim::{EstimatorKind, Scenario};

#[test]
fn same_seed_gives_identical_traces() {
    let scenario = Scenario::random_loss();
    for kind in EstimatorKind::ALL {
        assert_eq!(kind.run(&scenario), kind.run(&scenario), "{}", kind.name());
    }
}

#[test]
fn different_seed_changes_a_lossy_trace() {
    let a = Scenario::random_loss();
    let mut b = a.clone();
    b.config.link.seed ^= 0xDEAD_BEEF;
    assert_ne!(EstimatorKind::GoogCc.run(&a), EstimatorKind::GoogCc.run(&b));
}
