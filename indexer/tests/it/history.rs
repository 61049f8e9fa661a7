//! `block: { number }` answers as of that block.

use nsed_indexer::test_utils::{Chain, StoreKind};

use crate::{catch_up, data, errors};

on_both_stores!(historical_queries_return_past_state);

async fn historical_queries_return_past_state(store: StoreKind) {
    let chain = Chain::start_on(store).await;
    let before = chain.head().await;
    let job = chain.request_job(1000).await;
    let requested = chain.head().await;
    chain.claim_job(job).await;
    let claimed = chain.head().await;
    chain.settle_job(job, ["7", "3", "7"]).await;
    let settled = chain.head().await;
    let indexer = chain.indexer("history.sqlite").await;
    let head = catch_up(&chain, &indexer).await;

    let at = |block: u64| {
        format!(
            "{{ job(id: \"{job}\", block: {{ number: {block} }}) {{ status settlement {{ content }} rounds {{ round }} }}
               jobs(block: {{ number: {block} }}) {{ id }}
               _meta(block: {{ number: {block} }}) {{ block {{ number hash }} }} }}"
        )
    };
    let d = data(&indexer, &at(before)).await;
    assert!(d["job"].is_null(), "no job before its request: {d}");
    assert_eq!(d["jobs"], serde_json::json!([]));
    let d = data(&indexer, &at(requested)).await;
    assert_eq!(d["job"]["status"], "Requested");
    assert!(d["job"]["settlement"].is_null());
    assert_eq!(d["_meta"]["block"]["number"], requested);
    let hash = chain
        .rpc("eth_getBlockByNumber", serde_json::json!([format!("0x{requested:x}"), false]))
        .await["hash"]
        .clone();
    assert_eq!(d["_meta"]["block"]["hash"], hash);
    let d = data(&indexer, &at(claimed)).await;
    assert_eq!(d["job"]["status"], "Claimed");
    assert!(d["job"]["settlement"].is_null());
    assert_eq!(d["job"]["rounds"], serde_json::json!([]));
    let d = data(&indexer, &at(settled)).await;
    assert_eq!(d["job"]["status"], "Settled");
    assert_eq!(d["job"]["settlement"]["content"], "7");
    assert_eq!(d["job"]["rounds"], serde_json::json!([{ "round": 1 }]));
    // Without `block`: the head.
    let d = data(&indexer, &format!("{{ job(id: \"{job}\") {{ status }} }}")).await;
    assert_eq!(d["job"]["status"], "Settled");

    let e = errors(&indexer, &at(head + 100)).await;
    assert!(e.contains("not indexed yet"), "{e}");
    let e = errors(&indexer, &at(chain.record.start_block.saturating_sub(1))).await;
    assert!(e.contains("before the deployment's start block"), "{e}");
    indexer.shutdown().await.unwrap();
}
