//! Transactions that land, against a real anvil: fees from the node, replacements with higher fees
//! (`tx::land`) when a transaction is not mined in time, and endpoints failing over.
//!
//! Most tests run anvil with `--no-mining` and mine by hand, standing in for a busy chain whose
//! miners leave a transaction in the pool until it pays enough. A loopback proxy stands in for a
//! node that cannot be reached.

use std::{future::Future, sync::Arc, time::Duration};

use alloy::{
    consensus::Transaction as _,
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, PendingTransactionBuilder, Provider},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
};
use nsed_contracts::{
    provider::{wallet_provider, wallet_provider_through, wallet_provider_with_fallbacks},
    rpc_count::{CountRequests, RpcCounts},
    tx::{self, LandPolicy, TxError},
};
use nsed_devstack::{Anvil, AnvilConfig, AnvilInstance, TcpProxy};
use serde_json::{Value, json};

const GWEI: u128 = 1_000_000_000;
/// Where the test transfers go.
const TO: Address = Address::with_last_byte(0x42);

/// anvil that mines only when told (`evm_mine`), and a provider signing as its first account.
fn manual_chain() -> (AnvilInstance, DynProvider, Address) {
    chain(AnvilConfig::default().with_arg("--no-mining"))
}

fn chain(config: AnvilConfig) -> (AnvilInstance, DynProvider, Address) {
    let anvil = Anvil::spawn(config).unwrap();
    let key: PrivateKeySigner = anvil.accounts()[0].private_key().parse().unwrap();
    let from = key.address();
    let provider = wallet_provider(anvil.endpoint().parse().unwrap(), key);
    (anvil, provider, from)
}

/// A transfer of `wei` paying `max_fee` and `tip` per gas, from the signer's next nonce.
fn transfer(wei: u64, max_fee: u128, tip: u128) -> TransactionRequest {
    TransactionRequest::default()
        .with_to(TO)
        .with_value(U256::from(wei))
        .with_max_fee_per_gas(max_fee)
        .with_max_priority_fee_per_gas(tip)
}

/// Replaces after `attempt_timeout`, up to five times, bumping by 25 %.
fn policy(attempt_timeout: Duration) -> LandPolicy {
    LandPolicy { attempt_timeout, max_replacements: 5, fee_bump_percent: 25 }
}

/// Runs [`tx::land`] in the background.
fn land(
    provider: &DynProvider,
    pending: PendingTransactionBuilder<alloy::network::Ethereum>,
    policy: LandPolicy,
) -> tokio::task::JoinHandle<Result<alloy::rpc::types::TransactionReceipt, TxError>> {
    let provider = provider.clone();
    tokio::spawn(
        async move { tx::land(&provider, "transfer".into(), pending, None, &policy).await },
    )
}

async fn rpc(provider: &DynProvider, method: &'static str, params: Value) -> Value {
    provider.raw_request::<_, Value>(method.into(), params).await.unwrap()
}

/// The pooled transaction of `from` with `nonce`, if any.
async fn pooled(provider: &DynProvider, from: Address, nonce: u64) -> Option<Value> {
    let content = rpc(provider, "txpool_content", json!([])).await;
    let (_, by_nonce) = content["pending"]
        .as_object()?
        .iter()
        .find(|(address, _)| address.parse::<Address>().ok() == Some(from))?;
    by_nonce.get(nonce.to_string()).cloned()
}

fn quantity(tx: &Value, field: &str) -> u128 {
    let hex = tx[field].as_str().unwrap_or_else(|| panic!("{field} in {tx}"));
    u128::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap()
}

fn hash(tx: &Value) -> B256 {
    tx["hash"].as_str().unwrap().parse().unwrap()
}

