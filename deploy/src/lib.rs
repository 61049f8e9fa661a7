//! Deploys the NSED contract suite and keeps its deployment record (`deployments/README.md`).
//!
//! A record (`deployments/<network>.json`) has the shape hardhat-deploy users know: the chain id,
//! the block to start following events from, and per contract its address, deployment transaction,
//! block, constructor arguments, ABI and the hash of the creation bytecode it was built from.
//!
//! [`deploy_suite`] is idempotent: a contract whose record matches the current artifact (same
//! creation-bytecode hash, same constructor arguments) and still has code on chain is reused;
//! anything else is deployed again, and so is everything that takes it as a constructor argument.
//! Role wiring (the games' `GAME_ROLE` on the rank token, `MINTER_ROLE` on the access token, …)
//! is checked before it is granted, through the guild's timelock (see [`deploy_suite`]).
//!
//! The tokens' initial balances are a parameter ([`Genesis`]): the guild token mints its genesis
//! distribution at construction, and outside a dev chain ([`is_dev_chain`]) the bounty token
//! mints its initial balances and renounces its owner, so the deployer keeps no power over
//! either supply (docs/economics.md, "Bootstrap and genesis").
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use alloy::{
    dyn_abi::DynSolValue,
    json_abi::JsonAbi,
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol_types::SolCall,
};
// Every contract of the suite is an OpenZeppelin `AccessControl`: one binding serves them all.
use nsed_contracts::tx::{self, TxContext, TxError};
use nsed_contracts::{
    bounty_token::BountyToken, deliberation_market::DeliberationMarket,
    guild_timelock::GuildTimelock, lat_converter::LatConverter,
    liquid_access_token::LiquidAccessToken as AccessControlled,
};
use serde::{Deserialize, Serialize};
use tracing::info;

/// Name of the rank token in a record.
pub const RANK_TOKEN: &str = "RankToken";
/// Name of the bounty token in a record.
pub const BOUNTY_TOKEN: &str = "BountyToken";
/// Name of the escrow in a record.
pub const ESCROW: &str = "TripartiteEscrow";
/// Name of the deliberation market in a record.
pub const MARKET: &str = "DeliberationMarket";
/// Name of the arena in a record.
pub const ARENA: &str = "RankifyArena";
/// Name of the Liquid Access Token in a record.
pub const LAT: &str = "LiquidAccessToken";
/// Name of the guild's governance token in a record.
pub const GUILD_TOKEN: &str = "GuildToken";
/// Name of the guild's timelock (the treasury and owner of every parameter) in a record.
pub const TIMELOCK: &str = "GuildTimelock";
/// Name of the guild's governor in a record.
pub const GOVERNOR: &str = "GuildGovernor";
/// Name of the LAT → guild token converter in a record.
pub const CONVERTER: &str = "LatConverter";
/// Name of the authority registry in a record.
pub const AUTHORITY: &str = "AuthorityRegistry";
/// Name of the agent registry (bonded agents, seat draws, slashing) in a record.
pub const AGENT_REGISTRY: &str = "AgentRegistry";

/// Errors of deployment and of deployment records.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A record file could not be read or written.
    #[error("deployment record {path}: {source}")]
    Io {
        /// The record file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A record file is not valid JSON of the expected shape.
    #[error("deployment record {path} is malformed: {reason}")]
    Malformed {
        /// The record file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The record lacks a contract.
    #[error("deployment record for {network} has no {name}")]
    Missing {
        /// The record's network.
        network: String,
        /// The missing contract.
        name: String,
    },
    /// The record belongs to another chain.
    #[error("deployment record is for chain {record} but the RPC serves chain {rpc}")]
    WrongChain {
        /// Chain id in the record.
        record: u64,
        /// Chain id of the RPC endpoint.
        rpc: u64,
    },
    /// A deployment outside a dev chain was given no guild genesis distribution.
    #[error(
        "a deployment to chain {chain_id} needs a genesis distribution of the guild token \
         (`genesis.guild` in the suite parameters, `--suite.genesis FILE` on the command line)"
    )]
    NoGenesis {
        /// The chain deployed to.
        chain_id: u64,
    },
    /// An artifact is missing from the build (a build bug).
    #[error("contract {0} is not in the compiled artifacts")]
    Artifact(String),
    /// A JSON-RPC call or transaction failed.
    #[error(transparent)]
    Tx(#[from] TxError),
}

/// One deployed contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractRecord {
    /// Where it lives.
    pub address: Address,
    /// The deployment transaction.
    pub transaction_hash: B256,
    /// The block that included it.
    pub block_number: u64,
    /// Constructor arguments, as strings (addresses checksummed, numbers in decimal).
    pub args: Vec<String>,
    /// keccak256 of the creation bytecode it was deployed from.
    pub bytecode_hash: B256,
    /// Its ABI.
    pub abi: JsonAbi,
}

