//! `nsed indexer`: follow a deployment's contracts into SQLite or PostgreSQL and serve a
//! subgraph-like GraphQL API (GraphiQL in the browser at the same URL); with
//! `--indexer.serve-only`, serve the API from a database another `nsed indexer` ingests into.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use eyre::WrapErr;
use nsed_deploy::Deployment;
use nsed_indexer::{Indexer, IndexerConfig};

use crate::{
    opts::{LOCAL_DEPLOYMENT, RpcOpts},
    output::{self, out},
    signal,
};

/// The chain `nsed indexer` follows without `--rpc-url` or `NSED_RPC_URL`: a local node.
const LOCAL_RPC_URL: &str = "http://127.0.0.1:8545";

/// Arguments of `nsed indexer`.
#[derive(Debug, Clone, clap::Args)]
pub struct IndexerArgs {
    /// Deployment record to follow (contracts, their blocks, chain id).
    #[arg(long, value_name = "PATH", default_value = LOCAL_DEPLOYMENT)]
    pub deployment: PathBuf,
    /// The chain (`--rpc-url` or `NSED_RPC_URL`) [default: http://127.0.0.1:8545].
    #[command(flatten)]
    pub rpc: RpcOpts,
    /// Indexer settings.
    #[command(flatten)]
    pub opts: IndexerOpts,
}

/// The indexer library's defaults, which the flags' defaults are.
fn defaults() -> IndexerConfig {
    IndexerConfig::new(LOCAL_RPC_URL, Deployment::default())
}

/// Indexer flags; their defaults are [`IndexerConfig::new`]'s.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Indexer")]
pub struct IndexerOpts {
    /// Database of indexed logs and entities: a SQLite file (created if missing), or a PostgreSQL
    /// database as postgres://user:password@host:port/database (also postgresql://).
    #[arg(long = "indexer.db", value_name = "PATH|URL", env = "NSED_INDEXER_DB", default_value_os_t = defaults().db_path)]
    pub db: PathBuf,
    /// Serve GraphQL from --indexer.db without following the chain (another `nsed indexer`
    /// ingests into it); run several against one PostgreSQL database to scale the API.
    #[arg(long = "indexer.serve-only", env = "NSED_INDEXER_SERVE_ONLY")]
    pub serve_only: bool,
    /// Most pooled PostgreSQL connections for queries.
    #[arg(long = "indexer.pool-size", value_name = "N", default_value_t = defaults().pool_size)]
    pub pool_size: usize,
    /// Address the GraphQL server listens on (port 0 picks a free port).
    #[arg(long = "indexer.listen", value_name = "ADDR", env = "NSED_INDEXER_LISTEN", default_value_t = defaults().listen)]
    pub listen: SocketAddr,
    /// Blocks a log must be buried under before it is indexed.
    #[arg(long = "indexer.confirmations", value_name = "N", default_value_t = defaults().confirmations)]
    pub confirmations: u64,
    /// Milliseconds between polls for new blocks once caught up.
    #[arg(long = "indexer.poll-ms", value_name = "MS", default_value_t = millis(defaults().poll_interval))]
    pub poll_ms: u64,
    /// Most blocks per eth_getLogs call.
    #[arg(long = "indexer.log-window", value_name = "N", default_value_t = defaults().log_window)]
    pub log_window: u64,
}

impl Default for IndexerOpts {
    fn default() -> Self {
        let d = defaults();
        Self {
            db: d.db_path,
            serve_only: d.serve_only,
            pool_size: d.pool_size,
            listen: d.listen,
            confirmations: d.confirmations,
            poll_ms: millis(d.poll_interval),
            log_window: d.log_window,
        }
    }
}

/// `d` in whole milliseconds (saturating).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl IndexerOpts {
    /// Writes these settings into `config`.
    fn apply(&self, config: &mut IndexerConfig) {
        config.db_path = self.db.clone();
        config.serve_only = self.serve_only;
        config.pool_size = self.pool_size;
        config.listen = self.listen;
        config.confirmations = self.confirmations;
        config.poll_interval = Duration::from_millis(self.poll_ms.max(1));
        config.log_window = self.log_window;
    }
}

impl IndexerArgs {
    /// Runs the indexer until SIGINT or SIGTERM; prints the GraphQL URL on stdout once listening
    /// (`{"graphql": URL}` under `--json`).
    ///
    /// # Errors
    ///
    /// When the record, chain, database or listen address cannot be used, or indexing fails.
    pub async fn run(self) -> eyre::Result<()> {
        let rpc_url = self.rpc.url_with_env().unwrap_or_else(|| LOCAL_RPC_URL.to_string());
        let record = super::load_deployment(&self.deployment)?;
        let mut config = IndexerConfig::new(&rpc_url, record);
        self.opts.apply(&mut config);
        let db = config.db_display();
        let what = if config.serve_only { "serve-only indexer" } else { "indexer" };
        let mut handle = Indexer::start(config)
            .await
            .wrap_err_with(|| format!("starting the {what} on {rpc_url} with database {db}"))?;
        if output::is_json() {
            output::json(&serde_json::json!({ "graphql": handle.graphql_url() }));
        } else {
            out!("{}", handle.graphql_url());
        }
        let shutdown = signal::shutdown_token();
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = handle.stopped() => {}
        }
        handle.shutdown().await.wrap_err("indexer failed")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opts::CommandParser;
    use clap::Parser;

    #[test]
    fn serve_only_and_a_postgres_url_parse() {
        let parsed = CommandParser::<IndexerOpts>::parse_from([
            "nsed",
            "--indexer.db",
            "postgres://idx:pw@db:5432/nsed",
            "--indexer.serve-only",
            "--indexer.pool-size",
            "4",
        ])
        .args;
        let mut config = defaults();
        parsed.apply(&mut config);
        assert!(config.serve_only);
        assert_eq!(config.pool_size, 4);
        assert_eq!(config.db_display(), "postgres://idx@db:5432/nsed");
    }

    #[test]
    fn no_flags_parse_to_the_indexer_library_defaults() {
        let parsed = CommandParser::<IndexerOpts>::parse_from(["nsed"]).args;
        assert_eq!(parsed, IndexerOpts::default());
        let mut config = defaults();
        let expected = format!("{config:?}");
        parsed.apply(&mut config);
        assert_eq!(format!("{config:?}"), expected);
    }
}
