//! The indexer's errors.

/// Errors of the indexer library.
#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    /// SQLite failed.
    #[error("indexer database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error("indexer database (postgres): {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The `--indexer.db` PostgreSQL URL does not parse.
    #[error(
        "--indexer.db is not a usable PostgreSQL URL ({reason}); expected postgres://user:password@host:port/database"
    )]
    BadDbUrl {
        /// Why it does not parse.
        reason: String,
    },
    /// The PostgreSQL server cannot be reached or refused the connection.
    #[error(
        "cannot connect to the indexer database {db}: {reason}; check that the server runs and that --indexer.db names the right host, port, user and database"
    )]
    DbUnreachable {
        /// The database (URL without password).
        db: String,
        /// What failed.
        reason: String,
    },
    /// The database holds another schema version than this build reads.
    #[error(
        "indexer database {db} has schema version {found} but this build supports {supported}; run the ingesting indexer of this version on it first (it migrates older schemas), or upgrade nsed"
    )]
    SchemaVersion {
        /// The database (URL without password).
        db: String,
        /// The stored version.
        found: i64,
        /// The version this build writes.
        supported: i64,
    },
    /// A serve-only process found no indexer tables.
    #[error(
        "indexer database {db} holds no indexed data yet; start an ingesting `nsed indexer` (without --indexer.serve-only) on it first"
    )]
    NotInitialized {
        /// The database.
        db: String,
    },
    /// Another process already ingests into this PostgreSQL database.
    #[error(
        "another indexer is already ingesting into {db}; run this one with --indexer.serve-only to serve the same data"
    )]
    AlreadyIngesting {
        /// The database (URL without password).
        db: String,
    },
    /// The database was written for another chain or deployment, or by an incompatible version.
    #[error("indexer database {path} belongs to {found}, not {expected}; use another --indexer.db")]
    WrongDatabase {
        /// The database file.
        path: String,
        /// What this run indexes.
        expected: String,
        /// What the database holds.
        found: String,
    },
    /// A stored value does not parse (the database was edited by hand or is corrupt).
    #[error("indexer database holds a malformed {what}: {value}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// The offending value.
        value: String,
    },
    /// A JSON-RPC call failed.
    #[error(transparent)]
    Tx(#[from] nsed_contracts::tx::TxError),
    /// `eth_getLogs` answered logs an indexer cannot trust; retried like a failed call.
    #[error("eth_getLogs {from}..={to}: {problem}")]
    UnusableLogs {
        /// First block of the window.
        from: u64,
        /// Last block of the window.
        to: u64,
        /// What was wrong.
        problem: LogProblem,
    },
    /// The configuration is unusable.
    #[error("invalid indexer configuration: {0}")]
    Config(String),
    /// The deployment record could not be read.
    #[error(transparent)]
    Deployment(#[from] nsed_deploy::DeployError),
    /// The GraphQL listener could not be bound or failed.
    #[error("graphql listener {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The GraphQL schema could not be built (a bug in the entity table).
    #[error("graphql schema: {0}")]
    Schema(String),
    /// Waiting for a block took longer than allowed.
    #[error("block {block} was not indexed within {timeout_ms} ms (indexed head: {head:?})")]
    WaitTimeout {
        /// The awaited block.
        block: u64,
        /// The limit.
        timeout_ms: u128,
        /// The last indexed block at the time.
        head: Option<u64>,
    },
    /// The indexer stopped (shut down or failed) before the awaited block.
    #[error("the indexer stopped before block {0} was indexed")]
    Stopped(u64),
    /// A background task panicked or was aborted.
    #[error("indexer task failed: {0}")]
    Task(String),
}

impl IndexerError {
    /// Whether the chain failed (a call, or an answer that cannot be trusted): the follower
    /// retries these; anything else stops it.
    pub const fn is_chain(&self) -> bool {
        matches!(self, Self::Tx(_) | Self::UnusableLogs { .. })
    }
}

/// What was wrong with an `eth_getLogs` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LogProblem {
    /// A log lacks its block number, block hash, index or transaction.
    #[error("a log lacks its block number, block hash, index or transaction")]
    MissingMetadata,
    /// A log lies outside the requested window.
    #[error("a log of block {0} is outside the window")]
    OutsideWindow(u64),
    /// Logs of one block disagree on its hash.
    #[error("logs of block {0} disagree on its hash")]
    HashMismatch(u64),
    /// Two logs share a block and log index.
    #[error("two logs share a block and log index")]
    DuplicateIndex,
}

/// Results of the indexer library.
pub type IndexerResult<T> = Result<T, IndexerError>;
