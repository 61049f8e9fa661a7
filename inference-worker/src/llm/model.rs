//! [`LanguageModel`]: one decoder-only model directory loaded into an ONNX Runtime session.

use std::{
    borrow::Cow,
    collections::BTreeMap,
    fmt,
    num::NonZeroUsize,
    path::{Path, PathBuf},
    time::Instant,
};

use ort::{
    session::{Session, SessionInputValue},
    value::{DynValue, Tensor},
};
use tokenizers::Tokenizer;

use super::{
    ChatMessage, ContinuationScore, Generation, GenerationParams, LlmError, LlmResult, ModelConfig,
    StopReason,
    config::{MODEL_FILE, TOKENIZER_FILE, TokenizerConfig},
    files::ModelFiles,
    graph::{self, ATTENTION_MASK, GraphInterface, INPUT_IDS, LOGITS, POSITION_IDS},
    sampling::{Sampler, argmax, log_prob},
    template,
};
use crate::{
    ClassifierOptions, ExecutionReport, ExecutionTarget, OnnxRuntime, Sha256Digest,
    model::{SessionSource, build_session_from},
};

/// How to load a language model and how much memory its runs may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LanguageModelOptions {
    /// The requested execution target (CUDA falls back to the CPU when unavailable).
    pub target: ExecutionTarget,
    /// Threads ONNX Runtime may use inside one operator; `None` leaves ONNX Runtime's default
    /// (one per physical core).
    pub intra_threads: Option<NonZeroUsize>,
    /// Most positions one sequence may take (prompt plus generated or scored tokens); the
    /// model's `max_position_embeddings` caps it too.
    pub max_context_tokens: usize,
    /// Most continuations [`score`](LanguageModel::score) runs in one batch.
    pub max_batch: usize,
}

impl Default for LanguageModelOptions {
    /// The CPU with ONNX Runtime's threading, 2048 positions, batches of 8.
    fn default() -> Self {
        Self {
            target: ExecutionTarget::Cpu,
            intra_threads: None,
            max_context_tokens: 2048,
            max_batch: 8,
        }
    }
}

impl LanguageModelOptions {
    /// The defaults on `target`.
    pub fn new(target: ExecutionTarget) -> Self {
        Self { target, ..Self::default() }
    }

    /// Limits ONNX Runtime to `threads` threads inside one operator.
    pub const fn with_intra_threads(mut self, threads: NonZeroUsize) -> Self {
        self.intra_threads = Some(threads);
        self
    }

    /// Sets the most positions one sequence may take.
    pub const fn with_max_context_tokens(mut self, tokens: usize) -> Self {
        self.max_context_tokens = tokens;
        self
    }

    /// Sets the most continuations scored in one batch (at least 1 is used).
    pub const fn with_max_batch(mut self, batch: usize) -> Self {
        self.max_batch = batch;
        self
    }
}

/// What a language model takes in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryReport {
    /// Bytes of `model.onnx` and its external data files on disk.
    pub weight_bytes: u64,
    /// Bytes of the largest KV cache a run has produced so far (float32 keys and values of every
    /// layer, over the whole batch and context).
    pub kv_cache_bytes: u64,
    /// The process's peak resident set (`VmHWM` of `/proc/self/status`), when readable.
    pub peak_rss_bytes: Option<u64>,
}

/// The process's peak resident set size in bytes, from `/proc/self/status`.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 =
        line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// A decoder-only language model: its ONNX Runtime session, tokenizer, config and chat template.
///
/// Loading reads a model directory in the standard layout (`docs/language-models.md`): the graph
/// `model.onnx` (external data beside it), `config.json`, `tokenizer.json`, and optionally
/// `tokenizer_config.json` and `generation_config.json`. The graph's interface is read from the
/// session and checked against the config. Running takes `&mut self` because an ONNX Runtime
/// session must not run concurrently; the model can move between threads.
pub struct LanguageModel {
    name: String,
    dir: PathBuf,
    files: ModelFiles,
    model_id: [u8; 32],
    config: ModelConfig,
    tokenizer_config: TokenizerConfig,
    tokenizer: Tokenizer,
    interface: GraphInterface,
    /// `past_key_values.N.key`, `past_key_values.N.value`, ... in layer order.
    past_names: Vec<String>,
    /// `present.N.key`, `present.N.value`, ... in the same order.
    present_names: Vec<String>,
    options: LanguageModelOptions,
    execution: ExecutionReport,
    peak_kv_bytes: u64,
    session: Session,
}

