//! `where` objects into SQL: one boolean expression with `?` placeholders and its parameters in
//! the order the placeholders appear.
//!
//! Column names come only from the static entity table; every value the user sends is a bound
//! parameter (string patterns are escaped so `%`, `_`, `*`, `?` and `[` match themselves).
//! Nested filters (`winner_: { … }`, `rounds_: { … }`) become uncorrelated `IN (SELECT …)`
//! subqueries as of the same block, so the same SQL runs on SQLite and PostgreSQL.

use std::collections::HashMap;

use async_graphql::{Name, Value};
use rusqlite::types::Value as Sql;

use super::{GqlResult, gql_err};
use crate::{
    entity::{
        EntityDef, IdKind, Kind, enc_id, enc_int, enc_uint, parse_bytes, parse_int, parse_uint,
    },
    store::{Dialect, col, to_sql_u64},
};

/// Deepest nesting of `and`, `or` and nested-entity filters in one `where`.
pub(crate) const MAX_FILTER_DEPTH: usize = 5;
/// Most alternatives in one `and` or `or` list.
pub(crate) const MAX_FILTER_LIST: usize = 100;
/// Most conditions (leaves) in one `where`, over all its nesting.
pub(crate) const MAX_FILTER_CONDITIONS: usize = 500;
/// Most values bound by one `where` (both databases bound the parameters of a statement).
pub(crate) const MAX_FILTER_PARAMS: usize = 10_000;
/// Most values in one `_in` / `_not_in` list.
pub(crate) const MAX_IN_LIST: usize = 1000;

/// The column a leaf filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The entity's id.
    Id,
    /// Stored field `index` of the entity.
    Field(usize),
}

/// A leaf filter's comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
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
    ContainsNocase,
    NotContainsNocase,
    StartsWith,
    StartsWithNocase,
    NotStartsWith,
    NotStartsWithNocase,
    EndsWith,
    EndsWithNocase,
    NotEndsWith,
    NotEndsWithNocase,
}

/// Every suffix with its comparison; ordered so prefixes of this table suit each kind.
pub(crate) const OPS: [(&str, Op); 20] = [
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
    ("_contains_nocase", Op::ContainsNocase),
    ("_not_contains_nocase", Op::NotContainsNocase),
    ("_starts_with", Op::StartsWith),
    ("_starts_with_nocase", Op::StartsWithNocase),
    ("_not_starts_with", Op::NotStartsWith),
    ("_not_starts_with_nocase", Op::NotStartsWithNocase),
    ("_ends_with", Op::EndsWith),
    ("_ends_with_nocase", Op::EndsWithNocase),
    ("_not_ends_with", Op::NotEndsWith),
    ("_not_ends_with_nocase", Op::NotEndsWithNocase),
];

/// The filter suffixes a field of `kind` takes (`None`: the id).
pub(crate) fn ops_for(kind: Option<Kind>) -> &'static [(&'static str, Op)] {
    match kind {
        Some(Kind::String) => &OPS,
        Some(Kind::Bytes) => &OPS[..10],
        Some(Kind::Boolean) => {
            &[("", Op::Eq), ("_not", Op::Not), ("_in", Op::In), ("_not_in", Op::NotIn)]
        }
        _ => &OPS[..8],
    }
}

/// How a nested filter reaches the other entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// Through this entity's reference field (its index).
    Ref(usize),
    /// Through the other entity's reference field `via` pointing here.
    Derived(&'static str),
}

/// What one key of an entity's `where` object means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// A comparison of one column.
    Leaf(Target, Op),
    /// `and: [ … ]`.
    And,
    /// `or: [ … ]`.
    Or,
    /// `_change_block: { number_gte }`.
    ChangeBlock,
    /// `<field>_: { … }`, a filter on the entity `entity` that `link` reaches.
    Nested(&'static str, Link),
}

/// The `where` keys of every entity, by entity name.
pub(crate) type Keys = HashMap<&'static str, HashMap<String, Key>>;

/// A `where` as SQL.
#[derive(Debug, Default)]
pub(crate) struct Filter {
    /// Conditions to AND together, each self-contained.
    pub(crate) conds: Vec<String>,
    /// Their parameters, in placeholder order.
    pub(crate) params: Vec<Sql>,
}

/// Builds the SQL of `where` objects for one query.
pub(crate) struct Builder<'a> {
    entities: &'a HashMap<&'static str, &'static EntityDef>,
    keys: &'a Keys,
    dialect: Dialect,
    block: u64,
    conditions: usize,
    params: Vec<Sql>,
}

