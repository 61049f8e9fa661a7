//! A local anvil node.

use std::{
    ffi::OsString,
    fmt,
    path::{Path, PathBuf},
    process::{Command, ExitStatus},
    time::Duration,
};

use serde_json::Value;
use tracing::debug;

use crate::{
    DEFAULT_STARTUP_TIMEOUT,
    binary::locate_anvil,
    error::{DevstackError, DevstackResult},
    http::{json_rpc_call, parse_quantity},
    process::{ProcessGuard, free_port, run_dir},
};

const NAME: &str = "anvil";

/// How many times [`Anvil::spawn`] tries when it picked the port itself and lost it to another
/// process between choosing and binding it.
const SPAWN_ATTEMPTS: usize = 3;

/// How long a single readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The chain id anvil uses unless told otherwise.
pub const DEFAULT_CHAIN_ID: u64 = 31337;

/// The mnemonic anvil derives its dev accounts from unless told otherwise.
pub const DEFAULT_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// Addresses of the first ten accounts derived from [`DEFAULT_MNEMONIC`] (path
/// `m/44'/60'/0'/0/<index>`), as lowercase `0x`-hex, in index order.
pub const DEFAULT_ADDRESSES: [&str; 10] = [
    "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
    "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
    "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc",
    "0x90f79bf6eb2c4f870365e785982e1f101e93b906",
    "0x15d34aaf54267db7d7c367839aaf71a00a2c6a65",
    "0x9965507d1a55bcc2695c58ba16fb37d819b0a4dc",
    "0x976ea74026e726554db657fa54763abd0c3a0aa9",
    "0x14dc79964da2c08b23698b3d3cc7ca32193d9955",
    "0x23618e81e3f5cdf7f54c3d65f7fbc0abf5b21e8f",
    "0xa0ee7a142d267c1f36714e4a8f75612f20a79720",
];

/// Private keys of the first ten accounts derived from [`DEFAULT_MNEMONIC`], as `0x`-hex, in the
/// same order as [`DEFAULT_ADDRESSES`].
///
/// These keys are public knowledge; never send real funds to their addresses.
pub const DEFAULT_PRIVATE_KEYS: [&str; 10] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

/// How to start an anvil node.
///
/// Build one with [`Default`] and the `with_*` methods, or with a struct literal and
/// `..Default::default()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnvilConfig {
    /// The anvil binary; `None` searches as [`locate_anvil`] describes.
    pub binary: Option<PathBuf>,
    /// The port to listen on; `None` picks a free one.
    pub port: Option<u16>,
    /// The chain id (`--chain-id`).
    pub chain_id: u64,
    /// Seconds between blocks (`--block-time`); `None` mines a block per transaction.
    pub block_time: Option<u64>,
    /// How many funded dev accounts to generate (`--accounts`).
    pub accounts: u32,
    /// Further arguments passed to anvil verbatim, after the ones above.
    pub extra_args: Vec<OsString>,
    /// How long to wait for the node to answer `eth_chainId`.
    pub startup_timeout: Duration,
}

impl Default for AnvilConfig {
    fn default() -> Self {
        Self {
            binary: None,
            port: None,
            chain_id: DEFAULT_CHAIN_ID,
            block_time: None,
            accounts: 10,
            extra_args: Vec::new(),
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
        }
    }
}

impl AnvilConfig {
    /// Uses the anvil binary at `binary` instead of searching for one.
    pub fn with_binary(mut self, binary: impl Into<PathBuf>) -> Self {
        self.binary = Some(binary.into());
        self
    }

    /// Listens on `port` instead of a free one.
    pub const fn with_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Sets the chain id.
    pub const fn with_chain_id(mut self, chain_id: u64) -> Self {
        self.chain_id = chain_id;
        self
    }

    /// Mines a block every `seconds` seconds.
    pub const fn with_block_time(mut self, seconds: u64) -> Self {
        self.block_time = Some(seconds);
        self
    }

    /// Sets how many funded dev accounts to generate.
    pub const fn with_accounts(mut self, accounts: u32) -> Self {
        self.accounts = accounts;
        self
    }

