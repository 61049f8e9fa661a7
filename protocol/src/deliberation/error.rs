//! Why a deliberation refuses a message or cannot go on.

use alloy_primitives::{Address, B256, U256};

use crate::{BallotError, eip712::SignatureError, wire::Phase};

/// Why a deliberation cannot be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// Fewer than two agents.
    #[error("a deliberation needs at least 2 agents, got {0}")]
    TooFewSeats(usize),
    /// Seats are not strictly ascending by address (unsorted or duplicated).
    #[error("seats must be distinct and sorted by address; {0} is out of order")]
    SeatsNotSorted(Address),
    /// Halting parameters are inconsistent.
    #[error("invalid halting parameters: {0}")]
    Halting(String),
}

/// Why a proposal or ballot was not accepted. The message is dropped; the sender counts as
/// missing unless it later sends a valid one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectError {
    /// The message is for another job.
    #[error("message for job {got}, expected job {expected}")]
    WrongJob {
        /// This deliberation's job.
        expected: U256,
        /// The message's job.
        got: U256,
    },
    /// The message is for another round.
    #[error("message for round {got}, the current round is {expected}")]
    WrongRound {
        /// The current round.
        expected: u32,
        /// The message's round.
        got: u32,
    },
    /// The round is not in this phase (e.g. a proposal after proposals closed).
    #[error("{got} message while the round is not in its {got} phase")]
    WrongPhase {
        /// The message's phase.
        got: Phase,
    },
    /// The sender is not one of the job's agents.
    #[error("agent {0} has no seat in this job")]
    UnknownAgent(Address),
    /// The agent already sent a valid message for this phase.
    #[error("agent {0} already answered this phase")]
    Duplicate(Address),
    /// The signature is not the agent's over this message.
    #[error("bad signature from {agent}: {source}")]
    Signature {
        /// The claimed sender.
        agent: Address,
        /// What was wrong.
        source: SignatureError,
    },
    /// The proposal's content is empty or longer than [`super::MAX_CONTENT_BYTES`].
    #[error("proposal content of {len} bytes is empty or over the limit")]
    ContentSize {
        /// The content's length in bytes.
        len: usize,
    },
    /// The proposal's rationale is longer than [`super::MAX_RATIONALE_BYTES`].
    #[error("rationale of {len} bytes is over the limit")]
    RationaleSize {
        /// The rationale's length in bytes.
        len: usize,
    },
    /// The ballot judges a different proposal set.
    #[error("ballot commits to proposals {got}, the round's digest is {expected}")]
    DigestMismatch {
        /// The round's proposals digest.
        expected: B256,
        /// The ballot's digest.
        got: B256,
    },
    /// The message answers another input than the job's.
    #[error("message signed for input {got}, the job's input is {expected}")]
    WrongInput {
        /// The job's input hash.
        expected: B256,
        /// The message's input hash.
        got: B256,
    },
    /// The message was made after another history than this job's closed rounds.
    #[error("message signed after history {got}, the job's history is {expected}")]
    WrongHistory {
        /// The digest of the closed rounds.
        expected: B256,
        /// The message's previous-round digest.
        got: B256,
    },
    /// The ballot breaks a quadratic-voting rule.
    #[error("invalid ballot from {agent}: {source}")]
    Ballot {
        /// The voter.
        agent: Address,
        /// The broken rule.
        source: BallotError,
    },
    /// The deliberation has ended.
    #[error("the deliberation has ended")]
    Finished,
}

/// Why a round cannot move on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoundError {
    /// Fewer proposals than the quorum (and at least two) arrived: the round cannot count.
    #[error("round {round} has {got} proposals, at least {needed} are needed")]
    TooFewProposals {
        /// The round.
        round: u32,
        /// How many proposals arrived.
        got: usize,
        /// How many the round needs ([`crate::quorum`], at least 2).
        needed: usize,
    },
    /// Fewer ballots than the quorum arrived: the round cannot count.
    #[error("round {round} has {got} ballots, at least {needed} are needed")]
    TooFewBallots {
        /// The round.
        round: u32,
        /// How many ballots arrived.
        got: usize,
        /// How many the round needs ([`crate::quorum`]).
        needed: usize,
    },
    /// The call does not fit the round's stage (e.g. closing a round still collecting proposals).
    #[error("round {round} is not in the {expected} stage")]
    WrongStage {
        /// The round.
        round: u32,
        /// The stage the call needs.
        expected: &'static str,
    },
    /// The deliberation has ended.
    #[error("the deliberation has ended")]
    Finished,
}
