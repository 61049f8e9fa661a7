//! Locating the service binaries on this machine.

use std::{
    env,
    ffi::OsString,
    path::{Path, PathBuf},
};

use crate::error::{DevstackError, DevstackResult};

/// Environment variable that overrides where the `anvil` binary is.
pub const ANVIL_ENV: &str = "NSED_ANVIL";

/// Environment variable that overrides where the `nats-server` binary is.
pub const NATS_SERVER_ENV: &str = "NSED_NATS_SERVER";

/// The workspace root as seen at compile time; a fallback when the current directory is outside
/// the repository (e.g. tests run from a temporary directory).
const COMPILE_TIME_WORKSPACE_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Finds the `anvil` binary.
///
/// The search order is:
/// 1. `explicit`, when given;
/// 2. the path in the `NSED_ANVIL` environment variable, when set;
/// 3. the native binary that `npm ci` installs under
///    `node_modules/@foundry-rs/anvil-<os>-<arch>/bin/anvil`, in the current directory or any of
///    its ancestors, then in the workspace this crate was built from;
/// 4. `anvil` on `PATH`.
///
/// An explicit path or environment override that does not exist is an error; it does not fall
/// through to the other places.
///
/// # Errors
///
/// [`DevstackError::BinaryNotFound`] when no candidate exists.
pub fn locate_anvil(explicit: Option<&Path>) -> DevstackResult<PathBuf> {
    locate_anvil_with(explicit, env::var_os(ANVIL_ENV), env::current_dir().ok())
}

/// Finds the `nats-server` binary.
///
/// The search order is `explicit`, then the `NSED_NATS_SERVER` environment variable, then
/// `nats-server` on `PATH`, then `/usr/sbin/nats-server` (where Debian installs it, and which is
/// often not on an unprivileged user's `PATH`).
///
/// An explicit path or environment override that does not exist is an error; it does not fall
/// through to the other places.
///
/// # Errors
///
/// [`DevstackError::BinaryNotFound`] when no candidate exists.
pub fn locate_nats_server(explicit: Option<&Path>) -> DevstackResult<PathBuf> {
    locate_nats_server_with(explicit, env::var_os(NATS_SERVER_ENV))
}

pub(crate) fn locate_anvil_with(
    explicit: Option<&Path>,
    env_override: Option<OsString>,
    current_dir: Option<PathBuf>,
) -> DevstackResult<PathBuf> {
    const NAME: &str = "anvil";
    if let Some(path) = override_path(explicit, env_override) {
        return require_file(
            NAME,
            path,
            format!("check the path given to devstack or in {ANVIL_ENV}"),
        );
    }

    let relative = npm_anvil_relative_path();
    let mut searched = Vec::new();
    let roots = current_dir
        .iter()
        .flat_map(|dir| dir.ancestors())
        .map(Path::to_path_buf)
        .chain(std::iter::once(PathBuf::from(COMPILE_TIME_WORKSPACE_ROOT)));
    for root in roots {
        let candidate = root.join(&relative);
        if candidate.is_file() {
            return Ok(candidate);
        }
        searched.push(candidate);
    }
    if let Some(found) = search_path(NAME, &mut searched) {
        return Ok(found);
    }
    Err(DevstackError::BinaryNotFound {
        name: NAME,
        searched,
        hint: format!(
            "run `npm ci` in the repository root, or set {ANVIL_ENV} to the path of an anvil binary"
        ),
    })
}

pub(crate) fn locate_nats_server_with(
    explicit: Option<&Path>,
    env_override: Option<OsString>,
) -> DevstackResult<PathBuf> {
    const NAME: &str = "nats-server";
    if let Some(path) = override_path(explicit, env_override) {
        return require_file(
            NAME,
            path,
            format!("check the path given to devstack or in {NATS_SERVER_ENV}"),
        );
    }

    let mut searched = Vec::new();
    if let Some(found) = search_path(NAME, &mut searched) {
        return Ok(found);
    }
    let sbin = PathBuf::from("/usr/sbin").join(NAME);
    if sbin.is_file() {
        return Ok(sbin);
    }
    searched.push(sbin);
    Err(DevstackError::BinaryNotFound {
        name: NAME,
        searched,
        hint: format!(
            "run `apt-get install nats-server`, or set {NATS_SERVER_ENV} to the path of a \
             nats-server binary"
        ),
    })
}

