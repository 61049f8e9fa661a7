//! NSED keeper: follows deliberation jobs on chain, runs the NSED rounds over NATS and settles the
//! signed quadratic-vote outcome back on chain (docs/architecture.md).
//!
//! The loop, every `poll_interval`:
//! 1. **Follow.** Scan the market's logs from the persisted cursor up to `head − confirmations`
//!    in windows of at most `log_window` blocks. Before scanning, the hash of the last scanned
//!    block is compared with the chain's; on a mismatch (a reorg) the cursor moves back
//!    `reorg_rewind` blocks and the range is scanned again (events are idempotent).
//! 2. **Act** on every open job — up to `max_in_flight` jobs at once, each in one step at a time,
//!    steps of different jobs running concurrently — always reading its status on chain first, so
//!    a job is never claimed or settled twice, not even after a restart or by two keepers:
//!    - `Requested`: claim, unless the claim's gas estimate shows the market would refuse (too
//!      few eligible agents: wait for them; an expired job: close it); the market draws the seats
//!      at the claim and the keeper stores them (from the claim's `SeatsDrawn` event, or from the
//!      chain's logs after a crash between the claim and the store);
//!    - `Claimed` by another keeper: watch it, and re-claim it once that keeper's claim has
//!      timed out (the market's `claimTimeout`: a keeper that stopped), keeping its seats;
//!    - `Claimed` by this keeper: rebuild the deliberation from the store, run the missing phases
//!      over NATS ([`rounds`]) under the halting terms the job fixed at its request, and settle
//!      the transcript (retrying transient failures; a deadline stop waits for the job's round
//!      allowance, the only time the market accepts one) — or close it if another keeper re-claimed it meanwhile;
//!    - anything else: close the job.
//!
//! State lives in SQLite ([`store`]): cursor, jobs with their seats, and each job's deliberation
//! log. `/health` and `/metrics` (Prometheus text) are served on `metrics_addr`.
//!
//! One signing account serves every job: its transactions are sent one at a time (each asks
//! the node for the pending nonce, so nonces neither gap nor collide) and their receipts are
//! awaited concurrently.
//!
//! Shutdown: the background task (the HTTP server) runs on a `TaskTracker`, with
//! a child of the keeper's token. Cancelling the token lets the job steps in progress finish
//! within `shutdown_grace` (what it already did is in the store, so an unfinished step resumes
//! on the next start), stops the background tasks, waits for them and drains NATS.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod chain;
mod http;
mod results;
pub mod rounds;
pub mod store;
pub mod timing;

