//! `nsed keeper`: follow a deployment's market, deliberate its jobs over NATS and settle them.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use alloy::primitives::Address;
use nsed_contracts::tx::LandPolicy;
use nsed_deploy::MARKET;
use nsed_keeper::{Keeper, KeeperConfig};

use crate::{
    opts::{LOCAL_DEPLOYMENT, NatsOpts, RpcOpts, WalletOpts},
    signal,
};

/// Arguments of `nsed keeper`.
#[derive(Debug, Clone, clap::Args)]
pub struct KeeperArgs {
    /// Deployment record to follow (market address and start block).
    #[arg(long, value_name = "PATH", default_value = LOCAL_DEPLOYMENT)]
    pub deployment: PathBuf,
    /// The chain (`--rpc-url` or `NSED_RPC_URL`); several endpoints of it to fail over between.
    #[command(flatten)]
    pub rpc: RpcOpts,
    /// The keeper's key; the account needs the market's KEEPER_ROLE.
    #[command(flatten)]
    pub wallet: WalletOpts,
    /// The NATS server the agents listen on, and the keeper's credentials for it.
    #[command(flatten)]
    pub nats: NatsOpts,
    /// Keeper tuning.
    #[command(flatten)]
    pub opts: KeeperOpts,
}

/// The keeper library's defaults, which the flags' defaults are.
fn defaults() -> KeeperConfig {
    KeeperConfig::new("", NatsOpts::default().connect(), Address::ZERO)
}

/// Keeper tuning flags; their defaults are [`KeeperConfig::new`]'s.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Keeper")]
pub struct KeeperOpts {
    /// Blocks a request must be buried under before the keeper acts.
    #[arg(long = "keeper.confirmations", value_name = "N", default_value_t = defaults().confirmations)]
    pub confirmations: u64,
    /// Most blocks per eth_getLogs call.
    #[arg(long = "keeper.log-window", value_name = "N", default_value_t = defaults().log_window)]
    pub log_window: u64,
    /// SQLite database of the keeper's cursor and jobs.
    #[arg(long = "keeper.db", value_name = "PATH", default_value_os_t = defaults().db_path)]
    pub db: PathBuf,
    /// Serve /health and /metrics here.
    #[arg(long = "keeper.metrics-addr", value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Milliseconds a phase waits for agents' answers.
    #[arg(long = "keeper.phase-timeout-ms", value_name = "MS", default_value_t = millis(defaults().phase_timeout))]
    pub phase_timeout_ms: u64,
    /// Milliseconds between iterations.
    #[arg(long = "keeper.poll-ms", value_name = "MS", default_value_t = millis(defaults().poll_interval))]
    pub poll_ms: u64,
    /// Most jobs worked on at once (claims, rounds and settlements of different jobs overlap;
    /// one signing account sends their transactions in turn).
    #[arg(long = "keeper.max-in-flight", value_name = "N", default_value_t = defaults().max_in_flight as u64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_in_flight: u64,
    /// Milliseconds a transaction may wait to be mined before it is replaced with higher fees
    /// (same nonce and call).
    #[arg(long = "keeper.tx-attempt-ms", value_name = "MS", default_value_t = millis(defaults().land.attempt_timeout), value_parser = clap::value_parser!(u64).range(1..))]
    pub tx_attempt_ms: u64,
    /// Most replacements of one transaction; after the last one's wait the send fails and the
    /// job's step is retried later.
    #[arg(long = "keeper.tx-max-replacements", value_name = "N", default_value_t = defaults().land.max_replacements)]
    pub tx_max_replacements: u32,
    /// Percent each replacement raises both EIP-1559 fees by (at least 10, what geth and reth
    /// require).
    #[arg(long = "keeper.tx-fee-bump-percent", value_name = "PERCENT", default_value_t = defaults().land.fee_bump_percent, value_parser = clap::value_parser!(u32).range(10..=1000))]
    pub tx_fee_bump_percent: u32,
}

impl Default for KeeperOpts {
    fn default() -> Self {
        let d = defaults();
        Self {
            confirmations: d.confirmations,
            log_window: d.log_window,
            db: d.db_path,
            metrics_addr: d.metrics_addr,
            phase_timeout_ms: millis(d.phase_timeout),
            poll_ms: millis(d.poll_interval),
            max_in_flight: d.max_in_flight as u64,
            tx_attempt_ms: millis(d.land.attempt_timeout),
            tx_max_replacements: d.land.max_replacements,
            tx_fee_bump_percent: d.land.fee_bump_percent,
        }
    }
}

/// `d` in whole milliseconds (saturating: no flag takes half a billion years).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl KeeperOpts {
    /// Writes these settings into `config`.
    fn apply(&self, config: &mut KeeperConfig) {
        config.confirmations = self.confirmations;
        config.log_window = self.log_window;
        config.db_path = self.db.clone();
        config.metrics_addr = self.metrics_addr;
        config.phase_timeout = Duration::from_millis(self.phase_timeout_ms);
        config.poll_interval = Duration::from_millis(self.poll_ms);
        config.max_in_flight = usize::try_from(self.max_in_flight).unwrap_or(usize::MAX);
        config.land = LandPolicy {
            attempt_timeout: Duration::from_millis(self.tx_attempt_ms),
            max_replacements: self.tx_max_replacements,
            fee_bump_percent: self.tx_fee_bump_percent,
        };
    }
}

impl KeeperArgs {
    /// Runs the keeper until SIGINT or SIGTERM.
    ///
    /// # Errors
    ///
    /// When the record, chain, NATS or database cannot be used.
    pub async fn run(self) -> eyre::Result<()> {
        let mut rpc_urls = self.rpc.try_urls_with_env()?.into_iter();
        let rpc_url = rpc_urls.next().expect("at least one endpoint");
        let signer = self.wallet.try_signer()?;
        let record = super::load_deployment(&self.deployment)?;
        let mut config = KeeperConfig::new(&rpc_url, self.nats.connect(), record.address(MARKET)?);
        // Fail over to the others, in the order given.
        config.fallback_rpc_urls = rpc_urls.collect();
        config.start_block = record.start_block;
        self.opts.apply(&mut config);
        let shutdown = signal::shutdown_token();
        Keeper::new(config, signer).run(shutdown).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opts::CommandParser;
    use clap::Parser;

    #[test]
    fn no_flags_parse_to_the_keeper_library_defaults() {
        let parsed = CommandParser::<KeeperOpts>::parse_from(["nsed"]).args;
        assert_eq!(parsed, KeeperOpts::default());
        let mut config = defaults();
        config.start_block = 7;
        let expected = format!("{config:?}");
        parsed.apply(&mut config);
        assert_eq!(format!("{config:?}"), expected);
    }

    #[test]
    fn repeated_rpc_urls_are_endpoints_to_fail_over_to() {
        let cli = crate::Cli::try_parse_from([
            "nsed",
            "keeper",
            "--rpc-url",
            "http://a:8545",
            "--rpc-url",
            "http://b:8545",
        ])
        .unwrap();
        let crate::Commands::Keeper(args) = cli.command else { panic!("parsed as keeper") };
        assert_eq!(args.rpc.try_urls_with_env().unwrap(), ["http://a:8545", "http://b:8545"]);
    }
}
