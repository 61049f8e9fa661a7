//! One window's entity versions, kept in memory until the window is written, on either backend.
//!
//! The first read of an entity loads its stored current version (how is the backend's business),
//! later reads and all writes stay in memory, and a version written again at the same block
//! replaces the one before. When the window is written, each entity is written once
//! ([`Entities::into_written`]): the stored version it supersedes, closed at the window's first
//! version (or replaced when that version starts at the same block), and the window's versions
//! with their `block_to` already set. That spares a lookup of the current version per write and
//! the closing of every version the window both wrote and superseded.

use std::collections::BTreeMap;

use rusqlite::types::Value as Sql;

use crate::{
    entity::{EntityDef, Record},
    error::IndexerResult,
    store::to_sql_u64,
};

/// A stored current version (the entity's only row with no `block_to`, which is how the
/// backends find it again).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stored {
    pub(crate) block_from: i64,
    pub(crate) values: Vec<Sql>,
}

/// An entity touched in a window.
#[derive(Debug)]
struct Touched {
    def: &'static EntityDef,
    /// The stored current version before the window.
    stored: Option<Stored>,
    /// Versions written in this window, oldest first: `block_from` and values.
    versions: Vec<(i64, Vec<Sql>)>,
}

/// What the window does to the stored current version of an entity it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Supersedes {
    /// The entity had none.
    Nothing,
    /// The window's first version starts at the stored version's block and replaces it.
    Replaces,
    /// The stored version ends where the window's first version starts.
    Closes { at: i64 },
}

/// A version the window writes.
#[derive(Debug)]
pub(crate) struct Version {
    pub(crate) block_from: i64,
    /// The next version's block; `None` for the entity's new current version.
    pub(crate) block_to: Option<i64>,
    pub(crate) values: Vec<Sql>,
}

/// One entity's writes: the stored version it supersedes and its new versions, oldest first.
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) def: &'static EntityDef,
    pub(crate) id: String,
    pub(crate) supersedes: Supersedes,
    pub(crate) versions: Vec<Version>,
}

/// The entities a window touched, by table and stored id.
#[derive(Debug, Default)]
pub(crate) struct Entities(BTreeMap<(&'static str, String), Touched>);

impl Entities {
    /// The entity `id` of `def` as the window sees it, with its stored version from `load` on
    /// first use.
    fn touch(
        &mut self,
        def: &'static EntityDef,
        id: &str,
        load: impl FnOnce() -> IndexerResult<Option<Stored>>,
    ) -> IndexerResult<&mut Touched> {
        let key = (def.table, id.to_string());
        if !self.0.contains_key(&key) {
            let stored = load()?;
            self.0.insert(key.clone(), Touched { def, stored, versions: Vec::new() });
        }
        Ok(self.0.get_mut(&key).expect("inserted above"))
    }

    /// The current version of `def`'s entity `id`: the window's last, else the stored one.
    pub(crate) fn load_current(
        &mut self,
        def: &'static EntityDef,
        id: &str,
        load: impl FnOnce() -> IndexerResult<Option<Stored>>,
    ) -> IndexerResult<Option<Record>> {
        let touched = self.touch(def, id, load)?;
        let values = touched
            .versions
            .last()
            .map(|(_, v)| v)
            .or_else(|| touched.stored.as_ref().map(|s| &s.values));
        Ok(values.map(|values| Record { def, id: id.to_string(), values: values.clone() }))
    }

    /// Writes `record` as its version from `block` on (replacing a version this window wrote at
    /// the same block).
    pub(crate) fn save_version(
        &mut self,
        record: &Record,
        block: u64,
        load: impl FnOnce() -> IndexerResult<Option<Stored>>,
    ) -> IndexerResult<()> {
        let block = to_sql_u64(block);
        let touched = self.touch(record.def, &record.id, load)?;
        match touched.versions.last_mut() {
            Some((last, values)) if *last == block => values.clone_from(&record.values),
            _ => touched.versions.push((block, record.values.clone())),
        }
        Ok(())
    }

    /// Each written entity's writes, by table and id (entities only read are left out).
    pub(crate) fn into_written(self) -> impl Iterator<Item = Written> {
        self.0.into_iter().filter_map(|((_, id), touched)| {
            let Touched { def, stored, versions } = touched;
            let first = versions.first()?.0;
            let supersedes = match stored {
                None => Supersedes::Nothing,
                Some(s) if s.block_from == first => Supersedes::Replaces,
                Some(_) => Supersedes::Closes { at: first },
            };
            let tos: Vec<Option<i64>> = versions.iter().skip(1).map(|(b, _)| Some(*b)).collect();
            let versions = versions
                .into_iter()
                .zip(tos.into_iter().chain(std::iter::once(None)))
                .map(|((block_from, values), block_to)| Version { block_from, block_to, values })
                .collect();
            Some(Written { def, id, supersedes, versions })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::all_entities;

    fn record(def: &'static EntityDef, id: &str, marker: i64) -> Record {
        let mut values = vec![Sql::Null; def.fields.len()];
        values[0] = Sql::Integer(marker);
        Record { def, id: id.into(), values }
    }

    #[test]
    fn a_window_supersedes_stored_versions_once_and_chains_its_own() {
        let def = all_entities()[0];
        let stored = |from| move || Ok(Some(Stored { block_from: from, values: vec![] }));
        let mut entities = Entities::default();
        // Closed at the window's first version, whose rewrite at the same block replaces it.
        entities.save_version(&record(def, "a", 1), 10, stored(5)).unwrap();
        entities.save_version(&record(def, "a", 2), 10, || unreachable!()).unwrap();
        entities.save_version(&record(def, "a", 3), 12, || unreachable!()).unwrap();
        // Replaced: the stored version starts at the window's first block.
        entities.save_version(&record(def, "b", 4), 10, stored(10)).unwrap();
        // New, and only read.
        entities.save_version(&record(def, "c", 5), 11, || Ok(None)).unwrap();
        let read = entities.load_current(def, "d", stored(1)).unwrap();
        assert_eq!(read.map(|r| r.values), Some(vec![]));
        assert_eq!(
            entities
                .load_current(def, "a", || unreachable!())
                .unwrap()
                .map(|r| r.values[0].clone()),
            Some(Sql::Integer(3))
        );
        let written: Vec<_> = entities
            .into_written()
            .map(|w| {
                let versions: Vec<_> = w
                    .versions
                    .iter()
                    .map(|v| (v.block_from, v.block_to, v.values[0].clone()))
                    .collect();
                (w.id, w.supersedes, versions)
            })
            .collect();
        assert_eq!(
            written,
            vec![
                (
                    "a".to_string(),
                    Supersedes::Closes { at: 10 },
                    vec![(10, Some(12), Sql::Integer(2)), (12, None, Sql::Integer(3))]
                ),
                ("b".to_string(), Supersedes::Replaces, vec![(10, None, Sql::Integer(4))]),
                ("c".to_string(), Supersedes::Nothing, vec![(11, None, Sql::Integer(5))]),
            ]
        );
    }
}
