//! The subgraph-like GraphQL schema, generated from the entity table with
//! `async_graphql::dynamic`, following graph-node's query language.
//!
//! For every entity `Job`: `job(id, block)` and `jobs(where, orderBy, orderDirection, first, skip,
//! block)`. Reference fields resolve to the entity, derived fields (`Job.rounds`) are nested
//! collections with the same arguments (without `block`).
//!
//! `where` (module `filter`) takes, per field, `field`, `_not`, `_gt`, `_gte`, `_lt`, `_lte`,
//! `_in`, `_not_in`; for strings and bytes `_contains`/`_not_contains`; for strings also
//! `_contains_nocase`, `_starts_with`, `_ends_with`, their `_not_` and `_nocase` forms (user
//! input never acts as a wildcard). `and: [..]` and `or: [..]` combine nested `where` objects
//! (`or` beside column filters is refused, as graph-node does); `<field>_: { .. }` filters on the
//! entity a reference or derived field reaches (as of the same block);
//! `_change_block: { number_gte: N }` keeps entities changed at or after block N. Nesting depth,
//! list sizes and condition counts are bounded (5 levels, 100 objects per `and`/`or`, 500
//! conditions).
//!
//! Every query answers as of one block: `block: { number }`, `block: { hash }` (a block the
//! indexer stored the hash of), `block: { number_gte }` (the head, if it has reached that
//! block), or the indexed head when the request started, so nested fields see the same block.
//! `_meta { block { number hash timestamp parentHash } deployment hasIndexingErrors }` tells
//! which, with the block's time where the indexer stored it.
//!
//! Nested fields are loaded a level at a time (module `batch`): once a collection's rows are
//! read, every reference and derived field selected below it is read with one `IN (..)` query
//! for all the parents (per 1000 parents), recursively, so a page of jobs with their rounds and
//! settlements costs one query per level instead of one per job. Nested collections keep their
//! own `where`, `orderBy`, `first` and `skip` per parent through `ROW_NUMBER() OVER (PARTITION
//! BY parent ..)`. A request that sends the extension `{"queryStats": true}` gets
//! `extensions.queryStats.dbQueries`: the database reads it cost.
//!
//! Filters become SQL with bound parameters; names in SQL come only from the static entity
//! table. BigInt values are compared in their order-preserving encoding (see [`crate::entity`]), so
//! comparisons are numeric.
//!
//! The SQL is common to SQLite and PostgreSQL (`?` placeholders, `IS DISTINCT FROM`, window
//! functions, explicit `NULLS FIRST`/`NULLS LAST` so both order NULLs alike); what they spell
//! differently (substring search, case-sensitive patterns) comes from the backend's [`Dialect`].
//!
//! With SQLite, resolvers run their reads inline: each is an indexed lookup bounded by
//! `first ≤ 1000` and the request's entity budget, well under a millisecond on the benchmark
//! chain, so handing them to a blocking pool would cost more than it saves; a progress handler
//! interrupts any statement still running at the request's deadline. With PostgreSQL they await
//! a pooled connection, under the request's deadline and the server's `statement_timeout`.
//!
//! Deep pages: `skip` stays capped at [`MAX_SKIP`]; page with `where: { id_gt: $lastId },
//! orderBy: id, first: N` instead (every entity table has an index on `(id, block_from)`).

mod batch;
pub(crate) mod filter;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use async_graphql::{
    Request, Response, ServerResult, Value,
    dynamic::{
        Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext,
        Scalar, Schema, TypeRef,
    },
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextRequest},
};
use rusqlite::types::Value as Sql;
use tracing::debug;

use self::{
    batch::{Args, Nested, Row},
    filter::{Key, Keys, Link, Target, ops_for},
};
use crate::{
    entity::{EntityDef, Kind, dec_id, dec_int, dec_uint, enc_id, parse_bytes},
    store::{Dialect, ReadError, ReadPool, col, from_sql_u64, to_sql_u64},
};

