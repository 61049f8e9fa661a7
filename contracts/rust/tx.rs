//! Talking to the chain: one way to send a transaction and wait for it, and one error type that
//! keeps alloy's error as its [`source`](std::error::Error::source) and decodes reverts.
//!
//! Every transaction goes through [`send_call`] (a `sol!` contract call) or [`send_tx`] (a raw
//! request, e.g. a deployment): send, wait for the receipt, check its status. A service that must
//! see its transactions mined however busy the chain is sends with [`submit_call`] and waits with
//! [`land`], which replaces a transaction not mined in time with higher fees ([`LandPolicy`]). A read or any other
//! JSON-RPC request adds the operation it was part of with [`TxContext::during`]:
//!
//! ```no_run
//! # async fn f(provider: alloy::providers::DynProvider) -> nsed_contracts::tx::TxResult<()> {
//! use alloy::providers::Provider;
//! use nsed_contracts::tx::TxContext;
//! let head = provider.get_block_number().await.during("eth_blockNumber")?;
//! # let _ = head; Ok(()) }
//! ```
//!
//! A contract that reverts with a custom error reports it in the node's answer to the gas
//! estimate or call; [`TxError::decoded`] turns it into the contract's typed `sol!` error enum and
//! [`TxError::revert`] names it from the suite's ABIs, whatever contract raised it.

mod land;

use std::sync::OnceLock;

use alloy::{
    contract::{CallBuilder, CallDecoder},
    dyn_abi::{DynSolValue, ErrorExt},
    json_abi::JsonAbi,
    network::{Network, ReceiptResponse},
    primitives::{B256, Bytes, Selector},
    providers::{PendingTransactionBuilder, PendingTransactionError, Provider},
    sol_types::{Panic, Revert, SolError, SolInterface},
    transports::TransportError,
};

pub use land::{LandPolicy, land};

/// Results of chain operations.
pub type TxResult<T> = Result<T, TxError>;

/// A chain operation that failed, with what was being done.
///
/// `Display` and `Error` are written out rather than derived so that `source()` is alloy's error
/// itself, not the `Box` that keeps this enum small.
#[derive(Debug)]
pub enum TxError {
    /// A JSON-RPC request failed: unreachable node, an error answer, or a malformed one.
    Rpc {
        /// What was being done, e.g. `eth_getLogs 10..=20`.
        operation: String,
        /// alloy's error (boxed: it is large and errors are the cold path).
        source: Box<TransportError>,
    },
    /// A contract call or transaction was refused before it was mined: the call or the gas
    /// estimate reverted ([`TxError::decoded`], [`TxError::revert`]), or the node failed.
    Call {
        /// What was being done, e.g. `claimJob(3)`.
        operation: String,
        /// alloy's error (boxed: it is large and errors are the cold path).
        source: Box<alloy::contract::Error>,
    },
    /// A transaction was sent but its receipt could not be obtained.
    Receipt {
        /// What was being done.
        operation: String,
        /// alloy's error (boxed: it is large and errors are the cold path).
        source: Box<PendingTransactionError>,
    },
    /// A transaction was mined but reverted.
    Reverted {
        /// What was being done.
        operation: String,
        /// The transaction.
        tx: B256,
    },
    /// The node answered without something it must have.
    Missing {
        /// What was being done.
        operation: String,
        /// What was absent, e.g. `the block` or `a contract address`.
        missing: &'static str,
    },
    /// No version of a transaction was mined, the last replacement's wait included
    /// ([`land`]).
    NotMined {
        /// What was being done.
        operation: String,
        /// The transaction's nonce, when the node told it.
        nonce: Option<u64>,
        /// Every version sent, the original first.
        sent: Vec<B256>,
    },
    /// The contract's state, read before sending, says it would refuse the call: nothing was
    /// sent.
    Refused {
        /// What was being done.
        operation: String,
        /// What the contract would refuse, e.g. `the job's deadline 120 has passed`.
        reason: String,
    },
    /// A transaction other than the ones sent was mined with their nonce ([`land`]).
    NonceTaken {
        /// What was being done.
        operation: String,
        /// The nonce, when the node told it.
        nonce: Option<u64>,
        /// Every version sent, the original first.
        sent: Vec<B256>,
    },
}

