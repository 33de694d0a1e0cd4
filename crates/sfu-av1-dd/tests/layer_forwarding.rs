//! Forwarding decisions on the spec's L1T3 and L3T3 streams (A.10.2): which
//! frames each decode target receives, target switches, inactive targets,
//! and keyframe requests when a chain breaks.

use sfu_av1_dd::{
    Av1Action, Av1DdInfo, Av1DdParser, Av1DropReason, Av1LayerSelector, DecodeTargetIndex,
    DecodeTargetMask, FrameNumber, SpatialId, TemplateStructure, TemporalId, scalability, write,
};

/// One descriptor per packet; `packets` splits each frame into that many.
fn frame_packets(s: &TemplateStructure, index: usize, frame: u16, packets: usize) -> Vec<Vec<u8>> {
    let t = s.templates()[index];
    (0..packets)
        .map(|p| {
            let info = Av1DdInfo {
                start_of_frame: p == 0,
                end_of_frame: p + 1 == packets,
                template_id: s.template_id_of(index),
                frame_number: FrameNumber(frame),
                spatial_id: t.spatial_id,
                temporal_id: t.temporal_id,
                dtis: t.dtis,
                frame_diffs: t.frame_diffs,
                chain_diffs: t.chain_diffs,
                active_decode_targets: None,
                carries_structure: index == 0 && p == 0,
                max_render_resolution: None,
            };
            let mut buf = vec![0u8; 256];
            let n = write(&info, s, &mut buf).unwrap();
            buf.truncate(n);
            buf
        })
        .collect()
}

struct Stream {
    parser: Av1DdParser,
}

impl Stream {
    fn new() -> Self {
        Self {
            parser: Av1DdParser::new(),
        }
    }

    fn deliver(
        &mut self,
        bytes: &[u8],
        subscriber: &mut Av1LayerSelector,
    ) -> (Av1DdInfo, Av1Action) {
        let info = self.parser.parse(bytes).unwrap();
        let s = self.parser.structure().unwrap();
        let active = self.parser.active_decode_targets().unwrap();
        (info, subscriber.handle_packet(&info, s, active))
    }
}

/// Frames of an L1T3 stream forwarded to a subscriber of `dt`.
fn l1t3_forwarded(dt: u8, frames: u32) -> Vec<(u32, TemporalId)> {
    let s = scalability::l1t3(0);
    let mut stream = Stream::new();
    let mut sub = Av1LayerSelector::new(Some(DecodeTargetIndex(dt)));
    let mut out = Vec::new();
    for k in 0..frames {
        for pkt in frame_packets(&s, scalability::l1t3_template_index(k), k as u16, 2) {
            let (info, action) = stream.deliver(&pkt, &mut sub);
            if action == Av1Action::Forward && info.start_of_frame {
                out.push((k, info.temporal_id));
            }
        }
    }
    out
}

#[test]
fn l1t3_decode_targets_receive_their_frame_rates() {
    let all = l1t3_forwarded(0, 16);
    assert_eq!(all.len(), 16);
    let half = l1t3_forwarded(1, 16);
    assert_eq!(
        half.iter().map(|f| f.0).collect::<Vec<_>>(),
        [0, 2, 4, 6, 8, 10, 12, 14]
    );
    assert!(half.iter().all(|f| f.1 <= TemporalId(1)));
    let quarter = l1t3_forwarded(2, 16);
    assert_eq!(
        quarter.iter().map(|f| f.0).collect::<Vec<_>>(),
        [0, 4, 8, 12]
    );
}

#[test]
fn l1t3_switches_up_at_the_next_switch_indication() {
    let s = scalability::l1t3(0);
    let mut stream = Stream::new();
    let mut sub = Av1LayerSelector::new(Some(DecodeTargetIndex(2)));
    let mut forwarded = Vec::new();
    for k in 0..12u32 {
        if k == 5 {
            sub.set_target(Some(DecodeTargetIndex(0)));
        }
        for pkt in frame_packets(&s, scalability::l1t3_template_index(k), k as u16, 1) {
            if stream.deliver(&pkt, &mut sub).1 == Av1Action::Forward {
                forwarded.push(k);
            }
        }
    }
    // Frame 5 (T2) and 6 (T1, Switch for 30 fps) — the switch happens at 6,
    // the first frame after the request with a Switch indication for DT0.
    assert_eq!(forwarded, [0, 4, 6, 7, 8, 9, 10, 11]);
    assert_eq!(sub.current(), Some(DecodeTargetIndex(0)));
    assert!(!sub.switch_pending());
}

