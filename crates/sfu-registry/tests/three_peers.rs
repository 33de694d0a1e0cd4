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
