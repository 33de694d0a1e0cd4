//! WHIP ingest (RFC 9725): a broadcaster (OBS, GStreamer, ffmpeg, a browser) publishes into
//! a room with one HTTP request.
//!
//! `POST /whip/{room}` with `Authorization: Bearer <access token>` (a token for the room
//! with the publish grant, as `basic-sfu token` makes) and an SDP offer
//! (`Content-Type: application/sdp`) is answered `201 Created` with the SDP answer and the
//! session's URL (see [`crate::session`]). A WHIP client takes no offers, so its session
//! receives nothing: it is a publisher of the room like any other, and leaves when its
//! connection goes or its session is deleted.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use sfu_kit::JoinOptions;

use crate::http::AppState;
use crate::session::{Endpoint, start};

const WHIP: Endpoint = Endpoint {
    path: "whip",
    name: "WHIP",
    check: |_| Ok(()),
    options: JoinOptions::publish_only(),
};

/// `POST /whip/{room}`: publishes the offer's tracks into `room`.
pub(crate) async fn publish(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(room): Path<String>,
    headers: HeaderMap,
    offer: String,
) -> Response {
    start(&s, peer, &WHIP, &room, &headers, offer).await
}
