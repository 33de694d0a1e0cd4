//! Rate controller (draft-ietf-rmcat-gcc-02 §5.5) and the received rate R it needs.

use std::collections::VecDeque;
use std::time::Duration;

use sfu_bwe::{BandwidthUsage, Bitrate, BitrateBounds, DataSize, Timestamp};
use sfu_bwe_control::additive_increase;

/// Received rate R over the last `window` of receiver time, and the rate over the last
/// moments with the packets lost among them.
///
/// Bounded rings of received packets and of losses; `push` is amortised O(1) and
/// allocation-free once the rings reached their capacity.
#[derive(Debug, Clone)]
pub(crate) struct IncomingRate {
    window: Duration,
    packets: VecDeque<(Timestamp, DataSize)>,
    bytes: u64,
    /// Bytes lost, keyed by the arrival of the received packet sent next after them: the
    /// last [`RATE_RING`] keys, whatever their age (a span reads only the newest). Kept
    /// apart from `packets` so that a received packet costs nothing for them.
    losses: VecDeque<(Timestamp, DataSize)>,
}

const RATE_RING: usize = 4096;

impl IncomingRate {
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            window,
            packets: VecDeque::with_capacity(RATE_RING),
            bytes: 0,
            losses: VecDeque::new(),
        }
    }

    /// A packet of `size` was reported lost; the next packet sent after it that arrived
    /// arrived at `next_arrival`.
    pub(crate) fn on_lost(&mut self, next_arrival: Timestamp, size: DataSize) {
        match self.losses.back_mut() {
            Some((t, lost)) if *t == next_arrival => *lost = lost.saturating_add(size),
            _ => {
                if self.losses.len() == RATE_RING {
                    self.losses.pop_front();
                }
                self.losses.push_back((next_arrival, size));
            }
        }
    }

    pub(crate) fn push(&mut self, arrival: Timestamp, size: DataSize) {
        if self.packets.back().is_some_and(|(t, _)| arrival < *t) {
            // Receiver time went backwards: the window no longer means anything.
            self.packets.clear();
            self.losses.clear();
            self.bytes = 0;
        }
        if self.packets.len() == RATE_RING
            && let Some((_, s)) = self.packets.pop_front()
        {
            self.bytes -= s.bytes();
        }
        self.packets.push_back((arrival, size));
        self.bytes += size.bytes();
        let from = arrival.saturating_sub(self.window);
        while let Some(&(t, s)) = self.packets.front() {
            if t >= from {
                break;
            }
            self.packets.pop_front();
            self.bytes -= s.bytes();
        }
    }

    /// The rate over the last `span` of receiver time only, when the ring covers it: what
    /// the path carries now, without the window's lag. O(packets in `span`).
    ///
    /// Packets lost between the span's received ones count as carried. Over a few packets
    /// one random loss would otherwise read as a fall of the capacity (at 600 kbit/s a
    /// 75 ms span holds five packets, so one loss reads 20 % low) and cut the rate deep;
    /// the queue-overflow losses of a real fall come after the fall shows in the delays.
    pub(crate) fn recent_rate(&self, span: Duration) -> Option<Bitrate> {
        let (last, _) = *self.packets.back()?;
        let from = last.saturating_sub(span);
        let mut bytes = 0u64;
        let mut first = None;
        for &(t, s) in self.packets.iter().rev() {
            if t < from {
                break;
            }
            bytes += s.bytes();
            first = Some((t, s));
        }
        let (first, first_size) = first?;
        let covered = last.saturating_duration_since(first);
        if covered < span / 2 {
            return None;
        }
        // The first packet marks the span's start: it, and what was lost before it, came
        // before.
        let lost: u64 = self
            .losses
            .iter()
            .rev()
            .take_while(|(t, _)| *t > first)
            .map(|(_, s)| s.bytes())
            .sum();
        let within = bytes - first_size.bytes() + lost;
        Bitrate::from_size_over(DataSize::from_bytes(within), covered)
    }

    /// R, once the window holds more than half a window of data.
    pub(crate) fn rate(&self) -> Option<Bitrate> {
        let (first, first_size) = self.packets.front()?;
        let (last, _) = self.packets.back()?;
        let span = last.saturating_duration_since(*first);
        if span < self.window / 2 {
            return None;
        }
        // The first packet marks the window's start; its bytes arrived before it.
        Bitrate::from_size_over(DataSize::from_bytes(self.bytes - first_size.bytes()), span)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Hold,
    Increase,
    Decrease,
}

