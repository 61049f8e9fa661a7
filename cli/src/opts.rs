//! Option groups shared by several subcommands, flattened into their `<Name>Args` under their own
//! help heading, and the redacting [`SecretKey`].
//!
//! No group binds `ETH_RPC_URL`: a stray environment variable must never point a command that
//! sends transactions at a real network (foundry's rule). Commands that only make sense against an
//! existing chain resolve `NSED_RPC_URL` explicitly ([`RpcOpts::url_with_env`]); `nsed up` never
//! does.

use std::{fmt, iter, path::PathBuf};

use alloy::{
    primitives::{Address, U256},
    signers::local::PrivateKeySigner,
};
use eyre::{WrapErr, eyre};
use nsed_bus::NatsConnect;
use nsed_deploy::{Genesis, GovernanceParams, SuiteParams};
use nsed_inference_worker::WorkerConfig;

/// Where deployment records are kept unless `--deployments-dir` says otherwise.
pub const DEPLOYMENTS_DIR: &str = "deployments";

/// The record `nsed keeper` and `nsed indexer` follow unless `--deployment` says otherwise (the
/// one `nsed deploy` writes on a local dev chain).
pub const LOCAL_DEPLOYMENT: &str = "deployments/local.json";

/// Where the digit classifiers live unless `--models-dir` / `NSED_MODELS_DIR` say otherwise.
pub const MODELS_DIR: &str = "models";

/// The environment variable `nsed deploy`, `nsed keeper`, `nsed indexer` and `nsed agent` read
/// when `--rpc-url` is absent.
pub const RPC_URL_ENV: &str = "NSED_RPC_URL";

/// Which chain to talk to.
///
/// `--rpc-url` may be given several times: the first is [`RpcOpts::rpc_url`], the others
/// [`RpcOpts::fallback_rpc_urls`], endpoints of the same chain that `nsed keeper` fails over to
/// (the other commands use the first only). `Args` is written out because clap derives one field
/// per flag, and `nsed up` and most commands want the first endpoint alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpcOpts {
    /// JSON-RPC endpoint. `nsed deploy`, `keeper`, `indexer` and `agent` fall back to
    /// `NSED_RPC_URL`; `nsed up` starts a local anvil without it and never reads the environment,
    /// so a stray variable cannot point the demo at a real network.
    pub rpc_url: Option<String>,
    /// The endpoints given after the first `--rpc-url`.
    pub fallback_rpc_urls: Vec<String>,
}

const RPC_URL_ID: &str = "rpc_url";

impl clap::FromArgMatches for RpcOpts {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut opts = Self::default();
        opts.update_from_arg_matches(matches)?;
        Ok(opts)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        if let Some(urls) = matches.get_many::<String>(RPC_URL_ID) {
            let mut urls = urls.cloned();
            self.rpc_url = urls.next();
            self.fallback_rpc_urls = urls.collect();
        }
        Ok(())
    }
}

