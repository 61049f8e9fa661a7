//! Which tasks a worker obeys.
//!
//! Anyone who can publish on an agent's task subject could otherwise make it answer — and sign —
//! a question that was never asked on chain. A task is answered only if:
//!
//! 1. it is addressed to this agent and has not expired;
//! 2. it is signed by the keeper it names (EIP-712, see [`SignedTask`]) and its input hashes to
//!    the `input_hash` it carries, which is what the answer will sign;
//! 3. that keeper is one this worker accepts (`keepers`), and, when the worker has a JSON-RPC
//!    endpoint, the market confirms on chain that this keeper claimed the job and that the job's
//!    input hash is the task's (cached per job once claimed, read again for a task from another
//!    keeper, as a job whose claim timed out may be re-claimed);
//! 4. it is not a replay: for each (chain, market, job, round, phase) the worker answers one
//!    task. A redelivery of that same task is acknowledged without a second answer; any other
//!    task for the same slot is refused, so nobody can make the agent sign two different answers
//!    for one round. A replay is refused without a failure report: the slot's answer is in the
//!    results stream already (or about to be), and a failure would tell the keeper to stop
//!    waiting for it.
//!
//! Replay protection is recorded only after checks 1–3 pass, so a forged task cannot reserve a
//! slot ahead of the real one.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
};

use alloy::{
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
};
use nsed_contracts::deliberation_market::DeliberationMarket;
use nsed_protocol::wire::{Phase, SignedTask, Task, VerifiedTask};

/// How many answered slots a worker remembers for replay protection (a task older than that
/// has expired long before).
const REMEMBERED_SLOTS: usize = 100_000;

/// One answerable unit: a phase of a round of a job of a market.
type Slot = (u64, Address, U256, u32, Phase);

/// What to do with a delivered task.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Answer it.
    Answer(Box<VerifiedTask>),
    /// The same task again (a redelivery) after it was answered: acknowledge, do not answer.
    Answered,
    /// Another task for a slot already answered (or being answered): drop it, report nothing.
    Replay(String),
    /// Refuse it with a signed failure naming the task by `hash`.
    Refuse { task: Box<Task>, hash: B256, reason: String },
    /// Cannot be checked now (the chain is unreachable): return it for a later try.
    Retry(String),
    /// Not an addressable task at all: nothing to name in a failure.
    Unreadable(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// Admitted, answer not yet published.
    Working(B256),
    /// Answer published.
    Answered(B256),
}

/// The on-chain facts of a claimed job that a task must agree with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ClaimedJob {
    keeper: Address,
    input_hash: B256,
}

#[derive(Debug)]
struct Chain {
    provider: DynProvider,
    chain_id: tokio::sync::OnceCell<u64>,
    jobs: Mutex<HashMap<(Address, U256), ClaimedJob>>,
}

/// The worker's task admission rules (see the module docs).
#[derive(Debug)]
pub(crate) struct TaskGate {
    agent: Address,
    keepers: Vec<Address>,
    chain: Option<Chain>,
    slots: Mutex<(HashMap<Slot, SlotState>, VecDeque<Slot>)>,
}

impl TaskGate {
    /// A gate for `agent`, accepting tasks of `keepers` (any keeper, if empty, as long as the
    /// chain at `rpc_url` confirms it claimed the job).
    ///
    /// # Errors
    ///
    /// A message when neither keepers nor an RPC URL are given (the worker would trust anyone),
    /// or the URL does not parse.
    pub(crate) fn new(
        agent: Address,
        keepers: Vec<Address>,
        rpc_url: Option<&str>,
    ) -> Result<Self, String> {
        if keepers.is_empty() && rpc_url.is_none() {
            return Err("a worker answers only keeper-signed tasks: name the keepers it accepts \
                        (--keeper ADDRESS) or give --rpc-url so it checks each job's claiming \
                        keeper on chain"
                .into());
        }
        let chain = match rpc_url {
            Some(url) => {
                let url = url.parse().map_err(|e| format!("`{url}` is not a URL: {e}"))?;
                Some(Chain {
                    provider: ProviderBuilder::new()
                        .disable_recommended_fillers()
                        .connect_http(url)
                        .erased(),
                    chain_id: tokio::sync::OnceCell::new(),
                    jobs: Mutex::default(),
                })
            }
            None => None,
        };
        Ok(Self { agent, keepers, chain, slots: Mutex::default() })
    }

