//! Batched UDP I/O: up to [`BATCH`] datagrams per system call (`recvmmsg` and `sendmmsg` on
//! Linux, one `recv_from` / `send_to` each elsewhere), socket buffers sized for bursts, and
//! the datagrams the kernel dropped because a receive buffer was full.
//!
//! The room loop and [`crate::UdpMux`] use it; it is public so that other loops (a relay,
//! a load generator's baseline) get the same I/O path.

use std::io;
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use sfu_ids::OutgoingDatagram;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tracing::debug;

/// Datagrams per system call.
pub const BATCH: usize = 32;
/// Batches read per wake-up before a loop looks at its timers and commands again.
const DRAIN_BATCHES: usize = 2;
/// Room for one datagram. WebRTC keeps datagrams under ~1200 bytes; larger ones are cut.
const SLOT: usize = 2048;
/// Datagrams are read into slots of one buffer of this size (512 slots).
const ARENA: usize = 1 << 20;

/// Sizes a socket's kernel buffers to `bytes` each way (beyond the system's limit where the
/// process may). Takes any socket: tokio's, the standard library's, socket2's.
pub fn configure<'s>(socket: impl Into<socket2::SockRef<'s>>, bytes: usize) {
    let sock: socket2::SockRef<'s> = socket.into();
    if let Err(e) = sys::force_buffers(&sock, bytes) {
        debug!(error = %e, "cannot force socket buffers past the system limit");
        let _ = sock.set_recv_buffer_size(bytes);
        let _ = sock.set_send_buffer_size(bytes);
    }
    debug!(
        recv = sock.recv_buffer_size().unwrap_or(0),
        send = sock.send_buffer_size().unwrap_or(0),
        "socket buffers"
    );
}

/// Datagrams the kernel has dropped on `socket` because its receive buffer was full (0
/// where the system does not tell). Reads `/proc`: for statistics, not the packet path.
pub fn kernel_drops(socket: &UdpSocket) -> u64 {
    sys::kernel_drops(socket).unwrap_or(0)
}

/// Receives datagrams in batches into the slots of one large buffer; each datagram is a
/// slice of it. When the batch's slices are all dropped by the time the next batch comes
/// (a room handles its datagrams at once) the same slots are read into again; when they
/// are kept (a mux hands them to rooms) the next batch takes the next slots, and a new
/// buffer comes when this one is used up: one allocation per 512 datagrams kept.
#[derive(Debug)]
pub struct Receiver {
    arena: BytesMut,
}

impl Default for Receiver {
    fn default() -> Self {
        Self::new()
    }
}

impl Receiver {
    /// A receiver with its first buffer.
    pub fn new() -> Self {
        Self {
            arena: BytesMut::zeroed(ARENA),
        }
    }

    /// Hands each datagram that is ready to `handle`: until the socket has none (so its
    /// readiness is cleared and the next wake-up is for new datagrams), at most
    /// two batches. A receive error (ICMP errors surface as such on some
    /// platforms) is not fatal: it ends this drain.
    pub fn drain(&mut self, socket: &UdpSocket, mut handle: impl FnMut(SocketAddr, Bytes)) {
        for _ in 0..DRAIN_BATCHES {
            match self.recv(socket, &mut handle) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    debug!(error = %e, "recv error");
                    break;
                }
            }
        }
    }

    /// Reads the datagrams that are ready, at most [`BATCH`] in one system call, and hands
    /// each to `handle`; `Ok(0)` when none is ready.
    pub fn recv(
        &mut self,
        socket: &UdpSocket,
        mut handle: impl FnMut(SocketAddr, Bytes),
    ) -> io::Result<usize> {
        if self.arena.len() < BATCH * SLOT {
            self.arena = BytesMut::zeroed(ARENA);
        }
        let mut got = [(0usize, None::<SocketAddr>); BATCH];
        let received = socket.try_io(Interest::READABLE, || {
            sys::recv(socket, &mut self.arena, &mut got)
        });
        let n = match received {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
            Err(e) => return Err(e),
        };
        let used = self.arena.split_to(n * SLOT).freeze();
        for (i, (len, source)) in got.iter().take(n).enumerate() {
            if let Some(source) = source {
                let start = i * SLOT;
                handle(*source, used.slice(start..start + (*len).min(SLOT)));
            }
        }
        // Nobody kept a datagram: the slots are free again (joining is O(1): they are the
        // front of the same buffer).
        if let Ok(mut free) = used.try_into_mut() {
            free.unsplit(std::mem::take(&mut self.arena));
            self.arena = free;
        }
        Ok(n)
    }
}

