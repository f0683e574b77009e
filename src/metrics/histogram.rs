//! A lock-free latency histogram: fixed buckets of atomics, observed with three relaxed adds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds (Prometheus' `le`), 50 µs to 10 s.
pub const BOUNDS_SECONDS: [f64; 16] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 10.0,
];

/// Bucket bounds in nanoseconds, for the comparison on the hot path.
const BOUNDS_NS: [u64; 16] = [
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    10_000_000_000,
];

/// Counts per bucket (the last one is +Inf), total count and sum.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); index 16 is above the last bound.
    buckets: [AtomicU64; 17],
    /// Sum of observed values in nanoseconds (or units for count histograms).
    sum: AtomicU64,
}

impl Histogram {
    /// Records a duration.
    pub fn observe(&self, d: Duration) {
        self.observe_raw(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Records a value in the histogram's raw unit (ns for latencies).
    pub fn observe_raw(&self, v: u64) {
        let i = BOUNDS_NS.partition_point(|b| *b < v);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(v, Ordering::Relaxed);
    }

    /// (sum in seconds, count, per-bucket counts with their upper bounds) for the encoder, which
    /// makes them cumulative.
    pub fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let mut buckets = Vec::with_capacity(17);
        let mut count = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            let n = b.load(Ordering::Relaxed);
            count += n;
            buckets.push((BOUNDS_SECONDS.get(i).copied().unwrap_or(f64::INFINITY), n));
        }
        let sum = self.sum.load(Ordering::Relaxed) as f64 / 1e9;
        (sum, count, buckets)
    }

    /// True when nothing was observed (such series are left out of a scrape).
    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(|b| b.load(Ordering::Relaxed) == 0)
    }
}

/// A histogram of small counts (group-commit batch sizes): buckets 1, 2, 4, … 1024, +Inf.
#[derive(Debug, Default)]
pub struct CountHistogram {
    /// Observations per bucket; index 11 is above 1024.
    buckets: [AtomicU64; 12],
    /// Sum of observed values.
    sum: AtomicU64,
}

impl CountHistogram {
    /// Records a count.
    pub fn observe(&self, v: u64) {
        let i = (u64::BITS - v.saturating_sub(1).leading_zeros()).min(11) as usize;
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(v, Ordering::Relaxed);
    }

    /// (sum, count, per-bucket counts with upper bounds).
    pub fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let mut count = 0;
        let buckets = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let n = b.load(Ordering::Relaxed);
                count += n;
                let bound = if i < 11 {
                    (1u64 << i) as f64
                } else {
                    f64::INFINITY
                };
                (bound, n)
            })
            .collect();
        (self.sum.load(Ordering::Relaxed) as f64, count, buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_the_first_bucket_at_or_above_them() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(50));
        h.observe(Duration::from_micros(51));
        h.observe(Duration::from_secs(20));
        let (sum, count, b) = h.snapshot();
        assert_eq!(count, 3);
        assert_eq!(b[0], (0.00005, 1));
        assert_eq!(b[1], (0.0001, 1));
        assert_eq!(b[16].1, 1);
        assert!((sum - 20.000101).abs() < 1e-9);
    }

    #[test]
    fn counts_land_in_power_of_two_buckets() {
        let h = CountHistogram::default();
        for v in [1, 2, 3, 4, 5, 5000] {
            h.observe(v);
        }
        let (sum, count, b) = h.snapshot();
        assert_eq!((sum, count), (5015.0, 6));
        assert_eq!(b[0], (1.0, 1));
        assert_eq!(b[1], (2.0, 1));
        assert_eq!(b[2], (4.0, 2));
        assert_eq!(b[3], (8.0, 1));
        assert_eq!(b[11].1, 1);
    }
}
