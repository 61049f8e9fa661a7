//! What the keeper reads from and writes to the chain: market events in bounded windows, job
//! status, claims and settlements. Every call goes through [`nsed_contracts::tx`], so failures
//! are [`TxError`]s that keep alloy's error and decode the market's reverts.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::{
    contract::{CallBuilder, CallDecoder},
    eips::BlockNumberOrTag,
    network::ReceiptResponse,
    primitives::{Address, B256, U256},
    providers::{Provider, utils::Eip1559Estimation},
    rpc::types::{Filter, Log},
    sol_types::{SolEvent, SolEventInterface},
};
use nsed_contracts::{
    deliberation_market::DeliberationMarket::{
        self as Contract, DeliberationMarketErrors, DeliberationMarketUnexpectedJobStatus, Job,
    },
    i_deliberation_market::{
        IDeliberationMarket::{
            self, IDeliberationMarketEvents, JobRequested, SeatsDrawn, Transcript,
        },
        JobStatus,
    },
    market::seats_from_logs,
    tx::{self, TxContext, TxError, TxResult},
};

use crate::{
    store::JobSpec,
    timing::{Part, Timings},
};

/// Gas added to a claim's estimate (with a quarter on top) to cover the seat draw's spread.
const CLAIM_GAS_MARGIN: u64 = 20_000;

/// A market event the keeper acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketEvent {
    /// A new job.
    Requested(JobSpec),
}

impl MarketEvent {
    /// The keeper's view of a market log: `None` for events it does not act on and for logs that
    /// do not decode (they cannot come from this market's ABI).
    pub fn from_log(log: &Log) -> Option<Self> {
        let block = log.block_number.unwrap_or_default();
        match IDeliberationMarketEvents::decode_log(&log.inner).ok()?.data {
            IDeliberationMarketEvents::JobRequested(e) => Some(requested(e, block)),
            _ => None,
        }
    }
}

fn requested(e: JobRequested, block: u64) -> MarketEvent {
    MarketEvent::Requested(JobSpec {
        job_id: e.jobId,
        kind: e.kind,
        input: e.input.to_vec(),
        agents_wanted: e.agentsWanted,
        max_rounds: e.maxRounds,
        credits: e.credits,
        deadline: e.deadline,
        block,
    })
}

/// Why a claim was refused.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// The job is no longer open: another keeper claimed it, or it was settled or refunded.
    #[error("job {job_id} is no longer open (status {current:?})")]
    Taken {
        /// The job.
        job_id: U256,
        /// Its status when the claim was refused.
        current: JobStatus,
    },
    /// Another keeper's claim has not timed out yet: the job may be re-claimed after `until`.
    #[error("job {job_id} is held by keeper {keeper} until {until}")]
    Held {
        /// The job.
        job_id: U256,
        /// The keeper holding it.
        keeper: Address,
        /// The last second of its claim.
        until: u64,
    },
    /// The agent registry has too few eligible agents to draw the job's seats from; worth
    /// retrying once more agents register.
    #[error("job {job_id} wants {wanted} agents, {eligible} are eligible")]
    TooFewAgents {
        /// The job.
        job_id: U256,
        /// Agents the registry would draw from now.
        eligible: U256,
        /// Agents the job wants.
        wanted: u8,
    },
    /// The job's deadline has passed: it can only be refunded.
    #[error("job {job_id} expired at {deadline}")]
    Expired {
        /// The job.
        job_id: U256,
        /// Its deadline.
        deadline: u64,
    },
    /// Anything else (a missing role, the node failed); worth retrying.
    #[error(transparent)]
    Tx(#[from] TxError),
}

/// The newest block the keeper has seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatestBlock {
    /// Its number.
    pub number: u64,
    /// Its hash.
    pub hash: B256,
    /// Its timestamp: the chain's time, in seconds.
    pub timestamp: u64,
    /// Its gas limit: how much one block takes.
    pub gas_limit: u64,
}

