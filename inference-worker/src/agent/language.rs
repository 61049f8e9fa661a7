//! The language-model policy for `text-choice` and `text` tasks: prompts, how answer likelihoods
//! become a [`Belief`], and how free-form answers are normalised.
//!
//! - **Multiple choice** (`text-choice`). The agent scores every option as a continuation of its
//!   prompt (log-likelihood, as zero-shot evaluations of small models do), normalises the scores
//!   ([`ScoreNormalization`]), and turns them into probabilities with a softmax at
//!   [`LanguagePolicy::temperature`]. That is its own belief over the option labels; proposing,
//!   evaluating and revising follow the shared [`Belief`] rule with `α` =
//!   [`LanguagePolicy::self_weight`].
//! - **Free form** (`text`). Round 1: the agent generates an answer with a short worked rationale
//!   and proposes the normalised final answer ([`normalize_answer`]), sharing the rationale. To
//!   evaluate (and to revise from round 2 on), its belief over the answers on the table is the
//!   likelihood its model gives each of them as the answer to the question.
//!
//! Revision is guarded by design: small models asked to reconsider in a prompt switch to a peer's
//! answer far too often (measured: wrong→right 20 times, right→wrong 87 times), so an agent never
//! re-prompts with the other answers; it only moves when the numeric support of the previous round
//! outweighs its own belief, with `α` tuned on a dev split.

use nsed_protocol::wire::{AnswerFormat, ChoiceInput, RoundView, TextInput};

use super::Belief;

/// How an agent phrases its prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PromptStyle {
    /// The model's own chat template (instruction-tuned models).
    Chat,
    /// `Question: …\nAnswer:` completion (base models).
    Plain,
    /// Plain, after a few fixed worked examples.
    FewShot,
}

impl std::str::FromStr for PromptStyle {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "chat" => Ok(Self::Chat),
            "plain" => Ok(Self::Plain),
            "few-shot" => Ok(Self::FewShot),
            other => Err(format!("unknown prompt style `{other}`: use chat, plain or few-shot")),
        }
    }
}

/// How an option's summed log-likelihood is normalised before the softmax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScoreNormalization {
    /// The summed log-likelihood (favours short options).
    Sum,
    /// Per token of the option.
    PerToken,
    /// Per character of the option.
    PerChar,
}

impl std::str::FromStr for ScoreNormalization {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sum" => Ok(Self::Sum),
            "per-token" => Ok(Self::PerToken),
            "per-char" => Ok(Self::PerChar),
            other => {
                Err(format!("unknown normalization `{other}`: use sum, per-token or per-char"))
            }
        }
    }
}

/// An agent's language-model policy.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LanguagePolicy {
    /// How prompts are phrased.
    pub style: PromptStyle,
    /// `α` of the revision rule: the weight of the agent's own belief against the previous
    /// round's support.
    pub self_weight: f32,
    /// Softmax temperature over normalised option scores.
    pub temperature: f32,
    /// How option scores are normalised.
    pub normalization: ScoreNormalization,
    /// Most tokens generated for a free-form answer.
    pub max_new_tokens: usize,
}

impl LanguagePolicy {
    /// The defaults for a prompt style: temperature 0.5 and `α` 0.9, tuned on the dev splits
    /// (`bench-llm`, BENCHMARKS.md), per-character normalisation.
    pub const fn new(style: PromptStyle) -> Self {
        Self {
            style,
            self_weight: 0.9,
            temperature: 0.5,
            normalization: ScoreNormalization::PerChar,
            max_new_tokens: 160,
        }
    }

    /// This policy with `normalization`.
    pub const fn with_normalization(mut self, normalization: ScoreNormalization) -> Self {
        self.normalization = normalization;
        self
    }
}

/// A prompt, before the model's chat template (if any) is applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Prompt {
    /// Text given to the model as is.
    Plain(String),
    /// A user turn rendered with the model's chat template, then `assistant_prefix`.
    Chat {
        /// The user's message.
        user: String,
        /// Text the assistant's turn starts with.
        assistant_prefix: String,
    },
}

/// One candidate continuation's likelihood under the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionScore {
    /// Summed log-probability of its tokens.
    pub logprob: f64,
    /// Its length in tokens.
    pub tokens: usize,
    /// Its length in characters.
    pub chars: usize,
}

