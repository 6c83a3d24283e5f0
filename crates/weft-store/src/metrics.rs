//! In-process counters and histograms for `/metrics`. Each replica counts
//! what it did; Prometheus sums across replicas.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds, in seconds, of the latency histograms' buckets.
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 300.0,
];

/// A Prometheus histogram: cumulative counts per bucket, a sum and a count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    pub counts: [u64; BUCKETS.len()],
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    pub fn observe(&mut self, seconds: f64) {
        for (index, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[index] += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    /// The bucket bound below which `q` of observations fall (an upper
    /// estimate), or `None` with no observations.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = (q * self.count as f64).ceil() as u64;
        BUCKETS
            .iter()
            .zip(self.counts)
            .find(|(_, count)| *count >= rank)
            .map(|(bound, _)| *bound)
            .or(Some(f64::INFINITY))
    }
}

/// What a coordinator counts.
#[derive(Debug, Default)]
pub struct Metrics {
    pub grants: AtomicU64,
    pub releases: AtomicU64,
    pub expiries: AtomicU64,
    pub conflicts: AtomicU64,
    pub timeouts: AtomicU64,
    pub force_releases: AtomicU64,
    pub alerts_fired: AtomicU64,
    pub conflicts_found: AtomicU64,
    pub conflicts_resolved: AtomicU64,
    /// (type, status) → count, and durations by type.
    operations: Mutex<BTreeMap<(String, String), u64>>,
    durations: Mutex<BTreeMap<String, Histogram>>,
    wake_latency: Mutex<Histogram>,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Counts one finished operation and its duration.
    pub fn operation(&self, kind: &str, status: &str, seconds: f64) {
        if let Ok(mut operations) = self.operations.lock() {
            *operations
                .entry((kind.to_owned(), status.to_owned()))
                .or_default() += 1;
        }
        if let Ok(mut durations) = self.durations.lock() {
            durations
                .entry(kind.to_owned())
                .or_default()
                .observe(seconds);
        }
    }

    pub fn wake(&self, seconds: f64) {
        if let Ok(mut histogram) = self.wake_latency.lock() {
            histogram.observe(seconds);
        }
    }

    pub fn operations(&self) -> BTreeMap<(String, String), u64> {
        self.operations
            .lock()
            .map(|o| o.clone())
            .unwrap_or_default()
    }

    pub fn durations(&self) -> BTreeMap<String, Histogram> {
        self.durations.lock().map(|d| d.clone()).unwrap_or_default()
    }

    pub fn wake_latency(&self) -> Histogram {
        self.wake_latency
            .lock()
            .map(|h| h.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut histogram = Histogram::default();
        histogram.observe(0.0007);
        histogram.observe(0.02);
        histogram.observe(1000.0);
        assert_eq!(histogram.counts[0], 0);
        assert_eq!(histogram.counts[1], 1);
        assert_eq!(histogram.counts[5], 2);
        assert_eq!(histogram.counts[BUCKETS.len() - 1], 2);
        assert_eq!(histogram.count, 3);
        assert_eq!(histogram.quantile(0.5), Some(0.025));
        assert_eq!(histogram.quantile(1.0), Some(f64::INFINITY));
    }
}
