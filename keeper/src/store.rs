//! The keeper's durable state in SQLite: the log cursor and every job with the
//! ordered log of what its deliberation accepted, so a restarted keeper rebuilds each
//! deliberation exactly and resumes where it stopped.

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::primitives::{Address, B256, U256};
use nsed_protocol::{
    halting::HaltReason,
    wire::{SignedBallot, SignedProposal},
};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::timing::{Part, Stopwatch, Timings};

/// Errors of the keeper's store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("keeper database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value does not parse (the database was edited or is from another version).
    #[error("keeper database holds a malformed {what}: {reason}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// The parse error.
        reason: String,
    },
}

/// Where a job stands from the keeper's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobState {
    /// Seen on chain, not yet claimed by this keeper.
    Requested,
    /// Claimed by this keeper; deliberation in progress.
    Claimed,
    /// Settled on chain by this keeper.
    Settled,
    /// Nothing more to do: claimed by someone else, refunded, settled elsewhere, or no answer.
    Closed,
}

impl JobState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Claimed => "claimed",
            Self::Settled => "settled",
            Self::Closed => "closed",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "requested" => Self::Requested,
            "claimed" => Self::Claimed,
            "settled" => Self::Settled,
            "closed" => Self::Closed,
            other => return Err(StoreError::Corrupt { what: "job state", reason: other.into() }),
        })
    }
}

/// The parts of a `JobRequested` event the keeper needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Job id.
    pub job_id: U256,
    /// Task kind.
    pub kind: String,
    /// Task input (JSON for `tensor-f32`).
    pub input: Vec<u8>,
    /// Seats wanted.
    pub agents_wanted: u8,
    /// Most rounds.
    pub max_rounds: u8,
    /// Vote credits.
    pub credits: u64,
    /// Unix deadline in seconds.
    pub deadline: u64,
    /// Block of the request.
    pub block: u64,
}

/// One step of a deliberation, in the order it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogEvent {
    /// An accepted proposal.
    Proposal(SignedProposal),
    /// Proposal collection closed.
    CloseProposals,
    /// An accepted ballot.
    Ballot(SignedBallot),
    /// The round closed.
    CloseRound,
    /// The keeper stopped the deliberation early.
    Halt(HaltReason),
}

/// A job row.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// What was requested.
    pub spec: JobSpec,
    /// Where it stands.
    pub state: JobState,
    /// The seats the market drew at this keeper's claim (empty until claimed).
    pub seats: Vec<Address>,
    /// The settlement transaction, once settled.
    pub settle_tx: Option<B256>,
}

/// The SQLite store.
#[derive(Debug)]
pub struct Store {
    // A mutex makes the store shareable across the keeper's tasks; it is never held across an
    // await point.
    conn: std::sync::Mutex<Connection>,
    /// Where the time spent on the database (waiting for the lock included) is counted.
    timings: Arc<Timings>,
}

/// The connection, locked, and the time it stays locked counted as [`Part::Store`].
struct Locked<'a> {
    conn: std::sync::MutexGuard<'a, Connection>,
    _watch: Stopwatch<'a>,
}

impl std::ops::Deref for Locked<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

/// Switches a connection to WAL and creates the tables it lacks.
///
/// Two connections opening a new file at once (the keeper and an operator's reader) both try to
/// switch it to WAL; SQLite refuses one of them at once instead of calling its busy handler,
/// because waiting could deadlock. That one tries again until the other has finished, within
/// [`SETUP_BUSY_WAIT`].
fn prepare(conn: &Connection) -> rusqlite::Result<()> {
    const SCHEMA: &str = "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         CREATE TABLE IF NOT EXISTS cursor (id INTEGER PRIMARY KEY CHECK (id = 1), next_block INTEGER NOT NULL, last_hash TEXT);
         CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, spec TEXT NOT NULL, state TEXT NOT NULL, seats TEXT NOT NULL, settle_tx TEXT);
         CREATE TABLE IF NOT EXISTS job_events (job_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (job_id, seq));";
    let deadline = Instant::now() + SETUP_BUSY_WAIT;
    loop {
        match conn.execute_batch(SCHEMA) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            done => return done,
        }
    }
}

