//! `keeper_bench`: how many jobs per minute `nsed keeper` settles, how long each job takes from its
//! request to its settlement, and what the keeper spends per job and per round, with real
//! processes on loopback.
//!
//! Every configuration gets a fresh stack: anvil (automine, or a block every `--block-time`
//! seconds), a nats-server or a three-node JetStream cluster (`--nats cluster`, streams with three
//! replicas), the suite deployed with every keeper account holding the market's KEEPER_ROLE,
//! three `nsed worker` processes serving the demo's digit classifiers, and one or two
//! `nsed keeper` processes, each with its own account and database, working on up to
//! `--in-flight` jobs at once. A requester wallet then sends `--jobs` held-out digits up front;
//! the program follows the market's `JobRequested`, `JobSettled` and `JobRefunded` logs (polled
//! every 50 ms) until every job has settled or been refunded, and checks that each job settled at
//! most once and none was lost.
//!
//! Measured per configuration: jobs per minute (from the first request seen on chain to the last
//! settlement seen, and from the last request, as BENCHMARKS.md's earlier rows were), p50/p99
//! latency from a job's request being mined to its settlement being seen, CPU time (utime + stime
//! from `/proc/<pid>/stat`) of the keepers, workers, anvil and nats-server per job, and the
//! keepers' own account of where a round's time goes (`nsed_keeper_time_seconds_total{part}` from
//! `/metrics`, divided by `nsed_keeper_rounds_total`), and the JSON-RPC requests the keepers sent
//! per job (`nsed_keeper_rpc_requests_total{method}`).
//!
//! Every list flag multiplies: `--in-flight 1,4 --block-time 0,1` runs four configurations.
//!
//! ```text
//! source .cache/env
//! cargo build --release -p nsed-cli --example keeper_bench --bin nsed
//! target/release/examples/keeper_bench --in-flight 1,4,16,64 --block-time 0,1 [--keepers 1,2]
//!     [--nats single,cluster] [--jobs 200] [--json]
//! ```
//!
//! The `nsed` binary is looked for next to the example's directory (`target/<profile>/nsed`);
//! `--nsed PATH` names another. The workers need ONNX Runtime (`ORT_DYLIB_PATH`, which
//! `.cache/env` sets).
#![allow(
    clippy::disallowed_macros,
    reason = "a benchmark's report is its stdout, its progress on stderr"
)]

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use clap::Parser;
use eyre::{WrapErr, bail, eyre};
use futures::StreamExt;
use nsed_bus::{Bus, NatsConnect};
use nsed_client::{AgentOwner, ONE_TOKEN, Requester};
use nsed_contracts::{
    i_deliberation_market::IDeliberationMarket::{
        self, JobClaimed, JobRefunded, JobRequested, JobSettled, JobSpec,
    },
    tx,
};
use nsed_deploy::{MARKET, SuiteParams, deploy_suite};
use nsed_devstack::{
    Anvil, AnvilConfig, NatsCluster, NatsClusterConfig, NatsClusterInstance, NatsConfig,
    NatsInstance, NatsServer,
};
use nsed_inference_worker::{Manifest, model::load_test_split};
use nsed_protocol::wire::HEARTBEAT_WILDCARD;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The demo's three digit classifiers, one worker each.
const MODELS: [&str; 3] = ["knn_pool4x4", "mlp_pca8_left_half", "logreg_top_half"];
/// How often the market's logs are read; the latency's resolution.
const LOG_POLL: Duration = Duration::from_millis(50);
/// How long the workers and keepers may take to come up.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long after the last settlement the keepers' counters may take to catch up (a keeper
/// counts a settlement once its receipt arrives, which can trail the event).
const METRICS_CATCH_UP: Duration = Duration::from_secs(15);
/// The part labels of `nsed_keeper_time_seconds_total` other than `answers` (waiting for the
/// agents). Their sum is wall time, receipt waits included, and overlaps between concurrent jobs:
/// the keeper's CPU per round is the measure of its own work.
const NOT_ANSWERS_PARTS: [&str; 4] = ["publish", "verify", "store", "chain"];

/// Command-line flags.
#[derive(Debug, Clone, Parser)]
#[command(name = "keeper_bench", about = "Keeper throughput, latency and cost per job")]
struct Args {
    /// Jobs requested per configuration, all up front.
    #[arg(long, value_name = "N", default_value_t = 200)]
    jobs: usize,
    /// The keepers' `--keeper.max-in-flight` values to measure.
    #[arg(long, value_name = "N,..", value_delimiter = ',', default_value = "1,4,16,64")]
    in_flight: Vec<u64>,
    /// anvil's seconds per block (0: a block per transaction) values to measure.
    #[arg(long, value_name = "SECONDS,..", value_delimiter = ',', default_value = "0")]
    block_time: Vec<u64>,
    /// anvil's block gas limit [default: anvil's, 30 M]: a chain that takes more gas per second
    /// than anvil's default settles more jobs per block.
    #[arg(long, value_name = "GAS")]
    gas_limit: Option<u64>,
    /// Keeper processes (1 or 2) values to measure.
    #[arg(long, value_name = "N,..", value_delimiter = ',', default_value = "1")]
    keepers: Vec<usize>,
    /// NATS setups to measure: `single` (one nats-server) or `cluster` (three nodes, streams
    /// with three replicas).
    #[arg(long, value_name = "KIND,..", value_delimiter = ',', default_value = "single")]
    nats: Vec<NatsKind>,
    /// The `nsed` binary [default: `nsed` in the directory above this program's].
    #[arg(long, value_name = "PATH")]
    nsed: Option<PathBuf>,
    /// Directory of the models' manifest.json, .onnx files and test split.
    #[arg(long, value_name = "DIR", default_value = "models")]
    models_dir: PathBuf,
    /// The keepers' `--keeper.poll-ms` (what `nsed up` uses).
    #[arg(long, value_name = "MS", default_value_t = 200)]
    poll_ms: u64,
    /// The keepers' `--keeper.phase-timeout-ms`.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    phase_timeout_ms: u64,
    /// Each worker's `--worker.capacity` (tasks at once), high enough not to hold the keeper back.
    #[arg(long, value_name = "N", default_value_t = 64)]
    worker_capacity: usize,
    /// Seconds a configuration may take from the first request to the last settlement.
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    timeout_secs: u64,
    /// Keep each configuration's logs and databases under this directory instead of deleting
    /// them.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    /// Print one JSON document instead of a Markdown table.
    #[arg(long)]
    json: bool,
    /// Have every request mined before the keepers start, and measure from the keepers being
    /// ready: how fast they work through a backlog, without the requests' own sending (which
    /// shares the node with the claims and settlements) in the way.
    #[arg(long)]
    backlog: bool,
    /// Instead of the keeper runs, time N plain transfers on an automine anvil from send to
    /// receipt, through `tx::send_tx` and through `tx::land` (what the keeper's sends use).
    #[arg(long, value_name = "N")]
    probe_receipts: Option<usize>,
}