impl clap::Args for RpcOpts {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.next_help_heading("Chain").arg(
            clap::Arg::new(RPC_URL_ID)
                .long("rpc-url")
                .value_name("URL")
                .action(clap::ArgAction::Append)
                .help(
                    "JSON-RPC endpoint; repeat it to give `nsed keeper` endpoints to fail over to \
                     (the other commands use the first)",
                )
                .long_help(
                    "JSON-RPC endpoint. Repeat it to give `nsed keeper` further endpoints of the \
                     same chain to fail over to; the other commands use the first. `nsed deploy`, \
                     `keeper`, `indexer` and `agent` fall back to NSED_RPC_URL (several endpoints \
                     separated by commas); `nsed up` starts a local anvil without it and never \
                     reads the environment, so a stray variable cannot point the demo at a real \
                     network.",
                ),
        )
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl RpcOpts {
    /// `--rpc-url`, else the first endpoint of `NSED_RPC_URL`.
    pub fn url_with_env(&self) -> Option<String> {
        self.urls_with_env().into_iter().next()
    }

    /// Every `--rpc-url` in order, else the comma-separated endpoints of `NSED_RPC_URL`; empty
    /// when neither is set.
    pub fn urls_with_env(&self) -> Vec<String> {
        match &self.rpc_url {
            Some(first) => {
                iter::once(first.clone()).chain(self.fallback_rpc_urls.clone()).collect()
            }
            None => std::env::var(RPC_URL_ENV).map(|urls| split_urls(&urls)).unwrap_or_default(),
        }
    }

    /// `--rpc-url`, else `NSED_RPC_URL`, else an error that says how to give one.
    ///
    /// # Errors
    ///
    /// When neither is set.
    pub fn try_url_with_env(&self) -> eyre::Result<String> {
        self.url_with_env()
            .ok_or_else(|| eyre!("no chain to talk to: pass `--rpc-url` or set {RPC_URL_ENV}"))
    }

    /// [`RpcOpts::urls_with_env`], or an error that says how to give an endpoint.
    ///
    /// # Errors
    ///
    /// When neither is set.
    pub fn try_urls_with_env(&self) -> eyre::Result<Vec<String>> {
        let urls = self.urls_with_env();
        if urls.is_empty() {
            return Err(eyre!("no chain to talk to: pass `--rpc-url` or set {RPC_URL_ENV}"));
        }
        Ok(urls)
    }
}

/// The endpoints of a comma-separated list, trimmed, empty ones left out.
fn split_urls(urls: &str) -> Vec<String> {
    urls.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect()
}

/// Who signs transactions.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Wallet")]
pub struct WalletOpts {
    /// Private key (hex) of the account that signs and pays for transactions.
    #[arg(long, value_name = "HEX", env = "NSED_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: Option<SecretKey>,
}

impl WalletOpts {
    /// The signer of `--private-key` / `NSED_PRIVATE_KEY`.
    ///
    /// # Errors
    ///
    /// When no key is given or it is malformed (the error never repeats the key).
    pub fn try_signer(&self) -> eyre::Result<PrivateKeySigner> {
        self.private_key
            .as_ref()
            .ok_or_else(|| {
                eyre!("no key to sign with: pass `--private-key` or set NSED_PRIVATE_KEY")
            })?
            .signer()
    }
}

/// Which NATS server to use, and how to authenticate to it (docs/nats-auth.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "NATS")]
pub struct NatsOpts {
    /// NATS server URL (JetStream enabled), or the URLs of a cluster's servers separated by
    /// commas, any of which the client may use [default: nats://127.0.0.1:4222; `nsed up`
    /// starts its own nats-server instead].
    #[arg(long, value_name = "URL", env = "NATS_URL")]
    pub nats_url: Option<String>,
    /// This service's NATS credentials, needed when the server has authentication on: an NKey
    /// user seed file (`nsed nats init`, `add-agent` and `add-keeper` write them as
    /// <DIR>/creds/<user>.nk) or a NATS .creds file.
    #[arg(long = "nats.creds", value_name = "FILE", env = "NSED_NATS_CREDS")]
    pub creds: Option<PathBuf>,
    /// CA bundle (PEM) that signed the server's TLS certificate, trusted instead of the system's
    /// roots; giving it requires TLS.
    #[arg(long = "nats.tls-ca", value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for a server that verifies clients (`nsed nats init
    /// --tls-verify`); needs `--nats.tls-key` and requires TLS.
    #[arg(long = "nats.tls-cert", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of `--nats.tls-cert`.
    #[arg(long = "nats.tls-key", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Replicas of the NSED streams, 1 to 5, each on its own server of a JetStream cluster (3
    /// tolerates the loss of one server) [default: 1 for streams this creates; existing streams
    /// are used with whatever count they have]. Given, an existing stream with another count is
    /// an error: nsed never changes it.
    #[arg(
        long = "nats.replicas",
        value_name = "N",
        env = "NSED_NATS_REPLICAS",
        value_parser = clap::value_parser!(u8).range(1..=5)
    )]
    pub replicas: Option<u8>,
}

