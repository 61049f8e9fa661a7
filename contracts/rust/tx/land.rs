//! Driving a sent transaction until it is mined: wait a while for its receipt, and if none comes,
//! replace it — same nonce, same call, same gas limit, higher fees — a bounded number of times.

use std::time::{Duration, Instant};

use alloy::{
    network::{Ethereum, ReceiptResponse},
    primitives::{Address, B256},
    providers::{PendingTransactionBuilder, PendingTransactionError, Provider, WatchTxError},
    rpc::types::{TransactionReceipt, TransactionRequest},
    transports::TransportError,
};
use tracing::{debug, info, warn};

use super::{TxError, TxResult};

/// The pause before asking an unreachable node again while waiting.
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// How often a transaction's receipt is asked for directly while the heartbeat has not seen it.
const RECHECK: Duration = Duration::from_secs(2);
/// The pause before asking again for the receipt of a transaction the heartbeat saw in a block
/// when the node had none yet.
const INDEXING_PAUSE: Duration = Duration::from_millis(20);

/// How [`land`] waits for a transaction and replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LandPolicy {
    /// How long each version of the transaction gets to be mined before it is replaced
    /// (default 30 s: two to three blocks on Ethereum).
    pub attempt_timeout: Duration,
    /// Most replacements sent after the original (default 5).
    pub max_replacements: u32,
    /// How much each replacement raises both fees, in percent of the previous version's (default
    /// 25; values under [`LandPolicy::MIN_FEE_BUMP_PERCENT`] are raised to it).
    pub fee_bump_percent: u32,
}

impl LandPolicy {
    /// The smallest fee bump geth and reth accept for a replacement (`txpool.pricebump`).
    pub const MIN_FEE_BUMP_PERCENT: u32 = 10;
}

impl Default for LandPolicy {
    fn default() -> Self {
        Self { attempt_timeout: Duration::from_secs(30), max_replacements: 5, fee_bump_percent: 25 }
    }
}

