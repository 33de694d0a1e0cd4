//! The `PxS` scenario: publishers and watchers per room, forwarding rate per SFU
//! CPU-second.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::peer::{Spawned, wait_connected};
use crate::sfu::Sfu;
use crate::signaling::Signaling;
use crate::{Args, print};

/// The result of one run.
#[derive(Debug, serde::Serialize)]
struct Report {
    scenario: String,
    rooms: usize,
    seconds: f64,
    frames_sent: u64,
    frames_expected: u64,
    frames_received: u64,
    loss_percent: f64,
    sfu_datagrams_per_second: f64,
    /// Datagrams the kernel dropped at the SFU's socket in the window (`None`: the SFU
    /// does not report it).
    sfu_kernel_drops: Option<f64>,
    sfu_cpu_seconds: f64,
    sfu_cpu_share: f64,
    datagrams_per_cpu_second: f64,
    /// RTP packets the SFU forwarded to subscribers (its `sfu_packets_forwarded_total`)
    /// per second of its CPU time.
    forwarded_per_cpu_second: f64,
}

pub(crate) fn run(args: &Args, sfu: &Sfu, signaling: &Signaling) -> anyhow::Result<()> {
    let (publishers, watchers) = args
        .scenario
        .split_once('x')
        .and_then(|(p, s)| Some((p.parse::<usize>().ok()?, s.parse::<usize>().ok()?)))
        .context("--scenario is PUBLISHERSxWATCHERS (e.g. 1x10), churn or flood")?;
    if publishers == 0 {
        bail!("a scenario needs a publisher");
    }
    let media = args.media();
    let stop = Arc::new(AtomicBool::new(false));
    let mut peers = Vec::new();
    for r in 0..args.rooms {
        let room = format!("load{r}");
        for i in 0..publishers + watchers {
            let publish = (i < publishers).then_some(media);
            peers.push(Spawned::start(
                signaling,
                &room,
                format!("peer{i}"),
                publish,
                args.count_at_socket && publish.is_none(),
                Arc::clone(&stop),
            ));
        }
    }
    let all: Vec<&Spawned> = peers.iter().collect();
    if let Err(e) = wait_connected(&all, Duration::from_secs(30)) {
        stop.store(true, Ordering::Relaxed);
        return Err(match finish(peers) {
            Ok(()) => e,
            Err(failed) => e.context(format!("{failed:#}")),
        });
    }
    eprintln!(
        "sfu-load: {} peers connected; warming up {} s",
        peers.len(),
        args.warmup
    );
    std::thread::sleep(Duration::from_secs(args.warmup));

    type Snapshot = (Instant, f64, f64, u64, u64, Option<f64>, f64);
    let snapshot = || -> anyhow::Result<Snapshot> {
        let sent: u64 = peers
            .iter()
            .map(|p| p.counters.frames_sent.load(Ordering::Relaxed))
            .sum();
        let received: u64 = peers
            .iter()
            .map(|p| p.counters.frames_received.load(Ordering::Relaxed))
            .sum();
        Ok((
            Instant::now(),
            sfu.cpu_seconds()?,
            signaling.metric("sfu_datagrams_sent_total")?,
            sent,
            received,
            signaling.metric("sfu_dropped_kernel_total").ok(),
            signaling.metric("sfu_packets_forwarded_total")?,
        ))
    };
    let a = snapshot()?;
    std::thread::sleep(Duration::from_secs(args.seconds));
    let b = snapshot()?;
    stop.store(true, Ordering::Relaxed);
    finish(peers)?;

    let seconds = (b.0 - a.0).as_secs_f64();
    let cpu = b.1 - a.1;
    let datagrams = b.2 - a.2;
    let frames_sent = b.3 - a.3;
    // Every publisher's frames go to every other peer of its room.
    let frames_expected = frames_sent * (publishers + watchers - 1) as u64;
    let frames_received = b.4 - a.4;
    let report = Report {
        scenario: args.scenario.clone(),
        rooms: args.rooms,
        seconds,
        frames_sent,
        frames_expected,
        frames_received,
        loss_percent: 100.0 * (1.0 - frames_received as f64 / frames_expected.max(1) as f64),
        sfu_datagrams_per_second: datagrams / seconds,
        sfu_kernel_drops: b.5.zip(a.5).map(|(b, a)| b - a),
        sfu_cpu_seconds: cpu,
        sfu_cpu_share: cpu / seconds,
        datagrams_per_cpu_second: if cpu > 0.0 { datagrams / cpu } else { 0.0 },
        forwarded_per_cpu_second: if cpu > 0.0 { (b.6 - a.6) / cpu } else { 0.0 },
    };
    let line = format!(
        "scenario {} x {} room(s), {:.1} s: frames sent {}, received {} of {} ({:.2} % loss); SFU sent {:.0} datagrams/s on {:.2} of a core (the kernel dropped {:?}) = {:.0} datagrams and {:.0} forwarded RTP packets per SFU CPU-second",
        report.scenario,
        report.rooms,
        report.seconds,
        report.frames_sent,
        report.frames_received,
        report.frames_expected,
        report.loss_percent,
        report.sfu_datagrams_per_second,
        report.sfu_cpu_share,
        report.sfu_kernel_drops,
        report.datagrams_per_cpu_second,
        report.forwarded_per_cpu_second
    );
    print(args.json, &report, line)
}

/// Stops every peer and waits for it; the error names each peer that failed (one that
/// ended early leaves the room, and the run's figures are wrong without it).
pub(crate) fn finish(peers: Vec<Spawned>) -> anyhow::Result<()> {
    let failures: Vec<String> = peers
        .into_iter()
        .enumerate()
        .filter_map(|(i, p)| p.finish().err().map(|e| format!("peer {i}: {e:#}")))
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{} peers failed: {}", failures.len(), failures.join("; "))
    }
}
