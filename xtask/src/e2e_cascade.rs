//! `cargo xtask e2e --cascade-only`: one room on two basic-sfu nodes joined by a relay.
//!
//! Node B accepts relays (`--relay-secret`); node A opens one to B for every room it
//! starts (`--cascade`). Headless Chromium "one" joins the room on A, "two" and "three" on
//! B. Pass:
//! 1. every page decodes the two others' video and audio, named as the roster names them
//!    (the relay brings A's participants to B's pages and B's to A's);
//! 2. after [`SETTLE`], over a clean window of [`CLEAN_WINDOW`] every stream keeps
//!    decoding, with no freeze and at most [`MAX_KEYFRAMES`] keyframes plus one per layer
//!    switch either node logged to a layer of the stream's publisher in the window;
//! 3. "three" is capped low: within [`SWITCH_WITHIN`] it decodes "one" (whose layers all
//!    cross the relay) at a lower layer than "two" does, and keeps decoding;
//! 4. "one" is closed: its tile leaves both pages on B within [`GONE_WITHIN`], and "two"
//!    and "three" still see each other.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::ci::Outcome;
use crate::e2e::{
    Procs, log_len, logged_since, low_cap_kbps, num, page_url, remotes, reports, set_cap, setup,
    start_browser, start_sfu, switches_to, token, wait_for,
};
use crate::e2e_link::client_named;

const ROOM: &str = "cascade";
/// The relay secret both nodes share.
const RELAY_SECRET: &str = "cascade-e2e-relay-secret";
/// How long the room settles once all decode (encoders ramp up, layers climb) before the
/// clean window.
const SETTLE: Duration = Duration::from_secs(10);
/// How long every stream is judged once the room settled.
const CLEAN_WINDOW: Duration = Duration::from_secs(15);
/// Keyframes a stream may decode in the clean window beyond those the SFUs' own layer
/// switches asked for: a stream through the relay starts like any other, from its join,
/// not again.
const MAX_KEYFRAMES: u64 = 1;
/// Time for the capped page to switch to a lower layer.
const SWITCH_WITHIN: Duration = Duration::from_secs(20);
/// Time for a closed page's tile to leave the other node's pages.
const GONE_WITHIN: Duration = Duration::from_secs(15);

/// Node A's and node B's logs in the artifacts directory.
const LOGS: [&str; 2] = ["sfu-cascade-a.log", "sfu-cascade-b.log"];
/// Who is on which node: (name, node index).
const PAGES: [(&str, usize); 3] = [("one", 0), ("two", 1), ("three", 1)];
const NAMES: [&str; 3] = ["one", "two", "three"];

