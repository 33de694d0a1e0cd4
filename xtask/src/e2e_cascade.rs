//! `cargo xtask e2e --cascade-only`: one room on two basic-sfu nodes joined by a relay.
//!
//! Node B accepts relays (`--relay-secret`); node A opens one to B for every room it
//! starts (`--cascade`). Headless Chromium "one" joins the room on A, "two" and "three" on
//! B. Pass:
//! 1. every page decodes the two others' video and audio, named as the roster names them
//!    (the relay brings A's participants to B's pages and B's to A's);
//! 2. after [`SETTLE`], over a clean window of [`CLEAN_WINDOW`] every stream keeps
//!    decoding, with no freeze and at most [`MAX_KEYFRAMES`] keyframes;
//! 3. "three" is capped low: within [`SWITCH_WITHIN`] it decodes "one" (whose layers all
//!    cross the relay) at a lower layer than "two" does, and keeps decoding;
//! 4. "one" is closed: its tile leaves both pages on B within [`GONE_WITHIN`], and "two"
//!    and "three" still see each other.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::ci::Outcome;
use crate::e2e::{
    Procs, low_cap_kbps, num, page_url, remotes, reports, set_cap, setup, start_browser, start_sfu,
    token, wait_for,
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
/// Keyframes a stream may decode in the clean window: a stream through the relay starts
/// like any other, from its join, not again.
const MAX_KEYFRAMES: u64 = 1;
/// Time for the capped page to switch to a lower layer.
const SWITCH_WITHIN: Duration = Duration::from_secs(20);
/// Time for a closed page's tile to leave the other node's pages.
const GONE_WITHIN: Duration = Duration::from_secs(15);

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
        "sfu-cascade-b.log",
        None,
        &["--relay-secret", RELAY_SECRET, "--node-id", "b"],
    )?;
    procs.add(sfu_b);
    let (a, sfu_a) = start_sfu(
        &sfu_bin,
        &artifacts,
        "sfu-cascade-a.log",
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
    let first = all()?;
    std::thread::sleep(CLEAN_WINDOW);
    let last = all()?;
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
            let secs = CLEAN_WINDOW.as_secs();
            if frames < 10 * secs || audio == 0 || freezes > 0 || keyframes > MAX_KEYFRAMES {
                failures.push(format!(
                    "{viewer} <- {publisher}: {frames} frames in {secs} s, {audio} audio samples, {freezes} freezes, {keyframes} keyframes"
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
