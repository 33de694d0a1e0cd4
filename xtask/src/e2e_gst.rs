//! `cargo xtask e2e` part five: GStreamer publishes over WHIP, Chromium watches; Chromium
//! publishes, GStreamer plays over WHEP.
//!
//! GStreamer 1.22's `webrtcbin` with libnice, driven from Python, runs in the `sub`
//! namespace of the constrained-link test (unshaped), and basic-sfu with Chromium in `sfu`:
//! libnice, like Firefox, is not to be relied on for loopback candidates.
//!
//! WHIP: `examples/gst/whip-publish.py` pushes a 640×480 test pattern and a tone to
//! `POST /whip/{room}` with a bearer token, first in VP8, then in H.264. For each codec,
//! pass:
//! - the watcher decodes the WHIP publisher's video at 640 px, and its frame count rises by
//!   at least 10 frames/s over 5 s;
//! - when the script ends its session with `DELETE`, the watcher's tile for it goes.
//!
//! WHEP: a Chromium page publishes its camera (simulcast) and microphone;
//! `examples/gst/whep-play.py` offers one receive-only VP8 and one Opus m-line to
//! `POST /whep/{room}` with a watch-only token. Pass: it decodes 150 video frames within
//! 40 s, at the width of the publisher's top layer, and decodes audio; its `DELETE` ends
//! the session. Before it, from the same namespace, a bad token must get 401 and a
//! malformed offer 400 with the reason.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::ci::Outcome;
use crate::e2e::{
    find_chromium, num, num_f, page_url, received, skipped, start_browser, token, wait_for,
};
use crate::e2e_link::{NamespacedSfu, brief, client_named, post_sdp_in};
use crate::exec::root;

const ROOM: &str = "gst";
const PYTHON: &str = "/usr/bin/python3";
/// The test pattern's width.
const WIDTH: u64 = 640;
/// How long each WHIP session publishes before the script deletes it.
const PUBLISH_FOR: Duration = Duration::from_secs(25);
/// The window over which the frame count must rise.
const WINDOW: Duration = Duration::from_secs(5);
const MIN_FPS: f64 = 10.0;

