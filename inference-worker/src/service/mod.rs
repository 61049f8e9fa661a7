//! The agent process: a NATS JetStream consumer answering its own task queue (docs/protocol.md).
//!
//! Delivery: each agent has a durable pull consumer on `nsed.task.<agent>`. While a task is being
//! worked on the worker sends progress acks, so a slow model is not mistaken for a dead one; a
//! worker that dies leaves the task unacknowledged and JetStream redelivers it after `ack_wait`.
//! The answer is published to `NSED_RESULTS` with the task's message id before the task is
//! acknowledged, so a crash between the two makes the restarted worker answer again and the
//! stream drop the copy: every task ends up answered exactly once in the stream.
//!
//! Only keeper-signed tasks are answered ([`gate`]: signed by an accepted keeper, confirmed on
//! chain when the worker has an RPC endpoint, not expired, not a replay). Bad input never stops
//! the worker: a forged, misaddressed, expired or replayed task, an unknown kind or a
//! wrong-shaped input is refused on `<result subject>.failed` with a reason the agent signs, and
//! acknowledged as terminal; bytes that are not a task at all are logged and dropped.
//!
//! Shutdown: cancelling the token stops pulling; tasks in flight get `shutdown_grace` to finish,
//! after which they are negatively acknowledged for immediate redelivery elsewhere.

mod batcher;
mod gate;
mod handler;
mod language;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy_primitives::{Address, B256};
use alloy_signer_local::PrivateKeySigner;
use async_nats::jetstream::{self, AckKind};
use futures::StreamExt;
use nsed_bus::{Bus, BusError, NatsConnect};
use nsed_protocol::wire::{
    self, AgentStatus, Heartbeat, MAX_MESSAGE_BYTES, SignedTask, Task, TaskFailure, failed_subject,
    heartbeat_subject, message_id, result_subject,
};
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{debug, info, warn};

use batcher::Batcher;
pub use batcher::InferenceError;
use gate::{Admission, TaskGate};
use handler::{Engine, Refusal};
use language::LanguageEngine;

use crate::{agent::language::LanguagePolicy, llm::LanguageModel, model::Classifier};

/// Lifetime of the worker's pull requests: a stopping worker's requests are gone this long after
/// it stops pulling, which is when the tasks it returns are redelivered.
const PULL_EXPIRES: Duration = Duration::from_secs(2);

/// How a worker runs; `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The NATS server and how to authenticate to it (the agent's own credentials when the
    /// server has authentication on, see docs/nats-auth.md; default: `nats://127.0.0.1:4222`
    /// without credentials).
    pub nats: NatsConnect,
    /// Keepers whose signed tasks the worker answers (empty: any keeper the chain confirms).
    pub keepers: Vec<Address>,
    /// JSON-RPC endpoint: when set, every task is checked against the market on chain (its
    /// signer claimed the job; its input hash is the job's).
    pub rpc_url: Option<String>,
    /// Tasks worked on at once (default 4).
    pub capacity: usize,
    /// Most rows classified in one model run (default 16).
    pub max_batch: usize,
    /// Redelivery timeout of an unacknowledged task (default 30 s).
    pub ack_wait: Duration,
    /// Deliveries before JetStream gives up on a task (default 5).
    pub max_deliver: i64,
    /// Interval between heartbeats (default 2 s).
    pub heartbeat_interval: Duration,
    /// Time in-flight tasks get to finish at shutdown before they are returned (default 5 s).
    pub shutdown_grace: Duration,
    /// Extra time spent on every task, emulating a slower model (default 0; demos and tests).
    pub simulated_latency: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            nats: NatsConnect::new("nats://127.0.0.1:4222"),
            keepers: Vec::new(),
            rpc_url: None,
            capacity: 4,
            max_batch: 16,
            ack_wait: Duration::from_secs(30),
            max_deliver: 5,
            heartbeat_interval: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(5),
            simulated_latency: Duration::ZERO,
        }
    }
}

impl WorkerConfig {
    /// Checks what can be checked before connecting: the worker must know which keepers to obey.
    ///
    /// # Errors
    ///
    /// [`WorkerError::Config`] without accepted keepers and without an RPC URL, or with an RPC
    /// URL that does not parse.
    pub fn validate(&self) -> Result<(), WorkerError> {
        TaskGate::new(Address::ZERO, self.keepers.clone(), self.rpc_url.as_deref())
            .map(drop)
            .map_err(WorkerError::Config)
    }
}

/// Why a worker stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// NATS or JetStream failed.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The inference thread could not start.
    #[error("cannot start the inference thread: {0}")]
    Thread(std::io::Error),
    /// The configuration cannot work.
    #[error("invalid worker configuration: {0}")]
    Config(String),
    /// The task subscription failed.
    #[error("task subscription of agent {agent} failed: {reason}")]
    Subscription {
        /// The agent.
        agent: Address,
        /// What failed.
        reason: String,
    },
}