    /// Appends one argument passed to anvil verbatim.
    pub fn with_arg(mut self, arg: impl Into<OsString>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    /// Sets how long to wait for the node to become ready.
    pub const fn with_startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }
}

/// A funded dev account of a running anvil node.
///
/// `Debug` redacts the private key so that it never lands in logs by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct DevAccount {
    address: String,
    private_key: String,
}

impl DevAccount {
    /// The account address as lowercase `0x`-hex.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The account's secp256k1 private key as `0x`-hex.
    pub fn private_key(&self) -> &str {
        &self.private_key
    }
}

impl fmt::Debug for DevAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevAccount")
            .field("address", &self.address)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// Starts anvil nodes; see [`Anvil::spawn`].
#[derive(Debug, Clone, Copy)]
pub struct Anvil;

impl Anvil {
    /// Starts anvil on `127.0.0.1` and waits until it answers `eth_chainId` with
    /// `config.chain_id`.
    ///
    /// When `config.port` is `None`, a free port is picked and the spawn is retried (up to three
    /// attempts) if another process takes the port first.
    ///
    /// # Errors
    ///
    /// - [`DevstackError::BinaryNotFound`] when no anvil binary exists;
    /// - [`DevstackError::Spawn`] when it cannot be executed;
    /// - [`DevstackError::AddrInUse`] when the port is taken (after the retries, if any);
    /// - [`DevstackError::ExitedEarly`] when anvil exits before it is ready;
    /// - [`DevstackError::NotReady`] when it is not ready within `config.startup_timeout`.
    pub fn spawn(config: AnvilConfig) -> DevstackResult<AnvilInstance> {
        let binary = locate_anvil(config.binary.as_deref())?;
        let attempts = if config.port.is_some() { 1 } else { SPAWN_ATTEMPTS };
        let mut attempt = 1;
        loop {
            let port = match config.port {
                Some(port) => port,
                None => free_port()?,
            };
            match spawn_once(&binary, &config, port) {
                Err(DevstackError::AddrInUse { port, .. }) if attempt < attempts => {
                    debug!(target: "devstack::anvil", port, attempt, "port taken, retrying");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }
}

fn spawn_once(binary: &Path, config: &AnvilConfig, port: u16) -> DevstackResult<AnvilInstance> {
    let dir = run_dir(NAME)?;
    // anvil writes its accounts and keys there as JSON, which is sturdier than scraping the
    // banner and also covers custom mnemonics and more than ten accounts.
    let config_out = dir.path().join("anvil.json");
    let mut command = Command::new(binary);
    command
        .arg("--host")
        .arg("127.0.0.1")
        .arg("--port")
        .arg(port.to_string())
        .arg("--chain-id")
        .arg(config.chain_id.to_string())
        .arg("--accounts")
        .arg(config.accounts.to_string())
        .arg("--config-out")
        .arg(&config_out)
        // Past its in-memory limit anvil writes a file per block's state, by default under
        // ~/.foundry/anvil/tmp, where a killed anvil leaves them behind (tens of GB over a test
        // run). In the run directory they go when the instance does.
        .arg("--cache-path")
        .arg(dir.path().join("states"));
    if let Some(seconds) = config.block_time {
        command.arg("--block-time").arg(seconds.to_string());
    }
    command.args(&config.extra_args);

    let mut guard = ProcessGuard::spawn(NAME, command, dir)?;
    let expected = config.chain_id;
    let accounts = guard.wait_ready(port, config.startup_timeout, || {
        let chain_id = parse_quantity(&json_rpc_call(port, "eth_chainId", PROBE_TIMEOUT)?)?;
        if chain_id != expected {
            return Err(format!("eth_chainId answered {chain_id}, expected {expected}"));
        }
        read_accounts(&config_out)
    })?;
    Ok(AnvilInstance { guard, port, chain_id: expected, accounts })
}

/// Reads the dev accounts from the file anvil wrote for `--config-out`.
fn read_accounts(path: &Path) -> Result<Vec<DevAccount>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|err| format!("read {}: {err}", path.display()))?;
    parse_accounts(&text).map_err(|err| format!("parse {}: {err}", path.display()))
}

fn parse_accounts(text: &str) -> Result<Vec<DevAccount>, String> {
    let json: Value = serde_json::from_str(text).map_err(|err| err.to_string())?;
    let strings = |key: &str| -> Result<Vec<String>, String> {
        json.get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("missing `{key}`"))?
            .iter()
            .map(|v| v.as_str().map(str::to_ascii_lowercase).ok_or_else(|| format!("bad `{key}`")))
            .collect()
    };
    let addresses = strings("available_accounts")?;
    let keys = strings("private_keys")?;
    if addresses.len() != keys.len() {
        return Err(format!("{} accounts but {} private keys", addresses.len(), keys.len()));
    }
    Ok(addresses
        .into_iter()
        .zip(keys)
        .map(|(address, private_key)| DevAccount { address, private_key })
        .collect())
}

