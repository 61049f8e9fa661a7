//! The follower: scans every known contract's logs from the cursor up to `head − confirmations`
//! in bounded `eth_getLogs` windows, applies them through the handlers, and commits each window
//! (raw logs, entity versions, block hashes, cursor) in one database transaction.
//!
//! Reorgs: before each window the stored hash of the cursor block is compared with the chain's.
//! On a mismatch (or when the chain no longer has that block) the follower walks back through the
//! stored block hashes to the newest one the chain still agrees with (the fork point), rolls
//! everything above it back, and scans again from there.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
};
use nsed_contracts::tx::{TxContext, TxError};
use tokio::{sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{
    error::{IndexerError, IndexerResult, LogProblem},
    handlers::{ContractHandler, HandlerCtx, Outcome},
    store::{self, RawLog, Scouted, WindowWrites, Writer},
};

/// Block hashes kept below the cursor for finding fork points.
const KEEP_BLOCKS: u64 = 4096;
/// Most stored hashes compared with the chain while looking for a fork point.
const FORK_SEARCH: u32 = 512;
/// A window that does not follow a prefetched one is this many blocks at most (then each is
/// [`WINDOW_GROWTH`] times the one before, up to the configured size): its fetch is the only
/// one nothing overlaps.
const FIRST_WINDOW: u64 = 250;
/// How much longer each prefetched window is than the one being written beside it: its fetch
/// should take no longer than that write.
const WINDOW_GROWTH: u64 = 4;

/// The last indexed block (number and hash), `None` before the first window.
pub(crate) type Head = Option<(u64, B256)>;

/// Settings of a follower.
#[derive(Debug, Clone)]
pub(crate) struct FollowConfig {
    pub(crate) start_block: u64,
    pub(crate) confirmations: u64,
    pub(crate) log_window: u64,
    pub(crate) poll_interval: Duration,
}

/// Follows the chain into the store.
#[derive(Debug)]
pub(crate) struct Follower {
    pub(crate) provider: DynProvider,
    pub(crate) store: Writer,
    pub(crate) contracts: BTreeMap<Address, &'static ContractHandler>,
    pub(crate) config: FollowConfig,
    pub(crate) head: watch::Sender<Head>,
    /// The next window's logs, being fetched.
    pub(crate) prefetch: Option<Prefetch>,
}

impl Follower {
    /// Runs until `shutdown`. RPC failures are logged and retried after the poll interval; a
    /// database failure stops the follower with an error.
    pub(crate) async fn run(mut self, shutdown: CancellationToken) -> IndexerResult<()> {
        info!(target: "indexer::follow", start = self.config.start_block, contracts = self.contracts.len(), "following");
        loop {
            let wait = match self.step().await {
                Ok(caught_up) => caught_up,
                Err(e) if e.is_chain() => {
                    warn!(target: "indexer::follow", error = %e, "rpc failed; retrying");
                    true
                }
                Err(other) => return Err(other),
            };
            if wait {
                tokio::select! {
                    biased;
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(self.config.poll_interval) => {}
                }
            } else if shutdown.is_cancelled() {
                break;
            }
        }
        info!(target: "indexer::follow", "stopped");
        Ok(())
    }

    /// One iteration: reorg check, then at most one window. Returns whether it is caught up.
    ///
    /// While catching up, the next window's logs are fetched while this one is written (see
    /// [`Prefetch`]).
    async fn step(&mut self) -> IndexerResult<bool> {
        let head = self.provider.get_block_number().await.during("eth_blockNumber")?;
        let safe = head.saturating_sub(self.config.confirmations);
        let cursor = self.store.cursor().await?;
        if let Some((number, hash)) = cursor {
            let on_chain = self.block_hash(number).await?;
            if on_chain != Some(hash) {
                self.drop_prefetch();
                self.handle_reorg(number).await?;
                return Ok(false);
            }
        }
        let next = cursor.map_or(self.config.start_block, |(n, _)| n + 1);
        if next > safe {
            return Ok(true);
        }
        // The prefetched window when it starts here; otherwise (starting to catch up, or after
        // a reorg) a short one, so that writing starts while the next, longer one is fetched
        // (see `next_size`) instead of after a whole window's fetch.
        let to = match &self.prefetch {
            Some(p) if p.from == next && p.to <= safe => p.to,
            _ => self.window_end(next, safe, FIRST_WINDOW),
        };
        let window = match self.prefetch.take() {
            Some(p) if (p.from, p.to) == (next, to) => {
                let window = p.task.await.map_err(|e| IndexerError::Task(e.to_string()))??;
                // Fetched before the check above: the block at `to` must still be the chain's,
                // which makes everything below it (the cursor included) the chain's too.
                match window {
                    Some(w) if self.block_hash(to).await? == Some(w.to_hash) => Some(w),
                    _ => None,
                }
            }
            _ => {
                self.drop_prefetch();
                fetch_window(&self.provider, self.addresses(), next, to).await?
            }
        };
        let Some(window) = window else {
            debug!(target: "indexer::follow", to, "head moved during the window; retrying");
            return Ok(to >= safe);
        };
        if to < safe {
            let grown = (to - next + 1).saturating_mul(WINDOW_GROWTH);
            let (from, next_to) = (to + 1, self.window_end(to + 1, safe, grown));
            let (provider, addresses) = (self.provider.clone(), self.addresses());
            let (contracts, scouts) = (self.contracts.clone(), self.store.scouts());
            self.prefetch = Some(Prefetch {
                from,
                to: next_to,
                task: tokio::spawn(async move {
                    let Some(mut window) =
                        fetch_window(&provider, addresses, from, next_to).await?
                    else {
                        return Ok(None);
                    };
                    // The scouting pass reads nothing, so it runs here, beside the current
                    // window's commit, instead of in front of this window's.
                    if scouts {
                        window.scouted = Some(store::scout(window.applier(contracts)).await?);
                    }
                    Ok(Some(window))
                }),
            });
        }
        self.ingest(window).await?;
        Ok(to >= safe)
    }

    /// The last block of a window starting at `from`, at most `size` blocks long (and at most
    /// the configured window).
    fn window_end(&self, from: u64, safe: u64, size: u64) -> u64 {
        let size = size.clamp(1, self.config.log_window.max(1));
        from.saturating_add(size - 1).min(safe)
    }

    fn addresses(&self) -> Vec<Address> {
        self.contracts.keys().copied().collect()
    }

    fn drop_prefetch(&mut self) {
        if let Some(p) = self.prefetch.take() {
            p.task.abort();
        }
    }

    /// The chain's hash of block `number`, `None` if it has no such block (yet, or any more).
    async fn block_hash(&self, number: u64) -> IndexerResult<Option<B256>> {
        block_hash_of(&self.provider, number).await
    }

    async fn handle_reorg(&mut self, cursor: u64) -> IndexerResult<()> {
        let mut fork = None;
        for (number, hash) in self.store.recent_blocks(cursor, FORK_SEARCH).await? {
            if self.block_hash(number).await? == Some(hash) {
                fork = Some((number, hash));
                break;
            }
        }
        warn!(target: "indexer::follow", cursor, fork = ?fork.map(|(n, _)| n), "reorg detected; rolling back above the fork");
        self.store.rollback(fork).await?;
        self.head.send_replace(fork);
        Ok(())
    }

    /// Applies a fetched window's logs, then moves the cursor to its last block.
    async fn ingest(&mut self, mut window: Window) -> IndexerResult<()> {
        let (from, to, to_hash) = (window.from, window.to, window.to_hash);
        let scouted = window.scouted.take();
        let applied = self.store.apply(scouted, window.applier(self.contracts.clone())).await?;
        if to.is_multiple_of(256) || to - from >= 256 {
            self.store.prune_blocks(to.saturating_sub(KEEP_BLOCKS)).await?;
        }
        debug!(target: "indexer::follow", from, to, applied, "indexed");
        self.head.send_replace(Some((to, to_hash)));
        Ok(())
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.drop_prefetch();
    }
}

/// The next window's fetch, running while the current one is written.
#[derive(Debug)]
pub(crate) struct Prefetch {
    from: u64,
    to: u64,
    task: JoinHandle<IndexerResult<Option<Window>>>,
}

/// The checked logs of blocks `from..=to`, and the hash and time of block `to` they were read
/// under.
#[derive(Debug)]
pub(crate) struct Window {
    from: u64,
    to: u64,
    to_hash: B256,
    to_time: u64,
    logs: Arc<Vec<Owned>>,
    /// The scouting pass's answer when it ran ahead (see [`store::scout`]).
    scouted: Option<Scouted>,
}

impl Window {
    /// The function that applies this window's logs in a store batch.
    fn applier(
        &self,
        contracts: BTreeMap<Address, &'static ContractHandler>,
    ) -> impl Fn(&WindowWrites<'_>) -> IndexerResult<usize> + Send + 'static {
        let (logs, end) = (Arc::clone(&self.logs), (self.to, self.to_hash, self.to_time));
        move |writes| apply_window(writes, &contracts, &logs, end)
    }
}

/// The chain's hash of block `number`, `None` if it has no such block (yet, or any more).
async fn block_hash_of(provider: &DynProvider, number: u64) -> IndexerResult<Option<B256>> {
    Ok(block_of(provider, number).await?.map(|(hash, _)| hash))
}

/// The chain's hash and timestamp of block `number`, `None` if it has no such block.
async fn block_of(provider: &DynProvider, number: u64) -> IndexerResult<Option<(B256, u64)>> {
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Number(number))
        .await
        .during(format!("eth_getBlockByNumber {number}"))?;
    Ok(block.map(|b| (b.header.hash, b.header.timestamp)))
}

/// Fetches and checks the logs of `addresses` in blocks `from..=to`; `None` when block `to`
/// changed meanwhile (a reorg; the caller retries).
async fn fetch_window(
    provider: &DynProvider,
    addresses: Vec<Address>,
    from: u64,
    to: u64,
) -> IndexerResult<Option<Window>> {
    let Some((to_hash, to_time)) = block_of(provider, to).await? else {
        return Err(TxError::Missing {
            operation: format!("eth_getBlockByNumber {to}"),
            missing: "a block below its head",
        }
        .into());
    };
    let filter = Filter::new().address(addresses).from_block(from).to_block(to);
    let mut logs = provider.get_logs(&filter).await.during(format!("eth_getLogs {from}..={to}"))?;
    // A reorg between the two reads would mix forks.
    if block_hash_of(provider, to).await? != Some(to_hash) {
        return Ok(None);
    }
    let logs: Vec<Owned> = check_logs(&mut logs, from, to)?
        .into_iter()
        .map(|(block, index, block_hash, tx_hash, log)| {
            (block, index, block_hash, tx_hash, log.clone())
        })
        .collect();
    Ok(Some(Window { from, to, to_hash, to_time, logs: Arc::new(logs), scouted: None }))
}

/// A log with its required metadata checked.
type Checked<'a> = (u64, u64, B256, B256, &'a Log);

