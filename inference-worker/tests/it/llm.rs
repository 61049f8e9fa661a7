//! Language models: the tiny random-weight decoder of `tests/fixtures/` (made by
//! `models/llm/convert.py tiny`) for the runtime's mechanics, and the prepared SmolLM2 (when
//! `scripts/prepare-llms.sh` has run) for a real answer.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use nsed_inference_worker::{
    ChatMessage, ExecutionTarget, GenerationParams, LanguageModel, LanguageModelOptions, LlmError,
    Sha256Digest, StopReason,
    llm::{DEFAULT_LLM_DIR, ModelConfig, PreparedModels},
};

use crate::fixtures::runtime;

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn tiny_with(options: LanguageModelOptions) -> LanguageModel {
    LanguageModel::load(runtime(), fixture_dir("tiny-llm"), options).unwrap()
}

fn tiny() -> LanguageModel {
    tiny_with(LanguageModelOptions::default())
}

/// A writable copy of a fixture model directory, to break.
fn copy_of(name: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(name).tempdir().unwrap();
    for entry in std::fs::read_dir(fixture_dir(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut json);
    std::fs::write(path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
}

fn load_err(dir: &Path) -> LlmError {
    LanguageModel::load(runtime(), dir, LanguageModelOptions::default()).unwrap_err()
}

const PROMPT: &str = "The quick brown fox jumps over the lazy dog";

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn loads_the_tiny_model_with_its_config_and_interface() {
    let model = tiny();
    assert_eq!(model.name(), "tiny-llm");
    let config: &ModelConfig = model.config();
    assert_eq!((config.num_hidden_layers, config.num_key_value_heads, config.head_dim), (2, 2, 8));
    assert_eq!(config.eos_token_ids, vec![2, 0]);
    assert_eq!(model.execution().actual(), ExecutionTarget::Cpu);
    let debug = format!("{model:?}");
    assert!(debug.contains("tiny-llm") && debug.len() < 2000, "{debug}");
    let names: Vec<&str> = model.file_digests().keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "config.json",
            "generation_config.json",
            "model.onnx",
            "tokenizer.json",
            "tokenizer_config.json"
        ]
    );
}

#[test]
fn kv_cache_decoding_matches_the_full_forward_pass() {
    let mut model = tiny();
    let ids = model.encode(PROMPT, true).unwrap();
    assert!(ids.len() >= 8, "{ids:?}");
    let full = model.forward_logits(&ids).unwrap();
    let cached = model.cached_logits(&ids, 3).unwrap();
    assert_eq!(full.len(), ids.len());
    assert_eq!(cached.len(), ids.len());
    for (position, (full, cached)) in full.iter().zip(&cached).enumerate() {
        assert_eq!(full.len(), model.config().vocab_size);
        let diff = max_abs_diff(full, cached);
        assert!(diff < 1e-4, "position {position}: logits differ by {diff}");
    }
}

#[test]
fn generated_tokens_follow_the_forward_pass_argmax() {
    let mut model = tiny();
    let ids = model.encode(PROMPT, true).unwrap();
    let generation =
        model.generate_ids(&ids, &GenerationParams::greedy(6).with_ignore_eos()).unwrap();
    assert_eq!(generation.tokens.len(), 6);
    let mut all = ids.clone();
    all.extend_from_slice(&generation.tokens);
    let logits = model.forward_logits(&all).unwrap();
    for (i, &token) in generation.tokens.iter().enumerate() {
        let row = &logits[ids.len() - 1 + i];
        let best = row.iter().enumerate().fold(0, |b, (j, &l)| if l > row[b] { j } else { b });
        assert_eq!(token as usize, best, "token {i}");
    }
}

#[test]
fn padding_and_batching_do_not_change_scores() {
    let continuations: Vec<String> = [
        " jumps",
        " over the lazy dog again and again",
        "!",
        " a fox, quickly",
        " and the cat sleeps on",
    ]
    .map(String::from)
    .to_vec();
    let mut model = tiny();
    let together = model.score(PROMPT, &continuations).unwrap();
    let mut small_batches = tiny_with(LanguageModelOptions::default().with_max_batch(2));
    let in_pairs = small_batches.score(PROMPT, &continuations).unwrap();
    assert_eq!(together.len(), continuations.len());
    for (i, continuation) in continuations.iter().enumerate() {
        let alone = model.score(PROMPT, std::slice::from_ref(continuation)).unwrap();
        for other in [alone[0], in_pairs[i]] {
            assert!(
                (together[i].logprob - other.logprob).abs() < 1e-4,
                "continuation {i}: {} vs {}",
                together[i].logprob,
                other.logprob
            );
            assert_eq!(together[i].tokens, other.tokens);
            assert_eq!(together[i].greedy, other.greedy);
        }
        assert!(together[i].logprob < 0.0);
    }
    assert!(model.memory().kv_cache_bytes > small_batches.memory().kv_cache_bytes);
}

