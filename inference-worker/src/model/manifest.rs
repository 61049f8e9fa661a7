//! `models/manifest.json`: the dataset facts and one entry per committed model.
//!
//! Only the fields the worker uses are typed; the others (algorithm notes, ensemble numbers,
//! versions) are skipped, so the generator can add fields without breaking the worker.

use std::{
    collections::HashSet,
    path::{Component, Path, PathBuf},
};

use serde::Deserialize;

use super::{ModelError, ModelResult, Sha256Digest};

/// The manifest's file name inside a models directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The parsed `manifest.json` of a models directory.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Manifest {
    /// Where the models were trained and tested.
    pub dataset: DatasetEntry,
    /// One entry per model file, in manifest order.
    pub models: Vec<ModelEntry>,
}

/// The manifest's `dataset` object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DatasetEntry {
    /// Where the samples come from (`sklearn.datasets.load_digits`).
    pub source: String,
    /// The seed of the train/test split.
    pub seed: u64,
    /// Number of training samples.
    pub n_train: usize,
    /// Number of held-out test samples (rows of [`test_split`](Self::test_split)).
    pub n_test: usize,
    /// The held-out split's CSV file name, relative to the models directory.
    pub test_split: String,
    /// The SHA-256 of the CSV file.
    pub test_split_sha256: Sha256Digest,
}

/// One model of the manifest.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ModelEntry {
    /// The model's name (`knn_pool4x4`), unique in the manifest.
    pub name: String,
    /// The `.onnx` file name, relative to the models directory.
    pub file: String,
    /// The SHA-256 of the `.onnx` file: the model's identity.
    pub sha256: Sha256Digest,
    /// The learning algorithm, for humans.
    pub algorithm: String,
    /// Which features the model looks at, for humans.
    pub feature_view: String,
    /// The size of the model's training subsample.
    pub n_train: usize,
    /// The graph's input.
    pub input: TensorSpec,
    /// The graph's outputs.
    pub outputs: ModelOutputs,
    /// The class labels, in the order of the `probabilities` columns.
    pub classes: Vec<u32>,
    /// Accuracy on the held-out test split as computed by Python ONNX Runtime, rounded to 6
    /// decimals.
    pub heldout_accuracy: f64,
}

/// The manifest's `outputs` object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ModelOutputs {
    /// The predicted class per row.
    pub label: TensorSpec,
    /// The class probabilities per row.
    pub probabilities: TensorSpec,
}

/// A graph input or output as the manifest declares it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TensorSpec {
    /// The ONNX value name.
    pub name: String,
    /// The element type in numpy spelling (`float32`, `int64`).
    pub dtype: String,
    /// The dimensions; `None` (JSON `null`) is a dynamic dimension such as the batch size.
    pub shape: Vec<Option<u64>>,
}

impl Manifest {
    /// Reads and parses `dir/manifest.json`.
    ///
    /// # Errors
    ///
    /// [`ModelError::Io`] when the file cannot be read, [`ModelError::ManifestParse`] when it is
    /// not a manifest, and [`ModelError::DuplicateModel`] when two models share a name.
    pub fn load(dir: impl AsRef<Path>) -> ModelResult<Self> {
        let path = dir.as_ref().join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|source| ModelError::Io { path: path.clone(), source })?;
        let manifest: Self = serde_json::from_str(&text)
            .map_err(|source| ModelError::ManifestParse { path: path.clone(), source })?;
        let mut seen = HashSet::new();
        if let Some(entry) = manifest.models.iter().find(|m| !seen.insert(m.name.as_str())) {
            return Err(ModelError::DuplicateModel { path, name: entry.name.clone() });
        }
        Ok(manifest)
    }

    /// The model named `name`, if the manifest has it.
    pub fn get(&self, name: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The model named `name`.
    ///
    /// # Errors
    ///
    /// [`ModelError::UnknownModel`], listing the names the manifest has.
    pub fn try_get(&self, name: &str) -> ModelResult<&ModelEntry> {
        self.get(name).ok_or_else(|| ModelError::UnknownModel {
            name: name.to_owned(),
            known: self.names().map(str::to_owned).collect(),
        })
    }

    /// The model names, in manifest order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.models.iter().map(|m| m.name.as_str())
    }
}

