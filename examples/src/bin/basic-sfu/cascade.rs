//! Rooms that span nodes: each room this node starts opens a relay to the same room on
//! every node given with `--cascade`, and nodes started with `--relay-secret` accept
//! them.
//!
//! A relay is one WebRTC connection per room and pair of nodes; the room's relay client
//! ([`PeerRole::Relay`](sfu_kit::PeerRole)) carries the node's own tracks across and never
//! a track another relay brought, so the nodes of a room form a full mesh of relays (each
//! node lists the others it opens to; a pair is linked once). Signaling rides on the
//! accepting node's page API, as a participant's would: the opener joins with
//! `POST /api/relay`, reads the far room's offers and roster from `/api/events`, and
//! answers and offers with `/api/answer` and `/api/offer`. Beside SDP it sends its own
//! roster and which participant each of its m-lines carries (`POST /api/relay/state`), so
//! each node's pages show the far participants as people, not as one relay.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use sfu_kit::{
    ClientId, ClientSignal, JoinOptions, RelayOffer, RoomError, RoomHandle, SfuMid, SfuOffer,
    SfuRid,
};
use tokio::sync::{mpsc, watch};

use crate::auth::{random_secret, secret_matches};
use crate::http::{
    AppState, MAX_RELAY_OFFER_BYTES, authorize_participant, bad, bad_room_name, credential,
};
use crate::rooms::{FarUpdate, Participant, Rooms};

/// The largest state message: a roster of a few hundred participants.
const MAX_STATE_BYTES: usize = 256 * 1024;
/// How long an opener waits before it opens a relay again after one failed or ended.
const RETRY: Duration = Duration::from_secs(2);
/// How long one HTTP request to the far node may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A node this node's rooms open relays to.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    /// The far node's HTTP base URL, `http://host:port`.
    pub(crate) url: String,
    /// The far node's `--relay-secret`.
    pub(crate) secret: String,
    /// This node's name, as the far node logs it.
    pub(crate) node: String,
}

/// The accepting side's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/relay",
            post(accept).layer(DefaultBodyLimit::max(MAX_RELAY_OFFER_BYTES)),
        )
        .route(
            "/api/relay/state",
            post(state).layer(DefaultBodyLimit::max(MAX_STATE_BYTES)),
        )
        .route("/api/relay/layers", post(layers))
}

#[derive(Deserialize)]
struct AcceptQuery {
    room: String,
    /// The opening node's name.
    node: String,
}

