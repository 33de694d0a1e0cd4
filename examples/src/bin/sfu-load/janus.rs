//! Janus's VideoRoom as a peer baseline: the process (started with a configuration this
//! module writes), its REST API, and str0m peers that publish and subscribe through it.
//!
//! Janus runs with one event loop (`event_loops = 1`, its most efficient setting on one
//! core), the HTTP transport and only the VideoRoom plugin. Janus never gathers loopback
//! candidates, so it runs in a network namespace of its own, joined by a veth pair to a
//! second namespace for the peers (one namespace would not do: a packet that arrives on
//! one veth end from the other's address is dropped as coming from a local address). The
//! peers' threads enter their namespace before they open a socket or call the API; their
//! traffic crosses the veth pair, where the other targets' crosses `lo`. Each peer has a
//! Janus session and handle of its own, long-polls the session's events on a thread, and
//! destroys the session when it stops.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, MediaKind};
use str0m::{Candidate, Rtc};

use crate::peer::{Counters, Media, Spawned, drive};
use crate::sfu::cpu_seconds;

/// Where Debian puts Janus's plugins and transports.
const LIB: &str = "/usr/lib/x86_64-linux-gnu/janus";
/// The veth end Janus gathers its candidate on, and its address.
const JANUS_DEV: &str = "vjanus";
const JANUS_IP: &str = "10.78.0.2";
/// The veth end the peers bind.
const PEER_DEV: &str = "vpeers";
const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);
/// Janus's HTTP port, on its veth address.
const HTTP_PORT: u16 = 8088;

/// A running Janus in a network namespace of its own, killed on drop (the namespaces and
/// the configuration directory removed).
pub(crate) struct Janus {
    child: Option<Child>,
    dir: PathBuf,
    /// Janus's namespace.
    janus_netns: String,
    /// The peers' namespace.
    pub(crate) netns: String,
    /// Its REST API, reached from the peers' namespace.
    pub(crate) api: String,
}

impl Drop for Janus {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = ip(&["netns", "del", &self.netns]);
        let _ = ip(&["netns", "del", &self.janus_netns]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `ip` with `args`.
fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running ip")?;
    if !out.status.success() {
        bail!(
            "ip {}: {} (the Janus baseline needs root for its network namespace)",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Moves the calling thread into network namespace `netns`: sockets it opens from now on,
/// and threads it starts, live there.
fn enter(netns: &str) -> anyhow::Result<()> {
    let ns = std::fs::File::open(format!("/var/run/netns/{netns}"))
        .with_context(|| format!("opening network namespace {netns}"))?;
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("entering network namespace {netns}"))?;
    Ok(())
}

/// Runs `f` on a thread inside `netns` and returns its result.
fn in_netns<T: Send>(
    netns: &str,
    f: impl FnOnce() -> anyhow::Result<T> + Send,
) -> anyhow::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            enter(netns)?;
            f()
        })
        .join()
        .map_err(|_| anyhow::anyhow!("a thread in {netns} panicked"))?
    })
}

