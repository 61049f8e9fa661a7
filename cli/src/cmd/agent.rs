//! `nsed agent`: an agent owner's side of the agent registry, over `nsed_client::AgentOwner`.
//!
//! The owner's wallet (`--private-key`) registers an agent with the agent key's EIP-712 consent
//! and a bond, tops the bond up, unbonds and withdraws it after the registry's delay, and takes
//! the agent out of service and back. The agent's key (`--agent-key-file` or `NSED_AGENT_KEY`,
//! the key `nsed worker` signs with) only signs the consent: `register` signs it on the spot, or
//! its holder signs it elsewhere with `nsed agent consent` and the owner passes `--consent`.
//! `show` reads where an agent stands: its registry record, whether the market can draw it, and
//! its market rank. Amounts are in tokens (18 decimals), e.g. `12.5`.

use std::{fmt, path::PathBuf};

use alloy::{
    primitives::{Address, B256, Signature, U256, utils::format_ether},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use eyre::{WrapErr, eyre};
use nsed_client::{AgentOwner, AgentStatus, ClientError};
use nsed_contracts::{
    agent_registry::AgentRegistry::AgentRegistryErrors as RegistryErrors,
    bounty_token::BountyToken::BountyTokenErrors as TokenErrors,
};
use nsed_deploy::Deployment;
use nsed_inference_worker::{
    Manifest,
    agent::{AGENT_KEY_ENV, KeyOrigin, load_or_create_key},
};
use serde_json::json;

use crate::{
    opts::{LOCAL_DEPLOYMENT, MODELS_DIR, RpcOpts, WalletOpts},
    output::{self, out},
};

/// Arguments of `nsed agent`.
#[derive(Debug, Clone, clap::Args)]
pub struct AgentArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AgentCommand,
}

/// The `nsed agent` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AgentCommand {
    /// Register an agent with its key's consent and a bond paid by the owner's wallet; the agent
    /// enters the pool the market draws seats from.
    Register(RegisterArgs),
    /// Sign, with the agent key, its consent to being registered by an owner (who passes it to
    /// `nsed agent register --consent`); sends nothing.
    Consent(ConsentArgs),
    /// Add to an agent's bond (paid by its owner).
    Bond(BondArgs),
    /// Start unbonding an agent: it leaves the pool at once, and the bond can be withdrawn after
    /// the registry's delay (it can still be slashed until then).
    Unbond(AgentTxArgs),
    /// Withdraw an unbonding agent's whole bond once the delay is over.
    Withdraw(AgentTxArgs),
    /// Take an agent out of service (and out of the pool); jobs it is seated in are unaffected.
    Deactivate(AgentTxArgs),
    /// Put a deactivated agent back into service and into the pool.
    Reactivate(AgentTxArgs),
    /// Show where an agent stands: owner, bond, active, slashed, unbonding, eligible for seats,
    /// market rank.
    Show(ShowArgs),
}

/// The registry to talk to: the chain and the deployment record naming it.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Registry")]
pub struct RegistryOpts {
    /// Deployment record naming the agent registry, the market and the bounty token.
    #[arg(long, value_name = "PATH", default_value = LOCAL_DEPLOYMENT)]
    pub deployment: PathBuf,
    /// The chain (`--rpc-url` or `NSED_RPC_URL`).
    #[command(flatten)]
    pub rpc: RpcOpts,
}

/// Which model the agent runs: its id, or a classifier of the models manifest by name.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("model_source").required(true).args(["model_id", "model"])))]
pub struct ModelOpts {
    /// The model's id (32-byte hex): the `sha256` `nsed worker` prints on start (for `--llm` and
    /// `--model-dir` workers too).
    #[arg(long, value_name = "HEX")]
    pub model_id: Option<B256>,
    /// A classifier of the models manifest by name (e.g. `knn_pool4x4`), as `nsed worker
    /// --model` takes it: the id is the sha256 of its .onnx file, and the agent key defaults to
    /// the worker's, .nsed/keys/<NAME>.key.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Directory holding the models manifest (`--model`).
    #[arg(long, value_name = "DIR", env = "NSED_MODELS_DIR", default_value = MODELS_DIR)]
    pub models_dir: PathBuf,
}

