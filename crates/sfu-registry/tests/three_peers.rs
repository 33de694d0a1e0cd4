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