pub(crate) fn run() -> anyhow::Result<Outcome> {
    let (chromium, sfu_bin, artifacts) = match setup()? {
        Ok(s) => s,
        Err(outcome) => return Ok(outcome),
    };
    let mut procs = Procs::default();
    let (b, sfu_b) = start_sfu(
        &sfu_bin,
        &artifacts,
        LOGS[1],
        None,
        &["--relay-secret", RELAY_SECRET, "--node-id", "b"],
    )?;
    procs.add(sfu_b);
    let (a, sfu_a) = start_sfu(
        &sfu_bin,
        &artifacts,
        LOGS[0],
        None,
        &[
            "--relay-secret",
            RELAY_SECRET,
            "--node-id",
            "a",
            "--cascade",
            &b,
        ],
    )?;
    procs.add(sfu_a);
    let nodes = [a, b];
    println!(
        "e2e-cascade: node A at {}, node B at {}",
        nodes[0], nodes[1]
    );
    let mut browsers = Vec::new();
    for (i, (name, node)) in PAGES.iter().enumerate() {
        let page = page_url(&sfu_bin, &nodes[*node], ROOM, name, "")?;
        let child = start_browser(&chromium, &page, &artifacts, 40 + i, None, &[])?;
        browsers.push(child.id());
        procs.add(child);
    }
    let admin = token(&sfu_bin, ROOM, "e2e", true)?;
    // Every page's report, from whichever node it is on (a node whose pages all left has
    // closed the room, and has none).
    let all = || -> anyhow::Result<Value> {
        let mut merged = serde_json::Map::new();
        for (n, base) in nodes.iter().enumerate() {
            if let Ok(Value::Object(m)) = reports(base, ROOM, &admin) {
                for (id, rep) in m {
                    merged.insert(format!("{n}/{id}"), rep);
                }
            }
        }
        Ok(Value::Object(merged))
    };

    let started = Instant::now();
    let first = wait_for(
        "every page decodes the two others, across the relay",
        90,
        || {
            let r = all()?;
            if everyone_sees_everyone(&r, &NAMES) {
                Ok(Ok(r))
            } else {
                Ok(Err(brief(&r, &NAMES)))
            }
        },
    )?;
    println!(
        "e2e-cascade: every page decodes the others after {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        brief(&first, &NAMES)
    );

    std::thread::sleep(SETTLE);
    // The logs' lengths before the window's first report: a switch whose keyframe lands
    // in the window is in the window's log.
    let logs = LOGS.map(|name| artifacts.join(name));
    let log_from = logs.each_ref().map(|path| log_len(path));
    let first = all()?;
    std::thread::sleep(CLEAN_WINDOW);
    let last = all()?;
    let switched = [0, 1].map(|n| logged_since(&logs[n], log_from[n], "layer changed"));
    for (node, lines) in ["A", "B"].iter().zip(&switched) {
        for line in lines {
            println!("e2e-cascade:   node {node}: {line}");
        }
    }
    let mut failures = Vec::new();
    for (viewer, _) in PAGES {
        for (publisher, _) in PAGES {
            if viewer == publisher {
                continue;
            }
            let (Some(before), Some(after)) = (
                stream(&first, viewer, publisher),
                stream(&last, viewer, publisher),
            ) else {
                failures.push(format!("{viewer} lost {publisher}"));
                continue;
            };
            let d = |k: &str| num(after, k).saturating_sub(num(before, k));
            let freezes = d("freezeCount");
            let keyframes = d("keyFramesDecoded");
            let frames = d("framesDecoded");
            let audio = d("audioSamples");
            println!(
                "e2e-cascade: {viewer} <- {publisher}: {frames} frames, {keyframes} keyframes, {} PLIs, {freezes} freezes, {}px, {audio} audio samples",
                d("pliCount"),
                num(after, "frameWidth"),
            );
            let asked = asked_of(&last, publisher, &switched);
            let secs = CLEAN_WINDOW.as_secs();
            if frames < 10 * secs || audio == 0 || freezes > 0 || keyframes > MAX_KEYFRAMES + asked
            {
                failures.push(format!(
                    "{viewer} <- {publisher}: {frames} frames in {secs} s, {audio} audio samples, {freezes} freezes, {keyframes} keyframes ({asked} asked for by the SFUs' layer switches)"
                ));
            }
        }
    }
    if !failures.is_empty() {
        bail!(
            "e2e-cascade: the clean window failed: {}",
            failures.join("; ")
        );
    }
    println!(
        "e2e-cascade: clean window of {} s passed",
        CLEAN_WINDOW.as_secs()
    );

    let three = client_named(&last, "three").context("three has no report")?;
    let cap = low_cap_kbps(&first, &last, &three, CLEAN_WINDOW)?;
    let id_on_b = three.split('/').nth(1).context("a merged report key")?;
    set_cap(&nodes[1], ROOM, &admin, id_on_b, cap)?;
    let capped = Instant::now();
    let (low, top) = wait_for(
        "three decodes one at a lower layer than two does",
        SWITCH_WITHIN.as_secs(),
        || {
            let r = all()?;
            let width = |viewer| stream(&r, viewer, "one").map_or(0, |s| num(s, "frameWidth"));
            let (low, top) = (width("three"), width("two"));
            if low > 0 && low < top {
                Ok(Ok((low, top)))
            } else {
                Ok(Err(format!("three {low}px, two {top}px")))
            }
        },
    )?;
    let before = all()?;
    std::thread::sleep(Duration::from_secs(5));
    let after = all()?;
    let frames = |r: &Value| stream(r, "three", "one").map_or(0, |s| num(s, "framesDecoded"));
    let decoded = frames(&after).saturating_sub(frames(&before));
    if decoded < 25 {
        bail!(
            "e2e-cascade: capped to {cap} kbit/s, three decoded only {decoded} frames of one in 5 s"
        );
    }
    println!(
        "e2e-cascade: three capped to {cap} kbit/s decodes one at {low}px (two at {top}px) after {:.1} s, {decoded} frames in the next 5 s",
        capped.elapsed().as_secs_f64()
    );

    procs.kill(browsers[0]);
    let closed = Instant::now();
    wait_for(
        "one's tile leaves the pages on node B",
        GONE_WITHIN.as_secs(),
        || {
            let r = all()?;
            let gone = ["two", "three"].iter().all(|v| {
                page(&r, v).is_some_and(|rep| {
                    remotes(rep).all(|(_, rem)| remote_name(rem) != Some("one"))
                        && num(rep, "tiles") == 1
                })
            });
            if gone && everyone_sees_everyone(&r, &["two", "three"]) {
                Ok(Ok(()))
            } else {
                Ok(Err(brief(&r, &NAMES)))
            }
        },
    )?;
    println!(
        "e2e-cascade: one's tile left node B's pages {:.1} s after its browser closed",
        closed.elapsed().as_secs_f64()
    );
    println!("e2e-cascade: 4 passed, 0 failed");
    Ok(Outcome::Passed)
}

