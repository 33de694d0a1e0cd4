//! Data channel messages reach every other peer's channel of the same label, with the
//! sender's id in front, and never the sender itself.

mod common;

use std::time::Duration;

use common::World;

#[test]
fn a_message_reaches_every_other_peer_with_its_sender() {
    let mut w = World::new();
    let a = w.join(false);
    let _b = w.join(false);
    let _c = w.join(false);
    w.run(Duration::from_secs(2));
    for p in &w.peers {
        assert!(p.chat.is_some(), "peer {} has no open chat channel", p.id);
    }
    let chat = w.peers[0].chat.expect("open");
    w.peers[0]
        .rtc
        .channel(chat)
        .expect("the channel")
        .write(false, b"hello")
        .expect("written");
    w.peers[0]
        .rtc
        .channel(chat)
        .expect("the channel")
        .write(true, &[1, 2, 3])
        .expect("written");
    w.run(Duration::from_secs(1));
    let text = format!("{}\nhello", a.get()).into_bytes();
    let mut binary = a.get().to_be_bytes().to_vec();
    binary.extend_from_slice(&[1, 2, 3]);
    for p in &w.peers[1..] {
        assert_eq!(
            p.chat_received,
            vec![(false, text.clone()), (true, binary.clone())],
            "peer {}",
            p.id
        );
    }
    assert!(w.peers[0].chat_received.is_empty(), "no echo to the sender");
}

#[test]
fn a_flooding_sender_is_held_to_its_rate() {
    let mut w = World::new();
    w.join(false);
    w.join(false);
    w.run(Duration::from_secs(2));
    let chat = w.peers[0].chat.expect("open");
    for i in 0..300u32 {
        w.peers[0]
            .rtc
            .channel(chat)
            .expect("the channel")
            .write(false, format!("spam {i}").as_bytes())
            .expect("written");
    }
    w.run(Duration::from_secs(1));
    let got = w.peers[1].chat_received.len();
    let burst = sfu_client::DATA_BURST as usize;
    // The burst, plus what the rate refilled while the messages were arriving.
    assert!(
        (burst..burst + 60).contains(&got),
        "{got} of 300 messages relayed"
    );
}