#[test]
fn scores_are_the_forward_pass_log_probabilities() {
    let mut model = tiny();
    let prompt_ids = model.encode(PROMPT, true).unwrap();
    let continuation = " over the dog".to_owned();
    let full = model.encode(&format!("{PROMPT}{continuation}"), true).unwrap();
    assert!(full.starts_with(&prompt_ids));
    let logits = model.forward_logits(&full).unwrap();
    let mut expected = 0.0f64;
    for position in prompt_ids.len()..full.len() {
        let row = &logits[position - 1];
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let norm: f64 = row.iter().map(|&l| (l as f64 - max).exp()).sum::<f64>().ln() + max;
        expected += row[full[position] as usize] as f64 - norm;
    }
    let score = model.score(PROMPT, &[continuation]).unwrap()[0];
    assert_eq!(score.tokens, full.len() - prompt_ids.len());
    assert!((score.logprob - expected).abs() < 1e-4, "{} vs {expected}", score.logprob);
}

#[test]
fn the_greedy_continuation_scores_as_greedy() {
    let mut model = tiny();
    let prompt_ids = model.encode(PROMPT, true).unwrap();
    let generation =
        model.generate_ids(&prompt_ids, &GenerationParams::greedy(4).with_ignore_eos()).unwrap();
    let continuation = model.decode(&generation.tokens).unwrap();
    let mut all = prompt_ids.clone();
    all.extend_from_slice(&generation.tokens);
    // Only meaningful when the text re-encodes to the same tokens.
    if model.encode(&format!("{PROMPT}{continuation}"), true).unwrap() == all {
        let score = model.score(PROMPT, &[continuation]).unwrap()[0];
        assert!(score.greedy);
        assert_eq!(score.tokens, 4);
    } else {
        eprintln!("greedy tokens {:?} do not re-encode to themselves", generation.tokens);
    }
}

#[test]
fn greedy_generation_is_deterministic() {
    let mut model = tiny();
    let params = GenerationParams::greedy(12).with_ignore_eos();
    let first = model.generate(PROMPT, &params).unwrap();
    let second = model.generate(PROMPT, &params).unwrap();
    assert_eq!(first.tokens, second.tokens);
    assert_eq!(first.text, second.text);
    assert_eq!(first.prompt_tokens, model.encode(PROMPT, true).unwrap().len());
}

#[test]
fn seeded_sampling_is_reproducible_and_differs_across_seeds() {
    let mut model = tiny();
    let sample = |model: &mut LanguageModel, seed| {
        let params = GenerationParams::sample(32, 1.0, 0.95, seed).with_ignore_eos();
        model.generate(PROMPT, &params).unwrap().tokens
    };
    let one = sample(&mut model, 1);
    assert_eq!(one.len(), 32);
    assert_eq!(one, sample(&mut model, 1));
    assert_ne!(one, sample(&mut model, 2));
    let greedy = model.generate(PROMPT, &GenerationParams::greedy(32).with_ignore_eos()).unwrap();
    assert_ne!(one, greedy.tokens);
}

#[test]
fn max_new_tokens_bounds_generation() {
    let mut model = tiny();
    let generation =
        model.generate(PROMPT, &GenerationParams::greedy(7).with_ignore_eos()).unwrap();
    assert_eq!(generation.tokens.len(), 7);
    assert_eq!(generation.stop, StopReason::MaxTokens);
    assert!(generation.prefill_ms > 0.0 && generation.decode_ms > 0.0);
    let none = model.generate(PROMPT, &GenerationParams::greedy(0)).unwrap();
    assert!(none.tokens.is_empty() && none.text.is_empty());
    assert_eq!(none.stop, StopReason::MaxTokens);
}

