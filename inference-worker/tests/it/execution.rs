//! Execution targets: the CPU always works, CUDA falls back to it and says so.

use std::num::NonZeroUsize;

use nsed_inference_worker::{Classifier, ClassifierOptions, ExecutionTarget};

use crate::fixtures::{classifier, features, manifest, models_dir, runtime};

#[test]
fn the_cpu_target_runs_on_the_cpu_without_fallback() {
    let classifier = classifier("gnb_full");
    assert_eq!(classifier.execution().requested(), ExecutionTarget::Cpu);
    assert_eq!(classifier.execution().actual(), ExecutionTarget::Cpu);
    assert!(!classifier.execution().is_fallback());
}

/// The PyPI `onnxruntime` library has no CUDA provider, so asking for CUDA falls back to the CPU
/// (with or without the `cuda` feature); with a CUDA-enabled library and a GPU it may not.
#[test]
fn requesting_cuda_gives_a_working_classifier_and_reports_where_it_runs() {
    let entry = manifest().try_get("mlp_pca8_left_half").unwrap();
    let mut cuda = Classifier::load(runtime(), models_dir(), entry, ExecutionTarget::Cuda).unwrap();
    let report = cuda.execution().clone();
    assert_eq!(report.requested(), ExecutionTarget::Cuda);
    match report.actual() {
        ExecutionTarget::Cpu => {
            assert!(report.is_fallback());
            let reason = report.fallback_reason().unwrap_or_default();
            eprintln!("cuda requested: {report}");
            assert!(reason.contains("cuda"), "{reason}");
        }
        ExecutionTarget::Cuda => assert!(!report.is_fallback()),
    }
    if cfg!(not(feature = "cuda")) {
        assert_eq!(report.actual(), ExecutionTarget::Cpu, "{report}");
    }

    let rows = features();
    let on_cpu = classifier(&entry.name).classify(&rows).unwrap();
    let labels =
        |p: &[nsed_inference_worker::Prediction]| p.iter().map(|p| p.label).collect::<Vec<_>>();
    assert_eq!(labels(&cuda.classify(&rows).unwrap()), labels(&on_cpu));
}

#[test]
fn a_single_intra_op_thread_gives_the_same_answers() {
    let entry = manifest().try_get("knn_pool4x4").unwrap();
    let options =
        ClassifierOptions::new(ExecutionTarget::Cpu).with_intra_threads(NonZeroUsize::MIN);
    let mut single = Classifier::load_with(runtime(), models_dir(), entry, options).unwrap();
    let rows = features();
    assert_eq!(single.classify(&rows).unwrap(), classifier(&entry.name).classify(&rows).unwrap());
}

#[test]
fn a_classifier_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Classifier>();
    let mut classifier = classifier("logreg_top_half");
    let rows = features();
    let labels = std::thread::spawn(move || classifier.classify(&rows[..10]).map(|p| p.len()))
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(labels, 10);
}
