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
//! *Increase* is multiplicative while the link capacity is unknown and additive (one
//! full-size packet per 100 ms) near it, twice that while the estimate is well below the
//! capacity the last over-uses measured, where the path is known to carry it. *Decrease*
//! sets the rate to β × the acknowledged rate (β = 0.85) and records that rate as a link
//! capacity sample. Increases never exceed 1.5 × acknowledged + 10 kbit/s, so the estimate
//! cannot run away from what the path demonstrably carries.

use std::time::Duration;

use sfu_bwe::{BandwidthUsage, Bitrate, BitrateBounds, Timestamp};
use sfu_bwe_control::additive_increase;

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
    /// When the estimate was last cut: the interval between cuts runs from here, not from
    /// the last increase (a verdict that flickers between normal and over-use would
    /// otherwise hold every cut back).
    last_decrease: Option<Timestamp>,
    latest_acknowledged: Option<Bitrate>,
}

const MIN_MULTIPLICATIVE_STEP_BPS: f64 = 1_000.0;
/// Shortest time between two decreases. libwebrtc uses the RTT; a fixed interval at least
/// as long as the round trips of the RFC 8867 suite (up to 300 ms plus queueing) keeps
/// short- and long-RTT flows cutting at the same pace. It runs from the last decrease:
/// libwebrtc's runs from the last change of any kind, so a verdict that flickers between
/// normal and over-use (every 50 ms feedback on a queue near the threshold) keeps
/// deferring the cut while the flow goes on increasing, and a flow whose cuts are deferred
/// keeps more than its share.
const DECREASE_INTERVAL: Duration = Duration::from_millis(300);
/// After a decrease the estimate sits below the acknowledged rate; throughput this far
/// below it means the path lost capacity, and waiting for the interval would let the
/// queue grow.
const FALLING_BEHIND: f64 = 0.8;
/// Below this fraction of the link capacity the last over-uses measured, the estimate is
/// back where the path carried traffic without a queue, so additive increase runs at the
/// recovery pace there ([`sfu_bwe_control::RECOVERY_SPEEDUP`]). The zone is a fraction of
/// each flow's own capacity, so a larger flow spends longer in it, but a cut narrows the
/// difference between two flows by 15 % and the zone widens it by 2.5 %: shares still even
/// out. The capacity here is the whole 500 ms acknowledged rate, which reads at or above
/// the settled rate `sfu-bwe-kalman` measures its band with, and kalman's 0.95 is a
/// trade here: on 30 seeds of the RFC 8867 suite 0.9 meets 707 runs of 720 as specified
/// and 608 under `bwe-suite --perturb-ms 1`, 0.95 meets 589 and 617 (docs/bench-bwe.md).
const RECOVERY_ZONE: f64 = 0.9;

impl AimdRateControl {
    pub(crate) fn new(params: AimdParams, initial: Bitrate) -> Self {
        Self {
            params,
            current: params.bounds.clamp(initial),
            state: State::Hold,
            link: LinkCapacity::default(),
            last_change: None,
            last_decrease: None,
            latest_acknowledged: None,
        }
    }

    pub(crate) fn estimate(&self) -> Bitrate {
        self.current
    }

    /// The link capacity last measured at over-use, while it is believed.
    pub(crate) fn link_capacity(&self) -> Option<Bitrate> {
        self.link.estimate()
    }

    /// A probe showed the path carries `rate`: the estimate rises to it (never falls), and
    /// a link capacity estimate it exceeds no longer holds.
    pub(crate) fn on_probe(&mut self, rate: Bitrate, now: Timestamp) {
        if rate <= self.current {
            return;
        }
        if rate > self.link.upper_bound() {
            self.link.reset();
        }
        self.current = self.params.bounds.clamp(rate);
        self.last_change = Some(now);
    }

    /// Whether a decrease is due on over-use: [`DECREASE_INTERVAL`] after the last one, or
    /// at once if the path's latest throughput has fallen below [`FALLING_BEHIND`] × the
    /// estimate (the capacity dropped: every further feedback shows it).
    pub(crate) fn time_to_reduce_further(&self, now: Timestamp, acknowledged: Bitrate) -> bool {
        let interval = DECREASE_INTERVAL;
        match self.last_decrease {
            None => true,
            Some(t) if now.saturating_duration_since(t) >= interval => true,
            Some(_) => acknowledged < self.current.scale(FALLING_BEHIND),
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
                self.last_decrease = Some(now);
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

    /// The shared additive pace, whatever the rate; the recovery pace below
    /// [`RECOVERY_ZONE`] of the link capacity.
    fn additive_increase(&self, now: Timestamp) -> Bitrate {
        let recovering = self
            .link
            .estimate()
            .is_some_and(|c| self.current < c.scale(RECOVERY_ZONE));
        let elapsed = self
            .last_change
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        additive_increase(elapsed, recovering)
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
    fn near_convergence_increase_is_additive_and_the_same_at_every_rate() {
        for kbps in [300, 1000, 3000] {
            let mut c = ctl();
            let ack = Some(Bitrate::from_kbps(kbps));
            c.update(BandwidthUsage::Overusing, ack, at(0));
            c.update(BandwidthUsage::Normal, ack, at(100));
            // Just after the cut (0.85 × capacity) the increase runs twice as fast...
            let before = c.estimate();
            let r = c.update(BandwidthUsage::Normal, ack, at(110));
            assert_eq!(
                r.saturating_sub(before),
                Bitrate::from_bps(1920),
                "at {kbps}k"
            );
            let mut t = 110;
            while c.estimate() < Bitrate::from_kbps(kbps).scale(RECOVERY_ZONE) {
                t += 10;
                c.update(BandwidthUsage::Normal, ack, at(t));
            }
            // ... and at the usual pace above 0.9 × capacity.
            let before = c.estimate();
            let r = c.update(BandwidthUsage::Normal, ack, at(t + 1000));
            assert_eq!(
                r.saturating_sub(before),
                Bitrate::from_kbps(96),
                "at {kbps}k"
            );
        }
    }

    #[test]
    fn increases_between_over_uses_do_not_hold_the_next_cut_back() {
        let mut c = ctl();
        let ack = Some(Bitrate::from_kbps(1000));
        c.update(BandwidthUsage::Overusing, ack, at(0));
        for t in [50, 100, 150, 200, 250, 300] {
            c.update(BandwidthUsage::Normal, ack, at(t));
        }
        let throughput = Bitrate::from_kbps(1000);
        assert!(!c.time_to_reduce_further(at(250), throughput));
        assert!(c.time_to_reduce_further(at(300), throughput));
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
