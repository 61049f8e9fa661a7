//! A unit of work sent to one agent.

use alloy_primitives::{Address, U256};
use alloy_sol_types::Eip712Domain;
use serde::{Deserialize, Serialize};

use super::{Phase, Versioned, wire_version};
use crate::eip712;

/// Task kind: classify a float32 tensor (`input` is a [`TensorInput`]).
pub const TASK_KIND_TENSOR_F32: &str = "tensor-f32";

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

/// What an agent sees of the previous round when it may revise its answer (DESIGN.md §6).
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
}
