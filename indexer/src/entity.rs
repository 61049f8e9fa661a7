//! The entity-description table: every entity, its fields and relations, and how each value is
//! stored in SQLite.
//!
//! One table drives everything: the SQLite tables are created from it, handlers write records
//! through it, and the GraphQL schema (types, filters, `orderBy` enums, nested relations) is
//! generated from it. Adding an entity means adding an [`EntityDef`] to a handler module's
//! `ENTITIES`.
//!
//! Storage encodings are chosen so SQL comparisons and ordering are numerically correct:
//!
//! - `BigInt` (uint256) is stored as its decimal digits behind their count in two digits (`0242`
//!   for 42, `010` for 0): text order is numeric order, since a longer number has a larger count,
//!   and the common small numbers stay short. Zero-padding every value to 78 digits (2^256 has
//!   78) orders as well, but made every id, reference and amount, and every index key over them,
//!   up to 78 bytes long;
//! - `SignedBigInt` (int256) is stored as `v + 2^255` in the same form;
//! - numeric ids are stored like `BigInt` (so `orderBy: id` is numeric), other ids verbatim;
//! - `Bytes` and addresses as lowercase `0x` hex, booleans as 0/1, lists as JSON arrays of their
//!   display strings (lists are returned, not filtered).

use alloy::primitives::{I256, U256};
use rusqlite::types::Value as Sql;

/// How a field is stored and exposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 text.
    String,
    /// A 64-bit integer (small counters, seats, rounds, block numbers).
    Int,
    /// A uint256, exposed as a decimal string.
    BigInt,
    /// An int256, exposed as a decimal string.
    SignedBigInt,
    /// Bytes or an address, exposed as lowercase `0x` hex.
    Bytes,
    /// A boolean.
    Boolean,
    /// A list of uint256/int256, exposed as decimal strings.
    BigIntList,
    /// A list of byte strings or addresses, exposed as lowercase `0x` hex.
    BytesList,
    /// The id of another entity (named), exposed as that entity.
    Ref(&'static str),
}

impl Kind {
    /// Whether `where` filters and `orderBy` apply to fields of this kind.
    pub const fn is_scalar(self) -> bool {
        !matches!(self, Self::BigIntList | Self::BytesList)
    }
}

/// How an entity's id is built and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// A uint256 (job, game, deal ids): stored padded so ordering is numeric.
    Number,
    /// Any other text (addresses, composite ids such as `<job>-<round>`).
    Text,
}

/// One stored field.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    /// GraphQL and column name.
    pub name: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// What it means (shown in the GraphQL schema).
    pub doc: &'static str,
}

/// A relation computed from the other side (`@derivedFrom` in subgraph terms).
#[derive(Debug, Clone, Copy)]
pub struct DerivedDef {
    /// GraphQL field name.
    pub name: &'static str,
    /// The entity holding the reference.
    pub entity: &'static str,
    /// Its `Ref` field pointing back here.
    pub via: &'static str,
    /// A list (`true`) or at most one entity (`false`).
    pub many: bool,
}

/// One entity type.
#[derive(Debug)]
pub struct EntityDef {
    /// GraphQL type name, e.g. `Job`.
    pub name: &'static str,
    /// Single-entity query name, e.g. `job`.
    pub single: &'static str,
    /// Collection query name, e.g. `jobs`.
    pub plural: &'static str,
    /// SQLite table name.
    pub table: &'static str,
    /// How the id is stored.
    pub id: IdKind,
    /// What it is (shown in the GraphQL schema).
    pub doc: &'static str,
    /// Stored fields, without `id`.
    pub fields: &'static [FieldDef],
    /// Relations computed from other entities.
    pub derived: &'static [DerivedDef],
}

impl EntityDef {
    /// Index of field `name` in [`EntityDef::fields`].
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }
}

/// Shorthand for the entity tables.
pub(crate) const fn f(name: &'static str, kind: Kind, doc: &'static str) -> FieldDef {
    FieldDef { name, kind, doc }
}

/// Shorthand for derived relations.
pub(crate) const fn derived(
    name: &'static str,
    entity: &'static str,
    via: &'static str,
    many: bool,
) -> DerivedDef {
    DerivedDef { name, entity, via, many }
}

/// 2^255, the offset of the signed encoding.
const SIGN_OFFSET: U256 = U256::from_limbs([0, 0, 0, 1 << 63]);

/// Order-preserving text of a uint256: its decimal digits behind their count in two digits.
pub fn enc_uint(v: U256) -> String {
    let digits = v.to_string();
    format!("{:02}{digits}", digits.len())
}

