//! `sfu-fuzz`: a fuzz loop on stable Rust for the codec parsers.
//!
//! ```text
//! sfu-fuzz [--target av1-dd|vfm|sframe|all] [--iterations N] [--seed S]
//! ```
//!
//! For each target it runs `N` inputs (half random bytes, half mutations of
//! valid writer outputs: bit flips, truncations, splices, byte edits) through
//! the invariant checks in the parser crate's `harness` module — the same
//! checks its property tests use — and prints inputs, elapsed time and
//! inputs/s. It exits with status 1 on the first violated invariant or panic,
//! printing the input in hex, and 2 on bad arguments. Runs are deterministic:
//! the same seed gives the same inputs.

mod mutate;
mod rng;
mod targets;

use std::process::ExitCode;

struct Args {
    targets: Vec<&'static str>,
    iterations: u64,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        targets: vec!["av1-dd", "vfm", "sframe"],
        iterations: 1_000_000,
        seed: 0x5eed,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--target" => {
                args.targets = match value()?.as_str() {
                    "av1-dd" => vec!["av1-dd"],
                    "vfm" => vec!["vfm"],
                    "sframe" => vec!["sframe"],
                    "all" => vec!["av1-dd", "vfm", "sframe"],
                    other => {
                        return Err(format!(
                            "unknown target {other:?} (av1-dd, vfm, sframe, all)"
                        ));
                    }
                }
            }
            "--iterations" => {
                let v = value()?;
                args.iterations = v
                    .replace('_', "")
                    .parse()
                    .map_err(|e| format!("--iterations {v:?}: {e}"))?;
            }
            "--seed" => {
                let v = value()?;
                args.seed = v.parse().map_err(|e| format!("--seed {v:?}: {e}"))?;
            }
            "-h" | "--help" => {
                return Err(
                    "usage: sfu-fuzz [--target av1-dd|vfm|sframe|all] [--iterations N] [--seed S]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "sfu-fuzz: seed {}, {} iterations per target",
        args.seed, args.iterations
    );
    let mut failed = false;
    for target in args.targets {
        let report = match target {
            "av1-dd" => targets::av1_dd(args.iterations, args.seed),
            "vfm" => targets::vfm(args.iterations, args.seed),
            _ => targets::sframe(args.iterations, args.seed),
        };
        let secs = report.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            report.inputs as f64 / secs
        } else {
            f64::INFINITY
        };
        println!(
            "{target:>7}: {} inputs in {secs:.2} s = {rate:.0} inputs/s",
            report.inputs
        );
        if let Some(f) = report.failure {
            failed = true;
            println!("{target:>7}: FAILED at input {}: {}", report.inputs, f.what);
            println!(
                "{target:>7}: input ({} bytes) hex: {}",
                f.input.len(),
                hex(&f.input)
            );
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
