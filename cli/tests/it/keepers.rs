//! Two `nsed keeper` processes on one market and one bus. The one that claims a job is killed
//! with SIGKILL while its agents are answering; once its claim times out, the other keeper takes
//! the job over with the same seats and settles it, exactly once. Restarted, the killed keeper
//! sees that it lost the job and closes it.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use alloy::{primitives::Address, providers::Provider};
use nsed_contracts::{deliberation_market::DeliberationMarket, i_deliberation_market::JobStatus};
use nsed_keeper::store::{JobState, Store};
use nsed_protocol::wire::RESULTS_STREAM;

use crate::e2e::Stack;

const WAIT: Duration = Duration::from_secs(90);

/// A keeper process, killed when dropped.
struct KeeperProcess {
    child: Child,
    address: Address,
    db: PathBuf,
    log: PathBuf,
}

impl KeeperProcess {
    /// Starts `nsed keeper` for `stack` signing with anvil account `account`.
    fn spawn(stack: &Stack, deployment: &Path, account: usize, name: &str) -> Self {
        let dir = stack.db.path();
        let (db, log) = (dir.join(format!("{name}.sqlite")), dir.join(format!("{name}.log")));
        let dev = &stack.anvil.accounts()[account];
        let child = Command::new(env!("CARGO_BIN_EXE_nsed"))
            .arg("keeper")
            .arg("--deployment")
            .arg(deployment)
            .args(["--rpc-url", &stack.anvil.endpoint(), "--nats-url", &stack.nats.url()])
            .arg("--keeper.db")
            .arg(&db)
            .args(["--keeper.poll-ms", "100", "--keeper.phase-timeout-ms", "10000"])
            .env("NSED_PRIVATE_KEY", dev.private_key())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let address = dev.address().parse().unwrap();
        Self { child, address, db, log }
    }

    /// SIGKILL: no shutdown, no drain, nothing flushed.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for KeeperProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it returns `Some`, failing with `what` and the keepers' logs after
/// [`WAIT`].
async fn until<T>(
    what: &str,
    keepers: &[&KeeperProcess],
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            let logs: Vec<String> = keepers.iter().map(|k| k.log()).collect();
            panic!("{what} did not happen within {WAIT:?}; keeper logs:\n{}", logs.join("\n---\n"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_keeper_killed_mid_job_leaves_it_to_the_other_keeper_once_its_claim_times_out() {
    let stack = Stack::start().await;
    let deployment = stack.db.path().join("deployment.json");
    stack.record.save(&deployment).unwrap();
    let mut first = KeeperProcess::spawn(&stack, &deployment, 1, "first");
    let mut second = KeeperProcess::spawn(&stack, &deployment, 3, "second");
    assert_eq!(first.address, stack.keeper_key.address());
    assert_eq!(second.address, stack.spare_keeper_key.address());

    let job_id = stack.request(5, 7200).await;
    let market = DeliberationMarket::new(stack.market, &stack.deployer);
    let holder = until("a claim", &[&first, &second], async || {
        let job = market.job(job_id).call().await.ok()?;
        (job.keeper != Address::ZERO).then_some(job.keeper)
    })
    .await;
    // Mid-job: once an agent's answer is on the bus.
    let bus = nsed_bus::Bus::connect_with(&stack.connect("")).await.unwrap();
    until("a first answer", &[&first, &second], async || {
        let mut stream = bus.jetstream().get_stream(RESULTS_STREAM).await.ok()?;
        (stream.info().await.ok()?.state.messages > 0).then_some(())
    })
    .await;
    let (killed, survivor) =
        if holder == first.address { (&mut first, &mut second) } else { (&mut second, &mut first) };
    killed.kill();
    assert_eq!(stack.status(job_id).await, JobStatus::Claimed, "killed before it settled");

    // The survivor waits out the claim timeout (chain time), then takes the job over.
    let timeout = market.claimTimeout().call().await.unwrap();
    let seconds = u64::from(timeout) + 1;
    stack
        .deployer
        .raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (seconds,))
        .await
        .unwrap();
    stack.deployer.raw_request::<_, serde_json::Value>("evm_mine".into(), ()).await.unwrap();
    until("the settlement", &[killed, survivor], async || {
        (stack.status(job_id).await == JobStatus::Settled).then_some(())
    })
    .await;
    assert_eq!(stack.settlements(job_id).await.len(), 1, "settled exactly once");
    assert_eq!(market.job(job_id).call().await.unwrap().keeper, survivor.address);
    let survivor_store = Store::open(&survivor.db).unwrap();
    until("the survivor to record its settlement", &[survivor], async || {
        (survivor_store.job(job_id).ok()??.state == JobState::Settled).then_some(())
    })
    .await;

    // The killed keeper comes back on its own database, finds the job settled by the other and
    // leaves it alone: closed, not counted as its own settlement.
    let (account, name) =
        if killed.address == stack.keeper_key.address() { (1, "first") } else { (3, "second") };
    let killed_db = killed.db.clone();
    let restarted = KeeperProcess::spawn(&stack, &deployment, account, name);
    assert_eq!(restarted.db, killed_db);
    until("the restarted keeper to let the job go", &[&restarted], async || {
        let store = Store::open(&restarted.db).ok()?;
        let row = store.job(job_id).ok()??;
        (row.state == JobState::Closed).then_some(())
    })
    .await;
    assert_eq!(stack.settlements(job_id).await.len(), 1, "still settled exactly once");
}
