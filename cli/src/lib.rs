//! The `nsed` command line: argument parsing and one module per subcommand.
//!
//! `main.rs` only calls [`run`]. Every subcommand is a `<Name>Args` struct in `cmd/<name>.rs` with
//! an async `run`; the option groups several commands share are in [`opts`], signal handling in
//! [`signal`], and no command module imports another. Results go to stdout (text, or one JSON
//! document under `--json`), progress and logs to stderr, all through [`output`]. What a command
//! does lives in the library crates (`nsed-client`, `nsed-deploy`, `nsed-keeper`, ...).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

use clap::{Parser, Subcommand};

pub mod app_server;
pub mod cmd;
pub mod opts;
pub mod output;
pub mod signal;

/// NSED on chain: AI models deliberating by quadratic vote, settled on Ethereum.
#[derive(Debug, Parser)]
#[command(name = "nsed", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Options every subcommand takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Commands,
}

/// Options shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Display options")]
pub struct GlobalArgs {
    /// More log output on stderr (-v: debug, -vv: trace; `RUST_LOG` overrides it); errors also
    /// show where they happened.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print the result as one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The `nsed` subcommands.
#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Run the whole system locally: chain, NATS, contracts, three agents, a keeper and demo jobs.
    Up(cmd::up::UpArgs),
    /// Deploy (or reuse) the contract suite and write deployments/<network>.json.
    Deploy(cmd::deploy::DeployArgs),
    /// Follow a market's jobs, deliberate them over NATS and settle them on chain.
    Keeper(cmd::keeper::KeeperArgs),
    /// Index every contract's events into SQLite and serve a subgraph-like GraphQL API.
    Indexer(cmd::indexer::IndexerArgs),
    /// Run one inference agent: answer its NATS task queue with an ONNX model, signing results.
    Worker(cmd::worker::WorkerArgs),
    /// Register and bond agents in the agent registry, unbond, withdraw, take them out of
    /// service and back, and show where one stands (its owner's side).
    Agent(cmd::agent::AgentArgs),
    /// Manage NATS authentication: users with their seeds and permissions, the server's
    /// configuration, and the streams (docs/nats-auth.md).
    Nats(cmd::nats::NatsArgs),
    /// Serve the web app (wallets request and watch deliberations) for a deployment, its chain
    /// and its indexer's GraphQL API.
    App(cmd::app::AppArgs),
}

/// Parses the command line, sets up logging and runs the chosen subcommand.
///
/// # Errors
///
/// Whatever the subcommand reports; `main` prints the chain of causes.
pub async fn run() -> eyre::Result<()> {
    let cli = Cli::parse();
    output::init(output::OutputMode {
        json: cli.global.json,
        verbose: cli.global.verbose,
        quiet: cli.global.quiet,
    });
    init_tracing(&cli.global);
    match cli.command {
        Commands::Up(args) => args.run().await,
        Commands::Worker(args) => args.run().await,
        Commands::Deploy(args) => args.run().await,
        Commands::Keeper(args) => args.run().await,
        Commands::Indexer(args) => args.run().await,
        Commands::Nats(args) => args.run().await,
        Commands::Agent(args) => args.run().await,
        Commands::App(args) => args.run().await,
    }
}

fn init_tracing(global: &GlobalArgs) {
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal: CI logs and files stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn up_defaults_to_a_local_stack_that_keeps_running() {
        let cli = Cli::try_parse_from(["nsed", "up"]).unwrap();
        let Commands::Up(args) = cli.command else { panic!("parsed as up") };
        assert!(!args.once);
        assert!(args.rpc.rpc_url.is_none());
        assert!(args.nats.nats_url.is_none());
    }

    #[test]
    fn json_and_verbose_are_global() {
        let cli = Cli::try_parse_from(["nsed", "up", "--json", "-vv"]).unwrap();
        assert!(cli.global.json);
        assert_eq!(cli.global.verbose, 2);
    }

    /// One naming scheme: service settings in dotted groups, durations with their unit in the
    /// name, every option documented and its value named.
    #[test]
    fn every_flag_follows_the_naming_scheme() {
        const GROUPS: [&str; 7] = ["keeper", "worker", "indexer", "llm", "suite", "nats", "app"];
        let cli = Cli::command();
        // Every command, nested ones (`nsed nats init`) too.
        let mut commands: Vec<(String, &clap::Command)> =
            cli.get_subcommands().map(|c| (c.get_name().to_owned(), c)).collect();
        let mut i = 0;
        while i < commands.len() {
            let (path, command) = commands[i].clone();
            for sub in command.get_subcommands() {
                commands.push((format!("{path} {}", sub.get_name()), sub));
            }
            i += 1;
        }
        for (path, command) in commands {
            assert!(command.get_about().is_some(), "nsed {path} has no help");
            for arg in command.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                let at = format!("nsed {path} --{long}");
                assert!(arg.get_help().is_some(), "{at} has no help");
                if let Some((group, _)) = long.split_once('.') {
                    assert!(GROUPS.contains(&group), "{at}: unknown group `{group}`");
                }
                let takes_value = arg.get_action().takes_values();
                if takes_value {
                    assert!(arg.get_value_names().is_some(), "{at} has no value name");
                }
                match arg.get_value_names().and_then(|names| names.first()).map(|n| n.as_str()) {
                    Some("MS") => assert!(long.ends_with("-ms"), "{at}: milliseconds end in -ms"),
                    Some("SECONDS") => {
                        assert!(long.ends_with("-secs"), "{at}: seconds end in -secs")
                    }
                    _ => {}
                }
                let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
                assert_ne!(env.as_deref(), Some("ETH_RPC_URL"), "{at} reads ETH_RPC_URL");
            }
        }
    }

    #[test]
    fn quiet_and_verbose_conflict() {
        assert!(Cli::try_parse_from(["nsed", "-q", "-v", "up"]).is_err());
    }
}
