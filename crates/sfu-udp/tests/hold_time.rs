//! A room times how long it holds what it receives: every datagram its socket stamped,
//! also one it drops, is in the room's hold-time histogram.

use std::time::Duration;

use sfu_udp::{SfuConfig, serve};

#[tokio::test]
async fn every_datagram_the_room_handles_has_its_hold_time_recorded() {
    let (room, addr) = serve(SfuConfig::default()).await.expect("the room serves");
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for _ in 0..3 {
        // From an address no client has: routed nowhere, dropped and counted.
        peer.send_to(b"not from a client", addr).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let stats = loop {
        let stats = room.stats().await.expect("the room answers");
        if stats.datagrams_in >= 3 || tokio::time::Instant::now() > deadline {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(stats.datagrams_in, 3);
    assert_eq!(stats.hold.count(), 3, "{:?}", stats.hold);
}
