//! NATS authentication and authorisation for NSED: NKey users with per-role permissions, and
//! the nats-server configuration that lists them (docs/nats-auth.md).
//!
//! An [`AuthDir`] is a directory holding
//!
//! - `users.json`, the source of truth: the server settings and each user's role, name and
//!   NKey public key (never a seed);
//! - `creds/<name>.nk`, each user's NKey seed (mode 0600), the file a service passes to
//!   [`NatsConnect::with_creds`](crate::NatsConnect::with_creds);
//! - `nats-server.conf`, rendered from `users.json` after every change; a running server applies
//!   it when reloaded (`nats-server --signal reload=<pid>` or SIGHUP).
//!
//! Roles and their exact permissions are in [`Role::permissions`]: the operator may do
//! everything; a keeper publishes tasks and reads results and heartbeats; an agent reads only
//! its own task queue and publishes only its own results and heartbeats. Nobody but the operator
//! can create, change, purge or delete streams.
//!
//! ```no_run
//! use alloy_primitives::Address;
//! use nsed_bus::auth::{AuthDir, InitOptions};
//!
//! # fn main() -> Result<(), nsed_bus::auth::AuthError> {
//! let options = InitOptions::new("127.0.0.1:4222", "nats/jetstream");
//! let mut auth = AuthDir::init("nats", options)?;
//! let seed = auth.add_agent(Address::repeat_byte(1), false)?;
//! // Give `seed` to the agent's worker, then reload the server.
//! # let _ = seed;
//! # Ok(())
//! # }
//! ```

use std::{
    fs,
    io::{self, Write},
    os::unix::fs::{DirBuilderExt, PermissionsExt},
    path::{Path, PathBuf},
};

use alloy_primitives::Address;
use nkeys::KeyPair;
use serde::{Deserialize, Serialize};

mod config;
mod roles;
mod state;

pub use roles::{Allow, Permissions, Role};
pub use state::User;

use state::{STATE_VERSION, ServerSettings, State};

/// The operator's user name.
pub const OPERATOR: &str = "operator";
/// The name of the keeper [`AuthDir::init`] creates.
pub const DEFAULT_KEEPER: &str = "keeper";
/// The state file inside an [`AuthDir`].
pub const STATE_FILE: &str = "users.json";
/// The rendered server configuration inside an [`AuthDir`].
pub const CONFIG_FILE: &str = "nats-server.conf";
/// The directory of seed files inside an [`AuthDir`].
pub const CREDS_DIR: &str = "creds";

/// Seeds are secrets: only their owner may read them.
const SEED_MODE: u32 = 0o600;
const CREDS_DIR_MODE: u32 = 0o700;
/// The state and the configuration hold only public keys; the server may run as another user.
const PUBLIC_MODE: u32 = 0o644;

/// Errors of the auth configuration generator.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A file or directory could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. `write`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// [`AuthDir::init`] found an existing configuration.
    #[error(
        "{} already holds a NATS auth configuration ({STATE_FILE}): add or rotate users in it, or \
         choose another directory",
        dir.display()
    )]
    AlreadyInitialized {
        /// The directory.
        dir: PathBuf,
    },
    /// [`AuthDir::open`] found no configuration.
    #[error(
        "{} holds no NATS auth configuration ({STATE_FILE}): create one first (`nsed nats init`)",
        dir.display()
    )]
    NotInitialized {
        /// The directory.
        dir: PathBuf,
    },
    /// The state file cannot be parsed or is inconsistent.
    #[error("{} is not a valid NATS auth state file: {source}", path.display())]
    State {
        /// The state file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The state file is of a format version this code does not know.
    #[error("{} has format version {found}, this nsed reads version {STATE_VERSION}", path.display())]
    StateVersion {
        /// The state file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
    /// A user of that name exists and rotation was not asked for.
    #[error(
        "NATS user {name} already exists: rotate its key (`--rotate`) to issue a new seed, or \
         remove it first"
    )]
    UserExists {
        /// The user name.
        name: String,
    },
    /// No user of that name exists.
    #[error("no NATS user named {name}")]
    UnknownUser {
        /// The user name.
        name: String,
    },
    /// The operator cannot be removed: only it can administer streams.
    #[error(
        "the {OPERATOR} user cannot be removed (it alone administers the streams); rotate it instead"
    )]
    OperatorRequired,
    /// A keeper name that cannot be used.
    #[error("invalid keeper name `{name}`: {reason}")]
    InvalidKeeperName {
        /// The name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A path the configuration must contain is not UTF-8.
    #[error("{} is not valid UTF-8 and cannot be written into the server configuration", path.display())]
    NonUtf8Path {
        /// The path.
        path: PathBuf,
    },
    /// A new NKey seed could not be encoded.
    #[error("cannot encode a new NKey seed: {0}")]
    Seed(#[source] nkeys::error::Error),
}

/// Result alias of the auth generator.
pub type AuthResult<T> = Result<T, AuthError>;

/// The server's own TLS settings, written into its configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTls {
    /// The server's certificate (PEM).
    pub cert_file: PathBuf,
    /// The server certificate's private key (PEM).
    pub key_file: PathBuf,
    /// The CA bundle that client certificates are checked against (PEM).
    pub ca_file: Option<PathBuf>,
    /// Whether clients must present a certificate signed by `ca_file`.
    pub verify: bool,
}

