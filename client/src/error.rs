//! Errors of the requester's operations.

use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use nsed_contracts::tx::TxError;
use nsed_deploy::DeployError;

/// Results of the requester's operations.
pub type ClientResult<T> = Result<T, ClientError>;

/// A requester operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A JSON-RPC request, contract call or transaction failed (with what was being done).
    #[error(transparent)]
    Tx(#[from] TxError),
    /// The deployment record lacks a contract the requester needs.
    #[error(transparent)]
    Deployment(#[from] DeployError),
    /// A registration consent that is not the agent key's signature of this registration: it
    /// was signed for another owner, model, metadata URI, registry or chain, or by another key.
    #[error(
        "the consent is not agent {agent}'s signature of its registration by owner {owner} with \
         this model id and metadata URI in this registry"
    )]
    InvalidConsent {
        /// The agent that should have signed.
        agent: Address,
        /// The owner registering it.
        owner: Address,
    },
    /// A key could not sign (a broken key; never happens with local keys).
    #[error("cannot sign: {0}")]
    Signing(String),
    /// A mined `requestJob` emitted no `JobRequested` event.
    #[error("requestJob in transaction {tx} emitted no JobRequested event")]
    NoJobRequested {
        /// The transaction.
        tx: B256,
    },
    /// Jobs were still unsettled when the wait ended.
    #[error("jobs {pending:?} did not settle within {} s", timeout.as_secs())]
    NotSettled {
        /// The jobs without a settlement.
        pending: Vec<U256>,
        /// How long was waited.
        timeout: Duration,
    },
    /// A settlement's transaction is not what the market's `JobSettled` event says it is.
    #[error("the settlement of job {job} cannot be read back: {reason}")]
    Settlement {
        /// The job.
        job: U256,
        /// What was missing or malformed.
        reason: &'static str,
    },
}
