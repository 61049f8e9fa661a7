//! Jobs on a three-node JetStream cluster (real nats-servers on loopback, NKey authentication,
//! streams with three replicas) survive NATS faults: one node killed in the middle of a round,
//! and the whole cluster restarted in the middle of a job. The keeper and the workers are given
//! every node's URL and reconnect on their own.

use std::{path::PathBuf, sync::Arc, time::Duration};

use alloy::{
    primitives::{Address, B256, U256},
    providers::DynProvider,
    signers::local::PrivateKeySigner,
};
use nsed_bus::{
    Bus, NatsConnect,
    auth::{AuthDir, DEFAULT_KEEPER, InitOptions, OPERATOR, Role},
    consumer_name,
};
use nsed_client::{AgentOwner, JobRequest, ONE_TOKEN, Requester};
use nsed_contracts::i_deliberation_market::{IDeliberationMarket, JobStatus};
use nsed_deploy::{Deployment, MARKET, SuiteParams, deploy_suite};
use nsed_devstack::{Anvil, AnvilConfig, AnvilInstance, NatsCluster, NatsClusterConfig};
use nsed_inference_worker::{
    Classifier, ExecutionTarget, Manifest, OnnxRuntime, Worker, WorkerConfig, WorkerError,
    model::load_test_split,
};
use nsed_keeper::{
    Keeper, KeeperConfig, KeeperError, Metrics,
    store::{JobState, Store},
};
use nsed_protocol::wire::{RESULTS_STREAM, TASKS_STREAM};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::e2e::MODELS;

/// How long a job may take to settle, faults included.
const SETTLE_WAIT: Duration = Duration::from_secs(120);
/// How long the keeper waits for a phase's answers: long enough to span a restart of the whole
/// cluster, so that no agent is counted absent because NATS was down.
const PHASE_TIMEOUT: Duration = Duration::from_secs(30);
/// Replicas of the streams: one per node.
const REPLICAS: usize = 3;

fn models_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn runtime() -> &'static OnnxRuntime {
    static RT: std::sync::OnceLock<OnnxRuntime> = std::sync::OnceLock::new();
    RT.get_or_init(|| OnnxRuntime::load(None).expect("ORT_DYLIB_PATH (scripts/test.sh sets it)"))
}

/// anvil, a three-node NATS cluster with NKey users, the deployed suite and three workers; the
/// keeper is started by each test.
struct ClusterStack {
    anvil: AnvilInstance,
    nats: nsed_devstack::NatsClusterInstance,
    auth: AuthDir,
    record: Deployment,
    market: Address,
    deployer: DynProvider,
    requester: Requester<DynProvider>,
    keeper_key: PrivateKeySigner,
    workers: Vec<(CancellationToken, JoinHandle<Result<(), WorkerError>>)>,
    // Last: the cluster above stops before its users and the keeper's store are deleted.
    db: tempfile::TempDir,
}

impl ClusterStack {
    async fn start() -> Self {
        // The services' logs show what a fault did when a test fails.
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let db = tempfile::tempdir().unwrap();
        let anvil = Anvil::spawn(AnvilConfig::default()).unwrap();
        let agent_keys: Vec<PrivateKeySigner> =
            (0..MODELS.len()).map(|_| PrivateKeySigner::random()).collect();
        let dir = db.path().join("nats");
        let mut auth =
            AuthDir::init(&dir, InitOptions::new("127.0.0.1:4222", dir.join("jetstream"))).unwrap();
        for key in &agent_keys {
            auth.add_agent(key.address(), false).unwrap();
        }
        let config = NatsClusterConfig::default().with_base_config(auth.config_path());
        let nats =
            tokio::task::spawn_blocking(move || NatsCluster::spawn(config)).await.unwrap().unwrap();

        let key = |i: usize| anvil.accounts()[i].private_key().parse::<PrivateKeySigner>().unwrap();
        let (deployer_key, keeper_key, requester_key) = (key(0), key(1), key(2));
        let url: alloy::transports::http::reqwest::Url = anvil.endpoint().parse().unwrap();
        let deployer = nsed_contracts::provider::wallet_provider(url.clone(), deployer_key.clone());
        let requester = nsed_contracts::provider::wallet_provider(url, requester_key.clone());
        let params = SuiteParams {
            challenge_window: 60,
            keepers: vec![keeper_key.address()],
            ..SuiteParams::default()
        };
        let record =
            deploy_suite(&deployer, deployer_key.address(), "e2e", params, None).await.unwrap();
        let market = record.address(MARKET).unwrap();
        let requester = Requester::new(requester, requester_key.address(), record.clone()).unwrap();
        let mut stack = Self {
            anvil,
            nats,
            auth,
            record,
            market,
            deployer,
            requester,
            keeper_key,
            workers: Vec::new(),
            db,
        };
        // The operator creates the streams with three replicas; everyone else checks them.
        let operator = Bus::connect_with(&stack.connect(OPERATOR)).await.unwrap();
        let (mut tasks, _) = operator.ensure_streams().await.unwrap();
        assert_eq!(tasks.info().await.unwrap().config.num_replicas, REPLICAS);
        operator.drain().await.unwrap();

        let manifest = Manifest::load(models_dir()).unwrap();
        let owner =
            AgentOwner::new(stack.deployer.clone(), deployer_key.address(), &stack.record).unwrap();
        let bond = owner.min_bond().await.unwrap();
        owner.fund(&stack.deployer, bond * U256::from(MODELS.len())).await.unwrap();
        let mut agents = Vec::new();
        for (name, key) in MODELS.into_iter().zip(agent_keys) {
            let classifier = Classifier::load(
                runtime(),
                models_dir(),
                manifest.try_get(name).unwrap(),
                ExecutionTarget::Cpu,
            )
            .unwrap();
            owner.register(&key, B256::from(classifier.model_id()), name, bond).await.unwrap();
            let config = WorkerConfig {
                nats: stack.connect(&Role::Agent(key.address()).user_name()),
                keepers: vec![stack.keeper_key.address()],
                rpc_url: Some(stack.anvil.endpoint()),
                heartbeat_interval: Duration::from_millis(200),
                ..WorkerConfig::default()
            };
            let token = CancellationToken::new();
            let agent = key.address();
            let handle = tokio::spawn(Worker::new(config, key, classifier).run(token.clone()));
            stack.workers.push((token, handle));
            agents.push(agent);
        }
        stack.wait_workers_ready(&agents).await;
        stack
    }

