//! Packet groups and inter-group delay variation (draft-ietf-rmcat-gcc-02 §5.2).
//!
//! Packets sent within `burst` of a group's first packet belong to it. For two consecutive
//! groups the delay variation is d(i) = t(i) − t(i−1) − (T(i) − T(i−1)), with t the
//! arrival time and T the send time of each group's last packet.

use std::time::Duration;

use sfu_bwe::Timestamp;

/// One inter-group measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GroupDelta {
    /// d(i), ms.
    pub(crate) delay_variation_ms: f64,
    /// T(i) − T(i−1), ms.
    pub(crate) send_delta_ms: f64,
    /// t(i) of the closed group, ms in the receiver clock.
    pub(crate) arrival_ms: f64,
}

#[derive(Debug, Clone, Copy)]
struct Group {
    first_send: Timestamp,
    last_send: Timestamp,
    last_arrival: Timestamp,
}

/// A receiver clock jump this large (relative to send spacing) restarts grouping.
const MAX_DELAY_VARIATION_MS: f64 = 3000.0;

#[derive(Debug, Clone)]
pub(crate) struct Grouper {
    burst: Duration,
    current: Option<Group>,
    previous: Option<Group>,
}

impl Grouper {
    pub(crate) fn new(burst: Duration) -> Self {
        Self {
            burst,
            current: None,
            previous: None,
        }
    }

    // Inlined into the per-sample loop of the estimator's `on_feedback`.
    #[inline]
    pub(crate) fn on_packet(&mut self, send: Timestamp, arrival: Timestamp) -> Option<GroupDelta> {
        let Some(mut cur) = self.current else {
            self.current = Some(Group {
                first_send: send,
                last_send: send,
                last_arrival: arrival,
            });
            return None;
        };
        if send < cur.first_send {
            return None;
        }
        let mut out = None;
        if send.saturating_duration_since(cur.first_send) > self.burst {
            if let Some(prev) = self.previous {
                let send_delta_ms = cur.last_send.signed_millis_since(prev.last_send);
                let arrival_delta_ms = cur.last_arrival.signed_millis_since(prev.last_arrival);
                let d = arrival_delta_ms - send_delta_ms;
                if d.abs() > MAX_DELAY_VARIATION_MS {
                    self.previous = None;
                    self.current = Some(Group {
                        first_send: send,
                        last_send: send,
                        last_arrival: arrival,
                    });
                    return None;
                }
                out = Some(GroupDelta {
                    delay_variation_ms: d,
                    send_delta_ms,
                    arrival_ms: cur.last_arrival.as_micros() as f64 / 1000.0,
                });
            }
            self.previous = Some(cur);
            cur = Group {
                first_send: send,
                last_send: send,
                last_arrival: arrival,
            };
        } else {
            cur.last_send = cur.last_send.max(send);
            cur.last_arrival = cur.last_arrival.max(arrival);
        }
        self.current = Some(cur);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Timestamp {
        Timestamp::from_millis(v)
    }

    #[test]
    fn delay_variation_is_arrival_minus_send_spacing() {
        let mut g = Grouper::new(Duration::from_millis(5));
        assert_eq!(g.on_packet(ms(0), ms(50)), None);
        assert_eq!(g.on_packet(ms(10), ms(63)), None);
        let d = g.on_packet(ms(20), ms(76)).expect("second group closed");
        assert!((d.delay_variation_ms - 3.0).abs() < 1e-9);
        assert!((d.send_delta_ms - 10.0).abs() < 1e-9);
    }

    #[test]
    fn clock_jump_restarts_grouping() {
        let mut g = Grouper::new(Duration::from_millis(5));
        g.on_packet(ms(0), ms(50));
        g.on_packet(ms(10), ms(10_000));
        assert_eq!(g.on_packet(ms(20), ms(10_010)), None);
        assert!(g.previous.is_none());
    }
}
