//! Why loading a language model, encoding, rendering a chat template or running it failed.

use std::path::PathBuf;

use crate::Sha256Digest;

/// Result of the [`llm`](crate::llm) operations.
pub type LlmResult<T, E = LlmError> = Result<T, E>;

/// Why loading a language model or one of its operations failed.
///
/// Callers branch on the variant; the messages are for humans and carry the offending values.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// A file the model directory must have is not there.
    #[error("model directory {dir} has no {file}")]
    MissingFile {
        /// The model directory.
        dir: PathBuf,
        /// The missing file's name.
        file: String,
    },
    /// No prepared model has this name.
    #[error(
        "no prepared model named `{name}`; the manifest lists {known:?} (run scripts/prepare-llms.sh)"
    )]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The names the manifest lists.
        known: Vec<String>,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's complaint.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file of the model directory (`config.json`, `tokenizer_config.json`,
    /// `generation_config.json`) is not valid JSON or lacks a required field.
    #[error("cannot parse {path}: {source}")]
    InvalidJson {
        /// The file.
        path: PathBuf,
        /// serde's complaint, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// `config.json` parses but a value makes no sense (zero layers, heads that do not divide the
    /// hidden size, ...).
    #[error("{path}: `{field}` {reason}")]
    InvalidConfig {
        /// The file.
        path: PathBuf,
        /// The offending field.
        field: &'static str,
        /// What is wrong with it, with the value.
        reason: String,
    },
    /// `tokenizer.json` is not a Hugging Face `tokenizers` file this build can load.
    #[error("cannot load tokenizer {path}: {source}")]
    InvalidTokenizer {
        /// The file.
        path: PathBuf,
        /// The tokenizers crate's complaint.
        #[source]
        source: tokenizers::Error,
    },
    /// A file name given for verification is not a plain file name inside the model directory.
    #[error("`{file}` is not a plain file name in the model directory")]
    UnsafeFileName {
        /// The name as given.
        file: String,
    },
    /// A file's sha256 differs from the expected one: it was altered or replaced.
    #[error("sha256 of {path} is {actual} but {expected} is expected")]
    DigestMismatch {
        /// The file that was hashed.
        path: PathBuf,
        /// The expected digest.
        expected: Sha256Digest,
        /// The digest of the file's bytes.
        actual: Sha256Digest,
    },
    /// A file that makes up the model (graph, weights, config, tokenizer) has no expected
    /// digest, so a verified load cannot vouch for it.
    #[error("model `{model}`: file {file} has no expected sha256")]
    UnverifiedFile {
        /// The model (its directory name).
        model: String,
        /// The file with no expected digest.
        file: String,
    },
    /// ONNX Runtime could not create a session from `model.onnx`.
    #[error("cannot create an onnx runtime session for model `{model}`: {source}")]
    Session {
        /// The model (its directory name).
        model: String,
        /// ONNX Runtime's complaint.
        #[source]
        source: ort::Error,
    },
    /// The graph's inputs or outputs differ from the decoder interface (`input_ids`,
    /// `attention_mask`, optional `position_ids`, `past_key_values.N.key/value` → `logits`,
    /// `present.N.key/value`).
    #[error("model `{model}`: graph {name} {reason}")]
    GraphMismatch {
        /// The model (its directory name).
        model: String,
        /// The input or output concerned (`input past_key_values.3.key`, `output logits`).
        name: String,
        /// What is wrong with it, with the values.
        reason: String,
    },
    /// The graph's number of `past_key_values.N.key` inputs differs from `config.json`'s
    /// `num_hidden_layers`.
    #[error("model `{model}`: the graph has {graph} layers but config.json says {config}")]
    LayerCountMismatch {
        /// The model (its directory name).
        model: String,
        /// Layers in the graph.
        graph: usize,
        /// `num_hidden_layers` in `config.json`.
        config: usize,
    },
    /// The tokenizer failed to encode or decode.
    #[error("tokenizer of model `{model}` failed: {source}")]
    Tokenizer {
        /// The model (its directory name).
        model: String,
        /// The tokenizers crate's complaint.
        #[source]
        source: tokenizers::Error,
    },
    /// A token id is outside the model's vocabulary.
    #[error("token id {id} is outside the vocabulary of {vocab} tokens")]
    TokenOutOfRange {
        /// The offending id.
        id: u32,
        /// The vocabulary size (`config.json`'s `vocab_size`).
        vocab: usize,
    },
    /// A prompt encodes to no tokens, so there is nothing to condition on.
    #[error("the prompt has no tokens")]
    EmptyPrompt,
    /// A prompt plus the tokens to generate or score do not fit the context.
    #[error("{tokens} tokens do not fit the context of {max} tokens")]
    PromptTooLong {
        /// Tokens the request needs: the prompt's plus `max_new_tokens` (or the longest
        /// continuation).
        tokens: usize,
        /// The context limit: the smaller of `max_context_tokens` and the model's
        /// `max_position_embeddings`.
        max: usize,
    },
    /// A scoring request had no continuations.
    #[error("no continuations to score")]
    NoContinuations,
    /// A continuation to score is empty, or encodes to no tokens.
    #[error("continuation {index} has no tokens")]
    EmptyContinuation {
        /// The continuation's index in the request, from 0.
        index: usize,
    },
    /// Generation parameters out of range (a temperature that is not positive, a `top_p` outside
    /// `(0, 1]`, an empty stop string).
    #[error("invalid generation parameter `{name}` = {value}: {reason}")]
    InvalidParams {
        /// The parameter.
        name: &'static str,
        /// Its value, as given.
        value: String,
        /// The range it must be in.
        reason: &'static str,
    },
    /// The model has no chat template (`tokenizer_config.json` has no `chat_template`).
    #[error("model `{model}` has no chat template")]
    NoChatTemplate {
        /// The model (its directory name).
        model: String,
    },
    /// The chat template does not parse, raised an exception or failed while rendering.
    #[error("chat template of model `{model}` failed: {source}")]
    ChatTemplate {
        /// The model (its directory name).
        model: String,
        /// minijinja's complaint (a template's `raise_exception` message included).
        #[source]
        source: minijinja::Error,
    },
    /// ONNX Runtime failed while running the model.
    #[error("inference with model `{model}` failed: {source}")]
    Inference {
        /// The model (its directory name).
        model: String,
        /// ONNX Runtime's complaint.
        #[source]
        source: ort::Error,
    },
    /// The model produced an output that breaks the decoder interface.
    #[error("model `{model}` output `{output}` {reason}")]
    UnexpectedOutput {
        /// The model (its directory name).
        model: String,
        /// The output's name.
        output: String,
        /// What is wrong with it, with the values.
        reason: String,
    },
}
