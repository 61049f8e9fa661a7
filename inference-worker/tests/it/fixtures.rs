//! Shared fixtures: the loaded runtime, the committed manifest and test split.

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

use nsed_inference_worker::{
    Classifier, ExecutionTarget, Manifest, OnnxRuntime,
    model::{LabelledRow, load_test_split},
};

/// `models/` at the workspace root.
pub(crate) fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

/// ONNX Runtime, loaded once for the whole test binary (it is process-wide anyway).
pub(crate) fn runtime() -> &'static OnnxRuntime {
    static RUNTIME: OnceLock<OnnxRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        OnnxRuntime::load(None).expect(
            "ONNX Runtime must load: run the tests through scripts/test.sh (ORT_DYLIB_PATH)",
        )
    })
}

pub(crate) fn manifest() -> &'static Manifest {
    static MANIFEST: OnceLock<Manifest> = OnceLock::new();
    MANIFEST.get_or_init(|| Manifest::load(models_dir()).unwrap())
}

pub(crate) fn test_split() -> &'static [LabelledRow] {
    static SPLIT: OnceLock<Vec<LabelledRow>> = OnceLock::new();
    SPLIT.get_or_init(|| load_test_split(models_dir(), &manifest().dataset).unwrap())
}

/// The split's features, in file order.
pub(crate) fn features() -> Vec<[f32; 64]> {
    test_split().iter().map(|(features, _)| *features).collect()
}

/// The named committed model on the CPU.
pub(crate) fn classifier(name: &str) -> Classifier {
    let entry = manifest().try_get(name).unwrap();
    Classifier::load(runtime(), models_dir(), entry, ExecutionTarget::Cpu).unwrap()
}
