//! Storage: the cursor, recent block hashes, raw logs and versioned entities, in SQLite
//! ([`sqlite`]) or PostgreSQL ([`postgres`]), chosen by the `--indexer.db` setting
//! ([`DbTarget::parse`]): a `postgres://` or `postgresql://` URL selects PostgreSQL, anything
//! else is a SQLite file path.
//!
//! Both backends hold the same layout. Every entity table holds versions (`id`, `block_from`,
//! `block_to`, fields…), like graph-node: the version valid at block N is the one with
//! `block_from ≤ N` and (`block_to` NULL or `block_to > N`); the current version has `block_to`
//! NULL, and is how the writer finds a stored version again (by id, with no `block_to`). A reorg back to fork block F deletes versions with `block_from > F` and reopens
//! versions closed above F, and deletes raw logs and block hashes above F, which restores exactly
//! the state as of F.
//!
//! The follower writes one batch of blocks at a time ([`Writer::apply`]): raw logs, entity
//! versions, block hashes and the cursor land together, so a crash leaves either the whole batch
//! or none of it as far as anyone reading as of the cursor can tell (SQLite writes a batch in one
//! transaction; PostgreSQL over two connections with the cursor in the last commit, and rolls
//! back what lies above the cursor when it next opens).
//!
//! Queries go through a [`ReadPool`], which speaks the backend's dialect; the SQL the GraphQL
//! layer writes is common to both (`?` placeholders, `IS DISTINCT FROM`, explicit `NULLS
//! FIRST`/`LAST`), and what differs (placeholders, the substring function, column types, upserts)
//! lives in the backend.
//!
//! A batch writes through a [`WindowWrites`]: the SQLite batch, which writes raw logs and blocks
//! at once and buffers entity versions until the window ends ([`sqlite::Batch`]), or the
//! PostgreSQL batch that buffers all of the window's writes and sends them at commit
//! ([`postgres`]). Handlers reach it through [`crate::handlers::HandlerCtx`].

pub(crate) mod postgres;
mod renumber;
pub(crate) mod sqlite;
mod window;

use std::{
    cell::RefCell,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use alloy::primitives::B256;
use rusqlite::{Transaction, types::Value as Sql};

use crate::{
    entity::{EntityDef, Record},
    error::{IndexerError, IndexerResult},
};

/// Where the indexer keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DbTarget {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl DbTarget {
    /// A `postgres://` or `postgresql://` URL selects PostgreSQL; anything else is a SQLite file.
    pub(crate) fn parse(setting: &Path) -> Self {
        match setting.to_str() {
            Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                Self::Postgres(s.to_string())
            }
            _ => Self::Sqlite(setting.to_path_buf()),
        }
    }

    /// The database for messages: the file, or the URL without its password.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) => postgres::describe_url(url),
        }
    }
}

/// How to open a store.
#[derive(Debug, Clone)]
pub(crate) struct OpenOptions {
    /// Which deployment the database must hold (refused when it holds another).
    pub(crate) identity: String,
    /// Most pooled read connections (PostgreSQL; SQLite opens them as needed).
    pub(crate) pool_size: usize,
    /// Longest a query may run (PostgreSQL's `statement_timeout` on read connections).
    pub(crate) query_timeout: Duration,
}

/// Quoted SQL identifier of a field name from the static entity table (never user input).
pub(crate) fn col(name: &str) -> String {
    format!("\"{name}\"")
}

/// The quoted field columns of `def`, comma-separated.
pub(crate) fn columns(def: &EntityDef) -> String {
    def.fields.iter().map(|f| col(f.name)).collect::<Vec<_>>().join(", ")
}

/// Block numbers fit i64 on every real chain; saturate rather than wrap if one does not.
pub(crate) fn to_sql_u64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn from_sql_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or_default()
}

pub(crate) fn parse_hash(s: &str) -> IndexerResult<B256> {
    s.parse().map_err(|_| IndexerError::Corrupt { what: "block hash", value: s.into() })
}

/// Columns indexed besides the versioning ones: references (joins) and statuses (filters).
pub(crate) fn indexed_field(field: &crate::entity::FieldDef) -> bool {
    matches!(field.kind, crate::entity::Kind::Ref(_)) || field.name == "status"
}

