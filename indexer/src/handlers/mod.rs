//! Event handlers, one module per contract, and the registry that maps a deployment record's
//! contract names to them.
//!
//! A handler decodes a log with its contract's `sol!`-generated `<Contract>Events` enum and routes
//! it by `match` to one small function per event (as graph-node routes by event signature). That
//! function turns the event into entity writes through [`HandlerCtx`]; it never touches SQLite
//! directly, so every write is versioned by block and rolled back on reorgs. To index a new
//! contract, add a module with its `ENTITIES` and a `HANDLER`, and list it in [`REGISTRY`].

use alloy::{primitives::B256, rpc::types::Log};
use rusqlite::Transaction;

use crate::{
    entity::{EntityDef, Record, enc_id},
    error::IndexerResult,
    store,
};

pub mod agent_registry;
pub mod authority_registry;
pub mod deliberation_market;
pub mod guild_governor;
pub mod liquid_access_token;
pub mod rank_token;
pub mod rankify_arena;
pub mod tripartite_escrow;

/// What a handler did with a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It updated entities.
    Applied,
    /// The event is not one this indexer derives entities from (kept as a raw log only).
    Ignored,
    /// The log carries a known event signature but does not decode; kept as a raw log only.
    Malformed(String),
}

/// One contract's handler.
#[derive(Debug)]
pub struct ContractHandler {
    /// The contract's name in deployment records.
    pub contract: &'static str,
    /// The entities it writes.
    pub entities: &'static [&'static EntityDef],
    /// Applies one log of this contract.
    pub handle: fn(&mut HandlerCtx<'_>, &Log) -> IndexerResult<Outcome>,
}

/// Every known contract handler.
pub const REGISTRY: &[&ContractHandler] = &[
    &rank_token::HANDLER,
    &agent_registry::HANDLER,
    &deliberation_market::HANDLER,
    &tripartite_escrow::HANDLER,
    &rankify_arena::HANDLER,
    &liquid_access_token::HANDLER,
    &authority_registry::HANDLER,
    &guild_governor::HANDLER,
];

/// The handler for a deployment record's contract `name`, if this indexer knows it.
pub fn handler_for(name: &str) -> Option<&'static ContractHandler> {
    REGISTRY.iter().copied().find(|h| h.contract == name)
}

/// Every entity of every handler, in registry order.
pub fn all_entities() -> Vec<&'static EntityDef> {
    REGISTRY.iter().flat_map(|h| h.entities.iter().copied()).collect()
}

/// What a handler may do while applying one log: read the current version of an entity and write
/// a new version at the log's block.
#[derive(Debug)]
pub struct HandlerCtx<'a> {
    pub(crate) tx: &'a Transaction<'a>,
    /// The log's block.
    pub block: u64,
    /// The log's transaction.
    pub tx_hash: B256,
    /// The log's position in its block.
    pub log_index: u64,
}

impl HandlerCtx<'_> {
    /// The current version of `def`'s entity with display id `id`.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn load(&self, def: &'static EntityDef, id: &str) -> IndexerResult<Option<Record>> {
        let stored = enc_id(def.id, id).unwrap_or_else(|| id.to_string());
        store::load_current(self.tx, def, &stored)
    }

    /// The current version, or a new empty record.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn load_or_new(&self, def: &'static EntityDef, id: &str) -> IndexerResult<Record> {
        Ok(self.load(def, id)?.unwrap_or_else(|| Record::new(def, id)))
    }

    /// Writes `record` as the version at this block.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn save(&self, record: &Record) -> IndexerResult<()> {
        store::save_version(self.tx, record, self.block)
    }
}

/// The log's block as an SQLite integer (block numbers fit i64 on every real chain; saturating
/// rather than wrapping if one does not).
pub(crate) fn block_i64(ctx: &HandlerCtx<'_>) -> i64 {
    i64::try_from(ctx.block).unwrap_or(i64::MAX)
}

/// The id of an entity that records one event: `<transaction hash>-<log index>`, as subgraphs
/// name theirs.
pub(crate) fn event_id(ctx: &HandlerCtx<'_>) -> String {
    format!("{}-{}", ctx.tx_hash, ctx.log_index)
}

/// Adds `delta` to (`add`) or takes it from the uint field `field` of `def`'s entity `id`,
/// creating the entity with `init` first, and stamps `updatedAtBlock`. Saturating: a balance could
/// only go negative if events were missed, which the cursor rules out; clamping keeps the row
/// meaningful instead of wrapping to 2^256 - x.
pub(crate) fn adjust_uint(
    ctx: &HandlerCtx<'_>,
    def: &'static EntityDef,
    id: &str,
    init: impl FnOnce(&mut Record),
    field: &str,
    delta: alloy::primitives::U256,
    add: bool,
) -> IndexerResult<()> {
    let mut row = ctx.load_or_new(def, id)?;
    if row.get(field) == &rusqlite::types::Value::Null {
        init(&mut row);
    }
    let current = row.uint(field);
    let next = if add { current.saturating_add(delta) } else { current.saturating_sub(delta) };
    row.set_uint(field, next).set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&row)
}

/// Decodes `log` with a contract's `sol!` events enum (`<Contract>Events`), routing by its
/// signature: a signature the contract does not declare is [`Outcome::Ignored`], a known one that
/// does not decode is [`Outcome::Malformed`].
pub(crate) fn decode<E: alloy::sol_types::SolEventInterface>(log: &Log) -> Result<E, Outcome> {
    E::decode_raw_log(log.topics(), &log.data().data).map_err(|e| match e {
        alloy::sol_types::Error::InvalidLog { .. } => Outcome::Ignored,
        e => Outcome::Malformed(format!("{} log: {e}", E::NAME)),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::entity::Kind;

    #[test]
    fn entity_table_is_consistent() {
        let entities = all_entities();
        let names: HashSet<&str> = entities.iter().map(|e| e.name).collect();
        assert_eq!(names.len(), entities.len(), "entity names are unique");
        for e in &entities {
            for field in e.fields {
                if let Kind::Ref(target) = field.kind {
                    assert!(names.contains(target), "{}.{} refers to {target}", e.name, field.name);
                }
            }
            for d in e.derived {
                let target = entities.iter().find(|t| t.name == d.entity).unwrap();
                let via = &target.fields[target.field_index(d.via).unwrap()];
                assert_eq!(via.kind, Kind::Ref(e.name), "{}.{} via {}", e.name, d.name, d.via);
                assert!(e.field_index(d.name).is_none(), "{}.{} clashes", e.name, d.name);
            }
        }
    }

    #[test]
    fn registry_names_are_the_deployment_record_names() {
        assert!(handler_for(nsed_deploy::RANK_TOKEN).is_some());
        assert!(handler_for(nsed_deploy::MARKET).is_some());
        assert!(handler_for(nsed_deploy::ESCROW).is_some());
        assert!(handler_for(nsed_deploy::AGENT_REGISTRY).is_some());
        assert!(handler_for("RankifyArena").is_some());
        assert!(handler_for(nsed_deploy::BOUNTY_TOKEN).is_none());
    }
}