/// One agent: its key, its model and its connection settings.
#[derive(Debug)]
pub struct Worker {
    config: WorkerConfig,
    signer: PrivateKeySigner,
    model: AgentModel,
}

/// The model an agent answers with.
#[derive(Debug)]
enum AgentModel {
    /// A digits classifier: answers `tensor-f32` tasks.
    Classifier(Classifier),
    /// A language model and its deliberation policy: answers `text-choice` and `text` tasks.
    Language(Box<LanguageModel>, LanguagePolicy),
}

/// Shared by the consumer loop and every task handler.
#[derive(Debug)]
struct Shared {
    bus: Bus,
    signer: PrivateKeySigner,
    agent: Address,
    engine: Engine,
    gate: TaskGate,
    config: WorkerConfig,
    in_flight: AtomicU32,
    /// Fired `shutdown_grace` after shutdown starts: unfinished tasks are then returned.
    give_back: CancellationToken,
}

impl Worker {
    /// A worker for `signer`'s agent running `classifier`.
    pub const fn new(
        config: WorkerConfig,
        signer: PrivateKeySigner,
        classifier: Classifier,
    ) -> Self {
        Self { config, signer, model: AgentModel::Classifier(classifier) }
    }

    /// A worker for `signer`'s agent answering text tasks with `model` under `policy`.
    pub fn with_language_model(
        config: WorkerConfig,
        signer: PrivateKeySigner,
        model: LanguageModel,
        policy: LanguagePolicy,
    ) -> Self {
        Self { config, signer, model: AgentModel::Language(Box::new(model), policy) }
    }

    /// The agent's address.
    pub fn agent(&self) -> Address {
        self.signer.address()
    }

    /// Serves the agent's task queue until `shutdown` is cancelled. While JetStream cannot
    /// answer at the start (a cluster electing its leaders or restarting), the worker keeps
    /// trying to open its queue for a minute.
    ///
    /// # Errors
    ///
    /// [`WorkerError`] if NATS is unreachable, the streams cannot be set up or the subscription
    /// breaks. Errors of single tasks are reported on the bus and never end the worker.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        let Self { config, signer, model: agent_model } = self;
        let agent = signer.address();
        let (model, model_id) = match &agent_model {
            AgentModel::Classifier(c) => (c.name().to_string(), B256::from(c.model_id())),
            AgentModel::Language(m, _) => (m.name().to_string(), B256::from(m.model_id())),
        };
        let gate = TaskGate::new(agent, config.keepers.clone(), config.rpc_url.as_deref())
            .map_err(WorkerError::Config)?;
        let bus = Bus::connect_with(&config.nats).await?;
        let Some(consumer) = open_queue(&bus, agent, &config, &shutdown).await? else {
            return Ok(());
        };
        let engine = match agent_model {
            AgentModel::Classifier(classifier) => Engine::Classifier(
                Batcher::spawn(classifier, config.max_batch).map_err(WorkerError::Thread)?,
            ),
            AgentModel::Language(model, policy) => Engine::Language(
                LanguageEngine::spawn(*model).map_err(WorkerError::Thread)?,
                policy,
            ),
        };
        let shared = Arc::new(Shared {
            bus: bus.clone(),
            signer,
            agent,
            engine,
            gate,
            config: config.clone(),
            in_flight: AtomicU32::new(0),
            give_back: CancellationToken::new(),
        });
        info!(target: "worker", %agent, %model, %model_id, "worker ready");

        let tracker = TaskTracker::new();
        let heartbeat_stop = CancellationToken::new();
        // Outside the tracker: heartbeats go on (saying "draining") while tasks finish.
        let heartbeat = tokio::spawn(heartbeats(
            shared.clone(),
            model,
            model_id,
            heartbeat_stop.clone(),
            shutdown.clone(),
        ));

