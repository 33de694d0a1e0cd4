//! The `PxS` scenario: publishers and watchers per room, forwarding rate per CPU-second of
//! the process under load (basic-sfu, and as baselines in the same run the raw relay and
//! Janus's VideoRoom), and forwarding latency; `--ramp` raises the rate step by step until
//! the SFU saturates.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::janus::Janus;
use crate::peer::{Media, Spawned, wait_connected, wait_until};
use crate::raw::relay_sent;
use crate::sfu::{Relay, Sfu};
use crate::signaling::Signaling;
use crate::{Args, Baseline, print};

/// Loss above which a ramp stops, percent.
const RAMP_MAX_LOSS: f64 = 2.0;
/// Core share above which a ramp stops.
const RAMP_MAX_SHARE: f64 = 0.9;
/// Rate factor from one ramp step to the next.
const RAMP_FACTOR: f64 = 1.5;

/// What is under load.
enum Target<'a> {
    Sfu(&'a Sfu, &'a Signaling),
    Relay(&'a Relay),
    Janus(&'a Janus),
    /// Two nodes: the publishers' and the watchers', joined by a relay.
    Cascade([(&'a Sfu, &'a Signaling); 2]),
}

/// Two basic-sfu nodes, the first opening a relay of every room to the second.
pub(crate) struct Cascade {
    nodes: [(Sfu, Signaling); 2],
}

impl Cascade {
    /// Starts the two nodes like the SFU under test (the same binary, core and settings).
    fn start(args: &Args, signaling: &Signaling) -> anyhow::Result<Self> {
        let relay_secret = crate::sfu::random_secret();
        let start = |extra: &[&str]| -> anyhow::Result<(Sfu, Signaling)> {
            let sfu = Sfu::start(
                &signaling.bin,
                &args.sfu_core,
                &signaling.secret,
                &args.sfu_estimator,
                args.sfu_workers,
                args.port_per_room,
                extra,
            )?;
            let s = Signaling {
                base: sfu.base.clone(),
                bin: signaling.bin.clone(),
                secret: signaling.secret.clone(),
            };
            Ok((sfu, s))
        };
        let second = start(&["--relay-secret", &relay_secret, "--node-id", "b"])?;
        let first = start(&[
            "--relay-secret",
            &relay_secret,
            "--node-id",
            "a",
            "--cascade",
            &second.0.base,
        ])?;
        Ok(Self {
            nodes: [first, second],
        })
    }

    fn target(&self) -> Target<'_> {
        let [(a, sa), (b, sb)] = &self.nodes;
        Target::Cascade([(a, sa), (b, sb)])
    }
}

/// What a target says of itself so far (`None`: it does not tell; Janus's forwarded
/// packets are counted at the watchers' sockets instead).
#[derive(Debug, Clone)]
struct TargetCounters {
    cpu_seconds: f64,
    /// Each thread's run time (thread id, seconds), where the target is basic-sfu.
    threads: Vec<(u32, f64)>,
    datagrams_sent: Option<f64>,
    forwarded: Option<f64>,
    kernel_drops: Option<f64>,
    /// Messages handed to the kernel for the datagrams sent (a segmented train once).
    messages: Option<f64>,
    /// The SFU's hold-time histogram (upper bound in seconds, cumulative count).
    hold: Option<Vec<(f64, f64)>>,
    /// Each node's CPU time and datagrams sent, for a target of two.
    node_cpu: Option<[f64; 2]>,
    node_sent: Option<[f64; 2]>,
}

impl TargetCounters {
    fn only_cpu(cpu_seconds: f64) -> Self {
        Self {
            cpu_seconds,
            threads: Vec::new(),
            datagrams_sent: None,
            forwarded: None,
            kernel_drops: None,
            messages: None,
            hold: None,
            node_cpu: None,
            node_sent: None,
        }
    }
}

/// What `pick` counted between `a` and `b`, where the target counts it.
fn between(
    a: &TargetCounters,
    b: &TargetCounters,
    pick: fn(&TargetCounters) -> Option<f64>,
) -> Option<f64> {
    pick(b).zip(pick(a)).map(|(b, a)| b - a)
}

