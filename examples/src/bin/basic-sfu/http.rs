//! HTTP signaling and the page.
//!
//! Every call is authorised ([`crate::auth`]): a join by an access token for its room, every
//! later call for a participant by that participant's secret, calls about other
//! participants (bandwidth caps, the room's reports) by a token with the admin grant. A
//! browser request from another origin is refused whatever it carries. Bodies are bounded
//! per route; a larger one is answered 413.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use sfu_kit::{
    Bitrate, ClientId, ClientSignal, FrameSize, RoomError, RoomHandle, SfuMid, TrackHints,
};
use tokio::sync::{broadcast, mpsc, watch};

use crate::auth::{
    Auth, AuthError, Claims, DEFAULT_TOKEN_TTL, Grants, random_secret, secret_matches,
};
use crate::rooms::{News, Participant, Reservation, Rooms, RoomsError, add_counts};

const PAGE: &str = include_str!("index.html");
/// Eyevinn's WHIP web client, bundled by `cargo xtask vendor-web` (the page's `?whip=eyevinn`).
const WHIP_CLIENT: &str = include_str!("vendor/whip-client.js");

/// How long a joined page has to open its event stream.
const EVENT_STREAM_DEADLINE: Duration = Duration::from_secs(20);
/// The largest offer a join takes: a browser's offer with a few tracks is under 10 KiB.
const MAX_OFFER_BYTES: usize = 64 * 1024;
/// The largest offer of a relay from another node: one m-line per track of the room.
pub(crate) const MAX_RELAY_OFFER_BYTES: usize = 1024 * 1024;
/// The largest answer: one m-line per track the participant receives.
const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// The largest stats report a page may post.
const MAX_REPORT_BYTES: usize = 32 * 1024;

/// Signal streams of joined clients, by (room, client), until their event stream connects.
type Waiting = Arc<Mutex<HashMap<(String, u64), mpsc::Receiver<ClientSignal>>>>;

/// Joins per client address, refilled per minute (IPv6 keyed by its /64: one host gets
/// a whole prefix).
pub(crate) type JoinLimiter = governor::DefaultKeyedRateLimiter<IpAddr>;

/// How often idle entries leave the join limiter, so its memory follows the active
/// addresses.
const LIMITER_SWEEP: Duration = Duration::from_secs(10);

/// The limiter key of `ip`.
fn limiter_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// A join limiter allowing `per_minute` joins (bursts of up to `per_minute`) per address;
/// `None` when `per_minute` is 0 (no limit).
pub(crate) fn join_limiter(per_minute: u32) -> Option<Arc<JoinLimiter>> {
    let rate = std::num::NonZeroU32::new(per_minute)?;
    let limiter = Arc::new(governor::RateLimiter::keyed(governor::Quota::per_minute(
        rate,
    )));
    let sweep = Arc::downgrade(&limiter);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(LIMITER_SWEEP);
        loop {
            tick.tick().await;
            let Some(l) = sweep.upgrade() else { break };
            l.retain_recent();
            l.shrink_to_fit();
        }
    });
    Some(limiter)
}

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) rooms: Rooms,
    auth: Arc<Auth>,
    joins: Option<Arc<JoinLimiter>>,
    /// Most m-lines (tracks) a join's offer may carry.
    max_tracks: usize,
    /// Signal streams of joined clients whose event stream has not connected yet.
    waiting: Waiting,
    /// Turns true on shutdown; event streams end then.
    stop: watch::Receiver<bool>,
    /// What another node must present to open a relay here (none: no relays accepted).
    pub(crate) relay_secret: Option<Arc<str>>,
    /// The cluster this node is part of (`--redis`), which routes joins.
    cluster: Option<crate::cluster::Cluster>,
}