/// Default and largest `first`.
pub const DEFAULT_FIRST: u64 = 100;
/// Largest `first`, as in graph-node.
pub const MAX_FIRST: u64 = 1000;
/// Largest `skip`, as in graph-node.
pub const MAX_SKIP: u64 = 5000;

/// The request extension that asks for [`Reads`] in the response's extensions.
const STATS_EXTENSION: &str = "queryStats";

/// Limits that keep hostile queries cheap.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    /// Deepest selection nesting.
    pub max_depth: usize,
    /// Most fields (async-graphql complexity) per query.
    pub max_complexity: usize,
    /// Most entities one query may return, over all nested collections.
    pub max_entities: usize,
    /// Longest a query may run.
    pub timeout: Duration,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_complexity: 2000,
            max_entities: 20_000,
            timeout: Duration::from_secs(10),
            max_body_bytes: 64 * 1024,
        }
    }
}

/// What resolvers share for the schema's lifetime.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) pool: ReadPool,
    pub(crate) start_block: u64,
    pub(crate) network: String,
    entities: HashMap<&'static str, &'static EntityDef>,
    keys: Keys,
}

/// Per-request budget: a deadline and an entity counter.
#[derive(Debug)]
pub(crate) struct Budget {
    pub(crate) deadline: Instant,
    pub(crate) timeout: Duration,
    pub(crate) max_entities: usize,
    pub(crate) entities: AtomicUsize,
    /// The indexed head, read once per request so every top-level field answers as of the same
    /// block.
    pub(crate) head: std::sync::OnceLock<Option<u64>>,
}

/// The database reads of one request (every read the API makes goes through [`read`]).
#[derive(Debug, Default)]
pub(crate) struct Reads(AtomicUsize);

type GqlResult<T> = async_graphql::Result<T>;

fn gql_err(msg: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(msg.into())
}

/// The GraphQL type of a scalar kind.
fn scalar_type(kind: Kind) -> &'static str {
    match kind {
        Kind::String | Kind::Ref(_) => TypeRef::STRING,
        Kind::Int => TypeRef::INT,
        Kind::BigInt | Kind::SignedBigInt | Kind::BigIntList => "BigInt",
        Kind::Bytes | Kind::BytesList => "Bytes",
        Kind::Boolean => TypeRef::BOOLEAN,
    }
}

/// The block `_meta` describes.
#[derive(Debug, Clone)]
struct MetaBlock {
    number: u64,
    hash: Option<String>,
    parent_hash: Option<String>,
    timestamp: Option<i64>,
}

fn meta_field(name: &str, ty: TypeRef, get: fn(&MetaBlock) -> Option<Value>) -> Field {
    Field::new(name, ty, move |ctx| {
        FieldFuture::new(async move {
            let block = ctx.parent_value.try_downcast_ref::<MetaBlock>()?;
            Ok(get(block).map(FieldValue::value))
        })
    })
}

