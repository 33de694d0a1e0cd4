//! `cargo xtask bench [--long]`: the criterion benches and the load scenarios in one run,
//! written to `target/bench-report/report.md` with SVG charts.
//!
//! Load scenarios run sfu-load against basic-sfu and, in the same run and on the same
//! pinned core, against raw-relay (the same fanout over the same batched I/O without
//! WebRTC) and, when run as root with Janus installed, Janus's VideoRoom, so every figure
//! comes with its ratio to those baselines; then the same scenarios with peers that take
//! GSO trains whole (`sfu-load --gro`), a 1x10 ramp, a large room on one and on
//! two fanout workers, and the memory of 500 idle participants. Short mode (the default)
//! measures 4 s per load run and passes `--quick` to criterion; `--long` measures longer
//! and ramps further, for releases.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::chart::{COLOURS, Line, draw};
use crate::exec::{build_examples, cargo, root, run as exec};

/// The fanout scenarios: `PxS` and video kbit/s per publisher.
const SCENARIOS: [(&str, u32); 4] = [
    ("1x1", 20_000),
    ("1x10", 16_000),
    ("1x50", 4_000),
    ("10x10", 1_500),
];

/// Participants of the memory run.
const IDLE_PARTICIPANTS: usize = 500;

/// How long and how far a run measures.
struct Mode {
    name: &'static str,
    /// Seconds each load run measures.
    seconds: u32,
    /// Steps of the 1x10 ramp.
    ramp_steps: u32,
    /// Passed to criterion.
    criterion: &'static [&'static str],
}

const SHORT: Mode = Mode {
    name: "short",
    seconds: 4,
    ramp_steps: 5,
    criterion: &["--quick", "--noplot"],
};

const LONG: Mode = Mode {
    name: "long",
    seconds: 10,
    ramp_steps: 8,
    criterion: &["--noplot"],
};

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let (mut mode, mut criterion, mut load) = (&SHORT, true, true);
    for a in args {
        match a.as_str() {
            "--long" => mode = &LONG,
            "--no-criterion" => criterion = false,
            "--no-load" => load = false,
            other => bail!(
                "unknown argument {other:?}; usage: bench [CRATE] | bench [--long] [--no-criterion] [--no-load]"
            ),
        }
    }
    let out = root().join("target/bench-report");
    std::fs::create_dir_all(&out)?;
    let mut md = format!(
        "# sfu-kit bench report ({} mode)\n\nWritten by `cargo xtask bench{}`. Machine: {}.\n\n",
        mode.name,
        if mode.name == "long" { " --long" } else { "" },
        machine()
    );
    if criterion {
        md.push_str(&criterion_section(mode)?);
    }
    if load {
        md.push_str(&load_section(mode, &out)?);
    }
    let path = out.join("report.md");
    std::fs::write(&path, md)?;
    println!("report written to {}", path.display());
    Ok(())
}

/// CPU model and count, from `/proc/cpuinfo`.
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU", str::trim)
        .to_string();
    let cpus = info.lines().filter(|l| l.starts_with("processor")).count();
    format!("{cpus} × {model}")
}

/// Runs every criterion bench of the workspace and tabulates the mean of each that ran.
fn criterion_section(mode: &Mode) -> anyhow::Result<String> {
    let started = SystemTime::now();
    let mut cmd = cargo(["bench", "--workspace", "--"]);
    cmd.args(mode.criterion);
    exec(&mut cmd)?;
    let mut rows = Vec::new();
    collect_estimates(&root().join("target/criterion"), "", started, &mut rows)?;
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut md = String::from(
        "## Criterion benches\n\nMean time per iteration (`cargo bench --workspace`); compare \
         benches of one run only.\n\n| bench | mean |\n|---|---|\n",
    );
    for (name, ns) in rows {
        writeln!(md, "| {name} | {} |", human_ns(ns))?;
    }
    md.push('\n');
    Ok(md)
}

/// Finds `new/estimates.json` under `dir` written since `since`: (bench name, mean ns).
fn collect_estimates(
    dir: &Path,
    name: &str,
    since: SystemTime,
    rows: &mut Vec<(String, f64)>,
) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        let file = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if file == "new" {
            let estimates = path.join("estimates.json");
            let fresh = std::fs::metadata(&estimates)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since);
            if fresh {
                let v: Value = serde_json::from_slice(&std::fs::read(&estimates)?)?;
                if let Some(ns) = v["mean"]["point_estimate"].as_f64() {
                    rows.push((name.to_string(), ns));
                }
            }
        } else if path.is_dir() && file != "report" && file != "base" && file != "change" {
            let child = if name.is_empty() {
                file
            } else {
                format!("{name}/{file}")
            };
            collect_estimates(&path, &child, since, rows)?;
        }
    }
    Ok(())
}

