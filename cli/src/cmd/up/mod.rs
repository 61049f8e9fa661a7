//! `nsed up`: the main job on an embedded default.
//!
//! Starts anvil and a JetStream nats-server (unless `--rpc-url` / `--nats-url` point elsewhere),
//! the nats-server with NKey authentication (docs/nats-auth.md: an operator that creates the
//! streams, a keeper user and one agent user per worker, each service connecting with its own
//! seed; `--nats.no-auth` turns it off for debugging), deploys the suite (recording `deployments/<network>.json`), registers three agents and starts
//! their workers (each with its own key and a different model), starts a keeper (granted its role
//! by the deployment's bootstrap), then submits demo jobs as a requester wallet would, shows
//! progress while rounds run, and prints each settled answer beside the truth, the deliberation's
//! accuracy, the guild fees that reached the guild timelock and the access tokens (LATs) the
//! winning agents earned. `--once` exits when the demo is done; otherwise everything keeps serving
//! until Ctrl-C and then stops.
//!
//! `--nats.cluster N` starts a JetStream cluster of N local nats-servers instead of one, with the
//! streams replicated to three of them (or N, if fewer; `--nats.replicas` overrides it), and
//! connects the keeper and every worker with every node's URL.
//!
//! `--agents digits` (the default, fastest) seats three ONNX digit classifiers on held-out digits;
//! `--agents llm` seats three language-model agents of two families ([`PANEL`]) on held-out
//! multiple-choice questions and prints every round's proposals and support.

mod text_demo;

use std::{
    path::PathBuf,
    sync::atomic::Ordering::Relaxed,
    time::{Duration, Instant},
};

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
};
use eyre::{WrapErr, bail};
use nsed_bus::{
    Bus, NatsConnect,
    auth::{AuthDir, DEFAULT_KEEPER, InitOptions, OPERATOR},
};
use nsed_client::{AgentOwner, Economy, JobRequest, Requester, Settled, SettledRound};
use nsed_deploy::{DEV_CHAIN_ID, MARKET, deploy_to_dir, is_dev_chain};
use nsed_devstack::{
    Anvil, AnvilConfig, AnvilInstance, NatsCluster, NatsClusterConfig, NatsClusterInstance,
    NatsConfig, NatsInstance, NatsServer,
};
use nsed_indexer::{Indexer, IndexerConfig};
use nsed_inference_worker::{
    Classifier, ClassifierOptions, ExecutionTarget, Manifest, OnnxRuntime, Worker, WorkerConfig,
    agent::language::PANEL,
    llm::{DEFAULT_LLM_DIR, LanguageModelOptions, PreparedModels},
    model::load_test_split,
};
use nsed_keeper::{Keeper, KeeperConfig};
use nsed_protocol::wire::{TASK_KIND_TENSOR_F32, TASK_KIND_TEXT_CHOICE};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{
    app_server::{AppOpts, AppServer},
    opts::{DEPLOYMENTS_DIR, MODELS_DIR, NatsOpts, RpcOpts, SuiteOpts, WalletOpts},
    output::{self, out},
    signal,
};

/// The three models of the demo panel (the best three-model panel in BENCHMARKS.md).
const DEMO_MODELS: [&str; 3] = ["knn_pool4x4", "mlp_pca8_left_half", "logreg_top_half"];

/// Which agents `nsed up` seats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentPanel {
    /// Three ONNX digit classifiers answering held-out digits (fast).
    Digits,
    /// Three language-model agents (SmolLM2, Gemma 3 zero-shot, Gemma 3 with worked examples)
    /// answering held-out multiple-choice questions.
    Llm,
}

