//! Decoder-only language models: load a model directory, chat-template, generate and score.
//!
//! A model directory holds `model.onnx` (external weights beside it allowed), `config.json`,
//! `tokenizer.json` and optionally `tokenizer_config.json` and `generation_config.json`
//! (`docs/language-models.md`). [`LanguageModel`] loads one into an ONNX Runtime session on the
//! CPU or CUDA (with the same fallback as the classifiers), reads the graph's interface from the
//! session and checks it against `config.json`, then:
//!
//! - [`LanguageModel::apply_chat_template`] renders a conversation with the model's Jinja
//!   template;
//! - [`LanguageModel::generate`] runs the prompt once (prefill) and then one token at a time over
//!   the KV cache, greedily or with seeded sampling, until an end-of-sequence token, a stop string
//!   or `max_new_tokens`;
//! - [`LanguageModel::score`] gives the log-likelihood of candidate continuations, run as
//!   right-padded batches over copies of the prompt's KV cache.
//!
//! Memory is bounded by [`LanguageModelOptions`]: a request whose prompt and new tokens exceed
//! `max_context_tokens` fails before running, and scoring runs at most `max_batch` continuations
//! at once. Every failure is an [`LlmError`] variant.

mod config;
mod error;
mod files;
mod graph;
mod model;
mod prepared;
mod sampling;
mod template;

pub use config::{
    CONFIG_FILE, GENERATION_CONFIG_FILE, MODEL_FILE, ModelConfig, TOKENIZER_CONFIG_FILE,
    TOKENIZER_FILE,
};
pub use error::{LlmError, LlmResult};
pub use model::{LanguageModel, LanguageModelOptions, MemoryReport};
pub use prepared::{DEFAULT_LLM_DIR, PREPARED_MANIFEST, PreparedModel, PreparedModels};
pub use sampling::{ContinuationScore, Generation, GenerationParams, Sampling, StopReason};
pub use template::ChatMessage;
