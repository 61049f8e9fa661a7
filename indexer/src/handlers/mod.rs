//! Event handlers, one module per contract, and the registry that maps a deployment record's
//! contract names to them.
//!
//! A handler decodes a log with its contract's `sol!`-generated `<Contract>Events` enum and routes
//! it by `match` to one small function per event (as graph-node routes by event signature). That
//! function turns the event into entity writes through [`HandlerCtx`]; it never touches SQLite
//! directly, so every write is versioned by block and rolled back on reorgs. To index a new
//! contract, add a module with its `ENTITIES` and a `HANDLER`, and list it in [`REGISTRY`].
//!
//! Every event in the ABI of every contract the suite deploys has a handler, except those in
//! [`IGNORED_EVENTS`], which carry nothing an indexer user needs; a unit test enumerates the
//! compiled ABIs and fails on an event that is neither.

use crate::{
    entity::{EntityDef, Record, enc_id},
    error::IndexerResult,
    store::{self, WindowWrites},
};
use alloy::{primitives::B256, rpc::types::Log};

pub mod agent_registry;
pub mod authority_registry;
pub mod bounty_token;
pub mod deliberation_market;
pub mod guild_governor;
pub mod guild_timelock;
pub mod guild_token;
pub mod lat_converter;
pub mod liquid_access_token;
pub mod rank_token;
pub mod rankify_arena;
pub mod shared;
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
    &guild_token::HANDLER,
    &guild_timelock::HANDLER,
    &lat_converter::HANDLER,
    &bounty_token::HANDLER,
];

/// Events of the deployed contracts that no handler derives entities from, each with the reason
/// (the log is still stored raw). Everything else in their ABIs is handled; the unit test
/// `every_event_of_the_deployed_contracts_is_handled` holds both lists to the compiled ABIs.
pub const IGNORED_EVENTS: &[(&str, &str)] = &[
    (
        "EIP712DomainChanged",
        "ERC-5267 says an EIP-712 domain changed; the suite's domains are fixed at construction, \
         so it is never emitted, and it carries no fields (the domain is read with eip712Domain())",
    ),
    (
        "URI",
        "ERC-1155 metadata URI of one id; the rank and access tokens use one URI template set at \
         construction and never emit it",
    ),
];

/// The handler for a deployment record's contract `name`, if this indexer knows it.
pub fn handler_for(name: &str) -> Option<&'static ContractHandler> {
    REGISTRY.iter().copied().find(|h| h.contract == name)
}

/// Every entity of every handler, in registry order, then the entities several contracts share
/// ([`shared::ENTITIES`]).
pub fn all_entities() -> Vec<&'static EntityDef> {
    REGISTRY
        .iter()
        .flat_map(|h| h.entities.iter().copied())
        .chain(shared::ENTITIES.iter().copied())
        .collect()
}