/// Sends every datagram of `out` on `socket`, [`BATCH`] per system call, waiting while the
/// socket's buffer is full; returns how many went out. A datagram the kernel refuses (an
/// unreachable destination, say) is skipped.
pub async fn send(socket: &UdpSocket, out: &[OutgoingDatagram]) -> io::Result<usize> {
    let mut done = 0;
    let mut sent = 0;
    while done < out.len() {
        let chunk = &out[done..(done + BATCH).min(out.len())];
        match socket.try_io(Interest::WRITABLE, || sys::send(socket, chunk)) {
            Ok(k) => {
                done += k.max(1);
                sent += k;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => socket.writable().await?,
            Err(e) => {
                debug!(destination = %chunk[0].destination, error = %e, "send failed");
                done += 1;
            }
        }
    }
    Ok(sent)
}

#[cfg(target_os = "linux")]
mod sys {
    use std::cell::RefCell;
    use std::io::{self, IoSlice, IoSliceMut};
    use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::AsRawFd;

    use bytes::BytesMut;
    use nix::sys::socket::{
        ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg, setsockopt,
        sockopt,
    };
    use sfu_ids::OutgoingDatagram;
    use tokio::net::UdpSocket;

    use super::{BATCH, SLOT};

    pub(super) fn force_buffers(socket: &socket2::SockRef<'_>, bytes: usize) -> io::Result<()> {
        setsockopt(&**socket, sockopt::RcvBufForce, &bytes)?;
        setsockopt(&**socket, sockopt::SndBufForce, &bytes)?;
        Ok(())
    }

    /// The `drops` column of the socket's line in `/proc/net/udp` (or `udp6`), found by
    /// its inode.
    pub(super) fn kernel_drops(socket: &UdpSocket) -> Option<u64> {
        use std::os::unix::fs::MetadataExt;
        let inode = std::fs::metadata(format!("/proc/self/fd/{}", socket.as_raw_fd()))
            .ok()?
            .ino()
            .to_string();
        ["/proc/self/net/udp", "/proc/self/net/udp6"]
            .iter()
            .filter_map(|table| std::fs::read_to_string(table).ok())
            .find_map(|table| {
                table.lines().skip(1).find_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    (fields.get(9) == Some(&inode.as_str()))
                        .then(|| fields.last()?.parse().ok())
                        .flatten()
                })
            })
    }

    thread_local! {
        // The system calls' headers, allocated once per thread (they hold raw pointers,
        // so a task cannot carry them across an await).
        static RECV: RefCell<MultiHeaders<SockaddrStorage>> =
            RefCell::new(MultiHeaders::preallocate(BATCH, None));
        static SEND: RefCell<(MultiHeaders<SockaddrStorage>, Vec<Option<SockaddrStorage>>)> =
            RefCell::new((MultiHeaders::preallocate(BATCH, None), Vec::with_capacity(BATCH)));
    }

    /// Receives up to [`BATCH`] datagrams into `arena`'s slots: `got[i]` is slot `i`'s
    /// length and source.
    pub(super) fn recv(
        socket: &UdpSocket,
        arena: &mut BytesMut,
        got: &mut [(usize, Option<SocketAddr>); BATCH],
    ) -> io::Result<usize> {
        RECV.with_borrow_mut(|headers| {
            let mut rest: &mut [u8] = &mut arena[..];
            let mut slices: [[IoSliceMut<'_>; 1]; BATCH] = std::array::from_fn(|_| {
                let (slot, tail) = std::mem::take(&mut rest).split_at_mut(SLOT);
                rest = tail;
                [IoSliceMut::new(slot)]
            });
            let results = recvmmsg(
                socket.as_raw_fd(),
                headers,
                slices.iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            )?;
            let mut n = 0;
            for (slot, msg) in got.iter_mut().zip(results) {
                *slot = (msg.bytes, msg.address.as_ref().and_then(socket_addr));
                n += 1;
            }
            Ok(n)
        })
    }

    /// Sends up to [`BATCH`] datagrams of `out`; returns how many went.
    pub(super) fn send(socket: &UdpSocket, out: &[OutgoingDatagram]) -> io::Result<usize> {
        let n = out.len().min(BATCH);
        if n == 1 {
            // One datagram: `sendto` costs less than building a batch.
            let d = &out[0];
            socket.try_send_to(&d.contents, d.destination)?;
            return Ok(1);
        }
        SEND.with_borrow_mut(|(headers, addrs)| {
            addrs.clear();
            addrs.extend(
                out[..n]
                    .iter()
                    .map(|d| Some(SockaddrStorage::from(d.destination))),
            );
            let slices: [[IoSlice<'_>; 1]; BATCH] = std::array::from_fn(|i| {
                [IoSlice::new(
                    out.get(i).map_or(&[][..], |d| &d.contents[..]),
                )]
            });
            let sent = sendmmsg(
                socket.as_raw_fd(),
                headers,
                slices[..n].iter(),
                &addrs[..],
                [] as [ControlMessage<'_>; 0],
                MsgFlags::MSG_DONTWAIT,
            )?;
            Ok(sent.count())
        })
    }

    fn socket_addr(s: &SockaddrStorage) -> Option<SocketAddr> {
        if let Some(v4) = s.as_sockaddr_in() {
            return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
        }
        s.as_sockaddr_in6()
            .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    use std::io;
    use std::net::SocketAddr;

    use bytes::BytesMut;
    use sfu_ids::OutgoingDatagram;
    use tokio::net::UdpSocket;

    use super::{BATCH, SLOT};

    pub(super) fn force_buffers(_socket: &socket2::SockRef<'_>, _bytes: usize) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }

    pub(super) fn kernel_drops(_socket: &UdpSocket) -> Option<u64> {
        None
    }

    /// One datagram per call here.
    pub(super) fn recv(
        socket: &UdpSocket,
        arena: &mut BytesMut,
        got: &mut [(usize, Option<SocketAddr>); BATCH],
    ) -> io::Result<usize> {
        let (n, source) = socket.try_recv_from(&mut arena[..SLOT])?;
        got[0] = (n, Some(source));
        Ok(1)
    }

    /// One datagram per call here.
    pub(super) fn send(socket: &UdpSocket, out: &[OutgoingDatagram]) -> io::Result<usize> {
        let d = &out[0];
        socket.try_send_to(&d.contents, d.destination)?;
        Ok(1)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn datagram(to: SocketAddr, n: u8) -> OutgoingDatagram {
        OutgoingDatagram {
            proto: sfu_ids::SfuProtocol::Udp,
            source: to,
            destination: to,
            contents: Bytes::from(vec![n; 1000]),
        }
    }

    #[tokio::test]
    async fn batches_go_out_and_come_in_whole_and_drops_are_counted() {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        // The smallest buffer the kernel allows: a burst overflows it.
        socket2::SockRef::from(&rx).set_recv_buffer_size(1).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = rx.local_addr().unwrap();
        let out: Vec<OutgoingDatagram> = (0..100).map(|n| datagram(to, n)).collect();
        assert_eq!(send(&tx, &out).await.unwrap(), 100);

        let mut receiver = Receiver::new();
        let mut got = Vec::new();
        loop {
            rx.readable().await.unwrap();
            let n = receiver
                .recv(&rx, |source, bytes| got.push((source, bytes)))
                .unwrap();
            if n == 0 || got.len() >= 100 {
                break;
            }
        }
        assert!(!got.is_empty());
        let from = tx.local_addr().unwrap();
        for (source, bytes) in &got {
            assert_eq!(*source, from);
            assert_eq!(bytes.len(), 1000);
            assert!(bytes.iter().all(|b| *b == bytes[0]));
        }
        // In order, each one whole; what did not fit was dropped, and counted.
        assert!(got.windows(2).all(|w| w[0].1[0] < w[1].1[0]));
        assert_eq!(got.len() as u64 + kernel_drops(&rx), 100);
    }
}
