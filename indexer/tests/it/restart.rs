//! Stopping and restarting resumes exactly: no duplicate and no missing log.

use nsed_indexer::{Indexer, test_utils::Chain};

use crate::{WAIT, catch_up, chain_logs, data, stored_logs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_without_gaps_or_duplicates() {
    let chain = Chain::start().await;
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
    // The cursor it resumes from is the one it committed last (read from the file: once
    // started, the follower may already be past it).
    let path = chain.dir.path().join("restart.sqlite");
    let cursor: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT block FROM cursor", [], |r| r.get(0))
        .unwrap();
    assert_eq!(u64::try_from(cursor).unwrap(), first_head, "resumes from its cursor");
    let indexer = Indexer::start(config).await.unwrap();
    assert!(indexer.indexed_block() >= Some(first_head));
    let head = chain.head().await;
    indexer.wait_for_block(head, WAIT).await.unwrap();

    let stored = stored_logs(&path);
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
    assert_eq!(stored_logs(&path), chain_logs(&chain).await);
    let d = data(&indexer, "{ jobs { id } }").await;
    assert_eq!(d["jobs"].as_array().unwrap().len(), 3);
    indexer.shutdown().await.unwrap();
}
