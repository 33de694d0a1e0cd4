//! `cargo xtask e2e --svc-only`: one scalable stream, two subscribers at different layers.
//!
//! One headless Chromium publishes VP9 with `scalabilityMode` L3T3 (three spatial layers,
//! 240/480/960 px wide, three temporal layers, in one RTP stream); two others watch. Pass:
//! 1. both watchers decode the top spatial layer (for [`SETTLE`]);
//! 2. one watcher is capped (`POST /api/bitrate`): within [`SWITCH_WITHIN`] it decodes a
//!    lower spatial layer (a smaller `frameWidth`) from the same stream and keeps decoding,
//!    with less than [`MAX_FREEZE`] of freezes, while the other stays on the top;
//! 3. the cap is lifted and the capped watcher is back on the top within [`SWITCH_WITHIN`].

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::ci::Outcome;
use crate::e2e::{
    Procs, num, page_url, remotes, reports, set_cap, setup, start_browser, start_sfu, token,
    wait_for,
};
use crate::e2e_link::{brief, client_named, freezes_since, remote_delta};

const ROOM: &str = "svc";
const MODE: &str = "L3T3";
/// The codecs tried: VP9 layers are read from its payload descriptor, AV1's from the
/// Dependency Descriptor extension.
const CODECS: [&str; 2] = ["vp9", "av1"];
/// The camera size: libwebrtc gives VP9 a spatial layer per halving down to 240x135, so
/// three layers need at least 960x540 (240, 480 and 960 px wide).
const VIDEO: &str = "960x540";
/// The width of the top spatial layer.
const TOP: u64 = 960;
/// The cap: above audio and the base spatial layer, below the top one.
const CAP_KBPS: u64 = 250;
/// How long both watchers must have been on the top layer before the cap.
const SETTLE: Duration = Duration::from_secs(5);
/// Time allowed for each switch.
const SWITCH_WITHIN: Duration = Duration::from_secs(15);
/// How long the capped watcher stays capped after it switched.
const CAPPED_FOR: Duration = Duration::from_secs(10);
/// Freezes allowed while capped, in seconds.
const MAX_FREEZE: f64 = 1.0;

/// Both codecs, as `cargo xtask ci` runs them.
pub(crate) fn run_all() -> anyhow::Result<Outcome> {
    for codec in CODECS {
        if run(codec)? == Outcome::Skipped {
            return Ok(Outcome::Skipped);
        }
    }
    Ok(Outcome::Passed)
}

