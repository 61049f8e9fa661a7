//! Turning one task into a signed answer, or a reason why not.

use alloy_signer_local::PrivateKeySigner;
use nsed_protocol::{
    quadratic_votes,
    wire::{
        self, ChoiceInput, Phase, SignedBallot, SignedProposal, TASK_KIND_TENSOR_F32,
        TASK_KIND_TEXT, TASK_KIND_TEXT_CHOICE, Task, TensorInput, TextInput,
    },
};

use super::{
    batcher::{Batcher, InferenceError},
    language::LanguageEngine,
};
use crate::{
    agent::{
        Belief, class_belief,
        language::{
            LanguagePolicy, answer_candidates, answer_prompt, choice_belief, choice_prompt,
            judge_prompt, judged_belief, normalize_answer,
        },
    },
    model::FEATURES,
};

/// A signed answer ready to publish.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Proposal(SignedProposal),
    Ballot(SignedBallot),
}

impl Answer {
    pub(crate) fn encode(&self) -> Vec<u8> {
        match self {
            Self::Proposal(p) => wire::encode(p),
            Self::Ballot(b) => wire::encode(b),
        }
    }

    pub(crate) const fn signature(&self) -> &alloy_primitives::Signature {
        match self {
            Self::Proposal(p) => &p.signature,
            Self::Ballot(b) => &b.signature,
        }
    }
}

/// Why a task got no answer. `retry` failures are transient (the worker is stopping); the rest
/// are final and reported on the `.failed` subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) reason: String,
    pub(crate) retry: bool,
}

impl Refusal {
    pub(crate) fn permanent(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), retry: false }
    }
}

/// What a worker answers with: a classifier or a language model and its policy.
#[derive(Debug, Clone)]
pub(crate) enum Engine {
    Classifier(Batcher),
    Language(LanguageEngine, LanguagePolicy),
}

impl Engine {
    fn kinds(&self) -> &'static [&'static str] {
        match self {
            Self::Classifier(_) => &[TASK_KIND_TENSOR_F32],
            Self::Language(..) => &[TASK_KIND_TEXT_CHOICE, TASK_KIND_TEXT],
        }
    }
}

/// A task's input, checked and decoded for its kind.
#[derive(Debug, Clone)]
pub(crate) enum Input {
    Tensor([f32; FEATURES]),
    Choice(ChoiceInput),
    Text(TextInput),
}

/// Checks what can be checked before any inference (the task gate already checked its
/// signature, addressee and deadline): kind, the phase's own fields and the input's shape.
/// Returns the decoded input.
pub(crate) fn check(task: &Task, engine: &Engine) -> Result<Input, Refusal> {
    if !engine.kinds().contains(&task.kind.as_str()) {
        return Err(Refusal::permanent(format!(
            "unknown task kind {:?}: this worker handles {:?}",
            task.kind,
            engine.kinds()
        )));
    }
    if task.phase == Phase::Evaluate && task.proposals.len() != task.seats.len() {
        return Err(Refusal::permanent(format!(
            "evaluate task has {} proposal slots for {} seats",
            task.proposals.len(),
            task.seats.len()
        )));
    }
    if let Some(previous) = &task.previous
        && (previous.contents.len() != task.seats.len()
            || previous.scores.len() != task.seats.len()
            || previous.votes.len() != task.seats.len())
    {
        return Err(Refusal::permanent("previous round does not have one entry per seat"));
    }
    match task.kind.as_str() {
        TASK_KIND_TEXT_CHOICE => {
            let input: ChoiceInput = task.input_as().map_err(|e| {
                Refusal::permanent(format!("input is not a {TASK_KIND_TEXT_CHOICE} input: {e}"))
            })?;
            input.validate().map_err(|e| Refusal::permanent(format!("bad question: {e}")))?;
            Ok(Input::Choice(input))
        }
        TASK_KIND_TEXT => {
            let input: TextInput = task.input_as().map_err(|e| {
                Refusal::permanent(format!("input is not a {TASK_KIND_TEXT} input: {e}"))
            })?;
            input.validate().map_err(|e| Refusal::permanent(format!("bad question: {e}")))?;
            Ok(Input::Text(input))
        }
        _ => check_tensor(task).map(Input::Tensor),
    }
}

fn check_tensor(task: &Task) -> Result<[f32; FEATURES], Refusal> {
    let input: TensorInput = task
        .input_as()
        .map_err(|e| Refusal::permanent(format!("input is not a tensor-f32 input: {e}")))?;
    if input.shape.iter().product::<usize>() != FEATURES || input.values.len() != FEATURES {
        return Err(Refusal::permanent(format!(
            "input of shape {:?} with {} values; the model takes {FEATURES} values",
            input.shape,
            input.values.len()
        )));
    }
    if let Some(bad) = input.values.iter().position(|v| !v.is_finite()) {
        return Err(Refusal::permanent(format!("input value {bad} is not finite")));
    }
    let mut row = [0f32; FEATURES];
    row.copy_from_slice(&input.values);
    Ok(row)
}