/// Blocks of this keeper's own transactions ahead of a new one past which its fee cap stops
/// rising ([`fee_cap_for_queue`]): 1.125¹⁶ ≈ 6.6 times the estimate.
const MAX_QUEUE_BLOCKS: u64 = 16;

/// The fee cap for a transaction sent behind `gas_ahead` of this keeper's own transactions on
/// a chain whose blocks take `block_gas`: the estimate's cap (twice the base fee plus the tip)
/// raised by 12.5 % per block those fill, as the base fee rises while they are mined. Blocks
/// take one sender's transactions in nonce order, so a transaction at the back of a deep queue
/// waits that many full blocks before its turn; priced for the first block only, it would reach
/// the front priced under the base fee and stall every transaction behind it until replaced.
/// Only the cap rises: what is paid is still the base fee plus the tip.
fn fee_cap_for_queue(cap: u128, gas_ahead: u64, block_gas: u64) -> u128 {
    let blocks = gas_ahead.checked_div(block_gas).unwrap_or(0).min(MAX_QUEUE_BLOCKS);
    (0..blocks).fold(cap, |cap, _| cap.saturating_add(cap / 8))
}

/// A value read from the chain and when it was read, shared by every job in flight while it is
/// fresh: the latest block and the fee estimate change at most once a block, and every job step
/// needs one of them.
#[derive(Debug)]
struct Recent<T>(Mutex<Option<(Instant, T)>>);

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<T: Copy> Recent<T> {
    /// The value, if it was read less than `fresh_for` ago.
    fn within(&self, fresh_for: Duration) -> Option<T> {
        let kept = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.filter(|(at, _)| at.elapsed() < fresh_for).map(|(_, value)| value)
    }

    /// The value last kept, however old: for what changes rarely (a block's gas limit).
    fn last(&self) -> Option<T> {
        self.within(Duration::MAX)
    }

    /// Keeps `value` as read now.
    fn set(&self, value: T) {
        self.keep_unless(value, |_, _| false);
    }

    /// Keeps `value` as read now, unless `newer` says the kept one is newer (concurrent reads
    /// may finish out of order).
    fn keep_unless(&self, value: T, newer: impl FnOnce(&T, &T) -> bool) {
        let mut kept = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.as_ref().is_none_or(|(_, old)| !newer(old, &value)) {
            *kept = Some((Instant::now(), value));
        }
    }
}

/// What a settlement's gas depends on: seats, rounds, and the transcript's size (contents,
/// signatures and votes), in kibibytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SettleShape {
    seats: usize,
    rounds: usize,
    kib: usize,
}

impl SettleShape {
    fn of(transcript: &Transcript) -> Self {
        let bytes: usize = transcript
            .rounds
            .iter()
            .map(|round| {
                let contents: usize = round.contents.iter().map(String::len).sum();
                let signatures: usize = round
                    .proposalSignatures
                    .iter()
                    .chain(&round.ballotSignatures)
                    .map(|signature| signature.len())
                    .sum();
                let votes: usize = round.votes.iter().map(|ballot| ballot.len() * 32).sum();
                contents + signatures + votes
            })
            .sum();
        Self { seats: transcript.agents.len(), rounds: transcript.rounds.len(), kib: bytes / 1024 }
    }
}

/// The most gas transactions of each kind `K` used, from this keeper's receipts: a limit for the
/// next one of that kind without the node's gas estimate, which runs the transaction three or
/// four times (a settlement with every signature recovery) where one `eth_call` runs it once.
#[derive(Debug)]
struct GasBook<K>(Mutex<HashMap<K, u64>>);