use std::{
    collections::HashSet,
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, U256, keccak256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use futures::{FutureExt, StreamExt, future::FusedFuture, stream::FuturesUnordered};
use nsed_bus::{Bus, BusError, NatsConnect};
use nsed_contracts::{
    deliberation_market::DeliberationMarket::Job,
    i_deliberation_market::JobStatus,
    market::{job_halting_config, may_stop_for_deadline},
    rpc_count::{CountRequests, RpcCounts},
    tx::{LandPolicy, TxContext, TxError},
};
use nsed_protocol::{deliberation::Deliberation, eip712, halting::HaltReason};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{debug, info, warn};

use crate::{
    chain::{ClaimError, Market, MarketEvent},
    results::Results,
    rounds::Driver,
    store::{JobRow, JobState, Store, StoreError},
    timing::{Part, Timings},
};

/// Errors that stop the keeper or one job.
#[derive(Debug, thiserror::Error)]
pub enum KeeperError {
    /// The chain failed.
    #[error(transparent)]
    Chain(#[from] TxError),
    /// NATS failed.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored deliberation log does not apply to the job.
    #[error("job {job_id}: stored deliberation does not replay: {reason}")]
    Replay {
        /// The job.
        job_id: U256,
        /// Why.
        reason: String,
    },
    /// The configuration is unusable.
    #[error("invalid keeper configuration: {0}")]
    Config(String),
    /// A task could not be signed (a broken key; never happens with local keys).
    #[error("job {job_id}: cannot sign a task: {source}")]
    SignTask {
        /// The job.
        job_id: U256,
        /// Why.
        source: nsed_protocol::wire::TaskError,
    },
    /// The `/health` and `/metrics` listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Counters exported on `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Highest block scanned.
    pub last_block: AtomicU64,
    /// Jobs seen.
    pub jobs_seen: AtomicU64,
    /// Jobs claimed by this keeper.
    pub jobs_claimed: AtomicU64,
    /// Jobs settled by this keeper.
    pub jobs_settled: AtomicU64,
    /// Jobs closed without settlement by this keeper.
    pub jobs_abandoned: AtomicU64,
    /// Rounds closed.
    pub rounds: AtomicU64,
    /// Tasks published.
    pub tasks_published: AtomicU64,
    /// Results accepted into deliberations.
    pub results_accepted: AtomicU64,
    /// Results rejected (bad signature, wrong round, invalid ballot, ...).
    pub results_rejected: AtomicU64,
    /// Failed settlement attempts.
    pub settle_failures: AtomicU64,
    /// Reorgs noticed.
    pub reorgs: AtomicU64,
    /// Job steps under way now.
    pub jobs_in_flight: AtomicU64,
    /// Most job steps under way at once since the start.
    pub jobs_in_flight_max: AtomicU64,
    /// Where the time goes, per part of the keeper's work.
    pub timings: Arc<Timings>,
    /// JSON-RPC requests sent, per method.
    pub rpc_requests: Arc<RpcCounts>,
}

impl Metrics {
    fn render(&self) -> String {
        let mut out = String::new();
        for (name, help, value) in [
            ("nsed_keeper_last_block", "Highest block scanned", &self.last_block),
            ("nsed_keeper_jobs_seen_total", "Jobs seen", &self.jobs_seen),
            ("nsed_keeper_jobs_claimed_total", "Jobs claimed", &self.jobs_claimed),
            ("nsed_keeper_jobs_settled_total", "Jobs settled", &self.jobs_settled),
            (
                "nsed_keeper_jobs_abandoned_total",
                "Jobs closed without settlement",
                &self.jobs_abandoned,
            ),
            ("nsed_keeper_rounds_total", "Rounds closed", &self.rounds),
            ("nsed_keeper_tasks_published_total", "Tasks published", &self.tasks_published),
            ("nsed_keeper_results_accepted_total", "Results accepted", &self.results_accepted),
            ("nsed_keeper_results_rejected_total", "Results rejected", &self.results_rejected),
            (
                "nsed_keeper_settle_failures_total",
                "Failed settlement attempts",
                &self.settle_failures,
            ),
            ("nsed_keeper_reorgs_total", "Reorgs noticed", &self.reorgs),
            ("nsed_keeper_jobs_in_flight", "Job steps under way", &self.jobs_in_flight),
            (
                "nsed_keeper_jobs_in_flight_max",
                "Most job steps under way at once",
                &self.jobs_in_flight_max,
            ),
        ] {
            let kind = if name.ends_with("_total") { "counter" } else { "gauge" };
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}\n",
                value.load(Ordering::Relaxed)
            ));
        }
        let name = "nsed_keeper_time_seconds_total";
        out.push_str(&format!(
            "# HELP {name} Time spent per part of the keeper's work (concurrent jobs overlap)\n# TYPE {name} counter\n"
        ));
        for part in Part::ALL {
            let seconds = self.timings.nanos(part) as f64 / 1e9;
            out.push_str(&format!("{name}{{part=\"{}\"}} {seconds:.6}\n", part.label()));
        }
        let name = "nsed_keeper_rpc_requests_total";
        out.push_str(&format!(
            "# HELP {name} JSON-RPC requests sent, per method\n# TYPE {name} counter\n"
        ));
        for (method, count) in self.rpc_requests.snapshot() {
            // Method names come from this keeper's own code; escaped all the same.
            let method = method.replace('\\', "\\\\").replace('"', "\\\"");
            out.push_str(&format!("{name}{{method=\"{method}\"}} {count}\n"));
        }
        out
    }
}