/// A checked log, owned (a batch may run on another thread).
type Owned = (u64, u64, B256, B256, Log);

/// Applies one window's checked logs through the handlers and records its blocks (number, hash
/// and, where the node tells it, time) and cursor, in the batch's transaction; returns how many
/// logs updated entities.
fn apply_window(
    writes: &WindowWrites<'_>,
    contracts: &BTreeMap<Address, &'static ContractHandler>,
    checked: &[Owned],
    (to, to_hash, to_time): (u64, B256, u64),
) -> IndexerResult<usize> {
    let mut applied = 0usize;
    let mut last_block = None;
    let quiet = writes.scouting();
    for (block, log_index, block_hash, tx_hash, log) in checked {
        let (block, log_index, block_hash, tx_hash) = (*block, *log_index, *block_hash, *tx_hash);
        let address = log.address();
        let Some(handler) = contracts.get(&address) else {
            continue;
        };
        store::write_log(
            writes,
            &RawLog {
                block_number: block,
                log_index,
                block_hash,
                tx_hash,
                address,
                contract: handler.contract,
                topics: log.topics(),
                data: &log.data().data,
            },
        )?;
        // Logs come in chain order: one row per block, not per log.
        if last_block != Some(block) {
            store::write_block(writes, block, block_hash, log.block_timestamp)?;
            last_block = Some(block);
        }
        let mut ctx = HandlerCtx { writes, block, tx_hash, log_index };
        match (handler.handle)(&mut ctx, log)? {
            Outcome::Applied => applied += 1,
            Outcome::Ignored | Outcome::Malformed(_) if quiet => {}
            Outcome::Ignored => {
                debug!(target: "indexer::follow", contract = handler.contract, block, log_index, "event without entities");
            }
            Outcome::Malformed(reason) => {
                warn!(target: "indexer::follow", contract = handler.contract, block, log_index, %reason, "log does not decode; kept raw only");
            }
        }
    }
    store::write_block(writes, to, to_hash, Some(to_time))?;
    store::write_cursor(writes, to, to_hash)?;
    Ok(applied)
}