/// Order-preserving, offset text of an int256 (`v + 2^255`), ordered like the numbers.
pub fn enc_int(v: I256) -> String {
    enc_uint(v.into_raw().wrapping_add(SIGN_OFFSET))
}

/// Lowercase `0x` hex.
pub fn enc_bytes(v: &[u8]) -> String {
    format!("0x{}", alloy::hex::encode(v))
}

/// Decodes [`enc_uint`]; `None` unless the count matches the digits that follow it.
pub(crate) fn dec_uint(s: &str) -> Option<U256> {
    let (count, digits) = (s.get(..2)?, s.get(2..)?);
    let canonical = digits.len() == 1 || !digits.starts_with('0');
    if count.parse::<usize>().ok()? != digits.len() || !canonical {
        return None;
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    U256::from_str_radix(digits, 10).ok()
}

/// Decodes [`enc_int`].
pub(crate) fn dec_int(s: &str) -> Option<I256> {
    dec_uint(s).map(|raw| I256::from_raw(raw.wrapping_sub(SIGN_OFFSET)))
}

/// Encodes an id given in display form (as users and handlers write it).
pub(crate) fn enc_id(kind: IdKind, display: &str) -> Option<String> {
    match kind {
        IdKind::Number => parse_uint(display).map(enc_uint),
        IdKind::Text => Some(display.to_lowercase_if_hex()),
    }
}

/// Display form of a stored id.
pub(crate) fn dec_id(kind: IdKind, stored: &str) -> String {
    match kind {
        // A stored id that does not decode (not written by `enc_id`) is shown as stored.
        IdKind::Number => dec_uint(stored).map_or_else(|| stored.into(), |v| v.to_string()),
        IdKind::Text => stored.into(),
    }
}

/// Parses a uint256 written in decimal or `0x` hex.
pub(crate) fn parse_uint(s: &str) -> Option<U256> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x") {
        U256::from_str_radix(hex, 16).ok()
    } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        U256::from_str_radix(s, 10).ok()
    } else {
        None
    }
}

/// Parses an int256 written in decimal (optionally negative).
pub(crate) fn parse_int(s: &str) -> Option<I256> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let magnitude = parse_uint(digits)?;
    let v = I256::checked_from_sign_and_abs(
        if neg { alloy::primitives::Sign::Negative } else { alloy::primitives::Sign::Positive },
        magnitude,
    )?;
    Some(v)
}

/// Parses `0x` hex into its canonical stored form (lowercase, prefixed).
pub(crate) fn parse_bytes(s: &str) -> Option<String> {
    let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(format!("0x{}", hex.to_ascii_lowercase()))
}

trait LowerHex {
    fn to_lowercase_if_hex(&self) -> String;
}

impl LowerHex for str {
    /// Text ids built from addresses are lowercase; users may paste checksummed addresses.
    fn to_lowercase_if_hex(&self) -> String {
        if self.starts_with("0x") || self.starts_with("0X") {
            self.to_ascii_lowercase()
        } else {
            self.to_string()
        }
    }
}

/// A record being written by a handler: the id and one SQL value per field (NULL when unset).
#[derive(Debug, Clone)]
pub struct Record {
    /// Its entity.
    pub def: &'static EntityDef,
    /// The stored id.
    pub id: String,
    /// Stored values, in [`EntityDef::fields`] order.
    pub values: Vec<Sql>,
}

impl Record {
    /// An empty record with display id `id`.
    pub(crate) fn new(def: &'static EntityDef, id: &str) -> Self {
        let id = enc_id(def.id, id).unwrap_or_else(|| id.to_string());
        Self { def, id, values: vec![Sql::Null; def.fields.len()] }
    }

    fn slot(&mut self, name: &str) -> &mut Sql {
        let i = self
            .def
            .field_index(name)
            .expect("handlers only name fields of their own entity table (checked by unit tests)");
        &mut self.values[i]
    }

    /// The stored value of `name`.
    pub(crate) fn get(&self, name: &str) -> &Sql {
        let i = self
            .def
            .field_index(name)
            .expect("handlers only name fields of their own entity table (checked by unit tests)");
        &self.values[i]
    }

    /// Sets a `String` field.
    pub(crate) fn set_str(&mut self, name: &str, v: impl Into<String>) -> &mut Self {
        *self.slot(name) = Sql::Text(v.into());
        self
    }

    /// Sets an `Int` field.
    pub(crate) fn set_i64(&mut self, name: &str, v: i64) -> &mut Self {
        *self.slot(name) = Sql::Integer(v);
        self
    }

