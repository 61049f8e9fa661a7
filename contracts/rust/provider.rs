//! JSON-RPC providers that sign with a local key.

use alloy::{
    network::EthereumWallet,
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
    transports::http::reqwest::Url,
};

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
    ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url)
        .erased()
}
