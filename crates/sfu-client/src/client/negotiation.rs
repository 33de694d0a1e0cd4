//! SDP negotiation: the peer's offers, our renegotiation offers as tracks come and go, and
//! the answers to them.
//!
//! A track that ends leaves its m-line inactive, and the next track of the same kind takes
//! it over (str0m never recycles a stopped m-line in its own offers, so stopping them would
//! grow every peer's SDP and state with each track that ever came and went).

use std::sync::Arc;

use sfu_ids::{SfuKeyframeKind, SfuMid, SfuRid};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::PayloadParams;
use str0m::media::{Direction, MediaAdded, MediaChanged};
use tracing::debug;

use super::{Client, CodecSlot};
use crate::config::{PeerRole, ReceiveMode};
use crate::error::ClientError;
use crate::propagate::{ClientOutput, OfferedTrack, Propagated, SfuOffer, TrackInfo};
use crate::track::{FreeSlot, NO_PT, OutState, TrackIn};

/// The data channel of a connection's first offer ([`Client::create_offer`]).
const RELAY_CHANNEL: &str = "sfu-relay";

/// Simulcast m-lines a relay may retire before it closes to be opened afresh: nothing takes
/// them over (a new track on one would reach the far side as one stream), and each keeps
/// its place in the SDP and in str0m's state.
const MAX_RETIRED_RELAY_LINES: u32 = 64;

impl Client {
    /// Applies an SDP offer from the peer and returns our answer.
    ///
    /// An offer that crosses one of ours (glare) wins: our outstanding offer is dropped and
    /// its changes are offered again afterwards.
    ///
    /// On a connection this side opened ([`Client::create_offer`]) the rule is reversed:
    /// an offer that crosses ours is refused with [`ClientError::OfferCollision`], so two
    /// SFUs that offer at once settle on one offer (the opener's), as in perfect
    /// negotiation.
    pub fn accept_offer(&mut self, offer_sdp: &str) -> Result<String, ClientError> {
        if self.opened && self.pending.is_some() {
            return Err(ClientError::OfferCollision);
        }
        let offer = SdpOffer::from_sdp_string(offer_sdp)
            .map_err(|e| ClientError::SdpParse(e.to_string()))?;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(ClientError::SdpRejected)?;
        self.pending = None;
        self.has_data_channels |= offer_sdp.lines().any(|l| l.starts_with("m=application"));
        // Our outstanding offer is gone: what it carried goes into the next one. An m-line
        // it made active again is inactive and free again.
        let mut api = self.rtc.sdp_api();
        for t in &mut self.tracks_out {
            t.state = match t.state {
                OutState::Negotiating(m) => {
                    if std::mem::take(&mut t.reused) {
                        api.set_direction(m.into(), Direction::Inactive);
                        self.free_slots.push(FreeSlot {
                            mid: m,
                            kind: t.info.kind,
                            numbering: Some(t.forwarder.numbering()),
                        });
                    }
                    OutState::ToOpen
                }
                OutState::NegotiatingStop(m) => OutState::ToStop(m),
                s => s,
            };
        }
        drop(api);
        self.codecs = [CodecSlot::Unknown; 128];
        self.can_offer = true;
        self.close_unreceived_tracks();
        self.offers_superseded = self.offers_made;
        Ok(answer.to_sdp_string())
    }

    /// The offers made before the peer's last offer was accepted: up to this number
    /// ([`SfuOffer::seq`]) each was either answered, or dropped because the peer's offer
    /// crossed it. The peer must not answer one of those it has not answered yet: the
    /// room's changes come again in a later offer.
    pub fn offers_superseded(&self) -> u64 {
        self.offers_superseded
    }

    /// The peer's tracks whose m-line no longer sends to us (the peer stopped the
    /// transceiver, made it inactive or receive-only, or recycled its m-line for another
    /// track) are closed: the room is told, and their subscribers' m-lines free.
    fn close_unreceived_tracks(&mut self) {
        let rtc = &self.rtc;
        let mut closed = Vec::new();
        self.tracks_in.retain(|t| {
            let receiving = rtc
                .media(t.info.mid.into())
                .is_some_and(|m| m.direction().is_receiving());
            if !receiving {
                closed.push(t.info.mid);
            }
            receiving
        });
        for mid in closed {
            debug!(client = %self.id, %mid, "the peer stopped sending a track");
            self.queue
                .push_back(ClientOutput::Propagate(Propagated::TrackClosed {
                    origin: self.id,
                    mid,
                }));
        }
    }