impl ModelOpts {
    /// The model id: `--model-id`, or the manifest's sha256 of `--model`.
    fn model_id(&self) -> eyre::Result<B256> {
        if let Some(id) = self.model_id {
            return Ok(id);
        }
        let name = self.model.as_deref().expect("clap requires --model-id or --model");
        let manifest = Manifest::load(&self.models_dir)
            .wrap_err_with(|| format!("cannot read the models in {}", self.models_dir.display()))?;
        Ok(B256::from(manifest.try_get(name)?.sha256.to_bytes()))
    }

    /// The key file `nsed worker --model <NAME>` uses by default.
    fn default_key_file(&self) -> Option<PathBuf> {
        self.model.as_ref().map(|name| PathBuf::from(format!(".nsed/keys/{name}.key")))
    }
}

/// The agent's own key, which signs its consent.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Agent key")]
pub struct AgentKeyOpts {
    /// The agent's key file, the one its `nsed worker` signs with (created with a new random key
    /// if missing, as the worker does). The key in NSED_AGENT_KEY, if set, takes precedence.
    /// [default with `--model NAME`: .nsed/keys/<NAME>.key]
    #[arg(long, value_name = "FILE")]
    pub agent_key_file: Option<PathBuf>,
}

impl AgentKeyOpts {
    /// The agent key: `NSED_AGENT_KEY`, else `--agent-key-file`, else `default`; says on stderr
    /// where it came from.
    fn load(&self, default: Option<PathBuf>) -> eyre::Result<PrivateKeySigner> {
        let env_key = std::env::var(AGENT_KEY_ENV).ok().filter(|k| !k.is_empty());
        let path = match (&self.agent_key_file, env_key.is_some()) {
            (Some(path), _) => path.clone(),
            // The environment's key needs no file.
            (None, true) => PathBuf::new(),
            (None, false) => default.ok_or_else(|| {
                eyre!(
                    "no agent key: pass `--agent-key-file <FILE>` (the key file of the agent's \
                     `nsed worker`) or set {AGENT_KEY_ENV}"
                )
            })?,
        };
        let (signer, origin) = load_or_create_key(env_key.as_deref(), &path)?;
        let agent = signer.address();
        match origin {
            KeyOrigin::Env => {
                output::status(format_args!("agent {agent}: key from {AGENT_KEY_ENV}"))
            }
            KeyOrigin::File(path) => {
                output::status(format_args!("agent {agent}: key from {}", path.display()))
            }
            KeyOrigin::Generated(path) => output::status(format_args!(
                "agent {agent}: generated a new key in {} (give it to the agent's worker)",
                path.display()
            )),
        }
        Ok(signer)
    }
}

/// An amount of bounty tokens, written in tokens with up to 18 decimals (`10`, `0.25`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenAmount(pub U256);

impl std::str::FromStr for TokenAmount {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("`{s}` is not an amount of tokens (e.g. 10 or 2.5)");
        let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
            return Err(invalid());
        }
        if fraction.len() > 18 {
            return Err(format!("`{s}` has more than 18 decimals"));
        }
        match alloy::primitives::utils::parse_units(s, 18) {
            Ok(alloy::primitives::utils::ParseUnits::U256(amount)) => Ok(Self(amount)),
            _ => Err(invalid()),
        }
    }
}

impl fmt::Display for TokenAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&tokens(self.0))
    }
}

