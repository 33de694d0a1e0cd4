//! People coming and going: a peer that stays receives each newcomer, and its SDP stays the
//! size of the current roster (the m-lines of tracks that ended are taken over).

mod common;

use std::time::Duration;

use common::World;

#[test]
fn a_long_meeting_keeps_the_size_of_its_roster() {
    let mut w = World::new();
    let a = w.join(false);
    let b = w.join(false);
    w.run(Duration::from_secs(2));
    for cycle in 0..12 {
        let c = w.join(false);
        w.run(Duration::from_secs(2));
        assert!(
            w.video_frames(a, c) > 10 && w.audio_frames(a, c) > 10,
            "cycle {cycle}: a does not receive the newcomer ({} video, {} audio frames)",
            w.video_frames(a, c),
            w.audio_frames(a, c)
        );
        assert!(
            w.video_frames(c, a) > 10,
            "cycle {cycle}: the newcomer does not receive a"
        );
        let before = w.video_frames(a, b);
        let now = w.now;
        w.room.remove(c, now);
        w.vanish(c);
        w.run(Duration::from_secs(1));
        assert!(
            w.video_frames(a, b) > before + 10,
            "cycle {cycle}: a lost b's media"
        );
    }
    let offers = &w.peer(a).offers;
    // a's own two m-lines and its data channel's, b's two, and two taken over cycle
    // after cycle.
    let (first_bytes, first_lines) = offers[1];
    let (last_bytes, last_lines) = *offers.last().unwrap();
    assert_eq!(first_lines, 7, "offers: {offers:?}");
    assert_eq!(last_lines, first_lines, "offers: {offers:?}");
    assert!(
        last_bytes < first_bytes + first_bytes / 10,
        "the offer grew from {first_bytes} to {last_bytes} bytes"
    );
    assert_eq!(w.room.client(a).unwrap().subscribed_track_count(), 2);
}