/// Waits for a sent transaction's receipt, replacing the transaction with higher fees when it is
/// not mined in time, and checks the receipt of whichever version landed.
///
/// # Policy ([`LandPolicy`])
///
/// - Each attempt waits up to [`LandPolicy::attempt_timeout`] for the receipt of any version
///   (alloy's block heartbeat). A node that cannot be reached meanwhile is asked again after a
///   short pause until the attempt's time is up.
/// - An attempt after which the sender's earlier transactions are still ahead in its nonce
///   queue, and some of them were mined during it, does not count: the transaction is late for
///   lack of room in the blocks, not for its fees.
/// - Then a replacement is signed with `maxFeePerGas` and `maxPriorityFeePerGas` each raised by
///   [`LandPolicy::fee_bump_percent`] (at least [`LandPolicy::MIN_FEE_BUMP_PERCENT`], rounded up,
///   and at least 1 wei), or to the node's current estimate when that is higher. geth and reth
///   accept a replacement only when both fees rise by 10 % (`txpool.pricebump`); anvil only when
///   the fee cap rises at all. The default 25 % clears both, and outpaces a base fee that rises by
///   12.5 % per full block.
/// - At most [`LandPolicy::max_replacements`] replacements are sent (counting refused ones); the
///   last then gets one more attempt, so the whole wait is bounded by
///   `(max_replacements + 1) × attempt_timeout` plus the requests' own time.
///
/// # Recovery
///
/// - "nonce too low" for a replacement: a transaction with this nonce was mined. The receipts of
///   every version sent are looked up (for up to one attempt's time, as a node may answer before it
///   has indexed the block): the one that landed is the result, whichever it is. When none of ours
///   did, [`TxError::NonceTaken`].
/// - "replacement transaction underpriced" (or "already known"): another transaction with this
///   nonce pays at least as much; the fees are bumped again at once.
/// - A dropped transaction (evicted from the pool, the node restarted, or — anvil does this —
///   removed as invalid while a block was built, e.g. because the base fee rose above its fee
///   cap, together with the sender's later transactions): while its nonce is unused (the
///   sender's mined nonce count is at most its nonce) and the node knows none of its versions,
///   it is sent again at once with higher fees, as a replacement, rather than after the attempt.
///   Every transaction of the sender behind it waits on it. This is checked every few seconds,
///   instead of asking for the receipts while the sender's queue shows the transaction cannot
///   have been mined.
/// - A replacement the node cannot be reached for counts against `max_replacements`; the wait
///   goes on.
/// - Any other refusal (insufficient funds, a malformed transaction) is [`TxError::Rpc`].
///
/// Replacements copy `request`, the transaction as it was signed, when the caller passes it with
/// its nonce (and `from`, which the queue checks need); otherwise the transaction the node returns
/// for the hash (`eth_getTransactionByHash`), read as soon as `land` starts: one dropped before
/// that read cannot be sent again, and is then waited for until the attempts run out.
///
/// `provider` signs the replacements, so it must be the provider (wallet included) that sent
/// `pending`.
///
/// # Errors
///
/// - [`TxError::NotMined`] when no version was mined after the last replacement's attempt;
/// - [`TxError::NonceTaken`] when another transaction took the nonce;
/// - [`TxError::Rpc`] when the node refuses a replacement for another reason;
/// - [`TxError::Reverted`] when the version that was mined reverted.
pub async fn land<P: Provider>(
    provider: &P,
    operation: String,
    pending: PendingTransactionBuilder<Ethereum>,
    request: Option<TransactionRequest>,
    policy: &LandPolicy,
) -> TxResult<TransactionReceipt> {
    let bump = policy.fee_bump_percent.max(LandPolicy::MIN_FEE_BUMP_PERCENT);
    let mut sent = vec![*pending.tx_hash()];
    // The signed transaction: replacements copy all but its fees. Without the caller's copy, as
    // the node has it, read now, while it is surely in the pool; if that fails, again when a
    // replacement is due.
    let mut request = match request.filter(|r| r.nonce.is_some()) {
        Some(request) => Some(request),
        None => signed_request(provider, &sent).await,
    };
    let mut replacements = 0;
    // The sender's mined nonce count at the end of the last attempt.
    let mut queue = None;
    loop {
        let newest = *sent.last().expect("at least the original");
        let front = request.as_ref().and_then(|r| Some((r.from?, r.nonce?)));
        let dropped = match wait(provider, &sent, front, policy.attempt_timeout).await {
            Waited::Mined(receipt) => return checked(operation, *receipt),
            Waited::Dropped => true,
            Waited::Late => false,
        };
        if request.is_none() {
            request = signed_request(provider, &sent).await;
        }
        let nonce = request.as_ref().and_then(|r| r.nonce);
        if dropped {
            info!(
                target: "tx", %operation, ?nonce, %newest,
                "dropped by the node before it was mined; sending it again"
            );
        } else if let Some(mined) = queued_behind(provider, request.as_ref(), &mut queue).await {
            debug!(
                target: "tx", %operation, ?nonce, mined,
                "queued behind the sender's earlier transactions, which are being mined; waiting on"
            );
            continue;
        }
        // The wait's last look was at every version.
        if replacements >= policy.max_replacements {
            return Err(TxError::NotMined { operation, nonce, sent });
        }
        if request.is_none() {
            // Nothing to copy a replacement from: the attempt counts as one, and the wait goes on.
            replacements += 1;
            continue;
        }
        let request = request.as_mut().expect("checked above");
        // Send a replacement; a refused one is bumped again right away.
        while replacements < policy.max_replacements {
            replacements += 1;
            let estimate = provider.estimate_eip1559_fees().await.ok();
            raise_fees(
                request,
                bump,
                estimate.map(|e| (e.max_fee_per_gas, e.max_priority_fee_per_gas)),
            );
            match provider.send_transaction(request.clone()).await {
                Ok(replacement) => {
                    info!(
                        target: "tx",
                        %operation, ?nonce, replaced = %newest, by = %replacement.tx_hash(),
                        max_fee_per_gas = ?request.max_fee_per_gas,
                        max_priority_fee_per_gas = ?request.max_priority_fee_per_gas,
                        "not mined in time; replaced with higher fees"
                    );
                    sent.push(*replacement.tx_hash());
                    break;
                }
                Err(err) => match Refusal::of(&err) {
                    Refusal::NonceUsed => {
                        debug!(
                            target: "tx", %operation, ?nonce,
                            "nonce used; looking for the version that landed"
                        );
                        return match wait(provider, &sent, None, policy.attempt_timeout).await {
                            Waited::Mined(receipt) => checked(operation, *receipt),
                            Waited::Dropped | Waited::Late => {
                                Err(TxError::NonceTaken { operation, nonce, sent })
                            }
                        };
                    }
                    Refusal::Underpriced => {
                        debug!(
                            target: "tx", %operation, ?nonce, error = %err,
                            "replacement refused; bumping again"
                        );
                    }
                    Refusal::Unreachable => {
                        warn!(
                            target: "tx", %operation, ?nonce, error = %err,
                            "cannot send the replacement; waiting on"
                        );
                        break;
                    }
                    Refusal::Other => {
                        return Err(TxError::Rpc { operation, source: Box::new(err) });
                    }
                },
            }
        }
    }
}

