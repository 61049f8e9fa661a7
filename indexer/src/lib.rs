//! NSED indexer: follows every contract's events into SQLite or PostgreSQL and serves them as a
//! subgraph-like GraphQL API (docs/operations.md).
//!
//! - The store ([`IndexerConfig::db_path`]) is a SQLite file, or a PostgreSQL database when the
//!   setting is a `postgres://` or `postgresql://` URL; both hold the same versioned layout, and
//!   the follower and the GraphQL layer have one code path over either.
//! - The follower scans the deployment's contracts in bounded `eth_getLogs` windows
//!   from the record's start block, then polls for new blocks, `confirmations` behind the head.
//!   Each window (raw logs, entity versions, block hashes, cursor) is one database transaction, so
//!   a restart resumes exactly where the last commit stopped, without gaps or duplicates.
//! - A serve-only indexer ([`IndexerConfig::serve_only`]) serves GraphQL from a database another
//!   indexer ingests into, without following the chain: several such API processes can read one
//!   PostgreSQL database. Each query reads the committed cursor, so new batches and reorg
//!   roll-backs show as soon as the ingester commits them.
//! - Reorgs are found by comparing the stored hash of the last indexed block with the chain's;
//!   the indexer walks back to the newest stored block the chain agrees with and rolls back
//!   everything above it (entity versions carry `block_from`/`block_to`, as in graph-node).
//! - [`handlers`] derive entities, one module per contract, keyed by the record's contract names;
//!   names without a handler are skipped.
//! - [`graphql`] generates the schema from the entity table ([`entity`]): single and collection
//!   queries, `where` filters, ordering, paging, nested relations, `_meta` and `block: { number }`
//!   time travel, with depth, complexity, entity-count, body-size and time limits.
//!
//! [`Indexer::start`] runs both halves in the background and returns an [`IndexerHandle`];
//! [`Indexer::run`] is the same as a service that runs until cancelled.
//!
//! # Feature flags
//!
//! - `test-utils`: `test_utils`, real-chain fixtures (anvil, the deployed suite with bonded
//!   agents, jobs claimed and settled as the market's seat draw and halting rule demand, arena
//!   games) shared by the tests and `bench-indexer`.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod entity;
mod error;
mod follow;
pub mod graphql;
pub mod handlers;
mod server;
mod store;
#[cfg(any(test, feature = "test-utils"))]
pub mod test_utils;

use std::{collections::BTreeMap, fmt, net::SocketAddr, path::PathBuf, time::Duration};

use alloy::{
    primitives::B256,
    providers::{Provider, ProviderBuilder},
};
pub use error::{IndexerError, IndexerResult, LogProblem};
pub use graphql::QueryLimits;
use nsed_contracts::tx::TxContext;
use nsed_deploy::Deployment;
use tokio::{sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{
    follow::{FollowConfig, Follower, Head},
    store::{DbTarget, OpenOptions, ReadPool, Writer},
};

/// How to run an indexer. Its `Debug` shows the database as [`IndexerConfig::db_display`] does,
/// so a PostgreSQL password never reaches a log.
#[derive(Clone)]
pub struct IndexerConfig {
    /// JSON-RPC endpoint.
    pub rpc_url: String,
    /// The deployment to follow (contracts by name, start block, chain id).
    pub deployment: Deployment,
    /// The database: a SQLite file (created if missing), or a PostgreSQL database given as a
    /// `postgres://user:password@host:port/database` (or `postgresql://`) URL.
    pub db_path: PathBuf,
    /// Serve GraphQL from the database without following the chain (another indexer ingests).
    pub serve_only: bool,
    /// Most pooled PostgreSQL read connections (SQLite opens read connections as needed).
    pub pool_size: usize,
    /// GraphQL listen address; port 0 picks a free port (see [`IndexerHandle::local_addr`]).
    pub listen: SocketAddr,
    /// Blocks a log must be buried under before it is indexed.
    pub confirmations: u64,
    /// Pause between polls once caught up.
    pub poll_interval: Duration,
    /// Most blocks per `eth_getLogs` call.
    pub log_window: u64,
    /// Query limits.
    pub limits: QueryLimits,
}

impl fmt::Debug for IndexerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexerConfig")
            .field("rpc_url", &self.rpc_url)
            .field("deployment", &self.deployment)
            .field("db_path", &self.db_display())
            .field("serve_only", &self.serve_only)
            .field("pool_size", &self.pool_size)
            .field("listen", &self.listen)
            .field("confirmations", &self.confirmations)
            .field("poll_interval", &self.poll_interval)
            .field("log_window", &self.log_window)
            .field("limits", &self.limits)
            .finish()
    }
}

