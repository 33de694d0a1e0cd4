//! Batched UDP I/O: up to [`BATCH`] datagrams per receive call and [`BATCH`] messages per
//! send call (`recvmmsg` and `sendmmsg` on Linux, one `recv_from` / `send_to` each
//! elsewhere), where each sent message may carry a train of datagrams for one destination
//! that the kernel segments (UDP GSO); socket buffers sized for bursts; each datagram's
//! arrival time as the kernel stamped it; and the datagrams the kernel dropped because a
//! receive buffer was full.
//!
//! The room loop and [`crate::UdpMux`] use it; it is public so that other loops (a relay,
//! a load generator's baseline) get the same I/O path.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use bytes::Bytes;
use sfu_ids::OutgoingDatagram;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tracing::debug;

/// Datagrams per receive call; messages (a datagram, or a train of them) per send call.
pub const BATCH: usize = 32;
/// Batches read per wake-up before a loop looks at its timers and commands again.
const DRAIN_BATCHES: usize = 2;
/// Room for one datagram. WebRTC keeps datagrams under ~1200 bytes; larger ones are cut.
const SLOT: usize = 2048;
/// Batch buffers a receiver keeps for reuse; more may be in use at once (a room that has
/// not handled its datagrams yet), and those are freed when they come back.
const POOLED: usize = 64;

/// Sizes a socket's kernel buffers to `bytes` each way (beyond the system's limit where the
/// process may), and asks the kernel to stamp each datagram it receives with its arrival
/// time (`SO_TIMESTAMPNS` on Linux), which [`Receiver`] hands on. Takes any socket:
/// tokio's, the standard library's, socket2's.
pub fn configure<'s>(socket: impl Into<socket2::SockRef<'s>>, bytes: usize) {
    let sock: socket2::SockRef<'s> = socket.into();
    if let Err(e) = sys::stamp_arrivals(&sock) {
        debug!(error = %e, "no receive timestamps on this socket");
    }
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

/// Receives datagrams in batches, each batch into the slots of one buffer; each datagram is
/// a slice of it, handed on with its source and, on a socket [`configure`]d where the
/// system stamps arrivals, the wall-clock time the kernel received it. A buffer goes back
/// to the receiver's pool when the last of its datagrams is dropped, wherever that happens
/// (a room handles its datagrams at once; a mux hands them to rooms' tasks), and is read
/// into again without being cleared: in the steady state a batch costs one small
/// allocation (its `Bytes`' shared header) and no zeroing.
#[derive(Debug, Default)]
pub struct Receiver {
    pool: Arc<Pool>,
}

/// Batch buffers (of [`BATCH`] slots) not in use.
#[derive(Default)]
struct Pool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let free = self.free.lock().map_or(0, |free| free.len());
        f.debug_struct("Pool").field("free", &free).finish()
    }
}

impl Pool {
    fn take(&self) -> Vec<u8> {
        self.free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_else(|| vec![0; BATCH * SLOT])
    }

    fn give_back(&self, buffer: Vec<u8>) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.len() < POOLED {
            free.push(buffer);
        }
    }
}

/// A batch buffer lent out as [`Bytes`]; dropping it gives the buffer back.
struct Lease {
    buffer: Vec<u8>,
    pool: Arc<Pool>,
}

impl AsRef<[u8]> for Lease {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buffer));
    }
}

