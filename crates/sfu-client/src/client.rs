//! The per-peer state machine.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sfu_ids::{
    ClientId, IncomingDatagram, OutgoingDatagram, SfuKeyframeKind, SfuKeyframeRequest,
    SfuMediaKind, SfuMediaPayload, SfuMid, SfuPt, SfuRid,
};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::{Codec, PayloadParams};
use str0m::media::{Direction, KeyframeRequestKind, MediaAdded};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite};
use str0m::{Event, IceConnectionState, Input, Output};
use tracing::debug;

use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::keyframe_detect::is_keyframe;
use crate::layer::{BestFitSelector, LAYER_CAPACITY, LayerInfo, LayerSelector};
use crate::propagate::{ClientOutput, Propagated, TrackInfo};
use crate::rewrite::SeqTsRewriter;
use crate::rtc::{RawRtc, SfuRtc};
use crate::stats::{PeerRtcpStats, StatsCollector};
use crate::track::{Current, KeyframeThrottle, NO_PT, OutState, TrackIn, TrackOut};

/// Counters of what a client did with media. Cheap to copy; read with [`Client::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientStats {
    /// RTP packets received from this peer and propagated.
    pub packets_in: u64,
    /// RTP packets forwarded to this peer.
    pub packets_forwarded: u64,
    /// Packets for this peer dropped because they belong to a layer it does not receive.
    pub dropped_other_layer: u64,
    /// Packets for this peer dropped while its track was not negotiated or waited for a keyframe.
    pub dropped_not_ready: u64,
    /// Packets dropped because no payload type of this peer matches the publisher's codec.
    pub dropped_no_codec: u64,
    /// Keyframe requests this peer's tracks sent to their publishers.
    pub keyframe_requests: u64,
    /// Keyframe requests (PLI/FIR) sent to this peer as a publisher, after throttling.
    pub keyframe_requests_to_peer: u64,
    /// Simulcast layer switches on this peer's tracks.
    pub layer_switches: u64,
}

/// Cached codec of a payload type of this peer.
#[derive(Debug, Clone, Copy)]
enum CodecSlot {
    Unknown,
    Missing,
    Known { codec: Codec },
}

/// One peer of a room: a str0m `Rtc` in RTP mode plus the bookkeeping to forward media
/// from and to it.
///
/// # Drive loop
///
/// Like str0m and quinn, the client is sans-I/O. The owner (usually the registry):
/// 1. feeds network input with [`Client::handle_input`] and time with [`Client::handle_timeout`];
/// 2. feeds other clients' events with [`Client::handle_propagated`];
/// 3. then drains [`Client::poll_output`] until it returns [`ClientOutput::Timeout`],
///    sending `Transmit`s, routing `Propagate`s and delivering `Offer`s over signaling.
///
/// The client never reads a clock: every time is an argument.
#[derive(Debug)]
pub struct Client {
    id: ClientId,
    rtc: RawRtc,
    config: ClientConfig,
    selector: Box<dyn LayerSelector>,
    tracks_in: Vec<TrackIn>,
    tracks_out: Vec<TrackOut>,
    /// (publisher, publisher mid) → index into `tracks_out`.
    out_index: HashMap<(ClientId, SfuMid), usize>,
    codecs: [CodecSlot; 128],
    pending: Option<SdpPendingOffer>,
    /// The initial offer/answer exchange is done; we may send offers.
    can_offer: bool,
    queue: VecDeque<ClientOutput>,
    disconnected_since: Option<Instant>,
    /// Last datagram str0m accepted (or creation time).
    last_input: Option<Instant>,
    available_bps: Option<u64>,
    /// The latest time seen in any input (creation time at first).
    last_now: Instant,
    stats: ClientStats,
    rtcp: StatsCollector,
}