impl<'a> Builder<'a> {
    /// A builder for filters as of `block`.
    pub(crate) const fn new(
        entities: &'a HashMap<&'static str, &'static EntityDef>,
        keys: &'a Keys,
        dialect: Dialect,
        block: u64,
    ) -> Self {
        Self { entities, keys, dialect, block, conditions: 0, params: Vec::new() }
    }

    /// The conditions of `filter` (a `where` object of `def`).
    pub(crate) fn build(mut self, def: &'static EntityDef, filter: &Value) -> GqlResult<Filter> {
        let conds = match filter {
            Value::Null => Vec::new(),
            Value::Object(_) => self.object(def, filter, 1)?,
            other => return Err(gql_err(format!("`where` must be an object, got {other}"))),
        };
        Ok(Filter { conds, params: self.params })
    }

    fn push(&mut self, value: Sql) -> GqlResult<()> {
        if self.params.len() >= MAX_FILTER_PARAMS {
            return Err(gql_err(format!(
                "`where` binds more than {MAX_FILTER_PARAMS} values; split the query"
            )));
        }
        self.params.push(value);
        Ok(())
    }

    /// The conditions of one `where` object at nesting `depth` (1 for the argument itself).
    fn object(
        &mut self,
        def: &'static EntityDef,
        filter: &Value,
        depth: usize,
    ) -> GqlResult<Vec<String>> {
        let Value::Object(fields) = filter else {
            return Err(gql_err(format!(
                "a `{}_filter` must be an object, got {filter}",
                def.name
            )));
        };
        if depth > MAX_FILTER_DEPTH {
            return Err(gql_err(format!(
                "`where` nests more than {MAX_FILTER_DEPTH} levels of `and`, `or` and nested \
                 filters"
            )));
        }
        let keys = self.keys.get(def.name).ok_or_else(|| gql_err("no filters"))?;
        let lookup = |name: &Name| {
            keys.get(name.as_str())
                .copied()
                .ok_or_else(|| gql_err(format!("unknown filter {name} on {}", def.name)))
        };
        // graph-node refuses column filters beside `or`: whether they apply to each alternative
        // or to the whole is ambiguous.
        if fields.contains_key("or") {
            let mut columns = Vec::new();
            for name in fields.keys() {
                if matches!(lookup(name)?, Key::Leaf(..) | Key::Nested(..)) {
                    columns.push(format!("'{name}'"));
                }
            }
            if !columns.is_empty() {
                return Err(gql_err(format!(
                    "Cannot mix column filters with 'or' operator at the same level. Found column \
                     filter(s) {} alongside 'or' operator. Repeat them inside each `or` \
                     alternative instead",
                    columns.join(", ")
                )));
            }
        }
        let mut conds = Vec::new();
        for (name, value) in fields {
            match lookup(name)? {
                Key::Leaf(target, op) => {
                    self.conditions += 1;
                    if self.conditions > MAX_FILTER_CONDITIONS {
                        return Err(gql_err(format!(
                            "`where` has more than {MAX_FILTER_CONDITIONS} conditions"
                        )));
                    }
                    if let Some(c) = self.leaf(def, name, target, op, value)? {
                        conds.push(c);
                    }
                }
                Key::And | Key::Or => {
                    let Value::List(items) = value else {
                        return Err(gql_err(format!("`{name}` takes a list of filters")));
                    };
                    if items.len() > MAX_FILTER_LIST {
                        return Err(gql_err(format!(
                            "`{name}` takes at most {MAX_FILTER_LIST} filters"
                        )));
                    }
                    let mut alternatives = Vec::new();
                    for item in items {
                        let inner = self.object(def, item, depth + 1)?;
                        alternatives.push(if inner.is_empty() {
                            "1 = 1".to_string()
                        } else {
                            format!("({})", inner.join(" AND "))
                        });
                    }
                    if name.as_str() == "or" {
                        // An empty `or` matches nothing, like an empty `_in`.
                        conds.push(if alternatives.is_empty() {
                            "1 = 0".into()
                        } else {
                            format!("({})", alternatives.join(" OR "))
                        });
                    } else if !alternatives.is_empty() {
                        conds.push(format!("({})", alternatives.join(" AND ")));
                    }
                }
                Key::ChangeBlock if value == &Value::Null => {}
                Key::ChangeBlock => {
                    let number = match value {
                        Value::Object(o) => o.get("number_gte"),
                        _ => None,
                    };
                    let Some(Value::Number(n)) = number else {
                        return Err(gql_err("`_change_block` takes `{ number_gte: Int }`"));
                    };
                    let n = n.as_u64().ok_or_else(|| {
                        gql_err("`_change_block.number_gte` must not be negative")
                    })?;
                    self.push(Sql::Integer(to_sql_u64(n)))?;
                    conds.push("block_from >= ?".into());
                }
                Key::Nested(entity, link) => {
                    if value == &Value::Null {
                        continue;
                    }
                    let other = self
                        .entities
                        .get(entity)
                        .copied()
                        .ok_or_else(|| gql_err(format!("unknown entity {entity}")))?;
                    let (outer, inner_column) = match link {
                        Link::Ref(index) => (col(def.fields[index].name), "id".to_string()),
                        Link::Derived(via) => ("id".to_string(), col(via)),
                    };
                    let b = Sql::Integer(to_sql_u64(self.block));
                    self.push(b.clone())?;
                    self.push(b)?;
                    let inner = self.object(other, value, depth + 1)?;
                    let mut sql = format!(
                        "{outer} IN (SELECT {inner_column} FROM \"{}\" WHERE block_from <= ? AND \
                         (block_to IS NULL OR block_to > ?)",
                        other.table
                    );
                    if let Link::Derived(via) = link {
                        sql.push_str(&format!(" AND {} IS NOT NULL", col(via)));
                    }
                    for c in &inner {
                        sql.push_str(" AND ");
                        sql.push_str(c);
                    }
                    sql.push(')');
                    conds.push(sql);
                }
            }
        }
        Ok(conds)
    }