#[test]
fn a_stop_token_ends_generation_before_it() {
    let mut model = tiny();
    let free = model.generate(PROMPT, &GenerationParams::greedy(10).with_ignore_eos()).unwrap();
    let stop_token = free.tokens[4];
    let first = free.tokens.iter().position(|&t| t == stop_token).unwrap();
    let params = GenerationParams::greedy(10).with_ignore_eos().with_stop_token_id(stop_token);
    let stopped = model.generate(PROMPT, &params).unwrap();
    assert_eq!(stopped.stop, StopReason::Eos);
    assert_eq!(stopped.tokens, free.tokens[..first]);
}

#[test]
fn the_model_end_of_sequence_ids_stop_generation_unless_ignored() {
    let mut model = tiny();
    let free = model.generate(PROMPT, &GenerationParams::greedy(64).with_ignore_eos()).unwrap();
    let eos = model.config().eos_token_ids.clone();
    let stopped = model.generate(PROMPT, &GenerationParams::greedy(64)).unwrap();
    match free.tokens.iter().position(|t| eos.contains(t)) {
        Some(at) => {
            assert_eq!(stopped.stop, StopReason::Eos);
            assert_eq!(stopped.tokens, free.tokens[..at]);
        }
        None => assert_eq!(stopped.tokens, free.tokens),
    }
}

#[test]
fn a_stop_string_ends_the_text_before_it() {
    let mut model = tiny();
    let free = model.generate(PROMPT, &GenerationParams::greedy(16).with_ignore_eos()).unwrap();
    let chars: Vec<(usize, char)> = free.text.char_indices().collect();
    assert!(chars.len() >= 6, "{:?}", free.text);
    let (start, _) = chars[chars.len() / 2];
    let end = chars.get(chars.len() / 2 + 2).map_or(free.text.len(), |&(i, _)| i);
    let stop = &free.text[start..end];
    let params = GenerationParams::greedy(16).with_ignore_eos().with_stop_string(stop);
    let stopped = model.generate(PROMPT, &params).unwrap();
    assert_eq!(stopped.stop, StopReason::StopString);
    assert_eq!(stopped.text, free.text[..free.text.find(stop).unwrap()]);
    assert!(stopped.tokens.len() <= free.tokens.len());
    assert_eq!(stopped.tokens, free.tokens[..stopped.tokens.len()]);
}

#[test]
fn the_chat_template_renders_and_encodes_its_special_tokens() {
    let model = tiny();
    assert!(model.chat_template().is_some());
    let messages = [ChatMessage::system("Be brief."), ChatMessage::user("Hi")];
    let text = model.apply_chat_template(&messages, true).unwrap();
    assert_eq!(
        text,
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    );
    let without = model.apply_chat_template(&messages, false).unwrap();
    assert!(text.starts_with(&without) && !without.ends_with("assistant\n"));
    let ids = model.encode(&text, false).unwrap();
    let im_end = model.encode("<|im_end|>", false).unwrap();
    assert_eq!(im_end.len(), 1, "<|im_end|> is one special token");
    assert_eq!(ids.iter().filter(|&&id| id == im_end[0]).count(), 2);
    assert_eq!(model.decode(&ids).unwrap(), text);
}

#[test]
fn a_model_without_a_template_or_with_a_failing_one_says_so() {
    let dir = copy_of("tiny-llm");
    let config = dir.path().join("tokenizer_config.json");
    edit_json(&config, |json| {
        json.as_object_mut().unwrap().remove("chat_template");
    });
    let model =
        LanguageModel::load(runtime(), dir.path(), LanguageModelOptions::default()).unwrap();
    assert!(model.chat_template().is_none());
    assert!(matches!(
        model.apply_chat_template(&[ChatMessage::user("hi")], true),
        Err(LlmError::NoChatTemplate { .. })
    ));

    edit_json(&config, |json| {
        json["chat_template"] = "{% if messages[0]['role'] != 'system' %}{{ raise_exception('system first') }}{% endif %}ok".into();
    });
    let model =
        LanguageModel::load(runtime(), dir.path(), LanguageModelOptions::default()).unwrap();
    assert!(matches!(
        model.apply_chat_template(&[ChatMessage::user("hi")], true),
        Err(LlmError::ChatTemplate { .. })
    ));
    assert_eq!(model.apply_chat_template(&[ChatMessage::system("s")], true).unwrap(), "ok");
}

#[test]
fn a_missing_tokenizer_is_named() {
    let dir = copy_of("tiny-llm");
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    assert!(matches!(
        load_err(dir.path()),
        LlmError::MissingFile { ref file, .. } if file == "tokenizer.json"
    ));
}