impl NatsOpts {
    /// `--nats-url` / `NATS_URL`, else the library default (a local server).
    pub fn url_or_default(&self) -> String {
        self.nats_url.clone().unwrap_or_else(|| WorkerConfig::default().nats.url().to_owned())
    }

    /// How to connect: the URL ([`NatsOpts::url_or_default`]) with the credentials, TLS files
    /// and replica count given.
    pub fn connect(&self) -> NatsConnect {
        self.connect_to(self.url_or_default())
    }

    /// As [`NatsOpts::connect`], to `url` instead of the flags' URL.
    pub fn connect_to(&self, url: impl Into<String>) -> NatsConnect {
        let mut connect = NatsConnect::new(url);
        if let Some(creds) = &self.creds {
            connect = connect.with_creds(creds);
        }
        if let Some(ca) = &self.tls_ca {
            connect = connect.with_tls_ca(ca);
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            connect = connect.with_tls_client(cert, key);
        }
        if let Some(replicas) = self.replicas {
            connect = connect.with_replicas(replicas.into());
        }
        connect
    }
}

/// Tunable parameters of the contract suite (`nsed deploy`, `nsed up`); defaults are
/// [`SuiteParams::default`]'s.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Suite parameters")]
pub struct SuiteOpts {
    /// Keeper granted the market's KEEPER_ROLE while the suite is bootstrapped (repeatable);
    /// later keepers are granted by governance.
    #[arg(long = "suite.keeper", value_name = "ADDRESS")]
    pub keepers: Vec<Address>,
    /// Require keepers to be active authority nodes of the suite's AuthorityRegistry.
    #[arg(long = "suite.require-authority-keepers")]
    pub require_authority_keepers: bool,
    /// Seconds after a claim from which another keeper may re-claim the job (the market's claim
    /// timeout): long enough for any deliberation, short enough that a stopped keeper's jobs are
    /// taken over well before their deadlines.
    #[arg(long = "suite.claim-timeout-secs", value_name = "SECONDS", default_value_t = SuiteParams::default().claim_timeout, value_parser = clap::value_parser!(u32).range(1..))]
    pub claim_timeout_secs: u32,
    /// Seconds the guild timelock holds a passed proposal before it can execute.
    #[arg(long = "suite.timelock-delay-secs", value_name = "SECONDS", default_value_t = SuiteParams::default().governance.timelock_delay)]
    pub timelock_delay_secs: u64,
    /// Keeper fee in basis points of each bounty.
    #[arg(long = "suite.keeper-fee-bps", value_name = "BPS", default_value_t = SuiteParams::default().keeper_fee_bps)]
    pub keeper_fee_bps: u16,
    /// Guild fee in basis points of each bounty.
    #[arg(long = "suite.guild-fee-bps", value_name = "BPS", default_value_t = SuiteParams::default().guild_fee_bps)]
    pub guild_fee_bps: u16,
    /// Seconds a requester may dispute a delivered job.
    #[arg(long = "suite.challenge-window-secs", value_name = "SECONDS", default_value_t = SuiteParams::default().challenge_window)]
    pub challenge_window_secs: u64,
    /// The arena's smallest join fee per seat of a rank-1 game, in base units of the bounty token
    /// (18 decimals; the default is 0.01 token). A rank-R game charges at least 2^(R-1) times it,
    /// so every LAT value unit the arena mints costs at least twice it in fees, and a guild token
    /// converted from arena LATs at least 2 · p0 times it. Fixed at the arena's deployment.
    #[arg(long = "suite.arena-min-join-fee", value_name = "BASE_UNITS", default_value_t = SuiteParams::default().arena_min_join_fee)]
    pub arena_min_join_fee: U256,
    /// JSON file of the tokens' initial balances, in whole tokens:
    /// `{"guild": [{"holder": "0x…", "amount": 600000}, …], "bounty": [{"holder": "0x…", "amount":
    /// 1000}]}`. The guild list is the GUILD genesis (required outside a local dev chain, chain
    /// 31337, where it defaults to 1,000,000 to the deployer); outside a dev chain the bounty token
    /// mints the bounty list and renounces its owner, so the deployer can mint neither token.
    #[arg(long = "suite.genesis", value_name = "FILE", env = "NSED_SUITE_GENESIS")]
    pub genesis: Option<PathBuf>,
}

