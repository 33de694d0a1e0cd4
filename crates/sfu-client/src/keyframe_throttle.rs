//! Keyframe requests to a publisher, throttled per layer.
//!
//! Every subscriber that starts, switches layer or loses a picture asks for a keyframe;
//! the publisher's encoder should see at most one request per layer per interval however
//! many ask, and a request that went unanswered escalates from PLI to FIR.

use std::time::{Duration, Instant};

use sfu_ids::{SfuKeyframeKind, SfuRid};

/// Throttle state of keyframe requests for one published layer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyframeThrottle {
    pub(crate) rid: Option<SfuRid>,
    /// When the last request went out (`None`: never).
    last_sent: Option<Instant>,
    /// Set while a request is outstanding (no keyframe seen since).
    outstanding_since: Option<Instant>,
}

impl KeyframeThrottle {
    pub(crate) fn new(rid: Option<SfuRid>) -> Self {
        Self {
            rid,
            last_sent: None,
            outstanding_since: None,
        }
    }

    /// A keyframe arrived on this layer.
    pub(crate) fn keyframe_seen(&mut self) {
        self.outstanding_since = None;
    }

    /// Whether a request of `kind` goes out at `now`, and as which kind: `None` inside the
    /// interval since the last one; a FIR when asked for one or when the request has been
    /// outstanding for `fir_after`.
    pub(crate) fn admit(
        &mut self,
        kind: SfuKeyframeKind,
        now: Instant,
        interval: Duration,
        fir_after: Duration,
    ) -> Option<SfuKeyframeKind> {
        if self
            .last_sent
            .is_some_and(|at| now.saturating_duration_since(at) < interval)
        {
            return None;
        }
        let escalate = self
            .outstanding_since
            .is_some_and(|since| now.saturating_duration_since(since) >= fir_after);
        self.last_sent = Some(now);
        self.outstanding_since.get_or_insert(now);
        Some(if escalate { SfuKeyframeKind::Fir } else { kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(500);
    const FIR_AFTER: Duration = Duration::from_secs(2);

    #[test]
    fn one_request_per_interval_then_fir_when_unanswered() {
        let mut t = KeyframeThrottle::new(None);
        let t0 = Instant::now();
        let pli = SfuKeyframeKind::Pli;
        assert_eq!(t.admit(pli, t0, INTERVAL, FIR_AFTER), Some(pli));
        assert_eq!(
            t.admit(pli, t0 + Duration::from_millis(100), INTERVAL, FIR_AFTER),
            None
        );
        assert_eq!(t.admit(pli, t0 + INTERVAL, INTERVAL, FIR_AFTER), Some(pli));
        assert_eq!(
            t.admit(pli, t0 + FIR_AFTER, INTERVAL, FIR_AFTER),
            Some(SfuKeyframeKind::Fir)
        );
        t.keyframe_seen();
        let later = t0 + FIR_AFTER + INTERVAL;
        assert_eq!(t.admit(pli, later, INTERVAL, FIR_AFTER), Some(pli));
    }
}
