//! `nsed keeper`: follow a deployment's market, deliberate its jobs over NATS and settle them.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use eyre::WrapErr;
use nsed_deploy::{Deployment, MARKET};
use nsed_keeper::{Keeper, KeeperConfig};
use tokio_util::sync::CancellationToken;

use super::{up::SecretKey, worker::cancel_on_signal};

/// Arguments of `nsed keeper`.
#[derive(Debug, Clone, clap::Args)]
pub struct KeeperArgs {
    /// JSON-RPC endpoint.
    #[arg(long, value_name = "URL", env = "ETH_RPC_URL")]
    pub rpc_url: String,
    /// Keeper key (hex); the account needs the market's KEEPER_ROLE.
    #[arg(long, value_name = "HEX", env = "NSED_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: SecretKey,
    /// NATS server URL.
    #[arg(long, value_name = "URL", env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// Deployment record to follow (market address and start block).
    #[arg(long, value_name = "PATH", default_value = "deployments/local.json")]
    pub deployment: PathBuf,
    /// Keeper tuning.
    #[command(flatten)]
    pub opts: KeeperOpts,
}

/// Keeper tuning flags.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Keeper")]
pub struct KeeperOpts {
    /// Blocks a request must be buried under before the keeper acts.
    #[arg(long = "keeper.confirmations", value_name = "N", default_value_t = 0)]
    pub confirmations: u64,
    /// Most blocks per eth_getLogs call.
    #[arg(long = "keeper.log-window", value_name = "N", default_value_t = 1000)]
    pub log_window: u64,
    /// SQLite database of the keeper's cursor and jobs.
    #[arg(long = "keeper.db", value_name = "PATH", default_value = ".nsed/keeper.sqlite")]
    pub db: PathBuf,
    /// Serve /health and /metrics here.
    #[arg(long = "keeper.metrics-addr", value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Milliseconds a phase waits for agents' answers.
    #[arg(long = "keeper.phase-timeout-ms", value_name = "MS", default_value_t = 15_000)]
    pub phase_timeout_ms: u64,
    /// Milliseconds between iterations.
    #[arg(long = "keeper.poll-ms", value_name = "MS", default_value_t = 500)]
    pub poll_ms: u64,
}

impl KeeperOpts {
    pub(crate) fn apply(&self, config: &mut KeeperConfig) {
        config.confirmations = self.confirmations;
        config.log_window = self.log_window;
        config.db_path = self.db.clone();
        config.metrics_addr = self.metrics_addr;
        config.phase_timeout = Duration::from_millis(self.phase_timeout_ms);
        config.poll_interval = Duration::from_millis(self.poll_ms);
    }
}

impl KeeperArgs {
    /// Runs the keeper until SIGINT or SIGTERM.
    ///
    /// # Errors
    ///
    /// When the record, chain, NATS or database cannot be used.
    pub async fn run(self) -> eyre::Result<()> {
        let record = Deployment::load(&self.deployment)
            .wrap_err("run `nsed deploy` first, or pass --deployment")?;
        let mut config = KeeperConfig::new(&self.rpc_url, &self.nats_url, record.address(MARKET)?);
        config.start_block = record.start_block;
        self.opts.apply(&mut config);
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        Keeper::new(config, self.private_key.signer()?).run(shutdown).await?;
        Ok(())
    }
}
