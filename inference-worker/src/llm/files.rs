//! The files that make up a model directory, their digests and the model's identity.

use std::{
    collections::BTreeMap,
    io::Read as _,
    path::{Path, PathBuf},
};

use sha2::{Digest as _, Sha256};

use super::{
    LlmError, LlmResult,
    config::{
        CONFIG_FILE, GENERATION_CONFIG_FILE, MODEL_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE,
    },
};
use crate::Sha256Digest;

/// The files of a model directory that decide what the model computes, with their digests.
#[derive(Debug, Clone)]
pub(crate) struct ModelFiles {
    /// File name → sha256, in name order.
    pub(crate) digests: BTreeMap<String, Sha256Digest>,
    /// Bytes of `model.onnx` and its external data files.
    pub(crate) weight_bytes: u64,
}

/// Whether `name` is `model.onnx` or one of its external data files (`model.onnx.data`,
/// `model.onnx_data`, ...), which ONNX Runtime resolves beside the graph.
fn is_graph_file(name: &str) -> bool {
    name.starts_with(MODEL_FILE)
}

/// Lists the files that make up the model in `dir`: `model.onnx` and every file beside it whose
/// name starts with `model.onnx`, `config.json`, `tokenizer.json`, and `tokenizer_config.json`
/// and `generation_config.json` when present.
///
/// # Errors
///
/// [`LlmError::MissingFile`] when `model.onnx`, `config.json` or `tokenizer.json` is absent,
/// [`LlmError::Io`] when the directory cannot be listed.
pub(crate) fn list(dir: &Path) -> LlmResult<Vec<String>> {
    for required in [MODEL_FILE, CONFIG_FILE, TOKENIZER_FILE] {
        if !dir.join(required).is_file() {
            return Err(LlmError::MissingFile {
                dir: dir.to_path_buf(),
                file: required.to_owned(),
            });
        }
    }
    let io = |source| LlmError::Io { path: dir.to_path_buf(), source };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        let listed = is_graph_file(&name)
            || [CONFIG_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, GENERATION_CONFIG_FILE]
                .contains(&name.as_str());
        if listed && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Streams `path` through sha256.
pub(crate) fn sha256_file(path: &Path) -> LlmResult<Sha256Digest> {
    let io = |source| LlmError::Io { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).map_err(io)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(Sha256Digest::new(hasher.finalize().into()))
}

impl ModelFiles {
    /// Hashes the model's files in `dir` (see [`list`]).
    pub(crate) fn hash(dir: &Path) -> LlmResult<Self> {
        let mut digests = BTreeMap::new();
        let mut weight_bytes = 0;
        for name in list(dir)? {
            let path = dir.join(&name);
            if is_graph_file(&name) {
                weight_bytes += std::fs::metadata(&path)
                    .map_err(|source| LlmError::Io { path: path.clone(), source })?
                    .len();
            }
            digests.insert(name, sha256_file(&path)?);
        }
        Ok(Self { digests, weight_bytes })
    }

    /// Hashes the model's files in `dir` and checks them against `expected` (file name →
    /// sha256): every listed file must exist and match, and every file of the model must be
    /// listed.
    pub(crate) fn verify(
        model: &str,
        dir: &Path,
        expected: &BTreeMap<String, Sha256Digest>,
    ) -> LlmResult<Self> {
        for name in expected.keys() {
            let plain = Path::new(name).file_name().is_some_and(|file| file == name.as_str());
            if !plain {
                return Err(LlmError::UnsafeFileName { file: name.clone() });
            }
        }
        let files = Self::hash(dir)?;
        for (name, &expected) in expected {
            let path: PathBuf = dir.join(name);
            let actual = match files.digests.get(name) {
                Some(&actual) => actual,
                None if path.is_file() => sha256_file(&path)?,
                None => {
                    return Err(LlmError::MissingFile {
                        dir: dir.to_path_buf(),
                        file: name.clone(),
                    });
                }
            };
            if actual != expected {
                return Err(LlmError::DigestMismatch { path, expected, actual });
            }
        }
        if let Some(file) = files.digests.keys().find(|name| !expected.contains_key(*name)) {
            return Err(LlmError::UnverifiedFile { model: model.to_owned(), file: file.clone() });
        }
        Ok(files)
    }

    /// The model's identity: sha256 over, for each file in name order, its name's UTF-8 bytes,
    /// one zero byte and its 32-byte sha256.
    pub(crate) fn model_id(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for (name, digest) in &self.digests {
            hasher.update(name.as_bytes());
            hasher.update([0u8]);
            hasher.update(digest.as_bytes());
        }
        hasher.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_model_dir(dir: &Path) {
        for (name, text) in [
            (MODEL_FILE, "graph"),
            ("model.onnx.data", "weights"),
            (CONFIG_FILE, "{}"),
            (TOKENIZER_FILE, "{}"),
            ("README.md", "not part of the model"),
        ] {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }

    #[test]
    fn lists_the_graph_its_data_and_the_json_files_only() {
        let dir = tempfile::tempdir().unwrap();
        write_model_dir(dir.path());
        let files = ModelFiles::hash(dir.path()).unwrap();
        let names: Vec<_> = files.digests.keys().map(String::as_str).collect();
        assert_eq!(names, [CONFIG_FILE, MODEL_FILE, "model.onnx.data", TOKENIZER_FILE]);
        assert_eq!(files.weight_bytes, ("graph".len() + "weights".len()) as u64);
        assert_eq!(files.digests[MODEL_FILE], Sha256Digest::of(b"graph"));
    }

    #[test]
    fn the_model_id_changes_with_any_file() {
        let dir = tempfile::tempdir().unwrap();
        write_model_dir(dir.path());
        let before = ModelFiles::hash(dir.path()).unwrap().model_id();
        std::fs::write(dir.path().join(TOKENIZER_FILE), "{ }").unwrap();
        assert_ne!(ModelFiles::hash(dir.path()).unwrap().model_id(), before);
    }

    #[test]
    fn verification_needs_every_model_file_listed_and_plain_names() {
        let dir = tempfile::tempdir().unwrap();
        write_model_dir(dir.path());
        let mut expected = ModelFiles::hash(dir.path()).unwrap().digests;
        assert!(ModelFiles::verify("m", dir.path(), &expected).is_ok());
        expected.remove("model.onnx.data");
        assert!(matches!(
            ModelFiles::verify("m", dir.path(), &expected),
            Err(LlmError::UnverifiedFile { ref file, .. }) if file == "model.onnx.data"
        ));
        expected.insert("../x".to_owned(), Sha256Digest::of(b""));
        assert!(matches!(
            ModelFiles::verify("m", dir.path(), &expected),
            Err(LlmError::UnsafeFileName { .. })
        ));
    }
}