/// Arguments of `nsed up`.
#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Exit once the demo is done instead of serving until Ctrl-C.
    #[arg(long)]
    pub once: bool,
    /// Which agents deliberate.
    #[arg(long, value_enum, value_name = "PANEL", default_value_t = AgentPanel::Digits)]
    pub agents: AgentPanel,
    /// Number of demo jobs to submit [default: 8 digits, or 3 questions with `--agents llm`].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Directory of the prepared language models (`--agents llm`).
    #[arg(long = "llm.dir", value_name = "DIR", default_value = DEFAULT_LLM_DIR)]
    pub llm_dir: PathBuf,
    /// Multiple-choice questions (JSONL) the language-model demo asks (`--agents llm`).
    #[arg(
        long = "llm.questions",
        value_name = "PATH",
        default_value = ".cache/llm/eval/arc_easy-test.jsonl"
    )]
    pub llm_questions: PathBuf,
    /// Directory with the models manifest, the .onnx files and the held-out split.
    #[arg(long, value_name = "DIR", env = "NSED_MODELS_DIR", default_value = MODELS_DIR)]
    pub models_dir: PathBuf,
    /// Directory holding deployment records.
    #[arg(long, value_name = "DIR", default_value = DEPLOYMENTS_DIR)]
    pub deployments_dir: PathBuf,
    /// Where the indexer serves GraphQL (port 0 picks a free port).
    #[arg(long = "indexer.listen", value_name = "ADDR", default_value_t = indexer_defaults().listen)]
    pub indexer_listen: std::net::SocketAddr,
    /// An existing chain to use instead of starting a local anvil (never read from the
    /// environment).
    #[command(flatten)]
    pub rpc: RpcOpts,
    /// Funded key for `--rpc-url`: it deploys, registers, keeps and requests in the demo. A local
    /// anvil uses its dev accounts instead.
    #[command(flatten)]
    pub wallet: WalletOpts,
    /// A NATS server to use instead of starting a local nats-server; the keeper and every
    /// worker connect to it with `--nats.creds`.
    #[command(flatten)]
    pub nats: NatsOpts,
    /// Start the local nats-server without authentication, so that any client may publish,
    /// read and delete anything (for debugging with other NATS tools; never on a shared
    /// network).
    #[arg(long = "nats.no-auth", help_heading = "NATS", conflicts_with = "nats_url")]
    pub nats_no_auth: bool,
    /// Start a JetStream cluster of N local nats-servers (routed to each other on loopback)
    /// instead of one, and replicate the streams to 3 of them (N if fewer, or
    /// `--nats.replicas`); the keeper and the workers get every node's URL.
    #[arg(
        long = "nats.cluster",
        value_name = "N",
        help_heading = "NATS",
        conflicts_with = "nats_url",
        value_parser = clap::value_parser!(u8).range(1..=5)
    )]
    pub nats_cluster: Option<u8>,
    /// Deployment parameters.
    #[command(flatten)]
    pub suite: SuiteOpts,
    /// The web app, served while the stack runs.
    #[command(flatten)]
    pub app: AppOpts,
}

/// The indexer library's defaults (the `--indexer.listen` default is theirs).
fn indexer_defaults() -> IndexerConfig {
    IndexerConfig::new("", nsed_deploy::Deployment::default())
}

/// The query `nsed up` runs against its indexer and prints as an example.
const EXAMPLE_QUERY: &str = "{ jobs(first: 2, orderBy: id) { id status settlement { content rounds \
                             winner { id } } } _meta { block { number } } }";

/// Services this command started itself; dropping them stops them.
struct LocalServices {
    anvil: Option<AnvilInstance>,
    nats: Option<NatsInstance>,
    nats_cluster: Option<NatsClusterInstance>,
}

/// How the keeper and the workers reach NATS.
struct NatsSetup {
    /// Every server's URL, separated by commas.
    url: String,
    auth: NatsAuth,
    /// The local cluster's node count and the streams' replicas, when `nsed up` started one.
    cluster: Option<(usize, usize)>,
    /// The keeper's connection.
    keeper: NatsConnect,
    /// Each worker's connection, in panel order.
    agents: Vec<NatsConnect>,
}

/// How `nsed up`'s services authenticate to NATS.
enum NatsAuth {
    /// Its own server, with one NKey user per service; the users and seeds are in `dir`.
    NKey { dir: PathBuf },
    /// Its own server without authentication (`--nats.no-auth`), or a given server without
    /// `--nats.creds`.
    None,
    /// A given server, every service with the credentials in this file.
    Creds(PathBuf),
}

impl NatsAuth {
    /// How the report names it.
    fn describe(&self) -> String {
        match self {
            Self::NKey { .. } => "NKey auth".to_owned(),
            Self::None => "no auth".to_owned(),
            Self::Creds(path) => format!("credentials {}", path.display()),
        }
    }

    fn to_json(&self) -> serde_json::Value {
        match self {
            Self::NKey { dir } => json!({ "mode": "nkey", "dir": dir }),
            Self::None => json!({ "mode": "none" }),
            Self::Creds(path) => json!({ "mode": "creds", "creds": path }),
        }
    }
}

/// The accounts the demo plays: deployer/guild, keeper and requester.
struct Roles {
    deployer: PrivateKeySigner,
    keeper: PrivateKeySigner,
    requester: PrivateKeySigner,
}

/// Ether a demo account gets for gas on a dev chain the demo did not start: far more than the
/// demo spends (a settlement costs well under 0.01 ether at a dev chain's fees).
const GAS_MONEY: U256 = U256::from_limbs([10_000_000_000_000_000_000, 0, 0, 0]);

/// Sends [`GAS_MONEY`] from `payer` to `account` and waits until it is mined.
async fn pay_gas_money(payer: &impl Provider, account: Address) -> eyre::Result<()> {
    let tx = TransactionRequest::default().with_to(account).with_value(GAS_MONEY);
    let receipt = payer.send_transaction(tx).await?.get_receipt().await?;
    eyre::ensure!(receipt.status(), "the transfer {} reverted", receipt.transaction_hash);
    Ok(())
}

/// One demo job: what is asked and the true answer.
struct DemoJob {
    request: JobRequest,
    truth: String,
}