    /// Sets a `BigInt` field.
    pub(crate) fn set_uint(&mut self, name: &str, v: U256) -> &mut Self {
        *self.slot(name) = Sql::Text(enc_uint(v));
        self
    }

    /// Sets a `SignedBigInt` field.
    pub(crate) fn set_int(&mut self, name: &str, v: I256) -> &mut Self {
        *self.slot(name) = Sql::Text(enc_int(v));
        self
    }

    /// Sets a `Bytes` field.
    pub(crate) fn set_bytes(&mut self, name: &str, v: &[u8]) -> &mut Self {
        *self.slot(name) = Sql::Text(enc_bytes(v));
        self
    }

    /// Sets a `Boolean` field.
    pub(crate) fn set_bool(&mut self, name: &str, v: bool) -> &mut Self {
        *self.slot(name) = Sql::Integer(i64::from(v));
        self
    }

    /// Sets a `Ref` field to the entity with display id `id`.
    pub(crate) fn set_ref(
        &mut self,
        name: &str,
        target: &'static EntityDef,
        id: &str,
    ) -> &mut Self {
        let id = enc_id(target.id, id).unwrap_or_else(|| id.to_string());
        *self.slot(name) = Sql::Text(id);
        self
    }

    /// Sets a list field from display strings.
    pub(crate) fn set_list(&mut self, name: &str, items: Vec<String>) -> &mut Self {
        let json = serde_json::Value::Array(items.into_iter().map(Into::into).collect());
        *self.slot(name) = Sql::Text(json.to_string());
        self
    }

    /// Reads a `BigInt` field (zero when unset).
    pub(crate) fn uint(&self, name: &str) -> U256 {
        match self.get(name) {
            Sql::Text(s) => dec_uint(s).unwrap_or_default(),
            _ => U256::ZERO,
        }
    }

    /// Reads a list field's display strings (empty when unset).
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        match self.get(name) {
            Sql::Text(s) => serde_json::from_str(s).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Reads an `Int` field (zero when unset).
    pub(crate) fn i64(&self, name: &str) -> i64 {
        match self.get(name) {
            Sql::Integer(v) => *v,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint_encoding_orders_like_numbers() {
        let values = [U256::ZERO, U256::from(2), U256::from(10), U256::from(100), U256::MAX];
        let encoded: Vec<String> = values.iter().map(|v| enc_uint(*v)).collect();
        let mut sorted = encoded.clone();
        sorted.sort();
        assert_eq!(encoded, sorted);
        assert_eq!(encoded[..4], ["010", "012", "0210", "03100"]);
        assert_eq!(encoded[4].len(), 80);
        for v in values {
            assert_eq!(dec_uint(&enc_uint(v)), Some(v));
        }
        // Text in any other shape is not a stored number: the old zero-padded form, a count
        // that does not match, leading zeros, signs or letters.
        for bad in ["", "0", "1", "0242x", "032", "03042", "0a1", "02-1", &format!("{:0>78}", 42)] {
            assert_eq!(dec_uint(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn signed_encoding_orders_like_numbers_and_round_trips() {
        let values = [I256::MIN, I256::try_from(-100).unwrap(), I256::MINUS_ONE, I256::ZERO];
        let values = [&values[..], &[I256::ONE, I256::try_from(7).unwrap(), I256::MAX]].concat();
        let encoded: Vec<String> = values.iter().map(|v| enc_int(*v)).collect();
        let mut sorted = encoded.clone();
        sorted.sort();
        assert_eq!(encoded, sorted);
        for v in values {
            assert_eq!(dec_int(&enc_int(v)), Some(v));
        }
    }

    #[test]
    fn parsers_reject_garbage() {
        assert_eq!(parse_uint("12"), Some(U256::from(12)));
        assert_eq!(parse_uint("0x10"), Some(U256::from(16)));
        assert_eq!(parse_uint("-1"), None);
        assert_eq!(parse_uint("1e3"), None);
        assert_eq!(parse_uint(""), None);
        assert_eq!(parse_int("-5"), Some(I256::try_from(-5).unwrap()));
        assert_eq!(parse_bytes("0xABcd"), Some("0xabcd".into()));
        assert_eq!(parse_bytes("0xabc"), None);
        assert_eq!(parse_bytes("abcd"), None);
        assert_eq!(dec_id(IdKind::Number, &enc_id(IdKind::Number, "42").unwrap()), "42");
        assert_eq!(dec_id(IdKind::Number, &enc_uint(U256::ZERO)), "0");
    }
}