        let permits = Arc::new(Semaphore::new(config.capacity.max(1)));
        // Short pull requests for no more tasks than the worker can take: a task returned at
        // shutdown must not be redelivered into a pull request of this (stopping) worker.
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(config.capacity.max(1))
            .expires(PULL_EXPIRES)
            .messages()
            .await
            .map_err(|e| WorkerError::Subscription { agent, reason: e.to_string() })?;
        let result = loop {
            let permit = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break Ok(()),
                permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            };
            let message = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break Ok(()),
                next = messages.next() => next,
            };
            match message {
                Some(Ok(message)) => {
                    let shared = shared.clone();
                    tracker.spawn(async move {
                        shared.in_flight.fetch_add(1, Ordering::Relaxed);
                        handle(&shared, message).await;
                        shared.in_flight.fetch_sub(1, Ordering::Relaxed);
                        drop(permit);
                    });
                }
                Some(Err(e)) => {
                    warn!(target: "worker", %agent, error = %e, "task stream error; retrying")
                }
                None => {
                    break Err(WorkerError::Subscription {
                        agent,
                        reason: "task stream ended".into(),
                    });
                }
            }
        };
        drop(messages);
        info!(target: "worker", %agent, in_flight = shared.in_flight.load(Ordering::Relaxed), "stopping");
        tracker.close();
        if tokio::time::timeout(config.shutdown_grace, tracker.wait()).await.is_err() {
            shared.give_back.cancel();
            tracker.wait().await;
        }
        heartbeat_stop.cancel();
        let _ = heartbeat.await;
        // Acks and naks are fire-and-forget publishes: wait until the server has them (bounded,
        // in case the connection is gone) so a returned task is not lost with the process.
        match tokio::time::timeout(Duration::from_secs(2), bus.client().flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(target: "worker", %agent, error = %e, "flush failed"),
            Err(_) => warn!(target: "worker", %agent, "flush timed out"),
        }
        if let Err(e) = bus.drain().await {
            warn!(target: "worker", %agent, error = %e, "drain failed");
        }
        info!(target: "worker", %agent, "stopped");
        result
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

/// Handles one delivery end to end; never returns an error (everything is reported on the bus).
async fn handle(shared: &Shared, message: jetstream::Message) {
    let agent = shared.agent;
    if message.payload.len() > MAX_MESSAGE_BYTES {
        let reason = format!(
            "task of {} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit",
            message.payload.len()
        );
        drop_unreadable(shared, &message, reason).await;
        return;
    }
    let signed: SignedTask = match wire::decode(&message.payload) {
        Ok(signed) => signed,
        Err(e) => {
            drop_unreadable(shared, &message, format!("unreadable task: {e}")).await;
            return;
        }
    };
    let (verified, hash) = match shared.gate.admit(&signed, now_ms()).await {
        Admission::Answer(verified) => {
            let hash = verified.hash;
            (verified.task, hash)
        }
        Admission::Answered => {
            debug!(target: "worker", "task already answered; acknowledging the redelivery");
            ack(&message, AckKind::Ack).await;
            return;
        }
        Admission::Replay(reason) => {
            warn!(target: "worker", %agent, %reason, "task refused");
            ack(&message, AckKind::Term).await;
            return;
        }
        Admission::Refuse { task, hash, reason } => {
            return refuse(shared, &message, &task, hash, Refusal::permanent(reason)).await;
        }
        Admission::Retry(reason) => {
            warn!(target: "worker", %agent, %reason, "returning the task for a later try");
            ack(&message, AckKind::Nak(Some(Duration::from_secs(1)))).await;
            return;
        }
        Admission::Unreadable(reason) => {
            drop_unreadable(shared, &message, reason).await;
            return;
        }
    };
    let task = verified;
    let input = match handler::check(&task, &shared.engine) {
        Ok(input) => input,
        Err(refusal) => return refuse(shared, &message, &task, hash, refusal).await,
    };

    let work = async {
        if !shared.config.simulated_latency.is_zero() {
            tokio::time::sleep(shared.config.simulated_latency).await;
        }
        handler::answer(&task, input, &shared.signer, &shared.engine).await
    };
    let outcome =
        with_progress_acks(&message, shared.config.ack_wait, &shared.give_back, work).await;
    match outcome {
        Some(Ok(answer)) => {
            let subject = result_subject(task.job_id, task.round, task.phase, agent);
            let id = message_id(task.job_id, task.round, task.phase, agent, answer.signature());
            match shared.bus.publish_dedup(subject, &id, answer.encode()).await {
                Ok(duplicate) => {
                    ack(&message, AckKind::Ack).await;
                    shared.gate.answered(&task, hash);
                    info!(target: "worker", job = %task.job_id, round = task.round, phase = %task.phase, duplicate, "answered");
                }
                Err(e) => {
                    warn!(target: "worker", job = %task.job_id, error = %e, "cannot publish the answer; returning the task");
                    ack(&message, AckKind::Nak(Some(Duration::from_secs(1)))).await;
                }
            }
        }
        Some(Err(refusal)) => refuse(shared, &message, &task, hash, refusal).await,
        None => {
            info!(target: "worker", job = %task.job_id, round = task.round, phase = %task.phase, "shutting down before the task finished; returning it");
            // Redelivered once this worker's last pull request has expired, so it goes to a
            // live worker instead of back into this one's stale request.
            ack(&message, AckKind::Nak(Some(PULL_EXPIRES))).await;
        }
    }
}

