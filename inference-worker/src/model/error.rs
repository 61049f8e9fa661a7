//! Why a model, its manifest, its test split or one inference failed.

use std::path::PathBuf;

use super::Sha256Digest;

/// Result of the [`model`](crate::model) operations.
pub type ModelResult<T, E = ModelError> = Result<T, E>;

/// Why loading a model, reading its manifest or test split, or classifying failed.
///
/// Callers branch on the variant; the messages are for humans and carry the offending values.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's complaint.
        #[source]
        source: std::io::Error,
    },
    /// `manifest.json` is not valid JSON or does not have the manifest's fields and types.
    #[error("cannot parse manifest {path}: {source}")]
    ManifestParse {
        /// The manifest file.
        path: PathBuf,
        /// serde's complaint, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// Two manifest entries share a name, so a lookup by name would be ambiguous.
    #[error("manifest {path} lists model `{name}` twice")]
    DuplicateModel {
        /// The manifest file.
        path: PathBuf,
        /// The repeated name.
        name: String,
    },
    /// No manifest entry has the requested name.
    #[error("model `{name}` is not in the manifest (it has {known:?})")]
    UnknownModel {
        /// The requested name.
        name: String,
        /// The names the manifest does have.
        known: Vec<String>,
    },
    /// A manifest `file` is not a bare file name inside the models directory.
    #[error(
        "model `{model}` names file `{file}`, which is not a plain file name in the models directory"
    )]
    UnsafeModelPath {
        /// The manifest entry.
        model: String,
        /// The `file` value as written in the manifest.
        file: String,
    },
    /// A file's sha256 differs from the one the manifest records: it was altered or replaced.
    #[error("sha256 of {path} is {actual} but the manifest records {expected}")]
    DigestMismatch {
        /// The file that was hashed.
        path: PathBuf,
        /// The digest the manifest records.
        expected: Sha256Digest,
        /// The digest of the file's bytes.
        actual: Sha256Digest,
    },
    /// The manifest declares an interface this worker does not run (it runs `input` float32
    /// `[N, 64]` to `label` int64 `[N]` and `probabilities` float32 `[N, 10]`, classes 0..9).
    #[error(
        "model `{model}` declares {what} {declared} in the manifest, this worker supports {supported}"
    )]
    UnsupportedModel {
        /// The manifest entry.
        model: String,
        /// Which part of the interface (`input shape`, `classes`, ...).
        what: &'static str,
        /// What the manifest declares.
        declared: String,
        /// What this worker supports.
        supported: String,
    },
    /// The ONNX graph's inputs or outputs differ from what the manifest declares.
    #[error(
        "model `{model}`: the onnx graph has {what} {session} but the manifest declares {manifest}"
    )]
    SessionMismatch {
        /// The manifest entry.
        model: String,
        /// Which part of the interface (`inputs`, `output probabilities`, ...).
        what: &'static str,
        /// What the manifest declares.
        manifest: String,
        /// What the loaded session reports.
        session: String,
    },
    /// ONNX Runtime could not create a session from the model's bytes.
    #[error("cannot create an onnx runtime session for model `{model}`: {source}")]
    Session {
        /// The manifest entry.
        model: String,
        /// ONNX Runtime's complaint.
        #[source]
        source: ort::Error,
    },
    /// A classification request had no rows.
    #[error("empty batch: at least one row is required")]
    EmptyBatch,
    /// A classification request's rows have the wrong number of features.
    #[error("rows have {actual} features, the models take {expected}")]
    FeatureCount {
        /// The number of features the models take.
        expected: usize,
        /// The number of features given.
        actual: usize,
    },
    /// A feature is NaN or infinite.
    #[error("feature {column} of row {row} is {value}, features must be finite")]
    NonFinite {
        /// The row index in the batch, from 0.
        row: usize,
        /// The feature index in the row, from 0.
        column: usize,
        /// The offending value.
        value: f32,
    },
    /// ONNX Runtime failed while running the model.
    #[error("inference with model `{model}` failed: {source}")]
    Inference {
        /// The manifest entry.
        model: String,
        /// ONNX Runtime's complaint.
        #[source]
        source: ort::Error,
    },
    /// The model produced an output that breaks its declared interface.
    #[error("model `{model}` output `{output}` {reason}")]
    UnexpectedOutput {
        /// The manifest entry.
        model: String,
        /// The output's name.
        output: String,
        /// What is wrong with it, with the values.
        reason: String,
    },
    /// The test split's header or one of its rows is malformed.
    #[error("{path} line {line}: {reason}")]
    TestSplitFormat {
        /// The CSV file.
        path: PathBuf,
        /// The 1-based line number (the header is line 1).
        line: usize,
        /// What is wrong, with the offending text.
        reason: String,
    },
    /// The test split has a different number of rows than the manifest's `n_test`.
    #[error("{path} has {actual} rows but the manifest says n_test = {expected}")]
    TestSplitSize {
        /// The CSV file.
        path: PathBuf,
        /// The manifest's `n_test`.
        expected: usize,
        /// The number of data rows in the file.
        actual: usize,
    },
}
