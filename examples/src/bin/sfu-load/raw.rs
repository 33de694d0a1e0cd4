//! Peers of the raw relay baseline: the same frames as the str0m peers send, cut into
//! datagrams of the same size, over plain UDP (no ICE, DTLS, SRTP or RTCP).

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::pace::Pacer;
use crate::peer::{Counters, Media, Spawned, clock_us, no_datagram};
use crate::socket::Inbox;

/// Subscribe to a room (the relay's protocol: see `raw-relay`).
const SUBSCRIBE: u8 = 1;
/// Media for a room.
const MEDIA: u8 = 2;
/// Ask for the counters.
const STATS: u8 = 3;
/// Unsubscribe from a room.
const UNSUBSCRIBE: u8 = 4;
/// Kind, room, frame number, last-of-frame flag, sending time.
const HEADER: usize = 1 + 4 + 8 + 1 + 8;
/// Payload bytes per datagram, so a datagram is as large as one of str0m's RTP packets.
const PAYLOAD: usize = 1150;

/// Starts a relay peer: a publisher with `publish`, else a watcher of `room`.
pub(crate) fn start(
    relay: SocketAddr,
    room: u32,
    publish: Option<Media>,
    stop: Arc<AtomicBool>,
) -> Spawned {
    let counters = Arc::new(Counters::default());
    let (c, s) = (Arc::clone(&counters), Arc::clone(&stop));
    let thread = std::thread::spawn(move || match publish {
        Some(media) => publisher(relay, room, media, &c, &s),
        None => watcher(relay, room, &c, &s),
    });
    Spawned {
        counters,
        stop,
        thread,
    }
}

/// Sends frames on the str0m publisher's schedule: a keyframe three times as large every
/// `keyframe_every` frames, paced with the str0m publisher's [`Pacer`] where
/// `media.pace`; each stamped with its scheduled time, as the str0m publisher stamps its
/// write.
fn publisher(
    relay: SocketAddr,
    room: u32,
    media: Media,
    counters: &Counters,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let socket = crate::socket::bind_loopback()?;
    counters.connected.store(true, Ordering::Relaxed);
    let since = Instant::now();
    let due = |n: u64| since + Duration::from_secs_f64(n as f64 / f64::from(media.fps));
    let mut datagram = vec![0x9d; HEADER + PAYLOAD];
    datagram[0] = MEDIA;
    datagram[1..5].copy_from_slice(&room.to_be_bytes());
    let mut pacer = media.pace.then(|| Pacer::new(&media, since));
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= due(n) {
            let size = if n.is_multiple_of(media.keyframe_every) {
                media.frame_bytes * 3
            } else {
                media.frame_bytes
            };
            let packets = size.div_ceil(PAYLOAD).max(1);
            datagram[5..13].copy_from_slice(&n.to_be_bytes());
            datagram[14..22].copy_from_slice(&clock_us(due(n)).to_be_bytes());
            for i in 0..packets {
                datagram[13] = u8::from(i + 1 == packets);
                let len = if i + 1 == packets {
                    size - PAYLOAD * (packets - 1)
                } else {
                    PAYLOAD
                };
                let d = &datagram[..HEADER + len.max(1)];
                match &mut pacer {
                    Some(p) => p.push(d.to_vec(), relay),
                    None => {
                        socket.send_to(d, relay)?;
                    }
                }
            }
            counters.frames_sent.fetch_add(1, Ordering::Relaxed);
            n += 1;
        }
        let paced = pacer.as_mut().and_then(|p| p.release(&socket, now));
        let wake = paced.map_or(due(n), |p| p.min(due(n)));
        std::thread::sleep(wake.saturating_duration_since(Instant::now()));
    }
    Ok(())
}

/// Subscribes (again every 200 ms until media comes) and counts frames: a frame per
/// datagram that ends one, its latency from the sending time in the header of its first.
/// Unsubscribes when stopped, as a peer leaves a room: the relay serves the next run too.
fn watcher(
    relay: SocketAddr,
    room: u32,
    counters: &Counters,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let socket = crate::socket::bind_loopback()?;
    socket.set_read_timeout(Some(Duration::from_millis(20)))?;
    let mut subscribe = [SUBSCRIBE, 0, 0, 0, 0];
    subscribe[1..5].copy_from_slice(&room.to_be_bytes());
    let mut subscribed_at: Option<Instant> = None;
    let mut inbox = Inbox::new();
    let mut last_frame = None;
    while !stop.load(Ordering::Relaxed) {
        if !counters.connected.load(Ordering::Relaxed)
            && subscribed_at.is_none_or(|t| t.elapsed() > Duration::from_millis(200))
        {
            socket.send_to(&subscribe, relay)?;
            subscribed_at = Some(Instant::now());
        }
        let received = inbox.recv(&socket, |_, d| {
            let arrived = Instant::now();
            if d.len() < HEADER || d[0] != MEDIA {
                return Ok(());
            }
            counters.connected.store(true, Ordering::Relaxed);
            counters
                .bytes_received
                .fetch_add(d.len() as u64, Ordering::Relaxed);
            let frame = u64::from_be_bytes(d[5..13].try_into().expect("8 bytes"));
            if last_frame.replace(frame) != Some(frame) {
                let sent = u64::from_be_bytes(d[14..22].try_into().expect("8 bytes"));
                counters.record_latency(sent, arrived);
            }
            if d[13] == 1 {
                counters.frames_received.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        });
        if let Err(e) = received
            && !e.downcast_ref().is_some_and(no_datagram)
        {
            return Err(e);
        }
    }
    subscribe[0] = UNSUBSCRIBE;
    socket.send_to(&subscribe, relay)?;
    Ok(())
}

/// Datagrams the relay has sent so far.
pub(crate) fn relay_sent(relay: SocketAddr) -> anyhow::Result<u64> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut buf = [0u8; 64];
    for _ in 0..10 {
        socket.send_to(&[STATS], relay)?;
        if let Ok(17) = socket.recv(&mut buf) {
            return Ok(u64::from_be_bytes(buf[1..9].try_into().expect("8 bytes")));
        }
    }
    None.context("the relay does not answer for its counters")
}
