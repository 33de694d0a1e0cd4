//! `cargo xtask load [sfu-load args]`: builds basic-sfu and sfu-load in release mode and
//! runs the load generator. CI steps built on it:
//! - `load-smoke` runs two short 1x3 rooms, against basic-sfu and against the raw relay,
//!   and checks the counting (every frame sent reaches every other peer, latencies were
//!   read, basic-sfu sent some datagrams as segment trains, also when str0m's pacer
//!   releases them), never the timing;
//! - `churn` runs 1000 join-connect-leave cycles next to a pair that stays, and checks
//!   that nothing grows with them and the pair keeps its media;
//! - `flood` sends 10^5 junk datagrams a second for 10 s at a room's media port and checks
//!   that media keeps flowing, a new peer gets in, and memory comes back.

use anyhow::{Context, bail};
use serde_json::Value;

use crate::ci::Outcome;
use crate::exec::{build_examples, run as exec};

fn build() -> anyhow::Result<std::path::PathBuf> {
    build_examples(&["sfu-load", "basic-sfu", "raw-relay"])
}

/// `cargo xtask load`: the generator with the given arguments.
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let bin = build()?;
    exec(std::process::Command::new(bin).args(args))
}

/// Below this share of the expected frames the smoke run fails: loopback loses nothing,
/// but frames in flight at the window's edges are counted on one side only.
const MIN_DELIVERED: f64 = 0.9;

