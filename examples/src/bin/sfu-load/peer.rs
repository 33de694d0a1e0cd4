//! One load peer: a str0m `Rtc` on its own loopback UDP socket, driven by its own thread,
//! joined to basic-sfu through the real signaling.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

use crate::pace::{PACE_FACTOR, PACE_INTERVAL, Pacer};
use crate::signaling::{Joined, Signaling};
use crate::socket::Inbox;

/// What a peer does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Media {
    /// Video frames per second a publisher sends.
    pub(crate) fps: u32,
    /// Bytes per video frame (a keyframe is three times larger).
    pub(crate) frame_bytes: usize,
    /// A keyframe every this many frames (0: only the first).
    pub(crate) keyframe_every: u64,
    /// Send a frame's packets paced, as a browser does, rather than all at once.
    pub(crate) pace: bool,
}

impl Media {
    /// Bytes a paced publisher may send per [`PACE_INTERVAL`]: [`PACE_FACTOR`] times its
    /// average rate (at least one packet).
    pub(crate) fn paced_bytes(&self) -> usize {
        let per_second = self.frame_bytes as f64 * f64::from(self.fps) * PACE_FACTOR;
        ((per_second * PACE_INTERVAL.as_secs_f64()) as usize).max(1200)
    }
}

/// Counters one peer keeps; read by the main thread.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Once a frame has been decrypted and depacketized (so the SFU's SRTP is proven),
    /// count video RTP at the socket instead: a frame per packet with the marker bit,
    /// without decrypting. Keeps a watcher from costing the generator more than the SFU.
    pub(crate) count_at_socket: bool,
    /// Video frames this peer sent (publishers).
    pub(crate) frames_sent: AtomicU64,
    /// Video frames this peer received, over all remote tracks.
    pub(crate) frames_received: AtomicU64,
    /// Bytes of those frames.
    pub(crate) bytes_received: AtomicU64,
    /// RTP datagrams that reached this peer's socket (before decryption).
    pub(crate) rtp_received: AtomicU64,
    /// Set once ICE and DTLS are up.
    pub(crate) connected: AtomicBool,
    /// Its client id in the room, once joined.
    pub(crate) client: AtomicU64,
    /// The SFU's media port, from its answer's candidate.
    pub(crate) sfu_port: AtomicU64,
    /// The SFU's ICE username fragment for this peer, from its answer.
    pub(crate) sfu_ufrag: std::sync::OnceLock<String>,
    /// Offers the SFU sent this peer.
    pub(crate) offers: AtomicU64,
    /// Size of the last of them, in bytes.
    pub(crate) last_offer_bytes: AtomicU64,
    /// The longest wait between two video frames of the first track this peer received,
    /// in microseconds.
    pub(crate) max_gap_us: AtomicU64,
    /// Forwarding latency of each received frame whose sending time it could read (from
    /// the publisher's write to the arrival of the frame's first packet here, so a large
    /// frame's own length on the wire is not in it), in microseconds, in arrival order; at
    /// most [`MAX_LATENCY_SAMPLES`].
    pub(crate) latencies_us: Mutex<Vec<u32>>,
}

/// Latency samples one peer keeps at most.
pub(crate) const MAX_LATENCY_SAMPLES: usize = 1 << 20;

/// Where a frame's sending time sits in its payload: after the VP8 frame tag and
/// keyframe start code and size (bytes 0..10).
const SENT_AT: std::ops::Range<usize> = 10..18;

/// The generator's clock at `at`: microseconds since its first reading, shared by every
/// peer of the process, so a sending time written by one peer is read by another.
pub(crate) fn clock_us(at: Instant) -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    at.saturating_duration_since(*EPOCH.get_or_init(Instant::now))
        .as_micros() as u64
}