/// Builds the schema for `entities`.
pub(crate) fn build_schema(
    entities: &[&'static EntityDef],
    pool: ReadPool,
    start_block: u64,
    network: String,
    limits: &QueryLimits,
) -> Result<Schema, String> {
    let names: std::collections::HashSet<&str> = entities.iter().map(|d| d.name).collect();
    let mut keys: Keys = HashMap::new();
    let mut builder = Schema::build("Query", None, None);
    builder = builder
        .register(
            Scalar::new("BigInt")
                .description("A uint256 or int256 as a decimal string.")
                .validator(|v| matches!(v, Value::String(_) | Value::Number(_))),
        )
        .register(
            Scalar::new("Bytes")
                .description("Bytes or an address as lowercase 0x hex.")
                .validator(|v| matches!(v, Value::String(_))),
        )
        .register(Enum::new("OrderDirection").item("asc").item("desc"))
        .register(
            InputObject::new("Block_height")
                .description(
                    "Answer as of this block: by `hash` (a block the indexer stored), by \
                     `number`, or at the head once it has reached `number_gte`.",
                )
                .field(InputValue::new("hash", TypeRef::named("Bytes")))
                .field(InputValue::new("number", TypeRef::named(TypeRef::INT)))
                .field(InputValue::new("number_gte", TypeRef::named(TypeRef::INT))),
        )
        .register(
            InputObject::new("BlockChangedFilter")
                .description("Entities changed at or after block `number_gte`.")
                .field(InputValue::new("number_gte", TypeRef::named_nn(TypeRef::INT))),
        )
        .register(
            Object::new("_Block_")
                .field(meta_field("number", TypeRef::named_nn(TypeRef::INT), |b| {
                    Some(Value::from(b.number))
                }))
                .field(meta_field("hash", TypeRef::named("Bytes"), |b| {
                    b.hash.clone().map(Value::from)
                }))
                .field(meta_field("parentHash", TypeRef::named("Bytes"), |b| {
                    b.parent_hash.clone().map(Value::from)
                }))
                .field(
                    meta_field("timestamp", TypeRef::named(TypeRef::INT), |b| {
                        b.timestamp.map(Value::from)
                    })
                    .description(
                        "The block's time in seconds since the epoch; null for a block the \
                         indexer stored without it (a node that omits log times).",
                    ),
                ),
        )
        .register(
            Object::new("_Meta_")
                .field(Field::new("block", TypeRef::named_nn("_Block_"), |ctx| {
                    FieldFuture::new(async move {
                        let b = ctx.parent_value.try_downcast_ref::<MetaBlock>()?;
                        Ok(Some(FieldValue::owned_any(b.clone())))
                    })
                }))
                .field(Field::new("deployment", TypeRef::named_nn(TypeRef::STRING), |ctx| {
                    FieldFuture::new(async move {
                        Ok(Some(Value::from(ctx.data::<Arc<Shared>>()?.network.clone())))
                    })
                }))
                .field(Field::new(
                    "hasIndexingErrors",
                    TypeRef::named_nn(TypeRef::BOOLEAN),
                    |_| FieldFuture::new(async move { Ok(Some(Value::from(false))) }),
                )),
        );

    let mut query = Object::new("Query").field(
        Field::new("_meta", TypeRef::named("_Meta_"), |ctx| {
            FieldFuture::new(async move {
                let shared = ctx.data::<Arc<Shared>>()?.clone();
                let number = resolve_block(&ctx, &shared).await?;
                let rows = read(
                    &ctx,
                    "SELECT number, hash, timestamp FROM blocks WHERE number IN (?, ?)",
                    vec![
                        Sql::Integer(to_sql_u64(number)),
                        Sql::Integer(to_sql_u64(number.saturating_sub(1))),
                    ],
                )
                .await?;
                let row_of = |n: u64| {
                    rows.iter().find(
                        |r| matches!(r.first(), Some(Sql::Integer(m)) if from_sql_u64(*m) == n),
                    )
                };
                let hash_of = |n: u64| match row_of(n)?.get(1) {
                    Some(Sql::Text(h)) => Some(h.clone()),
                    _ => None,
                };
                let block = MetaBlock {
                    number,
                    hash: hash_of(number),
                    parent_hash: number.checked_sub(1).and_then(hash_of),
                    timestamp: match row_of(number).and_then(|r| r.get(2)) {
                        Some(Sql::Integer(t)) => Some(*t),
                        _ => None,
                    },
                };
                Ok(Some(FieldValue::owned_any(block)))
            })
        })
        .argument(InputValue::new("block", TypeRef::named("Block_height"))),
    );

    for def in entities {
        let mut object = Object::new(def.name).description(def.doc).field(Field::new(
            "id",
            TypeRef::named_nn(TypeRef::ID),
            |ctx| {
                FieldFuture::new(async move {
                    let row = ctx.parent_value.try_downcast_ref::<Row>()?;
                    Ok(Some(Value::from(dec_id(row.def.id, &row.id))))
                })
            },
        ));
        let filter_name = format!("{}_filter", def.name);
        let mut filter = InputObject::new(filter_name.clone());
        let mut key_map = HashMap::new();
        let mut order = Enum::new(format!("{}_orderBy", def.name)).item("id");
        for (suffix, op) in ops_for(None) {
            let ty = if matches!(op, filter::Op::In | filter::Op::NotIn) {
                TypeRef::named_nn_list(TypeRef::ID)
            } else {
                TypeRef::named(TypeRef::ID)
            };
            filter = filter.field(InputValue::new(format!("id{suffix}"), ty));
            key_map.insert(format!("id{suffix}"), Key::Leaf(Target::Id, *op));
        }
        for (index, field) in def.fields.iter().enumerate() {
            object =
                object.field(object_field(index, field.kind, field.name).description(field.doc));
            if !field.kind.is_scalar() {
                continue;
            }
            order = order.item(field.name);
            for (suffix, op) in ops_for(Some(field.kind)) {
                let base = scalar_type(field.kind);
                let ty = if matches!(op, filter::Op::In | filter::Op::NotIn) {
                    TypeRef::named_nn_list(base)
                } else {
                    TypeRef::named(base)
                };
                let name = format!("{}{suffix}", field.name);
                filter = filter.field(InputValue::new(name.clone(), ty));
                key_map.insert(name, Key::Leaf(Target::Field(index), *op));
            }
            if let Kind::Ref(target) = field.kind
                && names.contains(target)
            {
                let name = format!("{}_", field.name);
                filter = filter.field(InputValue::new(
                    name.clone(),
                    TypeRef::named(format!("{target}_filter")),
                ));
                key_map.insert(name, Key::Nested(target, Link::Ref(index)));
            }
        }
        for d in def.derived {
            let ty =
                if d.many { TypeRef::named_nn_list_nn(d.entity) } else { TypeRef::named(d.entity) };
            let (target, via, many) = (d.entity, d.via, d.many);
            let mut field = Field::new(d.name, ty, move |ctx| {
                FieldFuture::new(async move { resolve_derived(ctx, target, via, many).await })
            });
            if d.many {
                field = collection_args(field, d.entity);
            }
            object = object.field(field);
            if names.contains(d.entity) {
                let name = format!("{}_", d.name);
                filter = filter.field(InputValue::new(
                    name.clone(),
                    TypeRef::named(format!("{}_filter", d.entity)),
                ));
                key_map.insert(name, Key::Nested(d.entity, Link::Derived(d.via)));
            }
        }
        filter = filter
            .field(InputValue::new("and", TypeRef::named_list(filter_name.clone())))
            .field(InputValue::new("or", TypeRef::named_list(filter_name.clone())))
            .field(InputValue::new("_change_block", TypeRef::named("BlockChangedFilter")));
        key_map.insert("and".into(), Key::And);
        key_map.insert("or".into(), Key::Or);
        key_map.insert("_change_block".into(), Key::ChangeBlock);
        builder = builder.register(object).register(filter).register(order);
        keys.insert(def.name, key_map);

        let name = def.name;
        query = query.field(
            Field::new(def.single, TypeRef::named(def.name), move |ctx| {
                FieldFuture::new(async move { resolve_single(ctx, name).await })
            })
            .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
            .argument(InputValue::new("block", TypeRef::named("Block_height"))),
        );
        query = query.field(
            collection_args(
                Field::new(def.plural, TypeRef::named_nn_list_nn(def.name), move |ctx| {
                    FieldFuture::new(async move { resolve_collection(ctx, name).await })
                }),
                def.name,
            )
            .argument(InputValue::new("block", TypeRef::named("Block_height"))),
        );
    }
    let shared = Shared {
        pool,
        start_block,
        network,
        entities: entities.iter().map(|d| (d.name, *d)).collect(),
        keys,
    };
    builder
        .register(query)
        .data(Arc::new(shared))
        .extension(QueryStats)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(64)
        .limit_directives(8)
        .finish()
        .map_err(|e| e.to_string())
}

/// Counts each request's database reads ([`Reads`]); logs them, and returns them in the
/// response's `extensions.queryStats` when the request's extensions ask for `queryStats`.
struct QueryStats;

impl ExtensionFactory for QueryStats {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryStatsExtension::default())
    }
}

