//! The per-peer state machine: its drive loop, its inputs and outputs. The jobs it does
//! live in the submodules: SDP negotiation, keyframe requests, the media path, the
//! allocation of the subscriber's budget, and data channel relay.

mod allocate;
mod data;
mod forward;
mod keyframes;
mod negotiation;

pub use data::{DATA_BURST, DATA_RATE, MAX_CHANNELS, MAX_DATA_BUFFERED, MAX_DATA_MESSAGE};

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use sfu_bwe::Bitrate;
use sfu_ids::{ClientId, IncomingDatagram, OutgoingDatagram, SfuMid, SfuRid};
use str0m::bwe::BweKind;
use str0m::change::SdpPendingOffer;
use str0m::format::Codec;
use str0m::rtp::RawPacket;
use str0m::rtp::rtcp::Rtcp;
use str0m::{Event, IceConnectionState, Input, Output};
use tracing::debug;

use crate::allocation::TrackPriority;
use crate::config::{ClientConfig, PeerRole, ReceiveMode};
use crate::error::ClientError;
use crate::estimator::Estimation;
use crate::forwarder::ForwardConfig;
use crate::layer::{BestFitSelector, LayerSelector, TrackHints};
use crate::propagate::{ClientOutput, LayerChangeReason, Propagated, TrackInfo};
use crate::rtc::{RawRtc, SfuRtc};
use crate::stats::{PeerRtcpStats, StatsCollector};
use crate::track::{FreeSlot, OutState, TrackIn, TrackOut};

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
    /// Video packets for this peer dropped while its budget paused their track.
    pub dropped_paused: u64,
    /// Data channel messages received from this peer and relayed to the room.
    pub data_in: u64,
    /// Data channel messages from other peers written to this peer's channels.
    pub data_relayed: u64,
    /// Data channel messages dropped: too large, or this peer's channel was full.
    pub data_dropped: u64,
    /// Frames this end-to-end encrypted peer published whose SFrame header did not parse
    /// (forwarded all the same: the receivers' decryption judges them).
    pub sframe_unreadable: u64,
}

impl ClientStats {
    /// Adds `other`'s counts to these (a room's totals over its clients).
    pub fn add(&mut self, other: &ClientStats) {
        let ClientStats {
            packets_in,
            packets_forwarded,
            dropped_other_layer,
            dropped_not_ready,
            dropped_no_codec,
            keyframe_requests,
            keyframe_requests_to_peer,
            layer_switches,
            dropped_paused,
            data_in,
            data_relayed,
            data_dropped,
            sframe_unreadable,
        } = *other;
        self.packets_in += packets_in;
        self.packets_forwarded += packets_forwarded;
        self.dropped_other_layer += dropped_other_layer;
        self.dropped_not_ready += dropped_not_ready;
        self.dropped_no_codec += dropped_no_codec;
        self.keyframe_requests += keyframe_requests;
        self.keyframe_requests_to_peer += keyframe_requests_to_peer;
        self.layer_switches += layer_switches;
        self.dropped_paused += dropped_paused;
        self.data_in += data_in;
        self.data_relayed += data_relayed;
        self.data_dropped += data_dropped;
        self.sframe_unreadable += sframe_unreadable;
    }
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
///    sending `Transmit`s, routing `Propagate`s, delivering `Offer`s over signaling and
///    reporting `LayerChanged`s.
///
/// The client never reads a clock: every time is an argument.
#[derive(Debug)]
pub struct Client {
    id: ClientId,
    rtc: RawRtc,
    config: ClientConfig,
    /// The timing part of `config` every forwarded packet needs.
    forward_config: ForwardConfig,
    selector: Box<dyn LayerSelector>,
    tracks_in: Vec<TrackIn>,
    tracks_out: Vec<TrackOut>,
    /// Inactive m-lines the next track of their kind takes over.
    free_slots: Vec<FreeSlot>,
    /// (publisher, publisher mid) → index into `tracks_out`.
    out_index: HashMap<(ClientId, SfuMid), usize>,
    codecs: [CodecSlot; 128],
    pending: Option<SdpPendingOffer>,
    /// The initial offer/answer exchange is done; we may send offers.
    can_offer: bool,
    /// This side made the connection's first offer ([`Client::create_offer`]).
    opened: bool,
    /// Simulcast m-lines this relay stopped, which nothing takes over.
    retired_lines: u32,
    /// Offers made to the peer so far.
    offers_made: u64,
    /// Offers up to this number were dropped because the peer's own offer crossed them.
    offers_superseded: u64,
    queue: VecDeque<ClientOutput>,
    /// The peer's open data channels and their labels.
    channels: Vec<(str0m::channel::ChannelId, std::sync::Arc<str>)>,
    /// Channels the room opened on the peer that are not open yet.
    opening: Vec<str0m::channel::ChannelId>,
    /// The peer's offer negotiated data channels (an `m=application` line).
    has_data_channels: bool,
    /// What the peer may still send to the room's data channels.
    data_budget: data::DataBudget,
    disconnected_since: Option<Instant>,
    /// Last datagram str0m accepted (or creation time).
    last_input: Option<Instant>,
    /// The application's cap on the bandwidth towards this peer.
    cap: Option<Bitrate>,
    /// The bandwidth estimate towards this peer.
    estimation: Estimation,
    /// When the subscriber's budget is split over its tracks next.
    next_allocation: Instant,
    /// Which limit set the budget at the last allocation.
    budget_reason: LayerChangeReason,
    /// The budget of the last allocation (`None`: unlimited).
    budget: Option<Bitrate>,
    /// What the last allocation granted the tracks, in all (zero with no budget).
    granted: Bitrate,
    /// The latest time seen in any input (creation time at first).
    last_now: Instant,
    stats: ClientStats,
    rtcp: StatsCollector,
}

impl Client {
    /// Wraps an SFU-configured `Rtc` as client `id`.
    pub fn new(id: ClientId, rtc: SfuRtc, config: ClientConfig) -> Self {
        let created = rtc.created();
        let estimation = Estimation::new(rtc.estimator(), created);
        Self {
            id,
            rtc: rtc.into_raw(),
            forward_config: ForwardConfig {
                evaluation_interval: config.layer_evaluation_interval,
                upswitch_hold: config.layer_upswitch_hold,
                keyframe_request_interval: config.keyframe_request_interval,
                keyframe_wait_limit: config.keyframe_wait_limit,
            },
            config,
            selector: Box::new(BestFitSelector),
            tracks_in: Vec::new(),
            tracks_out: Vec::new(),
            free_slots: Vec::new(),
            out_index: HashMap::new(),
            codecs: [CodecSlot::Unknown; 128],
            pending: None,
            can_offer: false,
            opened: false,
            retired_lines: 0,
            offers_made: 0,
            offers_superseded: 0,
            queue: VecDeque::new(),
            channels: Vec::new(),
            opening: Vec::new(),
            has_data_channels: false,
            data_budget: data::DataBudget::default(),
            disconnected_since: None,
            last_input: None,
            cap: None,
            estimation,
            next_allocation: created,
            budget_reason: LayerChangeReason::Estimate,
            granted: Bitrate::ZERO,
            budget: None,
            last_now: created,
            rtcp: StatsCollector::default(),
            stats: ClientStats::default(),
        }
    }