/// `amount` (18 decimals) as a decimal number of tokens without trailing zeros.
fn tokens(amount: U256) -> String {
    let text = format_ether(amount);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Arguments of `nsed agent register`.
#[derive(Debug, Clone, clap::Args)]
pub struct RegisterArgs {
    /// The model the agent runs.
    #[command(flatten)]
    pub model: ModelOpts,
    /// Where the agent describes itself (bound by the consent; published in the AgentRegistered
    /// event).
    #[arg(long, value_name = "URI")]
    pub metadata_uri: String,
    /// Bond to lock, in tokens (decimals allowed, e.g. 12.5), paid from the owner's bounty tokens
    /// [default: the registry's minBond].
    #[arg(long, value_name = "AMOUNT")]
    pub bond: Option<TokenAmount>,
    /// The agent key that signs its consent here.
    #[command(flatten)]
    pub key: AgentKeyOpts,
    /// The agent's address, when its key is elsewhere: its holder signed the consent with `nsed
    /// agent consent --owner <OWNER>`; needs `--consent`.
    #[arg(long, value_name = "ADDRESS", requires = "consent", conflicts_with = "agent_key_file")]
    pub agent: Option<Address>,
    /// The agent key's consent (65-byte hex signature) from `nsed agent consent`, for the owner
    /// `--private-key` is, the same model id and metadata URI.
    #[arg(long, value_name = "HEX", requires = "agent")]
    pub consent: Option<Signature>,
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// The owner (`--private-key` or `NSED_PRIVATE_KEY`): pays the bond and the gas, and alone
    /// may later bond, unbond, withdraw, deactivate and reactivate the agent.
    #[command(flatten)]
    pub wallet: WalletOpts,
}

/// Arguments of `nsed agent consent`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConsentArgs {
    /// The account that will register the agent (`nsed agent register --private-key`).
    #[arg(long, value_name = "ADDRESS")]
    pub owner: Address,
    /// The model the agent runs.
    #[command(flatten)]
    pub model: ModelOpts,
    /// Where the agent describes itself (the owner must register with the same URI).
    #[arg(long, value_name = "URI")]
    pub metadata_uri: String,
    /// The agent key that signs.
    #[command(flatten)]
    pub key: AgentKeyOpts,
    /// The registry (the consent is valid for this registry on this chain only).
    #[command(flatten)]
    pub registry: RegistryOpts,
}

/// Arguments of `nsed agent bond`.
#[derive(Debug, Clone, clap::Args)]
pub struct BondArgs {
    /// The agent.
    #[arg(long, value_name = "ADDRESS")]
    pub agent: Address,
    /// Tokens to add (decimals allowed, e.g. 12.5), paid from the owner's bounty tokens.
    #[arg(long, value_name = "AMOUNT")]
    pub amount: TokenAmount,
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// The agent's owner (`--private-key` or `NSED_PRIVATE_KEY`).
    #[command(flatten)]
    pub wallet: WalletOpts,
}

/// Arguments of `nsed agent unbond`, `withdraw`, `deactivate` and `reactivate`.
#[derive(Debug, Clone, clap::Args)]
pub struct AgentTxArgs {
    /// The agent.
    #[arg(long, value_name = "ADDRESS")]
    pub agent: Address,
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// The agent's owner (`--private-key` or `NSED_PRIVATE_KEY`).
    #[command(flatten)]
    pub wallet: WalletOpts,
}

/// Arguments of `nsed agent show`.
#[derive(Debug, Clone, clap::Args)]
pub struct ShowArgs {
    /// The agent.
    #[arg(long, value_name = "ADDRESS")]
    pub agent: Address,
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryOpts,
}

impl RegistryOpts {
    /// The chain's URL and the deployment record.
    fn load(&self) -> eyre::Result<(alloy::transports::http::reqwest::Url, Deployment)> {
        let rpc_url = self.rpc.try_url_with_env()?;
        let url = rpc_url.parse().wrap_err_with(|| format!("`{rpc_url}` is not a URL"))?;
        let record = super::load_deployment(&self.deployment)?;
        Ok((url, record))
    }

    /// An owner's view of the registry, signing with the wallet's key.
    fn owner(&self, wallet: &WalletOpts) -> eyre::Result<AgentOwner<DynProvider>> {
        // The wallet first: a missing key is reported before anything is read or created.
        let signer = wallet.try_signer()?;
        let account = signer.address();
        let (url, record) = self.load()?;
        let provider = nsed_contracts::provider::wallet_provider(url, signer);
        Ok(AgentOwner::new(provider, account, &record)?)
    }

    /// A read-only view of the registry, as `account` (whom a consent is for; zero to only read).
    fn reader(&self, account: Address) -> eyre::Result<AgentOwner<DynProvider>> {
        let (url, record) = self.load()?;
        let provider = ProviderBuilder::new().connect_http(url).erased();
        Ok(AgentOwner::new(provider, account, &record)?)
    }
}

