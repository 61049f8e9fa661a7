//! `nsed nats`: NATS users and their permissions for a server with authentication on, over
//! `nsed_bus::auth` (docs/nats-auth.md), and the streams, created as the operator.
//!
//! `init` writes an auth directory (users.json, creds/<user>.nk seeds, nats-server.conf) with the
//! operator and one keeper; `add-agent`, `add-keeper`, `remove` and `rotate-operator` change its
//! users and regenerate the configuration, which a running server applies when reloaded;
//! `streams` connects as the operator and creates or checks NSED_TASKS and NSED_RESULTS.

use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use eyre::WrapErr;
use nsed_bus::{
    Bus,
    auth::{AuthDir, DEFAULT_KEEPER, InitOptions, OPERATOR, Role, ServerTls},
};
use nsed_protocol::wire::{RESULTS_STREAM, TASKS_STREAM};
use serde_json::json;

use crate::{
    opts::NatsOpts,
    output::{self, out},
};

/// The auth directory unless `--dir` / `NSED_NATS_DIR` say otherwise.
pub const NATS_DIR: &str = ".nsed/nats";

/// What the user is told after every change to the users.
const RELOAD_HINT: &str = "reload the running nats-server to apply it: `nats-server --signal \
                           reload=<pid>` (or `kill -HUP <pid>`); until then it knows the old \
                           users";

/// Arguments of `nsed nats`.
#[derive(Debug, Clone, clap::Args)]
pub struct NatsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: NatsCommand,
}

/// The `nsed nats` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum NatsCommand {
    /// Create an auth directory: the operator and a keeper named `keeper` with their seeds,
    /// users.json and nats-server.conf (start the server with `nats-server -c <config>`).
    Init(InitArgs),
    /// Add an agent's NATS user (or give it a new key with --rotate) and print its seed file,
    /// which its worker takes as `--nats.creds`.
    AddAgent(AddAgentArgs),
    /// Add a keeper's NATS user (or give it a new key with --rotate) and print its seed file,
    /// which the keeper takes as `--nats.creds`.
    AddKeeper(AddKeeperArgs),
    /// Remove a user (a keeper's name, or an agent's `agent-0x…` name or address) and delete
    /// its seed file.
    Remove(RemoveArgs),
    /// Give the operator a new key and print its seed file (the operator cannot be removed).
    RotateOperator(RotateOperatorArgs),
    /// Connect as the operator (`--nats.creds <DIR>/creds/operator.nk`) and create NSED_TASKS
    /// and NSED_RESULTS, or check the existing ones.
    Streams(StreamsArgs),
}

/// The auth directory every user command works on.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct DirOpts {
    /// The auth directory (users.json, creds/, nats-server.conf).
    #[arg(long, value_name = "DIR", env = "NSED_NATS_DIR", default_value = NATS_DIR)]
    pub dir: PathBuf,
}

/// Arguments of `nsed nats init`.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// Where to create the auth directory.
    #[command(flatten)]
    pub dir: DirOpts,
    /// Address the server listens on.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:4222")]
    pub listen: String,
    /// Where JetStream keeps its data [default: <DIR>/jetstream].
    #[arg(long, value_name = "DIR")]
    pub store_dir: Option<PathBuf>,
    /// The server's TLS certificate (PEM); with `--tls-key`, clients must use TLS.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of `--tls-cert`.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// CA bundle (PEM) that client certificates are checked against.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_ca: Option<PathBuf>,
    /// Accept only clients presenting a certificate signed by `--tls-ca` (they still need their
    /// NKey seed).
    #[arg(long, requires = "tls_ca")]
    pub tls_verify: bool,
}

/// Arguments of `nsed nats add-agent`.
#[derive(Debug, Clone, clap::Args)]
pub struct AddAgentArgs {
    /// The auth directory.
    #[command(flatten)]
    pub dir: DirOpts,
    /// The agent's address (the key its worker signs with; `nsed worker` prints it).
    #[arg(value_name = "ADDRESS")]
    pub address: Address,
    /// Give an existing agent a new key: the old seed works until the server reloads.
    #[arg(long)]
    pub rotate: bool,
}

/// Arguments of `nsed nats add-keeper`.
#[derive(Debug, Clone, clap::Args)]
pub struct AddKeeperArgs {
    /// The auth directory.
    #[command(flatten)]
    pub dir: DirOpts,
    /// The keeper's user name: 1 to 64 of a-z, 0-9, `-` and `_` (`init` creates `keeper`).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Give an existing keeper a new key: the old seed works until the server reloads.
    #[arg(long)]
    pub rotate: bool,
}

