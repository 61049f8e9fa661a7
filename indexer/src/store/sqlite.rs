//! The SQLite backend: one file, WAL mode, a read-write connection for the follower and
//! read-only connections for queries.

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
    time::Instant,
};

use alloy::primitives::B256;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, params, types::Value as Sql,
};

use super::{
    Dialect, RawLog, ReadError, col, columns, from_sql_u64, indexed_field, parse_hash, renumber,
    to_sql_u64,
    window::{Entities, Stored, Supersedes, Written},
};
use crate::{
    entity::{EntityDef, Record},
    error::{IndexerError, IndexerResult},
};

/// Bumped when the table layout changes; an older file is refused rather than misread.
pub(crate) const SCHEMA_VERSION: &str = "5";

/// Statements the follower's connection keeps prepared: a handful per entity table.
const STATEMENT_CACHE: usize = 512;

/// Creates (if needed) every table for `entities` and the bookkeeping tables.
fn migrate(conn: &Connection, entities: &[&'static EntityDef]) -> IndexerResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS cursor (id INTEGER PRIMARY KEY CHECK (id = 1), block INTEGER NOT NULL, hash TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL, timestamp INTEGER);
         CREATE TABLE IF NOT EXISTS logs (
             block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, block_hash TEXT NOT NULL,
             tx_hash TEXT NOT NULL, address TEXT NOT NULL, contract TEXT NOT NULL,
             topics TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (block_number, log_index));",
    )?;
    for def in entities {
        let fields: String = def.fields.iter().map(|f| format!(", {}", col(f.name))).collect();
        let t = def.table;
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS \"{t}\" (vid INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL,
                 block_from INTEGER NOT NULL, block_to INTEGER{fields});
             CREATE INDEX IF NOT EXISTS \"{t}_id\" ON \"{t}\" (id, block_from);
             CREATE INDEX IF NOT EXISTS \"{t}_current\" ON \"{t}\" (id) WHERE block_to IS NULL;
             CREATE INDEX IF NOT EXISTS \"{t}_from\" ON \"{t}\" (block_from);
             DROP INDEX IF EXISTS \"{t}_to\";"
        ))?;
        for field in def.fields {
            if indexed_field(field) {
                conn.execute_batch(&format!(
                    "CREATE INDEX IF NOT EXISTS \"{t}_{n}\" ON \"{t}\" ({c}, id);",
                    n = field.name,
                    c = col(field.name)
                ))?;
            }
        }
    }
    Ok(())
}

/// The follower's read-write connection.
#[derive(Debug)]
pub(crate) struct Store {
    // A mutex only to make the follower's future `Send` across awaits; the follower is the only
    // user, so it is never contended.
    conn: Mutex<Connection>,
    entities: Vec<&'static EntityDef>,
    path: PathBuf,
}