#[test]
fn malformed_config_and_tokenizer_files_are_rejected() {
    let dir = copy_of("tiny-llm");
    std::fs::write(dir.path().join("tokenizer.json"), "{\"version\": \"1.0\"}").unwrap();
    assert!(matches!(load_err(dir.path()), LlmError::InvalidTokenizer { .. }));
    std::fs::write(dir.path().join("config.json"), "{\"num_hidden_layers\": 2}").unwrap();
    assert!(matches!(load_err(dir.path()), LlmError::InvalidJson { .. }));
}

#[test]
fn a_config_layer_count_that_disagrees_with_the_graph_is_rejected() {
    let dir = copy_of("tiny-llm");
    edit_json(&dir.path().join("config.json"), |json| json["num_hidden_layers"] = 3.into());
    assert!(matches!(
        load_err(dir.path()),
        LlmError::LayerCountMismatch { graph: 2, config: 3, .. }
    ));
}

#[test]
fn kv_heads_that_disagree_with_the_graph_are_rejected() {
    let dir = copy_of("tiny-llm");
    edit_json(&dir.path().join("config.json"), |json| json["num_key_value_heads"] = 4.into());
    assert!(matches!(load_err(dir.path()), LlmError::GraphMismatch { .. }));
}

/// Renames the graph's `logits` output in place: the protobuf strings keep their length.
#[test]
fn a_graph_without_logits_is_rejected() {
    let dir = copy_of("tiny-llm");
    let path = dir.path().join("model.onnx");
    let mut bytes = std::fs::read(&path).unwrap();
    let mut renamed = 0;
    for i in 0..bytes.len().saturating_sub(6) {
        if &bytes[i..i + 6] == b"logits" {
            bytes[i + 5] = b'z';
            renamed += 1;
        }
    }
    assert!(renamed >= 2, "logits appears {renamed} times");
    std::fs::write(&path, bytes).unwrap();
    assert!(matches!(
        load_err(dir.path()),
        LlmError::GraphMismatch { ref name, .. } if name == "output logits"
    ));
}

#[test]
fn verified_loading_checks_every_listed_file() {
    let dir = fixture_dir("tiny-llm");
    let mut expected: BTreeMap<String, Sha256Digest> = tiny().file_digests().clone();
    let license = std::fs::read(dir.join("LICENSE")).unwrap();
    expected.insert("LICENSE".to_owned(), Sha256Digest::of(&license));
    let options = LanguageModelOptions::default();
    let model = LanguageModel::load_verified(runtime(), &dir, &expected, options).unwrap();
    assert_eq!(model.model_id(), tiny().model_id());

    let mut tampered = expected.clone();
    tampered.insert("model.onnx".to_owned(), Sha256Digest::of(b"another graph"));
    assert!(matches!(
        LanguageModel::load_verified(runtime(), &dir, &tampered, options),
        Err(LlmError::DigestMismatch { ref path, .. }) if path.ends_with("model.onnx")
    ));

    let mut incomplete = expected.clone();
    incomplete.remove("tokenizer.json");
    assert!(matches!(
        LanguageModel::load_verified(runtime(), &dir, &incomplete, options),
        Err(LlmError::UnverifiedFile { ref file, .. }) if file == "tokenizer.json"
    ));

    let mut extra = expected;
    extra.insert("model.onnx.data".to_owned(), Sha256Digest::of(b""));
    assert!(matches!(
        LanguageModel::load_verified(runtime(), &dir, &extra, options),
        Err(LlmError::MissingFile { ref file, .. }) if file == "model.onnx.data"
    ));
}

#[test]
fn the_model_id_names_the_model_files() {
    let fp32 = tiny();
    let int4 = LanguageModel::load(
        runtime(),
        fixture_dir("tiny-llm-int4"),
        LanguageModelOptions::default(),
    )
    .unwrap();
    assert_eq!(fp32.model_id(), tiny().model_id());
    assert_ne!(fp32.model_id(), int4.model_id());

    let dir = copy_of("tiny-llm");
    edit_json(&dir.path().join("generation_config.json"), |json| json["do_sample"] = true.into());
    let edited =
        LanguageModel::load(runtime(), dir.path(), LanguageModelOptions::default()).unwrap();
    assert_ne!(edited.model_id(), fp32.model_id());
}

