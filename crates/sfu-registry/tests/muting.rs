//! A publisher mutes a track: its subscribers stop forwarding it and spend nothing on it
//! at once, a subscriber that comes meanwhile starts it muted, and unmuted it comes back
//! for all of them from a keyframe they ask for.

mod common;

use std::time::Duration;

use common::World;
use sfu_client::LayerChangeReason;
use sfu_registry::RoomEvent;

#[test]
fn a_muted_track_stops_for_every_subscriber_and_comes_back_from_a_keyframe() {
    let mut w = World::new();
    let a = w.join(false);
    let b = w.join(false);
    w.run(Duration::from_secs(2));
    // Keyframes only when asked: unmuted, the video comes back only if the room asks.
    w.peer(a).key_on_request = true;
    let video = w.peer(a).video.expect("a publishes video").into();
    assert!(
        w.room
            .set_muted(a, video, true, w.now)
            .expect("a is in the room")
    );
    w.run(Duration::from_millis(200));
    let muted_at = w.video_frames(b, a);
    let c = w.join(false);
    w.run(Duration::from_secs(2));
    assert!(
        w.video_frames(b, a) <= muted_at + 1,
        "b still gets a's muted video: {muted_at} then {}",
        w.video_frames(b, a)
    );
    assert_eq!(
        w.video_frames(c, a),
        0,
        "c, who came during the mute, got a's video"
    );
    assert!(w.audio_frames(c, a) > 50, "c lost a's audio");
    assert!(w.events.contains(&RoomEvent::TrackMuted {
        client: a,
        mid: video,
        muted: true
    }));
    let muted_for_b = w
        .layer_changes
        .iter()
        .any(|ch| ch.1 == b && ch.2.publisher == a && ch.2.reason == LayerChangeReason::Muted);
    assert!(muted_for_b, "no Muted layer change for b");

    assert!(
        w.room
            .set_muted(a, video, false, w.now)
            .expect("a is in the room")
    );
    w.run(Duration::from_secs(2));
    for viewer in [b, c] {
        let n = w.video_frames(viewer, a);
        let before = if viewer == b { muted_at } else { 0 };
        assert!(
            n > before + 30,
            "{viewer} did not get a's video back: {before} then {n}"
        );
    }
}
