//! [`Classifier`]: one ONNX Runtime session for one manifest model.

use std::path::Path;

use ndarray::ArrayView2;
use ort::{session::Session, value::TensorRef};

use super::{
    ClassifierOptions, ExecutionReport, ExecutionTarget, FEATURES, ModelEntry, ModelError,
    ModelResult, NUM_CLASSES, Prediction, Sha256Digest, execution, input, interface,
};
use crate::OnnxRuntime;

/// One manifest model, verified and loaded into an ONNX Runtime session.
///
/// Loading checks the file against the manifest's sha256 and the graph against the manifest's
/// interface, so a `Classifier` always runs the exact model its [`model_id`](Self::model_id)
/// names. Classifying takes `&mut self` because an ONNX Runtime session must not run
/// concurrently (ort 2.0 makes `Session::run` exclusive); use one classifier per task, or batch.
#[derive(Debug)]
pub struct Classifier {
    name: String,
    digest: Sha256Digest,
    input_name: String,
    label_name: String,
    probabilities_name: String,
    execution: ExecutionReport,
    session: Session,
}

impl Classifier {
    /// Loads the model `entry` from the models directory `dir` onto `target`, with ONNX Runtime's
    /// default threading.
    ///
    /// # Errors
    ///
    /// See [`load_with`](Self::load_with).
    pub fn load(
        runtime: &OnnxRuntime,
        dir: impl AsRef<Path>,
        entry: &ModelEntry,
        target: ExecutionTarget,
    ) -> ModelResult<Self> {
        Self::load_with(runtime, dir, entry, ClassifierOptions::new(target))
    }

    /// Loads the model `entry` from the models directory `dir` with `options`.
    ///
    /// The bytes that are hashed are the bytes that are loaded, so the file cannot change between
    /// the check and the load. When CUDA is requested but unavailable the session runs on the CPU;
    /// [`execution`](Self::execution) tells which.
    ///
    /// # Errors
    ///
    /// - [`ModelError::UnsupportedModel`] when the manifest declares another interface than
    ///   `input` float32 `[N, 64]` → `label` int64 `[N]`, `probabilities` float32 `[N, 10]`;
    /// - [`ModelError::UnsafeModelPath`] when the entry's `file` is not a bare file name;
    /// - [`ModelError::Io`] when the file cannot be read;
    /// - [`ModelError::DigestMismatch`] when its sha256 differs from the manifest's;
    /// - [`ModelError::Session`] when ONNX Runtime cannot load it;
    /// - [`ModelError::SessionMismatch`] when the graph's inputs or outputs differ from the
    ///   manifest's.
    pub fn load_with(
        runtime: &OnnxRuntime,
        dir: impl AsRef<Path>,
        entry: &ModelEntry,
        options: ClassifierOptions,
    ) -> ModelResult<Self> {
        interface::check_entry(entry)?;
        let path = entry.path_in(dir)?;
        let bytes =
            std::fs::read(&path).map_err(|source| ModelError::Io { path: path.clone(), source })?;
        let actual = Sha256Digest::of(&bytes);
        if actual != entry.sha256 {
            return Err(ModelError::DigestMismatch { path, expected: entry.sha256, actual });
        }
        let (session, execution) =
            execution::build_session(runtime.environment(), &entry.name, &bytes, options)?;
        interface::check_session(entry, &session)?;
        tracing::debug!(
            target: "inference_worker::model",
            model = %entry.name,
            sha256 = %actual,
            execution = %execution,
            "loaded classifier"
        );
        Ok(Self {
            name: entry.name.clone(),
            digest: actual,
            input_name: entry.input.name.clone(),
            label_name: entry.outputs.label.name.clone(),
            probabilities_name: entry.outputs.probabilities.name.clone(),
            execution,
            session,
        })
    }

    /// The manifest name of the model.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The model's identity: the sha256 of its `.onnx` file, as registered on chain.
    pub const fn model_id(&self) -> [u8; 32] {
        self.digest.to_bytes()
    }

    /// The sha256 of the model's `.onnx` file.
    pub const fn digest(&self) -> Sha256Digest {
        self.digest
    }