/// Arguments of `nsed nats remove`.
#[derive(Debug, Clone, clap::Args)]
pub struct RemoveArgs {
    /// The auth directory.
    #[command(flatten)]
    pub dir: DirOpts,
    /// The user: a keeper's name, an agent's `agent-0x…` name, or an agent's address.
    #[arg(value_name = "NAME")]
    pub name: String,
}

/// Arguments of `nsed nats rotate-operator`.
#[derive(Debug, Clone, clap::Args)]
pub struct RotateOperatorArgs {
    /// The auth directory.
    #[command(flatten)]
    pub dir: DirOpts,
}

/// Arguments of `nsed nats streams`.
#[derive(Debug, Clone, clap::Args)]
pub struct StreamsArgs {
    /// The server, and the operator's credentials (only the operator may create streams).
    #[command(flatten)]
    pub nats: NatsOpts,
}

impl NatsArgs {
    /// Runs the chosen `nsed nats` subcommand.
    ///
    /// # Errors
    ///
    /// When the auth directory cannot be read or written, a user exists or is unknown, or the
    /// streams cannot be created or checked.
    pub async fn run(self) -> eyre::Result<()> {
        match self.command {
            NatsCommand::Init(args) => args.run(),
            NatsCommand::AddAgent(args) => args.run(),
            NatsCommand::AddKeeper(args) => args.run(),
            NatsCommand::Remove(args) => args.run(),
            NatsCommand::RotateOperator(args) => args.run(),
            NatsCommand::Streams(args) => args.run().await,
        }
    }
}

impl InitArgs {
    fn run(self) -> eyre::Result<()> {
        let dir = self.dir.dir;
        let store_dir = self.store_dir.unwrap_or_else(|| dir.join("jetstream"));
        // Clients of a TLS server also pass `--nats.tls-ca` (and, with `--tls-verify`,
        // `--nats.tls-cert` and `--nats.tls-key`).
        let tls_flags = match (&self.tls_cert, self.tls_verify) {
            (None, _) => "",
            (Some(_), false) => " --nats.tls-ca <CA>",
            (Some(_), true) => {
                " --nats.tls-ca <CA> --nats.tls-cert <CLIENT CERT> --nats.tls-key <CLIENT KEY>"
            }
        };
        let mut options = InitOptions::new(&self.listen, store_dir);
        if let (Some(cert_file), Some(key_file)) = (self.tls_cert, self.tls_key) {
            options = options.with_tls(ServerTls {
                cert_file,
                key_file,
                ca_file: self.tls_ca,
                verify: self.tls_verify,
            });
        }
        let auth = AuthDir::init(&dir, options)
            .wrap_err_with(|| format!("cannot create the NATS auth directory {}", dir.display()))?;
        let config = auth.config_path();
        let operator = auth.creds_path(OPERATOR);
        let keeper = auth.creds_path(DEFAULT_KEEPER);
        if output::is_json() {
            output::json(&json!({
                "dir": dir,
                "config": config,
                "operator": operator,
                "keeper": keeper,
                "listen": self.listen,
            }));
        } else {
            out!("config    {}", config.display());
            out!("operator  {}", operator.display());
            out!("keeper    {}", keeper.display());
        }
        output::status(format_args!(
            "next: start the server with `nats-server -c {}`, create the streams with `nsed nats \
             streams --nats-url nats://{} --nats.creds {}{tls_flags}`, add each agent with `nsed nats \
             add-agent --dir {} <ADDRESS>` and reload the server; keep the operator's seed off \
             the machines that run keepers and workers",
            config.display(),
            self.listen,
            operator.display(),
            dir.display(),
        ));
        Ok(())
    }
}

impl AddAgentArgs {
    fn run(self) -> eyre::Result<()> {
        let mut auth = open(&self.dir.dir)?;
        let creds = auth
            .add_agent(self.address, self.rotate)
            .wrap_err_with(|| format!("cannot add agent {}", self.address))?;
        report_user(&auth, &Role::Agent(self.address).user_name(), &creds, self.rotate);
        Ok(())
    }
}

impl AddKeeperArgs {
    fn run(self) -> eyre::Result<()> {
        let mut auth = open(&self.dir.dir)?;
        let creds = auth
            .add_keeper(&self.name, self.rotate)
            .wrap_err_with(|| format!("cannot add keeper {}", self.name))?;
        report_user(&auth, &self.name, &creds, self.rotate);
        Ok(())
    }
}

