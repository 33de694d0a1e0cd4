//! sfu-load: a load generator for basic-sfu, with str0m peers over loopback.
//!
//! ```sh
//! cargo build --release -p examples
//! target/release/sfu-load --scenario 1x10 --seconds 10
//! ```
//!
//! It starts basic-sfu (pinned to one core with `taskset` when there is one, so its CPU
//! time is its own), then per room joins P publishers and S watchers through the real
//! signaling (tokens, join, event stream, answers), each a str0m peer on its own UDP
//! socket and thread. Publishers send VP8-shaped video at `--kbps` and `--fps` with a
//! keyframe every 2 s; every peer counts the frames it receives. After a warm-up it
//! measures over `--seconds`: frames sent and received (the loss), the SFU's datagrams sent
//! (its `/metrics`) and its CPU time (`/proc`), and reports **datagrams sent per SFU
//! CPU-second**, the figure that does not depend on how busy the machine is. The
//! generator's own peers decrypt everything they receive, so on a small machine it can be
//! the bottleneck: pin it to other cores (`taskset -c 0 sfu-load --sfu-core 1`).

mod peer;
mod signaling;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;

use crate::peer::{Counters, Media};
use crate::signaling::Signaling;

/// Load basic-sfu with str0m peers and report forwarded packets per SFU CPU-second.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Publishers x watchers per room, e.g. 1x10.
    #[arg(long, default_value = "1x10")]
    scenario: String,
    /// Rooms, each with the scenario's peers.
    #[arg(long, default_value_t = 1)]
    rooms: usize,
    /// Measurement window in seconds, after the warm-up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Warm-up in seconds, after every peer connected.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Video bitrate per publisher, kbit/s.
    #[arg(long, default_value_t = 1000)]
    kbps: u32,
    /// Video frames per second.
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// The basic-sfu binary (default: next to this one).
    #[arg(long)]
    sfu_bin: Option<PathBuf>,
    /// Core to pin the SFU to (`none`: no pinning).
    #[arg(long, default_value = "1")]
    sfu_core: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

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
    sfu_cpu_seconds: f64,
    sfu_cpu_share: f64,
    datagrams_per_cpu_second: f64,
}

/// A running basic-sfu, killed on drop.
struct Sfu {
    child: Child,
}

impl Drop for Sfu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sfu(bin: &PathBuf, core: &str, secret: &str) -> anyhow::Result<(Sfu, String)> {
    let pin = core != "none" && Command::new("taskset").arg("-V").output().is_ok();
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", core]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    let mut child = cmd
        .args(["--http-port", "0", "--api-secret", secret])
        .args(["--join-rate", "0", "--max-participants", "1000"])
        .args(["--max-rooms", "1000", "--estimator", "off"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let base = line
        .trim()
        .strip_prefix("open ")
        .and_then(|u| u.split("/?").next())
        .with_context(|| format!("unexpected first line {line:?}"))?
        .to_string();
    Ok((Sfu { child }, base))
}

/// CPU time of process `pid` so far, in seconds.
fn cpu_seconds(pid: u32, ticks_per_second: f64) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at state (field 3).
    let rest = stat.rsplit_once(')').context("bad /proc stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11).context("no utime")?.parse()?;
    let stime: f64 = f.get(12).context("no stime")?.parse()?;
    Ok((utime + stime) / ticks_per_second)
}

fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn random_secret() -> String {
    use std::hash::{BuildHasher, Hasher};
    let half = || {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    format!("{:016x}{:016x}", half(), half())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (publishers, watchers) = args
        .scenario
        .split_once('x')
        .and_then(|(p, s)| Some((p.parse::<usize>().ok()?, s.parse::<usize>().ok()?)))
        .context("--scenario is PUBLISHERSxWATCHERS, e.g. 1x10")?;
    if publishers == 0 || args.fps == 0 {
        bail!("a scenario needs a publisher and frames");
    }
    let bin = match args.sfu_bin.clone() {
        Some(b) => b,
        None => std::env::current_exe()?.with_file_name("basic-sfu"),
    };
    let secret = random_secret();
    let (sfu, base) = start_sfu(&bin, &args.sfu_core, &secret)?;
    let signaling = Signaling { base, bin, secret };
    let media = Media {
        fps: args.fps,
        frame_bytes: (args.kbps as usize * 1000 / 8 / args.fps as usize).max(10),
        keyframe_every: u64::from(args.fps) * 2,
    };

    let stop = Arc::new(AtomicBool::new(false));
    let mut peers = Vec::new();
    let mut threads = Vec::new();
    for r in 0..args.rooms {
        let room = format!("load{r}");
        for i in 0..publishers + watchers {
            let publish = (i < publishers).then_some(media);
            let counters = Arc::new(Counters::default());
            peers.push((publish.is_some(), Arc::clone(&counters)));
            let (sig, room, stop) = (signaling.clone(), room.clone(), Arc::clone(&stop));
            threads.push(std::thread::spawn(move || {
                peer::run(sig, room, format!("peer{i}"), publish, counters, stop)
            }));
        }
    }
    let everyone = peers.len();
    let deadline = Instant::now() + Duration::from_secs(30);
    while peers
        .iter()
        .any(|(_, c)| !c.connected.load(Ordering::Relaxed))
    {
        if Instant::now() > deadline || threads.iter().any(|t| t.is_finished()) {
            stop.store(true, Ordering::Relaxed);
            for t in threads {
                if let Ok(Err(e)) = t.join() {
                    eprintln!("a peer failed: {e:#}");
                }
            }
            bail!("not every peer connected within 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "sfu-load: {everyone} peers connected; warming up {} s",
        args.warmup
    );
    std::thread::sleep(Duration::from_secs(args.warmup));

    let ticks = ticks_per_second();
    let pid = sfu.child.id();
    let snapshot = || -> anyhow::Result<(Instant, f64, f64, u64, u64)> {
        let sent: u64 = peers
            .iter()
            .map(|(_, c)| c.frames_sent.load(Ordering::Relaxed))
            .sum();
        let received: u64 = peers
            .iter()
            .map(|(_, c)| c.frames_received.load(Ordering::Relaxed))
            .sum();
        Ok((
            Instant::now(),
            cpu_seconds(pid, ticks)?,
            signaling.metric("sfu_datagrams_sent_total")?,
            sent,
            received,
        ))
    };
    let a = snapshot()?;
    std::thread::sleep(Duration::from_secs(args.seconds));
    let b = snapshot()?;
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        if let Ok(Err(e)) = t.join() {
            eprintln!("a peer failed: {e:#}");
        }
    }
    drop(sfu);

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
        sfu_cpu_seconds: cpu,
        sfu_cpu_share: cpu / seconds,
        datagrams_per_cpu_second: if cpu > 0.0 { datagrams / cpu } else { 0.0 },
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "scenario {} x {} room(s), {:.1} s: frames sent {}, received {} of {} ({:.2} % loss); SFU sent {:.0} datagrams/s on {:.2} of a core = {:.0} datagrams per SFU CPU-second",
            report.scenario,
            report.rooms,
            report.seconds,
            report.frames_sent,
            report.frames_received,
            report.frames_expected,
            report.loss_percent,
            report.sfu_datagrams_per_second,
            report.sfu_cpu_share,
            report.datagrams_per_cpu_second
        );
    }
    Ok(())
}