#[derive(Default)]
struct QueryStatsExtension {
    reads: Arc<Reads>,
    wanted: AtomicBool,
}

#[async_graphql::async_trait::async_trait]
impl Extension for QueryStatsExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let wanted =
            matches!(request.extensions.0.get(STATS_EXTENSION), Some(Value::Boolean(true)));
        self.wanted.store(wanted, Ordering::Relaxed);
        next.run(ctx, request.data(self.reads.clone())).await
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let response = next.run(ctx).await;
        let reads = self.reads.0.load(Ordering::Relaxed);
        debug!(target: "indexer::graphql", db_queries = reads, "query reads");
        if self.wanted.load(Ordering::Relaxed) {
            let mut stats = async_graphql::indexmap::IndexMap::new();
            stats.insert(async_graphql::Name::new("dbQueries"), Value::from(reads));
            response.extension(STATS_EXTENSION, Value::Object(stats))
        } else {
            response
        }
    }
}

fn collection_args(field: Field, entity: &str) -> Field {
    field
        .argument(InputValue::new("where", TypeRef::named(format!("{entity}_filter"))))
        .argument(InputValue::new("orderBy", TypeRef::named(format!("{entity}_orderBy"))))
        .argument(InputValue::new("orderDirection", TypeRef::named("OrderDirection")))
        .argument(
            InputValue::new("first", TypeRef::named(TypeRef::INT))
                .default_value(Value::from(DEFAULT_FIRST)),
        )
        .argument(
            InputValue::new("skip", TypeRef::named(TypeRef::INT)).default_value(Value::from(0)),
        )
}

