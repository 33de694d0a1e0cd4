//! [`GoogCcEstimator`]: the parts wired together (libwebrtc `GoogCcNetworkController`,
//! `DelayBasedBwe`, `SendSideBandwidthEstimation`).

use std::time::Duration;

use sfu_bwe::{
    BandwidthEstimate, BandwidthUsage, Bitrate, CongestionControl, ProbeCluster, SendHistory,
    SentPacket, Timestamp, TwccFeedback, TwccSample,
};
use sfu_bwe_control::{
    CompetitionDetector, CompetitionParams, LossController, LossParams, PathState, ProbeParams,
    Prober, QueueDelay, underuse_needs_a_queue,
};

use crate::acknowledged_bitrate::AcknowledgedBitrate;
use crate::aimd::{AimdParams, AimdRateControl};
use crate::config::{GoogCcConfig, GoogCcConfigError};
use crate::inter_arrival::InterArrival;
use crate::overuse_detector::{DetectorParams, OveruseDetector};
use crate::trendline::Trendline;

/// Google Congestion Control, send side.
///
/// # Drive loop
///
/// 1. [`on_packet_sent`](CongestionControl::on_packet_sent) for every packet with a
///    transport-wide sequence number (O(1): a ring-buffer write).
/// 2. [`on_feedback`](CongestionControl::on_feedback) for every TWCC message. Per message:
///    reports are matched with send times, received packets are sorted by arrival and fed
///    to the acknowledged-bitrate estimator and, packet by packet, to inter-arrival grouping
///    → trendline → over-use detector; then the AIMD controller applies the verdict and the
///    loss controller caps the result.
/// 3. Optionally [`on_rtt`](CongestionControl::on_rtt).
/// 4. [`estimate`](CongestionControl::estimate) = clamp(min(delay-based, loss-based)).
///
/// After the first few messages the estimator allocates nothing: the sample buffer keeps
/// its capacity.
#[derive(Debug, Clone)]
pub struct GoogCcEstimator {
    config: GoogCcConfig,
    history: SendHistory,
    inter_arrival: InterArrival,
    trendline: Trendline,
    detector: OveruseDetector,
    aimd: AimdRateControl,
    acknowledged: AcknowledgedBitrate,
    loss: LossController,
    prober: Prober,
    competition: CompetitionDetector,
    queue: QueueDelay,
    last_overuse: Option<Timestamp>,
    /// The latest probe result and when it arrived.
    last_probe: Option<(Bitrate, Timestamp)>,
    rtt: Duration,
    samples: Vec<TwccSample>,
    estimate: Bitrate,
}

const DEFAULT_RTT: Duration = Duration::from_millis(200);
/// Under-use holds the rate only while the last 500 ms show a queue at least this long
/// ([`underuse_needs_a_queue`]). On the RFC 8867 suite, seeds 0–59 as specified / under
/// `bwe-suite --perturb-ms 1` / 2: 1429 / 1283 / 1297 of 1440 runs against 1407 / 1219 /
/// 1215 with every under-use held. 6 to 10 ms meet about as many perturbed runs (1269 to
/// 1297); as specified the count swings as clean traces flip (6 ms: 1368, 7: 1311, 9:
/// 1431, 10: 1369, where a 5.8 flow ends at 0.84 of its share).
const UNDERUSE_QUEUE: Duration = Duration::from_millis(8);
/// How long a probe result outranks a lower acknowledged rate as the measure of what the
/// path carries. A probe sends at a rate the flow has not sent before and measures what
/// the path delivered of it; the acknowledged rate only follows once whole windows at the
/// new rate have passed through its smoothing, and the first window after start also
/// covers the ramp from the initial rate. An over-use in that time (often the probe's own
/// queue) would otherwise cut from a rate the path was never limited to: in RFC 8867 5.8
/// three flows starting on a 3.5 Mbit/s link each had a probe measure 1.11 Mbit/s, met
/// over-use in the same feedback and fell to 0.46–0.54 Mbit/s (half the estimate, or
/// 0.85 × the first 500 ms window), then needed 3 s to climb back. On the suite,
/// 200–350 ms give the same results; 100 ms and 450 ms fewer.
const PROBE_MEASUREMENT_HOLDS: Duration = Duration::from_millis(300);

