//! Three str0m peers in one room each receive the others' audio and video.

mod common;

use std::time::Duration;

use common::World;

#[test]
fn three_peers_exchange_audio_and_video() {
    let mut w = World::new();
    let ids: Vec<_> = (0..3).map(|_| w.join(false)).collect();
    w.run(Duration::from_secs(4));
    for &rx in &ids {
        for &tx in &ids {
            if rx == tx {
                continue;
            }
            assert!(
                w.audio_frames(rx, tx) > 20,
                "{rx} got {} audio frames from {tx}",
                w.audio_frames(rx, tx)
            );
            assert!(
                w.video_frames(rx, tx) > 5,
                "{rx} got {} video frames from {tx}",
                w.video_frames(rx, tx)
            );
        }
    }
    assert_eq!(w.room.len(), 3);

    // RTCP-derived stats are refreshed once a second.
    let rtcp = w.room.client(ids[0]).unwrap().rtcp_stats();
    assert!(rtcp.updated_at.is_some());
    assert!(
        rtcp.bytes_sent > 10_000 && rtcp.bytes_received > 10_000,
        "{rtcp:?}"
    );
    assert!(
        rtcp.rtt.is_some(),
        "no RTT after 4 s of receiver reports: {rtcp:?}"
    );
}

#[test]
fn subscribers_ask_publishers_for_keyframes_when_tracks_open() {
    let mut w = World::new();
    let a = w.join(false);
    let _b = w.join(false);
    w.run(Duration::from_secs(2));
    // b subscribed to a's video and asked for a keyframe through the SFU.
    assert!(w.peer(a).keyframe_requests >= 1);
}

#[test]
fn a_late_joiner_receives_everyone_already_there() {
    let mut w = World::new();
    let a = w.join(false);
    let b = w.join(false);
    w.run(Duration::from_secs(2));
    let c = w.join(false);
    w.run(Duration::from_secs(3));
    for (rx, tx) in [(c, a), (c, b), (a, c), (b, c)] {
        assert!(
            w.video_frames(rx, tx) > 5,
            "{rx} got {} video frames from {tx}",
            w.video_frames(rx, tx)
        );
    }
}

#[test]
fn keyframe_requests_to_a_publisher_are_throttled() {
    let mut w = World::new();
    let publisher = w.join(false);
    // Five subscribers join at once; each asks for a keyframe when its track opens.
    for _ in 0..5 {
        w.join(false);
    }
    w.run(Duration::from_millis(1200));
    let asked = w
        .room
        .client(publisher)
        .unwrap()
        .stats()
        .keyframe_requests_to_peer;
    // Default interval 500 ms: at most one request per video track per interval in 1.2 s.
    assert!(
        (1..=3).contains(&asked),
        "SFU sent {asked} keyframe requests to the publisher"
    );
    assert!(
        w.peer(publisher).keyframe_requests >= 1,
        "the publisher never saw one"
    );
}
