//! A unit of work sent to one agent.

use alloy_primitives::{Address, B256, Bytes, Signature, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{Eip712Domain, SolStruct};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::value::RawValue;

use super::{Phase, Versioned, WireError, decode, wire_version};
use crate::eip712::{self, RoundContext, SignatureError};

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
/// the job's input and its on-chain hash, and — for evaluation — the round's proposals; from
/// round 2 on, the previous round. On the bus it travels inside a keeper-signed [`SignedTask`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Unix time in milliseconds after which the task expires: the worker refuses it and the
    /// keeper ignores answers.
    pub deadline_ms: u64,
    /// Chain id of the signing domain.
    pub chain_id: u64,
    /// Deliberation market address of the signing domain.
    pub market: Address,
    /// What kind of task this is, e.g. [`TASK_KIND_TENSOR_F32`].
    pub kind: String,
    /// The job's input exactly as requested on chain (`0x` hex on the wire); for the built-in
    /// kinds it is JSON whose shape depends on `kind` (see [`Task::input_as`]).
    pub input: Bytes,
    /// `keccak256(input)` as the market stores it; answers sign it.
    pub input_hash: B256,
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

    /// The input decoded as the JSON shape `T` of its kind.
    ///
    /// # Errors
    ///
    /// The JSON error when the input is not a `T`.
    pub fn input_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.input)
    }

    /// The digest of the history this task shows: zero in round 1, else the previous round's
    /// [`RoundView::digest`].
    pub fn previous_round_digest(&self) -> B256 {
        self.previous.as_ref().map(|v| v.digest(&self.seats)).unwrap_or_default()
    }

    /// What the answer to this task is bound to and signs.
    pub fn context(&self) -> RoundContext {
        RoundContext {
            job_id: self.job_id,
            round: self.round,
            input_hash: self.input_hash,
            previous_round_digest: self.previous_round_digest(),
        }
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
    /// That round's own `previousRoundDigest` (the history before it; zero for round 1).
    #[serde(default)]
    pub previous_digest: B256,
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

impl RoundView {
    /// [`eip712::round_digest`] of this round over `seats`: what answers of the next round sign
    /// as their `previousRoundDigest`. Scores follow from the votes and rationales are advisory,
    /// so neither is part of it.
    ///
    /// # Panics
    ///
    /// If `contents` does not have one slot per seat (check first; the worker does).
    #[track_caller]
    pub fn digest(&self, seats: &[Address]) -> B256 {
        let contents: Vec<Option<&str>> = self.contents.iter().map(Option::as_deref).collect();
        let votes: Vec<Option<&[i64]>> = self.votes.iter().map(Option::as_deref).collect();
        eip712::round_digest(
            self.previous_digest,
            eip712::proposals_digest(seats, &contents),
            &votes,
        )
    }
}

/// A [`Task`] signed by the keeper that publishes it.
///
/// The task's exact JSON bytes are kept as sent (`task`), and the EIP-712
/// [`eip712::typed::Task`] the keeper signs binds its job, round, phase, seat, input hash and
/// deadline, and `keccak256` of those bytes: nothing in the task can be changed without the
/// keeper's key, and no re-encoding can change what was signed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedTask {
    /// Protocol version of this message.
    #[serde(default = "wire_version")]
    pub version: u16,
    /// The signing keeper.
    pub keeper: Address,
    /// The task's JSON, byte for byte as signed.
    pub task: Box<RawValue>,
    /// EIP-712 signature of [`eip712::typed::Task`].
    #[serde(with = "super::sig")]
    pub signature: Signature,
}

impl Versioned for SignedTask {
    fn version(&self) -> u16 {
        self.version
    }
}

