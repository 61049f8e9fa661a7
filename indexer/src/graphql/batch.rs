//! Versioned selects, and nested fields loaded a level at a time.
//!
//! A resolver that reads rows (a collection, a single entity) looks ahead at the fields selected
//! below it: for each reference field it reads the referenced entities of all its rows with one
//! `id IN (..)` query, for each derived field the children of all its rows with one
//! `<via> IN (..)` query (per page of [`MAX_IN_LIST`] parents), then does the same one level
//! down, and hangs the results on each row ([`Row::nested`]). The nested fields' resolvers then
//! answer from their parent row without reading. A derived collection keeps its own `where`,
//! `orderBy`, `first` and `skip` per parent: the query numbers each parent's children with
//! `ROW_NUMBER() OVER (PARTITION BY <via> ORDER BY ..)` and keeps those in `(skip, skip+first]`.
//!
//! A response key selected more than once (through fragments) is loaded once, with the union of
//! its sub-selections. A nested field whose parent row was not loaded this way (none today, but
//! the resolvers do not rely on it) falls back to one read per parent, with the same answer.

use std::{collections::HashMap, future::Future, pin::Pin, sync::Arc};

use async_graphql::{Value, context::SelectionField, dynamic::ResolverContext};
use rusqlite::types::Value as Sql;

use super::{
    Budget, DEFAULT_FIRST, GqlResult, MAX_FIRST, MAX_SKIP, Shared, dialect, entity,
    filter::{Builder, MAX_IN_LIST},
    gql_err, read,
};
use crate::{
    entity::{EntityDef, Kind},
    store::{col, to_sql_u64},
};

/// An entity version as resolved, with the block the query answers as of and the nested fields
/// its level loaded for it.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) def: &'static EntityDef,
    pub(crate) id: String,
    pub(crate) values: Vec<Sql>,
    pub(crate) block: u64,
    /// Nested fields by response key (alias or name).
    pub(crate) nested: HashMap<String, Nested>,
}

/// A nested field loaded for a row.
#[derive(Debug)]
pub(crate) enum Nested {
    /// A reference, or a derived field of at most one entity.
    One(Option<Arc<Row>>),
    /// A derived collection.
    Many(Vec<Arc<Row>>),
}

/// A collection's arguments.
#[derive(Debug)]
pub(crate) struct Args {
    filter: Value,
    order_by: Option<String>,
    desc: bool,
    first: i64,
    skip: i64,
}

impl Args {
    /// The arguments from (name, value) pairs, with `first` and `skip` checked.
    pub(crate) fn from_pairs(pairs: impl IntoIterator<Item = (String, Value)>) -> GqlResult<Self> {
        let default_first = i64::try_from(DEFAULT_FIRST).unwrap_or(i64::MAX);
        let mut args = Self {
            filter: Value::Null,
            order_by: None,
            desc: false,
            first: default_first,
            skip: 0,
        };
        let int = |v: &async_graphql::Number| v.as_i64().unwrap_or(i64::MAX);
        for (name, value) in pairs {
            match (name.as_str(), value) {
                (_, Value::Null) => {}
                ("where", v) => args.filter = v,
                ("orderBy", Value::Enum(n)) => args.order_by = Some(n.to_string()),
                ("orderBy", Value::String(s)) => args.order_by = Some(s),
                ("orderDirection", Value::Enum(n)) => args.desc = n.as_str() == "desc",
                ("orderDirection", Value::String(s)) => args.desc = s == "desc",
                ("first", Value::Number(n)) => args.first = int(&n),
                ("skip", Value::Number(n)) => args.skip = int(&n),
                _ => {}
            }
        }
        let max_first = i64::try_from(MAX_FIRST).unwrap_or(i64::MAX);
        if !(0..=max_first).contains(&args.first) {
            return Err(gql_err(format!(
                "`first` must be between 0 and {MAX_FIRST}, got {}",
                args.first
            )));
        }
        let max_skip = i64::try_from(MAX_SKIP).unwrap_or(i64::MAX);
        if !(0..=max_skip).contains(&args.skip) {
            return Err(gql_err(format!(
                "`skip` must be between 0 and {MAX_SKIP}, got {}",
                args.skip
            )));
        }
        Ok(args)
    }

