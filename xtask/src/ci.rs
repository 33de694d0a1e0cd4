//! `cargo xtask ci`: every check CI runs, in order, with a summary.

use std::time::Instant;

use anyhow::bail;

use crate::exec::{cargo, has, root, run as exec};

/// How a step ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Passed,
    /// It could not run here and said why; not a pass.
    Skipped,
}

/// One CI step: its name and what it runs.
struct Step {
    name: &'static str,
    run: fn() -> anyhow::Result<Outcome>,
}

const STEPS: &[Step] = &[
    Step {
        name: "fmt",
        run: fmt,
    },
    Step {
        name: "clippy",
        run: clippy,
    },
    Step {
        name: "test",
        run: test,
    },
    Step {
        name: "test-workers",
        run: test_workers,
    },
    Step {
        name: "doc",
        run: doc,
    },
    Step {
        name: "deny",
        run: deny,
    },
    Step {
        name: "features",
        run: features,
    },
    Step {
        name: "load-smoke",
        run: crate::load::smoke,
    },
    Step {
        name: "churn",
        run: crate::load::churn,
    },
    Step {
        name: "flood",
        run: crate::load::flood,
    },
    Step {
        name: "e2e",
        run: crate::e2e::run_all,
    },
    Step {
        name: "e2e-link",
        run: crate::e2e_link::run_all,
    },
    Step {
        name: "e2e-svc",
        run: crate::e2e_svc::run_all,
    },
    Step {
        name: "e2e-firefox",
        run: crate::e2e_firefox::run_all,
    },
    Step {
        name: "e2e-gst",
        run: crate::e2e_gst::run_all,
    },
    Step {
        name: "e2e-cascade",
        run: crate::e2e_cascade::run,
    },
    Step {
        name: "e2e-cluster",
        run: crate::e2e_cluster::run,
    },
];

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let (skip, only) = parse(args)?;
    let mut passed = 0;
    let mut skipped = 0;
    let mut failed = Vec::new();
    for step in STEPS {
        if skip.iter().any(|s| s == step.name)
            || (!only.is_empty() && !only.iter().any(|s| s == step.name))
        {
            println!("== {}: skipped", step.name);
            continue;
        }
        println!("== {}: running", step.name);
        let start = Instant::now();
        let result = (step.run)();
        let secs = start.elapsed().as_secs_f64();
        match result {
            Ok(Outcome::Passed) => {
                println!("== {}: ok ({secs:.1}s)", step.name);
                passed += 1;
            }
            Ok(Outcome::Skipped) => {
                println!("== {}: SKIPPED ({secs:.1}s)", step.name);
                skipped += 1;
            }
            Err(e) => {
                println!("== {}: FAILED ({secs:.1}s): {e:#}", step.name);
                failed.push(step.name);
            }
        }
    }
    println!(
        "ci: {passed} passed, {} failed, {skipped} skipped",
        failed.len()
    );
    if !failed.is_empty() {
        bail!("failed steps: {}", failed.join(", "));
    }
    Ok(())
}

fn parse(args: &[String]) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let (mut skip, mut only) = (Vec::new(), Vec::new());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let list = match a.as_str() {
            "--skip" => &mut skip,
            "--only" => &mut only,
            other => bail!("unknown ci option `{other}` (use --skip STEP / --only STEP)"),
        };
        match it.next() {
            Some(step) if STEPS.iter().any(|s| s.name == step) => list.push(step.clone()),
            Some(step) => bail!("unknown step `{step}`"),
            None => bail!("`{a}` needs a step name"),
        }
    }
    Ok((skip, only))
}

fn fmt() -> anyhow::Result<Outcome> {
    exec(&mut cargo(["fmt", "--all", "--check"]))?;
    Ok(Outcome::Passed)
}

fn clippy() -> anyhow::Result<Outcome> {
    exec(&mut cargo([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))?;
    Ok(Outcome::Passed)
}

fn test() -> anyhow::Result<Outcome> {
    if has("cargo-nextest", &["nextest", "--version"]) {
        exec(&mut cargo([
            "nextest",
            "run",
            "--workspace",
            "--all-features",
        ]))?;
    } else {
        println!("cargo-nextest not found; using cargo test");
        exec(&mut cargo([
            "test",
            "--workspace",
            "--all-features",
            "--lib",
            "--bins",
            "--tests",
        ]))?;
    }
    // nextest does not run doc tests.
    exec(&mut cargo([
        "test",
        "--workspace",
        "--all-features",
        "--doc",
    ]))?;
    Ok(Outcome::Passed)
}

/// The room tests again with two fanout workers that share every batch, so each of them
/// also checks the batched fanout across threads (`Workers`).
fn test_workers() -> anyhow::Result<Outcome> {
    // The same features as the test step, so nothing is built again.
    let mut run = if has("cargo-nextest", &["nextest", "--version"]) {
        cargo([
            "nextest",
            "run",
            "--workspace",
            "--all-features",
            "-E",
            "package(sfu-registry)",
        ])
    } else {
        cargo(["test", "-p", "sfu-registry", "--all-features", "--tests"])
    };
    exec(run.env("SFU_TEST_WORKERS", "2"))?;
    Ok(Outcome::Passed)
}

fn doc() -> anyhow::Result<Outcome> {
    exec(
        cargo(["doc", "--workspace", "--all-features", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    Ok(Outcome::Passed)
}

fn deny() -> anyhow::Result<Outcome> {
    if !has("cargo-deny", &["--version"]) {
        println!("cargo-deny not found; installing it");
        exec(&mut cargo(["install", "--locked", "cargo-deny"]))?;
    }
    // The advisory database is fetched from the network, which these machines do not have.
    let checks: &[&str] = if std::env::var("SFU_DENY_ADVISORIES").as_deref() == Ok("1") {
        &["advisories", "bans", "licenses", "sources"]
    } else {
        println!(
            "advisories skipped (set SFU_DENY_ADVISORIES=1 where the advisory db is reachable)"
        );
        &["bans", "licenses", "sources"]
    };
    exec(cargo(["deny", "--all-features", "check"]).args(checks))?;
    Ok(Outcome::Passed)
}

/// Compiles the facade crate with each of its features alone.
fn features() -> anyhow::Result<Outcome> {
    let manifest = std::fs::read_to_string(root().join("crates/sfu-kit/Cargo.toml"))?;
    let feats = facade_features(&manifest);
    if feats.is_empty() {
        bail!("no features found in crates/sfu-kit/Cargo.toml");
    }
    exec(&mut cargo([
        "check",
        "-p",
        "sfu-kit",
        "--no-default-features",
    ]))?;
    for f in feats {
        exec(&mut cargo([
            "check",
            "-p",
            "sfu-kit",
            "--no-default-features",
            "--features",
            &f,
        ]))?;
    }
    Ok(Outcome::Passed)
}

/// The feature names in a Cargo.toml's `[features]` table (except `default`).
fn facade_features(manifest: &str) -> Vec<String> {
    let mut in_features = false;
    let mut out = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_features = line == "[features]";
            continue;
        }
        if !in_features || line.starts_with('#') {
            continue;
        }
        if let Some((name, _)) = line.split_once('=') {
            let name = name.trim();
            if !name.is_empty() && name != "default" {
                out.push(name.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::facade_features;

    #[test]
    fn reads_feature_names_but_not_default() {
        let toml = "[package]\nname = \"x\"\n[features]\ndefault = []\n# c\npacer = [\"dep:p\"]\nvfm = []\n[dependencies]\na = 1\n";
        assert_eq!(facade_features(toml), vec!["pacer", "vfm"]);
    }
}
