//! `nsed up`: the main job on an embedded default.
//!
//! Starts anvil and a JetStream nats-server (unless `--rpc-url` / `--nats-url` point elsewhere),
//! deploys the suite (recording `deployments/<network>.json`), registers three agents and starts
//! their workers (each with its own key and a different model), starts a keeper (granted its role
//! by the deployment's bootstrap), then submits demo jobs as a requester wallet would, shows
//! progress while rounds run, and prints each settled answer beside the truth, the deliberation's
//! accuracy, the guild fees that reached the guild timelock and the access tokens (LATs) the
//! winning agents earned. `--once` exits when the demo is done; otherwise everything keeps serving
//! until Ctrl-C and then stops.
//!
//! `--agents digits` (the default, fastest) seats three ONNX digit classifiers on held-out digits;
//! `--agents llm` seats three language-model agents of two families ([`PANEL`]) on held-out
//! multiple-choice questions and prints every round's proposals and support.

mod text_demo;

use std::{
    fmt,
    path::PathBuf,
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use eyre::{WrapErr, bail, eyre};
use nsed_contracts::bounty_token::BountyToken;
use nsed_contracts::deliberation_market::DeliberationMarket;
use nsed_contracts::i_deliberation_market::IDeliberationMarket::{self, JobSettled, JobSpec};
use nsed_contracts::{
    liquid_access_token::LiquidAccessToken, tripartite_escrow::TripartiteEscrow, tx,
};
use nsed_deploy::{BOUNTY_TOKEN, ESCROW, LAT, MARKET, TIMELOCK};
use nsed_devstack::{Anvil, AnvilConfig, AnvilInstance, NatsConfig, NatsInstance, NatsServer};
use nsed_indexer::{Indexer, IndexerConfig};
use nsed_inference_worker::{
    Classifier, ExecutionTarget, Manifest, OnnxRuntime, Worker, WorkerConfig,
    agent::language::PANEL,
    llm::{DEFAULT_LLM_DIR, LanguageModelOptions, PreparedModels},
    model::load_test_split,
};
use nsed_keeper::{Keeper, KeeperConfig};
use nsed_protocol::wire::{TASK_KIND_TENSOR_F32, TASK_KIND_TEXT_CHOICE};
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::deploy::{SuiteOpts, deploy_and_record};
use crate::output::{self, out};

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
    /// Chain to use.
    #[command(flatten)]
    pub rpc: RpcOpts,
    /// NATS server to use instead of starting a local nats-server.
    #[arg(long, value_name = "URL", env = "NATS_URL", help_heading = "NATS")]
    pub nats_url: Option<String>,
    /// Directory with the models manifest, the .onnx files and the held-out split.
    #[arg(long, value_name = "DIR", env = "NSED_MODELS_DIR", default_value = "models")]
    pub models_dir: PathBuf,
    /// Directory holding deployment records.
    #[arg(long, value_name = "DIR", default_value = "deployments")]
    pub deployments_dir: PathBuf,
    /// Deployment parameters.
    #[command(flatten)]
    pub suite: SuiteOpts,
    /// Where the indexer serves GraphQL (port 0 picks a free port).
    #[arg(long = "indexer.listen", value_name = "ADDR", default_value = "127.0.0.1:8000")]
    pub indexer_listen: std::net::SocketAddr,
}

/// The query `nsed up` runs against its indexer and prints as an example.
const EXAMPLE_QUERY: &str = "{ jobs(first: 2, orderBy: id) { id status settlement { content rounds \
                             winner { id } } } _meta { block { number } } }";

/// Which chain to talk to and who signs.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Chain")]
pub struct RpcOpts {
    /// JSON-RPC endpoint of an existing chain; without it a local anvil is started.
    ///
    /// Deliberately not read from `ETH_RPC_URL`: a stray environment variable must never point a
    /// local demo at a real network.
    #[arg(long, value_name = "URL")]
    pub rpc_url: Option<String>,
    /// Funded key (hex) for `--rpc-url`: it deploys, registers, keeps and requests in the demo. A
    /// local anvil uses its dev accounts instead.
    #[arg(long, value_name = "HEX", env = "NSED_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: Option<SecretKey>,
}

