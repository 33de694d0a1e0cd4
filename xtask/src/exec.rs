//! Running commands with echo.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

/// The workspace root (xtask lives one level below it).
/// Builds the `examples` binaries `bins` in release mode; returns where the first one is.
pub(crate) fn build_examples(bins: &[&str]) -> anyhow::Result<PathBuf> {
    let mut cmd = cargo(["build", "--release", "-p", "examples"]);
    for b in bins {
        cmd.args(["--bin", b]);
    }
    run(&mut cmd)?;
    Ok(release_bin(bins.first().copied().unwrap_or("basic-sfu")))
}

/// Where `cargo build --release` puts binary `name`.
pub(crate) fn release_bin(name: &str) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("release")
        .join(name)
}

pub(crate) fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// A `cargo` command rooted at the workspace.
pub(crate) fn cargo<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root()).args(args);
    cmd
}

/// Runs `cmd`, echoing it first; fails when it exits non-zero.
pub(crate) fn run(cmd: &mut Command) -> anyhow::Result<()> {
    println!("$ {}", show(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("could not start {}", show(cmd)))?;
    if !status.success() {
        bail!("{} exited with {status}", show(cmd));
    }
    Ok(())
}

/// `true` when `program --version` runs.
pub(crate) fn has(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}