fn human_ns(ns: f64) -> String {
    match ns {
        n if n >= 1e6 => format!("{:.2} ms", n / 1e6),
        n if n >= 1e3 => format!("{:.2} µs", n / 1e3),
        n => format!("{n:.1} ns"),
    }
}

/// Runs sfu-load with `args` (and `--json`), the process under load on core 1, and reads
/// its report.
fn sfu_load(bin: &Path, args: &[String]) -> anyhow::Result<Value> {
    sfu_load_on(bin, "1", args)
}

/// Runs sfu-load with `args` (and `--json`), the process under load on `sfu_core` (`none`:
/// any core), and reads its report.
fn sfu_load_on(bin: &Path, sfu_core: &str, args: &[String]) -> anyhow::Result<Value> {
    let mut cmd = pinned_generator(bin, sfu_core);
    cmd.args(args).arg("--json");
    println!("bench: sfu-load {}", args.join(" "));
    let out = cmd.output().context("running sfu-load")?;
    if !out.status.success() {
        bail!("sfu-load failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// The generator on core 0 and the process under load on `sfu_core`, where there are two
/// cores and `taskset`.
fn pinned_generator(bin: &Path, sfu_core: &str) -> Command {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores >= 2 && Command::new("taskset").arg("-V").output().is_ok() {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(bin).args(["--sfu-core", sfu_core]);
        c
    } else {
        let mut c = Command::new(bin);
        c.args(["--sfu-core", "none"]);
        c
    }
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// The fanout scenarios against basic-sfu and raw-relay, and a 1x10 ramp; their table and
/// charts.
fn load_section(mode: &Mode, out: &Path) -> anyhow::Result<String> {
    let bin = build_examples(&["sfu-load", "basic-sfu", "raw-relay"])?;
    let seconds = mode.seconds.to_string();
    // Janus (Debian's `janus`) runs in network namespaces: it needs root.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let janus = root && Command::new("janus").arg("--version").output().is_ok();
    let baselines = if janus { "relay,janus" } else { "relay" };
    let mut md = format!(
        "## Forwarding under load\n\nsfu-load, {seconds} s per run after a 2 s warm-up, the \
         process under load pinned to core 1 and the generator to core 0; watchers count at \
         the socket but the first of each room, which decrypts everything and gives the \
         latency (a frame's write at the publisher to its first packet at that watcher). \
         Each scenario runs against basic-sfu, then against raw-relay (the same fanout \
         with the same batched I/O and no WebRTC), then, where it is installed and the \
         run may create network namespaces, against Janus 1.1's VideoRoom (one event \
         loop; its peers reach it over a veth pair, the others over `lo`; its publishers \
         only publish). {}\n\n| scenario | kbit/s per publisher | \
         basic-sfu fwd/CPU-s | raw-relay fwd/CPU-s | ÷ relay | Janus fwd/CPU-s | ÷ Janus | \
         basic-sfu core share | loss | kernel drops | latency p50 / p99: basic-sfu | \
         raw-relay | Janus |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        if janus {
            ""
        } else {
            "Janus was not measured in this run."
        }
    );
    let mut sfu_points = Vec::new();
    let mut relay_points = Vec::new();
    let mut janus_points = Vec::new();
    for (scenario, kbps) in SCENARIOS {
        let r = sfu_load(
            &bin,
            &scenario_args(scenario, kbps, mode, &["--baseline", baselines]),
        )?;
        let (sfu, relay, janus) = (&r["sfu"], &r["relay"], &r["janus"]);
        // A target that was not run, or whose decrypting watcher read no frame, has no
        // latency to show.
        let latency = |t: &Value| match &t["latency"] {
            Value::Null => "–".to_string(),
            l => format!(
                "{:.2} / {:.2} ms",
                num(&l["p50_us"]) / 1e3,
                num(&l["p99_us"]) / 1e3
            ),
        };
        writeln!(
            md,
            "| {scenario} | {kbps} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} % | {} | {} | {} | {} |",
            num(&sfu["forwarded_per_cpu_second"]),
            num(&relay["forwarded_per_cpu_second"]),
            num(&r["sfu_over_relay"]),
            num(&janus["forwarded_per_cpu_second"]),
            num(&r["sfu_over_janus"]),
            num(&sfu["cpu_share"]),
            num(&sfu["loss_percent"]),
            sfu["kernel_drops"],
            latency(sfu),
            latency(relay),
            latency(janus)
        )?;
        if let Some(subscribers) = scenario
            .strip_prefix("1x")
            .and_then(|s| s.parse::<f64>().ok())
        {
            sfu_points.push((subscribers, num(&sfu["forwarded_per_cpu_second"]) / 1e3));
            relay_points.push((subscribers, num(&relay["forwarded_per_cpu_second"]) / 1e3));
            if janus.is_object() {
                janus_points.push((subscribers, num(&janus["forwarded_per_cpu_second"]) / 1e3));
            }
        }
    }
    draw(
        &out.join("fwd-per-cpu.svg"),
        "Forwarded packets per CPU-second, one publisher",
        "subscribers",
        "thousand packets per CPU-second",
        &[
            Line {
                label: "basic-sfu".into(),
                colour: COLOURS[0],
                points: sfu_points,
            },
            Line {
                label: "raw-relay".into(),
                colour: COLOURS[1],
                points: relay_points,
            },
            Line {
                label: "Janus".into(),
                colour: COLOURS[2],
                points: janus_points,
            },
        ],
    )?;
    md.push_str("\n![forwarded per CPU-second](fwd-per-cpu.svg)\n\n");
    md.push_str(&gro_section(mode, &bin)?);
    md.push_str(&ramp_section(mode, &bin, out)?);
    md.push_str(&workers_section(mode, &bin)?);
    md.push_str(&memory_section(&bin)?);
    Ok(md)
}

/// sfu-load's arguments for one fanout scenario of the report, then `extra`.
fn scenario_args(scenario: &str, kbps: u32, mode: &Mode, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--scenario",
        scenario,
        "--kbps",
        &kbps.to_string(),
        "--seconds",
        &mode.seconds.to_string(),
        "--warmup",
        "2",
        "--count-at-socket",
    ]
    .map(String::from)
    .into();
    args.extend(extra.iter().map(|a| (*a).to_string()));
    args
}

/// The fanout scenarios again against basic-sfu and raw-relay, with peers that receive
/// GSO trains whole (`sfu-load --gro`): over loopback the receivers' kernel work runs in
/// the sender's send call, and this takes it off the SFU's account.
fn gro_section(mode: &Mode, bin: &Path) -> anyhow::Result<String> {
    let mut md = String::from(
        "### Without the subscribers' receive path\n\nThe same scenarios with `sfu-load \
         --gro`: the peers take UDP GRO, so a GSO train reaches them whole. Over loopback \
         the kernel cuts a train and queues each datagram on its receiver inside the \
         sender's send call; on a network that is the subscribers' work. Where the network \
         card segments UDP itself these figures are the closer ones.\n\n| scenario | \
         basic-sfu fwd/CPU-s | raw-relay fwd/CPU-s | ÷ relay |\n|---|---|---|---|\n",
    );
    for (scenario, kbps) in SCENARIOS {
        let r = sfu_load(
            bin,
            &scenario_args(scenario, kbps, mode, &["--gro", "--baseline", "relay"]),
        )?;
        writeln!(
            md,
            "| {scenario} | {:.0} | {:.0} | {:.2} |",
            num(&r["sfu"]["forwarded_per_cpu_second"]),
            num(&r["relay"]["forwarded_per_cpu_second"]),
            num(&r["sfu_over_relay"]),
        )?;
    }
    md.push('\n');
    Ok(md)
}

/// The 1x10 ramp: latency percentiles against the SFU's core share.
fn ramp_section(mode: &Mode, bin: &Path, out: &Path) -> anyhow::Result<String> {
    let r = sfu_load(
        bin,
        &[
            "--scenario".into(),
            "1x10".into(),
            "--kbps".into(),
            "8000".into(),
            "--seconds".into(),
            mode.seconds.to_string(),
            "--warmup".into(),
            "2".into(),
            "--count-at-socket".into(),
            "--ramp".into(),
            "--ramp-steps".into(),
            mode.ramp_steps.to_string(),
        ],
    )?;
    let mut md = format!(
        "## Latency against load (1x10 ramp, x1.5 a step)\n\nStopped by {}. The generator \
         shares this machine: where loss rises while the SFU's core is not full, the \
         generator is the limit. The latency includes the generator's own delays; the \
         SFU's hold time (its `sfu_datagram_hold_seconds`: from the kernel's receive \
         timestamp to the end of the send call after the datagram was handled, as the \
         bound of the histogram bucket that half or 99 % of the datagrams were within) \
         does not.\n\n| kbit/s | SFU datagrams/s | SFU core share | fwd/CPU-s | loss | \
         latency p50 | p99 | max | SFU hold p50 | p99 |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        r["stopped_by"].as_str().unwrap_or("?")
    );
    let mut lines: Vec<Line> = ["p50", "p99"]
        .iter()
        .enumerate()
        .map(|(i, q)| Line {
            label: (*q).into(),
            colour: COLOURS[i],
            points: Vec::new(),
        })
        .collect();
    for step in r["steps"].as_array().context("no ramp steps")? {
        let s = &step["sfu"];
        let l = &s["latency"];
        // A bucket bound; null where more than the quantile's rest lay beyond the last.
        let hold = |q: &str| match &s["hold"][q] {
            Value::Null if s["hold"].is_object() => "beyond the last bucket".to_string(),
            Value::Null => "–".to_string(),
            v => format!("≤ {} ms", num(v)),
        };
        writeln!(
            md,
            "| {} | {:.0} | {:.2} | {:.0} | {:.2} % | {:.2} ms | {:.2} ms | {:.2} ms | {} | {} |",
            s["kbps"],
            num(&s["datagrams_per_second"]),
            num(&s["cpu_share"]),
            num(&s["forwarded_per_cpu_second"]),
            num(&s["loss_percent"]),
            num(&l["p50_us"]) / 1e3,
            num(&l["p99_us"]) / 1e3,
            num(&l["max_us"]) / 1e3,
            hold("p50_ms"),
            hold("p99_ms")
        )?;
        let share = num(&s["cpu_share"]) * 100.0;
        lines[0].points.push((share, num(&l["p50_us"]) / 1e3));
        lines[1].points.push((share, num(&l["p99_us"]) / 1e3));
    }
    draw(
        &out.join("latency.svg"),
        "Forwarding latency against the SFU's load (1x10)",
        "SFU core share, %",
        "ms",
        &lines,
    )?;
    md.push_str("\n![latency against load](latency.svg)\n");
    Ok(md)
}

/// The room of the workers section: one publisher, this many watchers.
const LARGE_ROOM: &str = "1x200";

/// A large room on one fanout worker and on two: how the SFU's CPU splits over its
/// threads, and what the second core buys by that split.
fn workers_section(mode: &Mode, bin: &Path) -> anyhow::Result<String> {
    let mut md = format!(
        "\n## A room on several workers ({LARGE_ROOM}, 2000 kbit/s)\n\nThe SFU may use \
         every core and the generator is pinned to core 0, so this run cannot saturate the \
         SFU. What it measures is the CPU each forwarded packet costs and how much of it the \
         busiest thread carries. A room is as fast as its busiest thread, so when a packet \
         costs about the same CPU on two workers as on one, two workers forward about \
         (1 ÷ that share) times what one does: an estimate from the split, not a \
         saturation run.\n\n| workers | fwd/CPU-s | SFU core share | busiest thread's \
         share | loss | estimated throughput against one worker |\n|---|---|---|---|---|---|\n"
    );
    let mut one_worker = None;
    for workers in [1, 2] {
        let r = sfu_load_on(
            bin,
            "none",
            &[
                "--scenario".into(),
                LARGE_ROOM.into(),
                "--kbps".into(),
                "2000".into(),
                "--seconds".into(),
                mode.seconds.to_string(),
                "--warmup".into(),
                "2".into(),
                "--count-at-socket".into(),
                "--sfu-workers".into(),
                workers.to_string(),
            ],
        )?;
        let sfu = &r["sfu"];
        let per_cpu = num(&sfu["forwarded_per_cpu_second"]);
        let busiest = num(&sfu["busiest_thread_share"]);
        // Throughput when the busiest thread fills its core: per-CPU-second rate over the
        // busiest thread's share of the CPU.
        let capacity = (busiest > 0.0).then(|| per_cpu / busiest);
        if workers == 1 {
            one_worker = capacity;
        }
        let estimate = match (capacity, one_worker) {
            (Some(c), Some(one)) => format!("{:.2}x", c / one),
            _ => "–".to_string(),
        };
        writeln!(
            md,
            "| {workers} | {per_cpu:.0} | {:.2} | {:.0} % | {:.2} % | {estimate} |",
            num(&sfu["cpu_share"]),
            100.0 * busiest,
            num(&sfu["loss_percent"]),
        )?;
    }
    Ok(md)
}

/// Idle participants joining one SFU: its resident memory per participant.
fn memory_section(bin: &Path) -> anyhow::Result<String> {
    let r = sfu_load(
        bin,
        &[
            "--scenario".into(),
            "idle".into(),
            "--participants".into(),
            IDLE_PARTICIPANTS.to_string(),
        ],
    )?;
    Ok(format!(
        "\n## Memory\n\n{} idle participants (rooms of 50, each connected: ICE, DTLS, an \
         event stream) took the SFU's resident memory from {} to {} KiB: **{:.1} KiB per \
         participant**, str0m's state included; {} threads, {} file descriptors.\n",
        r["participants"],
        r["rss_before_kib"],
        r["rss_after_kib"],
        num(&r["kib_per_participant"]),
        r["threads_after"],
        r["fds_after"]
    ))
}