impl fmt::Debug for LanguageModel {
    /// The model's identity and settings; the tokenizer's vocabulary and the session are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LanguageModel")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .field("model_id", &hex::encode(self.model_id))
            .field("config", &self.config)
            .field("execution", &self.execution)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The past keys and values fed to a run.
enum Past<'a> {
    /// The first run: no positions yet.
    Empty,
    /// The previous run's `present` outputs, in [`LanguageModel::past_names`] order.
    Cache(&'a [DynValue]),
    /// Flattened float32 data `[batch, kv_heads, past, head_dim]` per input.
    Data(Vec<Vec<f32>>),
}

/// One run's outputs.
struct Step {
    /// `logits` `[batch, seq, vocab]`.
    logits: DynValue,
    /// `present.N.key/value` in layer order.
    present: Vec<DynValue>,
}

impl LanguageModel {
    /// Loads the model directory `dir` (any standard export: bring your own model).
    ///
    /// The model's files are hashed for [`model_id`](Self::model_id) but checked against nothing;
    /// use [`load_verified`](Self::load_verified) for prepared models.
    ///
    /// # Errors
    ///
    /// - [`LlmError::MissingFile`] when `model.onnx`, `config.json` or `tokenizer.json` is
    ///   absent, [`LlmError::Io`] when a file cannot be read;
    /// - [`LlmError::InvalidJson`] / [`LlmError::InvalidConfig`] for a malformed JSON file;
    /// - [`LlmError::InvalidTokenizer`] for a `tokenizer.json` that does not load;
    /// - [`LlmError::Session`] when ONNX Runtime cannot load the graph;
    /// - [`LlmError::GraphMismatch`] / [`LlmError::LayerCountMismatch`] when the graph's
    ///   interface is not the decoder interface or disagrees with `config.json`.
    pub fn load(
        runtime: &OnnxRuntime,
        dir: impl AsRef<Path>,
        options: LanguageModelOptions,
    ) -> LlmResult<Self> {
        let dir = dir.as_ref();
        let files = ModelFiles::hash(dir)?;
        Self::load_files(runtime, dir, files, options)
    }

    /// Loads the model directory `dir` after checking its files against `expected` (file name →
    /// sha256, as a prepared model's manifest records them).
    ///
    /// Every listed file must exist and match, and every file that makes up the model (see
    /// [`model_id`](Self::model_id)) must be listed. The session is created from the files on
    /// disk after the check (external weights cannot be loaded from memory), so the directory
    /// must not be writable by anyone the worker does not trust.
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load), plus [`LlmError::UnsafeFileName`] for a listed name that is not
    /// a plain file name, [`LlmError::MissingFile`] for a listed file that is absent,
    /// [`LlmError::DigestMismatch`] for a file whose sha256 differs and
    /// [`LlmError::UnverifiedFile`] for a model file that is not listed.
    pub fn load_verified(
        runtime: &OnnxRuntime,
        dir: impl AsRef<Path>,
        expected: &BTreeMap<String, Sha256Digest>,
        options: LanguageModelOptions,
    ) -> LlmResult<Self> {
        let dir = dir.as_ref();
        let files = ModelFiles::verify(&dir_name(dir), dir, expected)?;
        Self::load_files(runtime, dir, files, options)
    }

