//! Compiled contract artifacts, embedded in the binary at build time.

use alloy::{json_abi::JsonAbi, primitives::Bytes};

/// One compiled contract of `contracts/src`.
#[derive(Debug, Clone, Copy)]
pub struct Artifact {
    /// Contract name, unique across `contracts/src`.
    pub name: &'static str,
    /// Source file, relative to the workspace root.
    pub source: &'static str,
    /// `{"abi": [..], "bytecode": "0x..", "deployedBytecode": "0x.."}` as produced by `build.rs`.
    pub json: &'static str,
}

/// Why an embedded artifact could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The embedded JSON lacks a field or has the wrong shape.
    #[error("artifact {name}: malformed {field}: {reason}")]
    Malformed {
        /// Contract name.
        name: &'static str,
        /// The field that could not be read.
        field: &'static str,
        /// What was wrong with it.
        reason: String,
    },
}

impl Artifact {
    fn field(&self, field: &'static str) -> Result<serde_json::Value, ArtifactError> {
        let malformed =
            |reason: String| ArtifactError::Malformed { name: self.name, field, reason };
        let mut doc: serde_json::Value =
            serde_json::from_str(self.json).map_err(|e| malformed(e.to_string()))?;
        doc.get_mut(field).map(serde_json::Value::take).ok_or_else(|| malformed("missing".into()))
    }

    fn hex(&self, field: &'static str) -> Result<Bytes, ArtifactError> {
        let value = self.field(field)?;
        let text = value.as_str().ok_or_else(|| ArtifactError::Malformed {
            name: self.name,
            field,
            reason: "not a string".into(),
        })?;
        text.parse::<Bytes>().map_err(|e| ArtifactError::Malformed {
            name: self.name,
            field,
            reason: e.to_string(),
        })
    }

    /// The contract's ABI.
    ///
    /// # Errors
    ///
    /// [`ArtifactError::Malformed`] if the embedded JSON is damaged (a build bug).
    pub fn abi(&self) -> Result<JsonAbi, ArtifactError> {
        serde_json::from_value(self.field("abi")?).map_err(|e| ArtifactError::Malformed {
            name: self.name,
            field: "abi",
            reason: e.to_string(),
        })
    }

    /// Creation bytecode (empty for interfaces and abstract contracts).
    ///
    /// # Errors
    ///
    /// [`ArtifactError::Malformed`] if the embedded JSON is damaged (a build bug).
    pub fn bytecode(&self) -> Result<Bytes, ArtifactError> {
        self.hex("bytecode")
    }

    /// Runtime bytecode, as stored on chain after deployment.
    ///
    /// # Errors
    ///
    /// [`ArtifactError::Malformed`] if the embedded JSON is damaged (a build bug).
    pub fn deployed_bytecode(&self) -> Result<Bytes, ArtifactError> {
        self.hex("deployedBytecode")
    }
}

/// The artifact of the contract called `name`, if `contracts/src` has one.
///
/// ```
/// let token = nsed_contracts::artifact("RankToken").expect("RankToken is compiled");
/// assert!(!token.bytecode().unwrap().is_empty());
/// assert!(token.abi().unwrap().function("mint").is_some());
/// assert!(nsed_contracts::artifact("NoSuchContract").is_none());
/// ```
pub fn artifact(name: &str) -> Option<&'static Artifact> {
    crate::ARTIFACTS.iter().find(|a| a.name == name)
}
