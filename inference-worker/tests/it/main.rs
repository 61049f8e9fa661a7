//! Integration tests of the classifiers against the real ONNX Runtime (`ORT_DYLIB_PATH`, set by
//! `scripts/test.sh`) and the committed models in `models/`.
#![allow(
    clippy::disallowed_macros,
    reason = "tests may say why they skip and report what they measured"
)]

mod accuracy;
mod batching;
mod execution;
mod fixtures;
mod input;
mod integrity;
mod llm;
mod llm_accuracy;
mod text_worker;
mod worker;
