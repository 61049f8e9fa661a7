//! The PostgreSQL backend: tokio-postgres connections in a deadpool pool.
//!
//! - Layout: the same tables as SQLite, keyed by `(id, block_from)` (SQLite's have a row id
//!   besides). Block numbers, `Int` and `Boolean` fields are `BIGINT`, everything else is
//!   `TEXT COLLATE "C"` so text orders by byte as in SQLite (the number encodings rely on it).
//! - Migrations are code: the `meta` table holds `schema_version` and the `deployment` the
//!   database belongs to. Opening for ingestion runs, in one transaction under an advisory lock,
//!   every migration above the stored version, then creates missing entity tables and adds
//!   missing columns (entities and fields only ever get added). A database of another deployment
//!   or of a newer schema is refused.
//! - One ingesting process per database: the follower holds a session advisory lock on its own
//!   connection for as long as it runs; a second ingester is refused (after waiting a few seconds
//!   for a stopping one to let go) and told to run
//!   `--indexer.serve-only` instead. Serve-only processes only read.
//! - Batches ([`batch`]): a window runs on a blocking thread with its batch registered for the
//!   store's write functions; a scouting pass finds the entities it reads, which are then loaded
//!   with one query per table; they are written in memory and flushed at commit over two
//!   connections, the cursor in the last commit. A window that died between the two commits is
//!   rolled back when the database is next opened for ingestion.
//! - Reads: a pool of connections with `statement_timeout` set to the query time limit, and the
//!   request's deadline on the client side too.

mod batch;

use std::{str::FromStr, time::Instant};

use alloy::primitives::B256;
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use rusqlite::types::Value as Sql;
use tokio::runtime::Handle;
use tokio_postgres::{
    Client, NoTls, Row, Statement,
    types::{ToSql, Type},
};

pub(crate) use self::batch::{Batch, Scouted, scout};
use super::{
    Dialect, OpenOptions, ReadError, WindowWrites, col, from_sql_u64, indexed_field, parse_hash,
    renumber, to_sql_u64,
};
use crate::{
    entity::{EntityDef, Kind},
    error::{IndexerError, IndexerResult},
};

/// The schema version this build writes; [`MIGRATIONS`]`[i]` takes a database from version `i`
/// to `i + 1`.
pub(crate) const SCHEMA_VERSION: i64 = 3;

/// Bookkeeping tables, by schema version (entity tables follow the entity table, see
/// [`entity_ddl`]).
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE IF NOT EXISTS cursor (
        id INTEGER PRIMARY KEY CHECK (id = 1), block BIGINT NOT NULL, hash TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS blocks (number BIGINT PRIMARY KEY, hash TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS logs (
        block_number BIGINT NOT NULL, log_index BIGINT NOT NULL, block_hash TEXT NOT NULL,
        tx_hash TEXT NOT NULL, address TEXT NOT NULL, contract TEXT NOT NULL,
        topics TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (block_number, log_index));",
    // Block times, for `_meta { block { timestamp } }`.
    "ALTER TABLE blocks ADD COLUMN IF NOT EXISTS timestamp BIGINT;",
    // Numbers in their short encoding: the entity tables are rewritten once they all exist
    // (see `Store::open` and `renumber`).
    "",
];

/// The first schema version that stores numbers in their short encoding.
const SHORT_NUMBERS: i64 = 3;

/// Advisory lock keys (arbitrary constants, the ASCII of "nsedmigr" and "nsedingr").
const MIGRATION_LOCK: i64 = 0x6e73_6564_6d69_6772;
const INGEST_LOCK: i64 = 0x6e73_6564_696e_6772;

/// The URL without its password, for messages.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_default();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("");
    let db = config.get_dbname().unwrap_or("");
    format!("postgres://{user}@{host}:{port}/{db}")
}

/// `url` without its password, for messages (a URL that does not parse is not shown at all).
pub(crate) fn describe_url(url: &str) -> String {
    parse_url(url).map_or_else(|_| "postgres://(unparsable URL)".into(), |c| describe(&c))
}

fn parse_url(url: &str) -> IndexerResult<tokio_postgres::Config> {
    tokio_postgres::Config::from_str(url)
        .map_err(|e| IndexerError::BadDbUrl { reason: e.to_string() })
}

