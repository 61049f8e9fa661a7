//! Where a classifier's session runs (CPU or CUDA), and how a session is built for it.
//!
//! CUDA is best effort: a worker that asks for it and cannot have it (built without the `cuda`
//! feature, an ONNX Runtime without the CUDA provider, no GPU or no CUDA libraries) runs on the
//! CPU, logs a warning and says so in its [`ExecutionReport`]. The answers are the same either
//! way, only slower or faster.

use std::{fmt, num::NonZeroUsize, path::Path};

use ort::{
    environment::Environment,
    session::{Session, builder::SessionBuilder},
};

use super::{ModelError, ModelResult};

/// The hardware a classifier's session is asked to run on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ExecutionTarget {
    /// ONNX Runtime's CPU execution provider.
    #[default]
    Cpu,
    /// ONNX Runtime's CUDA execution provider (needs the `cuda` feature, a CUDA-enabled ONNX
    /// Runtime and a GPU), with the CPU taking the operators CUDA does not implement.
    Cuda,
}

impl fmt::Display for ExecutionTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
        })
    }
}

/// How to build a classifier's session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassifierOptions {
    /// The requested execution target.
    pub target: ExecutionTarget,
    /// Threads ONNX Runtime may use inside one operator; `None` leaves ONNX Runtime's default
    /// (one per physical core).
    pub intra_threads: Option<NonZeroUsize>,
}

impl ClassifierOptions {
    /// Options for `target` with ONNX Runtime's default threading.
    pub const fn new(target: ExecutionTarget) -> Self {
        Self { target, intra_threads: None }
    }

    /// Limits ONNX Runtime to `threads` threads inside one operator.
    pub const fn with_intra_threads(mut self, threads: NonZeroUsize) -> Self {
        self.intra_threads = Some(threads);
        self
    }
}

/// Where a session was asked to run and where it actually runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionReport {
    requested: ExecutionTarget,
    actual: ExecutionTarget,
    fallback_reason: Option<String>,
}

impl ExecutionReport {
    /// The target the caller asked for.
    pub const fn requested(&self) -> ExecutionTarget {
        self.requested
    }

    /// The target the session runs on.
    pub const fn actual(&self) -> ExecutionTarget {
        self.actual
    }

    /// Whether the session fell back to the CPU because the requested target was unavailable.
    pub const fn is_fallback(&self) -> bool {
        self.fallback_reason.is_some()
    }

    /// Why the requested target was unavailable, when the session fell back to the CPU.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    const fn on(target: ExecutionTarget) -> Self {
        Self { requested: target, actual: target, fallback_reason: None }
    }
}

impl fmt::Display for ExecutionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.fallback_reason {
            None => write!(f, "{}", self.actual),
            Some(reason) => write!(f, "{} (requested {}: {reason})", self.actual, self.requested),
        }
    }
}

/// Builds a session for `model_bytes` on the requested target, falling back to the CPU when CUDA
/// is requested but unavailable.
pub(crate) fn build_session(
    environment: &Environment,
    model: &str,
    model_bytes: &[u8],
    options: ClassifierOptions,
) -> ModelResult<(Session, ExecutionReport)> {
    build_session_from(environment, model, SessionSource::Memory(model_bytes), options)
        .map_err(|source| ModelError::Session { model: model.to_owned(), source })
}

/// Where a session's graph comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SessionSource<'a> {
    /// The bytes of a self-contained `.onnx` file.
    Memory(&'a [u8]),
    /// An `.onnx` file on disk; external data files beside it resolve relative to it.
    File(&'a Path),
}

/// Builds a session for `source` on the requested target, falling back to the CPU when CUDA is
/// requested but unavailable; `model` names the model in the fallback warning.
pub(crate) fn build_session_from(
    environment: &Environment,
    model: &str,
    source: SessionSource<'_>,
    options: ClassifierOptions,
) -> ort::Result<(Session, ExecutionReport)> {
    let commit = |builder: &mut SessionBuilder| match source {
        SessionSource::Memory(bytes) => builder.commit_from_memory(bytes),
        SessionSource::File(path) => builder.commit_from_file(path),
    };
    let cpu = || -> ort::Result<Session> { commit(&mut builder(environment, options)?) };

    let reason = match options.target {
        ExecutionTarget::Cpu => return Ok((cpu()?, ExecutionReport::on(ExecutionTarget::Cpu))),
        ExecutionTarget::Cuda => match register_cuda(builder(environment, options)?) {
            Ok(mut cuda) => match commit(&mut cuda) {
                Ok(session) => {
                    return Ok((session, ExecutionReport::on(ExecutionTarget::Cuda)));
                }
                Err(e) => format!("cannot create a cuda session: {e}"),
            },
            Err(reason) => reason,
        },
    };
    tracing::warn!(
        target: "inference_worker::model",
        model,
        %reason,
        "cuda execution provider unavailable, falling back to cpu"
    );
    let report = ExecutionReport {
        requested: ExecutionTarget::Cuda,
        actual: ExecutionTarget::Cpu,
        fallback_reason: Some(reason),
    };
    Ok((cpu()?, report))
}

/// A fresh session builder with the requested threading.
fn builder(environment: &Environment, options: ClassifierOptions) -> ort::Result<SessionBuilder> {
    let builder = Session::builder(environment)?;
    match options.intra_threads {
        Some(threads) => builder.with_intra_threads(threads.get()).map_err(ort::Error::from),
        None => Ok(builder),
    }
}

/// Appends the CUDA execution provider, or says why it cannot be.
#[cfg(feature = "cuda")]
fn register_cuda(mut builder: SessionBuilder) -> Result<SessionBuilder, String> {
    use ort::ep::ExecutionProvider as _;

    // Registering directly (rather than through `with_execution_providers`, which only logs a
    // failure) is what tells us whether the CUDA provider is really there.
    match ort::ep::CUDA::default().register(&mut builder) {
        Ok(()) => Ok(builder),
        Err(e) => Err(format!("cannot register the cuda execution provider: {e}")),
    }
}

/// Without the `cuda` feature there is no CUDA provider to register.
#[cfg(not(feature = "cuda"))]
fn register_cuda(_builder: SessionBuilder) -> Result<SessionBuilder, String> {
    Err("this build of nsed-inference-worker has no `cuda` feature".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_default_to_the_cpu_and_onnx_runtime_threading() {
        let options = ClassifierOptions::default();
        assert_eq!(options, ClassifierOptions::new(ExecutionTarget::Cpu));
        assert_eq!(options.intra_threads, None);
        let one = NonZeroUsize::MIN;
        assert_eq!(options.with_intra_threads(one).intra_threads, Some(one));
    }

    #[test]
    fn a_fallback_report_names_both_targets_and_the_reason() {
        let report = ExecutionReport {
            requested: ExecutionTarget::Cuda,
            actual: ExecutionTarget::Cpu,
            fallback_reason: Some("no gpu".to_owned()),
        };
        assert!(report.is_fallback());
        assert_eq!(report.to_string(), "cpu (requested cuda: no gpu)");
        assert_eq!(ExecutionReport::on(ExecutionTarget::Cuda).to_string(), "cuda");
        assert!(!ExecutionReport::on(ExecutionTarget::Cpu).is_fallback());
    }
}
