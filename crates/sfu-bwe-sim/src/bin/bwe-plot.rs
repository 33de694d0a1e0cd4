//! Draws every RFC 8867 case and every standard scenario for every estimator as an SVG
//! (rates and capacity on top, bottleneck queueing delay below) and prints the headline
//! metrics.
//!
//! ```text
//! cargo run --release -p sfu-bwe-sim --bin bwe-plot -- --out target/bwe-plots [--seed N] [--feedback MS]
//! ```
//!
//! `--seed` and `--feedback` pick the RFC 8867 run drawn (default: seed 0, 50 ms).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use plotters::prelude::*;
use sfu_bwe_sim::rfc8867::{Case, Conditions};
use sfu_bwe_sim::{
    DROP_AT_S, EstimatorKind, FlowKind, HIGH_KBPS, LOSS_FROM_S, RETURN_AT_S, Record, Scenario,
    Trace,
};

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let out = args.out;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    for kind in EstimatorKind::ALL {
        let conditions = Conditions {
            estimator: kind,
            seed: args.seed,
            feedback_interval: args.feedback,
        };
        for case in Case::all(conditions) {
            let record = case.run();
            let path = out.join(format!("rfc8867-{}-{}.svg", case.name, kind.name()));
            draw_case(&path, &case, kind, &record)?;
            let failed = case.evaluate(&record).failures().count();
            println!(
                "{:<7} {:<14} {failed} targets missed (seed {}, {} ms feedback)  -> {}",
                kind.name(),
                case.name,
                args.seed,
                args.feedback.as_millis(),
                path.display()
            );
        }
    }
    for scenario in Scenario::all() {
        for kind in EstimatorKind::ALL {
            let trace = kind.run(&scenario);
            let path = out.join(format!("{}-{}.svg", scenario.name, kind.name()));
            draw(&path, &scenario, kind, &trace)?;
            println!(
                "{:<7} {:<14} {}  -> {}",
                kind.name(),
                scenario.name,
                summary(&scenario, &trace),
                path.display()
            );
        }
    }
    Ok(())
}

const USAGE: &str = "usage: bwe-plot --out DIR [--seed N] [--feedback MS]";

/// Where to write, and the seed and feedback interval of the RFC 8867 runs drawn.
struct Args {
    out: PathBuf,
    seed: u64,
    feedback: Duration,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = std::env::args().skip(1);
    let (mut out, mut seed, mut feedback) = (None, 0, Duration::from_millis(50));
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out = args.next().map(PathBuf::from),
            "--seed" => {
                seed = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .context("--seed needs a number")?;
            }
            "--feedback" => {
                feedback = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .map(Duration::from_millis)
                    .context("--feedback needs milliseconds")?;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}; {USAGE}"),
        }
    }
    Ok(Args {
        out: out.context("missing --out DIR")?,
        seed,
        feedback,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The metrics the scenario tests assert on, as measured.
fn summary(scenario: &Scenario, trace: &Trace) -> String {
    let cap_kbps = |t: f64| {
        trace
            .points()
            .iter()
            .find(|p| p.time.as_secs_f64() >= t)
            .map_or(0.0, |p| p.capacity.as_kbps_f64())
    };
    match scenario.name.as_str() {
        "capacity-drop" => {
            let below = trace
                .first_time(DROP_AT_S, |p| p.estimate.bps() < 600_000)
                .map(|t| t - DROP_AT_S);
            let drained = trace
                .settled_time(DROP_AT_S, RETURN_AT_S, |p| {
                    p.queue_delay < Duration::from_millis(100)
                })
                .map(|t| t - DROP_AT_S);
            let target = HIGH_KBPS * 1000 * 85 / 100;
            let regained = trace
                .first_time(RETURN_AT_S, |p| p.estimate.bps() >= target)
                .map(|t| t - RETURN_AT_S);
            let low = trace.stats(DROP_AT_S + 5.0, RETURN_AT_S);
            format!(
                "below 600k after {below:.2?}s, queue <100ms for good after {drained:.2?}s, low-phase mean {:.0}k, 85% regained after {regained:.2?}s",
                low.map_or(0.0, |s| s.mean_estimate.as_kbps_f64())
            )
        }
        "random-loss" => {
            let s = trace.stats(LOSS_FROM_S, 40.0);
            format!(
                "under loss: min {:.0}k ({:.0}% of capacity), mean {:.0}k",
                s.map_or(0.0, |s| s.min_estimate.as_kbps_f64()),
                s.map_or(0.0, |s| s.min_estimate.as_kbps_f64() / HIGH_KBPS as f64
                    * 100.0),
                s.map_or(0.0, |s| s.mean_estimate.as_kbps_f64())
            )
        }
        _ => {
            let cap = cap_kbps(0.0);
            let reached = trace.first_time(0.0, |p| p.estimate.as_kbps_f64() >= 0.85 * cap);
            let conv = trace.stats(10.0, 40.0);
            let osc = trace.stats(15.0, 40.0);
            format!(
                "85% reached at {reached:.2?}s, steady mean {:.0}k ({:.1}%), oscillation ±{:.1}%, max queue {:.0}ms",
                conv.map_or(0.0, |s| s.mean_estimate.as_kbps_f64()),
                conv.map_or(0.0, |s| s.mean_estimate.as_kbps_f64() / cap * 100.0),
                osc.map_or(0.0, |s| s.oscillation() * 100.0),
                conv.map_or(0.0, |s| ms(s.max_queue_delay)),
            )
        }
    }
}

fn draw(
    path: &Path,
    scenario: &Scenario,
    kind: EstimatorKind,
    trace: &Trace,
) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1000, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (top, bottom) = root.split_vertically(420);
    let pts = trace.points();
    let t_max = pts.last().map_or(1.0, |p| p.time.as_secs_f64());
    let rate_max = pts
        .iter()
        .map(|p| p.estimate.max(p.capacity).max(p.delivered).as_kbps_f64() / 1000.0)
        .fold(0.5, f64::max)
        * 1.1;
    let q_max = pts.iter().map(|p| ms(p.queue_delay)).fold(50.0, f64::max) * 1.1;

    let mut rates = ChartBuilder::on(&top)
        .caption(
            format!("{} — {}", kind.name(), scenario.title),
            ("sans-serif", 22),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, 0.0..rate_max)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    rates
        .configure_mesh()
        .y_desc("Mbit/s")
        .draw()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let series = |f: fn(&sfu_bwe_sim::TracePoint) -> f64| {
        pts.iter()
            .map(move |p| (p.time.as_secs_f64(), f(p)))
            .collect::<Vec<_>>()
    };
    rates
        .draw_series(LineSeries::new(
            series(|p| p.capacity.as_kbps_f64() / 1000.0),
            BLACK.stroke_width(2),
        ))
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .label("capacity")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    rates
        .draw_series(LineSeries::new(
            series(|p| p.delivered.as_kbps_f64() / 1000.0),
            GREEN.mix(0.5),
        ))
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .label("delivered")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN.mix(0.5)));
    rates
        .draw_series(LineSeries::new(
            series(|p| p.estimate.as_kbps_f64() / 1000.0),
            RED.stroke_width(2),
        ))
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .label("estimate")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    rates
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let mut queue = ChartBuilder::on(&bottom)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, 0.0..q_max)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    queue
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("queue delay (ms)")
        .draw()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    queue
        .draw_series(LineSeries::new(series(|p| ms(p.queue_delay)), BLUE))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    queue
        .draw_series(LineSeries::new(
            vec![(0.0, 100.0), (t_max, 100.0)],
            BLACK.mix(0.3),
        ))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