/// One raw log as stored.
#[derive(Debug)]
pub(crate) struct RawLog<'a> {
    pub(crate) block_number: u64,
    pub(crate) log_index: u64,
    pub(crate) block_hash: B256,
    pub(crate) tx_hash: B256,
    pub(crate) address: alloy::primitives::Address,
    pub(crate) contract: &'a str,
    pub(crate) topics: &'a [B256],
    pub(crate) data: &'a [u8],
}

impl RawLog<'_> {
    /// The stored columns after the two numbers: block hash, transaction, address, contract,
    /// topics (JSON) and data, as text.
    fn text_columns(&self) -> [String; 6] {
        // The JSON array of hex strings, written directly: hex needs no escaping, and a
        // `serde_json::Value` per log cost more than the row's insert.
        let mut topics = String::with_capacity(2 + self.topics.len() * 69);
        topics.push('[');
        for (i, t) in self.topics.iter().enumerate() {
            if i > 0 {
                topics.push(',');
            }
            topics.push('"');
            topics.push_str(&t.to_string());
            topics.push('"');
        }
        topics.push(']');
        [
            self.block_hash.to_string(),
            self.tx_hash.to_string(),
            crate::entity::enc_bytes(self.address.as_slice()),
            self.contract.to_string(),
            topics,
            crate::entity::enc_bytes(self.data),
        ]
    }
}

/// Where one batch's writes go, on the backend the [`Writer`] runs.
#[derive(Debug)]
pub(crate) enum WindowWrites<'a> {
    /// The SQLite write transaction, written at once (handler unit tests).
    #[cfg_attr(not(test), expect(dead_code, reason = "the follower writes through a batch"))]
    Sqlite(&'a Transaction<'a>),
    /// The follower's SQLite window: the transaction, with entity versions buffered until the
    /// window ends ([`sqlite::Batch`]).
    SqliteBatch(&'a sqlite::Batch<'a>),
    /// The PostgreSQL batch, which buffers the writes and sends them at commit.
    Postgres(&'a RefCell<postgres::Batch>),
}

impl WindowWrites<'_> {
    /// Whether these writes are a scouting run that is thrown away (so its warnings are not
    /// worth logging: the real run logs them).
    pub(crate) fn scouting(&self) -> bool {
        match self {
            Self::Sqlite(_) | Self::SqliteBatch(_) => false,
            Self::Postgres(batch) => batch.borrow().scouting(),
        }
    }
}

/// Writes the cursor.
pub(crate) fn write_cursor(w: &WindowWrites<'_>, block: u64, hash: B256) -> IndexerResult<()> {
    match w {
        WindowWrites::Sqlite(tx) => sqlite::write_cursor(tx, block, hash),
        WindowWrites::SqliteBatch(b) => sqlite::write_cursor(b.tx(), block, hash),
        WindowWrites::Postgres(batch) => batch.borrow_mut().write_cursor(block, hash),
    }
}

/// Records the hash of block `number` and its timestamp, when known (a later write of the same
/// block without one keeps the earlier time).
pub(crate) fn write_block(
    w: &WindowWrites<'_>,
    number: u64,
    hash: B256,
    timestamp: Option<u64>,
) -> IndexerResult<()> {
    match w {
        WindowWrites::Sqlite(tx) => sqlite::write_block(tx, number, hash, timestamp),
        WindowWrites::SqliteBatch(b) => sqlite::write_block(b.tx(), number, hash, timestamp),
        WindowWrites::Postgres(batch) => batch.borrow_mut().write_block(number, hash, timestamp),
    }
}

/// Stores a raw log.
pub(crate) fn write_log(w: &WindowWrites<'_>, log: &RawLog<'_>) -> IndexerResult<()> {
    match w {
        WindowWrites::Sqlite(tx) => sqlite::write_log(tx, log),
        WindowWrites::SqliteBatch(b) => sqlite::write_log(b.tx(), log),
        WindowWrites::Postgres(batch) => batch.borrow_mut().write_log(log),
    }
}

/// The current version of `def`'s entity with stored id `id`.
pub(crate) fn load_current(
    w: &WindowWrites<'_>,
    def: &'static EntityDef,
    id: &str,
) -> IndexerResult<Option<Record>> {
    match w {
        WindowWrites::Sqlite(tx) => sqlite::load_current(tx, def, id),
        WindowWrites::SqliteBatch(b) => b.load_current(def, id),
        WindowWrites::Postgres(batch) => batch.borrow_mut().load_current(def, id),
    }
}

