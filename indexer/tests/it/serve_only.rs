//! Serve-only API processes reading the database one indexer ingests into (on both stores: the
//! point of it is several API processes on one PostgreSQL database, and a SQLite file can be
//! served read-only the same way), and the PostgreSQL databases an indexer refuses.

use std::time::Duration;

use nsed_indexer::{
    Indexer, IndexerError, IndexerHandle,
    test_utils::{Chain, StoreKind},
};
use serde_json::Value;

use crate::{WAIT, catch_up, data};

/// A serve-only indexer on the same database as `db`.
async fn replica(chain: &Chain, db: &str) -> IndexerHandle {
    let mut config = chain.indexer_config(db);
    config.serve_only = true;
    // Serve-only never calls the node: a dead RPC URL proves it.
    config.rpc_url = "http://127.0.0.1:9".into();
    Indexer::start(config).await.expect("serve-only indexer starts")
}

/// `(block, [(job id, bounty)])` as one replica answers in one request.
async fn snapshot(indexer: &IndexerHandle) -> (u64, Vec<(u64, u64)>) {
    let d = data(indexer, "{ _meta { block { number } } jobs(first: 1000) { id bounty } }").await;
    let block = d["_meta"]["block"]["number"].as_u64().unwrap();
    let jobs = d["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            let n = |v: &Value| v.as_str().unwrap().parse::<u64>().unwrap();
            (n(&j["id"]), n(&j["bounty"]))
        })
        .collect();
    (block, jobs)
}

on_both_stores!(
    serve_only_replicas_see_consistent_data_while_the_ingester_writes,
    a_reorg_rolled_back_by_the_ingester_shows_in_the_serve_only_api
);

async fn serve_only_replicas_see_consistent_data_while_the_ingester_writes(store: StoreKind) {
    const JOBS: u64 = 6;
    let chain = Chain::start_on(store).await;
    chain.request_job(101).await;
    let ingester = chain.indexer("shared").await;
    catch_up(&chain, &ingester).await;
    let replicas = [replica(&chain, "shared").await, replica(&chain, "shared").await];

    // Jobs 2..=JOBS (bounty 100 + id) land while both replicas are read in a loop.
    let write = async {
        for id in 2..=JOBS {
            chain.request_job(100 + id).await;
        }
    };
    let read = async {
        let mut seen = [0usize; 2];
        let mut last = [(0u64, 0usize); 2];
        loop {
            let mut done = true;
            for (i, r) in replicas.iter().enumerate() {
                let (block, jobs) = snapshot(r).await;
                // Every answer is a committed state: jobs 1..=n without gaps, each with its own
                // bounty, never fewer jobs or an older block than this replica answered before.
                let expected: Vec<(u64, u64)> =
                    (1..=jobs.len() as u64).map(|id| (id, 100 + id)).collect();
                assert_eq!(jobs, expected, "replica {i} at block {block}");
                assert!((block, jobs.len()) >= last[i], "replica {i} went back: {last:?}");
                last[i] = (block, jobs.len());
                seen[i] += 1;
                done &= jobs.len() as u64 == JOBS;
            }
            if done {
                return seen;
            }
            tokio::task::yield_now().await;
        }
    };
    let ((), seen) = tokio::time::timeout(WAIT, async { tokio::join!(write, read) })
        .await
        .expect("replicas catch up");
    assert!(seen.iter().all(|n| *n >= 1), "{seen:?}");

    // Caught up, the replicas answer exactly what the ingester answers.
    let head = catch_up(&chain, &ingester).await;
    let query = "{ jobs { id status bounty requester } rankBalances { id } }";
    let expected = data(&ingester, query).await;
    for r in &replicas {
        r.wait_for_block(head, WAIT).await.unwrap();
        assert_eq!(data(r, query).await, expected);
    }
    for r in replicas {
        r.shutdown().await.unwrap();
    }
    ingester.shutdown().await.unwrap();
}