impl Counters {
    /// Records a frame whose first packet arrived at `arrived` and that was sent at
    /// `sent_us` ([`clock_us`]).
    pub(crate) fn record_latency(&self, sent_us: u64, arrived: Instant) {
        let latency = clock_us(arrived).saturating_sub(sent_us);
        let mut samples = self.latencies_us.lock().unwrap_or_else(|e| e.into_inner());
        if samples.len() < MAX_LATENCY_SAMPLES {
            samples.push(u32::try_from(latency).unwrap_or(u32::MAX));
        }
    }

    /// How many latency samples there are so far.
    pub(crate) fn latency_samples(&self) -> usize {
        self.latencies_us
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

/// A peer on a thread of its own.
pub(crate) struct Spawned {
    pub(crate) counters: Arc<Counters>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) thread: std::thread::JoinHandle<anyhow::Result<()>>,
}

impl Spawned {
    /// Starts peer `name` in `room` on its own thread (a publisher with `publish`; a
    /// watcher that counts at the socket with `count_at_socket`).
    pub(crate) fn start(
        signaling: &Signaling,
        room: &str,
        name: String,
        publish: Option<Media>,
        count_at_socket: bool,
        stop: Arc<AtomicBool>,
    ) -> Self {
        let counters = Arc::new(Counters {
            count_at_socket,
            ..Counters::default()
        });
        let (sig, room, c, s) = (
            signaling.clone(),
            room.to_string(),
            Arc::clone(&counters),
            Arc::clone(&stop),
        );
        let thread = std::thread::spawn(move || run(sig, room, name, publish, c, s));
        Self {
            counters,
            stop,
            thread,
        }
    }

    /// `true` once ICE and DTLS are up.
    pub(crate) fn is_connected(&self) -> bool {
        self.counters.connected.load(Ordering::Relaxed)
    }

    /// Stops the peer (it leaves the room) and waits for it.
    pub(crate) fn finish(self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("a peer thread panicked"))?
    }
}

/// Waits until every peer is connected, at most `limit`; an error names what failed.
pub(crate) fn wait_connected(peers: &[&Spawned], limit: Duration) -> anyhow::Result<()> {
    wait_until(peers, limit, "connected", Spawned::is_connected)
}

