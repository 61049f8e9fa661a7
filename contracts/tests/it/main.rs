//! Contract tests on the revm test kit: one module per contract, plus the gas snapshot.
#![allow(
    clippy::disallowed_macros,
    reason = "tests may report measured gas next to their assertions"
)]

mod agent_registry;
mod agent_registry_fixture;
mod agent_registry_properties;
mod arena;
mod arena_fixture;
mod arena_properties;
mod authority;
mod bounty_token;
mod escrow;
mod fixtures;
mod gas_snapshot;
mod genesis;
mod governance;
mod guild;
mod halting;
mod landing;
mod lat;
mod lat_converter;
mod lat_id;
mod market;
mod market_equivocation;
mod market_fixture;
mod market_halting;
mod market_ladder;
mod market_properties;
mod market_reclaim;
mod quadratic_voting;
mod rank_token;
mod testkit;
