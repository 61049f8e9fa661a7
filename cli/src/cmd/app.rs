//! `nsed app`: serve the web app (docs/app.md) for a deployment, its chain and its indexer.

use std::path::PathBuf;

use crate::{
    app_server::{AppOpts, AppServer},
    opts::{LOCAL_DEPLOYMENT, RpcOpts},
    output::{self, out},
    signal,
};

/// The chain `nsed app` points wallets at without `--rpc-url` or `NSED_RPC_URL`: a local node.
const LOCAL_RPC_URL: &str = "http://127.0.0.1:8545";

/// Arguments of `nsed app`.
#[derive(Debug, Clone, clap::Args)]
pub struct AppArgs {
    /// Deployment record whose chain id and contract addresses the app uses.
    #[arg(long, value_name = "PATH", default_value = LOCAL_DEPLOYMENT)]
    pub deployment: PathBuf,
    /// The indexer's GraphQL URL (what `nsed indexer` prints), which the app reads jobs,
    /// rounds and agents from.
    #[arg(long, value_name = "URL")]
    pub graphql_url: String,
    /// The chain (`--rpc-url` or `NSED_RPC_URL`) [default: http://127.0.0.1:8545].
    #[command(flatten)]
    pub rpc: RpcOpts,
    /// Web app settings.
    #[command(flatten)]
    pub opts: AppOpts,
}

impl AppArgs {
    /// Serves the app until SIGINT or SIGTERM; prints its URL on stdout once listening
    /// (`{"app": URL}` under `--json`).
    ///
    /// # Errors
    ///
    /// When the record cannot be read, the bundle is not built or the address cannot be bound.
    pub async fn run(self) -> eyre::Result<()> {
        let rpc_url = self.rpc.url_with_env().unwrap_or_else(|| LOCAL_RPC_URL.to_string());
        let record = super::load_deployment(&self.deployment)?;
        let shutdown = signal::shutdown_token();
        let config = self.opts.config(record, &rpc_url, &self.graphql_url);
        let mut server = AppServer::start(config, shutdown.child_token()).await?;
        if output::is_json() {
            output::json(&serde_json::json!({ "app": server.url() }));
        } else {
            out!("{}", server.url());
        }
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = server.stopped() => {}
        }
        server.shutdown().await
    }
}
