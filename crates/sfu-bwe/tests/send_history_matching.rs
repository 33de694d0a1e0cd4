//! Arbitrary record / resolve sequences: a report resolves only to the packet last recorded
//! under its sequence number, at most once, and only while it has not been overwritten.

use std::collections::HashMap;

use proptest::prelude::*;
use sfu_bwe::{DataSize, SendHistory, SentPacket, Timestamp, TwccReport, TwccSeq};

#[derive(Debug, Clone)]
enum Op {
    Record(u16),
    Resolve(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u16>().prop_map(Op::Record),
        any::<u16>().prop_map(Op::Resolve)
    ]
}

proptest! {
    #[test]
    fn resolve_matches_only_live_unreported_packets(
        capacity in 0usize..300,
        ops in proptest::collection::vec(op(), 1..500),
    ) {
        let mut history = SendHistory::new(capacity);
        let mask = history.capacity() - 1;
        // Model: slot → (seq, send time, still unreported).
        let mut model: HashMap<usize, (u16, u64, bool)> = HashMap::new();
        for (t, op) in ops.into_iter().enumerate() {
            let t = t as u64;
            match op {
                Op::Record(seq) => {
                    history.record(SentPacket {
                        seq: TwccSeq::new(seq),
                        send_time: Timestamp::from_micros(t),
                        size: DataSize::from_bytes(t),
                    });
                    model.insert(usize::from(seq) & mask, (seq, t, true));
                }
                Op::Resolve(seq) => {
                    let got = history.resolve(TwccReport { seq: TwccSeq::new(seq), arrival: None });
                    let slot = model.get_mut(&(usize::from(seq) & mask));
                    match slot {
                        Some((s, sent, pending)) if *s == seq && *pending => {
                            let sample = got.expect("live packet resolves");
                            prop_assert_eq!(sample.send_time, Timestamp::from_micros(*sent));
                            prop_assert_eq!(sample.size, DataSize::from_bytes(*sent));
                            *pending = false;
                        }
                        _ => prop_assert!(got.is_none()),
                    }
                }
            }
        }
    }
}
