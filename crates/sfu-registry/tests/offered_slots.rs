//! A viewer that takes no offers (a WHEP player) receives the room's tracks on the
//! receiving m-lines of its own offer: tracks fill them in the order they opened, a track
//! that ends frees its m-line for the next one, and the viewer is never sent an offer.

mod common;

use std::time::Duration;

use common::World;

fn slot_frames(w: &mut World, viewer: sfu_ids::ClientId, kind_video: bool) -> u64 {
    let p = w.peer(viewer);
    p.received
        .values()
        .map(|c| if kind_video { c.1 } else { c.0 })
        .sum()
}

#[test]
fn a_viewer_receives_on_its_own_m_lines_and_is_never_sent_an_offer() {
    let mut w = World::new();
    w.join(false);
    w.join(true);
    w.run(Duration::from_secs(2));
    let v = w.join_viewer(1, 1);
    w.run(Duration::from_secs(4));
    let (audio, video) = (slot_frames(&mut w, v, false), slot_frames(&mut w, v, true));
    assert!(video > 50, "the viewer decoded {video} video frames");
    assert!(audio > 100, "the viewer got {audio} audio frames");
    assert!(
        w.peer(v).offers.is_empty(),
        "the viewer was sent {} offers",
        w.peer(v).offers.len()
    );
    // One video m-line, one track on it: the second publisher's video waits.
    let received: Vec<_> = w.peer(v).received.keys().cloned().collect();
    assert_eq!(received.len(), 2, "{received:?}");
}

#[test]
fn a_track_that_ends_frees_its_m_line_for_the_next_one() {
    let mut w = World::new();
    let a = w.join(false);
    w.join(false);
    w.run(Duration::from_secs(2));
    let v = w.join_viewer(1, 1);
    w.run(Duration::from_secs(3));
    w.peer(v).video_rtp.clear();
    let before = slot_frames(&mut w, v, true);
    assert!(before > 30, "the viewer decoded {before} frames of a");
    let now = w.now;
    w.room.remove(a, now).expect("a is in the room");
    w.vanish(a);
    w.run(Duration::from_secs(3));
    let after = slot_frames(&mut w, v, true);
    assert!(
        after > before + 50,
        "the next publisher's video did not take the m-line: {before} then {after} frames"
    );
    // One RTP stream on the m-line across the handover: the same SSRC, and sequence
    // numbers that carry on.
    let rtp = &w.peer(v).video_rtp;
    let ssrcs: std::collections::BTreeSet<u32> = rtp.iter().map(|r| r.0).collect();
    assert_eq!(ssrcs.len(), 1, "SSRCs on the m-line: {ssrcs:?}");
    let worst_gap = rtp
        .windows(2)
        .map(|p| p[1].1.wrapping_sub(p[0].1))
        .max()
        .unwrap_or(0);
    assert!(
        worst_gap <= 2,
        "the sequence numbers jump by {worst_gap} on the m-line"
    );
    assert!(w.peer(v).offers.is_empty(), "the viewer was sent an offer");
}

#[test]
fn a_viewer_that_joins_first_receives_the_publisher_that_comes_later() {
    let mut w = World::new();
    let v = w.join_viewer(1, 2);
    w.run(Duration::from_secs(1));
    w.join(false);
    w.run(Duration::from_secs(3));
    let (audio, video) = (slot_frames(&mut w, v, false), slot_frames(&mut w, v, true));
    assert!(
        video > 50 && audio > 100,
        "{video} video, {audio} audio frames"
    );
    assert!(w.peer(v).offers.is_empty(), "the viewer was sent an offer");
}
