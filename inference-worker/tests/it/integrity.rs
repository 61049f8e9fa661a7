//! A classifier runs exactly the model its manifest entry names, or refuses to load.

use nsed_inference_worker::{Classifier, ExecutionTarget, ModelError, Sha256Digest};
use sha2::{Digest, Sha256};

use crate::fixtures::{classifier, manifest, models_dir, runtime};

#[test]
fn model_id_is_the_sha256_of_the_onnx_file() {
    for entry in &manifest().models {
        let bytes = std::fs::read(models_dir().join(&entry.file)).unwrap();
        let expected: [u8; 32] = Sha256::digest(&bytes).into();
        let classifier = classifier(&entry.name);
        assert_eq!(classifier.model_id(), expected, "{}", entry.name);
        assert_eq!(classifier.digest(), entry.sha256);
        assert_eq!(classifier.name(), entry.name);
    }
}

#[test]
fn a_model_with_one_flipped_byte_is_rejected_naming_both_digests() {
    let entry = manifest().try_get("tree_full_d8").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(models_dir().join(&entry.file)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(dir.path().join(&entry.file), &bytes).unwrap();

    match Classifier::load(runtime(), dir.path(), entry, ExecutionTarget::Cpu) {
        Err(err @ ModelError::DigestMismatch { .. }) => {
            let ModelError::DigestMismatch { ref path, expected, actual } = err else {
                unreachable!()
            };
            assert_eq!(path, &dir.path().join(&entry.file));
            assert_eq!(expected, entry.sha256);
            assert_eq!(actual, Sha256Digest::of(&bytes));
            let message = err.to_string();
            assert!(message.contains(&expected.to_string()), "{message}");
            assert!(message.contains(&actual.to_string()), "{message}");
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
}

#[test]
fn a_missing_model_file_is_an_io_error() {
    let entry = manifest().try_get("gnb_full").unwrap();
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Classifier::load(runtime(), dir.path(), entry, ExecutionTarget::Cpu),
        Err(ModelError::Io { path, .. }) if path == dir.path().join(&entry.file)
    ));
}

#[test]
fn a_graph_whose_names_differ_from_the_manifest_is_rejected() {
    let mut entry = manifest().try_get("logreg_top_half").unwrap().clone();
    entry.input.name = "pixels".to_owned();
    match Classifier::load(runtime(), models_dir(), &entry, ExecutionTarget::Cpu) {
        Err(ModelError::SessionMismatch { what, manifest, session, .. }) => {
            assert_eq!(what, "inputs");
            assert_eq!(manifest, r#"["pixels"]"#);
            assert_eq!(session, r#"["input"]"#);
        }
        other => panic!("expected SessionMismatch, got {other:?}"),
    }

    let mut entry = manifest().try_get("logreg_top_half").unwrap().clone();
    entry.outputs.probabilities.name = "scores".to_owned();
    assert!(matches!(
        Classifier::load(runtime(), models_dir(), &entry, ExecutionTarget::Cpu),
        Err(ModelError::SessionMismatch { what: "outputs", .. })
    ));
}

#[test]
fn a_manifest_declaring_another_interface_is_rejected_before_loading() {
    let mut entry = manifest().try_get("knn_pool4x4").unwrap().clone();
    entry.outputs.probabilities.shape = vec![None, Some(3)];
    assert!(matches!(
        Classifier::load(runtime(), models_dir(), &entry, ExecutionTarget::Cpu),
        Err(ModelError::UnsupportedModel { what: "output probabilities", .. })
    ));
}

#[test]
fn a_model_file_outside_the_models_directory_is_refused() {
    let mut entry = manifest().try_get("knn_pool4x4").unwrap().clone();
    entry.file = "../models/knn_pool4x4.onnx".to_owned();
    assert!(matches!(
        Classifier::load(runtime(), models_dir(), &entry, ExecutionTarget::Cpu),
        Err(ModelError::UnsafeModelPath { .. })
    ));
}
