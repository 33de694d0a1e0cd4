//! AIMD rate control (libwebrtc `AimdRateControl`; draft-ietf-rmcat-gcc-02 §5.5).
//!
//! A three-state machine driven by the detector's verdict:
//!
//! | signal      | Hold     | Increase | Decrease |
//! |-------------|----------|----------|----------|
//! | over-use    | Decrease | Decrease | —        |
//! | normal      | Increase | —        | —        |
//! | under-use   | Hold     | Hold     | Hold     |
//!
//! *Increase* is multiplicative while the link capacity is unknown and additive (about one
//! packet per response time) near it. *Decrease* sets the rate to β × the acknowledged
//! rate (β = 0.85) and records that rate as a link capacity sample. Increases never exceed
//! 1.5 × acknowledged + 10 kbit/s, so the estimate cannot run away from what the path
//! demonstrably carries.

use std::time::Duration;

use sfu_bwe::{BandwidthUsage, Bitrate, BitrateBounds, Timestamp};

use crate::link_capacity::LinkCapacity;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Hold,
    Increase,
    Decrease,
}

/// Tunables of the rate controller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AimdParams {
    pub(crate) bounds: BitrateBounds,
    pub(crate) beta: f64,
    pub(crate) multiplicative_increase_per_second: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct AimdRateControl {
    params: AimdParams,
    current: Bitrate,
    state: State,
    link: LinkCapacity,
    last_change: Option<Timestamp>,
    latest_acknowledged: Option<Bitrate>,
    rtt: Duration,
}

const FRAME_INTERVAL_S: f64 = 1.0 / 30.0;
const PACKET_BITS: f64 = 1200.0 * 8.0;
const MIN_ADDITIVE_BPS_PER_S: f64 = 4_000.0;
const MIN_MULTIPLICATIVE_STEP_BPS: f64 = 1_000.0;

impl AimdRateControl {
    pub(crate) fn new(params: AimdParams, initial: Bitrate) -> Self {
        Self {
            params,
            current: params.bounds.clamp(initial),
            state: State::Hold,
            link: LinkCapacity::default(),
            last_change: None,
            latest_acknowledged: None,
            rtt: Duration::from_millis(200),
        }
    }

    pub(crate) fn estimate(&self) -> Bitrate {
        self.current
    }

    pub(crate) fn set_rtt(&mut self, rtt: Duration) {
        self.rtt = rtt;
    }

    /// Whether another decrease is due while over-use persists: once per RTT (clamped to
    /// 10–200 ms), or at once if the path now carries less than half the estimate.
    pub(crate) fn time_to_reduce_further(&self, now: Timestamp, acknowledged: Bitrate) -> bool {
        let interval = self
            .rtt
            .clamp(Duration::from_millis(10), Duration::from_millis(200));
        match self.last_change {
            None => true,
            Some(t) if now.saturating_duration_since(t) >= interval => true,
            Some(_) => acknowledged < self.current.scale(0.5),
        }
    }

    /// Applies one detector verdict at `now`.
    pub(crate) fn update(
        &mut self,
        usage: BandwidthUsage,
        acknowledged: Option<Bitrate>,
        now: Timestamp,
    ) -> Bitrate {
        if let Some(a) = acknowledged {
            self.latest_acknowledged = Some(a);
        }
        let throughput = self.latest_acknowledged;
        self.change_state(usage, now);
        let mut next = self.current;
        match self.state {
            State::Hold => {}
            State::Increase => {
                if let Some(t) = throughput
                    && t > self.link.upper_bound()
                {
                    self.link.reset();
                }
                let limit = throughput.map_or(Bitrate::MAX, |t| {
                    t.scale(1.5).saturating_add(Bitrate::from_kbps(10))
                });
                if self.current < limit {
                    let increase = if self.link.has_estimate() {
                        self.additive_increase(now)
                    } else {
                        self.multiplicative_increase(now)
                    };
                    next = self.current.saturating_add(increase).min(limit);
                }
                self.last_change = Some(now);
            }
            State::Decrease => {
                if let Some(t) = throughput {
                    let mut decreased = t.scale(self.params.beta);
                    if decreased > self.current
                        && let Some(cap) = self.link.estimate()
                    {
                        decreased = cap.scale(self.params.beta);
                    }
                    if decreased < self.current {
                        next = decreased;
                    }
                    if t < self.link.lower_bound() {
                        self.link.reset();
                    }
                    self.link.on_overuse(t);
                } else {
                    // No throughput measurement yet: halve, as libwebrtc does before its
                    // first acknowledged-rate sample.
                    next = self.current.scale(0.5);
                }
                self.state = State::Hold;
                self.last_change = Some(now);
            }
        }
        self.current = self.params.bounds.clamp(next);
        self.current
    }