    /// Makes the first offer of a connection this side opens (a relay to another SFU,
    /// whose answer goes to [`Client::accept_answer`]); the `Rtc` must run full ICE
    /// ([`SfuRtcBuilder::full_ice`](crate::SfuRtcBuilder::full_ice)), as the other side
    /// is ICE-lite. It carries one data channel (`sfu-relay`), so it opens the transport
    /// before any track exists; tracks follow in renegotiation offers either way.
    pub fn create_offer(&mut self) -> Result<String, ClientError> {
        if self.can_offer || self.pending.is_some() {
            return Err(ClientError::AlreadyNegotiated);
        }
        let mut api = self.rtc.sdp_api();
        api.add_channel(RELAY_CHANNEL.into());
        // A new channel is a change, so str0m makes an offer.
        let (offer, pending) = api.apply().ok_or(ClientError::AlreadyNegotiated)?;
        self.pending = Some(pending);
        self.opened = true;
        Ok(offer.to_sdp_string())
    }

    /// Applies the peer's answer to our last [`ClientOutput::Offer`].
    ///
    /// An answer that does not parse leaves the offer outstanding: the peer may answer
    /// again. An answer str0m rejects closes the peer connection: the peer has already
    /// applied our offer with its new m-lines, str0m has dropped them, and str0m cannot
    /// offer them again under the same mids, so every later offer would be refused by the
    /// peer and the subscriber would silently never see a publisher again. Closed, it is
    /// removed from the room and its application can join again with a clean state.
    pub fn accept_answer(&mut self, answer_sdp: &str) -> Result<(), ClientError> {
        let answer = SdpAnswer::from_sdp_string(answer_sdp)
            .map_err(|e| ClientError::SdpParse(e.to_string()))?;
        let pending = self.pending.take().ok_or(ClientError::NoPendingOffer)?;
        if let Err(e) = self.rtc.sdp_api().accept_answer(pending, answer) {
            debug!(client = %self.id, error = %e, "answer rejected; closing peer");
            self.rtc.disconnect();
            return Err(ClientError::SdpRejected(e));
        }
        self.codecs = [CodecSlot::Unknown; 128];
        self.can_offer = true;
        let now = self.last_now;
        for i in 0..self.tracks_out.len() {
            if let OutState::Negotiating(m) = self.tracks_out[i].state {
                self.tracks_out[i].state = OutState::Open(m);
                self.tracks_out[i].reused = false;
                self.fill_pt_map(i);
                let outcome = self.tracks_out[i].forwarder.restart(now);
                if let Some(rid) = outcome.keyframe_request {
                    self.request_keyframe_for(i, rid, SfuKeyframeKind::Pli);
                }
            }
        }
        for t in &self.tracks_out {
            if let OutState::NegotiatingStop(m) = t.state {
                if t.passthrough {
                    self.retired_lines += 1;
                    continue;
                }
                self.free_slots.push(FreeSlot {
                    mid: m,
                    kind: t.info.kind,
                    numbering: Some(t.forwarder.numbering()),
                });
            }
        }
        self.tracks_out
            .retain(|t| !matches!(t.state, OutState::NegotiatingStop(_)));
        self.rebuild_index();
        if self.retired_lines > MAX_RETIRED_RELAY_LINES {
            debug!(client = %self.id, "relay out of m-lines; closing it to be opened afresh");
            self.rtc.disconnect();
        }
        Ok(())
    }

    pub(super) fn close_out(&mut self, i: usize) {
        let t = &mut self.tracks_out[i];
        match t.state {
            OutState::ToOpen => {
                self.tracks_out.remove(i);
                self.rebuild_index();
            }
            OutState::Negotiating(m) | OutState::Open(m) => t.state = OutState::ToStop(m),
            OutState::ToStop(_) | OutState::NegotiatingStop(_) => {}
        }
    }

