//! `cargo xtask fuzz`: the stable-Rust fuzz loops of the codec parsers.

use crate::exec::{cargo, run as exec};

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let iterations = match args {
        [flag, n, ..] if flag == "--iterations" => n.clone(),
        _ => "1000000".to_string(),
    };
    exec(&mut cargo([
        "run",
        "--release",
        "-p",
        "sfu-fuzz",
        "--",
        "--target",
        "all",
        "--iterations",
        &iterations,
    ]))
}