/// One nats-server or a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum NatsKind {
    Single,
    Cluster,
}

impl fmt::Display for NatsKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Single => "single",
            Self::Cluster => "cluster",
        })
    }
}

/// One configuration to measure.
#[derive(Debug, Clone, Copy)]
struct Setup {
    nats: NatsKind,
    block_time: u64,
    gas_limit: Option<u64>,
    keepers: usize,
    in_flight: u64,
}

impl Setup {
    /// How blocks are made: automine or an interval, and a gas limit other than anvil's.
    fn blocks(&self) -> String {
        let mut blocks = match self.block_time {
            0 => "automine".to_owned(),
            secs => format!("{secs} s"),
        };
        if let Some(gas) = self.gas_limit {
            blocks.push_str(&format!(", {} M gas", gas / 1_000_000));
        }
        blocks
    }
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "nats {}, blocks {}, {} keeper(s), {} in flight",
            self.nats,
            self.blocks(),
            self.keepers,
            self.in_flight
        )
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    if let Err(err) = run(args).await {
        eprintln!("Error: {err:?}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> eyre::Result<()> {
    if args.keepers.iter().any(|k| !(1..=2).contains(k)) {
        bail!("--keepers takes 1 or 2");
    }
    if args.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    if let Some(n) = args.probe_receipts {
        return probe_receipts(n).await;
    }
    let nsed = match &args.nsed {
        Some(path) => path.clone(),
        None => default_nsed()?,
    };
    if !nsed.is_file() {
        bail!(
            "no nsed binary at {}: build it (`cargo build --release -p nsed-cli --bin nsed`) or \
             pass --nsed",
            nsed.display()
        );
    }
    let manifest = Manifest::load(&args.models_dir)
        .wrap_err_with(|| format!("cannot read the models in {}", args.models_dir.display()))?;
    let rows = load_test_split(&args.models_dir, &manifest.dataset)
        .wrap_err("cannot read the held-out digits")?;
    let mut model_ids = Vec::new();
    for name in MODELS {
        let entry = manifest.try_get(name)?;
        model_ids.push((name, B256::from(entry.sha256.to_bytes())));
    }
    let ticks = clock_ticks_per_second();

    let mut setups = Vec::new();
    for &nats in &args.nats {
        for &block_time in &args.block_time {
            for &keepers in &args.keepers {
                for &in_flight in &args.in_flight {
                    setups.push(Setup {
                        nats,
                        block_time,
                        gas_limit: args.gas_limit,
                        keepers,
                        in_flight,
                    });
                }
            }
        }
    }
    let mut reports = Vec::new();
    if !args.json {
        if args.backlog {
            println!(
                "Every request mined before the keepers start; jobs/min from the keepers ready.\n"
            );
        }
        println!("{}", Report::HEADER);
    }
    for setup in setups {
        eprintln!("keeper_bench: {setup}: starting");
        let bench = Bench { args: &args, nsed: &nsed, rows: &rows, model_ids: &model_ids, ticks };
        let report = bench.measure(setup).await.wrap_err_with(|| format!("{setup}"))?;
        eprintln!(
            "keeper_bench: {setup}: {}/{} settled ({} correct), {:.1} jobs/minute, claims per \
             keeper {:?}",
            report.settled,
            args.jobs,
            report.correct,
            report.per_minute(),
            report.claims
        );
        if args.json {
            // The row on stderr too, for reading along.
            eprintln!("{}", report.row());
        } else {
            println!("{}", report.row());
        }
        reports.push(report);
    }
    if args.json {
        let runs: Vec<Value> = reports.iter().map(Report::to_json).collect();
        println!("{}", serde_json::to_string_pretty(&json!({ "runs": runs }))?);
    }
    Ok(())
}

/// Times `n` transfers from send to receipt on an otherwise idle automine anvil, once waiting
/// with `tx::send_tx` and once with `tx::land`, and prints p50 and max of each.
async fn probe_receipts(n: usize) -> eyre::Result<()> {
    use alloy::{network::TransactionBuilder, rpc::types::TransactionRequest};

    let anvil = tokio::task::spawn_blocking(|| Anvil::spawn(AnvilConfig::default()))
        .await?
        .wrap_err("cannot start anvil")?;
    let key: PrivateKeySigner =
        anvil.accounts()[0].private_key().parse().wrap_err("a dev account's key")?;
    let to: Address = anvil.accounts()[1].address().parse().wrap_err("a dev account")?;
    let url = anvil.endpoint().parse().wrap_err("anvil's endpoint")?;
    let provider = nsed_contracts::provider::wallet_provider(url, key);
    let transfer = || TransactionRequest::default().with_to(to).with_value(U256::from(1));
    let (mut plain, mut landed) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let started = Instant::now();
        tx::send_tx(&provider, "transfer", transfer()).await?;
        plain.push(started.elapsed());
        let started = Instant::now();
        let pending = provider.send_transaction(transfer()).await.wrap_err("transfer")?;
        tx::land(&provider, "transfer".to_owned(), pending, None, &tx::LandPolicy::default())
            .await?;
        landed.push(started.elapsed());
    }
    for (how, times) in [("tx::send_tx", &plain), ("tx::land", &landed)] {
        println!(
            "{how}: {n} transfers, send to receipt p50 {:.1} ms, max {:.1} ms",
            percentile(times, 0.5).as_secs_f64() * 1e3,
            percentile(times, 1.0).as_secs_f64() * 1e3
        );
    }
    Ok(())
}

