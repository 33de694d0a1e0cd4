//! raw-relay: a plain UDP fanout with sfu-kit's I/O path and no WebRTC, the baseline that
//! `sfu-load --baseline relay` measures the SFU against.
//!
//! ```sh
//! cargo build --release -p examples
//! taskset -c 1 target/release/raw-relay --port 0   # prints "listening 127.0.0.1:PORT"
//! ```
//!
//! It reads with the runtime's batched receive (`recvmmsg`, 32 a call, into one reused
//! buffer) and writes with its batched send (`sendmmsg`), with the same 4 MiB socket
//! buffers, so the difference between it and basic-sfu under the same load is what WebRTC
//! (SRTP, RTCP, str0m's state, the room's routing and layer logic) costs. The protocol is
//! the load generator's:
//!
//! - `[1, room: u32]` subscribes the sender to a room;
//! - `[2, room: u32, ...]` is media: it goes to every subscriber of the room but the sender;
//! - `[3]` asks for the counters: the answer is `[3, sent: u64, received: u64]`;
//! - `[4, room: u32]` unsubscribes the sender from a room, as a peer leaving it (a relay
//!   used for several runs would otherwise keep sending to the sockets of the last run's
//!   watchers).
//!
//! Anything else is dropped. Rooms and subscribers are bounded.

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::Bytes;
use clap::Parser;
use sfu_kit::{OutgoingDatagram, SfuProtocol, batch};

/// Subscribe the sender to a room.
const SUBSCRIBE: u8 = 1;
/// Media for a room's subscribers.
const MEDIA: u8 = 2;
/// Ask for the counters.
const STATS: u8 = 3;
/// Unsubscribe the sender from a room.
const UNSUBSCRIBE: u8 = 4;
/// Rooms the relay keeps at most.
const MAX_ROOMS: usize = 10_000;
/// Subscribers per room at most.
const MAX_SUBSCRIBERS: usize = 1_000;

/// A plain UDP fanout relay, the load generator's baseline.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to bind.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// UDP port (0: any free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Socket buffer size each way, bytes.
    #[arg(long, default_value_t = sfu_kit::DEFAULT_SOCKET_BUFFER)]
    socket_buffer_bytes: usize,
}

/// The room a datagram names, after its kind byte.
fn room_of(d: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(1..5)?.try_into().ok()?))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let socket = std::net::UdpSocket::bind(SocketAddr::new(args.bind, args.port))?;
    socket.set_nonblocking(true)?;
    let socket = tokio::net::UdpSocket::from_std(socket)?;
    batch::configure(&socket, args.socket_buffer_bytes);
    let local = socket.local_addr()?;
    println!("listening {local}");
    std::io::stdout().flush()?;

    let mut rooms: HashMap<u32, Vec<SocketAddr>> = HashMap::new();
    let mut receiver = batch::Receiver::new();
    let mut sender = batch::Sender::new();
    let mut out: Vec<OutgoingDatagram> = Vec::with_capacity(batch::BATCH * 64);
    let (mut sent, mut received) = (0u64, 0u64);
    let datagram = |destination, contents| OutgoingDatagram {
        proto: SfuProtocol::Udp,
        source: local,
        destination,
        contents,
    };
    loop {
        socket.readable().await?;
        receiver.drain(&socket, |source, d: Bytes, _| {
            received += 1;
            match (d.first(), room_of(&d)) {
                (Some(&MEDIA), Some(room)) => {
                    if let Some(subscribers) = rooms.get(&room) {
                        out.extend(
                            subscribers
                                .iter()
                                .filter(|s| **s != source)
                                .map(|s| datagram(*s, d.clone())),
                        );
                    }
                }
                (Some(&SUBSCRIBE), Some(room))
                    if rooms.len() < MAX_ROOMS || rooms.contains_key(&room) =>
                {
                    let subscribers = rooms.entry(room).or_default();
                    if subscribers.len() < MAX_SUBSCRIBERS && !subscribers.contains(&source) {
                        subscribers.push(source);
                    }
                }
                (Some(&UNSUBSCRIBE), Some(room)) => {
                    if let Some(subscribers) = rooms.get_mut(&room) {
                        subscribers.retain(|s| *s != source);
                        if subscribers.is_empty() {
                            rooms.remove(&room);
                        }
                    }
                }
                (Some(&STATS), _) => {
                    let mut answer = vec![STATS];
                    answer.extend(sent.to_be_bytes());
                    answer.extend(received.to_be_bytes());
                    out.push(datagram(source, Bytes::from(answer)));
                }
                _ => {}
            }
        });
        if !out.is_empty() {
            sent += sender.send(&socket, &out).await? as u64;
            out.clear();
        }
    }
}