    fn from_selection(field: &SelectionField<'_>) -> GqlResult<Self> {
        let pairs = field.arguments().map_err(|e| gql_err(e.message))?;
        Self::from_pairs(pairs.into_iter().map(|(n, v)| (n.to_string(), v)))
    }
}

/// One select of the versions of `def` valid at `block`.
#[derive(Debug)]
pub(crate) struct Select {
    def: &'static EntityDef,
    block: u64,
    conds: Vec<String>,
    params: Vec<Sql>,
    /// `ORDER BY` field (`None`: the id) and whether descending.
    order: Option<(Option<&'static str>, bool)>,
    /// `first` and `skip`.
    limit: Option<(i64, i64)>,
}

impl Select {
    /// All versions of `def` valid at `block`.
    pub(crate) const fn new(def: &'static EntityDef, block: u64) -> Self {
        Self { def, block, conds: Vec::new(), params: Vec::new(), order: None, limit: None }
    }

    /// Adds a condition and its parameters.
    pub(crate) fn cond(mut self, sql: &str, mut params: Vec<Sql>) -> Self {
        self.conds.push(sql.to_string());
        self.params.append(&mut params);
        self
    }

    /// Limits the rows.
    pub(crate) const fn limit(mut self, first: i64, skip: i64) -> Self {
        self.limit = Some((first, skip));
        self
    }

    /// Adds a collection's `where`, order and limit.
    pub(crate) fn collection(mut self, shared: &Shared, args: &Args) -> GqlResult<Self> {
        let def = self.def;
        let filter = Builder::new(&shared.entities, &shared.keys, dialect(shared), self.block)
            .build(def, &args.filter)?;
        self.conds.extend(filter.conds);
        self.params.extend(filter.params);
        let by = match args.order_by.as_deref() {
            None | Some("id") => None,
            Some(name) => {
                let index = def
                    .field_index(name)
                    .filter(|i| def.fields[*i].kind.is_scalar())
                    .ok_or_else(|| gql_err(format!("cannot order {} by {name}", def.name)))?;
                Some(def.fields[index].name)
            }
        };
        self.order = Some((by, args.desc));
        self.limit = Some((args.first, args.skip));
        Ok(self)
    }

    fn columns(&self) -> String {
        self.def.fields.iter().map(|f| format!(", {}", col(f.name))).collect()
    }

    /// `FROM .. WHERE ..` with the block's and the conditions' parameters.
    fn body(&self) -> (String, Vec<Sql>) {
        let mut sql = format!(
            " FROM \"{}\" WHERE block_from <= ? AND (block_to IS NULL OR block_to > ?)",
            self.def.table
        );
        for c in &self.conds {
            sql.push_str(" AND ");
            sql.push_str(c);
        }
        let b = Sql::Integer(to_sql_u64(self.block));
        let mut params = vec![b.clone(), b];
        params.extend(self.params.iter().cloned());
        (sql, params)
    }

    fn order_by(&self) -> Option<String> {
        // NULLs sort first ascending and last descending, as SQLite does by default.
        self.order.map(|(by, desc)| {
            let dir = if desc { "DESC NULLS LAST" } else { "ASC NULLS FIRST" };
            match by {
                Some(field) => format!("{} {dir}, id {dir}", col(field)),
                None => format!("id {dir}"),
            }
        })
    }

    fn sql(&self) -> (String, Vec<Sql>) {
        let (from, mut params) = self.body();
        let mut sql = format!("SELECT id{}{from}", self.columns());
        if let Some(order) = self.order_by() {
            sql.push_str(" ORDER BY ");
            sql.push_str(&order);
        }
        if let Some((first, skip)) = self.limit {
            sql.push_str(" LIMIT ? OFFSET ?");
            params.push(Sql::Integer(first));
            params.push(Sql::Integer(skip));
        }
        (sql, params)
    }