/// `nsed` next to this program's directory: examples build into `target/<profile>/examples/`.
fn default_nsed() -> eyre::Result<PathBuf> {
    let exe = std::env::current_exe().wrap_err("cannot find this program's path")?;
    exe.parent()
        .and_then(Path::parent)
        .map(|profile| profile.join("nsed"))
        .ok_or_else(|| eyre!("cannot find the nsed binary from {}: pass --nsed", exe.display()))
}

/// What every configuration shares.
struct Bench<'a> {
    args: &'a Args,
    nsed: &'a Path,
    rows: &'a [([f32; 64], u8)],
    model_ids: &'a [(&'static str, B256)],
    ticks: f64,
}

/// The NATS side of a stack; stops when dropped.
enum Nats {
    Single(NatsInstance),
    Cluster(NatsClusterInstance),
}

impl Nats {
    fn url(&self) -> String {
        match self {
            Self::Single(server) => server.url(),
            Self::Cluster(cluster) => cluster.url(),
        }
    }

    fn pids(&self) -> Vec<u32> {
        match self {
            Self::Single(server) => vec![server.pid()],
            Self::Cluster(cluster) => {
                (0..cluster.len()).filter_map(|i| cluster.node(i).map(NatsInstance::pid)).collect()
            }
        }
    }

    const fn replicas(&self) -> usize {
        match self {
            Self::Single(_) => 1,
            Self::Cluster(_) => 3,
        }
    }
}

