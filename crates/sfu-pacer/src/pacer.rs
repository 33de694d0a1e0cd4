//! [`SubscriberPacer`]: a leaky bucket at `pacing_factor × estimate`.

use std::collections::VecDeque;
use std::time::Duration;

use sfu_bwe::{BandwidthEstimate, Bitrate, DataSize, Timestamp};

use crate::config::{PacerConfig, PacerConfigError};
use crate::packet::{PacedPacket, PacketKind, Queued};

/// What the caller should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub enum PacerAction<T> {
    /// Send this packet now.
    SendNow(PacedPacket<T>),
    /// Nothing may be sent before this time; poll again then (or after an enqueue).
    WaitUntil(Timestamp),
    /// This packet waited longer than `max_queue_delay` and was dropped; count it and poll
    /// again.
    Drop(PacedPacket<T>),
    /// The queue is empty.
    Idle,
}

/// Budget unit: bits × 10⁶, so that `rate_bps × elapsed_µs` refills exactly.
type MicroBits = i64;

/// Paces one subscriber's packets.
///
/// # Drive loop
///
/// 1. [`set_estimate`](Self::set_estimate) whenever the estimator's output changes.
/// 2. [`enqueue`](Self::enqueue) each packet to forward; it returns a packet evicted to keep
///    the queue bounded, if any.
/// 3. Call [`poll`](Self::poll) until it returns [`PacerAction::WaitUntil`] or
///    [`PacerAction::Idle`], sending every [`PacerAction::SendNow`] packet; then wait until
///    that time or the next enqueue.
///
/// Rules: audio goes before video and is never held back by the budget (it still spends
/// it); video is sent while the budget is positive; the queue holds at most
/// `max_queue_packets`, evicting the oldest non-keyframe video packet first, then the
/// oldest video, then the oldest audio; packets of one stream leave in the order they
/// came. Enqueue and poll are O(1) and allocation-free except on eviction, which scans for
/// the victim.
#[derive(Debug, Clone)]
pub struct SubscriberPacer<T> {
    config: PacerConfig,
    rate: Bitrate,
    budget: MicroBits,
    last_refill: Option<Timestamp>,
    audio: VecDeque<Queued<T>>,
    video: VecDeque<Queued<T>>,
    queued_bytes: DataSize,
}