/// A pool of `size` connections; `statement_timeout` (ms) is set on each when given.
fn pool(url: &str, size: usize, statement_timeout_ms: Option<u128>) -> IndexerResult<Pool> {
    let mut config = parse_url(url)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(10));
    }
    config.application_name("nsed-indexer");
    if let Some(ms) = statement_timeout_ms {
        config.options(format!("-c statement_timeout={ms}"));
    }
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig { recycling_method: RecyclingMethod::Fast },
    );
    Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(std::time::Duration::from_secs(10)))
        .build()
        .map_err(|e| IndexerError::Config(format!("postgres pool: {e}")))
}

/// A connection from `pool`, with an unreachable server reported as such.
async fn connection(pool: &Pool, db: &str) -> IndexerResult<Object> {
    pool.get().await.map_err(|e| match e {
        PoolError::Backend(e) => {
            if e.as_db_error().is_some() {
                IndexerError::Postgres(e)
            } else {
                IndexerError::DbUnreachable { db: db.to_string(), reason: e.to_string() }
            }
        }
        other => IndexerError::DbUnreachable { db: db.to_string(), reason: other.to_string() },
    })
}

/// The column type of a field of `kind`.
fn column_type(kind: Kind) -> Type {
    match kind {
        Kind::Int | Kind::Boolean => Type::INT8,
        _ => Type::TEXT,
    }
}

/// What the database already has: every table's columns and every index, by name.
#[derive(Debug, Default)]
struct Catalog {
    columns: std::collections::HashSet<(String, String)>,
    tables: std::collections::HashSet<String>,
    indexes: std::collections::HashSet<String>,
}

impl Catalog {
    async fn read(client: &impl deadpool_postgres::GenericClient) -> IndexerResult<Self> {
        let mut catalog = Self::default();
        for row in client
            .query(
                "SELECT c.relname::text, a.attname::text FROM pg_class c
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                 WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
                 AND c.relkind = 'r'",
                &[],
            )
            .await?
        {
            let table: String = row.get(0);
            catalog.tables.insert(table.clone());
            catalog.columns.insert((table, row.get(1)));
        }
        for row in client
            .query(
                "SELECT c.relname::text FROM pg_class c
                 WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
                 AND c.relkind = 'i'",
                &[],
            )
            .await?
        {
            catalog.indexes.insert(row.get(0));
        }
        Ok(catalog)
    }
}

/// The DDL that gives `def`'s table what `catalog` lacks: the table, fields added since it was
/// created, missing indexes. Statements for what exists are left out because a fresh database
/// otherwise spends most of its start-up on no-op `ADD COLUMN IF NOT EXISTS`es; each statement
/// keeps its `IF NOT EXISTS` for names the catalog spells differently (truncated ones).
fn entity_ddl(def: &EntityDef, catalog: &Catalog) -> String {
    let t = def.table;
    let ty = |kind: Kind| match column_type(kind) {
        Type::INT8 => "BIGINT",
        _ => "TEXT COLLATE \"C\"",
    };
    let mut sql = String::new();
    if catalog.tables.contains(t) {
        for f in def.fields {
            if !catalog.columns.contains(&(t.to_string(), f.name.to_string())) {
                sql.push_str(&format!(
                    "ALTER TABLE \"{t}\" ADD COLUMN IF NOT EXISTS {} {};",
                    col(f.name),
                    ty(f.kind)
                ));
            }
        }
    } else {
        let fields: String =
            def.fields.iter().map(|f| format!(", {} {}", col(f.name), ty(f.kind))).collect();
        // A version is its id and first block: the primary key is the index the writer and
        // time-travel queries look versions up by. (Tables of earlier builds have a `vid`
        // identity key beside an `(id, block_from)` index, which serve the same; the writer
        // never names `vid`.)
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS \"{t}\" (id TEXT COLLATE \"C\" NOT NULL,
                 block_from BIGINT NOT NULL, block_to BIGINT{fields},
                 PRIMARY KEY (id, block_from));"
        ));
    }
    let mut indexes = vec![
        (format!("{t}_current"), "id".to_string(), " WHERE block_to IS NULL"),
        // Versions are appended in block order, so a block-range index serves roll-backs and
        // `_change_block` for a fraction of a B-tree's upkeep on every write.
        (format!("{t}_from_brin"), "block_from".to_string(), ""),
    ];
    for f in def.fields.iter().filter(|f| indexed_field(f)) {
        indexes.push((format!("{t}_{}", f.name), format!("{}, id", col(f.name)), ""));
    }
    for (name, columns, filter) in indexes {
        if !catalog.indexes.contains(&name) {
            let method = if name.ends_with("_brin") { " USING brin" } else { "" };
            sql.push_str(&format!(
                "CREATE INDEX IF NOT EXISTS \"{name}\" ON \"{t}\"{method} ({columns}){filter};"
            ));
        }
    }
    // Earlier builds indexed `block_to` for roll-backs, which no longer need it (see
    // `rollback`), and `block_from` with a B-tree; every write paid for maintaining them.
    for old in [format!("{t}_to"), format!("{t}_from")] {
        if catalog.indexes.contains(&old) {
            sql.push_str(&format!("DROP INDEX IF EXISTS \"{old}\";"));
        }
    }
    sql
}