#[test]
fn l1t3_losing_a_base_frame_requests_one_keyframe_and_recovers() {
    let s = scalability::l1t3(0);
    let mut stream = Stream::new();
    let mut sub = Av1LayerSelector::new(Some(DecodeTargetIndex(0)));
    let mut actions = Vec::new();
    for k in 0..10u32 {
        if k == 4 {
            continue; // the T0 frame 4 is lost upstream
        }
        let index = if k == 9 {
            0
        } else {
            scalability::l1t3_template_index(k)
        };
        for pkt in frame_packets(&s, index, k as u16, 1) {
            actions.push((k, stream.deliver(&pkt, &mut sub).1));
        }
    }
    use Av1Action::*;
    assert_eq!(
        actions,
        [
            (0, Forward),
            (1, Forward),
            (2, Forward),
            (3, Forward),
            // The first packet after the loss already shows it (A.6): frame
            // 5's chain fdiff points at frame 4, which never arrived.
            (5, DropAndRequestKeyframe),
            (6, Drop(Av1DropReason::AwaitingKeyframe)),
            (7, Drop(Av1DropReason::AwaitingKeyframe)),
            (8, Drop(Av1DropReason::AwaitingKeyframe)),
            (9, Forward),
        ]
    );
}

#[test]
fn l1t3_losing_the_last_packet_of_a_chain_frame_breaks_the_chain() {
    let s = scalability::l1t3(0);
    let mut stream = Stream::new();
    let mut sub = Av1LayerSelector::new(Some(DecodeTargetIndex(2)));
    for pkt in frame_packets(&s, 0, 0, 3) {
        assert_eq!(stream.deliver(&pkt, &mut sub).1, Av1Action::Forward);
    }
    // Frame 4 (T0) arrives without its last packet.
    let pkts = frame_packets(&s, 1, 4, 3);
    for pkt in &pkts[..2] {
        assert_eq!(stream.deliver(pkt, &mut sub).1, Av1Action::Forward);
    }
    let next = frame_packets(&s, 1, 8, 1);
    assert_eq!(
        stream.deliver(&next[0], &mut sub).1,
        Av1Action::DropAndRequestKeyframe
    );
    assert!(sub.needs_keyframe());
}

/// Forwards an L3T3 stream of `tus` temporal units to `sub`, returning the
/// (tu, spatial id) of the frames forwarded.
fn l3t3_run(
    sub: &mut Av1LayerSelector,
    tus: std::ops::Range<u32>,
    stream: &mut Stream,
) -> Vec<(u32, SpatialId)> {
    let s = scalability::l3t3(0, false);
    let mut out = Vec::new();
    for tu in tus {
        for spatial in 0..3u8 {
            let frame = (3 * tu + u32::from(spatial)) as u16;
            for pkt in frame_packets(&s, scalability::l3t3_template_index(tu, spatial), frame, 2) {
                let (info, action) = stream.deliver(&pkt, sub);
                if action == Av1Action::Forward && info.start_of_frame {
                    out.push((tu, info.spatial_id));
                }
            }
        }
    }
    out
}

#[test]
fn l3t3_each_decode_target_gets_its_spatial_layers_and_frame_rate() {
    // DT4 = VGA 15 fps: spatial layers 0 and 1, temporal layers 0 and 1.
    let mut stream = Stream::new();
    let mut sub = Av1LayerSelector::new(Some(DecodeTargetIndex(4)));
    let got = l3t3_run(&mut sub, 0..8, &mut stream);
    let want: Vec<(u32, SpatialId)> = [0u32, 2, 4, 6]
        .iter()
        .flat_map(|&tu| [(tu, SpatialId(0)), (tu, SpatialId(1))])
        .collect();
    assert_eq!(got, want);

    // DT0 = HD 30 fps: everything.
    let mut stream = Stream::new();
    let mut sub = Av1LayerSelector::new(Some(DecodeTargetIndex(0)));
    assert_eq!(l3t3_run(&mut sub, 0..8, &mut stream).len(), 24);

    // DT8 = QVGA 7.5 fps: the base layer's T0 frames only.
    let mut stream = Stream::new();
    let mut sub = Av1LayerSelector::new(Some(DecodeTargetIndex(8)));
    assert_eq!(
        l3t3_run(&mut sub, 0..8, &mut stream),
        [(0, SpatialId(0)), (4, SpatialId(0))]
    );
}

#[test]
fn l3t3_switches_down_at_the_next_frame_and_up_only_at_a_switch_point() {
    let mut stream = Stream::new();
    let mut sub = Av1LayerSelector::new(Some(DecodeTargetIndex(0)));
    l3t3_run(&mut sub, 0..4, &mut stream);
    // Down to QVGA 30 fps (DT6): immediate, its chain (0) is intact.
    sub.set_target(Some(DecodeTargetIndex(6)));
    let got = l3t3_run(&mut sub, 4..8, &mut stream);
    assert!(got.iter().all(|&(_, s)| s == SpatialId(0)));
    assert_eq!(got.len(), 4);
    assert_eq!(sub.current(), Some(DecodeTargetIndex(6)));
    // Back up to HD: the S1/S2 frames refer to frames the subscriber never got,
    // so the switch waits for a Switch indication it can decode (a keyframe).
    sub.set_target(Some(DecodeTargetIndex(0)));
    let got = l3t3_run(&mut sub, 8..12, &mut stream);
    assert!(got.iter().all(|&(_, s)| s == SpatialId(0)));
    assert!(sub.switch_pending());
}

