//! The media path through a client: packets its peer publishes become
//! [`Propagated::Media`]; packets other peers publish are forwarded to its peer as the
//! track's [`Forwarder`](crate::forwarder::Forwarder) decides.

use std::sync::Arc;
use std::time::Instant;

use sfu_ids::{
    ClientId, SfuHeaderExtensions, SfuKeyframeKind, SfuMediaKind, SfuMediaPayload, SfuMid, SfuPt,
    SfuRid,
};
use str0m::format::Codec;
use str0m::rtp::{RtpPacket, RtpWrite, Vp8Descriptor};

use super::Client;
use crate::config::PayloadEncryption;
use crate::dependency_descriptor::{self, DdBytes, DdIngest};
use crate::forwarder::{DropReason, Packet, TargetCause, Verdict};
use crate::frame_marking::{self, VfmBytes};
use crate::frame_size::keyframe_size;
use crate::keyframe_detect::is_keyframe;
use crate::propagate::{ClientOutput, LayerChange, LayerChangeReason, Propagated};
use crate::sframe::{advance_epoch, frame_epoch, is_keyframe_encrypted};
use crate::svc_layer::svc_layer;
use crate::track::{NO_PT, OutState};

impl Client {
    /// A packet from our peer: detect what the subscribers' forwarders need once, here,
    /// and hand it to the room.
    pub(super) fn on_rtp(&mut self, packet: RtpPacket) {
        let ssrc = packet.header.ssrc;
        let (mid, rid) = {
            let mut api = self.rtc.direct_api();
            let Some(rx) = api.stream_rx(&ssrc) else {
                return;
            };
            (SfuMid::from(rx.mid()), rx.rid().map(SfuRid::from))
        };
        let Ok(pt) = SfuPt::try_from(packet.header.payload_type) else {
            return;
        };
        let Some(codec) = self.codec_of(pt.get()) else {
            return;
        };
        let frame_marking = packet
            .header
            .ext_vals
            .user_values
            .get::<VfmBytes>()
            .and_then(|v| sfu_vfm::FrameMarkingInfo::parse(v.as_slice()).ok());
        let encryption = self.config.payload_encryption;
        let mut track = self.tracks_in.iter_mut().find(|t| t.info.mid == mid);
        let dependency_descriptor = match (
            &mut track,
            packet.header.ext_vals.user_values.get::<DdBytes>(),
        ) {
            (Some(t), Some(DdBytes(raw))) => descriptor_ingest(&mut t.descriptors, rid)
                .and_then(|ingest| ingest.parse(Arc::clone(raw))),
            _ => None,
        };
        let keyframe = match encryption {
            PayloadEncryption::Sframe { .. } => is_keyframe_encrypted(
                codec,
                &packet.payload,
                dependency_descriptor.as_deref(),
                frame_marking.as_ref(),
            ),
            _ => is_keyframe(codec, &packet.payload),
        };
        if keyframe
            && let Some(t) = &mut track
            && let Some(r) = t.requests.iter_mut().find(|r| r.rid == rid)
        {
            r.keyframe_seen();
        }
        let frame_size = match encryption {
            PayloadEncryption::Sframe { epoch_bits } => {
                match frame_epoch(codec, &packet.payload, epoch_bits) {
                    Ok(Some(epoch)) => {
                        if let Some(t) = &mut track
                            && advance_epoch(&mut t.epoch, epoch)
                        {
                            self.queue.push_back(ClientOutput::Propagate(
                                Propagated::KeyEpochChanged {
                                    origin: self.id,
                                    mid,
                                    epoch,
                                },
                            ));
                        }
                    }
                    Ok(None) => {}
                    Err(_) => self.stats.sframe_unreadable += 1,
                }
                // The keyframe's size is inside the ciphertext.
                None
            }
            _ if keyframe => keyframe_size(codec, &packet.payload),
            _ => None,
        };
        // The payload descriptor is in the clear either way.
        let vp8 = (codec == Codec::Vp8)
            .then(|| Vp8Descriptor::parse(&packet.payload).ok())
            .flatten();
        let svc = match (&dependency_descriptor, &frame_marking) {
            (Some(dd), _) => Some(dependency_descriptor::svc_layer_of(dd)),
            (None, Some(m)) if !m.is_non_scalable() => Some(frame_marking::svc_layer_of(m)),
            _ => svc_layer(codec, &packet.payload),
        };
        self.stats.packets_in += 1;
        let media = SfuMediaPayload {
            mid,
            rid,
            pt,
            seq_no: *packet.seq_no,
            rtp_time: packet.header.timestamp,
            marker: packet.header.marker,
            keyframe,
            frame_size,
            vp8,
            svc,
            dependency_descriptor,
            frame_marking,
            payload: packet.payload,
            received_at: packet.timestamp,
            extensions: SfuHeaderExtensions::from_str0m(&packet.header.ext_vals),
        };
        self.queue
            .push_back(ClientOutput::Propagate(Propagated::Media {
                origin: self.id,
                media,
            }));
    }
}