/// The report of the page named `name`, from any node.
pub(crate) fn page<'a>(r: &'a Value, name: &str) -> Option<&'a Value> {
    r.get(client_named(r, name)?)
}

/// The name a page's report gives a remote tile.
fn remote_name(remote: &Value) -> Option<&str> {
    remote.get("name").and_then(Value::as_str)
}

/// What `viewer` receives from the participant named `publisher`.
fn stream<'a>(r: &'a Value, viewer: &str, publisher: &str) -> Option<&'a Value> {
    remotes(page(r, viewer)?)
        .find(|(id, rem)| !id.contains(':') && remote_name(rem) == Some(publisher))
        .map(|(_, rem)| rem)
}

/// Every page of `names` decodes video and audio of each other one.
pub(crate) fn everyone_sees_everyone(r: &Value, names: &[&str]) -> bool {
    names.iter().all(|viewer| {
        names.iter().filter(|p| *p != viewer).all(|publisher| {
            stream(r, viewer, publisher)
                .is_some_and(|s| num(s, "framesDecoded") > 0 && num(s, "audioSamples") > 0)
        })
    })
}

/// Who of `names` decodes whom, and how much, for a timeout message.
pub(crate) fn brief(r: &Value, names: &[&str]) -> String {
    let mut out = Vec::new();
    for viewer in names {
        let Some(rep) = page(r, viewer) else {
            out.push(format!("{viewer}: no report"));
            continue;
        };
        let seen: Vec<String> = remotes(rep)
            .map(|(id, rem)| {
                format!(
                    "{}={}f/{}a",
                    remote_name(rem).unwrap_or(id),
                    num(rem, "framesDecoded"),
                    num(rem, "audioSamples")
                )
            })
            .collect();
        out.push(format!("{viewer}: [{}]", seen.join(" ")));
    }
    out.join("; ")
}

/// The layer switches in `switched` (each node's logged lines) that asked `publisher` for a
/// keyframe. On its own node they name it by its client id. On the other node they name
/// the relay, which carries every page of the publisher's node, so a switch to a relayed
/// layer there counts for each of those pages.
fn asked_of(r: &Value, publisher: &str, switched: &[Vec<String>; 2]) -> u64 {
    let Some(key) = client_named(r, publisher) else {
        return 0;
    };
    let Some((node, id)) = key.split_once('/') else {
        return 0;
    };
    let (here, there) = if node == "0" { (0, 1) } else { (1, 0) };
    // The other node's pages, from the merged reports' `node/id` keys.
    let pages_there: Vec<&str> = r
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys())
        .filter_map(|k| k.split_once('/'))
        .filter(|(n, _)| *n == there.to_string())
        .map(|(_, page)| page)
        .collect();
    switches_to(&switched[here], |p| p == id)
        + switches_to(&switched[there], |p| !pages_there.contains(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Node B's switches in a CI window where page two's estimate dipped: B's client 1
    /// (two) moved down and back up on three (client 3) and on one (through the relay,
    /// client 2). Its pages then decoded 2–3 keyframes of one and of three, and none of two.
    #[test]
    fn switches_on_either_node_ask_the_publisher_they_lead_to() {
        let line = |publisher: u32, layer: &str, paused: bool| {
            format!(
                "INFO sfu_udp::udp_loop: layer changed client=1 publisher={publisher} mid=1 layer=\"{layer}\" paused={paused} reason=Estimate budget_kbps=454"
            )
        };
        let b = vec![
            line(3, "q", false),
            line(2, "q", false),
            line(2, "h", false),
            line(3, "h", false),
            line(3, "-", true),
        ];
        let report = |name: &str| serde_json::json!({ "name": name });
        let r = serde_json::json!({
            "0/1": report("one"),
            "1/1": report("two"),
            "1/3": report("three"),
        });
        let switched = [Vec::new(), b];
        assert_eq!(asked_of(&r, "three", &switched), 2);
        assert_eq!(asked_of(&r, "one", &switched), 2);
        assert_eq!(asked_of(&r, "two", &switched), 0);
        // On node A a switch names the relay (client 2), which carries both of B's pages.
        let a = vec![line(2, "h", false)];
        let switched = [a, Vec::new()];
        assert_eq!(asked_of(&r, "two", &switched), 1);
        assert_eq!(asked_of(&r, "three", &switched), 1);
        assert_eq!(asked_of(&r, "one", &switched), 0);
    }
}
