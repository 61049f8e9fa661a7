//! One window's writes into PostgreSQL, buffered and flushed in a few statements at commit.
//!
//! Handlers are synchronous, so a PostgreSQL window runs on a blocking thread; they write through
//! [`crate::handlers::HandlerCtx`] into a [`WindowWrites::Postgres`] that holds the [`Batch`].
//!
//! A statement per write would cost a round trip each (about ten per log). Instead the batch
//! keeps every entity it touches in memory: the first read of an entity loads its current
//! version, later reads and all writes stay in memory, and a version written again at the same
//! block replaces the one before, as SQLite's in-place update does. At commit it closes the
//! replaced stored versions, copies in the new versions with their `block_to` already set
//! (binary `COPY`), and upserts the block hashes (one statement over arrays) and the cursor.
//!
//! A window is written over two connections, so that two server processes share the work: the
//! second one copies in the raw logs and upserts the block hashes from the start of the window
//! (while the handlers run here), then takes about half of the entity tables; the first one
//! writes the other half and, once the second has committed, the cursor, and commits last. Readers
//! answer as of the committed cursor and every write of a window is above it, so they never see
//! a half-written window. An ingester that dies between the two commits leaves rows above its
//! cursor, which it rolls back when it next opens the database (see `Store::open`); each table's
//! closes and new versions are in one transaction, so that roll-back finds them.
//!
//! Loading each entity on first use would still cost a round trip per entity. So the window runs
//! twice: first a scouting pass that answers every entity it has not written itself as absent
//! and only notes which ones the handlers asked for, then, once those are loaded with one query
//! per table (`id = ANY($1)`), the real pass. Handlers are pure functions of the log and the
//! entities they read, so the real pass asks for the same entities unless an entity's stored
//! value sent a handler elsewhere; such a one is loaded on its own, as before.

