//! NSED core: the rules every participant computes the same way, with no I/O.
//!
//! Today this crate owns quadratic voting ([`voting`]): turning an evaluator's raw weights into
//! integer votes, checking a ballot against the budget and seat rules, and tallying a round. The
//! contracts implement the same integer rules (`contracts/src/voting/QuadraticVoting.sol`), and a
//! property test in `nsed-contracts` proves both agree. Wire types, EIP-712 signing and halting
//! join this crate with the inference worker.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod voting;

pub use voting::{BallotError, Tally, WeightError, Winner, quadratic_votes, validate_ballot};