/// Runs sfu-load with `args` and reads its JSON report.
fn report(args: &[&str]) -> anyhow::Result<Value> {
    let bin = build()?;
    let out = std::process::Command::new(bin)
        .args(args)
        .arg("--json")
        .output()
        .context("running sfu-load")?;
    if !out.status.success() {
        bail!("sfu-load failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// `v <= max`, false for a missing value (NaN).
fn at_most(v: f64, max: f64) -> bool {
    v <= max
}

/// `v >= min`, false for a missing value (NaN).
fn at_least(v: f64, min: f64) -> bool {
    v >= min
}

/// A number in the report; NaN when it is missing.
fn number(report: &Value, key: &str) -> f64 {
    report.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

/// The CI step `load-smoke`.
pub(crate) fn smoke() -> anyhow::Result<Outcome> {
    // Two rooms: their peers share the SFU's one media port; then the same across two
    // nodes joined by relays.
    let report = report(&[
        "--rooms",
        "2",
        "--scenario",
        "1x3",
        "--seconds",
        "3",
        "--warmup",
        "1",
        "--sfu-core",
        "none",
        "--baseline",
        "relay,cascade",
    ])?;
    // Two rooms on two nodes joined by relays: each room's relay has a port of its own.
    delivered("cascade: 1x3 in 2 rooms over two nodes", &report["cascade"])?;
    println!(
        "load-smoke: cascade: one node delivers {:.2}x the packets per CPU-second of two",
        number(&report, "sfu_over_cascade")
    );
    for target in ["sfu", "relay"] {
        let r = &report[target];
        delivered(&format!("{target}: 1x3 in 2 rooms"), r)?;
        println!(
            "load-smoke: {target}: {:.0} datagrams and {:.0} forwarded media packets per CPU-second",
            number(r, "datagrams_per_cpu_second"),
            number(r, "forwarded_per_cpu_second"),
        );
        // What the SFU says it forwarded (its /metrics) must be there when frames arrived.
        if number(r, "forwarded_per_cpu_second") <= 0.0 {
            bail!("frames arrived but {target} counted no forwarded packet: {r}");
        }
    }
    // A publisher's frame is a burst of packets, so basic-sfu sends some of them to each
    // watcher as one segment train (UDP GSO, Linux 4.18 and later): exactly one datagram
    // per message means the media path does not segment.
    let per_message = number(&report["sfu"], "datagrams_per_message");
    println!("load-smoke: sfu: {per_message:.1} datagrams per message handed to the kernel");
    if per_message.is_nan() || per_message <= 1.0 {
        bail!("basic-sfu sent no segment train: {}", report["sfu"]);
    }
    workers_smoke()?;
    paced_smoke()?;
    Ok(Outcome::Passed)
}

/// Fewest datagrams per message the paced smoke run accepts. A room that sends each of its
/// pacer's releases alone shows 1.0; one that sends a frame's packets together about 2.9
/// (frames of about four packets, at 1 Mbit/s and 30 frames/s).
const MIN_PACED_PER_MESSAGE: f64 = 1.5;

/// A 1x3 room with str0m's estimator, the room's default: its pacer lets a packet go per
/// timeout it handles, and the room loop must still send a frame's packets together, as
/// trains. The warm-up lets the estimate climb past the stream's rate first (below it a
/// stream without simulcast is paused).
fn paced_smoke() -> anyhow::Result<()> {
    let report = report(&[
        "--scenario",
        "1x3",
        "--kbps",
        "1000",
        "--seconds",
        "3",
        "--warmup",
        "12",
        "--sfu-core",
        "none",
        "--sfu-estimator",
        "str0m",
    ])?;
    let r = &report["sfu"];
    delivered("sfu paced by str0m: 1x3 at 1 Mbit/s", r)?;
    let per_message = number(r, "datagrams_per_message");
    println!("load-smoke: sfu paced by str0m: {per_message:.1} datagrams per message");
    if !at_least(per_message, MIN_PACED_PER_MESSAGE) {
        bail!(
            "paced by str0m, basic-sfu sent {per_message:.1} datagrams per message (at least {MIN_PACED_PER_MESSAGE} expected): {r}"
        );
    }
    Ok(())
}

/// A room of 21 with two fanout workers: a publisher's frame at 8 Mbit/s (about 30
/// packets to 21 clients) is a batch large enough to be shared with the helper thread,
/// and every watcher must still receive what was sent.
fn workers_smoke() -> anyhow::Result<()> {
    let report = report(&[
        "--scenario",
        "1x20",
        "--kbps",
        "8000",
        "--seconds",
        "3",
        "--warmup",
        "1",
        "--sfu-core",
        "none",
        "--sfu-workers",
        "2",
    ])?;
    delivered("sfu with 2 workers: 1x20 at 8 Mbit/s", &report["sfu"])
}

/// Prints what one load-smoke run sent and received, and fails unless the watchers got
/// what was sent, each frame with its sending time.
fn delivered(label: &str, r: &Value) -> anyhow::Result<()> {
    let get = |k: &str| number(r, k);
    let (sent, expected, received) = (
        get("frames_sent"),
        get("frames_expected"),
        get("frames_received"),
    );
    println!(
        "load-smoke: {label}: {sent} frames sent, {received} of {expected} received; latency p99 {} us",
        r["latency"]["p99_us"]
    );
    if sent < 1.0 || received < MIN_DELIVERED * expected {
        bail!("{label}: the watchers did not receive what was sent: {r}");
    }
    if number(&r["latency"], "samples") < MIN_DELIVERED * expected {
        bail!("{label}: the watchers read too few sending times: {r}");
    }
    Ok(())
}

/// Join-connect-leave cycles in the `churn` step.
const CHURN_CYCLES: &str = "1000";
/// Most the SFU's memory may grow per cycle, in KiB (str0m's stopped m-lines once cost
/// 73-113 KiB a cycle).
const CHURN_MAX_KIB_PER_CYCLE: f64 = 4.0;

/// The CI step `churn`.
pub(crate) fn churn() -> anyhow::Result<Outcome> {
    let r = report(&["--scenario", "churn", "--cycles", CHURN_CYCLES])?;
    let samples = r["samples"].as_array().context("no samples")?;
    let (first, last) = (&samples[0], &samples[samples.len() - 1]);
    let at = |s: &Value, k: &str| s[k].as_f64().unwrap_or(f64::NAN);
    println!(
        "churn: {} cycles in {:.0} s: offer {} -> {} bytes, RSS {} -> {} KiB ({:+.2} KiB/cycle), fds {} -> {}, threads {} -> {}; the pair lost {:.2} % of its frames, longest gap {:.0} ms",
        number(&r, "cycles"),
        number(&r, "seconds"),
        at(first, "offer_bytes"),
        at(last, "offer_bytes"),
        at(first, "rss_kib"),
        at(last, "rss_kib"),
        number(&r, "rss_kib_per_cycle"),
        at(first, "fds"),
        at(last, "fds"),
        at(first, "threads"),
        at(last, "threads"),
        number(&r, "pair_loss_percent"),
        number(&r, "pair_max_gap_ms"),
    );
    let mut failed = Vec::new();
    if at(last, "offer_bytes") > at(first, "offer_bytes") * 1.02 {
        failed.push("the pair's offer grew");
    }
    // Not more than a cycle's worth of leftovers (a newcomer's socket, say).
    if at(last, "fds") > at(first, "fds") + 2.0 || at(last, "threads") > at(first, "threads") + 1.0
    {
        failed.push("file descriptors or threads grew");
    }
    if !at_most(number(&r, "rss_kib_per_cycle"), CHURN_MAX_KIB_PER_CYCLE) {
        failed.push("memory grew with the cycles");
    }
    if !at_most(number(&r, "pair_loss_percent"), 1.0)
        || !at_most(number(&r, "pair_max_gap_ms"), 1000.0)
    {
        failed.push("the pair lost media");
    }
    if !failed.is_empty() {
        bail!("churn: {}: {r}", failed.join(", "));
    }
    Ok(Outcome::Passed)
}

/// Junk datagrams per second in the `flood` step, and for how long.
const FLOOD_RATE: f64 = 100_000.0;
const FLOOD_SECONDS: &str = "10";
/// Most the SFU's memory may stay above where it was before the flood, in KiB.
const FLOOD_MAX_KIB_KEPT: f64 = 4096.0;

/// The CI step `flood`.
pub(crate) fn flood() -> anyhow::Result<Outcome> {
    let rate = FLOOD_RATE.to_string();
    let r = report(&[
        "--scenario",
        "flood",
        "--flood-rate",
        &rate,
        "--seconds",
        FLOOD_SECONDS,
    ])?;
    let get = |k: &str| number(&r, k);
    println!(
        "flood: {:.0} junk datagrams/s for {:.0} s; media {:.0} -> {:.0} frames/s (the peer that kept least: {:.1} %); {} of {} impersonations accepted; dropped {} unknown-source, {} malformed, {} unauthenticated (the kernel {}) on {:.2} of a core; joined after: {}; RSS {} -> {} KiB",
        get("junk_per_second"),
        get("flood_seconds"),
        get("frames_per_second_before"),
        get("frames_per_second_during"),
        get("media_kept_percent"),
        get("impersonations_accepted"),
        get("impersonations"),
        get("dropped_unknown_source"),
        get("dropped_malformed"),
        get("dropped_unauthenticated"),
        get("dropped_kernel"),
        get("sfu_cpu_share"),
        r["joined_after"],
        get("rss_kib_before"),
        get("rss_kib_after"),
    );
    let mut failed = Vec::new();
    if !at_least(get("junk_per_second"), 0.95 * FLOOD_RATE) {
        failed.push("the generator did not reach the flood rate");
    }
    if !at_least(get("media_kept_percent"), 95.0) {
        failed.push("media did not keep flowing");
    }
    if get("impersonations") < 1.0 || get("impersonations_accepted") != 0.0 {
        failed.push("a call acting for another participant was not refused");
    }
    if r["joined_after"] != Value::Bool(true) {
        failed.push("no peer could join after the flood");
    }
    if !at_most(
        get("rss_kib_after"),
        get("rss_kib_before") + FLOOD_MAX_KIB_KEPT,
    ) {
        failed.push("memory did not come back");
    }
    if get("dropped_unauthenticated") < 1.0 {
        failed.push("no forged STUN reached the integrity check");
    }
    if !failed.is_empty() {
        bail!("flood: {}: {r}", failed.join(", "));
    }
    Ok(Outcome::Passed)
}
