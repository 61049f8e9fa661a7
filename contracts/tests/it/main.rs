//! Contract tests on the revm test kit: one module per contract, plus the gas snapshot.

mod fixtures;
mod gas_snapshot;
mod quadratic_voting;
mod rank_token;
mod testkit;
