//! An in-memory network of str0m peers (browser stand-ins, frame mode, full ICE) around one
//! room, in simulated time.

#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sfu_client::{Client, ClientConfig, EstimatorKind, LayerChange, SfuRtc};
use sfu_ids::{ClientId, IncomingDatagram, OutgoingDatagram};
use sfu_registry::{Registry, RoomEvent, TransmitSink};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, MediaTime, Mid, Simulcast};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

pub mod cascade;

pub const SFU: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 3478);
pub const STEP: Duration = Duration::from_millis(5);

pub struct Peer {
    pub id: ClientId,
    pub addr: SocketAddr,
    pub rtc: Rtc,
    pub audio: Option<Mid>,
    pub video: Option<Mid>,
    pub simulcast: bool,
    /// Frames received per publisher (its client id), as the room's offers name them.
    pub received: HashMap<String, (u64, u64)>,
    /// The publisher each receiving m-line carries, from the room's last offer.
    pub publishers: HashMap<str0m::media::Mid, String>,
    /// Every offer the room sent this peer: (SDP bytes, m-lines).
    pub offers: Vec<(usize, usize)>,
    pub pending: Option<SdpPendingOffer>,
    pub gone: bool,
    /// Keyframe requests this peer received for its own media.
    pub keyframe_requests: u64,
    /// The SFU's ICE username fragment for this peer, from its answer.
    pub sfu_ufrag: String,
    /// Marks its video frames with frame marking.
    pub frame_marking: bool,
    /// Sends every video frame as an SFrame ciphertext under this key id: the header
    /// (counter 8 + frame number mod 200, one byte, so the config byte is even and looks
    /// like a VP8 keyframe tag), then the frame's filler bytes.
    pub sframe_kid: Option<u64>,
    /// Every video frame received, whole (when `record_frames`).
    pub frames: Vec<Vec<u8>>,
    pub record_frames: bool,
    /// The RFC 6464 level its audio carries (−dBov), when it sends one.
    pub audio_level: Option<i8>,
    /// Its `chat` data channel, once open.
    pub chat: Option<str0m::channel::ChannelId>,
    /// Every message it received on `chat`: (binary, bytes).
    pub chat_received: Vec<(bool, Vec<u8>)>,
    /// Every data channel that opened on it (its own and the room's), with its label.
    pub channels_open: Vec<(str0m::channel::ChannelId, String)>,
    /// Every message it received on another channel than `chat`.
    pub other_received: Vec<(str0m::channel::ChannelId, Vec<u8>)>,
    /// The room's [`Client::open_channel`] calls for it, as they returned.
    pub room_channels_opened: Vec<bool>,
    /// Like a browser: keyframes only when asked (and on the first frame), not periodically.
    pub key_on_request: bool,
    /// Keyframe requests to ignore before honouring one (a lost PLI or keyframe).
    pub ignore_requests: u32,
    want_key: bool,
    /// (ssrc, seq, rtp time) of every received VP8 RTP packet, when recording.
    pub video_rtp: Vec<(u32, u16, u32)>,
    /// RTX packets received: retransmissions and padding.
    pub rtx_packets: u64,
    /// (time, sequence number, padding bit, bytes) of each RTX packet received, for
    /// messages.
    pub rtx_log: Vec<(Instant, u16, bool, usize)>,
    /// When each video frame from any remote arrived.
    pub video_arrivals: Vec<Instant>,
    /// Bytes of the frame of simulcast layer `layer` (0 = lowest) at frame number `n`.
    pub layer_bytes: fn(n: u64, layer: usize) -> usize,
    /// Simulcast layers (rids) this publisher stopped sending.
    pub stopped_layers: Vec<&'static str>,
    /// The next answer this peer gives is one str0m must reject (it claims ICE-lite, as the
    /// SFU does).
    pub spoil_next_answer: bool,
    /// The room's offers are kept unanswered in `held` (an offer of the peer's own is
    /// about to cross them).
    pub hold_offers: bool,
    pub held: Vec<sfu_client::SfuOffer>,
    /// A second video track it publishes (a screen share), once added.
    pub screen: Option<Mid>,
    /// Video frames received per (publisher, publisher's mid), as the offers name them.
    pub track_frames: HashMap<(String, String), u64>,
    /// (publisher, publisher's mid) of each receiving m-line, from the room's last offer.
    pub track_of: HashMap<Mid, (String, String)>,
    /// Answers of this peer the room rejected.
    pub answers_rejected: u32,
    /// The bottleneck from the SFU to this peer (`None`: instant delivery).
    pub downlink: Option<Link>,
    frame_no: u64,
}

