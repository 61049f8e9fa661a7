//! Five seated agents, two of whose `nsed worker` processes are killed with SIGKILL and restarted
//! in turn, over and over, while a hundred jobs are deliberated: every job settles or, after its
//! deadline, refunds, and none settles twice.

use std::{
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use alloy::{providers::Provider, signers::local::PrivateKeySigner};
use nsed_contracts::i_deliberation_market::{IDeliberationMarket, JobStatus};
use nsed_keeper::store::{JobState, Store};

use crate::e2e::{PANEL, Stack, models_dir};

const JOBS: usize = 100;
/// Every seat of the panel: the quorum (4 of 5) tolerates one silent seat.
const SEATS: usize = 5;
/// The in-process workers whose agents are served by churning processes instead.
const CHURNED: [usize; 2] = [3, 4];
/// How long the whole run may take before the test fails.
const WAIT: Duration = Duration::from_secs(300);

/// One agent's worker process, started and killed again and again.
struct Churner {
    model: &'static str,
    key: PrivateKeySigner,
    nats_url: String,
    rpc_url: String,
    keeper: String,
    child: Option<Child>,
}

impl Churner {
    fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_nsed"))
            .args(["worker", "--model", self.model, "--nats-url", &self.nats_url])
            .args(["--rpc-url", &self.rpc_url, "--keeper", &self.keeper])
            .arg("--models-dir")
            .arg(models_dir())
            .env("NSED_AGENT_KEY", self.key.to_bytes().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nsed runs");
        self.child = Some(child);
    }

    /// SIGKILL: a task under way is neither answered nor returned.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Churner {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_settle_or_refund_exactly_once_while_workers_are_killed_and_restarted() {
    let mut stack = Stack::start_with(SEATS, Duration::ZERO).await;
    let mut churners = Vec::new();
    for &i in CHURNED.iter().rev() {
        let (_, in_process) = stack.workers.remove(i);
        in_process.abort();
        let _ = in_process.await;
        churners.push(Churner {
            model: PANEL[i],
            key: stack.agent_keys[i].clone(),
            nats_url: stack.nats.url(),
            rpc_url: stack.anvil.endpoint(),
            keeper: stack.keeper_key.address().to_string(),
            child: None,
        });
    }
    for churner in &mut churners {
        churner.start();
    }
    // One churner down at a time, each for a moment, in turn, until the jobs are done.
    let stop = Arc::new(AtomicBool::new(false));
    let churning = {
        let stop = stop.clone();
        tokio::task::spawn_blocking(move || {
            let mut kills = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let churner = &mut churners[kills % 2];
                std::thread::sleep(Duration::from_millis(600));
                churner.kill();
                kills += 1;
                std::thread::sleep(Duration::from_millis(400));
                churner.start();
            }
            kills
        })
    };

    let (keeper, handle) = stack.keeper(Duration::from_secs(3));
    let mut jobs = Vec::new();
    for row in 0..JOBS {
        jobs.push(stack.request_seats(row, 3600, SEATS as u8).await);
    }
    // Done when every job is settled, or closed by the keeper (it missed the quorum) to refund.
    let store = Store::open(&stack.db.path().join("keeper.sqlite")).unwrap();
    let done = async {
        loop {
            let mut open = 0;
            for &job in &jobs {
                let closed = store.job(job).unwrap().is_some_and(|j| j.state == JobState::Closed);
                if !closed && stack.status(job).await != JobStatus::Settled {
                    open += 1;
                }
            }
            if open == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    tokio::time::timeout(WAIT, done).await.expect("every job settles or is left to refund");
    stop.store(true, Ordering::Relaxed);
    let kills = churning.await.unwrap();
    keeper.cancel();
    handle.await.unwrap().unwrap();

    // Past every deadline, the jobs that did not settle refund.
    let deployer = &stack.deployer;
    deployer
        .raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (3601u64,))
        .await
        .unwrap();
    deployer.raw_request::<_, serde_json::Value>("evm_mine".into(), ()).await.unwrap();
    let market = IDeliberationMarket::new(stack.market, deployer);
    let (mut settled, mut refunded) = (0, 0);
    for &job in &jobs {
        let settlements = stack.settlements(job).await.len();
        match stack.status(job).await {
            JobStatus::Settled => {
                assert_eq!(settlements, 1, "job {job} settled exactly once");
                settled += 1;
            }
            status => {
                assert_eq!(settlements, 0, "job {job} is {status:?} without a settlement");
                let receipt = market.refund(job).send().await.unwrap().get_receipt().await.unwrap();
                assert!(receipt.status(), "job {job} refunds");
                assert_eq!(stack.status(job).await, JobStatus::Refunded);
                refunded += 1;
            }
        }
    }
    let summary = format!("{kills} worker kills: {settled} jobs settled, {refunded} refunded");
    assert_eq!(settled + refunded, JOBS, "{summary}");
    assert!(kills > 0, "the workers were killed during the run: {summary}");
    assert!(settled > 0, "jobs settle despite the churn: {summary}");
}
