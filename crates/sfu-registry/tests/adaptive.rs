//! Each subscriber gets what its own link carries, decided from its own estimate.
//!
//! One publisher sends three simulcast layers (100 kbit/s, 500 kbit/s, 1.5 Mbit/s) and audio;
//! two subscribers sit behind 3 Mbit/s links (20 ms delay, 300 ms drop-tail queue). After
//! 20 s, subscriber A's link drops to 0.4 Mbit/s for 15 s, then comes back. A must be on the
//! lowest layer within 2 s of the drop and keep receiving video; B must not notice.
//!
//! The same scenario runs for every estimator and prints an A/B table
//! (`cargo test -p sfu-registry --test adaptive -- --nocapture`); the assertions hold for
//! the default estimator.

mod common;

use std::time::{Duration, Instant};

use common::{Link, World};
use sfu_client::{Bitrate, EstimatorKind, LayerChangeReason, TrackPriority};
use sfu_ids::ClientId;

/// Frame bytes per layer at 25 frames/s: 100 kbit/s, 500 kbit/s, 1.5 Mbit/s.
fn layered(_n: u64, layer: usize) -> usize {
    [500, 2500, 7500][layer.min(2)]
}

const HIGH: u64 = 3_000_000;
const LOW: u64 = 400_000;

#[derive(Debug)]
struct Outcome {
    kind: EstimatorKind,
    /// From the start until A first receives the top layer.
    a_top: Option<Duration>,
    /// From the drop until A is on the lowest layer (or paused).
    a_down: Option<Duration>,
    /// A's video frames during the low period.
    a_frames_low: u64,
    /// From the recovery until A is back on the top layer.
    a_up: Option<Duration>,
    /// Layer changes of B from the drop to the end.
    b_changes: usize,
    /// B's video frames during the low period.
    b_frames_low: u64,
    /// Packets A's bottleneck dropped while it was low.
    a_link_drops: u64,
}

fn first_change(
    w: &World,
    client: ClientId,
    after: Instant,
    pred: impl Fn(&sfu_client::LayerChange) -> bool,
) -> Option<Duration> {
    w.layer_changes
        .iter()
        .find(|(t, c, ch)| *t >= after && *c == client && pred(ch))
        .map(|(t, _, _)| *t - after)
}

fn scenario(kind: EstimatorKind) -> Outcome {
    let mut w = World::new();
    w.estimator = kind;
    let publisher = w.join(true);
    {
        // Like a browser: keyframes when asked.
        let p = w.peer(publisher);
        p.layer_bytes = layered;
        p.key_on_request = true;
    }
    let a = w.join(false);
    let b = w.join(false);
    w.peer(a).downlink = Some(Link::new(HIGH));
    w.peer(b).downlink = Some(Link::new(HIGH));
    let start = w.now;
    w.run(Duration::from_secs(20));
    let is_top = |ch: &sfu_client::LayerChange| ch.layer.is_some_and(|r| r.as_str() == "f");
    let a_top = first_change(&w, a, start, is_top);

    let drop_at = w.now;
    let (a0, b0) = (w.video_frames(a, publisher), w.video_frames(b, publisher));
    w.peer(a).downlink.as_mut().expect("link").rate_bps = LOW;
    let drops_before = w.peer(a).downlink.as_ref().expect("link").dropped;
    w.run(Duration::from_secs(15));
    let a_down = first_change(&w, a, drop_at, |ch| {
        ch.paused || ch.layer.is_some_and(|r| r.as_str() == "q")
    });
    let a_frames_low = w.video_frames(a, publisher) - a0;
    let b_frames_low = w.video_frames(b, publisher) - b0;
    let a_link_drops = w.peer(a).downlink.as_ref().expect("link").dropped - drops_before;

    let up_at = w.now;
    w.peer(a).downlink.as_mut().expect("link").rate_bps = HIGH;
    w.run(Duration::from_secs(25));
    let a_up = first_change(&w, a, up_at, is_top);
    let b_changes = w
        .layer_changes
        .iter()
        .filter(|(t, c, ch)| *t >= drop_at && *c == b && ch.reason != LayerChangeReason::Started)
        .count();
    Outcome {
        kind,
        a_top,
        a_down,
        a_frames_low,
        a_up,
        b_changes,
        b_frames_low,
        a_link_drops,
    }
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("never".into(), |d| format!("{:.2} s", d.as_secs_f64()))
}

#[test]
fn a_subscriber_whose_link_drops_goes_down_within_two_seconds_and_nobody_else_notices() {
    let mut kinds = vec![EstimatorKind::default()];
    for k in [
        EstimatorKind::GoogCc,
        EstimatorKind::Kalman,
        EstimatorKind::Str0m,
    ] {
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    let outcomes: Vec<Outcome> = kinds.into_iter().map(scenario).collect();
    println!(
        "| estimator | A on top layer | A down after 3 -> 0.4 Mbit/s | A frames while low (15 s) | A link drops | A back on top after 0.4 -> 3 | B changes | B frames while A low |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for o in &outcomes {
        println!(
            "| {:?} | {} | {} | {} | {} | {} | {} | {} |",
            o.kind,
            secs(o.a_top),
            secs(o.a_down),
            o.a_frames_low,
            o.a_link_drops,
            secs(o.a_up),
            o.b_changes,
            o.b_frames_low
        );
    }
    let o = &outcomes[0];
    assert_eq!(o.kind, EstimatorKind::default());
    assert!(o.a_top.is_some(), "A never reached the top layer: {o:?}");
    assert!(
        o.a_down.is_some_and(|d| d <= Duration::from_secs(2)),
        "A did not go down within 2 s: {o:?}"
    );
    // 25 frames/s for 15 s; the switch itself costs a few.
    assert!(
        o.a_frames_low > 300,
        "A's video stalled on the low link: {o:?}"
    );
    assert!(o.a_up.is_some(), "A did not climb back: {o:?}");
    assert_eq!(o.b_changes, 0, "B was disturbed: {o:?}");
    assert!(o.b_frames_low > 360, "B's video suffered: {o:?}");
}

#[test]
fn a_short_budget_goes_to_the_track_the_application_ranks_first() {
    let mut w = World::new();
    let first = w.join(true);
    let second = w.join(true);
    for p in [first, second] {
        w.peer(p).layer_bytes = layered;
    }
    let subscriber = w.join(false);
    w.run(Duration::from_secs(3));
    let video_mid = |w: &World, publisher: ClientId| {
        w.room
            .client(publisher)
            .and_then(|c| {
                c.published_tracks()
                    .find(|t| t.kind == sfu_ids::SfuMediaKind::Video)
                    .map(|t| t.mid)
            })
            .expect("the publisher has a video track")
    };
    let mid = video_mid(&w, second);
    let found = w
        .room
        .set_track_priority(subscriber, second, mid, TrackPriority::ScreenShare, w.now)
        .unwrap();
    assert!(found);
    // Two audio streams (50 kbit/s each on the wire) and one lowest layer (113 kbit/s)
    // fit, a second lowest layer does not, not even with the 10 % slack kept layers get.
    w.room
        .set_available_bitrate(subscriber, Some(Bitrate::from_kbps(280)))
        .unwrap();
    w.run(Duration::from_secs(4));
    let (a, b) = (
        w.video_frames(subscriber, first),
        w.video_frames(subscriber, second),
    );
    w.run(Duration::from_secs(2));
    assert_eq!(
        w.video_frames(subscriber, first),
        a,
        "the camera was not paused"
    );
    assert!(
        w.video_frames(subscriber, second) > b + 40,
        "the screen share did not keep flowing"
    );
}
