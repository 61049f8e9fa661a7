//! Latency summaries, computed the same way for both sides from the raw per-call times.

use std::time::Duration;

/// A summary of per-call latencies, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Latency {
    pub(crate) p50_ns: f64,
    pub(crate) p99_ns: f64,
    pub(crate) mean_ns: f64,
}

impl Latency {
    pub(crate) fn from_durations(samples: &[Duration]) -> Self {
        let nanos: Vec<u64> =
            samples.iter().map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)).collect();
        Self::from_nanos(&nanos)
    }

    /// Nearest-rank percentiles and the arithmetic mean; all zero for no samples.
    pub(crate) fn from_nanos(samples: &[u64]) -> Self {
        if samples.is_empty() {
            return Self { p50_ns: 0.0, p99_ns: 0.0, mean_ns: 0.0 };
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let rank = |p: f64| {
            // Nearest rank: the smallest value with at least p% of the samples at or below it.
            let index = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
            sorted[index.clamp(1, sorted.len()) - 1] as f64
        };
        let mean = sorted.iter().map(|&n| n as f64).sum::<f64>() / sorted.len() as f64;
        Self { p50_ns: rank(50.0), p99_ns: rank(99.0), mean_ns: mean }
    }

    /// Rows per second at this mean latency, for `batch` rows per call.
    pub(crate) fn rows_per_second(&self, batch: usize) -> f64 {
        if self.mean_ns == 0.0 { 0.0 } else { batch as f64 * 1e9 / self.mean_ns }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_and_mean() {
        let samples: Vec<u64> = (1..=100).rev().collect();
        let latency = Latency::from_nanos(&samples);
        assert_eq!(latency.p50_ns, 50.0);
        assert_eq!(latency.p99_ns, 99.0);
        assert_eq!(latency.mean_ns, 50.5);
        assert_eq!(Latency::from_nanos(&[7]).p99_ns, 7.0);
        assert_eq!(Latency::from_nanos(&[]).mean_ns, 0.0);
    }

    #[test]
    fn throughput_counts_rows_not_calls() {
        let latency = Latency { p50_ns: 0.0, p99_ns: 0.0, mean_ns: 1_000_000.0 };
        assert_eq!(latency.rows_per_second(64), 64_000.0);
    }
}