/// The server settings [`AuthDir::init`] writes into the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOptions {
    /// `host:port` the server listens on, e.g. `127.0.0.1:4222`.
    pub listen: String,
    /// Where JetStream keeps its data; made absolute against the current directory.
    ///
    /// It is written into the file because nats-server 2.9 cannot reload a configuration
    /// while the store directory comes from the `-sd` flag; start the server without `-sd`.
    pub store_dir: PathBuf,
    /// TLS for the server, if any; its paths are made absolute too.
    pub tls: Option<ServerTls>,
}

impl InitOptions {
    /// Listens on `listen` and keeps JetStream data in `store_dir`, without TLS.
    pub fn new(listen: impl Into<String>, store_dir: impl Into<PathBuf>) -> Self {
        Self { listen: listen.into(), store_dir: store_dir.into(), tls: None }
    }

    /// Adds TLS.
    pub fn with_tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }
}

/// A directory of NATS users, their seeds and the server configuration; see the
/// [module docs](self).
///
/// Each change rewrites `users.json` and `nats-server.conf` atomically (write, then rename). Two
/// processes changing the same directory at once can lose one of the changes.
#[derive(Debug)]
pub struct AuthDir {
    dir: PathBuf,
    state: State,
}

impl AuthDir {
    /// Creates the configuration in `dir` (created if missing) with the operator and one keeper
    /// ([`DEFAULT_KEEPER`]); their seeds are at [`AuthDir::creds_path`].
    ///
    /// # Errors
    ///
    /// [`AuthError::AlreadyInitialized`] if `dir` already has a state file;
    /// [`AuthError::Io`] / [`AuthError::NonUtf8Path`] if the files cannot be written.
    pub fn init(dir: impl Into<PathBuf>, options: InitOptions) -> AuthResult<Self> {
        let dir = dir.into();
        if dir.join(STATE_FILE).exists() {
            return Err(AuthError::AlreadyInitialized { dir });
        }
        let absolute = |path: &Path| {
            std::path::absolute(path).map_err(|source| AuthError::Io {
                action: "resolve",
                path: path.to_path_buf(),
                source,
            })
        };
        let tls = match options.tls {
            Some(tls) => Some(ServerTls {
                cert_file: absolute(&tls.cert_file)?,
                key_file: absolute(&tls.key_file)?,
                ca_file: tls.ca_file.as_deref().map(absolute).transpose()?,
                verify: tls.verify,
            }),
            None => None,
        };
        let server = ServerSettings {
            listen: options.listen,
            store_dir: absolute(&options.store_dir)?,
            tls,
        };
        let mut auth =
            Self { dir, state: State { version: STATE_VERSION, server, users: Vec::new() } };
        fs::DirBuilder::new()
            .recursive(true)
            .create(&auth.dir)
            .map_err(|source| AuthError::Io { action: "create", path: auth.dir.clone(), source })?;
        auth.add(Role::Operator, false)?;
        auth.add(Role::Keeper { name: DEFAULT_KEEPER.to_owned() }, false)?;
        Ok(auth)
    }