/// How long [`prepare`] keeps trying while another connection sets the same file up.
const SETUP_BUSY_WAIT: Duration = Duration::from_secs(10);

impl Store {
    /// Opens (creating if needed) the database at `path`; `:memory:` for a throwaway store.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if it cannot be opened or migrated.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path)?;
        prepare(&conn)?;
        Ok(Self { conn: std::sync::Mutex::new(conn), timings: Arc::default() })
    }

    /// Counts the time spent on the database in `timings` (as [`Part::Store`]).
    #[must_use]
    pub fn with_timings(mut self, timings: Arc<Timings>) -> Self {
        self.timings = timings;
        self
    }

    fn conn(&self) -> Locked<'_> {
        let watch = self.timings.start(Part::Store);
        // A panic while holding the lock cannot leave SQLite inconsistent (statements are atomic),
        // so a poisoned lock is still usable.
        let conn = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Locked { conn, _watch: watch }
    }

    /// The next block to scan and the hash of the block before it, if any was scanned.
    ///
    /// # Errors
    ///
    /// [`StoreError`] on database errors.
    pub fn cursor(&self) -> Result<Option<(u64, Option<B256>)>, StoreError> {
        self.conn()
            .query_row("SELECT next_block, last_hash FROM cursor WHERE id = 1", [], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, Option<String>>(1)?))
            })
            .optional()?
            .map(|(next, hash)| {
                let hash = hash.map(|h| h.parse::<B256>()).transpose().map_err(|e| {
                    StoreError::Corrupt { what: "block hash", reason: e.to_string() }
                })?;
                Ok((next as u64, hash))
            })
            .transpose()
    }

    /// Records that every block below `next_block` was scanned; `last_hash` is block
    /// `next_block − 1`'s hash, used to notice reorgs.
    ///
    /// # Errors
    ///
    /// [`StoreError`] on database errors.
    pub fn set_cursor(&self, next_block: u64, last_hash: Option<B256>) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO cursor (id, next_block, last_hash) VALUES (1, ?1, ?2)
             ON CONFLICT(id) DO UPDATE SET next_block = ?1, last_hash = ?2",
            params![next_block as i64, last_hash.map(|h| h.to_string())],
        )?;
        Ok(())
    }

    /// Adds a requested job. Seeing the same request again changes nothing; seeing a *different*
    /// request under a known id means a reorg replaced it, so the job starts over: its state,
    /// seats and deliberation log are reset (messages signed for the old request must never be
    /// replayed into the new one). Returns whether the job is new or was reset.
    ///
    /// # Errors
    ///
    /// [`StoreError`] on database errors.
    pub fn add_job(&self, spec: &JobSpec) -> Result<bool, StoreError> {
        let spec_json = serde_json::to_string(spec).expect("specs serialize");
        let id = spec.job_id.to_string();
        let conn = self.conn();
        let existing: Option<(String, String)> = conn
            .query_row("SELECT spec, state FROM jobs WHERE job_id = ?1", params![id], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        match existing {
            None => {
                conn.execute(
                    "INSERT INTO jobs (job_id, spec, state, seats) VALUES (?1, ?2, 'requested', '[]')",
                    params![id, spec_json],
                )?;
                Ok(true)
            }
            // The same request re-included in another block is still the same request.
            Some((old, _))
                if serde_json::from_str::<JobSpec>(&old)
                    .is_ok_and(|old| JobSpec { block: spec.block, ..old } == *spec) =>
            {
                Ok(false)
            }
            Some(_) => {
                conn.execute(
                    "UPDATE jobs SET spec = ?2, state = 'requested', seats = '[]', settle_tx = NULL WHERE job_id = ?1",
                    params![id, spec_json],
                )?;
                conn.execute("DELETE FROM job_events WHERE job_id = ?1", params![id])?;
                Ok(true)
            }
        }
    }

    /// Moves a job to `state`, recording its seats and settlement transaction when given.
    ///
    /// # Errors
    ///
    /// [`StoreError`] on database errors.
    pub fn update_job(
        &self,
        job_id: U256,
        state: JobState,
        seats: Option<&[Address]>,
        settle_tx: Option<B256>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE jobs SET state = ?2,
                seats = COALESCE(?3, seats),
                settle_tx = COALESCE(?4, settle_tx)
             WHERE job_id = ?1",
            params![
                job_id.to_string(),
                state.as_str(),
                seats.map(|s| serde_json::to_string(s).expect("addresses serialize")),
                settle_tx.map(|h| h.to_string()),
            ],
        )?;
        Ok(())
    }

    /// The ids of every job not yet settled or closed, oldest first: the keeper's loop asks on
    /// every turn, and reads in full only the jobs it starts a step for.
    ///
    /// # Errors
    ///
    /// [`StoreError`] on database errors or corrupt rows.
    pub fn open_job_ids(&self) -> Result<Vec<U256>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT job_id FROM jobs WHERE state IN ('requested', 'claimed') ORDER BY rowid",
        )?;
        let ids = stmt.query_map([], |row| row.get::<_, String>(0))?;
        ids.map(|id| {
            let id = id?;
            id.parse::<U256>()
                .map_err(|e| StoreError::Corrupt { what: "job id", reason: format!("{id}: {e}") })
        })
        .collect()
    }

    /// One job.
    ///
    /// # Errors
    ///
    /// [`StoreError`] on database errors or corrupt rows.
    pub fn job(&self, job_id: U256) -> Result<Option<JobRow>, StoreError> {
        Ok(self.jobs_where("job_id = ?1", &[&job_id.to_string()])?.pop())
    }

    fn jobs_where(
        &self,
        condition: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<JobRow>, StoreError> {
        let sql = format!("SELECT spec, state, seats, settle_tx FROM jobs WHERE {condition}");
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(params, |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Option<String>>(3)?,
            ))
        })?;
        let mut jobs = Vec::new();
        for row in rows {
            let (spec, state, seats, tx) = row?;
            let corrupt = |what| {
                move |e: serde_json::Error| StoreError::Corrupt { what, reason: e.to_string() }
            };
            jobs.push(JobRow {
                spec: serde_json::from_str(&spec).map_err(corrupt("job spec"))?,
                state: JobState::parse(&state)?,
                seats: serde_json::from_str(&seats).map_err(corrupt("job seats"))?,
                settle_tx: tx.map(|t| t.parse()).transpose().map_err(
                    |e: alloy::hex::FromHexError| StoreError::Corrupt {
                        what: "tx hash",
                        reason: e.to_string(),
                    },
                )?,
            });
        }
        jobs.sort_by_key(|j| j.spec.job_id);
        Ok(jobs)
    }

    /// Appends one deliberation step to a job's log.
    ///
    /// # Errors
    ///
    /// [`StoreError`] on database errors.
    pub fn append_event(&self, job_id: U256, event: &LogEvent) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO job_events (job_id, seq, event)
             VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM job_events WHERE job_id = ?1), ?2)",
            params![job_id.to_string(), serde_json::to_string(event).expect("events serialize")],
        )?;
        Ok(())
    }

    /// A job's log, in order.
    ///
    /// # Errors
    ///
    /// [`StoreError`] on database errors or corrupt rows.
    pub fn events(&self, job_id: U256) -> Result<Vec<LogEvent>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT event FROM job_events WHERE job_id = ?1 ORDER BY seq")?;
        let rows = stmt.query_map(params![job_id.to_string()], |row| row.get::<_, String>(0))?;
        rows.map(|r| {
            serde_json::from_str(&r?)
                .map_err(|e| StoreError::Corrupt { what: "job event", reason: e.to_string() })
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: u64) -> JobSpec {
        JobSpec {
            job_id: U256::from(id),
            kind: "tensor-f32".into(),
            input: b"{}".to_vec(),
            agents_wanted: 3,
            max_rounds: 3,
            credits: 100,
            deadline: 99,
            block: 7,
        }
    }

    /// The keeper and a reader opening a new file at the same moment both get a usable store.
    #[test]
    fn connections_opening_one_new_file_at_once_all_succeed() {
        for attempt in 0..200 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("keeper.sqlite");
            let start = std::sync::Barrier::new(4);
            std::thread::scope(|scope| {
                let opened: Vec<_> = (0..4)
                    .map(|_| {
                        scope.spawn(|| {
                            start.wait();
                            Store::open(&path)
                        })
                    })
                    .collect();
                for store in opened {
                    let store =
                        store.join().unwrap().unwrap_or_else(|e| panic!("attempt {attempt}: {e}"));
                    assert_eq!(store.cursor().unwrap(), None);
                }
            });
        }
    }

    #[test]
    fn state_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keeper.sqlite");
        {
            let store = Store::open(&path).unwrap();
            assert_eq!(store.cursor().unwrap(), None);
            store.set_cursor(12, Some(B256::repeat_byte(3))).unwrap();
            assert!(store.add_job(&spec(1)).unwrap());
            assert!(!store.add_job(&spec(1)).unwrap(), "a job seen twice is stored once");
            store.add_job(&spec(2)).unwrap();
            store
                .update_job(
                    U256::from(1),
                    JobState::Claimed,
                    Some(&[Address::repeat_byte(1)]),
                    None,
                )
                .unwrap();
            store.append_event(U256::from(1), &LogEvent::CloseProposals).unwrap();
            store.append_event(U256::from(1), &LogEvent::CloseRound).unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.cursor().unwrap(), Some((12, Some(B256::repeat_byte(3)))));
        assert_eq!(store.open_job_ids().unwrap(), vec![U256::from(1), U256::from(2)]);
        let job = store.job(U256::from(1)).unwrap().unwrap();
        assert_eq!((job.state, job.seats), (JobState::Claimed, vec![Address::repeat_byte(1)]));
        assert_eq!(
            store.events(U256::from(1)).unwrap(),
            vec![LogEvent::CloseProposals, LogEvent::CloseRound]
        );
        store
            .update_job(U256::from(1), JobState::Settled, None, Some(B256::repeat_byte(5)))
            .unwrap();
        assert_eq!(store.open_job_ids().unwrap(), vec![U256::from(2)]);
        let settled = store.job(U256::from(1)).unwrap().unwrap();
        assert!(!store.add_job(&settled.spec).unwrap(), "the same request again changes nothing");
        assert_eq!(
            (settled.state, settled.settle_tx),
            (JobState::Settled, Some(B256::repeat_byte(5)))
        );
        assert_eq!(settled.seats, vec![Address::repeat_byte(1)], "seats are kept when not given");
    }

    #[test]
    fn a_different_request_under_a_known_id_resets_the_job() {
        let store = Store::open(Path::new(":memory:")).unwrap();
        store.add_job(&spec(1)).unwrap();
        store
            .update_job(U256::from(1), JobState::Claimed, Some(&[Address::repeat_byte(1)]), None)
            .unwrap();
        store.append_event(U256::from(1), &LogEvent::CloseProposals).unwrap();
        let replaced = JobSpec { input: b"{\"other\":1}".to_vec(), block: 9, ..spec(1) };
        assert!(store.add_job(&replaced).unwrap());
        let job = store.job(U256::from(1)).unwrap().unwrap();
        assert_eq!((job.spec, job.state, job.seats), (replaced, JobState::Requested, vec![]));
        assert!(store.events(U256::from(1)).unwrap().is_empty());
    }
}