impl Client {
    /// Wraps an SFU-configured `Rtc` as client `id`.
    pub fn new(id: ClientId, rtc: SfuRtc, config: ClientConfig) -> Self {
        let created = rtc.created();
        Self {
            id,
            rtc: rtc.into_raw(),
            config,
            selector: Box::new(BestFitSelector),
            tracks_in: Vec::new(),
            tracks_out: Vec::new(),
            out_index: HashMap::new(),
            codecs: [CodecSlot::Unknown; 128],
            pending: None,
            can_offer: false,
            queue: VecDeque::new(),
            disconnected_since: None,
            last_input: None,
            available_bps: None,
            last_now: created,
            rtcp: StatsCollector::default(),
            stats: ClientStats::default(),
        }
    }

    /// Replaces the simulcast layer policy (default: [`BestFitSelector`]).
    pub fn with_selector(mut self, selector: impl LayerSelector + 'static) -> Self {
        self.selector = Box::new(selector);
        self
    }

    /// This client's id.
    pub fn id(&self) -> ClientId {
        self.id
    }

    /// Media counters.
    pub fn stats(&self) -> ClientStats {
        self.stats
    }

    /// RTCP-derived connection statistics (RTT, loss, feedback counts), refreshed once per
    /// stats interval.
    pub fn rtcp_stats(&self) -> PeerRtcpStats {
        self.rtcp.snapshot()
    }

    /// `false` once the peer connection is closed; the room then removes the client.
    pub fn is_alive(&self) -> bool {
        self.rtc.is_alive()
    }

    /// Closes the peer connection.
    pub fn disconnect(&mut self) {
        self.rtc.disconnect();
    }

    /// Our ICE username fragment: the first half of the USERNAME in the peer's STUN
    /// binding requests, which lets the room route them before the address is known.
    pub fn ice_ufrag(&mut self) -> String {
        self.rtc.direct_api().local_ice_credentials().ufrag
    }

    /// Escape hatch to the str0m `Rtc`. **Semver-exempt.**
    pub fn raw_rtc(&mut self) -> &mut RawRtc {
        &mut self.rtc
    }

    /// Caps the bandwidth available towards this peer (bits/s), e.g. from a bandwidth
    /// estimator or a client's own request; `None` removes the cap. The layer selector
    /// sees it at its next evaluation.
    pub fn set_available_bitrate(&mut self, bps: Option<u64>) {
        self.available_bps = bps;
        for t in &mut self.tracks_out {
            t.last_evaluation = None;
        }
    }

    /// The tracks this client publishes, for announcing them to a client that joins later.
    pub fn published_tracks(&self) -> impl Iterator<Item = &TrackInfo> {
        self.tracks_in.iter().map(|t| &t.info)
    }

    /// Number of tracks this client receives from others in any negotiation state.
    pub fn subscribed_track_count(&self) -> usize {
        self.tracks_out.len()
    }

    /// Applies an SDP offer from the peer and returns our answer.
    ///
    /// An offer that crosses one of ours (glare) wins: our outstanding offer is dropped and
    /// its changes are offered again afterwards.
    pub fn accept_offer(&mut self, offer_sdp: &str) -> Result<String, ClientError> {
        let offer = SdpOffer::from_sdp_string(offer_sdp)
            .map_err(|e| ClientError::SdpParse(e.to_string()))?;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(ClientError::SdpRejected)?;
        self.pending = None;
        for t in &mut self.tracks_out {
            t.state = match t.state {
                OutState::Negotiating(_) => OutState::ToOpen,
                OutState::NegotiatingStop(m) => OutState::ToStop(m),
                s => s,
            };
        }
        self.codecs = [CodecSlot::Unknown; 128];
        self.can_offer = true;
        Ok(answer.to_sdp_string())
    }

    /// Applies the peer's answer to our last [`ClientOutput::Offer`].
    pub fn accept_answer(&mut self, answer_sdp: &str) -> Result<(), ClientError> {
        let answer = SdpAnswer::from_sdp_string(answer_sdp)
            .map_err(|e| ClientError::SdpParse(e.to_string()))?;
        let pending = self.pending.take().ok_or(ClientError::NoPendingOffer)?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(ClientError::SdpRejected)?;
        self.codecs = [CodecSlot::Unknown; 128];
        let now = self.last_now;
        for i in 0..self.tracks_out.len() {
            if let OutState::Negotiating(m) = self.tracks_out[i].state {
                self.tracks_out[i].state = OutState::Open(m);
                self.fill_pt_map(i);
                self.tracks_out[i].current = Current::Waiting { since: Some(now) };
                self.request_keyframe_for(i, None, now);
            }
        }
        for t in &self.tracks_out {
            if let OutState::NegotiatingStop(m) = t.state {
                self.rtcp.forget(m);
            }
        }
        self.tracks_out
            .retain(|t| !matches!(t.state, OutState::NegotiatingStop(_)));
        self.rebuild_index();
        Ok(())
    }

