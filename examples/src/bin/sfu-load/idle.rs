//! The `idle` scenario: memory per connected participant that sends nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::fanout::finish;
use crate::peer::{Spawned, wait_connected};
use crate::sfu::Sfu;
use crate::signaling::Signaling;
use crate::{Args, print};

/// Participants per room.
const PER_ROOM: usize = 50;
/// Participants that join before the next ones start (each joins through the signaling and
/// connects ICE and DTLS).
const WAVE: usize = 50;

#[derive(Debug, serde::Serialize)]
struct Report {
    participants: usize,
    rooms: usize,
    seconds_to_connect: f64,
    rss_before_kib: u64,
    rss_after_kib: u64,
    kib_per_participant: f64,
    threads_after: usize,
    fds_after: usize,
}

/// Joins `--participants` watchers (rooms of 50) that connect and stay idle, and reports
/// how much the SFU's resident memory grew per participant.
pub(crate) fn run(args: &Args, sfu: &Sfu, signaling: &Signaling) -> anyhow::Result<()> {
    let n = args.participants.max(1);
    let rss_before = sfu.rss_kib()?;
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut peers: Vec<Spawned> = Vec::with_capacity(n);
    let joined = (|| -> anyhow::Result<()> {
        for i in 0..n {
            peers.push(Spawned::start(
                signaling,
                &format!("idle{}", i / PER_ROOM),
                format!("peer{i}"),
                None,
                false,
                Arc::clone(&stop),
            ));
            if peers.len().is_multiple_of(WAVE) || peers.len() == n {
                let wave: Vec<&Spawned> =
                    peers[peers.len().saturating_sub(WAVE)..].iter().collect();
                wait_connected(&wave, Duration::from_secs(60))?;
            }
        }
        Ok(())
    })();
    let seconds_to_connect = started.elapsed().as_secs_f64();
    if joined.is_ok() {
        // Let the room settle (answers, first RTCP) before reading its memory.
        std::thread::sleep(Duration::from_secs(2));
    }
    let after = joined.and_then(|()| Ok((sfu.rss_kib()?, sfu.threads()?, sfu.fds()?)));
    stop.store(true, Ordering::Relaxed);
    let finished = finish(peers);
    let (rss_after, threads_after, fds_after) = after?;
    finished?;
    let report = Report {
        participants: n,
        rooms: n.div_ceil(PER_ROOM),
        seconds_to_connect,
        rss_before_kib: rss_before,
        rss_after_kib: rss_after,
        kib_per_participant: (rss_after as f64 - rss_before as f64) / n as f64,
        threads_after,
        fds_after,
    };
    let line = format!(
        "idle: {} participants in {} rooms connected in {:.1} s; SFU RSS {} -> {} KiB = {:.1} KiB per participant; {} threads, {} fds",
        report.participants,
        report.rooms,
        report.seconds_to_connect,
        report.rss_before_kib,
        report.rss_after_kib,
        report.kib_per_participant,
        report.threads_after,
        report.fds_after
    );
    print(args.json, &report, line)
}