impl AgentArgs {
    /// Runs the chosen `nsed agent` subcommand.
    ///
    /// # Errors
    ///
    /// When a key, the record or the chain cannot be used, or the registry refuses the
    /// transaction (its custom error is named).
    pub async fn run(self) -> eyre::Result<()> {
        match self.command {
            AgentCommand::Register(args) => args.run().await,
            AgentCommand::Consent(args) => args.run().await,
            AgentCommand::Bond(args) => args.run().await,
            AgentCommand::Unbond(args) => args.run(Action::Unbond).await,
            AgentCommand::Withdraw(args) => args.run(Action::Withdraw).await,
            AgentCommand::Deactivate(args) => args.run(Action::Deactivate).await,
            AgentCommand::Reactivate(args) => args.run(Action::Reactivate).await,
            AgentCommand::Show(args) => args.run().await,
        }
    }
}

impl RegisterArgs {
    async fn run(self) -> eyre::Result<()> {
        let owner = self.registry.owner(&self.wallet)?;
        let model_id = self.model.model_id()?;
        // With a consent signed elsewhere the agent key is not needed here.
        let key = match (self.agent, &self.consent) {
            (Some(_), Some(_)) => None,
            _ => Some(self.key.load(self.model.default_key_file())?),
        };
        let bond = match self.bond {
            Some(bond) => bond.0,
            None => owner.min_bond().await.wrap_err("cannot read the registry's minimum bond")?,
        };
        let uri = &self.metadata_uri;
        let (agent, result) = match (key, self.agent, &self.consent) {
            (Some(key), _, _) => (key.address(), owner.register(&key, model_id, uri, bond).await),
            (None, Some(agent), Some(consent)) => {
                (agent, owner.register_with_consent(agent, model_id, uri, bond, consent).await)
            }
            (None, _, _) => unreachable!("clap requires --agent and --consent together"),
        };
        let tx = result.map_err(|e| refused(format!("cannot register agent {agent}"), e))?;
        print_done(&owner, ("register", "registered"), agent, tx).await
    }
}

impl ConsentArgs {
    async fn run(self) -> eyre::Result<()> {
        let reader = self.registry.reader(self.owner)?;
        let model_id = self.model.model_id()?;
        let key = self.key.load(self.model.default_key_file())?;
        let consent = reader.consent(&key, model_id, &self.metadata_uri).await?;
        let consent = alloy::hex::encode_prefixed(consent.as_bytes());
        let agent = key.address();
        if output::is_json() {
            output::json(&json!({
                "agent": agent,
                "owner": self.owner,
                "modelId": model_id,
                "metadataUri": self.metadata_uri,
                "registry": reader.registry(),
                "consent": consent,
            }));
        } else {
            out!("agent        {agent}");
            out!("owner        {}", self.owner);
            out!("model id     {model_id}");
            out!("metadata     {}", self.metadata_uri);
            out!("registry     {}", reader.registry());
            out!("consent      {consent}");
        }
        output::status(format_args!(
            "the owner registers it with `nsed agent register --agent {agent} --consent {consent} \
             --model-id {model_id} --metadata-uri {}`",
            self.metadata_uri
        ));
        Ok(())
    }
}

impl BondArgs {
    async fn run(self) -> eyre::Result<()> {
        let owner = self.registry.owner(&self.wallet)?;
        let tx = owner.add_bond(self.agent, self.amount.0).await.map_err(|e| {
            refused(
                format!("cannot add {} tokens to the bond of agent {}", self.amount, self.agent),
                e,
            )
        })?;
        print_done(&owner, ("bond", "bonded"), self.agent, tx).await
    }
}

/// What an [`AgentTxArgs`] command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Unbond,
    Withdraw,
    Deactivate,
    Reactivate,
}

impl Action {
    /// The subcommand's name (the `action` of its JSON document).
    const fn command(self) -> &'static str {
        match self {
            Self::Unbond => "unbond",
            Self::Withdraw => "withdraw",
            Self::Deactivate => "deactivate",
            Self::Reactivate => "reactivate",
        }
    }

    /// What was done, for the text output.
    const fn done(self) -> &'static str {
        match self {
            Self::Unbond => "unbonding",
            Self::Withdraw => "withdrew",
            Self::Deactivate => "deactivated",
            Self::Reactivate => "reactivated",
        }
    }

    /// What could not be done to `agent`.
    fn failed(self, agent: Address) -> String {
        match self {
            Self::Withdraw => format!("cannot withdraw the bond of agent {agent}"),
            _ => format!("cannot {} agent {agent}", self.command()),
        }
    }
}