impl<K> Default for GasBook<K> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<K: std::hash::Hash + Eq> GasBook<K> {
    /// A gas limit for a transaction of kind `key`, when one has been seen: the most used plus a
    /// third (the gas refund, at most a fifth of the gas used, is paid back only after the
    /// execution needed it; storage written for the first time, such as an agent's first token,
    /// costs more; a seat draw depends on the block's randomness) and 50,000 (up to a kibibyte
    /// more of transcript to hash).
    fn limit(&self, key: &K) -> Option<u64> {
        let seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.get(key).map(|used| used + used / 3 + 50_000)
    }

    fn saw(&self, key: K, used: u64) {
        let mut seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let most = seen.entry(key).or_default();
        *most = (*most).max(used);
    }

    fn forget(&self, key: &K) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(key);
    }

    /// Keeps the gas a landed transaction of kind `key` used; forgets the kind when its
    /// transaction failed (perhaps out of gas), so the next one is estimated.
    fn learn(&self, key: K, landed: Option<&alloy::rpc::types::TransactionReceipt>) {
        match landed {
            Some(receipt) => self.saw(key, receipt.gas_used),
            None => self.forget(&key),
        }
    }
}

/// A transaction's gas limit counted among the keeper's transactions in flight until it lands
/// or is given up (dropped).
struct GasInFlight<'a> {
    counter: &'a std::sync::atomic::AtomicU64,
    gas: u64,
}

impl<'a> GasInFlight<'a> {
    /// Counts `gas`; returns the guard and the gas that was in flight before it.
    fn add(counter: &'a std::sync::atomic::AtomicU64, gas: u64) -> (Self, u64) {
        let ahead = counter.fetch_add(gas, std::sync::atomic::Ordering::Relaxed);
        (Self { counter, gas }, ahead)
    }
}

impl Drop for GasInFlight<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.gas, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The market contract as the keeper uses it.
#[derive(Debug, Clone)]
pub struct Market<P> {
    provider: P,
    address: Address,
    /// Held from filling a transaction to the node accepting it, so transactions sent by
    /// concurrent jobs take consecutive nonces; holds the nonce after the last one sent
    /// ([`Market::with_sender`]). Receipts are awaited outside it.
    sending: Arc<tokio::sync::Mutex<Option<u64>>>,
    /// The account the provider signs with, when known: its nonces are then counted here too.
    sender: Option<Address>,
    /// Where the time spent on JSON-RPC is counted.
    timings: Arc<Timings>,
    /// How long a transaction may wait to be mined, and how it is replaced.
    land: tx::LandPolicy,
    /// The gas limits of this keeper's transactions sent and not yet landed or given up.
    gas_in_flight: Arc<std::sync::atomic::AtomicU64>,
    /// How long a read of the latest block, and a fee estimate, serve before they are read
    /// again: every job step needs the chain's time and every transaction fees, and both
    /// change at most once a block, so concurrent jobs share one read.
    fresh_for: Duration,
    /// The newest block read ([`Market::latest`]).
    latest: Arc<Recent<LatestBlock>>,
    /// The last fee estimate.
    fees: Arc<Recent<Eip1559Estimation>>,
    /// The gas claims used, per number of seats drawn.
    claim_gas: Arc<GasBook<u8>>,
    /// The gas settlements used, per transcript shape.
    settle_gas: Arc<GasBook<SettleShape>>,
}

impl<P: Provider + Clone> Market<P> {
    /// The market at `address`.
    pub fn new(provider: P, address: Address) -> Self {
        Self {
            provider,
            address,
            sending: Arc::default(),
            sender: None,
            timings: Arc::default(),
            land: tx::LandPolicy::default(),
            gas_in_flight: Arc::default(),
            fresh_for: Duration::from_millis(500),
            latest: Arc::default(),
            fees: Arc::default(),
            claim_gas: Arc::default(),
            settle_gas: Arc::default(),
        }
    }

    /// How long a read of the latest block and a fee estimate are reused (default 500 ms; the
    /// keeper passes its poll interval, as it reads the latest block on every poll anyway).
    #[must_use]
    pub const fn with_fresh_for(mut self, fresh_for: Duration) -> Self {
        self.fresh_for = fresh_for;
        self
    }