    fn load_files(
        runtime: &OnnxRuntime,
        dir: &Path,
        files: ModelFiles,
        options: LanguageModelOptions,
    ) -> LlmResult<Self> {
        let name = dir_name(dir);
        let config = ModelConfig::load(dir)?;
        let tokenizer_config = TokenizerConfig::load(dir)?;
        let tokenizer_path = dir.join(TOKENIZER_FILE);
        let tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|source| LlmError::InvalidTokenizer { path: tokenizer_path, source })?;
        let session_options =
            ClassifierOptions { target: options.target, intra_threads: options.intra_threads };
        let (session, execution) = build_session_from(
            runtime.environment(),
            &name,
            SessionSource::File(&dir.join(MODEL_FILE)),
            session_options,
        )
        .map_err(|source| LlmError::Session { model: name.clone(), source })?;
        let interface = GraphInterface::check(&name, &session, &config)?;
        let names = |f: fn(usize, bool) -> String| {
            (0..interface.layers).flat_map(|l| [f(l, false), f(l, true)]).collect::<Vec<_>>()
        };
        let model_id = files.model_id();
        tracing::debug!(
            target: "inference_worker::llm",
            model = %name,
            model_id = %hex::encode(model_id),
            layers = interface.layers,
            execution = %execution,
            weight_bytes = files.weight_bytes,
            "loaded language model"
        );
        Ok(Self {
            past_names: names(graph::past_name),
            present_names: names(graph::present_name),
            name,
            dir: dir.to_path_buf(),
            files,
            model_id,
            config,
            tokenizer_config,
            tokenizer,
            interface,
            options,
            execution,
            peak_kv_bytes: 0,
            session,
        })
    }

    /// The model's name: its directory's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The model directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The model's identity: sha256 over its files in name order — `config.json`,
    /// `generation_config.json` (if present), `model.onnx` and every file beside it whose name
    /// starts with `model.onnx` (external weights), `tokenizer.json` and
    /// `tokenizer_config.json` (if present) — each contributing its name's UTF-8 bytes, one zero
    /// byte and its 32-byte sha256.
    pub const fn model_id(&self) -> [u8; 32] {
        self.model_id
    }

    /// The sha256 of each file that makes up the model, by file name.
    pub const fn file_digests(&self) -> &BTreeMap<String, Sha256Digest> {
        &self.files.digests
    }

    /// The decoder's shape and special tokens.
    pub const fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Where the session was asked to run and where it runs.
    pub const fn execution(&self) -> &ExecutionReport {
        &self.execution
    }

    /// The options the model was loaded with.
    pub const fn options(&self) -> &LanguageModelOptions {
        &self.options
    }

    /// Most positions one sequence may take: the smaller of the options' `max_context_tokens`
    /// and the model's `max_position_embeddings`.
    pub fn max_context(&self) -> usize {
        self.options.max_context_tokens.min(self.config.max_position_embeddings)
    }

    /// Weights on disk, the largest KV cache so far and the process's peak resident set.
    pub fn memory(&self) -> MemoryReport {
        MemoryReport {
            weight_bytes: self.files.weight_bytes,
            kv_cache_bytes: self.peak_kv_bytes,
            peak_rss_bytes: peak_rss_bytes(),
        }
    }

    /// The Jinja chat template of `tokenizer_config.json`, when there is one.
    pub fn chat_template(&self) -> Option<&str> {
        self.tokenizer_config.chat_template.as_deref()
    }

    /// Renders `messages` with the model's chat template, the way `transformers`'
    /// `apply_chat_template` does (`bos_token`, `eos_token`, `add_generation_prompt` and
    /// `raise_exception` available; blocks trimmed). The result usually starts with the BOS
    /// token already, so encode it with `add_bos = false`, or pass it to
    /// [`generate`](Self::generate), which does not add a second one.
    ///
    /// # Errors
    ///
    /// [`LlmError::NoChatTemplate`] when the model has none, [`LlmError::ChatTemplate`] when it
    /// does not parse, raises an exception or fails to render.
    pub fn apply_chat_template(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> LlmResult<String> {
        let template = self
            .chat_template()
            .ok_or_else(|| LlmError::NoChatTemplate { model: self.name.clone() })?;
        let special = |text: &Option<String>, id: Option<u32>| {
            text.clone().or_else(|| id.and_then(|id| self.tokenizer.id_to_token(id)))
        };
        let bos =
            special(&self.tokenizer_config.bos_token, self.config.bos_token_id).unwrap_or_default();
        let eos =
            special(&self.tokenizer_config.eos_token, self.config.eos_token_ids.first().copied())
                .unwrap_or_default();
        template::render(template, messages, add_generation_prompt, &bos, &eos)
            .map_err(|source| LlmError::ChatTemplate { model: self.name.clone(), source })
    }

    /// Encodes `text` into token ids.
    ///
    /// With `add_bos`, the sequence starts with the BOS token when `tokenizer_config.json`'s
    /// `add_bos_token` says so (and the text does not already start with it); when the file does
    /// not say, `tokenizer.json`'s post-processor decides. Without `add_bos` no special token is
    /// added (special tokens written in the text are still recognised).
    ///
    /// # Errors
    ///
    /// [`LlmError::Tokenizer`] when the tokenizer fails.
    pub fn encode(&self, text: &str, add_bos: bool) -> LlmResult<Vec<u32>> {
        let add_special = add_bos && self.tokenizer_config.add_bos_token.is_none();
        let mut ids = self
            .tokenizer
            .encode(text, add_special)
            .map_err(|source| LlmError::Tokenizer { model: self.name.clone(), source })?
            .get_ids()
            .to_vec();
        if add_bos
            && self.tokenizer_config.add_bos_token == Some(true)
            && let Some(bos) = self.config.bos_token_id
            && ids.first() != Some(&bos)
        {
            ids.insert(0, bos);
        }
        Ok(ids)
    }

    /// Decodes token ids into text, special tokens included.
    ///
    /// # Errors
    ///
    /// [`LlmError::Tokenizer`] when the tokenizer fails.
    pub fn decode(&self, ids: &[u32]) -> LlmResult<String> {
        self.decode_with(ids, false)
    }

    fn decode_with(&self, ids: &[u32], skip_special_tokens: bool) -> LlmResult<String> {
        self.tokenizer
            .decode(ids, skip_special_tokens)
            .map_err(|source| LlmError::Tokenizer { model: self.name.clone(), source })
    }

    /// Generates a continuation of `prompt`, which is encoded with `add_bos = true` (see
    /// [`encode`](Self::encode): a prompt rendered by a chat template that starts with the BOS
    /// token does not get a second one).
    ///
    /// # Errors
    ///
    /// As [`generate_ids`](Self::generate_ids), plus [`LlmError::Tokenizer`].
    pub fn generate(&mut self, prompt: &str, params: &GenerationParams) -> LlmResult<Generation> {
        let ids = self.encode(prompt, true)?;
        self.generate_ids(&ids, params)
    }

    /// Generates a continuation of the token ids `prompt_ids`: one forward pass over the prompt
    /// (prefill), then one pass per new token over the KV cache, until an end-of-sequence or stop
    /// token, a stop string, or `max_new_tokens`.
    ///
    /// # Errors
    ///
    /// - [`LlmError::InvalidParams`] for a temperature or `top_p` out of range;
    /// - [`LlmError::EmptyPrompt`] for no ids, [`LlmError::TokenOutOfRange`] for an id outside
    ///   the vocabulary;
    /// - [`LlmError::PromptTooLong`] when the prompt plus `max_new_tokens` exceed
    ///   [`max_context`](Self::max_context) (checked before running anything);
    /// - [`LlmError::Inference`] / [`LlmError::UnexpectedOutput`] when ONNX Runtime fails or the
    ///   outputs break the interface; [`LlmError::Tokenizer`] when decoding fails.
    pub fn generate_ids(
        &mut self,
        prompt_ids: &[u32],
        params: &GenerationParams,
    ) -> LlmResult<Generation> {
        params.check()?;
        self.check_ids(prompt_ids)?;
        self.check_context(prompt_ids.len() + params.max_new_tokens)?;
        let mut stop_ids = params.stop_token_ids.clone();
        if !params.ignore_eos {
            stop_ids.extend_from_slice(&self.config.eos_token_ids);
        }

        let prompt_tokens = prompt_ids.len();
        let mut tokens = Vec::new();
        let mut sampler = Sampler::new(params.sampling);
        let mut stop = StopReason::MaxTokens;
        let mut stop_at = None;
        let start = Instant::now();
        let mut prefill_ms = 0.0;
        if params.max_new_tokens > 0 {
            let ids: Vec<i64> = prompt_ids.iter().map(|&id| i64::from(id)).collect();
            let mut step = self.run(1, &ids, &vec![1; prompt_tokens], 0, Past::Empty)?;
            let mut next = sampler.next(self.last_logits(&step.logits)?);
            prefill_ms = start.elapsed().as_secs_f64() * 1000.0;
            loop {
                if stop_ids.contains(&next) {
                    stop = StopReason::Eos;
                    break;
                }
                tokens.push(next);
                if !params.stop_strings.is_empty() {
                    let text = self.decode_with(&tokens, true)?;
                    stop_at =
                        params.stop_strings.iter().filter_map(|s| text.find(s.as_str())).min();
                    if stop_at.is_some() {
                        stop = StopReason::StopString;
                        break;
                    }
                }
                if tokens.len() == params.max_new_tokens {
                    break;
                }
                let past = prompt_tokens + tokens.len() - 1;
                step = self.run(
                    1,
                    &[i64::from(next)],
                    &vec![1; past + 1],
                    past,
                    Past::Cache(&step.present),
                )?;
                next = sampler.next(self.last_logits(&step.logits)?);
            }
        }
        let decode_ms = if params.max_new_tokens > 0 {
            start.elapsed().as_secs_f64() * 1000.0 - prefill_ms
        } else {
            0.0
        };
        let mut text = self.decode_with(&tokens, true)?;
        if let Some(at) = stop_at {
            text.truncate(at);
        }
        tracing::debug!(
            target: "inference_worker::llm",
            model = %self.name,
            prompt_tokens,
            new_tokens = tokens.len(),
            ?stop,
            prefill_ms,
            decode_ms,
            "generated"
        );
        Ok(Generation { text, tokens, prompt_tokens, stop, prefill_ms, decode_ms })
    }

    /// The log-likelihood of each continuation after `prompt`, batched.
    ///
    /// The prompt is encoded with `add_bos = true` and run once; the continuations then run over
    /// copies of its KV cache, right-padded into batches of at most `max_batch` (padding is
    /// masked out, so it does not change the scores). A continuation's tokens are where
    /// `prompt + continuation` encodes to the prompt's tokens followed by more; when the
    /// tokenizer merges across the boundary instead (a prompt ending in a space, say), the
    /// continuation is encoded on its own.
    ///
    /// # Errors
    ///
    /// - [`LlmError::NoContinuations`] for an empty list, [`LlmError::EmptyContinuation`] for a
    ///   continuation with no tokens, [`LlmError::EmptyPrompt`] for a prompt with none;
    /// - [`LlmError::PromptTooLong`] when the prompt plus the longest continuation exceed
    ///   [`max_context`](Self::max_context);
    /// - [`LlmError::Tokenizer`], [`LlmError::TokenOutOfRange`], [`LlmError::Inference`],
    ///   [`LlmError::UnexpectedOutput`] as for generation.
    pub fn score(
        &mut self,
        prompt: &str,
        continuations: &[String],
    ) -> LlmResult<Vec<ContinuationScore>> {
        if continuations.is_empty() {
            return Err(LlmError::NoContinuations);
        }
        let prompt_ids = self.encode(prompt, true)?;
        self.check_ids(&prompt_ids)?;
        let mut split = Vec::with_capacity(continuations.len());
        for (index, continuation) in continuations.iter().enumerate() {
            if continuation.is_empty() {
                return Err(LlmError::EmptyContinuation { index });
            }
            let full = self.encode(&format!("{prompt}{continuation}"), true)?;
            let ids = if full.len() > prompt_ids.len() && full.starts_with(&prompt_ids) {
                full[prompt_ids.len()..].to_vec()
            } else {
                self.encode(continuation, false)?
            };
            if ids.is_empty() {
                return Err(LlmError::EmptyContinuation { index });
            }
            self.check_ids(&ids)?;
            split.push(ids);
        }
        let longest = split.iter().map(Vec::len).max().unwrap_or(0);
        self.check_context(prompt_ids.len() + longest)?;

        let past = prompt_ids.len();
        let ids: Vec<i64> = prompt_ids.iter().map(|&id| i64::from(id)).collect();
        let prompt_step = self.run(1, &ids, &vec![1; past], 0, Past::Empty)?;
        let first_logits = self.last_logits(&prompt_step.logits)?.to_vec();
        let first_argmax = argmax(&first_logits) as u32;
        let prompt_kv = prompt_step
            .present
            .iter()
            .zip(&self.present_names)
            .map(|(value, name)| {
                value
                    .try_extract_tensor::<f32>()
                    .map(|(_, data)| data.to_vec())
                    .map_err(|e| self.unexpected(name, format!("is not a float32 tensor: {e}")))
            })
            .collect::<LlmResult<Vec<_>>>()?;
        drop(prompt_step);

        let mut scores = Vec::with_capacity(split.len());
        for chunk in split.chunks(self.options.max_batch.max(1)) {
            let batch = chunk.len();
            // The last token of a continuation is only scored, never fed.
            let seq = chunk.iter().map(Vec::len).max().unwrap_or(1) - 1;
            let logits = if seq == 0 {
                None
            } else {
                let mut ids = vec![0i64; batch * seq];
                let mut mask = vec![0i64; batch * (past + seq)];
                for (row, continuation) in chunk.iter().enumerate() {
                    mask[row * (past + seq)..row * (past + seq) + past].fill(1);
                    for (j, &id) in continuation[..continuation.len() - 1].iter().enumerate() {
                        ids[row * seq + j] = i64::from(id);
                        mask[row * (past + seq) + past + j] = 1;
                    }
                }
                let kv = prompt_kv.iter().map(|data| data.repeat(batch)).collect();
                let step = self.run(batch, &ids, &mask, past, Past::Data(kv))?;
                Some(step.logits)
            };
            let logits = match &logits {
                Some(logits) => Some(self.logits(logits, batch)?.1),
                None => None,
            };
            let vocab = self.config.vocab_size;
            for (row, continuation) in chunk.iter().enumerate() {
                let mut logprob = log_prob(&first_logits, continuation[0] as usize);
                let mut greedy = continuation[0] == first_argmax;
                for (j, &id) in continuation.iter().enumerate().skip(1) {
                    let Some(logits) = logits else { break };
                    let start = ((row * seq) + j - 1) * vocab;
                    let position = &logits[start..start + vocab];
                    logprob += log_prob(position, id as usize);
                    greedy &= argmax(position) == id as usize;
                }
                scores.push(ContinuationScore { logprob, tokens: continuation.len(), greedy });
            }
        }
        Ok(scores)
    }

    /// Logits at every position of `ids` from one forward pass without a cache (no BOS added).
    ///
    /// # Errors
    ///
    /// [`LlmError::EmptyPrompt`], [`LlmError::TokenOutOfRange`], [`LlmError::PromptTooLong`],
    /// [`LlmError::Inference`], [`LlmError::UnexpectedOutput`].
    pub fn forward_logits(&mut self, ids: &[u32]) -> LlmResult<Vec<Vec<f32>>> {
        self.cached_logits(ids, ids.len())
    }

    /// Logits at every position of `ids`, computed the way generation does: one pass over the
    /// first `prefill` ids, then one pass per remaining id over the KV cache. Equal to
    /// [`forward_logits`](Self::forward_logits) up to rounding; tests compare the two.
    ///
    /// # Errors
    ///
    /// As [`forward_logits`](Self::forward_logits); a `prefill` of 0 counts as 1.
    pub fn cached_logits(&mut self, ids: &[u32], prefill: usize) -> LlmResult<Vec<Vec<f32>>> {
        self.check_ids(ids)?;
        self.check_context(ids.len())?;
        let prefill = prefill.clamp(1, ids.len());
        let vocab = self.config.vocab_size;
        let all: Vec<i64> = ids.iter().map(|&id| i64::from(id)).collect();
        let mut step = self.run(1, &all[..prefill], &vec![1; prefill], 0, Past::Empty)?;
        let mut rows: Vec<Vec<f32>> =
            self.logits(&step.logits, 1)?.1.chunks_exact(vocab).map(<[f32]>::to_vec).collect();
        for past in prefill..ids.len() {
            step = self.run(
                1,
                &all[past..=past],
                &vec![1; past + 1],
                past,
                Past::Cache(&step.present),
            )?;
            rows.push(self.last_logits(&step.logits)?.to_vec());
        }
        Ok(rows)
    }

    fn check_ids(&self, ids: &[u32]) -> LlmResult<()> {
        if ids.is_empty() {
            return Err(LlmError::EmptyPrompt);
        }
        let vocab = self.config.vocab_size;
        match ids.iter().find(|&&id| id as usize >= vocab) {
            Some(&id) => Err(LlmError::TokenOutOfRange { id, vocab }),
            None => Ok(()),
        }
    }

    fn check_context(&self, tokens: usize) -> LlmResult<()> {
        let max = self.max_context();
        if tokens > max {
            return Err(LlmError::PromptTooLong { tokens, max });
        }
        Ok(())
    }

    fn unexpected(&self, output: &str, reason: String) -> LlmError {
        LlmError::UnexpectedOutput { model: self.name.clone(), output: output.to_owned(), reason }
    }

    /// The logits tensor's sequence length and data, checked to be `[batch, seq, vocab_size]`.
    fn logits<'v>(&self, logits: &'v DynValue, batch: usize) -> LlmResult<(usize, &'v [f32])> {
        let (shape, data) = logits
            .try_extract_tensor::<f32>()
            .map_err(|e| self.unexpected(LOGITS, format!("is not a float32 tensor: {e}")))?;
        let vocab = self.config.vocab_size;
        match **shape {
            [b, seq, v] if b as usize == batch && v as usize == vocab && seq > 0 => {
                Ok((seq as usize, data))
            }
            _ => Err(self.unexpected(
                LOGITS,
                format!("has shape {shape}, expected [{batch}, seq, {vocab}]"),
            )),
        }
    }

    /// The last position's logits of a batch-1 run.
    fn last_logits<'v>(&self, logits: &'v DynValue) -> LlmResult<&'v [f32]> {
        let (seq, data) = self.logits(logits, 1)?;
        let vocab = self.config.vocab_size;
        Ok(&data[(seq - 1) * vocab..seq * vocab])
    }

    /// Runs the graph on `ids` (`[batch, ids.len() / batch]`) after `past` cached positions,
    /// with `mask` (`[batch, past + seq]`).
    fn run(
        &mut self,
        batch: usize,
        ids: &[i64],
        mask: &[i64],
        past: usize,
        past_values: Past<'_>,
    ) -> LlmResult<Step> {
        let seq = ids.len() / batch;
        let inference = |source| LlmError::Inference { model: self.name.clone(), source };
        let heads = self.config.num_key_value_heads;
        let head_dim = self.config.head_dim;
        let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> =
            Vec::with_capacity(3 + self.past_names.len());
        inputs.push((
            INPUT_IDS.into(),
            Tensor::from_array(([batch, seq], ids.to_vec())).map_err(inference)?.into(),
        ));
        inputs.push((
            ATTENTION_MASK.into(),
            Tensor::from_array(([batch, past + seq], mask.to_vec())).map_err(inference)?.into(),
        ));
        if self.interface.has_position_ids {
            let positions: Vec<i64> =
                (0..batch).flat_map(|_| (past..past + seq).map(|p| p as i64)).collect();
            inputs.push((
                POSITION_IDS.into(),
                Tensor::from_array(([batch, seq], positions)).map_err(inference)?.into(),
            ));
        }
        let kv_shape = [batch, heads, past, head_dim];
        match past_values {
            Past::Empty => {
                for name in &self.past_names {
                    let empty =
                        Tensor::<f32>::from_array((kv_shape, Vec::new())).map_err(inference)?;
                    inputs.push((name.as_str().into(), empty.into()));
                }
            }
            Past::Cache(values) => {
                for (name, value) in self.past_names.iter().zip(values) {
                    inputs.push((name.as_str().into(), value.into()));
                }
            }
            Past::Data(data) => {
                for (name, data) in self.past_names.iter().zip(data) {
                    let tensor = Tensor::from_array((kv_shape, data)).map_err(inference)?;
                    inputs.push((name.as_str().into(), tensor.into()));
                }
            }
        }
        let mut outputs = self.session.run(inputs).map_err(inference)?;
        let mut take = |name: &str| {
            outputs.remove(name).ok_or_else(|| LlmError::UnexpectedOutput {
                model: self.name.clone(),
                output: name.to_owned(),
                reason: "is missing".to_owned(),
            })
        };
        let logits = take(LOGITS)?;
        let present = self.present_names.iter().map(|name| take(name)).collect::<LlmResult<_>>()?;
        drop(outputs);
        self.peak_kv_bytes = self.peak_kv_bytes.max(self.config.kv_cache_bytes(batch, past + seq));
        Ok(Step { logits, present })
    }
}

/// The model's name: the directory's last component (of its canonical path when the given one
/// ends in `.` or `..`).
fn dir_name(dir: &Path) -> String {
    dir.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .or_else(|| {
            let canonical = dir.canonicalize().ok()?;
            canonical.file_name().map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| dir.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_default_to_2048_positions_and_batches_of_8_on_the_cpu() {
        let options = LanguageModelOptions::default();
        assert_eq!(options.target, ExecutionTarget::Cpu);
        assert_eq!((options.max_context_tokens, options.max_batch), (2048, 8));
        assert_eq!(options.with_max_batch(2).max_batch, 2);
    }

    #[test]
    fn reads_the_peak_resident_set() {
        assert!(peak_rss_bytes().is_some_and(|bytes| bytes > 0));
    }

    #[test]
    fn names_a_model_after_its_directory() {
        assert_eq!(dir_name(Path::new("/models/smollm2-135m-int4")), "smollm2-135m-int4");
        assert_eq!(dir_name(Path::new("/models/smollm2-135m-int4/")), "smollm2-135m-int4");
    }
}
