//! `cargo xtask load [sfu-load args]`: builds basic-sfu and sfu-load in release mode and
//! runs the load generator; the CI step `load-smoke` runs a short 1x3 room and checks the
//! counting (every frame sent reaches every other peer), never the timing.

use anyhow::{Context, bail};
use serde_json::Value;

use crate::ci::Outcome;
use crate::exec::{build_examples, run as exec};

fn build() -> anyhow::Result<std::path::PathBuf> {
    build_examples(&["sfu-load", "basic-sfu"])
}

/// `cargo xtask load`: the generator with the given arguments.
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let bin = build()?;
    exec(std::process::Command::new(bin).args(args))
}

/// Below this share of the expected frames the smoke run fails: loopback loses nothing,
/// but frames in flight at the window's edges are counted on one side only.
const MIN_DELIVERED: f64 = 0.9;

/// The CI step.
pub(crate) fn smoke() -> anyhow::Result<Outcome> {
    let bin = build()?;
    let out = std::process::Command::new(bin)
        .args([
            "--scenario",
            "1x3",
            "--seconds",
            "3",
            "--warmup",
            "1",
            "--json",
        ])
        .args(["--sfu-core", "none"])
        .output()
        .context("running sfu-load")?;
    if !out.status.success() {
        bail!("sfu-load failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let report: Value = serde_json::from_slice(&out.stdout)?;
    let get = |k: &str| report.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let (sent, expected, received) = (
        get("frames_sent"),
        get("frames_expected"),
        get("frames_received"),
    );
    println!(
        "load-smoke: 1x3: {sent} frames sent, {received} of {expected} received; {:.0} SFU datagrams per CPU-second",
        get("datagrams_per_cpu_second")
    );
    if sent < 1.0 || received < MIN_DELIVERED * expected {
        bail!("the SFU did not deliver what was sent: {report}");
    }
    Ok(Outcome::Passed)
}
