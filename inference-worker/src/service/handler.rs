//! Turning one task into a signed answer, or a reason why not.

use alloy_primitives::Address;
use alloy_signer_local::PrivateKeySigner;
use nsed_protocol::{
    quadratic_votes,
    wire::{self, Phase, SignedBallot, SignedProposal, TASK_KIND_TENSOR_F32, Task, TensorInput},
};

use super::batcher::{Batcher, InferenceError};
use crate::{agent::Belief, model::FEATURES};

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

/// Checks what can be checked before any inference: addressee, deadline, kind, shape, and the
/// phase's own fields. Returns the input row.
pub(crate) fn check(task: &Task, me: Address, now_ms: u64) -> Result<[f32; FEATURES], Refusal> {
    match task.agent() {
        Some(agent) if agent == me => {}
        Some(agent) => {
            return Err(Refusal::permanent(format!(
                "task for seat {} ({agent}) reached agent {me}",
                task.seat
            )));
        }
        None => {
            return Err(Refusal::permanent(format!(
                "seat {} is outside the {} seats",
                task.seat,
                task.seats.len()
            )));
        }
    }
    if now_ms > task.deadline_ms {
        return Err(Refusal::permanent(format!(
            "deadline {} ms passed at {now_ms} ms",
            task.deadline_ms
        )));
    }
    if task.kind != TASK_KIND_TENSOR_F32 {
        return Err(Refusal::permanent(format!(
            "unknown task kind {:?}: this worker handles {TASK_KIND_TENSOR_F32:?}",
            task.kind
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
            || previous.scores.len() != task.seats.len())
    {
        return Err(Refusal::permanent("previous round does not have one entry per seat"));
    }
    let input: TensorInput = serde_json::from_value(task.input.clone())
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

/// Runs the model and signs the answer for a checked task.
pub(crate) async fn answer(
    task: &Task,
    row: [f32; FEATURES],
    signer: &PrivateKeySigner,
    batcher: &Batcher,
) -> Result<Answer, Refusal> {
    let prediction = batcher.classify(row).await.map_err(|e| match e {
        InferenceError::Stopped => Refusal { reason: e.to_string(), retry: true },
        InferenceError::Model(e) => Refusal::permanent(format!("inference failed: {e}")),
    })?;
    let belief = Belief::new(&prediction, task.previous.as_ref());
    let domain = task.domain();
    match task.phase {
        Phase::Propose => {
            let (class, confidence) = belief.proposal();
            let mut proposal =
                SignedProposal::sign(signer, &domain, task.job_id, task.round, class.to_string())
                    .map_err(|e| Refusal::permanent(e.to_string()))?;
            proposal.confidence = Some(confidence);
            Ok(Answer::Proposal(proposal))
        }
        Phase::Evaluate => {
            let weights = belief.evaluate(&task.proposals, task.seat);
            let proposed: Vec<bool> = task.proposals.iter().map(Option::is_some).collect();
            let votes = quadratic_votes(&weights, task.seat, &proposed, task.credits)
                .map_err(|e| Refusal::permanent(format!("cannot map weights to votes: {e}")))?;
            let mut ballot = SignedBallot::sign(
                signer,
                &domain,
                task.job_id,
                task.round,
                task.proposals_digest(),
                votes,
            )
            .map_err(|e| Refusal::permanent(e.to_string()))?;
            ballot.weights = weights;
            Ok(Answer::Ballot(ballot))
        }
    }
}
