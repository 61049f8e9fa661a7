//! A reorg on anvil (`evm_snapshot` / `evm_revert`, then other transactions) is rolled back.

use std::time::Duration;

use nsed_indexer::test_utils::{Chain, StoreKind};

use crate::{WAIT, catch_up, chain_logs, data};

on_both_stores!(reorged_out_entities_are_rolled_back_and_replaced);

async fn reorged_out_entities_are_rolled_back_and_replaced(store: StoreKind) {
    let chain = Chain::start_on(store).await;
    let first = chain.request_job(100).await;
    let indexer = chain.indexer("reorg.sqlite").await;
    catch_up(&chain, &indexer).await;

    let snapshot = chain.rpc("evm_snapshot", serde_json::json!([])).await;
    let fork = chain.head().await;
    // The branch that will be dropped: job 2 with bounty 200, job 1 claimed, a game.
    let dropped = chain.request_job(200).await;
    chain.claim_job(first).await;
    chain.play_game().await;
    let old_head = catch_up(&chain, &indexer).await;
    let d = data(&indexer, "{ jobs { id status bounty } games { id } }").await;
    assert_eq!(
        d["jobs"],
        serde_json::json!([
            { "id": "1", "status": "Claimed", "bounty": "100" },
            { "id": "2", "status": "Requested", "bounty": "200" },
        ])
    );
    assert_eq!(d["games"].as_array().unwrap().len(), 1);

    assert_eq!(chain.rpc("evm_revert", serde_json::json!([snapshot])).await, true);
    assert_eq!(chain.head().await, fork);
    // The replacing branch: job 2 again, with another bounty, and a longer chain.
    let replaced = chain.request_job(300).await;
    assert_eq!(replaced, dropped, "the same job id is reused on the new branch");
    while chain.head().await <= old_head {
        chain.rpc("evm_mine", serde_json::json!([])).await;
    }
    let new_head = chain.head().await;
    indexer.wait_for_block(new_head, WAIT).await.unwrap();
    // The head hash is the new branch's, so the indexer is on it.
    let hash: alloy::primitives::B256 = serde_json::from_value(
        chain
            .rpc("eth_getBlockByNumber", serde_json::json!([format!("0x{new_head:x}"), false]))
            .await["hash"]
            .clone(),
    )
    .unwrap();
    tokio::time::timeout(Duration::from_secs(30), async {
        while indexer.indexed_head() != Some((new_head, hash)) {
            indexer.wait_for_block(new_head, WAIT).await.unwrap();
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("indexer on the new branch");

    let d = data(
        &indexer,
        "{ jobs { id status bounty } games { id } players { id } rankBalances { id } }",
    )
    .await;
    assert_eq!(
        d["jobs"],
        serde_json::json!([
            { "id": "1", "status": "Requested", "bounty": "100" },
            { "id": "2", "status": "Requested", "bounty": "300" },
        ])
    );
    assert_eq!(d["games"], serde_json::json!([]), "the game was only on the dropped branch");
    assert_eq!(d["players"], serde_json::json!([]));
    // Historical queries above the fork answer from the new branch too.
    let d = data(
        &indexer,
        &format!("{{ job(id: \"1\", block: {{ number: {} }}) {{ status }} }}", fork + 2),
    )
    .await;
    assert_eq!(d["job"]["status"], "Requested");
    // No log of the dropped branch is left, and none of the new one is missing.
    assert_eq!(chain.stored_logs("reorg.sqlite").await, chain_logs(&chain).await);
    assert_eq!(chain.broken_version_chains("reorg.sqlite").await, Vec::<String>::new());
    indexer.shutdown().await.unwrap();
}