    /// Where the session was asked to run and where it runs.
    pub const fn execution(&self) -> &ExecutionReport {
        &self.execution
    }

    /// Classifies `rows` in one ONNX Runtime call; the `i`th prediction answers the `i`th row.
    ///
    /// # Errors
    ///
    /// [`ModelError::EmptyBatch`] for no rows, [`ModelError::NonFinite`] for a NaN or infinite
    /// feature, [`ModelError::Inference`] when ONNX Runtime fails and
    /// [`ModelError::UnexpectedOutput`] when the outputs break the interface.
    pub fn classify(&mut self, rows: &[[f32; FEATURES]]) -> ModelResult<Vec<Prediction>> {
        input::check_rows(rows)?;
        self.run(rows.len(), rows.as_flattened())
    }

    /// Classifies the rows of an `[N, 64]` array view in one ONNX Runtime call.
    ///
    /// Any memory layout is accepted; a view that is not row-major contiguous is copied first.
    ///
    /// # Errors
    ///
    /// As [`classify`](Self::classify), plus [`ModelError::FeatureCount`] when the view is not
    /// 64 columns wide.
    pub fn classify_array(&mut self, rows: ArrayView2<'_, f32>) -> ModelResult<Vec<Prediction>> {
        let contiguous = input::contiguous_rows(rows)?;
        let flat = contiguous
            .as_slice()
            .expect("contiguous_rows returns a row-major contiguous array, which has a slice");
        self.run(rows.nrows(), flat)
    }

    /// Runs the session on `count` checked rows laid out row-major in `flat`.
    fn run(&mut self, count: usize, flat: &[f32]) -> ModelResult<Vec<Prediction>> {
        let inference_error =
            |source: ort::Error| ModelError::Inference { model: self.name.clone(), source };
        let tensor =
            TensorRef::from_array_view(([count, FEATURES], flat)).map_err(inference_error)?;
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => tensor])
            .map_err(inference_error)?;

        let unexpected = |output: &str, reason: String| ModelError::UnexpectedOutput {
            model: self.name.clone(),
            output: output.to_owned(),
            reason,
        };
        let output =
            |name: &str| outputs.get(name).ok_or_else(|| unexpected(name, "is missing".to_owned()));
        let (label_shape, labels) = output(&self.label_name)?
            .try_extract_tensor::<i64>()
            .map_err(|e| unexpected(&self.label_name, format!("is not an int64 tensor: {e}")))?;
        let (prob_shape, probabilities) =
            output(&self.probabilities_name)?.try_extract_tensor::<f32>().map_err(|e| {
                unexpected(&self.probabilities_name, format!("is not a float32 tensor: {e}"))
            })?;
        if **label_shape != [count as i64] {
            return Err(unexpected(
                &self.label_name,
                format!("has shape {label_shape}, expected [{count}]"),
            ));
        }
        if **prob_shape != [count as i64, NUM_CLASSES as i64] {
            return Err(unexpected(
                &self.probabilities_name,
                format!("has shape {prob_shape}, expected [{count}, {NUM_CLASSES}]"),
            ));
        }

        // A loop into a pre-sized Vec: collecting into `Result<Vec<_>, _>` grows the Vec from
        // empty (that iterator's size hint has no lower bound), which measured about 10 µs more
        // on a 450-row batch: a third of the decision tree's own run.
        let mut predictions = Vec::with_capacity(count);
        for (row, (&label, probabilities)) in
            labels.iter().zip(probabilities.chunks_exact(NUM_CLASSES)).enumerate()
        {
            let label = match u32::try_from(label) {
                Ok(label) if (label as usize) < NUM_CLASSES => label,
                _ => {
                    return Err(unexpected(
                        &self.label_name,
                        format!("has label {label} in row {row}, outside 0..{NUM_CLASSES}"),
                    ));
                }
            };
            let probabilities = probabilities
                .try_into()
                .expect("chunks_exact(NUM_CLASSES) yields slices of NUM_CLASSES values");
            predictions.push(Prediction { label, probabilities });
        }
        Ok(predictions)
    }
}