/// Why a signed task is not to be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The embedded task is not a readable task.
    #[error("unreadable task: {0}")]
    Wire(#[from] WireError),
    /// The seat index is outside the seats.
    #[error("seat {seat} is outside the {seats} seats")]
    Seat {
        /// The task's seat.
        seat: usize,
        /// How many seats it lists.
        seats: usize,
    },
    /// The signature is not the named keeper's over this task.
    #[error("task signature: {0}")]
    Signature(#[from] SignatureError),
    /// The input does not hash to the task's `input_hash`.
    #[error("input hashes to {actual}, the task claims {claimed}")]
    InputHash {
        /// The task's `input_hash`.
        claimed: B256,
        /// `keccak256(input)`.
        actual: B256,
    },
}

/// A task whose keeper signature and input hash check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTask {
    /// The task.
    pub task: Task,
    /// The keeper that signed it.
    pub keeper: Address,
    /// Its EIP-712 signing hash: unique per signed task, named by failures that refuse it.
    pub hash: B256,
}

fn task_signing_hash(task: &Task, body: &[u8], agent: Address) -> B256 {
    eip712::typed::Task {
        jobId: task.job_id,
        round: task.round,
        phase: task.phase.index(),
        agent,
        inputHash: task.input_hash,
        deadlineMs: task.deadline_ms,
        bodyHash: keccak256(body),
    }
    .eip712_signing_hash(&task.domain())
}

impl SignedTask {
    /// Signs `task` as `keeper`, in the task's own domain (its chain and market).
    ///
    /// # Errors
    ///
    /// [`TaskError::Seat`] for a task without a valid seat, [`TaskError::Signature`] if the key
    /// cannot sign.
    ///
    /// ```
    /// # use nsed_protocol::wire::*;
    /// # use alloy_primitives::{Address, U256, keccak256};
    /// # let input = br#"{"shape":[1],"values":[0.5]}"#;
    /// # let task = Task { version: 1, job_id: U256::from(1), round: 1, phase: Phase::Propose, seat: 0,
    /// #   seats: vec![Address::repeat_byte(1), Address::repeat_byte(2)], credits: 100, deadline_ms: 1,
    /// #   chain_id: 1, market: Address::ZERO, kind: "tensor-f32".into(), input: input.into(),
    /// #   input_hash: keccak256(input), proposals: vec![], previous: None };
    /// let keeper = alloy_signer_local::PrivateKeySigner::random();
    /// let signed = SignedTask::sign(&keeper, &task).unwrap();
    /// let opened = decode::<SignedTask>(&encode(&signed)).unwrap().open().unwrap();
    /// assert_eq!((opened.task, opened.keeper), (task, keeper.address()));
    /// ```
    pub fn sign(keeper: &PrivateKeySigner, task: &Task) -> Result<Self, TaskError> {
        let agent =
            task.agent().ok_or(TaskError::Seat { seat: task.seat, seats: task.seats.len() })?;
        let body = super::encode(task);
        let hash = task_signing_hash(task, &body, agent);
        let task = RawValue::from_string(String::from_utf8(body).expect("serde_json writes UTF-8"))
            .expect("serde_json writes valid JSON");
        Ok(Self {
            version: wire_version(),
            keeper: keeper.address(),
            task,
            signature: eip712::sign(keeper, hash)?,
        })
    }

    /// Decodes the embedded task and computes the hash a keeper signs for it, checking nothing
    /// else: what a worker needs to name a task it refuses, or a publisher to address it.
    ///
    /// # Errors
    ///
    /// [`TaskError::Wire`] or [`TaskError::Seat`] when there is no addressable task.
    pub fn read(&self) -> Result<(Task, B256), TaskError> {
        let body = self.task.get().as_bytes();
        let task: Task = decode(body)?;
        let agent =
            task.agent().ok_or(TaskError::Seat { seat: task.seat, seats: task.seats.len() })?;
        let hash = task_signing_hash(&task, body, agent);
        Ok((task, hash))
    }

    /// Decodes the embedded task and checks the keeper's signature and the input hash. Whether
    /// the keeper is one to obey, and whether the task is still fresh, is the caller's decision.
    ///
    /// # Errors
    ///
    /// [`TaskError`] naming the first problem.
    pub fn open(&self) -> Result<VerifiedTask, TaskError> {
        let (task, hash) = self.read()?;
        eip712::verify(hash, &self.signature, self.keeper)?;
        let actual = keccak256(&task.input);
        if actual != task.input_hash {
            return Err(TaskError::InputHash { claimed: task.input_hash, actual });
        }
        Ok(VerifiedTask { task, keeper: self.keeper, hash })
    }
}
