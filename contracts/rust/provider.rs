//! JSON-RPC providers that sign with a local key.
//!
//! Fees come from the node: alloy's gas filler estimates the gas limit (`eth_estimateGas`) and,
//! unless the request sets them, fills `maxFeePerGas` and `maxPriorityFeePerGas` from
//! `eth_feeHistory` over the last ten blocks (the tip: the median of their 20th-percentile tips,
//! at least 1 wei; the fee cap: twice the latest base fee plus that tip), so every transaction is
//! an EIP-1559 (type 2) transaction. [`crate::tx::land`] replaces one that is not mined in time.

use std::{collections::HashSet, iter, time::Duration};

use alloy::{
    network::EthereumWallet,
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::client::{ClientBuilder, RpcClient},
    signers::local::PrivateKeySigner,
    transports::{
        BoxTransport, IntoBoxTransport,
        http::{Http, reqwest, reqwest::Url},
        layers::FallbackService,
        utils::guess_local_url,
    },
};
use tower::{Layer, layer::util::Identity};

/// How long one request to one of several endpoints may take before the next endpoint is
/// tried ([`wallet_provider_with_fallbacks`]): a node that accepts connections but never answers
/// would otherwise hold every request up.
pub const FALLBACK_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Requests sent to one endpoint at a time, best first, the next only when one fails: every
/// request the services make. alloy's fallback sends any other request to every endpoint at once
/// and takes the first answer, which would let a lagging node answer `eth_getLogs` for blocks it
/// does not have yet, a stale pending nonce win over a current one, and a transaction race itself.
const ONE_AT_A_TIME: [&str; 21] = [
    "eth_sendRawTransaction",
    "eth_sendRawTransactionSync",
    "eth_sendTransaction",
    "eth_sendTransactionSync",
    "eth_getTransactionCount",
    "eth_getTransactionReceipt",
    "eth_getTransactionByHash",
    "eth_getRawTransactionByHash",
    "eth_blockNumber",
    "eth_getBlockByNumber",
    "eth_getBlockByHash",
    "eth_getLogs",
    "eth_call",
    "eth_estimateGas",
    "eth_feeHistory",
    "eth_gasPrice",
    "eth_maxPriorityFeePerGas",
    "eth_chainId",
    "eth_getBalance",
    "eth_getCode",
    "eth_getStorageAt",
];

/// A provider for `url` that signs with `signer`, estimating gas and asking the node for the
/// pending nonce before every transaction.
///
/// alloy's default nonce cache hands out a nonce while gas is still being estimated, so a
/// transaction that fails estimation (a revert the caller expected, like a keeper's claim lost to
/// another keeper) would leave a nonce gap and stall every later transaction from that account.
/// Asking the node each time cannot drift.
///
/// ```
/// let signer = alloy::signers::local::PrivateKeySigner::random();
/// let _provider = nsed_contracts::provider::wallet_provider("http://127.0.0.1:8545".parse().unwrap(), signer);
/// ```
pub fn wallet_provider(url: Url, signer: PrivateKeySigner) -> DynProvider {
    signing_provider(ClientBuilder::default().http(url), signer)
}

/// The fillers every provider of this module uses, over `client`: gas estimation, the node's
/// pending nonce (see [`wallet_provider`] for why), the chain id, and `signer`.
fn signing_provider(client: RpcClient, signer: PrivateKeySigner) -> DynProvider {
    ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(EthereumWallet::from(signer))
        .connect_client(client)
        .erased()
}

/// [`wallet_provider`] over `url` and, should it fail, `fallbacks` (endpoints of the same chain).
///
/// With no fallbacks this is [`wallet_provider`]. With some, requests go through alloy's
/// [`FallbackService`], which ranks the endpoints by their recent successes and latency. Each
/// request goes to one endpoint at a time, best first, and to the next when one fails or takes
/// longer than [`FALLBACK_REQUEST_TIMEOUT`]; it fails only when every endpoint failed. The
/// endpoints should serve the same chain, closely in sync: the best one may change between
/// requests.
///
/// ```
/// let signer = alloy::signers::local::PrivateKeySigner::random();
/// let _provider = nsed_contracts::provider::wallet_provider_with_fallbacks(
///     "http://127.0.0.1:8545".parse().unwrap(),
///     ["http://127.0.0.1:8546".parse().unwrap()],
///     signer,
/// );
/// ```
pub fn wallet_provider_with_fallbacks(
    url: Url,
    fallbacks: impl IntoIterator<Item = Url>,
    signer: PrivateKeySigner,
) -> DynProvider {
    wallet_provider_through(url, fallbacks, signer, Identity::new())
}

/// [`wallet_provider_with_fallbacks`] with `layer` between the client and the transport: it sees
/// every request the provider sends (its fillers' and receipt polling's included), e.g. to count
/// them per method.
pub fn wallet_provider_through<L>(
    url: Url,
    fallbacks: impl IntoIterator<Item = Url>,
    signer: PrivateKeySigner,
    layer: L,
) -> DynProvider
where
    L: Layer<BoxTransport>,
    L::Service: IntoBoxTransport,
{
    let urls: Vec<Url> = iter::once(url).chain(fallbacks).collect();
    let is_local = urls.iter().all(|url| guess_local_url(url.as_str()));
    let transport = if urls.len() == 1 {
        BoxTransport::new(Http::new(urls.into_iter().next().expect("one url")))
    } else {
        // Building a client fails only when the TLS backend cannot start; the default client
        // would fail the same way, so the timeout is all that is lost.
        let http = reqwest::Client::builder()
            .timeout(FALLBACK_REQUEST_TIMEOUT)
            .build()
            .unwrap_or_default();
        let count = urls.len();
        let transports: Vec<_> =
            urls.into_iter().map(|url| Http::with_client(http.clone(), url)).collect();
        let sequential: HashSet<String> = ONE_AT_A_TIME.iter().map(|m| (*m).to_owned()).collect();
        BoxTransport::new(FallbackService::new_with_sequential_methods(
            transports, count, sequential,
        ))
    };
    signing_provider(ClientBuilder::default().layer(layer).transport(transport, is_local), signer)
}
