//! HTTP signaling and the page.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use sfu_kit::{Bitrate, ClientId, ClientSignal, RoomError};
use tokio::sync::{broadcast, mpsc, watch};

use crate::rooms::Rooms;

const PAGE: &str = include_str!("index.html");

/// How long a joined page has to open its event stream.
const EVENT_STREAM_DEADLINE: Duration = Duration::from_secs(20);

/// Signal streams of joined clients, by (room, client), until their event stream connects.
type Waiting = Arc<Mutex<HashMap<(String, u64), mpsc::Receiver<ClientSignal>>>>;

#[derive(Clone)]
struct AppState {
    rooms: Rooms,
    /// Signal streams of joined clients whose event stream has not connected yet.
    waiting: Waiting,
    /// Turns true on shutdown; event streams end then.
    stop: watch::Receiver<bool>,
}

pub(crate) fn router(rooms: Rooms, stop: watch::Receiver<bool>) -> Router {
    let state = AppState {
        rooms,
        waiting: Arc::default(),
        stop,
    };
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/api/join", post(join))
        .route("/api/answer", post(answer))
        .route("/api/events", get(events))
        .route("/api/leave", post(leave))
        .route("/api/bitrate", post(bitrate))
        .route("/api/report", post(report))
        .route("/api/reports", get(reports))
        .route("/metrics", get(metrics))
        .with_state(state)
}

fn bad(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, msg.into()).into_response()
}

fn valid_room(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[derive(Deserialize)]
struct JoinQuery {
    room: String,
    name: Option<String>,
}

async fn join(State(s): State<AppState>, Query(q): Query<JoinQuery>, offer: String) -> Response {
    if !valid_room(&q.room) {
        return bad(
            StatusCode::BAD_REQUEST,
            "room names are 1-64 letters, digits, '-' or '_'",
        );
    }
    let name: String = q
        .name
        .unwrap_or_else(|| "guest".into())
        .chars()
        .filter(|c| !c.is_control())
        .take(32)
        .collect();
    let (handle, _) = match s.rooms.get_or_start(&q.room).await {
        Ok(r) => r,
        Err(e) => {
            return bad(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot start room: {e}"),
            );
        }
    };
    match handle.join(offer).await {
        Ok(joined) => {
            let id = joined.client;
            s.waiting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert((q.room.clone(), id.get()), joined.signals);
            s.rooms.add_participant(&q.room, id, name);
            // A page that joined but never opened its event stream (it crashed, or was not
            // a browser) is removed, so its signal queue and roster entry do not linger.
            let (state, room) = (s.clone(), q.room.clone());
            tokio::spawn(async move {
                tokio::time::sleep(EVENT_STREAM_DEADLINE).await;
                let unclaimed = state
                    .waiting
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&(room.clone(), id.get()))
                    .is_some();
                if unclaimed {
                    if let Some(h) = state.rooms.handle(&room) {
                        h.leave(id).await;
                    }
                    state.rooms.remove_participant(&room, id);
                }
            });
            axum::Json(serde_json::json!({ "client": id.get(), "answer": joined.answer }))
                .into_response()
        }
        Err(e) => {
            s.rooms.join_failed(&q.room);
            match e {
                RoomError::BadSdp(e) => bad(StatusCode::BAD_REQUEST, format!("offer refused: {e}")),
                e => bad(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            }
        }
    }
}

#[derive(Deserialize)]
struct ClientQuery {
    room: String,
    client: u64,
}

async fn answer(State(s): State<AppState>, Query(q): Query<ClientQuery>, sdp: String) -> Response {
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

async fn leave(State(s): State<AppState>, Query(q): Query<ClientQuery>) -> Response {
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
}

/// A subscriber's own limit (e.g. a "low bandwidth" switch in a page): the room forwards
/// the simulcast layers that fit.
async fn bitrate(State(s): State<AppState>, Query(q): Query<BitrateQuery>) -> Response {
    let Some(handle) = s.rooms.handle(&q.room) else {
        return bad(StatusCode::NOT_FOUND, "no such room");
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
    Roster(Result<String, broadcast::error::RecvError>),
}

async fn events(State(s): State<AppState>, Query(q): Query<ClientQuery>) -> Response {
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
    roster: broadcast::Receiver<String>,
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
                    // JSON-encoded: SSE treats a bare CR as a line end, and SDP lines end in CRLF.
                    Item::Signal(Some(ClientSignal::Offer(sdp))) => Event::default()
                        .event("offer")
                        .data(serde_json::Value::String(sdp).to_string()),
                    Item::Signal(Some(ClientSignal::Closed)) | Item::Signal(None) => return None,
                    Item::Signal(Some(_)) => continue,
                    Item::Roster(Ok(json)) => Event::default().event("peers").data(json),
                    Item::Roster(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                    Item::Roster(Err(broadcast::error::RecvError::Closed)) => return None,
                };
                return Some((Ok(event), (signals, roster, guard, stop)));
            }
        },
    );
    initial.chain(rest)
}

async fn report(State(s): State<AppState>, Query(q): Query<ClientQuery>, body: String) -> Response {
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
}

/// The latest `getStats()` summary of every page in a room (used by the e2e test and
/// handy for debugging).
async fn reports(State(s): State<AppState>, Query(q): Query<RoomQuery>) -> Response {
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
    let m = &s.rooms.metrics;
    let (mut clients, mut din, mut dout, mut unk, mut mal, mut fan, mut rem, mut layers) =
        (0, 0, 0, 0, 0, 0, 0, 0);
    // Only the clients present now have an estimate.
    m.subscriber_estimate_bps.reset();
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
        if let Ok(st) = h.stats().await {
            layers += st.layer_changes;
            clients += st.clients as u64;
            din += st.datagrams_in;
            dout += st.datagrams_out;
            unk += st.registry.dropped_unknown_source;
            mal += st.registry.dropped_malformed;
            fan += st.registry.media_fanned_out;
            rem += st.registry.clients_removed;
        }
    }
    m.clients.set(clients as i64);
    // Room counters are monotonic snapshots; advance the process counters to them.
    for (counter, total) in [
        (&m.datagrams_in, din),
        (&m.datagrams_out, dout),
        (&m.dropped_unknown_source, unk),
        (&m.dropped_malformed, mal),
        (&m.media_fanned_out, fan),
        (&m.clients_removed, rem),
        (&m.layer_changes, layers),
    ] {
        counter.inc_by(total.saturating_sub(counter.get()));
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        m.encode(),
    )
        .into_response()
}
