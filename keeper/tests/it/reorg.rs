//! Reorgs: the keeper notices a replaced block and follows the new chain.

use std::time::Duration;

use alloy::primitives::U256;
use nsed_keeper::store::{JobState, Store};

use crate::{Stack, http_get, row, rpc, step};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reorg_replacing_a_request_is_noticed_and_the_job_follows_the_new_chain() {
    // No agents: the keeper follows and records jobs but never claims, so the test controls time.
    let stack = Stack::with_agents(0).await;
    let snapshot = rpc(&stack, "evm_snapshot", serde_json::json!([])).await;
    let old_job = stack.request(&row(0), 3600).await;
    let (keeper, handle) = stack.keeper_with(Duration::from_secs(5), None);
    let db = stack.db.path().join("keeper.sqlite");
    let seen = |row_index: usize| {
        let db = db.clone();
        let expected = serde_json::json!(row(row_index));
        async move {
            loop {
                let store = Store::open(&db).unwrap();
                if let Some(job) = store.job(U256::from(1)).unwrap()
                    && serde_json::from_slice::<serde_json::Value>(&job.spec.input).unwrap()["values"]
                        == expected
                {
                    return job;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    step("the keeper records the first request", seen(0)).await;
    keeper.cancel();
    handle.await.unwrap().unwrap();

    // Reorg: back to before the request, then a different request under the same id and more
    // blocks than before, so the old block hash at the keeper's cursor is gone.
    assert_eq!(
        rpc(&stack, "evm_revert", serde_json::json!([snapshot])).await,
        serde_json::json!(true)
    );
    let new_job = stack.request(&row(5), 3600).await;
    assert_eq!(new_job, old_job, "the replacement reuses the id");
    for _ in 0..3 {
        rpc(&stack, "evm_mine", serde_json::json!([])).await;
    }
    let port = nsed_devstack::free_port().unwrap();
    let (keeper, handle) =
        stack.keeper_with(Duration::from_secs(5), Some(([127, 0, 0, 1], port).into()));
    let job = step("the keeper follows the new chain", seen(5)).await;
    assert_eq!(job.state, JobState::Requested);
    let metrics = step("metrics", async {
        loop {
            let metrics = http_get(port, "/metrics").await;
            if metrics.contains("nsed_keeper_reorgs_total 1") {
                return metrics;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(metrics.contains("nsed_keeper_reorgs_total 1"));
    keeper.cancel();
    handle.await.unwrap().unwrap();
}