impl Janus {
    /// Creates the namespace, writes a configuration and starts `bin` in it pinned to
    /// `core` (`none`: not pinned); returns once its API answers.
    pub(crate) fn start(bin: &Path, core: &str) -> anyhow::Result<Self> {
        let id = std::process::id();
        let dir = std::env::temp_dir().join(format!("sfu-load-janus-{id}"));
        std::fs::create_dir_all(&dir)?;
        write_config(&dir)?;
        let mut janus = Self {
            child: None,
            dir,
            janus_netns: format!("sfuload-janus-{id}"),
            netns: format!("sfuload-peers-{id}"),
            api: format!("http://{JANUS_IP}:{HTTP_PORT}/janus"),
        };
        let (jns, pns) = (janus.janus_netns.as_str(), janus.netns.as_str());
        ip(&["netns", "add", jns])?;
        ip(&["netns", "add", pns])?;
        ip(&[
            "link", "add", PEER_DEV, "netns", pns, "type", "veth", "peer", "name", JANUS_DEV,
            "netns", jns,
        ])?;
        let peer_cidr = format!("{PEER_IP}/24");
        let janus_cidr = format!("{JANUS_IP}/24");
        for (ns, dev, cidr) in [(pns, PEER_DEV, &peer_cidr), (jns, JANUS_DEV, &janus_cidr)] {
            ip(&["-n", ns, "addr", "add", cidr, "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            // Janus finds its own address through the default route.
            ip(&["-n", ns, "route", "add", "default", "dev", dev])?;
        }
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", jns]);
        if core != "none" && Command::new("taskset").arg("-V").output().is_ok() {
            cmd.args(["taskset", "-c", core]);
        }
        cmd.arg(bin).arg("-F").arg(&janus.dir);
        // Its log stays next to the configuration while it runs.
        let log = std::fs::File::create(janus.dir.join("janus.log"))?;
        janus.child = Some(
            cmd.stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .with_context(|| format!("starting {}", bin.display()))?,
        );
        let api = janus.api.clone();
        in_netns(pns, || {
            let deadline = Instant::now() + Duration::from_secs(15);
            while create_session(&api).is_err() {
                if Instant::now() > deadline {
                    bail!("Janus did not answer on {api} within 15 s");
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(())
        })?;
        Ok(janus)
    }

    /// CPU time Janus has used so far, in seconds.
    pub(crate) fn cpu_seconds(&self) -> anyhow::Result<f64> {
        cpu_seconds(self.child.as_ref().context("Janus is not running")?.id())
    }

    /// Creates VideoRoom room `room`.
    pub(crate) fn create_room(&self, room: u64, publishers: usize) -> anyhow::Result<()> {
        in_netns(&self.netns, || self.create_room_here(room, publishers))
    }

    fn create_room_here(&self, room: u64, publishers: usize) -> anyhow::Result<()> {
        let session = create_session(&self.api)?;
        let handle = attach(&self.api, session)?;
        let r = post(
            &format!("{}/{session}/{handle}", self.api),
            json!({
                "janus": "message",
                "body": {
                    "request": "create",
                    "room": room,
                    "publishers": publishers.max(1),
                    "videocodec": "vp8",
                    "bitrate": 0,
                    "notify_joining": false,
                },
            }),
        )?;
        let data = &r["plugindata"]["data"];
        if data["videoroom"] != "created" {
            bail!("Janus did not create room {room}: {r}");
        }
        destroy(&self.api, session);
        Ok(())
    }
}

fn write_config(dir: &Path) -> anyhow::Result<()> {
    let disabled_plugins = [
        "audiobridge",
        "duktape",
        "echotest",
        "lua",
        "nosip",
        "recordplay",
        "sip",
        "streaming",
        "textroom",
        "videocall",
        "voicemail",
    ]
    .map(|p| format!("libjanus_{p}.so"))
    .join(",");
    let disabled_transports = ["websockets", "mqtt", "nanomsg", "pfunix", "rabbitmq"]
        .map(|p| format!("libjanus_{p}.so"))
        .join(",");
    std::fs::write(
        dir.join("janus.jcfg"),
        format!(
            "general: {{\n  configs_folder = \"{}\"\n  plugins_folder = \"{LIB}/plugins\"\n  \
             transports_folder = \"{LIB}/transports\"\n  events_folder = \"{LIB}/events\"\n  \
             loggers_folder = \"{LIB}/loggers\"\n  debug_level = 2\n  event_loops = 1\n}}\n\
             nat: {{\n  ice_enforce_list = \"{JANUS_DEV}\"\n}}\n\
             plugins: {{\n  disable = \"{disabled_plugins}\"\n}}\n\
             transports: {{\n  disable = \"{disabled_transports}\"\n}}\n\
             loggers: {{\n  disable = \"libjanus_jsonlog.so\"\n}}\n\
             events: {{\n  broadcast = false\n}}\n",
            dir.display()
        ),
    )?;
    std::fs::write(
        dir.join("janus.transport.http.jcfg"),
        format!(
            "general: {{\n  json = \"compact\"\n  base_path = \"/janus\"\n  http = true\n  \
             port = {HTTP_PORT}\n  ip = \"{JANUS_IP}\"\n  https = false\n}}\n\
             admin: {{\n  admin_http = false\n}}\n"
        ),
    )?;
    std::fs::write(dir.join("janus.plugin.videoroom.jcfg"), "general: {\n}\n")?;
    Ok(())
}

/// POSTs a Janus request (a fresh transaction id added) and returns the reply; an
/// `error` reply is an error.
fn post(url: &str, mut request: Value) -> anyhow::Result<Value> {
    static TRANSACTION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    request["transaction"] = json!(TRANSACTION.fetch_add(1, Ordering::Relaxed).to_string());
    let body = ureq::post(url)
        .header("Content-Type", "application/json")
        .send(request.to_string())
        .with_context(|| format!("POST {url}"))?
        .body_mut()
        .read_to_string()?;
    let reply: Value = serde_json::from_str(&body)?;
    if reply["janus"] == "error" {
        bail!("Janus refused {request}: {reply}");
    }
    Ok(reply)
}

fn create_session(api: &str) -> anyhow::Result<u64> {
    post(api, json!({"janus": "create"}))?["data"]["id"]
        .as_u64()
        .context("no session id")
}

fn attach(api: &str, session: u64) -> anyhow::Result<u64> {
    post(
        &format!("{api}/{session}"),
        json!({"janus": "attach", "plugin": "janus.plugin.videoroom"}),
    )?["data"]["id"]
        .as_u64()
        .context("no handle id")
}

/// Destroys `session` (its handles leave their rooms); errors are of no use here.
fn destroy(api: &str, session: u64) {
    let _ = post(&format!("{api}/{session}"), json!({"janus": "destroy"}));
}

/// Session `session`'s events, long-polled by a thread of its own until the session is
/// destroyed or the receiver dropped.
fn events(api: &str, session: u64) -> mpsc::Receiver<Value> {
    let (tx, rx) = mpsc::channel();
    let url = format!("{api}/{session}?maxev=10");
    std::thread::spawn(move || {
        while let Ok(mut response) = ureq::get(&url).call() {
            let Ok(body) = response.body_mut().read_to_string() else {
                return;
            };
            let events = match serde_json::from_str::<Value>(&body) {
                Ok(Value::Array(events)) => events,
                Ok(event) => vec![event],
                Err(_) => return,
            };
            for e in events {
                if e["janus"] == "error" || tx.send(e).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// Tells Janus that the peer's SDP held all its candidates: Janus expects trickle ICE
/// and checks no pair before it knows gathering is complete.
fn end_of_candidates(handle_url: &str) -> anyhow::Result<()> {
    post(
        handle_url,
        json!({"janus": "trickle", "candidate": {"completed": true}}),
    )?;
    Ok(())
}

/// Waits for an event of the plugin that carries a JSEP (an answer or an offer).
fn jsep_event(events: &mpsc::Receiver<Value>) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = events
            .recv_timeout(left)
            .context("no SDP from Janus within 15 s")?;
        if e["jsep"]["sdp"].is_string() {
            return Ok(e);
        }
        if e["plugindata"]["data"]["error"].is_string() {
            bail!("Janus: {e}");
        }
    }
}

/// Starts a Janus peer of VideoRoom room `room` on a thread of its own inside Janus's
/// namespace: a publisher with `publish`, else a subscriber to `feeds`.
pub(crate) fn start(
    janus: &Janus,
    room: u64,
    publish: Option<Media>,
    feeds: Vec<u64>,
    count_at_socket: bool,
    stop: Arc<AtomicBool>,
) -> Spawned {
    let counters = Arc::new(Counters {
        count_at_socket,
        ..Counters::default()
    });
    let (api, netns) = (janus.api.clone(), janus.netns.clone());
    let (c, s) = (Arc::clone(&counters), Arc::clone(&stop));
    let thread = std::thread::spawn(move || {
        enter(&netns)?;
        let session = create_session(&api)?;
        let result = run(&api, session, room, publish, &feeds, &c, &s);
        destroy(&api, session);
        result
    });
    Spawned {
        counters,
        stop,
        thread,
    }
}

fn run(
    api: &str,
    session: u64,
    room: u64,
    publish: Option<Media>,
    feeds: &[u64],
    counters: &Counters,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let handle = attach(api, session)?;
    let url = format!("{api}/{session}/{handle}");
    let events = events(api, session);
    let socket = crate::socket::bind(IpAddr::V4(PEER_IP))?;
    let mut rtc = Rtc::builder().build(Instant::now());
    rtc.add_local_candidate(Candidate::host(socket.local_addr()?, "udp")?);
    // Offers for `drive`: the subscriber's one, from Janus; the sender stays alive.
    let (offers_tx, offers) = mpsc::channel();
    let video = if publish.is_some() {
        let mut change = rtc.sdp_api();
        let mid = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, pending) = change.apply().context("an offer")?;
        post(
            &url,
            json!({
                "janus": "message",
                "body": {"request": "joinandconfigure", "room": room, "ptype": "publisher"},
                "jsep": {"type": "offer", "sdp": offer.to_sdp_string()},
            }),
        )?;
        end_of_candidates(&url)?;
        let e = jsep_event(&events)?;
        if let Some(id) = e["plugindata"]["data"]["id"].as_u64() {
            counters.client.store(id, Ordering::Relaxed);
        }
        let sdp = e["jsep"]["sdp"].as_str().context("no answer")?;
        rtc.sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(sdp)?)?;
        Some(mid)
    } else {
        let streams: Vec<Value> = feeds.iter().map(|f| json!({"feed": f})).collect();
        post(
            &url,
            json!({
                "janus": "message",
                "body": {"request": "join", "room": room, "ptype": "subscriber", "streams": streams},
            }),
        )?;
        let e = jsep_event(&events)?;
        let sdp = e["jsep"]["sdp"].as_str().context("no offer")?;
        // Parsed here so a bad offer fails the peer at once, not in `drive`.
        SdpOffer::from_sdp_string(sdp)?;
        offers_tx.send(Ok(sdp.to_string()))?;
        None
    };
    drive(
        &mut rtc,
        &socket,
        &offers,
        publish,
        video,
        counters,
        stop,
        |answer| {
            post(
                &url,
                json!({
                    "janus": "message",
                    "body": {"request": "start"},
                    "jsep": {"type": "answer", "sdp": answer},
                }),
            )?;
            end_of_candidates(&url)
        },
    )
}
