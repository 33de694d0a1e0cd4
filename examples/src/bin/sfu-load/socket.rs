//! The load peers' sockets, and how they receive.
//!
//! Over loopback the kernel delivers a datagram to its receiver inside the sender's send
//! call, so the SFU's measured CPU includes each subscriber's receive path: cutting a GSO
//! train back into datagrams and queueing each on the subscriber's socket. On a network
//! that work happens on the subscribers' machines. With `--gro` the peers' sockets take
//! UDP GRO, so a train reaches them whole, as one datagram the peer cuts itself: the SFU
//! is charged for one delivery and one wake-up per train instead of one per datagram.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt};

/// Whether peers' sockets take whole GSO trains (`--gro`).
static RECEIVE_TRAINS: AtomicBool = AtomicBool::new(false);

/// Room for one received train: the most a GSO train can carry.
const TRAIN_BYTES: usize = 65_536;

/// From now on, peers' sockets receive GSO trains whole (`--gro`).
pub(crate) fn receive_trains() {
    RECEIVE_TRAINS.store(true, Ordering::Relaxed);
}

/// A peer's socket on `ip`: buffers sized as the SFU's, and with `--gro` UDP GRO on.
pub(crate) fn bind(ip: IpAddr) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0))?;
    sfu_kit::batch::configure(&socket, sfu_kit::DEFAULT_SOCKET_BUFFER);
    if RECEIVE_TRAINS.load(Ordering::Relaxed) {
        setsockopt(&socket, nix::sys::socket::sockopt::UdpGroSegment, &true)
            .map_err(io::Error::from)?;
    }
    Ok(socket)
}

/// A peer's socket on 127.0.0.1.
pub(crate) fn bind_loopback() -> io::Result<UdpSocket> {
    bind(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Whether a datagram is ready on `socket` within `wait` (whole milliseconds, rounded up).
/// A poll times out on a high-resolution timer, where a socket's read timeout counts in
/// the kernel's ticks and can wake several milliseconds late: a paced publisher that
/// waits here sends its bursts on time.
pub(crate) fn readable_within(socket: &UdpSocket, wait: Duration) -> io::Result<bool> {
    let millis = u16::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(millis)) {
        Ok(n) => Ok(n > 0),
        Err(nix::errno::Errno::EINTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Where a peer receives: room for a whole train and for the kernel's notes on it.
pub(crate) struct Inbox {
    buf: Vec<u8>,
    control: Vec<u8>,
}

impl Inbox {
    pub(crate) fn new() -> Self {
        Self {
            buf: vec![0; TRAIN_BYTES],
            control: nix::cmsg_space!(nix::sys::time::TimeSpec, i32),
        }
    }

    /// Receives one datagram, or one train of them, and hands each datagram to `handle`
    /// with its source. Errors as `recv_from` has them: a read timeout is `WouldBlock`.
    pub(crate) fn recv(
        &mut self,
        socket: &UdpSocket,
        mut handle: impl FnMut(SocketAddr, &[u8]) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let (len, source, segment) = {
            let mut iov = [IoSliceMut::new(&mut self.buf)];
            let msg = recvmsg::<SockaddrStorage>(
                socket.as_raw_fd(),
                &mut iov,
                Some(&mut self.control),
                MsgFlags::empty(),
            )
            .map_err(io::Error::from)?;
            let segment = msg.cmsgs()?.find_map(|c| match c {
                ControlMessageOwned::UdpGroSegments(size) => usize::try_from(size).ok(),
                _ => None,
            });
            let source = msg.address.and_then(|a| {
                a.as_sockaddr_in()
                    .map(|a| SocketAddr::from((a.ip(), a.port())))
                    .or_else(|| {
                        a.as_sockaddr_in6()
                            .map(|a| SocketAddr::from((a.ip(), a.port())))
                    })
            });
            (msg.bytes, source, segment)
        };
        let Some(source) = source else {
            return Ok(());
        };
        // Without GRO, or for a lone datagram, the kernel gives no segment size.
        let segment = segment.filter(|s| *s > 0).unwrap_or(len.max(1));
        for datagram in self.buf[..len].chunks(segment) {
            handle(source, datagram)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use nix::sys::socket::{ControlMessage, SockaddrIn, sendmsg};

    #[test]
    fn a_gso_train_arrives_whole_and_is_cut_into_its_datagrams() {
        receive_trains();
        let receiver = bind_loopback().unwrap();
        let sender = bind_loopback().unwrap();
        let to = match receiver.local_addr().unwrap() {
            SocketAddr::V4(a) => SockaddrIn::from(a),
            SocketAddr::V6(_) => unreachable!("bound on 127.0.0.1"),
        };
        // Three datagrams of 1000 bytes and one of 10, in one send call.
        let train: Vec<u8> = (0..3010).map(|i| (i / 1000) as u8).collect();
        let segment: u16 = 1000;
        sendmsg(
            sender.as_raw_fd(),
            &[std::io::IoSlice::new(&train)],
            &[ControlMessage::UdpGsoSegments(&segment)],
            MsgFlags::empty(),
            Some(&to),
        )
        .unwrap();
        let mut inbox = Inbox::new();
        let mut got = Vec::new();
        inbox
            .recv(&receiver, |from, d| {
                assert_eq!(from, sender.local_addr().unwrap());
                got.push((d[0], d.len()));
                Ok(())
            })
            .unwrap();
        // One receive call: the train came whole.
        assert_eq!(got, [(0, 1000), (1, 1000), (2, 1000), (3, 10)]);
    }
}
