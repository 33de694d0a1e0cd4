//! An application configures a room's peers through `SfuConfig` (the str0m configuration,
//! the layer policy) and follows the room through `RoomHandle::events`: joins and
//! removals here, over the real runtime; tracks in the room tests (publishing_after_join).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sfu_client::BestFitSelector;
use sfu_registry::RoomEvent;
use sfu_udp::{SfuConfig, serve};
use str0m::media::{Direction, MediaKind};
use str0m::{Rtc, RtcConfig};

/// A browser-like offer: audio and video it sends.
fn offer() -> String {
    let mut rtc: Rtc = RtcConfig::new().build(Instant::now());
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    api.apply().expect("an offer").0.to_sdp_string()
}

fn codecs(sdp: &str) -> Vec<String> {
    sdp.lines()
        .filter_map(|l| l.strip_prefix("a=rtpmap:"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|c| c.split('/').next().unwrap_or_default().to_ascii_uppercase())
        .collect()
}

#[tokio::test]
async fn the_config_shapes_every_peer_and_the_events_follow_the_room() {
    let made = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&made);
    let config = SfuConfig::default()
        .with_rtc_config(|c| c.clear_codecs().enable_opus(true, false).enable_vp8(true))
        .with_layer_selector(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            Box::new(BestFitSelector)
        });
    let (room, _addr) = serve(config).await.expect("the room serves");
    let mut events = room.events();

    // Without the edit the answer would also carry H.264, VP9, AV1 and more.
    let a = room.join(offer()).await.expect("a joins");
    let answered = codecs(&a.answer);
    assert!(
        answered
            .iter()
            .all(|c| ["OPUS", "VP8", "RTX"].contains(&c.as_str())),
        "{answered:?}"
    );
    assert!(answered.contains(&"VP8".to_string()), "{answered:?}");
    let b = room.join(offer()).await.expect("b joins");
    assert_eq!(made.load(Ordering::Relaxed), 2, "one layer policy per peer");
    room.leave(a.client).await;

    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !seen.contains(&RoomEvent::ClientRemoved(a.client)) {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("the room's events within 5 s")
            .expect("no event lost");
        seen.push(ev);
    }
    // (Tracks are announced once a peer's connection is up; the room tests follow them.)
    for joined in [a.client, b.client] {
        assert!(seen.contains(&RoomEvent::ClientJoined(joined)), "{seen:?}");
    }
}