impl Store {
    /// Opens or creates the database at `path` for the deployment described by `identity`.
    pub(crate) fn open(
        path: &Path,
        identity: &str,
        entities: Vec<&'static EntityDef>,
    ) -> IndexerResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                IndexerError::Config(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;",
        )?;
        // The identity is checked before any entity table is touched: a file of another layout
        // would otherwise fail on its old tables with an SQL error instead of being refused.
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )?;
        let expected = format!("schema {SCHEMA_VERSION}; {identity}");
        let mut found: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'identity'", [], |r| r.get(0))
            .optional()?;
        // Schema 3 lacks the block times' column, and schemas 3 and 4 stored numbers padded to
        // 78 digits: such a file gains the column and has its numbers rewritten (below, once
        // every entity table exists).
        let schema = |n: u32| Some(format!("schema {n}; {identity}"));
        let upgrade = [3, 4].into_iter().find(|n| found == schema(*n));
        if upgrade.is_some() {
            found = Some(expected.clone());
        }
        if let Some(found) = &found
            && *found != expected
        {
            return Err(IndexerError::WrongDatabase {
                path: path.display().to_string(),
                expected,
                found: found.clone(),
            });
        }
        // Every entity table has its own load, close, update and insert statements; rusqlite's
        // default cache of 16 would re-prepare them on almost every write.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // A window touches many pages of every entity table and index; the default 2 MB cache
        // would spill them to the WAL before the commit.
        conn.execute_batch("PRAGMA cache_size = -65536;")?;
        migrate(&conn, &entities)?;
        if let Some(from) = upgrade {
            let tx = conn.unchecked_transaction()?;
            if from == 3 {
                tx.execute_batch("ALTER TABLE blocks ADD COLUMN timestamp INTEGER;")?;
            }
            for sql in renumber::statements(&entities, Dialect::Sqlite) {
                tx.execute(&sql, [])?;
            }
            tx.execute("UPDATE meta SET value = ?1 WHERE key = 'identity'", [&expected])?;
            tx.commit()?;
        }
        if found.is_none() {
            conn.execute("INSERT INTO meta (key, value) VALUES ('identity', ?1)", [&expected])?;
        }
        Ok(Self { conn: Mutex::new(conn), entities, path: path.to_path_buf() })
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The last indexed block and its hash.
    pub(crate) fn cursor(&self) -> IndexerResult<Option<(u64, B256)>> {
        read_cursor(&self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn conn_mut(&mut self) -> &mut Connection {
        self.conn.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stored block hashes at or below `at_most`, newest first, at most `limit`.
    pub(crate) fn recent_blocks(
        &self,
        at_most: u64,
        limit: u32,
    ) -> IndexerResult<Vec<(u64, B256)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT number, hash FROM blocks WHERE number <= ?1 ORDER BY number DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![to_sql_u64(at_most), limit], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (n, h) = row?;
            out.push((from_sql_u64(n), parse_hash(&h)?));
        }
        Ok(out)
    }

    /// Starts a write transaction.
    pub(crate) fn transaction(&mut self) -> IndexerResult<Transaction<'_>> {
        Ok(self.conn_mut().transaction()?)
    }

    /// Undoes everything above block `fork` (all of it when `None`), in one transaction.
    pub(crate) fn rollback(&mut self, fork: Option<(u64, B256)>) -> IndexerResult<()> {
        // Everything strictly above `above` goes; -1 (no fork) removes all.
        let above: i64 = fork.map_or(-1, |(n, _)| to_sql_u64(n));
        let entities = self.entities.clone();
        let tx = self.conn_mut().transaction()?;
        for def in &entities {
            let t = def.table;
            // A version is only ever closed at the block its successor starts at, so the ones
            // closed above the fork belong to ids with a version above it, found through the
            // `block_from` and `id` indexes (a `block_to` index would cost every write more than
            // it saves the rare roll-back). Reopened before their successors go.
            tx.execute(
                &format!(
                    "UPDATE \"{t}\" SET block_to = NULL WHERE block_to > ?1
                     AND id IN (SELECT id FROM \"{t}\" WHERE block_from > ?1)"
                ),
                [above],
            )?;
            tx.execute(&format!("DELETE FROM \"{t}\" WHERE block_from > ?1"), [above])?;
        }
        tx.execute("DELETE FROM logs WHERE block_number > ?1", [above])?;
        tx.execute("DELETE FROM blocks WHERE number > ?1", [above])?;
        match fork {
            Some((n, hash)) => write_cursor(&tx, n, hash)?,
            None => {
                tx.execute("DELETE FROM cursor", [])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Drops block hashes far below the cursor: reorgs deeper than `keep` blocks are not
    /// expected, and a missing hash only makes the fork search conservative (it re-indexes more).
    pub(crate) fn prune_blocks(&self, below: u64) -> IndexerResult<()> {
        self.lock().execute("DELETE FROM blocks WHERE number < ?1", [to_sql_u64(below)])?;
        Ok(())
    }
}

/// Writes the cursor.
pub(crate) fn write_cursor(tx: &Transaction<'_>, block: u64, hash: B256) -> IndexerResult<()> {
    tx.execute(
        "INSERT INTO cursor (id, block, hash) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET block = excluded.block, hash = excluded.hash",
        params![to_sql_u64(block), hash.to_string()],
    )?;
    Ok(())
}

/// Records the hash of block `number` and its time; a block rewritten with the same hash keeps
/// its time when the new write has none.
pub(crate) fn write_block(
    tx: &Transaction<'_>,
    number: u64,
    hash: B256,
    timestamp: Option<u64>,
) -> IndexerResult<()> {
    tx.prepare_cached(
        "INSERT INTO blocks (number, hash, timestamp) VALUES (?1, ?2, ?3)
         ON CONFLICT (number) DO UPDATE SET hash = excluded.hash,
             timestamp = CASE WHEN blocks.hash = excluded.hash
                 THEN COALESCE(excluded.timestamp, blocks.timestamp) ELSE excluded.timestamp END",
    )?
    .execute(params![to_sql_u64(number), hash.to_string(), timestamp.map(to_sql_u64)])?;
    Ok(())
}

/// Stores a raw log.
pub(crate) fn write_log(tx: &Transaction<'_>, log: &RawLog<'_>) -> IndexerResult<()> {
    let [block_hash, tx_hash, address, contract, topics, data] = log.text_columns();
    tx.prepare_cached(
        "INSERT INTO logs (block_number, log_index, block_hash, tx_hash, address, contract, topics, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        to_sql_u64(log.block_number),
        to_sql_u64(log.log_index),
        block_hash,
        tx_hash,
        address,
        contract,
        topics,
        data,
    ])?;
    Ok(())
}

/// The current version of `def`'s entity with stored id `id`.
pub(crate) fn load_current(
    tx: &Transaction<'_>,
    def: &'static EntityDef,
    id: &str,
) -> IndexerResult<Option<Record>> {
    Batch::new(tx).load_current(def, id)
}

/// Writes `record` as its version from `block` on, at once: updates the version in place when
/// it already starts at `block`, otherwise closes the current version at `block` and inserts a
/// new one.
pub(crate) fn save_version(tx: &Transaction<'_>, record: &Record, block: u64) -> IndexerResult<()> {
    let batch = Batch::new(tx);
    batch.save_version(record, block)?;
    batch.flush()
}

/// One window's entity writes on the follower's transaction, kept in memory until [`flush`]
/// (see [`window`](super::window)); raw logs, blocks and the cursor are written at once.
///
/// [`flush`]: Batch::flush
#[derive(Debug)]
pub(crate) struct Batch<'a> {
    tx: &'a Transaction<'a>,
    entities: std::cell::RefCell<Entities>,
}

impl<'a> Batch<'a> {
    pub(crate) fn new(tx: &'a Transaction<'a>) -> Self {
        Self { tx, entities: std::cell::RefCell::default() }
    }

    /// The window's transaction.
    pub(crate) const fn tx(&self) -> &'a Transaction<'a> {
        self.tx
    }

    /// The stored current version of `def`'s entity `id`.
    fn load_stored(&self, def: &'static EntityDef, id: &str) -> IndexerResult<Option<Stored>> {
        let sql = statement(def, Statement::Current, || {
            format!(
                "SELECT block_from, {} FROM \"{}\" WHERE id = ?1 AND block_to IS NULL",
                columns(def),
                def.table
            )
        });
        let n = def.fields.len();
        Ok(self
            .tx
            .prepare_cached(&sql)?
            .query_row([id], |r| {
                let values = (0..n).map(|i| r.get::<_, Sql>(i + 1)).collect::<Result<_, _>>()?;
                Ok(Stored { block_from: r.get(0)?, values })
            })
            .optional()?)
    }

    /// The current version of `def`'s entity with stored id `id`.
    pub(crate) fn load_current(
        &self,
        def: &'static EntityDef,
        id: &str,
    ) -> IndexerResult<Option<Record>> {
        self.entities.borrow_mut().load_current(def, id, || self.load_stored(def, id))
    }

    /// Writes `record` as its version from `block` on (replacing a version this window wrote at
    /// the same block).
    pub(crate) fn save_version(&self, record: &Record, block: u64) -> IndexerResult<()> {
        self.entities
            .borrow_mut()
            .save_version(record, block, || self.load_stored(record.def, &record.id))
    }

    /// Writes every entity version buffered (the caller commits): a replaced stored version is
    /// updated in place with the window's first version.
    pub(crate) fn flush(self) -> IndexerResult<()> {
        let tx = self.tx;
        for Written { def, id, supersedes, versions } in self.entities.into_inner().into_written() {
            let table = def.table;
            let mut rest = versions.iter();
            match supersedes {
                Supersedes::Replaces => {
                    let first = rest.next().expect("a written entity has a version");
                    let sql = statement(def, Statement::Update, || {
                        let sets: String = def
                            .fields
                            .iter()
                            .enumerate()
                            .map(|(i, f)| format!(", {} = ?{}", col(f.name), i + 3))
                            .collect();
                        format!(
                            "UPDATE \"{table}\" SET block_to = ?2{sets} WHERE id = ?1 AND block_to IS NULL"
                        )
                    });
                    let params =
                        [Sql::Text(id.clone()), first.block_to.map_or(Sql::Null, Sql::Integer)];
                    tx.prepare_cached(&sql)?
                        .execute(rusqlite::params_from_iter(params.iter().chain(&first.values)))?;
                }
                Supersedes::Closes { at } => {
                    tx.prepare_cached(&statement(def, Statement::Close, || {
                        format!(
                            "UPDATE \"{table}\" SET block_to = ?1 WHERE id = ?2 AND block_to IS NULL"
                        )
                    }))?
                    .execute(params![at, id])?;
                }
                Supersedes::Nothing => {}
            }
            let sql = statement(def, Statement::Insert, || {
                let placeholders: String =
                    (0..def.fields.len()).map(|i| format!(", ?{}", i + 4)).collect();
                let fields: String =
                    def.fields.iter().map(|f| format!(", {}", col(f.name))).collect();
                format!(
                    "INSERT INTO \"{table}\" (id, block_from, block_to{fields}) VALUES (?1, ?2, ?3{placeholders})"
                )
            });
            let mut insert = tx.prepare_cached(&sql)?;
            for version in rest {
                let head = [
                    Sql::Text(id.clone()),
                    Sql::Integer(version.block_from),
                    version.block_to.map_or(Sql::Null, Sql::Integer),
                ];
                insert.execute(rusqlite::params_from_iter(head.iter().chain(&version.values)))?;
            }
        }
        Ok(())
    }
}

/// The follower's statements on an entity table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Statement {
    Current,
    Update,
    Close,
    Insert,
}

