//! An application chooses which tracks a subscriber receives: an unsubscribed track
//! forwards nothing, and subscribed again it comes back.

mod common;

use std::time::Duration;

use common::World;

#[test]
fn an_unsubscribed_track_stops_and_comes_back() {
    let mut w = World::new();
    let a = w.join(false);
    let b = w.join(false);
    let c = w.join(false);
    w.run(Duration::from_secs(3));
    let video_mid = w.peers[0].video.expect("a publishes video").into();
    assert!(
        w.room
            .set_subscribed(c, a, video_mid, false, w.now)
            .expect("c is in the room"),
        "c receives a's video"
    );
    w.run(Duration::from_millis(500));
    let before = (
        w.video_frames(c, a),
        w.video_frames(b, a),
        w.audio_frames(c, a),
    );
    w.run(Duration::from_secs(3));
    assert_eq!(w.video_frames(c, a), before.0, "c still receives a's video");
    assert!(w.video_frames(b, a) > before.1 + 50, "b lost a's video");
    assert!(w.audio_frames(c, a) > before.2 + 100, "c lost a's audio");

    w.room
        .set_subscribed(c, a, video_mid, true, w.now)
        .expect("c is in the room");
    let resumed = w.video_frames(c, a);
    w.run(Duration::from_secs(3));
    assert!(
        w.video_frames(c, a) > resumed + 50,
        "a's video did not come back"
    );
    let reasons: Vec<_> = w
        .layer_changes
        .iter()
        .filter(|ch| ch.1 == c && ch.2.publisher == a)
        .map(|ch| ch.2.reason)
        .collect();
    assert!(
        reasons.contains(&sfu_client::LayerChangeReason::Unsubscribed)
            && reasons.contains(&sfu_client::LayerChangeReason::Subscribed),
        "{reasons:?}"
    );
}

#[test]
fn a_hint_caps_the_layer_whatever_the_budget() {
    let mut w = World::new();
    // No estimate: every subscriber's budget is unbounded, so the layers are the hints'
    // alone (an estimate that dips early would hold `c` below the top for seconds).
    w.estimator = sfu_client::EstimatorKind::Off;
    let a = w.join(true);
    let b = w.join(false);
    let c = w.join(false);
    w.run(Duration::from_secs(2));
    let video_mid = w.peers[0].video.expect("a publishes video").into();
    let lowest = sfu_client::TrackHints::default().with_max_layer(Some(0));
    assert!(
        w.room
            .set_track_hints(b, a, video_mid, lowest, w.now)
            .expect("b is in the room")
    );
    w.run(Duration::from_secs(6));
    let last_change = |w: &World, who| {
        w.layer_changes
            .iter()
            .rev()
            .find(|ch| ch.1 == who && ch.2.publisher == a && ch.2.layer.is_some())
            .map(|ch| (ch.2.layer.map(|r| r.to_string()), ch.2.reason))
    };
    let (b_layer, b_reason) = last_change(&w, b).expect("b received a's video");
    assert_eq!(
        b_layer.as_deref(),
        Some("q"),
        "b's hint is the lowest layer"
    );
    assert_eq!(
        b_reason,
        sfu_client::LayerChangeReason::Hints,
        "b's switch is reported as the hint's doing"
    );
    let (c_layer, _) = last_change(&w, c).expect("c received a's video");
    assert_eq!(c_layer.as_deref(), Some("f"), "c has no hint");
    assert!(w.video_frames(b, a) > 100, "b still receives a's video");
}

#[test]
fn a_subscriber_that_wants_no_video_is_not_probed() {
    let mut w = World::new();
    let a = w.join(true);
    let b = w.join(true);
    let c = w.join(false);
    let p = w.peer(c);
    p.audio = None;
    p.video = None;
    w.run(Duration::from_secs(6));
    // Every tile of c out of sight: nothing to step up to, so nothing to probe for.
    for publisher in [a, b] {
        let mid = w.peer(publisher).video.expect("it publishes video").into();
        w.room
            .set_subscribed(c, publisher, mid, false, w.now)
            .expect("c is in the room");
    }
    w.run(Duration::from_secs(1));
    let (video, rtx) = (w.peer(c).video_rtp.len(), w.peer(c).rtx_packets);
    // Longer than the 5 s between str0m's periodic probes.
    let window = 11;
    w.run(Duration::from_secs(window));
    assert_eq!(
        w.peer(c).video_rtp.len(),
        video,
        "video after unsubscribing"
    );
    // str0m keeps a padding floor of 50 kbit/s whatever the minimum asked for (documented
    // on `Bwe::set_bitrate`), so with the audio below it a padding packet may come every
    // ~130 ms. What must stop with no video wanted is probing: str0m's periodic probe of an
    // application-limited sender sends a cluster of padding packets at twice the desired
    // rate, back to back.
    let start = w.start;
    let late: Vec<_> = w.peer(c).rtx_log[rtx as usize..]
        .iter()
        .map(|&(at, seq, padding, bytes)| {
            (at.duration_since(start).as_millis(), seq, padding, bytes)
        })
        .collect();
    let closest = late.windows(2).map(|p| p[1].0 - p[0].0).min();
    assert!(
        closest.is_none_or(|ms| ms >= 50) && late.len() as u64 <= 10 * window,
        "probing with no video wanted: (ms, seq, padding bit, bytes) {late:?}"
    );
    assert!(w.audio_frames(c, a) > 100, "audio goes on");
}
