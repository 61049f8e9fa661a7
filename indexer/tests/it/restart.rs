//! Stopping and restarting resumes exactly: no duplicate and no missing log.

use nsed_indexer::{
    Indexer,
    test_utils::{Chain, StoreKind},
};

use crate::{WAIT, catch_up, chain_logs, data};

on_both_stores!(restart_resumes_without_gaps_or_duplicates);

async fn restart_resumes_without_gaps_or_duplicates(store: StoreKind) {
    let chain = Chain::start_on(store).await;
    let job = chain.request_job(1000).await;
    chain.claim_job(job).await;
    // Small windows so the first run commits many batches.
    let mut config = chain.indexer_config("restart.sqlite");
    config.log_window = 3;
    let indexer = Indexer::start(config.clone()).await.unwrap();
    catch_up(&chain, &indexer).await;
    let first_head = indexer.indexed_block().unwrap();
    indexer.shutdown().await.unwrap();

    // While it is down: a settlement, another job and a whole game.
    chain.settle_job(job, ["1", "2", "1"]).await;
    chain.request_job(5).await;
    chain.play_game().await;
    // The cursor it resumes from is the one it committed last (read from the database: once
    // started, the follower may already be past it).
    let cursor = chain.stored_cursor("restart.sqlite").await;
    assert_eq!(cursor, Some(first_head), "resumes from its cursor");
    let indexer = Indexer::start(config).await.unwrap();
    assert!(indexer.indexed_block() >= Some(first_head));
    let head = chain.head().await;
    indexer.wait_for_block(head, WAIT).await.unwrap();

    let stored = chain.stored_logs("restart.sqlite").await;
    let expected = chain_logs(&chain).await;
    assert!(expected.len() > 30, "the chain has many logs: {}", expected.len());
    assert_eq!(stored, expected);
    let d = data(&indexer, "{ jobs { id status } games { id phase players { id } } }").await;
    assert_eq!(
        d["jobs"],
        serde_json::json!([{ "id": "1", "status": "Settled" }, { "id": "2", "status": "Requested" }])
    );
    assert_eq!(d["games"][0]["phase"], "Ended");
    assert_eq!(d["games"][0]["players"].as_array().unwrap().len(), 3);

    // Going on from there, and once more after a restart with nothing new.
    chain.request_job(7).await;
    catch_up(&chain, &indexer).await;
    indexer.shutdown().await.unwrap();
    let indexer = chain.indexer("restart.sqlite").await;
    catch_up(&chain, &indexer).await;
    assert_eq!(chain.stored_logs("restart.sqlite").await, chain_logs(&chain).await);
    // Many small windows, each building on the versions the one before carried over.
    assert_eq!(chain.broken_version_chains("restart.sqlite").await, Vec::<String>::new());
    let d = data(&indexer, "{ jobs { id } }").await;
    assert_eq!(d["jobs"].as_array().unwrap().len(), 3);
    indexer.shutdown().await.unwrap();
}