/// Tunables of the rate controller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateParams {
    pub(crate) bounds: BitrateBounds,
    pub(crate) beta: f64,
    pub(crate) eta_per_second: f64,
}

/// The delay-based rate A_r: increase (multiplicative η far from convergence, additive
/// near it), decrease to β·R, hold.
#[derive(Debug, Clone)]
pub(crate) struct RateController {
    params: RateParams,
    rate: Bitrate,
    state: State,
    last_change: Option<Timestamp>,
    last_decrease: Option<Timestamp>,
    /// The sending rate before the last decrease, when that decrease was taken early
    /// because the received rate had fallen behind it; `None` after any other decrease.
    fall_from: Option<Bitrate>,
    /// Average of R at decreases and its normalised variance (kbit/s): "close to
    /// convergence" is within three standard deviations of it.
    converged_kbps: Option<f64>,
    converged_var: f64,
}

/// Shortest time between two decreases while over-use persists. The draft reacts once per
/// RTT; a fixed interval at least as long as the round trips of the RFC 8867 suite (up to
/// 300 ms plus queueing) keeps short- and long-RTT flows cutting at the same pace.
const DECREASE_INTERVAL: Duration = Duration::from_millis(300);
/// After a decrease the sending rate sits below R; R this far below the sending rate means
/// the capacity dropped, and waiting for the interval would let the queue grow.
pub(crate) const FALLING_BEHIND: f64 = 0.8;
/// How soon after a decrease taken because the capacity fell a second one may follow, when
/// the settled rate, now measured over packets that all passed after the fall, still shows
/// it ([`FALLING_BEHIND`] of the rate before the fall). The first cut reads a span of a few
/// packets that jitter bunches (a 75 ms span at 600 kbit/s holds five), and can land above
/// the new capacity; the interval's 300 ms would leave the queue at its limit meanwhile.
const AFTER_FALL_INTERVAL: Duration = Duration::from_millis(150);
/// Below this fraction of the convergence band's centre (the rate settled at over-use), A_r
/// is back where the path carried traffic without a queue, so additive increase runs at
/// the recovery pace there ([`sfu_bwe_control::RECOVERY_SPEEDUP`]). The zone is a fraction
/// of each flow's own rate at over-use, so a larger flow spends longer in it, but a cut
/// narrows the difference between two flows by 15 % and the zone widens it by 5 %: shares
/// still even out.
const RECOVERY_ZONE: f64 = 0.95;

impl RateController {
    pub(crate) fn new(params: RateParams, initial: Bitrate) -> Self {
        Self {
            params,
            rate: params.bounds.clamp(initial),
            state: State::Hold,
            last_change: None,
            last_decrease: None,
            fall_from: None,
            converged_kbps: None,
            converged_var: 0.4,
        }
    }

    pub(crate) fn rate(&self) -> Bitrate {
        self.rate
    }

    /// The rate R averaged over decreases, while it is believed.
    pub(crate) fn link_capacity(&self) -> Option<Bitrate> {
        self.converged_kbps
            .map(|k| Bitrate::from_bps_f64(k * 1000.0))
    }

    /// A probe showed the path carries `rate`: A_r rises to it (never falls), and a
    /// convergence point it leaves behind no longer holds.
    pub(crate) fn on_probe(&mut self, rate: Bitrate, now: Timestamp) {
        if rate <= self.rate {
            return;
        }
        if let Some((_, high)) = self.band()
            && rate.as_kbps_f64() > high
        {
            self.converged_kbps = None;
        }
        self.rate = self.params.bounds.clamp(rate);
        self.last_change = Some(now);
    }

    fn band(&self) -> Option<(f64, f64)> {
        self.converged_kbps.map(|avg| {
            let std = (self.converged_var * avg).sqrt();
            (avg - 3.0 * std, avg + 3.0 * std)
        })
    }

