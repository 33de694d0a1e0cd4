//! WHEP playback (the IETF WHEP draft): a viewer (GStreamer, a player page) receives a
//! room's tracks with one HTTP request.
//!
//! `POST /whep/{room}` with `Authorization: Bearer <access token>` (any token for the
//! room: watching needs no grant) and a receive-only SDP offer is answered
//! `201 Created` with the SDP answer and the session's URL (see [`crate::session`]).
//!
//! A WHEP client does not take offers from the server, so the room never renegotiates
//! with it: the viewer gets a fixed set of transceivers, the receiving m-lines of its
//! offer ([`sfu_kit::ReceiveMode::OfferedSlots`]). The room's tracks take them in the
//! order they opened, one per m-line of their kind; when a track ends, the next waiting
//! track of its kind takes its m-line over and carries on its RTP stream. Each track gets
//! the same layer adaptation as in any subscriber. An offer of one audio and one video
//! m-line thus plays the room's first publisher, and the next one when that one leaves.

use sfu_kit::JoinOptions;

use crate::session::Endpoint;

/// The WHEP endpoint.
pub(crate) const WHEP: Endpoint = Endpoint {
    path: "whep",
    name: "WHEP",
    check: receive_only,
    options: JoinOptions::offered_slots(),
};

/// Whether `offer` only receives and has an m-line to receive media on. A WHEP viewer is
/// not a publisher: an offer that sends would make it one.
fn receive_only(offer: &str) -> Result<(), &'static str> {
    let mut receiving = false;
    let mut in_media = false;
    for line in offer.lines().map(str::trim_end) {
        if line.starts_with("m=") {
            in_media = !line.starts_with("m=application");
        }
        match line {
            "a=sendrecv" | "a=sendonly" if in_media => {
                return Err("a WHEP offer receives only (a=recvonly), and this one sends");
            }
            "a=recvonly" if in_media => receiving = true,
            _ => {}
        }
    }
    if receiving {
        Ok(())
    } else {
        Err("a WHEP offer needs an audio or video m-line with a=recvonly")
    }
}

#[cfg(test)]
mod tests {
    use super::receive_only;

    #[test]
    fn only_receive_only_offers_pass() {
        let m = |dir: &str| format!("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na={dir}\r\n");
        assert!(receive_only(&m("recvonly")).is_ok());
        assert!(receive_only(&m("sendrecv")).is_err());
        assert!(receive_only(&m("sendonly")).is_err());
        assert!(receive_only(&m("inactive")).is_err());
        assert!(
            receive_only("v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n").is_err()
        );
        // A session-level direction before any m-line is not media.
        assert!(
            receive_only("v=0\r\na=sendrecv\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=recvonly\r\n")
                .is_ok()
        );
    }
}