impl Target<'_> {
    fn name(&self) -> &'static str {
        match self {
            Self::Sfu(..) => "basic-sfu",
            Self::Relay(_) => "raw-relay",
            Self::Janus(_) => "janus",
            Self::Cascade(_) => "cascade",
        }
    }

    fn counters(&self) -> anyhow::Result<TargetCounters> {
        Ok(match self {
            Self::Sfu(sfu, signaling) => {
                let metrics = signaling.metrics()?;
                TargetCounters {
                    cpu_seconds: sfu.cpu_seconds()?,
                    threads: sfu.thread_seconds(),
                    datagrams_sent: Some(metrics.counter("sfu_datagrams_sent_total")?),
                    forwarded: Some(metrics.counter("sfu_packets_forwarded_total")?),
                    kernel_drops: metrics.counter("sfu_dropped_kernel_total").ok(),
                    messages: metrics.counter("sfu_send_messages_total").ok(),
                    hold: metrics.histogram("sfu_datagram_hold_seconds").ok(),
                    node_cpu: None,
                    node_sent: None,
                }
            }
            // What reached the peers counts as forwarded: the first node also forwards
            // everything once to the relay.
            Self::Cascade(nodes) => {
                let cpu = [nodes[0].0.cpu_seconds()?, nodes[1].0.cpu_seconds()?];
                let sent = [
                    nodes[0].1.metrics()?.counter("sfu_datagrams_sent_total")?,
                    nodes[1].1.metrics()?.counter("sfu_datagrams_sent_total")?,
                ];
                TargetCounters {
                    datagrams_sent: Some(sent[0] + sent[1]),
                    node_cpu: Some(cpu),
                    node_sent: Some(sent),
                    ..TargetCounters::only_cpu(cpu[0] + cpu[1])
                }
            }
            Self::Relay(relay) => {
                let sent = relay_sent(relay.addr)? as f64;
                TargetCounters {
                    datagrams_sent: Some(sent),
                    forwarded: Some(sent),
                    ..TargetCounters::only_cpu(relay.cpu_seconds()?)
                }
            }
            Self::Janus(janus) => TargetCounters::only_cpu(janus.cpu_seconds()?),
        })
    }

    /// Who receives a publisher's frames in a room of `publishers` and `watchers`: in
    /// basic-sfu everyone else (publishers subscribe to each other); the relay's and
    /// Janus's publishers only send, so there the watchers.
    fn receivers(&self, publishers: usize, watchers: usize) -> usize {
        match self {
            Self::Sfu(..) | Self::Cascade(_) => publishers + watchers - 1,
            Self::Relay(_) | Self::Janus(_) => watchers,
        }
    }

    /// Starts room `room`'s peers (publishers first, and for Janus connected before the
    /// watchers subscribe to their feeds).
    fn spawn(
        &self,
        args: &Args,
        room: usize,
        (publishers, watchers): (usize, usize),
        media: Media,
        stop: &Arc<AtomicBool>,
    ) -> anyhow::Result<Vec<Spawned>> {
        let mut peers = Vec::new();
        // Where peer `i` joins: the one SFU, or the publishers' and the watchers' nodes.
        let node_of = |i: usize| match self {
            Self::Sfu(_, s) => Some(*s),
            Self::Cascade(nodes) => Some(nodes[usize::from(i >= publishers)].1),
            Self::Relay(_) | Self::Janus(_) => None,
        };
        match self {
            Self::Sfu(..) | Self::Cascade(_) => {
                for i in 0..publishers + watchers {
                    let publish = (i < publishers).then_some(media);
                    let Some(signaling) = node_of(i) else {
                        break;
                    };
                    peers.push(Spawned::start(
                        signaling,
                        &format!("load{room}"),
                        format!("peer{i}"),
                        publish,
                        // The first watcher of a room decrypts everything: its frames
                        // give the latency.
                        args.count_at_socket && i > publishers,
                        Arc::clone(stop),
                    ));
                }
            }
            Self::Relay(relay) => {
                for i in 0..publishers + watchers {
                    let publish = (i < publishers).then_some(media);
                    peers.push(crate::raw::start(
                        relay.addr,
                        room as u32,
                        publish,
                        Arc::clone(stop),
                    ));
                }
            }
            Self::Janus(janus) => {
                let id = 1000 + room as u64;
                janus.create_room(id, publishers)?;
                for _ in 0..publishers {
                    peers.push(crate::janus::start(
                        janus,
                        id,
                        Some(media),
                        Vec::new(),
                        false,
                        Arc::clone(stop),
                    ));
                }
                let all: Vec<&Spawned> = peers.iter().collect();
                wait_connected(&all, Duration::from_secs(30))?;
                // Watchers that subscribed as soon as the publishers connected sometimes
                // decoded nothing of Janus's forwarding (the decrypting watcher got its
                // datagrams but no frame), so they subscribe once every publisher has
                // sent a few frames.
                wait_until(&all, Duration::from_secs(10), "sent 5 frames", |p| {
                    p.counters.frames_sent.load(Ordering::Relaxed) >= 5
                })?;
                let feeds: Vec<u64> = peers
                    .iter()
                    .map(|p| p.counters.client.load(Ordering::Relaxed))
                    .collect();
                for i in 0..watchers {
                    peers.push(crate::janus::start(
                        janus,
                        id,
                        None,
                        feeds.clone(),
                        args.count_at_socket && i > 0,
                        Arc::clone(stop),
                    ));
                }
            }
        }
        Ok(peers)
    }
}

