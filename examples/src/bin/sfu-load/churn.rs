//! The `churn` scenario: a pair stays while newcomers join, connect and leave, cycle after
//! cycle. A meeting with people coming and going must stay the size of its current roster.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::fanout::finish;
use crate::peer::{Spawned, wait_connected};
use crate::sfu::Sfu;
use crate::signaling::Signaling;
use crate::{Args, print};

/// What the SFU and the pair looked like after a number of cycles.
#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Sample {
    cycle: usize,
    /// The last offer one of the pair received, in bytes.
    offer_bytes: u64,
    rss_kib: u64,
    fds: usize,
    threads: usize,
}

/// The result of one run.
#[derive(Debug, serde::Serialize)]
struct Report {
    cycles: usize,
    seconds: f64,
    samples: Vec<Sample>,
    /// Least-squares slopes per cycle, over the samples from a fifth of the cycles on
    /// (before that the SFU's allocations are still warming up: pools, tables).
    offer_bytes_per_cycle: f64,
    rss_kib_per_cycle: f64,
    fds_per_cycle: f64,
    /// Video frames the pair received from each other against what they sent, over the
    /// whole run, and the longest wait between two of them.
    pair_frames_sent: u64,
    pair_frames_received: u64,
    pair_loss_percent: f64,
    pair_max_gap_ms: f64,
}

const ROOM: &str = "churn";

pub(crate) fn run(args: &Args, sfu: &Sfu, signaling: &Signaling) -> anyhow::Result<()> {
    let media = args.media(args.kbps);
    let stop = Arc::new(AtomicBool::new(false));
    let pair: Vec<Spawned> = (0..2)
        .map(|i| {
            Spawned::start(
                signaling,
                ROOM,
                format!("stays{i}"),
                Some(media),
                false,
                Arc::clone(&stop),
            )
        })
        .collect();
    let result = cycles(args, sfu, signaling, &pair);
    stop.store(true, Ordering::Relaxed);
    let finished = finish(pair);
    let report = result?;
    finished?;
    let first = report.samples[0];
    let last = report.samples[report.samples.len() - 1];
    let line = format!(
        "churn: {} cycles in {:.1} s; offer {} -> {} bytes ({:+.1} B/cycle), RSS {} -> {} KiB ({:+.2} KiB/cycle), fds {} -> {}, threads {} -> {}; the pair received {} of {} frames ({:.2} % loss), longest gap {:.0} ms",
        report.cycles,
        report.seconds,
        first.offer_bytes,
        last.offer_bytes,
        report.offer_bytes_per_cycle,
        first.rss_kib,
        last.rss_kib,
        report.rss_kib_per_cycle,
        first.fds,
        last.fds,
        first.threads,
        last.threads,
        report.pair_frames_received,
        report.pair_frames_sent,
        report.pair_loss_percent,
        report.pair_max_gap_ms
    );
    print(args.json, &report, line)
}

fn cycles(
    args: &Args,
    sfu: &Sfu,
    signaling: &Signaling,
    pair: &[Spawned],
) -> anyhow::Result<Report> {
    let all: Vec<&Spawned> = pair.iter().collect();
    wait_connected(&all, Duration::from_secs(30))?;
    // Both receive each other before the newcomers start.
    wait_until(
        Duration::from_secs(10),
        "the pair receives each other",
        || {
            pair.iter()
                .all(|p| p.counters.frames_received.load(Ordering::Relaxed) > 10)
        },
    )?;
    let offers = |i: usize| pair[i].counters.offers.load(Ordering::Relaxed);
    let sent = || -> u64 {
        pair.iter()
            .map(|p| p.counters.frames_sent.load(Ordering::Relaxed))
            .sum()
    };
    let received = || -> u64 {
        pair.iter()
            .map(|p| p.counters.frames_received.load(Ordering::Relaxed))
            .sum()
    };
    let sample = |cycle: usize| -> anyhow::Result<Sample> {
        Ok(Sample {
            cycle,
            offer_bytes: pair[0].counters.last_offer_bytes.load(Ordering::Relaxed),
            rss_kib: sfu.rss_kib()?,
            fds: sfu.fds()?,
            threads: sfu.threads()?,
        })
    };
    let every = (args.cycles / 10).max(1);
    let started = Instant::now();
    let (sent0, received0) = (sent(), received());
    let media = args.media(args.kbps);
    let mut samples = Vec::new();
    for cycle in 1..=args.cycles {
        let before = (offers(0), offers(1));
        let stop = Arc::new(AtomicBool::new(false));
        let newcomer = Spawned::start(
            signaling,
            ROOM,
            format!("new{cycle}"),
            Some(media),
            false,
            stop,
        );
        let connected = wait_connected(&[&newcomer], Duration::from_secs(10));
        let done = newcomer.finish();
        connected?;
        done?;
        // Each of the pair gets the newcomer's track, then an offer that ends it.
        wait_until(Duration::from_secs(10), "the pair's offers", || {
            offers(0) >= before.0 + 2 && offers(1) >= before.1 + 2
        })?;
        if cycle == 1 || cycle % every == 0 {
            samples.push(sample(cycle)?);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    // Frames in flight at the end are not lost.
    std::thread::sleep(Duration::from_millis(300));
    let pair_frames_sent = sent() - sent0;
    let pair_frames_received = received() - received0;
    let settled: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.cycle >= args.cycles / 5)
        .collect();
    let fit = |f: &dyn Fn(&Sample) -> f64| slope(&settled, f);
    Ok(Report {
        cycles: args.cycles,
        seconds,
        offer_bytes_per_cycle: fit(&|s| s.offer_bytes as f64),
        rss_kib_per_cycle: fit(&|s| s.rss_kib as f64),
        fds_per_cycle: fit(&|s| s.fds as f64),
        samples,
        pair_frames_sent,
        pair_frames_received,
        pair_loss_percent: 100.0
            * (1.0 - pair_frames_received as f64 / pair_frames_sent.max(1) as f64),
        pair_max_gap_ms: pair
            .iter()
            .map(|p| p.counters.max_gap_us.load(Ordering::Relaxed) as f64 / 1000.0)
            .fold(0.0, f64::max),
    })
}

/// Least-squares slope of `f` over the samples' cycles.
fn slope(samples: &[Sample], f: &dyn Fn(&Sample) -> f64) -> f64 {
    let n = samples.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = samples.iter().map(|s| s.cycle as f64).sum::<f64>() / n;
    let my = samples.iter().map(f).sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for s in samples {
        let dx = s.cycle as f64 - mx;
        num += dx * (f(s) - my);
        den += dx * dx;
    }
    if den == 0.0 { 0.0 } else { num / den }
}

fn wait_until(limit: Duration, what: &str, done: impl Fn() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}
