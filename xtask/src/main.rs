//! Project automation for sfu-kit, in the style of rust-analyzer's `xtask`.
//!
//! Run through the cargo alias: `cargo xtask <task>`. One module per task; every task prints
//! what it runs as it goes.

mod bench;
mod bench_report;
mod chart;
mod ci;
mod e2e;
mod e2e_cascade;
mod e2e_cluster;
mod e2e_firefox;
mod e2e_gst;
mod e2e_link;
mod e2e_svc;
mod exec;
mod fuzz;
mod load;
mod stall;
mod vendor;

use std::process::ExitCode;

const HELP: &str = "\
cargo xtask <task> [options]

tasks:
  ci [--skip STEP]... [--only STEP]...   the whole CI suite (fmt, clippy, test, doc, deny, features, e2e)
  bench [--long] [--no-criterion] [--no-load]
                                         criterion benches and load scenarios (basic-sfu and
                                         raw-relay), report in target/bench-report/
  bench CRATE                            criterion benches of one crate
  e2e [--peers N] [--clean-only] [--link-only] [--svc-only] [--cascade-only] [--cluster-only]
                                         browser end-to-end tests (headless Chromium): the
                                         room, a constrained link (needs root for network
                                         namespaces), SVC layer selection, a room on two
                                         nodes joined by a relay, and a three-node cluster
                                         through Redis losing a node
  fuzz [--iterations N]                  stable-Rust fuzz loops over the codec parsers
  load [sfu-load args]                   the load generator against a fresh basic-sfu
                                         (e.g. --scenario 1x10 --seconds 10; --help)
  bwe-plot [--out DIR] [--seed N] [--feedback MS]
                                         SVG plots of the RFC 8867 cases and BWE scenarios
  bwe-suite [--seeds N] [--case NAME] [--all-checks] [--perturb-ms N] [--csv ESTIMATOR [--seed N] [--feedback MS]]
                                         the RFC 8867 suite: per case and estimator, runs
                                         meeting every target and the worst misses
  vendor-web                             bundles the page's npm libraries (examples/web)
                                         into basic-sfu's vendor/ directory (needs npm)
";

/// Prints the body of a GET of `args[0]`.
fn http_get(args: &[String]) -> anyhow::Result<()> {
    let url = args
        .first()
        .ok_or_else(|| anyhow::anyhow!("http-get needs a URL"))?;
    let body = ureq::get(url).call()?.body_mut().read_to_string()?;
    print!("{body}");
    Ok(())
}

/// POSTs standard input as SDP to `args[0]` with the bearer token `args[1]` and prints the
/// status on the first line, then the body, whatever the status.
fn http_post_sdp(args: &[String]) -> anyhow::Result<()> {
    let [url, token] = args else {
        anyhow::bail!("http-post-sdp needs a URL and a token");
    };
    let body = std::io::read_to_string(std::io::stdin())?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .post(url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/sdp")
        .send(&body)?;
    println!("{}", r.status().as_u16());
    print!("{}", r.body_mut().read_to_string()?);
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    let result = match task.as_deref() {
        Some("ci") => ci::run(&rest),
        Some("bench") => bench::run(&rest),
        Some("e2e") => e2e::run(&rest),
        Some("fuzz") => fuzz::run(&rest),
        Some("load") => load::run(&rest),
        Some("bwe-plot") => bench::bwe_plot(&rest),
        Some("bwe-suite") => bench::bwe_suite(&rest),
        Some("vendor-web") => vendor::run_vendor(),
        // Used by the namespaced tests from inside a network namespace.
        Some("http-get") => http_get(&rest),
        Some("http-post-sdp") => http_post_sdp(&rest),
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
