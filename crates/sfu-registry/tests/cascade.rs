//! Rooms that span SFU nodes: relay connections carry each node's tracks to the others,
//! never back, and keyframe requests travel upstream to the publisher.

mod common;

use std::time::Duration;

use common::cascade::Cascade;
use sfu_ids::ClientId;
use str0m::media::{KeyframeRequestKind, MediaKind};

/// Receiving m-lines of `peer` on `node` that carry a track of `publisher`.
fn tracks_from(c: &mut Cascade, node: usize, peer: ClientId, publisher: ClientId) -> usize {
    let publisher = publisher.to_string();
    c.nodes[node]
        .peer(peer)
        .track_of
        .values()
        .filter(|(p, _)| *p == publisher)
        .count()
}

#[test]
fn two_nodes_carry_each_others_tracks_and_keyframe_requests() {
    let mut c = Cascade::new(2);
    let a1 = c.nodes[0].join(false);
    let b1 = c.nodes[1].join(false);
    let b2 = c.nodes[1].join(false);
    let (relay_on_a, relay_on_b) = c.link(0, 1);
    c.run(Duration::from_secs(4));

    // a1's audio and video reach b1 and b2 through the relay, and b2's reach a1.
    for b in [b1, b2] {
        assert_eq!(tracks_from(&mut c, 1, b, relay_on_b), 2);
        let audio = c.nodes[1].audio_frames(b, relay_on_b);
        let video = c.nodes[1].video_frames(b, relay_on_b);
        assert!(
            audio > 100 && video > 50,
            "{b}: {audio} audio, {video} video"
        );
    }
    assert_eq!(tracks_from(&mut c, 0, a1, relay_on_a), 4);
    let video = c.nodes[0].video_frames(a1, relay_on_a);
    assert!(video > 100, "a1 got {video} video frames from b1 and b2");
    // Locals still see each other directly.
    assert!(c.nodes[1].video_frames(b1, b2) > 50);
    // b1 and b2 asked for a keyframe as a1's video opened: through the relay to a1.
    assert!(c.nodes[0].peer(a1).keyframe_requests >= 1);

    // A subscriber that loses its decoder state asks again (a PLI), and a1 hears it.
    let a_requests = c.nodes[0].peer(a1).keyframe_requests;
    let relayed = relay_on_b.to_string();
    let p = c.nodes[1].peer(b1);
    let mid = p
        .track_of
        .iter()
        .filter(|(_, (publisher, _))| *publisher == relayed)
        .map(|(m, _)| *m)
        .find(|m| p.rtc.media(*m).map(|x| x.kind()) == Some(MediaKind::Video))
        .expect("b1 receives a relayed video track");
    c.run(Duration::from_millis(600));
    c.nodes[1]
        .peer(b1)
        .rtc
        .direct_api()
        .stream_rx_by_mid(mid, None)
        .expect("a receive stream")
        .request_keyframe(KeyframeRequestKind::Pli);
    c.run(Duration::from_millis(500));
    assert!(c.nodes[0].peer(a1).keyframe_requests > a_requests);

    // a1 leaves: its tracks end on node B too.
    let now = c.nodes[0].now;
    c.nodes[0].room.remove(a1, now);
    c.nodes[0].vanish(a1);
    c.run(Duration::from_secs(2));
    for b in [b1, b2] {
        assert_eq!(tracks_from(&mut c, 1, b, relay_on_b), 0);
    }
    assert_eq!(c.nodes[1].room.len(), 3, "b1, b2 and the relay stay");
}

#[test]
fn a_triangle_delivers_every_track_once() {
    let mut c = Cascade::new(3);
    let peers: Vec<ClientId> = (0..3).map(|n| c.nodes[n].join(false)).collect();
    c.link(0, 1);
    c.link(1, 2);
    c.link(0, 2);
    c.run(Duration::from_secs(4));
    for (n, &p) in peers.iter().enumerate() {
        let lines = c.nodes[n].peer(p).track_of.len();
        assert_eq!(
            lines, 4,
            "node {n}'s peer receives the two others' audio and video"
        );
        let video: u64 = c.nodes[n].peer(p).track_frames.values().sum();
        assert!(video > 100, "node {n}'s peer decoded {video} video frames");
    }
    // No relay carries a track back: each relay client publishes the far node's own two.
    for n in 0..3 {
        let room = &c.nodes[n].room;
        for id in room.client_ids().filter(|id| id.get() >= 1000) {
            let published = room.client(id).expect("relay").published_tracks().count();
            assert_eq!(published, 2, "relay {id} on node {n} publishes {published}");
        }
    }
}

