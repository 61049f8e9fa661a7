//! The subgraph-like GraphQL schema, generated from the entity table with
//! `async_graphql::dynamic`.
//!
//! For every entity `Job`: `job(id, block)` and `jobs(where, orderBy, orderDirection, first, skip,
//! block)`; `where` takes `field`, `field_not`, `_gt`, `_gte`, `_lt`, `_lte`, `_in`, `_not_in`, and
//! `_contains`/`_not_contains` for strings and bytes. Reference fields resolve to the entity,
//! derived fields (`Job.rounds`) are nested collections with the same arguments. `_meta` tells the
//! indexed block. Every query answers as of one block: the `block: { number }` argument, or the
//! indexed head when the request started, so nested fields see the same block.
//!
//! Filters become SQL with bound parameters; names in SQL come only from the static entity table.
//! BigInt values are compared in their padded encoding (see [`crate::entity`]), so comparisons
//! are numeric.
//!
//! The SQL is common to SQLite and PostgreSQL (`?` placeholders, `IS DISTINCT FROM`, explicit
//! `NULLS FIRST`/`NULLS LAST` so both order NULLs alike); the one function they spell differently
//! comes from the backend's [`Dialect`].
//!
//! With SQLite, resolvers run their reads inline: each is an indexed lookup bounded by
//! `first ≤ 1000` and the request's entity budget, well under a millisecond on the benchmark
//! chain, so handing them to a blocking pool would cost more than it saves; a progress handler
//! interrupts any statement still running at the request's deadline. With PostgreSQL they await
//! a pooled connection, under the request's deadline and the server's `statement_timeout`.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use async_graphql::{
    Name, Value,
    dynamic::{
        Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext,
        Scalar, Schema, TypeRef, ValueAccessor,
    },
};
use rusqlite::types::Value as Sql;

use crate::{
    entity::{
        EntityDef, IdKind, Kind, dec_id, dec_int, dec_uint, enc_id, enc_int, enc_uint, parse_bytes,
        parse_int, parse_uint,
    },
    store::{Dialect, ReadError, ReadPool, col, to_sql_u64},
};

/// Default and largest `first`.
pub const DEFAULT_FIRST: u64 = 100;
/// Largest `first`, as in graph-node.
pub const MAX_FIRST: u64 = 1000;
/// Largest `skip`, as in graph-node.
pub const MAX_SKIP: u64 = 5000;

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
    filters: HashMap<&'static str, HashMap<String, (Target, Op)>>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Id,
    Field(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Not,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    NotIn,
    Contains,
    NotContains,
}

const OPS: [(&str, Op); 10] = [
    ("", Op::Eq),
    ("_not", Op::Not),
    ("_gt", Op::Gt),
    ("_gte", Op::Gte),
    ("_lt", Op::Lt),
    ("_lte", Op::Lte),
    ("_in", Op::In),
    ("_not_in", Op::NotIn),
    ("_contains", Op::Contains),
    ("_not_contains", Op::NotContains),
];

/// An entity version as resolved, with the block the query answers as of.
#[derive(Debug)]
struct Row {
    def: &'static EntityDef,
    id: String,
    values: Vec<Sql>,
    block: u64,
}

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

fn ops_for(kind: Option<Kind>) -> &'static [(&'static str, Op)] {
    match kind {
        Some(Kind::String | Kind::Bytes) => &OPS,
        Some(Kind::Boolean) => {
            &[("", Op::Eq), ("_not", Op::Not), ("_in", Op::In), ("_not_in", Op::NotIn)]
        }
        _ => &OPS[..8],
    }
}