/// A network's deployment record ([`Default`]: an empty record of no network).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Network name (the record's file name).
    pub network: String,
    /// Chain id.
    pub chain_id: u64,
    /// Who deployed.
    pub deployer: Address,
    /// First block followers must scan (the lowest deployment block).
    pub start_block: u64,
    /// Deployment parameters.
    pub params: SuiteParams,
    /// Contracts by name.
    pub contracts: BTreeMap<String, ContractRecord>,
    /// Wiring the guild still has to do by governance proposal (empty once fully wired).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingCall>,
}

impl Deployment {
    /// `deployments/<network>.json` under `root`.
    pub fn path(root: &Path, network: &str) -> PathBuf {
        root.join("deployments").join(format!("{network}.json"))
    }

    /// Reads a record.
    ///
    /// # Errors
    ///
    /// [`DeployError::Io`] or [`DeployError::Malformed`].
    pub fn load(path: &Path) -> Result<Self, DeployError> {
        let text = fs::read_to_string(path)
            .map_err(|source| DeployError::Io { path: path.to_path_buf(), source })?;
        serde_json::from_str(&text)
            .map_err(|e| DeployError::Malformed { path: path.to_path_buf(), reason: e.to_string() })
    }

    /// Writes the record atomically (a temporary file renamed over the old one).
    ///
    /// # Errors
    ///
    /// [`DeployError::Io`].
    pub fn save(&self, path: &Path) -> Result<(), DeployError> {
        let io = |source| DeployError::Io { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("json.partial");
        let text = serde_json::to_string_pretty(self).expect("records always serialize");
        fs::write(&tmp, text + "\n").map_err(io)?;
        fs::rename(&tmp, path).map_err(io)
    }

    /// Address of contract `name`.
    ///
    /// # Errors
    ///
    /// [`DeployError::Missing`] if the record lacks it.
    pub fn address(&self, name: &str) -> Result<Address, DeployError> {
        self.contracts.get(name).map(|c| c.address).ok_or_else(|| DeployError::Missing {
            network: self.network.clone(),
            name: name.into(),
        })
    }
}

/// Tunable parameters of a suite deployment.
///
/// Fees, the challenge window and the keeper-authority requirement are initial values: once the
/// suite is deployed, the guild changes them by governance proposal (`setFees`, …), not by
/// redeploying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SuiteParams {
    /// Keeper fee in basis points of each bounty.
    pub keeper_fee_bps: u16,
    /// Guild fee in basis points of each bounty (paid to the guild timelock).
    pub guild_fee_bps: u16,
    /// Seconds a requester has to dispute a delivered job before it can be released.
    pub challenge_window: u64,
    /// Seconds the guild has to rule on a dispute before anyone may refund the requester.
    pub dispute_timeout: u64,
    /// Metadata URI template of the rank token.
    pub rank_uri: String,
    /// Metadata URI template of the Liquid Access Tokens.
    pub lat_uri: String,
    /// Keepers granted the market's `KEEPER_ROLE` while the deployment is bootstrapped; later
    /// keepers are granted by governance.
    pub keepers: Vec<Address>,
    /// Whether keepers must be active authority nodes of the suite's registry.
    pub require_authority_keepers: bool,
    /// Seconds after a claim from which another keeper may re-claim the job (the market's
    /// `claimTimeout`; at least 1). Long enough for any deliberation, short enough that a stopped
    /// keeper's jobs are taken over well before their deadlines.
    pub claim_timeout: u32,
    /// The arena's `minJoinFeeUnit`: the smallest join fee per seat of a rank-1 game, in the
    /// bounty token's base units; a rank-`R` game charges at least `2^(R − 1)` times it per seat.
    /// Every LAT value unit the arena mints costs at least twice this in fees, so a whole guild
    /// token converted from arena LATs costs at least `2 · arena_min_join_fee · p0` in fees at the
    /// start of an epoch, `p0` being [`ConversionParams::base_price`] (docs/economics.md, "The
    /// price of an arena LAT"). Immutable in the arena: a change redeploys it.
    pub arena_min_join_fee: U256,
    /// Governance parameters.
    pub governance: GovernanceParams,
    /// LAT → guild token conversion parameters.
    pub conversion: ConversionParams,
    /// Authority-node burn curve.
    pub authority: AuthorityParams,
    /// Agent bonds: the registry seats are drawn from.
    pub agents: AgentParams,
    /// Initial balances of the guild token and the bounty token.
    pub genesis: Genesis,
}