/// `POST /api/relay?room=R&node=N` with the relay secret as bearer token and the opening
/// node's offer: joins the relay to the room (started if need be) and answers like a join:
/// `client`, `secret` and `answer`.
async fn accept(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<AcceptQuery>,
    headers: HeaderMap,
    offer: String,
) -> Response {
    let Some(expected) = s.relay_secret.as_deref() else {
        return bad(StatusCode::NOT_FOUND, "this node accepts no relays");
    };
    if let Err(e) = secret_matches(credential(&headers, None), expected) {
        return e.into_response();
    }
    if let Some(r) = bad_room_name(&q.room) {
        return r;
    }
    let node: String = q
        .node
        .chars()
        .filter(|c| !c.is_control())
        .take(32)
        .collect();
    let (handle, reservation) = match s.rooms.get_or_start(&q.room).await {
        Ok(r) => r,
        Err(e) => return bad(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let joined = match handle.join_with(offer, JoinOptions::relay()).await {
        Ok(j) => j,
        Err(RoomError::BadSdp(e)) => {
            return bad(StatusCode::BAD_REQUEST, format!("offer refused: {e}"));
        }
        Err(e) => return bad(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let id = joined.client.get();
    tracing::info!(room = q.room, node, %peer, client = id, "relay joined");
    let secret = random_secret();
    s.await_event_stream(&q.room, joined.client, joined.signals);
    s.rooms.add_participant(
        reservation,
        Participant {
            id,
            name: node,
            screen: None,
            mic_muted: false,
            camera_off: false,
            secret: secret.clone(),
            may_publish: true,
            relay: true,
        },
    );
    s.rooms.add_relay(&q.room, id);
    axum::Json(serde_json::json!({
        "client": id,
        "secret": secret,
        "answer": joined.answer,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct StateQuery {
    room: String,
    client: u64,
    secret: Option<String>,
}

/// What the node at the other end of a relay says of its side.
#[derive(Deserialize)]
struct FarState {
    /// Its own participants.
    participants: Option<Vec<FarParticipant>>,
    /// The owner of each m-line it sends on the relay (`ID` or `ID:screen`).
    owners: Option<HashMap<String, String>>,
    /// Its active speaker among its own participants.
    speaker: Option<u64>,
}

/// A participant of another node, as its roster gives it.
#[derive(Deserialize)]
struct FarParticipant {
    id: u64,
    name: String,
    #[serde(default)]
    screen: Option<String>,
    #[serde(default)]
    mic_muted: bool,
    #[serde(default)]
    camera_off: bool,
    /// Present when that node has the participant from a relay of its own.
    #[serde(default)]
    via: Option<u64>,
}

impl FarParticipant {
    fn into_participant(self) -> Participant {
        Participant {
            id: self.id,
            name: self
                .name
                .chars()
                .filter(|c| !c.is_control())
                .take(32)
                .collect(),
            screen: self.screen.filter(|m| m.len() <= 32),
            mic_muted: self.mic_muted,
            camera_off: self.camera_off,
            secret: String::new(),
            may_publish: false,
            relay: false,
        }
    }
}

/// The far node's own participants of a roster it sent (not those it has from relays).
fn far_participants(list: Vec<FarParticipant>) -> Vec<Participant> {
    list.into_iter()
        .filter(|p| p.via.is_none())
        .map(FarParticipant::into_participant)
        .collect()
}

/// The refusal of a request that does not speak for relay `q.client` of `q.room` with
/// its secret; `None` when it does.
fn refuse_non_relay(s: &AppState, headers: &HeaderMap, q: &StateQuery) -> Option<Response> {
    if let Err(e) = authorize_participant(s, headers, &q.room, q.client, q.secret.as_deref()) {
        return Some(e.into_response());
    }
    let relay = s
        .rooms
        .participant(&q.room, q.client)
        .is_some_and(|p| p.relay);
    (!relay).then(|| bad(StatusCode::FORBIDDEN, "not a relay"))
}

/// `POST /api/relay/state?room&client&secret` with a [`FarState`]: the opening node's
/// participants and m-line owners, for this node's pages.
async fn state(
    State(s): State<AppState>,
    Query(q): Query<StateQuery>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Some(refused) = refuse_non_relay(&s, &headers, &q) {
        return refused;
    }
    let far: FarState = match serde_json::from_str(&body) {
        Ok(f) => f,
        Err(e) => return bad(StatusCode::BAD_REQUEST, format!("bad state: {e}")),
    };
    let update = FarUpdate {
        participants: far.participants.map(far_participants),
        owners: far.owners,
        speaker: far.speaker,
    };
    s.rooms.set_far(&q.room, q.client, update);
    StatusCode::NO_CONTENT.into_response()
}

/// Which layers of a simulcast track a relay sends on one m-line: what the other node's
/// subscribers may be sent (its dynacast).
#[derive(Deserialize)]
struct Layers {
    mid: String,
    active: Vec<String>,
}

impl Layers {
    /// The m-line and layers, if they are names a relay could carry.
    fn parse(self) -> Option<(SfuMid, Vec<SfuRid>)> {
        let name = |s: &str| s.len() <= 32 && s.chars().all(|c| c.is_ascii_alphanumeric());
        if !name(&self.mid) || self.active.len() > 8 {
            return None;
        }
        let active = self
            .active
            .iter()
            .map(|r| SfuRid::new(r).ok())
            .collect::<Option<Vec<_>>>()?;
        Some((SfuMid::from(self.mid.as_str()), active))
    }
}

/// `POST /api/relay/layers?room&client&secret` with [`Layers`]: the opening node's
/// subscribers need only these layers of the track this node's end of the relay sends
/// on that m-line.
async fn layers(
    State(s): State<AppState>,
    Query(q): Query<StateQuery>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Some(refused) = refuse_non_relay(&s, &headers, &q) {
        return refused;
    }
    let Some((mid, active)) = serde_json::from_str::<Layers>(&body)
        .ok()
        .and_then(Layers::parse)
    else {
        return bad(
            StatusCode::BAD_REQUEST,
            "layers are {\"mid\", \"active\": [rid]}",
        );
    };
    let Some(handle) = s.rooms.handle(&q.room) else {
        return bad(StatusCode::NOT_FOUND, "no such room");
    };
    match handle
        .set_sent_layers(ClientId::new(q.client), mid, active)
        .await
    {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => bad(StatusCode::NOT_FOUND, "no simulcast track on that m-line"),
        Err(e) => bad(StatusCode::NOT_FOUND, e.to_string()),
    }
}

/// Opens relays of `room` to `link` for as long as the room lives here (until `open`
/// says it is gone), again after each one fails or ends.
pub(crate) fn spawn_relay(
    rooms: Rooms,
    room: String,
    handle: RoomHandle,
    link: Link,
    mut open: watch::Receiver<()>,
) {
    tokio::spawn(async move {
        loop {
            let relay = Relay {
                rooms: rooms.clone(),
                room: room.clone(),
                handle: handle.clone(),
                link: link.clone(),
            };
            tokio::select! {
                r = relay.run() => match r {
                    Ok(()) => tracing::info!(room, url = link.url, "relay ended"),
                    Err(e) => tracing::warn!(room, url = link.url, "relay failed: {e:#}"),
                },
                _ = open.changed() => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY) => {}
                _ = open.changed() => return,
            }
        }
    });
}

/// One relay this node opened: its room here and the far node.
struct Relay {
    rooms: Rooms,
    room: String,
    handle: RoomHandle,
    link: Link,
}

/// The relay's identity on the far node, for its later requests there.
#[derive(Clone)]
struct FarSession {
    base: String,
    room: String,
    client: u64,
    secret: String,
}

impl FarSession {
    fn url(&self, path: &str) -> String {
        format!(
            "{}{path}?room={}&client={}&secret={}",
            self.base, self.room, self.client, self.secret
        )
    }

    /// POSTs `body` to the far node's `path` for the relay; returns the answer's body.
    async fn post(&self, path: &str, body: String) -> anyhow::Result<String> {
        let url = self.url(path);
        blocking(move || {
            Ok(agent()
                .post(&url)
                .send(&body)?
                .body_mut()
                .read_to_string()?)
        })
        .await
    }
}

/// What the far node's event stream says.
enum FarEvent {
    Offer {
        sdp: String,
        owners: HashMap<String, String>,
        seq: u64,
    },
    Roster(Vec<FarParticipant>),
    Layers(Layers),
    Speaker(u64),
    Ended(String),
}

impl Relay {
    /// Opens the relay and carries its signaling until it ends.
    async fn run(self) -> anyhow::Result<()> {
        let RelayOffer {
            client,
            offer,
            mut signals,
        } = self.handle.open_relay().await?;
        let result = self.carry(client.get(), offer, &mut signals).await;
        self.handle.leave(client).await;
        self.rooms.remove_relay(&self.room, client.get());
        result
    }

    async fn carry(
        &self,
        client: u64,
        offer: String,
        signals: &mut mpsc::Receiver<ClientSignal>,
    ) -> anyhow::Result<()> {
        self.rooms.add_relay(&self.room, client);
        let base = self.link.url.trim_end_matches('/').to_string();
        let url = format!(
            "{base}/api/relay?room={}&node={}",
            self.room, self.link.node
        );
        let bearer = format!("Bearer {}", self.link.secret);
        let body = blocking(move || {
            Ok(agent()
                .post(&url)
                .header("Authorization", &bearer)
                .send(&offer)?
                .body_mut()
                .read_to_string()?)
        })
        .await
        .context("opening the relay")?;
        let joined: serde_json::Value = serde_json::from_str(&body)?;
        let far = FarSession {
            base,
            room: self.room.clone(),
            client: joined["client"].as_u64().context("no client id")?,
            secret: joined["secret"].as_str().context("no secret")?.to_string(),
        };
        let answer = joined["answer"].as_str().context("no answer")?.to_string();
        let _leave = LeaveFar(far.clone());
        self.handle.answer(ClientId::new(client), answer).await?;
        tracing::info!(room = self.room, url = far.base, "relay open");

        let mut events = far_events(&far)?;
        let mut roster = match self.rooms.lock().get(&self.room) {
            Some(r) => r.roster.subscribe(),
            None => bail!("the room is gone"),
        };
        // Owners of our m-lines on the relay, as our last offer named them.
        let mut owners: HashMap<String, String> = HashMap::new();
        let mut superseded = 0;
        // The state last sent: the roster changes with the far participants too, and
        // sending those back unchanged would echo between the nodes.
        let mut sent = String::new();
        self.send_state(&far, &owners, &mut sent).await?;
        loop {
            tokio::select! {
                signal = signals.recv() => match signal {
                    Some(ClientSignal::Offer(offer)) => {
                        owners = self.owners(&offer);
                        self.send_state(&far, &owners, &mut sent).await?;
                        superseded = self.send_offer(&far, client, offer).await?;
                    }
                    Some(ClientSignal::PublisherLayers { mid, active }) => {
                        self.send_layers(&far, mid, &active).await?;
                    }
                    // Our room's speaker changed: the far node hears it if it is ours.
                    Some(ClientSignal::ActiveSpeaker(id)) => {
                        self.rooms.speaker_shown(&self.room, id.get());
                        self.send_state(&far, &owners, &mut sent).await?;
                    }
                    Some(ClientSignal::Closed) | None => return Ok(()),
                    Some(_) => {}
                },
                event = events.recv() => match event {
                    Some(FarEvent::Offer { sdp, owners: theirs, seq }) => {
                        if seq <= superseded {
                            continue;
                        }
                        let update = FarUpdate { owners: Some(theirs), ..FarUpdate::default() };
                        self.rooms.set_far(&self.room, client, update);
                        self.answer_offer(&far, client, sdp).await?;
                    }
                    Some(FarEvent::Roster(list)) => {
                        let update = FarUpdate {
                            participants: Some(far_participants(list)),
                            ..FarUpdate::default()
                        };
                        self.rooms.set_far(&self.room, client, update);
                    }
                    // The far node's speaker, if it is one of its own people (it may show
                    // one of ours, brought by this relay, under an id of its own).
                    Some(FarEvent::Speaker(id)) => {
                        let update = FarUpdate { speaker: Some(id), ..FarUpdate::default() };
                        if self.rooms.is_far_participant(&self.room, client, id) {
                            self.rooms.set_far(&self.room, client, update);
                        }
                    }
                    Some(FarEvent::Layers(layers)) => {
                        if let Some((mid, active)) = layers.parse() {
                            self.handle
                                .set_sent_layers(ClientId::new(client), mid, active)
                                .await?;
                        }
                    }
                    Some(FarEvent::Ended(why)) => bail!("{why}"),
                    None => bail!("the event stream ended"),
                },
                changed = roster.recv() => {
                    if let Err(tokio::sync::broadcast::error::RecvError::Closed) = changed {
                        return Ok(());
                    }
                    self.send_state(&far, &owners, &mut sent).await?;
                }
            }
        }
    }

    /// The owner of each m-line `offer` sends on, as the far node's pages should see it.
    fn owners(&self, offer: &SfuOffer) -> HashMap<String, String> {
        offer
            .tracks
            .iter()
            .map(|t| {
                let owner =
                    self.rooms
                        .owner_of(&self.room, t.publisher.get(), t.publisher_mid.as_str());
                (t.mid.to_string(), owner)
            })
            .collect()
    }

    /// Tells the far node our own participants and the owners of our m-lines, unless
    /// that is what it was told last (`sent`).
    async fn send_state(
        &self,
        far: &FarSession,
        owners: &HashMap<String, String>,
        sent: &mut String,
    ) -> anyhow::Result<()> {
        let state = serde_json::json!({
            "participants": self.rooms.local_participants(&self.room),
            "owners": owners,
            "speaker": self.rooms.local_speaker(&self.room),
        })
        .to_string();
        if state == *sent {
            return Ok(());
        }
        sent.clone_from(&state);
        far.post("/api/relay/state", state)
            .await
            .context("sending the relay's state")?;
        Ok(())
    }

    /// Tells the far node which layers of its simulcast track on m-line `mid` our
    /// subscribers need (our dynacast for our end of the relay).
    async fn send_layers(
        &self,
        far: &FarSession,
        mid: SfuMid,
        active: &[SfuRid],
    ) -> anyhow::Result<()> {
        let body = serde_json::json!({
            "mid": mid.to_string(),
            "active": active.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })
        .to_string();
        far.post("/api/relay/layers", body)
            .await
            .context("sending the layers the far node's track needs")?;
        Ok(())
    }

    /// Sends our offer to the far node and applies its answer; returns up to which `seq`
    /// the far node's offers are superseded by ours.
    async fn send_offer(
        &self,
        far: &FarSession,
        client: u64,
        offer: SfuOffer,
    ) -> anyhow::Result<u64> {
        let body = far
            .post("/api/relay/offer", offer.sdp)
            .await
            .context("offering to the far node")?;
        let v: serde_json::Value = serde_json::from_str(&body)?;
        let answer = v["answer"].as_str().context("no answer")?.to_string();
        self.handle.answer(ClientId::new(client), answer).await?;
        Ok(v["superseded"].as_u64().unwrap_or(0))
    }

    /// Applies the far node's offer and sends our answer; an offer that crossed ours is
    /// skipped (ours wins, and the far node offers again).
    async fn answer_offer(&self, far: &FarSession, client: u64, sdp: String) -> anyhow::Result<()> {
        let accepted = match self.handle.offer(ClientId::new(client), sdp).await {
            Ok(a) => a,
            Err(RoomError::OfferCollision) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        far.post("/api/answer", accepted.answer)
            .await
            .context("answering the far node")?;
        Ok(())
    }
}

/// Leaves the far room when the relay ends here, so the far node drops it at once
/// rather than when its connection times out.
struct LeaveFar(FarSession);

impl Drop for LeaveFar {
    fn drop(&mut self) {
        let url = self.0.url("/api/leave");
        std::thread::spawn(move || {
            let _ = agent().post(&url).send_empty();
        });
    }
}

/// An HTTP agent whose requests time out.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(REQUEST_TIMEOUT))
        .build()
        .into()
}

/// Runs blocking HTTP off the runtime's threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f).await?
}

/// The far node's event stream for the relay, read by a thread of its own.
fn far_events(far: &FarSession) -> anyhow::Result<mpsc::Receiver<FarEvent>> {
    let url = far.url("/api/events");
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        let response = match ureq::get(&url).call() {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(FarEvent::Ended(format!("event stream: {e}")));
                return;
            }
        };
        let mut reader = BufReader::new(response.into_body().into_reader());
        let (mut event, mut line) = (String::new(), String::new());
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) => {
                    let _ = tx.blocking_send(FarEvent::Ended("event stream closed".into()));
                    return;
                }
                Err(e) => {
                    let _ = tx.blocking_send(FarEvent::Ended(format!("event stream: {e}")));
                    return;
                }
                Ok(_) => {}
            }
            let l = line.trim_end();
            if let Some(e) = l.strip_prefix("event: ") {
                event = e.to_string();
                continue;
            }
            let Some(data) = l.strip_prefix("data: ") else {
                continue;
            };
            let parsed = match event.as_str() {
                "offer" => parse_offer(data),
                "peers" => serde_json::from_str(data).ok().map(FarEvent::Roster),
                "layers" => serde_json::from_str(data).ok().map(FarEvent::Layers),
                "speaker" => data.trim().parse().ok().map(FarEvent::Speaker),
                _ => None,
            };
            if let Some(ev) = parsed
                && tx.blocking_send(ev).is_err()
            {
                return;
            }
        }
    });
    Ok(rx)
}

