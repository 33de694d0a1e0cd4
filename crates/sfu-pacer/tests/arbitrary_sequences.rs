//! Arbitrary enqueue / poll / estimate sequences: no panic, no reordering within a stream,
//! the queue bound holds, and every packet is accounted for exactly once.

use std::collections::HashMap;

use proptest::prelude::*;
use sfu_bwe::{BandwidthEstimate, Bitrate, DataSize, Timestamp};
use sfu_pacer::{PacedPacket, PacerAction, PacerConfig, PacketKind, StreamId, SubscriberPacer};

#[derive(Debug, Clone)]
enum Op {
    Enqueue {
        stream: u32,
        kind: PacketKind,
        size: u64,
    },
    Poll {
        advance_us: u64,
        backwards: bool,
    },
    Estimate(u64),
}

/// Streams 0 and 1 carry audio, 2 and 3 video (a stream is one media kind, as an SSRC is).
fn kind_of(stream: u32, keyframe: bool) -> PacketKind {
    if stream < 2 {
        PacketKind::Audio
    } else {
        PacketKind::Video { keyframe }
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u32..4, any::<bool>(), 0u64..1500)
            .prop_map(|(stream, keyframe, size)| Op::Enqueue { stream, kind: kind_of(stream, keyframe), size }),
        4 => (0u64..50_000, proptest::bool::weighted(0.05))
            .prop_map(|(advance_us, backwards)| Op::Poll { advance_us, backwards }),
        1 => (0u64..20_000_000).prop_map(Op::Estimate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn pacer_never_reorders_and_stays_bounded(
        bound in 1usize..32,
        factor in 1.0f64..10.0,
        ops in proptest::collection::vec(op(), 1..400),
    ) {
        let mut config = PacerConfig::default();
        config.max_queue_packets = bound;
        config.pacing_factor = factor;
        let mut pacer = SubscriberPacer::new(config).expect("valid config");
        let mut now = Timestamp::from_millis(1_000_000);
        let mut next_id: HashMap<u32, u64> = HashMap::new();
        let mut last_out: HashMap<u32, u64> = HashMap::new();
        let (mut enqueued, mut out) = (0usize, 0usize);

        let check_out = |p: PacedPacket<u64>, last_out: &mut HashMap<u32, u64>| {
            let prev = last_out.insert(p.stream.0, p.payload);
            prop_assert!(prev.is_none_or(|prev| prev < p.payload), "stream {} reordered", p.stream.0);
            Ok(())
        };

        for op in ops {
            match op {
                Op::Enqueue { stream, kind, size } => {
                    let id = next_id.entry(stream).or_insert(0);
                    *id += 1;
                    let packet = PacedPacket { stream: StreamId(stream), kind, size: DataSize::from_bytes(size), payload: *id };
                    enqueued += 1;
                    // An eviction removes one packet without moving the others.
                    if pacer.enqueue(packet, now).is_some() {
                        out += 1;
                    }
                }
                Op::Poll { advance_us, backwards } => {
                    now = if backwards {
                        now.saturating_sub(std::time::Duration::from_micros(advance_us))
                    } else {
                        now.saturating_add(std::time::Duration::from_micros(advance_us))
                    };
                    loop {
                        match pacer.poll(now) {
                            PacerAction::SendNow(p) => { out += 1; check_out(p, &mut last_out)?; }
                            PacerAction::Drop(p) => {
                                out += 1;
                                prop_assert!(p.kind.is_droppable_video());
                            }
                            PacerAction::WaitUntil(t) => { prop_assert!(t > now); break; }
                            PacerAction::Idle => { prop_assert!(pacer.is_empty()); break; }
                            _ => break,
                        }
                    }
                }
                Op::Estimate(bps) => pacer.set_estimate(BandwidthEstimate::new(Bitrate::from_bps(bps))),
            }
            prop_assert!(pacer.len() <= bound);
            prop_assert!(pacer.pacing_rate() >= config.min_rate);
            prop_assert_eq!(enqueued, out + pacer.len());
        }
    }
}
