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

#[test]
fn a_channel_the_room_opens_arrives_with_its_config_and_relays_by_label() {
    let mut w = World::new();
    w.channels = vec![sfu_client::ChannelConfig::unreliable("state")];
    let a = w.join(false);
    w.join(false);
    w.join(false);
    // A player with no data channels in its offer gets none.
    let viewer = w.join_viewer(1, 1);
    w.run(Duration::from_secs(2));
    assert_eq!(w.peer(viewer).room_channels_opened, vec![false]);
    let mut state = Vec::new();
    for p in &mut w.peers[..3] {
        assert_eq!(p.room_channels_opened, vec![true]);
        let id = p
            .channels_open
            .iter()
            .find(|(_, l)| l == "state")
            .map(|(id, _)| *id)
            .unwrap_or_else(|| panic!("peer {} has no state channel", p.id));
        let config = p
            .rtc
            .channel(id)
            .and_then(|c| c.config().cloned())
            .expect("an open channel has its config");
        assert!(!config.ordered);
        assert_eq!(
            config.reliability,
            str0m::channel::Reliability::MaxRetransmits { retransmits: 0 }
        );
        state.push(id);
    }
    w.peers[0]
        .rtc
        .channel(state[0])
        .expect("the channel")
        .write(false, b"x=1")
        .expect("written");
    w.run(Duration::from_secs(1));
    let relayed = format!("{}\nx=1", a.get()).into_bytes();
    for (p, id) in w.peers[1..3].iter().zip(&state[1..]) {
        assert_eq!(
            p.other_received,
            vec![(*id, relayed.clone())],
            "peer {}",
            p.id
        );
        assert!(p.chat_received.is_empty(), "not on chat");
    }
    assert!(
        w.peers[0].other_received.is_empty(),
        "no echo to the sender"
    );
}