impl Default for SuiteOpts {
    fn default() -> Self {
        let d = SuiteParams::default();
        Self {
            keepers: d.keepers,
            require_authority_keepers: d.require_authority_keepers,
            claim_timeout_secs: d.claim_timeout,
            timelock_delay_secs: d.governance.timelock_delay,
            keeper_fee_bps: d.keeper_fee_bps,
            guild_fee_bps: d.guild_fee_bps,
            challenge_window_secs: d.challenge_window,
            arena_min_join_fee: d.arena_min_join_fee,
            genesis: None,
        }
    }
}

impl SuiteOpts {
    /// The suite parameters these flags set, the rest at their defaults.
    ///
    /// # Errors
    ///
    /// When the `--suite.genesis` file cannot be read or is not a genesis document.
    pub fn try_params(&self) -> eyre::Result<SuiteParams> {
        let defaults = SuiteParams::default();
        let genesis = match &self.genesis {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .wrap_err_with(|| format!("cannot read the genesis file {}", path.display()))?;
                serde_json::from_str::<Genesis>(&text).wrap_err_with(|| {
                    format!(
                        "{} is not a genesis document (see `nsed deploy --help`)",
                        path.display()
                    )
                })?
            }
            None => defaults.genesis.clone(),
        };
        Ok(SuiteParams {
            keeper_fee_bps: self.keeper_fee_bps,
            guild_fee_bps: self.guild_fee_bps,
            challenge_window: self.challenge_window_secs,
            keepers: self.keepers.clone(),
            require_authority_keepers: self.require_authority_keepers,
            claim_timeout: self.claim_timeout_secs,
            arena_min_join_fee: self.arena_min_join_fee,
            governance: GovernanceParams {
                timelock_delay: self.timelock_delay_secs,
                ..defaults.governance.clone()
            },
            genesis,
            ..defaults
        })
    }
}

/// A private key from the command line or environment; never printed.
#[derive(Clone, PartialEq, Eq)]
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

impl From<&PrivateKeySigner> for SecretKey {
    fn from(signer: &PrivateKeySigner) -> Self {
        Self(format!("0x{}", alloy::hex::encode(signer.to_bytes())))
    }
}

impl SecretKey {
    /// The signer this key stands for.
    ///
    /// # Errors
    ///
    /// When the text is not a 32-byte hex secp256k1 key; the message never repeats it.
    pub fn signer(&self) -> eyre::Result<PrivateKeySigner> {
        self.0.parse().map_err(|_| eyre!("the private key is not a 32-byte hex secp256k1 key"))
    }
}

/// A bare command around one option group, so tests parse a group on its own (e.g. no flags
/// at all, to compare with the library defaults).
#[cfg(test)]
#[derive(Debug, clap::Parser)]
pub(crate) struct CommandParser<T: clap::Args> {
    #[command(flatten)]
    pub(crate) args: T,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn a_secret_key_never_shows_in_debug_output() {
        let key: SecretKey =
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80".parse().unwrap();
        let shown = format!("{key:?} {:?}", WalletOpts { private_key: Some(key.clone()) });
        assert!(!shown.contains("ac0974"), "{shown}");
        assert!(key.signer().is_ok());
    }

    #[test]
    fn a_malformed_key_is_rejected_without_repeating_it() {
        let key: SecretKey = "0xnot-a-secret".parse().unwrap();
        let err = key.signer().unwrap_err().to_string();
        assert!(!err.contains("not-a-secret"), "{err}");
    }