/// Checks every log has the metadata an indexer needs, lies in the window and agrees with the
/// other logs of its block on the block hash; sorts them into chain order. A node answering
/// otherwise is treated as an RPC failure (retried), so nothing half-valid reaches the database.
fn check_logs(logs: &mut [Log], from: u64, to: u64) -> IndexerResult<Vec<Checked<'_>>> {
    let bad = |problem| IndexerError::UnusableLogs { from, to, problem };
    let mut out = Vec::with_capacity(logs.len());
    let mut hashes: BTreeMap<u64, B256> = BTreeMap::new();
    for log in logs.iter() {
        if log.removed {
            continue;
        }
        let (Some(block), Some(block_hash), Some(index), Some(tx_hash)) =
            (log.block_number, log.block_hash, log.log_index, log.transaction_hash)
        else {
            return Err(bad(LogProblem::MissingMetadata));
        };
        if !(from..=to).contains(&block) {
            return Err(bad(LogProblem::OutsideWindow(block)));
        }
        if *hashes.entry(block).or_insert(block_hash) != block_hash {
            return Err(bad(LogProblem::HashMismatch(block)));
        }
        out.push((block, index, block_hash, tx_hash, log));
    }
    out.sort_by_key(|(block, index, ..)| (*block, *index));
    if out.windows(2).any(|w| (w[0].0, w[0].1) == (w[1].0, w[1].1)) {
        return Err(bad(LogProblem::DuplicateIndex));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{LogData, b256};

    use super::*;

    fn log(block: Option<u64>, index: u64, hash: B256) -> Log {
        Log {
            inner: alloy::primitives::Log {
                address: Address::ZERO,
                data: LogData::new_unchecked(vec![], Default::default()),
            },
            block_hash: Some(hash),
            block_number: block,
            block_timestamp: None,
            transaction_hash: Some(B256::ZERO),
            transaction_index: Some(0),
            log_index: Some(index),
            removed: false,
        }
    }

    #[test]
    fn logs_are_sorted_into_chain_order() {
        let h = b256!("0x1111111111111111111111111111111111111111111111111111111111111111");
        let mut logs = vec![log(Some(5), 1, h), log(Some(4), 3, h), log(Some(5), 0, h)];
        let order: Vec<(u64, u64)> =
            check_logs(&mut logs, 1, 9).unwrap().iter().map(|c| (c.0, c.1)).collect();
        assert_eq!(order, [(4, 3), (5, 0), (5, 1)]);
    }

    #[test]
    fn malformed_answers_are_chain_errors_retried_by_the_follower() {
        let h = b256!("0x1111111111111111111111111111111111111111111111111111111111111111");
        let g = b256!("0x2222222222222222222222222222222222222222222222222222222222222222");
        for (mut logs, expected) in [
            (vec![log(None, 0, h)], LogProblem::MissingMetadata),
            (vec![log(Some(10), 0, h)], LogProblem::OutsideWindow(10)),
            (vec![log(Some(3), 0, h), log(Some(3), 1, g)], LogProblem::HashMismatch(3)),
            (vec![log(Some(3), 0, h), log(Some(3), 0, h)], LogProblem::DuplicateIndex),
        ] {
            let err = check_logs(&mut logs, 1, 9).unwrap_err();
            assert!(err.is_chain(), "{err}");
            assert!(
                matches!(err, IndexerError::UnusableLogs { from: 1, to: 9, problem } if problem == expected),
                "{err}"
            );
        }
    }
}
