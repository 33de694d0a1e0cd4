//! The basic-sfu process under load, and what `/proc` says about it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::Context;

/// A running basic-sfu, killed on drop.
pub(crate) struct Sfu {
    child: Child,
    /// `http://host:port`.
    pub(crate) base: String,
}

impl Drop for Sfu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sfu {
    /// Starts `bin` with API secret `secret`, bandwidth estimator `estimator` and
    /// `workers` fanout workers, pinned to `core` (`none`: not pinned; a list such as
    /// `0,1` for several workers) with `taskset` where there is one, with limits high
    /// enough for any scenario (and a UDP port per room with `port_per_room`), and
    /// `extra` arguments.
    pub(crate) fn start(
        bin: &Path,
        core: &str,
        secret: &str,
        estimator: &str,
        workers: usize,
        port_per_room: bool,
        extra: &[&str],
    ) -> anyhow::Result<Self> {
        let mut cmd = pinned(bin, core);
        cmd.args(extra);
        cmd.args(["--http-port", "0", "--api-secret", secret])
            .args(["--join-rate", "0", "--max-participants", "1000"])
            .args(["--max-rooms", "1000", "--estimator", estimator])
            // Only when asked, so a build without the flag can still be measured.
            .args(
                (workers != 1)
                    .then(|| ["--workers".to_string(), workers.to_string()])
                    .into_iter()
                    .flatten(),
            )
            .args(port_per_room.then_some("--port-per-room"));
        let (child, line) = spawn(cmd, bin)?;
        let base = line
            .trim()
            .strip_prefix("open ")
            .and_then(|u| u.split("/?").next())
            .with_context(|| format!("unexpected first line {line:?}"))?
            .to_string();
        Ok(Self { child, base })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time the SFU has used so far, in seconds.
    pub(crate) fn cpu_seconds(&self) -> anyhow::Result<f64> {
        cpu_seconds(self.pid())
    }

    /// Its threads' run times so far ([`thread_seconds`]; empty where the kernel does not
    /// keep them).
    pub(crate) fn thread_seconds(&self) -> Vec<(u32, f64)> {
        thread_seconds(self.pid()).unwrap_or_default()
    }

    /// Its resident memory, in KiB.
    pub(crate) fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .context("no VmRSS")?
            .parse()
            .context("bad VmRSS")
    }

    /// Its open file descriptors.
    pub(crate) fn fds(&self) -> anyhow::Result<usize> {
        Ok(std::fs::read_dir(format!("/proc/{}/fd", self.pid()))?.count())
    }

    /// Its threads.
    pub(crate) fn threads(&self) -> anyhow::Result<usize> {
        Ok(std::fs::read_dir(format!("/proc/{}/task", self.pid()))?.count())
    }
}

/// A running raw-relay (the baseline), killed on drop.
pub(crate) struct Relay {
    child: Child,
    /// Its UDP address.
    pub(crate) addr: std::net::SocketAddr,
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Relay {
    /// Starts `bin` (raw-relay) pinned to `core` like the SFU.
    pub(crate) fn start(bin: &Path, core: &str) -> anyhow::Result<Self> {
        let mut cmd = pinned(bin, core);
        cmd.args(["--port", "0"]);
        let (child, line) = spawn(cmd, bin)?;
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|a| a.parse().ok())
            .with_context(|| format!("unexpected first line {line:?}"))?;
        Ok(Self { child, addr })
    }

    /// CPU time the relay has used so far, in seconds.
    pub(crate) fn cpu_seconds(&self) -> anyhow::Result<f64> {
        cpu_seconds(self.child.id())
    }
}

/// Starts `cmd` (running `bin`) and reads the first line it prints, which says where it
/// listens.
fn spawn(mut cmd: Command, bin: &Path) -> anyhow::Result<(Child, String)> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    Ok((child, line))
}

/// A command for `bin`, pinned to `core` with `taskset` where there is one (`none`: not
/// pinned).
pub(crate) fn pinned(bin: &Path, core: &str) -> Command {
    if core != "none" && Command::new("taskset").arg("-V").output().is_ok() {
        let mut c = Command::new("taskset");
        c.args(["-c", core]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

/// CPU time process `pid` has used so far, in seconds (user and system, from `/proc`):
/// the sum of its threads' run time in nanoseconds (`schedstat`), else its clock ticks
/// (`stat`, 10 ms steps: too coarse for a light load over a few seconds).
pub(crate) fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    if let Some(s) = schedstat_seconds(pid) {
        return Ok(s);
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at state (field 3).
    let rest = stat.rsplit_once(')').context("bad /proc stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11).context("no utime")?.parse()?;
    let stime: f64 = f.get(12).context("no stime")?.parse()?;
    Ok((utime + stime) / ticks_per_second())
}

/// The run time of `pid`'s live threads, summed ([`thread_seconds`]); `None` where the
/// kernel does not keep it. Threads that ended are not counted: the SFU's threads live as
/// long as it does.
fn schedstat_seconds(pid: u32) -> Option<f64> {
    thread_seconds(pid).map(|threads| threads.iter().map(|t| t.1).sum())
}

/// Each live thread of `pid` (thread id) and its run time so far in seconds, from
/// `/proc/<pid>/task/*/schedstat` (first field, nanoseconds); `None` where the kernel does
/// not keep it.
pub(crate) fn thread_seconds(pid: u32) -> Option<Vec<(u32, f64)>> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .map(|task| {
            let task = task.ok()?;
            let tid = task.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
            Some((tid, ns as f64 / 1e9))
        })
        .collect()
}

fn ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// A fresh API secret for one run.
pub(crate) fn random_secret() -> String {
    use std::hash::{BuildHasher, Hasher};
    let half = || {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    format!("{:016x}{:016x}", half(), half())
}
