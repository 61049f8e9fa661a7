//! Quadratic voting (docs/protocol.md): one integer rule, shared with the contracts.
//!
//! - A ballot holds one signed integer vote per seat; it costs `Σ v²`, at most the voter's credits.
//! - A voter's vote for their own seat is 0, and so is every vote for a seat that did not propose.
//! - A seat's score is the sum of its votes; the highest score wins and a tie goes to the lowest
//!   seat index.
//! - A round counts only when a quorum of seats proposed and voted ([`quorum`]).
//! - Evaluators give raw weights `w ∈ [−100, 100]`, mapped to votes by [`quadratic_votes`].
//!
//! Credits are `u64` here. The contract accepts budgets up to `2^128 − 1`; everything NSED sends
//! on chain is produced by this crate and therefore fits.

mod ballot;
mod error;
mod quorum;
mod tally;
mod weights;

pub use ballot::validate_ballot;
pub use error::{BallotError, WeightError};
pub use quorum::quorum;
pub use tally::{Tally, Winner};
pub use weights::{MAX_WEIGHT, quadratic_votes};
