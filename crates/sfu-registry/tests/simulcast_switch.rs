//! A subscriber switched between simulcast layers sees one continuous RTP stream.

mod common;

use std::time::Duration;

use common::World;
use sfu_client::Bitrate;

#[test]
fn layer_switch_keeps_sequence_numbers_and_timestamps_continuous() {
    let mut w = World::new();
    let publisher = w.join(true);
    let subscriber = w.join(false);
    w.run(Duration::from_secs(3));
    let frames_high = w.video_frames(subscriber, publisher);
    assert!(
        frames_high > 20,
        "no video before the switch: {frames_high}"
    );

    // Constrain the subscriber to audio (50 kbit/s on the wire) and the lowest layer (73
    // kbit/s): it moves there at a keyframe.
    w.room
        .set_available_bitrate(subscriber, Some(Bitrate::from_kbps(150)))
        .unwrap();
    w.run(Duration::from_secs(3));
    // And back up, once the higher choice held (3 s) and a keyframe came.
    w.room.set_available_bitrate(subscriber, None).unwrap();
    w.run(Duration::from_secs(5));

    let stats = w.room.client(subscriber).unwrap().stats();
    assert!(
        stats.layer_switches >= 2,
        "expected two switches, saw {}",
        stats.layer_switches
    );
    assert!(w.video_frames(subscriber, publisher) > frames_high + 80);

    // Exactly one outgoing video SSRC, no gaps, timestamps never going back.
    let rtp = &w.peer(subscriber).video_rtp;
    assert!(rtp.len() > 200);
    let ssrc = rtp[0].0;
    for pair in rtp.windows(2) {
        let ((s0, q0, t0), (s1, q1, t1)) = (pair[0], pair[1]);
        assert_eq!((s0, s1), (ssrc, ssrc), "SSRC changed");
        assert_eq!(q1, q0.wrapping_add(1), "sequence gap {q0} -> {q1}");
        assert!(
            t1.wrapping_sub(t0) < u32::MAX / 2,
            "timestamp went back {t0} -> {t1}"
        );
    }
}

#[test]
fn video_pauses_below_the_lowest_layer_audio_goes_on_and_video_resumes() {
    let mut w = World::new();
    let publisher = w.join(true);
    let subscriber = w.join(false);
    w.run(Duration::from_secs(2));
    // Enough for audio (50 kbit/s on the wire), not for the lowest video layer (73
    // kbit/s). A short dip does not pause; one that lasts 2 s does.
    w.room
        .set_available_bitrate(subscriber, Some(Bitrate::from_kbps(60)))
        .unwrap();
    w.run(Duration::from_secs(1));
    let during_dip = w.video_frames(subscriber, publisher);
    w.run(Duration::from_millis(500));
    assert!(
        w.video_frames(subscriber, publisher) > during_dip + 5,
        "paused on a dip shorter than 2 s"
    );
    w.run(Duration::from_secs(1));
    let (video, audio) = (
        w.video_frames(subscriber, publisher),
        w.audio_frames(subscriber, publisher),
    );
    w.run(Duration::from_secs(2));
    assert_eq!(
        w.video_frames(subscriber, publisher),
        video,
        "video not paused"
    );
    assert!(
        w.audio_frames(subscriber, publisher) > audio + 80,
        "audio stopped"
    );
    assert!(w.room.client(subscriber).unwrap().stats().dropped_paused > 0);
    // The link recovers: video comes back.
    w.room.set_available_bitrate(subscriber, None).unwrap();
    w.run(Duration::from_secs(2));
    assert!(
        w.video_frames(subscriber, publisher) > video + 20,
        "video did not resume"
    );
}

#[test]
fn a_lost_keyframe_request_is_repeated_until_video_starts() {
    let mut w = World::new();
    let publisher = w.join(true);
    {
        // Like a browser, the publisher sends keyframes only when asked, and the first
        // five requests get lost.
        let p = w.peer(publisher);
        p.key_on_request = true;
        p.ignore_requests = 5;
    }
    w.run(Duration::from_millis(500));
    let subscriber = w.join(false);
    w.run(Duration::from_secs(6));
    assert!(
        w.video_frames(subscriber, publisher) > 20,
        "video never started: {} frames",
        w.video_frames(subscriber, publisher)
    );
}
