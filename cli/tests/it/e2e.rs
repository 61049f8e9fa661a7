//! End to end with real anvil, nats-server, ONNX Runtime and models: jobs requested through the
//! contract are deliberated by in-process workers and a keeper and settled on chain. The keeper's
//! own tests (reorgs, claims, refunds, its HTTP endpoint) are in `keeper/tests/it`.

use std::{path::Path, sync::Arc, time::Duration};

use alloy::{
    primitives::{Address, B256, U256},
    providers::DynProvider,
    signers::local::PrivateKeySigner,
};
use nsed_bus::{
    Bus, NatsConnect,
    auth::{AuthDir, DEFAULT_KEEPER, InitOptions, OPERATOR, Role},
};
use nsed_client::{JobRequest, ONE_TOKEN, Requester};
use nsed_contracts::i_deliberation_market::{
    IDeliberationMarket::{self, JobSettled},
    JobStatus,
};
use nsed_deploy::{Deployment, MARKET, SuiteParams, deploy_suite};
use nsed_devstack::{
    Anvil, AnvilConfig, AnvilInstance, NatsCluster, NatsClusterConfig, NatsClusterInstance,
    NatsConfig, NatsInstance, NatsServer,
};
use nsed_inference_worker::{
    Classifier, ExecutionTarget, Manifest, OnnxRuntime, Worker, WorkerConfig, WorkerError,
    model::load_test_split,
};
use nsed_keeper::{
    Keeper, KeeperConfig, KeeperError, Metrics,
    rounds::replay,
    store::{JobState, Store},
};
use nsed_protocol::{
    deliberation::Deliberation, eip712, halting::HaltingConfig, wire::TASKS_STREAM,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) const MODELS: [&str; 3] = ["knn_pool4x4", "mlp_pca8_left_half", "logreg_top_half"];
/// Every digits model: the demo agents first, then two more, for panels that can lose seats and
/// keep their quorum.
pub(crate) const PANEL: [&str; 5] =
    ["knn_pool4x4", "mlp_pca8_left_half", "logreg_top_half", "tree_full_d8", "gnb_full"];
const WAIT: Duration = Duration::from_secs(90);

pub(crate) fn models_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn runtime() -> &'static OnnxRuntime {
    static RT: std::sync::OnceLock<OnnxRuntime> = std::sync::OnceLock::new();
    RT.get_or_init(|| OnnxRuntime::load(None).expect("ORT_DYLIB_PATH (scripts/test.sh sets it)"))
}

/// Replicas of the streams on a cluster: one per node.
pub(crate) const CLUSTER_REPLICAS: usize = 3;

/// How the stack runs NATS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NatsSetup {
    /// One nats-server, no authentication.
    Open,
    /// One nats-server with NKey users.
    Auth,
    /// Three nats-servers in a JetStream cluster, NKey users, streams with three replicas.
    Cluster,
}

/// The stack's NATS: one nats-server, or a JetStream cluster.
pub(crate) enum Nats {
    Server(NatsInstance),
    Cluster(NatsClusterInstance),
}

impl Nats {
    /// Every server's URL, separated by commas.
    pub(crate) fn url(&self) -> String {
        match self {
            Self::Server(server) => server.url(),
            Self::Cluster(cluster) => cluster.url(),
        }
    }

    /// The cluster of a stack started with [`Stack::start_on_cluster`].
    pub(crate) fn cluster(&mut self) -> &mut NatsClusterInstance {
        match self {
            Self::Cluster(cluster) => cluster,
            Self::Server(_) => panic!("this stack runs one nats-server, not a cluster"),
        }
    }

    /// How `user` connects: with its seed from `auth` when there is one, to every server, and
    /// asking a cluster for [`CLUSTER_REPLICAS`].
    fn connect(&self, auth: Option<&AuthDir>, user: &str) -> NatsConnect {
        let connect = NatsConnect::new(self.url());
        let connect = match auth {
            Some(auth) => connect.with_creds(auth.creds_path(user)),
            None => connect,
        };
        match self {
            Self::Server(_) => connect,
            Self::Cluster(_) => connect.with_replicas(CLUSTER_REPLICAS),
        }
    }
}