impl Default for SuiteParams {
    fn default() -> Self {
        Self {
            keeper_fee_bps: 500,
            guild_fee_bps: 200,
            challenge_window: 3600,
            dispute_timeout: 14 * 86_400,
            rank_uri: "nsed://rank/{id}".into(),
            lat_uri: "nsed://lat/{id}".into(),
            keepers: Vec::new(),
            require_authority_keepers: false,
            claim_timeout: DEFAULT_CLAIM_TIMEOUT,
            arena_min_join_fee: DEFAULT_ARENA_MIN_JOIN_FEE,
            governance: GovernanceParams::default(),
            conversion: ConversionParams::default(),
            authority: AuthorityParams::default(),
            agents: AgentParams::default(),
            genesis: Genesis::default(),
        }
    }
}

/// Default [`SuiteParams::arena_min_join_fee`]: 0.01 bounty token (10^16 base units), so a LAT
/// value unit costs at least 0.02 tokens of arena fees and, at the default `p0 = 50`, a guild
/// token converted from arena LATs costs at least one bounty token.
pub const DEFAULT_ARENA_MIN_JOIN_FEE: U256 = U256::from_limbs([10_000_000_000_000_000, 0, 0, 0]);

/// Default [`SuiteParams::claim_timeout`]: the market's own default, thirty minutes.
pub const DEFAULT_CLAIM_TIMEOUT: u32 = 30 * 60;

/// Chain id of a local dev chain (anvil's and hardhat's default). Only there does the deployer
/// keep the bounty token's faucet, and only there may the guild genesis be left empty.
pub const DEV_CHAIN_ID: u64 = 31337;

/// Whole guild tokens a dev-chain deployment mints to the deployer when [`Genesis::guild`] is
/// empty: enough for the demo and the tests to delegate, propose and reach quorum alone.
pub const DEV_GENESIS_SUPPLY: u64 = 1_000_000;

/// Whether `chain_id` is a local dev chain ([`DEV_CHAIN_ID`]).
pub const fn is_dev_chain(chain_id: u64) -> bool {
    chain_id == DEV_CHAIN_ID
}

/// One initial balance: `amount` whole tokens (18 decimals) to `holder`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Allocation {
    /// Receives the tokens: an account, a multisig or a vesting contract (OpenZeppelin's
    /// `VestingWallet` releases them to its beneficiary on a schedule).
    pub holder: Address,
    /// Whole tokens.
    pub amount: u64,
}

impl Allocation {
    /// The amount in base units (`amount · 10^18`).
    pub fn base_units(&self) -> U256 {
        U256::from(self.amount) * U256::from(10u64).pow(U256::from(18))
    }
}

/// Initial balances of the suite's tokens, as `nsed deploy --suite.genesis FILE` reads them:
///
/// ```json
/// { "guild":  [{ "holder": "0x…", "amount": 600000 }, { "holder": "0x…", "amount": 400000 }],
///   "bounty": [{ "holder": "0x…", "amount": 1000000 }] }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Genesis {
    /// The guild token's genesis distribution, minted at its construction; the total supply at
    /// genesis is their sum. Empty: [`DEV_GENESIS_SUPPLY`] to the deployer on a dev chain, refused
    /// ([`DeployError::NoGenesis`]) elsewhere. Part of the token's constructor arguments, so a
    /// change redeploys the guild token (and what depends on it).
    pub guild: Vec<Allocation>,
    /// Bounty tokens minted once, when the deployment finishes the bounty token's minting: outside
    /// a dev chain the deployer then renounces ownership, and no one mints again. On a dev chain
    /// they are minted when the token is deployed, and the deployer keeps minting (the demo
    /// faucet).
    pub bounty: Vec<Allocation>,
}

impl Genesis {
    /// The guild distribution a deployment on `chain_id` by `deployer` mints.
    ///
    /// # Errors
    ///
    /// [`DeployError::NoGenesis`] when [`Self::guild`] is empty outside a dev chain.
    pub fn guild_for(
        &self,
        chain_id: u64,
        deployer: Address,
    ) -> Result<Vec<Allocation>, DeployError> {
        if !self.guild.is_empty() {
            return Ok(self.guild.clone());
        }
        if !is_dev_chain(chain_id) {
            return Err(DeployError::NoGenesis { chain_id });
        }
        Ok(vec![Allocation { holder: deployer, amount: DEV_GENESIS_SUPPLY }])
    }
}

/// The agent registry's bond parameters (see `AgentRegistry.sol`); the guild changes them later
/// with `setBondParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AgentParams {
    /// Smallest bond of an eligible agent, in the bounty token's base units. It is also the
    /// market's first promotion rung: rank `r → r + 1` needs a bond of `minBond · 2^r`.
    pub min_bond: U256,
    /// Seconds between an unbond request and the withdrawal, during which the bond can still be
    /// slashed.
    pub unbond_delay: u64,
    /// Share of a slashed bond paid to its reporter, in basis points (the rest to the guild).
    pub reporter_bps: u16,
}

