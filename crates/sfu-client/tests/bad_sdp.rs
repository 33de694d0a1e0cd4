//! Bogus SDP from signaling is a typed error and leaves the client usable.

use std::time::Instant;

use sfu_client::{Client, ClientConfig, ClientError, ClientOutput, SfuRtc};
use sfu_ids::ClientId;

fn client() -> Client {
    let rtc = SfuRtc::builder()
        .host_candidate("127.0.0.1:3478".parse().unwrap())
        .build(Instant::now());
    Client::new(ClientId::new(1), rtc, ClientConfig::default())
}

#[test]
fn garbage_offer_is_a_parse_error() {
    let mut c = client();
    assert!(matches!(
        c.accept_offer("v=0\r\nnonsense"),
        Err(ClientError::SdpParse(_))
    ));
    assert!(matches!(c.accept_offer(""), Err(ClientError::SdpParse(_))));
}

#[test]
fn offer_without_media_is_rejected() {
    let mut c = client();
    let sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
    let err = c.accept_offer(sdp).unwrap_err();
    assert!(matches!(err, ClientError::SdpRejected(_)), "{err:?}");
}

#[test]
fn answer_without_an_offer_is_refused() {
    let mut c = client();
    let sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
    // It parses, but no offer of ours is outstanding.
    assert!(matches!(
        c.accept_answer(sdp),
        Err(ClientError::NoPendingOffer)
    ));
    assert!(matches!(
        c.accept_answer("garbage"),
        Err(ClientError::SdpParse(_))
    ));
}

#[test]
fn client_still_polls_after_bad_sdp() {
    let mut c = client();
    let _ = c.accept_offer("garbage");
    let now = Instant::now();
    c.handle_timeout(now);
    let mut steps = 0;
    while !matches!(c.poll_output(), ClientOutput::Timeout(_)) {
        steps += 1;
        assert!(steps < 100, "poll_output never reached a timeout");
    }
    assert!(c.is_alive());
}
