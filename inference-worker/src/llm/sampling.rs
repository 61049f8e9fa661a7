//! Generation parameters and results, and choosing the next token from logits.

use rand_chacha::{
    ChaCha8Rng,
    rand_core::{RngCore as _, SeedableRng as _},
};

use super::{LlmError, LlmResult};

/// How the next token is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    /// The most likely token (the lowest id among ties): deterministic.
    Greedy,
    /// A draw from the temperature-scaled distribution cut to its nucleus, from a ChaCha8 stream
    /// seeded with `seed`: the same seed, prompt and model give the same tokens.
    Sample {
        /// Divides the logits; must be positive (below 1 sharpens, above 1 flattens).
        temperature: f32,
        /// Keeps the most likely tokens whose probabilities add up to at least `top_p`; in
        /// `(0, 1]`, 1 keeps them all.
        top_p: f32,
        /// Seeds the random stream.
        seed: u64,
    },
}

/// What to generate and when to stop.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationParams {
    /// Most tokens to generate.
    pub max_new_tokens: usize,
    /// How each token is chosen.
    pub sampling: Sampling,
    /// Generation stops as soon as the text contains one of these; the text ends before it.
    pub stop_strings: Vec<String>,
    /// Token ids that stop generation (and are not part of the result). The model's
    /// end-of-sequence ids (`config.json`, `generation_config.json`) stop it too unless
    /// [`ignore_eos`](Self::ignore_eos) is set.
    pub stop_token_ids: Vec<u32>,
    /// Do not stop at the model's end-of-sequence ids (benchmarks that need a fixed length).
    pub ignore_eos: bool,
}

impl Default for GenerationParams {
    /// 128 greedy tokens, stopping at the model's end-of-sequence tokens only.
    fn default() -> Self {
        Self {
            max_new_tokens: 128,
            sampling: Sampling::Greedy,
            stop_strings: Vec::new(),
            stop_token_ids: Vec::new(),
            ignore_eos: false,
        }
    }
}

impl GenerationParams {
    /// Greedy generation of at most `max_new_tokens` tokens.
    pub fn greedy(max_new_tokens: usize) -> Self {
        Self { max_new_tokens, ..Self::default() }
    }

    /// Seeded sampling of at most `max_new_tokens` tokens.
    pub fn sample(max_new_tokens: usize, temperature: f32, top_p: f32, seed: u64) -> Self {
        Self {
            max_new_tokens,
            sampling: Sampling::Sample { temperature, top_p, seed },
            ..Self::default()
        }
    }

    /// Adds a stop string.
    pub fn with_stop_string(mut self, stop: impl Into<String>) -> Self {
        self.stop_strings.push(stop.into());
        self
    }

    /// Adds a stop token id.
    pub fn with_stop_token_id(mut self, id: u32) -> Self {
        self.stop_token_ids.push(id);
        self
    }

    /// Keeps generating past the model's end-of-sequence tokens.
    pub const fn with_ignore_eos(mut self) -> Self {
        self.ignore_eos = true;
        self
    }

    /// Checks the sampling parameters' ranges and that no stop string is empty.
    pub(crate) fn check(&self) -> LlmResult<()> {
        if let Some(index) = self.stop_strings.iter().position(String::is_empty) {
            return Err(LlmError::InvalidParams {
                name: "stop_strings",
                value: format!("[{index}] = \"\""),
                reason: "a stop string must not be empty",
            });
        }
        if let Sampling::Sample { temperature, top_p, .. } = self.sampling {
            if !(temperature.is_finite() && temperature > 0.0) {
                return Err(LlmError::InvalidParams {
                    name: "temperature",
                    value: temperature.to_string(),
                    reason: "must be positive and finite",
                });
            }
            if !(top_p > 0.0 && top_p <= 1.0) {
                return Err(LlmError::InvalidParams {
                    name: "top_p",
                    value: top_p.to_string(),
                    reason: "must be in (0, 1]",
                });
            }
        }
        Ok(())
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// The model produced an end-of-sequence or stop token.
    Eos,
    /// The text came to contain a stop string.
    StopString,
    /// `max_new_tokens` were generated.
    MaxTokens,
}

/// What [`generate`](super::LanguageModel::generate) produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The generated text, special tokens skipped, ending before a stop string.
    pub text: String,
    /// The generated token ids, without the end-of-sequence or stop token that ended them (the
    /// tokens that spelt a stop string are included).
    pub tokens: Vec<u32>,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Why generation stopped.
    pub stop: StopReason,
    /// Milliseconds spent on the prompt (one forward pass over it).
    pub prefill_ms: f64,
    /// Milliseconds spent generating after the prompt: every token but the first (0 when nothing
    /// was generated).
    pub decode_ms: f64,
}