impl IndexerConfig {
    /// The database for messages: the SQLite file, or the PostgreSQL URL without its password.
    pub fn db_display(&self) -> String {
        DbTarget::parse(&self.db_path).describe()
    }

    /// Defaults for `deployment` on `rpc_url`: `.nsed/indexer.sqlite`, `127.0.0.1:8000`, no
    /// confirmations, 500 ms polls, 2000-block windows, 8 pooled read connections, ingesting.
    pub fn new(rpc_url: impl Into<String>, deployment: Deployment) -> Self {
        Self {
            rpc_url: rpc_url.into(),
            deployment,
            db_path: PathBuf::from(".nsed/indexer.sqlite"),
            serve_only: false,
            pool_size: 8,
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            confirmations: 0,
            poll_interval: Duration::from_millis(500),
            log_window: 2000,
            limits: QueryLimits::default(),
        }
    }
}

/// Starts indexers.
#[derive(Debug, Clone, Copy)]
pub struct Indexer;

impl Indexer {
    /// Opens the database, binds the GraphQL listener and starts following the chain in the
    /// background (serve-only: watching the database's cursor instead, without the chain).
    ///
    /// # Errors
    ///
    /// [`IndexerError::Config`] for unusable settings or a record of another chain,
    /// [`IndexerError::Tx`] when the chain cannot be reached, [`IndexerError::WrongDatabase`] when
    /// the database belongs to another deployment, [`IndexerError::Listen`] when the address is
    /// taken. With PostgreSQL also [`IndexerError::BadDbUrl`], [`IndexerError::DbUnreachable`],
    /// [`IndexerError::SchemaVersion`] and [`IndexerError::AlreadyIngesting`]; serve-only,
    /// [`IndexerError::NotInitialized`] when no ingester has set the database up.
    pub async fn start(config: IndexerConfig) -> IndexerResult<IndexerHandle> {
        if config.log_window == 0 {
            return Err(IndexerError::Config("log_window must be at least 1".into()));
        }
        let record = &config.deployment;
        let mut contracts = BTreeMap::new();
        for (name, contract) in &record.contracts {
            match handlers::handler_for(name) {
                Some(handler) => {
                    contracts.insert(contract.address, handler);
                }
                None => debug!(target: "indexer", contract = %name, "no handler; skipped"),
            }
        }
        // The record's chain id: an ingesting indexer checks it against the node first.
        let identity = format!(
            "chain {}; start {}; {}",
            record.chain_id,
            record.start_block,
            contracts
                .iter()
                .map(|(a, h)| format!("{}@{a}", h.contract))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let target = DbTarget::parse(&config.db_path);
        let options = OpenOptions {
            identity,
            pool_size: config.pool_size,
            query_timeout: config.limits.timeout,
        };
        let entities = handlers::all_entities();
        let shutdown = CancellationToken::new();
        let (reader, head_rx, follow_task) = if config.serve_only {
            let reader = ReadPool::open_existing(&target, &options).await?;
            let (head_tx, head_rx) = watch::channel(reader.cursor().await?);
            let watch = CursorWatch {
                target: target.clone(),
                options: options.clone(),
                poll_interval: config.poll_interval,
                head: head_tx,
            };
            (reader, head_rx, tokio::spawn(watch.run(shutdown.child_token())))
        } else {
            let url = config.rpc_url.parse().map_err(|e| {
                IndexerError::Config(format!("rpc url {}: {e}; pass --rpc-url", config.rpc_url))
            })?;
            let provider =
                ProviderBuilder::new().disable_recommended_fillers().connect_http(url).erased();
            let chain_id = provider
                .get_chain_id()
                .await
                .during(format!("eth_chainId at {}", config.rpc_url))?;
            if chain_id != record.chain_id {
                return Err(IndexerError::Config(format!(
                    "the deployment record is for chain {} but {} serves chain {chain_id}",
                    record.chain_id, config.rpc_url
                )));
            }
            let store = Writer::open(&target, &options, entities.clone()).await?;
            let reader = store.reader(&options)?;
            let initial: Head = store.cursor().await?;
            let (head_tx, head_rx) = watch::channel(initial);
            let follower = Follower {
                provider,
                store,
                contracts,
                config: FollowConfig {
                    start_block: record.start_block,
                    confirmations: config.confirmations,
                    log_window: config.log_window,
                    poll_interval: config.poll_interval,
                },
                head: head_tx,
                prefetch: None,
            };
            (reader, head_rx, tokio::spawn(follower.run(shutdown.child_token())))
        };
        let schema = graphql::build_schema(
            &entities,
            reader,
            record.start_block,
            record.network.clone(),
            &config.limits,
        )
        .map_err(IndexerError::Schema)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| IndexerError::Listen { addr: config.listen.to_string(), source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| IndexerError::Listen { addr: config.listen.to_string(), source })?;

        let server_task = tokio::spawn(server::serve(
            listener,
            schema,
            config.limits.clone(),
            shutdown.child_token(),
        ));
        info!(target: "indexer", url = %format!("http://{local_addr}/"), serve_only = config.serve_only, "indexer started");
        Ok(IndexerHandle {
            local_addr,
            head: head_rx,
            shutdown,
            follow_task: Some(follow_task),
            server_task: Some(server_task),
            follow_result: None,
            server_result: None,
        })
    }

    /// Runs an indexer until `shutdown` is cancelled or one of its halves fails.
    ///
    /// # Errors
    ///
    /// As [`Indexer::start`], and the follower's or server's failure.
    pub async fn run(config: IndexerConfig, shutdown: CancellationToken) -> IndexerResult<()> {
        let mut handle = Self::start(config).await?;
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = handle.stopped() => {}
        }
        handle.shutdown().await
    }
}