/// A bottleneck from the SFU to one peer: a rate, a drop-tail queue bounded in time, and a
/// propagation delay.
pub struct Link {
    pub rate_bps: u64,
    pub delay: Duration,
    pub max_queue: Duration,
    busy_until: Option<Instant>,
    queue: VecDeque<(Instant, SocketAddr, SocketAddr, Vec<u8>)>,
    pub dropped: u64,
}

impl Link {
    pub fn new(rate_bps: u64) -> Self {
        Self {
            rate_bps,
            delay: Duration::from_millis(20),
            max_queue: Duration::from_millis(300),
            busy_until: None,
            queue: VecDeque::new(),
            dropped: 0,
        }
    }

    fn enqueue(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) {
        let start = self.busy_until.map_or(now, |b| b.max(now));
        if start.saturating_duration_since(now) > self.max_queue {
            self.dropped += 1;
            return;
        }
        let tx =
            Duration::from_nanos(bytes.len() as u64 * 8 * 1_000_000_000 / self.rate_bps.max(1));
        self.busy_until = Some(start + tx);
        self.queue
            .push_back((start + tx + self.delay, from, to, bytes));
    }

    fn next_due(&self) -> Option<Instant> {
        self.queue.front().map(|q| q.0)
    }
}

/// Layers differ in size: 300, 600, 900 bytes.
fn default_layer_bytes(_n: u64, layer: usize) -> usize {
    300 * (layer + 1)
}

/// A room as `SFU_TEST_WORKERS` asks: unset, one worker; `N`, N workers sharing every
/// batch however small, their helpers sending through `sink`, so each test also checks
/// the batched fanout and the helpers' sending.
fn room_from_env(sink: &Arc<TestSink>) -> Registry {
    match std::env::var("SFU_TEST_WORKERS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        Some(n) => {
            let mut room =
                Registry::with_workers(sfu_registry::Workers::new(n).with_min_batch_work(0));
            room.set_transmit_sink(Some(Arc::clone(sink) as Arc<dyn TransmitSink>));
            room
        }
        None => Registry::new(),
    }
}

/// A [`TransmitSink`] that keeps what it is given (by the helpers, and by the room's thread
/// for its own shard) for [`World::exchange`] to deliver, and leaves the last datagram of
/// every third call unsent, as a full socket buffer would, for the room to send.
#[derive(Debug, Default)]
pub struct TestSink {
    sent: Mutex<(Vec<OutgoingDatagram>, u64)>,
}

impl TestSink {
    fn take(&self) -> Vec<OutgoingDatagram> {
        std::mem::take(&mut self.sent.lock().expect("not poisoned").0)
    }
}

impl TransmitSink for TestSink {
    fn transmit(&self, datagrams: &mut Vec<OutgoingDatagram>) {
        let mut sent = self.sent.lock().expect("not poisoned");
        sent.1 += 1;
        let keep = usize::from(sent.1.is_multiple_of(3)).min(datagrams.len());
        let go = datagrams.len() - keep;
        sent.0.extend(datagrams.drain(..go));
    }
}

pub struct World {
    pub start: Instant,
    pub now: Instant,
    /// The room's address: its clients' host candidate.
    pub sfu: SocketAddr,
    pub room: Registry,
    pub peers: Vec<Peer>,
    /// The estimator of clients that join from now on.
    pub estimator: EstimatorKind,
    /// Every layer change the room reported, with its time.
    pub layer_changes: Vec<(Instant, ClientId, LayerChange)>,
    /// Peers that join from now on mark their video with frame marking (RFC 9626), in
    /// the L1T3 pattern.
    pub frame_marking: bool,
    /// What the clients of peers that join from now on take their published media for.
    pub encryption: sfu_client::PayloadEncryption,
    /// Data channels the room opens on each peer that joins from now on.
    pub channels: Vec<sfu_client::ChannelConfig>,
    /// Every active speaker the room announced, with its time.
    pub speakers: Vec<(Instant, ClientId)>,
    /// Every event the room emitted.
    pub events: Vec<RoomEvent>,
    /// Datagrams the room sent to an address no peer of this world has (another room).
    pub outbox: Vec<sfu_ids::OutgoingDatagram>,
    /// The room's offers to clients that are not peers of this world (relays).
    pub relay_offers: Vec<(ClientId, sfu_client::SfuOffer)>,
    /// What the room sent through its transmit sink, when it has helpers.
    pub sink: Arc<TestSink>,
}

