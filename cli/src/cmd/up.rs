//! `nsed up`: the main job on an embedded default.
//!
//! What runs today: a local anvil and a JetStream nats-server (unless `--rpc-url` / `--nats-url`
//! point elsewhere), ONNX Runtime loaded from `ORT_DYLIB_PATH`, and the contracts that exist so far
//! deployed and read back over JSON-RPC. The deliberation demo itself (workers, keeper, jobs) joins
//! this command with the deliberation market; until then it says so rather than pretending.

use std::fmt;

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use eyre::{WrapErr, bail, eyre};
use nsed_contracts::rank_token::RankToken;
use nsed_devstack::{Anvil, AnvilConfig, AnvilInstance, NatsConfig, NatsInstance, NatsServer};
use nsed_inference_worker::OnnxRuntime;
use tracing::info;

/// Metadata URI template of the RankToken deployed by `nsed up`.
const RANK_URI: &str = "nsed://rank/{id}";

/// Arguments of `nsed up`.
#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Exit once the demo is done instead of serving until Ctrl-C.
    #[arg(long)]
    pub once: bool,
    /// Chain to use.
    #[command(flatten)]
    pub rpc: RpcOpts,
    /// NATS server to use instead of starting a local nats-server.
    #[arg(long, value_name = "URL", env = "NATS_URL", help_heading = "NATS")]
    pub nats_url: Option<String>,
}

/// Which chain to talk to and who signs.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Chain")]
pub struct RpcOpts {
    /// JSON-RPC endpoint of an existing chain; without it a local anvil is started.
    ///
    /// Deliberately not read from `ETH_RPC_URL`: a stray environment variable must never point a
    /// local demo at a real network.
    #[arg(long, value_name = "URL")]
    pub rpc_url: Option<String>,
    /// Deployer key (hex) for `--rpc-url`; a local anvil uses its first dev account.
    #[arg(long, value_name = "HEX", env = "NSED_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: Option<SecretKey>,
}

/// A private key from the command line or environment; never printed.
#[derive(Clone)]
pub struct SecretKey(String);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

// Parsing only stores the text: clap quotes rejected values in its errors, so validation happens
// in `signer`, whose error never repeats the key.
impl std::str::FromStr for SecretKey {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

impl SecretKey {
    fn signer(&self) -> eyre::Result<PrivateKeySigner> {
        self.0.parse().map_err(|_| eyre!("the private key is not a 32-byte hex secp256k1 key"))
    }
}

/// Services this command started itself; dropping them stops them.
struct LocalServices {
    anvil: Option<AnvilInstance>,
    nats: Option<NatsInstance>,
}

impl UpArgs {
    /// Runs `nsed up`.
    ///
    /// # Errors
    ///
    /// When a service cannot start, ONNX Runtime cannot load, or a deployment fails.
    pub async fn run(self) -> eyre::Result<()> {
        let mut services = LocalServices { anvil: None, nats: None };

        let (rpc_url, signer) = match (&self.rpc.rpc_url, &self.rpc.private_key) {
            (Some(url), Some(key)) => (url.clone(), key.signer()?),
            (Some(_), None) => bail!(
                "`--rpc-url` needs a deployer key: pass `--private-key` or set NSED_PRIVATE_KEY"
            ),
            (None, _) => {
                let anvil = tokio::task::spawn_blocking(|| Anvil::spawn(AnvilConfig::default()))
                    .await?
                    .wrap_err("cannot start a local anvil")?;
                info!(target: "nsed::up", endpoint = %anvil.endpoint(), pid = anvil.pid(), "started anvil");
                let key = anvil.accounts()[0].private_key().parse::<PrivateKeySigner>()?;
                let url = anvil.endpoint();
                services.anvil = Some(anvil);
                (url, key)
            }
        };

        let nats_url = match &self.nats_url {
            Some(url) => url.clone(),
            None => {
                let nats = tokio::task::spawn_blocking(|| NatsServer::spawn(NatsConfig::default()))
                    .await?
                    .wrap_err("cannot start a local nats-server")?;
                info!(target: "nsed::up", url = %nats.url(), version = %nats.info().version, "started nats-server with JetStream");
                let url = nats.url();
                services.nats = Some(nats);
                url
            }
        };

        let runtime = OnnxRuntime::load(None).wrap_err("cannot load ONNX Runtime")?;
        info!(target: "nsed::up", path = %runtime.path().display(), "loaded ONNX Runtime");

        let deployer = signer.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(rpc_url.parse().wrap_err_with(|| format!("`{rpc_url}` is not a URL"))?);
        let chain_id = provider
            .get_chain_id()
            .await
            .wrap_err_with(|| format!("no JSON-RPC answer from {rpc_url}"))?;

        info!(target: "nsed::up", chain_id, %deployer, "deploying RankToken");
        let receipt = RankToken::deploy_builder(&provider, RANK_URI.to_string(), deployer)
            .send()
            .await
            .wrap_err("cannot send the RankToken deployment")?
            .get_receipt()
            .await
            .wrap_err("no receipt for the RankToken deployment")?;
        let token = receipt.contract_address.ok_or_else(|| {
            eyre!("RankToken deployment {} created no contract", receipt.transaction_hash)
        })?;
        let rank = RankToken::new(token, &provider);
        let game_role =
            rank.GAME_ROLE().call().await.wrap_err("cannot read RankToken.GAME_ROLE")?;
        let admin_ok = rank
            .hasRole(B256::ZERO, deployer)
            .call()
            .await
            .wrap_err("cannot read RankToken.hasRole")?;
        if !admin_ok {
            bail!("RankToken at {token} did not make {deployer} its admin");
        }

        print_report(&Report {
            rpc_url: &rpc_url,
            chain_id,
            nats_url: &nats_url,
            ort: &runtime.path().display().to_string(),
            token,
            tx: receipt.transaction_hash,
            block: receipt.block_number.unwrap_or_default(),
            game_role,
            deployer,
        });

        if !self.once {
            info!(target: "nsed::up", "serving; press Ctrl-C to stop");
            tokio::signal::ctrl_c().await.wrap_err("cannot wait for Ctrl-C")?;
        }
        drop(services);
        info!(target: "nsed::up", "stopped");
        Ok(())
    }
}

struct Report<'a> {
    rpc_url: &'a str,
    chain_id: u64,
    nats_url: &'a str,
    ort: &'a str,
    token: Address,
    tx: B256,
    block: u64,
    game_role: B256,
    deployer: Address,
}

#[allow(clippy::print_stdout)]
fn print_report(r: &Report<'_>) {
    println!("chain        {} (chain id {})", r.rpc_url, r.chain_id);
    println!("nats         {} (JetStream)", r.nats_url);
    println!("onnxruntime  {}", r.ort);
    println!("RankToken    {} (tx {}, block {})", r.token, r.tx, r.block);
    println!("  admin      {}", r.deployer);
    println!("  GAME_ROLE  {}", r.game_role);
    println!();
    println!(
        "This is what exists so far: the contracts above, deployed and read back over JSON-RPC,"
    );
    println!(
        "with anvil, nats-server and ONNX Runtime running. The deliberation demo (market, keeper,"
    );
    println!("inference workers, settled jobs) is not built yet and joins `nsed up` when it is.");
}
