//! `cargo xtask bench [CRATE]` and `cargo xtask bwe-plot`.

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

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    run_benches(args.first().map(String::as_str))
}

/// Writes the BWE scenario plots (SVG) with the simulator's `bwe-plot` binary.
pub(crate) fn bwe_plot(args: &[String]) -> anyhow::Result<()> {
    let out = match args {
        [flag, dir, ..] if flag == "--out" => dir.clone(),
        _ => "target/bwe-plots".to_string(),
    };
    exec(&mut cargo([
        "run",
        "--release",
        "-p",
        "sfu-bwe-sim",
        "--bin",
        "bwe-plot",
        "--",
        "--out",
        &out,
    ]))?;
    println!("plots written to {out}");
    Ok(())
}