/// Forwarding latency percentiles of one run, microseconds.
#[derive(Debug, serde::Serialize)]
struct Latency {
    samples: usize,
    p50_us: u32,
    p99_us: u32,
    max_us: u32,
}

impl Latency {
    /// The percentiles of `samples` (sorted here); `None` without samples.
    fn of(mut samples: Vec<u32>) -> Option<Self> {
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        (!samples.is_empty()).then(|| Self {
            samples: samples.len(),
            p50_us: at(0.5),
            p99_us: at(0.99),
            max_us: at(1.0),
        })
    }
}

/// How long the SFU held the datagrams it received in a run, from its
/// `sfu_datagram_hold_seconds` histogram: the bucket bound that half, and 99 %, of them
/// were within (`None`: beyond the last bound).
#[derive(Debug, serde::Serialize)]
struct Hold {
    datagrams: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
}

impl Hold {
    /// From the histogram's buckets at the start (`a`) and end (`b`) of the window.
    fn between(a: &[(f64, f64)], b: &[(f64, f64)]) -> Option<Self> {
        let window: Vec<(f64, f64)> = b
            .iter()
            .map(|&(le, n)| {
                let before = a.iter().find(|(l, _)| *l == le).map_or(0.0, |(_, n)| *n);
                (le, n - before)
            })
            .collect();
        let total = window.last()?.1;
        let at = |q: f64| {
            window
                .iter()
                .find(|(_, n)| *n >= (q * total).ceil().max(1.0))
                .map(|(le, _)| *le)
                .filter(|le| le.is_finite())
                .map(|le| le * 1e3)
        };
        (total > 0.0).then(|| Self {
            datagrams: total,
            p50_ms: at(0.5),
            p99_ms: at(0.99),
        })
    }
}

/// The result of one run.
#[derive(Debug, serde::Serialize)]
struct Report {
    target: &'static str,
    scenario: String,
    rooms: usize,
    kbps: u32,
    seconds: f64,
    frames_sent: u64,
    frames_expected: u64,
    frames_received: u64,
    loss_percent: f64,
    datagrams_per_second: f64,
    /// Datagrams the kernel dropped at the target's socket in the window (`None`: it does
    /// not report it).
    kernel_drops: Option<f64>,
    /// Datagrams sent per message handed to the kernel: above 1 where segment trains
    /// (UDP GSO) carried several (`None`: the target does not count messages).
    datagrams_per_message: Option<f64>,
    cpu_seconds: f64,
    cpu_share: f64,
    datagrams_per_cpu_second: f64,
    /// Media packets forwarded to subscribers (the SFU's `sfu_packets_forwarded_total`)
    /// per second of the target's CPU time.
    forwarded_per_cpu_second: f64,
    /// The busiest thread's share of that CPU time (`None`: not read): with fanout
    /// workers, how much of the work is on the path one core has to carry.
    busiest_thread_share: Option<f64>,
    /// From the publisher's write of a frame to the arrival of its first packet at a
    /// watcher (`None`: no watcher read sending times).
    latency: Option<Latency>,
    /// The SFU's own hold time of what it received (`None`: the target does not tell).
    hold: Option<Hold>,
    /// Each node's share of a core, for a target of two (the publishers' node first).
    node_cpu_share: Option<[f64; 2]>,
    /// Each node's datagrams sent per second, for a target of two.
    node_datagrams_per_second: Option<[f64; 2]>,
}

