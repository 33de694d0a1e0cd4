//! Runs the RFC 8867 suite (every case, both estimators, seeds, feedback intervals of 50
//! and 100 ms) and prints, per case and estimator, how many runs met every target and the
//! worst value of every target that some run missed.
//!
//! ```text
//! cargo run --release -p sfu-bwe-sim --bin bwe-suite -- [--seeds N] [--case NAME] [--all-checks] [--perturb-ms N]
//! cargo run --release -p sfu-bwe-sim --bin bwe-suite -- --case 5.8 --csv googcc [--seed N] [--feedback MS]
//! ```
//!
//! `--csv` prints one run (seed 0 or `--seed N`, 50 ms feedback or `--feedback MS`) bin by
//! bin instead: time, capacity, and per flow its target, sending rate and the largest
//! queueing delay it met (kbit/s, ms).
//!
//! `--perturb-ms N` adds in-order jitter of σ = N ms to every case that has none. The clean
//! cases are otherwise the same trace on every seed; with a millisecond of jitter each seed
//! is another trace, which shows whether a pass is robust or a lucky phase.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, bail};
use sfu_bwe_sim::rfc8867::{Case, Check, Conditions};
use sfu_bwe_sim::{EstimatorKind, Jitter, Record};

struct Args {
    seeds: u64,
    case: Option<String>,
    all_checks: bool,
    /// `--csv ESTIMATOR`: print one run of `--case` bin by bin.
    csv: Option<EstimatorKind>,
    /// With `--csv`: the seed of the run printed.
    seed: u64,
    /// With `--csv`: the feedback interval of the run printed.
    feedback: Duration,
    /// `--perturb-ms N`: in-order jitter of σ = N ms on every case that has none, so that
    /// each seed of an otherwise deterministic case is a different trace.
    perturb: Duration,
}

/// The value of `flag`, a whole number of milliseconds.
fn millis(value: Option<String>, flag: &str) -> anyhow::Result<Duration> {
    value
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .with_context(|| format!("{flag} needs milliseconds"))
}