/// Worked examples for [`PromptStyle::FewShot`]: general science questions written for this
/// project (not taken from any evaluation set).
const FEW_SHOT: [(&str, &str); 3] = [
    ("Which gas do plants take in from the air to make food?", "carbon dioxide"),
    ("What force pulls objects toward the center of the Earth?", "gravity"),
    ("Which organ pumps blood through the human body?", "the heart"),
];

/// The prompt and the continuations (one per option) a multiple-choice question is scored with.
///
/// ```
/// use nsed_inference_worker::agent::language::{Prompt, PromptStyle, choice_prompt};
/// use nsed_protocol::wire::ChoiceInput;
/// let q = ChoiceInput { question: "What is 2+2?".into(), choices: vec!["3".into(), "4".into()], labels: vec![] };
/// let (prompt, options) = choice_prompt(PromptStyle::Plain, &q);
/// assert_eq!(prompt, Prompt::Plain("Question: What is 2+2?\nAnswer:".into()));
/// assert_eq!(options, [" 3", " 4"]);
/// ```
pub fn choice_prompt(style: PromptStyle, input: &ChoiceInput) -> (Prompt, Vec<String>) {
    let question = input.question.trim();
    match style {
        PromptStyle::Chat => (
            Prompt::Chat {
                user: format!("Answer the question briefly.\n{question}"),
                assistant_prefix: String::new(),
            },
            input.choices.iter().map(|c| c.trim().to_string()).collect(),
        ),
        PromptStyle::Plain | PromptStyle::FewShot => {
            let mut text = String::new();
            if style == PromptStyle::FewShot {
                for (q, a) in FEW_SHOT {
                    text.push_str(&format!("Question: {q}\nAnswer: {a}\n\n"));
                }
            }
            text.push_str(&format!("Question: {question}\nAnswer:"));
            (Prompt::Plain(text), input.choices.iter().map(|c| format!(" {}", c.trim())).collect())
        }
    }
}

/// Probabilities over the options from their scores: normalised, then a softmax at the policy's
/// temperature.
///
/// ```
/// use nsed_inference_worker::agent::language::{LanguagePolicy, OptionScore, PromptStyle, ScoreNormalization, option_probabilities};
/// let policy = LanguagePolicy { normalization: ScoreNormalization::Sum, ..LanguagePolicy::new(PromptStyle::Plain) };
/// let p = option_probabilities(&policy, &[
///     OptionScore { logprob: -1.0, tokens: 1, chars: 2 },
///     OptionScore { logprob: -1.0, tokens: 1, chars: 2 },
/// ]);
/// assert_eq!(p, vec![0.5, 0.5]);
/// ```
pub fn option_probabilities(policy: &LanguagePolicy, scores: &[OptionScore]) -> Vec<f32> {
    let normalized: Vec<f64> = scores
        .iter()
        .map(|s| match policy.normalization {
            ScoreNormalization::Sum => s.logprob,
            ScoreNormalization::PerToken => s.logprob / s.tokens.max(1) as f64,
            ScoreNormalization::PerChar => s.logprob / s.chars.max(1) as f64,
        })
        .collect();
    softmax(&normalized, f64::from(policy.temperature))
}

fn softmax(values: &[f64], temperature: f64) -> Vec<f32> {
    let t = if temperature > 0.0 { temperature } else { 1.0 };
    let top = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !top.is_finite() {
        return vec![1.0 / values.len().max(1) as f32; values.len()];
    }
    let exp: Vec<f64> = values.iter().map(|v| ((v - top) / t).exp()).collect();
    let total: f64 = exp.iter().sum();
    exp.iter().map(|e| (e / total) as f32).collect()
}

/// The agent's belief over a question's option labels in a round: its option probabilities
/// under `policy`, revised by the previous round's support.
pub fn choice_belief(
    policy: &LanguagePolicy,
    input: &ChoiceInput,
    scores: &[OptionScore],
    previous: Option<&RoundView>,
) -> Belief {
    Belief::new(input.labels(), option_probabilities(policy, scores))
        .revised(previous, policy.self_weight)
}

/// The distinct answers on the table (proposal contents), in seat order.
pub fn answer_candidates(contents: &[Option<String>]) -> Vec<String> {
    let mut candidates: Vec<String> = Vec::new();
    for content in contents.iter().flatten() {
        if !candidates.contains(content) {
            candidates.push(content.clone());
        }
    }
    candidates
}

/// The agent's belief over free-form `candidates` scored with [`judge_prompt`], revised by the
/// previous round's support.
pub fn judged_belief(
    policy: &LanguagePolicy,
    candidates: Vec<String>,
    scores: &[OptionScore],
    previous: Option<&RoundView>,
) -> Belief {
    Belief::new(candidates, option_probabilities(policy, scores))
        .revised(previous, policy.self_weight)
}