    pub(super) fn rebuild_index(&mut self) {
        self.out_index.clear();
        for (i, t) in self.tracks_out.iter().enumerate() {
            self.out_index.insert(t.source(), i);
        }
    }

    /// Creates an offer for pending track changes, when allowed.
    pub(super) fn negotiate_if_needed(&mut self) -> bool {
        if self.config.receive != ReceiveMode::Renegotiate
            || !self.can_offer
            || self.pending.is_some()
        {
            return false;
        }
        let pending_work = self
            .tracks_out
            .iter()
            .any(|t| matches!(t.state, OutState::ToOpen | OutState::ToStop(_)));
        if !pending_work {
            return false;
        }
        let mut change = self.rtc.sdp_api();
        for t in &mut self.tracks_out {
            match t.state {
                OutState::ToOpen => {
                    // A simulcast track a relay sends takes a new m-line with its layers
                    // declared: the far side would read a taken-over m-line as one stream.
                    let free = self
                        .free_slots
                        .iter()
                        .position(|f| !t.passthrough && f.kind == t.info.kind);
                    let mid = match free {
                        Some(i) => {
                            let slot = self.free_slots.swap_remove(i);
                            change.set_direction(slot.mid.into(), Direction::SendOnly);
                            if let Some(numbering) = slot.numbering {
                                t.forwarder.continue_numbering(numbering);
                            }
                            t.reused = true;
                            slot.mid
                        }
                        None => change
                            .add_media(
                                t.info.kind.into(),
                                Direction::SendOnly,
                                Some(t.info.origin.to_string()),
                                Some(format!("{}-{}", t.info.origin, t.info.mid)),
                                t.passthrough.then(|| send_layers(&t.info.rids)),
                            )
                            .into(),
                    };
                    t.state = OutState::Negotiating(mid);
                }
                OutState::ToStop(m) => {
                    change.set_direction(m.into(), Direction::Inactive);
                    t.state = OutState::NegotiatingStop(m);
                }
                _ => {}
            }
        }
        match change.apply() {
            Some((offer, pending)) => {
                self.pending = Some(pending);
                let tracks = self
                    .tracks_out
                    .iter()
                    .filter_map(|t| match t.state {
                        OutState::Negotiating(mid) | OutState::Open(mid) => Some(OfferedTrack {
                            mid,
                            publisher: t.info.origin,
                            publisher_mid: t.info.mid,
                            kind: t.info.kind,
                        }),
                        _ => None,
                    })
                    .collect();
                self.offers_made += 1;
                self.queue.push_back(ClientOutput::Offer(SfuOffer {
                    sdp: offer.to_sdp_string(),
                    tracks,
                    seq: self.offers_made,
                }));
                true
            }
            None => false,
        }
    }

    /// Puts the room's tracks on the peer's offered m-lines
    /// ([`ReceiveMode::OfferedSlots`]), with no offer: an ended track frees its m-line, and
    /// a waiting track takes the free one of its kind that has been free longest (at first
    /// in the order of the offer). Called when a track opens or closes and when an m-line
    /// is added, never per packet.
    pub(super) fn fill_offered_slots(&mut self) {
        if self.config.receive != ReceiveMode::OfferedSlots {
            return;
        }
        let now = self.last_now;
        let mut changed = false;
        let mut i = 0;
        while i < self.tracks_out.len() {
            if let OutState::ToStop(mid) = self.tracks_out[i].state {
                let t = self.tracks_out.remove(i);
                self.free_slots.push(FreeSlot {
                    mid,
                    kind: t.info.kind,
                    numbering: Some(t.forwarder.numbering()),
                });
                changed = true;
            } else {
                i += 1;
            }
        }
        for i in 0..self.tracks_out.len() {
            let kind = self.tracks_out[i].info.kind;
            if self.tracks_out[i].state != OutState::ToOpen {
                continue;
            }
            let Some(slot) = self.free_slots.iter().position(|f| f.kind == kind) else {
                continue;
            };
            let slot = self.free_slots.remove(slot);
            let t = &mut self.tracks_out[i];
            if let Some(numbering) = slot.numbering {
                t.forwarder.continue_numbering(numbering);
            }
            t.state = OutState::Open(slot.mid);
            self.fill_pt_map(i);
            let outcome = self.tracks_out[i].forwarder.restart(now);
            if let Some(rid) = outcome.keyframe_request {
                self.request_keyframe_for(i, rid, SfuKeyframeKind::Pli);
            }
            changed = true;
        }
        if changed {
            self.rebuild_index();
        }
    }

