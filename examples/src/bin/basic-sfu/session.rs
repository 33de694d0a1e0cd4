//! What WHIP (RFC 9725) and WHEP sessions share: their routes and CORS, the SDP body,
//! the `201 Created` answer naming the session, and the session's `DELETE` and `PATCH`.
//!
//! A session's URL is `/{whip|whep}/{room}/{client}/{secret}`: it names the participant,
//! and its secret is the credential of later requests. The SFU is ICE-lite and gives its
//! one candidate in the answer, so there is nothing to trickle: `PATCH` (trickle ICE, ICE
//! restart) is answered 405. Pages of any origin may publish and play (CORS), with a token.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, post};
use sfu_kit::{ClientId, ClientSignal, JoinOptions, RoomError};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::auth::{AuthError, random_secret, secret_matches};
use crate::http::{AppState, admit, bad};

pub(crate) const SDP: &str = "application/sdp";

/// The WHIP and WHEP routes (offers up to `max_offer` bytes), open to pages of any
/// origin. An `OPTIONS` request (a browser's preflight, or a client asking) is answered by
/// the CORS layer; every answer names what a POST takes (`Accept-Post`).
pub(crate) fn routes(max_offer: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/whip/{room}",
            post_offer(&crate::whip::WHIP).layer(DefaultBodyLimit::max(max_offer)),
        )
        .route(
            "/whep/{room}",
            post_offer(&crate::whep::WHEP).layer(DefaultBodyLimit::max(max_offer)),
        )
        .route("/whip/{room}/{client}/{secret}", delete(end).patch(patch))
        .route("/whep/{room}/{client}/{secret}", delete(end).patch(patch))
        .layer(cors())
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("accept-post"),
            HeaderValue::from_static(SDP),
        ))
}

/// CORS for the session routes: any origin, with the headers WHIP and WHEP clients send
/// and read.
fn cors() -> tower_http::cors::CorsLayer {
    use tower_http::cors::{Any, CorsLayer};
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST, Method::DELETE, Method::PATCH, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
        ])
        .expose_headers([
            header::LOCATION,
            header::ETAG,
            HeaderName::from_static("accept-post"),
        ])
}

/// What a WHIP or WHEP endpoint asks of an offer beyond SDP: `Err` says why not.
pub(crate) type OfferCheck = fn(&str) -> Result<(), &'static str>;

/// A kind of session: WHIP or WHEP.
pub(crate) struct Endpoint {
    /// The first segment of its URLs, `whip` or `whep`.
    pub(crate) path: &'static str,
    /// Its name in messages.
    pub(crate) name: &'static str,
    /// What its offers must be.
    pub(crate) check: OfferCheck,
    /// How its client joins the room.
    pub(crate) options: JoinOptions,
}

/// `POST /{whip|whep}/{room}`: starts a session of `endpoint` with the offer.
fn post_offer(endpoint: &'static Endpoint) -> MethodRouter<AppState> {
    post(
        move |State(s): State<AppState>,
              ConnectInfo(peer): ConnectInfo<SocketAddr>,
              Path(room): Path<String>,
              headers: HeaderMap,
              offer: String| async move {
            start(&s, peer, endpoint, &room, &headers, offer).await
        },
    )
}

/// A 415 unless the request's body is SDP.
fn not_sdp(headers: &HeaderMap, what: &str) -> Option<Response> {
    let is_sdp = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(SDP));
    (!is_sdp).then(|| {
        bad(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("a {what} offer is sent as application/sdp"),
        )
    })
}

/// Admits a client of `endpoint` to `room` with its SDP offer, once its credential is good
/// and the offer passes the endpoint's check (400 with the reason if not), and answers
/// `201 Created` with the SDP answer, the session's URL in `Location` and an `ETag`. The
/// participant goes when the room removes its client (its connection went, or the session
/// was deleted) or the room ends: there is no event stream to watch.
async fn start(
    s: &AppState,
    peer: SocketAddr,
    endpoint: &Endpoint,
    room: &str,
    headers: &HeaderMap,
    offer: String,
) -> Response {
    if let Some(r) = not_sdp(headers, endpoint.name) {
        return r;
    }
    let admitted = match admit(s, peer, room, headers, None, &offer).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Err(why) = (endpoint.check)(&offer) {
        return bad(StatusCode::BAD_REQUEST, format!("offer refused: {why}"));
    }
    let joined = match admitted.handle.join_with(offer, endpoint.options).await {
        Ok(j) => j,
        Err(RoomError::BadSdp(e)) => {
            return bad(StatusCode::BAD_REQUEST, format!("offer refused: {e}"));
        }
        Err(e) => return bad(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let id = joined.client;
    let secret = random_secret();
    let participant = admitted.participant(id, secret.clone());
    s.rooms.add_participant(admitted.reservation, participant);
    let (rooms, name) = (s.rooms.clone(), room.to_string());
    let mut signals = joined.signals;
    tokio::spawn(async move {
        while let Some(signal) = signals.recv().await {
            if signal == ClientSignal::Closed {
                break;
            }
        }
        rooms.remove_participant(&name, id);
    });
    let (client, path) = (id.get(), endpoint.path);
    (
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, SDP.to_string()),
            (
                header::LOCATION,
                format!("/{path}/{room}/{client}/{secret}"),
            ),
            (header::ETAG, format!("\"{client}\"")),
        ],
        joined.answer,
    )
        .into_response()
}

/// `DELETE /{whip|whep}/{room}/{client}/{secret}`: ends the session.
pub(crate) async fn end(
    State(s): State<AppState>,
    Path((room, client, secret)): Path<(String, u64, String)>,
) -> Response {
    let Some(expected) = s.rooms.secret(&room, client) else {
        return AuthError::UnknownParticipant.into_response();
    };
    if let Err(e) = secret_matches(Some(&secret), &expected) {
        return e.into_response();
    }
    if let Some(h) = s.rooms.handle(&room) {
        h.leave(ClientId::new(client)).await;
    }
    s.rooms.remove_participant(&room, ClientId::new(client));
    StatusCode::OK.into_response()
}

/// `PATCH /{whip|whep}/{room}/{client}/{secret}`: trickle ICE and ICE restarts are not
/// taken.
pub(crate) async fn patch() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "DELETE")],
        "the SFU is ICE-lite and gives its candidate in the answer: no trickle ICE, no ICE restart",
    )
        .into_response()
}
