//! Planned deliberations: every seat's answer and votes written down in advance, run with the
//! protocol crate's [`Deliberation`] and signed with the agents' keys, for tests that need a
//! transcript the market accepts.

use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
    sol_types::Eip712Domain,
};
use nsed_protocol::{
    deliberation::Deliberation,
    halting::HaltingConfig,
    quadratic_votes,
    wire::{SignedBallot, SignedProposal},
};

/// One round of a planned deliberation.
#[derive(Debug, Clone)]
pub struct RoundPlan {
    /// Each seat's answer; `None` if it does not propose.
    pub answers: Vec<Option<String>>,
    /// Each seat's raw weights in `[-100, 100]`; `None` if it does not vote. Weights for the voter's
    /// own seat and for seats without a proposal are ignored (set to 0).
    pub weights: Vec<Option<Vec<i32>>>,
}

impl RoundPlan {
    /// Every seat proposes `answers[seat]` and backs seats proposing `good` (+60), opposing the
    /// rest (-40).
    pub fn full(answers: &[&str], good: &str) -> Self {
        let n = answers.len();
        Self {
            answers: answers.iter().map(|a| Some(a.to_string())).collect(),
            weights: (0..n)
                .map(|voter| {
                    Some(
                        (0..n)
                            .map(|q| {
                                if q == voter {
                                    0
                                } else if answers[q] == good {
                                    60
                                } else {
                                    -40
                                }
                            })
                            .collect(),
                    )
                })
                .collect(),
        }
    }
}

/// Runs `plan` with the protocol crate over `keys` (sorted by address) for a job whose input
/// hashes to `input_hash`, and returns the finished deliberation (exactly `plan.len()` rounds).
/// Every answer signs the context the deliberation asks for: the job, the round, `input_hash` and
/// the digest of the rounds closed before it.
///
/// # Panics
///
/// If a round has fewer than two proposals (the protocol cannot close it).
#[track_caller]
pub fn deliberate(
    keys: &[PrivateKeySigner],
    domain: Eip712Domain,
    job_id: U256,
    input_hash: B256,
    credits: u64,
    plan: &[RoundPlan],
) -> Deliberation {
    let rounds = plan.len() as u32;
    let halting = HaltingConfig { min_rounds: rounds, max_rounds: rounds, effort_permille: 1000 };
    deliberate_with(keys, domain, job_id, input_hash, credits, halting, plan)
}

/// Like [`deliberate`], under `halting`: rounds of `plan` after the protocol crate halts are left
/// out.
///
/// # Panics
///
/// If a round has fewer than two proposals, or `halting` is invalid.
#[track_caller]
pub fn deliberate_with(
    keys: &[PrivateKeySigner],
    domain: Eip712Domain,
    job_id: U256,
    input_hash: B256,
    credits: u64,
    halting: HaltingConfig,
    plan: &[RoundPlan],
) -> Deliberation {
    let seats: Vec<Address> = keys.iter().map(PrivateKeySigner::address).collect();
    let mut d =
        Deliberation::new(job_id, input_hash, seats, domain.clone(), credits, halting).unwrap();
    for round in plan {
        if d.outcome().is_some() {
            break;
        }
        let ctx = d.context();
        for (key, answer) in keys.iter().zip(&round.answers) {
            if let Some(answer) = answer {
                let proposal = SignedProposal::sign(key, &domain, &ctx, answer.clone()).unwrap();
                d.accept_proposal(proposal).unwrap();
            }
        }
        let set = d.close_proposals().unwrap();
        let proposed = set.proposed();
        for (voter, (key, weights)) in keys.iter().zip(&round.weights).enumerate() {
            let Some(weights) = weights else { continue };
            let weights: Vec<i32> = weights
                .iter()
                .enumerate()
                .map(|(q, &w)| if q == voter || !proposed[q] { 0 } else { w })
                .collect();
            let votes = quadratic_votes(&weights, voter, &proposed, credits).unwrap();
            let ballot = SignedBallot::sign(key, &domain, &ctx, set.digest, votes).unwrap();
            d.accept_ballot(ballot).unwrap();
        }
        d.close_round().unwrap();
    }
    d
}
