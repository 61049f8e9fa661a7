//! `nsed deploy`: deploy (or reuse) the contract suite and write `deployments/<network>.json`.

use std::path::PathBuf;

use alloy::{primitives::Address, providers::Provider};
use eyre::WrapErr;
use nsed_deploy::{Deployment, SuiteParams, deploy_suite};

use super::up::SecretKey;
use crate::output::out;

/// Arguments of `nsed deploy`.
#[derive(Debug, Clone, clap::Args)]
pub struct DeployArgs {
    /// JSON-RPC endpoint of the chain to deploy to.
    #[arg(long, value_name = "URL", env = "ETH_RPC_URL")]
    pub rpc_url: String,
    /// Deployer key (hex).
    #[arg(long, value_name = "HEX", env = "NSED_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: SecretKey,
    /// Network name: the record is `<deployments-dir>/<network>.json` [default: `local` on chain
    /// 31337, else `chain-<id>`].
    #[arg(long, value_name = "NAME")]
    pub network: Option<String>,
    /// Directory holding the deployment records.
    #[arg(long, value_name = "DIR", default_value = "deployments")]
    pub deployments_dir: PathBuf,
    /// Deployment parameters.
    #[command(flatten)]
    pub params: SuiteOpts,
}

/// Tunable parameters of the suite.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Suite parameters")]
pub struct SuiteOpts {
    /// Keeper granted the market's KEEPER_ROLE while the suite is bootstrapped (repeatable);
    /// later keepers are granted by governance.
    #[arg(long = "suite.keeper", value_name = "ADDRESS")]
    pub keepers: Vec<Address>,
    /// Require keepers to be active authority nodes of the suite's AuthorityRegistry.
    #[arg(long = "suite.require-authority-keepers")]
    pub require_authority_keepers: bool,
    /// Seconds the guild timelock holds a passed proposal before it can execute.
    #[arg(long = "suite.timelock-delay", value_name = "SECONDS", default_value_t = SuiteParams::default().governance.timelock_delay)]
    pub timelock_delay: u64,
    /// Keeper fee in basis points of each bounty.
    #[arg(long = "suite.keeper-fee-bps", value_name = "BPS", default_value_t = SuiteParams::default().keeper_fee_bps)]
    pub keeper_fee_bps: u16,
    /// Guild fee in basis points of each bounty.
    #[arg(long = "suite.guild-fee-bps", value_name = "BPS", default_value_t = SuiteParams::default().guild_fee_bps)]
    pub guild_fee_bps: u16,
    /// Seconds a requester may dispute a delivered job.
    #[arg(long = "suite.challenge-window", value_name = "SECONDS", default_value_t = SuiteParams::default().challenge_window)]
    pub challenge_window: u64,
}

impl SuiteOpts {
    pub(crate) fn params(&self) -> SuiteParams {
        let defaults = SuiteParams::default();
        SuiteParams {
            keeper_fee_bps: self.keeper_fee_bps,
            guild_fee_bps: self.guild_fee_bps,
            challenge_window: self.challenge_window,
            keepers: self.keepers.clone(),
            require_authority_keepers: self.require_authority_keepers,
            governance: nsed_deploy::GovernanceParams {
                timelock_delay: self.timelock_delay,
                ..defaults.governance.clone()
            },
            ..defaults
        }
    }
}

/// Deploys or reuses the suite on `rpc_url` and writes the record; returns it and its path.
pub(crate) async fn deploy_and_record(
    rpc_url: &str,
    key: &SecretKey,
    network: Option<&str>,
    dir: &std::path::Path,
    params: SuiteParams,
) -> eyre::Result<(Deployment, PathBuf)> {
    let signer = key.signer()?;
    let deployer = signer.address();
    let provider = nsed_contracts::provider::wallet_provider(
        rpc_url.parse().wrap_err_with(|| format!("`{rpc_url}` is not a URL"))?,
        signer,
    );
    let chain_id = provider
        .get_chain_id()
        .await
        .wrap_err_with(|| format!("no JSON-RPC answer from {rpc_url}"))?;
    let network = network.map(str::to_string).unwrap_or_else(|| {
        if chain_id == 31337 { "local".into() } else { format!("chain-{chain_id}") }
    });
    let path = dir.join(format!("{network}.json"));
    let existing = if path.exists() { Some(Deployment::load(&path)?) } else { None };
    let record = deploy_suite(&provider, deployer, &network, params, existing.as_ref()).await?;
    record.save(&path)?;
    Ok((record, path))
}

impl DeployArgs {
    /// Runs `nsed deploy`.
    ///
    /// # Errors
    ///
    /// When the chain is unreachable, a deployment fails, or the record cannot be written.
    pub async fn run(self) -> eyre::Result<()> {
        let (record, path) = deploy_and_record(
            &self.rpc_url,
            &self.private_key,
            self.network.as_deref(),
            &self.deployments_dir,
            self.params.params(),
        )
        .await?;
        for (name, contract) in &record.contracts {
            out!("{name:<20} {} (block {})", contract.address, contract.block_number);
        }
        out!("record               {}", path.display());
        for call in &record.pending {
            out!("needs governance     {} (to {}, calldata {})", call.what, call.target, call.data);
        }
        Ok(())
    }
}
