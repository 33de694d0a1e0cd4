//! The `flood` scenario: junk datagrams at the room's media port while three publishers
//! exchange media. The room must keep its media flowing, let a new peer in afterwards, and
//! give its memory back.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::fanout::finish;
use crate::peer::{Spawned, wait_connected};
use crate::sfu::Sfu;
use crate::signaling::Signaling;
use crate::{Args, print};

/// The result of one run.
#[derive(Debug, serde::Serialize)]
struct Report {
    flood_seconds: f64,
    /// Junk datagrams sent, and per second.
    junk_sent: u64,
    junk_per_second: f64,
    /// Video frames the three received per second before and during the flood.
    frames_per_second_before: f64,
    frames_per_second_during: f64,
    /// `during / before`, in percent, for the peer that kept least.
    media_kept_percent: f64,
    /// Calls made during the flood that act for the first peer without its secret
    /// (leave, cap, answer, unsubscribe), and how many the SFU did not refuse.
    impersonations: u64,
    impersonations_accepted: u64,
    /// The SFU's counted drops during the flood.
    dropped_unknown_source: f64,
    dropped_malformed: f64,
    dropped_unauthenticated: f64,
    /// Datagrams the kernel dropped at the SFU's socket (its receive buffer was full).
    dropped_kernel: f64,
    /// The SFU's CPU share during the flood.
    sfu_cpu_share: f64,
    /// A peer joined and connected after the flood.
    joined_after: bool,
    rss_kib_before: u64,
    rss_kib_peak: u64,
    rss_kib_after: u64,
}

const ROOM: &str = "flood";

pub(crate) fn run(args: &Args, sfu: &Sfu, signaling: &Signaling) -> anyhow::Result<()> {
    let media = args.media(args.kbps);
    let stop = Arc::new(AtomicBool::new(false));
    let peers: Vec<Spawned> = (0..3)
        .map(|i| {
            let name = format!("peer{i}");
            Spawned::start(signaling, ROOM, name, Some(media), false, Arc::clone(&stop))
        })
        .collect();
    let result = flood(args, sfu, signaling, &peers);
    stop.store(true, Ordering::Relaxed);
    let finished = finish(peers);
    let r = result?;
    finished?;
    let line = format!(
        "flood: {} junk datagrams in {:.1} s ({:.0}/s); media {:.0} -> {:.0} frames/s (the peer that kept least: {:.1} %); {} of {} impersonations accepted; SFU dropped {} unknown-source, {} malformed, {} unauthenticated (the kernel {}) on {:.2} of a core; a new peer joined after: {}; RSS {} -> {} (peak) -> {} KiB",
        r.junk_sent,
        r.flood_seconds,
        r.junk_per_second,
        r.frames_per_second_before,
        r.frames_per_second_during,
        r.media_kept_percent,
        r.impersonations_accepted,
        r.impersonations,
        r.dropped_unknown_source,
        r.dropped_malformed,
        r.dropped_unauthenticated,
        r.dropped_kernel,
        r.sfu_cpu_share,
        r.joined_after,
        r.rss_kib_before,
        r.rss_kib_peak,
        r.rss_kib_after
    );
    print(args.json, &r, line)
}