    /// Applies one verdict. `received` is R, the received rate over the whole window;
    /// `settled` gives the smaller of R and the last moments' rate: what the path carries
    /// now (asked for only where needed: it costs a pass over those moments' packets).
    /// Decreases start from the settled rate, so the convergence band is an average of
    /// settled rates, and an increase leaves the band only when the settled rate does. R
    /// would still hold the rate from before the last cut for up to a window after it, read
    /// above the band, and drop the flow into multiplicative increase; the longer a flow's
    /// RTT, the more often. `received` caps an increase.
    ///
    /// `measure_lag` is how long after a decrease the settled rate holds only packets sent
    /// after it (a round trip plus its span). Until then it still shows the rate before the
    /// cut, which the queue drained by the other flows' cuts lets through faster than the
    /// flow's share, so it cannot show that the band was left.
    ///
    /// `sending` is the rate the flow sends at (A_r or the loss cap below it): a settled
    /// rate below [`FALLING_BEHIND`] of it shows the capacity fell.
    pub(crate) fn update(
        &mut self,
        usage: BandwidthUsage,
        received: Option<Bitrate>,
        settled: impl FnOnce() -> Option<Bitrate>,
        measure_lag: Duration,
        sending: Bitrate,
        now: Timestamp,
    ) -> Bitrate {
        match usage {
            BandwidthUsage::Overusing => {
                let settled = settled();
                // Over-use persists across feedbacks: reduce again once per interval, at
                // once when R shows the capacity fell, and once more soon after that when
                // a longer measure confirms the fall.
                let behind =
                    |rate: Bitrate| settled.is_some_and(|r| r < rate.scale(FALLING_BEHIND));
                let falling = behind(sending);
                let since = self
                    .last_change
                    .map_or(Duration::MAX, |t| now.saturating_duration_since(t));
                let confirmed = since >= AFTER_FALL_INTERVAL && self.fall_from.is_some_and(behind);
                let due = self.state != State::Decrease
                    || falling
                    || confirmed
                    || since >= DECREASE_INTERVAL;
                if due {
                    self.fall_from = (falling && !confirmed).then_some(sending);
                    self.decrease(settled, now);
                }
            }
            BandwidthUsage::Underusing => self.state = State::Hold,
            BandwidthUsage::Normal => {
                if self.state != State::Increase {
                    self.state = State::Increase;
                    self.last_change = Some(now);
                } else {
                    self.increase(received, settled, measure_lag, now);
                }
            }
        }
        self.rate = self.params.bounds.clamp(self.rate);
        self.rate
    }

    fn decrease(&mut self, received: Option<Bitrate>, now: Timestamp) {
        self.state = State::Decrease;
        self.last_change = Some(now);
        self.last_decrease = Some(now);
        let Some(r) = received else {
            self.rate = self.rate.scale(0.5);
            return;
        };
        let target = r.scale(self.params.beta);
        if target < self.rate {
            self.rate = target;
        }
        let r_kbps = r.as_kbps_f64();
        if let Some((low, _)) = self.band()
            && r_kbps < low
        {
            self.converged_kbps = None;
        }
        let avg = match self.converged_kbps {
            None => r_kbps,
            Some(a) => 0.95 * a + 0.05 * r_kbps,
        };
        let err = avg - r_kbps;
        self.converged_var =
            (0.95 * self.converged_var + 0.05 * err * err / avg.max(1.0)).clamp(0.4, 2.5);
        self.converged_kbps = Some(avg);
    }