/// Runs `work`, sending a progress ack every third of `ack_wait`; `None` if `give_back` fires
/// first.
async fn with_progress_acks<T>(
    message: &jetstream::Message,
    ack_wait: Duration,
    give_back: &CancellationToken,
    work: impl Future<Output = T>,
) -> Option<T> {
    let mut ticker = tokio::time::interval((ack_wait / 3).max(Duration::from_millis(100)));
    ticker.tick().await;
    tokio::pin!(work);
    loop {
        tokio::select! {
            biased;
            _ = give_back.cancelled() => return None,
            out = &mut work => return Some(out),
            _ = ticker.tick() => ack(message, AckKind::Progress).await,
        }
    }
}

async fn ack(message: &jetstream::Message, kind: AckKind) {
    if let Err(e) = message.ack_with(kind).await {
        warn!(target: "worker", error = %e, "acknowledgement failed; the task may be redelivered");
    }
}

/// Reports a refused task on its `.failed` subject, signed and naming the task by `task_hash`,
/// and acknowledges it as terminal (or returns it when the refusal is transient).
async fn refuse(
    shared: &Shared,
    message: &jetstream::Message,
    task: &Task,
    task_hash: B256,
    refusal: Refusal,
) {
    if refusal.retry {
        ack(message, AckKind::Nak(Some(Duration::from_secs(1)))).await;
        return;
    }
    let agent = shared.agent;
    warn!(target: "worker", job = %task.job_id, round = task.round, phase = %task.phase, reason = %refusal.reason, "task refused");
    let failure = match TaskFailure::sign(
        &shared.signer,
        &task.domain(),
        task.job_id,
        task.round,
        task.phase,
        task_hash,
        refusal.reason,
    ) {
        Ok(failure) => failure,
        Err(e) => {
            warn!(target: "worker", error = %e, "cannot sign the failure; dropping the task");
            ack(message, AckKind::Term).await;
            return;
        }
    };
    let subject = failed_subject(task.job_id, task.round, task.phase, agent);
    let id = message_id(task.job_id, task.round, task.phase, agent, &failure.signature);
    match shared.bus.publish_dedup(subject, &id, wire::encode(&failure)).await {
        Ok(_) => ack(message, AckKind::Term).await,
        Err(e) => {
            warn!(target: "worker", error = %e, "cannot report the failure; returning the task");
            ack(message, AckKind::Nak(Some(Duration::from_secs(1)))).await;
        }
    }
}

/// Bytes that are not an addressable task name no job to refuse: logged and dropped.
async fn drop_unreadable(shared: &Shared, message: &jetstream::Message, reason: String) {
    let sequence = message.info().map(|i| i.stream_sequence).unwrap_or_default();
    warn!(target: "worker", agent = %shared.agent, sequence, %reason, "unreadable task dropped");
    ack(message, AckKind::Term).await;
}

async fn heartbeats(
    shared: Arc<Shared>,
    model: String,
    model_id: B256,
    stop: CancellationToken,
    draining: CancellationToken,
) {
    let mut ticker = tokio::time::interval(shared.config.heartbeat_interval);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let in_flight = shared.in_flight.load(Ordering::Relaxed);
        let capacity = shared.config.capacity as u32;
        let status = if draining.is_cancelled() {
            AgentStatus::Draining
        } else if in_flight >= capacity {
            AgentStatus::Busy
        } else {
            AgentStatus::Ready
        };
        let beat = Heartbeat::new(
            shared.agent,
            model.clone(),
            model_id,
            status,
            in_flight,
            capacity,
            now_ms(),
        );
        if let Err(e) =
            shared.bus.publish_core(heartbeat_subject(shared.agent), wire::encode(&beat)).await
        {
            debug!(target: "worker", error = %e, "heartbeat not sent");
        }
    }
}

/// How long a starting worker keeps trying to open its task queue while JetStream cannot answer
/// (a cluster electing its leaders, or restarting as a whole); refusals fail at once.
const OPEN_PATIENCE: Duration = Duration::from_secs(60);

/// Checks the streams and opens `agent`'s queue, trying again every second for
/// [`OPEN_PATIENCE`] while JetStream fails; `None` when `shutdown` fires first.
async fn open_queue(
    bus: &Bus,
    agent: Address,
    config: &WorkerConfig,
    shutdown: &CancellationToken,
) -> Result<Option<jetstream::consumer::PullConsumer>, BusError> {
    let started = std::time::Instant::now();
    loop {
        let opened = async {
            bus.ensure_streams().await?;
            bus.task_consumer(agent, config.ack_wait, config.max_deliver).await
        };
        match opened.await {
            Ok(consumer) => return Ok(Some(consumer)),
            Err(e @ BusError::JetStream { .. }) if started.elapsed() < OPEN_PATIENCE => {
                warn!(target: "worker", %agent, error = %e, "cannot open the task queue yet; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(None),
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
            Err(e) => return Err(e),
        }
    }
}