/// The SQL of `which` on `def`'s table, built once per thread: formatting it for every write
/// cost more than running the prepared statement.
fn statement(
    def: &'static EntityDef,
    which: Statement,
    build: impl FnOnce() -> String,
) -> std::rc::Rc<str> {
    thread_local! {
        static SQL: std::cell::RefCell<std::collections::HashMap<(&'static str, Statement), std::rc::Rc<str>>> =
            std::cell::RefCell::default();
    }
    SQL.with_borrow_mut(|cache| {
        cache.entry((def.table, which)).or_insert_with(|| build().into()).clone()
    })
}

fn read_cursor(conn: &Connection) -> IndexerResult<Option<(u64, B256)>> {
    let row: Option<(i64, String)> = conn
        .query_row("SELECT block, hash FROM cursor WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    row.map(|(n, h)| Ok((from_sql_u64(n), parse_hash(&h)?))).transpose()
}

/// Read-only connections for queries, reused across requests. WAL mode lets them read while the
/// follower writes.
#[derive(Debug)]
pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// A pooled connection, returned to the pool on drop.
#[derive(Debug)]
pub(crate) struct Pooled<'a> {
    pool: &'a ReadPool,
    conn: Option<Connection>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("a pooled connection is present until drop")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            // Clear any deadline so the next request starts fresh.
            let _ = conn.progress_handler(0, None::<fn() -> bool>);
            self.pool.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(conn);
        }
    }
}