    #[test]
    fn repeated_rpc_urls_are_the_first_and_its_fallbacks() {
        let parsed = CommandParser::<RpcOpts>::try_parse_from([
            "nsed",
            "--rpc-url",
            "http://a:8545",
            "--rpc-url",
            "http://b:8545",
            "--rpc-url",
            "http://c:8545",
        ])
        .unwrap()
        .args;
        assert_eq!(parsed.rpc_url.as_deref(), Some("http://a:8545"));
        assert_eq!(parsed.fallback_rpc_urls, ["http://b:8545", "http://c:8545"]);
        assert_eq!(parsed.url_with_env().as_deref(), Some("http://a:8545"));
        assert_eq!(parsed.urls_with_env(), ["http://a:8545", "http://b:8545", "http://c:8545"]);
    }

    #[test]
    fn comma_separated_endpoints_split_and_trim() {
        assert_eq!(
            split_urls(" http://a:8545 ,http://b:8545,, "),
            ["http://a:8545", "http://b:8545"]
        );
        assert!(split_urls("").is_empty());
    }

    #[test]
    fn rpc_url_is_never_read_from_eth_rpc_url() {
        let parsed = CommandParser::<RpcOpts>::try_parse_from(["nsed"]).unwrap().args;
        assert_eq!(parsed, RpcOpts::default());
        let help = CommandParser::<RpcOpts>::command_for_help();
        assert!(!help.contains("ETH_RPC_URL"), "{help}");
    }

    #[test]
    fn no_flags_parse_to_the_defaults() {
        assert_eq!(CommandParser::<WalletOpts>::parse_from(["nsed"]).args, WalletOpts::default());
        let nats = CommandParser::<NatsOpts>::parse_from(["nsed"]).args;
        assert_eq!(nats, NatsOpts::default());
        assert_eq!(nats.connect(), WorkerConfig::default().nats);
        let suite = CommandParser::<SuiteOpts>::parse_from(["nsed"]).args;
        assert_eq!(suite, SuiteOpts::default());
        assert_eq!(suite.try_params().unwrap(), SuiteParams::default());
    }

    #[test]
    fn the_arena_fee_floor_flag_sets_the_suite_parameter() {
        let suite = CommandParser::<SuiteOpts>::try_parse_from([
            "nsed",
            "--suite.arena-min-join-fee",
            "100000000000000000",
        ])
        .unwrap()
        .args;
        let params = suite.try_params().unwrap();
        assert_eq!(params.arena_min_join_fee, U256::from(10u64).pow(U256::from(17)));
        assert_eq!(
            params,
            SuiteParams { arena_min_join_fee: params.arena_min_join_fee, ..SuiteParams::default() }
        );
    }

    #[test]
    fn nats_flags_become_the_connection_options() {
        let parsed = CommandParser::<NatsOpts>::try_parse_from([
            "nsed",
            "--nats-url",
            "nats://10.0.0.1:4222",
            "--nats.creds",
            "creds/keeper.nk",
            "--nats.tls-ca",
            "ca.pem",
            "--nats.tls-cert",
            "client.pem",
            "--nats.tls-key",
            "client-key.pem",
        ])
        .unwrap()
        .args;
        let expected = NatsConnect::new("nats://10.0.0.1:4222")
            .with_creds("creds/keeper.nk")
            .with_tls_ca("ca.pem")
            .with_tls_client("client.pem", "client-key.pem");
        assert_eq!(parsed.connect(), expected);
        let parsed =
            CommandParser::<NatsOpts>::try_parse_from(["nsed", "--nats.replicas", "3"]).unwrap();
        assert_eq!(parsed.args.connect().replicas(), Some(3));
        for bad in ["0", "6", "three"] {
            let err = CommandParser::<NatsOpts>::try_parse_from(["nsed", "--nats.replicas", bad])
                .unwrap_err()
                .to_string();
            assert!(err.contains("--nats.replicas"), "{err}");
        }
        // A client certificate needs its key, and the other way round.
        for flag in ["--nats.tls-cert", "--nats.tls-key"] {
            assert!(CommandParser::<NatsOpts>::try_parse_from(["nsed", flag, "x.pem"]).is_err());
        }
    }

    impl<T: clap::Args> CommandParser<T> {
        fn command_for_help() -> String {
            use clap::CommandFactory;
            Self::command().render_long_help().to_string()
        }
    }
}
