//! A peer that disappears without a word is removed; the others keep their media and drop
//! its tracks.

mod common;

use std::time::Duration;

use common::World;
use sfu_registry::RoomEvent;

#[test]
fn vanished_peer_is_removed_and_others_keep_flowing() {
    let mut w = World::new();
    let a = w.join(false);
    let b = w.join(false);
    let c = w.join(false);
    w.run(Duration::from_secs(3));
    assert_eq!(w.room.client(a).unwrap().subscribed_track_count(), 4);

    w.vanish(c);
    // ICE notices the silence, then the disconnect timeout closes the peer.
    w.run(Duration::from_secs(25));
    assert_eq!(w.room.len(), 2, "the vanished peer is still in the room");
    assert_eq!(w.room.stats().clients_removed, 1);

    let before = (w.video_frames(a, b), w.video_frames(b, a));
    w.run(Duration::from_secs(2));
    assert!(w.video_frames(a, b) > before.0 + 10);
    assert!(w.video_frames(b, a) > before.1 + 10);
    // c's two tracks were stopped and renegotiated away.
    assert_eq!(w.room.client(a).unwrap().subscribed_track_count(), 2);
    assert_eq!(w.room.client(b).unwrap().subscribed_track_count(), 2);
}

#[test]
fn explicit_remove_notifies_and_renegotiates() {
    let mut w = World::new();
    let a = w.join(false);
    let b = w.join(false);
    w.run(Duration::from_secs(2));
    let now = w.now;
    assert!(w.room.remove(b, now).is_some());
    w.vanish(b);
    let mut removed = false;
    let mut offered = false;
    while let Some(ev) = w.room.poll_event() {
        match ev {
            RoomEvent::ClientRemoved(id) => removed |= id == b,
            RoomEvent::Offer { client, .. } => offered |= client == a,
            _ => {}
        }
    }
    assert!(removed);
    assert!(offered, "a must get an offer stopping b's tracks");
    assert!(w.room.remove(b, now).is_none());
}