impl AgentTxArgs {
    async fn run(self, action: Action) -> eyre::Result<()> {
        let owner = self.registry.owner(&self.wallet)?;
        let agent = self.agent;
        let result = match action {
            Action::Unbond => owner.request_unbond(agent).await,
            Action::Withdraw => owner.withdraw_bond(agent).await,
            Action::Deactivate => owner.set_active(agent, false).await,
            Action::Reactivate => owner.set_active(agent, true).await,
        };
        let tx = result.map_err(|e| refused(action.failed(agent), e))?;
        print_done(&owner, (action.command(), action.done()), agent, tx).await
    }
}

impl ShowArgs {
    async fn run(self) -> eyre::Result<()> {
        let reader = self.registry.reader(Address::ZERO)?;
        let status = reader
            .status(self.agent)
            .await
            .wrap_err_with(|| format!("cannot read agent {}", self.agent))?;
        if output::is_json() {
            output::json(&json!({ "agent": status_json(&status), "registry": reader.registry() }));
        } else if status.is_registered() {
            print_status(&status);
        } else {
            out!("agent {} is not registered in registry {}", self.agent, reader.registry());
        }
        Ok(())
    }
}

/// Prints what a transaction did and where the agent stands now: `(command, done)` name the
/// subcommand (the JSON document's `action`) and what it did (the text's first word).
async fn print_done(
    owner: &AgentOwner<DynProvider>,
    (command, done): (&str, &str),
    agent: Address,
    tx: B256,
) -> eyre::Result<()> {
    let status = owner
        .status(agent)
        .await
        .wrap_err_with(|| format!("{done} in transaction {tx}, but cannot read agent {agent}"))?;
    if output::is_json() {
        output::json(&json!({ "action": command, "tx": tx, "agent": status_json(&status) }));
    } else {
        out!("{done:<13}in transaction {tx}");
        print_status(&status);
    }
    Ok(())
}

fn print_status(s: &AgentStatus) {
    let yes = |b: bool| if b { "yes" } else { "no" };
    out!("agent        {}", s.agent);
    out!("owner        {}", s.owner);
    out!("model id     {}", s.model_id);
    out!("bond         {} tokens", tokens(s.bond));
    out!("active       {}", yes(s.active));
    out!("slashed      {}", yes(s.slashed));
    let unbonding = match (s.is_unbonding(), s.unbonding_at.saturating_sub(s.now)) {
        (false, _) => "no".to_owned(),
        (true, _) if s.bond.is_zero() => {
            format!("bond withdrawn (withdrawable from {})", s.unbonding_at)
        }
        (true, 0) => format!("withdrawable now (since {})", s.unbonding_at),
        (true, left) => format!("withdrawable from {} (in {})", s.unbonding_at, duration(left)),
    };
    out!("unbonding    {unbonding}");
    out!("eligible     {}", yes(s.eligible));
    let promotion = if s.can_promote() {
        format!("a win promotes it: the bond covers {} tokens", tokens(s.promotion_bond))
    } else {
        format!(
            "a win does not promote it: that needs a bond of {} tokens",
            tokens(s.promotion_bond)
        )
    };
    out!("market rank  {} ({promotion})", s.rank);
}

fn status_json(s: &AgentStatus) -> serde_json::Value {
    json!({
        "address": s.agent,
        "registered": s.is_registered(),
        "owner": s.owner,
        "modelId": s.model_id,
        "bond": tokens(s.bond),
        "active": s.active,
        "slashed": s.slashed,
        "unbondingAt": s.is_unbonding().then_some(s.unbonding_at),
        "withdrawable": s.is_withdrawable(),
        "eligible": s.eligible,
        "rank": u64::try_from(s.rank).unwrap_or(u64::MAX),
        "promotionBond": tokens(s.promotion_bond),
        "promotes": s.can_promote(),
    })
}

