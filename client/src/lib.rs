//! What a requester wallet does with a deployed NSED suite.
//!
//! A [`Requester`] is one funded account and the deployment record it talks to. It requests
//! deliberation jobs the way any wallet would (mint test bounty tokens from the token's owner,
//! approve the market, `requestJob`: [`Requester::fund`], [`Requester::request_job`]), waits for
//! their `JobSettled` events ([`Requester::wait_settled`]), reads a settlement's rounds back from
//! the chain ([`Requester::settled_rounds`]), and follows the money: the guild fees delivered to
//! the escrow, their release once the challenge window is over on a dev chain, and the Liquid
//! Access Tokens the winning agents earned ([`Requester::economy`]).
//!
//! An [`AgentOwner`] registers agents in the agent registry with the agent key's consent and a
//! bond, manages the bond, and reads where an agent stands ([`AgentStatus`]).
//!
//! `nsed up` and the end-to-end tests use it; `scripts/cast-e2e.sh` does the same with `cast`.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod agent;
mod error;

use std::time::{Duration, Instant};

pub use agent::{AgentOwner, AgentStatus};
use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, I256, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::{SolCall, SolEvent},
};
pub use error::{ClientError, ClientResult};
use nsed_contracts::{
    bounty_token::BountyToken,
    deliberation_market::DeliberationMarket,
    i_deliberation_market::IDeliberationMarket::{
        self, JobRequested, JobSettled, JobSpec, RoundTallied, settleJobCall,
    },
    liquid_access_token::LiquidAccessToken,
    tripartite_escrow::TripartiteEscrow,
    tx::{self, TxContext, TxError},
};
use nsed_deploy::{BOUNTY_TOKEN, Deployment, ESCROW, LAT, MARKET, TIMELOCK};
use tracing::debug;

/// One bounty token (18 decimals).
pub const ONE_TOKEN: U256 = U256::from_limbs([1_000_000_000_000_000_000, 0, 0, 0]);

/// How often [`Requester::wait_settled`] looks for new settlements.
const POLL: Duration = Duration::from_millis(200);

/// A job to request: what to deliberate and on what terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRequest {
    /// Task kind, e.g. `tensor-f32` or `text-choice`.
    pub kind: String,
    /// The task's input (JSON bytes for the built-in kinds).
    pub input: Vec<u8>,
    /// Agents to seat.
    pub agents_wanted: u8,
    /// Most deliberation rounds.
    pub max_rounds: u8,
    /// Voice credits per agent and round.
    pub credits: u64,
    /// Seconds from the latest block to the job's deadline.
    pub deadline_secs: u64,
    /// Bounty in token units (18 decimals).
    pub bounty: U256,
}

impl JobRequest {
    /// A job of `kind` on `input` with the demo's terms: 3 agents, at most 3 rounds, 100 credits,
    /// an hour to the deadline, one token of bounty.
    pub fn new(kind: impl Into<String>, input: Vec<u8>) -> Self {
        Self {
            kind: kind.into(),
            input,
            agents_wanted: 3,
            max_rounds: 3,
            credits: 100,
            deadline_secs: 3600,
            bounty: ONE_TOKEN,
        }
    }
}

/// A job's settlement and when the wait saw it.
#[derive(Debug, Clone)]
pub struct Settled {
    /// The market's `JobSettled` event.
    pub event: JobSettled,
    /// Time from the start of the wait until the settlement was seen.
    pub after: Duration,
}

/// One round of a settled job as the chain recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledRound {
    /// The seated agents, by seat.
    pub agents: Vec<Address>,
    /// Each seat's proposal (empty when the agent proposed nothing).
    pub contents: Vec<String>,
    /// Each seat's net quadratic-vote support (from the round's `RoundTallied` event).
    pub scores: Vec<I256>,
}

