//! The room names its active speaker from the audio levels publishers send, and hands over
//! when someone else speaks.

mod common;

use std::time::Duration;

use common::World;

#[test]
fn the_room_announces_who_speaks_and_hands_over() {
    let mut w = World::new();
    let a = w.join(false);
    let b = w.join(false);
    let c = w.join(false);
    for p in &mut w.peers {
        p.audio_level = Some(-127);
    }
    w.peers[1].audio_level = Some(-25);
    w.run(Duration::from_secs(4));
    assert_eq!(w.speakers.last().map(|s| s.1), Some(b), "{:?}", w.speakers);
    // b falls silent, c speaks.
    w.peers[1].audio_level = Some(-127);
    w.peers[2].audio_level = Some(-25);
    let switch = w.now;
    w.run(Duration::from_secs(4));
    let (at, who) = *w.speakers.last().expect("a speaker");
    assert_eq!(who, c, "{:?}", w.speakers);
    let took = at.saturating_duration_since(switch);
    assert!(
        took <= Duration::from_millis(1500),
        "handover took {took:?}"
    );
    assert!(!w.speakers.iter().any(|s| s.1 == a), "a never spoke");
    // What a newcomer is told.
    assert_eq!(w.room.active_speaker(), Some(c));
    w.room.remove(c, w.now);
    assert_eq!(w.room.active_speaker(), None, "the speaker left");
}