/// anvil, NATS, the deployed suite, workers (in-process) and the keeper's key; the keeper is
/// started by each test.
pub(crate) struct Stack {
    pub(crate) anvil: AnvilInstance,
    pub(crate) nats: Nats,
    /// The NATS users when the server has authentication on.
    pub(crate) auth: Option<AuthDir>,
    pub(crate) record: Deployment,
    pub(crate) market: Address,
    pub(crate) deployer: DynProvider,
    pub(crate) requester: Requester<DynProvider>,
    pub(crate) keeper_key: PrivateKeySigner,
    /// A second keeper with the market's role, whose tasks the workers accept too.
    pub(crate) spare_keeper_key: PrivateKeySigner,
    /// The in-process workers, in start order.
    pub(crate) workers: Vec<(CancellationToken, JoinHandle<Result<(), WorkerError>>)>,
    /// The workers' agents, in start order.
    pub(crate) agents: Vec<Address>,
    /// Their keys, in the same order.
    pub(crate) agent_keys: Vec<PrivateKeySigner>,
    // Last: the server above stops before its store and users in here are deleted.
    pub(crate) db: tempfile::TempDir,
}

impl Stack {
    pub(crate) async fn start() -> Self {
        Self::start_with(MODELS.len(), Duration::ZERO).await
    }

    /// A stack with the first `workers` of the demo agents registered and running, the first of
    /// them taking `first_latency` extra for every task; NATS without authentication.
    pub(crate) async fn start_with(workers: usize, first_latency: Duration) -> Self {
        Self::start_full(workers, first_latency, NatsSetup::Open).await
    }

    /// Every demo agent, on a nats-server with NKey authentication: the operator creates the
    /// streams, and the keeper and each worker connect with their own seed.
    pub(crate) async fn start_with_auth() -> Self {
        Self::start_full(MODELS.len(), Duration::ZERO, NatsSetup::Auth).await
    }

    /// Every demo agent, on a three-node JetStream cluster with NKey authentication and streams
    /// with three replicas; returns once every worker pulls from its task queue, so a fault
    /// injected later hits running workers, not their start-up.
    pub(crate) async fn start_on_cluster() -> Self {
        // The services' logs show what a fault did when a test fails.
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let stack = Self::start_full(MODELS.len(), Duration::ZERO, NatsSetup::Cluster).await;
        stack.wait_workers_pulling().await;
        stack
    }

