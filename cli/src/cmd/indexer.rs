//! `nsed indexer`: follow a deployment's contracts into SQLite and serve a subgraph-like GraphQL
//! API (GraphiQL in the browser at the same URL).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use eyre::WrapErr;
use nsed_deploy::Deployment;
use nsed_indexer::{Indexer, IndexerConfig};
use tokio_util::sync::CancellationToken;

use super::worker::cancel_on_signal;
use crate::output::out;

/// Arguments of `nsed indexer`.
#[derive(Debug, Clone, clap::Args)]
pub struct IndexerArgs {
    /// Deployment record to follow (contracts, their blocks, chain id).
    #[arg(long, value_name = "PATH", default_value = "deployments/local.json")]
    pub deployment: PathBuf,
    /// JSON-RPC endpoint.
    #[arg(long, value_name = "URL", env = "ETH_RPC_URL", default_value = "http://127.0.0.1:8545")]
    pub rpc_url: String,
    /// SQLite database of indexed logs and entities (created if missing).
    #[arg(
        long,
        value_name = "PATH",
        env = "NSED_INDEXER_DB",
        default_value = ".nsed/indexer.sqlite"
    )]
    pub db: PathBuf,
    /// Address the GraphQL server listens on (port 0 picks a free port).
    #[arg(
        long,
        value_name = "ADDR",
        env = "NSED_INDEXER_LISTEN",
        default_value = "127.0.0.1:8000"
    )]
    pub listen: SocketAddr,
    /// Blocks a log must be buried under before it is indexed.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub confirmations: u64,
    /// Milliseconds between polls for new blocks once caught up.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub poll_interval: u64,
    /// Most blocks per eth_getLogs call.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub log_window: u64,
}

impl IndexerArgs {
    /// Runs the indexer until SIGINT or SIGTERM; prints the GraphQL URL on stdout once listening.
    ///
    /// # Errors
    ///
    /// When the record, chain, database or listen address cannot be used, or indexing fails.
    pub async fn run(self) -> eyre::Result<()> {
        let record = Deployment::load(&self.deployment).wrap_err_with(|| {
            format!(
                "run `nsed deploy` first, or pass --deployment (tried {})",
                self.deployment.display()
            )
        })?;
        let mut config = IndexerConfig::new(&self.rpc_url, record);
        config.db_path = self.db.clone();
        config.listen = self.listen;
        config.confirmations = self.confirmations;
        config.poll_interval = Duration::from_millis(self.poll_interval.max(1));
        config.log_window = self.log_window;
        let mut handle = Indexer::start(config).await.wrap_err_with(|| {
            format!("starting the indexer on {} with database {}", self.rpc_url, self.db.display())
        })?;
        out!("{}", handle.graphql_url());
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = handle.stopped() => {}
        }
        handle.shutdown().await.wrap_err("indexer failed")?;
        Ok(())
    }
}
