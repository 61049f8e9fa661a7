//! The in-memory chain.

use alloy::{
    primitives::{Address, B256, Bytes, TxKind, U256},
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolConstructor},
};
use revm::{
    Context, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainnetEvm,
    context::{BlockEnv, CfgEnv, Journal, TxEnv, result::ExecutionResult},
    database::{CacheDB, EmptyDB},
    database_interface::DatabaseRef,
    primitives::hardfork::SpecId,
    state::AccountInfo,
};

use super::{Receipt, TxFailure};

/// anvil's ten default dev keys (mnemonic `test test … junk`), so a [`TestChain`] and a local
/// anvil share addresses. Public knowledge: never use them for real funds.
pub use nsed_devstack::anvil::DEFAULT_PRIVATE_KEYS as DEV_PRIVATE_KEYS;

/// Chain id of the test chain (anvil's default).
const CHAIN_ID: u64 = 31337;
/// Gas limit given to every transaction: a mainnet block's worth.
const TX_GAS_LIMIT: u64 = 30_000_000;
/// Starting timestamp, a fixed date so tests are reproducible.
const GENESIS_TIMESTAMP: u64 = 1_700_000_000;
/// Starting balance of every dev account.
const DEV_BALANCE_ETH: u64 = 10_000;

type Db = CacheDB<EmptyDB>;
type Evm = MainnetEvm<Context<BlockEnv, TxEnv, CfgEnv, Db, Journal<Db>, ()>>;

/// Identifies a state saved by [`TestChain::snapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotId(usize);

/// A saved chain state: accounts and storage plus the block environment.
#[derive(Debug)]
struct Snapshot {
    db: Db,
    number: U256,
    timestamp: U256,
    prevrandao: Option<B256>,
}

/// An in-memory EVM chain (revm, Prague rules as in `foundry.toml`) with ten funded dev accounts.
///
/// Gas is priced at zero, so balances move only by explicit value transfers. Every transaction gets
/// a 30M gas limit and must pay the usual intrinsic costs, so [`Receipt::gas_used`] matches what a
/// real chain charges.
#[allow(missing_debug_implementations)] // revm's EVM is not Debug
pub struct TestChain {
    evm: Evm,
    signers: Vec<PrivateKeySigner>,
    snapshots: Vec<Option<Snapshot>>,
}

impl Default for TestChain {
    fn default() -> Self {
        Self::new()
    }
}

impl TestChain {
    /// A fresh chain at block 1, timestamp 1 700 000 000, with the dev accounts funded.
    pub fn new() -> Self {
        let signers: Vec<PrivateKeySigner> = DEV_PRIVATE_KEYS
            .iter()
            .map(|key| key.parse().expect("DEV_PRIVATE_KEYS are valid secp256k1 keys"))
            .collect();
        let mut db = Db::new(EmptyDB::new());
        let balance = U256::from(DEV_BALANCE_ETH) * U256::from(10).pow(U256::from(18));
        for signer in &signers {
            db.insert_account_info(signer.address(), AccountInfo::from_balance(balance));
        }
        let evm = Context::<BlockEnv, TxEnv, CfgEnv, Db, Journal<Db>, ()>::new(db, SpecId::PRAGUE)
            .modify_cfg_chained(|cfg| cfg.chain_id = CHAIN_ID)
            .modify_block_chained(|block| {
                block.number = U256::from(1);
                block.timestamp = U256::from(GENESIS_TIMESTAMP);
                block.gas_limit = u64::MAX;
                block.basefee = 0;
            })
            .build_mainnet();
        Self { evm, signers, snapshots: Vec::new() }
    }

    /// Address of dev account `index` (0..10).
    ///
    /// # Panics
    ///
    /// If `index >= 10`.
    #[track_caller]
    pub fn account(&self, index: usize) -> Address {
        self.signers[index].address()
    }

    /// Signer of dev account `index` (0..10), for EIP-712 and other signatures.
    ///
    /// # Panics
    ///
    /// If `index >= 10`.
    #[track_caller]
    pub fn signer(&self, index: usize) -> &PrivateKeySigner {
        &self.signers[index]
    }

    /// The chain id transactions are bound to.
    pub const fn chain_id(&self) -> u64 {
        CHAIN_ID
    }

    /// Current block timestamp in seconds.
    pub fn timestamp(&self) -> u64 {
        self.evm.ctx.block.timestamp.saturating_to()
    }

    /// Current block number.
    pub fn block_number(&self) -> u64 {
        self.evm.ctx.block.number.saturating_to()
    }