fn inference_refusal(e: InferenceError) -> Refusal {
    match e {
        InferenceError::Stopped => Refusal { reason: e.to_string(), retry: true },
        e => Refusal::permanent(format!("inference failed: {e}")),
    }
}

/// Runs the model and signs the answer for a checked task.
pub(crate) async fn answer(
    task: &Task,
    input: Input,
    signer: &PrivateKeySigner,
    engine: &Engine,
) -> Result<Answer, Refusal> {
    let previous = task.previous.as_ref();
    let (belief, rationale) = match (engine, input) {
        (Engine::Classifier(batcher), Input::Tensor(row)) => {
            let prediction = batcher.classify(row).await.map_err(inference_refusal)?;
            (class_belief(&prediction, previous), None)
        }
        (Engine::Language(model, policy), Input::Choice(input)) => {
            let (prompt, continuations) = choice_prompt(policy.style, &input);
            let scores = model.score(prompt, continuations).await.map_err(inference_refusal)?;
            (choice_belief(policy, &input, &scores, previous), None)
        }
        (Engine::Language(model, policy), Input::Text(input)) => {
            text_belief(task, &input, model, policy).await?
        }
        _ => return Err(Refusal::permanent("the task's input does not suit this worker's model")),
    };
    let domain = task.domain();
    // The answer signs the job's input hash and the digest of the rounds this task showed.
    let ctx = task.context();
    match task.phase {
        Phase::Propose => {
            let (content, confidence) = belief.proposal();
            let mut proposal = SignedProposal::sign(signer, &domain, &ctx, content.to_owned())
                .map_err(|e| Refusal::permanent(e.to_string()))?;
            proposal.confidence = Some(confidence);
            proposal.rationale = rationale;
            Ok(Answer::Proposal(proposal))
        }
        Phase::Evaluate => {
            let weights = belief.evaluate(&task.proposals, task.seat);
            let proposed: Vec<bool> = task.proposals.iter().map(Option::is_some).collect();
            let votes = quadratic_votes(&weights, task.seat, &proposed, task.credits)
                .map_err(|e| Refusal::permanent(format!("cannot map weights to votes: {e}")))?;
            let mut ballot =
                SignedBallot::sign(signer, &domain, &ctx, task.proposals_digest(), votes)
                    .map_err(|e| Refusal::permanent(e.to_string()))?;
            ballot.weights = weights;
            Ok(Answer::Ballot(ballot))
        }
    }
}

/// A free-form task's belief, and the rationale to share with a round-1 proposal.
///
/// Round 1 proposes what the model generates. Otherwise the candidates are the answers on the
/// table (this round's proposals when evaluating, the previous round's when revising), each
/// scored by the model as the answer to the question.
async fn text_belief(
    task: &Task,
    input: &TextInput,
    model: &LanguageEngine,
    policy: &LanguagePolicy,
) -> Result<(Belief, Option<String>), Refusal> {
    let on_table: Vec<Option<String>> = match (task.phase, &task.previous) {
        (Phase::Evaluate, _) => task.proposals.clone(),
        (Phase::Propose, Some(previous)) => previous.contents.clone(),
        (Phase::Propose, None) => {
            let text = model
                .generate(answer_prompt(policy.style, input), policy.max_new_tokens)
                .await
                .map_err(inference_refusal)?;
            let answer = normalize_answer(input.format, &text).ok_or_else(|| {
                Refusal::permanent("the model's answer has no final answer in the asked format")
            })?;
            let rationale: String = text.trim().chars().take(MAX_RATIONALE_CHARS).collect();
            return Ok((Belief::new(vec![answer], vec![1.0]), Some(rationale)));
        }
    };
    let candidates = answer_candidates(&on_table);
    if candidates.is_empty() {
        return Err(Refusal::permanent("no answers on the table to judge"));
    }
    let (prompt, continuations) = judge_prompt(policy.style, input, &candidates);
    let scores = model.score(prompt, continuations).await.map_err(inference_refusal)?;
    Ok((judged_belief(policy, candidates, &scores, task.previous.as_ref()), None))
}

/// Rationales shared with a proposal are cut to this many characters (well inside the
/// deliberation's byte limit for any UTF-8 text).
const MAX_RATIONALE_CHARS: usize = 500;
