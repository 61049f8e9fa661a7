//! NSED indexer: follows every contract's events into SQLite and serves them as a subgraph-like
//! GraphQL API (DESIGN.md §7.4).
//!
//! This crate is empty on purpose: it is filled by the indexer issue and exposes nothing until
//! then rather than a placeholder.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
