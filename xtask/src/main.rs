//! Project automation for sfu-kit, in the style of rust-analyzer's `xtask`.
//!
//! Run through the cargo alias: `cargo xtask <task>`. One module per task; every task prints
//! what it runs as it goes.

mod bench;
mod ci;
mod e2e;
mod exec;
mod fuzz;

use std::process::ExitCode;

const HELP: &str = "\
cargo xtask <task> [options]

tasks:
  ci [--skip STEP]... [--only STEP]...   the whole CI suite (fmt, clippy, test, doc, deny, features, e2e)
  bench [CRATE]                          criterion benches for the workspace or one crate
  e2e [--peers N] [--clean-only]         browser end-to-end tests (headless Chromium)
  fuzz [--iterations N]                  stable-Rust fuzz loops over the codec parsers
  bwe-plot [--out DIR]                   SVG plots of the BWE scenarios
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    let result = match task.as_deref() {
        Some("ci") => ci::run(&rest),
        Some("bench") => bench::run(&rest),
        Some("e2e") => e2e::run(&rest),
        Some("fuzz") => fuzz::run(&rest),
        Some("bwe-plot") => bench::bwe_plot(&rest),
        Some("help" | "--help" | "-h") | None => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(anyhow::anyhow!("unknown task `{other}`\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}
