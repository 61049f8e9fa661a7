//! Malformed input is a typed error, never a panic or an ONNX Runtime failure.

use ndarray::Array2;
use nsed_inference_worker::ModelError;

use crate::fixtures::{classifier, features, manifest};

#[test]
fn an_empty_batch_is_rejected() {
    for entry in &manifest().models {
        let mut classifier = classifier(&entry.name);
        assert!(matches!(classifier.classify(&[]), Err(ModelError::EmptyBatch)));
        let empty = Array2::<f32>::zeros((0, 64));
        assert!(matches!(classifier.classify_array(empty.view()), Err(ModelError::EmptyBatch)));
    }
}

#[test]
fn rows_without_64_features_are_rejected() {
    let mut classifier = classifier("gnb_full");
    for width in [0, 32, 63, 65] {
        let rows = Array2::<f32>::ones((3, width));
        match classifier.classify_array(rows.view()) {
            Err(ModelError::FeatureCount { expected: 64, actual }) => assert_eq!(actual, width),
            other => panic!("width {width}: expected FeatureCount, got {other:?}"),
        }
    }
}

#[test]
fn nan_and_infinite_features_are_rejected_with_their_position() {
    let mut classifier = classifier("knn_pool4x4");
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut rows = features()[..5].to_vec();
        rows[3][17] = bad;
        match classifier.classify(&rows) {
            Err(ModelError::NonFinite { row: 3, column: 17, value }) => {
                assert_eq!(value.to_bits(), bad.to_bits());
            }
            other => panic!("{bad}: expected NonFinite at row 3 column 17, got {other:?}"),
        }
        let array = Array2::from_shape_vec((5, 64), rows.as_flattened().to_vec()).unwrap();
        assert!(matches!(
            classifier.classify_array(array.view()),
            Err(ModelError::NonFinite { row: 3, column: 17, .. })
        ));
    }
    // The classifier is still usable after rejecting input.
    assert_eq!(classifier.classify(&features()[..5]).unwrap().len(), 5);
}