/// Whether `request` waited behind its sender's earlier transactions while those were being
/// mined: the sender's mined nonce count (`queue` holds the last one read) rose during the
/// attempt (at the first look: is still below its nonce) and has not passed its nonce. Blocks
/// take a sender's transactions in nonce order, so such a transaction is late for lack of room,
/// not for its fees (it may have reached the front only during the attempt), and a replacement
/// would not help; the attempt does not count. Returns the count when that is so.
///
/// A queue that stops moving (its first transaction underpriced, or dropped and never sent
/// again) makes attempts count again, so the wait stays bounded.
async fn queued_behind<P: Provider>(
    provider: &P,
    request: Option<&TransactionRequest>,
    queue: &mut Option<u64>,
) -> Option<u64> {
    let request = request?;
    let (from, nonce) = (request.from?, request.nonce?);
    let mined = provider.get_transaction_count(from).latest().await.ok()?;
    // At the first look, only a transaction still behind others surely waited behind them.
    let moved = match *queue {
        None => mined < nonce,
        Some(last) => mined > last,
    };
    *queue = Some(mined);
    (mined <= nonce && moved).then_some(mined)
}

/// Why a node refused a replacement.
enum Refusal {
    /// The nonce was used: a transaction with it was mined.
    NonceUsed,
    /// The pool holds a transaction with this nonce paying as much or more (or this very one).
    Underpriced,
    /// No answer: the node could not be reached.
    Unreachable,
    /// Anything else.
    Other,
}

impl Refusal {
    fn of(err: &TransportError) -> Self {
        let Some(payload) = err.as_error_resp() else {
            return if err.is_transport_error() { Self::Unreachable } else { Self::Other };
        };
        // Nodes word these differently (geth, reth and anvil: "nonce too low", "replacement
        // transaction underpriced", "already known"; nethermind: "OldNonce",
        // "ReplacementNotAllowed").
        let message = payload.message.to_ascii_lowercase();
        if message.contains("nonce too low") || message.contains("oldnonce") {
            Self::NonceUsed
        } else if message.contains("underpriced")
            || message.contains("already known")
            || message.contains("replacementnotallowed")
        {
            Self::Underpriced
        } else {
            Self::Other
        }
    }
}

/// How a [`wait`] ended.
enum Waited {
    /// A version was mined: its receipt.
    Mined(Box<TransactionReceipt>),
    /// The node no longer has any version, and the nonce is unused.
    Dropped,
    /// The time ran out.
    Late,
}

impl Waited {
    fn mined(receipt: TransactionReceipt) -> Self {
        Self::Mined(Box::new(receipt))
    }
}