impl Receiver {
    /// A receiver with an empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hands each datagram that is ready to `handle` (its source, its bytes, its arrival
    /// time if stamped): until the socket has none (so its readiness is cleared and the
    /// next wake-up is for new datagrams), at most two batches. A receive error (ICMP
    /// errors surface as such on some platforms) is not fatal: it ends this drain.
    pub fn drain(
        &mut self,
        socket: &UdpSocket,
        mut handle: impl FnMut(SocketAddr, Bytes, Option<SystemTime>),
    ) {
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
    /// each to `handle` as [`Receiver::drain`] does; `Ok(0)` when none is ready.
    pub fn recv(
        &mut self,
        socket: &UdpSocket,
        mut handle: impl FnMut(SocketAddr, Bytes, Option<SystemTime>),
    ) -> io::Result<usize> {
        let mut buffer = self.pool.take();
        let mut got = [Got::default(); BATCH];
        let received = socket.try_io(Interest::READABLE, || {
            sys::recv(socket, &mut buffer, &mut got)
        });
        let n = match received {
            Ok(n) => n,
            Err(e) => {
                self.pool.give_back(buffer);
                return match e.kind() {
                    io::ErrorKind::WouldBlock => Ok(0),
                    _ => Err(e),
                };
            }
        };
        let batch = Bytes::from_owner(Lease {
            buffer,
            pool: Arc::clone(&self.pool),
        });
        for (i, got) in got.iter().take(n).enumerate() {
            if let Some(source) = got.source {
                let start = i * SLOT;
                handle(
                    source,
                    batch.slice(start..start + got.len.min(SLOT)),
                    got.arrived,
                );
            }
        }
        Ok(n)
    }
}

/// What the system said of one received datagram.
#[derive(Debug, Clone, Copy, Default)]
struct Got {
    len: usize,
    source: Option<SocketAddr>,
    arrived: Option<SystemTime>,
}

/// Sends datagrams in batches: up to [`BATCH`] messages per system call, and on Linux with
/// UDP segmentation offload (GSO) each message a *train*: datagrams to one destination
/// that have one length (the last may be shorter), which the kernel cuts into datagrams
/// after one pass through its stack. Grouped by destination, each subscriber's share of a
/// burst becomes one message instead of one per packet. A batched fanout already emits
/// each subscriber's datagrams together and keeps that order; other batches (packets
/// given to every subscriber in turn) are sorted by path.
///
/// The datagrams of each path keep their order; datagrams of different paths may be
/// reordered between paths. Reuses its buffers: nothing is allocated per datagram.
#[derive(Debug, Default)]
pub struct Sender {
    /// Positions in `out`, grouped by path, each path's in its order.
    order: Vec<u32>,
    /// The trains of `order`, in sending order.
    trains: Vec<Train>,
    /// Whether trains are sent as one message each; learned from the first socket.
    gso: Option<bool>,
    /// Messages handed to the kernel so far (a train counts once).
    messages: u64,
    /// Per position in `out`: whether it was sent ([`Sender::send_now`]).
    sent_mask: Vec<bool>,
    /// The first position of each path's run ([`Sender::grouped_by_path`]).
    run_heads: Vec<u32>,
}

/// Consecutive datagrams of `order` sent as one message.
#[derive(Debug, Clone, Copy)]
struct Train {
    /// First position in `order`.
    first: u32,
    /// How many datagrams (at most [`MAX_SEGMENTS`]).
    count: u32,
    /// Every datagram but the last has this length; the last is no longer.
    segment: u16,
}

impl Train {
    /// Sent as one message with a segment size (several datagrams), or as a plain one.
    fn segmented(&self) -> bool {
        self.count > 1
    }
}

/// Datagrams per train: the kernel's limit (`UDP_MAX_SEGMENTS`).
const MAX_SEGMENTS: usize = 64;
/// Bytes per train: a train travels the stack as one packet of at most 64 KiB.
const MAX_TRAIN_BYTES: usize = 60_000;
/// Runs of paths up to which [`Sender::grouped_by_path`] checks a batch for grouping
/// (comparisons grow with the square of the runs) before leaving it to a sort.
const GROUPED_RUNS: usize = 32;

impl Sender {
    /// A sender with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Messages handed to the kernel so far, a train of several datagrams counting once:
    /// datagrams sent over this is the datagrams per message that segmentation achieved.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Sends every datagram of `out` on `socket`, waiting while the socket's buffer is
    /// full; returns how many went out. A datagram the kernel refuses (an unreachable
    /// destination, say) is skipped.
    pub async fn send(
        &mut self,
        socket: &UdpSocket,
        out: &[OutgoingDatagram],
    ) -> io::Result<usize> {
        let gso = *self.gso.get_or_insert_with(|| sys::gso_supported(socket));
        self.plan(out, gso);
        let mut next = 0;
        let mut sent = 0;
        while next < self.trains.len() {
            match self.try_call(socket, out, next) {
                Ok(k) => {
                    let went = &self.trains[next..next + k];
                    sent += went.iter().map(|t| t.count as usize).sum::<usize>();
                    next += k.max(1);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => socket.writable().await?,
                Err(e) if self.trains[next].segmented() => {
                    // This train's segment size does not fit the route (past its MTU), or
                    // the device cannot segment at all: its datagrams go on as plain ones,
                    // through the same path (waiting on a full buffer like the rest).
                    debug!(error = %e, "segmented send failed; sending the train's datagrams one by one");
                    if sys::segmentation_unavailable(&e) {
                        self.gso = Some(false);
                    }
                    self.split(next, out);
                }
                Err(e) => {
                    let d = &out[self.order[self.trains[next].first as usize] as usize];
                    debug!(destination = %d.destination, error = %e, "send failed");
                    next += 1;
                }
            }
        }
        Ok(sent)
    }

    /// Sends what `socket` takes of `out` at once, without waiting, from any thread (also
    /// one outside the runtime); removes the datagrams that went and returns how many.
    /// Those that met a full buffer or an error stay in `out`, in their order, for
    /// [`Sender::send`] to wait for or deal with.
    pub fn send_now(&mut self, socket: &UdpSocket, out: &mut Vec<OutgoingDatagram>) -> usize {
        let gso = *self.gso.get_or_insert_with(|| sys::gso_supported(socket));
        self.plan(out, gso);
        let mut next = 0;
        while next < self.trains.len() {
            match self.try_call(socket, out, next) {
                Ok(k) if k > 0 => next += k,
                _ => break,
            }
        }
        // Trains go out in order, so what went is a prefix of `order`.
        let went = self
            .trains
            .get(next)
            .map_or(self.order.len(), |t| t.first as usize);
        if went == out.len() {
            out.clear();
            return went;
        }
        self.sent_mask.clear();
        self.sent_mask.resize(out.len(), false);
        for &i in &self.order[..went] {
            self.sent_mask[i as usize] = true;
        }
        let mut position = 0;
        out.retain(|_| {
            let keep = !self.sent_mask[position];
            position += 1;
            keep
        });
        went
    }

    /// One system call for the trains from `from` ([`Sender::call`]), if the socket takes
    /// it now; returns how many trains went.
    fn try_call(
        &mut self,
        socket: &UdpSocket,
        out: &[OutgoingDatagram],
        from: usize,
    ) -> io::Result<usize> {
        let trains = &self.trains[from..self.call(from)];
        let k = socket.try_io(Interest::WRITABLE, || {
            sys::send(socket, out, &self.order, trains)
        })?;
        self.messages += k as u64;
        Ok(k)
    }

    /// Replaces train `at` with one plain train per datagram (an error path: the only
    /// place the train list grows after planning).
    fn split(&mut self, at: usize, out: &[OutgoingDatagram]) {
        let train = self.trains[at];
        let singles: Vec<Train> = (train.first..)
            .zip(self.positions(train))
            .map(|(first, i)| Train {
                first,
                count: 1,
                segment: out[i].contents.len().min(usize::from(u16::MAX)) as u16,
            })
            .collect();
        self.trains.splice(at..=at, singles);
    }

    /// Groups `out` into trains: by path, then runs of one length.
    fn plan(&mut self, out: &[OutgoingDatagram], gso: bool) {
        self.order.clear();
        self.order.extend(0..out.len() as u32);
        self.trains.clear();
        if gso && !self.grouped_by_path(out) {
            // By path, and by position within a path (which also makes the order total,
            // so the unstable sort needs no buffer).
            self.order.sort_unstable_by_key(|&i| {
                let d = &out[i as usize];
                (d.destination, d.source, i)
            });
        }
        let mut pos = 0;
        while pos < self.order.len() {
            let head = &out[self.order[pos] as usize];
            let segment = head.contents.len();
            let mut count = 1;
            let mut bytes = segment;
            if gso && segment > 0 && segment <= usize::from(u16::MAX) {
                while let Some(&i) = self.order.get(pos + count) {
                    let d = &out[i as usize];
                    let len = d.contents.len();
                    if count == MAX_SEGMENTS
                        || d.destination != head.destination
                        || d.source != head.source
                        || len > segment
                        || len == 0
                        || bytes + len > MAX_TRAIN_BYTES
                    {
                        break;
                    }
                    count += 1;
                    bytes += len;
                    if len < segment {
                        // Only a train's last datagram may be shorter (and not empty: it
                        // would add no bytes, so no datagram).
                        break;
                    }
                }
            }
            self.trains.push(Train {
                first: pos as u32,
                count: count as u32,
                segment: segment.min(usize::from(u16::MAX)) as u16,
            });
            pos += count;
        }
    }

    /// Whether each path's datagrams in `out` are already one run, as a batched fanout
    /// emits them (each subscriber polled once), so the room's order can stand unsorted.
    /// Compares each run's path with the earlier runs' and gives up (`false`, so the
    /// caller sorts) past [`GROUPED_RUNS`] runs, where a sort is cheaper.
    fn grouped_by_path(&mut self, out: &[OutgoingDatagram]) -> bool {
        let path = |d: &OutgoingDatagram| (d.destination, d.source);
        self.run_heads.clear();
        let mut last = None;
        for (i, d) in out.iter().enumerate() {
            if last == Some(path(d)) {
                continue;
            }
            if self.run_heads.len() == GROUPED_RUNS
                || self
                    .run_heads
                    .iter()
                    .any(|&h| path(&out[h as usize]) == path(d))
            {
                return false;
            }
            self.run_heads.push(i as u32);
            last = Some(path(d));
        }
        true
    }

    /// The end of the system call that starts at train `from`: trains of one kind (one
    /// segment size, or plain datagrams), at most [`BATCH`] messages and [`MAX_IOV`]
    /// datagrams.
    fn call(&self, from: usize) -> usize {
        let head = self.trains[from];
        let kind = |t: &Train| t.segmented().then_some(t.segment);
        let mut datagrams = 0;
        let mut end = from;
        for t in &self.trains[from..] {
            if end - from == BATCH
                || kind(t) != kind(&head)
                || datagrams + t.count as usize > MAX_IOV
            {
                break;
            }
            datagrams += t.count as usize;
            end += 1;
        }
        end.max(from + 1)
    }

    /// The positions in `out` of a train's datagrams.
    fn positions(&self, train: Train) -> impl Iterator<Item = usize> + '_ {
        let first = train.first as usize;
        self.order[first..first + train.count as usize]
            .iter()
            .map(|&i| i as usize)
    }
}

/// Datagrams per system call, over all its messages.
const MAX_IOV: usize = 512;

#[cfg(target_os = "linux")]
mod sys {
    use std::cell::RefCell;
    use std::io::{self, IoSlice, IoSliceMut};
    use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::AsRawFd;
    use std::time::{Duration, SystemTime};