    /// Feeds a datagram from the network at `now`.
    pub fn handle_input(
        &mut self,
        datagram: &IncomingDatagram,
        now: Instant,
    ) -> Result<(), ClientError> {
        if !self.rtc.is_alive() {
            return Err(ClientError::Closed);
        }
        self.last_now = now;
        let input = datagram.to_input(now)?;
        // A rejected datagram is dropped, not fatal: anyone can send junk to the peer's
        // address. str0m itself closes the connection when its state is really broken,
        // which `is_alive` then reports.
        self.rtc
            .handle_input(input)
            .map(|()| self.last_input = Some(now))
            .map_err(|e| {
                debug!(client = %self.id, error = %e, "datagram rejected");
                ClientError::Rtc(e)
            })
    }

    /// Advances time to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.rtc.is_alive() {
            return;
        }
        self.last_now = now;
        let last_input = *self.last_input.get_or_insert(now);
        if now.saturating_duration_since(last_input) >= self.config.inactivity_timeout {
            debug!(client = %self.id, "no datagram within the inactivity timeout; closing peer");
            self.rtc.disconnect();
            return;
        }
        if let Some(since) = self.disconnected_since
            && now.saturating_duration_since(since) >= self.config.ice_disconnect_timeout
        {
            debug!(client = %self.id, "ICE disconnected past the timeout; closing peer");
            self.rtc.disconnect();
            return;
        }
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            debug!(client = %self.id, error = %e, "timeout handling failed; closing peer");
            self.rtc.disconnect();
        }
    }

    /// The next output. Drain until [`ClientOutput::Timeout`] after every input.
    #[must_use]
    pub fn poll_output(&mut self) -> ClientOutput {
        loop {
            if let Some(out) = self.queue.pop_front() {
                return out;
            }
            if !self.rtc.is_alive() {
                return ClientOutput::Timeout(self.far_future());
            }
            if self.negotiate_if_needed() {
                continue;
            }
            match self.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    return ClientOutput::Transmit(OutgoingDatagram::from(t));
                }
                Ok(Output::Timeout(t)) => {
                    let mut t = t;
                    if let Some(since) = self.disconnected_since {
                        t = t.min(since + self.config.ice_disconnect_timeout);
                    }
                    if let Some(last) = self.last_input {
                        t = t.min(last + self.config.inactivity_timeout);
                    }
                    return ClientOutput::Timeout(t);
                }
                Ok(Output::Event(e)) => self.handle_event(e),
                Err(e) => {
                    debug!(client = %self.id, error = %e, "poll failed; closing peer");
                    self.rtc.disconnect();
                }
            }
        }
    }

    /// A timeout for a closed client: it has nothing left to do.
    fn far_future(&self) -> Instant {
        self.last_now + Duration::from_secs(3600)
    }

    /// Feeds an event another client produced (routed by the registry).
    pub fn handle_propagated(&mut self, event: &Propagated, now: Instant) {
        self.last_now = now;
        match event {
            Propagated::TrackOpen(info) => {
                if info.origin != self.id && !self.out_index.contains_key(&(info.origin, info.mid))
                {
                    self.tracks_out.push(TrackOut::new(info.clone()));
                    self.rebuild_index();
                }
            }
            Propagated::TrackClosed { origin, mid } => {
                if let Some(&i) = self.out_index.get(&(*origin, *mid)) {
                    self.close_out(i);
                }
            }
            Propagated::ClientLeft(origin) => {
                let idx: Vec<usize> = (0..self.tracks_out.len())
                    .filter(|&i| self.tracks_out[i].info.origin == *origin)
                    .collect();
                for i in idx.into_iter().rev() {
                    self.close_out(i);
                }
            }
            Propagated::Media { origin, media } => self.forward(*origin, media, now),
            Propagated::KeyframeRequest { origin, request } => {
                if *origin == self.id {
                    self.request_keyframe_from_peer(*request, now);
                }
            }
        }
    }

    fn close_out(&mut self, i: usize) {
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

    fn rebuild_index(&mut self) {
        self.out_index.clear();
        for (i, t) in self.tracks_out.iter().enumerate() {
            self.out_index.insert(t.source(), i);
        }
    }

    /// Creates an offer for pending track changes, when allowed.
    fn negotiate_if_needed(&mut self) -> bool {
        if !self.can_offer || self.pending.is_some() {
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
                    let mid = change.add_media(
                        t.info.kind.into(),
                        Direction::SendOnly,
                        Some(t.info.origin.to_string()),
                        Some(format!("{}-{}", t.info.origin, t.info.mid)),
                        None,
                    );
                    t.state = OutState::Negotiating(mid.into());
                }
                OutState::ToStop(m) => {
                    change.stop_media(m.into());
                    t.state = OutState::NegotiatingStop(m);
                }
                _ => {}
            }
        }
        match change.apply() {
            Some((offer, pending)) => {
                self.pending = Some(pending);
                self.queue
                    .push_back(ClientOutput::Offer(offer.to_sdp_string()));
                true
            }
            None => false,
        }
    }

    fn handle_event(&mut self, event: Event) {
        match event {
            Event::IceConnectionStateChange(state) => {
                self.disconnected_since = match state {
                    IceConnectionState::Disconnected => {
                        self.disconnected_since.or(Some(self.last_now))
                    }
                    _ => None,
                };
            }
            Event::MediaAdded(added) => self.on_media_added(added),
            Event::RtpPacket(packet) => self.on_rtp(packet),
            Event::KeyframeRequest(req) => self.on_keyframe_request_from_peer(req.into()),
            Event::PeerStats(s) => self.rtcp.on_peer(&s),
            Event::MediaEgressStats(s) => self.rtcp.on_egress(&s),
            _ => {}
        }
    }

    fn on_media_added(&mut self, added: MediaAdded) {
        // Only media the peer sends to us is a published track; m-lines we added are ours.
        if !matches!(added.direction, Direction::RecvOnly | Direction::SendRecv) {
            return;
        }
        let mid = SfuMid::from(added.mid);
        if self.tracks_in.iter().any(|t| t.info.mid == mid) {
            return;
        }
        let codecs: Arc<[PayloadParams]> = self.rtc.codec_config().params().into();
        let info = TrackInfo {
            origin: self.id,
            mid,
            kind: added.kind.into(),
            codecs,
        };
        self.tracks_in.push(TrackIn {
            info: info.clone(),
            requests: Vec::new(),
        });
        self.queue
            .push_back(ClientOutput::Propagate(Propagated::TrackOpen(info)));
    }

    fn codec_of(&mut self, pt: u8) -> Option<Codec> {
        let slot = self.codecs.get(usize::from(pt)).copied()?;
        match slot {
            CodecSlot::Known { codec } => Some(codec),
            CodecSlot::Missing => None,
            CodecSlot::Unknown => {
                let found = self
                    .rtc
                    .codec_config()
                    .find(|p| *p.pt() == pt)
                    .map(|p| p.spec().codec);
                self.codecs[usize::from(pt)] = match found {
                    Some(codec) => CodecSlot::Known { codec },
                    None => CodecSlot::Missing,
                };
                found
            }
        }
    }

    fn on_rtp(&mut self, packet: RtpPacket) {
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
        let keyframe = is_keyframe(codec, &packet.payload);
        if keyframe
            && let Some(t) = self.tracks_in.iter_mut().find(|t| t.info.mid == mid)
            && let Some(r) = t.requests.iter_mut().find(|r| r.rid == rid)
        {
            r.outstanding_since = None;
        }
        self.stats.packets_in += 1;
        let media = SfuMediaPayload {
            mid,
            rid,
            pt,
            seq_no: *packet.seq_no,
            rtp_time: packet.header.timestamp,
            marker: packet.header.marker,
            keyframe,
            payload: packet.payload,
            received_at: packet.timestamp,
            audio_level: packet.header.ext_vals.audio_level,
            voice_activity: packet.header.ext_vals.voice_activity,
        };
        self.queue
            .push_back(ClientOutput::Propagate(Propagated::Media {
                origin: self.id,
                media,
            }));
    }

    /// The peer (as a subscriber) asked for a keyframe on one of its incoming m-lines.
    fn on_keyframe_request_from_peer(&mut self, req: SfuKeyframeRequest) {
        let Some(i) = self
            .tracks_out
            .iter()
            .position(|t| t.state == OutState::Open(req.mid))
        else {
            return;
        };
        let rid = match self.tracks_out[i].current {
            Current::Layer(rid) => rid,
            Current::Waiting { .. } => self.tracks_out[i].target,
        };
        let now = self.last_now;
        self.request_keyframe_for(i, Some((rid, req.kind)), now);
    }

    /// Queues a keyframe request to the publisher of outgoing track `i`.
    fn request_keyframe_for(
        &mut self,
        i: usize,
        what: Option<(Option<SfuRid>, SfuKeyframeKind)>,
        now: Instant,
    ) {
        let t = &mut self.tracks_out[i];
        if !t.info.kind.is_video() {
            return;
        }
        t.last_keyframe_request = Some(now);
        let (rid, kind) = what.unwrap_or((t.target, SfuKeyframeKind::Pli));
        self.stats.keyframe_requests += 1;
        self.queue
            .push_back(ClientOutput::Propagate(Propagated::KeyframeRequest {
                origin: t.info.origin,
                request: SfuKeyframeRequest {
                    mid: t.info.mid,
                    rid,
                    kind,
                },
            }));
    }

    /// Outgoing track `i` waits for a keyframe (to start, or to switch layer): ask again
    /// once per interval. A keyframe produced for another subscriber before this one
    /// wanted it does not help, and encoders send none unasked.
    fn rerequest_keyframe_if_due(&mut self, i: usize, now: Instant) {
        let due = self.tracks_out[i].last_keyframe_request.is_none_or(|at| {
            now.saturating_duration_since(at) >= self.config.keyframe_request_interval
        });
        if due {
            self.request_keyframe_for(i, None, now);
        }
    }

    /// We are the publisher: ask our peer for a keyframe, throttled per layer.
    fn request_keyframe_from_peer(&mut self, req: SfuKeyframeRequest, now: Instant) {
        let Some(track) = self.tracks_in.iter_mut().find(|t| t.info.mid == req.mid) else {
            return;
        };
        let interval = self.config.keyframe_request_interval;
        let throttle = match track.requests.iter_mut().position(|r| r.rid == req.rid) {
            Some(i) => &mut track.requests[i],
            None => {
                track.requests.push(KeyframeThrottle {
                    rid: req.rid,
                    last_sent: now,
                    outstanding_since: None,
                });
                let last = track.requests.len() - 1;
                let t = &mut track.requests[last];
                // Force the first request through.
                t.last_sent = now.checked_sub(interval).unwrap_or(now);
                t
            }
        };
        // At most one request per layer per interval, however many subscribers ask.
        if now.saturating_duration_since(throttle.last_sent) < interval {
            return;
        }
        let escalate = throttle
            .outstanding_since
            .is_some_and(|since| now.saturating_duration_since(since) >= self.config.fir_after);
        let kind = if escalate || req.kind == SfuKeyframeKind::Fir {
            KeyframeRequestKind::Fir
        } else {
            KeyframeRequestKind::Pli
        };
        throttle.last_sent = now;
        throttle.outstanding_since.get_or_insert(now);
        self.stats.keyframe_requests_to_peer += 1;
        let mut api = self.rtc.direct_api();
        if let Some(rx) = api.stream_rx_by_mid(req.mid.into(), req.rid.map(Into::into)) {
            rx.request_keyframe(kind);
        }
    }

    fn fill_pt_map(&mut self, i: usize) {
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

    /// Forwards a publisher's packet to this peer, if it receives that track and layer.
    fn forward(&mut self, origin: ClientId, media: &SfuMediaPayload, now: Instant) {
        let Some(&i) = self.out_index.get(&(origin, media.mid)) else {
            return;
        };
        let OutState::Open(out_mid) = self.tracks_out[i].state else {
            self.stats.dropped_not_ready += 1;
            return;
        };

        // Layer bookkeeping and selection (simulcast only).
        if let Some(rid) = media.rid {
            let t = &mut self.tracks_out[i];
            t.layers.record(rid, media.payload.len(), now);
            let due = t.last_evaluation.is_none_or(|at| {
                now.saturating_duration_since(at) >= self.config.layer_evaluation_interval
            });
            let target_gone = t.target.is_none_or(|r| !t.layers.is_active(r, now));
            if due || target_gone {
                t.last_evaluation = Some(now);
                let mut buf = [LayerInfo {
                    rid,
                    bitrate_bps: 0,
                }; LAYER_CAPACITY];
                let n = t.layers.active(now, &mut buf);
                let target = self.selector.select(&buf[..n], self.available_bps);
                if target != t.target {
                    t.target = target;
                    if target.is_some() && t.current != Current::Layer(target) {
                        self.request_keyframe_for(i, None, now);
                    }
                }
            }
        }

        let t = &mut self.tracks_out[i];
        let is_video = t.info.kind == SfuMediaKind::Video;
        let wanted = if media.rid.is_some() {
            media.rid == t.target
        } else {
            true
        };
        let switch = match t.current {
            Current::Layer(cur) if cur == media.rid => false,
            _ if !wanted => {
                self.stats.dropped_other_layer += 1;
                return;
            }
            Current::Waiting { since } => {
                let since = since.unwrap_or_else(|| {
                    t.current = Current::Waiting { since: Some(now) };
                    now
                });
                let waited =
                    now.saturating_duration_since(since) >= self.config.keyframe_wait_limit;
                if is_video && !media.keyframe && !(media.rid.is_none() && waited) {
                    self.stats.dropped_not_ready += 1;
                    self.rerequest_keyframe_if_due(i, now);
                    return;
                }
                true
            }
            Current::Layer(_) => {
                if !media.keyframe {
                    self.stats.dropped_other_layer += 1;
                    self.rerequest_keyframe_if_due(i, now);
                    return;
                }
                self.stats.layer_switches += 1;
                true
            }
        };

        let Some(&out_pt) = t.pt_map.get(usize::from(media.pt.get())) else {
            return;
        };
        if out_pt == NO_PT {
            self.stats.dropped_no_codec += 1;
            return;
        }
        let rewriter = t.rewriter.get_or_insert_with(|| {
            let clock = t
                .info
                .codecs
                .iter()
                .find(|p| *p.pt() == media.pt.get())
                .map(|p| p.spec().clock_rate.get())
                .unwrap_or(90_000);
            SeqTsRewriter::new(clock)
        });
        let out = if switch {
            t.current = Current::Layer(media.rid);
            Some(rewriter.switch(media.seq_no, media.rtp_time, now))
        } else {
            rewriter.rewrite(media.seq_no, media.rtp_time, now)
        };
        let Some(out) = out else {
            self.stats.dropped_other_layer += 1;
            return;
        };

        let exts = ExtensionValues {
            mid: Some(out_mid.into()),
            audio_level: media.audio_level,
            voice_activity: media.voice_activity,
            ..Default::default()
        };
        let mut api = self.rtc.direct_api();
        let Some(tx) = api.stream_tx_by_mid(out_mid.into(), None) else {
            self.stats.dropped_not_ready += 1;
            return;
        };
        tx.write_rtp(
            RtpWrite::new(
                out_pt.into(),
                out.seq_no.into(),
                out.rtp_time,
                media.received_at,
                Arc::clone(&media.payload),
            )
            .marker(media.marker)
            .ext_vals(exts)
            .nackable(is_video),
        );
        self.stats.packets_forwarded += 1;
    }
}