/// Waits up to `timeout` for the receipt of any version in `sent` (newest first: the one
/// most likely mined).
///
/// The wait is on alloy's heartbeat, one poll of new blocks shared by every transaction the
/// provider waits for, watching the newest version; the receipts are then read once. alloy's own
/// `get_receipt` also asks for the receipt on every poll, per transaction: a keeper waiting for a
/// few hundred transactions on a 1 s chain would ask thousands of times a second. The chain is
/// asked directly only at the start, after the heartbeat saw the newest version, and every
/// [`RECHECK`] (in case the heartbeat missed the block, e.g. while it was paused, or an older
/// version was mined); an unreachable node is asked again after a pause.
///
/// With `front`, the sender and nonce, those direct looks read the sender's mined nonce count
/// first ([`look`]): the receipts only once the nonce is used, and before that whether the node
/// still has the transaction.
async fn wait<P: Provider>(
    provider: &P,
    sent: &[B256],
    front: Option<(Address, u64)>,
    timeout: Duration,
) -> Waited {
    let deadline = Instant::now() + timeout;
    let Some(&hash) = sent.last() else { return Waited::Late };
    let mut seen = false;
    loop {
        let look = if seen {
            find_receipt(provider, sent).await.map(Waited::mined)
        } else {
            look(provider, sent, front).await
        };
        if let Some(ended) = look {
            return ended;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Waited::Late;
        }
        if seen {
            // In a block, but the node has no receipt yet: it may index it a moment later.
            tokio::time::sleep(left.min(INDEXING_PAUSE)).await;
            continue;
        }
        let watch = PendingTransactionBuilder::new(provider.root().clone(), hash)
            .with_timeout(Some(left.min(RECHECK)))
            .watch();
        match watch.await {
            Ok(_) => seen = true,
            Err(PendingTransactionError::TxWatcher(WatchTxError::Timeout)) => {}
            Err(err) => {
                debug!(
                    target: "tx", %hash, error = %err,
                    "waiting for the transaction failed; asking again"
                );
                tokio::time::sleep(left.min(RETRY_PAUSE)).await;
            }
        }
    }
}

/// One direct look at the chain for a transaction waited on: with `front` (its sender and
/// nonce), the sender's mined nonce count says which question to ask. Up to the nonce, no
/// version can have been mined, so the transaction is [`Waited::Dropped`] when the node has none
/// of its versions; past it, a version (or another transaction) took the nonce, and the receipts
/// are read. Without `front`, or when the count cannot be read, the receipts are read.
///
/// Not only the first in line: anvil, removing a transaction, removes the sender's later ones
/// with it, and each must be sent again, not one per look.
async fn look<P: Provider>(
    provider: &P,
    sent: &[B256],
    front: Option<(Address, u64)>,
) -> Option<Waited> {
    if let Some((from, nonce)) = front {
        match provider.get_transaction_count(from).latest().await {
            Ok(mined) if mined <= nonce => {
                return (!known(provider, sent).await).then_some(Waited::Dropped);
            }
            Ok(_) => {}
            Err(err) => debug!(target: "tx", %from, error = %err, "cannot read the nonce count"),
        }
    }
    find_receipt(provider, sent).await.map(Waited::mined)
}

/// The newest version in `sent` the node knows; the error of the first read that failed.
async fn newest_known<P: Provider>(
    provider: &P,
    sent: &[B256],
) -> Result<Option<alloy::rpc::types::Transaction>, alloy::transports::TransportError> {
    for hash in sent.iter().rev() {
        if let Some(tx) = provider.get_transaction_by_hash(*hash).await? {
            return Ok(Some(tx));
        }
    }
    Ok(None)
}

/// Whether the node knows any version in `sent` (a node that cannot be asked is taken to).
async fn known<P: Provider>(provider: &P, sent: &[B256]) -> bool {
    !matches!(newest_known(provider, sent).await, Ok(None))
}

/// The receipt of whichever of `sent` was mined, newest first.
async fn find_receipt<P: Provider>(provider: &P, sent: &[B256]) -> Option<TransactionReceipt> {
    for hash in sent.iter().rev() {
        match provider.get_transaction_receipt(*hash).await {
            Ok(Some(receipt)) => return Some(receipt),
            Ok(None) => {}
            Err(err) => debug!(target: "tx", %hash, error = %err, "cannot read the receipt"),
        }
    }
    None
}

/// The newest of `sent` the node knows, as a request to sign again.
async fn signed_request<P: Provider>(provider: &P, sent: &[B256]) -> Option<TransactionRequest> {
    match newest_known(provider, sent).await {
        Ok(tx) => tx.map(Into::into),
        Err(err) => {
            debug!(target: "tx", error = %err, "cannot read the transaction");
            None
        }
    }
}

