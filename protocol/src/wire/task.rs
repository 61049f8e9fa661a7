//! A unit of work sent to one agent.

use alloy_primitives::{Address, U256};
use alloy_sol_types::Eip712Domain;
use serde::{Deserialize, Serialize};

use super::{Phase, Versioned, wire_version};
use crate::eip712;

/// Task kind: classify a float32 tensor (`input` is a [`TensorInput`]).
pub const TASK_KIND_TENSOR_F32: &str = "tensor-f32";
/// Task kind: a multiple-choice question (`input` is a [`ChoiceInput`]); the answer is a label.
pub const TASK_KIND_TEXT_CHOICE: &str = "text-choice";
/// Task kind: a question answered in free form (`input` is a [`TextInput`]); the answer is the
/// normalised final answer (for [`AnswerFormat::Number`], a canonical decimal number).
pub const TASK_KIND_TEXT: &str = "text";

/// Longest question accepted in a text task, in bytes (prompts must also fit the model's context).
pub const MAX_QUESTION_BYTES: usize = 8192;
/// Most options of a multiple-choice question.
pub const MAX_CHOICES: usize = 26;

/// One phase of one round of one job, addressed to the agent in seat `seat`.
///
/// The task carries everything the agent needs to answer and sign without asking anyone: the
/// seats (agents sorted by address), the signing domain (chain id and market), the vote budget,
/// the input, and — for evaluation — the round's proposals; from round 2 on, the previous round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Protocol version of this message.
    #[serde(default = "wire_version")]
    pub version: u16,
    /// The on-chain job id.
    pub job_id: U256,
    /// Round number, from 1.
    pub round: u32,
    /// Propose or evaluate.
    pub phase: Phase,
    /// The addressee's seat index in `seats`.
    pub seat: usize,
    /// Every agent of the job, sorted by address; a seat index is a position here.
    pub seats: Vec<Address>,
    /// Vote credits per ballot (`Σ v² ≤ credits`).
    pub credits: u64,
    /// Unix time in milliseconds after which the answer is ignored.
    pub deadline_ms: u64,
    /// Chain id of the signing domain.
    pub chain_id: u64,
    /// Deliberation market address of the signing domain.
    pub market: Address,
    /// What kind of task this is, e.g. [`TASK_KIND_TENSOR_F32`].
    pub kind: String,
    /// The job's input; its shape depends on `kind`.
    pub input: serde_json::Value,
    /// Evaluate phase: this round's proposal contents by seat (`None` where a seat has none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proposals: Vec<Option<String>>,
    /// Round 2 and later: what happened in the previous round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<RoundView>,
}

impl Versioned for Task {
    fn version(&self) -> u16 {
        self.version
    }
}

impl Task {
    /// The addressee, if `seat` is a valid index.
    pub fn agent(&self) -> Option<Address> {
        self.seats.get(self.seat).copied()
    }

    /// The EIP-712 domain results must be signed in.
    pub fn domain(&self) -> Eip712Domain {
        eip712::domain(self.chain_id, self.market)
    }

    /// The proposals digest a ballot for this (evaluate) task commits to.
    ///
    /// # Panics
    ///
    /// If `proposals` does not have one slot per seat; check [`Self::proposals`] first.
    #[track_caller]
    pub fn proposals_digest(&self) -> alloy_primitives::B256 {
        let contents: Vec<Option<&str>> = self.proposals.iter().map(Option::as_deref).collect();
        eip712::proposals_digest(&self.seats, &contents)
    }
}

/// Input of a [`TASK_KIND_TENSOR_F32`] task: a row-major float32 tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorInput {
    /// Dimensions, e.g. `[64]` for one 8×8 image.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values, row-major.
    pub values: Vec<f32>,
}