/// Writes `record` as its version from `block` on: updates the version in place when it already
/// starts at `block`, otherwise closes the current version at `block` and inserts a new one.
pub(crate) fn save_version(w: &WindowWrites<'_>, record: &Record, block: u64) -> IndexerResult<()> {
    match w {
        WindowWrites::Sqlite(tx) => sqlite::save_version(tx, record, block),
        WindowWrites::SqliteBatch(b) => b.save_version(record, block),
        WindowWrites::Postgres(batch) => batch.borrow_mut().save_version(record, block),
    }
}

/// The SQLite store by its historical name (handler unit tests open one directly).
#[cfg(test)]
pub(crate) use sqlite::Store;

/// The follower's read-write store, on either backend.
#[derive(Debug)]
pub(crate) enum Writer {
    /// A SQLite file.
    Sqlite(sqlite::Store),
    /// A PostgreSQL database.
    Postgres(postgres::Store),
}

impl Writer {
    /// Opens or creates the database (creating or migrating its tables) for the deployment
    /// `options.identity`.
    pub(crate) async fn open(
        target: &DbTarget,
        options: &OpenOptions,
        entities: Vec<&'static EntityDef>,
    ) -> IndexerResult<Self> {
        Ok(match target {
            DbTarget::Sqlite(path) => {
                Self::Sqlite(sqlite::Store::open(path, &options.identity, entities)?)
            }
            DbTarget::Postgres(url) => {
                Self::Postgres(postgres::Store::open(url, options, entities).await?)
            }
        })
    }

    /// A read pool over the same database.
    pub(crate) fn reader(&self, options: &OpenOptions) -> IndexerResult<ReadPool> {
        Ok(match self {
            Self::Sqlite(s) => ReadPool::Sqlite(sqlite::ReadPool::new(s.path())),
            Self::Postgres(s) => ReadPool::Postgres(s.reader(options)?),
        })
    }

    /// The last indexed block and its hash.
    pub(crate) async fn cursor(&self) -> IndexerResult<Option<(u64, B256)>> {
        match self {
            Self::Sqlite(s) => s.cursor(),
            Self::Postgres(s) => s.cursor().await,
        }
    }

    /// Stored block hashes at or below `at_most`, newest first, at most `limit`.
    pub(crate) async fn recent_blocks(
        &self,
        at_most: u64,
        limit: u32,
    ) -> IndexerResult<Vec<(u64, B256)>> {
        match self {
            Self::Sqlite(s) => s.recent_blocks(at_most, limit),
            Self::Postgres(s) => s.recent_blocks(at_most, limit).await,
        }
    }

    /// Undoes everything above block `fork` (all of it when `None`), in one transaction.
    pub(crate) async fn rollback(&mut self, fork: Option<(u64, B256)>) -> IndexerResult<()> {
        match self {
            Self::Sqlite(s) => s.rollback(fork),
            Self::Postgres(s) => s.rollback(fork).await,
        }
    }

    /// Drops block hashes below `below`: reorgs that deep are not expected, and a missing hash
    /// only makes the fork search conservative (it re-indexes more).
    pub(crate) async fn prune_blocks(&self, below: u64) -> IndexerResult<()> {
        match self {
            Self::Sqlite(s) => s.prune_blocks(below),
            Self::Postgres(s) => s.prune_blocks(below).await,
        }
    }