/// How the keeper runs.
#[derive(Debug, Clone)]
pub struct KeeperConfig {
    /// JSON-RPC endpoint.
    pub rpc_url: String,
    /// Further endpoints of the same chain, tried when `rpc_url` fails (see
    /// [`nsed_contracts::provider::wallet_provider_with_fallbacks`]; default none).
    pub fallback_rpc_urls: Vec<String>,
    /// The NATS server and how to authenticate to it (the keeper's own credentials when the
    /// server has authentication on, see docs/nats-auth.md).
    pub nats: NatsConnect,
    /// The market to serve.
    pub market: Address,
    /// First block to scan when no cursor is stored (the deployment's start block).
    pub start_block: u64,
    /// Blocks a log must be buried under before the keeper acts on it.
    pub confirmations: u64,
    /// Most blocks per `eth_getLogs` call.
    pub log_window: u64,
    /// Blocks to rescan after a reorg is noticed.
    pub reorg_rewind: u64,
    /// Pause between iterations.
    pub poll_interval: Duration,
    /// How long a phase waits for answers.
    pub phase_timeout: Duration,
    /// SQLite database path.
    pub db_path: PathBuf,
    /// Where `/health` and `/metrics` are served (`None`: not served).
    pub metrics_addr: Option<SocketAddr>,
    /// Time the job steps in progress get to finish at shutdown, and the background tasks to
    /// stop (default 5 s).
    pub shutdown_grace: Duration,
    /// Most jobs worked on at once (default 8): each waits mostly on its agents and the chain,
    /// so a small machine runs many; memory grows with it by one deliberation per job.
    pub max_in_flight: usize,
    /// How long each transaction may wait to be mined before it is replaced with higher fees,
    /// how many times, and by how much (see [`nsed_contracts::tx::land`]).
    pub land: LandPolicy,
}

impl KeeperConfig {
    /// Defaults for a market at `market` on `rpc_url`, with NATS as `nats` says.
    pub fn new(rpc_url: impl Into<String>, nats: NatsConnect, market: Address) -> Self {
        Self {
            rpc_url: rpc_url.into(),
            fallback_rpc_urls: Vec::new(),
            nats,
            market,
            start_block: 0,
            confirmations: 0,
            log_window: 1000,
            reorg_rewind: 64,
            poll_interval: Duration::from_millis(500),
            phase_timeout: Duration::from_secs(15),
            db_path: PathBuf::from(".nsed/keeper.sqlite"),
            metrics_addr: None,
            shutdown_grace: Duration::from_secs(5),
            max_in_flight: 8,
            land: LandPolicy::default(),
        }
    }
}

/// The keeper: its configuration and signing key.
#[derive(Debug)]
pub struct Keeper {
    config: KeeperConfig,
    signer: PrivateKeySigner,
    metrics: Arc<Metrics>,
}

impl Keeper {
    /// A keeper signing with `signer` (which needs the market's `KEEPER_ROLE`).
    pub fn new(config: KeeperConfig, signer: PrivateKeySigner) -> Self {
        Self { config, signer, metrics: Arc::new(Metrics::default()) }
    }

    /// The keeper's counters.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Runs until `shutdown` is cancelled.
    ///
    /// # Errors
    ///
    /// [`KeeperError`] when the chain, NATS or the database cannot be reached at start, or the
    /// database fails. Transient per-job failures are logged and retried on the next iteration.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), KeeperError> {
        let Self { config, signer, metrics } = self;
        if config.log_window == 0 {
            return Err(KeeperError::Config("log_window must be at least 1".into()));
        }
        let keeper = signer.address();
        let parse = |url: &String| {
            url.parse().map_err(|e| KeeperError::Config(format!("`{url}` is not a URL: {e}")))
        };
        let url = parse(&config.rpc_url)?;
        let fallbacks =
            config.fallback_rpc_urls.iter().map(parse).collect::<Result<Vec<_>, _>>()?;
        let provider = nsed_contracts::provider::wallet_provider_through(
            url,
            fallbacks,
            signer.clone(),
            CountRequests(metrics.rpc_requests.clone()),
        );
        let chain_id = provider.get_chain_id().await.during("eth_chainId")?;
        // Receipts are looked for on new blocks, which alloy's client polls for: a few times
        // per keeper poll, so a mined transaction is noticed soon on a fast chain and a slow
        // chain is not asked more often than it makes blocks.
        provider.client().set_poll_interval(receipt_poll_interval(config.poll_interval));
        let market = Market::new(provider, config.market)
            .with_sender(keeper)
            .with_timings(metrics.timings.clone())
            .with_land_policy(config.land)
            .with_fresh_for(config.poll_interval);
        let store = Store::open(&config.db_path)?.with_timings(metrics.timings.clone());
        let bus = Bus::connect_with(&config.nats).await?;
        bus.ensure_streams().await?;