    /// Waits for and replaces this keeper's transactions as `policy` says (default:
    /// [`tx::LandPolicy::default`]).
    #[must_use]
    pub const fn with_land_policy(mut self, policy: tx::LandPolicy) -> Self {
        self.land = policy;
        self
    }

    /// Signs as `sender`: each transaction takes the node's pending nonce or the one after this
    /// keeper's last, whichever is higher. A node can answer a pending nonce that misses a
    /// transaction just accepted (anvil does while it mines a block), and two of the keeper's
    /// transactions would then share a nonce, one dropping the other.
    #[must_use]
    pub const fn with_sender(mut self, sender: Address) -> Self {
        self.sender = Some(sender);
        self
    }

    /// Counts the time spent on JSON-RPC in `timings` (as [`Part::Chain`]).
    #[must_use]
    pub fn with_timings(mut self, timings: Arc<Timings>) -> Self {
        self.timings = timings;
        self
    }

    /// Sends `call` (its gas limit already set) in this keeper's turn and waits for it to be
    /// mined outside it, replacing it with higher fees when it is not mined in time
    /// ([`tx::land`]). Fees come from [`Market::fees`]; so only the nonce is asked for in the
    /// turn, and concurrent jobs' transactions queue for nothing else.
    async fn send<C: Provider, D: CallDecoder>(
        &self,
        operation: String,
        call: CallBuilder<C, D>,
        gas: u64,
    ) -> TxResult<alloy::rpc::types::TransactionReceipt> {
        let _watch = self.timings.start(Part::Chain);
        let fees = self.fees().await.during(format!("{operation}: fee estimate"))?;
        let block_gas = self.latest.last().map_or(0, |latest| latest.gas_limit);
        let (_in_flight, ahead) = GasInFlight::add(&self.gas_in_flight, gas);
        let cap = fee_cap_for_queue(fees.max_fee_per_gas, ahead, block_gas);
        let call = call
            .gas(gas)
            .max_fee_per_gas(cap.max(fees.max_priority_fee_per_gas))
            .max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
        let (pending, request) = {
            let mut next = self.sending.lock().await;
            match self.sender {
                Some(sender) => {
                    let node = self
                        .provider
                        .get_transaction_count(sender)
                        .pending()
                        .await
                        .during(format!("{operation}: eth_getTransactionCount"))?;
                    let nonce = next.map_or(node, |next| next.max(node));
                    let call = call.from(sender).nonce(nonce);
                    let request = call.as_ref().clone();
                    let pending = tx::submit_call(&operation, call).await?;
                    *next = Some(nonce + 1);
                    (pending, Some(request))
                }
                // The provider's filler asks the node.
                None => (tx::submit_call(&operation, call).await?, None),
            }
        };
        // Outside the turn too: a replacement reuses this transaction's nonce.
        tx::land(&self.provider, operation, pending, request, &self.land).await
    }

    /// The market's address.
    pub const fn address(&self) -> Address {
        self.address
    }

    /// The provider.
    pub const fn provider(&self) -> &P {
        &self.provider
    }

    /// Reads the latest block (number, hash and time in one request) and keeps it for
    /// [`Market::now`].
    ///
    /// # Errors
    ///
    /// [`TxError::Rpc`], or [`TxError::Missing`] if the node has no latest block.
    pub async fn latest(&self) -> TxResult<LatestBlock> {
        let _watch = self.timings.start(Part::Chain);
        let operation = "eth_getBlockByNumber latest";
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .during(operation)?
            .ok_or(TxError::Missing { operation: operation.into(), missing: "a latest block" })?;
        let latest = LatestBlock {
            number: block.header.number,
            hash: block.header.hash,
            timestamp: block.header.timestamp,
            gas_limit: block.header.gas_limit,
        };
        self.latest.keep_unless(latest, |kept, new| kept.number > new.number);
        Ok(latest)
    }

