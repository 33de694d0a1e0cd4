//! End-to-end encrypted media (SFrame, RFC 9605) passes the room untouched: simulcast
//! layers switch only at the keyframes that frame marking marks, never at ciphertext that
//! happens to look like a VP8 keyframe tag, and the publisher's key epochs are reported.

mod common;

use std::time::Duration;

use common::World;
use sfu_client::{Bitrate, EstimatorKind, PayloadEncryption};
use sfu_ids::{ClientId, KeyEpoch};
use sfu_registry::RoomEvent;
use sfu_sframe::{KeyId, SframeHeader};

/// Sender 1's key ids: the low byte is the epoch.
const EPOCH_1: u64 = 0x0101;
const EPOCH_2: u64 = 0x0102;

/// A publisher (3-layer simulcast, frame marking, SFrame payloads under `EPOCH_1`) and a
/// watcher recording every frame, in a room whose publishers are `encryption`.
fn room(encryption: PayloadEncryption) -> (World, ClientId, ClientId) {
    let mut w = World::new();
    // No estimate: only the application's cap moves the watcher's layer.
    w.estimator = EstimatorKind::Off;
    w.encryption = encryption;
    w.frame_marking = true;
    let publisher = w.join(true);
    w.peers[0].sframe_kid = Some(EPOCH_1);
    w.frame_marking = false;
    let watcher = w.join(false);
    let p = w.peer(watcher);
    p.audio = None;
    p.video = None;
    p.record_frames = true;
    (w, publisher, watcher)
}

/// When each of `who`'s layer switches (not pauses) happened, in ms after the world
/// started, modulo the publisher's 1 s keyframe interval. Keyframes leave the publisher
/// 40 ms into every second (frames 2, 52, …; a frame every 40 ms), and its pacer may
/// hold a packet for a step: a switch at a keyframe falls in 40..80.
fn switch_phases(w: &World, who: ClientId) -> Vec<u128> {
    w.layer_changes
        .iter()
        .filter(|ch| ch.1 == who && !ch.2.paused && ch.2.layer.is_some())
        .map(|ch| (ch.0 - w.start).as_millis() % 1000)
        .collect()
}

/// Runs 3 s, caps the watcher below the top layer for 3 s, and lifts the cap again.
fn switch_down_and_up(w: &mut World, watcher: ClientId) {
    w.run(Duration::from_secs(3));
    w.room
        .set_available_bitrate(watcher, Some(Bitrate::from_kbps(150)))
        .expect("the watcher is in the room");
    w.run(Duration::from_secs(3));
    w.room
        .set_available_bitrate(watcher, None)
        .expect("the watcher is in the room");
    w.run(Duration::from_secs(5));
}

#[test]
fn encrypted_frames_pass_untouched_and_switch_only_at_marked_keyframes() {
    let (mut w, publisher, watcher) = room(PayloadEncryption::Sframe { epoch_bits: 8 });
    switch_down_and_up(&mut w, watcher);

    let phases = switch_phases(&w, watcher);
    assert!(phases.len() >= 3, "started, down and up: {phases:?}");
    assert!(phases.iter().all(|p| (40..80).contains(p)), "{phases:?}");
    assert!(w.video_frames(watcher, publisher) > 200);

    let p = w.peer(watcher);
    assert!(!p.frames.is_empty());
    for f in &p.frames {
        let (header, len) = SframeHeader::parse(f).expect("an SFrame header");
        assert_eq!(header.kid, KeyId(EPOCH_1));
        assert!([300, 600, 900].contains(&f.len()), "{} bytes", f.len());
        assert!(
            f[len..].iter().all(|&b| b == 0x9d),
            "the ciphertext changed"
        );
    }
}

#[test]
fn the_same_stream_taken_for_clear_vp8_misleads_the_room() {
    // Every even config byte reads as a keyframe tag: every frame of every layer looks
    // like a keyframe, keyframes do not count towards a layer's steady rate, so the
    // layers seem to cost nothing and the cap never moves the watcher off the top layer.
    // (This is the control: the encrypted run above switches down.)
    let (mut w, _, watcher) = room(PayloadEncryption::None);
    switch_down_and_up(&mut w, watcher);
    assert_eq!(switch_phases(&w, watcher).len(), 1, "only the start");
}

#[test]
fn a_new_key_epoch_is_reported_once_and_a_late_old_one_not_at_all() {
    let (mut w, publisher, _) = room(PayloadEncryption::Sframe { epoch_bits: 8 });
    w.run(Duration::from_secs(2));
    w.peer(publisher).sframe_kid = Some(EPOCH_2);
    w.run(Duration::from_secs(1));
    // A frame of the old key after the new one (as a reordered or retransmitted one is).
    w.peer(publisher).sframe_kid = Some(EPOCH_1);
    w.run(Duration::from_millis(100));
    w.peer(publisher).sframe_kid = Some(EPOCH_2);
    w.run(Duration::from_secs(1));

    let video = w.peers[0].video.expect("the publisher sends video").into();
    let epochs: Vec<(ClientId, _, KeyEpoch)> = w
        .events
        .iter()
        .filter_map(|e| match e {
            RoomEvent::KeyEpochChanged { client, mid, epoch } => Some((*client, *mid, *epoch)),
            _ => None,
        })
        .collect();
    assert_eq!(
        epochs,
        vec![
            (publisher, video, KeyEpoch::new(1, 8)),
            (publisher, video, KeyEpoch::new(2, 8)),
        ]
    );
    let stats = w.room.client(publisher).expect("in the room").stats();
    assert_eq!(stats.sframe_unreadable, 0);
}
