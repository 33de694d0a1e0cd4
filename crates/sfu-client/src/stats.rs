//! Per-peer RTCP-derived statistics.

use std::time::{Duration, Instant};

use sfu_bwe::Bitrate;
use sfu_ids::{SfuMid, SfuRid};
use str0m::stats::{MediaEgressStats, PeerStats};

/// What RTCP and str0m's accounting say about one peer's connection. Refreshed once per
/// stats interval (1 s with [`rtc_config`](crate::rtc_config)); read with
/// [`Client::rtcp_stats`](crate::Client::rtcp_stats).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct PeerRtcpStats {
    /// Round-trip time from RTCP receiver reports.
    pub rtt: Option<Duration>,
    /// Fraction of our packets the peer reports lost (0.0–1.0).
    pub egress_loss_fraction: Option<f32>,
    /// Fraction of the peer's packets we lost (0.0–1.0).
    pub ingress_loss_fraction: Option<f32>,
    /// Bytes sent to the peer.
    pub bytes_sent: u64,
    /// Bytes received from the peer.
    pub bytes_received: u64,
    /// NACKs the peer sent about media we forward to it.
    pub nacks_received: u64,
    /// PLIs the peer sent.
    pub plis_received: u64,
    /// FIRs the peer sent.
    pub firs_received: u64,
    /// When the figures were last refreshed.
    pub updated_at: Option<Instant>,
    /// The current send-side bandwidth estimate towards the peer, when an estimator runs.
    pub estimate: Option<Bitrate>,
}

/// Latest egress counters of one outgoing stream.
#[derive(Debug, Clone, Copy)]
struct Egress {
    mid: SfuMid,
    rid: Option<SfuRid>,
    nacks: u64,
    plis: u64,
    firs: u64,
}

/// Collects str0m's periodic stats events into a [`PeerRtcpStats`].
#[derive(Debug, Default)]
pub(crate) struct StatsCollector {
    peer: PeerRtcpStats,
    egress: Vec<Egress>,
}

impl StatsCollector {
    pub(crate) fn on_peer(&mut self, s: &PeerStats) {
        self.peer.rtt = s.rtt.or(self.peer.rtt);
        self.peer.egress_loss_fraction = s.egress_loss_fraction;
        self.peer.ingress_loss_fraction = s.ingress_loss_fraction;
        self.peer.bytes_sent = s.bytes_tx;
        self.peer.bytes_received = s.bytes_rx;
        self.peer.updated_at = Some(s.timestamp);
    }

    pub(crate) fn on_egress(&mut self, s: &MediaEgressStats) {
        let mid = SfuMid::from(s.mid);
        let rid = s.rid.map(SfuRid::from);
        let e = Egress {
            mid,
            rid,
            nacks: s.nacks,
            plis: s.plis,
            firs: s.firs,
        };
        match self
            .egress
            .iter_mut()
            .find(|x| x.mid == mid && x.rid == rid)
        {
            Some(x) => *x = e,
            None => self.egress.push(e),
        }
        if s.rtt.is_some() {
            self.peer.rtt = s.rtt;
        }
    }

    pub(crate) fn snapshot(&self) -> PeerRtcpStats {
        let mut s = self.peer;
        for e in &self.egress {
            s.nacks_received += e.nacks;
            s.plis_received += e.plis;
            s.firs_received += e.firs;
        }
        s
    }
}
