//! The JSON files of a model directory: `config.json`, `tokenizer_config.json` and
//! `generation_config.json`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{LlmError, LlmResult};

/// `config.json`: the decoder's shape and special tokens (Hugging Face naming).
pub const CONFIG_FILE: &str = "config.json";
/// `tokenizer.json`: a Hugging Face `tokenizers` file.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// `tokenizer_config.json` (optional): chat template, BOS/EOS token strings, `add_bos_token`.
pub const TOKENIZER_CONFIG_FILE: &str = "tokenizer_config.json";
/// `generation_config.json` (optional): extra end-of-sequence token ids.
pub const GENERATION_CONFIG_FILE: &str = "generation_config.json";
/// `model.onnx`: the decoder graph; external weight files beside it start with this name.
pub const MODEL_FILE: &str = "model.onnx";

/// The decoder's shape and special tokens, from `config.json` (plus the end-of-sequence ids of
/// `generation_config.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelConfig {
    /// `model_type` (`llama`, `gemma3_text`, ...), when given.
    pub model_type: Option<String>,
    /// Decoder layers: one `past_key_values.N.key/value` pair each.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (fewer than the query heads with grouped-query attention).
    pub num_key_value_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Tokens in the vocabulary: the width of `logits`.
    pub vocab_size: usize,
    /// Longest sequence the positions cover.
    pub max_position_embeddings: usize,
    /// The beginning-of-sequence token id, when the model has one.
    pub bos_token_id: Option<u32>,
    /// Every token id that ends generation: `config.json`'s `eos_token_id` then
    /// `generation_config.json`'s, without repeats.
    pub eos_token_ids: Vec<u32>,
}

/// One token id or a list of them, as `eos_token_id` is written.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(u32),
    Many(Vec<u32>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<u32> {
        match self {
            Self::One(id) => vec![id],
            Self::Many(ids) => ids,
        }
    }
}

#[derive(Debug, Deserialize)]
struct RawConfig {
    model_type: Option<String>,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    hidden_size: usize,
    vocab_size: usize,
    max_position_embeddings: usize,
    bos_token_id: Option<u32>,
    eos_token_id: Option<OneOrMany>,
}

#[derive(Debug, Default, Deserialize)]
struct RawGenerationConfig {
    eos_token_id: Option<OneOrMany>,
}

/// A special token as `tokenizer_config.json` writes it: a string or an `AddedToken` object.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SpecialToken {
    Text(String),
    Added { content: String },
}

impl SpecialToken {
    fn into_string(self) -> String {
        match self {
            Self::Text(text) | Self::Added { content: text } => text,
        }
    }
}

/// A chat template as `tokenizer_config.json` writes it: one string, or named templates.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawChatTemplate {
    One(String),
    Named(Vec<NamedTemplate>),
}

#[derive(Debug, Deserialize)]
struct NamedTemplate {
    name: String,
    template: String,
}

#[derive(Debug, Default, Deserialize)]
struct RawTokenizerConfig {
    chat_template: Option<RawChatTemplate>,
    bos_token: Option<SpecialToken>,
    eos_token: Option<SpecialToken>,
    add_bos_token: Option<bool>,
}

/// What the runtime takes from `tokenizer_config.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TokenizerConfig {
    /// The Jinja chat template (the `default` one when several are named).
    pub(crate) chat_template: Option<String>,
    /// The BOS token's text, for templates.
    pub(crate) bos_token: Option<String>,
    /// The EOS token's text, for templates.
    pub(crate) eos_token: Option<String>,
    /// Whether encoding a prompt starts it with the BOS token; `None` when the file does not
    /// say, and `tokenizer.json`'s post-processor decides.
    pub(crate) add_bos_token: Option<bool>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> LlmResult<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| LlmError::Io { path: path.to_path_buf(), source })?;
    serde_json::from_str(&text)
        .map_err(|source| LlmError::InvalidJson { path: path.to_path_buf(), source })
}

/// Reads an optional JSON file: `None` when it does not exist.
fn read_optional_json<T: for<'de> Deserialize<'de>>(path: &Path) -> LlmResult<Option<T>> {
    if path.is_file() { read_json(path).map(Some) } else { Ok(None) }
}

impl ModelConfig {
    /// Reads `config.json` and the optional `generation_config.json` from the model directory.
    pub(crate) fn load(dir: &Path) -> LlmResult<Self> {
        let path = dir.join(CONFIG_FILE);
        let raw: RawConfig = read_json(&path)?;
        let generation: RawGenerationConfig =
            read_optional_json(&dir.join(GENERATION_CONFIG_FILE))?.unwrap_or_default();
        Self::from_raw(path, raw, generation)
    }