impl AppState {
    /// Keeps a joined client's signals until its event stream connects. A client that
    /// joined but never opened its event stream (a page that crashed, a node that went) is
    /// removed after [`EVENT_STREAM_DEADLINE`], so its signal queue and roster entry do
    /// not linger (nor keep its room open).
    pub(crate) fn await_event_stream(
        &self,
        room: &str,
        client: ClientId,
        signals: mpsc::Receiver<ClientSignal>,
    ) {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((room.to_string(), client.get()), signals);
        let (state, room) = (self.clone(), room.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(EVENT_STREAM_DEADLINE).await;
            let unclaimed = state
                .waiting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&(room.clone(), client.get()))
                .is_some();
            if unclaimed {
                if let Some(h) = state.rooms.handle(&room) {
                    h.leave(client).await;
                }
                state.rooms.remove_participant(&room, client);
            }
        });
    }
}

pub(crate) fn router(
    rooms: Rooms,
    auth: Auth,
    max_tracks: usize,
    joins: Option<Arc<JoinLimiter>>,
    stop: watch::Receiver<bool>,
    relay_secret: Option<String>,
    cluster: Option<crate::cluster::Cluster>,
) -> Router {
    let state = AppState {
        rooms,
        auth: Arc::new(auth),
        joins,
        max_tracks,
        waiting: Arc::default(),
        stop,
        relay_secret: relay_secret.map(Arc::from),
        cluster,
    };
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route(
            "/vendor/whip-client.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], WHIP_CLIENT) }),
        )
        .route(
            "/api/join",
            post(join).layer(DefaultBodyLimit::max(MAX_OFFER_BYTES)),
        )
        .route(
            "/api/answer",
            post(answer).layer(DefaultBodyLimit::max(MAX_ANSWER_BYTES)),
        )
        .route(
            "/api/offer",
            post(offer).layer(DefaultBodyLimit::max(MAX_OFFER_BYTES)),
        )
        .route("/api/mute", post(mute))
        .route("/api/events", get(events))
        .route("/api/leave", post(leave))
        .route("/api/bitrate", post(bitrate))
        .route("/api/subscribe", post(subscribe))
        .route(
            "/api/report",
            post(report).layer(DefaultBodyLimit::max(MAX_REPORT_BYTES)),
        )
        .route("/api/reports", get(reports))
        .route("/api/dev-token", get(dev_token))
        .route("/api/health", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route(
            "/api/relay/offer",
            post(offer).layer(DefaultBodyLimit::max(MAX_RELAY_OFFER_BYTES)),
        )
        .merge(crate::cascade::routes())
        .merge(crate::session::routes(MAX_OFFER_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

pub(crate) fn bad(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, msg.into()).into_response()
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let status = match self {
            AuthError::MissingToken | AuthError::BadToken(_) | AuthError::MissingSecret => {
                StatusCode::UNAUTHORIZED
            }
            AuthError::WrongRoom { .. } | AuthError::NotGranted(_) | AuthError::WrongSecret => {
                StatusCode::FORBIDDEN
            }
            AuthError::UnknownParticipant | AuthError::UnknownRoom => StatusCode::NOT_FOUND,
        };
        bad(status, self.to_string())
    }
}

/// Refuses a browser request made by a page of another origin: a site the user visits must
/// not be able to act in the SFU with the user's network position. Requests without an
/// `Origin` (not from a browser page) pass; they need a token or secret like any other.
/// WHIP and WHEP pass too: they are made for clients on other sites (CORS allows them),
/// and take their credential only from the `Authorization` header (or the session URL,
/// which is the credential), never from anything a browser adds by itself. Counts every refusal in
/// `/metrics`.
async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let response = same_origin(req, next).await;
    let status = response.status();
    if matches!(status.as_u16(), 401 | 403 | 413 | 429) {
        s.rooms
            .metrics
            .sfu
            .signaling_refused
            .with_label_values(&[status.as_str()])
            .inc();
    }
    response
}

async fn same_origin(req: Request, next: Next) -> Response {
    let headers = req.headers();
    let path = req.uri().path();
    let session = path.starts_with("/whip/") || path.starts_with("/whep/");
    if let Some(origin) = headers.get(header::ORIGIN).filter(|_| !session) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let origin = origin.to_str().unwrap_or("");
        let same = host.is_some_and(|h| {
            origin.strip_prefix("http://") == Some(h) || origin.strip_prefix("https://") == Some(h)
        });
        if !same {
            return bad(StatusCode::FORBIDDEN, "cross-origin request refused");
        }
    }
    next.run(req).await
}