/// Where the money and the access tokens went after a set of jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Economy {
    /// The guild's timelock (its treasury).
    pub timelock: Address,
    /// Guild fees the timelock received from released escrow deals, or `None` when nothing was
    /// released (they wait in escrow until the challenge window is over).
    pub guild_fees: Option<U256>,
    /// Guild fees the jobs' escrow deals owe the timelock.
    pub guild_fees_delivered: U256,
    /// Per agent, its market access tokens by tier (index 0 is tier 1).
    pub lats: Vec<(Address, Vec<U256>)>,
}

/// A requester wallet: an account (signing through `provider`) and the suite it uses.
#[derive(Debug, Clone)]
pub struct Requester<P> {
    provider: P,
    account: Address,
    record: Deployment,
    market: Address,
    token: Address,
}

impl<P: Provider> Requester<P> {
    /// The requester `account`, whose key signs for `provider`, on the suite of `record`.
    ///
    /// # Errors
    ///
    /// [`ClientError::Deployment`] when the record lacks the market or the bounty token.
    pub fn new(provider: P, account: Address, record: Deployment) -> ClientResult<Self> {
        let market = record.address(MARKET)?;
        let token = record.address(BOUNTY_TOKEN)?;
        Ok(Self { provider, account, record, market, token })
    }

    /// The provider that signs for the requester.
    pub const fn provider(&self) -> &P {
        &self.provider
    }

    /// The requester's account.
    pub const fn account(&self) -> Address {
        self.account
    }

    /// The market's address.
    pub const fn market(&self) -> Address {
        self.market
    }

    /// Mints `amount` bounty tokens to the requester from `minter` (the token's owner; test
    /// tokens) and approves the market to take them.
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when a transaction fails.
    pub async fn fund<M: Provider>(&self, minter: &M, amount: U256) -> ClientResult<()> {
        let token = BountyToken::new(self.token, minter);
        tx::send_call("mint", token.mint(self.account, amount)).await?;
        let token = BountyToken::new(self.token, &self.provider);
        tx::send_call("approve", token.approve(self.market, amount)).await?;
        Ok(())
    }

