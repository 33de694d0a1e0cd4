//! [`BandwidthEstimator`]: delay-based and loss-based control combined (§4 of
//! draft-ietf-rmcat-gcc-02, sender-side variant).

use std::time::Duration;

use sfu_bwe::{
    BandwidthEstimate, BandwidthUsage, Bitrate, CongestionControl, DataSize, SendHistory,
    SentPacket, Timestamp, TwccFeedback, TwccSample, TwccSeq,
};

use crate::config::{KalmanConfig, KalmanConfigError};
use crate::delay::DelayEstimator;
use crate::loss::LossEstimator;
use crate::rate::{IncomingRate, RateController, RateParams};

/// The original GCC estimator: [`DelayEstimator`] → rate controller (A_r), with
/// [`LossEstimator`] (A_s) as a cap; the estimate is `clamp(min(A_r, A_s))`.
///
/// # Drive loop
///
/// 1. [`record_send_time`](Self::record_send_time) (or
///    [`on_packet_sent`](CongestionControl::on_packet_sent)) per packet: one ring-buffer
///    write, O(1) whether or not the history is full.
/// 2. [`on_feedback`](CongestionControl::on_feedback) per TWCC message.
/// 3. Optionally [`on_rtt`](CongestionControl::on_rtt).
/// 4. [`estimate`](CongestionControl::estimate) at any time.
#[derive(Debug, Clone)]
pub struct BandwidthEstimator {
    config: KalmanConfig,
    history: SendHistory,
    delay: DelayEstimator,
    loss: LossEstimator,
    incoming: IncomingRate,
    rate: RateController,
    samples: Vec<TwccSample>,
    estimate: Bitrate,
}

impl BandwidthEstimator {
    /// An estimator with a validated `config`.
    pub fn new(config: KalmanConfig) -> Result<Self, KalmanConfigError> {
        config.validate()?;
        Ok(Self {
            history: SendHistory::new(config.history_capacity),
            delay: DelayEstimator::new(config.burst_interval, config.overuse_time),
            loss: LossEstimator::new(config.loss_low, config.loss_high, config.loss_window),
            incoming: IncomingRate::new(config.receive_window),
            rate: RateController::new(
                RateParams {
                    bounds: config.bounds,
                    beta: config.beta,
                    eta_per_second: config.eta_per_second,
                },
                config.initial_bitrate,
            ),
            samples: Vec::with_capacity(64),
            estimate: config.initial_bitrate,
            config,
        })
    }

    /// Records that packet `seq` of `size` left at `send_time`. O(1), allocation-free.
    #[inline]
    pub fn record_send_time(&mut self, seq: TwccSeq, send_time: Timestamp, size: DataSize) {
        self.history.record(SentPacket {
            seq,
            send_time,
            size,
        });
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> &KalmanConfig {
        &self.config
    }

    /// The delay estimator, for its filter state.
    #[must_use]
    pub fn delay_estimator(&self) -> &DelayEstimator {
        &self.delay
    }

    /// The loss estimator.
    #[must_use]
    pub fn loss_estimator(&self) -> &LossEstimator {
        &self.loss
    }

    /// The delay-based rate A_r before the loss cap.
    #[must_use]
    pub fn delay_based_estimate(&self) -> Bitrate {
        self.rate.rate()
    }

    /// The detector's current verdict.
    #[must_use]
    pub fn usage(&self) -> BandwidthUsage {
        self.delay.usage()
    }
}

impl CongestionControl for BandwidthEstimator {
    fn on_packet_sent(&mut self, packet: SentPacket) {
        self.history.record(packet);
    }

    fn on_feedback(&mut self, feedback: &TwccFeedback) {
        let now = feedback.received_at();
        let loss = &mut self.loss;
        self.history
            .resolve_feedback(feedback, &mut self.samples, |lost| {
                loss.on_report(lost, now)
            });
        if !self.samples.is_empty() {
            for s in &self.samples {
                if let Some(arrival) = s.arrival {
                    self.incoming.push(arrival, s.size);
                }
                self.delay.update(s);
            }
            self.rate
                .update(self.delay.usage(), self.incoming.rate(), now);
        }
        let loss_cap = self.loss.update(self.estimate, now);
        self.estimate = self.config.bounds.clamp(self.rate.rate().min(loss_cap));
    }

    fn on_rtt(&mut self, rtt: Duration, _now: Timestamp) {
        self.rate.set_rtt(rtt);
    }

    fn estimate(&self) -> BandwidthEstimate {
        BandwidthEstimate::new(self.estimate)
    }
}