impl Report {
    fn line(&self) -> String {
        let latency = self.latency.as_ref().map_or(String::new(), |l| {
            format!(
                "; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                f64::from(l.p50_us) / 1e3,
                f64::from(l.p99_us) / 1e3,
                f64::from(l.max_us) / 1e3
            )
        });
        let ms =
            |v: Option<f64>| v.map_or("beyond the last bucket".into(), |v| format!("≤ {v} ms"));
        let hold = self.hold.as_ref().map_or(String::new(), |h| {
            format!(
                "; the SFU held datagrams p50 {}, p99 {}",
                ms(h.p50_ms),
                ms(h.p99_ms)
            )
        });
        let busiest = self.busiest_thread_share.map_or(String::new(), |s| {
            format!(", its busiest thread {:.0} % of it", 100.0 * s)
        });
        let nodes = match (self.node_cpu_share, self.node_datagrams_per_second) {
            (Some([a, b]), Some([sa, sb])) => format!(
                " (publishers' node {a:.2} sending {sa:.0}/s, watchers' node {b:.2} sending {sb:.0}/s)"
            ),
            _ => String::new(),
        };
        format!(
            "{} {} x {} room(s) at {} kbit/s, {:.1} s: frames sent {}, received {} of {} ({:.2} % loss); sent {:.0} datagrams/s{} on {:.2} of a core{busiest}{nodes} (kernel drops {:?}) = {:.0} datagrams and {:.0} forwarded media packets per CPU-second{latency}{hold}",
            self.target,
            self.scenario,
            self.rooms,
            self.kbps,
            self.seconds,
            self.frames_sent,
            self.frames_received,
            self.frames_expected,
            self.loss_percent,
            self.datagrams_per_second,
            self.datagrams_per_message
                .map_or(String::new(), |d| format!(" ({d:.1} per message)")),
            self.cpu_share,
            self.kernel_drops,
            self.datagrams_per_cpu_second,
            self.forwarded_per_cpu_second
        )
    }
}

/// A run with baselines: each report, and the SFU's forwarded packets per CPU-second
/// divided by each baseline's.
#[derive(Debug, serde::Serialize)]
struct Compared {
    sfu: Report,
    relay: Option<Report>,
    sfu_over_relay: Option<f64>,
    janus: Option<Report>,
    sfu_over_janus: Option<f64>,
    cascade: Option<Report>,
    /// One node's packets delivered per CPU-second over two nodes': the relay's cost.
    sfu_over_cascade: Option<f64>,
}

pub(crate) fn run(args: &Args, sfu: &Sfu, signaling: &Signaling) -> anyhow::Result<()> {
    let shape = args
        .scenario
        .split_once('x')
        .and_then(|(p, s)| Some((p.parse::<usize>().ok()?, s.parse::<usize>().ok()?)))
        .context("--scenario is PUBLISHERSxWATCHERS (e.g. 1x10), churn or flood")?;
    if shape.0 == 0 {
        bail!("a scenario needs a publisher");
    }
    let relay = if args.baseline.contains(&Baseline::Relay) {
        let bin = match args.relay_bin.clone() {
            Some(b) => b,
            None => std::env::current_exe()?.with_file_name("raw-relay"),
        };
        Some(Relay::start(&bin, &args.sfu_core)?)
    } else {
        None
    };
    let janus = if args.baseline.contains(&Baseline::Janus) {
        Some(Janus::start(&args.janus_bin, &args.sfu_core)?)
    } else {
        None
    };
    let cascade = if args.baseline.contains(&Baseline::Cascade) {
        Some(Cascade::start(args, signaling)?)
    } else {
        None
    };
    let targets = Targets {
        sfu: Target::Sfu(sfu, signaling),
        relay: relay.as_ref().map(Target::Relay),
        janus: janus.as_ref().map(Target::Janus),
        cascade: cascade.as_ref().map(Cascade::target),
    };
    if args.ramp {
        return ramp(args, shape, &targets);
    }
    let compared = compare(args, shape, &targets, args.kbps)?;
    print(args.json, &compared, compared.line())
}