/// The value of a nested field the parent's level loaded ([`batch`]), if it did.
fn prefetched<'a>(ctx: &ResolverContext<'a>, row: &'a Row) -> Option<Option<FieldValue<'a>>> {
    let field = ctx.ctx.field();
    let key = field.alias().unwrap_or_else(|| field.name());
    let as_value = |r: &'a Arc<Row>| FieldValue::borrowed_any(r.as_ref());
    Some(match row.nested.get(key)? {
        Nested::One(child) => child.as_ref().map(as_value),
        Nested::Many(children) => Some(FieldValue::list(children.iter().map(as_value))),
    })
}

/// The resolver of stored field `index` of kind `kind`.
fn object_field(index: usize, kind: Kind, name: &str) -> Field {
    let ty = match kind {
        Kind::Ref(target) => TypeRef::named(target),
        Kind::BigIntList | Kind::BytesList => TypeRef::named_nn_list(scalar_type(kind)),
        other => TypeRef::named(scalar_type(other)),
    };
    Field::new(name, ty, move |ctx| {
        FieldFuture::new(async move {
            let parent = ctx.parent_value;
            let row = parent.try_downcast_ref::<Row>()?;
            let value = &row.values[index];
            if let Kind::Ref(target) = kind {
                if let Some(value) = prefetched(&ctx, row) {
                    return Ok(value);
                }
                let Sql::Text(id) = value else { return Ok(None) };
                let shared = ctx.data::<Arc<Shared>>()?.clone();
                let def = entity(&shared, target)?;
                let query = batch::Select::new(def, row.block)
                    .cond("id = ?", vec![Sql::Text(id.clone())])
                    .limit(1, 0);
                let rows = batch::load(&ctx, &ctx.ctx.field(), query).await?;
                return Ok(rows.into_iter().next().map(FieldValue::owned_any));
            }
            Ok(output(kind, value)?.map(FieldValue::value))
        })
    })
}