/// A running anvil node; killed when dropped.
#[derive(Debug)]
pub struct AnvilInstance {
    guard: ProcessGuard,
    port: u16,
    chain_id: u64,
    accounts: Vec<DevAccount>,
}

impl AnvilInstance {
    /// The HTTP JSON-RPC endpoint, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The WebSocket JSON-RPC endpoint, `ws://127.0.0.1:<port>`.
    pub fn ws_endpoint(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// The port the node listens on.
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// The chain id the node reported when it became ready.
    pub const fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The operating-system process id.
    pub const fn pid(&self) -> u32 {
        self.guard.pid()
    }

    /// The funded dev accounts, in derivation order.
    pub fn accounts(&self) -> &[DevAccount] {
        &self.accounts
    }

    /// The file holding anvil's combined stdout and stderr; deleted when the instance is.
    pub fn log_path(&self) -> &Path {
        self.guard.log_path()
    }

    /// The per-instance temporary directory holding the log; deleted when the instance is.
    pub fn run_dir(&self) -> &Path {
        self.guard.run_dir()
    }

    /// Returns the exit status if the node has exited on its own, without blocking.
    ///
    /// # Errors
    ///
    /// [`DevstackError::Status`] when the operating system cannot be queried.
    pub fn try_wait(&mut self) -> DevstackResult<Option<ExitStatus>> {
        self.guard.try_wait()
    }

    /// Kills the node and waits for it to exit. Dropping the instance does the same but cannot
    /// report failure.
    ///
    /// # Errors
    ///
    /// [`DevstackError::Stop`] when the process cannot be killed or reaped.
    pub fn stop(mut self) -> DevstackResult<()> {
        self.guard.stop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_out_accounts_parse_in_order_and_lowercase() {
        let text = r#"{"available_accounts":["0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266"],
            "private_keys":["0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"]}"#;
        let accounts = parse_accounts(text).unwrap();
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].address(), DEFAULT_ADDRESSES[0]);
        assert_eq!(accounts[0].private_key(), DEFAULT_PRIVATE_KEYS[0]);
    }

    #[test]
    fn config_out_with_mismatched_lengths_is_rejected() {
        let text = r#"{"available_accounts":["0x01","0x02"],"private_keys":["0x03"]}"#;
        assert!(parse_accounts(text).is_err());
    }

    #[test]
    fn dev_account_debug_redacts_the_private_key() {
        let account = DevAccount {
            address: DEFAULT_ADDRESSES[0].to_owned(),
            private_key: DEFAULT_PRIVATE_KEYS[0].to_owned(),
        };
        let debug = format!("{account:?}");
        assert!(debug.contains(DEFAULT_ADDRESSES[0]));
        assert!(!debug.contains(DEFAULT_PRIVATE_KEYS[0]));
    }

    #[test]
    fn default_config_matches_anvil_defaults() {
        let config = AnvilConfig::default();
        assert_eq!(config.chain_id, 31337);
        assert_eq!(config.accounts, 10);
        assert_eq!(config.port, None);
        assert_eq!(config.block_time, None);
    }
}