impl std::fmt::Display for TxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rpc { operation, source } => write!(f, "{operation}: {source}"),
            Self::Call { operation, source } => write!(f, "{operation}: {source}"),
            Self::Receipt { operation, source } => {
                write!(f, "{operation}: waiting for the receipt: {source}")
            }
            Self::Reverted { operation, tx } => {
                write!(f, "{operation} reverted in transaction {tx}")
            }
            Self::Missing { operation, missing } => {
                write!(f, "{operation}: the node answered without {missing}")
            }
            Self::Refused { operation, reason } => {
                write!(f, "{operation}: not sent, the contract would refuse it: {reason}")
            }
            Self::NotMined { operation, nonce, sent } => {
                write!(f, "{operation}: not mined after {} versions", sent.len())?;
                write_nonce_and_last(f, *nonce, sent)
            }
            Self::NonceTaken { operation, nonce, sent } => {
                write!(f, "{operation}: another transaction was mined with the nonce")?;
                write_nonce_and_last(f, *nonce, sent)
            }
        }
    }
}

fn write_nonce_and_last(
    f: &mut std::fmt::Formatter<'_>,
    nonce: Option<u64>,
    sent: &[B256],
) -> std::fmt::Result {
    if let Some(nonce) = nonce {
        write!(f, " (nonce {nonce})")?;
    }
    match sent.last() {
        Some(last) => write!(f, ", the last {last}"),
        None => Ok(()),
    }
}

impl std::error::Error for TxError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Rpc { source, .. } => Some(source.as_ref()),
            Self::Call { source, .. } => Some(source.as_ref()),
            Self::Receipt { source, .. } => Some(source.as_ref()),
            Self::Reverted { .. }
            | Self::Missing { .. }
            | Self::Refused { .. }
            | Self::NotMined { .. }
            | Self::NonceTaken { .. } => None,
        }
    }
}

impl TxError {
    /// The operation that failed.
    pub fn operation(&self) -> &str {
        match self {
            Self::Rpc { operation, .. }
            | Self::Call { operation, .. }
            | Self::Receipt { operation, .. }
            | Self::Reverted { operation, .. }
            | Self::Missing { operation, .. }
            | Self::Refused { operation, .. }
            | Self::NotMined { operation, .. }
            | Self::NonceTaken { operation, .. } => operation,
        }
    }

    /// The revert data the node reported, if the operation reverted before it was mined.
    pub fn revert_data(&self) -> Option<Bytes> {
        match self {
            Self::Rpc { source, .. } => source.as_error_resp().and_then(|e| e.as_revert_data()),
            Self::Call { source, .. } => source.as_revert_data(),
            _ => None,
        }
    }

    /// The revert as one of the custom errors of `E` (a `sol!` `<Contract>Errors` enum), if it
    /// was one of them.
    ///
    /// ```no_run
    /// # use alloy::{primitives::U256, providers::DynProvider};
    /// use nsed_contracts::{
    ///     deliberation_market::DeliberationMarket::{
    ///         DeliberationMarketErrors as Errors, DeliberationMarketInstance,
    ///     },
    ///     tx,
    /// };
    /// # async fn f(market: DeliberationMarketInstance<DynProvider>) {
    /// let Err(err) = tx::send_call("claimJob(1)", market.claimJob(U256::from(1))).await else {
    ///     return;
    /// };
    /// if let Some(Errors::DeliberationMarketUnexpectedJobStatus(e)) = err.decoded::<Errors>() {
    ///     println!("job {} is {}", e.jobId, e.current);
    /// }
    /// # }
    /// ```
    pub fn decoded<E: SolInterface>(&self) -> Option<E> {
        self.revert_data().and_then(|data| E::abi_decode(&data).ok())
    }

    /// The revert named from the suite's ABIs (every custom error of every contract, inherited
    /// OpenZeppelin errors included) or Solidity's `Error(string)` and `Panic(uint256)`.
    pub fn revert(&self) -> Option<DecodedRevert> {
        self.revert_data().and_then(|data| decode_revert(&data))
    }
}

/// A decoded revert: the error's name and arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedRevert {
    /// The error's name, e.g. `DeliberationMarketUnexpectedJobStatus`.
    pub name: String,
    /// Its arguments, in order.
    pub args: Vec<DynSolValue>,
}

impl std::fmt::Display for DecodedRevert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}(", self.name)?;
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write_value(f, arg)?;
        }
        f.write_str(")")
    }
}

fn write_value(f: &mut std::fmt::Formatter<'_>, value: &DynSolValue) -> std::fmt::Result {
    match value {
        DynSolValue::Bool(v) => write!(f, "{v}"),
        DynSolValue::Int(v, _) => write!(f, "{v}"),
        DynSolValue::Uint(v, _) => write!(f, "{v}"),
        DynSolValue::Address(v) => write!(f, "{v}"),
        DynSolValue::FixedBytes(v, size) => write!(f, "{}", Bytes::copy_from_slice(&v[..*size])),
        DynSolValue::Bytes(v) => write!(f, "{}", Bytes::copy_from_slice(v)),
        DynSolValue::String(v) => write!(f, "{v:?}"),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) | DynSolValue::Tuple(items) => {
            f.write_str("[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_value(f, item)?;
            }
            f.write_str("]")
        }
        other => write!(f, "{other:?}"),
    }
}