/// The frame marking URI and a peer-side serializer for it (the wire format is all that
/// the SFU sees).
pub const VFM_URI: &str = "urn:ietf:params:rtp-hdrext:framemarking";

#[derive(Debug, Clone, Copy)]
pub struct MarkValue(pub [u8; 3]);

#[derive(Debug)]
pub struct MarkSerializer;

impl str0m::rtp::ExtensionSerializer for MarkSerializer {
    fn write_to(&self, buf: &mut [u8], ev: &str0m::rtp::ExtensionValues) -> usize {
        match ev.user_values.get::<MarkValue>() {
            Some(v) if buf.len() >= 3 => {
                buf[..3].copy_from_slice(&v.0);
                3
            }
            _ => 0,
        }
    }
    fn parse_value(&self, _buf: &[u8], _ev: &mut str0m::rtp::ExtensionValues) -> bool {
        true
    }
    fn is_video(&self) -> bool {
        true
    }
    fn is_audio(&self) -> bool {
        false
    }
}

impl World {
    pub fn new() -> Self {
        Self::at(Instant::now(), SFU)
    }

    /// A world whose time starts at `start` and whose room is at `sfu` (worlds that
    /// exchange datagrams share a start and differ in address).
    pub fn at(start: Instant, sfu: SocketAddr) -> Self {
        let sink = Arc::new(TestSink::default());
        Self {
            start,
            now: start,
            sfu,
            room: room_from_env(&sink),
            peers: Vec::new(),
            estimator: EstimatorKind::default(),
            layer_changes: Vec::new(),
            frame_marking: false,
            encryption: sfu_client::PayloadEncryption::None,
            channels: Vec::new(),
            speakers: Vec::new(),
            events: Vec::new(),
            outbox: Vec::new(),
            relay_offers: Vec::new(),
            sink,
        }
    }