impl Default for AgentParams {
    /// 10 tokens, one day, 10 %: a bond a demo operator can afford, held long enough to catch
    /// an equivocation reported after the agent leaves, and a reporter share worth a transaction.
    fn default() -> Self {
        Self {
            min_bond: U256::from(10u64) * U256::from(10u64).pow(U256::from(18)),
            unbond_delay: 86_400,
            reporter_bps: 1_000,
        }
    }
}

/// Guild token, governor and timelock parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GovernanceParams {
    /// Seconds the timelock holds a passed proposal before it can execute.
    pub timelock_delay: u64,
    /// Seconds from a proposal to the start of its vote.
    pub voting_delay: u64,
    /// Seconds a vote stays open.
    pub voting_period: u32,
    /// Whole guild tokens of voting power needed to propose.
    pub proposal_threshold: u64,
    /// Quorum, in percent of the supply at the proposal's snapshot.
    pub quorum_percent: u8,
}

impl Default for GovernanceParams {
    fn default() -> Self {
        Self {
            timelock_delay: 86_400,
            voting_delay: 3_600,
            voting_period: 259_200,
            proposal_threshold: 1_000,
            quorum_percent: 4,
        }
    }
}

/// Parameters of the LAT → guild token conversion (see `LatConverter.sol` for the formulas).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConversionParams {
    /// `p0`: LAT value units per whole guild token at the start of an epoch.
    pub base_price: u64,
    /// `k` in 1e18 fixed point: how fast the price rises with the epoch's converted share.
    pub slope_wad: U256,
    /// Most of the epoch's base supply convertible per epoch, in basis points.
    pub cap_bps: u16,
    /// Seconds per epoch.
    pub epoch_length: u64,
    /// Seconds before converted tokens can be claimed (and vote).
    pub vesting_period: u64,
}

impl Default for ConversionParams {
    fn default() -> Self {
        Self {
            base_price: 50,
            slope_wad: U256::from(10u64).pow(U256::from(18)),
            cap_bps: 500,
            epoch_length: 7 * 86_400,
            vesting_period: 30 * 86_400,
        }
    }
}

/// The authority registry's burn curve: `floor + scale·(1 − decay^n)` wei for the `n+1`-th node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthorityParams {
    /// Wei burned by the first node.
    pub burn_floor: U256,
    /// Wei added on top of the floor as the node count grows.
    pub burn_scale: U256,
    /// Per-node decay factor in 1e18 fixed point (between 0 and 1e18, exclusive).
    pub burn_decay_wad: U256,
}

impl Default for AuthorityParams {
    fn default() -> Self {
        let ether = U256::from(10u64).pow(U256::from(18));
        Self {
            burn_floor: ether / U256::from(10),
            burn_scale: ether * U256::from(10),
            burn_decay_wad: ether * U256::from(9) / U256::from(10),
        }
    }
}

/// `keccak256` of a role name, as OpenZeppelin's `AccessControl` defines roles.
fn role(name: &str) -> B256 {
    keccak256(name)
}

/// The record name of chain `chain_id` when none is given: `local` for a dev chain (31337), else
/// `chain-<id>`.
pub fn network_name(chain_id: u64) -> String {
    if chain_id == 31337 { "local".into() } else { format!("chain-{chain_id}") }
}

/// Deploys (or reuses) the suite and keeps its record in `dir`: `<dir>/<network>.json` (network
/// [`network_name`] unless given) is read first when it exists, then written back. Returns the
/// record and its path.
///
/// # Errors
///
/// [`DeployError`] when the chain cannot be reached, a transaction fails, the existing record is
/// unreadable or for another chain, or the record cannot be written.
pub async fn deploy_to_dir<P: Provider>(
    provider: &P,
    deployer: Address,
    network: Option<&str>,
    dir: &Path,
    params: SuiteParams,
) -> Result<(Deployment, PathBuf), DeployError> {
    let chain_id = provider.get_chain_id().await.during("eth_chainId")?;
    let network = network.map_or_else(|| network_name(chain_id), str::to_string);
    let path = dir.join(format!("{network}.json"));
    let existing = if path.exists() { Some(Deployment::load(&path)?) } else { None };
    let record = deploy_suite(provider, deployer, &network, params, existing.as_ref()).await?;
    record.save(&path)?;
    Ok((record, path))
}