/// The credential a request carries: its `Authorization: Bearer` value, else the query's.
pub(crate) fn credential<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or(query)
}

/// Checks that the request speaks for participant `client` of `room`.
pub(crate) fn authorize_participant(
    s: &AppState,
    headers: &HeaderMap,
    room: &str,
    client: u64,
    secret: Option<&str>,
) -> Result<(), AuthError> {
    let expected = s
        .rooms
        .secret(room, client)
        .ok_or(AuthError::UnknownParticipant)?;
    secret_matches(credential(headers, secret), &expected)
}

/// Checks that the request carries a token for `room` with the admin grant.
fn authorize_admin(
    s: &AppState,
    headers: &HeaderMap,
    room: &str,
    token: Option<&str>,
) -> Result<Claims, AuthError> {
    let claims = s.auth.verify(credential(headers, token), room)?;
    if !claims.grants.admin {
        return Err(AuthError::NotGranted("admin"));
    }
    Ok(claims)
}

/// The room of a call about participant `client`, made by that participant (its
/// `secret`) or by an admin of the room (`token`, which takes precedence when given).
fn authorize_self_or_admin(
    s: &AppState,
    headers: &HeaderMap,
    room: &str,
    client: u64,
    secret: Option<&str>,
    token: Option<&str>,
) -> Result<RoomHandle, AuthError> {
    if token.is_some() {
        authorize_admin(s, headers, room, token)?;
    } else {
        authorize_participant(s, headers, room, client, secret)?;
    }
    s.rooms.handle(room).ok_or(AuthError::UnknownRoom)
}

/// `true` when `sdp` offers to send media on any m-line.
fn offers_to_send(sdp: &str) -> bool {
    sdp.lines()
        .any(|l| matches!(l.trim_end(), "a=sendrecv" | "a=sendonly"))
}

/// A 400 when `name` is not a room name: 1-64 letters, digits, '-' or '_'.
pub(crate) fn bad_room_name(name: &str) -> Option<Response> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    (!valid).then(|| {
        bad(
            StatusCode::BAD_REQUEST,
            "room names are 1-64 letters, digits, '-' or '_'",
        )
    })
}

#[derive(Deserialize)]
struct JoinQuery {
    room: String,
    token: Option<String>,
    /// The join was routed here by another node of the cluster: it stays.
    routed: Option<u8>,
}

/// A 429 when `peer` has used up its joins.
fn check_join_rate(s: &AppState, peer: SocketAddr) -> Option<Response> {
    match &s.joins {
        Some(l) if l.check_key(&limiter_key(peer.ip())).is_err() => Some(bad(
            StatusCode::TOO_MANY_REQUESTS,
            "too many joins from this address; try again in a minute",
        )),
        _ => None,
    }
}

/// A join that passed every check and holds a place in its room.
pub(crate) struct Admitted {
    pub(crate) handle: RoomHandle,
    /// Dropped on any way out but success (including the request going away mid-join),
    /// it gives the place in the room back.
    pub(crate) reservation: Reservation,
    /// The participant's display name.
    pub(crate) name: String,
    /// The token grants publishing.
    pub(crate) may_publish: bool,
}

impl Admitted {
    /// The participant this admission makes, with its `id` in the room and `secret`.
    pub(crate) fn participant(&self, id: ClientId, secret: String) -> Participant {
        Participant {
            id: id.get(),
            name: self.name.clone(),
            screen: None,
            mic_muted: false,
            camera_off: false,
            secret,
            may_publish: self.may_publish,
            relay: false,
        }
    }
}