    fn from_raw(path: PathBuf, raw: RawConfig, generation: RawGenerationConfig) -> LlmResult<Self> {
        let invalid =
            |field, reason: String| LlmError::InvalidConfig { path: path.clone(), field, reason };
        for (field, value) in [
            ("num_hidden_layers", raw.num_hidden_layers),
            ("num_attention_heads", raw.num_attention_heads),
            ("hidden_size", raw.hidden_size),
            ("vocab_size", raw.vocab_size),
            ("max_position_embeddings", raw.max_position_embeddings),
        ] {
            if value == 0 {
                return Err(invalid(field, "is 0".to_owned()));
            }
        }
        let num_key_value_heads = raw.num_key_value_heads.unwrap_or(raw.num_attention_heads);
        if num_key_value_heads == 0 || !raw.num_attention_heads.is_multiple_of(num_key_value_heads)
        {
            return Err(invalid(
                "num_key_value_heads",
                format!(
                    "is {num_key_value_heads}, which does not divide num_attention_heads {}",
                    raw.num_attention_heads
                ),
            ));
        }
        let head_dim = match raw.head_dim {
            Some(0) => return Err(invalid("head_dim", "is 0".to_owned())),
            Some(head_dim) => head_dim,
            None if raw.hidden_size.is_multiple_of(raw.num_attention_heads) => {
                raw.hidden_size / raw.num_attention_heads
            }
            None => {
                return Err(invalid(
                    "head_dim",
                    format!(
                        "is absent and hidden_size {} is not a multiple of num_attention_heads {}",
                        raw.hidden_size, raw.num_attention_heads
                    ),
                ));
            }
        };
        let mut eos_token_ids = Vec::new();
        for id in raw
            .eos_token_id
            .map(OneOrMany::into_vec)
            .into_iter()
            .chain(generation.eos_token_id.map(OneOrMany::into_vec))
            .flatten()
        {
            if !eos_token_ids.contains(&id) {
                eos_token_ids.push(id);
            }
        }
        Ok(Self {
            model_type: raw.model_type,
            num_hidden_layers: raw.num_hidden_layers,
            num_attention_heads: raw.num_attention_heads,
            num_key_value_heads,
            head_dim,
            hidden_size: raw.hidden_size,
            vocab_size: raw.vocab_size,
            max_position_embeddings: raw.max_position_embeddings,
            bos_token_id: raw.bos_token_id,
            eos_token_ids,
        })
    }

    /// Bytes of the KV cache for `batch` sequences of `tokens` positions with float32 values.
    pub const fn kv_cache_bytes(&self, batch: usize, tokens: usize) -> u64 {
        (2 * self.num_hidden_layers * batch * self.num_key_value_heads * tokens * self.head_dim)
            as u64
            * 4
    }
}

impl TokenizerConfig {
    /// Reads the optional `tokenizer_config.json` from the model directory.
    pub(crate) fn load(dir: &Path) -> LlmResult<Self> {
        let Some(raw) = read_optional_json::<RawTokenizerConfig>(&dir.join(TOKENIZER_CONFIG_FILE))?
        else {
            return Ok(Self::default());
        };
        let chat_template = raw.chat_template.and_then(|template| match template {
            RawChatTemplate::One(template) => Some(template),
            RawChatTemplate::Named(named) => {
                named.into_iter().find(|t| t.name == "default").map(|t| t.template)
            }
        });
        Ok(Self {
            chat_template,
            bos_token: raw.bos_token.map(SpecialToken::into_string),
            eos_token: raw.eos_token.map(SpecialToken::into_string),
            add_bos_token: raw.add_bos_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(config: &str, generation: &str) -> LlmResult<ModelConfig> {
        ModelConfig::from_raw(
            PathBuf::from("config.json"),
            serde_json::from_str(config).unwrap(),
            serde_json::from_str(generation).unwrap(),
        )
    }

    const BASE: &str = r#""num_hidden_layers": 2, "num_attention_heads": 4, "hidden_size": 64,
        "vocab_size": 100, "max_position_embeddings": 128"#;

    #[test]
    fn defaults_kv_heads_and_head_dim_and_merges_eos_ids() {
        let config =
            parse(&format!(r#"{{ {BASE}, "eos_token_id": [2, 3] }}"#), r#"{"eos_token_id": 3}"#)
                .unwrap();
        assert_eq!(config.num_key_value_heads, 4);
        assert_eq!(config.head_dim, 16);
        assert_eq!(config.eos_token_ids, vec![2, 3]);
        assert_eq!(config.bos_token_id, None);
        assert_eq!(config.kv_cache_bytes(1, 10), 2 * 2 * 4 * 10 * 16 * 4);
    }

    #[test]
    fn rejects_kv_heads_that_do_not_divide_the_heads() {
        let err = parse(&format!(r#"{{ {BASE}, "num_key_value_heads": 3 }}"#), "{}").unwrap_err();
        assert!(matches!(err, LlmError::InvalidConfig { field: "num_key_value_heads", .. }));
    }

    #[test]
    fn rejects_zero_layers() {
        let err = parse(&format!("{{ {} }}", BASE.replace(": 2,", ": 0,")), "{}").unwrap_err();
        assert!(matches!(err, LlmError::InvalidConfig { field: "num_hidden_layers", .. }));
    }
}