/// The SFU and the baselines a run compares it with.
struct Targets<'a> {
    sfu: Target<'a>,
    relay: Option<Target<'a>>,
    janus: Option<Target<'a>>,
    cascade: Option<Target<'a>>,
}

impl Compared {
    fn line(&self) -> String {
        let mut line = self.sfu.line();
        for (report, ratio) in [
            (&self.relay, self.sfu_over_relay),
            (&self.janus, self.sfu_over_janus),
            (&self.cascade, self.sfu_over_cascade),
        ] {
            if let (Some(r), Some(ratio)) = (report, ratio) {
                line = format!("{line}\n{}\nbasic-sfu / {}: {ratio:.2}", r.line(), r.target);
            }
        }
        line
    }
}

/// The load at `kbps` against the SFU, then against each baseline there is.
fn compare(
    args: &Args,
    shape: (usize, usize),
    targets: &Targets<'_>,
    kbps: u32,
) -> anyhow::Result<Compared> {
    let sfu = measure(args, shape, &targets.sfu, kbps)?;
    let baseline = |t: &Option<Target<'_>>| -> anyhow::Result<(Option<Report>, Option<f64>)> {
        let Some(t) = t else {
            return Ok((None, None));
        };
        let r = measure(args, shape, t, kbps)?;
        let ratio = (r.forwarded_per_cpu_second > 0.0)
            .then(|| sfu.forwarded_per_cpu_second / r.forwarded_per_cpu_second);
        Ok((Some(r), ratio))
    };
    let (relay, sfu_over_relay) = baseline(&targets.relay)?;
    let (janus, sfu_over_janus) = baseline(&targets.janus)?;
    let (cascade, sfu_over_cascade) = baseline(&targets.cascade)?;
    Ok(Compared {
        sfu,
        relay,
        sfu_over_relay,
        janus,
        sfu_over_janus,
        cascade,
        sfu_over_cascade,
    })
}

/// Runs the scenario at `--kbps`, then at 1.5 times the rate, and so on, until the loss
/// passes 2 %, the SFU uses 90 % of its core, or `--ramp-steps` steps are done; each step
/// against the baselines too.
fn ramp(args: &Args, shape: (usize, usize), targets: &Targets<'_>) -> anyhow::Result<()> {
    #[derive(serde::Serialize)]
    struct Ramp {
        steps: Vec<Compared>,
        stopped_by: &'static str,
    }
    let mut steps = Vec::new();
    let mut kbps = f64::from(args.kbps);
    let mut stopped_by = "the last step";
    for _ in 0..args.ramp_steps {
        let step = compare(args, shape, targets, kbps as u32)?;
        if !args.json {
            println!("{}", step.line());
        }
        let (loss, share) = (step.sfu.loss_percent, step.sfu.cpu_share);
        steps.push(step);
        if loss > RAMP_MAX_LOSS {
            stopped_by = "loss";
            break;
        }
        if share > RAMP_MAX_SHARE {
            stopped_by = "the core";
            break;
        }
        kbps *= RAMP_FACTOR;
    }
    let line = format!("ramp stopped by {stopped_by}");
    print(args.json, &Ramp { steps, stopped_by }, line)
}