    /// The select with its order and limit applied per value of `via` instead of overall.
    fn windowed_sql(&self, via: &str) -> (String, Vec<Sql>) {
        let (from, mut params) = self.body();
        let cols = self.columns();
        let order = self.order_by().unwrap_or_else(|| "id ASC NULLS FIRST".into());
        let sql = format!(
            "SELECT id{cols} FROM (SELECT id{cols}, ROW_NUMBER() OVER (PARTITION BY {} ORDER BY \
             {order}) AS nsed_rn{from}) AS nsed_w WHERE nsed_rn > ? AND nsed_rn <= ? ORDER BY \
             nsed_rn",
            col(via)
        );
        let (first, skip) = self.limit.unwrap_or((i64::MAX, 0));
        params.push(Sql::Integer(skip));
        params.push(Sql::Integer(skip.saturating_add(first)));
        (sql, params)
    }
}

/// Runs `sql` and charges its rows to the request's entity budget.
async fn rows(
    ctx: &ResolverContext<'_>,
    def: &'static EntityDef,
    block: u64,
    (sql, params): (String, Vec<Sql>),
) -> GqlResult<Vec<Row>> {
    let rows = read(ctx, &sql, params).await?;
    let rows = rows
        .into_iter()
        .map(|mut values| {
            let id = match values.first() {
                Some(Sql::Text(id)) => id.clone(),
                _ => return Err(gql_err("stored id is malformed")),
            };
            values.remove(0);
            values.truncate(def.fields.len());
            Ok(Row { def, id, values, block, nested: HashMap::new() })
        })
        .collect::<GqlResult<Vec<_>>>()?;
    let budget = ctx.data::<Arc<Budget>>()?;
    let total =
        budget.entities.fetch_add(rows.len(), std::sync::atomic::Ordering::Relaxed) + rows.len();
    if total > budget.max_entities {
        return Err(gql_err(format!(
            "query returns more than {} entities; narrow it with `first` or `where`",
            budget.max_entities
        )));
    }
    Ok(rows)
}

/// Runs `select`, then loads the nested fields `selection` selects on its rows.
pub(crate) async fn load(
    ctx: &ResolverContext<'_>,
    selection: &SelectionField<'_>,
    select: Select,
) -> GqlResult<Vec<Row>> {
    let (def, block) = (select.def, select.block);
    let mut rows = rows(ctx, def, block, select.sql()).await?;
    prefetch(ctx, &mut rows, std::slice::from_ref(selection)).await?;
    Ok(rows)
}

type BoxFuture<'b, T> = Pin<Box<dyn Future<Output = T> + Send + 'b>>;

/// `ids` as `IN (?, ..)` conditions of at most [`MAX_IN_LIST`] values each.
fn in_lists(column: &str, ids: &[String]) -> Vec<(String, Vec<Sql>)> {
    ids.chunks(MAX_IN_LIST)
        .map(|chunk| {
            let marks = vec!["?"; chunk.len()].join(", ");
            let params = chunk.iter().map(|id| Sql::Text(id.clone())).collect();
            (format!("{column} IN ({marks})"), params)
        })
        .collect()
}

/// Loads the reference and derived fields `selections` select, for all `rows` (one entity
/// type, one block) at once, and recursively below them.
fn prefetch<'b>(
    ctx: &'b ResolverContext<'_>,
    rows: &'b mut [Row],
    selections: &'b [SelectionField<'b>],
) -> BoxFuture<'b, GqlResult<()>> {
    Box::pin(async move {
        let Some(first) = rows.first() else { return Ok(()) };
        let (def, block) = (first.def, first.block);
        let shared = ctx.data::<Arc<Shared>>()?.clone();
        // Each response key once, with every selection of it (fragments may select a field
        // more than once, with different sub-selections that the response merges).
        let mut fields: Vec<(String, Vec<SelectionField<'b>>)> = Vec::new();
        for field in selections.iter().flat_map(|s| s.selection_set()) {
            let key = field.alias().unwrap_or_else(|| field.name()).to_string();
            match fields.iter_mut().find(|(k, _)| *k == key) {
                Some((_, same)) => same.push(field),
                None => fields.push((key, vec![field])),
            }
        }
        for (key, same) in fields {
            let field = same[0];
            if rows[0].nested.contains_key(&key) {
                continue;
            }
            if let Some(index) = def.field_index(field.name()) {
                let Kind::Ref(target) = def.fields[index].kind else { continue };
                let target = entity(&shared, target)?;
                let mut ids: Vec<String> = rows
                    .iter()
                    .filter_map(|r| match &r.values[index] {
                        Sql::Text(id) => Some(id.clone()),
                        _ => None,
                    })
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                let mut children = Vec::new();
                for (cond, params) in in_lists("id", &ids) {
                    let select = Select::new(target, block).cond(&cond, params);
                    children.extend(self::rows(ctx, target, block, select.sql()).await?);
                }
                prefetch(ctx, &mut children, &same).await?;
                let by_id: HashMap<String, Arc<Row>> =
                    children.into_iter().map(|r| (r.id.clone(), Arc::new(r))).collect();
                for row in rows.iter_mut() {
                    let child = match &row.values[index] {
                        Sql::Text(id) => by_id.get(id).cloned(),
                        _ => None,
                    };
                    row.nested.insert(key.clone(), Nested::One(child));
                }
            } else if let Some(d) = def.derived.iter().find(|d| d.name == field.name()) {
                let target = entity(&shared, d.entity)?;
                let via_index = target
                    .field_index(d.via)
                    .ok_or_else(|| gql_err(format!("{} has no field {}", target.name, d.via)))?;
                let mut ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
                ids.sort_unstable();
                ids.dedup();
                let args = if d.many { Some(Args::from_selection(&field)?) } else { None };
                let mut children = Vec::new();
                if args.as_ref().is_none_or(|a| a.first > 0) {
                    for (cond, params) in in_lists(&col(d.via), &ids) {
                        let select = Select::new(target, block).cond(&cond, params);
                        let sql = match &args {
                            Some(args) => select.collection(&shared, args)?.windowed_sql(d.via),
                            None => Select { order: Some((None, false)), ..select }.sql(),
                        };
                        children.extend(self::rows(ctx, target, block, sql).await?);
                    }
                }
                prefetch(ctx, &mut children, &same).await?;
                let mut groups: HashMap<String, Vec<Arc<Row>>> = HashMap::new();
                for child in children {
                    if let Sql::Text(parent) = &child.values[via_index] {
                        groups.entry(parent.clone()).or_default().push(Arc::new(child));
                    }
                }
                for row in rows.iter_mut() {
                    let group = groups.get(&row.id).cloned().unwrap_or_default();
                    let nested = if d.many {
                        Nested::Many(group)
                    } else {
                        Nested::One(group.into_iter().next())
                    };
                    row.nested.insert(key.clone(), nested);
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::all_entities;

    /// SQLite's plan of `sql`, one step a line.
    fn plan(conn: &rusqlite::Connection, (sql, params): (String, Vec<Sql>)) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        stmt.query_map(rusqlite::params_from_iter(params), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .join("\n")
    }

    #[test]
    fn id_cursor_pages_and_nested_batches_read_through_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.sqlite");
        drop(crate::store::Store::open(&path, "chain 1", all_entities()).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        let def = |name: &str| all_entities().into_iter().find(|d| d.name == name).unwrap();

        // `where: { id_gt: $last }, orderBy: id, first: 1000`: a range of the id index, in
        // order, however deep the page.
        let mut page = Select::new(def("Job"), 10).cond("id > ?", vec![Sql::Text("5".into())]);
        page.order = Some((None, false));
        page.limit = Some((1000, 0));
        let p = plan(&conn, page.sql());
        assert!(p.contains("USING INDEX job_id (id>?)"), "{p}");
        assert!(!p.contains("TEMP B-TREE"), "{p}");

        // The rounds of a page of jobs: one lookup of the reference index per job id.
        let (cond, params) = in_lists(&col("job"), &["1".into(), "2".into()]).remove(0);
        let mut rounds = Select::new(def("Round"), 10).cond(&cond, params);
        rounds.order = Some((Some("round"), false));
        rounds.limit = Some((100, 0));
        let p = plan(&conn, rounds.windowed_sql("job"));
        assert!(p.contains("USING INDEX round_job (job=?)"), "{p}");
    }
}