/// What a handler may do while applying one log: read the current version of an entity and write
/// a new version at the log's block.
#[derive(Debug)]
pub struct HandlerCtx<'a> {
    pub(crate) writes: &'a WindowWrites<'a>,
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
    /// Database errors.
    pub fn load(&self, def: &'static EntityDef, id: &str) -> IndexerResult<Option<Record>> {
        let stored = enc_id(def.id, id).unwrap_or_else(|| id.to_string());
        store::load_current(self.writes, def, &stored)
    }

    /// The current version, or a new empty record.
    ///
    /// # Errors
    ///
    /// Database errors.
    pub fn load_or_new(&self, def: &'static EntityDef, id: &str) -> IndexerResult<Record> {
        Ok(self.load(def, id)?.unwrap_or_else(|| Record::new(def, id)))
    }

    /// Writes `record` as the version at this block.
    ///
    /// # Errors
    ///
    /// Database errors.
    pub fn save(&self, record: &Record) -> IndexerResult<()> {
        store::save_version(self.writes, record, self.block)
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

/// What a handler's unit test needs: a scratch store and a context to apply logs in.
#[cfg(test)]
pub(crate) mod testing {
    use alloy::primitives::{Address, LogData};
    use rusqlite::Transaction;

    use super::*;
    use crate::store::Store;

    /// A fresh SQLite store with every entity table, in a directory that lives as long as the
    /// returned guard.
    pub(crate) fn scratch_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open(&dir.path().join("test.sqlite"), "chain 31337", all_entities()).unwrap();
        (dir, store)
    }

    /// A log carrying `data`.
    pub(crate) fn log(data: LogData) -> Log {
        Log { inner: alloy::primitives::Log { address: Address::ZERO, data }, ..Default::default() }
    }

    /// Runs `f` with a handler context writing into `tx` at `block`.
    pub(crate) fn at_block<T>(
        tx: &Transaction<'_>,
        block: u64,
        f: impl FnOnce(&mut HandlerCtx<'_>) -> T,
    ) -> T {
        let writes = WindowWrites::Sqlite(tx);
        f(&mut HandlerCtx { writes: &writes, block, tx_hash: B256::ZERO, log_index: 0 })
    }
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

    /// Every contract a deployment record names ([`nsed_deploy`]'s names).
    const DEPLOYED: &[&str] = &[
        nsed_deploy::RANK_TOKEN,
        nsed_deploy::BOUNTY_TOKEN,
        nsed_deploy::ESCROW,
        nsed_deploy::MARKET,
        nsed_deploy::ARENA,
        nsed_deploy::LAT,
        nsed_deploy::GUILD_TOKEN,
        nsed_deploy::TIMELOCK,
        nsed_deploy::GOVERNOR,
        nsed_deploy::CONVERTER,
        nsed_deploy::AUTHORITY,
        nsed_deploy::AGENT_REGISTRY,
    ];

    #[test]
    fn registry_names_are_the_deployment_record_names() {
        for name in DEPLOYED {
            assert!(handler_for(name).is_some(), "{name} has a handler");
        }
        assert_eq!(REGISTRY.len(), DEPLOYED.len(), "every handler is for a deployed contract");
        assert!(handler_for("NoSuchContract").is_none());
    }

    /// The zero value of `ty` (empty for dynamic types).
    fn zero(ty: &alloy::dyn_abi::DynSolType) -> alloy::dyn_abi::DynSolValue {
        use alloy::{
            dyn_abi::{DynSolType as T, DynSolValue as V},
            primitives::{Address, FixedBytes, I256, U256},
        };
        match ty {
            T::Bool => V::Bool(false),
            T::Int(bits) => V::Int(I256::ZERO, *bits),
            T::Uint(bits) => V::Uint(U256::ZERO, *bits),
            T::FixedBytes(size) => V::FixedBytes(FixedBytes::ZERO, *size),
            T::Address => V::Address(Address::ZERO),
            T::Function => V::Function(alloy::primitives::Function::ZERO),
            T::Bytes => V::Bytes(Vec::new()),
            T::String => V::String(String::new()),
            T::Array(_) => V::Array(Vec::new()),
            T::FixedArray(inner, n) => V::FixedArray(vec![zero(inner); *n]),
            T::Tuple(inner) | T::CustomStruct { tuple: inner, .. } => {
                V::Tuple(inner.iter().map(zero).collect())
            }
        }
    }

    /// A log of `event` with every field zero (or empty), emitted by `address`.
    fn zero_log(event: &alloy::json_abi::Event, address: alloy::primitives::Address) -> Log {
        use alloy::{
            dyn_abi::{DynSolValue, Specifier},
            primitives::{LogData, keccak256},
        };
        let resolved = event.resolve().expect("the ABI's event types resolve");
        let mut topics = vec![event.selector()];
        for ty in resolved.indexed() {
            let value = zero(ty);
            // Dynamic indexed values are stored as their hash.
            topics.push(value.as_word().unwrap_or_else(|| keccak256(value.abi_encode_packed())));
        }
        let body = DynSolValue::Tuple(resolved.body().iter().map(zero).collect());
        let data = LogData::new(topics, body.abi_encode_params().into()).expect("at most 4 topics");
        Log { inner: alloy::primitives::Log { address, data }, ..Default::default() }
    }

    /// Every event in the compiled ABI of every deployed contract reaches a handler that derives
    /// entities from it (`Applied`, or `Malformed` when an all-zero log makes no sense, e.g. a vote
    /// on a proposal never created), except the documented [`IGNORED_EVENTS`], which must be
    /// `Ignored`. A contract that gains an event fails here until it is handled or listed.
    #[test]
    fn every_event_of_the_deployed_contracts_is_handled() {
        let dir = tempfile::tempdir().unwrap();
        let mut store =
            store::Store::open(&dir.path().join("events.sqlite"), "chain 31337", all_entities())
                .unwrap();
        let tx = store.transaction().unwrap();
        let ignored: HashSet<&str> = IGNORED_EVENTS.iter().map(|(name, _)| *name).collect();
        let mut seen_ignored = HashSet::new();
        let mut handled = 0;
        let address = alloy::primitives::Address::repeat_byte(0xc0);
        for name in DEPLOYED {
            let handler = handler_for(name).unwrap_or_else(|| panic!("{name} has no handler"));
            let abi = nsed_contracts::artifact(name)
                .unwrap_or_else(|| panic!("{name} is compiled"))
                .abi()
                .unwrap();
            for event in abi.events() {
                let mut ctx = HandlerCtx {
                    writes: &WindowWrites::Sqlite(&tx),
                    block: 1,
                    tx_hash: B256::ZERO,
                    log_index: 0,
                };
                let outcome = (handler.handle)(&mut ctx, &zero_log(event, address)).unwrap();
                if ignored.contains(event.name.as_str()) {
                    assert_eq!(
                        outcome,
                        Outcome::Ignored,
                        "{name}.{} is listed as ignored",
                        event.name
                    );
                    seen_ignored.insert(event.name.clone());
                } else {
                    assert_ne!(
                        outcome,
                        Outcome::Ignored,
                        "{name}.{} has no handler; handle it or list it in IGNORED_EVENTS",
                        event.signature()
                    );
                    handled += 1;
                }
            }
        }
        let ignored: HashSet<String> = ignored.into_iter().map(String::from).collect();
        assert_eq!(seen_ignored, ignored, "every ignored event is one the contracts declare");
        assert!(handled >= 100, "the suite declares over a hundred handled events: {handled}");
    }

    #[test]
    fn a_log_that_does_not_decode_is_malformed_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let mut store =
            store::Store::open(&dir.path().join("bad.sqlite"), "chain 31337", all_entities())
                .unwrap();
        let tx = store.transaction().unwrap();
        for name in DEPLOYED {
            let handler = handler_for(name).unwrap();
            let abi = nsed_contracts::artifact(name).unwrap().abi().unwrap();
            for event in abi.events() {
                if event.inputs.iter().all(|i| i.indexed) {
                    continue;
                }
                let mut log = zero_log(event, alloy::primitives::Address::ZERO);
                // A body cut short of its head cannot decode.
                let topics = log.inner.data.topics().to_vec();
                log.inner.data = alloy::primitives::LogData::new_unchecked(topics, vec![1].into());
                let mut ctx = HandlerCtx {
                    writes: &WindowWrites::Sqlite(&tx),
                    block: 1,
                    tx_hash: B256::ZERO,
                    log_index: 0,
                };
                let outcome = (handler.handle)(&mut ctx, &log).unwrap();
                assert!(
                    matches!(outcome, Outcome::Malformed(_)),
                    "{name}.{}: {outcome:?}",
                    event.name
                );
            }
        }
    }
}