/// A running indexer.
#[derive(Debug)]
pub struct IndexerHandle {
    local_addr: SocketAddr,
    head: watch::Receiver<Head>,
    shutdown: CancellationToken,
    follow_task: Option<JoinHandle<IndexerResult<()>>>,
    server_task: Option<JoinHandle<std::io::Result<()>>>,
    follow_result: Option<IndexerResult<()>>,
    server_result: Option<IndexerResult<()>>,
}

impl IndexerHandle {
    /// The address the GraphQL server listens on (the real port when configured with port 0).
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The GraphQL endpoint (`http://IP:PORT/`), also serving GraphiQL to browsers.
    pub fn graphql_url(&self) -> String {
        format!("http://{}/", self.local_addr)
    }

    /// The last indexed block, `None` before the first window.
    pub fn indexed_block(&self) -> Option<u64> {
        self.head.borrow().map(|(n, _)| n)
    }

    /// The last indexed block with its hash.
    pub fn indexed_head(&self) -> Option<(u64, B256)> {
        *self.head.borrow()
    }

    /// Waits until block `block` (or a later one) is indexed.
    ///
    /// After a reorg to a shorter chain the indexed head moves back; a wait for a block above it
    /// then lasts until the new chain reaches that height.
    ///
    /// # Errors
    ///
    /// [`IndexerError::WaitTimeout`] after `timeout`, [`IndexerError::Stopped`] if the follower
    /// stopped first.
    pub async fn wait_for_block(&self, block: u64, timeout: Duration) -> IndexerResult<()> {
        let mut rx = self.head.clone();
        let reached = tokio::time::timeout(
            timeout,
            rx.wait_for(|head| head.is_some_and(|(n, _)| n >= block)),
        )
        .await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(IndexerError::Stopped(block)),
            Err(_) => Err(IndexerError::WaitTimeout {
                block,
                timeout_ms: timeout.as_millis(),
                head: self.indexed_block(),
            }),
        }
    }

    /// Resolves when the follower or the server has stopped (failed or shut down); at once if
    /// both already have.
    pub async fn stopped(&mut self) {
        if self.follow_task.is_none() && self.server_task.is_none() {
            return;
        }
        let finished = {
            let follow = async {
                match self.follow_task.as_mut() {
                    Some(task) => task.await,
                    None => std::future::pending().await,
                }
            };
            let serve = async {
                match self.server_task.as_mut() {
                    Some(task) => task.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = follow => Finished::Follow(r),
                r = serve => Finished::Serve(r),
            }
        };
        // A finished JoinHandle must not be polled again: keep its result instead.
        match finished {
            Finished::Follow(r) => {
                self.follow_task = None;
                self.follow_result =
                    Some(r.unwrap_or_else(|e| Err(IndexerError::Task(e.to_string()))));
            }
            Finished::Serve(r) => {
                self.server_task = None;
                let addr = self.local_addr.to_string();
                self.server_result = Some(match r {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(source)) => Err(IndexerError::Listen { addr, source }),
                    Err(e) => Err(IndexerError::Task(e.to_string())),
                });
            }
        }
    }

    /// Stops following and serving, and waits for both (the database is left consistent at the
    /// last committed window).
    ///
    /// # Errors
    ///
    /// The follower's error if it had failed, the server's, or [`IndexerError::Task`] if a task
    /// panicked.
    pub async fn shutdown(mut self) -> IndexerResult<()> {
        self.shutdown.cancel();
        while self.follow_task.is_some() || self.server_task.is_some() {
            self.stopped().await;
        }
        let follow = self.follow_result.take().unwrap_or(Ok(()));
        let serve = self.server_result.take().unwrap_or(Ok(()));
        follow.and(serve)
    }
}

