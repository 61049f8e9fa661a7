//! Starts and stops real local services, for `nsed up` and for tests.
//!
//! This crate owns the local development stack: an [anvil](Anvil) node and a
//! [nats-server](NatsServer) with JetStream. Each `spawn` starts the real binary bound to
//! `127.0.0.1`, polls a readiness probe under a timeout (anvil must answer `eth_chainId` with the
//! configured chain id; nats-server must greet a client with an `INFO` line that reports
//! JetStream as configured) and returns an instance that kills and reaps the process when dropped.
//!
//! The API is synchronous (`std::process`), so plain tests and async code can both use it; from
//! async code, call `spawn` inside `spawn_blocking` if a startup delay on the runtime thread
//! matters.
//!
//! Each process writes its stdout and stderr to a log file in a per-instance temporary
//! directory; startup errors include the tail of that log.
//!
//! # Binaries
//!
//! - anvil: the native binary that `npm ci` installs under `node_modules/@foundry-rs/`, found
//!   from the current directory or the workspace this crate was built in; override with
//!   [`AnvilConfig::binary`] or the `NSED_ANVIL` environment variable. See [`locate_anvil`].
//! - nats-server: from `PATH` or `/usr/sbin`; override with [`NatsConfig::binary`] or the
//!   `NSED_NATS_SERVER` environment variable. See [`locate_nats_server`].
//! - PostgreSQL ([`Postgres`], a throwaway server for tests): Debian's
//!   `/usr/lib/postgresql/<major>/bin`; override with [`PostgresConfig::bin_dir`] or the
//!   `NSED_POSTGRES_BIN` environment variable. See [`locate_postgres`].
//!
//! # Example
//!
//! ```no_run
//! use nsed_devstack::{Anvil, AnvilConfig, NatsConfig, NatsServer};
//!
//! # fn main() -> Result<(), nsed_devstack::DevstackError> {
//! let anvil = Anvil::spawn(AnvilConfig::default().with_chain_id(4242))?;
//! let nats = NatsServer::spawn(NatsConfig::default())?;
//! let rpc_url = anvil.endpoint(); // http://127.0.0.1:<port>
//! let nats_url = nats.url(); // nats://127.0.0.1:<port>
//! let deployer_key = anvil.accounts()[0].private_key();
//! # let _ = (rpc_url, nats_url, deployer_key);
//! // Both processes are killed here.
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! None.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

use std::time::Duration;

pub mod anvil;
pub mod binary;
pub mod error;
mod http;
pub mod nats;
pub mod nats_cluster;
pub mod postgres;
mod process;
pub mod proxy;

pub use anvil::{Anvil, AnvilConfig, AnvilInstance, DevAccount};
pub use binary::{locate_anvil, locate_nats_server};
pub use error::{DevstackError, DevstackResult};
pub use nats::{NatsConfig, NatsInstance, NatsServer, NatsServerInfo};
pub use nats_cluster::{NatsCluster, NatsClusterConfig, NatsClusterInstance};
pub use postgres::{Postgres, PostgresConfig, PostgresInstance, locate_postgres};
pub use process::free_port;
pub use proxy::TcpProxy;

/// How long `spawn` waits for a service to become ready unless configured otherwise.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