/// The GraphQL value of a stored value.
fn output(kind: Kind, value: &Sql) -> GqlResult<Option<Value>> {
    let corrupt = |what: &str| gql_err(format!("stored {what} is malformed"));
    Ok(match (kind, value) {
        (_, Sql::Null) => None,
        (Kind::Int, Sql::Integer(v)) => Some(Value::from(*v)),
        (Kind::Boolean, Sql::Integer(v)) => Some(Value::from(*v != 0)),
        (Kind::BigInt, Sql::Text(s)) => {
            Some(Value::from(dec_uint(s).ok_or_else(|| corrupt("BigInt"))?.to_string()))
        }
        (Kind::SignedBigInt, Sql::Text(s)) => {
            Some(Value::from(dec_int(s).ok_or_else(|| corrupt("BigInt"))?.to_string()))
        }
        (Kind::BigIntList | Kind::BytesList, Sql::Text(s)) => {
            let items: Vec<String> = serde_json::from_str(s).map_err(|_| corrupt("list"))?;
            Some(Value::List(items.into_iter().map(Value::from).collect()))
        }
        (Kind::String | Kind::Bytes, Sql::Text(s)) => Some(Value::from(s.clone())),
        _ => return Err(corrupt("value")),
    })
}

fn entity(shared: &Shared, name: &str) -> GqlResult<&'static EntityDef> {
    shared.entities.get(name).copied().ok_or_else(|| gql_err(format!("unknown entity {name}")))
}

/// Runs one read for the request: counted in its [`Reads`], under its deadline.
async fn read(ctx: &ResolverContext<'_>, sql: &str, params: Vec<Sql>) -> GqlResult<Vec<Vec<Sql>>> {
    let shared = ctx.data::<Arc<Shared>>()?;
    let budget = ctx.data::<Arc<Budget>>()?;
    let timed_out = || gql_err(format!("query timed out after {} ms", budget.timeout.as_millis()));
    if Instant::now() > budget.deadline {
        return Err(timed_out());
    }
    if let Ok(reads) = ctx.data::<Arc<Reads>>() {
        reads.0.fetch_add(1, Ordering::Relaxed);
    }
    shared.pool.select(sql, params, budget.deadline).await.map_err(|e| match e {
        ReadError::Timeout => timed_out(),
        ReadError::Db(e) => gql_err(format!("database: {e}")),
    })
}

/// The indexed head as of the request's start (read once per request).
async fn head(ctx: &ResolverContext<'_>, shared: &Shared) -> GqlResult<u64> {
    let budget = ctx.data::<Arc<Budget>>()?;
    match budget.head.get() {
        Some(head) => *head,
        None => {
            if let Ok(reads) = ctx.data::<Arc<Reads>>() {
                reads.0.fetch_add(1, Ordering::Relaxed);
            }
            let read =
                shared.pool.cursor().await.map_err(|e| gql_err(e.to_string()))?.map(|(n, _)| n);
            *budget.head.get_or_init(|| read)
        }
    }
    .ok_or_else(|| gql_err("nothing is indexed yet; retry once the indexer has caught up"))
}

/// The block a top-level field answers as of: `block: { hash }`, `{ number }`, `{ number_gte }`
/// (in that precedence, as graph-node) or the indexed head.
async fn resolve_block(ctx: &ResolverContext<'_>, shared: &Shared) -> GqlResult<u64> {
    let head = head(ctx, shared).await?;
    let Some(block) = ctx.args.get("block").filter(|b| !b.is_null()) else { return Ok(head) };
    let block = block.object()?;
    let get = |name: &str| block.get(name).filter(|v| !v.is_null());
    if let Some(hash) = get("hash") {
        let raw = hash.string()?;
        let bad = |why: &str| gql_err(format!("Failed to decode `block.hash` value: `{why}`"));
        let hash = parse_bytes(raw)
            .filter(|h| h.len() == 66)
            .ok_or_else(|| bad(&format!("{raw} is not a 32-byte 0x hex block hash")))?;
        let rows =
            read(ctx, "SELECT number FROM blocks WHERE hash = ?", vec![Sql::Text(hash)]).await?;
        return match rows.first().and_then(|r| r.first()) {
            Some(Sql::Integer(n)) if from_sql_u64(*n) <= head => Ok(from_sql_u64(*n)),
            _ => Err(bad("no block with that hash found")),
        };
    }
    if let Some(number) = get("number") {
        let number = number.i64()?;
        let number = u64::try_from(number)
            .map_err(|_| gql_err(format!("block number {number} is negative")))?;
        if number > head {
            return Err(gql_err(format!(
                "block {number} is not indexed yet: the indexed head is block {head}"
            )));
        }
        if number < shared.start_block {
            return Err(gql_err(format!(
                "block {number} is before the deployment's start block {}",
                shared.start_block
            )));
        }
        return Ok(number);
    }
    if let Some(min) = get("number_gte") {
        let min = min.i64()?;
        if u64::try_from(min).is_ok_and(|min| min > head) {
            return Err(gql_err(format!(
                "Failed to decode `block.number_gte` value: `subgraph {} has only indexed up to \
                 block number {head} and data for block number {min} is therefore not yet \
                 available`",
                shared.network
            )));
        }
    }
    Ok(head)
}

