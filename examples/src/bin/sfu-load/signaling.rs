//! basic-sfu's signaling, as its page speaks it: join with a token, answer the offers that
//! arrive on the event stream.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc;

use anyhow::{Context, bail};

/// Talks to one basic-sfu.
#[derive(Debug, Clone)]
pub(crate) struct Signaling {
    /// `http://host:port`.
    pub(crate) base: String,
    /// The server's binary, to mint tokens with `basic-sfu token`.
    pub(crate) bin: PathBuf,
    /// The server's API secret.
    pub(crate) secret: String,
}

/// What a join returns.
pub(crate) struct Joined {
    pub(crate) client: u64,
    pub(crate) secret: String,
    pub(crate) answer: String,
}

impl Signaling {
    /// An access token for `name` in `room`.
    pub(crate) fn token(&self, room: &str, name: &str, publish: bool) -> anyhow::Result<String> {
        let mut c = Command::new(&self.bin);
        c.args(["--api-secret", &self.secret, "token", "--token-only"])
            .args(["--room", room, "--name", name]);
        if !publish {
            c.arg("--no-publish");
        }
        let out = c.output().context("running basic-sfu token")?;
        if !out.status.success() {
            bail!("basic-sfu token: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_string())
    }

    /// Joins `room` with `offer`.
    pub(crate) fn join(
        &self,
        room: &str,
        name: &str,
        publish: bool,
        offer: &str,
    ) -> anyhow::Result<Joined> {
        let token = self.token(room, name, publish)?;
        let body = ureq::post(&format!("{}/api/join?room={room}", self.base))
            .header("Authorization", &format!("Bearer {token}"))
            .send(offer)
            .context("join")?
            .body_mut()
            .read_to_string()?;
        let v: serde_json::Value = serde_json::from_str(&body)?;
        Ok(Joined {
            client: v["client"].as_u64().context("no client id")?,
            secret: v["secret"].as_str().context("no secret")?.to_string(),
            answer: v["answer"].as_str().context("no answer")?.to_string(),
        })
    }

    /// The SFU's offers for participant `client`, read from its event stream by a thread
    /// of their own; when the stream ends, the last message says why.
    pub(crate) fn events(
        &self,
        room: &str,
        client: u64,
        secret: &str,
    ) -> anyhow::Result<mpsc::Receiver<anyhow::Result<String>>> {
        let url = format!(
            "{}/api/events?room={room}&client={client}&secret={secret}",
            self.base
        );
        let response = ureq::get(&url).call().context("event stream")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(response.into_body().into_reader());
            let mut event = String::new();
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) => {
                        let _ = tx.send(Err(anyhow::anyhow!("the SFU closed the event stream")));
                        return;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(anyhow::anyhow!("reading the event stream: {e}")));
                        return;
                    }
                    Ok(_) => {}
                }
                let l = line.trim_end();
                if let Some(e) = l.strip_prefix("event: ") {
                    event = e.to_string();
                } else if let Some(data) = l.strip_prefix("data: ")
                    && event == "offer"
                {
                    // The offer is JSON: `{"sdp": …, "tracks": …}` (SDP lines end in CRLF).
                    let Some(sdp) = serde_json::from_str::<serde_json::Value>(data)
                        .ok()
                        .and_then(|v| v["sdp"].as_str().map(str::to_string))
                    else {
                        continue;
                    };
                    if tx.send(Ok(sdp)).is_err() {
                        return;
                    }
                }
            }
        });
        Ok(rx)
    }

    /// Answers the SFU's last offer.
    pub(crate) fn answer(
        &self,
        room: &str,
        client: u64,
        secret: &str,
        sdp: &str,
    ) -> anyhow::Result<()> {
        ureq::post(&format!(
            "{}/api/answer?room={room}&client={client}&secret={secret}",
            self.base
        ))
        .send(sdp)
        .context("answer")?;
        Ok(())
    }

    /// POSTs to `path` (with its query) and returns the status: for calls that must be
    /// refused.
    pub(crate) fn status_of_post(&self, path: &str) -> anyhow::Result<u16> {
        let response = ureq::post(&format!("{}{path}", self.base))
            .config()
            .http_status_as_error(false)
            .build()
            .send("v=0")
            .context("post")?;
        Ok(response.status().as_u16())
    }

    /// Leaves the room.
    pub(crate) fn leave(&self, room: &str, client: u64, secret: &str) -> anyhow::Result<()> {
        ureq::post(&format!(
            "{}/api/leave?room={room}&client={client}&secret={secret}",
            self.base
        ))
        .send_empty()
        .context("leave")?;
        Ok(())
    }

    /// The SFU's `/metrics` now: every figure read from one fetch is from one moment.
    pub(crate) fn metrics(&self) -> anyhow::Result<Metrics> {
        Ok(Metrics(
            ureq::get(&format!("{}/metrics", self.base))
                .call()?
                .body_mut()
                .read_to_string()?,
        ))
    }
}

/// One fetch of the SFU's `/metrics` (Prometheus text).
pub(crate) struct Metrics(String);

impl Metrics {
    /// Counter (or gauge) `name`.
    pub(crate) fn counter(&self, name: &str) -> anyhow::Result<f64> {
        self.0
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .with_context(|| format!("no {name} in /metrics"))
    }

    /// The buckets of histogram `name`: each upper bound (in the metric's unit; the last
    /// is infinite) with its cumulative count.
    pub(crate) fn histogram(&self, name: &str) -> anyhow::Result<Vec<(f64, f64)>> {
        let prefix = format!("{name}_bucket{{le=\"");
        let buckets: Vec<(f64, f64)> = self
            .0
            .lines()
            .filter_map(|l| {
                let (le, count) = l.strip_prefix(&prefix)?.split_once("\"} ")?;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((le, count.parse().ok()?))
            })
            .collect();
        anyhow::ensure!(!buckets.is_empty(), "no {name} in /metrics");
        Ok(buckets)
    }
}