/// The header extensions a forwarded packet carries: the publisher's, on our m-line.
fn out_extensions(media: &SfuMediaPayload, out_mid: SfuMid) -> str0m::rtp::ExtensionValues {
    let mut exts = media.extensions.to_str0m();
    exts.mid = Some(out_mid.into());
    if let Some(dd) = &media.dependency_descriptor {
        exts.user_values.set(DdBytes(Arc::clone(&dd.raw)));
    }
    if let Some(v) = media.frame_marking.as_ref().and_then(|m| {
        let mut buf = [0u8; 3];
        let n = sfu_vfm::write(m, &mut buf).ok()?;
        VfmBytes::new(&buf[..n])
    }) {
        exts.user_values.set(v);
    }
    exts
}

/// Layers of one track that carry a descriptor: never more than simulcast has.
const MAX_DESCRIBED_LAYERS: usize = 4;

/// The descriptor parser of layer `rid`, made on its first packet.
fn descriptor_ingest(
    descriptors: &mut Vec<(Option<SfuRid>, DdIngest)>,
    rid: Option<SfuRid>,
) -> Option<&mut DdIngest> {
    let i = match descriptors.iter().position(|(r, _)| *r == rid) {
        Some(i) => i,
        None if descriptors.len() < MAX_DESCRIBED_LAYERS => {
            descriptors.push((rid, DdIngest::default()));
            descriptors.len() - 1
        }
        None => return None,
    };
    Some(&mut descriptors[i].1)
}