async fn resolve_single<'a>(
    ctx: ResolverContext<'a>,
    name: &str,
) -> GqlResult<Option<FieldValue<'a>>> {
    let shared = ctx.data::<Arc<Shared>>()?.clone();
    let def = entity(&shared, name)?;
    let block = resolve_block(&ctx, &shared).await?;
    let raw = ctx.args.try_get("id")?.string()?;
    let Some(id) = enc_id(def.id, raw) else { return Ok(None) };
    let query = batch::Select::new(def, block).cond("id = ?", vec![Sql::Text(id)]).limit(1, 0);
    let rows = batch::load(&ctx, &ctx.ctx.field(), query).await?;
    Ok(rows.into_iter().next().map(FieldValue::owned_any))
}

async fn resolve_collection<'a>(
    ctx: ResolverContext<'a>,
    name: &str,
) -> GqlResult<Option<FieldValue<'a>>> {
    let shared = ctx.data::<Arc<Shared>>()?.clone();
    let def = entity(&shared, name)?;
    let block = resolve_block(&ctx, &shared).await?;
    let args = Args::from_pairs(
        ["where", "orderBy", "orderDirection", "first", "skip"]
            .into_iter()
            .filter_map(|k| ctx.args.get(k).map(|v| (k.to_string(), v.as_value().clone()))),
    )?;
    let query = batch::Select::new(def, block).collection(&shared, &args)?;
    let rows = batch::load(&ctx, &ctx.ctx.field(), query).await?;
    Ok(Some(FieldValue::list(rows.into_iter().map(FieldValue::owned_any))))
}

/// A derived field: what the parent's level loaded for it, else one read for this parent.
async fn resolve_derived<'a>(
    ctx: ResolverContext<'a>,
    target: &str,
    via: &'static str,
    many: bool,
) -> GqlResult<Option<FieldValue<'a>>> {
    let parent = ctx.parent_value;
    let row = parent.try_downcast_ref::<Row>()?;
    if let Some(value) = prefetched(&ctx, row) {
        return Ok(value);
    }
    let shared = ctx.data::<Arc<Shared>>()?.clone();
    let def = entity(&shared, target)?;
    let link = (format!("{} = ?", col(via)), vec![Sql::Text(row.id.clone())]);
    if many {
        let args = Args::from_pairs(
            ["where", "orderBy", "orderDirection", "first", "skip"]
                .into_iter()
                .filter_map(|k| ctx.args.get(k).map(|v| (k.to_string(), v.as_value().clone()))),
        )?;
        let query =
            batch::Select::new(def, row.block).cond(&link.0, link.1).collection(&shared, &args)?;
        let rows = batch::load(&ctx, &ctx.ctx.field(), query).await?;
        Ok(Some(FieldValue::list(rows.into_iter().map(FieldValue::owned_any))))
    } else {
        let query = batch::Select::new(def, row.block).cond(&link.0, link.1).limit(1, 0);
        let rows = batch::load(&ctx, &ctx.ctx.field(), query).await?;
        Ok(rows.into_iter().next().map(FieldValue::owned_any))
    }
}

/// The dialect of the request's database.
fn dialect(shared: &Shared) -> Dialect {
    shared.pool.dialect()
}