impl Generation {
    /// Generated tokens per second of decoding (the first token, which prefill produces, is not
    /// counted); `None` when fewer than two tokens were generated.
    pub fn decode_tokens_per_second(&self) -> Option<f64> {
        let decoded = self.tokens.len().checked_sub(1).filter(|&n| n > 0)?;
        (self.decode_ms > 0.0).then(|| decoded as f64 * 1000.0 / self.decode_ms)
    }
}

/// The log-likelihood of one continuation after a prompt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContinuationScore {
    /// Sum of the continuation tokens' natural-log probabilities.
    pub logprob: f64,
    /// Tokens in the continuation.
    pub tokens: usize,
    /// Whether every continuation token was the model's most likely one.
    pub greedy: bool,
}

/// Index of the largest logit (the lowest index among ties).
pub(crate) fn argmax(logits: &[f32]) -> usize {
    let mut best = 0;
    for (i, &logit) in logits.iter().enumerate() {
        if logit > logits[best] {
            best = i;
        }
    }
    best
}

/// Natural-log softmax of `logits` at `index`, computed in f64.
pub(crate) fn log_prob(logits: &[f32], index: usize) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    logits[index] as f64 - max - sum.ln()
}

/// Chooses next tokens: greedily or from a seeded stream.
#[derive(Debug)]
pub(crate) struct Sampler {
    sampling: Sampling,
    rng: Option<ChaCha8Rng>,
    scratch: Vec<(f32, u32)>,
}

impl Sampler {
    pub(crate) fn new(sampling: Sampling) -> Self {
        let rng = match sampling {
            Sampling::Greedy => None,
            Sampling::Sample { seed, .. } => Some(ChaCha8Rng::seed_from_u64(seed)),
        };
        Self { sampling, rng, scratch: Vec::new() }
    }

    /// The next token from one position's logits.
    pub(crate) fn next(&mut self, logits: &[f32]) -> u32 {
        let (Sampling::Sample { temperature, top_p, .. }, Some(rng)) =
            (self.sampling, &mut self.rng)
        else {
            return argmax(logits) as u32;
        };
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        self.scratch.clear();
        let mut total = 0.0f64;
        for (id, &logit) in logits.iter().enumerate() {
            let weight = ((logit - max) / temperature).exp();
            total += weight as f64;
            self.scratch.push((weight, id as u32));
        }
        // Most likely first, ties by id, so the nucleus and the draw are reproducible.
        self.scratch.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut kept = 0;
        let mut mass = 0.0f64;
        for &(weight, _) in &self.scratch {
            kept += 1;
            mass += weight as f64;
            if mass >= top_p as f64 * total {
                break;
            }
        }
        // A uniform draw in [0, mass) from the top 53 bits of the stream.
        let uniform = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let target = uniform * mass;
        let mut acc = 0.0f64;
        for &(weight, id) in &self.scratch[..kept] {
            acc += weight as f64;
            if target < acc {
                return id;
            }
        }
        self.scratch[kept - 1].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_of_ties() {
        assert_eq!(argmax(&[0.0, 2.0, 2.0, 1.0]), 1);
    }

    #[test]
    fn log_probs_sum_to_one() {
        let logits = [0.5, -1.0, 3.0, 0.0];
        let total: f64 = (0..logits.len()).map(|i| log_prob(&logits, i).exp()).sum();
        assert!((total - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_tiny_top_p_is_greedy_and_seeds_reproduce() {
        let logits: Vec<f32> = (0..50).map(|i| ((i * 37) % 11) as f32 / 3.0).collect();
        let mut nucleus = Sampler::new(Sampling::Sample { temperature: 1.0, top_p: 1e-6, seed: 1 });
        assert_eq!(nucleus.next(&logits), argmax(&logits) as u32);
        let draws = |seed| {
            let mut sampler = Sampler::new(Sampling::Sample { temperature: 2.0, top_p: 1.0, seed });
            (0..32).map(|_| sampler.next(&logits)).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
    }

    #[test]
    fn rejects_a_zero_temperature_and_a_top_p_above_one() {
        assert!(matches!(
            GenerationParams::sample(1, 0.0, 1.0, 0).check(),
            Err(LlmError::InvalidParams { name: "temperature", .. })
        ));
        assert!(matches!(
            GenerationParams::sample(1, 1.0, 1.5, 0).check(),
            Err(LlmError::InvalidParams { name: "top_p", .. })
        ));
        assert!(matches!(
            GenerationParams::greedy(1).with_stop_string("").check(),
            Err(LlmError::InvalidParams { name: "stop_strings", .. })
        ));
        assert!(GenerationParams::greedy(1).with_stop_string(".").check().is_ok());
    }
}
