//! The indexer against real anvil: every test deploys the suite, sends real transactions, runs an
//! indexer and checks its GraphQL answers against the chain (read with Foundry's `cast` or
//! JSON-RPC). Tests declared with [`on_both_stores!`] run twice, as `<test>::sqlite` on a
//! temporary SQLite file and as `<test>::postgres` on a throwaway PostgreSQL server, with the same
//! assertions; `serve_only` holds the PostgreSQL-only tests of API processes reading a database
//! another indexer ingests into.

/// `on_both_stores!(a, b)`: runs each `async fn a(store: StoreKind)` once per store, as the tests
/// `a::sqlite` and `a::postgres`.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(nsed_indexer::test_utils::StoreKind::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(nsed_indexer::test_utils::StoreKind::Postgres).await;
            }
        }
    )*};
}

mod economy;
mod escrow;
mod events;
mod history;
mod hostile;
mod market;
mod queries;
mod registry;
mod reorg;
mod restart;
mod serve_only;
mod sync;

use std::{path::PathBuf, process::Command, time::Duration};

use alloy::{primitives::Address, providers::Provider, rpc::types::Filter};
use nsed_indexer::{IndexerHandle, test_utils::Chain};

/// Longest a test waits for the indexer to reach a block.
pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// The `cast` binary: on PATH (after `source .cache/env`) or the project's npm install.
fn cast_bin() -> PathBuf {
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../node_modules/.bin/cast");
    if local.exists() { local } else { PathBuf::from("cast") }
}

/// `cast call <to> <sig> <args…>` against the chain; the first token of the answer (cast appends
/// `[1e3]`-style hints to large numbers).
pub(crate) fn cast_call(chain: &Chain, to: Address, sig: &str, args: &[&str]) -> String {
    let out = Command::new(cast_bin())
        .args(["call", "--rpc-url", &chain.anvil.endpoint(), &to.to_string(), sig])
        .args(args)
        .output()
        .expect("cast runs");
    assert!(out.status.success(), "cast call {sig}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8").trim().to_string();
    if text.starts_with('[') {
        text
    } else {
        text.split_whitespace().next().unwrap_or("").to_string()
    }
}

/// Parses cast's `[a, b, c]` list output.
pub(crate) fn cast_list(text: &str) -> Vec<String> {
    text.trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|s| s.split_whitespace().next().unwrap_or("").to_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Moves anvil's clock forward by `seconds` and mines a block.
pub(crate) async fn warp(chain: &Chain, seconds: u64) {
    chain.rpc("evm_increaseTime", serde_json::json!([seconds])).await;
    chain.rpc("evm_mine", serde_json::json!([])).await;
}

/// The `id`s of a list of entities.
pub(crate) fn ids(v: &serde_json::Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
}

/// Runs `query` and returns `data`, failing the test on any GraphQL error.
pub(crate) async fn data(indexer: &IndexerHandle, query: &str) -> serde_json::Value {
    let response = nsed_indexer::test_utils::graphql(&indexer.graphql_url(), query).await;
    assert!(response.get("errors").is_none(), "query {query} failed: {response}");
    response["data"].clone()
}

/// Runs `query` and returns its error messages joined (failing when there are none).
pub(crate) async fn errors(indexer: &IndexerHandle, query: &str) -> String {
    let response = nsed_indexer::test_utils::graphql(&indexer.graphql_url(), query).await;
    let errors = response["errors"].as_array().unwrap_or_else(|| panic!("no errors: {response}"));
    errors
        .iter()
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Waits until the indexer has the chain's current head.
pub(crate) async fn catch_up(chain: &Chain, indexer: &IndexerHandle) -> u64 {
    let head = chain.head().await;
    indexer.wait_for_block(head, WAIT).await.expect("indexer catches up");
    head
}

/// Every (block, log index) the chain has for the followed contracts, by `eth_getLogs`.
pub(crate) async fn chain_logs(chain: &Chain) -> Vec<(u64, u64)> {
    let head = chain.head().await;
    // Every contract of the record the indexer has a handler for, as it follows them.
    let addresses: Vec<Address> = chain
        .record
        .contracts
        .iter()
        .filter(|(name, _)| nsed_indexer::handlers::handler_for(name).is_some())
        .map(|(_, c)| c.address)
        .collect();
    assert!(addresses.len() >= 8, "the suite's indexed contracts: {addresses:?}");
    let filter =
        Filter::new().address(addresses).from_block(chain.record.start_block).to_block(head);
    let mut logs: Vec<(u64, u64)> = chain
        .deployer
        .get_logs(&filter)
        .await
        .expect("eth_getLogs")
        .iter()
        .map(|l| (l.block_number.unwrap(), l.log_index.unwrap()))
        .collect();
    logs.sort_unstable();
    logs
}