/// One agent of a language-model panel: a prepared model and how it deliberates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PanelAgent {
    /// The agent's name (model and prompting).
    pub name: &'static str,
    /// The prepared model directory (under `.cache/llm/`) it runs.
    pub model: &'static str,
    /// Its policy.
    pub policy: LanguagePolicy,
}

/// The three-agent panel of `nsed up --agents llm` and the language-model benchmark: two model
/// families, the three best single agents on the dev splits among every model × prompt style
/// (`bench-llm` prints that table): SmolLM2 with worked examples, Gemma 3 zero-shot and Gemma 3
/// with worked examples.
pub const PANEL: [PanelAgent; 3] = [
    PanelAgent {
        name: "smollm2-few-shot",
        model: "smollm2-135m-int4",
        // Per token: its best normalisation on dev (56.9% against 52.4% per character).
        policy: LanguagePolicy::new(PromptStyle::FewShot)
            .with_normalization(ScoreNormalization::PerToken),
    },
    PanelAgent {
        name: "gemma3-plain",
        model: "gemma3-270m-int4",
        policy: LanguagePolicy::new(PromptStyle::Plain),
    },
    PanelAgent {
        name: "gemma3-few-shot",
        model: "gemma3-270m-int4",
        policy: LanguagePolicy::new(PromptStyle::FewShot),
    },
];

/// The prompt a free-form answer is generated from; the model is asked to end with
/// `The answer is …`.
pub fn answer_prompt(style: PromptStyle, input: &TextInput) -> Prompt {
    let question = input.question.trim();
    let instruction = "Solve the problem step by step in a few short sentences, then finish with \
                       \"The answer is\" and the final answer.";
    match style {
        PromptStyle::Chat => Prompt::Chat {
            user: format!("{instruction}\n{question}"),
            assistant_prefix: String::new(),
        },
        PromptStyle::Plain | PromptStyle::FewShot => {
            Prompt::Plain(format!("{instruction}\nQuestion: {question}\nSolution:"))
        }
    }
}

/// The prompt and continuations that score candidate free-form `answers` as answers to `input`.
pub fn judge_prompt(
    style: PromptStyle,
    input: &TextInput,
    answers: &[String],
) -> (Prompt, Vec<String>) {
    let question = input.question.trim();
    let options = answers.iter().map(|a| format!(" {a}.")).collect();
    match style {
        PromptStyle::Chat => (
            Prompt::Chat { user: question.to_string(), assistant_prefix: "The answer is".into() },
            options,
        ),
        PromptStyle::Plain | PromptStyle::FewShot => {
            (Prompt::Plain(format!("Question: {question}\nAnswer: The answer is")), options)
        }
    }
}

/// The final answer of a generated text in `format`, normalised, or `None` if it has none.
///
/// ```
/// use nsed_inference_worker::agent::language::normalize_answer;
/// use nsed_protocol::wire::AnswerFormat;
/// let text = "She has 3 + 4 = 7 apples, so 2 × 7 = 14. The answer is 1,400.0 apples.";
/// assert_eq!(normalize_answer(AnswerFormat::Number, text), Some("1400".into()));
/// assert_eq!(normalize_answer(AnswerFormat::Number, "no idea"), None);
/// assert_eq!(normalize_answer(AnswerFormat::Line, "  Paris\nbecause"), Some("Paris".into()));
/// ```
pub fn normalize_answer(format: AnswerFormat, text: &str) -> Option<String> {
    match format {
        AnswerFormat::Line => {
            let line = text.trim().lines().next()?.trim();
            (!line.is_empty()).then(|| line.chars().take(200).collect())
        }
        AnswerFormat::Number => {
            // Prefer the number after the last "answer is"; else the text's last number.
            // ASCII lowercasing keeps byte offsets, so `i` indexes `text` too.
            match text.to_ascii_lowercase().rfind("answer is") {
                Some(i) => first_number(&text[i..]).or_else(|| last_number(text)),
                None => last_number(text),
            }
        }
    }
}

fn numbers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next_is_digit = chars.get(i + 1).is_some_and(char::is_ascii_digit);
        let continues = c.is_ascii_digit()
            || (c == '-' && current.is_empty() && next_is_digit)
            || ((c == '.' || c == ',') && !current.is_empty() && next_is_digit);
        if continues {
            current.push(c);
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out.into_iter().filter_map(|n| canonical_number(&n)).collect()
}