fn checked(operation: String, receipt: TransactionReceipt) -> TxResult<TransactionReceipt> {
    if !receipt.status() {
        return Err(TxError::Reverted { operation, tx: receipt.transaction_hash() });
    }
    Ok(receipt)
}

/// `fee` raised by `percent`, rounded up, and by at least 1 wei.
fn bumped(fee: u128, percent: u32) -> u128 {
    let raised = fee.saturating_mul(100 + u128::from(percent)).div_ceil(100);
    raised.max(fee.saturating_add(1))
}

/// Raises the fees of `request` by `percent`, or to `estimate` (`(maxFeePerGas,
/// maxPriorityFeePerGas)`, the node's current suggestion) where that is higher.
fn raise_fees(request: &mut TransactionRequest, percent: u32, estimate: Option<(u128, u128)>) {
    if let Some(price) = request.gas_price {
        // A legacy transaction has one price.
        let suggested = estimate.map_or(0, |(cap, _)| cap);
        request.gas_price = Some(bumped(price, percent).max(suggested));
        return;
    }
    let (cap, tip) = estimate.unwrap_or_default();
    let tip = bumped(request.max_priority_fee_per_gas.unwrap_or_default(), percent).max(tip);
    let cap = bumped(request.max_fee_per_gas.unwrap_or_default(), percent).max(cap).max(tip);
    request.max_priority_fee_per_gas = Some(tip);
    request.max_fee_per_gas = Some(cap);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_round_up_and_always_raise() {
        assert_eq!(bumped(1_000_000_000, 25), 1_250_000_000);
        assert_eq!(bumped(3, 10), 4);
        assert_eq!(bumped(0, 25), 1);
        assert_eq!(bumped(u128::MAX, 25), u128::MAX);
    }

    #[test]
    fn both_fees_rise_by_the_bump_or_to_the_node_estimate() {
        let mut request = TransactionRequest::default()
            .max_fee_per_gas(2_000_000_000)
            .max_priority_fee_per_gas(100);
        raise_fees(&mut request, 25, Some((1_000_000_000, 1_000)));
        assert_eq!(request.max_fee_per_gas, Some(2_500_000_000));
        assert_eq!(request.max_priority_fee_per_gas, Some(1_000));
        raise_fees(&mut request, 25, None);
        assert_eq!(request.max_fee_per_gas, Some(3_125_000_000));
        assert_eq!(request.max_priority_fee_per_gas, Some(1_250));
    }

    #[test]
    fn the_fee_cap_never_falls_below_the_tip() {
        let mut request =
            TransactionRequest::default().max_fee_per_gas(10).max_priority_fee_per_gas(10);
        raise_fees(&mut request, 10, Some((0, 1_000)));
        assert_eq!(request.max_priority_fee_per_gas, Some(1_000));
        assert_eq!(request.max_fee_per_gas, Some(1_000));
    }

    #[test]
    fn legacy_transactions_raise_their_gas_price() {
        let mut request = TransactionRequest::default().gas_price(100);
        raise_fees(&mut request, 25, Some((90, 1)));
        assert_eq!(request.gas_price, Some(125));
        assert_eq!(request.max_fee_per_gas, None);
    }

    #[test]
    fn node_refusals_are_told_apart() {
        let refusal = |message: &str| {
            let payload = serde_json::json!({"code": -32000, "message": message});
            let err: TransportError =
                alloy::transports::RpcError::ErrorResp(serde_json::from_value(payload).unwrap());
            Refusal::of(&err)
        };
        assert!(matches!(refusal("nonce too low"), Refusal::NonceUsed));
        assert!(matches!(refusal("replacement transaction underpriced"), Refusal::Underpriced));
        assert!(matches!(refusal("already known"), Refusal::Underpriced));
        assert!(matches!(refusal("insufficient funds for gas * price + value"), Refusal::Other));
        let unreachable = alloy::transports::TransportErrorKind::custom_str("connection refused");
        assert!(matches!(Refusal::of(&unreachable), Refusal::Unreachable));
    }
}
