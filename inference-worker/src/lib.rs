//! NSED inference worker: one agent process answering deliberation tasks with ONNX Runtime.
//!
//! The crate owns loading ONNX Runtime ([`runtime`]): the shared library extracted from the PyPI
//! `onnxruntime` wheel by `scripts/setup.sh`, found through `ORT_DYLIB_PATH` and loaded with
//! `ort`'s `load-dynamic`. On it, [`model`] verifies and runs the committed classifiers of
//! `models/`, and [`llm`] runs decoder-only language models (generation with a
//! KV cache, chat templates, batched continuation scoring). [`agent`] is the deliberation policy
//! (how a model's beliefs become proposals and evaluation weights) and the agent key; [`service`]
//! is the agent process — a JetStream consumer of the agent's task queue that answers with signed
//! proposals and ballots.
//!
//! The `bench-inference` binary measures [`Classifier::classify`] latency against Python
//! `onnxruntime` on the same models and inputs.
//!
//! # Feature flags
//!
//! - `cuda`: registers ONNX Runtime's CUDA execution provider for classifiers loaded with
//!   [`ExecutionTarget::Cuda`]. Without it, or without a usable GPU, they run on the CPU and
//!   report the fallback.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

// Used by the bench-inference binary only: Cargo has no binary-only dependencies.
use clap as _;
use eyre as _;

pub mod agent;
pub mod llm;
pub mod model;
pub mod runtime;
pub mod service;

pub use llm::{
    ChatMessage, ContinuationScore, Generation, GenerationParams, LanguageModel,
    LanguageModelOptions, LlmError, LlmResult, Sampling, StopReason,
};
pub use model::{
    Classifier, ClassifierOptions, ExecutionReport, ExecutionTarget, Manifest, ModelEntry,
    ModelError, ModelResult, Prediction, Sha256Digest,
};
pub use runtime::{ORT_DYLIB_ENV, OnnxRuntime, RuntimeError};
pub use service::{Worker, WorkerConfig, WorkerError};