impl ReadPool {
    /// A pool over the database at `path` (which the follower created).
    pub(crate) fn new(path: &Path) -> Self {
        Self { path: path.to_path_buf(), idle: Mutex::new(Vec::new()) }
    }

    /// A connection whose statements are interrupted once `deadline` passes.
    pub(crate) fn get(&self, deadline: Instant) -> IndexerResult<Pooled<'_>> {
        let idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.execute_batch("PRAGMA busy_timeout = 5000;")?;
                conn
            }
        };
        conn.progress_handler(10_000, Some(move || Instant::now() > deadline))?;
        Ok(Pooled { pool: self, conn: Some(conn) })
    }

    /// A pool over an existing database, for a serve-only process: the file must exist and hold
    /// this deployment's tables (written by an ingesting indexer).
    pub(crate) fn open_existing(path: &Path, identity: &str) -> IndexerResult<Self> {
        let pool = Self::new(path);
        let not_ready = || IndexerError::NotInitialized { db: path.display().to_string() };
        if !path.is_file() {
            return Err(not_ready());
        }
        let conn = pool.get(Instant::now() + std::time::Duration::from_secs(5))?;
        let found: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'identity'", [], |r| r.get(0))
            .optional()
            .map_err(|_| not_ready())?;
        let expected = format!("schema {SCHEMA_VERSION}; {identity}");
        match found {
            None => return Err(not_ready()),
            Some(found) if found != expected => {
                return Err(IndexerError::WrongDatabase {
                    path: path.display().to_string(),
                    expected,
                    found,
                });
            }
            Some(_) => {}
        }
        drop(conn);
        Ok(pool)
    }

    /// The last indexed block and its hash.
    pub(crate) fn cursor(&self) -> IndexerResult<Option<(u64, B256)>> {
        let conn = self.get(Instant::now() + std::time::Duration::from_secs(5))?;
        read_cursor(&conn)
    }

    /// Runs `sql` and returns each row's values; interrupted at `deadline`.
    pub(crate) fn select(
        &self,
        sql: &str,
        params: Vec<Sql>,
        deadline: Instant,
    ) -> Result<Vec<Vec<Sql>>, ReadError> {
        let map_err = |e: rusqlite::Error| {
            if matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::OperationInterrupted)) {
                ReadError::Timeout
            } else {
                ReadError::Db(e.to_string())
            }
        };
        let conn = self.get(deadline).map_err(|e| ReadError::Db(e.to_string()))?;
        let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
        let n = stmt.column_count();
        stmt.query_map(rusqlite::params_from_iter(params), |r| {
            (0..n).map(|i| r.get::<_, Sql>(i)).collect::<Result<Vec<_>, _>>()
        })
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::all_entities;

    #[test]
    fn a_file_of_another_layout_is_refused_before_its_tables_are_touched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        {
            // A schema-1 file: an `agent` table without the registry's columns.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 INSERT INTO meta VALUES ('identity', 'schema 1; chain 31337');
                 CREATE TABLE agent (vid INTEGER PRIMARY KEY, id TEXT NOT NULL,
                     block_from INTEGER NOT NULL, block_to INTEGER, \"owner\");",
            )
            .unwrap();
        }
        let err = Store::open(&path, "chain 31337", all_entities()).unwrap_err();
        assert!(matches!(err, IndexerError::WrongDatabase { .. }), "{err:?}");
        // A fresh file opens, and opens again with the same identity.
        let fresh = dir.path().join("fresh.sqlite");
        drop(Store::open(&fresh, "chain 31337", all_entities()).unwrap());
        Store::open(&fresh, "chain 31337", all_entities()).unwrap();
    }

    #[test]
    fn a_schema_3_file_gains_block_times_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v3.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 INSERT INTO meta VALUES ('identity', 'schema 3; chain 31337');
                 CREATE TABLE blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL);
                 INSERT INTO blocks VALUES (7, '0x07');",
            )
            .unwrap();
        }
        let store = Store::open(&path, "chain 31337", all_entities()).unwrap();
        let conn = store.lock();
        let (hash, time): (String, Option<i64>) = conn
            .query_row("SELECT hash, timestamp FROM blocks WHERE number = 7", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((hash.as_str(), time), ("0x07", None));
        let identity: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'identity'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(identity, format!("schema {SCHEMA_VERSION}; chain 31337"));
    }

    #[test]
    fn a_schema_4_file_has_its_padded_numbers_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v4.sqlite");
        let entities = all_entities();
        let job = *entities.iter().find(|e| e.name == "Job").unwrap();
        let padded = |n: u64| format!("{n:0>78}");
        {
            // A schema-4 file: a job stored with its id and bounty padded to 78 digits.
            let store = Store::open(&path, "chain 31337", entities.clone()).unwrap();
            let conn = store.lock();
            conn.execute(
                &format!(
                    "INSERT INTO \"{}\" (id, block_from, \"bounty\") VALUES (?1, 5, ?2)",
                    job.table
                ),
                [padded(12), padded(700)],
            )
            .unwrap();
            conn.execute(
                "UPDATE meta SET value = 'schema 4; chain 31337' WHERE key = 'identity'",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path, "chain 31337", entities).unwrap();
        let conn = store.lock();
        let (id, bounty): (String, String) = conn
            .query_row(&format!("SELECT id, \"bounty\" FROM \"{}\"", job.table), [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((id.as_str(), bounty.as_str()), ("0212", "03700"));
        let identity: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'identity'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(identity, format!("schema {SCHEMA_VERSION}; chain 31337"));
    }
}