/// A serve-only indexer's view of the ingester's progress: polls the committed cursor into the
/// head watch (what [`IndexerHandle::wait_for_block`] waits on). Queries read the cursor
/// themselves; this only keeps the handle's view current.
#[derive(Debug)]
struct CursorWatch {
    target: DbTarget,
    options: OpenOptions,
    poll_interval: Duration,
    head: watch::Sender<Head>,
}

impl CursorWatch {
    async fn run(self, shutdown: CancellationToken) -> IndexerResult<()> {
        // Its own connection(s), so a busy query pool never delays it.
        let pool = ReadPool::open_existing(&self.target, &self.options).await?;
        loop {
            match pool.cursor().await {
                Ok(cursor) => {
                    self.head.send_if_modified(|h| {
                        let changed = *h != cursor;
                        *h = cursor;
                        changed
                    });
                }
                Err(e) => {
                    warn!(target: "indexer::serve", error = %e, "reading the cursor failed; retrying")
                }
            }
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(self.poll_interval) => {}
            }
        }
    }
}

/// Which background task finished first.
enum Finished {
    Follow(Result<IndexerResult<()>, tokio::task::JoinError>),
    Serve(Result<std::io::Result<()>, tokio::task::JoinError>),
}

impl Drop for IndexerHandle {
    fn drop(&mut self) {
        // A dropped handle stops the background tasks instead of leaking them.
        self.shutdown.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_never_shows_a_database_password() {
        let mut config = IndexerConfig::new("http://127.0.0.1:8545", Deployment::default());
        config.db_path = PathBuf::from("postgres://indexer:s3cret-pw@127.0.0.1:5432/nsed");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(shown.contains("127.0.0.1"), "the database is still named: {shown}");
    }
}