impl UpArgs {
    /// Runs `nsed up`.
    ///
    /// # Errors
    ///
    /// When a service cannot start, ONNX Runtime or a model cannot load, a deployment or
    /// transaction fails, or the demo does not settle in time.
    pub async fn run(self) -> eyre::Result<()> {
        // Databases and, with a local nats-server, its users, seeds and store; declared before
        // the services so that it is deleted after they stop, on every path out.
        let run_dir = tempfile::Builder::new()
            .prefix("nsed-up-")
            .tempdir()
            .wrap_err("cannot create a temporary directory for the run")?;
        let db = run_dir.path().to_path_buf();
        let mut services = LocalServices { anvil: None, nats: None, nats_cluster: None };
        let (rpc_url, roles) = match (&self.rpc.rpc_url, &self.wallet.private_key) {
            // One account cannot play every part: the keeper's claims and the requester's
            // requests would race for the same nonces. The funded key pays two fresh accounts
            // for the other parts once the chain is known to be a dev chain (below).
            (Some(url), Some(key)) => {
                let roles = Roles {
                    deployer: key.signer()?,
                    keeper: PrivateKeySigner::random(),
                    requester: PrivateKeySigner::random(),
                };
                (url.clone(), roles)
            }
            (Some(_), None) => bail!(
                "`--rpc-url` needs a funded key: pass `--private-key` or set NSED_PRIVATE_KEY"
            ),
            (None, _) => {
                let anvil = tokio::task::spawn_blocking(|| Anvil::spawn(AnvilConfig::default()))
                    .await?
                    .wrap_err("cannot start a local anvil")?;
                info!(target: "nsed::up", endpoint = %anvil.endpoint(), "started anvil");
                let key = |i: usize| anvil.accounts()[i].private_key().parse::<PrivateKeySigner>();
                let roles = Roles { deployer: key(0)?, keeper: key(1)?, requester: key(2)? };
                let url = anvil.endpoint();
                services.anvil = Some(anvil);
                (url, roles)
            }
        };
        // The agents' keys come first: with authentication on, each agent is a NATS user named
        // after its address, and the server must know every user when it starts.
        let panel_size = match self.agents {
            AgentPanel::Digits => DEMO_MODELS.len(),
            AgentPanel::Llm => PANEL.len(),
        };
        let agent_keys: Vec<PrivateKeySigner> =
            (0..panel_size).map(|_| PrivateKeySigner::random()).collect();
        let nats = self.start_nats(&mut services, &db, &agent_keys).await?;

        // 1. Contracts.
        let url: reqwest_url::Url =
            rpc_url.parse().wrap_err_with(|| format!("`{rpc_url}` is not a URL"))?;
        let as_deployer =
            nsed_contracts::provider::wallet_provider(url.clone(), roles.deployer.clone());
        let as_requester = nsed_contracts::provider::wallet_provider(url, roles.requester.clone());
        let chain_id = as_deployer.get_chain_id().await?;
        // The demo funds its agents' bonds and its jobs from the bounty token's faucet, which a
        // deployment keeps only on a dev chain.
        if !is_dev_chain(chain_id) {
            bail!(
                "`nsed up` mints its demo's bounty tokens, which only a local dev chain (chain id \
                 {DEV_CHAIN_ID}) allows, and {rpc_url} serves chain {chain_id}: deploy there with \
                 `nsed deploy --suite.genesis FILE` and run the services one by one"
            );
        }
        if services.anvil.is_none() {
            for (part, account) in
                [("keeper", roles.keeper.address()), ("requester", roles.requester.address())]
            {
                pay_gas_money(&as_deployer, account)
                    .await
                    .wrap_err_with(|| format!("cannot pay the demo's {part} {account} for gas"))?;
            }
        }
        let mut params = self.suite.try_params()?;
        params.keepers.push(roles.keeper.address());
        let (record, record_path) = deploy_to_dir(
            &as_deployer,
            roles.deployer.address(),
            None,
            &self.deployments_dir,
            params,
        )
        .await
        .wrap_err_with(|| format!("cannot deploy the suite on {rpc_url}"))?;
        if let Some(call) = record.pending.first() {
            bail!(
                "the deployment in {} belongs to its guild and still needs `{}` (and {} more) by \
                 governance proposal; use a fresh chain or deployments directory for the demo",
                record_path.display(),
                call.what,
                record.pending.len() - 1
            );
        }
        let market_address = record.address(MARKET)?;
        let requester =
            Requester::new(as_requester.clone(), roles.requester.address(), record.clone())?;

        // 2. Agents: three workers with their own keys and different models.
        let runtime =
            OnnxRuntime::load(None).wrap_err("cannot load ONNX Runtime (run scripts/setup.sh)")?;
        let manifest = Manifest::load(&self.models_dir)
            .wrap_err_with(|| format!("cannot read the models in {}", self.models_dir.display()))?;
        // The deployer owns the demo agents: it mints their bonds and registers each with the
        // agent key's own consent.
        let owner = AgentOwner::new(as_deployer.clone(), roles.deployer.address(), &record)?;
        let bond = owner.min_bond().await?;
        owner.fund(&as_deployer, bond * U256::from(panel_size)).await?;
        let shutdown = CancellationToken::new();
        let mut tasks = Vec::new();
        let mut agents = Vec::new();
        // Workers answer only tasks signed by the demo's keeper, checked against the chain too;
        // each connects to NATS as its own agent.
        let worker_config = |nats: &NatsConnect| WorkerConfig {
            nats: nats.clone(),
            keepers: vec![roles.keeper.address()],
            rpc_url: Some(rpc_url.clone()),
            ..WorkerConfig::default()
        };
        let mut panel: Vec<(&str, B256, PrivateKeySigner, Worker)> = Vec::new();
        let mut seats = agent_keys.into_iter().zip(&nats.agents);
        match self.agents {
            AgentPanel::Digits => {
                // One thread per session: a call takes at most a millisecond, and an idle pool
                // thread would spin on a core after each.
                let options = ClassifierOptions::new(ExecutionTarget::Cpu)
                    .with_intra_threads(std::num::NonZeroUsize::MIN);
                for name in DEMO_MODELS {
                    let entry = manifest.try_get(name)?;
                    let classifier =
                        Classifier::load_with(&runtime, &self.models_dir, entry, options)?;
                    let id = B256::from(classifier.model_id());
                    let (key, nats) = seats.next().expect("one key per demo model");
                    let worker = Worker::new(worker_config(nats), key.clone(), classifier);
                    panel.push((name, id, key, worker));
                }
            }
            AgentPanel::Llm => {
                let prepared = PreparedModels::load(&self.llm_dir).wrap_err(
                    "the language models are not prepared (scripts/setup.sh prepares them)",
                )?;
                for agent in PANEL {
                    // Three sessions share two cores: one thread each keeps them from
                    // oversubscribing the machine.
                    let mut options = LanguageModelOptions::new(ExecutionTarget::Cpu);
                    options.intra_threads = Some(std::num::NonZeroUsize::MIN);
                    let model = prepared
                        .load_model(&runtime, agent.model, options)
                        .wrap_err_with(|| format!("cannot load {}", agent.model))?;
                    let id = B256::from(model.model_id());
                    let (key, nats) = seats.next().expect("one key per panel agent");
                    let worker = Worker::with_language_model(
                        worker_config(nats),
                        key.clone(),
                        model,
                        agent.policy,
                    );
                    panel.push((agent.name, id, key, worker));
                }
            }
        }
        for (name, model_id, key, worker) in panel {
            let agent = worker.agent();
            owner
                .register(&key, model_id, &format!("nsed://model/{name}"), bond)
                .await
                .wrap_err_with(|| format!("cannot register agent {agent}"))?;
            tasks.push(tokio::spawn(worker.run(shutdown.child_token())));
            info!(target: "nsed::up", %agent, model = name, %bond, "agent registered with its bond and worker started");
            agents.push((agent, name));
        }

        // 3. Keeper (granted KEEPER_ROLE by the deployment's bootstrap) and indexer.
        let mut indexer_config = IndexerConfig::new(&rpc_url, record.clone());
        indexer_config.db_path = db.join("indexer.sqlite");
        indexer_config.listen = self.indexer_listen;
        indexer_config.poll_interval = Duration::from_millis(200);
        let indexer = Indexer::start(indexer_config).await.wrap_err_with(|| {
            format!(
                "cannot start the indexer on {} (pass --indexer.listen 127.0.0.1:0 for a free port)",
                self.indexer_listen
            )
        })?;
        let mut keeper_config = KeeperConfig::new(&rpc_url, nats.keeper.clone(), market_address);
        keeper_config.start_block = record.start_block;
        keeper_config.db_path = db.join("keeper.sqlite");
        keeper_config.poll_interval = Duration::from_millis(200);
        if self.agents == AgentPanel::Llm {
            // Three models share two cores: a phase can take tens of seconds, and jobs side by
            // side would only queue on the same cores (and report each other's time).
            keeper_config.phase_timeout = Duration::from_secs(120);
            keeper_config.max_in_flight = 1;
        }
        // The web app, for wallets, on the same deployment, chain and indexer.
        let app = self.start_app(&record, &rpc_url, &indexer.graphql_url(), &shutdown).await?;
        let keeper = Keeper::new(keeper_config, roles.keeper.clone());
        let keeper_metrics = keeper.metrics();
        let keeper_task = tokio::spawn(keeper.run(shutdown.child_token()));

        // 4. Demo jobs, requested as a wallet would: mint, approve, requestJob.
        let mut demo: Vec<DemoJob> = Vec::new();
        let mut questions = Vec::new();
        match self.agents {
            AgentPanel::Digits => {
                let rows = load_test_split(&self.models_dir, &manifest.dataset)?;
                for (features, label) in rows.iter().take(self.jobs.unwrap_or(8)) {
                    let input = json!({"shape": [64], "values": features.to_vec()});
                    let request =
                        JobRequest::new(TASK_KIND_TENSOR_F32, serde_json::to_vec(&input)?);
                    demo.push(DemoJob { request, truth: label.to_string() });
                }
            }
            AgentPanel::Llm => {
                questions = text_demo::load_questions(&self.llm_questions, self.jobs.unwrap_or(3))?;
                for q in &questions {
                    let request =
                        JobRequest::new(TASK_KIND_TEXT_CHOICE, serde_json::to_vec(&q.input)?);
                    demo.push(DemoJob { request, truth: q.truth.clone() });
                }
            }
        }
        let jobs = demo.len();
        let total_bounty = demo.iter().map(|d| d.request.bounty).fold(U256::ZERO, |a, b| a + b);
        requester.fund(&as_deployer, total_bounty).await.wrap_err("cannot fund the requester")?;
        let mut requested: Vec<(U256, String)> = Vec::new();
        for job in demo {
            let id = requester.request_job(&job.request).await.wrap_err("cannot request a job")?;
            requested.push((id, job.truth));
        }
        info!(target: "nsed::up", jobs, chain_id, "demo jobs requested; deliberating");

        // 5. Progress until every job is settled.
        let started = Instant::now();
        let limit = match self.agents {
            AgentPanel::Digits => Duration::from_secs(300),
            AgentPanel::Llm => Duration::from_secs(120 + 300 * jobs as u64),
        };
        let ids: Vec<U256> = requested.iter().map(|(id, _)| *id).collect();
        let settled = requester
            .wait_settled(&ids, limit, |found| {
                let done = found.iter().filter(|s| s.is_some()).count();
                eprint_progress(done, found.len(), &keeper_metrics);
            })
            .await
            .wrap_err("the demo jobs did not settle")?;
        let elapsed = started.elapsed();

        let mut transcripts = Vec::new();
        if self.agents == AgentPanel::Llm {
            // Jobs run one after another: each one's time is the gap since the previous one.
            let mut previous = 0.0;
            for (i, (job_id, _)) in requested.iter().enumerate() {
                let rounds = requester.settled_rounds(*job_id).await?;
                let at = settled[i].after.as_secs_f64();
                let seconds = at - previous;
                previous = at;
                text_demo::print_job(
                    *job_id,
                    &questions[i],
                    &rounds,
                    &settled[i].event.content,
                    seconds,
                    &agents,
                );
                transcripts.push((seconds, rounds));
            }
            out!();
        }

        // 6. Where the money and the access tokens went. On a local anvil the demo waits out the
        // challenge window and releases every deal, so the fees actually reach the guild.
        let winners: Vec<Address> = agents.iter().map(|(a, _)| *a).collect();
        let economy = requester
            .economy(&ids, &winners, services.anvil.is_some())
            .await
            .wrap_err("cannot read fees and access tokens")?;

        // 7. The indexer catches up, and answers an example query.
        let head = as_requester.get_block_number().await?;
        indexer
            .wait_for_block(head, Duration::from_secs(60))
            .await
            .wrap_err("the indexer did not catch up with the chain")?;
        let graphql_url = indexer.graphql_url();
        let example_answer = alloy::transports::http::reqwest::Client::new()
            .post(&graphql_url)
            .header("content-type", "application/json")
            .body(json!({ "query": EXAMPLE_QUERY }).to_string())
            .send()
            .await
            .wrap_err("cannot query the indexer")?
            .text()
            .await?;

        // 8. Report.
        let app_url = app.as_ref().map(AppServer::url);
        let report = Report {
            rpc_url: &rpc_url,
            chain_id,
            nats: &nats,
            record_path: &record_path,
            market: market_address,
            agents: &agents,
            requested: &requested,
            settled: &settled,
            elapsed,
            rounds: keeper_metrics.rounds.load(Relaxed),
            in_flight_max: keeper_metrics.jobs_in_flight_max.load(Relaxed),
            economy: &economy,
            graphql_url: &graphql_url,
            app_url: app_url.as_deref(),
            example_answer: &example_answer,
        };
        if output::is_json() {
            let questions = (self.agents == AgentPanel::Llm).then_some(&questions[..]);
            output::json(&report.to_json(questions, &transcripts));
        } else {
            print_report(&report);
        }

        if !self.once {
            info!(target: "nsed::up", "serving; press Ctrl-C to stop");
            // SIGTERM stops it as cleanly as Ctrl-C: the workers, keeper and indexer wind down
            // and the local anvil and nats-server are stopped.
            signal::cancel_on_signal(shutdown.clone()).await;
        }
        shutdown.cancel();
        for task in tasks {
            task.await??;
        }
        keeper_task.await??;
        if let Some(app) = app {
            app.shutdown().await?;
        }
        indexer.shutdown().await.wrap_err("indexer")?;
        drop(services);
        drop(run_dir);
        info!(target: "nsed::up", "stopped");
        Ok(())
    }
}