    /// Sets the block timestamp (forge's `vm.warp`).
    pub fn warp(&mut self, timestamp: u64) {
        self.evm.ctx.block.timestamp = U256::from(timestamp);
    }

    /// The block's `prevrandao` (the beacon chain's RANDAO mix; zero until set).
    pub fn prevrandao(&self) -> B256 {
        self.evm.ctx.block.prevrandao.unwrap_or_default()
    }

    /// Sets the block's `prevrandao` (forge's `vm.prevrandao`), e.g. to vary on-chain draws.
    pub fn set_prevrandao(&mut self, prevrandao: B256) {
        self.evm.ctx.block.prevrandao = Some(prevrandao);
    }

    /// Moves time forward by `seconds` and the block number by one.
    pub fn advance_time(&mut self, seconds: u64) {
        let next = self.timestamp() + seconds;
        self.warp(next);
        self.roll(self.block_number() + 1);
    }

    /// Sets the block number (forge's `vm.roll`).
    pub fn roll(&mut self, number: u64) {
        self.evm.ctx.block.number = U256::from(number);
    }

    /// Ether balance of `address`, in wei.
    pub fn balance(&self, address: Address) -> U256 {
        self.info(address).map(|info| info.balance).unwrap_or_default()
    }

    /// Sets the ether balance of `address` (forge's `vm.deal`).
    pub fn deal(&mut self, address: Address, wei: U256) {
        let mut info = self.info(address).unwrap_or_default();
        info.balance = wei;
        self.db_mut().insert_account_info(address, info);
    }

    /// Runtime code at `address` (empty for accounts without code).
    pub fn code(&self, address: Address) -> Bytes {
        self.info(address)
            .and_then(|info| info.code)
            .map(|code| code.original_bytes())
            .unwrap_or_default()
    }

    /// Deploys `bytecode` with constructor arguments `args` from `from` and returns its address.
    ///
    /// # Errors
    ///
    /// [`TxFailure`] if the constructor reverts or the transaction is invalid.
    pub fn deploy<C: SolConstructor>(
        &mut self,
        from: Address,
        bytecode: &[u8],
        args: &C,
    ) -> Result<Address, TxFailure> {
        self.deploy_with_receipt(from, bytecode, args).map(|receipt| receipt.ret)
    }

    /// Like [`Self::deploy`], returning the full receipt (gas used, constructor events).
    ///
    /// # Errors
    ///
    /// [`TxFailure`] if the constructor reverts or the transaction is invalid.
    pub fn deploy_with_receipt<C: SolConstructor>(
        &mut self,
        from: Address,
        bytecode: &[u8],
        args: &C,
    ) -> Result<Receipt<Address>, TxFailure> {
        let mut init = bytecode.to_vec();
        init.extend_from_slice(&args.abi_encode());
        self.deploy_code(from, init.into())
    }

    /// Deploys raw init code (creation bytecode with any constructor arguments appended), e.g. for
    /// contracts without a constructor.
    ///
    /// # Errors
    ///
    /// [`TxFailure`] if the constructor reverts or the transaction is invalid.
    pub fn deploy_code(
        &mut self,
        from: Address,
        init_code: Bytes,
    ) -> Result<Receipt<Address>, TxFailure> {
        let receipt = self.execute(from, TxKind::Create, init_code, U256::ZERO, true)?;
        let address = Address::try_from(&receipt.ret[..])
            .map_err(|e| TxFailure::Decode { data: receipt.ret.clone(), reason: e.to_string() })?;
        Ok(Receipt { ret: address, gas_used: receipt.gas_used, logs: receipt.logs })
    }

    /// Runs `call` against `to` without changing state (like `eth_call`) and decodes the result.
    ///
    /// # Errors
    ///
    /// [`TxFailure`] on revert, halt, invalid transaction or undecodable return data.
    pub fn call<C: SolCall>(
        &mut self,
        from: Address,
        to: Address,
        call: &C,
    ) -> Result<C::Return, TxFailure> {
        let raw =
            self.execute(from, TxKind::Call(to), call.abi_encode().into(), U256::ZERO, false)?;
        decode_return::<C>(raw).map(|receipt| receipt.ret)
    }

    /// Sends `call` to `to` as a transaction from `from` and commits its effects.
    ///
    /// # Errors
    ///
    /// [`TxFailure`] on revert, halt, invalid transaction or undecodable return data; a failed
    /// transaction changes nothing but the sender's nonce.
    pub fn send<C: SolCall>(
        &mut self,
        from: Address,
        to: Address,
        call: &C,
    ) -> Result<Receipt<C::Return>, TxFailure> {
        self.send_with_value(from, to, call, U256::ZERO)
    }