    /// Adds a publishing peer: it offers audio + video (optionally 3-layer simulcast).
    pub fn join(&mut self, simulcast: bool) -> ClientId {
        let n = self.peers.len() as u64 + 1;
        let id = ClientId::new(n);
        let addr = SocketAddr::from(([127, 0, 0, 1], 50_000 + n as u16));
        let mut config = Rtc::builder().enable_raw_packets(true);
        if self.frame_marking {
            config = config.set_extension(
                9,
                str0m::rtp::Extension::with_serializer(VFM_URI, MarkSerializer),
            );
        }
        let mut rtc = config.build(self.now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("host candidate"));
        let mut change = rtc.sdp_api();
        let audio = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let sim = simulcast.then(|| {
            let mut s = Simulcast::new();
            for r in ["q", "h", "f"] {
                s.add_send_layer(str0m::media::SimulcastLayer::new(r));
            }
            s
        });
        let video = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, sim);
        // Every peer opens a `chat` data channel, as the page does.
        change.add_channel("chat".into());
        let (offer, pending) = change.apply().expect("changes");
        let config = ClientConfig::default().with_payload_encryption(self.encryption);
        let p = self.admit(id, addr, rtc, offer, pending, config);
        p.audio = Some(audio);
        p.video = Some(video);
        p.simulcast = simulcast;
        id
    }

    /// Adds a viewer in the manner of a WHEP player: it sends nothing and offers
    /// `audio` + `video` receiving m-lines, which the room fills
    /// ([`sfu_client::ReceiveMode::OfferedSlots`]). Its frames are counted per m-line,
    /// under the names `slot-<mid>`.
    pub fn join_viewer(&mut self, audio: usize, video: usize) -> ClientId {
        let n = self.peers.len() as u64 + 1;
        let id = ClientId::new(n);
        let addr = SocketAddr::from(([127, 0, 0, 1], 50_000 + n as u16));
        let mut rtc = Rtc::builder().enable_raw_packets(true).build(self.now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("host candidate"));
        let mut change = rtc.sdp_api();
        let mut slots = Vec::new();
        for kind in std::iter::repeat_n(MediaKind::Audio, audio)
            .chain(std::iter::repeat_n(MediaKind::Video, video))
        {
            slots.push(change.add_media(kind, Direction::RecvOnly, None, None, None));
        }
        let (offer, pending) = change.apply().expect("changes");
        let config = ClientConfig::default().with_receive(sfu_client::ReceiveMode::OfferedSlots);
        let p = self.admit(id, addr, rtc, offer, pending, config);
        p.publishers = slots.iter().map(|m| (*m, format!("slot-{m}"))).collect();
        id
    }

    /// Joins the peer whose offer `rtc` made to the room as client `id`.
    fn admit(
        &mut self,
        id: ClientId,
        addr: SocketAddr,
        mut rtc: Rtc,
        offer: SdpOffer,
        pending: SdpPendingOffer,
        config: ClientConfig,
    ) -> &mut Peer {
        let sfu_rtc = SfuRtc::builder()
            .host_candidate(self.sfu)
            .estimator(self.estimator)
            .build(self.now);
        let mut client = Client::new(id, sfu_rtc, config);
        let answer = client
            .accept_offer(&offer.to_sdp_string())
            .expect("offer accepted");
        rtc.sdp_api()
            .accept_answer(
                pending,
                SdpAnswer::from_sdp_string(&answer).expect("answer parses"),
            )
            .expect("answer accepted");
        let opened = self
            .channels
            .iter()
            .map(|c| client.open_channel(c))
            .collect();
        self.room.insert(client, self.now).expect("unique id");
        self.peers.push(Peer {
            id,
            addr,
            rtc,
            audio: None,
            video: None,
            simulcast: false,
            received: HashMap::new(),
            publishers: HashMap::new(),
            offers: Vec::new(),
            pending: None,
            gone: false,
            keyframe_requests: 0,
            frame_marking: self.frame_marking,
            sframe_kid: None,
            frames: Vec::new(),
            record_frames: false,
            chat: None,
            chat_received: Vec::new(),
            channels_open: Vec::new(),
            other_received: Vec::new(),
            room_channels_opened: Vec::new(),
            audio_level: None,
            sfu_ufrag: answer
                .lines()
                .find_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:"))
                .unwrap_or_default()
                .to_string(),
            key_on_request: false,
            ignore_requests: 0,
            want_key: false,
            video_rtp: Vec::new(),
            rtx_packets: 0,
            rtx_log: Vec::new(),
            video_arrivals: Vec::new(),
            layer_bytes: default_layer_bytes,
            stopped_layers: Vec::new(),
            spoil_next_answer: false,
            hold_offers: false,
            held: Vec::new(),
            screen: None,
            track_frames: HashMap::new(),
            track_of: HashMap::new(),
            answers_rejected: 0,
            downlink: None,
            frame_no: 0,
        });
        self.peers
            .last_mut()
            .expect("just pushed")
            .room_channels_opened = opened;
        self.peers.last_mut().expect("just pushed")
    }

    pub fn peer(&mut self, id: ClientId) -> &mut Peer {
        self.peers
            .iter_mut()
            .find(|p| p.id == id)
            .expect("peer exists")
    }

    /// The peer vanishes without a word: its datagrams stop.
    pub fn vanish(&mut self, id: ClientId) {
        self.peer(id).gone = true;
    }

    /// Runs the world for `d` of simulated time, peers sending media every 20 ms. The
    /// room's timers (its pacer among them) and link deliveries run at their own times
    /// between the steps.
    pub fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.step();
        }
    }

    /// Runs the world for one [`STEP`] (see [`World::run`]).
    pub fn step(&mut self) {
        let step_end = self.now + STEP;
        for _ in 0..10_000 {
            let links = self
                .peers
                .iter()
                .filter_map(|p| p.downlink.as_ref().and_then(Link::next_due));
            let Some(next) = self.room.poll_timeout().into_iter().chain(links).min() else {
                break;
            };
            if next >= step_end {
                break;
            }
            self.now = next.max(self.now);
            self.room.handle_timeout(self.now);
            self.deliver_due();
            self.exchange();
        }
        self.now = step_end;
        let now = self.now;
        let tick = (now - self.start).as_millis() as u64;
        for p in self.peers.iter_mut().filter(|p| !p.gone) {
            if tick.is_multiple_of(20) {
                p.send_media(now);
            }
            let _ = p.rtc.handle_input(Input::Timeout(now));
        }
        self.room.handle_timeout(now);
        self.deliver_due();
        self.exchange();
    }

    /// Hands every link's due datagrams to their peers.
    fn deliver_due(&mut self) {
        let now = self.now;
        for p in self.peers.iter_mut().filter(|p| !p.gone) {
            while let Some(link) = p.downlink.as_mut()
                && link.next_due().is_some_and(|t| t <= now)
            {
                let Some((_, from, to, bytes)) = link.queue.pop_front() else {
                    break;
                };
                p.receive(now, from, to, &bytes);
            }
        }
    }

    /// Moves datagrams and signaling until quiet.
    pub fn exchange(&mut self) {
        let now = self.now;
        for _ in 0..50 {
            let mut moved = false;
            for i in 0..self.peers.len() {
                if self.peers[i].gone {
                    continue;
                }
                let outs = self.peers[i].drain(now);
                for d in outs {
                    moved = true;
                    let _ = self.room.handle_incoming(&d, now);
                }
            }
            // The helpers send while the first poll completes a batch; the room's own
            // datagrams follow.
            let polled: Vec<_> = std::iter::from_fn(|| self.room.poll_transmit()).collect();
            let mut out = self.sink.take();
            out.extend(polled);
            for t in out {
                moved = true;
                if !self.peers.iter().any(|p| p.addr == t.destination) {
                    self.outbox.push(t);
                    continue;
                }
                if let Some(p) = self
                    .peers
                    .iter_mut()
                    .find(|p| p.addr == t.destination && !p.gone)
                {
                    match p.downlink.as_mut() {
                        Some(link) => {
                            link.enqueue(now, t.source, t.destination, t.contents.to_vec());
                        }
                        None => p.receive(now, t.source, t.destination, &t.contents),
                    }
                }
            }
            while let Some(ev) = self.room.poll_event() {
                moved = true;
                self.events.push(ev.clone());
                if let RoomEvent::ActiveSpeaker(id) = ev {
                    self.speakers.push((self.now, id));
                    continue;
                }
                if let RoomEvent::LayerChanged { client, change } = ev {
                    self.layer_changes.push((now, client, change));
                    continue;
                }
                if let RoomEvent::Offer { client, offer } = ev {
                    if !self.peers.iter().any(|p| p.id == client) {
                        self.relay_offers.push((client, offer));
                        continue;
                    }
                    let Some(p) = self.peers.iter_mut().find(|p| p.id == client && !p.gone) else {
                        continue;
                    };
                    p.offers
                        .push((offer.sdp.len(), offer.sdp.matches("\r\nm=").count()));
                    if p.hold_offers {
                        p.held.push(offer);
                        continue;
                    }
                    p.publishers = offer
                        .tracks
                        .iter()
                        .map(|t| (t.mid.into(), t.publisher.to_string()))
                        .collect();
                    p.track_of = offer
                        .tracks
                        .iter()
                        .map(|t| {
                            let track = (t.publisher.to_string(), t.publisher_mid.to_string());
                            (t.mid.into(), track)
                        })
                        .collect();
                    let offer = SdpOffer::from_sdp_string(&offer.sdp).expect("room offers parse");
                    let answer = p.rtc.sdp_api().accept_offer(offer).expect("peer accepts");
                    let mut answer = answer.to_sdp_string();
                    if std::mem::take(&mut p.spoil_next_answer) {
                        answer = answer.replacen("t=0 0\r\n", "t=0 0\r\na=ice-lite\r\n", 1);
                        assert!(
                            self.room.accept_answer(client, &answer, now).is_err(),
                            "the spoiled answer was accepted"
                        );
                        p.answers_rejected += 1;
                        continue;
                    }
                    self.room
                        .accept_answer(client, &answer, now)
                        .expect("room accepts answer");
                }
            }
            if !moved {
                break;
            }
        }
    }

    /// The peer of `id` sends its own offer (made by `change` on its `Rtc`) and applies
    /// the room's answer, which it returns.
    pub fn peer_offers(
        &mut self,
        id: ClientId,
        change: impl FnOnce(&mut str0m::change::SdpApi<'_>),
    ) -> sfu_registry::AcceptedOffer {
        let now = self.now;
        let p = self.peer(id);
        let mut api = p.rtc.sdp_api();
        change(&mut api);
        let (offer, pending) = api.apply().expect("the peer's changes make an offer");
        let accepted = self
            .room
            .accept_offer(id, &offer.to_sdp_string(), now)
            .expect("the room accepts the peer's offer");
        let answer = SdpAnswer::from_sdp_string(&accepted.answer).expect("answer parses");
        self.peer(id)
            .rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("the peer accepts the room's answer");
        self.exchange();
        accepted
    }

    /// Video frames `receiver` got of `publisher`'s track `publisher_mid`.
    pub fn track_frames(&self, receiver: ClientId, publisher: ClientId, publisher_mid: Mid) -> u64 {
        self.peers
            .iter()
            .find(|p| p.id == receiver)
            .and_then(|p| {
                p.track_frames
                    .get(&(publisher.to_string(), publisher_mid.to_string()))
            })
            .copied()
            .unwrap_or(0)
    }

    /// Video frames `receiver` decoded from `publisher`.
    pub fn video_frames(&self, receiver: ClientId, publisher: ClientId) -> u64 {
        self.peers
            .iter()
            .find(|p| p.id == receiver)
            .and_then(|p| p.received.get(&publisher.to_string()))
            .map(|c| c.1)
            .unwrap_or(0)
    }

    /// Audio frames `receiver` got from `publisher`.
    pub fn audio_frames(&self, receiver: ClientId, publisher: ClientId) -> u64 {
        self.peers
            .iter()
            .find(|p| p.id == receiver)
            .and_then(|p| p.received.get(&publisher.to_string()))
            .map(|c| c.0)
            .unwrap_or(0)
    }
}