/// A child process, killed when dropped.
struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(command: &mut Command, log: PathBuf) -> eyre::Result<Self> {
        let file = std::fs::File::create(&log)
            .wrap_err_with(|| format!("cannot create {}", log.display()))?;
        let err = file.try_clone().wrap_err("cannot share the log file")?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .wrap_err_with(|| format!("cannot start {:?}", command.get_program()))?;
        Ok(Self { child, log })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails, with the end of the log, when the process has exited.
    fn check_alive(&mut self) -> eyre::Result<()> {
        if let Some(status) = self.child.try_wait().wrap_err("cannot poll a child process")? {
            bail!("{} exited ({status}):\n{}", self.log.display(), log_tail(&self.log));
        }
        Ok(())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last 30 lines of `path`.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// What one configuration measured.
#[derive(Debug, Clone)]
struct Report {
    setup: Setup,
    jobs: usize,
    settled: usize,
    refunded: usize,
    correct: usize,
    settled_twice: usize,
    lost: usize,
    /// First request seen (with `--backlog`: the keepers ready) to last settlement seen.
    span: Duration,
    /// Whether every request was mined before the keepers started.
    backlog: bool,
    /// Last request seen to last settlement seen.
    tail: Duration,
    latencies: Vec<Duration>,
    /// Per settled job, its first claim seen to its settlement seen: the latency without the
    /// wait for a free slot.
    service: Vec<Duration>,
    rounds: u64,
    in_flight_max: u64,
    /// Jobs each keeper claimed, in keeper order.
    claims: Vec<u64>,
    /// Failed settlement attempts, over the keepers.
    settle_failures: u64,
    /// CPU seconds per process group during the run; `other` is everything else the machine
    /// ran meanwhile.
    cpu: BTreeMap<&'static str, f64>,
    /// From the CPU reading before the first request to the one after the last settlement.
    measured: Duration,
    /// The machine's cores.
    cores: f64,
    /// `nsed_keeper_time_seconds_total` per part, summed over the keepers.
    parts: BTreeMap<String, f64>,
    /// `nsed_keeper_rpc_requests_total` per method, summed over the keepers (from their start,
    /// so the polls before the first request are in).
    rpc: BTreeMap<String, f64>,
}

impl Report {
    const HEADER: &'static str = "| nats | block time | keepers | in flight | settled | \
        jobs/min (first request) | jobs/min (last request) | p50 | p99 | \
        claim→settle p50 | rounds | \
        keeper CPU/job | keeper CPU/round | publish | answers | verify | store | chain | \
        keeper RPC/job | workers CPU/job | anvil CPU/job | nats CPU/job | other load |\n\
        |---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

    fn finished(&self) -> usize {
        self.settled + self.refunded
    }

    fn per_minute(&self) -> f64 {
        self.finished() as f64 * 60.0 / self.span.as_secs_f64().max(1e-9)
    }

    fn per_minute_from_last_request(&self) -> f64 {
        self.finished() as f64 * 60.0 / self.tail.as_secs_f64().max(1e-9)
    }

    fn percentile(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }

    fn service_percentile(&self, p: f64) -> Duration {
        percentile(&self.service, p)
    }

    /// Milliseconds of `group`'s CPU per finished job.
    fn cpu_ms_per_job(&self, group: &str) -> f64 {
        self.cpu.get(group).copied().unwrap_or(0.0) * 1e3 / self.finished().max(1) as f64
    }

    /// Milliseconds of the keepers' `part` per round, `None` when the keeper does not report it.
    fn part_ms_per_round(&self, part: &str) -> Option<f64> {
        self.parts.get(part).map(|s| s * 1e3 / self.rounds.max(1) as f64)
    }

    /// The keepers' JSON-RPC requests of `method` (all methods: `None`) per finished job.
    fn rpc_per_job(&self, method: Option<&str>) -> f64 {
        let sent: f64 = match method {
            Some(method) => self.rpc.get(method).copied().unwrap_or(0.0),
            None => self.rpc.values().sum(),
        };
        sent / self.finished().max(1) as f64
    }

    /// The share of the machine's CPU that processes outside the stack used during the run.
    fn other_share(&self) -> f64 {
        self.cpu.get("other").copied().unwrap_or(0.0)
            / (self.measured.as_secs_f64() * self.cores).max(1e-9)
    }

    fn row(&self) -> String {
        let part = |p: &str| match self.part_ms_per_round(p) {
            Some(ms) => format!("{ms:.1} ms"),
            None => "n/a".to_owned(),
        };
        let mut settled = format!("{}/{}", self.settled, self.jobs);
        if self.refunded > 0 {
            settled.push_str(&format!(" (+{} refunded)", self.refunded));
        }
        if self.settled_twice > 0 || self.lost > 0 {
            settled.push_str(&format!(" ({} twice, {} lost)", self.settled_twice, self.lost));
        }
        format!(
            "| {} | {} | {} | {} | {settled} | {:.1} | {:.1} | {:.2} s | {:.2} s | {:.2} s | {} | {:.1} ms | \
             {:.1} ms | {} | {} | {} | {} | {} | {:.1} | {:.1} ms | {:.1} ms | {:.1} ms | {:.0} % |",
            self.setup.nats,
            self.setup.blocks(),
            self.setup.keepers,
            self.setup.in_flight,
            self.per_minute(),
            self.per_minute_from_last_request(),
            self.percentile(0.5).as_secs_f64(),
            self.percentile(0.99).as_secs_f64(),
            self.service_percentile(0.5).as_secs_f64(),
            self.rounds,
            self.cpu_ms_per_job("keepers"),
            self.cpu.get("keepers").copied().unwrap_or(0.0) * 1e3 / self.rounds.max(1) as f64,
            part("publish"),
            part("answers"),
            part("verify"),
            part("store"),
            part("chain"),
            self.rpc_per_job(None),
            self.cpu_ms_per_job("workers"),
            self.cpu_ms_per_job("anvil"),
            self.cpu_ms_per_job("nats"),
            self.other_share() * 100.0,
        )
    }

    fn to_json(&self) -> Value {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let parts: serde_json::Map<String, Value> =
            self.parts.keys().map(|p| (p.clone(), json!(self.part_ms_per_round(p)))).collect();
        let besides_answers: Option<f64> =
            NOT_ANSWERS_PARTS.iter().map(|p| self.part_ms_per_round(p)).sum();
        let cpu: serde_json::Map<String, Value> = self
            .cpu
            .keys()
            .map(|group| ((*group).to_owned(), json!(self.cpu_ms_per_job(group))))
            .collect();
        let rpc: serde_json::Map<String, Value> =
            self.rpc.keys().map(|m| (m.clone(), json!(self.rpc_per_job(Some(m))))).collect();
        json!({
            "nats": self.setup.nats.to_string(),
            "blockTimeSecs": self.setup.block_time,
            "gasLimit": self.setup.gas_limit,
            "keepers": self.setup.keepers,
            "inFlight": self.setup.in_flight,
            "jobs": self.jobs,
            "settled": self.settled,
            "refunded": self.refunded,
            "correct": self.correct,
            "settledTwice": self.settled_twice,
            "lost": self.lost,
            "spanSecs": self.span.as_secs_f64(),
            "lastRequestToLastSettlementSecs": self.tail.as_secs_f64(),
            "backlog": self.backlog,
            "jobsPerMinute": self.per_minute(),
            "jobsPerMinuteFromLastRequest": self.per_minute_from_last_request(),
            "latencyP50Ms": ms(self.percentile(0.5)),
            "latencyP99Ms": ms(self.percentile(0.99)),
            "latencyMaxMs": ms(self.percentile(1.0)),
            "claimToSettleP50Ms": ms(self.service_percentile(0.5)),
            "claimToSettleP99Ms": ms(self.service_percentile(0.99)),
            "rounds": self.rounds,
            "keeperJobsInFlightMax": self.in_flight_max,
            "claimsPerKeeper": self.claims,
            "settleFailures": self.settle_failures,
            "cpuMsPerJob": cpu,
            "keeperCpuMsPerRound":
                self.cpu.get("keepers").copied().unwrap_or(0.0) * 1e3 / self.rounds.max(1) as f64,
            "keeperMsPerRound": parts,
            "keeperRpcPerJob": self.rpc_per_job(None),
            "keeperRpcPerJobByMethod": rpc,
            "otherCpuShareOfMachine": self.other_share(),
            "keeperMsPerRoundBesidesAnswers": besides_answers,
        })
    }
}

/// The `p` quantile (0 to 1) of `samples`, nearest rank; zero when there are none.
fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// What the market's logs said about the jobs, as the poller saw them.
#[derive(Debug, Default)]
struct Seen {
    requested: HashMap<U256, Instant>,
    /// The first claim (a claim that timed out may be taken over).
    claimed: HashMap<U256, Instant>,
    settled: HashMap<U256, Instant>,
    refunded: HashMap<U256, Instant>,
    /// Settlement events per job (more than one is a bug).
    settlements: HashMap<U256, usize>,
    /// The settled answer per job.
    content: HashMap<U256, String>,
}

impl Seen {
    fn record(&mut self, logs: &[Log], at: Instant) {
        for log in logs {
            match log.topic0().copied() {
                Some(topic) if topic == JobRequested::SIGNATURE_HASH => {
                    if let Ok(e) = JobRequested::decode_log(&log.inner) {
                        self.requested.entry(e.jobId).or_insert(at);
                    }
                }
                Some(topic) if topic == JobClaimed::SIGNATURE_HASH => {
                    if let Ok(e) = JobClaimed::decode_log(&log.inner) {
                        self.claimed.entry(e.jobId).or_insert(at);
                    }
                }
                Some(topic) if topic == JobSettled::SIGNATURE_HASH => {
                    if let Ok(e) = JobSettled::decode_log(&log.inner) {
                        self.settled.entry(e.jobId).or_insert(at);
                        *self.settlements.entry(e.jobId).or_default() += 1;
                        self.content.insert(e.jobId, e.data.content.clone());
                    }
                }
                Some(topic) if topic == JobRefunded::SIGNATURE_HASH => {
                    if let Ok(e) = JobRefunded::decode_log(&log.inner) {
                        self.refunded.entry(e.jobId).or_insert(at);
                    }
                }
                _ => {}
            }
        }
    }

    fn finished(&self, job: &U256) -> bool {
        self.settled.contains_key(job) || self.refunded.contains_key(job)
    }
}

/// Where a configuration's keepers run.
struct KeepersAt<'a> {
    setup: Setup,
    keys: &'a [PrivateKeySigner],
    deployment: &'a Path,
    rpc_url: &'a str,
    nats_url: &'a str,
    dir: &'a Path,
}

impl Bench<'_> {
    /// Starts the setup's `nsed keeper` processes, each with its own account and database, and
    /// waits until each answers `/health`; returns them with their metrics addresses.
    async fn start_keepers(
        &self,
        at: &KeepersAt<'_>,
    ) -> eyre::Result<(Vec<Process>, Vec<SocketAddr>)> {
        let (mut keepers, mut metrics_addrs) = (Vec::new(), Vec::new());
        for (i, keeper_key) in at.keys.iter().take(at.setup.keepers).enumerate() {
            let addr: SocketAddr = ([127, 0, 0, 1], nsed_devstack::free_port()?).into();
            let mut command = Command::new(self.nsed);
            command
                .arg("keeper")
                .arg("--deployment")
                .arg(at.deployment)
                .args(["--rpc-url", at.rpc_url, "--nats-url", at.nats_url])
                .arg("--keeper.db")
                .arg(at.dir.join(format!("keeper-{i}.sqlite")))
                .args(["--keeper.metrics-addr", &addr.to_string()])
                .args(["--keeper.poll-ms", &self.args.poll_ms.to_string()])
                .args(["--keeper.phase-timeout-ms", &self.args.phase_timeout_ms.to_string()])
                .args(["--keeper.max-in-flight", &at.setup.in_flight.to_string()])
                .env("NSED_PRIVATE_KEY", alloy::hex::encode_prefixed(keeper_key.to_bytes()))
                .env("RUST_LOG", "info");
            keepers.push(Process::spawn(&mut command, at.dir.join(format!("keeper-{i}.log")))?);
            metrics_addrs.push(addr);
        }
        let ready = Instant::now();
        for (process, addr) in keepers.iter_mut().zip(&metrics_addrs) {
            loop {
                process.check_alive()?;
                if http_get(*addr, "/health").await.is_ok_and(|r| r.starts_with("HTTP/1.1 200")) {
                    break;
                }
                if ready.elapsed() > READY_TIMEOUT {
                    bail!("keeper at {addr} not healthy in {READY_TIMEOUT:?}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok((keepers, metrics_addrs))
    }

    async fn measure(&self, setup: Setup) -> eyre::Result<Report> {
        let args = self.args;
        if let Some(keep) = &args.keep {
            std::fs::create_dir_all(keep)
                .wrap_err_with(|| format!("cannot create {}", keep.display()))?;
        }
        let dir = tempfile::Builder::new()
            .prefix("keeper-bench-")
            .tempdir_in(args.keep.as_deref().unwrap_or(&std::env::temp_dir()))
            .wrap_err("cannot create a temporary directory")?;
        let dir_path = dir.path().to_path_buf();
        if args.keep.is_some() {
            // Kept for reading afterwards.
            let _ = dir.keep();
        }

        // The chain.
        let mut anvil_config = AnvilConfig::default().with_accounts(10);
        if setup.block_time > 0 {
            anvil_config = anvil_config.with_block_time(setup.block_time);
        }
        if let Some(gas) = setup.gas_limit {
            anvil_config = anvil_config.with_arg("--gas-limit").with_arg(gas.to_string());
        }
        let anvil = tokio::task::spawn_blocking(move || Anvil::spawn(anvil_config))
            .await?
            .wrap_err("cannot start anvil")?;

        // The bus, its streams created up front with the replicas the setup wants, so that the
        // keepers and workers (which accept existing streams as they are) all use them.
        let nats = match setup.nats {
            NatsKind::Single => Nats::Single(
                tokio::task::spawn_blocking(|| NatsServer::spawn(NatsConfig::default()))
                    .await?
                    .wrap_err("cannot start nats-server")?,
            ),
            NatsKind::Cluster => Nats::Cluster(
                tokio::task::spawn_blocking(|| NatsCluster::spawn(NatsClusterConfig::default()))
                    .await?
                    .wrap_err("cannot start a nats-server cluster")?,
            ),
        };
        let nats_url = nats.url();
        let bus = Bus::connect_with(&NatsConnect::new(&nats_url).with_replicas(nats.replicas()))
            .await
            .wrap_err_with(|| format!("cannot connect to NATS at {nats_url}"))?;
        bus.ensure_streams().await.wrap_err("cannot create the streams")?;

        // The suite, with both keeper accounts allowed to keep.
        let key = |i: usize| -> eyre::Result<PrivateKeySigner> {
            anvil.accounts()[i].private_key().parse().wrap_err("a dev account's key")
        };
        let (deployer_key, requester_key) = (key(0)?, key(2)?);
        let keeper_keys = [key(1)?, key(3)?];
        let url: alloy::transports::http::reqwest::Url =
            anvil.endpoint().parse().wrap_err("anvil's endpoint")?;
        let deployer = nsed_contracts::provider::wallet_provider(url.clone(), deployer_key.clone());
        let params = SuiteParams {
            challenge_window: 60,
            keepers: keeper_keys.iter().map(PrivateKeySigner::address).collect(),
            ..SuiteParams::default()
        };
        let record = deploy_suite(&deployer, deployer_key.address(), "bench", params, None)
            .await
            .wrap_err("cannot deploy the suite")?;
        let market = record.address(MARKET)?;
        let deployment = dir_path.join("deployment.json");
        record.save(&deployment)?;

        // The agents, registered and bonded by the deployer, each served by an `nsed worker`.
        let owner = AgentOwner::new(deployer.clone(), deployer_key.address(), &record)?;
        let bond = owner.min_bond().await?;
        owner.fund(&deployer, bond * U256::from(MODELS.len())).await?;
        let keeper_list = keeper_keys
            .iter()
            .take(setup.keepers)
            .map(|k| k.address().to_string())
            .collect::<Vec<_>>()
            .join(",");
        let mut workers = Vec::new();
        let mut heartbeats = bus
            .client()
            .subscribe(HEARTBEAT_WILDCARD)
            .await
            .wrap_err("cannot subscribe to heartbeats")?;
        for &(name, model_id) in self.model_ids {
            let agent = PrivateKeySigner::random();
            owner
                .register(&agent, model_id, &format!("nsed://model/{name}"), bond)
                .await
                .wrap_err_with(|| format!("cannot register the {name} agent"))?;
            let mut command = Command::new(self.nsed);
            command
                .arg("worker")
                .args(["--model", name])
                .arg("--models-dir")
                .arg(&args.models_dir)
                .args(["--nats-url", &nats_url, "--rpc-url", &anvil.endpoint()])
                .args(["--keeper", &keeper_list])
                .args(["--worker.capacity", &args.worker_capacity.to_string()])
                .args(["--worker.heartbeat-ms", "500"])
                .env("NSED_AGENT_KEY", alloy::hex::encode_prefixed(agent.to_bytes()))
                .env("RUST_LOG", "warn");
            workers
                .push(Process::spawn(&mut command, dir_path.join(format!("worker-{name}.log")))?);
        }

        let keepers_at = KeepersAt {
            setup,
            keys: &keeper_keys,
            deployment: &deployment,
            rpc_url: &anvil.endpoint(),
            nats_url: &nats_url,
            dir: &dir_path,
        };
        let (mut keepers, mut metrics_addrs) = (Vec::new(), Vec::new());
        if !args.backlog {
            (keepers, metrics_addrs) = self.start_keepers(&keepers_at).await?;
        }

        // Ready: every agent beats.
        let ready = Instant::now();
        let mut beating = BTreeSet::new();
        while beating.len() < MODELS.len() {
            for process in workers.iter_mut().chain(keepers.iter_mut()) {
                process.check_alive()?;
            }
            if ready.elapsed() > READY_TIMEOUT {
                bail!(
                    "only {} of the workers sent a heartbeat in {READY_TIMEOUT:?}",
                    beating.len()
                );
            }
            if let Ok(Some(msg)) =
                tokio::time::timeout(Duration::from_millis(500), heartbeats.next()).await
            {
                beating.insert(msg.subject.to_string());
            }
        }
        drop(heartbeats);

        // The requester pays every bounty up front.
        let requester_provider =
            nsed_contracts::provider::wallet_provider(url, requester_key.clone());
        let requester =
            Requester::new(requester_provider.clone(), requester_key.address(), record.clone())?;
        requester.fund(&deployer, ONE_TOKEN * U256::from(args.jobs)).await?;

        // Send every request; the receipts are awaited by a task of their own while the logs are
        // read below. For a backlog, every request is mined before the keepers start.
        let jobs = args.jobs;
        let rows: Vec<([f32; 64], u8)> =
            (0..jobs).map(|i| self.rows[i % self.rows.len()]).collect();
        let truths: Vec<String> = rows.iter().map(|(_, label)| label.to_string()).collect();
        let mut sender = tokio::spawn(send_requests(requester_provider, market, rows));
        let mut drain_from = None;
        if args.backlog {
            let ids = (&mut sender).await?.wrap_err("cannot request the jobs")?;
            sender = tokio::spawn(async move { Ok(ids) });
            (keepers, metrics_addrs) = self.start_keepers(&keepers_at).await?;
            drain_from = Some(Instant::now());
        }

        let mut pids: Vec<(&'static str, u32)> = Vec::new();
        pids.extend(keepers.iter().map(|k| ("keepers", k.pid())));
        pids.extend(workers.iter().map(|w| ("workers", w.pid())));
        pids.push(("anvil", anvil.pid()));
        pids.extend(nats.pids().into_iter().map(|p| ("nats", p)));
        let cpu_before = cpu_seconds(&pids, self.ticks)?;
        let machine_before = machine_busy_seconds(self.ticks)?;
        let cpu_read_at = Instant::now();

        let reader = deployer.clone();
        let mut next_block = record.start_block;
        let mut seen = Seen::default();
        let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
        let mut sent: Option<Vec<U256>> = None;
        let mut sender = Some(sender);
        loop {
            if let Some(handle) = sender.take_if(|h| h.is_finished()) {
                sent = Some(handle.await?.wrap_err("cannot request the jobs")?);
            }
            let latest = reader.get_block_number().await.wrap_err("eth_blockNumber")?;
            if latest >= next_block {
                let filter = Filter::new()
                    .address(market)
                    .from_block(next_block)
                    .to_block(latest)
                    .event_signature(vec![
                        JobRequested::SIGNATURE_HASH,
                        JobClaimed::SIGNATURE_HASH,
                        JobSettled::SIGNATURE_HASH,
                        JobRefunded::SIGNATURE_HASH,
                    ]);
                let logs = reader.get_logs(&filter).await.wrap_err("eth_getLogs")?;
                seen.record(&logs, Instant::now());
                next_block = latest + 1;
            }
            if let Some(ids) = &sent
                && ids.iter().all(|id| seen.finished(id))
            {
                break;
            }
            if Instant::now() > deadline {
                eprintln!(
                    "keeper_bench: {setup}: timed out with {} settled and {} refunded of {jobs}",
                    seen.settled.len(),
                    seen.refunded.len()
                );
                break;
            }
            for process in keepers.iter_mut().chain(workers.iter_mut()) {
                process.check_alive()?;
            }
            tokio::time::sleep(LOG_POLL).await;
        }
        let ids = match sent {
            Some(ids) => ids,
            None => bail!("the requests were still being sent at the deadline"),
        };

        // The keepers' counters, once they have counted every settlement.
        let catch_up = Instant::now();
        let mut scraped;
        loop {
            scraped = Vec::new();
            for addr in &metrics_addrs {
                scraped.push(parse_metrics(&http_get(*addr, "/metrics").await?));
            }
            let counted: f64 =
                scraped.iter().filter_map(|m| m.get("nsed_keeper_jobs_settled_total")).sum();
            if counted >= seen.settled.len() as f64 || catch_up.elapsed() > METRICS_CATCH_UP {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let cpu_after = cpu_seconds(&pids, self.ticks)?;
        let machine_after = machine_busy_seconds(self.ticks)?;
        let measured = cpu_read_at.elapsed();

        // Once more from the deployment on, for settlements the incremental reads could have
        // missed or repeated.
        let filter = Filter::new()
            .address(market)
            .from_block(record.start_block)
            .event_signature(JobSettled::SIGNATURE_HASH);
        let mut settlements: HashMap<U256, usize> = HashMap::new();
        for log in reader.get_logs(&filter).await.wrap_err("eth_getLogs JobSettled")? {
            if let Ok(e) = JobSettled::decode_log(&log.inner) {
                *settlements.entry(e.jobId).or_default() += 1;
            }
        }

        let first_request = ids.iter().filter_map(|id| seen.requested.get(id)).min().copied();
        let last_request = ids.iter().filter_map(|id| seen.requested.get(id)).max().copied();
        let last_finish = ids
            .iter()
            .filter_map(|id| seen.settled.get(id).or_else(|| seen.refunded.get(id)))
            .max()
            .copied();
        let (Some(first_request), Some(last_request), Some(last_finish)) =
            (first_request, last_request, last_finish)
        else {
            bail!("no job was both requested and finished");
        };
        let latencies = ids
            .iter()
            .filter_map(|id| {
                let requested = seen.requested.get(id)?;
                Some(seen.settled.get(id)?.saturating_duration_since(*requested))
            })
            .collect();
        let service = ids
            .iter()
            .filter_map(|id| {
                let claimed = seen.claimed.get(id)?;
                Some(seen.settled.get(id)?.saturating_duration_since(*claimed))
            })
            .collect();
        let correct = ids
            .iter()
            .zip(&truths)
            .filter(|(id, truth)| seen.content.get(*id) == Some(*truth))
            .count();
        let mut cpu = BTreeMap::new();
        for (group, seconds) in cpu_after {
            let before = cpu_before.get(group).copied().unwrap_or(0.0);
            cpu.insert(group, seconds - before);
        }
        // Whatever else ran meanwhile (this program, other users' builds) took the rest.
        let stack_cpu: f64 = cpu.values().sum();
        cpu.insert("other", (machine_after - machine_before - stack_cpu).max(0.0));
        let (mut parts, mut rpc) = (BTreeMap::new(), BTreeMap::new());
        let (mut rounds, mut in_flight_max, mut settle_failures) = (0, 0, 0);
        let mut claims = Vec::new();
        for metrics in &scraped {
            let counter = |name: &str| metrics.get(name).copied().unwrap_or(0.0) as u64;
            claims.push(counter("nsed_keeper_jobs_claimed_total"));
            settle_failures += counter("nsed_keeper_settle_failures_total");
            rounds += counter("nsed_keeper_rounds_total");
            in_flight_max = in_flight_max.max(counter("nsed_keeper_jobs_in_flight_max"));
            for (name, value) in metrics {
                if let Some(part) = name
                    .strip_prefix("nsed_keeper_time_seconds_total{part=\"")
                    .and_then(|rest| rest.strip_suffix("\"}"))
                {
                    *parts.entry(part.to_owned()).or_insert(0.0) += value;
                }
                if let Some(method) = name
                    .strip_prefix("nsed_keeper_rpc_requests_total{method=\"")
                    .and_then(|rest| rest.strip_suffix("\"}"))
                {
                    *rpc.entry(method.to_owned()).or_insert(0.0) += value;
                }
            }
        }
        let report = Report {
            setup,
            jobs,
            settled: ids.iter().filter(|id| seen.settled.contains_key(id)).count(),
            refunded: ids
                .iter()
                .filter(|id| seen.refunded.contains_key(id) && !seen.settled.contains_key(id))
                .count(),
            correct,
            settled_twice: settlements.values().filter(|n| **n > 1).count(),
            lost: ids.iter().filter(|id| !seen.finished(id)).count(),
            span: last_finish.saturating_duration_since(drain_from.unwrap_or(first_request)),
            backlog: drain_from.is_some(),
            tail: last_finish.saturating_duration_since(last_request),
            latencies,
            service,
            rounds,
            in_flight_max,
            claims,
            settle_failures,
            cpu,
            measured,
            cores: std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64),
            parts,
            rpc,
        };
        if report.settled_twice > 0 {
            eprintln!(
                "keeper_bench: {setup}: {} job(s) settled more than once (logs in {})",
                report.settled_twice,
                dir_path.display()
            );
        }
        drop(keepers);
        drop(workers);
        drop(bus);
        drop(nats);
        drop(anvil);
        Ok(report)
    }
}

/// Requests a job per row (3 agents, 3 rounds, an hour to the deadline, one token), sending the
/// transactions in turn (each pending nonce counts the one before) and awaiting the receipts
/// side by side; returns the job ids in row order.
async fn send_requests(
    provider: DynProvider,
    market: Address,
    rows: Vec<([f32; 64], u8)>,
) -> eyre::Result<Vec<U256>> {
    let now = provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .wrap_err("eth_getBlockByNumber latest")?
        .ok_or_else(|| eyre!("the chain has no latest block"))?
        .header
        .timestamp;
    let contract = IDeliberationMarket::new(market, &provider);
    let mut pending = Vec::with_capacity(rows.len());
    for (values, _) in &rows {
        let input = json!({ "shape": [64], "values": values.to_vec() });
        let spec = JobSpec {
            kind: "tensor-f32".to_owned(),
            input: serde_json::to_vec(&input)?.into(),
            agentsWanted: 3,
            maxRounds: 3,
            credits: 100,
            deadline: now + 3600,
        };
        let sent = tx::submit_call("requestJob", contract.requestJob(spec, ONE_TOKEN)).await?;
        pending.push(tokio::spawn(tx::confirm("requestJob".to_owned(), sent)));
    }
    let mut ids = Vec::with_capacity(pending.len());
    for handle in pending {
        let receipt = handle.await??;
        let id = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| JobRequested::decode_log(&log.inner).ok())
            .map(|e| e.jobId)
            .ok_or_else(|| eyre!("request {} announced no job", receipt.transaction_hash))?;
        ids.push(id);
    }
    Ok(ids)
}

/// CPU seconds (user + system) so far per group of processes, from `/proc/<pid>/stat`.
fn cpu_seconds(
    pids: &[(&'static str, u32)],
    ticks: f64,
) -> eyre::Result<BTreeMap<&'static str, f64>> {
    let mut groups = BTreeMap::new();
    for &(group, pid) in pids {
        let path = format!("/proc/{pid}/stat");
        let stat =
            std::fs::read_to_string(&path).wrap_err_with(|| format!("cannot read {path}"))?;
        // The command name may hold spaces; the fields after it are space-separated, starting
        // with the state (field 3): utime is field 14, stime field 15.
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
        let fields: Vec<&str> = after.split_whitespace().collect();
        let field = |i: usize| -> eyre::Result<f64> {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .map(|t| t as f64 / ticks)
                .ok_or_else(|| eyre!("{path} has no field {}", i + 3))
        };
        *groups.entry(group).or_insert(0.0) += field(11)? + field(12)?;
    }
    Ok(groups)
}

/// CPU seconds the whole machine has been busy (not idle, not waiting for I/O), from
/// `/proc/stat`.
fn machine_busy_seconds(ticks: f64) -> eyre::Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat").wrap_err("cannot read /proc/stat")?;
    let line = stat.lines().next().unwrap_or_default();
    let fields: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse::<u64>().ok())
        .map(|t| t as f64)
        .collect();
    if fields.len() < 5 {
        bail!("/proc/stat has no cpu line: {line}");
    }
    // user nice system idle iowait irq softirq steal ...; guest time is already in user.
    let total: f64 = fields.iter().take(8).sum();
    Ok((total - fields[3] - fields[4]) / ticks)
}

/// Clock ticks per second of `/proc` times (`getconf CLK_TCK`; 100 on Linux unless told).
fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// A plain HTTP/1.1 GET on loopback; the whole response, head included.
async fn http_get(addr: SocketAddr, path: &str) -> eyre::Result<String> {
    let mut socket = tokio::net::TcpStream::connect(addr)
        .await
        .wrap_err_with(|| format!("cannot connect to {addr}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    socket.read_to_string(&mut response).await?;
    Ok(response)
}

/// The samples of a Prometheus text response, by name with labels as written.
fn parse_metrics(response: &str) -> HashMap<String, f64> {
    let body = response.split_once("\r\n\r\n").map_or(response, |(_, body)| body);
    body.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}