/// Whether the Python bindings and the GStreamer elements the script needs are here.
fn gstreamer_ready() -> bool {
    Command::new(PYTHON)
        .args([
            "-c",
            "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstWebRTC','1.0'); \
             from gi.repository import Gst; Gst.init(None); import sys; \
             sys.exit(0 if all(Gst.ElementFactory.find(e) for e in \
             ['webrtcbin','vp8enc','x264enc','opusenc','nicesrc']) else 1)",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts `examples/gst/{script}` with `args` in namespace `ns`; its stdout comes back
/// line by line.
fn start_script(
    ns: &str,
    script: &str,
    args: &[&str],
    log: std::fs::File,
) -> anyhow::Result<(Child, mpsc::Receiver<String>)> {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, PYTHON])
        .arg(root().join("examples/gst").join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {script}"))?;
    let stdout = child.stdout.take().context("publisher stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Ok((child, rx))
}

pub(crate) fn run_all() -> anyhow::Result<Outcome> {
    let Some(chromium) = find_chromium() else {
        return skipped("no chromium found (apt-get install -y chromium)");
    };
    if !gstreamer_ready() {
        return skipped(
            "no GStreamer with webrtcbin for Python (apt-get install -y python3-gst-1.0 \
             gir1.2-gst-plugins-bad-1.0 gstreamer1.0-plugins-bad gstreamer1.0-plugins-good \
             gstreamer1.0-plugins-ugly gstreamer1.0-nice)",
        );
    }
    let mut env = match NamespacedSfu::start("e2e-gst", ROOM)? {
        Ok(env) => env,
        Err(outcome) => return Ok(outcome),
    };
    let (sfu_bin, artifacts) = (env.sfu_bin.clone(), env.artifacts.clone());
    let (local, remote) = (env.local.clone(), env.remote.clone());
    let (ns_sfu, ns_sub) = (env.ns.sfu.clone(), env.ns.sub.clone());
    let whip = format!("{remote}/whip/{ROOM}");
    let page = page_url(&sfu_bin, &local, ROOM, "watcher", "&publish=none")?;
    env.procs.add(start_browser(
        &chromium,
        &page,
        &artifacts,
        30,
        Some(&ns_sfu),
        &[],
    )?);
    let watcher = wait_for("the watcher's report", 60, || {
        let r = env.reports()?;
        Ok(client_named(&r, "watcher").ok_or_else(|| brief(&r)))
    })?;

    for codec in ["vp8", "h264"] {
        let name = format!("gst-{codec}");
        let publish_token = token(&sfu_bin, ROOM, &name, false)?;
        let log = std::fs::File::create(artifacts.join(format!("whip-publish-{codec}.log")))?;
        let seconds = PUBLISH_FOR.as_secs().to_string();
        let args = [
            "--url",
            &whip,
            "--token",
            &publish_token,
            "--codec",
            codec,
            "--seconds",
            &seconds,
        ];
        let (child, lines) = start_script(&ns_sub, "whip-publish.py", &args, log)?;
        let pid = child.id();
        env.procs.add(child);
        let location = lines
            .recv_timeout(Duration::from_secs(40))
            .ok()
            .and_then(|l| l.strip_prefix("location ").map(str::to_string))
            .with_context(|| {
                format!("whip-publish.py ({codec}) gave no session; see target/e2e/whip-publish-{codec}.log")
            })?;
        // The session URL is /whip/{room}/{client}/{secret}.
        let publisher = location
            .rsplit('/')
            .nth(1)
            .context("a session URL without a client id")?
            .to_string();
        println!("e2e-gst: {codec}: WHIP session {location}");
        let first = wait_for(
            &format!("the watcher decodes the {codec} WHIP publisher at {WIDTH} px"),
            60,
            || {
                let r = env.reports()?;
                Ok(
                    match received(&r, &watcher, &publisher)
                        .filter(|v| num(v, "framesDecoded") > 0 && num(v, "frameWidth") == WIDTH)
                    {
                        Some(_) => Ok(r),
                        None => Err(brief(&r)),
                    },
                )
            },
        )?;
        let start = Instant::now();
        std::thread::sleep(WINDOW);
        let last = env.reports()?;
        let (a, b) = (
            received(&first, &watcher, &publisher).context("stream gone")?,
            received(&last, &watcher, &publisher).context("stream gone")?,
        );
        let fps =
            (num_f(b, "framesDecoded") - num_f(a, "framesDecoded")) / start.elapsed().as_secs_f64();
        println!(
            "e2e-gst: {codec}: the watcher decodes {fps:.1} frames/s at {} px, {} audio packets",
            num(b, "frameWidth"),
            num(b, "audioPackets")
        );
        if fps < MIN_FPS {
            bail!(
                "{codec}: the watcher decodes {fps:.1} frames/s < {MIN_FPS}: {}",
                brief(&last)
            );
        }
        // The script ends its session with DELETE after PUBLISH_FOR.
        let deleted = lines
            .recv_timeout(PUBLISH_FOR + Duration::from_secs(15))
            .ok()
            .filter(|l| l == "deleted");
        if deleted.is_none() {
            bail!(
                "whip-publish.py ({codec}) did not end its session; see target/e2e/whip-publish-{codec}.log"
            );
        }
        env.procs.kill(pid);
        wait_for(
            &format!("the watcher's tile for the {codec} publisher goes"),
            30,
            || {
                let r = env.reports()?;
                let tiles = r.get(&watcher).map_or(u64::MAX, |w| num(w, "tiles"));
                Ok(if tiles == 0 { Ok(()) } else { Err(brief(&r)) })
            },
        )?;
        println!("e2e-gst: {codec}: DELETE ended the session and the tile went");
    }
    whep(&mut env, &chromium)?;
    Ok(Outcome::Passed)
}

/// Video frames the WHEP player must decode.
const WHEP_FRAMES: u64 = 150;

/// A Chromium page publishes; `whep-play.py` plays the room over WHEP.
fn whep(env: &mut NamespacedSfu, chromium: &std::path::Path) -> anyhow::Result<()> {
    let (sfu_bin, artifacts) = (env.sfu_bin.clone(), env.artifacts.clone());
    let page = page_url(&sfu_bin, &env.local, ROOM, "camera", "")?;
    env.procs.add(start_browser(
        chromium,
        &page,
        &artifacts,
        31,
        Some(&env.ns.sfu),
        &[],
    )?);
    // The camera publishes once the watcher decodes it; its top layer's width is what the
    // player should get on an unshaped link.
    let top = wait_for("the watcher decodes the camera", 60, || {
        let r = env.reports()?;
        let found = client_named(&r, "watcher")
            .zip(client_named(&r, "camera"))
            .and_then(|(w, c)| {
                let decoding = received(&r, &w, &c).is_some_and(|v| num(v, "framesDecoded") > 0);
                let top = r[&c]["sent"]
                    .as_object()?
                    .values()
                    .map(|l| num(l, "frameWidth"))
                    .max()?;
                (decoding && top > 0).then_some(top)
            });
        Ok(found.ok_or_else(|| brief(&r)))
    })?;
    let whep = format!("{}/whep/{ROOM}", env.remote);
    let watch_token = token(&sfu_bin, ROOM, "gst-player", false)?;
    // Refusals, from where the player runs: a bad token, and an offer that is not SDP.
    let (status, why) = post_sdp_in(&env.ns.sub, &whep, "not.a.jwt", "v=0")?;
    if status != 401 {
        bail!("whep: a bad token got {status} {why:?}, not 401");
    }
    let (status, why) = post_sdp_in(&env.ns.sub, &whep, &watch_token, "v=0 not sdp")?;
    if status != 400 || !why.contains("offer refused") {
        bail!("whep: a malformed offer got {status} {why:?}, not 400 with a reason");
    }
    println!("e2e-gst: whep: a bad token gets 401, a malformed offer 400 ({why})");
    let frames = WHEP_FRAMES.to_string();
    let args = ["--url", &whep, "--token", &watch_token, "--frames", &frames];
    let log = std::fs::File::create(artifacts.join("whep-play.log"))?;
    let (child, lines) = start_script(&env.ns.sub, "whep-play.py", &args, log)?;
    let pid = child.id();
    env.procs.add(child);
    let mut last = None;
    let deadline = Instant::now() + Duration::from_secs(70);
    let mut location = None;
    while let Some(line) = deadline
        .checked_duration_since(Instant::now())
        .and_then(|left| lines.recv_timeout(left).ok())
    {
        if let Some(l) = line.strip_prefix("location ") {
            println!("e2e-gst: whep: session {l}");
            location = Some((l.to_string(), Instant::now()));
        } else if line == "deleted" {
            break;
        } else if line.starts_with("video ") {
            last = Some(line);
        }
    }
    env.procs.kill(pid);
    let log = "see target/e2e/whep-play.log";
    let (_, started) = location.with_context(|| format!("whep-play.py got no session; {log}"))?;
    let took = started.elapsed().as_secs_f64();
    let last = last.with_context(|| format!("whep-play.py reported nothing; {log}"))?;
    // `video FRAMES WIDTHxHEIGHT audio BUFFERS`
    let fields: Vec<&str> = last.split_whitespace().collect();
    let (decoded, size, audio) = match fields[..] {
        ["video", f, size, "audio", a] => (f.parse::<u64>()?, size, a.parse::<u64>()?),
        _ => bail!("whep-play.py reported {last:?}"),
    };
    let width: u64 = size.split('x').next().unwrap_or("0").parse()?;
    println!(
        "e2e-gst: whep: GStreamer decoded {decoded} frames at {size} (the camera's top layer is \
         {top} px wide) and {audio} audio buffers in {took:.1} s"
    );
    if decoded < WHEP_FRAMES || width != top || audio == 0 {
        bail!(
            "whep: {decoded} of {WHEP_FRAMES} frames, {width} px of {top}, {audio} audio buffers; {log}"
        );
    }
    Ok(())
}
