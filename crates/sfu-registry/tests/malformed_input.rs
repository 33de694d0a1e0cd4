//! Garbage from the network never panics and never disturbs the peers' media.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{SFU, World};
use sfu_ids::IncomingDatagram;
use sfu_registry::testing::{signed_stun_binding_request, stun_binding_request};

/// SplitMix64: a tiny deterministic generator for junk.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.next() as usize) % (max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Junk shaped like each protocol of RFC 7983, truncated or corrupted.
fn junk(rng: &mut Rng) -> Vec<u8> {
    let mut b = rng.bytes(300);
    match rng.next() % 7 {
        0 => {}
        // RTP-looking: version 2, random rest.
        1 if !b.is_empty() => b[0] = 0x80 | (b[0] & 0x3f),
        // RTCP-looking: version 2, PT 200..204.
        2 if b.len() > 1 => {
            b[0] = 0x80;
            b[1] = 200 + (b[1] % 5);
        }
        // DTLS-looking record.
        3 if !b.is_empty() => b[0] = 20 + (b[0] % 44),
        // A STUN request truncated at a random point.
        4 => {
            let s = stun_binding_request("abcd", "efgh");
            let cut = (rng.next() as usize) % s.len();
            b = s[..cut].to_vec();
        }
        // STUN header with a lying length.
        5 => {
            let mut s = stun_binding_request("abcd", "efgh");
            s[3] ^= 0x04;
            b = s;
        }
        _ => {}
    }
    b
}

#[test]
fn junk_from_everywhere_is_dropped_and_media_keeps_flowing() {
    let mut w = World::new();
    let a = w.join(false);
    let b = w.join(false);
    w.run(Duration::from_secs(2));
    let before = (w.video_frames(a, b), w.audio_frames(b, a));

    let mut rng = Rng(7);
    let known: Vec<SocketAddr> = w.peers.iter().map(|p| p.addr).collect();
    let unknown = SocketAddr::from(([127, 0, 0, 99], 9999));
    for round in 0..200 {
        for _ in 0..20 {
            let from = if rng.next().is_multiple_of(2) {
                unknown
            } else {
                known[(rng.next() % 2) as usize]
            };
            let d = IncomingDatagram::udp(from, SFU, junk(&mut rng));
            let _ = w.room.handle_incoming(&d, w.now);
        }
        // Keep real traffic going in between.
        if round % 10 == 0 {
            w.run(Duration::from_millis(100));
        }
    }
    w.run(Duration::from_secs(2));

    assert_eq!(w.room.len(), 2, "junk must not remove peers");
    assert!(w.room.stats().dropped_unknown_source > 0);
    assert!(w.video_frames(a, b) > before.0 + 50, "video a<-b stalled");
    assert!(w.audio_frames(b, a) > before.1 + 100, "audio b<-a stalled");
}

#[test]
fn forged_stun_naming_a_real_peer_binds_no_address() {
    let mut w = World::new();
    let a = w.join(false);
    let b = w.join(false);
    w.run(Duration::from_secs(2));
    let before = (w.video_frames(a, b), w.audio_frames(b, a));
    let ufrag = w.peers[0].sfu_ufrag.clone();
    assert!(!ufrag.is_empty());

    // An attacker who learned the ufrag (it travels in the SDP) but not the password tries
    // to redirect the peer's media to itself from a thousand addresses.
    let mut forged = 0;
    for i in 0..1000u16 {
        let from = SocketAddr::from(([127, 0, 1, (i % 250) as u8], 20_000 + i));
        let stun = if i % 2 == 0 {
            stun_binding_request(&ufrag, "evil")
        } else {
            signed_stun_binding_request(&ufrag, "evil", "a-guessed-password")
        };
        if w.room
            .handle_incoming(&IncomingDatagram::udp(from, SFU, stun), w.now)
            .is_err()
        {
            forged += 1;
        }
        if i % 100 == 0 {
            w.run(Duration::from_millis(50));
        }
    }
    w.run(Duration::from_secs(2));
    assert_eq!(forged, 1000);
    assert_eq!(w.room.stats().dropped_unauthenticated, 1000);
    assert!(w.video_frames(a, b) > before.0 + 50, "video a<-b stalled");
    assert!(w.audio_frames(b, a) > before.1 + 100, "audio b<-a stalled");
}