    /// Decides what to do with `signed`, delivered at `now_ms`.
    pub(crate) async fn admit(&self, signed: &SignedTask, now_ms: u64) -> Admission {
        let (task, hash) = match signed.read() {
            Ok(read) => read,
            Err(e) => return Admission::Unreadable(e.to_string()),
        };
        let refuse =
            |reason: String| Admission::Refuse { task: Box::new(task.clone()), hash, reason };
        if task.agent() != Some(self.agent) {
            return refuse(format!(
                "task for seat {} ({:?}) reached agent {}",
                task.seat,
                task.agent(),
                self.agent
            ));
        }
        if now_ms > task.deadline_ms {
            return refuse(format!("task expired at {} ms (now {now_ms} ms)", task.deadline_ms));
        }
        let verified = match signed.open() {
            Ok(verified) => verified,
            Err(e) => return refuse(format!("refused task: {e}")),
        };
        if !self.keepers.is_empty() && !self.keepers.contains(&verified.keeper) {
            return refuse(format!(
                "task signed by keeper {}, which this worker does not accept",
                verified.keeper
            ));
        }
        if let Some(chain) = &self.chain {
            match chain.confirm(&task, verified.keeper).await {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => return refuse(reason),
                Err(e) => return Admission::Retry(format!("cannot check the job on chain: {e}")),
            }
        }
        match self.reserve(&task, hash) {
            Ok(true) => Admission::Answer(Box::new(verified)),
            Ok(false) => Admission::Answered,
            Err(reason) => Admission::Replay(reason),
        }
    }

    /// Reserves the task's slot: `Ok(true)` to answer it, `Ok(false)` if this very task was
    /// already answered, an error if another task holds the slot.
    fn reserve(&self, task: &Task, hash: B256) -> Result<bool, String> {
        let slot = (task.chain_id, task.market, task.job_id, task.round, task.phase);
        let mut guard = self.slots.lock().expect("no panics under the lock");
        let (states, order) = &mut *guard;
        match states.get(&slot) {
            None => {
                states.insert(slot, SlotState::Working(hash));
                order.push_back(slot);
                if order.len() > REMEMBERED_SLOTS
                    && let Some(old) = order.pop_front()
                {
                    states.remove(&old);
                }
                Ok(true)
            }
            // A redelivery of the task being (or failed to be) published: answer it again.
            Some(SlotState::Working(h)) if *h == hash => Ok(true),
            Some(SlotState::Answered(h)) if *h == hash => Ok(false),
            Some(_) => Err(format!(
                "replayed task: job {} round {} {} was already answered for another task",
                task.job_id, task.round, task.phase
            )),
        }
    }

    /// Records that the task's answer is published.
    pub(crate) fn answered(&self, task: &Task, hash: B256) {
        let slot = (task.chain_id, task.market, task.job_id, task.round, task.phase);
        let mut guard = self.slots.lock().expect("no panics under the lock");
        if let Some(state) = guard.0.get_mut(&slot) {
            *state = SlotState::Answered(hash);
        }
    }
}

impl Chain {
    /// `Ok(Err(reason))` if the chain contradicts the task, `Err` if the chain cannot be asked.
    async fn confirm(
        &self,
        task: &Task,
        keeper: Address,
    ) -> Result<Result<(), String>, alloy::contract::Error> {
        let chain_id = *self
            .chain_id
            .get_or_try_init(|| async { self.provider.get_chain_id().await })
            .await
            .map_err(alloy::contract::Error::TransportError)?;
        if chain_id != task.chain_id {
            return Ok(Err(format!(
                "task for chain {}, but this worker's node is chain {chain_id}",
                task.chain_id
            )));
        }
        let key = (task.market, task.job_id);
        let cached = self.jobs.lock().expect("no panics under the lock").get(&key).copied();
        // A task from another keeper than the cached one is checked on chain again: the job may
        // have been re-claimed after the first keeper's claim timed out.
        let job = match cached.filter(|job| job.keeper == keeper) {
            Some(job) => job,
            None => {
                let job = DeliberationMarket::new(task.market, &self.provider)
                    .job(task.job_id)
                    .call()
                    .await?;
                let claimed = ClaimedJob { keeper: job.keeper, input_hash: job.inputHash };
                // Cached once claimed: the input never changes after, the keeper only by a
                // re-claim (then a task signed by the new keeper reads the job again).
                if claimed.keeper != Address::ZERO {
                    self.jobs.lock().expect("no panics under the lock").insert(key, claimed);
                }
                claimed
            }
        };
        if job.keeper != keeper {
            return Ok(Err(format!(
                "job {} is claimed on chain by {}, not by the task's signer {keeper}",
                task.job_id, job.keeper
            )));
        }
        if job.input_hash != task.input_hash {
            return Ok(Err(format!(
                "job {} has input hash {} on chain, the task {}",
                task.job_id, job.input_hash, task.input_hash
            )));
        }
        Ok(Ok(()))
    }
}
