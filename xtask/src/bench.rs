//! `cargo xtask bench CRATE`, `cargo xtask bwe-plot` and `cargo xtask bwe-suite`.

use crate::exec::{cargo, run as exec};

/// Runs the criterion benches of the workspace or of one crate.
pub(crate) fn run_benches(krate: Option<&str>) -> anyhow::Result<()> {
    let mut cmd = cargo(["bench"]);
    match krate {
        Some(k) => cmd.args(["-p", k]),
        None => cmd.arg("--workspace"),
    };
    exec(&mut cmd)
}

/// `cargo xtask bench CRATE` runs that crate's criterion benches; `cargo xtask bench
/// [--long] ...` writes the whole report.
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    match args.first() {
        Some(k) if !k.starts_with("--") => run_benches(Some(k)),
        _ => crate::bench_report::run(args),
    }
}

/// Writes the BWE plots (SVG) with the simulator's `bwe-plot` binary: every RFC 8867 case
/// and scenario, both estimators. `--out DIR` (default `target/bwe-plots`); `--seed N` and
/// `--feedback MS` are passed on.
pub(crate) fn bwe_plot(args: &[String]) -> anyhow::Result<()> {
    let mut out = "target/bwe-plots".to_string();
    let mut passed = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--out", Some(dir)) => out = dir.clone(),
            (flag @ ("--seed" | "--feedback"), Some(v)) => {
                passed.extend([flag.to_string(), v.clone()]);
            }
            (other, _) => anyhow::bail!(
                "unknown or incomplete argument {other:?}; usage: bwe-plot [--out DIR] [--seed N] [--feedback MS]"
            ),
        }
    }
    let mut cmd = cargo([
        "run",
        "--release",
        "-p",
        "sfu-bwe-sim",
        "--bin",
        "bwe-plot",
        "--",
        "--out",
        &out,
    ]);
    cmd.args(&passed);
    exec(&mut cmd)?;
    println!("plots written to {out}");
    Ok(())
}

/// Runs the RFC 8867 suite with the simulator's `bwe-suite` binary and prints its table;
/// arguments are passed on (`--seeds N`, `--case NAME`, `--all-checks`, `--perturb-ms N`,
/// `--csv ESTIMATOR`).
pub(crate) fn bwe_suite(args: &[String]) -> anyhow::Result<()> {
    let mut cmd = cargo([
        "run",
        "--release",
        "--quiet",
        "-p",
        "sfu-bwe-sim",
        "--bin",
        "bwe-suite",
        "--",
    ]);
    cmd.args(args);
    exec(&mut cmd)
}