impl Client {
    /// Forwards a publisher's packet to this peer, if it receives that track and layer.
    pub(super) fn forward(&mut self, origin: ClientId, media: &SfuMediaPayload, now: Instant) {
        let Some(&i) = self.out_index.get(&(origin, media.mid)) else {
            return;
        };
        let OutState::Open(out_mid) = self.tracks_out[i].state else {
            self.stats.dropped_not_ready += 1;
            return;
        };
        if self.tracks_out[i].passthrough {
            self.pass_through(i, out_mid, media);
            return;
        }
        let packet = Packet {
            rid: media.rid,
            seq_no: media.seq_no,
            rtp_time: media.rtp_time,
            marker: media.marker,
            keyframe: media.keyframe,
            frame_size: media.frame_size,
            len: media.payload.len(),
            vp8: media.vp8.as_ref(),
            svc: media.svc,
            dd: media.dependency_descriptor.as_deref(),
            vfm: media.frame_marking.as_ref(),
        };
        let t = &mut self.tracks_out[i];
        let before = t.forwarder.current_layer();
        let svc_before = t.forwarder.svc_layers();
        let outcome = t.forwarder.on_packet(
            &packet,
            t.budget,
            self.selector.as_mut(),
            &self.forward_config,
            now,
        );
        let is_video = t.info.kind == SfuMediaKind::Video;
        let out_pt = t
            .pt_map
            .get(usize::from(media.pt.get()))
            .copied()
            .unwrap_or(NO_PT);
        if let Some(rid) = outcome.keyframe_request {
            self.request_keyframe_for(i, rid, SfuKeyframeKind::Pli);
        }
        let svc_after = self.tracks_out[i].forwarder.svc_layers();
        if is_video && svc_before.is_some() && svc_after.is_some() && svc_before != svc_after {
            self.stats.layer_switches += 1;
            self.queue
                .push_back(ClientOutput::LayerChanged(LayerChange {
                    publisher: origin,
                    mid: media.mid,
                    layer: None,
                    svc: svc_after,
                    paused: false,
                    reason: self.budget_reason,
                    budget: self.budget,
                }));
        }
        let (seq_no, rtp_time, marker, vp8, switched) = match outcome.verdict {
            Verdict::Forward {
                seq_no,
                rtp_time,
                marker,
                vp8,
                switched,
            } => (seq_no, rtp_time, marker, vp8, switched),
            Verdict::Drop(DropReason::OtherLayer | DropReason::Stale) => {
                self.stats.dropped_other_layer += 1;
                return;
            }
            Verdict::Drop(DropReason::WaitingKeyframe) => {
                self.stats.dropped_not_ready += 1;
                return;
            }
            Verdict::Drop(DropReason::Paused) => {
                self.stats.dropped_paused += 1;
                return;
            }
        };
        if switched && is_video && before != Some(media.rid) {
            let reason = match (before, self.tracks_out[i].forwarder.cause()) {
                (None, _) => LayerChangeReason::Started,
                (Some(_), TargetCause::Stalled) => LayerChangeReason::LayerGone,
                (Some(_), TargetCause::Hints) => LayerChangeReason::Hints,
                (Some(_), TargetCause::Budget) => self.budget_reason,
            };
            if before.is_some() {
                self.stats.layer_switches += 1;
            }
            self.queue
                .push_back(ClientOutput::LayerChanged(LayerChange {
                    publisher: origin,
                    mid: media.mid,
                    layer: media.rid,
                    svc: self.tracks_out[i].forwarder.svc_layers(),
                    paused: false,
                    reason,
                    budget: self.budget,
                }));
        }
        if out_pt == NO_PT {
            self.stats.dropped_no_codec += 1;
            return;
        }
        let mut api = self.rtc.direct_api();
        let Some(tx) = api.stream_tx_by_mid(out_mid.into(), None) else {
            self.stats.dropped_not_ready += 1;
            return;
        };
        let exts = out_extensions(media, out_mid);
        let mut write = RtpWrite::new(
            out_pt.into(),
            seq_no.into(),
            rtp_time,
            media.received_at,
            Arc::clone(&media.payload),
        )
        .marker(marker)
        .ext_vals(exts)
        .nackable(is_video);
        if let Some(patch) = vp8 {
            write = write.vp8_patch(patch);
        }
        tx.write_rtp(write);
        self.stats.packets_forwarded += 1;
    }
}

impl Client {
    /// A relay's simulcast track: the packet goes across on its layer's stream as it came
    /// (its own numbering and timing), if the far node needs that layer.
    fn pass_through(&mut self, i: usize, out_mid: SfuMid, media: &SfuMediaPayload) {
        let t = &self.tracks_out[i];
        let layer = t.info.rids.iter().position(|r| Some(*r) == media.rid);
        if !t.subscribed || t.muted || layer.is_none_or(|l| t.sent_layers & (1 << l) == 0) {
            self.stats.dropped_other_layer += 1;
            return;
        }
        let out_pt = t
            .pt_map
            .get(usize::from(media.pt.get()))
            .copied()
            .unwrap_or(NO_PT);
        if out_pt == NO_PT {
            self.stats.dropped_no_codec += 1;
            return;
        }
        let mut api = self.rtc.direct_api();
        let Some(tx) = api.stream_tx_by_mid(out_mid.into(), media.rid.map(Into::into)) else {
            self.stats.dropped_not_ready += 1;
            return;
        };
        let write = RtpWrite::new(
            out_pt.into(),
            media.seq_no.into(),
            media.rtp_time,
            media.received_at,
            Arc::clone(&media.payload),
        )
        .marker(media.marker)
        .ext_vals(out_extensions(media, out_mid))
        .nackable(true);
        tx.write_rtp(write);
        self.stats.packets_forwarded += 1;
    }
}