fn override_path(explicit: Option<&Path>, env_override: Option<OsString>) -> Option<PathBuf> {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| env_override.filter(|value| !value.is_empty()).map(PathBuf::from))
}

fn require_file(name: &'static str, path: PathBuf, hint: String) -> DevstackResult<PathBuf> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(DevstackError::BinaryNotFound { name, searched: vec![path], hint })
    }
}

/// Looks `name` up on `PATH`, recording every miss in `searched`.
fn search_path(name: &str, searched: &mut Vec<PathBuf>) -> Option<PathBuf> {
    let file_name = format!("{name}{}", env::consts::EXE_SUFFIX);
    let path = env::var_os("PATH")?;
    for dir in env::split_paths(&path) {
        let candidate = dir.join(&file_name);
        if candidate.is_file() {
            return Some(candidate);
        }
        searched.push(candidate);
    }
    None
}

/// The path of the native anvil binary relative to a directory holding `node_modules`.
///
/// The `@foundry-rs/anvil` npm package ships its binary in a per-platform optional dependency;
/// its own `bin` entry is a Node shim, which we avoid so the process we kill is anvil itself.
fn npm_anvil_relative_path() -> PathBuf {
    let os = match env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    };
    let arch = match env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    PathBuf::from("node_modules")
        .join("@foundry-rs")
        .join(format!("anvil-{os}-{arch}"))
        .join("bin")
        .join(format!("anvil{}", env::consts::EXE_SUFFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_missing_path_is_binary_not_found_without_fallback() {
        let err = locate_anvil_with(Some(Path::new("/nonexistent/anvil")), None, None).unwrap_err();
        match err {
            DevstackError::BinaryNotFound { name, searched, .. } => {
                assert_eq!(name, "anvil");
                assert_eq!(searched, vec![PathBuf::from("/nonexistent/anvil")]);
            }
            other => panic!("unexpected error: {other:?}"),
        }
    }

    #[test]
    fn env_override_to_a_missing_path_is_binary_not_found() {
        let err =
            locate_nats_server_with(None, Some("/nonexistent/nats-server".into())).unwrap_err();
        assert!(matches!(err, DevstackError::BinaryNotFound { name: "nats-server", .. }));
    }

    #[test]
    fn explicit_path_wins_over_env_override() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("anvil");
        std::fs::write(&binary, b"").unwrap();
        let found =
            locate_anvil_with(Some(&binary), Some("/nonexistent/anvil".into()), None).unwrap();
        assert_eq!(found, binary);
    }

    #[test]
    fn empty_env_override_is_ignored() {
        assert_eq!(override_path(None, Some(OsString::new())), None);
    }

    #[test]
    fn anvil_is_found_in_node_modules_of_an_ancestor_directory() {
        let root = tempfile::tempdir().unwrap();
        let binary = root.path().join(npm_anvil_relative_path());
        std::fs::create_dir_all(binary.parent().unwrap()).unwrap();
        std::fs::write(&binary, b"").unwrap();
        let nested = root.path().join("a").join("b");
        std::fs::create_dir_all(&nested).unwrap();
        let found = locate_anvil_with(None, None, Some(nested)).unwrap();
        assert_eq!(found, binary);
    }

    #[test]
    fn npm_path_names_the_platform_package() {
        let path = npm_anvil_relative_path();
        let package = path.components().nth(2).unwrap().as_os_str().to_string_lossy().into_owned();
        assert!(package.starts_with("anvil-"), "{package}");
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            assert_eq!(package, "anvil-linux-amd64");
        }
    }
}