/// Names `data` as a revert of the suite: a custom error of any contract's ABI, `Error(string)`
/// or `Panic(uint256)`. `None` when no ABI of the suite knows the selector or the data does not
/// decode as that error.
pub fn decode_revert(data: &[u8]) -> Option<DecodedRevert> {
    let selector = Selector::try_from(data.get(..4)?).ok()?;
    if selector == Revert::SELECTOR {
        let reason = Revert::abi_decode(data).ok()?.reason;
        return Some(DecodedRevert { name: "Error".into(), args: vec![reason.into()] });
    }
    if selector == Panic::SELECTOR {
        let code = Panic::abi_decode(data).ok()?.code;
        return Some(DecodedRevert { name: "Panic".into(), args: vec![code.into()] });
    }
    suite_abis().iter().flat_map(JsonAbi::errors).find(|e| e.selector() == selector).and_then(
        |error| {
            let decoded = error.decode_error(data).ok()?;
            Some(DecodedRevert { name: error.name.clone(), args: decoded.body })
        },
    )
}

fn suite_abis() -> &'static [JsonAbi] {
    static ABIS: OnceLock<Vec<JsonAbi>> = OnceLock::new();
    ABIS.get_or_init(|| crate::ARTIFACTS.iter().filter_map(|a| a.abi().ok()).collect())
}

/// Adds the operation to a failed JSON-RPC request or contract call.
pub trait TxContext<T> {
    /// This result, its error wrapped in a [`TxError`] saying it happened during `operation`.
    ///
    /// # Errors
    ///
    /// The wrapped error.
    fn during(self, operation: impl Into<String>) -> TxResult<T>;
}

impl<T> TxContext<T> for Result<T, TransportError> {
    fn during(self, operation: impl Into<String>) -> TxResult<T> {
        self.map_err(|source| TxError::Rpc {
            operation: operation.into(),
            source: Box::new(source),
        })
    }
}

impl<T> TxContext<T> for Result<T, alloy::contract::Error> {
    fn during(self, operation: impl Into<String>) -> TxResult<T> {
        self.map_err(|source| TxError::Call {
            operation: operation.into(),
            source: Box::new(source),
        })
    }
}

/// Sends a `sol!` contract call, waits for its receipt and checks it succeeded.
///
/// # Errors
///
/// [`TxError::Call`] when the node refuses it (a revert during gas estimation included),
/// [`TxError::Receipt`] when the receipt does not come, [`TxError::Reverted`] when it was mined
/// but reverted.
pub async fn send_call<P, D, N>(
    operation: impl Into<String>,
    call: CallBuilder<P, D, N>,
) -> TxResult<N::ReceiptResponse>
where
    P: Provider<N>,
    D: CallDecoder,
    N: Network,
{
    let operation = operation.into();
    match call.send().await {
        Ok(pending) => confirm(operation, pending).await,
        Err(source) => Err(TxError::Call { operation, source: Box::new(source) }),
    }
}

/// Sends a contract call and returns once the node has accepted it, without waiting for the
/// receipt ([`confirm`] does that). An account sending from several tasks at once holds a lock
/// around this call only: the next transaction's nonce then counts this one, while the waits for
/// receipts overlap.
///
/// # Errors
///
/// [`TxError::Call`] when the call or its gas estimate reverts or the node refuses it.
pub async fn submit_call<P, D, N>(
    operation: &str,
    call: CallBuilder<P, D, N>,
) -> TxResult<PendingTransactionBuilder<N>>
where
    P: Provider<N>,
    D: CallDecoder,
    N: Network,
{
    call.send()
        .await
        .map_err(|source| TxError::Call { operation: operation.into(), source: Box::new(source) })
}

/// Sends a transaction request, waits for its receipt and checks it succeeded.
///
/// # Errors
///
/// [`TxError::Rpc`] when the node refuses it, [`TxError::Receipt`] when the receipt does not
/// come, [`TxError::Reverted`] when it was mined but reverted.
pub async fn send_tx<P, N>(
    provider: &P,
    operation: impl Into<String>,
    tx: N::TransactionRequest,
) -> TxResult<N::ReceiptResponse>
where
    P: Provider<N>,
    N: Network,
{
    let operation = operation.into();
    match provider.send_transaction(tx).await {
        Ok(pending) => confirm(operation, pending).await,
        Err(source) => Err(TxError::Rpc { operation, source: Box::new(source) }),
    }
}

