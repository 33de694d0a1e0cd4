//! Attacks on basic-sfu's signaling, against the real binary: impersonation, cross-origin
//! requests, oversized bodies and resource exhaustion must each be refused with a clear
//! status, and the victim must keep its place.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use str0m::media::{Direction, MediaKind};
use str0m::{Rtc, RtcConfig};

const SECRET: &str = "attack-suite-secret-0123456789";

/// A running basic-sfu, killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_basic-sfu"))
            .args(["--http-port", "0", "--api-secret", SECRET])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("basic-sfu starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("first line");
        let base = line
            .trim()
            .strip_prefix("open ")
            .and_then(|u| u.split("/?").next())
            .expect("the URL line")
            .to_string();
        Self { child, base }
    }

    fn token(&self, room: &str, name: &str, flags: &[&str]) -> String {
        token_with(SECRET, room, name, flags)
    }

    /// POST `path` with `body`, optional extra header; returns (status, body).
    ///
    /// A server that refuses a body over its limit answers and closes the connection
    /// once it has read that much; when that beats the last of our write, the write fails
    /// with a broken pipe (or a reset) and the answer is lost. Such a request is sent
    /// again, up to 8 times.
    fn post(&self, path: &str, body: &str, header: Option<(&str, &str)>) -> (u16, String) {
        let send = || {
            let mut req = ureq::post(&format!("{}{path}", self.base));
            if let Some((k, v)) = header {
                req = req.header(k, v);
            }
            req.config().http_status_as_error(false).build().send(body)
        };
        let cut_short = |r: &Result<_, ureq::Error>| {
            matches!(r, Err(ureq::Error::Io(e)) if matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ))
        };
        let mut r = send();
        for _ in 0..7 {
            if !cut_short(&r) {
                break;
            }
            r = send();
        }
        reply(r)
    }

    fn get(&self, path: &str) -> (u16, String) {
        reply(
            ureq::get(&format!("{}{path}", self.base))
                .config()
                .http_status_as_error(false)
                .build()
                .call(),
        )
    }

    /// Joins `room` with `offer`; returns (client, secret) on success, else the status.
    fn join(&self, room: &str, token: &str, offer: &str) -> Result<(u64, String), (u16, String)> {
        let (status, body) =
            self.post(&format!("/api/join?room={room}&token={token}"), offer, None);
        if status != 200 {
            return Err((status, body));
        }
        let v: serde_json::Value = serde_json::from_str(&body).expect("join answers JSON");
        Ok((
            v["client"].as_u64().expect("client id"),
            v["secret"].as_str().expect("secret").to_string(),
        ))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token_with(secret: &str, room: &str, name: &str, flags: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_basic-sfu"))
        .args(["--api-secret", secret, "token", "--token-only"])
        .args(["--room", room, "--name", name])
        .args(flags)
        .output()
        .expect("basic-sfu token runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn reply(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, String) {
    let mut r = r.expect("the server answers");
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().unwrap_or_default())
}

/// A browser-like offer with `m` m-lines in direction `dir`.
fn offer(m: usize, dir: Direction) -> String {
    let mut rtc: Rtc = RtcConfig::new().build(Instant::now());
    let mut change = rtc.sdp_api();
    for i in 0..m {
        let kind = if i % 2 == 0 {
            MediaKind::Audio
        } else {
            MediaKind::Video
        };
        change.add_media(kind, dir, None, None, None);
    }
    let (offer, _) = change.apply().expect("an offer");
    offer.to_sdp_string()
}

#[test]
fn nobody_can_act_for_someone_else() {
    let sfu = Server::start(&[]);
    let send = offer(2, Direction::SendRecv);

    // Joining needs a valid token for that very room, with the grants the offer uses.
    assert_eq!(sfu.join("a", "", &send).unwrap_err().0, 401);
    assert_eq!(sfu.join("a", "not.a.jwt", &send).unwrap_err().0, 401);
    let forged = token_with("some-other-secret-0123", "a", "mallory", &[]);
    assert_eq!(sfu.join("a", &forged, &send).unwrap_err().0, 401);
    let other_room = sfu.token("b", "mallory", &[]);
    assert_eq!(sfu.join("a", &other_room, &send).unwrap_err().0, 403);
    let watch_only = sfu.token("a", "mallory", &["--no-publish"]);
    let (status, msg) = sfu.join("a", &watch_only, &send).unwrap_err();
    assert_eq!(status, 403, "{msg}");
    assert!(msg.contains("publish"), "{msg}");

    let (victim, victim_secret) = sfu
        .join("a", &sfu.token("a", "victim", &[]), &send)
        .expect("the victim joins");
    let (_attacker, attacker_secret) = sfu
        .join("a", &watch_only, &offer(1, Direction::RecvOnly))
        .expect("a watch-only join");

    // Every call about the victim, without its secret or with another one.
    for secret in [None, Some(attacker_secret.as_str()), Some("00")] {
        let q = |path: &str| match secret {
            Some(s) => format!("{path}?room=a&client={victim}&secret={s}"),
            None => format!("{path}?room=a&client={victim}"),
        };
        let expect = if secret.is_none() { 401 } else { 403 };
        assert_eq!(sfu.post(&q("/api/answer"), "v=0", None).0, expect);
        assert_eq!(sfu.post(&q("/api/leave"), "", None).0, expect);
        assert_eq!(
            sfu.post(&(q("/api/bitrate") + "&kbps=1"), "", None).0,
            expect
        );
        let unsubscribe = q("/api/subscribe") + "&publisher=2&mid=0&on=false";
        assert_eq!(sfu.post(&unsubscribe, "", None).0, expect);
        assert_eq!(sfu.post(&q("/api/report"), "{}", None).0, expect);
        assert_eq!(sfu.get(&q("/api/events")).0, expect);
    }
    // A participant's own token is no admin token.
    let own = sfu.token("a", "mallory", &[]);
    assert_eq!(sfu.get(&format!("/api/reports?room=a&token={own}")).0, 403);
    assert_eq!(sfu.get("/api/reports?room=a").0, 401);
    assert_eq!(
        sfu.post(
            &format!("/api/bitrate?room=a&client={victim}&kbps=1&token={own}"),
            "",
            None
        )
        .0,
        403
    );
    // No dev tokens on a server with a secret.
    assert_eq!(sfu.get("/api/dev-token?room=a").0, 404);
    // A page of another site cannot make the user's browser act, whatever it carries.
    let token = sfu.token("a", "alice", &[]);
    let (status, _) = sfu.post(
        &format!("/api/join?room=a&token={token}"),
        &send,
        Some(("Origin", "http://evil.example")),
    );
    assert_eq!(status, 403);

    // The victim is untouched: its own secret still opens its event stream, an admin can
    // still cap it.
    let admin = sfu.token("a", "ops", &["--admin"]);
    assert_eq!(
        sfu.post(
            &format!("/api/bitrate?room=a&client={victim}&kbps=300&token={admin}"),
            "",
            None
        )
        .0,
        204
    );
    let mut events = ureq::get(&format!(
        "{}/api/events?room=a&client={victim}&secret={victim_secret}",
        sfu.base
    ))
    .call()
    .expect("the victim's event stream opens");
    assert_eq!(events.status().as_u16(), 200);
    let mut first = String::new();
    BufReader::new(events.body_mut().as_reader())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("event: peers"), "{first}");

    let metrics = sfu.get("/metrics").1;
    assert!(
        metrics.contains("sfu_signaling_refused_total{status=\"401\"}"),
        "{metrics}"
    );
}