    /// Requests `job` (`requestJob`, the bounty already approved) and returns its id.
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when the chain cannot be read or the request fails,
    /// [`ClientError::NoJobRequested`] when the mined request announced no job.
    pub async fn request_job(&self, job: &JobRequest) -> ClientResult<U256> {
        let operation = "eth_getBlockByNumber latest";
        let now = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .during(operation)?
            .ok_or_else(|| TxError::Missing { operation: operation.into(), missing: "the block" })?
            .header
            .timestamp;
        let spec = JobSpec {
            kind: job.kind.clone(),
            input: job.input.clone().into(),
            agentsWanted: job.agents_wanted,
            maxRounds: job.max_rounds,
            credits: job.credits,
            deadline: now + job.deadline_secs,
        };
        let market = IDeliberationMarket::new(self.market, &self.provider);
        let receipt = tx::send_call("requestJob", market.requestJob(spec, job.bounty)).await?;
        let job_id = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| JobRequested::decode_log(&log.inner).ok())
            .map(|e| e.jobId)
            .ok_or(ClientError::NoJobRequested { tx: receipt.transaction_hash })?;
        debug!(target: "client::request", %job_id, tx = %receipt.transaction_hash, "job requested");
        Ok(job_id)
    }

    /// Every `JobSettled` event of the market since the deployment, in chain order.
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when the logs cannot be read.
    pub async fn settlements(&self) -> ClientResult<Vec<JobSettled>> {
        let filter = Filter::new()
            .address(self.market)
            .from_block(self.record.start_block)
            .event_signature(JobSettled::SIGNATURE_HASH);
        let logs = self.provider.get_logs(&filter).await.during("eth_getLogs JobSettled")?;
        Ok(logs
            .iter()
            .filter_map(|log| JobSettled::decode_log(&log.inner).ok())
            .map(|e| e.data)
            .collect())
    }

    /// Every settlement of `job` (a job settles once; a second one would be a bug).
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when the logs cannot be read.
    pub async fn settlements_of(&self, job: U256) -> ClientResult<Vec<JobSettled>> {
        Ok(self.settlements().await?.into_iter().filter(|e| e.jobId == job).collect())
    }

    /// Waits until every job of `jobs` has settled, at most `timeout`; returns their settlements
    /// in the order of `jobs`. `progress` sees what has settled so far after every look.
    ///
    /// # Errors
    ///
    /// [`ClientError::NotSettled`] when the time is up, [`ClientError::Tx`] when the logs cannot
    /// be read.
    pub async fn wait_settled(
        &self,
        jobs: &[U256],
        timeout: Duration,
        mut progress: impl FnMut(&[Option<Settled>]),
    ) -> ClientResult<Vec<Settled>> {
        let started = Instant::now();
        let mut found: Vec<Option<Settled>> = vec![None; jobs.len()];
        loop {
            for event in self.settlements().await? {
                if let Some(i) = jobs.iter().position(|job| *job == event.jobId)
                    && found[i].is_none()
                {
                    found[i] = Some(Settled { event, after: started.elapsed() });
                }
            }
            progress(&found);
            if found.iter().all(Option::is_some) {
                return Ok(found.into_iter().flatten().collect());
            }
            if started.elapsed() > timeout {
                let pending =
                    jobs.iter().zip(&found).filter(|(_, s)| s.is_none()).map(|(j, _)| *j).collect();
                return Err(ClientError::NotSettled { pending, timeout });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The rounds of `job`'s settlement: proposals from the `settleJob` transaction's transcript,
    /// scores from its `RoundTallied` events.
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when the chain cannot be read, [`ClientError::Settlement`] when the job
    /// has no settlement or its transaction is not a `settleJob` call.
    pub async fn settled_rounds(&self, job: U256) -> ClientResult<Vec<SettledRound>> {
        let unreadable = |reason| ClientError::Settlement { job, reason };
        let filter = Filter::new()
            .address(self.market)
            .from_block(self.record.start_block)
            .event_signature(JobSettled::SIGNATURE_HASH)
            .topic1(job);
        let log = self
            .provider
            .get_logs(&filter)
            .await
            .during("eth_getLogs JobSettled")?
            .into_iter()
            .next()
            .ok_or_else(|| unreadable("no JobSettled event"))?;
        let tx_hash =
            log.transaction_hash.ok_or_else(|| unreadable("its log has no transaction"))?;
        let tx = self
            .provider
            .get_transaction_by_hash(tx_hash)
            .await
            .during(format!("eth_getTransactionByHash {tx_hash}"))?
            .ok_or_else(|| unreadable("its transaction is unknown to the node"))?;
        let call =
            settleJobCall::abi_decode(alloy::consensus::Transaction::input(tx.inner.inner()))
                .map_err(|_| unreadable("its transaction is not a settleJob call"))?;
        let filter = Filter::new()
            .address(self.market)
            .from_block(self.record.start_block)
            .event_signature(RoundTallied::SIGNATURE_HASH)
            .topic1(job);
        let tallies = self.provider.get_logs(&filter).await.during("eth_getLogs RoundTallied")?;
        let mut scores: Vec<(u32, Vec<I256>)> = tallies
            .iter()
            .filter_map(|l| RoundTallied::decode_log(&l.inner).ok())
            .map(|e| (e.round, e.scores.clone()))
            .collect();
        scores.sort_by_key(|(round, _)| *round);
        Ok(call
            .transcript
            .rounds
            .iter()
            .enumerate()
            .map(|(i, r)| SettledRound {
                agents: call.transcript.agents.clone(),
                contents: r.contents.clone(),
                scores: scores.get(i).map(|(_, s)| s.clone()).unwrap_or_default(),
            })
            .collect())
    }

    /// Guild fees the escrow deals of `jobs` owe the guild timelock.
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when the market or escrow cannot be read.
    pub async fn guild_fees_delivered(&self, jobs: &[U256]) -> ClientResult<U256> {
        let timelock = self.record.address(TIMELOCK)?;
        let escrow = TripartiteEscrow::new(self.record.address(ESCROW)?, &self.provider);
        let mut delivered = U256::ZERO;
        for deal in self.escrow_deals(jobs).await? {
            let deal = escrow.deal(deal).call().await.during(format!("deal({deal})"))?;
            for (to, amount) in deal.recipients.iter().zip(&deal.amounts) {
                if *to == timelock {
                    delivered += *amount;
                }
            }
        }
        Ok(delivered)
    }

    /// On a dev chain (anvil): waits out the market's challenge window (`evm_increaseTime`,
    /// `evm_mine`) and releases the escrow deal of every job of `jobs`, as anyone may. Returns
    /// what the guild timelock received.
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when the node refuses the dev methods or a release fails.
    pub async fn release_escrows(&self, jobs: &[U256]) -> ClientResult<U256> {
        let timelock = self.record.address(TIMELOCK)?;
        let market = DeliberationMarket::new(self.market, &self.provider);
        let escrow = TripartiteEscrow::new(self.record.address(ESCROW)?, &self.provider);
        let token = BountyToken::new(self.token, &self.provider);
        let deals = self.escrow_deals(jobs).await?;
        let window = market.challengeWindow().call().await.during("challengeWindow")?;
        self.provider
            .raw_request::<_, i64>("evm_increaseTime".into(), (window + 1,))
            .await
            .during("evm_increaseTime")?;
        self.provider.raw_request::<_, String>("evm_mine".into(), ()).await.during("evm_mine")?;
        let before = token.balanceOf(timelock).call().await.during("balanceOf(timelock)")?;
        for deal in deals {
            tx::send_call(format!("release({deal})"), escrow.release(deal)).await?;
        }
        let after = token.balanceOf(timelock).call().await.during("balanceOf(timelock)")?;
        Ok(after - before)
    }

    /// Each agent's market access tokens, by tier (index 0 is tier 1).
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when the market or the token cannot be read.
    pub async fn lats(&self, agents: &[Address]) -> ClientResult<Vec<(Address, Vec<U256>)>> {
        let market = DeliberationMarket::new(self.market, &self.provider);
        let lat = LiquidAccessToken::new(self.record.address(LAT)?, &self.provider);
        let asset = market.latAsset().call().await.during("latAsset")?;
        let mut lats = Vec::new();
        for agent in agents {
            // A win at market rank r earns tier max(r, 1), and a win raises the rank by at most
            // one, so no agent holds a tier above its current rank.
            let rank =
                market.agentRank(*agent).call().await.during(format!("agentRank({agent})"))?;
            let top = nsed_contracts::lat::tier_for_rank(rank);
            // One batch call reads every tier.
            let ids: Vec<U256> =
                (1..=top).map(|tier| nsed_contracts::lat::encode(asset, tier)).collect();
            let tiers = lat
                .balanceOfBatch(vec![*agent; ids.len()], ids)
                .call()
                .await
                .during(format!("balanceOfBatch({agent})"))?;
            lats.push((*agent, tiers));
        }
        Ok(lats)
    }

    /// The guild fees and access tokens after `jobs` settled, for the winning `agents`. With
    /// `release` (a dev chain only) the escrow deals are released first
    /// ([`Requester::release_escrows`]), so the fees reach the guild timelock.
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when the chain cannot be read or a release fails.
    pub async fn economy(
        &self,
        jobs: &[U256],
        agents: &[Address],
        release: bool,
    ) -> ClientResult<Economy> {
        let guild_fees_delivered = self.guild_fees_delivered(jobs).await?;
        let guild_fees = if release { Some(self.release_escrows(jobs).await?) } else { None };
        Ok(Economy {
            timelock: self.record.address(TIMELOCK)?,
            guild_fees,
            guild_fees_delivered,
            lats: self.lats(agents).await?,
        })
    }

    async fn escrow_deals(&self, jobs: &[U256]) -> ClientResult<Vec<U256>> {
        let market = DeliberationMarket::new(self.market, &self.provider);
        let mut deals = Vec::new();
        for job in jobs {
            deals.push(market.job(*job).call().await.during(format!("job({job})"))?.escrowId);
        }
        Ok(deals)
    }
}