impl UpArgs {
    /// Serves the web app unless its bundle is not built (then `None`, with a warning: the
    /// demo does not need it). A taken `--app.listen` port falls back to a free one, so that
    /// several stacks can run side by side.
    async fn start_app(
        &self,
        record: &nsed_deploy::Deployment,
        rpc_url: &str,
        graphql_url: &str,
        shutdown: &CancellationToken,
    ) -> eyre::Result<Option<AppServer>> {
        if !self.app.dir.join("index.html").is_file() {
            warn!(
                target: "nsed::up",
                dir = %self.app.dir.display(),
                "the web app is not built (scripts/setup.sh builds it); not serving it"
            );
            return Ok(None);
        }
        let mut config = self.app.config(record.clone(), rpc_url, graphql_url);
        let app = match AppServer::start(config.clone(), shutdown.child_token()).await {
            Ok(app) => app,
            Err(e) if config.listen.port() != 0 => {
                warn!(target: "nsed::up", listen = %config.listen, error = %e, "web app port taken; using a free port");
                config.listen.set_port(0);
                AppServer::start(config, shutdown.child_token()).await?
            }
            Err(e) => return Err(e),
        };
        info!(target: "nsed::up", url = %app.url(), "web app serving");
        Ok(Some(app))
    }

    /// Starts the local nats-server, with a NATS user for the keeper and one for each of
    /// `agents` unless `--nats.no-auth`, and creates the streams as the operator; or, with
    /// `--nats-url`, uses that server with `--nats.creds` for every service.
    async fn start_nats(
        &self,
        services: &mut LocalServices,
        run_dir: &std::path::Path,
        agents: &[PrivateKeySigner],
    ) -> eyre::Result<NatsSetup> {
        if let Some(url) = &self.nats.nats_url {
            let connect = self.nats.connect_to(url);
            let auth = self.nats.creds.clone().map_or(NatsAuth::None, NatsAuth::Creds);
            let agents = vec![connect.clone(); agents.len()];
            return Ok(NatsSetup {
                url: url.clone(),
                auth,
                cluster: None,
                keeper: connect,
                agents,
            });
        }
        if self.nats.creds.is_some() || self.nats.tls_ca.is_some() || self.nats.tls_cert.is_some() {
            warn!(
                target: "nsed::up",
                "--nats.creds and --nats.tls-* apply to a server given with --nats-url; the local \
                 nats-server gets its own users"
            );
        }
        let nodes = self.nats_cluster.map_or(1, usize::from);
        let replicas = self.nats.replicas.map_or_else(|| nodes.min(3), usize::from);
        if replicas > nodes {
            bail!(
                "--nats.replicas {replicas} needs a cluster of at least {replicas} servers: pass \
                 `--nats.cluster {replicas}` (or more)"
            );
        }
        let cluster = self.nats_cluster.map(|_| (nodes, replicas));

        let dir = run_dir.join("nats");
        let auth = if self.nats_no_auth {
            None
        } else {
            // The server listens where devstack tells it (`-a 127.0.0.1 -p <free port>`), which
            // overrides the file's `listen`; a cluster node also gets its own store directory.
            let options = InitOptions::new("127.0.0.1:4222", dir.join("jetstream"));
            let mut auth = AuthDir::init(&dir, options)
                .wrap_err_with(|| format!("cannot create the NATS users in {}", dir.display()))?;
            let mut agent_creds = Vec::with_capacity(agents.len());
            for key in agents {
                let creds = auth.add_agent(key.address(), false).wrap_err_with(|| {
                    format!("cannot add NATS user for agent {}", key.address())
                })?;
                agent_creds.push(creds);
            }
            Some((auth, agent_creds))
        };
        let config_file = auth.as_ref().map(|(auth, _)| auth.config_path());
        let url = if self.nats_cluster.is_some() {
            let config = NatsClusterConfig {
                base_config: config_file,
                ..NatsClusterConfig::default().with_nodes(nodes)
            };
            let cluster = tokio::task::spawn_blocking(move || NatsCluster::spawn(config))
                .await?
                .wrap_err_with(|| {
                    format!("cannot start a local cluster of {nodes} nats-servers")
                })?;
            let url = cluster.url();
            services.nats_cluster = Some(cluster);
            url
        } else {
            let config = NatsConfig { config_file, ..NatsConfig::default() };
            let nats = tokio::task::spawn_blocking(move || NatsServer::spawn(config))
                .await?
                .wrap_err("cannot start a local nats-server")?;
            let url = nats.url();
            services.nats = Some(nats);
            url
        };

        let Some((auth, agent_creds)) = auth else {
            warn!(target: "nsed::up", %url, nodes, "started nats-server without authentication");
            let connect = NatsConnect::new(&url).with_replicas(replicas);
            // Nobody else may create the streams first with another replica count.
            Bus::connect_with(&connect)
                .await
                .wrap_err("cannot connect to the local nats-server")?
                .ensure_streams()
                .await
                .wrap_err("cannot create the NATS streams")?;
            let agents = vec![connect.clone(); agents.len()];
            return Ok(NatsSetup { url, auth: NatsAuth::None, cluster, keeper: connect, agents });
        };
        info!(target: "nsed::up", %url, nodes, replicas, users = %dir.display(), "started nats-server with JetStream and NKey auth");

        // Only the operator may create the streams; the keeper and the workers only check them.
        let connect =
            |creds: PathBuf| NatsConnect::new(&url).with_creds(creds).with_replicas(replicas);
        let operator = Bus::connect_with(&connect(auth.creds_path(OPERATOR)))
            .await
            .wrap_err("cannot connect to the local nats-server as the operator")?;
        operator.ensure_streams().await.wrap_err("cannot create the NATS streams")?;
        operator.drain().await.wrap_err("cannot close the operator's NATS connection")?;

        let keeper = connect(auth.creds_path(DEFAULT_KEEPER));
        let agents = agent_creds.into_iter().map(connect).collect();
        Ok(NatsSetup { url, auth: NatsAuth::NKey { dir }, cluster, keeper, agents })
    }
}