    /// One column comparison; `None` when it constrains nothing (`field_gt: null`).
    fn leaf(
        &mut self,
        def: &EntityDef,
        name: &Name,
        target: Target,
        op: Op,
        v: &Value,
    ) -> GqlResult<Option<String>> {
        let column = match target {
            Target::Id => "id".to_string(),
            Target::Field(i) => col(def.fields[i].name),
        };
        if v == &Value::Null {
            return Ok(match op {
                Op::Eq => Some(format!("{column} IS NULL")),
                Op::Not => Some(format!("{column} IS NOT NULL")),
                _ => None,
            });
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
                if items.len() > MAX_IN_LIST {
                    return Err(gql_err(format!("`{name}` takes at most {MAX_IN_LIST} values")));
                }
                if items.is_empty() {
                    return Ok(Some(if op == Op::In { "1 = 0".into() } else { "1 = 1".into() }));
                }
                for item in items {
                    let value = encode(def, target, op, name, item)?;
                    self.push(value)?;
                }
                let marks = vec!["?"; items.len()].join(", ");
                let not = if op == Op::NotIn { "NOT " } else { "" };
                return Ok(Some(format!("{column} {not}IN ({marks})")));
            }
            Op::Contains | Op::NotContains => {
                let value = encode(def, target, op, name, v)?;
                self.push(value)?;
                let test = self.dialect.contains(&column);
                return Ok(Some(if op == Op::Contains {
                    test
                } else {
                    format!("({column} IS NULL OR NOT ({test}))")
                }));
            }
            _ => return self.pattern(def, name, target, op, v, &column).map(Some),
        };
        let value = encode(def, target, op, name, v)?;
        self.push(value)?;
        Ok(Some(format!("{column} {sql_op} ?")))
    }

    /// `_starts_with`, `_ends_with` and the case-insensitive forms, on a String column.
    fn pattern(
        &mut self,
        def: &EntityDef,
        name: &Name,
        target: Target,
        op: Op,
        v: &Value,
        column: &str,
    ) -> GqlResult<String> {
        let Sql::Text(needle) = encode(def, target, op, name, v)? else {
            return Err(gql_err(format!("`{name}` takes a string")));
        };
        let (prefix, suffix, nocase, negated) = match op {
            Op::ContainsNocase => (true, true, true, false),
            Op::NotContainsNocase => (true, true, true, true),
            Op::StartsWith => (false, true, false, false),
            Op::StartsWithNocase => (false, true, true, false),
            Op::NotStartsWith => (false, true, false, true),
            Op::NotStartsWithNocase => (false, true, true, true),
            Op::EndsWith => (true, false, false, false),
            Op::EndsWithNocase => (true, false, true, false),
            Op::NotEndsWith => (true, false, false, true),
            Op::NotEndsWithNocase => (true, false, true, true),
            _ => return Err(gql_err(format!("`{name}` is not a pattern filter"))),
        };
        let test = if nocase || self.dialect == Dialect::Postgres {
            // LIKE: case-sensitive on PostgreSQL, and both sides lowered for `_nocase`.
            self.push(Sql::Text(wildcards(&like_escape(&needle), '%', prefix, suffix)))?;
            if nocase {
                format!("lower({column}) LIKE lower(?) ESCAPE '\\'")
            } else {
                format!("{column} LIKE ? ESCAPE '\\'")
            }
        } else {
            // SQLite's LIKE ignores ASCII case; GLOB is its case-sensitive match.
            self.push(Sql::Text(wildcards(&glob_escape(&needle), '*', prefix, suffix)))?;
            format!("{column} GLOB ?")
        };
        Ok(if negated { format!("({column} IS NULL OR NOT ({test}))") } else { test })
    }
}

