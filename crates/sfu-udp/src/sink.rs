//! A room's socket as its [`TransmitSink`]: in a room with several workers, each helper
//! thread sends the datagrams of its shard itself, so sending (the kernel's share of a
//! forwarded packet, about half of it on loopback) is spread over the workers too.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sfu_ids::OutgoingDatagram;
use sfu_registry::TransmitSink;
use tokio::net::UdpSocket;

use crate::batch::Sender;

thread_local! {
    /// Each helper thread's planning buffers, reused from batch to batch.
    static SENDER: RefCell<Sender> = RefCell::new(Sender::new());
    /// Datagrams for another socket, set aside while the rest go.
    static ASIDE: RefCell<Vec<OutgoingDatagram>> = const { RefCell::new(Vec::new()) };
}

/// The room's socket, shared with the helper threads, and what they sent on it.
#[derive(Debug)]
pub(crate) struct SocketSink {
    socket: Arc<UdpSocket>,
    /// The room's own address: a datagram from another (a relay's socket) is left to
    /// the room.
    local: SocketAddr,
    datagrams: AtomicU64,
    messages: AtomicU64,
}

impl SocketSink {
    pub(crate) fn new(socket: Arc<UdpSocket>, local: SocketAddr) -> Self {
        Self {
            socket,
            local,
            datagrams: AtomicU64::new(0),
            messages: AtomicU64::new(0),
        }
    }

    /// Datagrams and messages sent since the last call.
    pub(crate) fn take_counts(&self) -> (u64, u64) {
        (
            self.datagrams.swap(0, Ordering::Relaxed),
            self.messages.swap(0, Ordering::Relaxed),
        )
    }
}

impl TransmitSink for SocketSink {
    fn transmit(&self, datagrams: &mut Vec<OutgoingDatagram>) {
        let local = self.local;
        ASIDE.with_borrow_mut(|aside| {
            if datagrams.iter().any(|d| d.source != local) {
                aside.extend(datagrams.extract_if(.., |d| d.source != local));
            }
            SENDER.with_borrow_mut(|sender| {
                let before = sender.messages();
                let sent = sender.send_now(&self.socket, datagrams);
                self.datagrams.fetch_add(sent as u64, Ordering::Relaxed);
                self.messages
                    .fetch_add(sender.messages() - before, Ordering::Relaxed);
            });
            datagrams.append(aside);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn datagram(from: SocketAddr, to: SocketAddr, n: u8) -> OutgoingDatagram {
        OutgoingDatagram {
            proto: sfu_ids::SfuProtocol::Udp,
            source: from,
            destination: to,
            contents: Bytes::from(vec![n; 100]),
        }
    }

    #[tokio::test]
    async fn sends_the_rooms_datagrams_from_any_thread_and_leaves_another_sockets() {
        let room = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (local, to) = (room.local_addr().unwrap(), peer.local_addr().unwrap());
        // The runtime learns that the socket is writable, as it has for a room that sent.
        room.writable().await.unwrap();
        let relay: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let sink = Arc::new(SocketSink::new(room, local));
        let mut out: Vec<_> = (0..5).map(|n| datagram(local, to, n)).collect();
        out.insert(2, datagram(relay, to, 99));
        let helper = Arc::clone(&sink);
        let left = std::thread::spawn(move || {
            helper.transmit(&mut out);
            out
        })
        .join()
        .unwrap();
        assert_eq!(left.len(), 1, "the relay's datagram stays");
        assert_eq!(left[0].source, relay);
        let mut buf = [0u8; 200];
        for n in 0..5 {
            let (len, _) = peer.recv_from(&mut buf).await.unwrap();
            assert_eq!((len, buf[0]), (100, n), "in order, whole");
        }
        assert_eq!(sink.take_counts().0, 5);
        assert_eq!(sink.take_counts().0, 0, "taken");
    }
}
