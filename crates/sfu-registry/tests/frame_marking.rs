//! A stream with Video Frame Marking (RFC 9626) is thinned by temporal layer for a
//! subscriber whose budget does not carry the full frame rate, from one stream.

mod common;

use std::time::Duration;

use common::World;
use sfu_client::{Bitrate, EstimatorKind};

#[test]
fn a_capped_subscriber_gets_the_lower_temporal_layers_gaplessly() {
    let mut w = World::new();
    // No estimate: only the application's cap limits the capped subscriber.
    w.estimator = EstimatorKind::Off;
    w.frame_marking = true;
    let publisher = w.join(false);
    // 1000-byte frames: each temporal layer of the L1T3 pattern is a clear step
    // (T0 and T1 a quarter of the frames each, T2 half).
    w.peers[0].layer_bytes = |_, _| 1000;
    w.frame_marking = false;
    let full = w.join(false);
    let capped = w.join(false);
    // The two watchers send nothing themselves.
    for p in &mut w.peers[1..] {
        p.audio = None;
        p.video = None;
    }
    w.run(Duration::from_secs(3));
    w.room
        .set_available_bitrate(capped, Some(Bitrate::from_kbps(200)))
        .expect("the client exists");
    w.run(Duration::from_secs(4));
    for p in &mut w.peers {
        p.video_rtp.clear();
    }
    let before = (
        w.video_frames(full, publisher),
        w.video_frames(capped, publisher),
    );
    w.run(Duration::from_secs(4));
    let full_frames = w.video_frames(full, publisher) - before.0;
    let capped_frames = w.video_frames(capped, publisher) - before.1;
    let ratio = capped_frames as f64 / full_frames as f64;
    assert!(
        full_frames > 80 && (0.4..0.6).contains(&ratio),
        "full {full_frames} frames, capped {capped_frames}: the capped one should get T0+T1, half"
    );
    // What the capped subscriber receives is one gapless sequence.
    let seqs: Vec<u16> = w
        .peers
        .iter()
        .find(|p| p.id == capped)
        .map(|p| p.video_rtp.iter().map(|r| r.1).collect())
        .unwrap_or_default();
    assert!(seqs.len() > 40, "{} packets", seqs.len());
    assert!(
        seqs.windows(2).all(|s| s[1] == s[0].wrapping_add(1)),
        "gaps in {seqs:?}"
    );
}