fn first_number(text: &str) -> Option<String> {
    numbers(text).into_iter().next()
}

fn last_number(text: &str) -> Option<String> {
    numbers(text).pop()
}

/// A decimal number as a canonical string: no thousands separators, no trailing fractional
/// zeros, no `-0`.
///
/// ```
/// use nsed_inference_worker::agent::language::canonical_number;
/// assert_eq!(canonical_number("1,200.50").as_deref(), Some("1200.5"));
/// assert_eq!(canonical_number("-0.0").as_deref(), Some("0"));
/// assert_eq!(canonical_number("007").as_deref(), Some("7"));
/// assert_eq!(canonical_number("x"), None);
/// ```
pub fn canonical_number(text: &str) -> Option<String> {
    let cleaned: String = text.trim().chars().filter(|c| *c != ',').collect();
    let (negative, digits) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned.as_str()),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let frac = frac.trim_end_matches('0');
    let body = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
    Some(if negative && body != "0" { format!("-{body}") } else { body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question() -> ChoiceInput {
        ChoiceInput {
            question: " Which is a planet? ".into(),
            choices: vec!["Mars".into(), " the Moon".into()],
            labels: vec![],
        }
    }

    #[test]
    fn chat_and_few_shot_prompts_carry_the_question() {
        let (prompt, options) = choice_prompt(PromptStyle::Chat, &question());
        assert_eq!(
            prompt,
            Prompt::Chat {
                user: "Answer the question briefly.\nWhich is a planet?".into(),
                assistant_prefix: String::new()
            }
        );
        assert_eq!(options, ["Mars", "the Moon"]);
        let (Prompt::Plain(text), options) = choice_prompt(PromptStyle::FewShot, &question())
        else {
            panic!("few-shot prompts are plain")
        };
        assert!(text.starts_with("Question: Which gas"));
        assert!(text.ends_with("\n\nQuestion: Which is a planet?\nAnswer:"));
        assert_eq!(options, [" Mars", " the Moon"]);
    }

    #[test]
    fn normalisations_and_temperature_shape_the_probabilities() {
        let scores = [
            OptionScore { logprob: -2.0, tokens: 1, chars: 2 },
            OptionScore { logprob: -4.0, tokens: 4, chars: 8 },
        ];
        let mut policy = LanguagePolicy::new(PromptStyle::Plain);
        policy.normalization = ScoreNormalization::Sum;
        let p = option_probabilities(&policy, &scores);
        assert!(p[0] > p[1]);
        policy.normalization = ScoreNormalization::PerToken;
        let p = option_probabilities(&policy, &scores);
        assert!(p[1] > p[0], "-1 per token beats -2 per token");
        policy.normalization = ScoreNormalization::PerChar;
        let sharp = option_probabilities(&policy, &scores);
        policy.temperature = 10.0;
        let flat = option_probabilities(&policy, &scores);
        assert!((sharp[0] - sharp[1]).abs() > (flat[0] - flat[1]).abs());
        assert!((flat.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn the_belief_is_over_the_option_labels() {
        let policy = LanguagePolicy {
            normalization: ScoreNormalization::Sum,
            temperature: 1.0,
            ..LanguagePolicy::new(PromptStyle::Plain)
        };
        let scores = [
            OptionScore { logprob: 0.2f64.ln(), tokens: 1, chars: 1 },
            OptionScore { logprob: 0.8f64.ln(), tokens: 1, chars: 1 },
        ];
        let belief = choice_belief(&policy, &question(), &scores, None);
        assert_eq!(belief.proposal().0, "B");
        assert!((belief.proposal().1 - 0.8).abs() < 1e-6);
        let w = belief.evaluate(&[Some("A".into()), Some("B".into()), Some("Z".into())], 1);
        assert_eq!(w, vec![-50, 0, -100]);
    }

    #[test]
    fn numbers_are_found_and_normalised() {
        assert_eq!(normalize_answer(AnswerFormat::Number, "It costs $18."), Some("18".into()));
        assert_eq!(
            normalize_answer(AnswerFormat::Number, "answer is -3.50, not 4"),
            Some("-3.5".into())
        );
        assert_eq!(
            normalize_answer(AnswerFormat::Number, "2 and 3 make 5; 5 - 1 = 4"),
            Some("4".into())
        );
        assert_eq!(normalize_answer(AnswerFormat::Line, "   \n"), None);
    }
}