/// Deploys (or reuses) the whole suite, wires it, and returns the record.
///
/// The guild's timelock owns every contract's roles and parameters from construction. To wire
/// the suite without an admin backdoor, a fresh timelock starts with delay 0 and the deployer as
/// its only proposer: the deployer schedules and executes one batch that grants the roles the
/// contracts need of each other (and `KEEPER_ROLE` to [`SuiteParams::keepers`]), makes the
/// governor the proposer and canceller, sets the real delay and revokes the deployer. After that
/// the deployer has no power left, over the guild token's supply either: the genesis goes straight
/// to [`Genesis::guild`]'s holders and only the converter mints. Outside a dev chain the bounty
/// token mints [`Genesis::bounty`] and renounces its owner; on a dev chain the deployer keeps it
/// as the demo's faucet. Wiring a later redeploy needs governance: what is missing is
/// returned in [`Deployment::pending`] rather than failing, so the record is never lost.
///
/// # Errors
///
/// [`DeployError`] when a transaction fails or the record is for another chain.
pub async fn deploy_suite<P: Provider>(
    provider: &P,
    deployer: Address,
    network: &str,
    mut params: SuiteParams,
    existing: Option<&Deployment>,
) -> Result<Deployment, DeployError> {
    let chain_id = provider.get_chain_id().await.during("eth_chainId")?;
    // The record keeps the distribution actually minted, the dev default included.
    params.genesis.guild = params.genesis.guild_for(chain_id, deployer)?;
    // Parameters live in constructor arguments, so comparing each contract's arguments decides
    // what a parameter change redeploys.
    if let Some(record) = existing
        && record.chain_id != chain_id
    {
        return Err(DeployError::WrongChain { record: record.chain_id, rpc: chain_id });
    }
    let prior = |name: &str| existing.and_then(|r| r.contracts.get(name));
    let addr = DynSolValue::Address;
    let uint = |v: U256, bits: usize| DynSolValue::Uint(v, bits);
    let whole = |n: u64| U256::from(n) * U256::from(10u64).pow(U256::from(18));
    let g = &params.governance;

    let timelock = ensure(
        provider,
        prior(TIMELOCK),
        TIMELOCK,
        vec![
            uint(U256::ZERO, 256),
            DynSolValue::Array(vec![addr(deployer)]),
            DynSolValue::Array(vec![addr(Address::ZERO)]),
            addr(Address::ZERO),
        ],
    )
    .await?;
    let guild = timelock.address;
    let guild_token = ensure(
        provider,
        prior(GUILD_TOKEN),
        GUILD_TOKEN,
        vec![
            addr(guild),
            DynSolValue::Array(params.genesis.guild.iter().map(|a| addr(a.holder)).collect()),
            DynSolValue::Array(
                params.genesis.guild.iter().map(|a| uint(a.base_units(), 256)).collect(),
            ),
        ],
    )
    .await?;
    let governor = ensure(
        provider,
        prior(GOVERNOR),
        GOVERNOR,
        vec![
            addr(guild_token.address),
            addr(guild),
            uint(U256::from(g.voting_delay), 48),
            uint(U256::from(g.voting_period), 32),
            uint(whole(g.proposal_threshold), 256),
            uint(U256::from(g.quorum_percent), 256),
        ],
    )
    .await?;
    let ranks = ensure(
        provider,
        prior(RANK_TOKEN),
        RANK_TOKEN,
        vec![DynSolValue::String(params.rank_uri.clone()), addr(guild)],
    )
    .await?;
    let lat = ensure(
        provider,
        prior(LAT),
        LAT,
        vec![DynSolValue::String(params.lat_uri.clone()), addr(guild)],
    )
    .await?;
    let token = ensure(provider, prior(BOUNTY_TOKEN), BOUNTY_TOKEN, vec![addr(deployer)]).await?;
    let fresh_token = prior(BOUNTY_TOKEN).map(|p| p.address) != Some(token.address);
    bounty_genesis(
        provider,
        token.address,
        deployer,
        chain_id,
        fresh_token,
        &params.genesis.bounty,
    )
    .await?;
    let escrow = ensure(
        provider,
        prior(ESCROW),
        ESCROW,
        vec![addr(guild), uint(U256::from(params.dispute_timeout), 64)],
    )
    .await?;
    let ag = &params.agents;
    let agent_registry = ensure(
        provider,
        prior(AGENT_REGISTRY),
        AGENT_REGISTRY,
        vec![
            addr(token.address),
            addr(guild),
            uint(ag.min_bond, 256),
            uint(U256::from(ag.unbond_delay), 64),
            uint(U256::from(ag.reporter_bps), 16),
        ],
    )
    .await?;
    let a = &params.authority;
    let authority = ensure(
        provider,
        prior(AUTHORITY),
        AUTHORITY,
        vec![
            addr(guild),
            uint(a.burn_floor, 256),
            uint(a.burn_scale, 256),
            uint(a.burn_decay_wad, 256),
        ],
    )
    .await?;
    let market = ensure(
        provider,
        prior(MARKET),
        MARKET,
        vec![
            addr(token.address),
            addr(ranks.address),
            addr(escrow.address),
            addr(lat.address),
            addr(agent_registry.address),
            addr(guild),
            uint(U256::from(params.keeper_fee_bps), 16),
            uint(U256::from(params.guild_fee_bps), 16),
            uint(U256::from(params.challenge_window), 64),
        ],
    )
    .await?;
    let arena = ensure(
        provider,
        prior(ARENA),
        ARENA,
        vec![
            addr(ranks.address),
            addr(token.address),
            addr(guild),
            addr(lat.address),
            uint(params.arena_min_join_fee, 256),
        ],
    )
    .await?;
    let c = &params.conversion;
    let converter = ensure(
        provider,
        prior(CONVERTER),
        CONVERTER,
        vec![
            addr(lat.address),
            addr(guild_token.address),
            addr(guild),
            DynSolValue::Tuple(vec![
                uint(U256::from(c.base_price), 256),
                uint(c.slope_wad, 256),
                uint(U256::from(c.cap_bps), 16),
                uint(U256::from(c.epoch_length), 64),
                uint(U256::from(c.vesting_period), 64),
            ]),
        ],
    )
    .await?;

    let mut wiring = Vec::new();
    let mut want_role = |target: Address, what: &str, role_name: &str, account: Address| {
        wiring.push(Grant { target, what: what.to_string(), role: role(role_name), account });
    };
    want_role(ranks.address, RANK_TOKEN, "GAME_ROLE", market.address);
    want_role(ranks.address, RANK_TOKEN, "GAME_ROLE", arena.address);
    want_role(lat.address, LAT, "MINTER_ROLE", market.address);
    want_role(lat.address, LAT, "MINTER_ROLE", arena.address);
    want_role(guild_token.address, GUILD_TOKEN, "MINTER_ROLE", converter.address);
    want_role(agent_registry.address, AGENT_REGISTRY, "SLASHER_ROLE", market.address);
    for &keeper in &params.keepers {
        want_role(market.address, MARKET, "KEEPER_ROLE", keeper);
    }
    want_role(guild, TIMELOCK, "PROPOSER_ROLE", governor.address);
    want_role(guild, TIMELOCK, "CANCELLER_ROLE", governor.address);
    let bootstrap = Bootstrap {
        deployer,
        timelock: guild,
        market: market.address,
        keeper_authority: params.require_authority_keepers.then_some(authority.address),
        claim_timeout: params.claim_timeout,
        converter: converter.address,
        arena: arena.address,
        timelock_delay: g.timelock_delay,
    };
    let pending = bootstrap.wire(provider, wiring).await?;

    let mut contracts = BTreeMap::new();
    for (name, record) in [
        (GUILD_TOKEN, guild_token),
        (TIMELOCK, timelock),
        (GOVERNOR, governor),
        (RANK_TOKEN, ranks),
        (LAT, lat),
        (BOUNTY_TOKEN, token),
        (ESCROW, escrow),
        (AUTHORITY, authority),
        (AGENT_REGISTRY, agent_registry),
        (MARKET, market),
        (ARENA, arena),
        (CONVERTER, converter),
    ] {
        contracts.insert(name.to_string(), record);
    }
    let start_block = contracts.values().map(|c| c.block_number).min().unwrap_or(0);
    Ok(Deployment {
        network: network.to_string(),
        chain_id,
        deployer,
        start_block,
        params,
        contracts,
        pending,
    })
}