/// alloy re-exports reqwest's URL type; this names it once.
mod reqwest_url {
    pub(super) type Url = alloy::transports::http::reqwest::Url;
}

fn eprint_progress(done: usize, total: usize, metrics: &nsed_keeper::Metrics) {
    // A redrawn bar only makes sense on a terminal; logs get the final line only.
    if done < total && !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return;
    }
    let width = 24;
    let filled = done * width / total.max(1);
    output::progress(format_args!(
        "\r[{}{}] {done}/{total} jobs settled · {} rounds · {} results accepted ",
        "#".repeat(filled),
        "-".repeat(width - filled),
        metrics.rounds.load(Relaxed),
        metrics.results_accepted.load(Relaxed),
    ));
    if done == total {
        output::progress_end();
    }
}

struct Report<'a> {
    rpc_url: &'a str,
    chain_id: u64,
    nats: &'a NatsSetup,
    record_path: &'a std::path::Path,
    market: Address,
    agents: &'a [(Address, &'a str)],
    requested: &'a [(U256, String)],
    settled: &'a [Settled],
    elapsed: Duration,
    rounds: u64,
    /// Most jobs the keeper worked on at once.
    in_flight_max: u64,
    economy: &'a Economy,
    graphql_url: &'a str,
    /// `None` when the web app's bundle is not built.
    app_url: Option<&'a str>,
    example_answer: &'a str,
}