    /// An m-line changed direction in a renegotiation: one the peer sends on again (or
    /// anew, on an m-line that only received before) is a track it publishes. Our own
    /// m-lines are not: the peer may answer them send-receive.
    pub(super) fn on_media_changed(&mut self, changed: MediaChanged) {
        let mid = SfuMid::from(changed.mid);
        let ours = self.free_slots.iter().any(|f| f.mid == mid)
            || self.tracks_out.iter().any(|t| {
                matches!(
                    t.state,
                    OutState::Negotiating(m)
                        | OutState::Open(m)
                        | OutState::ToStop(m)
                        | OutState::NegotiatingStop(m) if m == mid
                )
            });
        if ours || !changed.direction.is_receiving() {
            return;
        }
        let Some(kind) = self.rtc.media(changed.mid).map(|m| m.kind()) else {
            return;
        };
        // str0m does not tell the simulcast of a changed m-line: such a track is
        // forwarded as one stream.
        self.on_media_added(MediaAdded {
            mid: changed.mid,
            kind,
            direction: changed.direction,
            simulcast: None,
        });
    }

    pub(super) fn on_media_added(&mut self, added: MediaAdded) {
        let mid = SfuMid::from(added.mid);
        if self.config.receive == ReceiveMode::OfferedSlots
            && matches!(added.direction, Direction::SendOnly | Direction::SendRecv)
            && !self.free_slots.iter().any(|f| f.mid == mid)
        {
            self.free_slots.push(FreeSlot {
                mid,
                kind: added.kind.into(),
                numbering: None,
            });
            self.fill_offered_slots();
        }
        // Only media the peer sends to us is a published track; m-lines we added are ours.
        if !matches!(added.direction, Direction::RecvOnly | Direction::SendRecv) {
            return;
        }
        if self.tracks_in.iter().any(|t| t.info.mid == mid) {
            return;
        }
        let codecs: Arc<[PayloadParams]> = self.rtc.codec_config().params().into();
        // The peer's `a=simulcast:send` list; str0m may present it from either side.
        let rids: Arc<[SfuRid]> = added
            .simulcast
            .map(|s| if s.recv.is_empty() { s.send } else { s.recv })
            .unwrap_or_default()
            .iter()
            .map(|l| SfuRid::from(l.rid))
            .collect();
        let info = TrackInfo {
            origin: self.id,
            mid,
            kind: added.kind.into(),
            codecs,
            rids,
            muted: false,
            relayed: self.config.role == PeerRole::Relay,
        };
        self.tracks_in.push(TrackIn {
            info: info.clone(),
            requests: Vec::new(),
            descriptors: Vec::new(),
            epoch: None,
        });
        self.queue
            .push_back(ClientOutput::Propagate(Propagated::TrackOpen(info)));
    }

    pub(super) fn fill_pt_map(&mut self, i: usize) {
        let t = &mut self.tracks_out[i];
        t.pt_map = [NO_PT; 128];
        let config = self.rtc.codec_config();
        for p in t.info.codecs.iter() {
            if let Some(ours) = config.match_params(*p)
                && let Some(slot) = t.pt_map.get_mut(usize::from(*p.pt()))
            {
                *slot = *ours.pt();
            }
        }
    }
}

/// A simulcast send declaration of `rids`, in their order (lowest first).
fn send_layers(rids: &[SfuRid]) -> str0m::media::Simulcast {
    let mut s = str0m::media::Simulcast::new();
    for r in rids {
        s.add_send_layer(str0m::media::SimulcastLayer::new(r.as_str()));
    }
    s
}