impl GoogCcEstimator {
    /// An estimator with a validated `config`.
    pub fn new(config: GoogCcConfig) -> Result<Self, GoogCcConfigError> {
        config.validate()?;
        Ok(Self {
            history: SendHistory::new(config.history_capacity),
            inter_arrival: InterArrival::new(config.burst_interval),
            trendline: Trendline::new(config.trendline_window, config.trendline_smoothing),
            detector: OveruseDetector::new(DetectorParams {
                threshold_gain: config.threshold_gain,
                initial_threshold_ms: 12.5,
                k_up: 0.0087,
                k_down: 0.039,
                overuse_time_ms: config.overuse_time.as_secs_f64() * 1000.0,
            }),
            aimd: AimdRateControl::new(
                AimdParams {
                    bounds: config.bounds,
                    beta: config.beta,
                    multiplicative_increase_per_second: config.multiplicative_increase_per_second,
                },
                config.initial_bitrate,
            ),
            acknowledged: AcknowledgedBitrate::default(),
            loss: LossController::new(LossParams {
                low: config.loss_low,
                high: config.loss_high,
                window: config.loss_window,
                relax_per_second: 1.08,
            }),
            prober: Prober::new(ProbeParams {
                max_rate: config.bounds.max(),
                ..ProbeParams::default()
            }),
            competition: CompetitionDetector::new(CompetitionParams::default()),
            queue: QueueDelay::new(),
            last_overuse: None,
            last_probe: None,
            rtt: DEFAULT_RTT,
            samples: Vec::with_capacity(64),
            estimate: config.initial_bitrate,
            config,
        })
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> &GoogCcConfig {
        &self.config
    }

    /// The delay-based detector's current verdict.
    #[must_use]
    pub fn usage(&self) -> BandwidthUsage {
        self.detector.state()
    }

    /// The AIMD (delay-based) estimate before the loss-based cap.
    #[must_use]
    pub fn delay_based_estimate(&self) -> Bitrate {
        self.aimd.estimate()
    }

    /// The loss-based cap, `None` while loss has never limited the rate.
    #[must_use]
    pub fn loss_based_limit(&self) -> Option<Bitrate> {
        let l = self.loss.limit();
        (l != Bitrate::MAX).then_some(l)
    }

    /// Loss fraction of the last closed loss window, in `[0, 1]`.
    #[must_use]
    pub fn loss_fraction(&self) -> f64 {
        self.loss.last_fraction()
    }

    /// Whether the estimator currently competes with a loss-based flow (it then answers
    /// loss instead of queueing delay).
    #[must_use]
    pub fn competing(&self) -> bool {
        self.competition.competing()
    }

    /// Rate at which the receiver acknowledged data, once measured.
    #[must_use]
    pub fn acknowledged_bitrate(&self) -> Option<Bitrate> {
        self.acknowledged.estimate()
    }

    fn on_received(&mut self, sample: TwccSample, arrival: Timestamp, now: Timestamp) {
        self.acknowledged.on_packet(arrival, sample.size);
        self.queue.on_delay(sample.send_time, arrival);
        let Some(d) = self.inter_arrival.on_packet(sample.send_time, arrival, now) else {
            return;
        };
        let arrival_ms = arrival.as_micros() as f64 / 1000.0;
        let trend = self
            .trendline
            .update(d.arrival_delta_ms - d.send_delta_ms, arrival_ms);
        self.detector.detect(
            trend,
            d.send_delta_ms,
            self.trendline.num_deltas(),
            arrival_ms,
        );
    }
}

impl CongestionControl for GoogCcEstimator {
    fn on_packet_sent(&mut self, packet: SentPacket) {
        self.prober.on_sent(&packet);
        self.history.record(packet);
    }

    fn on_feedback(&mut self, feedback: &TwccFeedback) {
        let now = feedback.received_at();
        let loss = &mut self.loss;
        let mut lost_any = false;
        self.history
            .resolve_feedback(feedback, &mut self.samples, |lost| {
                lost_any |= lost;
                loss.on_report(lost, now);
            });
        if lost_any {
            self.competition.on_loss(now);
        }
        if !self.samples.is_empty() {
            let mut samples = std::mem::take(&mut self.samples);
            let mut probed = None;
            for s in &samples {
                if let Some(arrival) = s.arrival {
                    self.on_received(*s, arrival, now);
                }
                if let Some(r) = self.prober.on_sample(s, now) {
                    probed = Some(r.rate);
                }
            }
            samples.clear();
            self.samples = samples;
            if let Some(rate) = probed {
                self.last_probe = Some((rate, now));
            }
            self.competition.update(self.queue.standing(), now);

            let delay = underuse_needs_a_queue(self.detector.state(), &self.queue, UNDERUSE_QUEUE);
            let usage = self.competition.verdict(delay, lost_any, self.rtt, now);
            let acknowledged = self.acknowledged.estimate();
            if usage == BandwidthUsage::Overusing {
                self.last_overuse = Some(now);
                // Over-use means a saturated bottleneck: the latest window measures its
                // capacity without the smoothing lag, which matters after a sudden drop
                // (decreasing from a lagging average leaves a standing queue that a
                // gradient detector can no longer see).
                let acknowledged = match (acknowledged, self.acknowledged.latest_sample()) {
                    (Some(a), Some(l)) => Some(a.min(l)),
                    (a, l) => a.or(l),
                };
                let acknowledged = with_recent_probe(acknowledged, self.last_probe, now);
                let throughput = acknowledged.unwrap_or(Bitrate::MAX);
                if self.aimd.time_to_reduce_further(now, throughput) {
                    self.aimd.update(usage, acknowledged, now);
                }
            } else {
                self.aimd.update(usage, acknowledged, now);
                if let Some(rate) = probed {
                    self.aimd.on_probe(rate, now);
                }
            }
        }
        self.loss.update(self.estimate, self.rtt, now);
        let target = self.aimd.estimate().min(self.loss.limit());
        self.estimate = self.config.bounds.clamp(target);
    }