    use nix::sys::socket::{
        ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage, getsockopt,
        recvmmsg, sendmmsg, setsockopt, sockopt,
    };
    use nix::sys::time::{TimeSpec, TimeValLike};
    use sfu_ids::OutgoingDatagram;
    use tokio::net::UdpSocket;

    use super::{BATCH, Got, MAX_IOV, SLOT, Train};

    pub(super) fn force_buffers(socket: &socket2::SockRef<'_>, bytes: usize) -> io::Result<()> {
        setsockopt(&**socket, sockopt::RcvBufForce, &bytes)?;
        setsockopt(&**socket, sockopt::SndBufForce, &bytes)?;
        Ok(())
    }

    pub(super) fn stamp_arrivals(socket: &socket2::SockRef<'_>) -> io::Result<()> {
        setsockopt(&**socket, sockopt::ReceiveTimestampns, &true)?;
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

    type SendHeaders = (
        MultiHeaders<SockaddrStorage>,
        MultiHeaders<SockaddrStorage>,
        Vec<Option<SockaddrStorage>>,
    );

    thread_local! {
        // The system calls' headers, allocated once per thread (they hold raw pointers,
        // so a task cannot carry them across an await). A received message has room for
        // its arrival time.
        static RECV: RefCell<MultiHeaders<SockaddrStorage>> =
            RefCell::new(MultiHeaders::preallocate(BATCH, Some(nix::cmsg_space!(TimeSpec))));
        // Plain messages, and messages with room for one `UDP_SEGMENT` control message (a
        // header with room for one is never sent without it: the kernel would read the
        // room's stale contents).
        static SEND: RefCell<SendHeaders> = RefCell::new((
            MultiHeaders::preallocate(BATCH, None),
            MultiHeaders::preallocate(BATCH, Some(nix::cmsg_space!(u16))),
            Vec::with_capacity(BATCH),
        ));
    }

    /// Receives up to [`BATCH`] datagrams into `buffer`'s slots: `got[i]` is slot `i`'s
    /// length, source and arrival time.
    pub(super) fn recv(
        socket: &UdpSocket,
        buffer: &mut [u8],
        got: &mut [Got; BATCH],
    ) -> io::Result<usize> {
        RECV.with_borrow_mut(|headers| {
            let mut rest: &mut [u8] = buffer;
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
                let arrived = msg.cmsgs().ok().and_then(|mut c| {
                    c.find_map(|c| match c {
                        ControlMessageOwned::ScmTimestampns(t) => wall_clock(t),
                        _ => None,
                    })
                });
                *slot = Got {
                    len: msg.bytes,
                    source: msg.address.as_ref().and_then(socket_addr),
                    arrived,
                };
                n += 1;
            }
            Ok(n)
        })
    }

