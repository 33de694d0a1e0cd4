//! A room that shares its fanout with a helper thread forwards what it forwards on its
//! own: every viewer decodes the publishers' media, the publishers decode each other, and
//! a viewer that joins later receives the tracks as well.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::World;
use sfu_ids::ClientId;
use sfu_registry::{Registry, RegistryStats, TransmitSink, Workers};

const VIEWERS: usize = 18;

/// Two publishers (one simulcast) and `VIEWERS` viewers for 5 s, and one more viewer for
/// the last 3 s; the video frames each viewer decoded (the late one last), the frames
/// each publisher decoded of the other, and the room's stats. With several workers the
/// helpers send through the world's sink.
fn run(workers: Workers) -> (Vec<u64>, [u64; 2], RegistryStats) {
    let mut w = World::new();
    let helpers = workers.count() > 1;
    w.room = Registry::with_workers(workers);
    if helpers {
        w.room
            .set_transmit_sink(Some(Arc::clone(&w.sink) as Arc<dyn TransmitSink>));
    }
    let a = w.join(false);
    let b = w.join(true);
    let viewers: Vec<ClientId> = (0..VIEWERS).map(|_| w.join_viewer(1, 1)).collect();
    w.run(Duration::from_secs(2));
    let late = w.join_viewer(1, 1);
    w.run(Duration::from_secs(3));
    let frames = viewers
        .iter()
        .chain([&late])
        .map(|&v| w.peer(v).received.values().map(|c| c.1).sum())
        .collect();
    let publishers = [w.video_frames(a, b), w.video_frames(b, a)];
    (frames, publishers, w.room.stats())
}

#[test]
fn two_workers_forward_what_one_forwards() {
    let (one, one_publishers, sequential) = run(Workers::new(1));
    // Every batch goes to the helper, however small.
    let (two, two_publishers, parallel) = run(Workers::new(2).with_min_batch_work(0));
    assert_eq!(
        sequential.parallel_fanouts, 0,
        "one worker fanned out in parallel"
    );
    assert_eq!(sequential.sink_transmits, 0);
    let batches = parallel.parallel_fanouts;
    assert!(batches > 200, "only {batches} batches went to the helper");
    // The viewers' media went out through the sink in the shared batches, a few thousand
    // datagrams in these 5 s (a third of its calls leave one for the room to send).
    let sent = parallel.sink_transmits;
    assert!(sent > 2_000, "the sink sent {sent} datagrams");
    // Video runs at 25 frames a second; the late viewer starts at a keyframe, and the
    // publishers receive each other once their offers are answered.
    for (i, &frames) in two.iter().enumerate() {
        let least = if i == VIEWERS { 40 } else { 110 };
        assert!(
            frames > least,
            "viewer {i} decoded {frames} frames on two workers: {two:?} (one worker: {one:?})"
        );
    }
    for publishers in [one_publishers, two_publishers] {
        assert!(
            publishers.iter().all(|&f| f > 90),
            "the publishers decoded {publishers:?} frames of each other"
        );
    }
    let (sum_one, sum_two) = (one.iter().sum::<u64>(), two.iter().sum::<u64>());
    assert!(
        sum_two * 100 >= sum_one * 98,
        "two workers delivered {sum_two} frames, one worker {sum_one}"
    );
}