        let http_listener = match config.metrics_addr {
            Some(addr) => Some(http::bind(addr).await?),
            None => None,
        };
        // Background tasks stop with the keeper's token, and also when the loop below ends on an
        // error; none outlives `run`.
        let background = shutdown.child_token();
        let tracker = TaskTracker::new();
        if let Some(listener) = http_listener {
            tracker.spawn(http::serve(listener, metrics.clone(), background.child_token()));
        }
        let (results, routing) = Results::start(&bus, background.child_token()).await?;
        tracker.spawn(routing);
        tracker.close();
        info!(target: "keeper", %keeper, market = %config.market, chain_id, "keeper running");

        let ctx = Ctx {
            signer: &signer,
            config: &config,
            market: &market,
            store: &store,
            bus: &bus,
            results: &results,
            metrics: &metrics,
            chain_id,
        };
        let result = ctx.serve(&shutdown).await;
        info!(target: "keeper", "stopping");
        background.cancel();
        if tokio::time::timeout(config.shutdown_grace, tracker.wait()).await.is_err() {
            warn!(target: "keeper", "background tasks did not stop in time");
        }
        if let Err(e) = bus.drain().await {
            warn!(target: "keeper", error = %e, "drain failed");
        }
        info!(target: "keeper", "stopped");
        result
    }
}

struct Ctx<'a, P> {
    signer: &'a PrivateKeySigner,
    config: &'a KeeperConfig,
    market: &'a Market<P>,
    store: &'a Store,
    bus: &'a Bus,
    results: &'a Results,
    metrics: &'a Metrics,
    chain_id: u64,
}