#[test]
fn requests_that_do_not_fit_the_context_fail_before_running() {
    let prompt_tokens = tiny().encode(PROMPT, true).unwrap().len();
    let max = prompt_tokens + 4;
    let mut model = tiny_with(LanguageModelOptions::default().with_max_context_tokens(max));
    assert_eq!(model.max_context(), max);
    assert!(matches!(
        model.generate(PROMPT, &GenerationParams::greedy(5)),
        Err(LlmError::PromptTooLong { tokens, max: m }) if tokens == max + 1 && m == max
    ));
    assert!(model.generate(PROMPT, &GenerationParams::greedy(4)).is_ok());
    let long = " and then the fox ran far away into the forest".to_owned();
    assert!(matches!(model.score(PROMPT, &[long]), Err(LlmError::PromptTooLong { .. })));
    assert!(matches!(
        model.forward_logits(&vec![1; max + 1]),
        Err(LlmError::PromptTooLong { tokens, .. }) if tokens == max + 1
    ));
}

#[test]
fn bad_requests_are_rejected() {
    let mut model = tiny();
    assert!(matches!(model.score(PROMPT, &[]), Err(LlmError::NoContinuations)));
    assert!(matches!(
        model.score(PROMPT, &[" a".to_owned(), String::new()]),
        Err(LlmError::EmptyContinuation { index: 1 })
    ));
    assert!(matches!(
        model.generate_ids(&[], &GenerationParams::greedy(1)),
        Err(LlmError::EmptyPrompt)
    ));
    let vocab = model.config().vocab_size as u32;
    assert!(matches!(
        model.forward_logits(&[1, vocab]),
        Err(LlmError::TokenOutOfRange { id, .. }) if id == vocab
    ));
    assert!(matches!(
        model.generate(PROMPT, &GenerationParams::sample(1, -1.0, 1.0, 0)),
        Err(LlmError::InvalidParams { name: "temperature", .. })
    ));
}

#[test]
fn the_memory_report_counts_weights_and_the_largest_kv_cache() {
    let mut model = tiny();
    assert_eq!(model.memory().kv_cache_bytes, 0);
    let generation =
        model.generate(PROMPT, &GenerationParams::greedy(5).with_ignore_eos()).unwrap();
    let memory = model.memory();
    let onnx = std::fs::metadata(fixture_dir("tiny-llm").join("model.onnx")).unwrap().len();
    assert_eq!(memory.weight_bytes, onnx);
    // The last generated token is never fed back.
    let positions = generation.prompt_tokens + generation.tokens.len() - 1;
    assert_eq!(memory.kv_cache_bytes, model.config().kv_cache_bytes(1, positions));
    assert!(memory.peak_rss_bytes.is_some_and(|rss| rss > onnx));
}

#[test]
fn the_int4_model_loads_and_decodes_like_its_forward_pass() {
    let dir = fixture_dir("tiny-llm-int4");
    let mut model = LanguageModel::load(runtime(), &dir, LanguageModelOptions::default()).unwrap();
    let generation =
        model.generate(PROMPT, &GenerationParams::greedy(8).with_ignore_eos()).unwrap();
    assert_eq!(generation.tokens.len(), 8);
    let ids = model.encode(PROMPT, true).unwrap();
    let full = model.forward_logits(&ids).unwrap();
    let cached = model.cached_logits(&ids, 2).unwrap();
    for (full, cached) in full.iter().zip(&cached) {
        assert!(max_abs_diff(full, cached) < 1e-4);
    }
    let scores = model.score(PROMPT, &[" over".to_owned(), " the lazy dog".to_owned()]).unwrap();
    assert!(scores.iter().all(|s| s.logprob.is_finite() && s.logprob < 0.0));
}

/// The PyPI `onnxruntime` library has no CUDA provider: asking for CUDA falls back to the CPU.
#[test]
fn requesting_cuda_gives_a_working_model_and_reports_where_it_runs() {
    let options = LanguageModelOptions::new(ExecutionTarget::Cuda);
    let mut model = tiny_with(options);
    let report = model.execution().clone();
    assert_eq!(report.requested(), ExecutionTarget::Cuda);
    if report.actual() == ExecutionTarget::Cpu {
        assert!(report.is_fallback());
    }
    let params = GenerationParams::greedy(6).with_ignore_eos();
    let on_cpu = tiny().generate(PROMPT, &params).unwrap();
    assert_eq!(model.generate(PROMPT, &params).unwrap().tokens, on_cpu.tokens);
}