    /// EIP-1559 fees from the node's fee history, estimated at most once per
    /// [`Market::with_fresh_for`].
    async fn fees(&self) -> Result<Eip1559Estimation, alloy::transports::TransportError> {
        if let Some(fees) = self.fees.within(self.fresh_for) {
            return Ok(fees);
        }
        let fees = self.provider.estimate_eip1559_fees().await?;
        self.fees.set(fees);
        Ok(fees)
    }

    /// The hash of block `number`.
    ///
    /// # Errors
    ///
    /// [`TxError::Rpc`], or [`TxError::Missing`] when the node does not have the block.
    pub async fn block_hash(&self, number: u64) -> TxResult<B256> {
        let _watch = self.timings.start(Part::Chain);
        let operation = format!("eth_getBlockByNumber {number}");
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .during(operation.clone())?
            .ok_or(TxError::Missing { operation, missing: "the block" })?;
        Ok(block.header.hash)
    }

    /// Market events in blocks `from..=to`, in chain order. Logs that do not decode are skipped
    /// (they cannot come from this market's ABI) rather than stopping the keeper.
    ///
    /// # Errors
    ///
    /// [`TxError::Rpc`].
    pub async fn events(&self, from: u64, to: u64) -> TxResult<Vec<MarketEvent>> {
        let _watch = self.timings.start(Part::Chain);
        let filter = Filter::new()
            .address(self.address)
            .from_block(from)
            .to_block(to)
            .event_signature(JobRequested::SIGNATURE_HASH);
        let logs =
            self.provider.get_logs(&filter).await.during(format!("eth_getLogs {from}..={to}"))?;
        Ok(logs.iter().filter_map(MarketEvent::from_log).collect())
    }

    /// The job as the market stores it: its claiming keeper, terms and deadline.
    ///
    /// # Errors
    ///
    /// [`TxError::Call`].
    pub async fn job(&self, job_id: U256) -> TxResult<Job> {
        let _watch = self.timings.start(Part::Chain);
        Contract::new(self.address, &self.provider)
            .job(job_id)
            .call()
            .await
            .during(format!("job({job_id})"))
    }

    /// Seconds after a claim from which another keeper may re-claim the job.
    ///
    /// # Errors
    ///
    /// [`TxError::Call`].
    pub async fn claim_timeout(&self) -> TxResult<u64> {
        let _watch = self.timings.start(Part::Chain);
        let timeout = Contract::new(self.address, &self.provider)
            .claimTimeout()
            .call()
            .await
            .during("claimTimeout()")?;
        Ok(u64::from(timeout))
    }

    /// The seats the market drew for `job_id` when it was claimed (its `SeatsDrawn` event,
    /// searched from block `from`); `None` if the job has not been claimed.
    ///
    /// # Errors
    ///
    /// [`TxError::Rpc`].
    pub async fn drawn_seats(&self, job_id: U256, from: u64) -> TxResult<Option<Vec<Address>>> {
        let _watch = self.timings.start(Part::Chain);
        let filter = Filter::new()
            .address(self.address)
            .from_block(from)
            .event_signature(SeatsDrawn::SIGNATURE_HASH)
            .topic1(B256::from(job_id));
        let logs = self
            .provider
            .get_logs(&filter)
            .await
            .during(format!("eth_getLogs SeatsDrawn({job_id})"))?;
        Ok(seats_from_logs(job_id, logs.iter().map(|log| &log.inner)))
    }