    fn change_state(&mut self, usage: BandwidthUsage, now: Timestamp) {
        match usage {
            BandwidthUsage::Normal => {
                if self.state == State::Hold {
                    self.last_change = Some(now);
                    self.state = State::Increase;
                }
            }
            BandwidthUsage::Overusing => {
                if self.state != State::Decrease {
                    self.state = State::Decrease;
                }
            }
            BandwidthUsage::Underusing => self.state = State::Hold,
        }
    }

    fn elapsed_s(&self, now: Timestamp) -> f64 {
        self.last_change
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64())
    }

    fn multiplicative_increase(&self, now: Timestamp) -> Bitrate {
        let alpha = self
            .params
            .multiplicative_increase_per_second
            .powf(self.elapsed_s(now).min(1.0));
        let step = (self.current.as_bps_f64() * (alpha - 1.0)).max(MIN_MULTIPLICATIVE_STEP_BPS);
        Bitrate::from_bps_f64(step)
    }

    /// About one average packet per response time (RTT + 100 ms), with packets sized as a
    /// 30 fps video stream at the current rate would size them.
    fn additive_increase(&self, now: Timestamp) -> Bitrate {
        let frame_bits = self.current.as_bps_f64() * FRAME_INTERVAL_S;
        let packets_per_frame = (frame_bits / PACKET_BITS).ceil().max(1.0);
        let avg_packet_bits = frame_bits / packets_per_frame;
        let response_s = self.rtt.as_secs_f64() + 0.1;
        let rate = (avg_packet_bits / response_s).max(MIN_ADDITIVE_BPS_PER_S);
        Bitrate::from_bps_f64(rate * self.elapsed_s(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctl() -> AimdRateControl {
        AimdRateControl::new(
            AimdParams {
                bounds: BitrateBounds::default(),
                beta: 0.85,
                multiplicative_increase_per_second: 1.08,
            },
            Bitrate::from_kbps(1000),
        )
    }

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn overuse_decreases_to_beta_times_acknowledged() {
        let mut c = ctl();
        let r = c.update(
            BandwidthUsage::Overusing,
            Some(Bitrate::from_kbps(800)),
            at(0),
        );
        assert_eq!(r, Bitrate::from_kbps(680));
    }

    #[test]
    fn far_from_convergence_increase_is_multiplicative() {
        let mut c = ctl();
        let ack = Some(Bitrate::from_kbps(1000));
        let before = c.update(BandwidthUsage::Normal, ack, at(0));
        let r = c.update(BandwidthUsage::Normal, ack, at(1000));
        assert_eq!(r, before.scale(1.08));
    }

    #[test]
    fn near_convergence_increase_is_additive_and_smaller() {
        let mut c = ctl();
        let ack = Some(Bitrate::from_kbps(1000));
        c.update(BandwidthUsage::Overusing, ack, at(0));
        let after_decrease = c.estimate();
        c.update(BandwidthUsage::Normal, ack, at(100));
        let r = c.update(BandwidthUsage::Normal, ack, at(1100));
        let step = r.saturating_sub(after_decrease);
        assert!(
            step > Bitrate::ZERO && step < Bitrate::from_kbps(60),
            "step {step}"
        );
    }

    #[test]
    fn underuse_holds_the_rate() {
        let mut c = ctl();
        let ack = Some(Bitrate::from_kbps(1000));
        c.update(BandwidthUsage::Normal, ack, at(0));
        let before = c.estimate();
        assert_eq!(c.update(BandwidthUsage::Underusing, ack, at(1000)), before);
    }

    #[test]
    fn increase_never_exceeds_acknowledged_limit() {
        let mut c = ctl();
        let ack = Some(Bitrate::from_kbps(100));
        c.update(
            BandwidthUsage::Overusing,
            Some(Bitrate::from_kbps(1000)),
            at(0),
        );
        for t in 1..100 {
            c.update(BandwidthUsage::Normal, ack, at(t * 1000));
        }
        assert!(c.estimate() <= Bitrate::from_kbps(850));
    }
}