    /// Whether [`Writer::apply`] runs a scouting pass, which [`scout`] can run ahead of it.
    pub(crate) const fn scouts(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// Runs `batch` in one write transaction and commits it if it succeeds (rolls it back
    /// otherwise). `batch` writes through the functions of this module with the
    /// [`WindowWrites`] it is given; it may run more than once (PostgreSQL scouts a window
    /// first, see [`postgres`], unless `scouted` holds that pass's answer from [`scout`] on the
    /// same `batch`), and only its last run's writes and result count.
    pub(crate) async fn apply<R: Send + 'static>(
        &mut self,
        scouted: Option<Scouted>,
        batch: impl Fn(&WindowWrites<'_>) -> IndexerResult<R> + Send + 'static,
    ) -> IndexerResult<R> {
        match self {
            Self::Sqlite(s) => {
                let mut run = || {
                    let tx = s.transaction()?;
                    let writes = sqlite::Batch::new(&tx);
                    let out = batch(&WindowWrites::SqliteBatch(&writes))?;
                    writes.flush()?;
                    tx.commit()?;
                    Ok(out)
                };
                // The window is synchronous work on this async thread. The task fetching the
                // next window was spawned from here just before, into a slot no other thread
                // takes tasks from: without handing this thread's tasks over first, that fetch
                // would only start once the window is written.
                let handle = tokio::runtime::Handle::current();
                if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
                    tokio::task::block_in_place(run)
                } else {
                    run()
                }
            }
            Self::Postgres(s) => s.apply(scouted, batch).await,
        }
    }
}

/// A window's scouting pass, run ahead of [`Writer::apply`] (see [`postgres`]).
pub(crate) use postgres::Scouted;

/// Runs the scouting pass of `batch` (the same closure later given to [`Writer::apply`]) on a
/// blocking thread; it reads and writes nothing, so it may run while another window commits.
pub(crate) async fn scout<R>(
    batch: impl Fn(&WindowWrites<'_>) -> IndexerResult<R> + Send + 'static,
) -> IndexerResult<Scouted> {
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || postgres::scout(rt, move |w| batch(w).map(drop)))
        .await
        .map_err(|e| IndexerError::Task(e.to_string()))?
}

/// The SQL dialect of a backend, for the few expressions the two spell differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Dialect {
    /// An expression that is true when text `column` contains the next parameter.
    pub(crate) fn contains(self, column: &str) -> String {
        match self {
            Self::Sqlite => format!("instr({column}, ?) > 0"),
            Self::Postgres => format!("strpos({column}, ?) > 0"),
        }
    }
}

/// Why a read failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The request's deadline passed.
    Timeout,
    /// The database failed.
    Db(String),
}

/// Read connections for queries, reused across requests.
#[derive(Debug)]
pub(crate) enum ReadPool {
    /// Read-only connections to a SQLite file (WAL mode lets them read while the follower writes).
    Sqlite(sqlite::ReadPool),
    /// A pool of PostgreSQL connections.
    Postgres(postgres::ReadPool),
}

impl ReadPool {
    /// A read pool over an existing database written by an ingesting indexer, for a serve-only
    /// process: checks its schema and deployment without writing anything.
    pub(crate) async fn open_existing(
        target: &DbTarget,
        options: &OpenOptions,
    ) -> IndexerResult<Self> {
        Ok(match target {
            DbTarget::Sqlite(path) => {
                Self::Sqlite(sqlite::ReadPool::open_existing(path, &options.identity)?)
            }
            DbTarget::Postgres(url) => {
                Self::Postgres(postgres::ReadPool::open_existing(url, options).await?)
            }
        })
    }

    /// A pool over `target` without any check (fixtures reading what an indexer wrote).
    #[cfg(any(test, feature = "test-utils"))]
    pub(crate) fn unchecked(target: &DbTarget) -> IndexerResult<Self> {
        Ok(match target {
            DbTarget::Sqlite(path) => Self::Sqlite(sqlite::ReadPool::new(path)),
            DbTarget::Postgres(url) => Self::Postgres(postgres::ReadPool::unchecked(url)?),
        })
    }

    /// The backend's dialect.
    pub(crate) const fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite(_) => Dialect::Sqlite,
            Self::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The last indexed block and its hash.
    pub(crate) async fn cursor(&self) -> IndexerResult<Option<(u64, B256)>> {
        match self {
            Self::Sqlite(p) => p.cursor(),
            Self::Postgres(p) => p.cursor().await,
        }
    }

    /// Runs `sql` (with `?` placeholders) and returns each row's values.
    pub(crate) async fn select(
        &self,
        sql: &str,
        params: Vec<Sql>,
        deadline: Instant,
    ) -> Result<Vec<Vec<Sql>>, ReadError> {
        match self {
            Self::Sqlite(p) => p.select(sql, params, deadline),
            Self::Postgres(p) => p.select(sql, params, deadline).await,
        }
    }
}