    /// Claims the job (which wants `agents_wanted` seats), or re-claims it once another keeper's
    /// claim has timed out; returns the transaction and the job's seats: drawn by this claim, or,
    /// for a re-claim (which keeps them), read from the first claim's `SeatsDrawn` event,
    /// searched from block `requested`.
    ///
    /// # Errors
    ///
    /// [`ClaimError::Taken`] when the market refuses because the job is settled or refunded,
    /// [`ClaimError::Held`] when another keeper's claim still holds (both read from the revert,
    /// not guessed); [`ClaimError::Tx`] for every other failure.
    pub async fn claim(
        &self,
        job_id: U256,
        requested: u64,
        agents_wanted: u8,
    ) -> Result<(B256, Vec<Address>), ClaimError> {
        let market = IDeliberationMarket::new(self.address, &self.provider);
        let call = market.claimJob(job_id);
        let operation = format!("claimJob({job_id})");
        // The seat draw's gas depends on the mined block's `prevrandao`, which the estimate
        // cannot know: a claim sent with the bare estimate can run out of gas. Checking first
        // surfaces the market's revert (a lost claim) before anything is sent.
        let gas = self
            .checked_gas(&self.claim_gas, &agents_wanted, &call, |estimate| {
                estimate + estimate / 4 + CLAIM_GAS_MARGIN
            })
            .await
            .map_err(|source| {
                let e = TxError::Call { operation: operation.clone(), source: Box::new(source) };
                Self::claim_error(job_id, e)
            })?;
        let sent = self.send(operation.clone(), call, gas).await;
        self.claim_gas.learn(agents_wanted, sent.as_ref().ok());
        match sent {
            Ok(receipt) => {
                let logs = receipt.inner.logs().iter().map(|log| &log.inner);
                let seats = match seats_from_logs(job_id, logs) {
                    Some(seats) => Some(seats),
                    None => self.drawn_seats(job_id, requested).await?,
                };
                let seats =
                    seats.ok_or(TxError::Missing { operation, missing: "a SeatsDrawn event" })?;
                Ok((receipt.transaction_hash(), seats))
            }
            Err(e) => Err(Self::claim_error(job_id, e)),
        }
    }

    /// A failed claim: [`ClaimError::Taken`] when the market's revert says the job is settled or
    /// refunded, [`ClaimError::Held`] when another claim holds it, [`ClaimError::Tx`] otherwise.
    fn claim_error(job_id: U256, e: TxError) -> ClaimError {
        match e.decoded::<DeliberationMarketErrors>() {
            Some(DeliberationMarketErrors::DeliberationMarketClaimHeld(held)) => {
                ClaimError::Held { job_id, keeper: held.keeper, until: held.until }
            }
            Some(DeliberationMarketErrors::DeliberationMarketTooFewEligibleAgents(few)) => {
                ClaimError::TooFewAgents { job_id, eligible: few.eligible, wanted: few.wanted }
            }
            Some(DeliberationMarketErrors::DeliberationMarketJobExpired(expired)) => {
                ClaimError::Expired { job_id, deadline: expired.deadline }
            }
            Some(DeliberationMarketErrors::DeliberationMarketUnexpectedJobStatus(
                DeliberationMarketUnexpectedJobStatus { current, .. },
            )) => match JobStatus::try_from(current) {
                Ok(JobStatus::Requested) | Err(_) => e.into(),
                Ok(current) => ClaimError::Taken { job_id, current },
            },
            _ => e.into(),
        }
    }