/// `escaped` (a pattern matching exactly itself) with `any` (the dialect's match-anything) before
/// it when `prefix` and after it when `suffix`.
fn wildcards(escaped: &str, any: char, prefix: bool, suffix: bool) -> String {
    let mut pattern = String::with_capacity(escaped.len() + 2);
    if prefix {
        pattern.push(any);
    }
    pattern.push_str(escaped);
    if suffix {
        pattern.push(any);
    }
    pattern
}

/// `s` as a LIKE pattern matching exactly itself (with `ESCAPE '\'`).
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `s` as a SQLite GLOB pattern matching exactly itself.
pub(crate) fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            other => out.push(other),
        }
    }
    out
}

/// Encodes one filter value for comparison with the stored column.
pub(crate) fn encode(
    def: &EntityDef,
    target: Target,
    op: Op,
    name: &str,
    v: &Value,
) -> GqlResult<Sql> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::all_entities;

    #[test]
    fn nested_filters_bind_their_values_in_placeholder_order() {
        let entities: HashMap<&'static str, &'static EntityDef> =
            all_entities().into_iter().map(|d| (d.name, d)).collect();
        let (job, agent) = (entities["Job"], entities["Agent"]);
        let field = |def: &EntityDef, name: &str| def.field_index(name).unwrap();
        let mut keys: Keys = HashMap::new();
        keys.insert(
            "Job",
            HashMap::from([
                ("status".to_string(), Key::Leaf(Target::Field(field(job, "status")), Op::Eq)),
                ("winner_".to_string(), Key::Nested("Agent", Link::Ref(field(job, "winner")))),
                ("or".to_string(), Key::Or),
            ]),
        );
        keys.insert(
            "Agent",
            HashMap::from([(
                "rank_gte".to_string(),
                Key::Leaf(Target::Field(field(agent, "rank")), Op::Gte),
            )]),
        );
        let filter = async_graphql::value!({
            "or": [{ "status": "Settled" }, { "winner_": { "rank_gte": "3" } }]
        });
        let built = Builder::new(&entities, &keys, Dialect::Sqlite, 7).build(job, &filter).unwrap();
        assert_eq!(
            built.conds,
            [
                "((\"status\" = ?) OR (\"winner\" IN (SELECT id FROM \"agent\" WHERE block_from <= ? \
              AND (block_to IS NULL OR block_to > ?) AND \"rank\" >= ?)))"
            ]
        );
        assert_eq!(
            built.params,
            [
                Sql::Text("Settled".into()),
                Sql::Integer(7),
                Sql::Integer(7),
                Sql::Text(enc_uint(alloy::primitives::U256::from(3))),
            ]
        );
        // A column filter beside `or` is refused, as graph-node refuses it.
        let mixed = async_graphql::value!({ "status": "Settled", "or": [{ "status": "Claimed" }] });
        let err =
            Builder::new(&entities, &keys, Dialect::Sqlite, 7).build(job, &mixed).unwrap_err();
        assert!(err.message.contains("Found column filter(s) 'status'"), "{}", err.message);
    }

    #[test]
    fn patterns_escape_their_wildcards() {
        assert_eq!(like_escape(r"a%b_c\d"), r"a\%b\_c\\d");
        assert_eq!(glob_escape("a*b?c[d]"), "a[*]b[?]c[[]d]");
        assert_eq!(like_escape("plain"), "plain");
    }
}
