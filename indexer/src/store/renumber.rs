//! Rewriting the numbers earlier schemas stored zero-padded to 78 digits into today's encoding
//! (their digits behind their count, see [`crate::entity::enc_uint`]), for both backends.
//!
//! Numbers live in numeric ids, in `BigInt` and `SignedBigInt` fields, and in references to
//! entities with numeric ids. Each entity table gets one `UPDATE` that rewrites those columns in
//! every stored version. Only the old form is touched: 78 digits starting with `0` or `1` (2^256
//! is 1.16 × 10^77, so no padded number starts higher), while a new-form value of 78 digits is
//! a 76-digit number behind its count and starts with `76`. So running it again, or on a
//! database that already holds new values, changes nothing.

use super::{Dialect, col};
use crate::entity::{EntityDef, IdKind, Kind};

/// The quoted columns of `def` that hold encoded numbers.
fn number_columns(def: &EntityDef, entities: &[&'static EntityDef]) -> Vec<String> {
    let numeric_id = |name: &str| entities.iter().any(|e| e.name == name && e.id == IdKind::Number);
    let mut columns = Vec::new();
    if def.id == IdKind::Number {
        columns.push("id".to_string());
    }
    for field in def.fields {
        let number = match field.kind {
            Kind::BigInt | Kind::SignedBigInt => true,
            Kind::Ref(target) => numeric_id(target),
            _ => false,
        };
        if number {
            columns.push(col(field.name));
        }
    }
    columns
}

/// `column`'s value in the new encoding when it holds the old one, else unchanged.
fn rewritten(column: &str, dialect: Dialect) -> String {
    let digits = format!("COALESCE(NULLIF(ltrim({column}, '0'), ''), '0')");
    match dialect {
        Dialect::Sqlite => format!(
            "CASE WHEN length({column}) = 78 AND {column} GLOB '[01]*' \
             AND {column} NOT GLOB '*[^0-9]*' \
             THEN printf('%02d', length({digits})) || {digits} ELSE {column} END"
        ),
        Dialect::Postgres => format!(
            "CASE WHEN {column} ~ '^[01][0-9]{{77}}$' \
             THEN lpad(length({digits})::text, 2, '0') || {digits} ELSE {column} END"
        ),
    }
}

/// The statements that rewrite the table of every entity of `entities` (which must all exist)
/// that stores numbers.
pub(crate) fn statements(entities: &[&'static EntityDef], dialect: Dialect) -> Vec<String> {
    entities
        .iter()
        .filter_map(|def| {
            let columns = number_columns(def, entities);
            if columns.is_empty() {
                return None;
            }
            let sets: Vec<String> =
                columns.iter().map(|c| format!("{c} = {}", rewritten(c, dialect))).collect();
            Some(format!("UPDATE \"{}\" SET {}", def.table, sets.join(", ")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use alloy::primitives::U256;
    use rusqlite::Connection;

    use super::*;
    use crate::{entity::enc_uint, handlers::all_entities};

    #[test]
    fn old_numbers_are_rewritten_once_and_new_ones_left_alone() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id TEXT, n TEXT)").unwrap();
        let big = U256::from(7) * U256::from(10).pow(U256::from(75));
        let cases = [
            // (stored, expected after the rewrite)
            (format!("{:0>78}", 42), enc_uint(U256::from(42))),
            (format!("{:0>78}", 0), enc_uint(U256::ZERO)),
            (format!("{:0>78}", U256::MAX), enc_uint(U256::MAX)),
            // Already new: a 76-digit number's new form is 78 digits too.
            (enc_uint(big), enc_uint(big)),
            (enc_uint(U256::from(42)), enc_uint(U256::from(42))),
            // Not a number at all.
            ("0xabc".to_string(), "0xabc".to_string()),
        ];
        assert_eq!(enc_uint(big).len(), 78);
        for (i, (stored, _)) in cases.iter().enumerate() {
            conn.execute("INSERT INTO t VALUES (?1, ?2)", (i.to_string(), stored)).unwrap();
        }
        let update = format!("UPDATE t SET n = {}", rewritten("n", Dialect::Sqlite));
        for _ in 0..2 {
            conn.execute(&update, []).unwrap();
            for (i, (_, expected)) in cases.iter().enumerate() {
                let got: String = conn
                    .query_row("SELECT n FROM t WHERE id = ?1", [i.to_string()], |r| r.get(0))
                    .unwrap();
                assert_eq!(&got, expected, "case {i}");
            }
        }
    }

    #[test]
    fn numeric_ids_amounts_and_references_to_numeric_ids_are_rewritten() {
        let entities = all_entities();
        let job = entities.iter().find(|e| e.name == "Job").unwrap();
        let columns = number_columns(job, &entities);
        assert_eq!(columns[0], "id");
        assert!(columns.contains(&col("bounty")), "{columns:?}");
        // `winner` names an agent, whose id is an address.
        assert!(!columns.contains(&col("winner")), "{columns:?}");
        // A round's id is text (`<job>-<round>`); its job is a numeric id, its seat a number.
        let round = entities.iter().find(|e| e.name == "Round").unwrap();
        assert_eq!(number_columns(round, &entities), [col("job"), col("winnerSeat")]);
        let statements = statements(&entities, Dialect::Postgres);
        assert!(statements.iter().any(|s| s.starts_with(&format!("UPDATE \"{}\"", job.table))));
    }
}