    /// Waits until every worker pulls from its task queue (its durable consumer has a waiting
    /// pull request), so that a fault injected later hits running workers, not their start-up.
    async fn wait_workers_ready(&self, agents: &[Address]) {
        for &agent in agents {
            let bus =
                Bus::connect_with(&self.connect(&Role::Agent(agent).user_name())).await.unwrap();
            let tasks = bus.jetstream().get_stream(TASKS_STREAM).await.unwrap();
            tokio::time::timeout(SETTLE_WAIT, async {
                while !tasks
                    .consumer_info(consumer_name(agent))
                    .await
                    .is_ok_and(|info| info.num_waiting > 0)
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
            .await
            .unwrap_or_else(|_| panic!("worker {agent} did not open its task queue"));
            bus.drain().await.unwrap();
        }
    }

    /// How the NATS user `user` connects: to every node, asking for three replicas.
    fn connect(&self, user: &str) -> NatsConnect {
        NatsConnect::new(self.nats.url())
            .with_creds(self.auth.creds_path(user))
            .with_replicas(REPLICAS)
    }

    fn keeper(&self) -> (Arc<Metrics>, CancellationToken, JoinHandle<Result<(), KeeperError>>) {
        let mut config =
            KeeperConfig::new(self.anvil.endpoint(), self.connect(DEFAULT_KEEPER), self.market);
        config.start_block = self.record.start_block;
        config.db_path = self.db.path().join("keeper.sqlite");
        config.poll_interval = Duration::from_millis(100);
        config.phase_timeout = PHASE_TIMEOUT;
        let keeper = Keeper::new(config, self.keeper_key.clone());
        let metrics = keeper.metrics();
        let token = CancellationToken::new();
        let handle = tokio::spawn(keeper.run(token.clone()));
        (metrics, token, handle)
    }

    /// Requests a job classifying held-out row `row` for the three agents; returns its id.
    async fn request(&self, row: usize) -> U256 {
        let rows =
            load_test_split(models_dir(), &Manifest::load(models_dir()).unwrap().dataset).unwrap();
        self.requester.fund(&self.deployer, ONE_TOKEN).await.unwrap();
        let input = serde_json::json!({"shape": [64], "values": rows[row].0.to_vec()});
        let job = JobRequest {
            deadline_secs: 3600,
            agents_wanted: MODELS.len() as u8,
            ..JobRequest::new("tensor-f32", serde_json::to_vec(&input).unwrap())
        };
        self.requester.request_job(&job).await.unwrap()
    }

    async fn status(&self, job_id: U256) -> JobStatus {
        let raw = IDeliberationMarket::new(self.market, &self.deployer)
            .jobStatus(job_id)
            .call()
            .await
            .unwrap();
        JobStatus::try_from(raw).unwrap()
    }

    /// Waits until the keeper has published the first tasks of a round: the job is mid-round.
    async fn wait_mid_round(&self, metrics: &Metrics, job_id: U256) {
        tokio::time::timeout(SETTLE_WAIT, async {
            while metrics.tasks_published.load(std::sync::atomic::Ordering::Relaxed) == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the keeper publishes the first round's tasks");
        assert_eq!(self.status(job_id).await, JobStatus::Claimed, "the job is still deliberating");
    }

    /// Waits until `job_id` settles, then checks it settled exactly once and the keeper agrees.
    async fn assert_settles_once(&self, job_id: U256) {
        let settled = self
            .requester
            .wait_settled(&[job_id], SETTLE_WAIT, |_| {})
            .await
            .expect("the job settles in time");
        assert!((1..=3).contains(&settled[0].event.rounds), "{:?}", settled[0].event);
        assert_eq!(self.requester.settlements_of(job_id).await.unwrap().len(), 1);
        assert_eq!(self.status(job_id).await, JobStatus::Settled);
        // The keeper records the settlement once its receipt arrives, which can trail the event.
        let store = Store::open(&self.db.path().join("keeper.sqlite")).unwrap();
        tokio::time::timeout(Duration::from_secs(30), async {
            while store.job(job_id).unwrap().unwrap().state != JobState::Settled {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("the keeper records the settlement");
    }

    /// Stops the workers and checks none of them failed.
    async fn stop_workers(self) {
        for (token, handle) in self.workers {
            token.cancel();
            handle.await.unwrap().unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_settles_when_one_of_three_nats_nodes_is_killed_mid_round() {
    let mut stack = ClusterStack::start().await;
    let (metrics, keeper, handle) = stack.keeper();
    let job_id = stack.request(5).await;
    stack.wait_mid_round(&metrics, job_id).await;
    // Kill the node leading the results stream, so the answers of the round under way must be
    // taken over by a new leader on another node.
    let operator = Bus::connect_with(&stack.connect(OPERATOR)).await.unwrap();
    let mut results = operator.jetstream().get_stream(RESULTS_STREAM).await.unwrap();
    let leader = results.info().await.unwrap().cluster.clone().unwrap().leader.unwrap();
    operator.drain().await.unwrap();
    let node = (0..stack.nats.len()).find(|&i| stack.nats.node_name(i) == leader).unwrap();
    stack.nats.kill(node).unwrap();
    tracing::info!(%leader, "killed the results stream's leader mid-round");

    stack.assert_settles_once(job_id).await;
    assert!(!stack.nats.is_running(node), "the job settled with one node down");
    // The streams still answer, on the two nodes left, with all three replicas configured.
    let bus = Bus::connect_with(&stack.connect(OPERATOR)).await.unwrap();
    let (mut tasks, _) = bus.ensure_streams().await.unwrap();
    assert_eq!(tasks.info().await.unwrap().config.num_replicas, REPLICAS);
    keeper.cancel();
    handle.await.unwrap().unwrap();
    stack.stop_workers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_settles_when_the_whole_nats_cluster_restarts_mid_job() {
    let mut stack = ClusterStack::start().await;
    let (metrics, keeper, handle) = stack.keeper();
    let job_id = stack.request(6).await;
    stack.wait_mid_round(&metrics, job_id).await;
    // Every node at once, as after a power cut; the stores on disk stay.
    let started = std::time::Instant::now();
    let mut nats = stack.nats;
    let nats = tokio::task::spawn_blocking(move || {
        nats.restart_all().unwrap();
        nats
    })
    .await
    .unwrap();
    stack.nats = nats;
    tracing::info!(elapsed = ?started.elapsed(), "the whole cluster restarted");

    stack.assert_settles_once(job_id).await;
    // The tasks already in the stream survived the restart.
    let bus = Bus::connect_with(&stack.connect(OPERATOR)).await.unwrap();
    let mut tasks = bus.jetstream().get_stream(TASKS_STREAM).await.unwrap();
    assert!(tasks.info().await.unwrap().state.messages >= MODELS.len() as u64);
    keeper.cancel();
    handle.await.unwrap().unwrap();
    stack.stop_workers().await;
}

/// `nsed up --nats.cluster 3` runs the demo on a three-server cluster with three replicas and
/// says so in its report.
#[test]
fn up_runs_the_demo_on_a_three_server_cluster() {
    let deployments = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_nsed"))
        .args(["up", "--once", "--json", "--jobs", "2", "--nats.cluster", "3"])
        .args(["--indexer.listen", "127.0.0.1:0", "--models-dir"])
        .arg(models_dir())
        .arg("--deployments-dir")
        .arg(deployments.path())
        .env_remove("NATS_URL")
        .env_remove("NSED_NATS_CREDS")
        .env_remove("NSED_NATS_REPLICAS")
        .env_remove("NSED_PRIVATE_KEY")
        .output()
        .expect("nsed runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "nsed up failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["natsCluster"], serde_json::json!({ "nodes": 3, "replicas": 3 }), "{doc}");
    assert_eq!(doc["natsAuth"]["mode"], "nkey", "{doc}");
    let urls: Vec<&str> = doc["nats"].as_str().unwrap().split(',').collect();
    assert_eq!(urls.len(), 3, "{doc}");
    assert!(urls.iter().all(|u| u.starts_with("nats://127.0.0.1:")), "{doc}");
    assert_eq!(doc["jobs"].as_array().unwrap().len(), 2, "{doc}");
}
