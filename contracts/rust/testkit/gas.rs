//! A committed gas snapshot, compared like `forge snapshot --check`.
//!
//! The file has one line per measured call, sorted by name, in forge's format:
//! `RankToken::mint (first rank) (gas: 53512)`. A test records every measurement and then calls
//! [`GasSnapshot::check_or_update`]: any difference (changed, new or vanished entry) fails with a diff until
//! the file is regenerated on purpose with `NSED_GAS_SNAPSHOT=update`.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

/// Environment variable that, set to `update`, makes [`GasSnapshot::check_or_update`] rewrite the
/// file.
pub const UPDATE_ENV: &str = "NSED_GAS_SNAPSHOT";

/// Why a gas snapshot check failed.
#[derive(Debug, thiserror::Error)]
pub enum GasSnapshotError {
    /// Measurements differ from the committed file.
    #[error(
        "gas snapshot {path} is out of date:\n{diff}\nif the change is intended, rerun with \
         {UPDATE_ENV}=update and commit the file"
    )]
    Mismatch {
        /// The snapshot file.
        path: PathBuf,
        /// One line per difference.
        diff: String,
    },
    /// The committed file could not be parsed.
    #[error("gas snapshot {path} line {line}: cannot parse `{text}`")]
    Parse {
        /// The snapshot file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The offending line.
        text: String,
    },
    /// Reading or writing the file failed.
    #[error("gas snapshot {path}: {source}")]
    Io {
        /// The snapshot file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Gas measurements collected by a test, to compare with (or write to) a committed file.
#[derive(Debug, Clone)]
pub struct GasSnapshot {
    path: PathBuf,
    entries: BTreeMap<String, u64>,
}

impl GasSnapshot {
    /// An empty set of measurements for the snapshot file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), entries: BTreeMap::new() }
    }

    /// Records `gas` under `name` (e.g. `RankToken::mint (first rank)`).
    ///
    /// # Panics
    ///
    /// If `name` was already recorded or contains a newline: every entry must be unique.
    #[track_caller]
    pub fn record(&mut self, name: impl Into<String>, gas: u64) {
        let name = name.into();
        assert!(!name.contains('\n'), "gas snapshot names are single lines: {name:?}");
        let previous = self.entries.insert(name.clone(), gas);
        assert!(previous.is_none(), "gas snapshot entry {name:?} recorded twice");
    }

    /// The measurements, sorted by name.
    pub fn entries(&self) -> &BTreeMap<String, u64> {
        &self.entries
    }

    /// Rewrites the file when `NSED_GAS_SNAPSHOT=update` is set, otherwise [`Self::check`]s it.
    ///
    /// # Errors
    ///
    /// As [`Self::check`] and [`Self::write`].
    pub fn check_or_update(&self) -> Result<(), GasSnapshotError> {
        if std::env::var(UPDATE_ENV).is_ok_and(|v| v == "update") {
            self.write()
        } else {
            self.check()
        }
    }

    /// Compares the measurements with the file.
    ///
    /// # Errors
    ///
    /// [`GasSnapshotError::Mismatch`] listing every difference, or a parse / I/O error.
    pub fn check(&self) -> Result<(), GasSnapshotError> {
        let committed = if self.path.exists() { parse(&self.path)? } else { BTreeMap::new() };
        let diff = diff(&committed, &self.entries);
        if diff.is_empty() {
            Ok(())
        } else {
            Err(GasSnapshotError::Mismatch { path: self.path.clone(), diff })
        }
    }

    /// Writes the measurements to the file.
    ///
    /// # Errors
    ///
    /// [`GasSnapshotError::Io`] if the file cannot be written.
    pub fn write(&self) -> Result<(), GasSnapshotError> {
        let mut text = String::new();
        for (name, gas) in &self.entries {
            let _ = writeln!(text, "{name} (gas: {gas})");
        }
        fs::write(&self.path, text)
            .map_err(|source| GasSnapshotError::Io { path: self.path.clone(), source })
    }
}

fn parse(path: &Path) -> Result<BTreeMap<String, u64>, GasSnapshotError> {
    let text = fs::read_to_string(path)
        .map_err(|source| GasSnapshotError::Io { path: path.to_path_buf(), source })?;
    let mut entries = BTreeMap::new();
    for (index, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let parsed = line
            .strip_suffix(')')
            .and_then(|l| l.rsplit_once(" (gas: "))
            .and_then(|(name, gas)| gas.parse::<u64>().ok().map(|gas| (name.to_string(), gas)));
        let Some((name, gas)) = parsed else {
            return Err(GasSnapshotError::Parse {
                path: path.to_path_buf(),
                line: index + 1,
                text: line.to_string(),
            });
        };
        entries.insert(name, gas);
    }
    Ok(entries)
}

fn diff(committed: &BTreeMap<String, u64>, measured: &BTreeMap<String, u64>) -> String {
    let mut out = String::new();
    for (name, &gas) in measured {
        match committed.get(name) {
            Some(&old) if old == gas => {}
            Some(&old) => {
                let delta = i128::from(gas) - i128::from(old);
                let _ = writeln!(out, "  changed  {name}: {old} -> {gas} ({delta:+})");
            }
            None => {
                let _ = writeln!(out, "  new      {name}: {gas}");
            }
        }
    }
    for (name, old) in committed {
        if !measured.contains_key(name) {
            let _ = writeln!(out, "  removed  {name}: {old}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot_in(dir: &Path, entries: &[(&str, u64)]) -> GasSnapshot {
        let mut snap = GasSnapshot::new(dir.join(".gas-snapshot"));
        for (name, gas) in entries {
            snap.record(*name, *gas);
        }
        snap
    }

    #[test]
    fn a_written_snapshot_checks_clean() {
        let dir = tempdir();
        let snap = snapshot_in(dir.path(), &[("A::f (x)", 100), ("B::g", 7)]);
        snap.write().unwrap();
        snap.check().unwrap();
        let text = fs::read_to_string(dir.path().join(".gas-snapshot")).unwrap();
        assert_eq!(text, "A::f (x) (gas: 100)\nB::g (gas: 7)\n");
    }

    #[test]
    fn changed_new_and_removed_entries_fail_the_check() {
        let dir = tempdir();
        snapshot_in(dir.path(), &[("A::f", 100), ("B::g", 7)]).write().unwrap();
        let err = snapshot_in(dir.path(), &[("A::f", 101), ("C::h", 1)]).check().unwrap_err();
        let GasSnapshotError::Mismatch { diff, .. } = err else { panic!("unexpected {err:?}") };
        assert_eq!(
            diff,
            "  changed  A::f: 100 -> 101 (+1)\n  new      C::h: 1\n  removed  B::g: 7\n"
        );
    }

    #[test]
    fn a_garbled_line_is_a_parse_error() {
        let dir = tempdir();
        fs::write(dir.path().join(".gas-snapshot"), "A::f (gas: 1)\nnonsense\n").unwrap();
        let err = snapshot_in(dir.path(), &[]).check().unwrap_err();
        assert!(matches!(err, GasSnapshotError::Parse { line: 2, .. }), "{err:?}");
    }

    #[test]
    #[should_panic(expected = "recorded twice")]
    fn recording_a_name_twice_panics() {
        let mut snap = GasSnapshot::new("unused");
        snap.record("A::f", 1);
        snap.record("A::f", 2);
    }

    fn tempdir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }
}