impl ModelEntry {
    /// The path of the model's `.onnx` file inside `dir`.
    ///
    /// # Errors
    ///
    /// [`ModelError::UnsafeModelPath`] when `file` is not a bare file name (it is absolute, has
    /// a directory part or is `..`), so a manifest cannot point outside its directory.
    pub fn path_in(&self, dir: impl AsRef<Path>) -> ModelResult<PathBuf> {
        let mut components = Path::new(&self.file).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(_)), None) => Ok(dir.as_ref().join(&self.file)),
            _ => Err(ModelError::UnsafeModelPath {
                model: self.name.clone(),
                file: self.file.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
    }

    #[test]
    fn loads_the_committed_manifest() {
        let manifest = Manifest::load(models_dir()).unwrap();
        assert_eq!(
            manifest.names().collect::<Vec<_>>(),
            ["logreg_top_half", "gnb_full", "tree_full_d8", "knn_pool4x4", "mlp_pca8_left_half"]
        );
        assert_eq!(manifest.dataset.n_test, 450);
        assert_eq!(manifest.dataset.test_split, "test_split.csv");
        let knn = manifest.try_get("knn_pool4x4").unwrap();
        assert_eq!(knn.file, "knn_pool4x4.onnx");
        assert_eq!(knn.input.shape, [None, Some(64)]);
        assert_eq!(knn.outputs.probabilities.shape, [None, Some(10)]);
        assert_eq!(knn.classes, (0..10).collect::<Vec<_>>());
        assert_eq!(knn.heldout_accuracy, 0.888889);
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let manifest = Manifest::load(models_dir()).unwrap();
        assert!(manifest.get("resnet").is_none());
        match manifest.try_get("resnet") {
            Err(ModelError::UnknownModel { name, known }) => {
                assert_eq!(name, "resnet");
                assert_eq!(known.len(), 5);
            }
            other => panic!("expected UnknownModel, got {other:?}"),
        }
    }

    #[test]
    fn unknown_fields_are_ignored_and_a_bad_digest_is_a_parse_error() {
        let text = std::fs::read_to_string(models_dir().join(MANIFEST_FILE)).unwrap();
        let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
        json["future_field"] = serde_json::json!({"anything": [1, 2, 3]});
        json["models"][0]["calibration"] = serde_json::json!("isotonic");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST_FILE), json.to_string()).unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), Manifest::load(models_dir()).unwrap());

        json["models"][0]["sha256"] = serde_json::json!("not a digest");
        std::fs::write(dir.path().join(MANIFEST_FILE), json.to_string()).unwrap();
        assert!(matches!(Manifest::load(dir.path()), Err(ModelError::ManifestParse { .. })));
    }

    #[test]
    fn a_repeated_model_name_is_rejected() {
        let text = std::fs::read_to_string(models_dir().join(MANIFEST_FILE)).unwrap();
        let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
        json["models"][1]["name"] = json["models"][0]["name"].clone();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST_FILE), json.to_string()).unwrap();
        assert!(matches!(
            Manifest::load(dir.path()),
            Err(ModelError::DuplicateModel { name, .. }) if name == "logreg_top_half"
        ));
    }

    #[test]
    fn a_missing_manifest_is_an_io_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Manifest::load(dir.path()),
            Err(ModelError::Io { path, .. }) if path.ends_with(MANIFEST_FILE)
        ));
    }

    #[test]
    fn model_files_must_stay_inside_the_models_directory() {
        let mut entry = Manifest::load(models_dir()).unwrap().models.remove(0);
        assert_eq!(entry.path_in("/m").unwrap(), Path::new("/m/logreg_top_half.onnx"));
        for file in ["../secret.onnx", "/etc/passwd", "sub/model.onnx", "..", ""] {
            entry.file = file.to_owned();
            assert!(
                matches!(entry.path_in("/m"), Err(ModelError::UnsafeModelPath { .. })),
                "{file:?} was accepted"
            );
        }
    }
}