impl Report<'_> {
    fn correct(&self) -> usize {
        self.requested.iter().zip(self.settled).filter(|((_, t), s)| s.event.content == *t).count()
    }

    fn jobs_per_minute(&self) -> f64 {
        self.requested.len() as f64 * 60.0 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn name_of(&self, agent: Address) -> Option<&str> {
        self.agents.iter().find(|(a, _)| *a == agent).map(|(_, n)| *n)
    }

    /// The `--json` document: everything the text report shows, and for language-model jobs
    /// their questions and rounds (`transcripts`: each job's time and rounds).
    fn to_json(
        &self,
        questions: Option<&[text_demo::DemoQuestion]>,
        transcripts: &[(f64, Vec<SettledRound>)],
    ) -> serde_json::Value {
        let e = self.economy;
        let jobs: Vec<serde_json::Value> = self
            .requested
            .iter()
            .zip(self.settled)
            .enumerate()
            .map(|(i, ((id, truth), s))| {
                let mut job = json!({
                    "id": id.to_string(),
                    "answer": s.event.content,
                    "truth": truth,
                    "correct": s.event.content == *truth,
                    "rounds": s.event.rounds,
                    "winner": s.event.winner,
                    "score": s.event.score.to_string(),
                    "settledAfterSecs": s.after.as_secs_f64(),
                });
                if let (Some(q), Some((seconds, rounds))) =
                    (questions.and_then(|q| q.get(i)), transcripts.get(i))
                {
                    job["question"] = json!(q.input.question.trim());
                    job["choices"] = q
                        .input
                        .labels()
                        .iter()
                        .zip(&q.input.choices)
                        .map(|(label, text)| json!({ "label": label, "text": text }))
                        .collect();
                    job["seconds"] = json!(seconds);
                    job["transcript"] = rounds
                        .iter()
                        .enumerate()
                        .map(|(r, round)| {
                            let proposals: Vec<serde_json::Value> = round
                                .contents
                                .iter()
                                .enumerate()
                                .map(|(seat, content)| {
                                    let agent = round.agents.get(seat).copied().unwrap_or_default();
                                    json!({
                                        "agent": agent,
                                        "name": self.name_of(agent),
                                        "content": content,
                                        "score": round.scores.get(seat).map(ToString::to_string),
                                    })
                                })
                                .collect();
                            json!({ "round": r + 1, "proposals": proposals })
                        })
                        .collect();
                }
                job
            })
            .collect();
        let lats: Vec<serde_json::Value> = e
            .lats
            .iter()
            .map(|(agent, tiers)| {
                let tiers: Vec<u64> = tiers.iter().map(|n| n.saturating_to::<u64>()).collect();
                json!({ "agent": agent, "name": self.name_of(*agent), "tiers": tiers })
            })
            .collect();
        let example: serde_json::Value = serde_json::from_str(self.example_answer)
            .unwrap_or_else(|_| json!(self.example_answer));
        json!({
            "chain": { "rpcUrl": self.rpc_url, "chainId": self.chain_id },
            "nats": self.nats.url,
            "natsAuth": self.nats.auth.to_json(),
            "natsCluster": self.nats.cluster.map(|(nodes, replicas)| {
                json!({ "nodes": nodes, "replicas": replicas })
            }),
            "deployment": { "record": self.record_path, "market": self.market },
            "agents": self
                .agents
                .iter()
                .map(|(agent, name)| json!({ "address": agent, "name": name }))
                .collect::<Vec<_>>(),
            "jobs": jobs,
            "accuracy": {
                "correct": self.correct(),
                "total": self.requested.len(),
                "elapsedSecs": self.elapsed.as_secs_f64(),
                "jobsPerMinute": self.jobs_per_minute(),
                "keeperJobsInFlightMax": self.in_flight_max,
            },
            "rounds": self.rounds,
            "fees": {
                "timelock": e.timelock,
                "releasedBnty": e.guild_fees.map(token_amount),
                "deliveredBnty": token_amount(e.guild_fees_delivered),
            },
            "lats": lats,
            "graphql": { "url": self.graphql_url, "exampleQuery": EXAMPLE_QUERY, "exampleAnswer": example },
            "app": { "url": self.app_url },
        })
    }
}

