//! What the keeper reads from and writes to the chain: market events in bounded windows, job
//! status, claims and settlements.

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use nsed_contracts::i_deliberation_market::IDeliberationMarket::{
    self, AgentDeactivated, AgentRegistered, JobRequested, Transcript,
};

use crate::store::JobSpec;

/// Errors talking to the chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// A JSON-RPC call failed or returned something unusable.
    #[error("{operation}: {reason}")]
    Rpc {
        /// What was being done.
        operation: String,
        /// The error.
        reason: String,
    },
    /// A transaction was mined but reverted.
    #[error("{operation} reverted in transaction {tx}")]
    Reverted {
        /// What was being done.
        operation: String,
        /// The transaction.
        tx: B256,
    },
}

fn rpc_err(operation: impl Into<String>, err: impl std::fmt::Display) -> ChainError {
    ChainError::Rpc { operation: operation.into(), reason: err.to_string() }
}

/// `IDeliberationMarket.JobStatus` (the ABI carries it as a `uint8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// No such job.
    None,
    /// Requested, not claimed.
    Requested,
    /// Claimed by a keeper.
    Claimed,
    /// Settled.
    Settled,
    /// Refunded.
    Refunded,
    /// A value this keeper does not know (a newer market).
    Unknown(u8),
}

impl From<u8> for JobStatus {
    fn from(value: u8) -> Self {
        match value {
            0 => Self::None,
            1 => Self::Requested,
            2 => Self::Claimed,
            3 => Self::Settled,
            4 => Self::Refunded,
            other => Self::Unknown(other),
        }
    }
}

/// A market event the keeper acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketEvent {
    /// A new job.
    Requested(JobSpec),
    /// An agent became available.
    AgentRegistered(Address),
    /// An agent left.
    AgentDeactivated(Address),
}

/// The market contract as the keeper uses it.
#[derive(Debug, Clone)]
pub struct Market<P> {
    provider: P,
    address: Address,
}

impl<P: Provider + Clone> Market<P> {
    /// The market at `address`.
    pub const fn new(provider: P, address: Address) -> Self {
        Self { provider, address }
    }

    /// The market's address.
    pub const fn address(&self) -> Address {
        self.address
    }

    /// The provider.
    pub const fn provider(&self) -> &P {
        &self.provider
    }

    /// The latest block number.
    ///
    /// # Errors
    ///
    /// [`ChainError::Rpc`].
    pub async fn head(&self) -> Result<u64, ChainError> {
        self.provider.get_block_number().await.map_err(|e| rpc_err("eth_blockNumber", e))
    }

    /// The hash of block `number`.
    ///
    /// # Errors
    ///
    /// [`ChainError::Rpc`], also when the node does not have the block.
    pub async fn block_hash(&self, number: u64) -> Result<B256, ChainError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(|e| rpc_err(format!("eth_getBlockByNumber {number}"), e))?
            .ok_or_else(|| rpc_err(format!("eth_getBlockByNumber {number}"), "no such block"))?;
        Ok(block.header.hash)
    }

    /// Market events in blocks `from..=to`, in chain order. Logs that do not decode are skipped
    /// (they cannot come from this market's ABI) rather than stopping the keeper.
    ///
    /// # Errors
    ///
    /// [`ChainError::Rpc`].
    pub async fn events(&self, from: u64, to: u64) -> Result<Vec<MarketEvent>, ChainError> {
        let filter =
            Filter::new().address(self.address).from_block(from).to_block(to).event_signature(
                vec![
                    JobRequested::SIGNATURE_HASH,
                    AgentRegistered::SIGNATURE_HASH,
                    AgentDeactivated::SIGNATURE_HASH,
                ],
            );
        let logs = self
            .provider
            .get_logs(&filter)
            .await
            .map_err(|e| rpc_err(format!("eth_getLogs {from}..={to}"), e))?;
        let mut events = Vec::new();
        for log in logs {
            let block = log.block_number.unwrap_or_default();
            let Some(topic) = log.topic0().copied() else { continue };
            let event = if topic == JobRequested::SIGNATURE_HASH {
                JobRequested::decode_log(&log.inner).ok().map(|e| {
                    MarketEvent::Requested(JobSpec {
                        job_id: e.jobId,
                        kind: e.kind.clone(),
                        input: e.input.to_vec(),
                        agents_wanted: e.agentsWanted,
                        max_rounds: e.maxRounds,
                        credits: e.credits,
                        deadline: e.deadline,
                        block,
                    })
                })
            } else if topic == AgentRegistered::SIGNATURE_HASH {
                AgentRegistered::decode_log(&log.inner)
                    .ok()
                    .map(|e| MarketEvent::AgentRegistered(e.agent))
            } else {
                AgentDeactivated::decode_log(&log.inner)
                    .ok()
                    .map(|e| MarketEvent::AgentDeactivated(e.agent))
            };
            if let Some(event) = event {
                events.push(event);
            }
        }
        Ok(events)
    }

    /// The job's status on chain.
    ///
    /// # Errors
    ///
    /// [`ChainError::Rpc`].
    pub async fn status(&self, job_id: U256) -> Result<JobStatus, ChainError> {
        IDeliberationMarket::new(self.address, &self.provider)
            .jobStatus(job_id)
            .call()
            .await
            .map(JobStatus::from)
            .map_err(|e| rpc_err(format!("jobStatus({job_id})"), e))
    }

    /// Claims the job.
    ///
    /// # Errors
    ///
    /// [`ChainError`] if the transaction fails or reverts.
    pub async fn claim(&self, job_id: U256) -> Result<B256, ChainError> {
        let market = IDeliberationMarket::new(self.address, &self.provider);
        confirm(format!("claimJob({job_id})"), market.claimJob(job_id).send().await).await
    }

    /// Settles the job with `transcript`.
    ///
    /// # Errors
    ///
    /// [`ChainError`] if the transaction fails or reverts.
    pub async fn settle(&self, job_id: U256, transcript: Transcript) -> Result<B256, ChainError> {
        let market = IDeliberationMarket::new(self.address, &self.provider);
        confirm(format!("settleJob({job_id})"), market.settleJob(job_id, transcript).send().await)
            .await
    }

    /// The chain's current time (latest block timestamp), in seconds.
    ///
    /// # Errors
    ///
    /// [`ChainError::Rpc`].
    pub async fn now(&self) -> Result<u64, ChainError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(|e| rpc_err("eth_getBlockByNumber latest", e))?
            .ok_or_else(|| rpc_err("eth_getBlockByNumber latest", "no latest block"))?;
        Ok(block.header.timestamp)
    }
}

/// Waits for a sent transaction's receipt and turns a revert into [`ChainError::Reverted`].
async fn confirm<N: alloy::network::Network>(
    operation: String,
    sent: Result<alloy::providers::PendingTransactionBuilder<N>, alloy::contract::Error>,
) -> Result<B256, ChainError> {
    let receipt = sent
        .map_err(|e| rpc_err(&operation, e))?
        .get_receipt()
        .await
        .map_err(|e| rpc_err(&operation, e))?;
    let tx = alloy::network::ReceiptResponse::transaction_hash(&receipt);
    if !alloy::network::ReceiptResponse::status(&receipt) {
        return Err(ChainError::Reverted { operation, tx });
    }
    Ok(tx)
}
