//! A run's time series and the statistics the scenario tests assert on.

use std::time::Duration;

use sfu_bwe::{Bitrate, Timestamp};

/// One sample of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TracePoint {
    /// Simulated time.
    pub time: Timestamp,
    /// Bottleneck capacity in force.
    pub capacity: Bitrate,
    /// The estimator's output.
    pub estimate: Bitrate,
    /// Queueing delay at the bottleneck.
    pub queue_delay: Duration,
    /// Rate delivered to the receiver over the last sample interval.
    pub delivered: Bitrate,
}

/// Statistics over a time window of a trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowStats {
    /// Mean estimate.
    pub mean_estimate: Bitrate,
    /// Smallest estimate.
    pub min_estimate: Bitrate,
    /// Largest estimate.
    pub max_estimate: Bitrate,
    /// Largest queueing delay.
    pub max_queue_delay: Duration,
    /// Mean queueing delay.
    pub mean_queue_delay: Duration,
    /// Mean delivered rate.
    pub mean_delivered: Bitrate,
}

impl WindowStats {
    /// Largest relative deviation of the estimate from its mean, e.g. 0.12 for ±12 %.
    #[must_use]
    pub fn oscillation(&self) -> f64 {
        let mean = self.mean_estimate.as_bps_f64().max(1.0);
        let up = self.max_estimate.as_bps_f64() / mean - 1.0;
        let down = 1.0 - self.min_estimate.as_bps_f64() / mean;
        up.max(down)
    }
}

/// The recorded time series of one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    points: Vec<TracePoint>,
}

fn secs(s: f64) -> Timestamp {
    Duration::try_from_secs_f64(s.max(0.0)).map_or(Timestamp::MAX, Timestamp::from_duration)
}

impl Trace {
    /// Appends a point (in time order).
    pub fn push(&mut self, p: TracePoint) {
        self.points.push(p);
    }

    /// All points.
    #[must_use]
    pub fn points(&self) -> &[TracePoint] {
        &self.points
    }

    fn window(&self, from_s: f64, to_s: f64) -> impl Iterator<Item = &TracePoint> {
        let (from, to) = (secs(from_s), secs(to_s));
        self.points
            .iter()
            .filter(move |p| p.time >= from && p.time < to)
    }

    /// Statistics over `[from_s, to_s)` seconds; `None` if the window holds no point.
    #[must_use]
    pub fn stats(&self, from_s: f64, to_s: f64) -> Option<WindowStats> {
        let mut n = 0u64;
        let (mut sum, mut qsum, mut dsum) = (0.0, 0.0, 0.0);
        let (mut min, mut max, mut qmax) = (Bitrate::MAX, Bitrate::ZERO, Duration::ZERO);
        for p in self.window(from_s, to_s) {
            n += 1;
            sum += p.estimate.as_bps_f64();
            dsum += p.delivered.as_bps_f64();
            qsum += p.queue_delay.as_secs_f64();
            min = min.min(p.estimate);
            max = max.max(p.estimate);
            qmax = qmax.max(p.queue_delay);
        }
        (n > 0).then(|| {
            let n = n as f64;
            WindowStats {
                mean_estimate: Bitrate::from_bps_f64(sum / n),
                min_estimate: min,
                max_estimate: max,
                max_queue_delay: qmax,
                mean_queue_delay: Duration::from_secs_f64(qsum / n),
                mean_delivered: Bitrate::from_bps_f64(dsum / n),
            }
        })
    }

    /// First time at or after `from_s` at which `pred` holds, in seconds.
    #[must_use]
    pub fn first_time(&self, from_s: f64, pred: impl Fn(&TracePoint) -> bool) -> Option<f64> {
        self.window(from_s, f64::MAX)
            .find(|p| pred(p))
            .map(|p| p.time.as_secs_f64())
    }

    /// First time at or after `from_s` from which `pred` holds at every later point up to
    /// `to_s`, in seconds.
    #[must_use]
    pub fn settled_time(
        &self,
        from_s: f64,
        to_s: f64,
        pred: impl Fn(&TracePoint) -> bool,
    ) -> Option<f64> {
        let pts: Vec<&TracePoint> = self.window(from_s, to_s).collect();
        let mut settled = None;
        for p in pts.iter().rev() {
            if pred(p) {
                settled = Some(p.time.as_secs_f64());
            } else {
                break;
            }
        }
        settled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(estimates_kbps: &[u64]) -> Trace {
        let mut t = Trace::default();
        for (i, e) in estimates_kbps.iter().enumerate() {
            t.push(TracePoint {
                time: Timestamp::from_millis(i as u64 * 1000),
                capacity: Bitrate::from_kbps(1000),
                estimate: Bitrate::from_kbps(*e),
                queue_delay: Duration::from_millis(*e / 10),
                delivered: Bitrate::ZERO,
            });
        }
        t
    }

    #[test]
    fn stats_cover_the_half_open_window() {
        let t = trace(&[100, 200, 300, 400]);
        let s = t.stats(1.0, 3.0).expect("two points");
        assert_eq!(s.mean_estimate, Bitrate::from_kbps(250));
        assert_eq!(s.max_queue_delay, Duration::from_millis(30));
        assert!((s.oscillation() - 0.2).abs() < 1e-9);
    }

    #[test]
    fn settled_time_ignores_early_excursions() {
        let t = trace(&[900, 100, 900, 900]);
        assert_eq!(
            t.first_time(0.0, |p| p.estimate.bps() >= 900_000),
            Some(0.0)
        );
        assert_eq!(
            t.settled_time(0.0, 10.0, |p| p.estimate.bps() >= 900_000),
            Some(2.0)
        );
    }
}
