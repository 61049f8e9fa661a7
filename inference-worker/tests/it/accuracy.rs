//! The Rust path reproduces the accuracies Python ONNX Runtime recorded in the manifest.

use crate::fixtures::{classifier, features, manifest, test_split};

#[test]
fn every_model_matches_its_manifest_accuracy_on_the_full_split() {
    let split = test_split();
    for entry in &manifest().models {
        let predictions = classifier(&entry.name).classify(&features()).unwrap();
        assert_eq!(predictions.len(), split.len());
        let correct = predictions
            .iter()
            .zip(split)
            .filter(|(prediction, (_, label))| prediction.label == u32::from(*label))
            .count();
        let accuracy = correct as f64 / split.len() as f64;
        // The manifest stores the accuracy rounded to 6 decimals.
        assert_eq!(
            format!("{accuracy:.6}"),
            format!("{:.6}", entry.heldout_accuracy),
            "{}: {correct}/{} correct",
            entry.name,
            split.len()
        );
    }
}

#[test]
fn every_row_of_probabilities_sums_to_one() {
    for entry in &manifest().models {
        let predictions = classifier(&entry.name).classify(&features()).unwrap();
        for (row, prediction) in predictions.iter().enumerate() {
            let sum: f32 = prediction.probabilities.iter().sum();
            assert!(
                (sum - 1.0).abs() <= 1e-4,
                "{} row {row}: probabilities sum to {sum}",
                entry.name
            );
            assert!(
                prediction.probabilities.iter().all(|p| (0.0..=1.0 + 1e-6).contains(p)),
                "{} row {row}: {:?}",
                entry.name,
                prediction.probabilities
            );
        }
    }
}