/// A private key from the command line or environment; never printed.
#[derive(Clone)]
pub struct SecretKey(String);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

// Parsing only stores the text: clap quotes rejected values in its errors, so validation happens
// in `signer`, whose error never repeats the key.
impl std::str::FromStr for SecretKey {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

impl SecretKey {
    pub(crate) fn signer(&self) -> eyre::Result<PrivateKeySigner> {
        self.0.parse().map_err(|_| eyre!("the private key is not a 32-byte hex secp256k1 key"))
    }
}

/// Services this command started itself; dropping them stops them.
struct LocalServices {
    anvil: Option<AnvilInstance>,
    nats: Option<NatsInstance>,
}

/// The accounts the demo plays: deployer/guild, keeper and requester.
struct Roles {
    deployer: PrivateKeySigner,
    keeper: PrivateKeySigner,
    requester: PrivateKeySigner,
}

impl UpArgs {
    /// Runs `nsed up`.
    ///
    /// # Errors
    ///
    /// When a service cannot start, ONNX Runtime or a model cannot load, a deployment or
    /// transaction fails, or the demo does not settle in time.
    pub async fn run(self) -> eyre::Result<()> {
        let mut services = LocalServices { anvil: None, nats: None };
        let (rpc_url, roles) = match (&self.rpc.rpc_url, &self.rpc.private_key) {
            (Some(url), Some(key)) => {
                let signer = key.signer()?;
                let roles =
                    Roles { deployer: signer.clone(), keeper: signer.clone(), requester: signer };
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
        let nats_url = match &self.nats_url {
            Some(url) => url.clone(),
            None => {
                let nats = tokio::task::spawn_blocking(|| NatsServer::spawn(NatsConfig::default()))
                    .await?
                    .wrap_err("cannot start a local nats-server")?;
                info!(target: "nsed::up", url = %nats.url(), "started nats-server with JetStream");
                let url = nats.url();
                services.nats = Some(nats);
                url
            }
        };

        // 1. Contracts.
        let deployer_key =
            SecretKey(format!("0x{}", alloy::hex::encode(roles.deployer.to_bytes())));
        let mut params = self.suite.params();
        params.keepers.push(roles.keeper.address());
        let (record, record_path) =
            deploy_and_record(&rpc_url, &deployer_key, None, &self.deployments_dir, params).await?;
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
        let token_address = record.address(BOUNTY_TOKEN)?;
        let url: reqwest_url::Url =
            rpc_url.parse().wrap_err_with(|| format!("`{rpc_url}` is not a URL"))?;
        let as_deployer =
            nsed_contracts::provider::wallet_provider(url.clone(), roles.deployer.clone());
        let as_requester = nsed_contracts::provider::wallet_provider(url, roles.requester.clone());
        let chain_id = as_deployer.get_chain_id().await?;

        // 2. Agents: three workers with their own keys and different models.
        let runtime =
            OnnxRuntime::load(None).wrap_err("cannot load ONNX Runtime (run scripts/setup.sh)")?;
        let manifest = Manifest::load(&self.models_dir)
            .wrap_err_with(|| format!("cannot read the models in {}", self.models_dir.display()))?;
        let market = IDeliberationMarket::new(market_address, &as_deployer);
        let shutdown = CancellationToken::new();
        let mut tasks = Vec::new();
        let mut agents = Vec::new();
        let worker_config = WorkerConfig { nats_url: nats_url.clone(), ..WorkerConfig::default() };
        let mut panel: Vec<(&str, B256, Worker)> = Vec::new();
        match self.agents {
            AgentPanel::Digits => {
                for name in DEMO_MODELS {
                    let entry = manifest.try_get(name)?;
                    let classifier =
                        Classifier::load(&runtime, &self.models_dir, entry, ExecutionTarget::Cpu)?;
                    let id = B256::from(classifier.model_id());
                    let key = PrivateKeySigner::random();
                    panel.push((name, id, Worker::new(worker_config.clone(), key, classifier)));
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
                    let key = PrivateKeySigner::random();
                    let worker = Worker::with_language_model(
                        worker_config.clone(),
                        key,
                        model,
                        agent.policy,
                    );
                    panel.push((agent.name, id, worker));
                }
            }
        }
        for (name, model_id, worker) in panel {
            let agent = worker.agent();
            let register = market.registerAgent(agent, model_id, format!("nsed://model/{name}"));
            tx::send_call("registerAgent", register)
                .await
                .wrap_err_with(|| format!("cannot register agent {agent}"))?;
            tasks.push(tokio::spawn(worker.run(shutdown.child_token())));
            info!(target: "nsed::up", %agent, model = name, "agent registered and worker started");
            agents.push((agent, name));
        }

        // 3. Keeper (granted KEEPER_ROLE by the deployment's bootstrap) and indexer.
        let db = tempfile_dir()?;
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
        let mut keeper_config = KeeperConfig::new(&rpc_url, &nats_url, market_address);
        keeper_config.start_block = record.start_block;
        keeper_config.db_path = db.join("keeper.sqlite");
        keeper_config.poll_interval = Duration::from_millis(200);
        if self.agents == AgentPanel::Llm {
            // Three models share two cores: a phase can take tens of seconds.
            keeper_config.phase_timeout = Duration::from_secs(120);
        }
        let keeper = Keeper::new(keeper_config, roles.keeper.clone());
        let keeper_metrics = keeper.metrics();
        let keeper_task = tokio::spawn(keeper.run(shutdown.child_token()));

        // 4. Demo jobs, requested as a wallet would: mint, approve, requestJob.
        let mut demo: Vec<(&str, Vec<u8>, String)> = Vec::new();
        let mut questions = Vec::new();
        match self.agents {
            AgentPanel::Digits => {
                let rows = load_test_split(&self.models_dir, &manifest.dataset)?;
                for (features, label) in rows.iter().take(self.jobs.unwrap_or(8)) {
                    let input = serde_json::json!({"shape": [64], "values": features.to_vec()});
                    demo.push((
                        TASK_KIND_TENSOR_F32,
                        serde_json::to_vec(&input)?,
                        label.to_string(),
                    ));
                }
            }
            AgentPanel::Llm => {
                questions = text_demo::load_questions(&self.llm_questions, self.jobs.unwrap_or(3))?;
                for q in &questions {
                    demo.push((
                        TASK_KIND_TEXT_CHOICE,
                        serde_json::to_vec(&q.input)?,
                        q.truth.clone(),
                    ));
                }
            }
        }
        let jobs = demo.len();
        let bounty = U256::from(10u64).pow(U256::from(18));
        let token = BountyToken::new(token_address, &as_deployer);
        tx::send_call("mint", token.mint(roles.requester.address(), bounty * U256::from(jobs)))
            .await?;
        let requester_token = BountyToken::new(token_address, &as_requester);
        tx::send_call(
            "approve",
            requester_token.approve(market_address, bounty * U256::from(jobs)),
        )
        .await?;
        let as_requester_market = IDeliberationMarket::new(market_address, &as_requester);
        let now = as_requester
            .get_block_by_number(Default::default())
            .await?
            .map(|b| b.header.timestamp)
            .unwrap_or_default();
        let mut requested = Vec::new();
        for (kind, input, truth) in demo {
            let spec = JobSpec {
                kind: kind.into(),
                input: input.into(),
                agentsWanted: 3,
                maxRounds: 3,
                credits: 100,
                deadline: now + 3600,
            };
            let receipt =
                tx::send_call("requestJob", as_requester_market.requestJob(spec, bounty)).await?;
            let job_id = receipt
                .inner
                .logs()
                .iter()
                .find_map(|log| IDeliberationMarket::JobRequested::decode_log(&log.inner).ok())
                .map(|e| e.jobId)
                .ok_or_else(|| eyre!("requestJob emitted no JobRequested"))?;
            requested.push((job_id, truth));
        }
        info!(target: "nsed::up", jobs, chain_id, "demo jobs requested; deliberating");

        // 5. Progress until every job is settled.
        let started = Instant::now();
        let mut settled: Vec<Option<JobSettled>> = vec![None; requested.len()];
        let mut settled_at: Vec<f64> = vec![0.0; requested.len()];
        let limit = match self.agents {
            AgentPanel::Digits => Duration::from_secs(300),
            AgentPanel::Llm => Duration::from_secs(120 + 300 * jobs as u64),
        };
        while settled.iter().any(Option::is_none) {
            if started.elapsed() > limit {
                bail!("demo jobs did not settle within {} s", limit.as_secs());
            }
            let logs = as_requester
                .get_logs(
                    &alloy::rpc::types::Filter::new()
                        .address(market_address)
                        .from_block(record.start_block)
                        .event_signature(JobSettled::SIGNATURE_HASH),
                )
                .await?;
            for log in logs {
                if let Ok(event) = JobSettled::decode_log(&log.inner)
                    && let Some(i) = requested.iter().position(|(id, _)| *id == event.jobId)
                    && settled[i].is_none()
                {
                    settled[i] = Some(event.data);
                    settled_at[i] = started.elapsed().as_secs_f64();
                }
            }
            let done = settled.iter().filter(|s| s.is_some()).count();
            eprint_progress(done, requested.len(), &keeper_metrics);
            if done < requested.len() {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        let elapsed = started.elapsed();

        if self.agents == AgentPanel::Llm {
            // Jobs run one after another: each one's time is the gap since the previous one.
            let mut previous = 0.0;
            for (i, (job_id, _)) in requested.iter().enumerate() {
                let Some(event) = &settled[i] else { continue };
                let rounds = text_demo::settled_rounds(
                    &as_requester,
                    market_address,
                    record.start_block,
                    *job_id,
                )
                .await?;
                let seconds = settled_at[i] - previous;
                previous = settled_at[i];
                text_demo::print_job(
                    *job_id,
                    &questions[i],
                    &rounds,
                    &event.content,
                    seconds,
                    &agents,
                );
            }
            out!();
        }

        // 6. Where the money and the access tokens went.
        let economy =
            Economy::read(&as_requester, &record, &requested, &agents, services.anvil.is_some())
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
            .body(serde_json::json!({ "query": EXAMPLE_QUERY }).to_string())
            .send()
            .await
            .wrap_err("cannot query the indexer")?
            .text()
            .await?;

        // 8. Report.
        print_report(&Report {
            rpc_url: &rpc_url,
            chain_id,
            nats_url: &nats_url,
            record_path: &record_path,
            market: market_address,
            agents: &agents,
            requested: &requested,
            settled: &settled,
            elapsed,
            rounds: keeper_metrics.rounds.load(std::sync::atomic::Ordering::Relaxed),
            economy: &economy,
            graphql_url: &graphql_url,
            example_answer: &example_answer,
        });

        if !self.once {
            info!(target: "nsed::up", "serving; press Ctrl-C to stop");
            tokio::signal::ctrl_c().await.wrap_err("cannot wait for Ctrl-C")?;
        }
        shutdown.cancel();
        for task in tasks {
            task.await??;
        }
        keeper_task.await??;
        indexer.shutdown().await.wrap_err("indexer")?;
        drop(services);
        let _ = std::fs::remove_dir_all(&db);
        info!(target: "nsed::up", "stopped");
        Ok(())
    }
}

/// alloy re-exports reqwest's URL type; this names it once.
mod reqwest_url {
    pub(super) type Url = alloy::transports::http::reqwest::Url;
}

fn tempfile_dir() -> eyre::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("nsed-up-{}", std::process::id()));
    std::fs::create_dir_all(&dir).wrap_err_with(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

fn eprint_progress(done: usize, total: usize, metrics: &nsed_keeper::Metrics) {
    use std::sync::atomic::Ordering::Relaxed;
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
    nats_url: &'a str,
    record_path: &'a std::path::Path,
    market: Address,
    agents: &'a [(Address, &'a str)],
    requested: &'a [(U256, String)],
    settled: &'a [Option<JobSettled>],
    elapsed: Duration,
    rounds: u64,
    economy: &'a Economy,
    graphql_url: &'a str,
    example_answer: &'a str,
}

/// Guild fees and access tokens after the demo.
struct Economy {
    timelock: Address,
    /// Guild fees the timelock received, or `None` while they wait in escrow.
    guild_fees: Option<U256>,
    /// Guild fees delivered to the escrow for the timelock.
    guild_fees_delivered: U256,
    /// Per agent, its market access tokens by tier (index 0 is tier 1).
    lats: Vec<(Address, Vec<U256>)>,
}

impl Economy {
    /// Reads the guild's fees and each agent's access tokens. On a local anvil the demo waits out
    /// the challenge window (`evm_increaseTime`) and releases every job's escrow deal, as anyone
    /// may, so the fees actually reach the guild timelock.
    async fn read<P: Provider>(
        provider: &P,
        record: &nsed_deploy::Deployment,
        requested: &[(U256, String)],
        agents: &[(Address, &str)],
        local: bool,
    ) -> eyre::Result<Self> {
        let timelock = record.address(TIMELOCK)?;
        let market = DeliberationMarket::new(record.address(MARKET)?, provider);
        let escrow = TripartiteEscrow::new(record.address(ESCROW)?, provider);
        let mut delivered = U256::ZERO;
        let mut deals = Vec::new();
        for (job_id, _) in requested {
            let deal_id = market.job(*job_id).call().await?.escrowId;
            let deal = escrow.deal(deal_id).call().await?;
            for (to, amount) in deal.recipients.iter().zip(&deal.amounts) {
                if *to == timelock {
                    delivered += *amount;
                }
            }
            deals.push(deal_id);
        }
        let guild_fees = if local {
            let window = market.challengeWindow().call().await?;
            provider.raw_request::<_, i64>("evm_increaseTime".into(), (window + 1,)).await?;
            provider.raw_request::<_, String>("evm_mine".into(), ()).await?;
            let token = BountyToken::new(record.address(BOUNTY_TOKEN)?, provider);
            let before = token.balanceOf(timelock).call().await?;
            for deal_id in deals {
                tx::send_call(format!("release({deal_id})"), escrow.release(deal_id)).await?;
            }
            Some(token.balanceOf(timelock).call().await? - before)
        } else {
            None
        };
        let lat = LiquidAccessToken::new(record.address(LAT)?, provider);
        let asset = market.latAsset().call().await?;
        let mut lats = Vec::new();
        for (agent, _) in agents {
            // A win at market rank r earns tier max(r, 1), and every win raises the rank by one,
            // so no agent holds a tier above its current rank.
            let rank = market.agentRank(*agent).call().await?;
            let top = nsed_contracts::lat::tier_for_rank(rank);
            // One batch call reads every tier.
            let ids: Vec<U256> =
                (1..=top).map(|tier| nsed_contracts::lat::encode(asset, tier)).collect();
            let tiers = lat.balanceOfBatch(vec![*agent; ids.len()], ids).call().await?;
            lats.push((*agent, tiers));
        }
        Ok(Self { timelock, guild_fees, guild_fees_delivered: delivered, lats })
    }
}

/// `amount` (18 decimals) as a decimal number of tokens without trailing zeros.
fn token_amount(amount: U256) -> String {
    let text = alloy::primitives::utils::format_ether(amount);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn print_report(r: &Report<'_>) {
    out!("chain        {} (chain id {})", r.rpc_url, r.chain_id);
    out!("nats         {} (JetStream)", r.nats_url);
    out!("deployment   {}", r.record_path.display());
    out!("market       {}", r.market);
    for (agent, model) in r.agents {
        out!("agent        {agent} ({model})");
    }
    out!();
    out!("job  answer  truth  rounds  winner");
    let mut correct = 0;
    for ((job_id, truth), event) in r.requested.iter().zip(r.settled) {
        let Some(e) = event else { continue };
        let ok = e.content == *truth;
        correct += usize::from(ok);
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
        "accuracy     {correct}/{total} ({:.1}%) settled on chain in {:.1} s ({:.1} jobs/minute)",
        100.0 * correct as f64 / total.max(1) as f64,
        r.elapsed.as_secs_f64(),
        total as f64 * 60.0 / r.elapsed.as_secs_f64().max(1e-9)
    );
    out!(
        "rounds       {} in total, {:.0} ms each on average (keeper, NATS, signing and inference; \
         one job at a time)",
        r.rounds,
        r.elapsed.as_secs_f64() * 1000.0 / r.rounds.max(1) as f64
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
    out!("example      {EXAMPLE_QUERY}");
    out!("answer       {}", r.example_answer);
}