/// Mints the bounty token's initial balances. On a dev chain that happens once, when the token is
/// deployed, and the deployer keeps minting (the demo faucet). Elsewhere the deployer, while it
/// still owns the token, mints them and renounces ownership in one transaction
/// (`finishMinting`): an interrupted deployment finishes it when run again, and once it is done
/// no later run can mint.
async fn bounty_genesis<P: Provider>(
    provider: &P,
    token: Address,
    deployer: Address,
    chain_id: u64,
    fresh: bool,
    balances: &[Allocation],
) -> Result<(), DeployError> {
    let bounty = BountyToken::new(token, provider);
    if is_dev_chain(chain_id) {
        if fresh {
            for a in balances {
                send("BountyToken.mint(genesis)", bounty.mint(a.holder, a.base_units())).await?;
            }
        }
        return Ok(());
    }
    let owner = bounty.owner().call().await.during("BountyToken.owner")?;
    if owner != deployer {
        return Ok(());
    }
    let holders = balances.iter().map(|a| a.holder).collect();
    let amounts = balances.iter().map(Allocation::base_units).collect();
    send("BountyToken.finishMinting", bounty.finishMinting(holders, amounts)).await?;
    info!(target: "deploy", holders = balances.len(), "bounty token minted its genesis and renounced its owner");
    Ok(())
}