impl RemoveArgs {
    fn run(self) -> eyre::Result<()> {
        let mut auth = open(&self.dir.dir)?;
        let name = user_name(&self.name);
        auth.remove(&name).wrap_err_with(|| format!("cannot remove NATS user {name}"))?;
        if output::is_json() {
            output::json(&json!({ "removed": name, "config": auth.config_path() }));
        } else {
            out!("removed   {name}");
        }
        output::status(format_args!("{RELOAD_HINT}; then its seed is refused"));
        Ok(())
    }
}

impl RotateOperatorArgs {
    fn run(self) -> eyre::Result<()> {
        let mut auth = open(&self.dir.dir)?;
        let creds = auth.rotate_operator().wrap_err("cannot rotate the operator's key")?;
        report_user(&auth, OPERATOR, &creds, true);
        Ok(())
    }
}

/// The user name `name` stands for: an agent's address (bare or as `agent-0x…`, in any case)
/// becomes `agent-0x<lowercase address>`; anything else is taken as it is.
fn user_name(name: &str) -> String {
    let address = name.strip_prefix("agent-").unwrap_or(name);
    match address.parse::<Address>() {
        Ok(address) => Role::Agent(address).user_name(),
        Err(_) => name.to_owned(),
    }
}

impl StreamsArgs {
    async fn run(self) -> eyre::Result<()> {
        let connect = self.nats.connect();
        let bus = Bus::connect_with(&connect).await?;
        let existed = [
            bus.jetstream().get_stream(TASKS_STREAM).await.is_ok(),
            bus.jetstream().get_stream(RESULTS_STREAM).await.is_ok(),
        ];
        let (mut tasks, mut results) = bus.ensure_streams().await.wrap_err_with(|| {
            format!("cannot create or check the NSED streams on {}", connect.url())
        })?;
        let mut streams = Vec::new();
        for (stream, existed) in [(&mut tasks, existed[0]), (&mut results, existed[1])] {
            let info = stream.info().await.wrap_err("cannot read a stream's state")?;
            streams.push((
                info.config.name.clone(),
                info.config.subjects.join(" "),
                info.state.messages,
                existed,
                info.config.num_replicas,
            ));
        }
        bus.drain().await?;
        if output::is_json() {
            let streams: Vec<_> = streams
                .iter()
                .map(|(name, subjects, messages, existed, replicas)| {
                    json!({
                        "name": name,
                        "subjects": subjects,
                        "messages": messages,
                        "created": !existed,
                        "replicas": replicas,
                    })
                })
                .collect();
            output::json(&json!({ "nats": connect.url(), "streams": streams }));
        } else {
            for (name, subjects, messages, existed, replicas) in &streams {
                let what = if *existed { "exists" } else { "created" };
                out!(
                    "{name:<13} {subjects:<14} {what:<8} {messages} messages, {replicas} replicas"
                );
            }
        }
        Ok(())
    }
}

fn open(dir: &Path) -> eyre::Result<AuthDir> {
    AuthDir::open(dir)
        .wrap_err_with(|| format!("cannot open the NATS auth directory {}", dir.display()))
}

/// Prints the user's seed file, and tells the user how to apply the change.
fn report_user(auth: &AuthDir, name: &str, creds: &Path, rotated: bool) {
    if output::is_json() {
        output::json(&json!({
            "user": name,
            "creds": creds,
            "config": auth.config_path(),
            "rotated": rotated,
        }));
    } else {
        out!("{name}  {}", creds.display());
    }
    let service = match name {
        OPERATOR => "administrator",
        name if name.starts_with("agent-") => "worker",
        _ => "keeper",
    };
    let then = if rotated {
        "then restart the service with the new seed; the old one is refused from then on"
    } else {
        "then start the service"
    };
    output::status(format_args!(
        "give {} to the {service} (`--nats.creds {}`), {RELOAD_HINT}; {then}",
        creds.display(),
        creds.display(),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_names_are_normalised_from_addresses() {
        let address = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01";
        let expected = "agent-0xabcdef0123456789abcdef0123456789abcdef01";
        assert_eq!(user_name(address), expected);
        assert_eq!(user_name(&format!("agent-{address}")), expected);
        assert_eq!(user_name("keeper-2"), "keeper-2");
        assert_eq!(user_name("agent-oops"), "agent-oops");
    }
}
