//! Accuracy tallies with 95% Wilson intervals, and error correlations.

/// Correct answers out of a total.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    pub(crate) correct: usize,
    pub(crate) total: usize,
}

impl Tally {
    pub(crate) fn add(&mut self, ok: bool) {
        self.correct += usize::from(ok);
        self.total += 1;
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        self.correct += other.correct;
        self.total += other.total;
    }

    pub(crate) fn pct(self) -> f64 {
        100.0 * self.correct as f64 / self.total.max(1) as f64
    }

    /// The 95% Wilson score interval, in percent.
    pub(crate) fn wilson(self) -> (f64, f64) {
        if self.total == 0 {
            return (0.0, 100.0);
        }
        let n = self.total as f64;
        let p = self.correct as f64 / n;
        let z = 1.959_963_984_540_054_f64;
        let denom = 1.0 + z * z / n;
        let centre = (p + z * z / (2.0 * n)) / denom;
        let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
        (100.0 * (centre - half).max(0.0), 100.0 * (centre + half).min(1.0))
    }

    /// `58.3 (54.0–62.5)`.
    pub(crate) fn cell(&self) -> String {
        let (lo, hi) = self.wilson();
        format!("{:.1} ({lo:.1}–{hi:.1})", self.pct())
    }
}

/// Phi coefficient of every pair of error indicator vectors, in pair order (0,1), (0,2), ….
pub(crate) fn pairwise_error_correlation(errors: &[Vec<bool>]) -> Vec<f64> {
    let mut out = Vec::new();
    for i in 0..errors.len() {
        for j in i + 1..errors.len() {
            out.push(phi(&errors[i], &errors[j]));
        }
    }
    out
}

fn phi(a: &[bool], b: &[bool]) -> f64 {
    let (mut n11, mut n10, mut n01, mut n00) = (0f64, 0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        match (x, y) {
            (true, true) => n11 += 1.0,
            (true, false) => n10 += 1.0,
            (false, true) => n01 += 1.0,
            (false, false) => n00 += 1.0,
        }
    }
    let denom = ((n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00)).sqrt();
    if denom == 0.0 { 0.0 } else { (n11 * n00 - n10 * n01) / denom }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_matches_a_known_value() {
        // 50 of 100: 40.4%–59.6%.
        let (lo, hi) = Tally { correct: 50, total: 100 }.wilson();
        assert!((lo - 40.38).abs() < 0.05 && (hi - 59.62).abs() < 0.05, "{lo} {hi}");
    }

    #[test]
    fn identical_errors_correlate_fully() {
        let e = vec![true, false, true, false];
        assert!((phi(&e, &e) - 1.0).abs() < 1e-12);
        let inverse: Vec<bool> = e.iter().map(|x| !x).collect();
        assert!((phi(&e, &inverse) + 1.0).abs() < 1e-12);
    }
}
