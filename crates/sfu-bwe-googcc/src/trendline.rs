//! Delay trend by linear regression (libwebrtc `TrendlineEstimator`).
//!
//! Each inter-group delay variation (arrival delta − send delta) is accumulated into a
//! one-way queueing delay, exponentially smoothed, and kept in a fixed window of
//! `(arrival time, smoothed delay)` points. The least-squares slope over the window is the
//! *trend*: positive while a queue builds, negative while it drains. This replaces the
//! Kalman filter of draft-ietf-rmcat-gcc-02 §5.3 in current libwebrtc.

/// Largest supported regression window.
pub(crate) const MAX_WINDOW: usize = 64;

#[derive(Debug, Clone)]
pub(crate) struct Trendline {
    window: usize,
    smoothing: f64,
    /// Ring of `(x = arrival ms since first, y = smoothed delay ms)`.
    points: [(f64, f64); MAX_WINDOW],
    len: usize,
    head: usize,
    first_arrival_ms: Option<f64>,
    accumulated_ms: f64,
    smoothed_ms: f64,
    trend: f64,
    num_deltas: u32,
}

impl Trendline {
    /// `window` is clamped to `2..=MAX_WINDOW`; `smoothing` is the EMA coefficient in `[0, 1)`.
    pub(crate) fn new(window: usize, smoothing: f64) -> Self {
        Self {
            window: window.clamp(2, MAX_WINDOW),
            smoothing,
            points: [(0.0, 0.0); MAX_WINDOW],
            len: 0,
            head: 0,
            first_arrival_ms: None,
            accumulated_ms: 0.0,
            smoothed_ms: 0.0,
            trend: 0.0,
            num_deltas: 0,
        }
    }

    /// Adds one group delta; `arrival_ms` is the group's arrival time in a monotone-ish
    /// receiver clock. Returns the current trend (ms of delay per ms of time).
    pub(crate) fn update(&mut self, delay_variation_ms: f64, arrival_ms: f64) -> f64 {
        self.num_deltas = self.num_deltas.saturating_add(1).min(1000);
        let first = *self.first_arrival_ms.get_or_insert(arrival_ms);
        self.accumulated_ms += delay_variation_ms;
        self.smoothed_ms =
            self.smoothing * self.smoothed_ms + (1.0 - self.smoothing) * self.accumulated_ms;
        let idx = (self.head + self.len) % self.window;
        if self.len < self.window {
            self.len += 1;
        } else {
            self.head = (self.head + 1) % self.window;
        }
        self.points[idx] = (arrival_ms - first, self.smoothed_ms);
        if self.len == self.window
            && let Some(slope) = self.slope()
        {
            self.trend = slope;
        }
        if !self.trend.is_finite() {
            self.trend = 0.0;
        }
        self.trend
    }

    /// Number of deltas seen (capped at 1000), used to scale the trend for detection.
    pub(crate) fn num_deltas(&self) -> u32 {
        self.num_deltas
    }

    fn slope(&self) -> Option<f64> {
        let pts = &self.points[..self.window];
        let n = self.len as f64;
        let (sx, sy) = pts
            .iter()
            .fold((0.0, 0.0), |(a, b), &(x, y)| (a + x, b + y));
        let (mx, my) = (sx / n, sy / n);
        let (num, den) = pts.iter().fold((0.0, 0.0), |(num, den), &(x, y)| {
            (num + (x - mx) * (y - my), den + (x - mx) * (x - mx))
        });
        if den == 0.0 { None } else { Some(num / den) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growing_queue_gives_positive_trend() {
        let mut t = Trendline::new(20, 0.9);
        let mut trend = 0.0;
        for i in 0..100 {
            // Every 10 ms group arrives 1 ms later than it was sent apart.
            trend = t.update(1.0, f64::from(i) * 11.0);
        }
        assert!(trend > 0.05, "trend {trend}");
    }

    #[test]
    fn stable_delay_gives_zero_trend() {
        let mut t = Trendline::new(20, 0.9);
        let mut trend = 1.0;
        for i in 0..100 {
            trend = t.update(0.0, f64::from(i) * 10.0);
        }
        assert!(trend.abs() < 1e-9, "trend {trend}");
    }

    #[test]
    fn identical_arrival_times_keep_trend_finite() {
        let mut t = Trendline::new(4, 0.9);
        for _ in 0..10 {
            assert!(t.update(5.0, 42.0).is_finite());
        }
    }
}