use std::{
    cell::RefCell,
    collections::{BTreeMap, HashMap},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use alloy::primitives::B256;
use deadpool_postgres::Object;
use rusqlite::types::Value as Sql;
use tokio::{runtime::Handle, sync::oneshot, task::JoinHandle};
use tokio_postgres::{
    Row,
    binary_copy::BinaryCopyInWriter,
    types::{ToSql, Type},
};

use super::{CURSOR_UPSERT, column_type, param, query_values, row_values};
use crate::{
    entity::{EntityDef, Record},
    error::{IndexerError, IndexerResult},
    store::{
        RawLog, WindowWrites, col, columns, to_sql_u64,
        window::{Entities, Stored, Supersedes, Written},
    },
};

/// A window's block hashes and times; a block rewritten with the same hash keeps its time when
/// the new write has none.
const BLOCKS_UPSERT: &str = "INSERT INTO blocks (number, hash, timestamp)
     SELECT * FROM unnest($1::int8[], $2::text[], $3::int8[])
     ON CONFLICT (number) DO UPDATE SET hash = EXCLUDED.hash,
     timestamp = CASE WHEN blocks.hash = EXCLUDED.hash
         THEN COALESCE(EXCLUDED.timestamp, blocks.timestamp) ELSE EXCLUDED.timestamp END";

/// Runs `apply` (which writes through the store's functions) on the current (blocking) thread
/// and writes the window over the two connections `clients` (see the module's comment); commits
/// when it succeeds. On failure the batch is dropped uncommitted, which closes its connections
/// and so rolls their transactions back. `apply` runs twice (see the module's comment); the
/// scouting pass's raw logs and blocks and the second run's other writes and result count. `scouted` is
/// the scouting pass's answer when it already ran (see [`scout`]).
pub(super) fn run<R>(
    [client, second]: [Object; 2],
    rt: Handle,
    scouted: Option<Scouted>,
    apply: impl Fn(&WindowWrites<'_>) -> IndexerResult<R>,
) -> IndexerResult<R> {
    let Scouted { wanted, logs, blocks } = match scouted {
        Some(scouted) => scouted,
        None => scout(rt.clone(), apply_ignoring(&apply))?,
    };
    let second = Second::start(&rt, second, logs, blocks);
    let batch = RefCell::new(Batch::new(Some(client), rt));
    batch.borrow_mut().prefetch(wanted)?;
    let out = apply(&WindowWrites::Postgres(&batch))?;
    batch.into_inner().commit(second)?;
    Ok(out)
}

/// What a window's scouting pass found: the stored entities its handlers read, by table, and
/// the window's raw-log rows and block hashes and times.
#[derive(Debug, Default)]
pub(crate) struct Scouted {
    wanted: BTreeMap<&'static str, (&'static EntityDef, Vec<String>)>,
    logs: Vec<Vec<Sql>>,
    blocks: BTreeMap<u64, (B256, Option<u64>)>,
}

/// `apply` with its result dropped.
fn apply_ignoring<R>(
    apply: &impl Fn(&WindowWrites<'_>) -> IndexerResult<R>,
) -> impl Fn(&WindowWrites<'_>) -> IndexerResult<()> {
    move |w| apply(w).map(drop)
}

/// Runs a window's scouting pass: `apply` against a batch without a connection, which answers
/// every entity the window has not written itself as absent and notes which ones were asked
/// for. It reads nothing from the database, so it may run before the previous window commits.
pub(crate) fn scout(
    rt: Handle,
    apply: impl Fn(&WindowWrites<'_>) -> IndexerResult<()>,
) -> IndexerResult<Scouted> {
    let scout = RefCell::new(Batch::new(None, rt));
    apply(&WindowWrites::Postgres(&scout))?;
    let mut scout = scout.into_inner();
    Ok(Scouted {
        wanted: std::mem::take(&mut scout.wanted),
        logs: std::mem::take(&mut scout.logs),
        blocks: std::mem::take(&mut scout.blocks),
    })
}

/// The raw-log `COPY` target and its column types.
const LOGS: &str =
    "logs (block_number, log_index, block_hash, tx_hash, address, contract, topics, data)";
const LOG_TYPES: [Type; 8] = [
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
];

/// The second connection's part of a window: a transaction of its own that copies in the raw
/// logs and upserts the block hashes as soon as the window starts, then writes the entity tables
/// the commit hands it.
struct Second {
    tables: oneshot::Sender<Tables>,
    /// Whether the raw logs are in (the commit then hands it a full half of the tables).
    logs_done: Arc<AtomicBool>,
    committed: JoinHandle<IndexerResult<()>>,
    /// Raw-log rows, for weighing the tables between the connections.
    logs: usize,
}

impl Second {
    fn start(
        rt: &Handle,
        client: Object,
        logs: Vec<Vec<Sql>>,
        blocks: BTreeMap<u64, (B256, Option<u64>)>,
    ) -> Self {
        let (tables, handed) = oneshot::channel::<Tables>();
        let logs_done = Arc::new(AtomicBool::new(false));
        let (done, count) = (logs_done.clone(), logs.len());
        let committed = rt.spawn(async move {
            let written = async {
                client.batch_execute("BEGIN").await?;
                copy_rows(&client, LOGS, &LOG_TYPES, &logs).await?;
                upsert_blocks(&client, &blocks).await?;
                done.store(true, Ordering::Release);
                // No tables: the window failed before its commit, and nothing is committed.
                let tables =
                    handed.await.map_err(|_| IndexerError::Task("window abandoned".into()))?;
                tables.write(&client).await?;
                client.batch_execute("COMMIT").await?;
                IndexerResult::Ok(tables)
            }
            .await;
            match written {
                Ok(tables) => {
                    // Freed on a blocking thread, like the first connection's rows.
                    tokio::task::spawn_blocking(move || drop((tables, logs)));
                    Ok(())
                }
                Err(e) => {
                    // Closed, not returned to the pool inside a transaction.
                    drop(Object::take(client));
                    Err(e)
                }
            }
        });
        Self { tables, logs_done, committed, logs: count }
    }
}

/// A window's entity writes, by table.
#[derive(Debug, Default)]
struct Tables(BTreeMap<&'static str, TableWrites>);

/// One table's writes in a window.
#[derive(Debug)]
struct TableWrites {
    def: &'static EntityDef,
    /// Stored versions replaced by a version starting at the same block.
    deletes: Vec<String>,
    /// Stored versions closed, with the block their successor starts at.
    closes: (Vec<String>, Vec<i64>),
    /// New versions, as `COPY` rows.
    rows: Vec<Vec<Sql>>,
}

impl Tables {
    fn from_written(written: impl IntoIterator<Item = Written>) -> Self {
        let mut tables = BTreeMap::new();
        for Written { def, id, supersedes, versions } in written {
            let table = tables.entry(def.table).or_insert_with(|| TableWrites {
                def,
                deletes: Vec::new(),
                closes: (Vec::new(), Vec::new()),
                rows: Vec::new(),
            });
            match supersedes {
                Supersedes::Replaces => table.deletes.push(id.clone()),
                Supersedes::Closes { at } => {
                    table.closes.0.push(id.clone());
                    table.closes.1.push(at);
                }
                Supersedes::Nothing => {}
            }
            for version in versions {
                let mut row = Vec::with_capacity(3 + version.values.len());
                row.extend([
                    Sql::Text(id.clone()),
                    Sql::Integer(version.block_from),
                    version.block_to.map_or(Sql::Null, Sql::Integer),
                ]);
                row.extend(version.values);
                table.rows.push(row);
            }
        }
        Self(tables)
    }

    /// Splits off the tables for the second connection: about half of the work once the rows
    /// it still has to copy (`head_start`) are counted, the largest tables placed first.
    fn split_off(&mut self, head_start: usize) -> Self {
        let weight = |t: &TableWrites| t.rows.len() + t.closes.0.len() + t.deletes.len() + 1;
        let mut order: Vec<_> = self.0.iter().map(|(name, t)| (*name, weight(t))).collect();
        order.sort_by_key(|(name, w)| (std::cmp::Reverse(*w), *name));
        let (mut mine, mut theirs) = (0, head_start);
        let mut split = BTreeMap::new();
        for (name, w) in order {
            if theirs < mine {
                theirs += w;
                split.insert(name, self.0.remove(name).expect("listed above"));
            } else {
                mine += w;
            }
        }
        Self(split)
    }

    /// Deletes, closes and copies in each table's writes on `client`, in its open transaction.
    async fn write(&self, client: &Object) -> IndexerResult<()> {
        for (table, writes) in &self.0 {
            if !writes.deletes.is_empty() {
                let statement = client
                    .prepare_cached(&format!(
                        "DELETE FROM \"{table}\" WHERE id = ANY($1) AND block_to IS NULL"
                    ))
                    .await?;
                client.execute(&statement, &[&writes.deletes]).await?;
            }
            if !writes.closes.0.is_empty() {
                let statement = client
                    .prepare_cached(&format!(
                        "UPDATE \"{table}\" AS t SET block_to = v.b
                         FROM unnest($1::text[], $2::int8[]) AS v(id, b)
                         WHERE t.id = v.id AND t.block_to IS NULL"
                    ))
                    .await?;
                client.execute(&statement, &[&writes.closes.0, &writes.closes.1]).await?;
            }
            let def = writes.def;
            let fields: String = def.fields.iter().map(|f| format!(", {}", col(f.name))).collect();
            let mut types = vec![Type::TEXT, Type::INT8, Type::INT8];
            types.extend(def.fields.iter().map(|f| column_type(f.kind)));
            let target = format!("\"{table}\" (id, block_from, block_to{fields})");
            copy_rows(client, &target, &types, &writes.rows).await?;
        }
        Ok(())
    }
}

/// Runs `futures` concurrently and returns their outputs in order.
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (future, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("every future finished")).collect()
}

/// One window's writes, buffered until commit.
#[derive(Debug)]
pub(crate) struct Batch {
    /// `None` once committed and handed back, and in the scouting pass, which reads nothing.
    client: Option<Object>,
    rt: Handle,
    entities: Entities,
    /// Raw-log rows and block hashes and times (kept by the scouting pass only).
    logs: Vec<Vec<Sql>>,
    blocks: BTreeMap<u64, (B256, Option<u64>)>,
    cursor: Option<(u64, B256)>,
    /// Scouting: the stored entities the handlers asked for, by table.
    wanted: BTreeMap<&'static str, (&'static EntityDef, Vec<String>)>,
    /// Loaded before the real pass: every entity the scouting pass asked for, `None` for those
    /// without a current version.
    prefetched: HashMap<(&'static str, String), Option<Stored>>,
}

impl Drop for Batch {
    fn drop(&mut self) {
        // Not committed (a failure or a panic): close the connection instead of returning it to
        // the pool inside a transaction; the server rolls the transaction back.
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}

impl Batch {
    fn new(client: Option<Object>, rt: Handle) -> Self {
        Self {
            client,
            rt,
            entities: Entities::default(),
            logs: Vec::new(),
            blocks: BTreeMap::new(),
            cursor: None,
            wanted: BTreeMap::new(),
            prefetched: HashMap::new(),
        }
    }

    /// Whether this is the scouting pass, whose writes are thrown away.
    pub(crate) const fn scouting(&self) -> bool {
        self.client.is_none()
    }

    /// Loads the current versions of `wanted`, one query per table.
    fn prefetch(
        &mut self,
        wanted: BTreeMap<&'static str, (&'static EntityDef, Vec<String>)>,
    ) -> IndexerResult<()> {
        let client = self.client();
        let mut prefetched = HashMap::new();
        let wanted: Vec<_> = wanted.into_iter().collect();
        // One query per table, all sent before any answer is awaited: the connection pipelines
        // them, so the window waits for one round trip instead of one per table.
        let answers = self.rt.block_on(join_all(wanted.iter().map(|(table, (def, ids))| {
            let sql = format!(
                "SELECT id, block_from, {} FROM \"{table}\" WHERE id = ANY($1) AND block_to IS NULL",
                columns(def),
            );
            async move {
                let statement = client.prepare_cached(&sql).await?;
                IndexerResult::Ok(client.query(&statement, &[ids]).await?)
            }
        })));
        for ((table, (_, ids)), rows) in wanted.into_iter().zip(answers) {
            let rows = rows?;
            for id in ids {
                prefetched.insert((table, id), None);
            }
            for row in &rows {
                let mut values = row_values(row)?;
                let rest = values.split_off(2);
                if let [Sql::Text(id), Sql::Integer(from)] = values.as_slice() {
                    let stored = Stored { block_from: *from, values: rest };
                    prefetched.insert((table, id.clone()), Some(stored));
                }
            }
        }
        self.prefetched = prefetched;
        Ok(())
    }

    fn client(&self) -> &Object {
        self.client.as_ref().expect("a batch holds its connection until it commits")
    }

    /// Records the cursor (written at commit).
    pub(crate) fn write_cursor(&mut self, block: u64, hash: B256) -> IndexerResult<()> {
        self.cursor = Some((block, hash));
        Ok(())
    }

    /// Records a block hash and time. As with raw logs, the scouting pass keeps them (the second
    /// connection writes them as the window starts); the real pass has nothing to add.
    pub(crate) fn write_block(
        &mut self,
        number: u64,
        hash: B256,
        timestamp: Option<u64>,
    ) -> IndexerResult<()> {
        if !self.scouting() {
            return Ok(());
        }
        let entry = self.blocks.entry(number).or_insert((hash, timestamp));
        if entry.0 != hash || timestamp.is_some() {
            *entry = (hash, timestamp);
        }
        Ok(())
    }

    /// Records a raw log. The scouting pass keeps the rows (the second connection copies them
    /// in while the real pass runs); the real pass has nothing to add.
    pub(crate) fn write_log(&mut self, log: &RawLog<'_>) -> IndexerResult<()> {
        if !self.scouting() {
            return Ok(());
        }
        let mut row = vec![
            Sql::Integer(to_sql_u64(log.block_number)),
            Sql::Integer(to_sql_u64(log.log_index)),
        ];
        row.extend(log.text_columns().into_iter().map(Sql::Text));
        self.logs.push(row);
        Ok(())
    }

    /// A loader of the stored version of `def`'s entity `id` for [`Entities`]: the scouting
    /// pass notes the id and answers absent; the real pass takes it from the prefetched ones, or
    /// reads it on its own when the scouting pass did not ask for it.
    fn loader<'b>(
        client: Option<&'b Object>,
        rt: &'b Handle,
        wanted: &'b mut BTreeMap<&'static str, (&'static EntityDef, Vec<String>)>,
        prefetched: &'b mut HashMap<(&'static str, String), Option<Stored>>,
        def: &'static EntityDef,
        id: &'b str,
    ) -> impl FnOnce() -> IndexerResult<Option<Stored>> + 'b {
        move || match client {
            None => {
                wanted.entry(def.table).or_insert((def, Vec::new())).1.push(id.to_string());
                Ok(None)
            }
            Some(client) => match prefetched.remove(&(def.table, id.to_string())) {
                Some(stored) => Ok(stored),
                None => load_stored(client, rt, def, id),
            },
        }
    }

    /// The current version of `def`'s entity with stored id `id`.
    pub(crate) fn load_current(
        &mut self,
        def: &'static EntityDef,
        id: &str,
    ) -> IndexerResult<Option<Record>> {
        let load = Self::loader(
            self.client.as_ref(),
            &self.rt,
            &mut self.wanted,
            &mut self.prefetched,
            def,
            id,
        );
        self.entities.load_current(def, id, load)
    }

    /// Writes `record` as its version from `block` on (replacing a version this batch wrote at
    /// the same block).
    pub(crate) fn save_version(&mut self, record: &Record, block: u64) -> IndexerResult<()> {
        let load = Self::loader(
            self.client.as_ref(),
            &self.rt,
            &mut self.wanted,
            &mut self.prefetched,
            record.def,
            &record.id,
        );
        self.entities.save_version(record, block, load)
    }

    /// Writes everything buffered over both connections and commits, the cursor last.
    fn commit(&mut self, second: Second) -> IndexerResult<()> {
        // Moved out, not cloned: the batch is done with them.
        let mut mine = Tables::from_written(std::mem::take(&mut self.entities).into_written());
        let logs_left = if second.logs_done.load(Ordering::Acquire) { 0 } else { second.logs };
        let theirs = mine.split_off(logs_left);
        // The second connection fails to take them only when it has failed already; its result
        // says how.
        let _ = second.tables.send(theirs);
        let cursor = self.cursor.map(|(block, hash)| (to_sql_u64(block), hash.to_string()));
        let client = self.client();
        self.rt.block_on(async {
            client.batch_execute("BEGIN").await?;
            let (written, committed) = tokio::join!(mine.write(client), second.committed);
            written?;
            committed.map_err(|e| IndexerError::Task(e.to_string()))??;
            if let Some((block, hash)) = &cursor {
                let statement = client.prepare_cached(CURSOR_UPSERT).await?;
                client.execute(&statement, &[block, hash]).await?;
            }
            client.batch_execute("COMMIT").await?;
            IndexerResult::Ok(())
        })?;
        // Committed: the connection goes back to the pool.
        drop(self.client.take());
        // Freeing a window's rows (tens of thousands of small allocations) is left to another
        // thread instead of delaying the next window.
        let prefetched = std::mem::take(&mut self.prefetched);
        self.rt.spawn_blocking(move || drop((mine, prefetched)));
        Ok(())
    }
}

/// Records `blocks` (number → hash and time) with one cached statement over arrays, whatever
/// their count.
async fn upsert_blocks(
    client: &Object,
    blocks: &BTreeMap<u64, (B256, Option<u64>)>,
) -> IndexerResult<()> {
    if blocks.is_empty() {
        return Ok(());
    }
    let numbers: Vec<i64> = blocks.keys().map(|n| to_sql_u64(*n)).collect();
    let hashes: Vec<String> = blocks.values().map(|(h, _)| h.to_string()).collect();
    let times: Vec<Option<i64>> = blocks.values().map(|(_, t)| t.map(to_sql_u64)).collect();
    let statement = client.prepare_cached(BLOCKS_UPSERT).await?;
    client.execute(&statement, &[&numbers, &hashes, &times]).await?;
    Ok(())
}

/// Inserts `rows` into `target` (a table and its columns, of `types`) with one binary `COPY`:
/// far cheaper for the server than multi-row `INSERT`s with thousands of parameters.
async fn copy_rows(
    client: &Object,
    target: &str,
    types: &[Type],
    rows: &[Vec<Sql>],
) -> IndexerResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let statement =
        client.prepare_cached(&format!("COPY {target} FROM STDIN (FORMAT binary)")).await?;
    let sink = client.copy_in(&statement).await?;
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, types));
    for row in rows {
        // Values already of their column's type (nearly all) are sent from where they are:
        // converting each into a boxed copy cost the client more than the server spent on the
        // row.
        let converted = types
            .iter()
            .zip(row)
            .map(|(ty, v)| match (ty, v) {
                (&Type::INT8, Sql::Integer(_)) | (&Type::TEXT, Sql::Text(_)) | (_, Sql::Null) => {
                    Ok(None)
                }
                _ => param(ty, v).map(Some),
            })
            .collect::<IndexerResult<Vec<_>>>()?;
        let refs: Vec<&(dyn ToSql + Sync)> = types
            .iter()
            .zip(row)
            .zip(&converted)
            .map(|((ty, v), c)| match (c, v) {
                (Some(c), _) => c.as_ref() as &(dyn ToSql + Sync),
                (None, Sql::Integer(i)) => i,
                (None, Sql::Text(s)) => s,
                (None, _) if *ty == Type::INT8 => &None::<i64>,
                (None, _) => &None::<String>,
            })
            .collect();
        writer.as_mut().write(&refs).await?;
    }
    writer.finish().await?;
    Ok(())
}

fn query(client: &Object, rt: &Handle, sql: &str, values: &[Sql]) -> IndexerResult<Vec<Row>> {
    rt.block_on(async {
        let statement = client.prepare_cached(sql).await?;
        query_values(client, &statement, values).await
    })
}

/// The stored current version of `def`'s entity `id`, read on its own.
fn load_stored(
    client: &Object,
    rt: &Handle,
    def: &'static EntityDef,
    id: &str,
) -> IndexerResult<Option<Stored>> {
    let sql = format!(
        "SELECT block_from, {} FROM \"{}\" WHERE id = $1 AND block_to IS NULL",
        columns(def),
        def.table
    );
    let rows = query(client, rt, &sql, &[Sql::Text(id.to_string())])?;
    let Some(row) = rows.first() else { return Ok(None) };
    let mut values = row_values(row)?;
    let rest = values.split_off(1);
    Ok(match values[0] {
        Sql::Integer(from) => Some(Stored { block_from: from, values: rest }),
        _ => None,
    })
}