    /// Opens the configuration in `dir`.
    ///
    /// # Errors
    ///
    /// [`AuthError::NotInitialized`] without a state file; [`AuthError::State`] /
    /// [`AuthError::StateVersion`] if it cannot be read.
    pub fn open(dir: impl Into<PathBuf>) -> AuthResult<Self> {
        let dir = dir.into();
        let path = dir.join(STATE_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(AuthError::NotInitialized { dir });
            }
            Err(source) => return Err(AuthError::Io { action: "read", path, source }),
        };
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let version: Version = serde_json::from_str(&text)
            .map_err(|source| AuthError::State { path: path.clone(), source })?;
        if version.version != STATE_VERSION {
            return Err(AuthError::StateVersion { path, found: version.version });
        }
        let state = serde_json::from_str(&text)
            .map_err(|source| AuthError::State { path: path.clone(), source })?;
        Ok(Self { dir, state })
    }

    /// Adds the agent `agent`, or with `rotate` gives it a new key; returns its seed file.
    ///
    /// After rotation the old seed keeps working until the server reloads its configuration.
    ///
    /// # Errors
    ///
    /// [`AuthError::UserExists`] if the agent exists and `rotate` is false; [`AuthError::Io`]
    /// if the files cannot be written.
    pub fn add_agent(&mut self, agent: Address, rotate: bool) -> AuthResult<PathBuf> {
        self.add(Role::Agent(agent), rotate)
    }

    /// Adds the keeper `name`, or with `rotate` gives it a new key; returns its seed file.
    ///
    /// # Errors
    ///
    /// [`AuthError::InvalidKeeperName`] unless `name` is 1–64 of `a-z 0-9 - _` and neither
    /// `operator` nor `agent-…`; otherwise as [`AuthDir::add_agent`].
    pub fn add_keeper(&mut self, name: &str, rotate: bool) -> AuthResult<PathBuf> {
        state::check_keeper_name(name)
            .map_err(|reason| AuthError::InvalidKeeperName { name: name.to_owned(), reason })?;
        self.add(Role::Keeper { name: name.to_owned() }, rotate)
    }

    /// Gives the operator a new key; returns its seed file.
    ///
    /// # Errors
    ///
    /// [`AuthError::Io`] if the files cannot be written.
    pub fn rotate_operator(&mut self) -> AuthResult<PathBuf> {
        self.add(Role::Operator, true)
    }

    /// Removes the user `name` (e.g. `keeper-2` or `agent-0x…`) and deletes its seed file.
    ///
    /// # Errors
    ///
    /// [`AuthError::UnknownUser`] if there is none; [`AuthError::OperatorRequired`] for the
    /// operator; [`AuthError::Io`] if the files cannot be written.
    pub fn remove(&mut self, name: &str) -> AuthResult<()> {
        if name == OPERATOR {
            return Err(AuthError::OperatorRequired);
        }
        let Some(index) = self.state.users.iter().position(|u| u.name == name) else {
            return Err(AuthError::UnknownUser { name: name.to_owned() });
        };
        self.state.users.remove(index);
        self.save()?;
        let seed = self.creds_path(name);
        match fs::remove_file(&seed) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => {
                Err(AuthError::Io { action: "delete", path: seed, source: err })
            }
            _ => Ok(()),
        }
    }

    /// The users, operator first.
    pub fn users(&self) -> &[User] {
        &self.state.users
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The rendered server configuration, `<dir>/nats-server.conf`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }

    /// The seed file of user `name`, `<dir>/creds/<name>.nk`.
    pub fn creds_path(&self, name: &str) -> PathBuf {
        self.dir.join(CREDS_DIR).join(format!("{name}.nk"))
    }

    /// Creates or re-keys the user of `role`, writes its seed, then the state and configuration.
    fn add(&mut self, role: Role, rotate: bool) -> AuthResult<PathBuf> {
        let name = role.user_name();
        let existing = self.state.users.iter().position(|u| u.name == name);
        if existing.is_some() && !rotate {
            return Err(AuthError::UserExists { name });
        }
        let key_pair = KeyPair::new_user();
        let seed = key_pair.seed().map_err(AuthError::Seed)?;
        let user = User::new(role, key_pair.public_key());
        match existing {
            Some(index) => self.state.users[index] = user,
            None => self.state.users.push(user),
        }
        let creds_dir = self.dir.join(CREDS_DIR);
        fs::DirBuilder::new().recursive(true).mode(CREDS_DIR_MODE).create(&creds_dir).map_err(
            |source| AuthError::Io { action: "create", path: creds_dir.clone(), source },
        )?;
        let path = self.creds_path(&name);
        write_atomic(&path, format!("{seed}\n").as_bytes(), SEED_MODE)?;
        self.save()?;
        Ok(path)
    }

    /// Writes the state file and renders the configuration from it.
    fn save(&self) -> AuthResult<()> {
        let config = config::render(&self.state)?;
        let mut state = serde_json::to_string_pretty(&self.state)
            .map_err(|source| AuthError::State { path: self.dir.join(STATE_FILE), source })?;
        state.push('\n');
        write_atomic(&self.dir.join(STATE_FILE), state.as_bytes(), PUBLIC_MODE)?;
        write_atomic(&self.config_path(), config.as_bytes(), PUBLIC_MODE)
    }
}