/// Waits until `ready` holds for every peer, at most `limit`; an error says which of
/// them ended first, or that `what` did not happen in time.
pub(crate) fn wait_until(
    peers: &[&Spawned],
    limit: Duration,
    what: &str,
    ready: impl Fn(&Spawned) -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while !peers.iter().all(|p| ready(p)) {
        if let Some(p) = peers.iter().find(|p| p.thread.is_finished()) {
            anyhow::bail!(
                "a peer ended before it {what} (stopped: {})",
                p.stop.load(Ordering::Relaxed)
            );
        }
        if Instant::now() > deadline {
            anyhow::bail!("not every peer {what} within {} s", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Runs a peer until `stop` is set, then leaves the room. Publishers send video; everyone
/// receives what the SFU forwards and answers its offers.
pub(crate) fn run(
    signaling: Signaling,
    room: String,
    name: String,
    publish: Option<Media>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    // The SFU's buffers: a keyframe's burst to every watcher at once must fit.
    let socket = crate::socket::bind_loopback()?;
    let local = socket.local_addr()?;
    let mut rtc = Rtc::builder().build(Instant::now());
    rtc.add_local_candidate(Candidate::host(local, "udp")?);
    let mut change = rtc.sdp_api();
    let video =
        publish.map(|_| change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None));
    if video.is_none() {
        // An offer needs an m-line; a watcher's stays unused.
        change.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    }
    let (offer, pending) = change.apply().context("an offer")?;
    let Joined {
        client,
        secret,
        answer,
    } = signaling.join(&room, &name, publish.is_some(), &offer.to_sdp_string())?;
    counters.client.store(client, Ordering::Relaxed);
    if let Some(port) = candidate_port(&answer) {
        counters.sfu_port.store(u64::from(port), Ordering::Relaxed);
    }
    if let Some(ufrag) = answer.lines().find_map(|l| l.strip_prefix("a=ice-ufrag:")) {
        let _ = counters.sfu_ufrag.set(ufrag.trim().to_string());
    }
    rtc.sdp_api()
        .accept_answer(pending, str0m::change::SdpAnswer::from_sdp_string(&answer)?)?;
    let offers = signaling.events(&room, client, &secret)?;
    let result = drive(
        &mut rtc,
        &socket,
        &offers,
        publish,
        video,
        &counters,
        &stop,
        |sdp| signaling.answer(&room, client, &secret, sdp),
    );
    signaling.leave(&room, client, &secret)?;
    result
}

/// For an RTP packet (RFC 7983: first byte 128-191, not RTCP's payload types 192-223),
/// its marker bit; `None` for anything else (STUN, DTLS, RTCP), which str0m handles.
fn video_rtp_marker(d: &[u8]) -> Option<bool> {
    let (&b0, &b1) = (d.first()?, d.get(1)?);
    let rtcp = (192..=223).contains(&b1);
    ((128..=191).contains(&b0) && !rtcp && d.len() >= 12).then_some(b1 & 0x80 != 0)
}

/// `true` for a receive error that only means no datagram came: the timeout, or a signal
/// (EINTR: SA_RESTART does not apply to sockets with SO_RCVTIMEO).
pub(crate) fn no_datagram(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock
            | std::io::ErrorKind::TimedOut
            | std::io::ErrorKind::Interrupted
    )
}

/// The port of the first host candidate in `sdp`.
fn candidate_port(sdp: &str) -> Option<u16> {
    let line = sdp.lines().find(|l| l.starts_with("a=candidate:"))?;
    // a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ host
    line.split_whitespace().nth(5)?.parse().ok()
}

/// The peer's loop until `stop`: the SFU's offers in (answered with `answer`), media out,
/// datagrams both ways.
#[allow(clippy::too_many_arguments)]
pub(crate) fn drive(
    rtc: &mut Rtc,
    socket: &UdpSocket,
    offers: &mpsc::Receiver<anyhow::Result<String>>,
    publish: Option<Media>,
    video: Option<Mid>,
    counters: &Counters,
    stop: &AtomicBool,
    mut answer: impl FnMut(&str) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let local = socket.local_addr()?;

    let mut inbox = Inbox::new();
    // Frames go out on a fixed schedule from the moment the connection is up.
    let mut sending_since: Option<Instant> = None;
    let mut frame_no = 0u64;
    // The first track received, and when its last frame came.
    let mut last_frame: Option<(Mid, Instant)> = None;
    let mut pacer = publish
        .filter(|m| m.pace)
        .map(|m| Pacer::new(&m, Instant::now()));
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        // Offers from the SFU: its tracks for us.
        loop {
            match offers.try_recv() {
                Ok(Err(e)) => return Err(e),
                Ok(Ok(sdp)) => {
                    counters
                        .last_offer_bytes
                        .store(sdp.len() as u64, Ordering::Relaxed);
                    let offer = SdpOffer::from_sdp_string(&sdp)?;
                    answer(&rtc.sdp_api().accept_offer(offer)?.to_sdp_string())?;
                    counters.offers.fetch_add(1, Ordering::Relaxed);
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    anyhow::bail!("the event stream's reader ended")
                }
            }
        }
        let now = Instant::now();
        let mut next_frame = None;
        if let (Some(media), Some(mid)) = (publish, video)
            && rtc.is_connected()
        {
            let since = *sending_since.get_or_insert(now);
            let due = |n: u64| since + Duration::from_secs_f64(n as f64 / f64::from(media.fps));
            if now >= due(frame_no) {
                send_frame(rtc, mid, &media, frame_no, now);
                // str0m queues a written frame's packets until its next timeout, which
                // can be milliseconds away: handle one now so they leave at once.
                rtc.handle_input(Input::Timeout(now))?;
                counters.frames_sent.fetch_add(1, Ordering::Relaxed);
                frame_no += 1;
            }
            next_frame = Some(due(frame_no));
        }
        let timeout = loop {
            match rtc.poll_output()? {
                Output::Transmit(t) => match &mut pacer {
                    Some(p) => p.push(t.contents.into(), t.destination),
                    None => {
                        let _ = socket.send_to(&t.contents, t.destination);
                    }
                },
                Output::Timeout(t) => break t,
                Output::Event(e) => match e {
                    Event::Connected => counters.connected.store(true, Ordering::Relaxed),
                    Event::MediaData(d) => {
                        let at = Instant::now();
                        let (first_mid, last) = last_frame.get_or_insert((d.mid, at));
                        if *first_mid == d.mid {
                            let gap = (at - *last).as_micros() as u64;
                            counters.max_gap_us.fetch_max(gap, Ordering::Relaxed);
                            *last = at;
                        }
                        counters.frames_received.fetch_add(1, Ordering::Relaxed);
                        counters
                            .bytes_received
                            .fetch_add(d.data.len() as u64, Ordering::Relaxed);
                        if let Some(sent) = d.data.get(SENT_AT) {
                            let sent: [u8; 8] = sent.try_into().expect("8 bytes");
                            counters.record_latency(u64::from_be_bytes(sent), d.network_time);
                        }
                    }
                    _ => {}
                },
            }
        };
        let paced = pacer
            .as_mut()
            .and_then(|p| p.release(socket, Instant::now()));
        let wake = [next_frame, paced]
            .into_iter()
            .flatten()
            .fold(timeout, Instant::min);
        let wait = wake
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_micros(200), Duration::from_millis(20));
        if !crate::socket::readable_within(socket, wait)? {
            rtc.handle_input(Input::Timeout(Instant::now()))?;
            continue;
        }
        let received = inbox.recv(socket, |source, d| {
            let marker = video_rtp_marker(d);
            if marker.is_some() {
                counters.rtp_received.fetch_add(1, Ordering::Relaxed);
            }
            if counters.count_at_socket
                && last_frame.is_some()
                && let Some(marker) = marker
            {
                if marker {
                    counters.frames_received.fetch_add(1, Ordering::Relaxed);
                }
                counters
                    .bytes_received
                    .fetch_add(d.len() as u64, Ordering::Relaxed);
            } else if let Ok(r) = Receive::new(Protocol::Udp, source, local, d) {
                rtc.handle_input(Input::Receive(Instant::now(), r))?;
            }
            Ok(())
        });
        match received {
            Ok(()) => {}
            Err(e) if e.downcast_ref().is_some_and(no_datagram) => {
                rtc.handle_input(Input::Timeout(Instant::now()))?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Writes video frame `n`: a VP8-shaped frame (keyframe tag on every
/// `keyframe_every`th), its sending time, the rest filler.
fn send_frame(rtc: &mut Rtc, mid: Mid, media: &Media, n: u64, now: Instant) {
    let Some(pt) = rtc.writer(mid).and_then(|w| {
        w.payload_params()
            .find(|p| p.spec().codec == Codec::Vp8)
            .map(|p| p.pt())
    }) else {
        return;
    };
    let key = n.is_multiple_of(media.keyframe_every);
    let size = if key {
        media.frame_bytes * 3
    } else {
        media.frame_bytes
    };
    let mut frame = vec![0x9d; size.max(SENT_AT.end)];
    // VP8 frame tag: bit 0 clear on keyframes; a keyframe then carries the start code and
    // a 640x480 size.
    frame[0] = if key { 0x10 } else { 0x11 };
    if key {
        frame[3..10].copy_from_slice(&[0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]);
    }
    frame[SENT_AT].copy_from_slice(&clock_us(now).to_be_bytes());
    let rtp_time = MediaTime::from_90khz(n * 90_000 / u64::from(media.fps));
    if let Some(w) = rtc.writer(mid) {
        let _ = w.write(pt, now, rtp_time, frame);
    }
}
