//! `nsed deploy`: deploy (or reuse) the contract suite and write `deployments/<network>.json`.

use std::path::PathBuf;

use eyre::WrapErr;
use nsed_deploy::{Deployment, deploy_to_dir};

use crate::{
    opts::{DEPLOYMENTS_DIR, RpcOpts, SuiteOpts, WalletOpts},
    output::{self, out},
};

/// Arguments of `nsed deploy`.
#[derive(Debug, Clone, clap::Args)]
pub struct DeployArgs {
    /// Network name: the record is `<deployments-dir>/<network>.json` [default: `local` on chain
    /// 31337, else `chain-<id>`].
    #[arg(long, value_name = "NAME")]
    pub network: Option<String>,
    /// Directory holding the deployment records.
    #[arg(long, value_name = "DIR", default_value = DEPLOYMENTS_DIR)]
    pub deployments_dir: PathBuf,
    /// The chain to deploy to (`--rpc-url` or `NSED_RPC_URL`).
    #[command(flatten)]
    pub rpc: RpcOpts,
    /// The deployer (`--private-key` or `NSED_PRIVATE_KEY`).
    #[command(flatten)]
    pub wallet: WalletOpts,
    /// Deployment parameters.
    #[command(flatten)]
    pub suite: SuiteOpts,
}

impl DeployArgs {
    /// Runs `nsed deploy`.
    ///
    /// # Errors
    ///
    /// When the chain is unreachable, a deployment fails, or the record cannot be written.
    pub async fn run(self) -> eyre::Result<()> {
        let rpc_url = self.rpc.try_url_with_env()?;
        let signer = self.wallet.try_signer()?;
        let deployer = signer.address();
        let provider = nsed_contracts::provider::wallet_provider(
            rpc_url.parse().wrap_err_with(|| format!("`{rpc_url}` is not a URL"))?,
            signer,
        );
        let (record, path) = deploy_to_dir(
            &provider,
            deployer,
            self.network.as_deref(),
            &self.deployments_dir,
            self.suite.try_params()?,
        )
        .await
        .wrap_err_with(|| format!("cannot deploy the suite on {rpc_url}"))?;
        print(&record, &path);
        Ok(())
    }
}

fn print(record: &Deployment, path: &std::path::Path) {
    if output::is_json() {
        let contracts: serde_json::Map<String, serde_json::Value> = record
            .contracts
            .iter()
            .map(|(name, c)| {
                let value = serde_json::json!({ "address": c.address, "block": c.block_number });
                (name.clone(), value)
            })
            .collect();
        let pending: Vec<serde_json::Value> = record
            .pending
            .iter()
            .map(|call| serde_json::json!({ "what": call.what, "target": call.target, "data": call.data }))
            .collect();
        output::json(&serde_json::json!({
            "network": record.network,
            "chainId": record.chain_id,
            "record": path,
            "contracts": contracts,
            "pending": pending,
        }));
        return;
    }
    for (name, contract) in &record.contracts {
        out!("{name:<20} {} (block {})", contract.address, contract.block_number);
    }
    out!("record               {}", path.display());
    for call in &record.pending {
        out!("needs governance     {} (to {}, calldata {})", call.what, call.target, call.data);
    }
}