    async fn start_full(workers: usize, first_latency: Duration, setup: NatsSetup) -> Self {
        let db = tempfile::tempdir().unwrap();
        let anvil = Anvil::spawn(AnvilConfig::default()).unwrap();
        // The agents' keys come first: with authentication, each is a NATS user the server
        // must know when it starts.
        let agent_keys: Vec<PrivateKeySigner> =
            (0..workers).map(|_| PrivateKeySigner::random()).collect();
        let (nats, auth) = if setup == NatsSetup::Open {
            (Nats::Server(NatsServer::spawn(NatsConfig::default()).unwrap()), None)
        } else {
            let dir = db.path().join("nats");
            let options = InitOptions::new("127.0.0.1:4222", dir.join("jetstream"));
            let mut auth = AuthDir::init(dir, options).unwrap();
            for key in &agent_keys {
                auth.add_agent(key.address(), false).unwrap();
            }
            let nats = if setup == NatsSetup::Cluster {
                let config = NatsClusterConfig::default().with_base_config(auth.config_path());
                let spawn = tokio::task::spawn_blocking(move || NatsCluster::spawn(config));
                Nats::Cluster(spawn.await.unwrap().unwrap())
            } else {
                let config = NatsConfig::default().with_config_file(auth.config_path());
                Nats::Server(NatsServer::spawn(config).unwrap())
            };
            // The operator creates the streams (with three replicas on a cluster).
            let operator = nats.connect(Some(&auth), OPERATOR);
            Bus::connect_with(&operator).await.unwrap().ensure_streams().await.unwrap();
            (nats, Some(auth))
        };
        let key = |i: usize| anvil.accounts()[i].private_key().parse::<PrivateKeySigner>().unwrap();
        let (deployer_key, keeper_key, requester_key, spare_keeper_key) =
            (key(0), key(1), key(2), key(3));
        let url: alloy::transports::http::reqwest::Url = anvil.endpoint().parse().unwrap();
        let deployer = nsed_contracts::provider::wallet_provider(url.clone(), deployer_key.clone());
        let requester = nsed_contracts::provider::wallet_provider(url, requester_key.clone());
        let params = SuiteParams {
            challenge_window: 60,
            keepers: vec![keeper_key.address(), spare_keeper_key.address()],
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
            spare_keeper_key,
            workers: Vec::new(),
            agents: Vec::new(),
            agent_keys: Vec::new(),
            db,
        };
        let manifest = Manifest::load(models_dir()).unwrap();
        // The deployer owns the agents and pays their bonds; each agent key consents.
        let owner = nsed_client::AgentOwner::new(
            stack.deployer.clone(),
            deployer_key.address(),
            &stack.record,
        )
        .unwrap();
        let bond = owner.min_bond().await.unwrap();
        owner.fund(&stack.deployer, bond * U256::from(workers)).await.unwrap();
        for (name, key) in PANEL.into_iter().zip(agent_keys) {
            let classifier = Classifier::load(
                runtime(),
                models_dir(),
                manifest.try_get(name).unwrap(),
                ExecutionTarget::Cpu,
            )
            .unwrap();
            owner.register(&key, B256::from(classifier.model_id()), name, bond).await.unwrap();
            // The third worker names no keeper: it trusts whoever claimed the job on chain.
            let keepers = if stack.agents.len() == 2 {
                Vec::new()
            } else {
                vec![stack.keeper_key.address(), stack.spare_keeper_key.address()]
            };
            let config = WorkerConfig {
                nats: stack.connect(&Role::Agent(key.address()).user_name()),
                keepers,
                rpc_url: Some(stack.anvil.endpoint()),
                heartbeat_interval: Duration::from_millis(200),
                simulated_latency: if stack.agents.is_empty() {
                    first_latency
                } else {
                    Duration::ZERO
                },
                ..WorkerConfig::default()
            };
            stack.agents.push(key.address());
            stack.agent_keys.push(key.clone());
            let token = CancellationToken::new();
            let handle = tokio::spawn(Worker::new(config, key, classifier).run(token.clone()));
            stack.workers.push((token, handle));
        }
        stack
    }

    /// How the NATS user `user` connects: with its seed when the server has authentication
    /// on, else without credentials; to every server of a cluster.
    pub(crate) fn connect(&self, user: &str) -> NatsConnect {
        self.nats.connect(self.auth.as_ref(), user)
    }

