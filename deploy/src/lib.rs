//! Deploys the NSED contract suite and keeps its deployment record (DESIGN.md §8).
//!
//! A record (`deployments/<network>.json`) has the shape hardhat-deploy users know: the chain id,
//! the block to start following events from, and per contract its address, deployment transaction,
//! block, constructor arguments, ABI and the hash of the creation bytecode it was built from.
//!
//! [`deploy_suite`] is idempotent: a contract whose record matches the current artifact (same
//! creation-bytecode hash, same constructor arguments) and still has code on chain is reused;
//! anything else is deployed again, and so is everything that takes it as a constructor argument.
//! Role wiring (the market's `GAME_ROLE` on the rank token) is checked before it is granted.
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
};
use nsed_contracts::rank_token::RankToken;
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
    /// An artifact is missing from the build (a build bug).
    #[error("contract {0} is not in the compiled artifacts")]
    Artifact(String),
    /// A JSON-RPC call or transaction failed.
    #[error("{operation}: {reason}")]
    Rpc {
        /// What was being done.
        operation: String,
        /// The error.
        reason: String,
    },
}

fn rpc(operation: impl Into<String>) -> impl FnOnce(String) -> DeployError {
    let operation = operation.into();
    move |reason| DeployError::Rpc { operation, reason }
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

/// A network's deployment record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuiteParams {
    /// Guild address: admin of every role, treasury, escrow dispute resolver (the deployer if
    /// `None`).
    pub guild: Option<Address>,
    /// Keeper fee in basis points of each bounty.
    pub keeper_fee_bps: u16,
    /// Guild fee in basis points of each bounty.
    pub guild_fee_bps: u16,
    /// Seconds a requester has to dispute a delivered job before it can be released.
    pub challenge_window: u64,
    /// Metadata URI template of the rank token.
    pub rank_uri: String,
}

impl Default for SuiteParams {
    fn default() -> Self {
        Self {
            guild: None,
            keeper_fee_bps: 500,
            guild_fee_bps: 200,
            challenge_window: 3600,
            rank_uri: "nsed://rank/{id}".into(),
        }
    }
}

/// Deploys (or reuses) RankToken, BountyToken, TripartiteEscrow and DeliberationMarket, grants
/// the market `GAME_ROLE` on the rank token, and returns the record.
///
/// # Errors
///
/// [`DeployError`] when a transaction fails or the record is for another chain.
pub async fn deploy_suite<P: Provider>(
    provider: &P,
    deployer: Address,
    network: &str,
    params: SuiteParams,
    existing: Option<&Deployment>,
) -> Result<Deployment, DeployError> {
    let chain_id = provider.get_chain_id().await.map_err(|e| rpc("eth_chainId")(e.to_string()))?;
    // Parameters live in constructor arguments, so comparing each contract's arguments decides
    // what a parameter change redeploys.
    if let Some(record) = existing
        && record.chain_id != chain_id
    {
        return Err(DeployError::WrongChain { record: record.chain_id, rpc: chain_id });
    }
    let guild = params.guild.unwrap_or(deployer);
    let mut contracts = BTreeMap::new();
    let prior = |name: &str| existing.and_then(|r| r.contracts.get(name));

    let ranks = ensure(
        provider,
        prior(RANK_TOKEN),
        RANK_TOKEN,
        vec![DynSolValue::String(params.rank_uri.clone()), DynSolValue::Address(guild)],
    )
    .await?;
    let token =
        ensure(provider, prior(BOUNTY_TOKEN), BOUNTY_TOKEN, vec![DynSolValue::Address(deployer)])
            .await?;
    let escrow = ensure(provider, prior(ESCROW), ESCROW, vec![DynSolValue::Address(guild)]).await?;
    let market = ensure(
        provider,
        prior(MARKET),
        MARKET,
        vec![
            DynSolValue::Address(token.address),
            DynSolValue::Address(ranks.address),
            DynSolValue::Address(escrow.address),
            DynSolValue::Address(guild),
            DynSolValue::Uint(U256::from(params.keeper_fee_bps), 16),
            DynSolValue::Uint(U256::from(params.guild_fee_bps), 16),
            DynSolValue::Uint(U256::from(params.challenge_window), 64),
        ],
    )
    .await?;

    // Wiring: the market mints and burns ranks. Only the guild can grant it; when the guild is
    // someone else, they must do it through governance.
    let rank_token = RankToken::new(ranks.address, provider);
    let game_role = rank_token
        .GAME_ROLE()
        .call()
        .await
        .map_err(|e| rpc("RankToken.GAME_ROLE")(e.to_string()))?;
    let granted = rank_token
        .hasRole(game_role, market.address)
        .call()
        .await
        .map_err(|e| rpc("RankToken.hasRole")(e.to_string()))?;
    if !granted && guild == deployer {
        rank_token
            .grantRole(game_role, market.address)
            .send()
            .await
            .map_err(|e| rpc("RankToken.grantRole(GAME_ROLE, market)")(e.to_string()))?
            .get_receipt()
            .await
            .map_err(|e| rpc("RankToken.grantRole receipt")(e.to_string()))?;
        info!(target: "deploy", market = %market.address, "granted GAME_ROLE to the market");
    }

    let start_block =
        [&ranks, &token, &escrow, &market].iter().map(|c| c.block_number).min().unwrap_or(0);
    for (name, record) in
        [(RANK_TOKEN, ranks), (BOUNTY_TOKEN, token), (ESCROW, escrow), (MARKET, market)]
    {
        contracts.insert(name.to_string(), record);
    }
    Ok(Deployment {
        network: network.to_string(),
        chain_id,
        deployer,
        start_block,
        params,
        contracts,
    })
}

fn arg_string(value: &DynSolValue) -> String {
    match value {
        DynSolValue::Address(a) => a.to_checksum(None),
        DynSolValue::Uint(v, _) => v.to_string(),
        DynSolValue::String(s) => s.clone(),
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
        let code = provider
            .get_code_at(prior.address)
            .await
            .map_err(|e| rpc(format!("eth_getCode {}", prior.address))(e.to_string()))?;
        if !code.is_empty() {
            info!(target: "deploy", contract = name, address = %prior.address, "reusing");
            return Ok(prior.clone());
        }
    }
    let mut init = bytecode.to_vec();
    init.extend_from_slice(&DynSolValue::Tuple(args).abi_encode_params());
    let tx = TransactionRequest::default().with_deploy_code(Bytes::from(init));
    let receipt = provider
        .send_transaction(tx)
        .await
        .map_err(|e| rpc(format!("deploy {name}"))(e.to_string()))?
        .get_receipt()
        .await
        .map_err(|e| rpc(format!("deploy {name}: receipt"))(e.to_string()))?;
    if !receipt.status() {
        return Err(rpc(format!("deploy {name}"))(format!(
            "transaction {} reverted",
            receipt.transaction_hash
        )));
    }
    let address = receipt
        .contract_address
        .ok_or_else(|| rpc(format!("deploy {name}"))("receipt has no contract address".into()))?;
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