    fn poll_probe(&mut self, now: Timestamp) -> Option<ProbeCluster> {
        let path = PathState {
            estimate: self.estimate,
            delay_normal: self.detector.state() == BandwidthUsage::Normal,
            last_overuse: self.last_overuse,
            received: self.acknowledged.estimate(),
            capacity: self.aimd.link_capacity(),
            otherwise_limited: self.loss.limit() != Bitrate::MAX || self.competition.competing(),
        };
        self.prober.poll(now, &path)
    }

    fn on_rtt(&mut self, rtt: Duration, _now: Timestamp) {
        self.rtt = rtt;
    }

    fn estimate(&self) -> BandwidthEstimate {
        BandwidthEstimate::new(self.estimate)
    }
}

/// The throughput an over-use decreases from: the acknowledged rate, or the latest probe
/// result where that is higher and no older than [`PROBE_MEASUREMENT_HOLDS`].
fn with_recent_probe(
    acknowledged: Option<Bitrate>,
    probe: Option<(Bitrate, Timestamp)>,
    now: Timestamp,
) -> Option<Bitrate> {
    match probe {
        Some((rate, at)) if now.saturating_duration_since(at) <= PROBE_MEASUREMENT_HOLDS => {
            Some(acknowledged.map_or(rate, |a| a.max(rate)))
        }
        _ => acknowledged,
    }
}

/// [`GoogCcEstimator`] with [`GoogCcConfig::default`], for callers that want the standard
/// behaviour without handling a configuration error.
#[derive(Debug, Clone)]
pub struct DefaultGoogCC(GoogCcEstimator);

impl DefaultGoogCC {
    /// An estimator with the default configuration.
    #[must_use]
    pub fn new() -> Self {
        // The default configuration is checked by the `default_is_valid` unit test.
        Self(GoogCcEstimator::new(GoogCcConfig::default()).expect("default config is valid"))
    }

    /// The wrapped estimator, for its diagnostics.
    #[must_use]
    pub fn inner(&self) -> &GoogCcEstimator {
        &self.0
    }

    /// Unwraps the estimator.
    #[must_use]
    pub fn into_inner(self) -> GoogCcEstimator {
        self.0
    }
}

impl Default for DefaultGoogCC {
    fn default() -> Self {
        Self::new()
    }
}

impl CongestionControl for DefaultGoogCC {
    fn on_packet_sent(&mut self, packet: SentPacket) {
        self.0.on_packet_sent(packet);
    }

    fn on_feedback(&mut self, feedback: &TwccFeedback) {
        self.0.on_feedback(feedback);
    }

    fn on_rtt(&mut self, rtt: Duration, now: Timestamp) {
        self.0.on_rtt(rtt, now);
    }

    fn estimate(&self) -> BandwidthEstimate {
        self.0.estimate()
    }

    fn poll_probe(&mut self, now: Timestamp) -> Option<ProbeCluster> {
        self.0.poll_probe(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_probe_result_outranks_a_lower_acknowledged_rate() {
        let probe = Some((Bitrate::from_kbps(1100), Timestamp::from_millis(600)));
        let ack = Some(Bitrate::from_kbps(540));
        let at = Timestamp::from_millis;
        assert_eq!(
            with_recent_probe(ack, probe, at(650)),
            Some(Bitrate::from_kbps(1100))
        );
        assert_eq!(
            with_recent_probe(None, probe, at(900)),
            Some(Bitrate::from_kbps(1100))
        );
        // It never lowers what the acknowledged rate shows...
        let high = Some(Bitrate::from_kbps(1500));
        assert_eq!(with_recent_probe(high, probe, at(650)), high);
        // ... and stops counting once the acknowledged rate has had time to follow.
        assert_eq!(with_recent_probe(ack, probe, at(901)), ack);
        assert_eq!(with_recent_probe(None, probe, at(901)), None);
    }
}