/// One run against `target` at `kbps` per publisher: joins the peers, warms up, measures
/// over `--seconds`, stops the peers.
fn measure(
    args: &Args,
    (publishers, watchers): (usize, usize),
    target: &Target<'_>,
    kbps: u32,
) -> anyhow::Result<Report> {
    let media = args.media(kbps);
    let stop = Arc::new(AtomicBool::new(false));
    let mut peers = Vec::new();
    let spawned = (0..args.rooms).try_for_each(|r| {
        peers.extend(target.spawn(args, r, (publishers, watchers), media, &stop)?);
        Ok::<_, anyhow::Error>(())
    });
    let all: Vec<&Spawned> = peers.iter().collect();
    if let Err(e) = spawned.and_then(|()| wait_connected(&all, Duration::from_secs(30))) {
        stop.store(true, Ordering::Relaxed);
        return Err(match finish(peers) {
            Ok(()) => e,
            Err(failed) => e.context(format!("{failed:#}")),
        });
    }
    eprintln!(
        "sfu-load: {}: {} peers connected; warming up {} s",
        target.name(),
        peers.len(),
        args.warmup
    );
    std::thread::sleep(Duration::from_secs(args.warmup));

    let snapshot = || -> anyhow::Result<_> {
        let sum = |f: fn(&Spawned) -> u64| peers.iter().map(f).sum::<u64>();
        Ok((
            Instant::now(),
            target.counters()?,
            sum(|p| p.counters.frames_sent.load(Ordering::Relaxed)),
            sum(|p| p.counters.frames_received.load(Ordering::Relaxed)),
            sum(|p| p.counters.rtp_received.load(Ordering::Relaxed)),
            peers
                .iter()
                .map(|p| p.counters.latency_samples())
                .collect::<Vec<_>>(),
        ))
    };
    let a = snapshot()?;
    std::thread::sleep(Duration::from_secs(args.seconds));
    let b = snapshot()?;
    stop.store(true, Ordering::Relaxed);
    let samples: Vec<u32> = peers
        .iter()
        .zip(a.5.iter().zip(&b.5))
        .flat_map(|(p, (&from, &to))| {
            let all = p
                .counters
                .latencies_us
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            all[from..to].to_vec()
        })
        .collect();
    finish(peers)?;

    let seconds = (b.0 - a.0).as_secs_f64();
    let cpu = b.1.cpu_seconds - a.1.cpu_seconds;
    let per_cpu = |n: f64| if cpu > 0.0 { n / cpu } else { 0.0 };
    // What a target does not count itself is what reached the peers' sockets.
    let at_peers = (b.4 - a.4) as f64;
    let sent = between(&a.1, &b.1, |c| c.datagrams_sent).unwrap_or(at_peers);
    let forwarded = between(&a.1, &b.1, |c| c.forwarded).unwrap_or(at_peers);
    let messages = between(&a.1, &b.1, |c| c.messages);
    let frames_sent = b.2 - a.2;
    let frames_expected = frames_sent * target.receivers(publishers, watchers) as u64;
    let frames_received = b.3 - a.3;
    Ok(Report {
        target: target.name(),
        scenario: args.scenario.clone(),
        rooms: args.rooms,
        kbps,
        seconds,
        frames_sent,
        frames_expected,
        frames_received,
        loss_percent: 100.0 * (1.0 - frames_received as f64 / frames_expected.max(1) as f64),
        datagrams_per_second: sent / seconds,
        kernel_drops: between(&a.1, &b.1, |c| c.kernel_drops),
        datagrams_per_message: messages.filter(|m| *m > 0.0).map(|m| sent / m),
        cpu_seconds: cpu,
        cpu_share: cpu / seconds,
        datagrams_per_cpu_second: per_cpu(sent),
        forwarded_per_cpu_second: per_cpu(forwarded),
        latency: Latency::of(samples),
        hold: a
            .1
            .hold
            .as_deref()
            .zip(b.1.hold.as_deref())
            .and_then(|(a, b)| Hold::between(a, b)),
        busiest_thread_share: busiest_thread(&a.1.threads, &b.1.threads).map(|t| t / cpu),
        node_cpu_share: per_node_second(a.1.node_cpu, b.1.node_cpu, seconds),
        node_datagrams_per_second: per_node_second(a.1.node_sent, b.1.node_sent, seconds),
    })
}

/// The most run time one thread had between snapshots `a` and `b` (a thread that started
/// in between counts from zero).
fn busiest_thread(a: &[(u32, f64)], b: &[(u32, f64)]) -> Option<f64> {
    b.iter()
        .map(|&(tid, end)| {
            let start = a.iter().find(|t| t.0 == tid).map_or(0.0, |t| t.1);
            end - start
        })
        .max_by(f64::total_cmp)
}

/// Each node's growth of a counter from `a` to `b`, per second of `seconds`.
fn per_node_second(a: Option<[f64; 2]>, b: Option<[f64; 2]>, seconds: f64) -> Option<[f64; 2]> {
    let (a, b) = (a?, b?);
    Some([(b[0] - a[0]) / seconds, (b[1] - a[1]) / seconds])
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
