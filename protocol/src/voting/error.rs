//! Errors of ballot validation and weight mapping.

/// Why a ballot breaks the quadratic-voting rules.
///
/// Variants and values mirror the `QuadraticVoting*` custom errors of the Solidity library one to
/// one, so an off-chain check predicts the on-chain revert exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BallotError {
    /// The ballot does not have one vote per seat.
    #[error("ballot has {actual} votes for {expected} seats")]
    LengthMismatch {
        /// Number of seats.
        expected: usize,
        /// Number of votes in the ballot.
        actual: usize,
    },
    /// The voter's seat index is outside the ballot.
    #[error("voter seat {voter} is outside the {seats} seats")]
    InvalidVoter {
        /// The voter's seat index.
        voter: usize,
        /// Number of seats.
        seats: usize,
    },
    /// The voter gave a non-zero vote to their own seat.
    #[error("seat {voter} voted for itself")]
    SelfVote {
        /// The voter's seat index.
        voter: usize,
    },
    /// A non-zero vote went to a seat that did not propose.
    #[error("vote for seat {candidate}, which did not propose")]
    VoteForNonProposer {
        /// The seat that did not propose.
        candidate: usize,
    },
    /// The ballot costs more than the credits; `cost` is counted up to the entry that exceeded
    /// them (a single vote whose magnitude alone exceeds the budget reports that magnitude).
    #[error("ballot costs {cost} but only {credits} credits are available")]
    BudgetExceeded {
        /// `Σ v²` up to the offending entry, or the offending magnitude.
        cost: u128,
        /// The voter's budget.
        credits: u64,
    },
}

/// Why an evaluator's raw weights cannot be turned into votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WeightError {
    /// The weights do not have one entry per seat.
    #[error("{actual} weights for {expected} seats")]
    LengthMismatch {
        /// Number of seats.
        expected: usize,
        /// Number of weights given.
        actual: usize,
    },
    /// The voter's seat index is outside the ballot.
    #[error("voter seat {voter} is outside the {seats} seats")]
    InvalidVoter {
        /// The voter's seat index.
        voter: usize,
        /// Number of seats.
        seats: usize,
    },
    /// A weight is outside `[−100, 100]`.
    #[error("weight {weight} for seat {seat} is outside [-100, 100]")]
    OutOfRange {
        /// The seat the weight is for.
        seat: usize,
        /// The rejected weight.
        weight: i32,
    },
    /// The evaluator weighted its own proposal.
    #[error("seat {voter} weighted its own proposal")]
    SelfWeight {
        /// The evaluator's seat index.
        voter: usize,
    },
    /// The evaluator weighted a seat that did not propose.
    #[error("weight for seat {seat}, which did not propose")]
    WeightForNonProposer {
        /// The seat that did not propose.
        seat: usize,
    },
}