/// `secs` for a person: the two largest units.
fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) => format!("{m} min {s} s"),
        (0, _, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

/// The report of a failed owner operation: `what` failed because of `err`. A revert names the
/// contract's custom error with its arguments, and what to do about the common ones.
fn refused(what: String, err: ClientError) -> eyre::Report {
    let revert = match &err {
        ClientError::Tx(tx) => tx.revert().map(|revert| (tx.operation().to_owned(), revert, tx)),
        _ => None,
    };
    let Some((operation, revert, tx)) = revert else {
        return eyre::Report::new(err).wrap_err(what);
    };
    let hint = match tx.decoded::<RegistryErrors>() {
        Some(RegistryErrors::AgentRegistryStillBonding(e)) => {
            format!("the bond can be withdrawn from {} (unix time)", e.withdrawableAt)
        }
        Some(RegistryErrors::AgentRegistryNotUnbonding(e)) => {
            format!("request it first: `nsed agent unbond --agent {}`", e.agent)
        }
        Some(RegistryErrors::AgentRegistryAlreadyUnbonding(e)) => {
            format!("it is unbonding; the bond can be withdrawn from {}", e.withdrawableAt)
        }
        Some(RegistryErrors::AgentRegistryNotOwner(e)) => {
            format!("only its owner may do this (`nsed agent show --agent {}` names it)", e.agent)
        }
        Some(RegistryErrors::AgentRegistryUnknownAgent(_)) => {
            "no such agent in this registry".into()
        }
        Some(RegistryErrors::AgentRegistryAlreadyRegistered(_)) => {
            "a key registers once, ever: register a new agent key".into()
        }
        Some(RegistryErrors::AgentRegistryInvalidSignature(_)) => {
            "the consent was signed for another owner, model, metadata URI, registry or chain"
                .into()
        }
        Some(RegistryErrors::AgentRegistryBondBelowMinimum(e)) => {
            format!("the minimum bond is {} tokens", tokens(e.minBond))
        }
        Some(RegistryErrors::AgentRegistryAgentActive(_)) => "it is already in service".into(),
        Some(RegistryErrors::AgentRegistryAgentInactive(_)) => {
            "it is already out of service".into()
        }
        Some(RegistryErrors::AgentRegistryAlreadySlashed(_)) => {
            "its bond was slashed: the agent is out for good".into()
        }
        Some(RegistryErrors::AgentRegistryBondWithdrawn(_)) => {
            "its bond was withdrawn: nothing is left to use".into()
        }
        _ => match tx.decoded::<TokenErrors>() {
            Some(TokenErrors::ERC20InsufficientBalance(e)) => format!(
                "the owner holds {} bounty tokens and needs {}",
                tokens(e.balance),
                tokens(e.needed)
            ),
            _ => String::new(),
        },
    };
    let hint = if hint.is_empty() { hint } else { format!(": {hint}") };
    eyre!("{operation} reverted with {revert}{hint}").wrap_err(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_tokens_with_up_to_18_decimals() {
        let one = U256::from(10u64).pow(U256::from(18));
        let table = [
            ("10", Some(one * U256::from(10))),
            ("2.5", Some(one * U256::from(5) / U256::from(2))),
            ("0.000000000000000001", Some(U256::from(1))),
            (".5", Some(one / U256::from(2))),
            ("0", Some(U256::ZERO)),
            ("0.0000000000000000001", None),
            ("-1", None),
            ("1e18", None),
            ("", None),
            (".", None),
            ("1.2.3", None),
        ];
        for (text, expected) in table {
            let parsed = text.parse::<TokenAmount>().ok().map(|a| a.0);
            assert_eq!(parsed, expected, "{text:?}");
        }
        assert_eq!(TokenAmount(one * U256::from(25) / U256::from(10)).to_string(), "2.5");
        assert_eq!(tokens(one * U256::from(10)), "10");
    }

    #[test]
    fn durations_show_their_two_largest_units() {
        assert_eq!(duration(59), "59 s");
        assert_eq!(duration(61), "1 min 1 s");
        assert_eq!(duration(3 * 3600 + 120), "3 h 2 min");
        assert_eq!(duration(86_400 + 3600), "1 d 1 h");
    }
}