const FLOW_COLOURS: [RGBColor; 5] = [RED, BLUE, GREEN, MAGENTA, CYAN];

/// One RFC 8867 case: capacity and every flow's target (solid) and goodput (faint) on top;
/// the largest queueing delay each flow met per bin below.
fn draw_case(path: &Path, case: &Case, kind: EstimatorKind, record: &Record) -> anyhow::Result<()> {
    let err = |e: DrawingAreaErrorKind<std::io::Error>| anyhow::anyhow!("{e}");
    let root = SVGBackend::new(path, (1000, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (top, bottom) = root.split_vertically(420);
    let t_max = case.network.duration.as_secs_f64();
    let mbps = |b: sfu_bwe::Bitrate| b.as_kbps_f64() / 1000.0;
    let rate_max = record.capacity.iter().map(|c| mbps(*c)).fold(0.5, f64::max) * 1.1;
    let mut rates = ChartBuilder::on(&top)
        .caption(
            format!("{} — {} {}", kind.name(), case.name, case.title),
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, 0.0..rate_max)
        .map_err(err)?;
    rates
        .configure_mesh()
        .y_desc("Mbit/s")
        .draw()
        .map_err(err)?;
    let at = |i: usize| record.secs(i);
    rates
        .draw_series(LineSeries::new(
            record
                .capacity
                .iter()
                .enumerate()
                .map(|(i, c)| (at(i), mbps(*c))),
            BLACK.stroke_width(2),
        ))
        .map_err(err)?
        .label("capacity")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    for (f, (flow, spec)) in record.flows.iter().zip(&case.flows).enumerate() {
        let colour = FLOW_COLOURS[f % FLOW_COLOURS.len()];
        let name = match spec.kind {
            FlowKind::Media(_) => format!("flow {f} target"),
            FlowKind::Tcp => format!("flow {f} (TCP) cwnd/srtt"),
        };
        rates
            .draw_series(LineSeries::new(
                flow.bins
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.active)
                    .map(|(i, b)| (at(i + 1), mbps(b.target).min(rate_max))),
                colour.stroke_width(2),
            ))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
        // Goodput, smoothed over 1 s so the faint line is readable.
        let per_s: Vec<(f64, f64)> = flow
            .bins
            .chunks(10)
            .enumerate()
            .map(|(k, c)| {
                let bytes: u64 = c.iter().map(|b| b.delivered.bytes()).sum();
                (k as f64 + 0.5, bytes as f64 * 8.0 / 1e6)
            })
            .collect();
        rates
            .draw_series(LineSeries::new(per_s, colour.mix(0.35)))
            .map_err(err)?;
    }
    rates
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;

    let bins = record.capacity.len();
    let mut worst = vec![vec![0.0f64; bins]; record.flows.len()];
    for (f, flow) in record.flows.iter().enumerate() {
        for q in &flow.queue {
            if let Some(i) = record.index(q.at) {
                worst[f][i] = worst[f][i].max(ms(q.delay));
            }
        }
    }
    let q_max = worst.iter().flatten().copied().fold(50.0, f64::max) * 1.1;
    let mut queue = ChartBuilder::on(&bottom)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, 0.0..q_max)
        .map_err(err)?;
    queue
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("queue delay (ms)")
        .draw()
        .map_err(err)?;
    for (f, w) in worst.iter().enumerate() {
        let colour = FLOW_COLOURS[f % FLOW_COLOURS.len()];
        queue
            .draw_series(LineSeries::new(
                w.iter().enumerate().map(|(i, d)| (at(i), *d)),
                colour.mix(0.7),
            ))
            .map_err(err)?;
    }
    queue
        .draw_series(LineSeries::new(
            vec![(0.0, 100.0), (t_max, 100.0)],
            BLACK.mix(0.3),
        ))
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