impl Peer {
    fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, bytes: &[u8]) {
        let Ok(contents) = bytes.try_into() else {
            return;
        };
        let _ = self.rtc.handle_input(Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source: from,
                destination: to,
                contents,
            },
        ));
    }

    pub fn drain(&mut self, now: Instant) -> Vec<IncomingDatagram> {
        let mut out = Vec::new();
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    let bytes: Vec<u8> = t.contents.into();
                    out.push(IncomingDatagram::udp(t.source, t.destination, bytes));
                }
                Ok(Output::Timeout(_)) | Err(_) => break,
                Ok(Output::Event(e)) => self.on_event(e, now),
            }
        }
        out
    }

    fn on_event(&mut self, e: Event, now: Instant) {
        match &e {
            Event::ChannelOpen(id, label) => {
                if label == "chat" {
                    self.chat = Some(*id);
                }
                self.channels_open.push((*id, label.clone()));
                return;
            }
            Event::ChannelData(d) => {
                if Some(d.id) == self.chat {
                    self.chat_received.push((d.binary, d.data.clone()));
                } else {
                    self.other_received.push((d.id, d.data.clone()));
                }
                return;
            }
            _ => {}
        }
        if let Event::KeyframeRequest(_) = e {
            self.keyframe_requests += 1;
            if self.ignore_requests > 0 {
                self.ignore_requests -= 1;
            } else {
                self.want_key = true;
            }
            return;
        }
        if let Event::RawPacket(raw) = &e {
            if let str0m::rtp::RawPacket::RtpRx(h, body) = &**raw {
                let vp8 = self
                    .rtc
                    .codec_config()
                    .find(|p| p.spec().codec == str0m::format::Codec::Vp8)
                    .map(|p| p.pt());
                if Some(h.payload_type) == vp8 {
                    self.video_rtp
                        .push((*h.ssrc, h.sequence_number, h.timestamp));
                } else if self
                    .rtc
                    .codec_config()
                    .find(|p| p.resend() == Some(h.payload_type))
                    .is_some()
                {
                    self.rtx_packets += 1;
                    self.rtx_log
                        .push((now, h.sequence_number, h.has_padding, body.len()));
                }
            }
            return;
        }
        if let Event::MediaData(d) = e {
            let Some(media) = self.rtc.media(d.mid) else {
                return;
            };
            let Some(publisher) = self.publishers.get(&d.mid) else {
                return;
            };
            let entry = self.received.entry(publisher.clone()).or_default();
            match media.kind() {
                MediaKind::Audio => entry.0 += 1,
                MediaKind::Video => {
                    entry.1 += 1;
                    self.video_arrivals.push(now);
                    if self.record_frames {
                        self.frames.push(d.data.to_vec());
                    }
                    if let Some(track) = self.track_of.get(&d.mid) {
                        *self.track_frames.entry(track.clone()).or_default() += 1;
                    }
                }
            }
        }
    }

    /// One audio frame and, every other call, one VP8 frame per simulcast layer (a
    /// keyframe every 25 frames).
    pub fn send_media(&mut self, now: Instant) {
        self.frame_no += 1;
        let n = self.frame_no;
        if let Some(mid) = self.audio {
            let pt = self
                .rtc
                .writer(mid)
                .and_then(|w| w.payload_params().next().map(|p| p.pt()));
            if let (Some(pt), Some(w)) = (pt, self.rtc.writer(mid)) {
                let w = match self.audio_level {
                    // Speech: loud, with a short gap every fourth frame.
                    Some(level) => {
                        let l = if n % 4 == 3 { -127 } else { level };
                        w.audio_level(l, l > -60)
                    }
                    None => w,
                };
                let _ = w.write(
                    pt,
                    now,
                    MediaTime::from_90khz(n * 960 * 90 / 48),
                    vec![0xfc; 60],
                );
            }
        }
        if n.is_multiple_of(2)
            && let Some(mid) = self.screen
            && let Some(pt) = self.rtc.writer(mid).and_then(|w| {
                w.payload_params()
                    .find(|p| p.spec().codec == str0m::format::Codec::Vp8)
                    .map(|p| p.pt())
            })
            && let Some(w) = self.rtc.writer(mid)
        {
            let mut frame = vec![0x9d; 500];
            frame[0] = if n % 50 == 2 { 0x10 } else { 0x11 };
            let _ = w.write(pt, now, MediaTime::from_90khz(n * 1800), frame);
        }
        if n.is_multiple_of(2)
            && let Some(mid) = self.video
        {
            let key = if self.key_on_request {
                self.want_key
            } else {
                n % 50 == 2
            };
            let rids: Vec<Option<&str>> = if self.simulcast {
                vec![Some("q"), Some("h"), Some("f")]
            } else {
                vec![None]
            };
            let mut wrote = false;
            for (layer, rid) in rids.into_iter().enumerate() {
                if rid.is_some_and(|r| self.stopped_layers.contains(&r)) {
                    continue;
                }
                let Some(pt) = self.rtc.writer(mid).and_then(|w| {
                    w.payload_params()
                        .find(|p| p.spec().codec == str0m::format::Codec::Vp8)
                        .map(|p| p.pt())
                }) else {
                    return;
                };
                let Some(w) = self.rtc.writer(mid) else {
                    return;
                };
                // VP8 frame tag: bit 0 clear on keyframes.
                let size = (self.layer_bytes)(n, layer);
                let mut frame = vec![0x9d; size];
                frame[0] = if key { 0x10 } else { 0x11 };
                if let Some(kid) = self.sframe_kid {
                    let header = sfu_sframe::SframeHeader {
                        kid: sfu_sframe::KeyId(kid),
                        ctr: sfu_sframe::Counter(8 + n % 200),
                    };
                    header
                        .write(&mut frame)
                        .expect("frames are longer than a header");
                }
                let w = match rid {
                    Some(r) => w.rid(r.into()),
                    None => w,
                };
                let w = if self.frame_marking {
                    // S E I D B TID, LID 0, TL0PICIDX: L1T3 in the order 0 2 1 2.
                    let tid = [0u8, 2, 1, 2][((n / 2) % 4) as usize];
                    let b = if tid > 0 { 0x08 } else { 0 };
                    let i = if key { 0x20 } else { 0 };
                    let tl0 = ((n / 2) / 4) as u8;
                    w.user_extension_value(MarkValue([0xc0 | i | b | tid, 0, tl0]))
                } else {
                    w
                };
                wrote |= w
                    .write(pt, now, MediaTime::from_90khz(n * 1800), frame)
                    .is_ok();
            }
            if wrote {
                self.want_key = false;
            }
        }
    }
}