impl<P: Provider + Clone> Ctx<'_, P> {
    /// The keeper's loop: every poll interval follow the chain (beside the steps under way),
    /// start a step for every open job not already under way (at most `max_in_flight` at once),
    /// pause until the poll interval passes, a scan or a step ends; until `shutdown`. Steps run concurrently on this task, each job in at most one step, so a
    /// job waiting for its agents never holds up the others. Steps under way when `shutdown`
    /// fires get `shutdown_grace` to finish.
    async fn serve(&self, shutdown: &CancellationToken) -> Result<(), KeeperError> {
        let max_in_flight = self.config.max_in_flight.max(1);
        let mut steps = FuturesUnordered::new();
        let mut busy: HashSet<U256> = HashSet::new();
        // Jobs whose step ended since the last poll: their next step waits for the next poll,
        // as a job waiting for agents or for the chain has nothing new to do before.
        let mut resting: HashSet<U256> = HashSet::new();
        // Following the chain runs beside the steps, so a slow node answering `eth_getLogs` holds
        // up no job; one scan at a time.
        let following = self.follow().fuse();
        futures::pin_mut!(following);
        let mut next_follow = Instant::now() + self.config.poll_interval;
        while !shutdown.is_cancelled() {
            if following.is_terminated() && Instant::now() >= next_follow {
                next_follow = Instant::now() + self.config.poll_interval;
                resting.clear();
                following.set(self.follow().fuse());
            }
            if busy.len() < max_in_flight {
                // Oldest first, so every job makes progress however many are waiting.
                for job_id in self.store.open_job_ids()? {
                    if busy.len() >= max_in_flight {
                        break;
                    }
                    if resting.contains(&job_id) || busy.contains(&job_id) {
                        continue;
                    }
                    let Some(job) = self.store.job(job_id)? else { continue };
                    busy.insert(job_id);
                    steps.push(async move { (job_id, self.act(job).await) });
                }
            }
            self.metrics.jobs_in_flight.store(busy.len() as u64, Ordering::Relaxed);
            self.metrics.jobs_in_flight_max.fetch_max(busy.len() as u64, Ordering::Relaxed);
            let until_follow = next_follow.saturating_duration_since(Instant::now());
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                followed = &mut following, if !following.is_terminated() => {
                    if let Err(e) = followed {
                        warn!(target: "keeper", error = %e, "cannot follow the chain; retrying");
                    }
                }
                Some((job_id, done)) = steps.next(), if !steps.is_empty() => {
                    busy.remove(&job_id);
                    resting.insert(job_id);
                    self.step_done(job_id, done)?;
                }
                () = tokio::time::sleep(until_follow), if following.is_terminated() => {}
            }
        }
        if !steps.is_empty() {
            let finish = async {
                while let Some((job_id, done)) = steps.next().await {
                    self.step_done(job_id, done)?;
                }
                Ok::<(), KeeperError>(())
            };
            match tokio::time::timeout(self.config.shutdown_grace, finish).await {
                Ok(done) => done?,
                Err(_) => {
                    info!(target: "keeper", unfinished = steps.len(), "job steps unfinished at shutdown; they resume from the store");
                }
            }
        }
        self.metrics.jobs_in_flight.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// What a finished job step means for the loop: a database failure stops the keeper,
    /// anything else is retried on a later step.
    fn step_done(&self, job_id: U256, done: Result<(), KeeperError>) -> Result<(), KeeperError> {
        match done {
            Err(e @ KeeperError::Store(_)) => Err(e),
            Err(e) => {
                warn!(target: "keeper", %job_id, error = %e, "job step failed; retrying later");
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }

    /// Scans new confirmed blocks, handling reorgs.
    async fn follow(&self) -> Result<(), KeeperError> {
        let latest = self.market.latest().await?;
        let safe = latest.number.saturating_sub(self.config.confirmations);
        let (mut next, last_hash) = self.store.cursor()?.unwrap_or((self.config.start_block, None));
        if let Some(expected) = last_hash
            && next > 0
        {
            // A block the node no longer has was reorganised away; an unreachable node is not a
            // reorg, just a scan to retry.
            let actual = match self.market.block_hash(next - 1).await {
                Ok(hash) => Some(hash),
                Err(TxError::Missing { .. }) => None,
                Err(e) => return Err(e.into()),
            };
            if actual != Some(expected) {
                let rewound =
                    next.saturating_sub(self.config.reorg_rewind).max(self.config.start_block);
                warn!(target: "keeper", from = next, to = rewound, "reorg noticed; rescanning");
                self.metrics.reorgs.fetch_add(1, Ordering::Relaxed);
                self.store.set_cursor(rewound, None)?;
                next = rewound;
            }
        }
        while next <= safe {
            let to = (next + self.config.log_window - 1).min(safe);
            for event in self.market.events(next, to).await? {
                match event {
                    MarketEvent::Requested(spec) => {
                        if self.store.add_job(&spec)? {
                            self.metrics.jobs_seen.fetch_add(1, Ordering::Relaxed);
                            info!(target: "keeper", job_id = %spec.job_id, block = spec.block, "job requested");
                        }
                    }
                }
            }
            let hash = match to == latest.number {
                true => latest.hash,
                false => self.market.block_hash(to).await?,
            };
            self.store.set_cursor(to + 1, Some(hash))?;
            self.metrics.last_block.store(to, Ordering::Relaxed);
            next = to + 1;
        }
        Ok(())
    }

    /// One step for one open job, from one read of the job on chain.
    async fn act(&self, job: JobRow) -> Result<(), KeeperError> {
        let job_id = job.spec.job_id;
        let terms = self.market.job(job_id).await?;
        let status = job_status(job_id, &terms)?;
        match (status, job.state) {
            // The claim's gas estimate tells whether the market would refuse (too few eligible
            // agents to draw from, an expired job) before anything is paid for.
            (JobStatus::Requested, _) => self.claim(&job, true).await,
            // Claimed on chain but not in the store: this keeper crashed between its claim and
            // recording it, or another keeper claimed. Ours: recover the drawn seats from the log.
            // Another's: watch it, and take it over once its claim has timed out (a keeper that
            // stopped); closed at its deadline, after which it can only be refunded.
            (JobStatus::Claimed, JobState::Requested) => {
                if terms.keeper != self.signer.address() {
                    let now = self.market.now().await?;
                    if now > terms.deadline {
                        self.store.update_job(job_id, JobState::Closed, None, None)?;
                        return Ok(());
                    }
                    let until = terms.claimedAt + self.market.claim_timeout().await?;
                    if now <= until {
                        debug!(target: "keeper", %job_id, keeper = %terms.keeper, until, "claimed by another keeper; watching");
                        return Ok(());
                    }
                    info!(target: "keeper", %job_id, keeper = %terms.keeper, until, "the other keeper's claim timed out; re-claiming");
                    return self.claim(&job, false).await;
                }
                let Some(seats) = self.market.drawn_seats(job_id, job.spec.block).await? else {
                    warn!(target: "keeper", %job_id, "claimed by this keeper but no SeatsDrawn event found; retrying later");
                    return Ok(());
                };
                info!(target: "keeper", %job_id, ?seats, "resuming a job claimed before a restart");
                self.store.update_job(job_id, JobState::Claimed, Some(&seats), None)?;
                Ok(())
            }
            (JobStatus::Claimed, JobState::Claimed) => {
                let done = self.deliberate_and_settle(job, terms).await;
                // Its next step may find phases answered in this one.
                self.results.step_ended(job_id);
                done
            }
            // Settled by this keeper's earlier attempt, or by a keeper that re-claimed the job
            // after our claim timed out: the job's keeper on chain tells which.
            (JobStatus::Settled, JobState::Claimed) => self.close_settled(job_id, &terms),
            _ => {
                self.store.update_job(job_id, JobState::Closed, None, None)?;
                Ok(())
            }
        }
    }

    /// Records a job settled on chain: `Settled` when this keeper settled it, `Closed` when
    /// another keeper did.
    fn close_settled(&self, job_id: U256, terms: &Job) -> Result<(), KeeperError> {
        let state = match terms.keeper == self.signer.address() {
            true => JobState::Settled,
            false => JobState::Closed,
        };
        self.store.update_job(job_id, state, None, None)?;
        Ok(())
    }

    /// Claims the job (`first`: nobody claimed it before) or re-claims it, and stores its seats;
    /// a job settled, refunded or held by another keeper is never claimed, and nothing is
    /// published for it.
    async fn claim(&self, job: &JobRow, first: bool) -> Result<(), KeeperError> {
        let job_id = job.spec.job_id;
        match self.market.claim(job_id, job.spec.block, job.spec.agents_wanted).await {
            Ok((tx, seats)) => {
                self.store.update_job(job_id, JobState::Claimed, Some(&seats), None)?;
                if first {
                    self.results.claimed_first(job_id);
                }
                self.metrics.jobs_claimed.fetch_add(1, Ordering::Relaxed);
                info!(target: "keeper", %job_id, %tx, ?seats, "claimed");
                Ok(())
            }
            // Settled or refunded: never retried.
            Err(ClaimError::Taken { current, .. }) => {
                info!(target: "keeper", %job_id, ?current, "job closed before our claim");
                self.store.update_job(job_id, JobState::Closed, None, None)?;
                Ok(())
            }
            // Past its deadline: it can only be refunded.
            Err(ClaimError::Expired { deadline, .. }) => {
                info!(target: "keeper", %job_id, deadline, "job expired before our claim");
                self.store.update_job(job_id, JobState::Closed, None, None)?;
                Ok(())
            }
            // The market would refuse to draw the seats: wait for agents instead of paying for a
            // revert.
            Err(ClaimError::TooFewAgents { eligible, wanted, .. }) => {
                info!(target: "keeper", %job_id, %eligible, wanted, "waiting for enough eligible agents");
                Ok(())
            }
            // Another keeper claimed first: the job stays open here, watched until it settles
            // or that keeper's claim times out.
            Err(ClaimError::Held { keeper, until, .. }) => {
                info!(target: "keeper", %job_id, %keeper, until, "claimed by another keeper first; watching");
                Ok(())
            }
            Err(ClaimError::Tx(e)) => {
                let revert = e.revert();
                warn!(target: "keeper", %job_id, revert = ?revert.map(|r| r.to_string()), "claim failed; retrying later");
                Err(e.into())
            }
        }
    }

    /// Runs the job's missing phases and settles it; `terms` is the job as read on chain at the
    /// start of this step, with the halting terms the market fixed at the request (which
    /// settleJob re-checks).
    async fn deliberate_and_settle(&self, job: JobRow, terms: Job) -> Result<(), KeeperError> {
        let spec = job.spec;
        let job_id = spec.job_id;
        let domain = eip712::domain(self.chain_id, self.market.address());
        if terms.keeper != self.signer.address() {
            // Another keeper re-claimed it after this keeper's claim timed out.
            info!(target: "keeper", %job_id, keeper = %terms.keeper, "job re-claimed by another keeper; closing");
            self.store.update_job(job_id, JobState::Closed, None, None)?;
            return Ok(());
        }
        let halting = job_halting_config(&terms);
        let input_hash = keccak256(&spec.input);
        let mut d =
            Deliberation::new(job_id, input_hash, job.seats.clone(), domain, spec.credits, halting)
                .map_err(|e| KeeperError::Replay { job_id, reason: e.to_string() })?;
        rounds::replay(&mut d, self.store.events(job_id)?)?;
        let now = self.market.now().await?;
        let started = Instant::now();
        let deadline = spec.deadline;
        let seconds_left = move || deadline.saturating_sub(now + started.elapsed().as_secs());
        let driver = Driver {
            signer: self.signer,
            bus: self.bus,
            results: self.results,
            store: self.store,
            metrics: self.metrics,
            phase_timeout: self.config.phase_timeout,
            chain_id: self.chain_id,
            market: self.market.address(),
        };
        let answerable = driver.run(&mut d, &spec, seconds_left).await?;
        let outcome = d.outcome();
        // Stopping before the halting rule says so is accepted on chain only inside the job's
        // round allowance before its deadline; until then the finished log waits here.
        if outcome.as_ref().is_some_and(|o| o.halt == HaltReason::Deadline)
            && !may_stop_for_deadline(self.market.now().await?, deadline, terms.roundAllowance)
        {
            debug!(target: "keeper", %job_id, "halted for the deadline; settling once inside the round allowance");
            return Ok(());
        }
        let answer = outcome.and_then(|o| o.answer);
        if !answerable || answer.is_none() {
            warn!(target: "keeper", %job_id, "no answer; leaving the job to expire and be refunded");
            self.store.update_job(job_id, JobState::Closed, None, None)?;
            self.metrics.jobs_abandoned.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let transcript = nsed_contracts::transcript::transcript_from_rounds(d.seats(), d.rounds());
        // The market settles a job once, and only for the keeper holding its claim: a job
        // settled, re-claimed or expired meanwhile is refused before anything is sent.
        match self.market.settle(job_id, transcript).await {
            Ok(tx) => {
                self.store.update_job(job_id, JobState::Settled, None, Some(tx))?;
                self.metrics.jobs_settled.fetch_add(1, Ordering::Relaxed);
                let answer = answer.expect("checked above");
                info!(target: "keeper", %job_id, %tx, answer = %answer.content, winner = %answer.agent, rounds = d.rounds().len(), "settled");
                Ok(())
            }
            Err(e) => {
                self.metrics.settle_failures.fetch_add(1, Ordering::Relaxed);
                let now = self.market.job(job_id).await?;
                match job_status(job_id, &now)? {
                    JobStatus::Settled => self.close_settled(job_id, &now),
                    JobStatus::Claimed if now.keeper == self.signer.address() => Err(e.into()),
                    _ => {
                        info!(target: "keeper", %job_id, keeper = %now.keeper, status = now.status, "job closed or re-claimed before our settlement");
                        self.store.update_job(job_id, JobState::Closed, None, None)?;
                        Ok(())
                    }
                }
            }
        }
    }
}

/// The job's status as this keeper knows them; a status it does not know (a newer market) is an
/// error, as acting on it could be wrong.
fn job_status(job_id: U256, terms: &Job) -> Result<JobStatus, KeeperError> {
    JobStatus::try_from(terms.status).map_err(|e| {
        KeeperError::Chain(TxError::Call {
            operation: format!("job({job_id})"),
            source: Box::new(e.into()),
        })
    })
}

/// How often alloy's client looks for new blocks while receipts are awaited: a quarter of the
/// keeper's poll interval, between 20 ms and 2 s.
fn receipt_poll_interval(poll_interval: Duration) -> Duration {
    (poll_interval / 4).clamp(Duration::from_millis(20), Duration::from_secs(2))
}