/// `amount` (18 decimals) as a decimal number of tokens without trailing zeros.
fn token_amount(amount: U256) -> String {
    let text = alloy::primitives::utils::format_ether(amount);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn print_report(r: &Report<'_>) {
    out!("chain        {} (chain id {})", r.rpc_url, r.chain_id);
    match r.nats.cluster {
        Some((nodes, replicas)) => out!(
            "nats         {} (JetStream cluster of {nodes} servers, streams with {replicas} \
             replicas, {})",
            r.nats.url,
            r.nats.auth.describe()
        ),
        None => out!("nats         {} (JetStream, {})", r.nats.url, r.nats.auth.describe()),
    }
    out!("deployment   {}", r.record_path.display());
    out!("market       {}", r.market);
    for (agent, model) in r.agents {
        out!("agent        {agent} ({model})");
    }
    out!();
    out!("job  answer  truth  rounds  winner");
    for ((job_id, truth), s) in r.requested.iter().zip(r.settled) {
        let e = &s.event;
        let ok = e.content == *truth;
        out!(
            "{job_id:<4} {:<7} {truth:<6} {:<7} {} {}",
            e.content,
            e.rounds,
            e.winner,
            if ok { "✓" } else { "✗" }
        );
    }
    let total = r.requested.len();
    out!();
    out!(
        "accuracy     {}/{total} ({:.1}%) settled on chain in {:.1} s ({:.1} jobs/minute)",
        r.correct(),
        100.0 * r.correct() as f64 / total.max(1) as f64,
        r.elapsed.as_secs_f64(),
        r.jobs_per_minute()
    );
    out!(
        "rounds       {} in total, {:.0} ms of wall time each on average (keeper, NATS, signing \
         and inference; up to {} jobs at once)",
        r.rounds,
        r.elapsed.as_secs_f64() * 1000.0 / r.rounds.max(1) as f64,
        r.in_flight_max
    );
    let e = r.economy;
    match e.guild_fees {
        Some(fees) => out!(
            "guild fees   {} BNTY released from escrow to the guild timelock {} (its treasury)",
            token_amount(fees),
            e.timelock
        ),
        None => out!(
            "guild fees   {} BNTY delivered in escrow to the guild timelock {}; released after \
             the challenge window",
            token_amount(e.guild_fees_delivered),
            e.timelock
        ),
    }
    for (agent, tiers) in &e.lats {
        let held: Vec<String> = (1..)
            .zip(tiers)
            .filter(|(_, n)| !n.is_zero())
            .map(|(tier, n)| format!("{n} × tier {tier}"))
            .collect();
        let held = if held.is_empty() { "none".to_string() } else { held.join(", ") };
        out!("access       {agent} earned LATs: {held}");
    }
    out!("record       {}", r.record_path.display());
    out!("graphql      {} (GraphiQL in a browser; POST queries)", r.graphql_url);
    match r.app_url {
        Some(url) => {
            out!("app          {url} (the web app: request and watch deliberations with a wallet)")
        }
        None => out!("app          not built (scripts/setup.sh builds it into app/dist)"),
    }
    out!("example      {EXAMPLE_QUERY}");
    out!("answer       {}", r.example_answer);
}
