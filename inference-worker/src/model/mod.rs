//! The classifiers of `models/` and what it takes to trust and run them.
//!
//! - [`Manifest`] reads `models/manifest.json`: per model its file, sha256, interface, classes and
//!   held-out accuracy.
//! - [`Classifier`] is one ONNX Runtime session for one manifest model. Loading verifies the
//!   file's sha256 (the model's on-chain identity, [`Classifier::model_id`]) and the graph's
//!   interface; classifying checks the input and batches it into one run.
//! - [`ExecutionTarget`] picks the CPU or, with the `cuda` feature, CUDA; an unavailable CUDA
//!   falls back to the CPU and says so in the [`ExecutionReport`].
//! - [`load_test_split`] reads the held-out split the manifest's accuracies were measured on.
//!
//! Every failure is a [`ModelError`] variant.

mod classifier;
mod digest;
mod error;
mod execution;
mod input;
mod interface;
mod manifest;
mod prediction;
mod test_split;

pub use classifier::Classifier;
pub use digest::{DigestParseError, Sha256Digest};
pub use error::{ModelError, ModelResult};
pub use execution::{ClassifierOptions, ExecutionReport, ExecutionTarget};
pub(crate) use execution::{SessionSource, build_session_from};
pub use interface::{FEATURES, NUM_CLASSES};
pub use manifest::{DatasetEntry, MANIFEST_FILE, Manifest, ModelEntry, ModelOutputs, TensorSpec};
pub use prediction::Prediction;
pub use test_split::{LabelledRow, load_test_split, parse_test_split};
