//! The keeper when its JSON-RPC endpoint goes away: a loopback TCP proxy between the keeper and
//! anvil stops forwarding for ten seconds while a job is under way (anvil's state would die with
//! its process, so the node itself keeps running). The keeper retries and settles the job,
//! exactly once. And a keeper whose first endpoint is dead works through the second.

use std::time::{Duration, Instant};

use alloy::{
    consensus::Transaction as _, primitives::U256, providers::Provider, rpc::types::Filter,
    signers::local::PrivateKeySigner, sol_types::SolEvent,
};
use nsed_bus::auth::DEFAULT_KEEPER;
use nsed_contracts::i_deliberation_market::{
    IDeliberationMarket::{self, JobSettled},
    JobStatus,
};
use nsed_devstack::TcpProxy;
use nsed_keeper::{
    Keeper, KeeperConfig,
    store::{JobState, Store},
};
use tokio_util::sync::CancellationToken;

use crate::e2e::Stack;

/// How long the node stays unreachable.
const OUTAGE: Duration = Duration::from_secs(10);

async fn status(stack: &Stack, job_id: U256) -> JobStatus {
    let raw = IDeliberationMarket::new(stack.market, &stack.deployer)
        .jobStatus(job_id)
        .call()
        .await
        .unwrap();
    JobStatus::try_from(raw).unwrap()
}

/// Polls `check` every 50 ms until it holds, failing the test after `limit`.
async fn until<F: std::future::Future<Output = bool>>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> F,
) {
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "{what} did not happen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_unreachable_for_ten_seconds_mid_job_delays_the_settlement_but_not_twice() {
    let stack = Stack::start_with_auth().await;
    let proxy = TcpProxy::start(stack.anvil.port()).unwrap();
    let db = tempfile::tempdir().unwrap();
    // The stack grants the keeper role to its second dev account.
    let keeper_key: PrivateKeySigner = stack.anvil.accounts()[1].private_key().parse().unwrap();
    let mut config = KeeperConfig::new(
        format!("http://127.0.0.1:{}", proxy.port()),
        stack.connect(DEFAULT_KEEPER),
        stack.market,
    );
    config.db_path = db.path().join("keeper.sqlite");
    config.poll_interval = Duration::from_millis(100);
    config.phase_timeout = Duration::from_secs(10);
    let token = CancellationToken::new();
    let keeper = Keeper::new(config, keeper_key);
    let metrics = keeper.metrics();
    let keeper = tokio::spawn(keeper.run(token.clone()));

    let job_id = stack.request(5, 3600).await;
    until("the claim", Duration::from_secs(60), || async {
        status(&stack, job_id).await != JobStatus::Requested
    })
    .await;
    assert_eq!(status(&stack, job_id).await, JobStatus::Claimed, "claimed, not yet settled");
    proxy.set_up(false);
    // The outage lasts as long as it lasts: nothing to wait on but the clock.
    tokio::time::sleep(OUTAGE).await;
    assert_eq!(status(&stack, job_id).await, JobStatus::Claimed, "nothing settles unreachable");
    proxy.set_up(true);
    let restored = Instant::now();
    stack.wait_settled(job_id).await;
    #[allow(clippy::disallowed_macros, reason = "the test reports the measured recovery")]
    {
        eprintln!(
            "settled {:?} after the node came back; {} failed settlement attempts",
            restored.elapsed(),
            metrics.settle_failures.load(std::sync::atomic::Ordering::Relaxed)
        );
    }

    // Once the keeper has recorded the settlement it has nothing left to send for the job.
    let store_path = db.path().join("keeper.sqlite");
    until("the keeper recording the settlement", Duration::from_secs(30), || async {
        let store = Store::open(&store_path).unwrap();
        store.job(job_id).unwrap().is_some_and(|job| job.state == JobState::Settled)
    })
    .await;
    let filter = Filter::new()
        .address(stack.market)
        .event_signature(JobSettled::SIGNATURE_HASH)
        .topic1(job_id)
        .from_block(0);
    let logs = stack.deployer.get_logs(&filter).await.unwrap();
    assert_eq!(logs.len(), 1, "settled exactly once");
    // The settlement is an EIP-1559 transaction with fees from the node.
    let settle = logs[0].transaction_hash.unwrap();
    let sent = stack.deployer.get_transaction_by_hash(settle).await.unwrap().unwrap();
    assert_eq!(sent.inner.tx_type() as u8, 2);
    let block = stack.deployer.get_block_by_hash(logs[0].block_hash.unwrap()).await.unwrap();
    let base_fee = block.unwrap().header.base_fee_per_gas.unwrap();
    assert!(sent.max_fee_per_gas() >= u128::from(base_fee));

    token.cancel();
    keeper.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_keeper_whose_first_endpoint_is_dead_settles_through_the_next() {
    let stack = Stack::start_with_auth().await;
    let db = tempfile::tempdir().unwrap();
    // A port nothing listens on: connections are refused.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
    };
    let keeper_key: PrivateKeySigner = stack.anvil.accounts()[1].private_key().parse().unwrap();
    let mut config = KeeperConfig::new(dead, stack.connect(DEFAULT_KEEPER), stack.market);
    config.fallback_rpc_urls = vec![stack.anvil.endpoint()];
    config.db_path = db.path().join("keeper.sqlite");
    config.poll_interval = Duration::from_millis(100);
    config.phase_timeout = Duration::from_secs(10);
    let token = CancellationToken::new();
    let keeper = tokio::spawn(Keeper::new(config, keeper_key).run(token.clone()));
    let job_id = stack.request(6, 3600).await;
    stack.wait_settled(job_id).await;
    assert_eq!(status(&stack, job_id).await, JobStatus::Settled);
    token.cancel();
    keeper.await.unwrap().unwrap();
}
