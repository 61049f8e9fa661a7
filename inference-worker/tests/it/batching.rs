//! Batching does not change the answers.

use ndarray::Array2;

use crate::fixtures::{classifier, features, manifest};

/// The largest probability difference allowed between a row classified alone and the same row
/// in a batch. ONNX Runtime's CPU kernels take other code paths for one row than for many (a
/// matrix-vector instead of a matrix-matrix product, vectorised loops over the batch), so the
/// last bits of a float32 may differ. Observed on x86-64: 4.2e-7 for `logreg_top_half`, bit-identical
/// for the other four; the bound leaves room for other CPUs' kernels.
const PROBABILITY_TOLERANCE: f32 = 1e-5;

#[test]
fn one_row_at_a_time_equals_the_whole_split_in_one_batch() {
    let rows = features();
    assert_eq!(rows.len(), 450);
    for entry in &manifest().models {
        let mut classifier = classifier(&entry.name);
        let batched = classifier.classify(&rows).unwrap();
        let mut max_diff = 0.0f32;
        for (row, (features, expected)) in rows.iter().zip(&batched).enumerate() {
            let single = classifier.classify(std::slice::from_ref(features)).unwrap();
            assert_eq!(single.len(), 1);
            assert_eq!(single[0].label, expected.label, "{} row {row}", entry.name);
            for (a, b) in single[0].probabilities.iter().zip(&expected.probabilities) {
                max_diff = max_diff.max((a - b).abs());
            }
        }
        assert!(max_diff <= PROBABILITY_TOLERANCE, "{}: {max_diff}", entry.name);
    }
}

#[test]
fn an_array_view_in_any_layout_gives_the_same_answers_as_rows() {
    let rows = features();
    let array = Array2::from_shape_vec((rows.len(), 64), rows.as_flattened().to_vec()).unwrap();
    // A column-major copy of the same matrix: not row-major contiguous, so it is copied first.
    let column_major = array.t().as_standard_layout().into_owned();
    let mut classifier = classifier("mlp_pca8_left_half");
    let expected = classifier.classify(&rows).unwrap();
    assert_eq!(classifier.classify_array(array.view()).unwrap(), expected);
    assert!(!column_major.t().is_standard_layout());
    assert_eq!(classifier.classify_array(column_major.t()).unwrap(), expected);
}