async fn a_reorg_rolled_back_by_the_ingester_shows_in_the_serve_only_api(store: StoreKind) {
    let chain = Chain::start_on(store).await;
    chain.request_job(100).await;
    let ingester = chain.indexer("shared").await;
    catch_up(&chain, &ingester).await;
    let api = replica(&chain, "shared").await;

    let snapshot_id = chain.rpc("evm_snapshot", serde_json::json!([])).await;
    let dropped = chain.request_job(200).await;
    let old_head = catch_up(&chain, &ingester).await;
    api.wait_for_block(old_head, WAIT).await.unwrap();
    let d = data(&api, "{ jobs { id bounty } }").await;
    assert_eq!(
        d["jobs"],
        serde_json::json!([{ "id": "1", "bounty": "100" }, { "id": "2", "bounty": "200" }])
    );

    assert_eq!(chain.rpc("evm_revert", serde_json::json!([snapshot_id])).await, true);
    let replaced = chain.request_job(300).await;
    assert_eq!(replaced, dropped);
    while chain.head().await <= old_head {
        chain.rpc("evm_mine", serde_json::json!([])).await;
    }
    let new_head = chain.head().await;
    let hash: alloy::primitives::B256 = serde_json::from_value(
        chain
            .rpc("eth_getBlockByNumber", serde_json::json!([format!("0x{new_head:x}"), false]))
            .await["hash"]
            .clone(),
    )
    .unwrap();
    // The API process sees the ingester's roll-back and the new branch: its head is the new
    // branch's block (it polls the committed cursor).
    tokio::time::timeout(WAIT, async {
        while api.indexed_head() != Some((new_head, hash)) {
            api.wait_for_block(new_head, WAIT).await.unwrap();
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the API reaches the new branch");
    let d = data(&api, "{ jobs { id bounty } }").await;
    assert_eq!(
        d["jobs"],
        serde_json::json!([{ "id": "1", "bounty": "100" }, { "id": "2", "bounty": "300" }])
    );
    let d = data(&api, "{ _meta { block { number hash } } }").await;
    assert_eq!(d["_meta"]["block"]["hash"], hash.to_string());
    api.shutdown().await.unwrap();
    ingester.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_postgres_databases_are_refused_with_what_to_do() {
    let chain = Chain::start_on(StoreKind::Postgres).await;
    let start = |mut config: nsed_indexer::IndexerConfig, serve_only: bool| async move {
        config.serve_only = serve_only;
        Indexer::start(config).await.map(drop)
    };

    // A serve-only process on a database nobody ingested into yet.
    let err = start(chain.indexer_config("empty"), true).await.unwrap_err();
    assert!(matches!(err, IndexerError::NotInitialized { .. }), "{err}");
    assert!(err.to_string().contains("--indexer.serve-only"), "{err}");

    // A malformed URL and a server that is not there.
    let mut config = chain.indexer_config("x");
    config.db_path = "postgres://user@127.0.0.1:notaport/db".into();
    let err = start(config, false).await.unwrap_err();
    assert!(matches!(err, IndexerError::BadDbUrl { .. }), "{err}");
    let mut config = chain.indexer_config("x");
    let port = nsed_devstack::free_port().unwrap();
    config.db_path = format!("postgresql://postgres:secret@127.0.0.1:{port}/nsed").into();
    let err = start(config, false).await.unwrap_err();
    assert!(matches!(err, IndexerError::DbUnreachable { .. }), "{err}");
    assert!(!err.to_string().contains("secret"), "the password is not shown: {err}");

    // One ingester per database; a second is told to serve only.
    let job = chain.request_job(4321).await;
    let ingester = chain.indexer("one").await;
    catch_up(&chain, &ingester).await;
    let err = start(chain.indexer_config("one"), false).await.unwrap_err();
    assert!(matches!(err, IndexerError::AlreadyIngesting { .. }), "{err}");
    ingester.shutdown().await.unwrap();

    // Another deployment's database, for ingesting and for serving.
    let mut other = chain.indexer_config("one");
    other.deployment.start_block += 1;
    let err = start(other.clone(), false).await.unwrap_err();
    assert!(matches!(err, IndexerError::WrongDatabase { .. }), "{err}");
    let err = start(other, true).await.unwrap_err();
    assert!(matches!(err, IndexerError::WrongDatabase { .. }), "{err}");

    // A schema version this build does not know (written by a newer one).
    let url = chain.db_setting("one").to_str().unwrap().to_string();
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    let conn = tokio::spawn(conn);
    client.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'", &[]).await.unwrap();
    drop(client);
    conn.await.unwrap().unwrap();
    for serve_only in [false, true] {
        let err = start(chain.indexer_config("one"), serve_only).await.unwrap_err();
        assert!(
            matches!(err, IndexerError::SchemaVersion { found: 99, .. }),
            "serve-only {serve_only}: {err}"
        );
    }
    // The database itself is untouched by the refusals: back to an old version, it resumes.
    // That version stored numbers padded to 78 digits: the job is put back in that form and
    // comes out of the migration in the short one, still found by its id.
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    let conn = tokio::spawn(conn);
    client
        .batch_execute(&format!(
            "UPDATE meta SET value = '1' WHERE key = 'schema_version';
             UPDATE job SET id = lpad('{job}', 78, '0'), bounty = lpad('4321', 78, '0');"
        ))
        .await
        .unwrap();
    let stored = || async {
        let row = client.query_one("SELECT id, bounty FROM job", &[]).await.unwrap();
        (row.get::<_, String>(0), row.get::<_, String>(1))
    };
    assert_eq!(stored().await.1.len(), 78);
    let ingester =
        tokio::time::timeout(Duration::from_secs(60), chain.indexer("one")).await.unwrap();
    catch_up(&chain, &ingester).await;
    let digits = job.to_string();
    assert_eq!(stored().await, (format!("{:02}{digits}", digits.len()), "044321".to_string()));
    let answer = data(&ingester, &format!("{{ job(id: \"{job}\") {{ id bounty }} }}")).await;
    assert_eq!(answer["job"]["bounty"], "4321", "{answer}");
    assert_eq!(answer["job"]["id"], digits, "{answer}");
    ingester.shutdown().await.unwrap();
    drop(client);
    conn.await.unwrap().unwrap();
}

/// A PostgreSQL window is written in two transactions, the cursor in the second: an ingester
/// that dies between them leaves rows above its cursor. Readers do not see them, and the next
/// ingester rolls them back before it goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_half_written_by_an_ingester_that_died_is_unseen_and_rolled_back() {
    let chain = Chain::start_on(StoreKind::Postgres).await;
    let job = chain.request_job(1000).await;
    chain.claim_job(job).await;
    let ingester = chain.indexer("half").await;
    catch_up(&chain, &ingester).await;
    ingester.shutdown().await.unwrap();
    let cursor = chain.stored_cursor("half").await.unwrap();

    // What the first transaction of a window above the cursor commits: the job's current version
    // closed and its successor, and a raw log.
    let url = chain.db_setting("half").to_str().unwrap().to_string();
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    let conn = tokio::spawn(conn);
    let above = cursor + 1;
    client
        .batch_execute(&format!(
            "BEGIN;
             CREATE TEMP TABLE next AS SELECT * FROM job WHERE block_to IS NULL;
             UPDATE next SET block_from = {above}, status = 'Settled';
             UPDATE job SET block_to = {above} WHERE block_to IS NULL;
             INSERT INTO job SELECT * FROM next;
             INSERT INTO logs SELECT {above}, log_index, block_hash, tx_hash, address, contract,
                 topics, data FROM logs WHERE block_number = (SELECT max(block_number) FROM logs);
             COMMIT;"
        ))
        .await
        .unwrap();
    let versions = || async {
        client.query_one("SELECT count(*) FROM job", &[]).await.unwrap().get::<_, i64>(0)
    };
    let half_written = versions().await;
    assert!(chain.stored_logs("half").await.iter().any(|(block, _)| *block == above));

    // A reader answers as of the cursor.
    let reader = replica(&chain, "half").await;
    let status = format!("{{ job(id: \"{job}\") {{ status }} }}");
    assert_eq!(data(&reader, &status).await["job"]["status"], "Claimed");

    // The next ingester rolls the half window back, then indexes what followed.
    let ingester = chain.indexer("half").await;
    assert_eq!(versions().await, half_written - 1, "the successor above the cursor is gone");
    catch_up(&chain, &ingester).await;
    assert_eq!(chain.stored_logs("half").await, crate::chain_logs(&chain).await);
    assert_eq!(chain.broken_version_chains("half").await, Vec::<String>::new());
    assert_eq!(data(&reader, &status).await["job"]["status"], "Claimed");
    chain.settle_job(job, ["1", "2", "1"]).await;
    catch_up(&chain, &ingester).await;
    assert_eq!(data(&reader, &status).await["job"]["status"], "Settled");
    assert_eq!(chain.stored_logs("half").await, crate::chain_logs(&chain).await);
    assert_eq!(chain.broken_version_chains("half").await, Vec::<String>::new());
    drop(client);
    conn.await.unwrap().unwrap();
    reader.shutdown().await.unwrap();
    ingester.shutdown().await.unwrap();
}
