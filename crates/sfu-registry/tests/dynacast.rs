//! Dynacast: the simulcast layers no subscriber may be sent are paused at the publisher
//! after a hold, the lowest never; a subscriber that wants them again resumes them at once.

mod common;

use std::time::Duration;

use common::World;
use sfu_client::TrackHints;
use sfu_ids::{ClientId, SfuMid};
use sfu_registry::RoomEvent;

/// The layers the room last asked `publisher` to send of `mid`, as rid strings.
fn asked(w: &World, publisher: ClientId, mid: SfuMid) -> Option<Vec<String>> {
    w.events.iter().rev().find_map(|e| match e {
        RoomEvent::PublisherLayers {
            client,
            mid: m,
            active,
        } if *client == publisher && *m == mid => {
            Some(active.iter().map(ToString::to_string).collect())
        }
        _ => None,
    })
}

#[test]
fn layers_nobody_may_receive_pause_and_come_back_when_wanted() {
    let mut w = World::new();
    let a = w.join(true);
    let b = w.join(false);
    let c = w.join(false);
    w.run(Duration::from_secs(2));
    let mid: SfuMid = w.peers[0].video.expect("a publishes video").into();
    assert_eq!(asked(&w, a, mid), None, "every layer is wanted at first");

    let lowest = TrackHints::default().with_max_layer(Some(0));
    for viewer in [b, c] {
        w.room
            .set_track_hints(viewer, a, mid, lowest, w.now)
            .expect("in the room");
    }
    w.run(Duration::from_secs(1));
    assert_eq!(asked(&w, a, mid), None, "paused before the hold ran out");
    w.run(Duration::from_secs(2));
    assert_eq!(asked(&w, a, mid), Some(vec!["q".to_string()]));

    // One viewer may have more again: at once, every layer.
    w.room
        .set_track_hints(c, a, mid, TrackHints::default(), w.now)
        .expect("in the room");
    w.run(Duration::from_millis(600));
    assert_eq!(
        asked(&w, a, mid),
        Some(vec!["q".to_string(), "h".to_string(), "f".to_string()])
    );
}

#[test]
fn a_publisher_alone_keeps_only_its_lowest_layer_until_someone_comes() {
    let mut w = World::new();
    let a = w.join(true);
    w.run(Duration::from_secs(3));
    let mid: SfuMid = w.peers[0].video.expect("a publishes video").into();
    assert_eq!(asked(&w, a, mid), Some(vec!["q".to_string()]));
    let b = w.join(false);
    w.run(Duration::from_millis(600));
    assert_eq!(
        asked(&w, a, mid),
        Some(vec!["q".to_string(), "h".to_string(), "f".to_string()])
    );
    w.run(Duration::from_secs(3));
    assert!(w.video_frames(b, a) > 50, "b gets a's video");
}