#[test]
fn a_language_model_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<LanguageModel>();
    let mut model = tiny();
    let tokens = std::thread::spawn(move || {
        model.generate(PROMPT, &GenerationParams::greedy(3).with_ignore_eos()).map(|g| g.tokens)
    })
    .join()
    .unwrap()
    .unwrap();
    assert_eq!(tokens.len(), 3);
}

/// A prepared model of `scripts/prepare-llms.sh` (in `NSED_LLM_DIR`, by default `.cache/llm`),
/// verified against its manifest, when the script has run.
fn prepared(name: &str) -> Option<LanguageModel> {
    let root = std::env::var_os("NSED_LLM_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(DEFAULT_LLM_DIR),
        PathBuf::from,
    );
    let Ok(manifest) = PreparedModels::load(&root) else {
        eprintln!("skipping: {} has no manifest (run scripts/prepare-llms.sh)", root.display());
        return None;
    };
    Some(manifest.load_model(runtime(), name, LanguageModelOptions::default()).unwrap())
}

#[test]
fn smollm2_int4_knows_the_capital_of_france() {
    let Some(mut model) = prepared("smollm2-135m-int4") else { return };
    let prompt = model
        .apply_chat_template(&[ChatMessage::user("What is the capital of France?")], true)
        .unwrap();
    let generation = model.generate(&prompt, &GenerationParams::greedy(32)).unwrap();
    let memory = model.memory();
    eprintln!(
        "smollm2-135m-int4: {:?} ({} prompt tokens, {} new, prefill {:.1} ms, {:.1} tok/s decode, \
         weights {} B, kv cache {} B, peak rss {:?} B)",
        generation.text,
        generation.prompt_tokens,
        generation.tokens.len(),
        generation.prefill_ms,
        generation.decode_tokens_per_second().unwrap_or_default(),
        memory.weight_bytes,
        memory.kv_cache_bytes,
        memory.peak_rss_bytes,
    );
    assert!(generation.text.contains("Paris"), "{:?}", generation.text);
}

#[test]
fn smollm2_int4_scores_paris_first_alone_or_batched() {
    let Some(mut model) = prepared("smollm2-135m-int4") else { return };
    let prompt = "The capital of France is";
    let cities: Vec<String> =
        [" Paris", " London", " Berlin", " the city of Rome"].map(String::from).to_vec();
    let scores = model.score(prompt, &cities).unwrap();
    eprintln!("smollm2-135m-int4 scores: {scores:?}");
    let best = (0..cities.len()).max_by(|&a, &b| scores[a].logprob.total_cmp(&scores[b].logprob));
    assert_eq!(best, Some(0), "{scores:?}");
    assert!(scores[0].greedy);
    for (i, city) in cities.iter().enumerate() {
        let alone = model.score(prompt, std::slice::from_ref(city)).unwrap()[0];
        assert!((alone.logprob - scores[i].logprob).abs() < 1e-3, "{alone:?} vs {:?}", scores[i]);
    }
}

/// Gemma 3 has 18 layers, one KV head of width 256 and a 262k vocabulary: the runtime's
/// mechanics on a real grouped-query model (its answers are the converter's business).
#[test]
fn gemma3_int4_decodes_like_its_forward_pass() {
    let Some(mut model) = prepared("gemma3-270m-int4") else { return };
    let ids = model.encode("The capital of France is", true).unwrap();
    assert_eq!(Some(ids[0]), model.config().bos_token_id);
    let full = model.forward_logits(&ids).unwrap();
    let cached = model.cached_logits(&ids, 2).unwrap();
    for (position, (full, cached)) in full.iter().zip(&cached).enumerate() {
        let diff = max_abs_diff(full, cached);
        assert!(diff < 1e-3, "position {position}: logits differ by {diff}");
    }
    let generation =
        model.generate_ids(&ids, &GenerationParams::greedy(16).with_ignore_eos()).unwrap();
    eprintln!(
        "gemma3-270m-int4: {:?} ({} prompt tokens, prefill {:.1} ms, {:.1} tok/s decode, {:?})",
        generation.text,
        generation.prompt_tokens,
        generation.prefill_ms,
        generation.decode_tokens_per_second().unwrap_or_default(),
        model.memory(),
    );
    assert_eq!(generation.tokens.len(), 16);
}