/// The test with the publisher sending `codec` (`vp9`, `av1`).
pub(crate) fn run(codec: &str) -> anyhow::Result<Outcome> {
    let (chromium, sfu_bin, artifacts) = match setup()? {
        Ok(s) => s,
        Err(outcome) => return Ok(outcome),
    };
    let mut procs = Procs::default();
    let (base, sfu) = start_sfu(
        &sfu_bin,
        &artifacts,
        "sfu-svc.log",
        None,
        &["--bind", "127.0.0.1"],
    )?;
    procs.add(sfu);
    println!("e2e-svc {codec}: basic-sfu at {base}");
    let pages = [
        ("pub", format!("&svc={MODE}&video={VIDEO}&codec={codec}")),
        ("full", "&publish=none".to_string()),
        ("capped", "&publish=none".to_string()),
    ];
    for (i, (name, query)) in pages.iter().enumerate() {
        let page = page_url(&sfu_bin, &base, ROOM, name, query)?;
        procs.add(start_browser(
            &chromium,
            &page,
            &artifacts,
            20 + i,
            None,
            &[],
        )?);
    }
    let admin = token(&sfu_bin, ROOM, "e2e", true)?;
    let reports = || reports(&base, ROOM, &admin);
    let started = Instant::now();

    // The publisher's encoder ramps up over the first seconds: start from a room that has
    // been on the top layer for a while.
    let mut on_top_since: Option<Instant> = None;
    let first = wait_for(
        "both watchers decode the publisher's top layer for 5 s",
        90,
        || {
            let r = reports()?;
            if watchers_on_top(&r) < 2 {
                on_top_since = None;
                return Ok(Err(brief(&r)));
            }
            let since = *on_top_since.get_or_insert_with(Instant::now);
            Ok(if since.elapsed() >= SETTLE {
                Ok(r)
            } else {
                Err(brief(&r))
            })
        },
    )?;
    let publisher = client_named(&first, "pub").context("the publisher has no report")?;
    let mode = first
        .get(&publisher)
        .and_then(|p| p.get("sent"))
        .and_then(Value::as_object)
        .and_then(|m| m.values().next())
        .and_then(|l| l.get("scalabilityMode"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if mode != MODE {
        bail!(
            "the publisher sends {mode:?}, not {MODE}: {}",
            brief(&first)
        );
    }
    let capped = client_named(&first, "capped").context("no capped watcher")?;
    let full = client_named(&first, "full").context("no full watcher")?;
    let top = TOP;
    println!(
        "e2e-svc {codec}: both watchers on the top layer ({top}px) after {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        brief(&first)
    );

    // Waits until the capped watcher decodes a width `ok` accepts, while the full watcher
    // stays on the top.
    let wait_capped = |what: &str, ok: &dyn Fn(u64) -> bool| {
        wait_for(what, SWITCH_WITHIN.as_secs(), || {
            let r = reports()?;
            check_width(
                &r,
                &full,
                |w| w == top,
                "the full watcher left the top layer",
            )?;
            Ok(if width(&r, &capped).is_some_and(ok) {
                Ok(r)
            } else {
                Err(brief(&r))
            })
        })
    };

    set_cap(&base, ROOM, &admin, &capped, CAP_KBPS)?;
    let capped_at = Instant::now();
    let down = wait_capped("the capped watcher decodes a lower spatial layer", &|w| {
        w > 0 && w < top
    })?;
    let down_after = capped_at.elapsed();
    std::thread::sleep(CAPPED_FOR);
    let end = reports()?;
    check_width(
        &end,
        &full,
        |w| w == top,
        "the full watcher left the top layer",
    )?;
    check_width(
        &end,
        &capped,
        |w| w > 0 && w < top,
        "the capped watcher went back up under the cap",
    )?;
    let freezes = freezes_since(&down, &end, &capped);
    let fps = frames_decoded(&down, &end, &capped) / CAPPED_FOR.as_secs_f64();
    println!(
        "e2e-svc {codec}: capped to {CAP_KBPS} kbit/s: {}px after {:.1} s, then {fps:.1} frames/s and {freezes:.2} s of freezes over {} s; {}",
        width(&end, &capped).unwrap_or(0),
        down_after.as_secs_f64(),
        CAPPED_FOR.as_secs(),
        brief(&end)
    );
    if freezes >= MAX_FREEZE || fps < 5.0 {
        bail!(
            "capped, the watcher must keep decoding (>= 5 frames/s, < {MAX_FREEZE} s of freezes): {fps:.1} frames/s, {freezes:.2} s"
        );
    }

    set_cap(&base, ROOM, &admin, &capped, 0)?;
    let lifted_at = Instant::now();
    let back = wait_capped("the capped watcher is back on the top layer", &|w| w == top)?;
    println!(
        "e2e-svc {codec}: cap lifted: top layer after {:.1} s",
        lifted_at.elapsed().as_secs_f64()
    );
    for (name, id) in [("full", &full), ("capped", &capped)] {
        let (k, p, n) = back
            .get(id.as_str())
            .and_then(|rep| remotes(rep).next())
            .map_or((0, 0, 0), |(_, rem)| {
                (
                    num(rem, "keyFramesDecoded"),
                    num(rem, "pliCount"),
                    num(rem, "nackCount"),
                )
            });
        println!(
            "e2e-svc {codec}: the {name} watcher over the whole run: {k} keyframes decoded, {p} PLIs and {n} NACKs sent"
        );
    }
    println!("e2e-svc {codec}: 3 passed, 0 failed");
    Ok(Outcome::Passed)
}

/// The width `client` decodes its one remote video at.
fn width(r: &Value, client: &str) -> Option<u64> {
    let rep = r.get(client)?;
    remotes(rep).next().map(|(_, rem)| num(rem, "frameWidth"))
}

fn check_width(
    r: &Value,
    client: &str,
    ok: impl Fn(u64) -> bool,
    what: &str,
) -> anyhow::Result<()> {
    match width(r, client) {
        Some(w) if ok(w) => Ok(()),
        w => bail!("{what} ({w:?}px): {}", brief(r)),
    }
}

/// How many watchers decode the publisher's top spatial layer.
fn watchers_on_top(r: &Value) -> usize {
    let Some(map) = r.as_object() else {
        return 0;
    };
    map.keys().filter(|id| width(r, id) == Some(TOP)).count()
}

fn frames_decoded(before: &Value, after: &Value, client: &str) -> f64 {
    let Some(rep) = after.get(client) else {
        return 0.0;
    };
    remotes(rep)
        .map(|(rid, _)| remote_delta(before, after, client, rid, "framesDecoded"))
        .sum()
}