    /// Waits until every worker pulls from its task queue (its durable consumer has a waiting
    /// pull request).
    async fn wait_workers_pulling(&self) {
        for &agent in &self.agents {
            let bus =
                Bus::connect_with(&self.connect(&Role::Agent(agent).user_name())).await.unwrap();
            let tasks = bus.jetstream().get_stream(TASKS_STREAM).await.unwrap();
            tokio::time::timeout(WAIT, async {
                while !tasks
                    .consumer_info(nsed_bus::consumer_name(agent))
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

    pub(crate) fn keeper(
        &self,
        phase_timeout: Duration,
    ) -> (CancellationToken, JoinHandle<Result<(), KeeperError>>) {
        let (_, token, handle) = self.keeper_with(phase_timeout, None);
        (token, handle)
    }

    /// The keeper and its counters.
    pub(crate) fn keeper_with(
        &self,
        phase_timeout: Duration,
        metrics_addr: Option<std::net::SocketAddr>,
    ) -> (Arc<Metrics>, CancellationToken, JoinHandle<Result<(), KeeperError>>) {
        let nats = self.connect(DEFAULT_KEEPER);
        let mut config = KeeperConfig::new(self.anvil.endpoint(), nats, self.market);
        config.start_block = self.record.start_block;
        config.db_path = self.db.path().join("keeper.sqlite");
        config.poll_interval = Duration::from_millis(100);
        config.phase_timeout = phase_timeout;
        config.metrics_addr = metrics_addr;
        let keeper = Keeper::new(config, self.keeper_key.clone());
        let metrics = keeper.metrics();
        let token = CancellationToken::new();
        let handle = tokio::spawn(keeper.run(token.clone()));
        (metrics, token, handle)
    }

    /// Requests a job classifying held-out row `row` with a bounty of 1 token, as a requester
    /// wallet does (mint, approve, requestJob); returns the job id.
    pub(crate) async fn request(&self, row: usize, deadline_in: u64) -> U256 {
        self.request_seats(row, deadline_in, 3).await
    }

    /// [`Stack::request`] for a panel of `seats` agents.
    pub(crate) async fn request_seats(&self, row: usize, deadline_in: u64, seats: u8) -> U256 {
        let rows =
            load_test_split(models_dir(), &Manifest::load(models_dir()).unwrap().dataset).unwrap();
        self.requester.fund(&self.deployer, ONE_TOKEN).await.unwrap();
        let input = serde_json::json!({"shape": [64], "values": rows[row].0.to_vec()});
        let job = JobRequest {
            deadline_secs: deadline_in,
            agents_wanted: seats,
            ..JobRequest::new("tensor-f32", serde_json::to_vec(&input).unwrap())
        };
        self.requester.request_job(&job).await.unwrap()
    }

    pub(crate) async fn settlements(&self, job_id: U256) -> Vec<JobSettled> {
        self.requester.settlements_of(job_id).await.unwrap()
    }

    pub(crate) async fn status(&self, job_id: U256) -> JobStatus {
        let raw = IDeliberationMarket::new(self.market, &self.deployer)
            .jobStatus(job_id)
            .call()
            .await
            .unwrap();
        JobStatus::try_from(raw).unwrap()
    }

    pub(crate) async fn wait_settled(&self, job_id: U256) -> JobSettled {
        let mut settled =
            self.requester.wait_settled(&[job_id], WAIT, |_| {}).await.expect("settles in time");
        settled.remove(0).event
    }

    /// The outcome the off-chain protocol computes from the keeper's stored deliberation log.
    pub(crate) fn offchain_answer(&self, job_id: U256) -> Option<String> {
        self.offchain(job_id).outcome().and_then(|o| o.answer).map(|a| a.content)
    }

    /// The deliberation rebuilt by the off-chain protocol from the keeper's stored log.
    pub(crate) fn offchain(&self, job_id: U256) -> Deliberation {
        let store = Store::open(&self.db.path().join("keeper.sqlite")).unwrap();
        let job = store.job(job_id).unwrap().unwrap();
        let domain = eip712::domain(self.anvil.chain_id(), self.market);
        let mut d = Deliberation::new(
            job_id,
            alloy::primitives::keccak256(&job.spec.input),
            job.seats,
            domain,
            job.spec.credits,
            HaltingConfig::default(),
        )
        .unwrap();
        replay(&mut d, store.events(job_id).unwrap()).unwrap();
        d
    }
}

async fn http_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    socket
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requested_jobs_settle_on_chain_with_the_answer_the_protocol_computes() {
    let stack = Stack::start().await;
    let port = nsed_devstack::free_port().unwrap();
    let (_, keeper, handle) =
        stack.keeper_with(Duration::from_secs(10), Some(([127, 0, 0, 1], port).into()));
    let jobs = [stack.request(0, 3600).await, stack.request(1, 3600).await];
    for job_id in jobs {
        let settled = stack.wait_settled(job_id).await;
        assert_eq!(stack.status(job_id).await, JobStatus::Settled);
        assert_eq!(Some(settled.content.clone()), stack.offchain_answer(job_id));
        assert!((1..=3).contains(&settled.rounds));
    }
    // The keeper counts a settlement once its receipt arrives, which can trail the event.
    let metrics = step("metrics", async {
        loop {
            let metrics = http_get(port, "/metrics").await;
            if metrics.contains("nsed_keeper_jobs_settled_total 2") {
                return metrics;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    let health = http_get(port, "/health").await;
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    keeper.cancel();
    handle.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_during_a_round_does_not_stop_the_job() {
    // Four seats: the quorum (3) tolerates one silent seat.
    const SEATS: u8 = 4;
    let mut stack = Stack::start_with(usize::from(SEATS), Duration::ZERO).await;
    // Kill one worker outright (no graceful shutdown) before any job exists: its agent is still
    // registered and bonded, so the market draws its seat and the keeper times it out.
    let (_, dead) = stack.workers.remove(0);
    dead.abort();
    let (keeper, handle) = stack.keeper(Duration::from_secs(3));
    let job_id = stack.request_seats(2, 3600, SEATS).await;
    let settled = stack.wait_settled(job_id).await;
    assert_eq!(Some(settled.content), stack.offchain_answer(job_id));
    let d = stack.offchain(job_id);
    let first = &d.rounds()[0];
    assert_eq!(
        first.proposals.iter().filter(|p| p.is_none()).count(),
        1,
        "the dead agent was seated and missing"
    );
    assert_eq!(first.ballots.iter().filter(|b| b.is_none()).count(), 1);
    keeper.cancel();
    handle.await.unwrap().unwrap();
}

/// Jobs are deliberated side by side: with one agent taking 1.5 s per task, the second job's
/// first task goes out while the first job is still deliberating, not after it settles; both
/// settle once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_keeper_deliberates_jobs_concurrently() {
    use futures::StreamExt;
    use nsed_protocol::wire::{self, SignedTask};

    let stack = Stack::start_with(MODELS.len(), Duration::from_millis(1500)).await;
    let bus = Bus::connect(&stack.nats.url()).await.unwrap();
    let mut tasks = bus.client().subscribe(wire::TASKS_WILDCARD).await.unwrap();
    // The server has the subscription once a request sent after it is answered.
    bus.ensure_streams().await.unwrap();
    let (keeper, handle) = stack.keeper(Duration::from_secs(10));
    let first = stack.request(0, 3600).await;
    let second = stack.request(1, 3600).await;
    let first_status_at_second_task = step("the second job's first task", async {
        loop {
            let msg = tasks.next().await.expect("the task subscription stays open");
            let Ok(signed) = wire::decode::<SignedTask>(&msg.payload) else { continue };
            let Ok((task, _)) = signed.read() else { continue };
            if task.job_id == second {
                return stack.status(first).await;
            }
        }
    })
    .await;
    assert_eq!(
        first_status_at_second_task,
        JobStatus::Claimed,
        "the second job started while the first was still deliberating"
    );
    for job_id in [first, second] {
        stack.wait_settled(job_id).await;
        assert_eq!(stack.settlements(job_id).await.len(), 1, "job {job_id} settled once");
    }
    keeper.cancel();
    handle.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_keeper_killed_mid_job_and_restarted_settles_exactly_once() {
    let stack = Stack::start().await;
    let (first, first_handle) = stack.keeper(Duration::from_secs(10));
    let job_id = stack.request(3, 3600).await;
    // Kill the keeper as soon as the job is claimed: deliberation may be under way.
    tokio::time::timeout(WAIT, async {
        while stack.status(job_id).await != JobStatus::Claimed
            && stack.status(job_id).await != JobStatus::Settled
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    first_handle.abort();
    let _ = first_handle.await;
    first.cancel();
    let (second, second_handle) = stack.keeper(Duration::from_secs(10));
    stack.wait_settled(job_id).await;
    // Give the restarted keeper time to (wrongly) act again, then check it did not.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(stack.settlements(job_id).await.len(), 1, "settled exactly once");
    assert_eq!(stack.status(job_id).await, JobStatus::Settled);
    let store = Store::open(&stack.db.path().join("keeper.sqlite")).unwrap();
    assert_eq!(store.job(job_id).unwrap().unwrap().state, JobState::Settled);
    second.cancel();
    second_handle.await.unwrap().unwrap();
}

/// Awaits `fut`, failing the test with `what` if it takes longer than 30 s.
async fn step<T>(what: &str, fut: impl std::future::IntoFuture<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), fut.into_future())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within 30 s"))
}

/// What an outsider with plain access to the bus tries before a job exists (job ids are
/// sequential): forged failures for an honest but slow agent, junk under the message ids the
/// old scheme made predictable, and a task of its own choosing. The job still settles with every
/// agent seated and answering, each answer signed over the job's real input.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outsiders_on_the_bus_cannot_steer_a_job() {
    use nsed_protocol::wire::{self, Phase, SignedTask, Task, TaskFailure};

    let stack = Stack::start_with(MODELS.len(), Duration::from_millis(1500)).await;
    let (slow, other) = (stack.agents[0], stack.agents[1]);
    let next_job =
        nsed_contracts::deliberation_market::DeliberationMarket::new(stack.market, &stack.deployer)
            .jobCount()
            .call()
            .await
            .unwrap()
            + U256::from(1);
    let attacker = PrivateKeySigner::random();
    let bus = Bus::connect(&stack.nats.url()).await.unwrap();
    bus.ensure_streams().await.unwrap();
    let domain = eip712::domain(stack.anvil.chain_id(), stack.market);
    for round in 1..=3 {
        for phase in [Phase::Propose, Phase::Evaluate] {
            // A failure "from" the slow agent, signed by the attacker; and one not signed at all.
            let mut forged = TaskFailure::sign(
                &attacker,
                &domain,
                next_job,
                round,
                phase,
                B256::ZERO,
                "forged".into(),
            )
            .unwrap();
            forged.agent = slow;
            let mut unsigned = forged.clone();
            unsigned.signature = alloy::primitives::Signature::test_signature();
            for failure in [forged, unsigned] {
                let id = wire::message_id(next_job, round, phase, slow, &failure.signature);
                let subject = wire::failed_subject(next_job, round, phase, slow);
                bus.publish_dedup(subject, &id, wire::encode(&failure)).await.unwrap();
            }
            // Junk under the ids an agent and the keeper used to publish with.
            let old_id = format!("{next_job}-{round}-{phase}-{slow:#x}");
            let result = wire::result_subject(next_job, round, phase, slow);
            bus.publish_dedup(result, &old_id, b"junk".to_vec()).await.unwrap();
            bus.publish_dedup(wire::task_subject(slow), &old_id, b"junk".to_vec()).await.unwrap();
        }
    }
    // A task of the attacker's choosing for the next job, signed by the attacker, to a worker
    // that accepts only the keeper and to one that asks the chain who claimed the job.
    let mut refusals =
        bus.client().subscribe(format!("nsed.result.{next_job}.1.propose.*.failed")).await.unwrap();
    let mut seats = stack.agents.clone();
    seats.sort();
    let input = br#"{"shape": [64], "values": []}"#;
    for (target, why) in [(other, "does not accept"), (stack.agents[2], "claimed on chain by")] {
        let injected = Task {
            version: wire::WIRE_VERSION,
            job_id: next_job,
            round: 1,
            phase: Phase::Propose,
            seat: seats.iter().position(|s| *s == target).unwrap(),
            seats: seats.clone(),
            credits: 100,
            deadline_ms: u64::MAX,
            chain_id: stack.anvil.chain_id(),
            market: stack.market,
            kind: "tensor-f32".into(),
            input: input.into(),
            input_hash: alloy::primitives::keccak256(input),
            proposals: Vec::new(),
            previous: None,
        };
        let signed = SignedTask::sign(&attacker, &injected).unwrap();
        bus.publish_task(&signed).await.unwrap();
        let failure = tokio::time::timeout(WAIT, async {
            loop {
                let msg = futures::StreamExt::next(&mut refusals).await.unwrap();
                let failure: TaskFailure = wire::decode(&msg.payload).unwrap();
                if failure.agent == target {
                    return failure;
                }
            }
        })
        .await
        .expect("the worker refuses the injected task");
        failure.verify(&domain).expect("signed by the agent");
        assert_eq!(failure.task_hash, signed.read().unwrap().1);
        assert!(failure.reason.contains(why), "{}", failure.reason);
    }

    let (keeper, handle) = stack.keeper(Duration::from_secs(20));
    let job_id = stack.request(4, 3600).await;
    assert_eq!(job_id, next_job);
    let settled = stack.wait_settled(job_id).await;
    assert_eq!(Some(settled.content), stack.offchain_answer(job_id));
    let d = stack.offchain(job_id);
    let first = &d.rounds()[0];
    assert!(first.proposals.iter().all(Option::is_some), "every agent proposed, the slow one too");
    assert!(first.ballots.iter().all(Option::is_some), "every agent voted");
    let store = Store::open(&stack.db.path().join("keeper.sqlite")).unwrap();
    let job = store.job(job_id).unwrap().unwrap();
    assert!(job.seats.contains(&slow));
    let asked = alloy::primitives::keccak256(&job.spec.input);
    for p in d.rounds().iter().flat_map(|r| r.proposals.iter().flatten()) {
        assert_eq!(p.input_hash, asked, "answers are bound to the job's own input");
    }
    keeper.cancel();
    handle.await.unwrap().unwrap();
}