#[test]
fn a_line_of_nodes_never_loops() {
    // A – B – C: B's peer sees both ends; the ends see B's peer only, since a track that
    // came over a relay never goes out over another.
    let mut c = Cascade::new(3);
    let peers: Vec<ClientId> = (0..3).map(|n| c.nodes[n].join(false)).collect();
    c.link(0, 1);
    c.link(1, 2);
    c.run(Duration::from_secs(3));
    assert_eq!(c.nodes[1].peer(peers[1]).track_of.len(), 4);
    assert_eq!(c.nodes[0].peer(peers[0]).track_of.len(), 2);
    assert_eq!(c.nodes[2].peer(peers[2]).track_of.len(), 2);
}

/// The layer (0 = lowest) of the last video frame `peer` of `node` received, from its size.
fn last_layer(c: &mut Cascade, node: usize, peer: ClientId) -> Option<usize> {
    let size = c.nodes[node].peer(peer).frames.last()?.len();
    Some(size / 300 - 1)
}

#[test]
fn simulcast_crosses_the_relay_whole_and_each_far_subscriber_picks_its_layer() {
    let mut c = Cascade::new(2);
    c.nodes[1].estimator = sfu_client::EstimatorKind::Off;
    let a1 = c.nodes[0].join(true);
    let full = c.nodes[1].join_viewer(1, 1);
    let capped = c.nodes[1].join_viewer(1, 1);
    let (_, relay_on_b) = c.link(0, 1);
    for v in [full, capped] {
        c.nodes[1].peer(v).record_frames = true;
    }
    c.run(Duration::from_secs(2));
    c.nodes[1]
        .room
        .set_available_bitrate(capped, Some(sfu_client::Bitrate::from_kbps(110)))
        .expect("capped is in the room");
    c.run(Duration::from_secs(5));
    // The relay brings all three layers; node B's subscribers take the one that fits.
    let published = c.nodes[1].room.client(relay_on_b).expect("relay");
    let video = published
        .published_tracks()
        .find(|t| t.kind == sfu_ids::SfuMediaKind::Video)
        .expect("a relayed video track")
        .clone();
    assert_eq!(video.rids.len(), 3);
    assert_eq!(last_layer(&mut c, 1, full), Some(2));
    assert_eq!(last_layer(&mut c, 1, capped), Some(0));

    // Nobody on B may be sent the top layer: B's dynacast tells the relay, the relay
    // stops carrying it, and with no one else on A wanting it, a1 is told to stop it.
    let hints = sfu_client::TrackHints::default().with_max_layer(Some(1));
    let now = c.nodes[1].now;
    for v in [full, capped] {
        c.nodes[1]
            .room
            .set_track_hints(v, relay_on_b, video.mid, hints, now)
            .expect("in the room");
    }
    // Each dynacast holds a layer for 2 s before pausing it: B's, then A's.
    c.run(Duration::from_secs(7));
    let asked = c.nodes[0].events.iter().rev().find_map(|e| match e {
        sfu_registry::RoomEvent::PublisherLayers { client, active, .. } if *client == a1 => {
            Some(active.iter().map(ToString::to_string).collect::<Vec<_>>())
        }
        _ => None,
    });
    assert_eq!(asked, Some(vec!["q".to_string(), "h".to_string()]));
    assert_eq!(last_layer(&mut c, 1, full), Some(1));
}

#[test]
fn a_relay_takes_over_the_m_lines_of_ended_tracks() {
    let mut c = Cascade::new(2);
    let b1 = c.nodes[1].join(false);
    let (_, relay_on_b) = c.link(0, 1);
    let mut publishers = Vec::new();
    for _ in 0..4 {
        let a = c.nodes[0].join(false);
        c.run(Duration::from_secs(2));
        let now = c.nodes[0].now;
        c.nodes[0].room.remove(a, now);
        c.nodes[0].vanish(a);
        publishers.push(a);
    }
    let last = c.nodes[0].join(false);
    c.run(Duration::from_secs(3));
    // One data channel and one audio and one video m-line, taken over by each newcomer:
    // four publishers that came and went did not add eight m-lines.
    let lines = c.relays[0].max_lines;
    assert!(lines <= 5, "the relay's offers grew to {lines} m-lines");
    // The last one's tracks still reach b1 across the taken-over m-lines.
    assert_eq!(tracks_from(&mut c, 1, b1, relay_on_b), 2);
    let before = c.nodes[1].video_frames(b1, relay_on_b);
    c.run(Duration::from_secs(1));
    assert!(c.nodes[1].video_frames(b1, relay_on_b) > before + 20);
    assert_eq!(c.nodes[0].room.len(), 2, "{last} and the relay");
}
