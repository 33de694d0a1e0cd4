//! Arbitrary send / feedback sequences — reordered, duplicated, lost, unknown and wrapping
//! sequence numbers, receiver and sender clocks jumping backwards — never panic, and the
//! estimate always stays within the configured bounds. One driver, run against both
//! estimators through the `CongestionControl` trait.

use std::time::Duration;

use proptest::prelude::*;
use sfu_bwe::{
    Bitrate, BitrateBounds, CongestionControl, DataSize, SentPacket, Timestamp, TwccFeedback,
    TwccSeq,
};
use sfu_bwe_googcc::{GoogCcConfig, GoogCcEstimator};
use sfu_bwe_kalman::{BandwidthEstimator, KalmanConfig};

#[derive(Debug, Clone)]
enum Op {
    Send {
        size: u64,
        dt_us: i64,
    },
    Feedback {
        reports: Vec<(i32, Option<i64>)>,
        dt_us: i64,
    },
    Rtt(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0u64..2000, -1000i64..30_000).prop_map(|(size, dt_us)| Op::Send { size, dt_us }),
        2 => (
            proptest::collection::vec((-300i32..20, proptest::option::weighted(0.8, -5_000_000i64..5_000_000)), 0..80),
            -200_000i64..200_000,
        ).prop_map(|(reports, dt_us)| Op::Feedback { reports, dt_us }),
        1 => (0u64..5_000_000).prop_map(Op::Rtt),
    ]
}

fn shift(t: Timestamp, us: i64) -> Timestamp {
    if us >= 0 {
        t.saturating_add(Duration::from_micros(us.unsigned_abs()))
    } else {
        t.saturating_sub(Duration::from_micros(us.unsigned_abs()))
    }
}

/// Feeds `ops` to `cc`, checking after every step that the estimate is within `bounds` and
/// that the estimator's own invariants (`check`) hold.
fn drive<C: CongestionControl>(
    cc: &mut C,
    bounds: BitrateBounds,
    first_seq: u16,
    ops: Vec<Op>,
    check: impl Fn(&C) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let mut seq = TwccSeq::new(first_seq);
    let mut now = Timestamp::from_millis(10_000_000);
    let mut fb = TwccFeedback::new(now);
    for op in ops {
        match op {
            Op::Send { size, dt_us } => {
                now = shift(now, dt_us);
                cc.on_packet_sent(SentPacket {
                    seq,
                    send_time: now,
                    size: DataSize::from_bytes(size),
                });
                seq = seq.next();
            }
            Op::Feedback { reports, dt_us } => {
                fb.clear(shift(now, dt_us));
                for (offset, arrival) in reports {
                    let s = TwccSeq::new(seq.get().wrapping_add_signed(offset as i16));
                    fb.push(s, arrival.map(|a| shift(now, a)));
                }
                cc.on_feedback(&fb);
            }
            Op::Rtt(us) => cc.on_rtt(Duration::from_micros(us), now),
        }
        let e = cc.estimate().bitrate();
        prop_assert!(bounds.contains(e), "estimate {e} outside {bounds:?}");
        check(cc)?;
    }
    Ok(())
}

fn bounds(min_kbps: u64, span_kbps: u64) -> BitrateBounds {
    BitrateBounds::new(
        Bitrate::from_kbps(min_kbps),
        Bitrate::from_kbps(min_kbps + span_kbps),
    )
    .expect("min ≤ max by construction")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn googcc_keeps_estimate_in_bounds(
        first_seq in any::<u16>(),
        min_kbps in 10u64..500,
        span_kbps in 0u64..20_000,
        ops in proptest::collection::vec(op(), 1..300),
    ) {
        let bounds = bounds(min_kbps, span_kbps);
        let mut config = GoogCcConfig::default();
        config.bounds = bounds;
        config.initial_bitrate = bounds.min();
        // A small history so old reports hit overwritten slots.
        config.history_capacity = 64;
        let mut cc = GoogCcEstimator::new(config).expect("valid");
        drive(&mut cc, bounds, first_seq, ops, |cc| {
            prop_assert!(bounds.contains(cc.delay_based_estimate()));
            prop_assert!((0.0..=1.0).contains(&cc.loss_fraction()));
            Ok(())
        })?;
    }

    #[test]
    fn kalman_keeps_estimate_in_bounds(
        first_seq in any::<u16>(),
        min_kbps in 10u64..500,
        span_kbps in 0u64..20_000,
        ops in proptest::collection::vec(op(), 1..300),
    ) {
        let bounds = bounds(min_kbps, span_kbps);
        let mut config = KalmanConfig::default();
        config.bounds = bounds;
        config.initial_bitrate = bounds.min();
        config.history_capacity = 64;
        let mut cc = BandwidthEstimator::new(config).expect("valid");
        drive(&mut cc, bounds, first_seq, ops, |cc| {
            prop_assert!(bounds.contains(cc.delay_based_estimate()));
            prop_assert!((0.0..=1.0).contains(&cc.loss_estimator().fraction()));
            prop_assert!(cc.delay_estimator().offset_ms().is_finite());
            prop_assert!(cc.delay_estimator().threshold_ms().is_finite());
            Ok(())
        })?;
    }
}