/// Input of a [`TASK_KIND_TEXT_CHOICE`] task: a question and its labelled options.
///
/// The answer a proposal carries is one of `labels` (by default `A`, `B`, `C`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoiceInput {
    /// The question.
    pub question: String,
    /// The options, in order.
    pub choices: Vec<String>,
    /// One label per option; empty means `A`, `B`, `C`, ….
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// Why a text task's input is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextInputError {
    /// The question is empty or longer than [`MAX_QUESTION_BYTES`].
    #[error("question of {0} bytes; 1 to {MAX_QUESTION_BYTES} bytes are accepted")]
    QuestionLength(usize),
    /// Fewer than two or more than [`MAX_CHOICES`] options.
    #[error("{0} options; 2 to {MAX_CHOICES} are accepted")]
    ChoiceCount(usize),
    /// An option is empty.
    #[error("option {0} is empty")]
    EmptyChoice(usize),
    /// Labels given, but not one per option, or repeated, or empty.
    #[error("labels {0:?} are not one distinct, non-empty label per option")]
    Labels(Vec<String>),
}

impl ChoiceInput {
    /// The options' labels: the given ones, or `A`, `B`, `C`, ….
    ///
    /// ```
    /// use nsed_protocol::wire::ChoiceInput;
    /// let q = ChoiceInput { question: "2+2?".into(), choices: vec!["3".into(), "4".into()], labels: vec![] };
    /// assert_eq!(q.labels(), ["A", "B"]);
    /// ```
    pub fn labels(&self) -> Vec<String> {
        if self.labels.is_empty() {
            (0..self.choices.len()).map(|i| char::from(b'A' + (i % 26) as u8).to_string()).collect()
        } else {
            self.labels.clone()
        }
    }

    /// Checks the question, the options and the labels.
    ///
    /// # Errors
    ///
    /// [`TextInputError`] naming the first problem.
    ///
    /// ```
    /// use nsed_protocol::wire::{ChoiceInput, TextInputError};
    /// let q = ChoiceInput { question: "2+2?".into(), choices: vec!["4".into()], labels: vec![] };
    /// assert_eq!(q.validate(), Err(TextInputError::ChoiceCount(1)));
    /// ```
    pub fn validate(&self) -> Result<(), TextInputError> {
        check_question(&self.question)?;
        let n = self.choices.len();
        if !(2..=MAX_CHOICES).contains(&n) {
            return Err(TextInputError::ChoiceCount(n));
        }
        if let Some(i) = self.choices.iter().position(|c| c.trim().is_empty()) {
            return Err(TextInputError::EmptyChoice(i));
        }
        if !self.labels.is_empty() {
            let distinct: std::collections::BTreeSet<&String> = self.labels.iter().collect();
            if self.labels.len() != n
                || distinct.len() != n
                || self.labels.iter().any(|l| l.trim().is_empty())
            {
                return Err(TextInputError::Labels(self.labels.clone()));
            }
        }
        Ok(())
    }
}

/// How a free-form answer is normalised before it is proposed and compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnswerFormat {
    /// The final number of the answer, as a canonical decimal (`"1,200.50"` → `"1200.5"`).
    #[default]
    Number,
    /// The answer's first line, trimmed.
    Line,
}

/// Input of a [`TASK_KIND_TEXT`] task: a question answered in free form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextInput {
    /// The question.
    pub question: String,
    /// How answers are normalised.
    #[serde(default)]
    pub format: AnswerFormat,
}

impl TextInput {
    /// Checks the question.
    ///
    /// # Errors
    ///
    /// [`TextInputError::QuestionLength`] for an empty or over-long question.
    pub fn validate(&self) -> Result<(), TextInputError> {
        check_question(&self.question)
    }
}

fn check_question(question: &str) -> Result<(), TextInputError> {
    if question.trim().is_empty() || question.len() > MAX_QUESTION_BYTES {
        return Err(TextInputError::QuestionLength(question.len()));
    }
    Ok(())
}

/// What an agent sees of the previous round when it may revise its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundView {
    /// The round this describes.
    pub round: u32,
    /// Proposal contents by seat.
    pub contents: Vec<Option<String>>,
    /// Each voter seat's votes by candidate seat (`None` for a missing ballot): the score matrix.
    pub votes: Vec<Option<Vec<i64>>>,
    /// Net score of each seat.
    pub scores: Vec<i128>,
    /// The rationale each seat shared with its proposal, if any (unsigned, advisory text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rationales: Vec<Option<String>>,
}