/// The stored schema version and deployment (`None` before the first migration).
async fn read_meta(
    client: &impl deadpool_postgres::GenericClient,
) -> IndexerResult<Option<(i64, Option<String>)>> {
    let exists: bool =
        client.query_one("SELECT to_regclass('meta') IS NOT NULL", &[]).await?.get(0);
    if !exists {
        return Ok(None);
    }
    let rows = client.query("SELECT key, value FROM meta", &[]).await?;
    let mut version = None;
    let mut deployment = None;
    for row in rows {
        let (key, value): (String, String) = (row.get(0), row.get(1));
        match key.as_str() {
            "schema_version" => version = value.parse::<i64>().ok(),
            "deployment" => deployment = Some(value),
            _ => {}
        }
    }
    Ok(version.map(|v| (v, deployment)))
}

/// Refuses a database of another deployment or another schema version.
fn check_meta(
    db: &str,
    identity: &str,
    version: i64,
    deployment: Option<&str>,
    exact: bool,
) -> IndexerResult<()> {
    if version > SCHEMA_VERSION || (exact && version != SCHEMA_VERSION) {
        return Err(IndexerError::SchemaVersion {
            db: db.to_string(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    match deployment {
        Some(found) if found != identity => Err(IndexerError::WrongDatabase {
            path: db.to_string(),
            expected: identity.to_string(),
            found: found.to_string(),
        }),
        _ => Ok(()),
    }
}

/// The follower's read-write store.
#[derive(Debug)]
pub(crate) struct Store {
    url: String,
    db: String,
    pool: Pool,
    /// Holds the ingest advisory lock for the store's lifetime.
    _lock: Client,
    entities: Vec<&'static EntityDef>,
}

impl Store {
    /// Connects, takes the ingest lock, and migrates the database for the deployment `identity`.
    pub(crate) async fn open(
        url: &str,
        options: &OpenOptions,
        entities: Vec<&'static EntityDef>,
    ) -> IndexerResult<Self> {
        let config = parse_url(url)?;
        let db = describe(&config);
        // Three connections: the two a window is written over and the follower's small reads
        // beside them.
        let pool = pool(url, 3, None)?;
        // Both connections are opened at once: each costs the server a process start.
        let lock = async {
            let mut config = config.clone();
            config.application_name("nsed-indexer ingest lock");
            let (lock, conn) = config.connect(NoTls).await.map_err(|e| {
                IndexerError::DbUnreachable { db: db.clone(), reason: e.to_string() }
            })?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::warn!(target: "indexer::store", error = %e, "postgres lock connection closed");
                }
            });
            IndexerResult::Ok(lock)
        };
        let (client, lock) = tokio::join!(connection(&pool, &db), lock);
        let (mut client, lock) = (client?, lock?);
        // An ingester that just stopped may not have closed its session yet: wait a little for
        // its lock before calling the database taken.
        lock.batch_execute("SET lock_timeout = '5s'").await?;
        match lock.query_one("SELECT pg_advisory_lock($1)::text", &[&INGEST_LOCK]).await {
            Ok(_) => {}
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
                return Err(IndexerError::AlreadyIngesting { db });
            }
            Err(e) => return Err(e.into()),
        }
        let tx = client.transaction().await?;
        tx.query_one("SELECT pg_advisory_xact_lock($1)::text", &[&MIGRATION_LOCK]).await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        )
        .await?;
        let (version, deployment) = read_meta(&tx).await?.unwrap_or((0, None));
        check_meta(&db, &options.identity, version, deployment.as_deref(), false)?;
        let from = usize::try_from(version).unwrap_or(0);
        for step in MIGRATIONS.iter().skip(from) {
            tx.batch_execute(step).await?;
        }
        // One round trip for every entity's DDL (a fresh database creates a few hundred tables
        // and indexes).
        let catalog = Catalog::read(&tx).await?;
        let ddl: String = entities.iter().map(|def| entity_ddl(def, &catalog)).collect();
        if !ddl.is_empty() {
            tx.batch_execute(&ddl).await?;
        }
        // A database of an earlier schema (none before its first migration) holds padded numbers.
        if (1..SHORT_NUMBERS).contains(&version) {
            for sql in renumber::statements(&entities, Dialect::Postgres) {
                tx.batch_execute(&sql).await?;
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', $1), ('deployment', $2)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            &[&SCHEMA_VERSION.to_string(), &options.identity],
        )
        .await?;
        tx.commit().await?;
        drop(client);
        let mut store = Self { url: url.to_string(), db, pool, _lock: lock, entities };
        // A window is written in two transactions, the cursor in the one that commits last (see
        // `batch`): an ingester that died between them left rows above its cursor, which go now.
        if version > 0 {
            let cursor = store.cursor().await?;
            store.rollback(cursor).await?;
        }
        Ok(store)
    }

    /// A read pool over the same database.
    pub(crate) fn reader(&self, options: &OpenOptions) -> IndexerResult<ReadPool> {
        Ok(ReadPool {
            pool: pool(&self.url, options.pool_size, Some(options.query_timeout.as_millis()))?,
            db: self.db.clone(),
        })
    }

    async fn client(&self) -> IndexerResult<Object> {
        connection(&self.pool, &self.db).await
    }

    /// The last indexed block and its hash.
    pub(crate) async fn cursor(&self) -> IndexerResult<Option<(u64, B256)>> {
        read_cursor(&self.client().await?).await
    }

    /// Stored block hashes at or below `at_most`, newest first, at most `limit`.
    pub(crate) async fn recent_blocks(
        &self,
        at_most: u64,
        limit: u32,
    ) -> IndexerResult<Vec<(u64, B256)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT number, hash FROM blocks WHERE number <= $1 ORDER BY number DESC LIMIT $2",
                &[&to_sql_u64(at_most), &i64::from(limit)],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((from_sql_u64(r.get(0)), parse_hash(r.get::<_, &str>(1))?)))
            .collect()
    }

    /// Undoes everything above block `fork` (all of it when `None`), in one transaction.
    pub(crate) async fn rollback(&mut self, fork: Option<(u64, B256)>) -> IndexerResult<()> {
        let above: i64 = fork.map_or(-1, |(n, _)| to_sql_u64(n));
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        for def in &self.entities {
            let t = def.table;
            // A version is only ever closed at the block its successor starts at, so the ones
            // closed above the fork belong to ids with a version above it: found through the
            // `block_from` and `id` indexes, which spares every write maintaining a `block_to`
            // index. Reopened before their successors go.
            tx.execute(
                &format!(
                    "UPDATE \"{t}\" SET block_to = NULL WHERE block_to > $1
                     AND id IN (SELECT id FROM \"{t}\" WHERE block_from > $1)"
                ),
                &[&above],
            )
            .await?;
            tx.execute(&format!("DELETE FROM \"{t}\" WHERE block_from > $1"), &[&above]).await?;
        }
        tx.execute("DELETE FROM logs WHERE block_number > $1", &[&above]).await?;
        tx.execute("DELETE FROM blocks WHERE number > $1", &[&above]).await?;
        match fork {
            Some((n, hash)) => {
                tx.execute(CURSOR_UPSERT, &[&to_sql_u64(n), &hash.to_string()]).await?;
            }
            None => {
                tx.execute("DELETE FROM cursor", &[]).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Drops block hashes below `below`.
    pub(crate) async fn prune_blocks(&self, below: u64) -> IndexerResult<()> {
        self.client()
            .await?
            .execute("DELETE FROM blocks WHERE number < $1", &[&to_sql_u64(below)])
            .await?;
        Ok(())
    }

    /// Runs `batch` on a blocking thread (handlers are synchronous) against a PostgreSQL
    /// [`Batch`]; writes and commits it when `batch` succeeds.
    pub(crate) async fn apply<R: Send + 'static>(
        &mut self,
        scouted: Option<Scouted>,
        batch: impl Fn(&WindowWrites<'_>) -> IndexerResult<R> + Send + 'static,
    ) -> IndexerResult<R> {
        let clients = tokio::try_join!(self.client(), self.client())?;
        let rt = Handle::current();
        tokio::task::spawn_blocking(move || batch::run(clients.into(), rt, scouted, batch))
            .await
            .map_err(|e| IndexerError::Task(e.to_string()))?
    }
}

const CURSOR_UPSERT: &str = "INSERT INTO cursor (id, block, hash) VALUES (1, $1, $2)
     ON CONFLICT (id) DO UPDATE SET block = EXCLUDED.block, hash = EXCLUDED.hash";

/// One parameter as the statement declares it: SQLite values are loosely typed, PostgreSQL's
/// are not, so each value is converted to the type the server inferred for its placeholder.
fn param(ty: &Type, value: &Sql) -> IndexerResult<Box<dyn ToSql + Sync + Send>> {
    let bad = || IndexerError::Corrupt {
        what: "value for a PostgreSQL parameter",
        value: format!("{value:?} as {ty}"),
    };
    Ok(match *ty {
        Type::INT8 => Box::new(match value {
            Sql::Null => None,
            Sql::Integer(v) => Some(*v),
            Sql::Text(s) => Some(s.parse::<i64>().map_err(|_| bad())?),
            _ => return Err(bad()),
        }),
        Type::INT4 => Box::new(match value {
            Sql::Null => None,
            Sql::Integer(v) => Some(i32::try_from(*v).map_err(|_| bad())?),
            _ => return Err(bad()),
        }),
        Type::BOOL => Box::new(match value {
            Sql::Null => None,
            Sql::Integer(v) => Some(*v != 0),
            _ => return Err(bad()),
        }),
        _ => Box::new(match value {
            Sql::Null => None,
            Sql::Integer(v) => Some(v.to_string()),
            Sql::Real(v) => Some(v.to_string()),
            Sql::Text(s) => Some(s.clone()),
            Sql::Blob(_) => return Err(bad()),
        }),
    })
}

async fn query_values(
    client: &impl deadpool_postgres::GenericClient,
    statement: &Statement,
    values: &[Sql],
) -> IndexerResult<Vec<Row>> {
    let params = statement
        .params()
        .iter()
        .zip(values)
        .map(|(ty, v)| param(ty, v))
        .collect::<IndexerResult<Vec<_>>>()?;
    let refs: Vec<&(dyn ToSql + Sync)> =
        params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    Ok(client.query(statement, &refs).await?)
}

/// A row's values as SQLite would return them: integers for `BIGINT`, text otherwise.
fn row_values(row: &Row) -> IndexerResult<Vec<Sql>> {
    (0..row.len())
        .map(|i| {
            let value = match *row.columns()[i].type_() {
                Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Sql::Integer),
                Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map(|v| Sql::Integer(v.into())),
                Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(|v| Sql::Integer(v.into())),
                _ => row.try_get::<_, Option<String>>(i)?.map(Sql::Text),
            };
            Ok(value.unwrap_or(Sql::Null))
        })
        .collect()
}

async fn read_cursor(
    client: &impl deadpool_postgres::GenericClient,
) -> IndexerResult<Option<(u64, B256)>> {
    let row = client.query_opt("SELECT block, hash FROM cursor WHERE id = 1", &[]).await?;
    row.map(|r| Ok((from_sql_u64(r.get(0)), parse_hash(r.get::<_, &str>(1))?))).transpose()
}

/// `?` placeholders as PostgreSQL's `$1, $2, …` (the shared SQL never has `?` in a literal).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// Most prepared statements a read connection keeps.
const STATEMENT_CACHE: usize = 256;

/// Pooled read connections.
#[derive(Debug)]
pub(crate) struct ReadPool {
    pool: Pool,
    db: String,
}

impl ReadPool {
    /// A pool over a database an ingesting indexer has migrated, for a serve-only process.
    pub(crate) async fn open_existing(url: &str, options: &OpenOptions) -> IndexerResult<Self> {
        let db = describe(&parse_url(url)?);
        let pool = pool(url, options.pool_size, Some(options.query_timeout.as_millis()))?;
        let client = connection(&pool, &db).await?;
        let Some((version, deployment)) = read_meta(&client).await? else {
            return Err(IndexerError::NotInitialized { db });
        };
        check_meta(&db, &options.identity, version, deployment.as_deref(), true)?;
        drop(client);
        Ok(Self { pool, db })
    }

    /// A pool without any check (fixtures reading what an indexer wrote).
    #[cfg(any(test, feature = "test-utils"))]
    pub(crate) fn unchecked(url: &str) -> IndexerResult<Self> {
        Ok(Self { pool: pool(url, 2, None)?, db: describe(&parse_url(url)?) })
    }

    /// The last indexed block and its hash.
    pub(crate) async fn cursor(&self) -> IndexerResult<Option<(u64, B256)>> {
        read_cursor(&connection(&self.pool, &self.db).await?).await
    }

    /// Runs `sql` (with `?` placeholders) and returns each row's values.
    pub(crate) async fn select(
        &self,
        sql: &str,
        params: Vec<Sql>,
        deadline: Instant,
    ) -> Result<Vec<Vec<Sql>>, ReadError> {
        let db_err = |e: IndexerError| ReadError::Db(e.to_string());
        let run = async {
            let client = connection(&self.pool, &self.db).await.map_err(db_err)?;
            // Filters make many statement shapes (`_in` lists of any length); keep each
            // connection's cache bounded instead of letting hostile queries grow it.
            if client.statement_cache.size() > STATEMENT_CACHE {
                client.statement_cache.clear();
            }
            let statement =
                client.prepare_cached(&numbered(sql)).await.map_err(|e| db_err(e.into()))?;
            let rows = query_values(&client, &statement, &params).await.map_err(|e| match &e {
                IndexerError::Postgres(pg)
                    if pg.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED) =>
                {
                    ReadError::Timeout
                }
                _ => db_err(e),
            })?;
            rows.iter().map(|r| row_values(r).map_err(db_err)).collect()
        };
        match tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), run).await {
            Ok(out) => out,
            Err(_) => Err(ReadError::Timeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered() {
        assert_eq!(
            numbered("SELECT a FROM t WHERE b <= ? AND c IN (?, ?) LIMIT ?"),
            "SELECT a FROM t WHERE b <= $1 AND c IN ($2, $3) LIMIT $4"
        );
    }

    #[test]
    fn urls_are_described_without_their_password() {
        let c = parse_url("postgres://alice:secret@db.example:6543/idx").unwrap();
        assert_eq!(describe(&c), "postgres://alice@db.example:6543/idx");
        assert!(matches!(
            parse_url("postgres://host:notaport/db"),
            Err(IndexerError::BadDbUrl { .. })
        ));
    }

    #[test]
    fn newer_schemas_and_other_deployments_are_refused() {
        assert!(check_meta("d", "x", SCHEMA_VERSION, Some("x"), true).is_ok());
        assert!(matches!(
            check_meta("d", "x", SCHEMA_VERSION + 1, Some("x"), false),
            Err(IndexerError::SchemaVersion { .. })
        ));
        assert!(matches!(
            check_meta("d", "x", SCHEMA_VERSION, Some("y"), false),
            Err(IndexerError::WrongDatabase { .. })
        ));
    }
}
