//! A peer changes what it publishes after joining, with offers of its own: a track added
//! mid-call (a screen share) reaches the others, and stopping it closes it for them. An
//! offer of the peer's that crosses one of the room's wins, and the room's changes come
//! again in a later offer. An ICE restart keeps the media going.

mod common;

use std::time::Duration;

use common::World;
use sfu_ids::SfuMediaKind;
use sfu_registry::RoomEvent;
use str0m::media::{Direction, MediaKind};

#[test]
fn a_track_added_mid_call_reaches_the_others_and_stopping_it_closes_it() {
    let mut w = World::new();
    let a = w.join(false);
    let b = w.join(false);
    w.run(Duration::from_secs(2));
    let offers_before = w.peer(b).offers.len();

    let mut screen = None;
    w.peer_offers(a, |api| {
        screen = Some(api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None));
    });
    let screen = screen.expect("an m-line");
    w.peer(a).screen = Some(screen);
    w.run(Duration::from_secs(3));
    let shown = w.track_frames(b, a, screen);
    assert!(shown > 50, "b decoded {shown} frames of a's screen share");
    assert!(
        w.peer(b).offers.len() > offers_before,
        "b was not offered the new track"
    );
    let camera = w.peer(a).video.expect("a's camera");
    let camera_frames = w.track_frames(b, a, camera);
    assert!(camera_frames > 50, "b lost a's camera: {camera_frames}");

    // a stops sharing: the m-line goes inactive in its next offer.
    w.peer_offers(a, |api| api.set_direction(screen, Direction::Inactive));
    w.peer(a).screen = None;
    w.run(Duration::from_secs(1));
    let receiving: Vec<_> = w.peer(b).track_of.values().cloned().collect();
    assert!(
        !receiving.contains(&(a.to_string(), screen.to_string())),
        "b is still offered a's stopped track: {receiving:?}"
    );
    let stopped = w.track_frames(b, a, screen);
    w.run(Duration::from_secs(2));
    assert_eq!(w.track_frames(b, a, screen), stopped);
    assert!(
        w.track_frames(b, a, camera) > camera_frames + 50,
        "a's camera stopped at b"
    );
    // The application heard of both.
    let screen = screen.into();
    assert!(w.events.iter().any(|e| matches!(
        e,
        RoomEvent::TrackPublished { client, mid, kind: SfuMediaKind::Video } if *client == a && *mid == screen
    )));
    assert!(w.events.contains(&RoomEvent::TrackUnpublished {
        client: a,
        mid: screen
    }));
}

#[test]
fn an_offer_of_the_peer_that_crosses_the_rooms_wins_and_the_room_offers_again() {
    let mut w = World::new();
    let a = w.join(false);
    let b = w.join(false);
    w.run(Duration::from_secs(2));
    // The room offers b the newcomer c's tracks; b has not answered when its own offer
    // (a screen share) goes out.
    w.peer(b).hold_offers = true;
    let c = w.join(false);
    w.run(Duration::from_millis(200));
    let held: Vec<u64> = w.peer(b).held.iter().map(|o| o.seq).collect();
    assert!(!held.is_empty(), "the room made b no offer for c");
    w.peer(b).hold_offers = false;
    let mut screen = None;
    let superseded = w
        .peer_offers(b, |api| {
            screen = Some(api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None));
        })
        .superseded;
    assert!(
        held.iter().all(|seq| *seq <= superseded),
        "held offers {held:?}, superseded up to {superseded}"
    );
    w.peer(b).held.clear();
    w.peer(b).screen = screen;
    w.run(Duration::from_secs(3));
    assert!(
        w.video_frames(b, c) > 50,
        "c's video never reached b after the crossing: {} frames",
        w.video_frames(b, c)
    );
    let screen = screen.expect("an m-line");
    for viewer in [a, c] {
        let n = w.track_frames(viewer, b, screen);
        assert!(n > 50, "{viewer} decoded {n} frames of b's screen share");
    }
}

#[test]
fn an_ice_restart_keeps_the_media_going() {
    let mut w = World::new();
    let a = w.join(false);
    let b = w.join(false);
    w.run(Duration::from_secs(2));
    let ufrag = w.peer(a).sfu_ufrag.clone();
    let accepted = w.peer_offers(a, |api| {
        api.ice_restart(true);
    });
    // The SFU answered with new credentials of its own.
    let restarted = accepted
        .answer
        .lines()
        .find_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:"))
        .unwrap_or_default();
    assert!(
        !restarted.is_empty() && restarted != ufrag,
        "no new ICE credentials"
    );
    let before = (w.video_frames(b, a), w.video_frames(a, b));
    w.run(Duration::from_secs(3));
    assert!(
        w.video_frames(b, a) > before.0 + 50 && w.video_frames(a, b) > before.1 + 50,
        "media stopped after the ICE restart: {before:?} then {:?}",
        (w.video_frames(b, a), w.video_frames(a, b))
    );
}
