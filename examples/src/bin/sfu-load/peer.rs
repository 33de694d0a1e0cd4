//! One load peer: a str0m `Rtc` on its own loopback UDP socket, driven by its own thread,
//! joined to basic-sfu through the real signaling.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

use crate::signaling::{Joined, Signaling};

/// What a peer does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Media {
    /// Video frames per second a publisher sends.
    pub(crate) fps: u32,
    /// Bytes per video frame (a keyframe is three times larger).
    pub(crate) frame_bytes: usize,
    /// A keyframe every this many frames.
    pub(crate) keyframe_every: u64,
}

/// Counters one peer keeps; read by the main thread.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Video frames this peer sent (publishers).
    pub(crate) frames_sent: AtomicU64,
    /// Video frames this peer received, over all remote tracks.
    pub(crate) frames_received: AtomicU64,
    /// Bytes of those frames.
    pub(crate) bytes_received: AtomicU64,
    /// Set once ICE and DTLS are up.
    pub(crate) connected: AtomicBool,
}

/// Runs a peer until `stop` is set. Publishers send video; everyone receives what the SFU
/// forwards and answers its offers.
pub(crate) fn run(
    signaling: Signaling,
    room: String,
    name: String,
    publish: Option<Media>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
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
    rtc.sdp_api()
        .accept_answer(pending, str0m::change::SdpAnswer::from_sdp_string(&answer)?)?;
    let offers = signaling.events(&room, client, &secret)?;

    let mut buf = vec![0u8; 2000];
    // Frames go out on a fixed schedule from the moment the connection is up.
    let mut sending_since: Option<Instant> = None;
    let mut frame_no = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        // Offers from the SFU: its tracks for us.
        loop {
            match offers.try_recv() {
                Ok(sdp) => {
                    let offer = SdpOffer::from_sdp_string(&sdp)?;
                    let answer = rtc.sdp_api().accept_offer(offer)?;
                    signaling.answer(&room, client, &secret, &answer.to_sdp_string())?;
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return Ok(()),
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
                send_frame(&mut rtc, mid, &media, frame_no, now);
                counters.frames_sent.fetch_add(1, Ordering::Relaxed);
                frame_no += 1;
            }
            next_frame = Some(due(frame_no));
        }
        let timeout = loop {
            match rtc.poll_output()? {
                Output::Transmit(t) => {
                    let _ = socket.send_to(&t.contents, t.destination);
                }
                Output::Timeout(t) => break t,
                Output::Event(e) => match e {
                    Event::Connected => counters.connected.store(true, Ordering::Relaxed),
                    Event::MediaData(d) => {
                        counters.frames_received.fetch_add(1, Ordering::Relaxed);
                        counters
                            .bytes_received
                            .fetch_add(d.data.len() as u64, Ordering::Relaxed);
                    }
                    _ => {}
                },
            }
        };
        let wake = next_frame.map_or(timeout, |f| f.min(timeout));
        let wait = wake
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_micros(200), Duration::from_millis(20));
        socket.set_read_timeout(Some(wait))?;
        match socket.recv_from(&mut buf) {
            Ok((n, source)) => {
                if let Ok(r) = Receive::new(Protocol::Udp, source, local, &buf[..n]) {
                    rtc.handle_input(Input::Receive(Instant::now(), r))?;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                rtc.handle_input(Input::Timeout(Instant::now()))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Writes video frame `n`: a VP8-shaped frame (keyframe tag on every
/// `keyframe_every`th), the rest filler.
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
    let mut frame = vec![0x9d; size.max(10)];
    // VP8 frame tag: bit 0 clear on keyframes; a keyframe then carries the start code and
    // a 640x480 size.
    frame[0] = if key { 0x10 } else { 0x11 };
    if key {
        frame[3..10].copy_from_slice(&[0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]);
    }
    let rtp_time = MediaTime::from_90khz(n * 90_000 / u64::from(media.fps));
    if let Some(w) = rtc.writer(mid) {
        let _ = w.write(pt, now, rtp_time, frame);
    }
}
