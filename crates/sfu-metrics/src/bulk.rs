//! A Prometheus histogram filled in bulk: its observations are counted per bucket
//! elsewhere (by a room task, without atomics on the packet path) and added here from
//! snapshots.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use prometheus::core::{Collector, Desc};
use prometheus::proto;

/// A histogram whose bucket counts are added in bulk with [`BulkHistogram::add`]. Clones
/// share their counts.
///
/// ```
/// use sfu_metrics::BulkHistogram;
///
/// let h = BulkHistogram::new("hold_seconds", "Hold time", vec![0.001, 0.01]).unwrap();
/// // One observation up to 1 ms, two up to 10 ms, one beyond; 30 ms in all.
/// h.add(&[1, 2, 1], 0.03);
/// let registry = prometheus::Registry::new();
/// registry.register(Box::new(h.clone())).unwrap();
/// let family = &registry.gather()[0];
/// assert_eq!(family.get_metric()[0].get_histogram().get_sample_count(), 4);
/// ```
#[derive(Debug, Clone)]
pub struct BulkHistogram {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    desc: Desc,
    bounds: Vec<f64>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Per bucket, not cumulative; one more than there are bounds (beyond the last).
    counts: Vec<u64>,
    sum: f64,
}

impl BulkHistogram {
    /// A histogram named `name` with buckets up to each of `bounds` (ascending) and one
    /// beyond them.
    pub fn new(name: &str, help: &str, bounds: Vec<f64>) -> prometheus::Result<Self> {
        if !bounds.is_sorted_by(|a, b| a < b) {
            return Err(prometheus::Error::Msg(format!(
                "{name}: bucket bounds must ascend"
            )));
        }
        let desc = Desc::new(name.into(), help.into(), Vec::new(), HashMap::new())?;
        let counts = vec![0; bounds.len() + 1];
        Ok(Self {
            inner: Arc::new(Inner {
                desc,
                bounds,
                state: Mutex::new(State { counts, sum: 0.0 }),
            }),
        })
    }

    /// Adds `counts[i]` observations to bucket `i` (the one up to `bounds[i]`; the last,
    /// beyond every bound) and `sum` to their sum. Extra counts past the last bucket are
    /// ignored.
    pub fn add(&self, counts: &[u64], sum: f64) {
        let mut state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (total, n) in state.counts.iter_mut().zip(counts) {
            *total = total.saturating_add(*n);
        }
        state.sum += sum;
    }
}

impl Collector for BulkHistogram {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.inner.desc]
    }

    fn collect(&self) -> Vec<proto::MetricFamily> {
        let state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut cumulative = 0;
        let buckets = self
            .inner
            .bounds
            .iter()
            .zip(&state.counts)
            .map(|(bound, n)| {
                cumulative += n;
                let mut b = proto::Bucket::default();
                b.set_upper_bound(*bound);
                b.set_cumulative_count(cumulative);
                b
            })
            .collect();
        let mut histogram = proto::Histogram::default();
        histogram.set_bucket(buckets);
        histogram.set_sample_count(state.counts.iter().sum());
        histogram.set_sample_sum(state.sum);
        let mut metric = proto::Metric::default();
        metric.set_histogram(histogram);
        let mut family = proto::MetricFamily::default();
        family.set_name(self.inner.desc.fq_name.clone());
        family.set_help(self.inner.desc.help.clone());
        family.set_field_type(proto::MetricType::HISTOGRAM);
        family.set_metric(vec![metric]);
        vec![family]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_exposed_cumulatively_with_the_rest_beyond() {
        let h = BulkHistogram::new("h_seconds", "h", vec![0.001, 0.01]).unwrap();
        h.add(&[1, 2, 3], 0.5);
        h.add(&[1, 0, 0, 99], 0.25);
        let registry = prometheus::Registry::new();
        registry.register(Box::new(h)).unwrap();
        let mut text = Vec::new();
        prometheus::Encoder::encode(
            &prometheus::TextEncoder::new(),
            &registry.gather(),
            &mut text,
        )
        .unwrap();
        let text = String::from_utf8(text).unwrap();
        for line in [
            "# TYPE h_seconds histogram",
            "h_seconds_bucket{le=\"0.001\"} 2",
            "h_seconds_bucket{le=\"0.01\"} 4",
            "h_seconds_bucket{le=\"+Inf\"} 7",
            "h_seconds_sum 0.75",
            "h_seconds_count 7",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }

    #[test]
    fn bounds_that_do_not_ascend_are_refused() {
        assert!(BulkHistogram::new("h", "h", vec![0.01, 0.001]).is_err());
    }
}
