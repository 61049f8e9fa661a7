//! NSED inference worker: one agent process answering deliberation tasks with ONNX Runtime.
//!
//! Today the crate owns loading ONNX Runtime ([`runtime`]): the shared library extracted from the
//! PyPI `onnxruntime` wheel by `scripts/setup.sh`, found through `ORT_DYLIB_PATH` and loaded with
//! `ort`'s `load-dynamic`. The NATS consumer, task adapters and signing join it with the
//! protocol/worker issue.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod runtime;

pub use runtime::{ORT_DYLIB_ENV, OnnxRuntime, RuntimeError};
