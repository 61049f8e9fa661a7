//! One row's answer from a classifier.

use super::NUM_CLASSES;

/// A classifier's answer for one input row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// The predicted class, 0..9 (the model's `label` output).
    pub label: u32,
    /// The probability of each class, indexed by class; the row sums to 1 up to rounding.
    pub probabilities: [f32; NUM_CLASSES],
}

impl Prediction {
    /// The probability the model gives its own label.
    pub fn confidence(&self) -> f32 {
        // `label` is checked against NUM_CLASSES when the prediction is built from the outputs.
        self.probabilities.get(self.label as usize).copied().unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_is_the_probability_of_the_label() {
        let mut probabilities = [0.0; NUM_CLASSES];
        probabilities[3] = 0.75;
        probabilities[5] = 0.25;
        assert_eq!(Prediction { label: 3, probabilities }.confidence(), 0.75);
        assert_eq!(Prediction { label: 5, probabilities }.confidence(), 0.25);
    }
}