/// Writes `contents` to a temporary file beside `path` with `mode`, then renames it over
/// `path`, so readers see the old or the new file, never a partial one.
fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> AuthResult<()> {
    let io_err = |source| AuthError::Io { action: "write", path: path.to_path_buf(), source };
    let parent = path.parent().unwrap_or_else(|| Path::new("."));
    // The temporary file is created with mode 0600, so a seed is never readable by others.
    let mut file = tempfile::NamedTempFile::new_in(parent).map_err(io_err)?;
    file.write_all(contents).map_err(io_err)?;
    file.as_file().set_permissions(fs::Permissions::from_mode(mode)).map_err(io_err)?;
    file.as_file().sync_all().map_err(io_err)?;
    file.persist(path).map_err(|err| io_err(err.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn init_creates_operator_and_keeper_with_private_seeds() {
        let dir = tempfile::tempdir().unwrap();
        let auth = AuthDir::init(dir.path(), InitOptions::new("127.0.0.1:4222", "js")).unwrap();
        let names: Vec<_> = auth.users().iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, [OPERATOR, DEFAULT_KEEPER]);
        for user in auth.users() {
            let path = auth.creds_path(&user.name);
            let seed = fs::read_to_string(&path).unwrap();
            assert!(seed.starts_with("SU"));
            assert_eq!(KeyPair::from_seed(seed.trim()).unwrap().public_key(), user.public_key);
            assert_eq!(mode(&path), SEED_MODE);
        }
        assert_eq!(mode(&dir.path().join(CREDS_DIR)), CREDS_DIR_MODE);
        let state = fs::read_to_string(dir.path().join(STATE_FILE)).unwrap();
        assert!(!state.contains("\"SU"), "no seed in the state file");
        let again = AuthDir::init(dir.path(), InitOptions::new("127.0.0.1:4222", "js"));
        assert!(matches!(again, Err(AuthError::AlreadyInitialized { .. })));
    }

    #[test]
    fn adding_twice_needs_rotate_and_rotation_changes_the_key() {
        let dir = tempfile::tempdir().unwrap();
        AuthDir::init(dir.path(), InitOptions::new("127.0.0.1:4222", "js")).unwrap();
        let mut auth = AuthDir::open(dir.path()).unwrap();
        let agent = Address::repeat_byte(7);
        let path = auth.add_agent(agent, false).unwrap();
        let first = fs::read_to_string(&path).unwrap();
        assert!(matches!(auth.add_agent(agent, false), Err(AuthError::UserExists { .. })));
        assert_eq!(auth.add_agent(agent, true).unwrap(), path);
        let second = fs::read_to_string(&path).unwrap();
        assert_ne!(first, second);
        let reopened = AuthDir::open(dir.path()).unwrap();
        let user = reopened.users().iter().find(|u| u.role == Role::Agent(agent)).unwrap();
        assert_eq!(user.public_key, KeyPair::from_seed(second.trim()).unwrap().public_key());
        let config = fs::read_to_string(reopened.config_path()).unwrap();
        assert!(config.contains(&user.public_key));
        assert!(!config.contains(&KeyPair::from_seed(first.trim()).unwrap().public_key()));
    }

    #[test]
    fn removing_deletes_the_seed_and_the_user() {
        let dir = tempfile::tempdir().unwrap();
        let mut auth = AuthDir::init(dir.path(), InitOptions::new("127.0.0.1:4222", "js")).unwrap();
        let path = auth.add_keeper("keeper-2", false).unwrap();
        auth.remove("keeper-2").unwrap();
        assert!(!path.exists());
        assert!(AuthDir::open(dir.path()).unwrap().users().iter().all(|u| u.name != "keeper-2"));
        assert!(matches!(auth.remove("keeper-2"), Err(AuthError::UnknownUser { .. })));
        assert!(matches!(auth.remove(OPERATOR), Err(AuthError::OperatorRequired)));
        assert!(matches!(
            auth.add_keeper("operator", false),
            Err(AuthError::InvalidKeeperName { .. })
        ));
    }

    #[test]
    fn open_without_init_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(AuthDir::open(dir.path()), Err(AuthError::NotInitialized { .. })));
    }
}
