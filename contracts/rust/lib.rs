//! The Solidity contracts of NSED on chain, compiled at build time.
//!
//! `build.rs` compiles `contracts/src` with foundry-compilers using the settings of the workspace's
//! `foundry.toml` (the same file `npx forge build` reads), through the solc-js shim in `tools/`.
//! This crate exposes, for every contract of `contracts/src`:
//!
//! - its artifact (ABI, creation and runtime bytecode) by name: [`artifact`], [`ARTIFACTS`];
//! - alloy `sol!` bindings with typed calls, events, errors and `rpc` helpers, one module per
//!   contract in snake case (e.g. [`rank_token::RankToken`]).
//!
//! It also builds the market's `settleJob` transcript from `nsed-protocol`'s round records
//! ([`transcript::transcript_from_rounds`]), states the market's seat, halting and deadline rules
//! a keeper follows off chain ([`market`]), mirrors the LAT id encoding of `LatId.sol`
//! ([`lat`]), and is the one way the services talk to the chain: [`tx`] sends and confirms
//! transactions and turns failures into a typed [`tx::TxError`] that decodes reverts.
//!
//! # Feature flags
//!
//! - `testkit`: [`testkit`], an in-memory revm chain for tests and gas measurements: funded dev
//!   accounts, deploys, typed calls and transactions, decoded logs and custom errors, time and
//!   block control, snapshots, and a gas snapshot file checked like `forge snapshot --check`.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod artifact;
pub mod lat;
pub mod market;
pub mod provider;
pub mod rpc_count;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod transcript;
pub mod tx;

pub use artifact::{Artifact, ArtifactError, artifact};

include!(concat!(env!("OUT_DIR"), "/contracts.rs"));