#[test]
fn limits_answer_with_a_status_and_a_message() {
    let sfu = Server::start(&[
        "--max-rooms",
        "2",
        "--max-participants",
        "2",
        "--max-tracks",
        "4",
    ]);
    let send = offer(2, Direction::SendRecv);
    for room in ["r1", "r2"] {
        sfu.join(room, &sfu.token(room, "x", &[]), &send)
            .expect("within the limits");
    }
    let (status, msg) = sfu
        .join("r3", &sfu.token("r3", "x", &[]), &send)
        .unwrap_err();
    assert_eq!(status, 429, "{msg}");
    assert!(msg.contains("rooms"), "{msg}");

    sfu.join("r1", &sfu.token("r1", "y", &[]), &send)
        .expect("the second participant");
    let (status, msg) = sfu
        .join("r1", &sfu.token("r1", "z", &[]), &send)
        .unwrap_err();
    assert_eq!((status, msg.contains("full")), (429, true), "{msg}");

    let (status, msg) = sfu
        .join(
            "r2",
            &sfu.token("r2", "w", &[]),
            &offer(5, Direction::SendRecv),
        )
        .unwrap_err();
    assert_eq!(status, 400, "{msg}");
    assert!(msg.contains("m-lines"), "{msg}");
    // 200 m-lines would be 200 tracks at every other peer. Such an offer is over the
    // 64 KiB body limit already (413); the m-line limit (16 by default) refuses smaller
    // ones (400), as above.
    let many = Server::start(&[]);
    let (status, msg) = many
        .join(
            "r",
            &many.token("r", "w", &[]),
            &offer(200, Direction::SendRecv),
        )
        .unwrap_err();
    assert!(matches!(status, 400 | 413), "{status} {msg}");
    assert!(!msg.is_empty());
    let (status, msg) = many
        .join(
            "r",
            &many.token("r", "w", &[]),
            &offer(17, Direction::SendRecv),
        )
        .unwrap_err();
    assert_eq!(status, 400, "{msg}");
    assert!(msg.contains("m-lines"), "{msg}");

    let huge = "a".repeat(64 * 1024 + 1);
    assert_eq!(
        sfu.join("r2", &sfu.token("r2", "w", &[]), &huge)
            .unwrap_err()
            .0,
        413
    );
    let (client, secret) = sfu
        .join("r2", &sfu.token("r2", "v", &[]), &send)
        .expect("the second participant of r2");
    let report = format!("{{\"x\":\"{}\"}}", "a".repeat(64 * 1024));
    let path = format!("/api/report?room=r2&client={client}&secret={secret}");
    assert_eq!(sfu.post(&path, &report, None).0, 413);
    assert_eq!(sfu.post(&path, "{\"ok\":1}", None).0, 204);

    let metrics = sfu.get("/metrics").1;
    for status in ["413", "429"] {
        assert!(
            metrics.contains(&format!(
                "sfu_signaling_refused_total{{status=\"{status}\"}}"
            )),
            "{status} not counted: {metrics}"
        );
    }
}