/// Checks a join as every way in does (the address's join rate, the room's name, a token
/// for the room, the publish grant when the offer sends, the m-line limit) and reserves a
/// place in the room, starting it when needed.
pub(crate) async fn admit(
    s: &AppState,
    peer: SocketAddr,
    room: &str,
    headers: &HeaderMap,
    token: Option<&str>,
    offer: &str,
) -> Result<Admitted, Response> {
    if let Some(r) = check_join_rate(s, peer) {
        return Err(r);
    }
    if let Some(r) = bad_room_name(room) {
        return Err(r);
    }
    let claims = s
        .auth
        .verify(credential(headers, token), room)
        .map_err(IntoResponse::into_response)?;
    if !claims.grants.publish && offers_to_send(offer) {
        return Err(AuthError::NotGranted("publish").into_response());
    }
    let tracks = offer.lines().filter(|l| l.starts_with("m=")).count();
    if tracks > s.max_tracks {
        return Err(bad(
            StatusCode::BAD_REQUEST,
            format!(
                "offer refused: {tracks} m-lines, at most {} allowed",
                s.max_tracks
            ),
        ));
    }
    let shown = if claims.name.is_empty() {
        &claims.sub
    } else {
        &claims.name
    };
    let name: String = shown.chars().filter(|c| !c.is_control()).take(32).collect();
    let (handle, reservation) = match s.rooms.get_or_start(room).await {
        Ok(r) => r,
        Err(e @ (RoomsError::TooManyRooms(_) | RoomsError::RoomFull(_))) => {
            return Err(bad(StatusCode::TOO_MANY_REQUESTS, e.to_string()));
        }
        Err(e) => return Err(bad(StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
    };
    Ok(Admitted {
        handle,
        reservation,
        name,
        may_publish: claims.grants.publish,
    })
}

async fn join(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<JoinQuery>,
    headers: HeaderMap,
    offer: String,
) -> Response {
    // In a cluster, the join goes where the room is (see `crate::cluster`): elsewhere, it
    // is answered 421 Misdirected Request with the node to join on.
    let mut nodes = Vec::new();
    if let Some(cluster) = &s.cluster {
        if q.routed.is_none() && bad_room_name(&q.room).is_none() {
            match cluster.route(&q.room).await {
                Ok(Some(url)) => {
                    return (
                        StatusCode::MISDIRECTED_REQUEST,
                        axum::Json(serde_json::json!({ "redirect": url })),
                    )
                        .into_response();
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("routing a join: {e:#}; it stays here"),
            }
        }
        nodes = cluster.node_urls().await.unwrap_or_default();
    }
    let admitted = match admit(&s, peer, &q.room, &headers, q.token.as_deref(), &offer).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match admitted.handle.join(offer).await {
        Ok(joined) => {
            let id = joined.client;
            s.await_event_stream(&q.room, id, joined.signals);
            let secret = random_secret();
            let participant = admitted.participant(id, secret.clone());
            s.rooms.add_participant(admitted.reservation, participant);
            axum::Json(serde_json::json!({
                "client": id.get(),
                "secret": secret,
                "answer": joined.answer,
                "cluster": nodes,
            }))
            .into_response()
        }
        Err(e) => match e {
            RoomError::BadSdp(e) => bad(StatusCode::BAD_REQUEST, format!("offer refused: {e}")),
            e => bad(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        },
    }
}

#[derive(Deserialize)]
struct ClientQuery {
    room: String,
    client: u64,
    secret: Option<String>,
}

async fn answer(
    State(s): State<AppState>,
    Query(q): Query<ClientQuery>,
    headers: HeaderMap,
    sdp: String,
) -> Response {
    if let Err(r) = authorize_participant(&s, &headers, &q.room, q.client, q.secret.as_deref()) {
        return r.into_response();
    }
    let Some(handle) = s.rooms.handle(&q.room) else {
        return bad(StatusCode::NOT_FOUND, "no such room");
    };
    match handle.answer(ClientId::new(q.client), sdp).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(RoomError::UnknownClient(_)) => {
            bad(StatusCode::NOT_FOUND, "no such client in this room")
        }
        Err(RoomError::BadSdp(e)) => bad(StatusCode::BAD_REQUEST, format!("answer refused: {e}")),
        Err(e) => bad(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[derive(Deserialize)]
struct OfferQuery {
    room: String,
    client: u64,
    secret: Option<String>,
    /// The offer's m-line that carries a screen share, if one does.
    screen: Option<String>,
}

/// A joined participant's own offer: it publishes or stops tracks (a screen share among
/// them), or restarts ICE. Answered with JSON: `answer`, and `superseded`, the number up
/// to which the room's offers (their `seq`) must not be answered any more.
async fn offer(
    State(s): State<AppState>,
    Query(q): Query<OfferQuery>,
    headers: HeaderMap,
    sdp: String,
) -> Response {
    if let Err(r) = authorize_participant(&s, &headers, &q.room, q.client, q.secret.as_deref()) {
        return r.into_response();
    }
    let Some(participant) = s.rooms.participant(&q.room, q.client) else {
        return AuthError::UnknownParticipant.into_response();
    };
    if !participant.may_publish && offers_to_send(&sdp) {
        return AuthError::NotGranted("publish").into_response();
    }
    let tracks = sdp.lines().filter(|l| l.starts_with("m=")).count();
    // A relay carries every track of its node's room: the room's limits bound it.
    if tracks > s.max_tracks && !participant.relay {
        return bad(
            StatusCode::BAD_REQUEST,
            format!(
                "offer refused: {tracks} m-lines, at most {} allowed",
                s.max_tracks
            ),
        );
    }
    let screen = q.screen.filter(|m| !m.is_empty());
    if screen
        .as_ref()
        .is_some_and(|m| m.len() > 32 || !m.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return bad(StatusCode::BAD_REQUEST, "a mid is 1-32 letters or digits");
    }
    let Some(handle) = s.rooms.handle(&q.room) else {
        return bad(StatusCode::NOT_FOUND, "no such room");
    };
    // Named before the room opens the track, so the others' offers mark it.
    s.rooms.set_screen(&q.room, q.client, screen);
    match handle.offer(ClientId::new(q.client), sdp).await {
        Ok(accepted) => axum::Json(serde_json::json!({
            "answer": accepted.answer,
            "superseded": accepted.superseded,
        }))
        .into_response(),
        Err(RoomError::UnknownClient(_)) => {
            bad(StatusCode::NOT_FOUND, "no such client in this room")
        }
        Err(RoomError::BadSdp(e)) => bad(StatusCode::BAD_REQUEST, format!("offer refused: {e}")),
        Err(e) => bad(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[derive(Deserialize)]
struct MuteQuery {
    room: String,
    client: u64,
    secret: Option<String>,
    /// The participant's own m-line of the track.
    mid: String,
    /// `audio` or `video`: what the pages show as muted.
    kind: String,
    muted: bool,
}

/// A participant mutes or unmutes one of its tracks: the room stops (or restarts from a
/// keyframe) forwarding it at once, and the pages show it.
async fn mute(
    State(s): State<AppState>,
    Query(q): Query<MuteQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize_participant(&s, &headers, &q.room, q.client, q.secret.as_deref()) {
        return r.into_response();
    }
    let audio = match q.kind.as_str() {
        "audio" => true,
        "video" => false,
        _ => return bad(StatusCode::BAD_REQUEST, "kind is audio or video"),
    };
    let Some(handle) = s.rooms.handle(&q.room) else {
        return bad(StatusCode::NOT_FOUND, "no such room");
    };
    let mid = SfuMid::from(q.mid.as_str());
    match handle
        .set_muted(ClientId::new(q.client), mid, q.muted)
        .await
    {
        Ok(true) => {
            s.rooms.set_muted_flag(&q.room, q.client, audio, q.muted);
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => bad(
            StatusCode::NOT_FOUND,
            "the participant publishes no such track",
        ),
        Err(e) => bad(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn leave(
    State(s): State<AppState>,
    Query(q): Query<ClientQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize_participant(&s, &headers, &q.room, q.client, q.secret.as_deref()) {
        return r.into_response();
    }
    let Some(handle) = s.rooms.handle(&q.room) else {
        return bad(StatusCode::NOT_FOUND, "no such room");
    };
    handle.leave(ClientId::new(q.client)).await;
    s.rooms.remove_participant(&q.room, ClientId::new(q.client));
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct BitrateQuery {
    room: String,
    client: u64,
    /// The cap in kbit/s; absent or 0 removes it.
    kbps: Option<u64>,
    /// The participant's own secret, to cap itself.
    secret: Option<String>,
    /// An admin token for the room, to cap anyone in it.
    token: Option<String>,
}

/// A subscriber's limit: its own (e.g. a "low bandwidth" switch in a page, with its
/// secret) or one an admin sets; the room forwards the layers that fit.
async fn bitrate(
    State(s): State<AppState>,
    Query(q): Query<BitrateQuery>,
    headers: HeaderMap,
) -> Response {
    let handle = match authorize_self_or_admin(
        &s,
        &headers,
        &q.room,
        q.client,
        q.secret.as_deref(),
        q.token.as_deref(),
    ) {
        Ok(h) => h,
        Err(e) => return e.into_response(),
    };
    let bps = q.kbps.filter(|&k| k > 0).map(Bitrate::from_kbps);
    match handle
        .set_available_bitrate(ClientId::new(q.client), bps)
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(RoomError::UnknownClient(_)) => {
            bad(StatusCode::NOT_FOUND, "no such client in this room")
        }
        Err(e) => bad(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[derive(Deserialize)]
struct SubscribeQuery {
    room: String,
    client: u64,
    /// The publisher of the track.
    publisher: u64,
    /// The publisher's media line.
    mid: String,
    /// Receive it (`true`) or not. Without hints below, `true` is the default.
    on: Option<bool>,
    /// The highest simulcast layer to receive (0: the lowest).
    max_layer: Option<u8>,
    /// The size the video is shown at, in device pixels: no layer much larger is sent.
    width: Option<u16>,
    height: Option<u16>,
    /// The participant's own secret, to choose for itself.
    secret: Option<String>,
    /// An admin token for the room, to choose for anyone in it.
    token: Option<String>,
}

/// What a participant receives: an unsubscribed track (a hidden tile) is not forwarded to
/// it and costs its bandwidth nothing.
async fn subscribe(
    State(s): State<AppState>,
    Query(q): Query<SubscribeQuery>,
    headers: HeaderMap,
) -> Response {
    let handle = match authorize_self_or_admin(
        &s,
        &headers,
        &q.room,
        q.client,
        q.secret.as_deref(),
        q.token.as_deref(),
    ) {
        Ok(h) => h,
        Err(e) => return e.into_response(),
    };
    let mid = SfuMid::from(q.mid.as_str());
    // A far participant's track is the track of the relay that brings it.
    let publisher = match q.publisher >> crate::rooms::REMOTE_SHIFT {
        0 => q.publisher,
        relay => relay,
    };
    let (client, publisher) = (ClientId::new(q.client), ClientId::new(publisher));
    let rendered = q
        .width
        .zip(q.height)
        .map(|(width, height)| FrameSize { width, height });
    let hinted = q.max_layer.is_some() || rendered.is_some();
    if hinted {
        let hints = TrackHints::default()
            .with_max_layer(q.max_layer)
            .with_rendered(rendered);
        match handle.set_track_hints(client, publisher, mid, hints).await {
            Ok(true) => {}
            Ok(false) => return bad(StatusCode::NOT_FOUND, "the client receives no such track"),
            Err(e) => return bad(StatusCode::NOT_FOUND, e.to_string()),
        }
        if q.on.is_none() {
            return StatusCode::NO_CONTENT.into_response();
        }
    }
    match handle
        .set_subscribed(client, publisher, mid, q.on.unwrap_or(true))
        .await
    {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => bad(StatusCode::NOT_FOUND, "the client receives no such track"),
        Err(RoomError::UnknownClient(_)) => {
            bad(StatusCode::NOT_FOUND, "no such client in this room")
        }
        Err(e) => bad(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// Removes the client from its room when the page's event stream goes away.
struct LeaveOnDrop {
    rooms: Rooms,
    room: String,
    client: ClientId,
}

impl Drop for LeaveOnDrop {
    fn drop(&mut self) {
        let rooms = self.rooms.clone();
        let room = std::mem::take(&mut self.room);
        let client = self.client;
        tokio::spawn(async move {
            if let Some(h) = rooms.handle(&room) {
                h.leave(client).await;
            }
            rooms.remove_participant(&room, client);
        });
    }
}

enum Item {
    Signal(Option<ClientSignal>),
    Roster(Result<News, broadcast::error::RecvError>),
}

async fn events(
    State(s): State<AppState>,
    Query(q): Query<ClientQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize_participant(&s, &headers, &q.room, q.client, q.secret.as_deref()) {
        return r.into_response();
    }
    let Some(signals) = s
        .waiting
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&(q.room.clone(), q.client))
    else {
        return bad(
            StatusCode::NOT_FOUND,
            "no joined client awaiting its event stream",
        );
    };
    let roster_rx = match s.rooms.lock().get(&q.room) {
        Some(r) => r.roster.subscribe(),
        None => return bad(StatusCode::NOT_FOUND, "no such room"),
    };
    let first = s.rooms.roster(&q.room);
    let guard = LeaveOnDrop {
        rooms: s.rooms.clone(),
        room: q.room.clone(),
        client: ClientId::new(q.client),
    };
    Sse::new(event_stream(
        signals,
        roster_rx,
        first,
        guard,
        s.stop.clone(),
    ))
    .keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
    .into_response()
}

fn event_stream(
    signals: mpsc::Receiver<ClientSignal>,
    roster: broadcast::Receiver<News>,
    first_roster: String,
    guard: LeaveOnDrop,
    stop: watch::Receiver<bool>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let initial =
        stream::once(async move { Ok(Event::default().event("peers").data(first_roster)) });
    let rest = stream::unfold(
        (signals, roster, guard, stop),
        |(mut signals, mut roster, guard, mut stop)| async move {
            loop {
                if *stop.borrow() {
                    return None;
                }
                let item = tokio::select! {
                    s = signals.recv() => Item::Signal(s),
                    r = roster.recv() => Item::Roster(r),
                    _ = stop.changed() => return None,
                };
                let event = match item {
                    // JSON-encoded: SSE treats a bare CR as a line end, and SDP lines end in
                    // CRLF. `tracks` names the publisher of each m-line the offer sends on
                    // (a reused m-line keeps the msid of its first track), as
                    // `PUBLISHER:screen` for a screen share. `seq` numbers the offers.
                    Item::Signal(Some(ClientSignal::Offer(offer))) => {
                        let (rooms, room) = (&guard.rooms, &guard.room);
                        let tracks: serde_json::Map<String, serde_json::Value> = offer
                            .tracks
                            .iter()
                            .map(|t| {
                                let owner = rooms.owner_of(
                                    room,
                                    t.publisher.get(),
                                    t.publisher_mid.as_str(),
                                );
                                (t.mid.to_string(), owner.into())
                            })
                            .collect();
                        // The publisher's own m-line of each, for subscription calls.
                        let sources: serde_json::Map<String, serde_json::Value> = offer
                            .tracks
                            .iter()
                            .map(|t| (t.mid.to_string(), t.publisher_mid.to_string().into()))
                            .collect();
                        Event::default().event("offer").data(
                            serde_json::json!({
                                "sdp": offer.sdp,
                                "tracks": tracks,
                                "sources": sources,
                                "seq": offer.seq,
                            })
                            .to_string(),
                        )
                    }
                    Item::Signal(Some(ClientSignal::PublisherLayers { mid, active })) => {
                        let active: Vec<String> = active.iter().map(|r| r.to_string()).collect();
                        Event::default().event("layers").data(
                            serde_json::json!({ "mid": mid.to_string(), "active": active })
                                .to_string(),
                        )
                    }
                    Item::Signal(Some(ClientSignal::ActiveSpeaker(id))) => Event::default()
                        .event("speaker")
                        .data(guard.rooms.speaker_shown(&guard.room, id.get())),
                    Item::Signal(Some(ClientSignal::Closed)) | Item::Signal(None) => return None,
                    Item::Signal(Some(_)) => continue,
                    Item::Roster(Ok(News::Roster(json))) => {
                        Event::default().event("peers").data(json)
                    }
                    Item::Roster(Ok(News::Speaker(id))) => {
                        Event::default().event("speaker").data(id)
                    }
                    Item::Roster(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                    Item::Roster(Err(broadcast::error::RecvError::Closed)) => return None,
                };
                return Some((Ok(event), (signals, roster, guard, stop)));
            }
        },
    );
    initial.chain(rest)
}

async fn report(
    State(s): State<AppState>,
    Query(q): Query<ClientQuery>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Err(r) = authorize_participant(&s, &headers, &q.room, q.client, q.secret.as_deref()) {
        return r.into_response();
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&body) else {
        return bad(StatusCode::BAD_REQUEST, "report must be JSON");
    };
    let mut rooms = s.rooms.lock();
    let Some(room) = rooms.get_mut(&q.room) else {
        return bad(StatusCode::NOT_FOUND, "no such room");
    };
    if !room.participants.iter().any(|p| p.id == q.client) {
        return bad(StatusCode::NOT_FOUND, "no such client in this room");
    }
    room.reports.insert(q.client, value);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct RoomQuery {
    room: String,
    token: Option<String>,
}

/// The latest `getStats()` summary of every page in a room (used by the e2e test and
/// handy for debugging); needs an admin token for the room.
async fn reports(
    State(s): State<AppState>,
    Query(q): Query<RoomQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize_admin(&s, &headers, &q.room, q.token.as_deref()) {
        return r.into_response();
    }
    let rooms = s.rooms.lock();
    let Some(room) = rooms.get(&q.room) else {
        return bad(StatusCode::NOT_FOUND, "no such room");
    };
    let map: serde_json::Map<String, serde_json::Value> = room
        .reports
        .iter()
        .map(|(id, r)| (id.to_string(), r.clone()))
        .collect();
    axum::Json(serde_json::Value::Object(map)).into_response()
}

#[derive(Deserialize)]
struct DevTokenQuery {
    room: String,
    name: Option<String>,
    #[serde(default)]
    admin: bool,
}

/// Dev mode only: a token for whoever asks, so the page works with no set-up.
async fn dev_token(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<DevTokenQuery>,
) -> Response {
    if let Some(r) = check_join_rate(&s, peer) {
        return r;
    }
    if !s.auth.is_dev() {
        return bad(
            StatusCode::NOT_FOUND,
            "this server gives no tokens: ask for a join link (basic-sfu token)",
        );
    }
    if let Some(r) = bad_room_name(&q.room) {
        return r;
    }
    let name = q.name.unwrap_or_else(|| "guest".into());
    let grants = Grants {
        publish: true,
        admin: q.admin,
    };
    let claims = crate::auth::claims(&q.room, &name, &name, grants, DEFAULT_TOKEN_TTL);
    match s.auth.mint(&claims) {
        Ok(token) => axum::Json(serde_json::json!({ "token": token })).into_response(),
        Err(e) => bad(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn metrics(State(s): State<AppState>) -> Response {
    let rooms: Vec<_> = s
        .rooms
        .lock()
        .iter()
        .map(|(name, r)| {
            let ids: Vec<u64> = r.participants.iter().map(|p| p.id).collect();
            (name.clone(), r.handle.clone(), ids)
        })
        .collect();
    let metrics = &s.rooms.metrics;
    let m = &metrics.sfu;
    let mut clients = 0;
    // Only the clients present now have an estimate, and only open rooms a size.
    m.subscriber_estimate_bps.reset();
    m.room_clients.reset();
    for (name, h, ids) in rooms {
        for id in ids {
            if let Ok(p) = h.peer_stats(ClientId::new(id)).await
                && let Some(e) = p.estimate
            {
                m.subscriber_estimate_bps
                    .with_label_values(&[name.as_str(), &id.to_string()])
                    .set(i64::try_from(e.bps()).unwrap_or(i64::MAX));
            }
        }
        let Ok(st) = h.stats().await else { continue };
        clients += st.clients as u64;
        m.room_clients
            .with_label_values(&[name.as_str()])
            .set(i64::try_from(st.clients).unwrap_or(i64::MAX));
        let mut rooms = s.rooms.lock();
        if let Some(room) = rooms.get_mut(&name) {
            add_counts(metrics, &st, &mut room.reported);
        }
    }
    m.clients.set(clients as i64);
    s.rooms.add_mux_counts();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        m.encode(),
    )
        .into_response()
}
