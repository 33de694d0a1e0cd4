//! The send-side bandwidth estimate towards one subscriber.
//!
//! Three estimators can drive a subscriber's budget, all fed by the transport-wide
//! congestion control feedback (TWCC) the subscriber's browser sends:
//! - [`EstimatorKind::GoogCc`]: `sfu-bwe-googcc`, libwebrtc's design;
//! - [`EstimatorKind::Kalman`]: `sfu-bwe-kalman`, the original GCC draft's Kalman filter;
//! - [`EstimatorKind::Str0m`]: str0m's built-in estimator, for comparison.
//!
//! str0m 0.25 keeps its per-packet send records and the decoded feedback to itself. Our
//! estimators therefore read both from str0m's raw packet events
//! (`RtcConfig::enable_raw_packets`): every sent RTP packet's transport-wide sequence
//! number and size, and every TWCC report. That switch also makes str0m copy each RTP
//! packet it sends or receives into the event, a per-packet cost that a dedicated str0m
//! event would remove (see ARCHITECTURE.md). str0m's own estimator runs in every adaptive
//! mode: it is the only source of padding and probes (which let the estimate climb while
//! the subscriber receives less than the link carries) and its pacer spreads bursts.

use std::time::{Duration, Instant};

use sfu_bwe::{Bitrate, CongestionControl, DataSize, SentPacket, Timestamp, TwccFeedback, TwccSeq};
use sfu_bwe_googcc::{GoogCcConfig, GoogCcEstimator};
use sfu_bwe_kalman::{BandwidthEstimator, KalmanConfig};
use str0m::rtp::rtcp::Twcc;

/// Which estimate sets a subscriber's budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EstimatorKind {
    /// Google Congestion Control as in libwebrtc (`sfu-bwe-googcc`).
    GoogCc,
    /// The Kalman-filter GCC of draft-ietf-rmcat-gcc-02 (`sfu-bwe-kalman`).
    Kalman,
    /// str0m's built-in estimator: the default, because it won the comparison in
    /// `docs/adaptive.md` (its probes feed its own estimate, so it climbs back reliably
    /// after a constrained period; ours cannot use them yet).
    #[default]
    Str0m,
    /// No estimate: every subscriber gets the best layers unless the application caps it.
    Off,
}

impl EstimatorKind {
    /// `true` when a bandwidth estimate drives the budget.
    pub fn is_adaptive(self) -> bool {
        self != Self::Off
    }

    /// `true` when the estimator needs str0m's raw packet events (it is one of ours).
    pub(crate) fn needs_raw_packets(self) -> bool {
        matches!(self, Self::GoogCc | Self::Kalman)
    }
}

impl std::str::FromStr for EstimatorKind {
    type Err = UnknownEstimator;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "googcc" => Ok(Self::GoogCc),
            "kalman" => Ok(Self::Kalman),
            "str0m" => Ok(Self::Str0m),
            "off" => Ok(Self::Off),
            _ => Err(UnknownEstimator(s.to_string())),
        }
    }
}

/// An estimator name other than `googcc`, `kalman`, `str0m` or `off`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown estimator {0:?} (known: googcc, kalman, str0m, off)")]
pub struct UnknownEstimator(String);

/// The estimate str0m's estimator starts from, and ours too.
pub(crate) const INITIAL_ESTIMATE: Bitrate = Bitrate::from_kbps(1000);

/// The estimation state of one subscriber.
pub(crate) struct Estimation {
    kind: EstimatorKind,
    own: Option<Box<dyn CongestionControl + Send>>,
    /// Time zero of the [`Timestamp`]s handed to our estimator.
    epoch: Instant,
    /// Reused for every feedback message.
    feedback: TwccFeedback,
    str0m: Option<Bitrate>,
}

impl std::fmt::Debug for Estimation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Estimation")
            .field("kind", &self.kind)
            .field("estimate", &self.estimate())
            .finish_non_exhaustive()
    }
}