/// A role the suite needs granted.
#[derive(Debug)]
struct Grant {
    target: Address,
    what: String,
    role: B256,
    account: Address,
}

/// Everything the one-time bootstrap batch needs to know.
#[derive(Debug)]
struct Bootstrap {
    deployer: Address,
    timelock: Address,
    market: Address,
    keeper_authority: Option<Address>,
    claim_timeout: u32,
    converter: Address,
    arena: Address,
    timelock_delay: u64,
}

impl Bootstrap {
    /// Grants what is missing through the timelock while the deployer still bootstraps it;
    /// otherwise returns the missing calls for governance.
    async fn wire<P: Provider>(
        &self,
        provider: &P,
        grants: Vec<Grant>,
    ) -> Result<Vec<PendingCall>, DeployError> {
        let mut calls: Vec<PendingCall> = Vec::new();
        for grant in grants {
            if !has_role(provider, grant.target, grant.role, grant.account).await? {
                calls.push(PendingCall {
                    what: format!("{}.grantRole({}, {})", grant.what, grant.role, grant.account),
                    target: grant.target,
                    data: AccessControlled::grantRoleCall {
                        role: grant.role,
                        account: grant.account,
                    }
                    .abi_encode()
                    .into(),
                });
            }
        }
        if let Some(registry) = self.keeper_authority {
            let current = DeliberationMarket::new(self.market, provider)
                .keeperAuthority()
                .call()
                .await
                .during("DeliberationMarket.keeperAuthority")?;
            if current != registry {
                calls.push(PendingCall {
                    what: format!("{MARKET}.setKeeperAuthority({registry})"),
                    target: self.market,
                    data: DeliberationMarket::setKeeperAuthorityCall { registry }
                        .abi_encode()
                        .into(),
                });
            }
        }
        let market = DeliberationMarket::new(self.market, provider);
        let claim_timeout =
            market.claimTimeout().call().await.during("DeliberationMarket.claimTimeout")?;
        if claim_timeout != self.claim_timeout {
            calls.push(PendingCall {
                what: format!("{MARKET}.setClaimTimeout({})", self.claim_timeout),
                target: self.market,
                data: DeliberationMarket::setClaimTimeoutCall { claimTimeout_: self.claim_timeout }
                    .abi_encode()
                    .into(),
            });
        }
        // Only the arena's LATs buy guild votes at first: its ranks cost locked stakes and
        // demotions, while market ranks rise by one per won job (see LatConverter's docs).
        let arena_asset = nsed_contracts::lat::asset_of(self.arena);
        let converter = LatConverter::new(self.converter, provider);
        let convertible = converter
            .isConvertible(arena_asset)
            .call()
            .await
            .during("LatConverter.isConvertible")?;
        if !convertible {
            calls.push(PendingCall {
                what: format!("{CONVERTER}.setConvertible(arena asset {}, true)", self.arena),
                target: self.converter,
                data: LatConverter::setConvertibleCall { asset: arena_asset, convertible: true }
                    .abi_encode()
                    .into(),
            });
        }
        let proposer = role("PROPOSER_ROLE");
        let bootstrapping = has_role(provider, self.timelock, proposer, self.deployer).await?;
        if !bootstrapping {
            if !calls.is_empty() {
                tracing::warn!(
                    target: "deploy",
                    missing = calls.len(),
                    "the guild owns the suite: missing wiring needs a governance proposal"
                );
            }
            return Ok(calls);
        }
        // The deployer's last acts: the real delay, then giving up its timelock roles.
        let timelock = GuildTimelock::new(self.timelock, provider);
        let delay = timelock.getMinDelay().call().await.during("GuildTimelock.getMinDelay")?;
        if delay != U256::from(self.timelock_delay) {
            calls.push(PendingCall {
                what: format!("{TIMELOCK}.updateDelay({})", self.timelock_delay),
                target: self.timelock,
                data: GuildTimelock::updateDelayCall { newDelay: U256::from(self.timelock_delay) }
                    .abi_encode()
                    .into(),
            });
        }
        for role_name in ["PROPOSER_ROLE", "CANCELLER_ROLE"] {
            calls.push(PendingCall {
                what: format!("{TIMELOCK}.revokeRole({role_name}, deployer)"),
                target: self.timelock,
                data: AccessControlled::revokeRoleCall {
                    role: role(role_name),
                    account: self.deployer,
                }
                .abi_encode()
                .into(),
            });
        }
        let targets: Vec<Address> = calls.iter().map(|c| c.target).collect();
        let values = vec![U256::ZERO; calls.len()];
        let payloads: Vec<Bytes> = calls.iter().map(|c| c.data.clone()).collect();
        let salt = keccak256(b"nsed bootstrap");
        // A deployment interrupted between scheduling and executing left this very batch
        // scheduled; scheduling it again would revert, so only execute it then.
        let id = timelock
            .hashOperationBatch(targets.clone(), values.clone(), payloads.clone(), B256::ZERO, salt)
            .call()
            .await
            .during("GuildTimelock.hashOperationBatch")?;
        let scheduled =
            timelock.isOperation(id).call().await.during("GuildTimelock.isOperation")?;
        if !scheduled {
            send(
                "GuildTimelock.scheduleBatch(bootstrap)",
                timelock.scheduleBatch(
                    targets.clone(),
                    values.clone(),
                    payloads.clone(),
                    B256::ZERO,
                    salt,
                    U256::ZERO,
                ),
            )
            .await?;
        }
        send(
            "GuildTimelock.executeBatch(bootstrap)",
            timelock.executeBatch(targets, values, payloads, B256::ZERO, salt),
        )
        .await?;
        for call in &calls {
            info!(target: "deploy", call = %call.what, "bootstrap");
        }
        Ok(Vec::new())
    }
}