    /// Like [`Self::send`], also transferring `value` wei.
    ///
    /// # Errors
    ///
    /// As [`Self::send`].
    pub fn send_with_value<C: SolCall>(
        &mut self,
        from: Address,
        to: Address,
        call: &C,
        value: U256,
    ) -> Result<Receipt<C::Return>, TxFailure> {
        let raw = self.execute(from, TxKind::Call(to), call.abi_encode().into(), value, true)?;
        decode_return::<C>(raw)
    }

    /// Sends raw calldata (for tests of malformed input); the return data is not decoded.
    ///
    /// # Errors
    ///
    /// [`TxFailure`] on revert, halt or invalid transaction.
    pub fn send_raw(
        &mut self,
        from: Address,
        to: Address,
        data: Bytes,
        value: U256,
    ) -> Result<Receipt<Bytes>, TxFailure> {
        self.execute(from, TxKind::Call(to), data, value, true)
    }

    /// Saves the current state and block environment.
    pub fn snapshot(&mut self) -> SnapshotId {
        let snapshot = Snapshot {
            db: self.evm.ctx.journaled_state.database.clone(),
            number: self.evm.ctx.block.number,
            timestamp: self.evm.ctx.block.timestamp,
            prevrandao: self.evm.ctx.block.prevrandao,
        };
        self.snapshots.push(Some(snapshot));
        SnapshotId(self.snapshots.len() - 1)
    }

    /// Restores the state saved as `id`. Like anvil's `evm_revert`, this consumes `id` and every
    /// later snapshot; returns `false` if `id` is no longer valid.
    pub fn revert_to(&mut self, id: SnapshotId) -> bool {
        let Some(Some(snapshot)) = self.snapshots.get_mut(id.0).map(Option::take) else {
            return false;
        };
        self.snapshots.truncate(id.0);
        self.evm.ctx.journaled_state.database = snapshot.db;
        self.evm.ctx.block.number = snapshot.number;
        self.evm.ctx.block.timestamp = snapshot.timestamp;
        self.evm.ctx.block.prevrandao = snapshot.prevrandao;
        true
    }

    fn db_mut(&mut self) -> &mut Db {
        &mut self.evm.ctx.journaled_state.database
    }

    fn info(&self, address: Address) -> Option<AccountInfo> {
        self.evm.ctx.journaled_state.database.basic_ref(address).ok().flatten()
    }

    fn execute(
        &mut self,
        from: Address,
        kind: TxKind,
        data: Bytes,
        value: U256,
        commit: bool,
    ) -> Result<Receipt<Bytes>, TxFailure> {
        let nonce = self.info(from).map(|info| info.nonce).unwrap_or_default();
        let tx = TxEnv::builder()
            .caller(from)
            .kind(kind)
            .data(data)
            .value(value)
            .gas_limit(TX_GAS_LIMIT)
            .gas_price(0)
            .nonce(nonce)
            .chain_id(Some(CHAIN_ID))
            .build()
            .map_err(|e| TxFailure::Invalid(format!("{e:?}")))?;
        let result = if commit {
            self.evm.transact_commit(tx)
        } else {
            self.evm.transact(tx).map(|outcome| outcome.result)
        }
        .map_err(|e| TxFailure::Invalid(e.to_string()))?;
        match result {
            ExecutionResult::Success { gas, logs, output, .. } => {
                let ret = match output {
                    revm::context::result::Output::Call(bytes) => bytes,
                    revm::context::result::Output::Create(_, Some(address)) => {
                        Bytes::copy_from_slice(address.as_slice())
                    }
                    revm::context::result::Output::Create(bytes, None) => bytes,
                };
                Ok(Receipt { ret, gas_used: gas.tx_gas_used(), logs })
            }
            ExecutionResult::Revert { gas, output, .. } => {
                Err(TxFailure::Revert { data: output, gas_used: gas.tx_gas_used() })
            }
            ExecutionResult::Halt { reason, gas, .. } => {
                Err(TxFailure::Halt { reason: format!("{reason:?}"), gas_used: gas.tx_gas_used() })
            }
        }
    }
}

fn decode_return<C: SolCall>(raw: Receipt<Bytes>) -> Result<Receipt<C::Return>, TxFailure> {
    let ret = C::abi_decode_returns(&raw.ret)
        .map_err(|e| TxFailure::Decode { data: raw.ret.clone(), reason: e.to_string() })?;
    Ok(Receipt { ret, gas_used: raw.gas_used, logs: raw.logs })
}