/// Sends a join and closes the connection without waiting for the answer.
fn abort_join(sfu: &Server, room: &str, token: &str, offer: &str) {
    use std::io::Write;
    let host = sfu.base.trim_start_matches("http://");
    let mut tcp = std::net::TcpStream::connect(host).expect("connect");
    let request = format!(
        "POST /api/join?room={room}&token={token} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{offer}",
        offer.len()
    );
    tcp.write_all(request.as_bytes()).expect("send");
    drop(tcp);
}

fn gauge(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn aborted_joins_and_a_flood_of_rooms_leave_nothing_behind() {
    let sfu = Server::start(&["--max-rooms", "40", "--join-rate", "0"]);
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", sfu.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let baseline = fds();
    let send = offer(2, Direction::SendRecv);

    for i in 0..200 {
        let room = format!("abort{i}");
        abort_join(&sfu, &room, &sfu.token(&room, "gone", &[]), &send);
    }
    let (mut joined, mut refused) = (0, 0);
    for i in 0..1000 {
        let room = format!("flood{i}");
        match sfu.join(&room, &sfu.token(&room, "x", &[]), &send) {
            Ok(_) => joined += 1,
            Err((429, _)) => refused += 1,
            Err(e) => panic!("unexpected refusal {e:?}"),
        }
    }
    assert!(
        joined <= 40 && joined + refused == 1000,
        "{joined} joined, {refused} refused"
    );
    assert!(
        refused >= 960,
        "the cap held: {joined} joined, {refused} refused"
    );

    // Joined pages never open their event streams: they are removed after 20 s, and with
    // them their rooms, sockets and tasks.
    let deadline = Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let rooms = gauge(&sfu.get("/metrics").1, "sfu_rooms").unwrap_or(-1.0);
        if rooms == 0.0 {
            break;
        }
        assert!(Instant::now() < deadline, "{rooms} rooms still open");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let after = fds();
    assert!(
        after <= baseline + 2,
        "file descriptors leaked: {baseline} at start, {after} at the end"
    );
}

/// The UDP port of the host candidate in an SDP answer.
fn candidate_port(answer: &str) -> u16 {
    answer
        .lines()
        .find_map(|l| l.strip_prefix("a=candidate:"))
        .and_then(|c| c.split(' ').nth(5))
        .and_then(|p| p.parse().ok())
        .expect("a host candidate")
}

/// Joins `room` as a publisher: (client id, secret, the media port its answer names).
fn join_for_port(sfu: &Server, room: &str) -> (u64, String, u16) {
    let token = sfu.token(room, "x", &[]);
    let send = offer(2, Direction::SendRecv);
    let (status, body) = sfu.post(&format!("/api/join?room={room}&token={token}"), &send, None);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    (
        v["client"].as_u64().unwrap(),
        v["secret"].as_str().unwrap().to_string(),
        candidate_port(v["answer"].as_str().unwrap()),
    )
}

#[test]
fn ports_of_closed_rooms_are_reused() {
    // A port range of our own, away from other tests.
    let first = 42_000 + (std::process::id() % 1000) as u16 * 8;
    let sfu = Server::start(&[
        "--port-per-room",
        "--udp-port",
        &first.to_string(),
        "--join-rate",
        "0",
    ]);
    let join = |room: &str| join_for_port(&sfu, room);
    let (a, a_secret, a_port) = join("a");
    let (_, _, b_port) = join("b");
    assert_eq!((a_port, b_port), (first, first + 1));
    let leave = format!("/api/leave?room=a&client={a}&secret={a_secret}");
    assert_eq!(sfu.post(&leave, "", None).0, 204);
    let (_, _, c_port) = join("c");
    assert_eq!(c_port, first, "the closed room's port is taken again");
    // The closed room's counts stay in the process's totals.
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let removed = gauge(&sfu.get("/metrics").1, "sfu_clients_removed_total").unwrap_or(0.0);
        if removed >= 1.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed room's removal was not counted"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn every_room_shares_one_media_port() {
    let sfu = Server::start(&["--join-rate", "0"]);
    let port = |room: &str| join_for_port(&sfu, room).2;
    let a = port("a");
    assert_eq!(port("b"), a);
    assert_eq!(port("c"), a);
}

#[test]
fn joins_are_rate_limited_per_address() {
    let sfu = Server::start(&["--join-rate", "5"]);
    let send = offer(2, Direction::SendRecv);
    for i in 0..5 {
        let room = format!("r{i}");
        sfu.join(&room, &sfu.token(&room, "x", &[]), &send)
            .expect("within the rate");
    }
    let (status, msg) = sfu
        .join("r9", &sfu.token("r9", "x", &[]), &send)
        .unwrap_err();
    assert_eq!(status, 429, "{msg}");
    assert!(msg.contains("too many joins"), "{msg}");
}

#[test]
fn https_serves_the_page_and_refuses_strangers_the_same_way() {
    let sfu = Server::start(&["--tls-self-signed"]);
    assert!(sfu.base.starts_with("https://"), "{}", sfu.base);
    // curl, with the self-signed certificate accepted (-k).
    let fetch = |path: &str| {
        let out = Command::new("curl")
            .args(["-sk", "-o", "/dev/stderr", "-w", "%{http_code}"])
            .arg(format!("{}{path}", sfu.base))
            .output()
            .expect("curl runs");
        (
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (status, page) = fetch("/");
    assert_eq!(status, "200");
    assert!(page.contains("<html"), "{page}");
    assert_eq!(fetch("/api/reports?room=a").0, "401");
}

/// A WHIP or WHEP request: (status, `Location`, `ETag`, body).
fn whip(
    sfu: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> (u16, Option<String>, Option<String>, String) {
    let url = format!("{}{path}", sfu.base);
    let mut req = ureq::http::Request::builder().method(method).uri(&url);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    if let Some(c) = content_type {
        req = req.header("Content-Type", c);
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .build()
        .into();
    let mut r = agent
        .run(req.body(body.to_string()).unwrap())
        .expect("the server answers");
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (location, etag) = (header("location"), header("etag"));
    let status = r.status().as_u16();
    (
        status,
        location,
        etag,
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

#[test]
fn whip_publishes_with_a_bearer_token_and_ends_with_delete() {
    let sfu = Server::start(&["--join-rate", "0"]);
    let send = offer(2, Direction::SendOnly);
    let token = sfu.token("w", "obs", &[]);
    let sdp = Some("application/sdp");
    // Refused: no token, a token for another room, a watch-only token, not SDP, bad SDP.
    assert_eq!(whip(&sfu, "POST", "/whip/w", None, sdp, &send).0, 401);
    let other = sfu.token("x", "obs", &[]);
    assert_eq!(
        whip(&sfu, "POST", "/whip/w", Some(&other), sdp, &send).0,
        403
    );
    let watch = sfu.token("w", "obs", &["--no-publish"]);
    assert_eq!(
        whip(&sfu, "POST", "/whip/w", Some(&watch), sdp, &send).0,
        403
    );
    let (status, _, _, msg) = whip(
        &sfu,
        "POST",
        "/whip/w",
        Some(&token),
        Some("text/plain"),
        &send,
    );
    assert_eq!(status, 415, "{msg}");
    let (status, _, _, msg) = whip(&sfu, "POST", "/whip/w", Some(&token), sdp, "v=0 not sdp");
    assert_eq!(status, 400, "{msg}");
    assert!(msg.contains("offer refused"), "{msg}");

    let (status, location, etag, answer) = whip(&sfu, "POST", "/whip/w", Some(&token), sdp, &send);
    assert_eq!(status, 201, "{answer}");
    assert!(answer.starts_with("v=0"), "{answer}");
    let location = location.expect("a Location");
    assert!(location.starts_with("/whip/w/"), "{location}");
    assert!(etag.is_some());
    let roster = sfu.get(&format!(
        "/api/reports?room=w&token={}",
        sfu.token("w", "ops", &["--admin"])
    ));
    assert_eq!(roster.0, 200);

    let (status, ..) = whip(&sfu, "OPTIONS", "/whip/w", None, None, "");
    assert_eq!(status, 200);
    assert_eq!(
        whip(
            &sfu,
            "PATCH",
            &location,
            None,
            Some("application/trickle-ice-sdpfrag"),
            ""
        )
        .0,
        405
    );
    // The session's URL is its capability: another secret is refused.
    let (prefix, _) = location.rsplit_once('/').unwrap();
    assert_eq!(
        whip(&sfu, "DELETE", &format!("{prefix}/00"), None, None, "").0,
        403
    );
    assert_eq!(whip(&sfu, "DELETE", &location, None, None, "").0, 200);
    assert_eq!(whip(&sfu, "DELETE", &location, None, None, "").0, 404);
}

#[test]
fn a_participants_own_offers_need_its_secret_and_its_grants() {
    let sfu = Server::start(&["--join-rate", "0"]);
    let watch = sfu.token("o", "viewer", &["--no-publish"]);
    let (client, secret) = sfu
        .join("o", &watch, &offer(1, Direction::RecvOnly))
        .expect("a viewer joins");
    let path = |secret: &str| format!("/api/offer?room=o&client={client}&secret={secret}");
    let sends = offer(2, Direction::SendOnly);
    // Someone else's offer for this participant, without its secret.
    assert_eq!(sfu.post(&path("00"), &sends, None).0, 403);
    assert_eq!(
        sfu.post(&format!("/api/offer?room=o&client={client}"), &sends, None)
            .0,
        401
    );
    // A watch-only participant cannot start publishing.
    let (status, msg) = sfu.post(&path(&secret), &sends, None);
    assert_eq!(status, 403, "{msg}");
    assert!(msg.contains("publish"), "{msg}");
    // Junk and an offer of another connection are refused with the reason, and the
    // participant is still there.
    let (status, msg) = sfu.post(&path(&secret), "v=0 not sdp", None);
    assert_eq!(status, 400, "{msg}");
    assert!(msg.contains("offer refused"), "{msg}");
    let (status, msg) = sfu.post(&path(&secret), &offer(3, Direction::RecvOnly), None);
    assert!(status == 200 || status == 400, "{status} {msg}");
    let (status, msg) = sfu.post(
        &format!("{}&screen=not%20a%20mid", path(&secret)),
        &offer(1, Direction::RecvOnly),
        None,
    );
    assert_eq!(status, 400, "{msg}");
    assert!(sfu.get(&format!("/api/offer?room=o&client={client}")).0 >= 400);
}

#[test]
fn whep_plays_with_any_token_of_the_room_and_refuses_what_is_not_a_viewer() {
    let sfu = Server::start(&["--join-rate", "0"]);
    let watch = offer(2, Direction::RecvOnly);
    let token = sfu.token("p", "player", &["--no-publish"]);
    let sdp = Some("application/sdp");
    // Refused: no token, a bad token, another room's, not SDP, bad SDP, an offer that
    // sends, an offer with nothing to receive on.
    assert_eq!(whip(&sfu, "POST", "/whep/p", None, sdp, &watch).0, 401);
    assert_eq!(
        whip(&sfu, "POST", "/whep/p", Some("not.a.jwt"), sdp, &watch).0,
        401
    );
    let other = sfu.token("x", "player", &[]);
    assert_eq!(
        whip(&sfu, "POST", "/whep/p", Some(&other), sdp, &watch).0,
        403
    );
    let (status, _, _, msg) = whip(&sfu, "POST", "/whep/p", Some(&token), None, &watch);
    assert_eq!(status, 415, "{msg}");
    // A watch-only token cannot send; a token that may publish still cannot over WHEP.
    let sends = offer(2, Direction::SendRecv);
    let (status, _, _, msg) = whip(&sfu, "POST", "/whep/p", Some(&token), sdp, &sends);
    assert_eq!(status, 403, "{msg}");
    let publisher = sfu.token("p", "camera", &[]);
    for (token, body, says) in [
        (&token, "v=0 not sdp".to_string(), "offer refused"),
        (&publisher, sends, "receives only"),
        (&token, offer(2, Direction::Inactive), "a=recvonly"),
    ] {
        let (status, _, _, msg) = whip(&sfu, "POST", "/whep/p", Some(token), sdp, &body);
        assert_eq!(status, 400, "{msg}");
        assert!(msg.contains(says), "{msg}");
    }

    let (status, location, etag, answer) = whip(&sfu, "POST", "/whep/p", Some(&token), sdp, &watch);
    assert_eq!(status, 201, "{answer}");
    assert!(answer.contains("a=sendonly"), "{answer}");
    let location = location.expect("a Location");
    assert!(location.starts_with("/whep/p/"), "{location}");
    assert!(etag.is_some());
    let (prefix, _) = location.rsplit_once('/').unwrap();
    assert_eq!(
        whip(&sfu, "DELETE", &format!("{prefix}/00"), None, None, "").0,
        403
    );
    assert_eq!(whip(&sfu, "PATCH", &location, None, None, "").0, 405);
    assert_eq!(whip(&sfu, "DELETE", &location, None, None, "").0, 200);
    assert_eq!(whip(&sfu, "DELETE", &location, None, None, "").0, 404);
}

#[test]
fn whip_answers_pages_of_other_sites_but_the_api_does_not() {
    let sfu = Server::start(&["--join-rate", "0"]);
    let evil = "http://publisher.example";
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .build()
        .into();
    // The browser's preflight for a WHIP POST with a token.
    let preflight = ureq::http::Request::builder()
        .method("OPTIONS")
        .uri(format!("{}/whip/w", sfu.base))
        .header("Origin", evil)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .body(String::new())
        .unwrap();
    let r = agent.run(preflight).expect("the server answers");
    assert!(r.status().is_success(), "{}", r.status());
    let allowed = |r: &ureq::http::Response<ureq::Body>, h: &str| {
        r.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(
        allowed(&r, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert_eq!(
        allowed(&r, "accept-post").as_deref(),
        Some("application/sdp")
    );
    // The POST itself, from that page, with a token.
    let token = sfu.token("w", "web", &[]);
    let post = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{}/whip/w", sfu.base))
        .header("Origin", evil)
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/sdp")
        .body(offer(2, Direction::SendOnly))
        .unwrap();
    let r = agent.run(post).expect("the server answers");
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(
        allowed(&r, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert!(
        allowed(&r, "access-control-expose-headers")
            .is_some_and(|h| h.to_lowercase().contains("location"))
    );
    // The page's own API stays same-origin.
    let (status, _) = sfu.post(
        &format!("/api/join?room=w&token={token}"),
        &offer(2, Direction::SendOnly),
        Some(("Origin", evil)),
    );
    assert_eq!(status, 403);
}

#[test]
fn relays_need_the_relay_secret_and_relay_calls_need_a_relay() {
    // A node without a relay secret takes no relays at all.
    let plain = Server::start(&[]);
    let send = offer(2, Direction::SendRecv);
    assert_eq!(plain.post("/api/relay?room=a&node=x", &send, None).0, 404);

    let relay_secret = "relay-secret-0123456789";
    let sfu = Server::start(&["--relay-secret", relay_secret]);
    let bearer = format!("Bearer {relay_secret}");
    let relay = |room: &str, body: &str, auth: Option<&str>| {
        sfu.post(
            &format!("/api/relay?room={room}&node=x"),
            body,
            auth.map(|a| ("Authorization", a)),
        )
    };
    assert_eq!(relay("a", &send, None).0, 401);
    assert_eq!(
        relay("a", &send, Some("Bearer not-the-secret-at-all")).0,
        403
    );
    // An access token for the room is no relay secret.
    let token = format!("Bearer {}", sfu.token("a", "mallory", &[]));
    assert_eq!(relay("a", &send, Some(&token)).0, 403);
    assert_eq!(relay("no/such", &send, Some(&bearer)).0, 400);
    assert_eq!(relay("a", "v=0", Some(&bearer)).0, 400);
    // From a page of another site, not even with the secret.
    let (status, _) = sfu.post(
        "/api/relay?room=a&node=x",
        &send,
        Some(("Origin", "http://evil.example")),
    );
    assert_eq!(status, 403);

    // A participant cannot pass for a relay with its own secret.
    let (victim, victim_secret) = sfu
        .join("a", &sfu.token("a", "victim", &[]), &send)
        .expect("the victim joins");
    let state = r#"{"participants": [{"id": 1, "name": "ghost"}], "owners": {}}"#;
    let as_victim = format!("room=a&client={victim}&secret={victim_secret}");
    assert_eq!(
        sfu.post(&format!("/api/relay/state?{as_victim}"), state, None)
            .0,
        403
    );
    let layers = r#"{"mid": "1", "active": ["q"]}"#;
    assert_eq!(
        sfu.post(&format!("/api/relay/layers?{as_victim}"), layers, None)
            .0,
        403
    );

    // A relay with the secret joins like a participant, and what it sends is checked.
    let (status, body) = relay("a", &send, Some(&bearer));
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let (id, secret) = (v["client"].as_u64().unwrap(), v["secret"].as_str().unwrap());
    let as_relay = format!("room=a&client={id}&secret={secret}");
    assert_eq!(
        sfu.post(
            &format!("/api/relay/state?room=a&client={id}&secret=00"),
            state,
            None
        )
        .0,
        403
    );
    assert_eq!(
        sfu.post(&format!("/api/relay/state?{as_relay}"), "{not json", None)
            .0,
        400
    );
    assert_eq!(
        sfu.post(&format!("/api/relay/state?{as_relay}"), state, None)
            .0,
        204
    );
    let bad_mid = r#"{"mid": "a b", "active": ["q"]}"#;
    assert_eq!(
        sfu.post(&format!("/api/relay/layers?{as_relay}"), bad_mid, None)
            .0,
        400
    );
    // No simulcast track goes out on that m-line.
    assert_eq!(
        sfu.post(&format!("/api/relay/layers?{as_relay}"), layers, None)
            .0,
        404
    );
    // The far participant it announced is in the roster, under an id of this node's.
    let mut events = ureq::get(&format!(
        "{}/api/events?room=a&client={victim}&secret={victim_secret}",
        sfu.base
    ))
    .call()
    .expect("the victim's event stream opens");
    let mut reader = BufReader::new(events.body_mut().as_reader());
    let (mut event, mut data) = (String::new(), String::new());
    reader.read_line(&mut event).unwrap();
    reader.read_line(&mut data).unwrap();
    assert!(event.starts_with("event: peers"), "{event}");
    assert!(
        data.contains("\"ghost\"") && data.contains("\"via\""),
        "{data}"
    );
    assert!(
        !data.contains("\"x\""),
        "the relay itself is no participant: {data}"
    );
}
