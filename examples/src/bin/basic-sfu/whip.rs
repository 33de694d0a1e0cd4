//! WHIP ingest (RFC 9725): a broadcaster (OBS, GStreamer, ffmpeg, a browser) publishes into
//! a room with one HTTP request.
//!
//! `POST /whip/{room}` with `Authorization: Bearer <access token>` (a token for the room
//! with the publish grant, as `basic-sfu token` makes) and an SDP offer
//! (`Content-Type: application/sdp`) is answered `201 Created` with the SDP answer and the
//! session's URL (see [`crate::session`]). A WHIP client takes no offers, so its session
//! receives nothing: it is a publisher of the room like any other, and leaves when its
//! connection goes or its session is deleted.

use sfu_kit::JoinOptions;

use crate::session::Endpoint;

/// The WHIP endpoint.
pub(crate) const WHIP: Endpoint = Endpoint {
    path: "whip",
    name: "WHIP",
    check: |_| Ok(()),
    options: JoinOptions::publish_only(),
};
