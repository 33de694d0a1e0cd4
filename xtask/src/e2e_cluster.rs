//! `cargo xtask e2e --cluster-only`: three basic-sfu nodes and a Redis, one room across
//! them, and a node killed mid-run.
//!
//! The nodes are in three regions, so each join stays on the node it came through and the
//! room spans all three, relayed between them. Headless Chromium "a" and "d" enter
//! through the first node, "b" through the second, "c" through the third. Pass:
//! 1. every page decodes the three others' video and audio;
//! 2. the third node is killed (SIGKILL): "c" joins again through a live node within
//!    [`REJOIN_WITHIN`], everyone decodes everyone again with exactly three remote tiles
//!    each (no ghost of the dead node's participants), and the dead node leaves the Redis
//!    directory.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::ci::Outcome;
use crate::e2e::{
    Procs, num, page_url, reports, setup, skipped, start_browser, start_sfu, token, wait_for,
};
use crate::e2e_cascade::{brief, everyone_sees_everyone, page};

const ROOM: &str = "cluster";
const RELAY_SECRET: &str = "cluster-e2e-relay-secret";
/// The pages, and the node each enters through.
const PAGES: [(&str, usize); 4] = [("a", 0), ("b", 1), ("c", 2), ("d", 0)];
/// The time the issue allows for a dead node's pages to be back in the room.
const REJOIN_WITHIN: Duration = Duration::from_secs(10);

pub(crate) fn run() -> anyhow::Result<Outcome> {
    let (chromium, sfu_bin, artifacts) = match setup()? {
        Ok(s) => s,
        Err(outcome) => return Ok(outcome),
    };
    if Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        return skipped("no redis-server found (apt-get install -y redis-server)");
    }
    let mut procs = Procs::default();

    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let redis = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(std::fs::File::create(artifacts.join("redis.log"))?)
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .context("starting redis-server")?;
    procs.add(redis);
    wait_for("redis-server answers", 10, || {
        Ok(match redis_cli(port, &["PING"]) {
            Ok(out) if out.trim() == "PONG" => Ok(()),
            Ok(out) => Err(out),
            Err(e) => Err(e.to_string()),
        })
    })?;
    let redis_url = format!("redis://127.0.0.1:{port}");

    let mut nodes = Vec::new();
    let mut pids = Vec::new();
    for n in 1..=3 {
        let (base, child) = start_sfu(
            &sfu_bin,
            &artifacts,
            &format!("sfu-cluster-n{n}.log"),
            None,
            &[
                "--redis",
                &redis_url,
                "--node-id",
                &format!("n{n}"),
                "--region",
                &format!("r{n}"),
                "--relay-secret",
                RELAY_SECRET,
            ],
        )?;
        pids.push(child.id());
        procs.add(child);
        nodes.push(base);
    }
    println!(
        "e2e-cluster: redis at {redis_url}, nodes at {}",
        nodes.join(", ")
    );
    for (i, (name, node)) in PAGES.iter().enumerate() {
        let page = page_url(&sfu_bin, &nodes[*node], ROOM, name, "")?;
        procs.add(start_browser(
            &chromium,
            &page,
            &artifacts,
            50 + i,
            None,
            &[],
        )?);
        // The first page starts the room; the others find it in the directory.
        std::thread::sleep(Duration::from_millis(if i == 0 { 2000 } else { 500 }));
    }
    let admin = token(&sfu_bin, ROOM, "e2e", true)?;
    let all = |live: &[String]| -> Value {
        let mut merged = serde_json::Map::new();
        for (n, base) in live.iter().enumerate() {
            if let Ok(Value::Object(m)) = reports(base, ROOM, &admin) {
                for (id, rep) in m {
                    merged.insert(format!("{n}/{id}"), rep);
                }
            }
        }
        Value::Object(merged)
    };
    let names: Vec<&str> = PAGES.iter().map(|(n, _)| *n).collect();

    let started = Instant::now();
    let first = wait_for("every page decodes the three others", 90, || {
        let r = all(&nodes);
        Ok(if everyone_sees_everyone(&r, &names) {
            Ok(r)
        } else {
            Err(brief(&r, &names))
        })
    })?;
    println!(
        "e2e-cluster: every page decodes the others after {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        brief(&first, &names)
    );
    let members = redis_cli(port, &["SMEMBERS", &format!("sfu:room:{ROOM}")])?;
    let held: Vec<&str> = members.split_whitespace().collect();
    if held.len() != 3 {
        bail!("e2e-cluster: the room should span the three nodes; Redis says {held:?}");
    }

    let dead = std::process::Command::new("kill")
        .args(["-s", "KILL", &pids[2].to_string()])
        .status()?;
    if !dead.success() {
        bail!("e2e-cluster: could not kill the third node");
    }
    let killed = Instant::now();
    let live = &nodes[..2];
    let rejoined = wait_for("c joins again through a live node", 30, || {
        let r = all(live);
        Ok(match page(&r, "c") {
            Some(rep) if num(rep, "tiles") > 0 => Ok(killed.elapsed()),
            _ => Err(brief(&r, &names)),
        })
    })?;
    let whole = wait_for(
        "everyone decodes everyone again, with no ghost tile",
        30,
        || {
            let r = all(live);
            let tiles_ok = names
                .iter()
                .all(|n| page(&r, n).is_some_and(|rep| num(rep, "tiles") == 3));
            Ok(if tiles_ok && everyone_sees_everyone(&r, &names) {
                Ok(killed.elapsed())
            } else {
                Err(brief(&r, &names))
            })
        },
    )?;
    println!(
        "e2e-cluster: third node killed: c back in the room after {:.1} s, everyone decoding everyone after {:.1} s",
        rejoined.as_secs_f64(),
        whole.as_secs_f64()
    );
    if whole > REJOIN_WITHIN {
        bail!(
            "e2e-cluster: the room was whole again only {:.1} s after the kill (at most {} s)",
            whole.as_secs_f64(),
            REJOIN_WITHIN.as_secs()
        );
    }
    let gone = wait_for("the dead node leaves the directory", 15, || {
        let nodes = redis_cli(port, &["SMEMBERS", "sfu:nodes"])?;
        let room = redis_cli(port, &["SMEMBERS", &format!("sfu:room:{ROOM}")])?;
        Ok(if !nodes.contains("n3") && !room.contains("n3") {
            Ok(killed.elapsed())
        } else {
            Err(format!("nodes [{}], room [{}]", nodes.trim(), room.trim()))
        })
    })?;
    println!(
        "e2e-cluster: the dead node left the directory {:.1} s after the kill",
        gone.as_secs_f64()
    );
    println!("e2e-cluster: 2 passed, 0 failed");
    Ok(Outcome::Passed)
}

/// `redis-cli -p PORT args…`, its output.
fn redis_cli(port: u16, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .context("running redis-cli")?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