    /// Replaces the simulcast layer policy (default: [`BestFitSelector`]).
    pub fn with_selector(self, selector: impl LayerSelector + 'static) -> Self {
        self.with_boxed_selector(Box::new(selector))
    }

    /// [`Client::with_selector`] for a policy chosen at run time.
    pub fn with_boxed_selector(mut self, selector: Box<dyn LayerSelector>) -> Self {
        self.selector = selector;
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
        let mut s = self.rtcp.snapshot();
        s.estimate = self.estimation.estimate();
        s
    }

    /// The current send-side bandwidth estimate towards this peer, when an estimator runs.
    pub fn estimate(&self) -> Option<Bitrate> {
        self.estimation.estimate()
    }

    /// `true` when this side opened the connection with [`Client::create_offer`] (a relay
    /// to another SFU) rather than answering the peer's offer.
    pub fn opened_connection(&self) -> bool {
        self.opened
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

    /// The local ICE password: the key of the peer's STUN requests' MESSAGE-INTEGRITY.
    pub fn ice_password(&mut self) -> String {
        self.rtc.direct_api().local_ice_credentials().pass
    }

    /// Escape hatch to the str0m `Rtc`. **Semver-exempt.**
    pub fn raw_rtc(&mut self) -> &mut RawRtc {
        &mut self.rtc
    }

    /// Caps the bandwidth towards this peer (a client's own request, an operator's
    /// limit); `None` removes the cap. The budget is the lower of the cap and the
    /// bandwidth estimate; it is split over the tracks again at once.
    pub fn set_available_bitrate(&mut self, cap: Option<Bitrate>) {
        self.cap = cap;
        let now = self.last_now;
        self.allocate(now);
        for t in &mut self.tracks_out {
            t.forwarder.reevaluate();
        }
    }

    /// Sets how much this peer wants the track `mid` of `publisher` relative to its other
    /// tracks when the budget is short; `false` when it receives no such track.
    pub fn set_track_priority(
        &mut self,
        publisher: ClientId,
        mid: SfuMid,
        priority: TrackPriority,
    ) -> bool {
        let Some(&i) = self.out_index.get(&(publisher, mid)) else {
            return false;
        };
        self.tracks_out[i].priority = priority;
        let now = self.last_now;
        self.allocate(now);
        true
    }

    /// Calls `f` with each simulcast track this client receives (its publisher and the
    /// publisher's mid) and the layers it may be sent of it: every declared layer unless
    /// its hints cut them, none while it is unsubscribed or muted. The room pauses at the
    /// publisher the layers no subscriber may be sent.
    pub fn wanted_layers(&self, mut f: impl FnMut(ClientId, SfuMid, &[SfuRid])) {
        let mut buf = [None; crate::layer_tracker::MAX_LAYERS];
        for t in &self.tracks_out {
            let Some(&first) = t.info.rids.first() else {
                continue;
            };
            let mut rids = [first; crate::layer_tracker::MAX_LAYERS];
            let n = if !t.subscribed || t.muted {
                0
            } else if t.passthrough {
                let mut n = 0;
                for (i, r) in t.info.rids.iter().enumerate().take(buf.len()) {
                    if t.sent_layers & (1 << i) != 0 {
                        buf[n] = Some(*r);
                        n += 1;
                    }
                }
                n
            } else {
                t.forwarder.wanted_layers(&t.info.rids, &mut buf)
            };
            let mut k = 0;
            for r in buf[..n].iter().flatten() {
                rids[k] = *r;
                k += 1;
            }
            f(t.info.origin, t.info.mid, &rids[..k]);
        }
    }

    /// For a relay: the far node needs only the `active` layers of the simulcast track
    /// this client sends on its m-line `mid` (the far node's dynacast says so); the
    /// others are not sent, and the room's dynacast no longer counts them as wanted here.
    /// `false` when no simulcast track goes out on that m-line.
    pub fn set_sent_layers(&mut self, mid: SfuMid, active: &[SfuRid]) -> bool {
        let Some(t) = self
            .tracks_out
            .iter_mut()
            .find(|t| t.passthrough && t.state == OutState::Open(mid))
        else {
            return false;
        };
        t.sent_layers = t
            .info
            .rids
            .iter()
            .enumerate()
            .filter(|(_, r)| active.contains(r))
            .fold(0, |m, (i, _)| m | (1 << i));
        true
    }

    /// Sets what this client needs of the track `mid` of `publisher` beyond its budget (a
    /// highest layer, the size it shows the video at); `false` when it receives no such
    /// track. The budget is split again at once.
    pub fn set_track_hints(&mut self, publisher: ClientId, mid: SfuMid, hints: TrackHints) -> bool {
        let Some(&i) = self.out_index.get(&(publisher, mid)) else {
            return false;
        };
        self.tracks_out[i].forwarder.set_hints(hints);
        let now = self.last_now;
        self.allocate(now);
        true
    }

    /// Subscribes this client to the track `mid` of `publisher`, or unsubscribes it: an
    /// unsubscribed track forwards nothing and takes no budget; subscribed again, it
    /// restarts at a keyframe. Tracks are subscribed when they open. `false` when this
    /// client receives no such track.
    pub fn set_subscribed(&mut self, publisher: ClientId, mid: SfuMid, subscribed: bool) -> bool {
        let Some(&i) = self.out_index.get(&(publisher, mid)) else {
            return false;
        };
        if self.tracks_out[i].subscribed != subscribed {
            self.tracks_out[i].subscribed = subscribed;
            let reason = if subscribed {
                LayerChangeReason::Subscribed
            } else {
                LayerChangeReason::Unsubscribed
            };
            self.hold_out(i, reason);
        }
        true
    }

    /// Pauses the track this client receives at `i` while it is unsubscribed or muted,
    /// and lets it run (from a keyframe) otherwise; reports a change as `reason`.
    fn hold_out(&mut self, i: usize, reason: LayerChangeReason) {
        let t = &mut self.tracks_out[i];
        let held = !t.subscribed || t.muted;
        if t.forwarder.set_paused(held) {
            let change = t.pause_change(held, reason, self.budget);
            self.queue.push_back(ClientOutput::LayerChanged(change));
        }
        let now = self.last_now;
        self.allocate(now);
    }

    /// Mutes or unmutes the track `mid` this client publishes: its subscribers stop
    /// spending budget on it at once (rather than when its packets stop), and take it up
    /// again from a keyframe when it is unmuted. What the peer sends meanwhile is still
    /// forwarded to nobody. `false` when it publishes no such track.
    pub fn set_muted(&mut self, mid: SfuMid, muted: bool) -> bool {
        let Some(t) = self.tracks_in.iter_mut().find(|t| t.info.mid == mid) else {
            return false;
        };
        if t.info.muted != muted {
            t.info.muted = muted;
            self.queue
                .push_back(ClientOutput::Propagate(Propagated::TrackMuted {
                    origin: self.id,
                    mid,
                    muted,
                }));
        }
        true
    }

    /// `publisher` became (or stopped being) the room's active speaker: its video tracks
    /// this client receives move between [`TrackPriority::Normal`] and
    /// [`TrackPriority::Speaker`]. A priority the application set otherwise is kept.
    pub fn set_active_speaker(&mut self, publisher: ClientId, speaking: bool) {
        let mut changed = false;
        for t in &mut self.tracks_out {
            if t.info.origin != publisher || !t.info.kind.is_video() {
                continue;
            }
            let next = match (t.priority, speaking) {
                (TrackPriority::Normal, true) => TrackPriority::Speaker,
                (TrackPriority::Speaker, false) => TrackPriority::Normal,
                (p, _) => p,
            };
            changed |= next != t.priority;
            t.priority = next;
        }
        if changed {
            let now = self.last_now;
            self.allocate(now);
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
            return;
        }
        if now >= self.next_allocation {
            self.allocate(now);
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
                    if !self.tracks_out.is_empty() {
                        t = t.min(self.next_allocation);
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
                if self.config.receive != ReceiveMode::Nothing
                    && info.origin != self.id
                    && !(info.relayed && self.config.role == PeerRole::Relay)
                    && !self.out_index.contains_key(&(info.origin, info.mid))
                {
                    self.tracks_out.push(match self.config.role {
                        PeerRole::Relay => TrackOut::for_relay(info.clone()),
                        _ => TrackOut::new(info.clone()),
                    });
                    self.rebuild_index();
                    self.fill_offered_slots();
                }
            }
            Propagated::TrackMuted { origin, mid, muted } => {
                if let Some(&i) = self.out_index.get(&(*origin, *mid))
                    && self.tracks_out[i].muted != *muted
                {
                    self.tracks_out[i].muted = *muted;
                    let reason = if *muted {
                        LayerChangeReason::Muted
                    } else {
                        LayerChangeReason::Unmuted
                    };
                    self.hold_out(i, reason);
                }
            }
            Propagated::TrackClosed { origin, mid } => {
                if let Some(&i) = self.out_index.get(&(*origin, *mid)) {
                    self.close_out(i);
                    self.fill_offered_slots();
                }
            }
            Propagated::ClientLeft(origin) => {
                let idx: Vec<usize> = (0..self.tracks_out.len())
                    .filter(|&i| self.tracks_out[i].info.origin == *origin)
                    .collect();
                for i in idx.into_iter().rev() {
                    self.close_out(i);
                }
                self.fill_offered_slots();
            }
            Propagated::Media { origin, media } => self.forward(*origin, media, now),
            // The room reports epochs; subscribers' media needs nothing of them.
            Propagated::KeyEpochChanged { .. } => {}
            Propagated::KeyframeRequest { origin, request } => {
                if *origin == self.id {
                    self.request_keyframe_from_peer(*request, now);
                }
            }
            Propagated::Data {
                origin,
                label,
                binary,
                data,
            } => {
                if *origin != self.id && self.config.role != PeerRole::Relay {
                    self.relay_data(label, *binary, data);
                }
            }
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
            Event::MediaChanged(changed) => self.on_media_changed(changed),
            Event::RtpPacket(packet) => self.on_rtp(packet),
            Event::KeyframeRequest(req) => self.on_keyframe_request_from_peer(req.into()),
            Event::PeerStats(s) => {
                if let Some(rtt) = s.rtt {
                    self.estimation.on_rtt(rtt, self.last_now);
                }
                self.rtcp.on_peer(&s);
            }
            Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => {
                debug!(client = %self.id, kbps = estimate.as_u64() / 1000, "str0m's estimate");
                self.estimation
                    .on_str0m_estimate(Bitrate::from_bps(estimate.as_u64()));
                self.allocate_soon_if_short();
            }
            Event::RawPacket(raw) => match *raw {
                RawPacket::RtpTx(header, packet) => {
                    if let Some(seq) = header.ext_vals.transport_cc {
                        self.estimation.on_sent(seq, packet.len(), self.last_now);
                    }
                }
                RawPacket::RtcpRx(Rtcp::Twcc(twcc)) => {
                    self.estimation.on_twcc(twcc, self.last_now);
                    self.allocate_soon_if_short();
                }
                _ => {}
            },
            Event::MediaEgressStats(s) => self.rtcp.on_egress(&s),
            Event::ChannelOpen(id, label) => self.on_channel_open(id, label),
            Event::ChannelData(d) => self.on_channel_data(d),
            Event::ChannelClose(id) => self.on_channel_close(id),
            _ => {}
        }
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
}