impl Estimation {
    pub(crate) fn new(kind: EstimatorKind, epoch: Instant) -> Self {
        // INITIAL_ESTIMATE lies within both default bounds (checked by the unit test
        // below), so the configurations are valid.
        let own: Option<Box<dyn CongestionControl + Send>> = match kind {
            EstimatorKind::GoogCc => {
                let mut config = GoogCcConfig::default();
                config.initial_bitrate = INITIAL_ESTIMATE;
                let e = GoogCcEstimator::new(config).expect("valid googcc configuration");
                Some(Box::new(e))
            }
            EstimatorKind::Kalman => {
                let mut config = KalmanConfig::default();
                config.initial_bitrate = INITIAL_ESTIMATE;
                let e = BandwidthEstimator::new(config).expect("valid kalman configuration");
                Some(Box::new(e))
            }
            EstimatorKind::Str0m | EstimatorKind::Off => None,
        };
        // Only our own estimators read feedback; with str0m's or none, an idle buffer of
        // 256 reports would cost every participant ~6 KiB.
        let reports = if own.is_some() { 256 } else { 0 };
        Self {
            kind,
            own,
            epoch,
            feedback: TwccFeedback::with_capacity(Timestamp::ZERO, reports),
            str0m: None,
        }
    }

    pub(crate) fn kind(&self) -> EstimatorKind {
        self.kind
    }

    fn at(&self, t: Instant) -> Timestamp {
        Timestamp::from_duration(t.saturating_duration_since(self.epoch))
    }

    /// An RTP packet with transport-wide sequence number `seq` and `size` bytes left at `now`.
    pub(crate) fn on_sent(&mut self, seq: u16, size: usize, now: Instant) {
        let send_time = self.at(now);
        if let Some(own) = self.own.as_mut() {
            own.on_packet_sent(SentPacket {
                seq: TwccSeq::new(seq),
                send_time,
                size: DataSize::from_bytes(size as u64),
            });
        }
    }

    /// A TWCC feedback message from the subscriber arrived at `now`.
    pub(crate) fn on_twcc(&mut self, twcc: Twcc, now: Instant) {
        let received_at = self.at(now);
        let epoch = self.epoch;
        let Some(own) = self.own.as_mut() else {
            return;
        };
        self.feedback.clear(received_at);
        for (seq, _status, arrival) in twcc.into_iter(epoch, 0_u64.into()) {
            let arrival =
                arrival.map(|a| Timestamp::from_duration(a.saturating_duration_since(epoch)));
            self.feedback.push(TwccSeq::new(*seq as u16), arrival);
        }
        own.on_feedback(&self.feedback);
    }

    /// A round-trip time measurement.
    pub(crate) fn on_rtt(&mut self, rtt: Duration, now: Instant) {
        let now = self.at(now);
        if let Some(own) = self.own.as_mut() {
            own.on_rtt(rtt, now);
        }
    }

    /// str0m's estimator reported `estimate`.
    pub(crate) fn on_str0m_estimate(&mut self, estimate: Bitrate) {
        self.str0m = Some(estimate);
    }

    /// The estimate that sets the budget, once there is one.
    pub(crate) fn estimate(&self) -> Option<Bitrate> {
        match self.kind {
            EstimatorKind::GoogCc | EstimatorKind::Kalman => {
                self.own.as_ref().map(|e| e.estimate().bitrate())
            }
            EstimatorKind::Str0m => self.str0m,
            EstimatorKind::Off => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_adaptive_kind_starts_with_an_estimate_or_waits_for_str0m() {
        let t0 = Instant::now();
        for kind in [EstimatorKind::GoogCc, EstimatorKind::Kalman] {
            let e = Estimation::new(kind, t0);
            assert_eq!(e.estimate(), Some(INITIAL_ESTIMATE), "{kind:?}");
        }
        let mut s = Estimation::new(EstimatorKind::Str0m, t0);
        assert_eq!(s.estimate(), None);
        s.on_str0m_estimate(Bitrate::from_kbps(700));
        assert_eq!(s.estimate(), Some(Bitrate::from_kbps(700)));
        assert_eq!(Estimation::new(EstimatorKind::Off, t0).estimate(), None);
    }

    #[test]
    fn names_parse() {
        assert_eq!("googcc".parse(), Ok(EstimatorKind::GoogCc));
        assert_eq!("str0m".parse(), Ok(EstimatorKind::Str0m));
        assert!("bbr".parse::<EstimatorKind>().is_err());
    }
}