fn parse() -> anyhow::Result<Args> {
    let mut args = Args {
        seeds: 10,
        case: None,
        all_checks: false,
        csv: None,
        seed: 0,
        feedback: Duration::from_millis(50),
        perturb: Duration::ZERO,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seeds" => {
                args.seeds = it
                    .next()
                    .context("--seeds needs a number")?
                    .parse()
                    .context("--seeds needs a number")?;
            }
            "--seed" => {
                args.seed = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .context("--seed needs a number")?;
            }
            "--perturb-ms" => args.perturb = millis(it.next(), "--perturb-ms")?,
            "--case" => args.case = Some(it.next().context("--case needs a name")?),
            "--all-checks" => args.all_checks = true,
            "--feedback" => args.feedback = millis(it.next(), "--feedback")?,
            "--csv" => {
                args.csv = Some(match it.next().as_deref() {
                    Some("googcc") => EstimatorKind::GoogCc,
                    Some("kalman") => EstimatorKind::Kalman,
                    other => bail!("--csv needs googcc or kalman, not {other:?}"),
                });
            }
            "-h" | "--help" => {
                println!(
                    "usage: bwe-suite [--seeds N] [--case NAME] [--all-checks] [--perturb-ms N] [--csv ESTIMATOR [--seed N] [--feedback MS]]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    Ok(args)
}

/// The worst value of one check over many runs.
#[derive(Default)]
struct Worst {
    runs: u32,
    failed: u32,
    worst: Option<f64>,
    never: bool,
    target: f64,
    at_least: bool,
}

impl Worst {
    fn add(&mut self, c: &Check) {
        self.runs += 1;
        self.target = c.target;
        self.at_least = c.at_least;
        if !c.passed() {
            self.failed += 1;
        }
        match c.value {
            None => self.never = true,
            Some(v) => {
                self.worst = Some(match self.worst {
                    None => v,
                    Some(w) if c.at_least => w.min(v),
                    Some(w) => w.max(v),
                });
            }
        }
    }
}

fn csv(case: &Case, record: &Record) {
    let mut header = vec!["t_s".to_string(), "capacity_kbps".to_string()];
    for i in 0..case.flows.len() {
        header.extend([
            format!("f{i}_target_kbps"),
            format!("f{i}_sent_kbps"),
            format!("f{i}_queue_ms"),
        ]);
    }
    println!("{}", header.join(","));
    let mut worst = vec![vec![0.0f64; record.capacity.len()]; record.flows.len()];
    for (f, flow) in record.flows.iter().enumerate() {
        for q in &flow.queue {
            if let Some(i) = record.index(q.at) {
                worst[f][i] = worst[f][i].max(q.delay.as_secs_f64() * 1000.0);
            }
        }
    }
    for (i, cap) in record.capacity.iter().enumerate() {
        let mut row = vec![
            format!("{:.1}", record.secs(i)),
            format!("{:.0}", cap.as_kbps_f64()),
        ];
        for (f, flow) in record.flows.iter().enumerate() {
            let b = flow.bins[i];
            row.extend([
                format!("{:.0}", b.target.as_kbps_f64()),
                format!("{:.0}", record.rate(b.sent).as_kbps_f64()),
                format!("{:.0}", worst[f][i]),
            ]);
        }
        println!("{}", row.join(","));
    }
}

/// Gives `case` in-order jitter of σ = `std` unless it has jitter of its own.
fn perturb(case: &mut Case, std: Duration) {
    if case.network.jitter.std.is_zero() {
        case.network.jitter = Jitter {
            std,
            reorder: false,
        };
    }
}

fn main() -> anyhow::Result<()> {
    let args = parse()?;
    if let Some(kind) = args.csv {
        let name = args.case.as_deref().context("--csv needs --case")?;
        let conditions = Conditions {
            estimator: kind,
            seed: args.seed,
            feedback_interval: args.feedback,
        };
        let mut case = Case::all(conditions)
            .into_iter()
            .find(|c| c.name == name)
            .with_context(|| format!("no case {name:?}"))?;
        perturb(&mut case, args.perturb);
        csv(&case, &case.run());
        return Ok(());
    }
    let intervals = [Duration::from_millis(50), Duration::from_millis(100)];
    println!(
        "| case | estimator | runs meeting every target | missed targets: worst value (target), runs missing |"
    );
    println!("|---|---|---|---|");
    let template = Conditions {
        estimator: EstimatorKind::GoogCc,
        seed: 0,
        feedback_interval: intervals[0],
    };
    for (index, case) in Case::all(template).into_iter().enumerate() {
        if args.case.as_ref().is_some_and(|c| *c != case.name) {
            continue;
        }
        for kind in EstimatorKind::ALL {
            let mut checks: BTreeMap<String, Worst> = BTreeMap::new();
            let (mut clean, mut runs) = (0, 0);
            for seed in 0..args.seeds {
                for interval in intervals {
                    let c = Conditions {
                        estimator: kind,
                        seed,
                        feedback_interval: interval,
                    };
                    let mut case = Case::all(c).swap_remove(index);
                    perturb(&mut case, args.perturb);
                    let record = case.run();
                    let ev = case.evaluate(&record);
                    runs += 1;
                    clean += u32::from(ev.failures().next().is_none());
                    for check in &ev.checks {
                        checks.entry(check.what.clone()).or_default().add(check);
                    }
                }
            }
            let missed: Vec<String> = checks
                .iter()
                .filter(|(_, w)| args.all_checks || w.failed > 0)
                .map(|(what, w)| {
                    let value = match (w.never, w.worst) {
                        (true, _) => "never".to_string(),
                        (false, Some(v)) => format!("{v:.2}"),
                        (false, None) => "-".to_string(),
                    };
                    let op = if w.at_least { "≥" } else { "≤" };
                    format!(
                        "{what}: {value} ({op} {}), {}/{}",
                        w.target, w.failed, w.runs
                    )
                })
                .collect();
            println!(
                "| {} | {} | {clean}/{runs} | {} |",
                case.name,
                kind.name(),
                missed.join("; ")
            );
        }
    }
    Ok(())
}