    /// Settles the job with `transcript`. Before anything is paid for, the job is checked to be
    /// one the market would settle (a job settled, re-claimed or expired meanwhile is refused):
    /// for a transcript shape whose gas this keeper has seen, by reading the job's state
    /// ([`Market::settleable`]); otherwise the node's gas estimate runs the whole settlement.
    ///
    /// # Errors
    ///
    /// [`TxError::Refused`] when the job's state says the market would refuse it; [`TxError`] if
    /// the estimate, a read or the transaction fails or reverts ([`TxError::decoded`] tells the
    /// market's reason).
    pub async fn settle(&self, job_id: U256, transcript: Transcript) -> TxResult<B256> {
        let operation = format!("settleJob({job_id})");
        let shape = SettleShape::of(&transcript);
        let market = IDeliberationMarket::new(self.address, &self.provider);
        let call = market.settleJob(job_id, transcript);
        let known = self.settle_gas.limit(&shape);
        let gas = match (known, self.sender) {
            // The transcript follows the rules the market checks (the protocol crate's, proven
            // equal to the contract's), so what is left to refuse it is the job's state. Reading
            // it costs the node a storage lookup; simulating the settlement would cost it as
            // much as mining it, every signature recovered again.
            (Some(limit), Some(keeper)) => {
                self.settleable(job_id, keeper, &operation).await?;
                limit
            }
            _ => self
                .checked_gas(&self.settle_gas, &shape, &call, |estimate| estimate)
                .await
                .map_err(|source| TxError::Call {
                    operation: operation.clone(),
                    source: Box::new(source),
                })?,
        };
        let sent = self.send(operation, call, gas).await;
        self.settle_gas.learn(shape, sent.as_ref().ok());
        Ok(sent?.transaction_hash())
    }

    /// Checks, from the job's state, that the market would settle `job_id` for `keeper` now:
    /// the job is claimed by `keeper` and its deadline has not passed. (A keeper whose role the
    /// guild revoked is not caught here: its settlement reverts once, and the failure makes the
    /// next one of its shape run the gas estimate, which names the revert before sending.)
    ///
    /// # Errors
    ///
    /// [`TxError::Refused`] naming what the market would refuse; [`TxError`] if a read fails.
    async fn settleable(&self, job_id: U256, keeper: Address, operation: &str) -> TxResult<()> {
        let job = self.job(job_id).await?;
        let refused = |reason: String| TxError::Refused { operation: operation.to_owned(), reason };
        if !matches!(JobStatus::try_from(job.status), Ok(JobStatus::Claimed))
            || job.keeper != keeper
        {
            return Err(refused(format!(
                "the job's status is {} with keeper {}, not claimed by {keeper}",
                job.status, job.keeper
            )));
        }
        let now = self.now().await?;
        if now > job.deadline {
            return Err(refused(format!("its deadline {} has passed (now {now})", job.deadline)));
        }
        Ok(())
    }

    /// A gas limit for `call`, checked against the chain: for a kind of transaction `book` has
    /// seen, its limit, with one `eth_call` to hear a refusal; otherwise the node's estimate,
    /// adjusted by `margin`. Either surfaces the contract's revert before anything is sent.
    async fn checked_gas<K, C, D>(
        &self,
        book: &GasBook<K>,
        key: &K,
        call: &CallBuilder<C, D>,
        margin: impl FnOnce(u64) -> u64,
    ) -> Result<u64, alloy::contract::Error>
    where
        K: std::hash::Hash + Eq,
        C: Provider + Clone,
        D: CallDecoder + Clone,
    {
        let _watch = self.timings.start(Part::Chain);
        match book.limit(key) {
            Some(limit) => call.clone().gas(limit).call_raw().await.map(|_| limit),
            None => call.estimate_gas().await.map(margin),
        }
    }