/// Builds the schema for `entities`.
pub(crate) fn build_schema(
    entities: &[&'static EntityDef],
    pool: ReadPool,
    start_block: u64,
    network: String,
    limits: &QueryLimits,
) -> Result<Schema, String> {
    let mut filters = HashMap::new();
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
                .description("Answer as of this block.")
                .field(InputValue::new("number", TypeRef::named(TypeRef::INT))),
        )
        .register(
            Object::new("_Block_")
                .field(Field::new("number", TypeRef::named_nn(TypeRef::INT), |ctx| {
                    FieldFuture::new(async move {
                        let (n, _) =
                            ctx.parent_value.try_downcast_ref::<(u64, Option<String>)>()?;
                        Ok(Some(Value::from(*n)))
                    })
                }))
                .field(Field::new("hash", TypeRef::named("Bytes"), |ctx| {
                    FieldFuture::new(async move {
                        let (_, h) =
                            ctx.parent_value.try_downcast_ref::<(u64, Option<String>)>()?;
                        Ok(h.clone().map(Value::from))
                    })
                })),
        )
        .register(
            Object::new("_Meta_")
                .field(Field::new("block", TypeRef::named_nn("_Block_"), |ctx| {
                    FieldFuture::new(async move {
                        let b = ctx.parent_value.try_downcast_ref::<(u64, Option<String>)>()?;
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
                let block = resolve_block(&ctx, &shared).await?;
                let budget = ctx.data::<Arc<Budget>>()?;
                let rows = shared
                    .pool
                    .select(
                        "SELECT hash FROM blocks WHERE number = ?",
                        vec![Sql::Integer(to_sql_u64(block))],
                        budget.deadline,
                    )
                    .await
                    .unwrap_or_default();
                let hash = rows.into_iter().next().and_then(|r| match r.into_iter().next() {
                    Some(Sql::Text(h)) => Some(h),
                    _ => None,
                });
                Ok(Some(FieldValue::owned_any((block, hash))))
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
        let mut filter = InputObject::new(format!("{}_filter", def.name));
        let mut filter_map = HashMap::new();
        let mut order = Enum::new(format!("{}_orderBy", def.name)).item("id");
        for (suffix, op) in ops_for(None) {
            let ty = if matches!(op, Op::In | Op::NotIn) {
                TypeRef::named_nn_list(TypeRef::ID)
            } else {
                TypeRef::named(TypeRef::ID)
            };
            filter = filter.field(InputValue::new(format!("id{suffix}"), ty));
            filter_map.insert(format!("id{suffix}"), (Target::Id, *op));
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
                let ty = if matches!(op, Op::In | Op::NotIn) {
                    TypeRef::named_nn_list(base)
                } else {
                    TypeRef::named(base)
                };
                let name = format!("{}{suffix}", field.name);
                filter = filter.field(InputValue::new(name.clone(), ty));
                filter_map.insert(name, (Target::Field(index), *op));
            }
        }
        for d in def.derived {
            let ty =
                if d.many { TypeRef::named_nn_list_nn(d.entity) } else { TypeRef::named(d.entity) };
            let (target, via, many) = (d.entity, d.via, d.many);
            let mut field = Field::new(d.name, ty, move |ctx| {
                FieldFuture::new(async move { resolve_derived(&ctx, target, via, many).await })
            });
            if d.many {
                field = collection_args(field, d.entity);
            }
            object = object.field(field);
        }
        builder = builder.register(object).register(filter).register(order);
        filters.insert(def.name, filter_map);

        let name = def.name;
        query = query.field(
            Field::new(def.single, TypeRef::named(def.name), move |ctx| {
                FieldFuture::new(async move { resolve_single(&ctx, name).await })
            })
            .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
            .argument(InputValue::new("block", TypeRef::named("Block_height"))),
        );
        query = query.field(
            collection_args(
                Field::new(def.plural, TypeRef::named_nn_list_nn(def.name), move |ctx| {
                    FieldFuture::new(async move { resolve_collection(&ctx, name).await })
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
        filters,
    };
    builder
        .register(query)
        .data(Arc::new(shared))
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(64)
        .limit_directives(8)
        .finish()
        .map_err(|e| e.to_string())
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

/// The resolver of stored field `index` of kind `kind`.
fn object_field(index: usize, kind: Kind, name: &str) -> Field {
    let ty = match kind {
        Kind::Ref(target) => TypeRef::named(target),
        Kind::BigIntList | Kind::BytesList => TypeRef::named_nn_list(scalar_type(kind)),
        other => TypeRef::named(scalar_type(other)),
    };
    Field::new(name, ty, move |ctx| {
        FieldFuture::new(async move {
            let row = ctx.parent_value.try_downcast_ref::<Row>()?;
            let value = &row.values[index];
            if let Kind::Ref(target) = kind {
                let Sql::Text(id) = value else { return Ok(None) };
                let shared = ctx.data::<Arc<Shared>>()?;
                let def = entity(shared, target)?;
                let rows = fetch(
                    &ctx,
                    def,
                    row.block,
                    vec!["id = ?".into()],
                    vec![Sql::Text(id.clone())],
                    None,
                    (1, 0),
                )
                .await?;
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

/// The block a top-level field answers as of: `block: { number }` or the indexed head.
async fn resolve_block(ctx: &ResolverContext<'_>, shared: &Shared) -> GqlResult<u64> {
    let budget = ctx.data::<Arc<Budget>>()?;
    let head = match budget.head.get() {
        Some(head) => *head,
        None => {
            let read =
                shared.pool.cursor().await.map_err(|e| gql_err(e.to_string()))?.map(|(n, _)| n);
            *budget.head.get_or_init(|| read)
        }
    }
    .ok_or_else(|| gql_err("nothing is indexed yet; retry once the indexer has caught up"))?;
    let Some(block) = ctx.args.get("block").filter(|b| !b.is_null()) else { return Ok(head) };
    let block = block.object()?;
    let Some(number) = block.get("number").filter(|n| !n.is_null()) else {
        return Ok(head);
    };
    let number = number.i64()?;
    let number =
        u64::try_from(number).map_err(|_| gql_err(format!("block number {number} is negative")))?;
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
    Ok(number)
}

async fn resolve_single<'a>(
    ctx: &ResolverContext<'a>,
    name: &str,
) -> GqlResult<Option<FieldValue<'a>>> {
    let shared = ctx.data::<Arc<Shared>>()?.clone();
    let def = entity(&shared, name)?;
    let block = resolve_block(ctx, &shared).await?;
    let raw = ctx.args.try_get("id")?.string()?;
    let Some(id) = enc_id(def.id, raw) else { return Ok(None) };
    let rows =
        fetch(ctx, def, block, vec!["id = ?".into()], vec![Sql::Text(id)], None, (1, 0)).await?;
    Ok(rows.into_iter().next().map(FieldValue::owned_any))
}

async fn resolve_collection<'a>(
    ctx: &ResolverContext<'a>,
    name: &str,
) -> GqlResult<Option<FieldValue<'a>>> {
    let shared = ctx.data::<Arc<Shared>>()?.clone();
    let def = entity(&shared, name)?;
    let block = resolve_block(ctx, &shared).await?;
    collection(ctx, &shared, def, block, None).await
}

async fn resolve_derived<'a>(
    ctx: &ResolverContext<'a>,
    target: &str,
    via: &'static str,
    many: bool,
) -> GqlResult<Option<FieldValue<'a>>> {
    let row = ctx.parent_value.try_downcast_ref::<Row>()?;
    let shared = ctx.data::<Arc<Shared>>()?.clone();
    let def = entity(&shared, target)?;
    let link = (via, Sql::Text(row.id.clone()));
    if many {
        collection(ctx, &shared, def, row.block, Some(link)).await
    } else {
        let rows = fetch(
            ctx,
            def,
            row.block,
            vec![format!("{} = ?", col(via))],
            vec![link.1],
            None,
            (1, 0),
        )
        .await?;
        Ok(rows.into_iter().next().map(FieldValue::owned_any))
    }
}

/// A collection with `where`, `orderBy`, `orderDirection`, `first`, `skip`, optionally linked to a
/// parent through `link` (the child's reference field and the parent's id).
async fn collection<'a>(
    ctx: &ResolverContext<'a>,
    shared: &Shared,
    def: &'static EntityDef,
    block: u64,
    link: Option<(&'static str, Sql)>,
) -> GqlResult<Option<FieldValue<'a>>> {
    let first = ctx.args.get("first").map(|v| v.i64()).transpose()?.unwrap_or(100);
    let skip = ctx.args.get("skip").map(|v| v.i64()).transpose()?.unwrap_or(0);
    let max_first = i64::try_from(MAX_FIRST).unwrap_or(i64::MAX);
    if !(0..=max_first).contains(&first) {
        return Err(gql_err(format!("`first` must be between 0 and {MAX_FIRST}, got {first}")));
    }
    let max_skip = i64::try_from(MAX_SKIP).unwrap_or(i64::MAX);
    if !(0..=max_skip).contains(&skip) {
        return Err(gql_err(format!("`skip` must be between 0 and {MAX_SKIP}, got {skip}")));
    }
    let mut conds = Vec::new();
    let mut params = Vec::new();
    if let Some((via, id)) = link {
        conds.push(format!("{} = ?", col(via)));
        params.push(id);
    }
    if let Some(filter) = ctx.args.get("where").filter(|w| !w.is_null()) {
        let filters = shared.filters.get(def.name).ok_or_else(|| gql_err("no filters"))?;
        for (name, value) in filter.object()?.iter() {
            let (target, op) = filters
                .get(name.as_str())
                .copied()
                .ok_or_else(|| gql_err(format!("unknown filter {name}")))?;
            let dialect = shared.pool.dialect();
            condition(dialect, def, name, target, op, &value, &mut conds, &mut params)?;
        }
    }
    let order = match ctx.args.get("orderBy").filter(|o| !o.is_null()) {
        Some(o) => {
            let name = o.enum_name()?;
            if name == "id" {
                None
            } else {
                let index = def
                    .field_index(name)
                    .ok_or_else(|| gql_err(format!("cannot order {} by {name}", def.name)))?;
                Some(def.fields[index].name)
            }
        }
        None => None,
    };
    let desc = match ctx.args.get("orderDirection").filter(|o| !o.is_null()) {
        Some(d) => d.enum_name()? == "desc",
        None => false,
    };
    let rows = fetch(ctx, def, block, conds, params, Some((order, desc)), (first, skip)).await?;
    Ok(Some(FieldValue::list(rows.into_iter().map(FieldValue::owned_any))))
}

/// Encodes one filter value for comparison with the stored column.
fn encode(def: &EntityDef, target: Target, op: Op, name: &str, v: &Value) -> GqlResult<Sql> {
    let bad = |what: &str| gql_err(format!("`{name}`: {what} expected, got {v}"));
    let text = || match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(bad("a string")),
    };
    let id_of = |kind: IdKind| -> GqlResult<Sql> {
        let raw = text()?;
        enc_id(kind, &raw).map(Sql::Text).ok_or_else(|| bad("a numeric id"))
    };
    let kind = match target {
        Target::Id => return id_of(def.id),
        Target::Field(i) => def.fields[i].kind,
    };
    Ok(match kind {
        Kind::String => Sql::Text(text()?),
        Kind::Int => match v {
            Value::Number(n) => Sql::Integer(n.as_i64().ok_or_else(|| bad("an Int"))?),
            _ => return Err(bad("an Int")),
        },
        Kind::Boolean => match v {
            Value::Boolean(b) => Sql::Integer(i64::from(*b)),
            _ => return Err(bad("a Boolean")),
        },
        Kind::BigInt => Sql::Text(enc_uint(parse_uint(&text()?).ok_or_else(|| bad("a uint256"))?)),
        Kind::SignedBigInt => {
            Sql::Text(enc_int(parse_int(&text()?).ok_or_else(|| bad("an int256"))?))
        }
        Kind::Bytes if matches!(op, Op::Contains | Op::NotContains) => {
            let raw = text()?;
            let hex = raw.strip_prefix("0x").unwrap_or(&raw);
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad("hex"));
            }
            Sql::Text(hex.to_ascii_lowercase())
        }
        Kind::Bytes => Sql::Text(parse_bytes(&text()?).ok_or_else(|| bad("0x hex"))?),
        Kind::Ref(target) => {
            let raw = text()?;
            // The referenced entity's id kind decides the encoding; unknown targets are text.
            let kind = crate::handlers::all_entities()
                .into_iter()
                .find(|d| d.name == target)
                .map_or(IdKind::Text, |d| d.id);
            enc_id(kind, &raw).map(Sql::Text).ok_or_else(|| bad("an id"))?
        }
        Kind::BigIntList | Kind::BytesList => {
            return Err(gql_err(format!("`{name}` cannot be filtered")));
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn condition(
    dialect: Dialect,
    def: &EntityDef,
    name: &Name,
    target: Target,
    op: Op,
    value: &ValueAccessor<'_>,
    conds: &mut Vec<String>,
    params: &mut Vec<Sql>,
) -> GqlResult<()> {
    let column = match target {
        Target::Id => "id".to_string(),
        Target::Field(i) => col(def.fields[i].name),
    };
    let v = value.as_value();
    if v == &Value::Null {
        match op {
            Op::Eq => conds.push(format!("{column} IS NULL")),
            Op::Not => conds.push(format!("{column} IS NOT NULL")),
            _ => {}
        }
        return Ok(());
    }
    let sql_op = match op {
        Op::Eq => "=",
        Op::Not => "IS DISTINCT FROM",
        Op::Gt => ">",
        Op::Gte => ">=",
        Op::Lt => "<",
        Op::Lte => "<=",
        Op::In | Op::NotIn => {
            let Value::List(items) = v else {
                return Err(gql_err(format!("`{name}` takes a list")));
            };
            if items.len() > 1000 {
                return Err(gql_err(format!("`{name}` takes at most 1000 values")));
            }
            if items.is_empty() {
                conds.push(if op == Op::In { "1 = 0".into() } else { "1 = 1".into() });
                return Ok(());
            }
            for item in items {
                params.push(encode(def, target, op, name, item)?);
            }
            let marks = vec!["?"; items.len()].join(", ");
            let not = if op == Op::NotIn { "NOT " } else { "" };
            conds.push(format!("{column} {not}IN ({marks})"));
            return Ok(());
        }
        Op::Contains => {
            params.push(encode(def, target, op, name, v)?);
            conds.push(dialect.contains(&column));
            return Ok(());
        }
        Op::NotContains => {
            params.push(encode(def, target, op, name, v)?);
            conds.push(format!("({column} IS NULL OR NOT ({}))", dialect.contains(&column)));
            return Ok(());
        }
    };
    params.push(encode(def, target, op, name, v)?);
    conds.push(format!("{column} {sql_op} ?"));
    Ok(())
}

/// Runs one versioned select as of `block` and charges the rows to the request's budget.
async fn fetch(
    ctx: &ResolverContext<'_>,
    def: &'static EntityDef,
    block: u64,
    conds: Vec<String>,
    mut params: Vec<Sql>,
    order: Option<(Option<&'static str>, bool)>,
    (first, skip): (i64, i64),
) -> GqlResult<Vec<Row>> {
    let shared = ctx.data::<Arc<Shared>>()?;
    let budget = ctx.data::<Arc<Budget>>()?;
    let timed_out = || gql_err(format!("query timed out after {} ms", budget.timeout.as_millis()));
    if Instant::now() > budget.deadline {
        return Err(timed_out());
    }
    let cols: String = def.fields.iter().map(|f| format!(", {}", col(f.name))).collect();
    let mut sql = format!(
        "SELECT id{cols} FROM \"{}\" WHERE block_from <= ? AND (block_to IS NULL OR block_to > ?)",
        def.table
    );
    let b = Sql::Integer(to_sql_u64(block));
    let mut all = vec![b.clone(), b];
    all.append(&mut params);
    for c in &conds {
        sql.push_str(" AND ");
        sql.push_str(c);
    }
    if let Some((by, desc)) = order {
        // NULLs sort first ascending and last descending, as SQLite does by default.
        let dir = if desc { "DESC NULLS LAST" } else { "ASC NULLS FIRST" };
        match by {
            Some(field) => sql.push_str(&format!(" ORDER BY {} {dir}, id {dir}", col(field))),
            None => sql.push_str(&format!(" ORDER BY id {dir}")),
        }
    }
    sql.push_str(" LIMIT ? OFFSET ?");
    all.push(Sql::Integer(first));
    all.push(Sql::Integer(skip));
    let rows = shared.pool.select(&sql, all, budget.deadline).await.map_err(|e| match e {
        ReadError::Timeout => timed_out(),
        ReadError::Db(e) => gql_err(format!("database: {e}")),
    })?;
    let rows = rows
        .into_iter()
        .map(|mut values| {
            let id = match values.first() {
                Some(Sql::Text(id)) => id.clone(),
                _ => return Err(gql_err("stored id is malformed")),
            };
            values.remove(0);
            Ok(Row { def, id, values, block })
        })
        .collect::<GqlResult<Vec<_>>>()?;
    let total = budget.entities.fetch_add(rows.len(), Ordering::Relaxed) + rows.len();
    if total > budget.max_entities {
        return Err(gql_err(format!(
            "query returns more than {} entities; narrow it with `first` or `where`",
            budget.max_entities
        )));
    }
    Ok(rows)
}
