//! Over a paced run, audio overtakes queued video and a congested queue sheds delta frames
//! before keyframes.

use sfu_bwe::{BandwidthEstimate, Bitrate, DataSize, Timestamp};
use sfu_pacer::{PacedPacket, PacerAction, PacerConfig, PacketKind, StreamId, SubscriberPacer};

fn packet(stream: u32, kind: PacketKind, id: u32) -> PacedPacket<u32> {
    PacedPacket {
        stream: StreamId(stream),
        kind,
        size: DataSize::from_bytes(1200),
        payload: id,
    }
}

#[test]
fn audio_overtakes_a_keyframe_burst() {
    let mut pacer = SubscriberPacer::new(PacerConfig::default()).expect("valid");
    pacer.set_estimate(BandwidthEstimate::new(Bitrate::from_kbps(400)));
    let mut t = Timestamp::from_millis(0);
    for i in 0..30 {
        assert!(
            pacer
                .enqueue(packet(1, PacketKind::Video { keyframe: true }, i), t)
                .is_none()
        );
    }
    let mut order = Vec::new();
    let mut audio_sent_at = None;
    while order.len() < 31 {
        if order.len() == 5 {
            assert!(
                pacer
                    .enqueue(packet(2, PacketKind::Audio, 100), t)
                    .is_none()
            );
        }
        match pacer.poll(t) {
            PacerAction::SendNow(p) => {
                if p.kind == PacketKind::Audio {
                    audio_sent_at = Some(order.len());
                }
                order.push(p.payload);
            }
            PacerAction::WaitUntil(next) => t = next,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        audio_sent_at,
        Some(5),
        "audio went out right after it was queued"
    );
    let video: Vec<u32> = order.into_iter().filter(|&id| id != 100).collect();
    assert_eq!(video, (0..30).collect::<Vec<_>>());
}

#[test]
fn congestion_sheds_delta_frames_before_keyframes() {
    let mut config = PacerConfig::default();
    config.max_queue_packets = 10;
    let mut pacer = SubscriberPacer::new(config).expect("valid");
    let t = Timestamp::from_millis(0);
    let mut evicted = Vec::new();
    for i in 0..10 {
        assert!(
            pacer
                .enqueue(packet(1, PacketKind::Video { keyframe: true }, i), t)
                .is_none()
        );
    }
    for i in 10..20 {
        evicted.extend(pacer.enqueue(packet(1, PacketKind::Video { keyframe: false }, i), t));
    }
    // Every delta frame was shed; the keyframe survived intact.
    assert_eq!(
        evicted.iter().map(|p| p.payload).collect::<Vec<_>>(),
        (10..20).collect::<Vec<_>>()
    );
    assert_eq!(pacer.len(), 10);
}