impl<T> SubscriberPacer<T> {
    /// A pacer with a validated `config`, pacing at `min_rate` until the first estimate.
    pub fn new(config: PacerConfig) -> Result<Self, PacerConfigError> {
        config.validate()?;
        let capacity = config.max_queue_packets.min(1024);
        Ok(Self {
            rate: config.min_rate,
            budget: 0,
            last_refill: None,
            audio: VecDeque::with_capacity(capacity),
            video: VecDeque::with_capacity(capacity),
            queued_bytes: DataSize::ZERO,
            config,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &PacerConfig {
        &self.config
    }

    /// Sets the pacing rate to `pacing_factor × estimate` (at least `min_rate`).
    pub fn set_estimate(&mut self, estimate: BandwidthEstimate) {
        self.rate = estimate
            .bitrate()
            .scale(self.config.pacing_factor)
            .max(self.config.min_rate);
    }

    /// The current pacing rate.
    pub fn pacing_rate(&self) -> Bitrate {
        self.rate
    }

    /// Packets queued.
    pub fn len(&self) -> usize {
        self.audio.len() + self.video.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.audio.is_empty() && self.video.is_empty()
    }

    /// Bytes queued.
    pub fn queued_bytes(&self) -> DataSize {
        self.queued_bytes
    }

    /// Queues `packet`. If the queue is over its bound, returns the evicted packet (which may
    /// be `packet` itself, e.g. a non-keyframe arriving behind a queue of keyframes).
    #[must_use = "an evicted packet should at least be counted"]
    pub fn enqueue(&mut self, packet: PacedPacket<T>, now: Timestamp) -> Option<PacedPacket<T>> {
        self.refill(now);
        self.queued_bytes = self.queued_bytes.saturating_add(packet.size);
        let queued = Queued {
            packet,
            enqueued_at: now,
        };
        match queued.packet.kind {
            PacketKind::Audio => self.audio.push_back(queued),
            PacketKind::Video { .. } => self.video.push_back(queued),
        }
        if self.len() > self.config.max_queue_packets {
            self.evict()
        } else {
            None
        }
    }

    fn evict(&mut self) -> Option<PacedPacket<T>> {
        let idx = self
            .video
            .iter()
            .position(|q| q.packet.kind.is_droppable_video())
            .or((!self.video.is_empty()).then_some(0));
        let victim = match idx {
            Some(i) => self.video.remove(i),
            None => self.audio.pop_front(),
        }?;
        self.queued_bytes = self.queued_bytes.saturating_sub(victim.packet.size);
        Some(victim.packet)
    }

    /// Decides what to do at `now`.
    pub fn poll(&mut self, now: Timestamp) -> PacerAction<T> {
        self.refill(now);
        if let Some(q) = self.audio.pop_front() {
            return PacerAction::SendNow(self.spend(q));
        }
        let Some(head) = self.video.front() else {
            return PacerAction::Idle;
        };
        if head.packet.kind.is_droppable_video()
            && now.saturating_duration_since(head.enqueued_at) > self.config.max_queue_delay
            && let Some(q) = self.video.pop_front()
        {
            self.queued_bytes = self.queued_bytes.saturating_sub(q.packet.size);
            return PacerAction::Drop(q.packet);
        }
        if self.budget > 0
            && let Some(q) = self.video.pop_front()
        {
            return PacerAction::SendNow(self.spend(q));
        }
        PacerAction::WaitUntil(now.saturating_add(self.time_to_positive_budget()))
    }

    fn spend(&mut self, q: Queued<T>) -> PacedPacket<T> {
        let bits = i64::try_from(q.packet.size.bits()).unwrap_or(i64::MAX);
        self.budget = self.budget.saturating_sub(bits.saturating_mul(1_000_000));
        self.queued_bytes = self.queued_bytes.saturating_sub(q.packet.size);
        q.packet
    }

    fn rate_bps(&self) -> i64 {
        // `min_rate` is validated positive, so this is ≥ 1.
        i64::try_from(self.rate.bps()).unwrap_or(i64::MAX).max(1)
    }

    fn refill(&mut self, now: Timestamp) {
        let last = *self.last_refill.get_or_insert(now);
        let elapsed_us =
            i64::try_from(now.saturating_duration_since(last).as_micros()).unwrap_or(i64::MAX);
        let burst_us = i64::try_from(self.config.max_burst.as_micros()).unwrap_or(i64::MAX);
        let rate = self.rate_bps();
        let cap = rate.saturating_mul(burst_us);
        self.budget = self
            .budget
            .saturating_add(rate.saturating_mul(elapsed_us))
            .min(cap);
        // Time never runs backwards for the bucket.
        self.last_refill = Some(now.max(last));
    }

    fn time_to_positive_budget(&self) -> Duration {
        let deficit = self.budget.saturating_neg().saturating_add(1).max(1);
        let rate = self.rate_bps();
        let us = deficit / rate + i64::from(deficit % rate != 0);
        Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StreamId;

    fn pacer(max: usize) -> SubscriberPacer<u32> {
        let c = PacerConfig {
            max_queue_packets: max,
            pacing_factor: 1.0,
            ..Default::default()
        };
        let mut p = SubscriberPacer::new(c).expect("valid");
        p.set_estimate(BandwidthEstimate::new(Bitrate::from_kbps(960)));
        p
    }

    fn pkt(stream: u32, kind: PacketKind, id: u32) -> PacedPacket<u32> {
        PacedPacket {
            stream: StreamId(stream),
            kind,
            size: DataSize::from_bytes(1200),
            payload: id,
        }
    }

    const VIDEO: PacketKind = PacketKind::Video { keyframe: false };
    const KEY: PacketKind = PacketKind::Video { keyframe: true };

    fn at(us: u64) -> Timestamp {
        Timestamp::from_micros(us)
    }

    #[test]
    fn audio_is_sent_before_earlier_video() {
        let mut p = pacer(16);
        let t = at(0);
        assert!(p.enqueue(pkt(1, VIDEO, 1), t).is_none());
        assert!(p.enqueue(pkt(2, PacketKind::Audio, 2), t).is_none());
        assert_eq!(
            p.poll(t),
            PacerAction::SendNow(pkt(2, PacketKind::Audio, 2))
        );
    }

    #[test]
    fn video_is_paced_at_the_rate() {
        let mut p = pacer(16);
        // 1200 B at 960 kbit/s takes 10 ms; the first packet waits for a positive budget.
        assert!(p.enqueue(pkt(1, VIDEO, 1), at(0)).is_none());
        assert!(p.enqueue(pkt(1, VIDEO, 2), at(0)).is_none());
        let PacerAction::WaitUntil(t) = p.poll(at(0)) else {
            panic!("budget starts empty")
        };
        assert_eq!(t, at(1));
        assert!(matches!(p.poll(t), PacerAction::SendNow(_)));
        let PacerAction::WaitUntil(next) = p.poll(t) else {
            panic!("budget spent")
        };
        assert_eq!(next.as_micros() - t.as_micros(), 10_000);
        assert!(matches!(p.poll(next), PacerAction::SendNow(_)));
        assert_eq!(p.poll(next), PacerAction::Idle);
    }

    #[test]
    fn overflow_evicts_oldest_non_keyframe_video() {
        let mut p = pacer(3);
        let t = at(0);
        assert!(p.enqueue(pkt(1, KEY, 1), t).is_none());
        assert!(p.enqueue(pkt(1, VIDEO, 2), t).is_none());
        assert!(p.enqueue(pkt(2, VIDEO, 3), t).is_none());
        assert_eq!(
            p.enqueue(pkt(3, PacketKind::Audio, 4), t),
            Some(pkt(1, VIDEO, 2))
        );
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn overflow_without_droppable_video_evicts_oldest_video_then_audio() {
        let mut p = pacer(2);
        let t = at(0);
        assert!(p.enqueue(pkt(1, KEY, 1), t).is_none());
        assert!(p.enqueue(pkt(2, PacketKind::Audio, 2), t).is_none());
        assert_eq!(
            p.enqueue(pkt(2, PacketKind::Audio, 3), t),
            Some(pkt(1, KEY, 1))
        );
        assert_eq!(
            p.enqueue(pkt(2, PacketKind::Audio, 4), t),
            Some(pkt(2, PacketKind::Audio, 2))
        );
    }

    #[test]
    fn stale_non_keyframe_video_is_dropped_not_sent_late() {
        let mut p = pacer(16);
        assert!(p.enqueue(pkt(1, VIDEO, 1), at(0)).is_none());
        assert_eq!(p.poll(at(3_000_000)), PacerAction::Drop(pkt(1, VIDEO, 1)));
        assert_eq!(p.queued_bytes(), DataSize::ZERO);
    }

    #[test]
    fn time_going_backwards_neither_panics_nor_refills() {
        let mut p = pacer(16);
        assert!(p.enqueue(pkt(1, VIDEO, 1), at(1_000_000)).is_none());
        assert!(matches!(p.poll(at(5)), PacerAction::WaitUntil(_)));
    }

    #[test]
    fn budget_does_not_build_beyond_max_burst() {
        let mut p = pacer(64);
        assert_eq!(p.poll(at(0)), PacerAction::Idle);
        for i in 0..10 {
            assert!(p.enqueue(pkt(1, VIDEO, i), at(10_000_000)).is_none());
        }
        // 5 ms at 960 kbit/s = 600 B of budget: one packet, then wait.
        assert!(matches!(p.poll(at(10_000_000)), PacerAction::SendNow(_)));
        assert!(matches!(p.poll(at(10_000_000)), PacerAction::WaitUntil(_)));
    }
}
