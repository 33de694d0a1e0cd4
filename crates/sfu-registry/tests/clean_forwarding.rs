//! On a clean link a subscriber sees clean video: no layer flips, no keyframe requests it
//! did not need, no freeze when the forwarded layer stops, and no lost subscriber when an
//! answer is rejected.

mod common;

use std::time::Duration;

use common::World;

/// A static scene: every layer's frames are tiny and their sizes vary at random, so the
/// order of the layers by bytes changes all the time.
fn static_scene_bytes(n: u64, layer: usize) -> usize {
    let x = (n.wrapping_mul(6_364_136_223_846_793_005) ^ (layer as u64 * 0x9e37_79b9)) >> 33;
    40 + (x % 60) as usize
}

#[test]
fn a_static_scene_neither_flips_layers_nor_asks_for_keyframes() {
    let mut w = World::new();
    let publisher = w.join(true);
    {
        let p = w.peer(publisher);
        p.layer_bytes = static_scene_bytes;
        p.key_on_request = true;
    }
    let subscriber = w.join(false);
    w.run(Duration::from_secs(2));
    let start = w.room.client(subscriber).unwrap().stats();
    let requests_before = w.peer(publisher).keyframe_requests;
    w.run(Duration::from_secs(20));
    let end = w.room.client(subscriber).unwrap().stats();
    assert_eq!(end.layer_switches, start.layer_switches, "layers flipped");
    assert_eq!(
        end.keyframe_requests, start.keyframe_requests,
        "the subscriber asked for keyframes it did not need"
    );
    assert_eq!(w.peer(publisher).keyframe_requests, requests_before);
    assert!(w.video_frames(subscriber, publisher) > 400);
}

#[test]
fn a_layer_that_stops_is_replaced_within_a_few_frames() {
    let mut w = World::new();
    let publisher = w.join(true);
    w.peer(publisher).key_on_request = true;
    let subscriber = w.join(false);
    w.run(Duration::from_secs(3));
    let before = w.video_frames(subscriber, publisher);
    assert!(before > 50, "no video before the layer stopped: {before}");

    // The publisher stops its best layer, which the subscriber receives.
    w.peer(publisher).stopped_layers.push("f");
    let stopped_at = w.now;
    w.run(Duration::from_secs(2));
    let arrivals = &w.peer(subscriber).video_arrivals;
    let longest_gap = arrivals
        .windows(2)
        .filter(|p| p[1] >= stopped_at)
        .map(|p| p[1] - p[0])
        .max()
        .unwrap_or_default();
    // Frames come every 40 ms: three missed frames, the keyframe request's round trip
    // and the keyframe itself fit in 300 ms; the layer timeout alone was 1.5 s.
    assert!(
        longest_gap <= Duration::from_millis(300),
        "video froze for {longest_gap:?}"
    );
    assert!(w.video_frames(subscriber, publisher) > before + 35);
}

#[test]
fn a_rejected_answer_removes_the_subscriber_so_it_can_join_again() {
    let mut w = World::new();
    let publisher = w.join(true);
    let other = w.join(false);
    let subscriber = w.join(false);
    // The subscriber's answer to the offer carrying the others' tracks is rejected.
    w.peer(subscriber).spoil_next_answer = true;
    w.run(Duration::from_secs(1));
    assert_eq!(w.peer(subscriber).answers_rejected, 1);
    // Not left in the room half-negotiated, never to receive anything again.
    assert!(w.room.client(subscriber).is_none());
    // Nobody else noticed.
    let before = w.video_frames(other, publisher);
    w.run(Duration::from_secs(2));
    assert!(w.video_frames(other, publisher) > before + 30);
    // Joining again works.
    w.vanish(subscriber);
    let again = w.join(false);
    w.run(Duration::from_secs(3));
    assert!(w.video_frames(again, publisher) > 30);
}