    /// The chain's current time (the latest block's timestamp), in seconds: from the latest
    /// block read in the last [`Market::with_fresh_for`], else read now. The time may be that
    /// much behind, never ahead, so a deadline is never taken as passed early.
    ///
    /// # Errors
    ///
    /// [`TxError::Rpc`], or [`TxError::Missing`] if the node has no latest block.
    pub async fn now(&self) -> TxResult<u64> {
        match self.latest.within(self.fresh_for) {
            Some(latest) => Ok(latest.timestamp),
            None => Ok(self.latest().await?.timestamp),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{Bytes, LogData, address};

    use super::*;

    fn log(data: LogData, block: u64) -> Log {
        Log {
            inner: alloy::primitives::Log { address: Address::ZERO, data },
            block_number: Some(block),
            ..Log::default()
        }
    }

    #[test]
    fn market_logs_become_keeper_events() {
        let agent = address!("0x00000000000000000000000000000000000000aa");
        let requested = JobRequested {
            jobId: U256::from(4),
            requester: agent,
            kind: "tensor-f32".into(),
            input: Bytes::from_static(b"[1]"),
            agentsWanted: 3,
            maxRounds: 2,
            credits: 100,
            deadline: 99,
            token: Address::ZERO,
            bounty: U256::from(1),
            escrowId: U256::from(1),
        };
        let event = MarketEvent::from_log(&log(requested.encode_log_data(), 7)).unwrap();
        let MarketEvent::Requested(spec) = event;
        assert_eq!((spec.job_id, spec.block, spec.agents_wanted), (U256::from(4), 7, 3));
    }

    #[test]
    fn a_settlement_shape_seen_gets_its_most_gas_plus_a_margin_until_it_fails() {
        let round = |content: &str| IDeliberationMarket::Round {
            contents: vec![content.into(); 3],
            proposalSignatures: vec![Bytes::from(vec![0; 65]); 3],
            votes: vec![vec![alloy::primitives::I256::ONE; 3]; 3],
            ballotSignatures: vec![Bytes::from(vec![0; 65]); 3],
        };
        let transcript = |rounds: usize, content: &str| Transcript {
            agents: vec![Address::ZERO; 3],
            rounds: vec![round(content); rounds],
        };
        let short = SettleShape::of(&transcript(1, "7"));
        assert_eq!(short, SettleShape { seats: 3, rounds: 1, kib: 0 });
        assert_ne!(SettleShape::of(&transcript(2, "7")), short);
        assert_eq!(SettleShape::of(&transcript(1, &"x".repeat(400))).kib, 1);

        let gas = GasBook::default();
        assert_eq!(gas.limit(&short), None, "an unseen shape is estimated");
        gas.saw(short, 300_000);
        gas.saw(short, 240_000);
        assert_eq!(gas.limit(&short), Some(300_000 + 100_000 + 50_000));
        gas.forget(&short);
        assert_eq!(gas.limit(&short), None, "a failed settlement is estimated again");
    }

    #[test]
    fn the_fee_cap_rises_an_eighth_per_block_of_own_transactions_ahead() {
        let block = 30_000_000;
        assert_eq!(fee_cap_for_queue(800, 0, block), 800);
        assert_eq!(fee_cap_for_queue(800, block - 1, block), 800, "less than a block ahead");
        assert_eq!(fee_cap_for_queue(800, 2 * block, block), 1012);
        let deepest = fee_cap_for_queue(1_000_000, MAX_QUEUE_BLOCKS * block, block);
        assert_eq!(fee_cap_for_queue(1_000_000, 100 * block, block), deepest, "bounded");
        assert!((6_500_000..6_700_000).contains(&deepest), "{deepest}");
        assert_eq!(fee_cap_for_queue(800, block, 0), 800, "no block seen yet");
    }

    #[test]
    fn a_recent_value_serves_while_fresh_and_keeps_the_newest() {
        let recent = Recent::default();
        recent.keep_unless(5u64, |kept, new| kept > new);
        recent.keep_unless(3, |kept, new| kept > new);
        assert_eq!(recent.within(Duration::from_secs(60)), Some(5));
        assert_eq!(recent.within(Duration::ZERO), None);
        assert_eq!(recent.last(), Some(5));
        recent.set(3);
        assert_eq!(recent.last(), Some(3));
    }

    #[test]
    fn other_events_and_undecodable_logs_are_skipped() {
        let claimed =
            IDeliberationMarket::JobClaimed { jobId: U256::from(1), keeper: Address::ZERO };
        assert_eq!(MarketEvent::from_log(&log(claimed.encode_log_data(), 1)), None);
        let garbage = LogData::new_unchecked(vec![JobRequested::SIGNATURE_HASH], Bytes::new());
        assert_eq!(MarketEvent::from_log(&log(garbage, 1)), None);
    }
}
