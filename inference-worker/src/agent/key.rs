//! The agent's secp256k1 key: from the environment, from a key file, or generated once and saved.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use alloy_signer_local::PrivateKeySigner;

/// Environment variable holding the agent key as hex (takes precedence over the key file).
pub const AGENT_KEY_ENV: &str = "NSED_AGENT_KEY";

/// Where the key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// The environment variable.
    Env,
    /// An existing key file.
    File(PathBuf),
    /// Generated now and saved to the key file.
    Generated(PathBuf),
}

/// Why no key could be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The environment variable or key file does not hold a 32-byte hex key. The key itself is
    /// never included.
    #[error("{origin} does not hold a 32-byte hex secp256k1 key")]
    Malformed {
        /// Where the bad key came from.
        origin: String,
    },
    /// The key file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Loads the agent key: `env_key` if given (the value of [`AGENT_KEY_ENV`]), else the key file
/// at `path`, else a new random key written to `path` (mode 0600, never overwriting a file that
/// appears meanwhile).
///
/// # Errors
///
/// [`KeyError`] for a malformed key or an unreadable / unwritable key file.
pub fn load_or_create_key(
    env_key: Option<&str>,
    path: &Path,
) -> Result<(PrivateKeySigner, KeyOrigin), KeyError> {
    if let Some(hex) = env_key {
        let signer = hex
            .trim()
            .parse()
            .map_err(|_| KeyError::Malformed { origin: format!("${AGENT_KEY_ENV}") })?;
        return Ok((signer, KeyOrigin::Env));
    }
    match fs::read_to_string(path) {
        Ok(text) => {
            let signer = text.trim().parse().map_err(|_| KeyError::Malformed {
                origin: format!("key file {}", path.display()),
            })?;
            Ok((signer, KeyOrigin::File(path.to_path_buf())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let signer = PrivateKeySigner::random();
            write_new_key(path, &signer)?;
            Ok((signer, KeyOrigin::Generated(path.to_path_buf())))
        }
        Err(source) => Err(KeyError::Io { path: path.to_path_buf(), source }),
    }
}

fn write_new_key(path: &Path, signer: &PrivateKeySigner) -> Result<(), KeyError> {
    let io = |source| KeyError::Io { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io)?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    let hex = format!("0x{}\n", alloy_primitives::hex::encode(signer.to_bytes()));
    file.write_all(hex.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

    #[test]
    fn the_environment_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (signer, origin) = load_or_create_key(Some(KEY), &dir.path().join("key")).unwrap();
        assert_eq!(origin, KeyOrigin::Env);
        assert_eq!(signer.address().to_string(), "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
        assert!(!dir.path().join("key").exists());
    }

    #[test]
    fn a_key_is_generated_once_then_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agents/a.key");
        let (first, origin) = load_or_create_key(None, &path).unwrap();
        assert_eq!(origin, KeyOrigin::Generated(path.clone()));
        let (second, origin) = load_or_create_key(None, &path).unwrap();
        assert_eq!(origin, KeyOrigin::File(path.clone()));
        assert_eq!(first.address(), second.address());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn malformed_keys_are_rejected_without_being_shown() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_or_create_key(Some("0xsecret-garbage"), &dir.path().join("k")).unwrap_err();
        assert!(!err.to_string().contains("secret-garbage"));
        let path = dir.path().join("bad");
        fs::write(&path, "not a key").unwrap();
        assert!(matches!(load_or_create_key(None, &path), Err(KeyError::Malformed { .. })));
    }
}