/// An `offer` event: `{"sdp", "tracks": {mid: owner}, "seq"}`.
fn parse_offer(data: &str) -> Option<FarEvent> {
    let v: serde_json::Value = serde_json::from_str(data).ok()?;
    let owners = v["tracks"]
        .as_object()?
        .iter()
        .filter_map(|(m, o)| Some((m.clone(), o.as_str()?.to_string())))
        .collect();
    Some(FarEvent::Offer {
        sdp: v["sdp"].as_str()?.to_string(),
        owners,
        seq: v["seq"].as_u64()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_take_only_names_a_relay_could_carry() {
        let parse = |mid: &str, active: &[&str]| {
            Layers {
                mid: mid.into(),
                active: active.iter().map(|s| s.to_string()).collect(),
            }
            .parse()
        };
        let (mid, active) = parse("1", &["q", "h"]).expect("valid");
        assert_eq!(mid.as_str(), "1");
        assert_eq!(active.len(), 2);
        assert!(parse("a b", &["q"]).is_none());
        assert!(parse(&"1".repeat(33), &["q"]).is_none());
        assert!(parse("1", &["not a rid"]).is_none());
        assert!(parse("1", &["q"; 9]).is_none());
    }

    #[test]
    fn a_far_roster_keeps_that_node_s_own_people_only() {
        let list: Vec<FarParticipant> = serde_json::from_str(
            r#"[{"id": 1, "name": "ann"}, {"id": 33554433, "name": "bob", "via": 2},
                {"id": 2, "name": "carl\u0007with a very long name that goes on and on"}]"#,
        )
        .unwrap();
        let kept = far_participants(list);
        let names: Vec<&str> = kept.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names.len(), 2);
        assert_eq!(names[0], "ann");
        assert!(names[1].starts_with("carlwith") && names[1].chars().count() == 32);
    }
}