    fn increase(
        &mut self,
        received: Option<Bitrate>,
        settled: impl FnOnce() -> Option<Bitrate>,
        measure_lag: Duration,
        now: Timestamp,
    ) {
        let elapsed = self
            .last_change
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        let dt = elapsed.as_secs_f64();
        self.last_change = Some(now);
        let measured_since_cut = self
            .last_decrease
            .is_none_or(|t| now.saturating_duration_since(t) >= measure_lag);
        // The settled rate is at most R: only an R above the band can leave it.
        if let (Some(r), Some((_, high))) = (received, self.band())
            && measured_since_cut
            && r.as_kbps_f64() > high
            && settled().is_some_and(|s| s.as_kbps_f64() > high)
        {
            self.converged_kbps = None;
        }
        let step = if let Some(centre) = self.converged_kbps {
            additive_increase(elapsed, self.rate.as_kbps_f64() < centre * RECOVERY_ZONE)
        } else {
            let eta = self.params.eta_per_second.powf(dt.min(1.0));
            Bitrate::from_bps_f64((self.rate.as_bps_f64() * (eta - 1.0)).max(1000.0 * dt.min(1.0)))
        };
        let mut next = self.rate.saturating_add(step);
        // Never run further than 1.5 × what the path demonstrably carries.
        if let Some(r) = received {
            let cap = r.scale(1.5).saturating_add(Bitrate::from_kbps(10));
            next = next.min(cap.max(self.rate));
        }
        self.rate = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctl() -> RateController {
        RateController::new(
            RateParams {
                bounds: BitrateBounds::default(),
                beta: 0.85,
                eta_per_second: 1.08,
            },
            Bitrate::from_kbps(1000),
        )
    }

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    /// Round trip plus the settled rate's span.
    const LAG: Duration = Duration::from_millis(250);

    /// One verdict at `ms`, R and the settled rate as given, sending at the rate in force.
    fn step(
        c: &mut RateController,
        usage: BandwidthUsage,
        received: Option<Bitrate>,
        settled: Option<Bitrate>,
        ms: u64,
    ) -> Bitrate {
        c.update(usage, received, || settled, LAG, c.rate(), at(ms))
    }

    #[test]
    fn overuse_sets_beta_times_the_settled_rate() {
        let mut c = ctl();
        assert_eq!(
            step(
                &mut c,
                BandwidthUsage::Overusing,
                Some(Bitrate::from_kbps(1000)),
                Some(Bitrate::from_kbps(900)),
                0
            ),
            Bitrate::from_kbps(765)
        );
    }

    #[test]
    fn a_window_still_holding_the_rate_before_a_cut_keeps_the_increase_additive() {
        let mut c = ctl();
        let settled = Some(Bitrate::from_kbps(1000));
        step(&mut c, BandwidthUsage::Overusing, settled, settled, 0);
        step(&mut c, BandwidthUsage::Normal, settled, settled, 100);
        // R over the window reads 20 % above the band's centre, the rate now does not.
        let stale = Some(Bitrate::from_kbps(1200));
        let before = c.rate();
        let after = step(&mut c, BandwidthUsage::Normal, stale, settled, 1100);
        // Additive, at the recovery pace: A_r (850) is below 0.95 × the band's centre.
        assert_eq!(after.saturating_sub(before), Bitrate::from_kbps(192));
        assert!(c.link_capacity().is_some());
        // Once the rate now leaves the band too, the band is dropped.
        step(&mut c, BandwidthUsage::Normal, stale, stale, 1200);
        assert!(c.link_capacity().is_none());
    }

    #[test]
    fn a_rate_measured_before_the_cut_does_not_leave_the_band() {
        let mut c = ctl();
        let settled = Some(Bitrate::from_kbps(1000));
        step(&mut c, BandwidthUsage::Overusing, settled, settled, 0);
        step(&mut c, BandwidthUsage::Normal, settled, settled, 100);
        // Within the lag both rates read 20 % above the band: packets sent before the cut.
        let before = Some(Bitrate::from_kbps(1200));
        step(&mut c, BandwidthUsage::Normal, before, before, 200);
        assert!(c.link_capacity().is_some());
        // Past it they show the path carries more.
        step(&mut c, BandwidthUsage::Normal, before, before, 300);
        assert!(c.link_capacity().is_none());
    }

    /// Over-use at `ms` with the settled rate at `kbps`.
    fn overuse(c: &mut RateController, kbps: u64, ms: u64) -> Bitrate {
        let settled = Some(Bitrate::from_kbps(kbps));
        step(c, BandwidthUsage::Overusing, settled, settled, ms)
    }

    #[test]
    fn a_cut_after_a_fall_that_lands_above_the_capacity_is_followed_soon() {
        let mut c = ctl();
        // Sending at 1000, the capacity fell to 500, and the short span reads 700.
        assert_eq!(overuse(&mut c, 700, 0), Bitrate::from_kbps(595));
        // The next reading shows 500: not yet...
        assert_eq!(overuse(&mut c, 500, 100), Bitrate::from_kbps(595));
        // ... but 150 ms after the first cut, without waiting for the full interval.
        assert_eq!(overuse(&mut c, 500, 150), Bitrate::from_kbps(425));
        // Only once: the next cut waits for the interval.
        assert_eq!(overuse(&mut c, 400, 300), Bitrate::from_kbps(425));
        assert_eq!(overuse(&mut c, 400, 450), Bitrate::from_kbps(340));
    }

    #[test]
    fn a_reading_that_does_not_confirm_the_fall_is_not_a_second_cut() {
        let mut c = ctl();
        // A lost packet made the short span read 600 while sending at 1000.
        assert_eq!(overuse(&mut c, 600, 0), Bitrate::from_kbps(510));
        assert_eq!(c.link_capacity(), Some(Bitrate::from_kbps(600)));
        // The longer measure shows the path carries 950: no decrease before the interval,
        // so the band keeps the one reading.
        assert_eq!(overuse(&mut c, 950, 150), Bitrate::from_kbps(510));
        assert_eq!(c.link_capacity(), Some(Bitrate::from_kbps(600)));
        // At the interval it counts as any persisting over-use does.
        overuse(&mut c, 950, 300);
        assert!(c.link_capacity() > Some(Bitrate::from_kbps(600)));
    }

    #[test]
    fn increase_is_multiplicative_before_convergence() {
        let mut c = ctl();
        let r = Some(Bitrate::from_kbps(1000));
        step(&mut c, BandwidthUsage::Normal, r, r, 0);
        assert_eq!(
            step(&mut c, BandwidthUsage::Normal, r, r, 1000),
            Bitrate::from_kbps(1080)
        );
    }

    #[test]
    fn increase_is_additive_near_convergence_and_the_same_at_every_rate() {
        for kbps in [300, 1000, 3000] {
            let mut c = ctl();
            let r = Some(Bitrate::from_kbps(kbps));
            step(&mut c, BandwidthUsage::Overusing, r, r, 0);
            step(&mut c, BandwidthUsage::Normal, r, r, 100);
            // Just after the cut (0.85 × R) the increase runs twice as fast...
            let before = c.rate();
            let after = step(&mut c, BandwidthUsage::Normal, r, r, 110);
            assert_eq!(
                after.saturating_sub(before),
                Bitrate::from_bps(1920),
                "at {kbps}k"
            );
            let mut t = 110;
            while c.rate() < Bitrate::from_kbps(kbps).scale(RECOVERY_ZONE) {
                t += 10;
                step(&mut c, BandwidthUsage::Normal, r, r, t);
            }
            // ... and at the usual pace above 0.95 × R.
            let before = c.rate();
            let after = step(&mut c, BandwidthUsage::Normal, r, r, t + 1000);
            assert_eq!(
                after.saturating_sub(before),
                Bitrate::from_kbps(96),
                "at {kbps}k"
            );
        }
    }

    #[test]
    fn received_rate_measures_a_steady_flow() {
        let mut r = IncomingRate::new(Duration::from_millis(500));
        for i in 0..1000u64 {
            r.push(Timestamp::from_micros(i * 9600), DataSize::from_bytes(1200));
        }
        let kbps = r.rate().expect("window full").as_kbps_f64();
        assert!((kbps - 1000.0).abs() < 10.0, "{kbps}");
    }

    #[test]
    fn a_packet_lost_within_the_recent_span_counts_as_carried() {
        // 1200-byte packets every 16 ms (600 kbit/s); every fourth is lost.
        let mut r = IncomingRate::new(Duration::from_millis(500));
        let size = DataSize::from_bytes(1200);
        for i in 0..100u64 {
            let at = Timestamp::from_micros(i * 16_000);
            if i % 4 == 0 && i > 0 {
                // Packet i − 1 was lost; this one, sent next, arrived.
                r.on_lost(at, size);
            }
            if i % 4 != 3 {
                r.push(at, size);
            }
        }
        let recent = r
            .recent_rate(Duration::from_millis(75))
            .expect("span covered");
        assert!((recent.as_kbps_f64() - 600.0).abs() < 30.0, "{recent}");
        // R is what arrived: three quarters of it.
        let received = r.rate().expect("window full");
        assert!((received.as_kbps_f64() - 450.0).abs() < 30.0, "{received}");
    }

    #[test]
    fn received_rate_restarts_when_time_goes_back() {
        let mut r = IncomingRate::new(Duration::from_millis(500));
        for i in 0..100u64 {
            r.push(
                Timestamp::from_millis(1000 + i * 10),
                DataSize::from_bytes(1200),
            );
        }
        r.push(Timestamp::from_millis(5), DataSize::from_bytes(1200));
        assert_eq!(r.rate(), None);
    }
}