/// A call the guild still has to make (by governance proposal) for the suite to be fully wired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingCall {
    /// What it does, for people.
    pub what: String,
    /// The contract to call.
    pub target: Address,
    /// The calldata.
    pub data: Bytes,
}

async fn has_role<P: Provider>(
    provider: &P,
    target: Address,
    role: B256,
    account: Address,
) -> Result<bool, DeployError> {
    Ok(AccessControlled::new(target, provider)
        .hasRole(role, account)
        .call()
        .await
        .during(format!("hasRole on {target}"))?)
}

/// Sends a contract call and waits for a successful receipt.
async fn send<P, C>(
    what: &str,
    call: alloy::contract::CallBuilder<P, C, alloy::network::Ethereum>,
) -> Result<(), DeployError>
where
    P: Provider,
    C: alloy::contract::CallDecoder,
{
    tx::send_call(what, call).await?;
    Ok(())
}

fn arg_string(value: &DynSolValue) -> String {
    match value {
        DynSolValue::Address(a) => a.to_checksum(None),
        DynSolValue::Uint(v, _) => v.to_string(),
        DynSolValue::String(s) => s.clone(),
        DynSolValue::Array(items) | DynSolValue::Tuple(items) => {
            format!("[{}]", items.iter().map(arg_string).collect::<Vec<_>>().join(","))
        }
        other => format!("{other:?}"),
    }
}

/// Reuses `prior` when it matches the current artifact and arguments and still has code;
/// deploys otherwise.
async fn ensure<P: Provider>(
    provider: &P,
    prior: Option<&ContractRecord>,
    name: &str,
    args: Vec<DynSolValue>,
) -> Result<ContractRecord, DeployError> {
    let artifact =
        nsed_contracts::artifact(name).ok_or_else(|| DeployError::Artifact(name.into()))?;
    let bytecode = artifact.bytecode().map_err(|e| DeployError::Artifact(e.to_string()))?;
    let abi = artifact.abi().map_err(|e| DeployError::Artifact(e.to_string()))?;
    let bytecode_hash = keccak256(&bytecode);
    let arg_strings: Vec<String> = args.iter().map(arg_string).collect();
    if let Some(prior) = prior
        && prior.bytecode_hash == bytecode_hash
        && prior.args == arg_strings
    {
        // Code alone is not enough: on a fresh dev chain another contract of the suite can sit at
        // the recorded address (same deployer, same nonce). The recorded deployment transaction
        // must exist and have created this very address.
        let code = provider
            .get_code_at(prior.address)
            .await
            .during(format!("eth_getCode {}", prior.address))?;
        let receipt = provider
            .get_transaction_receipt(prior.transaction_hash)
            .await
            .during(format!("eth_getTransactionReceipt {}", prior.transaction_hash))?;
        let created_here = receipt.is_some_and(|r| r.contract_address == Some(prior.address));
        if !code.is_empty() && created_here {
            info!(target: "deploy", contract = name, address = %prior.address, "reusing");
            return Ok(prior.clone());
        }
    }
    let mut init = bytecode.to_vec();
    init.extend_from_slice(&DynSolValue::Tuple(args).abi_encode_params());
    let request = TransactionRequest::default().with_deploy_code(Bytes::from(init));
    let operation = format!("deploy {name}");
    let receipt = tx::send_tx(provider, operation.clone(), request).await?;
    let address = receipt
        .contract_address
        .ok_or(TxError::Missing { operation, missing: "a contract address in the receipt" })?;
    info!(target: "deploy", contract = name, %address, tx = %receipt.transaction_hash, "deployed");
    Ok(ContractRecord {
        address,
        transaction_hash: receipt.transaction_hash,
        block_number: receipt.block_number.unwrap_or_default(),
        args: arg_strings,
        bytecode_hash,
        abi,
    })
}