    /// Whether the kernel segments trains on this socket (`UDP_SEGMENT`, Linux 4.18+).
    pub(super) fn gso_supported(socket: &UdpSocket) -> bool {
        getsockopt(socket, sockopt::UdpGsoSegment).is_ok()
    }

    /// Whether a segmented send failed because the device cannot segment at all (no
    /// checksum offload), rather than because of one train.
    pub(super) fn segmentation_unavailable(e: &io::Error) -> bool {
        e.raw_os_error() == Some(nix::libc::EIO)
    }

    /// Sends `trains` (of `out`, through `order`), all of one kind, as one message each;
    /// returns how many trains went.
    pub(super) fn send(
        socket: &UdpSocket,
        out: &[OutgoingDatagram],
        order: &[u32],
        trains: &[Train],
    ) -> io::Result<usize> {
        let datagram = |pos: u32| &out[order[pos as usize] as usize];
        if let [train] = trains
            && !train.segmented()
        {
            // One datagram: `sendto` costs less than building a batch.
            let d = datagram(train.first);
            socket.try_send_to(&d.contents, d.destination)?;
            return Ok(1);
        }
        let mut iov = [IoSlice::new(&[]); MAX_IOV];
        let mut ranges = [(0, 0); BATCH];
        let mut used = 0;
        for (range, train) in ranges.iter_mut().zip(trains) {
            let start = used;
            for pos in train.first..train.first + train.count {
                iov[used] = IoSlice::new(&datagram(pos).contents);
                used += 1;
            }
            *range = (start, used);
        }
        let messages: [&[IoSlice<'_>]; BATCH] =
            std::array::from_fn(|i| &iov[ranges[i].0..ranges[i].1]);
        let n = trains.len();
        SEND.with_borrow_mut(|(plain, segmented, addrs)| {
            addrs.clear();
            addrs.extend(
                trains
                    .iter()
                    .map(|t| Some(SockaddrStorage::from(datagram(t.first).destination))),
            );
            let sent = if trains[0].segmented() {
                let segment = trains[0].segment;
                sendmmsg(
                    socket.as_raw_fd(),
                    segmented,
                    messages[..n].iter(),
                    &addrs[..],
                    [ControlMessage::UdpGsoSegments(&segment)],
                    MsgFlags::MSG_DONTWAIT,
                )?
                .count()
            } else {
                sendmmsg(
                    socket.as_raw_fd(),
                    plain,
                    messages[..n].iter(),
                    &addrs[..],
                    [] as [ControlMessage<'_>; 0],
                    MsgFlags::MSG_DONTWAIT,
                )?
                .count()
            };
            Ok(sent)
        })
    }

    /// A kernel timestamp (`CLOCK_REALTIME`) as a [`SystemTime`].
    fn wall_clock(t: TimeSpec) -> Option<SystemTime> {
        let nanos = u64::try_from(t.num_nanoseconds()).ok()?;
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))
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

    use sfu_ids::OutgoingDatagram;
    use tokio::net::UdpSocket;

    use super::{BATCH, Got, SLOT, Train};

    pub(super) fn force_buffers(_socket: &socket2::SockRef<'_>, _bytes: usize) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }

    pub(super) fn stamp_arrivals(_socket: &socket2::SockRef<'_>) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }

    pub(super) fn kernel_drops(_socket: &UdpSocket) -> Option<u64> {
        None
    }

    /// One datagram per call here, without an arrival time.
    pub(super) fn recv(
        socket: &UdpSocket,
        buffer: &mut [u8],
        got: &mut [Got; BATCH],
    ) -> io::Result<usize> {
        let (len, source) = socket.try_recv_from(&mut buffer[..SLOT])?;
        got[0] = Got {
            len,
            source: Some(source),
            arrived: None,
        };
        Ok(1)
    }

    /// No segmentation offload here: every train is one datagram.
    pub(super) fn gso_supported(_socket: &UdpSocket) -> bool {
        false
    }

    pub(super) fn segmentation_unavailable(_e: &io::Error) -> bool {
        true
    }

    /// One datagram per call here.
    pub(super) fn send(
        socket: &UdpSocket,
        out: &[OutgoingDatagram],
        order: &[u32],
        trains: &[Train],
    ) -> io::Result<usize> {
        let d = &out[order[trains[0].first as usize] as usize];
        socket.try_send_to(&d.contents, d.destination)?;
        Ok(1)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::time::Duration;

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
        assert_eq!(Sender::new().send(&tx, &out).await.unwrap(), 100);

        let mut receiver = Receiver::new();
        let mut got = Vec::new();
        loop {
            rx.readable().await.unwrap();
            let n = receiver
                .recv(&rx, |source, bytes, _| got.push((source, bytes)))
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

    #[tokio::test]
    async fn a_configured_socket_hands_on_when_each_datagram_arrived() {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        configure(&rx, DEFAULT_TEST_BUFFER);
        let plain = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let before = SystemTime::now();
        for to in [&rx, &plain] {
            let out = [datagram(to.local_addr().unwrap(), 1)];
            Sender::new().send(&tx, &out).await.unwrap();
        }
        let mut receiver = Receiver::new();
        let mut arrivals = Vec::new();
        for socket in [&rx, &plain] {
            socket.readable().await.unwrap();
            receiver
                .recv(socket, |_, _, arrived| arrivals.push(arrived))
                .unwrap();
        }
        let after = SystemTime::now();
        let stamped = arrivals[0].expect("a configured socket stamps arrivals");
        assert!(before <= stamped && stamped <= after, "{stamped:?}");
        assert_eq!(arrivals[1], None, "an unconfigured socket does not");
    }

    const DEFAULT_TEST_BUFFER: usize = 1 << 20;

    fn sized(to: SocketAddr, tag: u8, len: usize) -> OutgoingDatagram {
        OutgoingDatagram {
            contents: Bytes::from(vec![tag; len]),
            ..datagram(to, tag)
        }
    }

    /// Packets of a fanout: each of `lens` to each of `to`, interleaved as a room emits
    /// them (packet 1 to everyone, then packet 2 ...).
    fn fanout(to: &[SocketAddr], lens: &[usize]) -> Vec<OutgoingDatagram> {
        lens.iter()
            .enumerate()
            .flat_map(|(n, &len)| to.iter().map(move |&a| sized(a, n as u8, len)))
            .collect()
    }

    #[test]
    fn trains_are_runs_of_one_length_per_path_and_a_shorter_datagram_ends_one() {
        let a: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:1001".parse().unwrap();
        let out = fanout(&[a, b], &[1200, 1200, 1200, 900, 1200, 1300, 1300]);
        let mut sender = Sender::new();
        sender.plan(&out, true);
        let trains: Vec<(SocketAddr, u32, u16)> = sender
            .trains
            .iter()
            .map(|t| {
                (
                    out[sender.order[t.first as usize] as usize].destination,
                    t.count,
                    t.segment,
                )
            })
            .collect();
        assert_eq!(
            trains,
            [
                (a, 4, 1200),
                (a, 1, 1200),
                (a, 2, 1300),
                (b, 4, 1200),
                (b, 1, 1200),
                (b, 2, 1300)
            ]
        );
        // Each path's datagrams in their order.
        for t in &sender.trains {
            let tags: Vec<u8> = sender.positions(*t).map(|i| out[i].contents[0]).collect();
            assert!(tags.windows(2).all(|w| w[0] < w[1]), "{tags:?}");
        }
        // Without segmentation every datagram is its own train, in the room's order.
        sender.plan(&out, false);
        assert_eq!(sender.trains.len(), out.len());
        assert!(in_room_order(&sender));
    }

    /// Whether the plan sends `out` in the order the room gave it.
    fn in_room_order(sender: &Sender) -> bool {
        sender
            .order
            .iter()
            .enumerate()
            .all(|(n, &i)| n == i as usize)
    }

    /// Each planned train's destination and datagram count, in sending order.
    fn train_paths(sender: &Sender, out: &[OutgoingDatagram]) -> Vec<(SocketAddr, u32)> {
        sender
            .trains
            .iter()
            .map(|t| {
                (
                    out[sender.order[t.first as usize] as usize].destination,
                    t.count,
                )
            })
            .collect()
    }

    #[test]
    fn a_batch_grouped_by_path_keeps_its_order_and_a_returning_path_is_regrouped() {
        let [a, b, c]: [SocketAddr; 3] =
            ["127.0.0.1:1002", "127.0.0.1:1000", "127.0.0.1:1001"].map(|s| s.parse().unwrap());
        // As a batched fanout emits it: each subscriber's packets together, and not in
        // address order.
        let grouped: Vec<OutgoingDatagram> = [a, b, c]
            .iter()
            .flat_map(|&to| fanout(&[to], &[1200, 1200, 900]))
            .collect();
        let mut sender = Sender::new();
        sender.plan(&grouped, true);
        assert!(in_room_order(&sender));
        assert_eq!(train_paths(&sender, &grouped), [(a, 3), (b, 3), (c, 3)]);

        // `a` again after `b`: not grouped, so sorted into one run per path.
        let mut returning = fanout(&[a, b], &[1200]);
        returning.extend(fanout(&[a], &[1200]));
        sender.plan(&returning, true);
        assert_eq!(train_paths(&sender, &returning), [(b, 1), (a, 2)]);

        // More runs than are checked: sorted, still one run per path.
        let many: Vec<SocketAddr> = (0..GROUPED_RUNS as u16 + 8)
            .map(|p| SocketAddr::from(([127, 0, 0, 1], 2000 + p)))
            .rev()
            .collect();
        let out: Vec<OutgoingDatagram> = many
            .iter()
            .flat_map(|&to| fanout(&[to], &[1200, 1200]))
            .collect();
        sender.plan(&out, true);
        assert_eq!(sender.trains.len(), many.len());
        assert!(sender.trains.iter().all(|t| t.count == 2));
    }

    #[test]
    fn a_refused_train_becomes_plain_datagrams_in_its_place() {
        let a: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:1001".parse().unwrap();
        let out = fanout(&[a, b], &[1200, 1200, 700]);
        let mut sender = Sender::new();
        sender.plan(&out, true);
        let before: Vec<usize> = sender
            .trains
            .iter()
            .flat_map(|t| sender.positions(*t))
            .collect();
        sender.split(0, &out);
        let counts: Vec<u32> = sender.trains.iter().map(|t| t.count).collect();
        assert_eq!(counts, [1, 1, 1, 3]);
        let segments: Vec<u16> = sender.trains[..3].iter().map(|t| t.segment).collect();
        assert_eq!(segments, [1200, 1200, 700]);
        // The same datagrams in the same order, now plain ones first.
        let after: Vec<usize> = sender
            .trains
            .iter()
            .flat_map(|t| sender.positions(*t))
            .collect();
        assert_eq!(before, after);
        assert!(!sender.trains[0].segmented());
    }

    #[test]
    fn a_train_stops_at_the_kernels_segment_and_byte_limits() {
        let a: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let mut sender = Sender::new();
        let out = fanout(&[a], &[100; 150]);
        sender.plan(&out, true);
        let counts: Vec<u32> = sender.trains.iter().map(|t| t.count).collect();
        assert_eq!(counts, [64, 64, 22]);
        let out = fanout(&[a], &[1400; 100]);
        sender.plan(&out, true);
        assert!(
            sender
                .trains
                .iter()
                .all(|t| t.count as usize * 1400 <= MAX_TRAIN_BYTES)
        );
        assert_eq!(sender.trains.iter().map(|t| t.count).sum::<u32>(), 100);
    }

    #[tokio::test]
    async fn segmented_trains_arrive_as_the_datagrams_they_were_each_in_order() {
        let receivers = [
            UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        ];
        for rx in &receivers {
            configure(rx, 1 << 22);
        }
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to: Vec<SocketAddr> = receivers.iter().map(|r| r.local_addr().unwrap()).collect();
        // Runs of one length, shorter ends, a longer one, an empty one, over several calls.
        let lens: Vec<usize> = (0..120)
            .map(|n| match n % 17 {
                5 => 700,
                11 => 1300,
                16 => 0,
                _ => 1200,
            })
            .collect();
        let out = fanout(&to, &lens);
        let mut sender = Sender::new();
        assert!(sys::gso_supported(&tx), "this kernel has UDP_SEGMENT");
        assert_eq!(sender.send(&tx, &out).await.unwrap(), out.len());
        assert!(
            sender.trains.len() <= out.len() / 3,
            "{} trains",
            sender.trains.len()
        );
        assert_eq!(sender.messages(), sender.trains.len() as u64);

        for rx in &receivers {
            let mut got = Vec::new();
            let mut receiver = Receiver::new();
            while got.len() < lens.len() {
                let wait = tokio::time::timeout(Duration::from_secs(5), rx.readable());
                assert!(wait.await.is_ok(), "missing after {got:?}");
                receiver
                    .recv(rx, |_, bytes, _| {
                        got.push((bytes.first().copied(), bytes.len()))
                    })
                    .unwrap();
            }
            let sent: Vec<(Option<u8>, usize)> = lens
                .iter()
                .enumerate()
                .map(|(n, &len)| ((len > 0).then_some(n as u8), len))
                .collect();
            assert_eq!(got, sent);
        }
    }

    #[tokio::test]
    async fn a_batch_buffer_is_reused_once_its_last_datagram_is_dropped() {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = rx.local_addr().unwrap();
        let pooled = |r: &Receiver| r.pool.free.lock().unwrap().len();
        let mut receiver = Receiver::new();
        let mut kept = Vec::new();
        for round in 0..3u8 {
            tx.send_to(&[round; 100], to).await.unwrap();
            rx.readable().await.unwrap();
            assert_eq!(receiver.recv(&rx, |_, d, _| kept.push(d)).unwrap(), 1);
            // Held by its datagram, the buffer is not the pool's.
            assert_eq!(pooled(&receiver), 0);
            assert_eq!(kept.last().unwrap()[..], [round; 100]);
            kept.clear();
            assert_eq!(pooled(&receiver), 1);
        }
    }
}
