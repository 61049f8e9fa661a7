//! Jobs on a three-node JetStream cluster (real nats-servers on loopback, NKey authentication,
//! streams with three replicas) survive NATS faults: one node killed in the middle of a round,
//! and the whole cluster restarted in the middle of a job. The keeper and the workers are given
//! every node's URL and reconnect on their own.

use std::time::Duration;

use alloy::primitives::U256;
use nsed_bus::{Bus, auth::OPERATOR};
use nsed_contracts::i_deliberation_market::JobStatus;
use nsed_keeper::{
    Metrics,
    store::{JobState, Store},
};
use nsed_protocol::wire::{RESULTS_STREAM, TASKS_STREAM};

use super::e2e::{CLUSTER_REPLICAS, MODELS, Stack};

/// How long a job may take to settle, faults included.
const SETTLE_WAIT: Duration = Duration::from_secs(120);
/// How long the keeper waits for a phase's answers: long enough to span a restart of the whole
/// cluster, so that no agent is counted absent because NATS was down.
const PHASE_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits until the keeper has published the first tasks of a round: the job is mid-round.
async fn wait_mid_round(stack: &Stack, metrics: &Metrics, job_id: U256) {
    tokio::time::timeout(SETTLE_WAIT, async {
        while metrics.tasks_published.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the keeper publishes the first round's tasks");
    assert_eq!(stack.status(job_id).await, JobStatus::Claimed, "the job is still deliberating");
}

/// Waits until `job_id` settles, then checks it settled exactly once and the keeper agrees.
async fn assert_settles_once(stack: &Stack, job_id: U256) {
    let settled = stack
        .requester
        .wait_settled(&[job_id], SETTLE_WAIT, |_| {})
        .await
        .expect("the job settles in time");
    assert!((1..=3).contains(&settled[0].event.rounds), "{:?}", settled[0].event);
    assert_eq!(stack.requester.settlements_of(job_id).await.unwrap().len(), 1);
    assert_eq!(stack.status(job_id).await, JobStatus::Settled);
    // The keeper records the settlement once its receipt arrives, which can trail the event.
    let store = Store::open(&stack.db.path().join("keeper.sqlite")).unwrap();
    tokio::time::timeout(Duration::from_secs(30), async {
        while store.job(job_id).unwrap().unwrap().state != JobState::Settled {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the keeper records the settlement");
}

/// Stops the workers and checks none of them failed.
async fn stop_workers(stack: Stack) {
    for (token, handle) in stack.workers {
        token.cancel();
        handle.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_settles_when_one_of_three_nats_nodes_is_killed_mid_round() {
    let mut stack = Stack::start_on_cluster().await;
    let (metrics, keeper, handle) = stack.keeper_with(PHASE_TIMEOUT, None);
    let job_id = stack.request(5, 3600).await;
    wait_mid_round(&stack, &metrics, job_id).await;
    // Kill the node leading the results stream, so the answers of the round under way must be
    // taken over by a new leader on another node.
    let operator = Bus::connect_with(&stack.connect(OPERATOR)).await.unwrap();
    let mut results = operator.jetstream().get_stream(RESULTS_STREAM).await.unwrap();
    let leader = results.info().await.unwrap().cluster.clone().unwrap().leader.unwrap();
    operator.drain().await.unwrap();
    let cluster = stack.nats.cluster();
    let node = (0..cluster.len()).find(|&i| cluster.node_name(i) == leader).unwrap();
    cluster.kill(node).unwrap();
    tracing::info!(%leader, "killed the results stream's leader mid-round");

    assert_settles_once(&stack, job_id).await;
    assert!(!stack.nats.cluster().is_running(node), "the job settled with one node down");
    // The streams still answer, on the two nodes left, with all three replicas configured.
    // (a busy machine may still be electing a stream leader: ask until one answers)
    let bus = Bus::connect_with(&stack.connect(OPERATOR)).await.unwrap();
    let mut tasks = tokio::time::timeout(SETTLE_WAIT, async {
        loop {
            match bus.ensure_streams().await {
                Ok((tasks, _)) => return tasks,
                Err(e) => tracing::info!(error = %e, "streams not answering yet"),
            }
        }
    })
    .await
    .expect("the streams answer on the two nodes left");
    assert_eq!(tasks.info().await.unwrap().config.num_replicas, CLUSTER_REPLICAS);
    keeper.cancel();
    handle.await.unwrap().unwrap();
    stop_workers(stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_settles_when_the_whole_nats_cluster_restarts_mid_job() {
    let mut stack = Stack::start_on_cluster().await;
    let (metrics, keeper, handle) = stack.keeper_with(PHASE_TIMEOUT, None);
    let job_id = stack.request(6, 3600).await;
    wait_mid_round(&stack, &metrics, job_id).await;
    // Every node at once, as after a power cut; the stores on disk stay.
    let started = std::time::Instant::now();
    tokio::task::block_in_place(|| stack.nats.cluster().restart_all().unwrap());
    tracing::info!(elapsed = ?started.elapsed(), "the whole cluster restarted");

    assert_settles_once(&stack, job_id).await;
    // The tasks already in the stream survived the restart.
    let bus = Bus::connect_with(&stack.connect(OPERATOR)).await.unwrap();
    let mut tasks = bus.jetstream().get_stream(TASKS_STREAM).await.unwrap();
    assert!(tasks.info().await.unwrap().state.messages >= MODELS.len() as u64);
    keeper.cancel();
    handle.await.unwrap().unwrap();
    stop_workers(stack).await;
}

/// `nsed up --nats.cluster 3` runs the demo on a three-server cluster with three replicas and
/// says so in its report.
#[test]
fn up_runs_the_demo_on_a_three_server_cluster() {
    let deployments = tempfile::tempdir().unwrap();
    let (doc, _) = crate::up::up_once(["--jobs", "2", "--nats.cluster", "3"], deployments.path());
    assert_eq!(doc["natsCluster"], serde_json::json!({ "nodes": 3, "replicas": 3 }), "{doc}");
    assert_eq!(doc["natsAuth"]["mode"], "nkey", "{doc}");
    let urls: Vec<&str> = doc["nats"].as_str().unwrap().split(',').collect();
    assert_eq!(urls.len(), 3, "{doc}");
    assert!(urls.iter().all(|u| u.starts_with("nats://127.0.0.1:")), "{doc}");
    assert_eq!(doc["jobs"].as_array().unwrap().len(), 2, "{doc}");
}
