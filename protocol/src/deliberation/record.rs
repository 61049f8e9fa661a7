//! What a deliberation keeps of each round, and its final outcome.

use alloy_primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

use crate::{
    Winner,
    halting::HaltReason,
    wire::{RoundView, SignedBallot, SignedProposal},
};

/// One closed round: every accepted message and the tally. This is the transcript the keeper
/// settles on chain, round by round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    /// Round number, from 1.
    pub round: u32,
    /// The digest of the rounds before this one that its answers signed (zero in round 1).
    pub previous_round_digest: B256,
    /// This round's own [`crate::eip712::round_digest`]: the next round's
    /// `previous_round_digest`.
    pub digest: B256,
    /// Accepted proposals by seat.
    pub proposals: Vec<Option<SignedProposal>>,
    /// Digest of the proposal set the ballots judged.
    pub proposals_digest: B256,
    /// Accepted ballots by seat (a missing ballot counts as all zeros).
    pub ballots: Vec<Option<SignedBallot>>,
    /// Net score by seat.
    pub scores: Vec<i128>,
    /// Whether each seat received at least one non-zero vote.
    pub supported: Vec<bool>,
    /// The supported winner, if any seat was supported.
    pub winner: Option<WinnerRecord>,
    /// Whether every proposal had the same content.
    pub unanimous: bool,
}

/// The winner of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WinnerRecord {
    /// Seat index.
    pub seat: usize,
    /// Net score.
    pub score: i128,
    /// Whether another supported seat had the same score (the lowest seat won the tie).
    pub tied: bool,
}

impl From<Winner> for WinnerRecord {
    fn from(w: Winner) -> Self {
        Self { seat: w.seat, score: w.score, tied: w.tied }
    }
}

impl RoundRecord {
    /// The view agents get of this round when revising in the next one.
    pub fn view(&self) -> RoundView {
        RoundView {
            round: self.round,
            previous_digest: self.previous_round_digest,
            contents: self
                .proposals
                .iter()
                .map(|p| p.as_ref().map(|p| p.content.clone()))
                .collect(),
            votes: self.ballots.iter().map(|b| b.as_ref().map(|b| b.votes.clone())).collect(),
            scores: self.scores.clone(),
            rationales: self
                .proposals
                .iter()
                .map(|p| p.as_ref().and_then(|p| p.rationale.clone()))
                .collect(),
        }
    }

    /// Content of the winning proposal.
    pub fn winning_content(&self) -> Option<&str> {
        let seat = self.winner?.seat;
        self.proposals.get(seat)?.as_ref().map(|p| p.content.as_str())
    }
}

/// How a deliberation ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The job.
    pub job_id: U256,
    /// Rounds that ran.
    pub rounds: u32,
    /// Why it stopped.
    pub halt: HaltReason,
    /// The answer, if the last round had a supported winner.
    pub answer: Option<Answer>,
}

/// The settled answer: the last round's supported winner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Winning seat.
    pub seat: usize,
    /// Winning agent.
    pub agent: Address,
    /// The winning proposal's content.
    pub content: String,
    /// Its net score.
    pub score: i128,
}
