//! Pacing as libwebrtc's pacer paces a publisher: its packets leave at a multiple of its
//! rate, in bursts a few milliseconds apart. Both kinds of publisher (str0m peers and the
//! raw relay's) pace with [`Pacer`], so their loads have one shape.

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::peer::Media;

/// A paced publisher sends at this many times its average rate: libwebrtc's pacing factor,
/// so a frame leaves over about 40 % of the time until the next, and a keyframe (three
/// frames' size) runs into the next frame.
pub(crate) const PACE_FACTOR: f64 = 2.5;

/// A paced publisher's packets leave in bursts this far apart (libwebrtc's pacer sends
/// every 5 ms).
pub(crate) const PACE_INTERVAL: Duration = Duration::from_millis(5);

/// A paced publisher's queue: what it has to send, let out in order. While packets
/// wait, bursts are at least [`PACE_INTERVAL`] apart, each as large as the pacing rate
/// allows for the time since the last (a thread's timed wait can run several milliseconds
/// late; the rate holds all the same). When the queue had run empty, what comes next goes
/// at once, up to one interval's worth, so a new frame's first packet does not wait.
pub(crate) struct Pacer {
    queue: VecDeque<(Vec<u8>, SocketAddr)>,
    /// Bytes per second.
    rate: f64,
    /// The last burst, and whether it left packets behind.
    last: Instant,
    backlog: bool,
}

/// The longest time one burst makes up for: a stalled thread catches up, but not in one
/// burst of seconds.
const MAX_CATCH_UP: Duration = Duration::from_millis(50);

impl Pacer {
    pub(crate) fn new(media: &Media, now: Instant) -> Self {
        Self {
            queue: VecDeque::new(),
            rate: media.paced_bytes() as f64 / PACE_INTERVAL.as_secs_f64(),
            last: now,
            backlog: false,
        }
    }

    /// Queues `datagram` for `to`.
    pub(crate) fn push(&mut self, datagram: Vec<u8>, to: SocketAddr) {
        self.queue.push_back((datagram, to));
    }

    /// Sends the burst due by `now`, if one is; returns when the next is due (`None`:
    /// nothing is queued).
    pub(crate) fn release(&mut self, socket: &UdpSocket, now: Instant) -> Option<Instant> {
        if self.queue.is_empty() {
            return None;
        }
        let since = now.saturating_duration_since(self.last);
        if self.backlog && since < PACE_INTERVAL {
            return Some(self.last + PACE_INTERVAL);
        }
        let span = if self.backlog {
            since.min(MAX_CATCH_UP)
        } else {
            PACE_INTERVAL
        };
        let allowance = (self.rate * span.as_secs_f64()) as usize;
        let mut sent = 0;
        while sent < allowance.max(1)
            && let Some((d, to)) = self.queue.pop_front()
        {
            let _ = socket.send_to(&d, to);
            sent += d.len();
        }
        self.last = now;
        self.backlog = !self.queue.is_empty();
        self.backlog.then_some(now + PACE_INTERVAL)
    }
}
