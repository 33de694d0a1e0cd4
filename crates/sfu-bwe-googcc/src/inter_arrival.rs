//! Packet-group arrival deltas (libwebrtc `InterArrivalDelta`; draft-ietf-rmcat-gcc-02 §5.2).
//!
//! Packets sent within a short burst interval form a *group*; the delay-based detector
//! compares consecutive groups rather than packets, because a sender's pacer and the
//! network's batching make per-packet timing noise dominate.

use std::time::Duration;

use sfu_bwe::Timestamp;

/// Deltas between two consecutive complete packet groups.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GroupDeltas {
    /// Difference of the groups' last send times, ms.
    pub(crate) send_delta_ms: f64,
    /// Difference of the groups' last arrival times, ms.
    pub(crate) arrival_delta_ms: f64,
}

#[derive(Debug, Clone, Copy)]
struct Group {
    first_send: Timestamp,
    last_send: Timestamp,
    first_arrival: Timestamp,
    last_arrival: Timestamp,
    /// Sender-clock time of the feedback that completed the group; guards against receiver
    /// clock jumps.
    last_system: Timestamp,
}

/// Groups packets by send time and yields inter-group deltas.
#[derive(Debug, Clone)]
pub(crate) struct InterArrival {
    burst: Duration,
    current: Option<Group>,
    previous: Option<Group>,
    consecutive_reordered: u32,
}

/// A receiver clock jumping further than this relative to the sender's clock resets state.
const ARRIVAL_OFFSET_RESET_MS: f64 = 3000.0;
/// This many arrival-time reorderings in a row reset state.
const REORDER_RESET: u32 = 3;
/// A burst of back-to-back arrivals never spans more than this.
const MAX_BURST: Duration = Duration::from_millis(100);

impl InterArrival {
    pub(crate) fn new(burst: Duration) -> Self {
        Self {
            burst,
            current: None,
            previous: None,
            consecutive_reordered: 0,
        }
    }

    fn reset(&mut self) {
        self.current = None;
        self.previous = None;
        self.consecutive_reordered = 0;
    }

    /// Feeds one received packet; returns deltas when it starts a new group and the two
    /// groups before it are complete.
    pub(crate) fn on_packet(
        &mut self,
        send: Timestamp,
        arrival: Timestamp,
        system: Timestamp,
    ) -> Option<GroupDeltas> {
        let Some(mut cur) = self.current else {
            self.current = Some(Group {
                first_send: send,
                last_send: send,
                first_arrival: arrival,
                last_arrival: arrival,
                last_system: system,
            });
            return None;
        };
        if send < cur.first_send {
            // Sent before the current group started: reordered in flight, not usable.
            return None;
        }
        let mut out = None;
        if self.starts_new_group(&cur, send, arrival) {
            if let Some(prev) = self.previous {
                let send_delta_ms = cur.last_send.signed_millis_since(prev.last_send);
                let arrival_delta_ms = cur.last_arrival.signed_millis_since(prev.last_arrival);
                let system_delta_ms = cur.last_system.signed_millis_since(prev.last_system);
                if (arrival_delta_ms - system_delta_ms).abs() >= ARRIVAL_OFFSET_RESET_MS {
                    self.reset();
                    return self.on_packet(send, arrival, system);
                }
                if arrival_delta_ms < 0.0 {
                    self.consecutive_reordered += 1;
                    if self.consecutive_reordered >= REORDER_RESET {
                        self.reset();
                        return self.on_packet(send, arrival, system);
                    }
                } else {
                    self.consecutive_reordered = 0;
                    out = Some(GroupDeltas {
                        send_delta_ms,
                        arrival_delta_ms,
                    });
                }
            }
            self.previous = Some(cur);
            cur = Group {
                first_send: send,
                last_send: send,
                first_arrival: arrival,
                last_arrival: arrival,
                last_system: system,
            };
        } else {
            cur.last_send = cur.last_send.max(send);
        }
        cur.last_arrival = arrival;
        cur.last_system = system;
        self.current = Some(cur);
        out
    }

    fn starts_new_group(&self, cur: &Group, send: Timestamp, arrival: Timestamp) -> bool {
        if self.belongs_to_burst(cur, send, arrival) {
            return false;
        }
        send.saturating_duration_since(cur.first_send) > self.burst
    }

    /// Packets that arrive back to back faster than they were sent were queued together
    /// somewhere (e.g. a Wi-Fi aggregate); treat them as one group.
    fn belongs_to_burst(&self, cur: &Group, send: Timestamp, arrival: Timestamp) -> bool {
        let arrival_delta_ms = arrival.signed_millis_since(cur.last_arrival);
        let send_delta_ms = send.signed_millis_since(cur.last_send);
        if send_delta_ms == 0.0 {
            return true;
        }
        let propagation_delta_ms = arrival_delta_ms - send_delta_ms;
        propagation_delta_ms < 0.0
            && arrival_delta_ms <= self.burst.as_secs_f64() * 1000.0
            && arrival.saturating_duration_since(cur.first_arrival) < MAX_BURST
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Timestamp {
        Timestamp::from_millis(v)
    }

    #[test]
    fn deltas_come_from_group_boundaries() {
        let mut ia = InterArrival::new(Duration::from_millis(5));
        // Groups sent at 0, 10, 20 ms; each arrives 2 ms later than the previous spacing.
        assert_eq!(ia.on_packet(ms(0), ms(100), ms(100)), None);
        assert_eq!(ia.on_packet(ms(10), ms(112), ms(112)), None);
        let d = ia
            .on_packet(ms(20), ms(124), ms(124))
            .expect("third group closes second");
        assert!((d.send_delta_ms - 10.0).abs() < 1e-9);
        assert!((d.arrival_delta_ms - 12.0).abs() < 1e-9);
    }

    #[test]
    fn packets_within_burst_interval_share_a_group() {
        let mut ia = InterArrival::new(Duration::from_millis(5));
        for t in 0..5 {
            assert_eq!(ia.on_packet(ms(t), ms(100 + t * 2), ms(100)), None);
        }
        assert_eq!(ia.previous.map(|g| g.first_send), None);
    }

    #[test]
    fn reordered_send_times_are_ignored() {
        let mut ia = InterArrival::new(Duration::from_millis(5));
        ia.on_packet(ms(100), ms(100), ms(100));
        assert_eq!(ia.on_packet(ms(50), ms(101), ms(101)), None);
        assert_eq!(ia.current.map(|g| g.first_send), Some(ms(100)));
    }

    #[test]
    fn receiver_clock_jump_resets_state() {
        let mut ia = InterArrival::new(Duration::from_millis(5));
        ia.on_packet(ms(0), ms(100), ms(0));
        ia.on_packet(ms(10), ms(110), ms(10));
        // The receiver clock leaps 10 s while the sender's moved 10 ms.
        assert!(ia.on_packet(ms(20), ms(10_120), ms(20)).is_some());
        assert_eq!(ia.on_packet(ms(30), ms(10_130), ms(30)), None);
        assert_eq!(ia.previous.map(|g| g.first_send), None);
        assert_eq!(ia.current.map(|g| g.first_send), Some(ms(30)));
    }
}