fn flood(
    args: &Args,
    sfu: &Sfu,
    signaling: &Signaling,
    peers: &[Spawned],
) -> anyhow::Result<Report> {
    let all: Vec<&Spawned> = peers.iter().collect();
    wait_connected(&all, Duration::from_secs(30))?;
    std::thread::sleep(Duration::from_secs(args.warmup));
    let port = peers[0].counters.sfu_port.load(Ordering::Relaxed);
    let target = SocketAddr::from(([127, 0, 0, 1], u16::try_from(port)?));
    let per_peer = || -> Vec<u64> {
        peers
            .iter()
            .map(|p| p.counters.frames_received.load(Ordering::Relaxed))
            .collect()
    };
    let received = || -> u64 { per_peer().iter().sum() };
    let window = Duration::from_secs(args.seconds);

    // Before: the same window without junk.
    let rss_kib_before = sfu.rss_kib()?;
    let (t0, r0, p0) = (Instant::now(), received(), per_peer());
    std::thread::sleep(window);
    let before_secs = t0.elapsed().as_secs_f64();
    let before = (received() - r0) as f64 / before_secs;
    let before_each: Vec<f64> = per_peer()
        .iter()
        .zip(&p0)
        .map(|(b, a)| (b - a) as f64 / before_secs)
        .collect();

    // During.
    // Each reason's drops, from one reading of /metrics.
    let drops = || -> anyhow::Result<(f64, f64, f64, f64)> {
        let m = signaling.metrics()?;
        Ok((
            m.counter("sfu_dropped_unknown_source_total")?,
            m.counter("sfu_dropped_malformed_total")?,
            m.counter("sfu_dropped_unauthenticated_total")?,
            m.counter("sfu_dropped_kernel_total")?,
        ))
    };
    let d0 = drops()?;
    let sent = Arc::new(AtomicU64::new(0));
    let flooding = Arc::new(AtomicBool::new(true));
    // Forged STUN names a real participant's ufrag: only its integrity is wrong.
    let ufrag = peers[0]
        .counters
        .sfu_ufrag
        .get()
        .cloned()
        .context("no ufrag in the answer")?;
    let junk = {
        let (sent, flooding, rate) = (Arc::clone(&sent), Arc::clone(&flooding), args.flood_rate);
        std::thread::spawn(move || send_junk(target, rate, &ufrag, &sent, &flooding))
    };
    let (t1, r1, p1, cpu1) = (Instant::now(), received(), per_peer(), sfu.cpu_seconds()?);
    let mut rss_kib_peak = rss_kib_before;
    let (mut impersonations, mut impersonations_accepted) = (0, 0);
    let victim = peers[0].counters.client.load(Ordering::Relaxed);
    while t1.elapsed() < window {
        // Meanwhile someone tries to act for the first peer with a guessed secret.
        for path in [
            "/api/leave",
            "/api/bitrate",
            "/api/answer",
            "/api/subscribe",
        ] {
            let q = format!(
                "{path}?room={ROOM}&client={victim}&secret=00&kbps=1&publisher=2&mid=0&on=false"
            );
            impersonations += 1;
            if !matches!(signaling.status_of_post(&q)?, 401 | 403) {
                impersonations_accepted += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(250));
        rss_kib_peak = rss_kib_peak.max(sfu.rss_kib()?);
    }
    let (during_secs, r2, p2, cpu2) = (
        t1.elapsed().as_secs_f64(),
        received(),
        per_peer(),
        sfu.cpu_seconds()?,
    );
    let kept = p2
        .iter()
        .zip(&p1)
        .zip(&before_each)
        .map(|((b, a), before)| 100.0 * (b - a) as f64 / during_secs / before.max(1e-9))
        .fold(f64::INFINITY, f64::min);
    flooding.store(false, Ordering::Relaxed);
    junk.join()
        .map_err(|_| anyhow::anyhow!("the junk thread panicked"))?
        .context("sending junk")?;
    let during = (r2 - r1) as f64 / during_secs;
    let d1 = drops()?;

    // After: a newcomer joins, and the memory settles.
    let stop = Arc::new(AtomicBool::new(false));
    let newcomer = Spawned::start(
        signaling,
        ROOM,
        "after".into(),
        Some(args.media(args.kbps)),
        false,
        stop,
    );
    let joined_after = wait_connected(&[&newcomer], Duration::from_secs(10)).is_ok();
    newcomer.finish()?;
    std::thread::sleep(Duration::from_secs(2));
    let junk_sent = sent.load(Ordering::Relaxed);
    Ok(Report {
        flood_seconds: during_secs,
        junk_sent,
        junk_per_second: junk_sent as f64 / during_secs,
        frames_per_second_before: before,
        frames_per_second_during: during,
        media_kept_percent: kept,
        impersonations,
        impersonations_accepted,
        dropped_unknown_source: d1.0 - d0.0,
        dropped_malformed: d1.1 - d0.1,
        dropped_unauthenticated: d1.2 - d0.2,
        dropped_kernel: d1.3 - d0.3,
        sfu_cpu_share: (cpu2 - cpu1) / during_secs,
        joined_after,
        rss_kib_before,
        rss_kib_peak,
        rss_kib_after: sfu.rss_kib()?,
    })
}

/// Sends junk to `target` at `rate` datagrams per second from several source ports until
/// `flooding` clears: random bytes, truncated STUN and STUN with a forged integrity
/// (naming `ufrag`, a participant's), RTP and RTCP with random SSRCs, DTLS records, empty
/// and maximum-size datagrams.
fn send_junk(
    target: SocketAddr,
    rate: u64,
    ufrag: &str,
    sent: &AtomicU64,
    flooding: &AtomicBool,
) -> anyhow::Result<()> {
    let sockets: Vec<UdpSocket> = (0..8)
        .map(|_| UdpSocket::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut buf = vec![0u8; 65_507];
    let started = Instant::now();
    let mut n = 0u64;
    while flooding.load(Ordering::Relaxed) {
        // Keep to the rate: send what is due, then yield a little.
        let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
        if n >= due {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        for _ in 0..(due - n).min(256) {
            let len = junk(&mut rng, n, ufrag.as_bytes(), &mut buf);
            let socket = &sockets[(n % sockets.len() as u64) as usize];
            // A full socket buffer is the flood doing its job.
            let _ = socket.send_to(&buf[..len], target);
            n += 1;
        }
        sent.store(n, Ordering::Relaxed);
    }
    sent.store(n, Ordering::Relaxed);
    Ok(())
}

/// Writes junk datagram number `n` into `buf`; returns its length.
fn junk(rng: &mut Rng, n: u64, ufrag: &[u8], buf: &mut [u8]) -> usize {
    match n % 8 {
        // Random bytes of any length up to a typical datagram.
        0 => {
            let len = (rng.next() % 1400) as usize;
            rng.fill(&mut buf[..len]);
            len
        }
        // A STUN binding request naming a participant's ufrag (or, every other one, a
        // random one), its integrity forged; truncated now and then.
        1 | 2 => {
            let mut user = [b'x'; 40];
            let ulen = if n % 4 == 1 && ufrag.len() < 32 {
                user[..ufrag.len()].copy_from_slice(ufrag);
                user[ufrag.len()] = b':';
                ufrag.len() + 5
            } else {
                rng.fill(&mut user[..20]);
                for b in &mut user[..20] {
                    *b = b'a' + *b % 26;
                }
                user[8] = b':';
                20
            };
            let padded = ulen.div_ceil(4) * 4;
            // USERNAME, PRIORITY, MESSAGE-INTEGRITY.
            let len = 20 + 4 + padded + 8 + 4 + 20;
            rng.fill(&mut buf[..len]);
            buf[0..2].copy_from_slice(&[0x00, 0x01]);
            buf[2..4].copy_from_slice(&((len - 20) as u16).to_be_bytes());
            buf[4..8].copy_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
            buf[20..22].copy_from_slice(&[0x00, 0x06]);
            buf[22..24].copy_from_slice(&(ulen as u16).to_be_bytes());
            buf[24..24 + ulen].copy_from_slice(&user[..ulen]);
            let priority = 24 + padded;
            buf[priority..priority + 4].copy_from_slice(&[0x00, 0x24, 0x00, 4]);
            let mi = priority + 8;
            buf[mi..mi + 4].copy_from_slice(&[0x00, 0x08, 0x00, 20]);
            if n % 16 == 2 { 30 } else { len }
        }
        // RTP with a random SSRC and payload.
        3 | 4 => {
            let len = 12 + (rng.next() % 1188) as usize;
            rng.fill(&mut buf[..len]);
            buf[0] = 0x80;
            buf[1] = 96 + (rng.next() % 32) as u8;
            len
        }
        // RTCP (sender report, receiver report, feedback) with random SSRCs.
        5 => {
            let len = 8 + 4 * (rng.next() % 30) as usize;
            rng.fill(&mut buf[..len]);
            buf[0] = 0x80 | (rng.next() % 32) as u8;
            buf[1] = [200, 201, 205, 206][(rng.next() % 4) as usize];
            buf[2..4].copy_from_slice(&(((len / 4) - 1) as u16).to_be_bytes());
            len
        }
        // A DTLS record: handshake or application data.
        6 => {
            let len = 13 + (rng.next() % 300) as usize;
            rng.fill(&mut buf[..len]);
            buf[0] = if rng.next().is_multiple_of(2) { 22 } else { 23 };
            buf[1..3].copy_from_slice(&[0xfe, 0xfd]);
            buf[11..13].copy_from_slice(&((len - 13) as u16).to_be_bytes());
            len
        }
        // Empty, or as large as a UDP datagram gets (whatever the buffer holds).
        _ => {
            if rng.next().is_multiple_of(2) {
                0
            } else {
                buf.len()
            }
        }
    }
}

/// xorshift64*: cheap, and the same junk on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}
