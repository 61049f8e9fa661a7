//! NSED core: the rules every participant computes the same way, with no I/O.
//!
//! - [`voting`]: quadratic voting — weights to integer votes, ballot rules, tally. The contracts
//!   implement the same integer rules (`contracts/src/voting/QuadraticVoting.sol`), and a property
//!   test in `nsed-contracts` proves both agree.
//! - [`eip712`]: the typed data agents sign and the deliberation market verifies.
//! - [`wire`]: NATS messages (tasks, signed proposals and ballots, failures, heartbeats), subjects
//!   and size-limited decoding.
//! - [`halting`]: when a deliberation stops.
//! - [`deliberation`]: the round-by-round state machine the keeper drives.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod deliberation;
pub mod eip712;
pub mod halting;
pub mod voting;
pub mod wire;

pub use voting::{
    BallotError, Tally, WeightError, Winner, quadratic_votes, quorum, validate_ballot,
};