/// Waits for a sent transaction's receipt and checks it succeeded.
///
/// # Errors
///
/// [`TxError::Receipt`] when the receipt does not come, [`TxError::Reverted`] when the
/// transaction was mined but reverted.
pub async fn confirm<N: Network>(
    operation: String,
    pending: PendingTransactionBuilder<N>,
) -> TxResult<N::ReceiptResponse> {
    let receipt = match pending.get_receipt().await {
        Ok(receipt) => receipt,
        Err(source) => return Err(TxError::Receipt { operation, source: Box::new(source) }),
    };
    if !receipt.status() {
        return Err(TxError::Reverted { operation, tx: receipt.transaction_hash() });
    }
    Ok(receipt)
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{U256, address};

    use super::*;
    use crate::deliberation_market::DeliberationMarket;

    #[test]
    fn custom_errors_of_the_suite_are_named_with_their_arguments() {
        let data = DeliberationMarket::DeliberationMarketUnexpectedJobStatus {
            jobId: U256::from(7),
            current: 2,
        }
        .abi_encode();
        let revert = decode_revert(&data).unwrap();
        assert_eq!(revert.name, "DeliberationMarketUnexpectedJobStatus");
        assert_eq!(revert.args, vec![DynSolValue::Uint(U256::from(7), 256), 2u8.into()]);
        assert_eq!(revert.to_string(), "DeliberationMarketUnexpectedJobStatus(7, 2)");
    }

    #[test]
    fn inherited_openzeppelin_errors_are_named() {
        let account = address!("0x00000000000000000000000000000000000000aa");
        let data = DeliberationMarket::AccessControlUnauthorizedAccount {
            account,
            neededRole: B256::ZERO,
        }
        .abi_encode();
        assert_eq!(decode_revert(&data).unwrap().name, "AccessControlUnauthorizedAccount");
    }

    #[test]
    fn solidity_reverts_and_panics_are_named() {
        let data = Revert::from("nope").abi_encode();
        assert_eq!(decode_revert(&data).unwrap().to_string(), "Error(\"nope\")");
        let data = Panic { code: U256::from(0x11) }.abi_encode();
        assert_eq!(decode_revert(&data).unwrap().to_string(), "Panic(17)");
    }

    /// A node's answer to a reverting `eth_estimateGas`/`eth_call`: code 3 and the revert data.
    fn reverted(data: &[u8]) -> TransportError {
        let payload = serde_json::json!({
            "code": 3,
            "message": "execution reverted",
            "data": Bytes::copy_from_slice(data),
        });
        alloy::transports::RpcError::ErrorResp(serde_json::from_value(payload).unwrap())
    }

    #[test]
    fn failures_keep_alloys_error_as_their_source() {
        let failed: Result<(), TransportError> =
            Err(alloy::transports::TransportErrorKind::custom_str("connection refused"));
        let err = failed.during("eth_blockNumber").unwrap_err();
        assert_eq!(err.operation(), "eth_blockNumber");
        let source = std::error::Error::source(&err).unwrap();
        assert!(source.downcast_ref::<TransportError>().is_some(), "{source:?}");
        assert_eq!(err.revert_data(), None);
    }

    #[test]
    fn reverts_decode_into_the_contracts_error_enum_and_by_name() {
        let data =
            DeliberationMarket::DeliberationMarketJobExpired { jobId: U256::from(3), deadline: 99 }
                .abi_encode();
        let failed: Result<(), TransportError> = Err(reverted(&data));
        let err = failed.during("claimJob(3)").unwrap_err();
        assert!(matches!(
            err.decoded::<DeliberationMarket::DeliberationMarketErrors>(),
            Some(DeliberationMarket::DeliberationMarketErrors::DeliberationMarketJobExpired(e))
                if e.jobId == U256::from(3) && e.deadline == 99
        ));
        assert_eq!(err.revert().unwrap().to_string(), "DeliberationMarketJobExpired(3, 99)");
        let call: Result<(), alloy::contract::Error> = Err(reverted(&data).into());
        assert_eq!(call.during("claimJob(3)").unwrap_err().revert_data(), Some(data.into()));
    }

    #[test]
    fn unknown_selectors_and_short_data_decode_to_nothing() {
        assert_eq!(decode_revert(&[0xde, 0xad, 0xbe, 0xef]), None);
        assert_eq!(decode_revert(&[0x01]), None);
    }
}
