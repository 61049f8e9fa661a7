//! The prepared models of `.cache/llm/manifest.json` (written by `scripts/prepare-llms.sh`): per
//! model directory its name and the sha256 of every file, so a worker loads exactly the files
//! the preparation produced.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::Deserialize;

use super::{LanguageModel, LanguageModelOptions, LlmError, LlmResult};
use crate::{OnnxRuntime, model::Sha256Digest};

/// File name of the prepared models' manifest.
pub const PREPARED_MANIFEST: &str = "manifest.json";

/// Where `scripts/prepare-llms.sh` puts the prepared models.
pub const DEFAULT_LLM_DIR: &str = ".cache/llm";

/// One prepared model directory.
#[derive(Debug, Clone, Deserialize)]
pub struct PreparedModel {
    /// Its name, e.g. `smollm2-135m-int4` (also the directory's name).
    pub name: String,
    /// Its directory, relative to the manifest.
    pub dir: PathBuf,
    /// File name → sha256 of every file of the directory.
    pub files: BTreeMap<String, Sha256Digest>,
    /// Model family, e.g. `smollm2`.
    #[serde(default)]
    pub family: String,
    /// `fp32` or `int4`.
    #[serde(default)]
    pub variant: String,
    /// The weights' license.
    #[serde(default)]
    pub license: String,
}

/// The manifest of the prepared models.
#[derive(Debug, Clone, Deserialize)]
pub struct PreparedModels {
    /// The models.
    pub models: Vec<PreparedModel>,
    #[serde(skip)]
    root: PathBuf,
}

impl PreparedModels {
    /// Reads `<root>/manifest.json`.
    ///
    /// # Errors
    ///
    /// [`LlmError::MissingFile`] when there is no manifest (run `scripts/prepare-llms.sh`),
    /// [`LlmError::Io`] / [`LlmError::InvalidJson`] when it cannot be read.
    pub fn load(root: impl AsRef<Path>) -> LlmResult<Self> {
        let root = root.as_ref();
        let path = root.join(PREPARED_MANIFEST);
        if !path.is_file() {
            return Err(LlmError::MissingFile {
                dir: root.to_path_buf(),
                file: PREPARED_MANIFEST.into(),
            });
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|source| LlmError::Io { path: path.clone(), source })?;
        let mut manifest: Self =
            serde_json::from_str(&text).map_err(|source| LlmError::InvalidJson { path, source })?;
        manifest.root = root.to_path_buf();
        Ok(manifest)
    }

    /// The model named `name`.
    ///
    /// # Errors
    ///
    /// [`LlmError::UnknownModel`] naming the models there are.
    pub fn get(&self, name: &str) -> LlmResult<&PreparedModel> {
        self.models.iter().find(|m| m.name == name).ok_or_else(|| LlmError::UnknownModel {
            name: name.to_string(),
            known: self.models.iter().map(|m| m.name.clone()).collect(),
        })
    }

    /// The directory of `model`.
    pub fn dir_of(&self, model: &PreparedModel) -> PathBuf {
        self.root.join(&model.dir)
    }

    /// Loads the model named `name` after verifying its files against the manifest.
    ///
    /// # Errors
    ///
    /// As [`PreparedModels::get`] and [`LanguageModel::load_verified`].
    pub fn load_model(
        &self,
        runtime: &OnnxRuntime,
        name: &str,
        options: LanguageModelOptions,
    ) -> LlmResult<LanguageModel> {
        let model = self.get(name)?;
        LanguageModel::load_verified(runtime, self.dir_of(model), &model.files, options)
    }
}
