//! The [`CongestionControl`] trait: the seam between a room and an estimator.

use std::time::Duration;

use crate::{BandwidthEstimate, Bitrate, SentPacket, Timestamp, TwccFeedback};

/// A send-side bandwidth estimator driven by transport-wide feedback.
///
/// # Drive loop
///
/// 1. For every packet carrying a transport-wide sequence number, call
///    [`on_packet_sent`](Self::on_packet_sent) when it leaves (O(1), allocation-free).
/// 2. For every TWCC feedback message, call [`on_feedback`](Self::on_feedback).
/// 3. Optionally report round-trip time samples with [`on_rtt`](Self::on_rtt).
/// 4. Read [`estimate`](Self::estimate) whenever a pacing or layer decision needs it; it
///    only changes in steps 2 and 3.
/// 5. If the pacer can send probe clusters, ask [`poll_probe`](Self::poll_probe) before
///    each packet and send what it returns.
///
/// Time is always an argument; implementations never read a clock.
pub trait CongestionControl {
    /// Records a packet handed to the network.
    fn on_packet_sent(&mut self, packet: SentPacket);

    /// Processes one feedback message. Reports for unknown, duplicated or overwritten
    /// sequence numbers are ignored; no input panics.
    fn on_feedback(&mut self, feedback: &TwccFeedback);

    /// A round-trip time measurement (e.g. from RTCP), used to space reactions that wait
    /// for their effect to come back.
    fn on_rtt(&mut self, rtt: Duration, now: Timestamp) {
        let _ = (rtt, now);
    }

    /// The current estimate, always within the implementation's configured bounds.
    fn estimate(&self) -> BandwidthEstimate;

    /// A probe the estimator wants sent from `now` on, if any.
    ///
    /// When it returns a [`ProbeCluster`], the caller's pacer sends at least its rate for
    /// its duration, with padding when media is short, and reports every packet through
    /// [`on_packet_sent`](Self::on_packet_sent) as usual: the estimator recognises the
    /// cluster by send time. Ask before each packet is sent; most calls return `None`.
    fn poll_probe(&mut self, now: Timestamp) -> Option<ProbeCluster> {
        let _ = now;
        None
    }
}

/// A burst the estimator asks the pacer to send to measure whether the path carries more
/// than the current estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeCluster {
    /// The rate to send at.
    pub rate: Bitrate,
    /// How long to send at it.
    pub duration: Duration,
}

impl<C: CongestionControl + ?Sized> CongestionControl for Box<C> {
    fn on_packet_sent(&mut self, packet: SentPacket) {
        (**self).on_packet_sent(packet);
    }

    fn on_feedback(&mut self, feedback: &TwccFeedback) {
        (**self).on_feedback(feedback);
    }

    fn on_rtt(&mut self, rtt: Duration, now: Timestamp) {
        (**self).on_rtt(rtt, now);
    }

    fn estimate(&self) -> BandwidthEstimate {
        (**self).estimate()
    }

    fn poll_probe(&mut self, now: Timestamp) -> Option<ProbeCluster> {
        (**self).poll_probe(now)
    }
}