#[test]
fn l3t3_inactive_target_falls_back_to_the_best_active_one() {
    let s = scalability::l3t3(0, false);
    let mut sub = Av1LayerSelector::new(Some(DecodeTargetIndex(0)));
    let mut parser = Av1DdParser::new();
    let mut buf = [0u8; 256];
    // Keyframe TU, then the sender deactivates the HD and VGA targets.
    for spatial in 0..3u8 {
        let pkt = &frame_packets(
            &s,
            scalability::l3t3_template_index(0, spatial),
            u16::from(spatial),
            1,
        )[0];
        let info = parser.parse(pkt).unwrap();
        let _ = sub.handle_packet(
            &info,
            parser.structure().unwrap(),
            parser.active_decode_targets().unwrap(),
        );
    }
    let t = s.templates()[3];
    let info = Av1DdInfo {
        start_of_frame: true,
        end_of_frame: true,
        template_id: 3,
        frame_number: FrameNumber(3),
        spatial_id: t.spatial_id,
        temporal_id: t.temporal_id,
        dtis: t.dtis,
        frame_diffs: t.frame_diffs,
        chain_diffs: t.chain_diffs,
        active_decode_targets: Some(DecodeTargetMask(0b1_1100_0000)),
        carries_structure: false,
        max_render_resolution: None,
    };
    let n = write(&info, &s, &mut buf).unwrap();
    let parsed = parser.parse(&buf[..n]).unwrap();
    let active = parser.active_decode_targets().unwrap();
    assert_eq!(
        sub.handle_packet(&parsed, parser.structure().unwrap(), active),
        Av1Action::Forward
    );
    assert_eq!(sub.current(), Some(DecodeTargetIndex(6)));
}

#[test]
fn without_chains_an_undecodable_discardable_frame_is_dropped_alone() {
    // L1T3 with its chain removed: only frame references reveal the loss.
    let chained = scalability::l1t3(0);
    let templates: Vec<_> = chained
        .templates()
        .iter()
        .map(|t| sfu_av1_dd::FrameTemplate {
            chain_diffs: Default::default(),
            ..*t
        })
        .collect();
    let s = TemplateStructure::new(0, 3, templates, 0, &[], None).unwrap();
    let mut stream = Stream::new();
    let mut sub = Av1LayerSelector::new(Some(DecodeTargetIndex(0)));
    let mut actions = Vec::new();
    for k in [0u32, 1, 2, 3, 5, 6] {
        // Frame 4 (T0) is lost.
        for pkt in frame_packets(&s, scalability::l1t3_template_index(k), k as u16, 1) {
            actions.push(stream.deliver(&pkt, &mut sub).1);
        }
    }
    use Av1Action::*;
    assert_eq!(
        actions,
        [
            Forward,
            Forward,
            Forward,
            Forward,
            // Frame 5 (T2, discardable) refers to the lost frame 4.
            Drop(Av1DropReason::Undecodable),
            // Frame 6 (T1, switch for 30 fps) refers to it too: broken.
            DropAndRequestKeyframe,
        ]
    );
}

#[test]
fn l3t3_structure_repeated_on_every_keyframe_packet_keeps_chains_intact() {
    let s = scalability::l3t3(0, false);
    let mut parser = Av1DdParser::new();
    let mut sub = Av1LayerSelector::new(Some(DecodeTargetIndex(0)));
    let mut buf = [0u8; 256];
    let mut forwarded = 0;
    for tu in 0..8u32 {
        for spatial in 0..3u8 {
            let index = scalability::l3t3_template_index(tu, spatial);
            let t = s.templates()[index];
            let info = Av1DdInfo {
                start_of_frame: true,
                end_of_frame: true,
                template_id: s.template_id_of(index),
                frame_number: FrameNumber((3 * tu + u32::from(spatial)) as u16),
                spatial_id: t.spatial_id,
                temporal_id: t.temporal_id,
                dtis: t.dtis,
                frame_diffs: t.frame_diffs,
                chain_diffs: t.chain_diffs,
                active_decode_targets: None,
                // Every frame of the keyframe temporal unit repeats the structure.
                carries_structure: tu == 0,
                max_render_resolution: None,
            };
            let n = write(&info, &s, &mut buf).unwrap();
            let parsed = parser.parse(&buf[..n]).unwrap();
            let action = sub.handle_packet(
                &parsed,
                parser.structure().unwrap(),
                parser.active_decode_targets().unwrap(),
            );
            assert_eq!(action, Av1Action::Forward, "tu {tu} spatial {spatial}");
            forwarded += 1;
        }
    }
    assert_eq!(forwarded, 24);
}