/// Polls `check` until it answers, failing the test after 30 s.
async fn until<T, F: Future<Output = Option<T>>>(what: &str, mut check: impl FnMut() -> F) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what} did not happen within 30 s");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn mine(provider: &DynProvider) {
    rpc(provider, "evm_mine", json!([])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_are_eip1559_with_fees_from_the_node() {
    let (_anvil, provider, from) = manual_chain();
    let estimate = provider.estimate_eip1559_fees().await.unwrap();
    let request = TransactionRequest::default().with_to(TO).with_value(U256::from(1));
    let pending = provider.send_transaction(request).await.unwrap();
    let sent = provider.get_transaction_by_hash(*pending.tx_hash()).await.unwrap().unwrap();
    assert_eq!(sent.inner.tx_type() as u8, 2, "an EIP-1559 transaction");
    assert_eq!(sent.max_fee_per_gas(), estimate.max_fee_per_gas);
    assert_eq!(sent.max_priority_fee_per_gas(), Some(estimate.max_priority_fee_per_gas));
    assert!(pooled(&provider, from, 0).await.is_some());
    mine(&provider).await;
    let receipt =
        tx::land(&provider, "transfer".into(), pending, None, &LandPolicy::default()).await;
    assert!(receipt.unwrap().status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_priced_too_low_is_replaced_with_higher_fees_and_lands() {
    let (_anvil, provider, from) = manual_chain();
    let original = provider.send_transaction(transfer(1, GWEI, GWEI)).await.unwrap();
    let first = *original.tx_hash();
    let landing = land(&provider, original, policy(Duration::from_secs(1)));
    // The miner wants a tip of 1.5 gwei: two bumps of 25 % (1.25, then 1.5625 gwei).
    let paying = until("a version paying a 1.5 gwei tip", || async {
        pooled(&provider, from, 0)
            .await
            .filter(|tx| quantity(tx, "maxPriorityFeePerGas") >= 3 * GWEI / 2)
    })
    .await;
    mine(&provider).await;
    let receipt = landing.await.unwrap().unwrap();
    assert_eq!(receipt.transaction_hash, hash(&paying));
    assert_ne!(receipt.transaction_hash, first);
    assert!(provider.get_transaction_receipt(first).await.unwrap().is_none());
    // Same nonce, same call, only the fees moved.
    let mined = provider.get_transaction_by_hash(receipt.transaction_hash).await.unwrap().unwrap();
    assert_eq!((mined.nonce(), mined.to(), mined.value()), (0, Some(TO), U256::from(1)));
    assert_eq!(mined.input(), &Bytes::new());
    assert_eq!(mined.max_priority_fee_per_gas(), Some(GWEI * 25 / 16));
    assert!(mined.max_fee_per_gas() >= GWEI * 25 / 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_refused_as_underpriced_is_bumped_again() {
    let (_anvil, provider, from) = manual_chain();
    let original = provider.send_transaction(transfer(1, GWEI, GWEI)).await.unwrap();
    let first = *original.tx_hash();
    let landing = land(&provider, original, policy(Duration::from_secs(2)));
    let replacement = until("a first replacement", || async {
        pooled(&provider, from, 0).await.map(|tx| hash(&tx)).filter(|hash| *hash != first)
    })
    .await;
    // Another transaction with the same nonce takes the pool with a 3 gwei cap: the next
    // replacement (2.5 gwei, a bump of the node's estimate of twice the 1 gwei base fee) is
    // refused as underpriced, and bumped again at once to 3.125 gwei.
    let rival = transfer(2, 3 * GWEI, 6 * GWEI / 5).with_nonce(0).with_gas_limit(21_000);
    let rival = *provider.send_transaction(rival).await.unwrap().tx_hash();
    let ours = until("our replacement over the rival", || async {
        pooled(&provider, from, 0)
            .await
            .filter(|tx| ![first, replacement, rival].contains(&hash(tx)))
    })
    .await;
    assert!(quantity(&ours, "maxFeePerGas") > 3 * GWEI, "{ours}");
    mine(&provider).await;
    let receipt = landing.await.unwrap().unwrap();
    assert_eq!(receipt.transaction_hash, hash(&ours));
    let mined = provider.get_transaction_by_hash(receipt.transaction_hash).await.unwrap().unwrap();
    assert_eq!((mined.nonce(), mined.value()), (0, U256::from(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_mined_while_waiting_on_a_replacement_is_the_result() {
    let (_anvil, provider, from) = manual_chain();
    let original = provider.send_transaction(transfer(1, GWEI, GWEI)).await.unwrap();
    let first = *original.tx_hash();
    let raw = rpc(&provider, "eth_getRawTransactionByHash", json!([first])).await;
    let landing = land(&provider, original, policy(Duration::from_secs(2)));
    until("a replacement", || async {
        pooled(&provider, from, 0).await.filter(|tx| hash(tx) != first)
    })
    .await;
    // Another node's pool still had the original, and its block is the one that counts: the
    // next replacement is refused with "nonce too low", and the original's receipt is the answer.
    rpc(&provider, "anvil_dropAllTransactions", json!([])).await;
    rpc(&provider, "eth_sendRawTransaction", json!([raw])).await;
    mine(&provider).await;
    let receipt = landing.await.unwrap().unwrap();
    assert_eq!(receipt.transaction_hash, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_transaction_is_sent_again() {
    let (_anvil, provider, from) = manual_chain();
    let original = provider.send_transaction(transfer(1, GWEI, GWEI)).await.unwrap();
    let first = *original.tx_hash();
    let landing = land(&provider, original, policy(Duration::from_secs(1)));
    let replacement = until("a replacement", || async {
        pooled(&provider, from, 0).await.map(|tx| hash(&tx)).filter(|hash| *hash != first)
    })
    .await;
    // The pool forgets the version being waited on (evicted, or the node restarted).
    rpc(&provider, "anvil_dropTransaction", json!([replacement])).await;
    let again = until("the transaction back in the pool", || async {
        pooled(&provider, from, 0).await.filter(|tx| ![first, replacement].contains(&hash(tx)))
    })
    .await;
    mine(&provider).await;
    let receipt = landing.await.unwrap().unwrap();
    assert_eq!(receipt.transaction_hash, hash(&again));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_dropped_before_they_were_mined_are_sent_again_at_once() {
    let (_anvil, provider, from) = manual_chain();
    // Two transactions in a row; the pool forgets both before `land` starts (anvil, removing a
    // transaction it finds invalid while building a block, removes the sender's later ones with
    // it): only the caller's copies can send them again.
    let mut landings = Vec::new();
    let mut first = Vec::new();
    for nonce in 0..2 {
        let request =
            transfer(1, GWEI, GWEI).with_from(from).with_nonce(nonce).with_gas_limit(21_000);
        let original = provider.send_transaction(request.clone()).await.unwrap();
        first.push(*original.tx_hash());
        landings.push((original, request));
    }
    rpc(&provider, "anvil_dropAllTransactions", json!([])).await;
    // Each attempt lasts ten minutes: only noticing the drop sends them again within `until`'s
    // wait.
    let policy = policy(Duration::from_secs(600));
    let landings: Vec<_> = landings
        .into_iter()
        .map(|(original, request)| {
            let provider = provider.clone();
            tokio::spawn(async move {
                tx::land(&provider, "transfer".into(), original, Some(request), &policy).await
            })
        })
        .collect();
    let mut again = Vec::new();
    for nonce in 0..2 {
        let tx = until("the transaction back in the pool", || async {
            pooled(&provider, from, nonce).await.filter(|tx| !first.contains(&hash(tx)))
        })
        .await;
        again.push(hash(&tx));
    }
    mine(&provider).await;
    for (nonce, landing) in landings.into_iter().enumerate() {
        let receipt = landing.await.unwrap().unwrap();
        assert_eq!(receipt.transaction_hash, again[nonce]);
        let mined =
            provider.get_transaction_by_hash(receipt.transaction_hash).await.unwrap().unwrap();
        assert_eq!(
            (mined.nonce(), mined.to(), mined.value()),
            (nonce as u64, Some(TO), U256::from(1))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_never_mined_ends_after_the_last_replacement() {
    let (_anvil, provider, _) = manual_chain();
    let original = provider.send_transaction(transfer(1, GWEI, GWEI)).await.unwrap();
    let policy = LandPolicy {
        attempt_timeout: Duration::from_millis(300),
        max_replacements: 2,
        ..policy(Duration::ZERO)
    };
    let started = std::time::Instant::now();
    let err = tx::land(&provider, "transfer".into(), original, None, &policy).await.unwrap_err();
    let TxError::NotMined { nonce, sent, .. } = &err else { panic!("{err}") };
    assert_eq!((*nonce, sent.len()), (Some(0), 3), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "bounded: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_queued_behind_its_senders_earlier_ones_waits_while_they_are_mined() {
    // Blocks with room for one transfer, one a second: the sender's fifth transfer is mined in
    // the fifth block, well after its attempts (1.5 s, one replacement) would have run out.
    let (_anvil, provider, _) =
        chain(AnvilConfig::default().with_block_time(1).with_arg("--gas-limit").with_arg("21000"));
    let fees = provider.estimate_eip1559_fees().await.unwrap();
    let send = |nonce: u64| {
        let request = transfer(1, 4 * fees.max_fee_per_gas, fees.max_priority_fee_per_gas)
            .with_nonce(nonce)
            .with_gas_limit(21_000);
        let provider = provider.clone();
        async move { provider.send_transaction(request).await.unwrap() }
    };
    for nonce in 0..4 {
        drop(send(nonce).await);
    }
    let last = send(4).await;
    let first = *last.tx_hash();
    let policy = LandPolicy { max_replacements: 1, ..policy(Duration::from_millis(1500)) };
    let receipt = land(&provider, last, policy).await.unwrap().unwrap();
    assert_eq!(receipt.transaction_hash, first, "never replaced: its fees were never the problem");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_first_endpoint_fails_over_to_the_next() {
    let anvil = Anvil::spawn(AnvilConfig::default()).unwrap();
    // A port nothing listens on: connections are refused.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
    };
    let key: PrivateKeySigner = anvil.accounts()[0].private_key().parse().unwrap();
    let provider = wallet_provider_with_fallbacks(
        dead.parse().unwrap(),
        [anvil.endpoint().parse().unwrap()],
        key,
    );
    let request = TransactionRequest::default().with_to(TO).with_value(U256::from(7));
    let receipt = tx::send_tx(&provider, "transfer", request).await.unwrap();
    assert!(receipt.status());
    assert_eq!(provider.get_balance(TO).await.unwrap(), U256::from(7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_unreachable_while_waiting_is_asked_again_until_the_transaction_lands() {
    let (anvil, direct, from) = manual_chain();
    let proxy = TcpProxy::start(anvil.port()).unwrap();
    let key: PrivateKeySigner = anvil.accounts()[0].private_key().parse().unwrap();
    let provider =
        wallet_provider(format!("http://127.0.0.1:{}", proxy.port()).parse().unwrap(), key);
    let original = provider.send_transaction(transfer(1, GWEI, GWEI)).await.unwrap();
    let landing = land(&provider, original, policy(Duration::from_secs(1)));
    proxy.set_up(false);
    // Unreachable for longer than two attempts: the waits fail, and so does any replacement.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(!landing.is_finished());
    proxy.set_up(true);
    assert!(pooled(&direct, from, 0).await.is_some());
    mine(&direct).await;
    let receipt = tokio::time::timeout(Duration::from_secs(30), landing).await.unwrap();
    let receipt = receipt.unwrap().unwrap();
    let mined = direct.get_transaction_by_hash(receipt.transaction_hash).await.unwrap().unwrap();
    assert_eq!((mined.nonce(), mined.value()), (0, U256::from(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_transaction_polls_new_blocks_not_its_receipt() {
    let anvil = Anvil::spawn(AnvilConfig::default().with_arg("--no-mining")).unwrap();
    let key: PrivateKeySigner = anvil.accounts()[0].private_key().parse().unwrap();
    let counts = Arc::new(RpcCounts::default());
    let provider = wallet_provider_through(
        anvil.endpoint().parse().unwrap(),
        [],
        key,
        CountRequests(counts.clone()),
    );
    let sent = |method: &str| counts.snapshot().get(method).copied().unwrap_or(0);
    let pending = provider.send_transaction(transfer(1, 10 * GWEI, GWEI)).await.unwrap();
    let landing = land(&provider, pending, policy(Duration::from_secs(30)));
    // The heartbeat asks for the head on every poll; let it poll a while with nothing mined.
    let polls = sent("eth_blockNumber");
    until("six polls of the head", || async {
        (sent("eth_blockNumber") >= polls + 6).then_some(())
    })
    .await;
    mine(&provider).await;
    let receipt = landing.await.unwrap().unwrap();
    assert!(receipt.status());
    // Once at the start, once more every 2 s and once the heartbeat saw it mined (every 250 ms
    // on loopback), not once per poll: well under half as many as the polls.
    let (receipts, heads) = (sent("eth_getTransactionReceipt"), sent("eth_blockNumber") - polls);
    assert!(receipts >= 1 && receipts * 2 <= heads, "{receipts} receipt requests, {heads} polls");
}
