//! NSED keeper: follows deliberation jobs on chain, runs the NSED rounds over NATS and settles the
//! signed quadratic-vote outcome back on chain (DESIGN.md §7.3).
//!
//! This crate is empty on purpose: it is filled by the issue that builds the deliberation market
//! and the keeper, and exposes nothing until then rather than a placeholder.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
