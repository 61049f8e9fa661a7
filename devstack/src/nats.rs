//! A local nats-server, with JetStream by default, optionally from a configuration file (e.g.
//! one with authorization, see `nsed_bus::auth`).

use std::{
    ffi::OsString,
    io::{BufRead, BufReader},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Command, ExitStatus},
    time::Duration,
};

use serde_json::Value;
use tempfile::TempDir;
use tracing::debug;

use crate::{
    DEFAULT_STARTUP_TIMEOUT,
    binary::locate_nats_server,
    error::{DevstackError, DevstackResult},
    process::{ProcessGuard, free_port, run_dir},
};

const NAME: &str = "nats-server";

/// How many times [`NatsServer::spawn`] tries when it picked the port itself and lost it to
/// another process between choosing and binding it.
const SPAWN_ATTEMPTS: usize = 3;

/// What nats-server logs once a reloaded configuration is in force, and when it rejects one.
const RELOADED: &str = "Reloaded server configuration";
const RELOAD_FAILED: &str = "Failed to reload server configuration";

/// How long a single readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How to start a nats-server.
///
/// Build one with [`Default`] and the `with_*` methods, or with a struct literal and
/// `..Default::default()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsConfig {
    /// The nats-server binary; `None` searches as
    /// [`locate_nats_server`] describes.
    pub binary: Option<PathBuf>,
    /// The client port to listen on; `None` picks a free one.
    pub port: Option<u16>,
    /// Whether to enable JetStream (`-js`).
    pub jetstream: bool,
    /// Where JetStream keeps its data (`-sd`); `None` uses a temporary directory owned by the
    /// instance and deleted with it, or, with a [`config_file`](Self::config_file), the
    /// directory that file names. A directory given here is kept.
    pub store_dir: Option<PathBuf>,
    /// A configuration file passed as `-c <file>` (authorization, TLS, ...). The flags this
    /// crate passes (`-a 127.0.0.1`, `-p`) override its `listen`.
    ///
    /// With a file, leave [`store_dir`](Self::store_dir) unset and name the store directory in
    /// the file (`jetstream { store_dir: ... }`): nats-server 2.9 refuses a store directory
    /// given both ways, and cannot [reload](NatsInstance::reload) a configuration while one
    /// came from `-sd`.
    pub config_file: Option<PathBuf>,
    /// Further arguments passed to nats-server verbatim, after the ones above.
    pub extra_args: Vec<OsString>,
    /// How long to wait for the server to greet a client.
    pub startup_timeout: Duration,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            binary: None,
            port: None,
            jetstream: true,
            store_dir: None,
            config_file: None,
            extra_args: Vec::new(),
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
        }
    }
}

impl NatsConfig {
    /// Uses the nats-server binary at `binary` instead of searching for one.
    pub fn with_binary(mut self, binary: impl Into<PathBuf>) -> Self {
        self.binary = Some(binary.into());
        self
    }

    /// Listens on `port` instead of a free one.
    pub const fn with_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Enables or disables JetStream.
    pub const fn with_jetstream(mut self, jetstream: bool) -> Self {
        self.jetstream = jetstream;
        self
    }

    /// Keeps JetStream data in `dir`, which outlives the instance.
    pub fn with_store_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.store_dir = Some(dir.into());
        self
    }

    /// Starts the server with the configuration file `file` (`-c <file>`).
    pub fn with_config_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.config_file = Some(file.into());
        self
    }

    /// Appends one argument passed to nats-server verbatim.
    pub fn with_arg(mut self, arg: impl Into<OsString>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    /// Sets how long to wait for the server to become ready.
    pub const fn with_startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }
}

/// What a running server announced in the `INFO` line it sends every new client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatsServerInfo {
    /// The server's unique id.
    pub server_id: String,
    /// The server version, e.g. `2.9.10`.
    pub version: String,
    /// Whether JetStream is enabled.
    pub jetstream: bool,
}

impl NatsServerInfo {
    /// Parses an `INFO {json}` protocol line.
    fn parse(line: &str) -> Result<Self, String> {
        let json = line
            .trim_end()
            .strip_prefix("INFO ")
            .ok_or_else(|| format!("expected an INFO line, got `{}`", line.trim_end()))?;
        let info: Value =
            serde_json::from_str(json).map_err(|err| format!("INFO is not JSON: {err}"))?;
        let string =
            |key: &str| info.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        Ok(Self {
            server_id: string("server_id"),
            version: string("version"),
            // Servers without JetStream omit the field rather than sending `false`.
            jetstream: info.get("jetstream").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

/// Starts nats-servers; see [`NatsServer::spawn`].
#[derive(Debug, Clone, Copy)]
pub struct NatsServer;

impl NatsServer {
    /// Starts nats-server on `127.0.0.1` and waits until it greets a client with an `INFO` line
    /// that reports JetStream as configured.
    ///
    /// The server sends `INFO` before any authentication, so the probe works when the
    /// configuration file requires credentials or TLS.
    ///
    /// When `config.port` is `None`, a free port is picked and the spawn is retried (up to three
    /// attempts) if another process takes the port first.
    ///
    /// # Errors
    ///
    /// - [`DevstackError::BinaryNotFound`] when no nats-server binary exists;
    /// - [`DevstackError::TempDir`] when the temporary store directory cannot be created;
    /// - [`DevstackError::Spawn`] when the binary cannot be executed;
    /// - [`DevstackError::AddrInUse`] when the port is taken (after the retries, if any);
    /// - [`DevstackError::ExitedEarly`] when the server exits before it is ready;
    /// - [`DevstackError::NotReady`] when it is not ready within `config.startup_timeout`.
    pub fn spawn(config: NatsConfig) -> DevstackResult<NatsInstance> {
        let binary = locate_nats_server(config.binary.as_deref())?;
        let (store_dir, owned_store) = match (&config.store_dir, &config.config_file) {
            (Some(dir), _) => (Some(dir.clone()), None),
            // The file names it; read it back from the server once it runs.
            (None, Some(_)) => (None, None),
            (None, None) => {
                let dir = tempfile::Builder::new()
                    .prefix("nsed-devstack-nats-store-")
                    .tempdir()
                    .map_err(|source| DevstackError::TempDir { name: NAME, source })?;
                (Some(dir.path().to_path_buf()), Some(dir))
            }
        };
        let attempts = if config.port.is_some() { 1 } else { SPAWN_ATTEMPTS };
        let mut attempt = 1;
        loop {
            let port = match config.port {
                Some(port) => port,
                None => free_port()?,
            };
            match spawn_once(&binary, &config, store_dir.as_deref(), port) {
                Ok((guard, info)) => {
                    let store_dir = store_dir
                        .or_else(|| logged_store_dir(guard.log_path()))
                        .unwrap_or_default();
                    return Ok(NatsInstance {
                        guard,
                        binary,
                        port,
                        info,
                        store_dir,
                        _owned_store: owned_store,
                    });
                }
                Err(DevstackError::AddrInUse { port, .. }) if attempt < attempts => {
                    debug!(target: "devstack::nats", port, attempt, "port taken, retrying");
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }
}

fn spawn_once(
    binary: &Path,
    config: &NatsConfig,
    store_dir: Option<&Path>,
    port: u16,
) -> DevstackResult<(ProcessGuard, NatsServerInfo)> {
    let mut command = Command::new(binary);
    // Flags given after the file override its settings, whatever their order; the file first
    // reads naturally.
    if let Some(file) = &config.config_file {
        command.arg("-c").arg(file);
    }
    command.arg("-a").arg("127.0.0.1").arg("-p").arg(port.to_string());
    if config.jetstream {
        command.arg("-js");
        if let Some(dir) = store_dir {
            command.arg("-sd").arg(dir);
        }
    }
    command.args(&config.extra_args);

    let mut guard = ProcessGuard::spawn(NAME, command, run_dir(NAME)?)?;
    let jetstream = config.jetstream;
    let info = guard.wait_ready(port, config.startup_timeout, || {
        let info = read_info(port)?;
        if info.jetstream != jetstream {
            return Err(format!("INFO reports jetstream {}, expected {jetstream}", info.jetstream));
        }
        Ok(info)
    })?;
    Ok((guard, info))
}

/// The store directory a running server logged (`Store Directory: "<dir>/jetstream"`), as the
/// directory `-sd` would have named: without the `jetstream` the server appends.
fn logged_store_dir(log: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().find_map(|line| line.split_once("Store Directory: \""))?.1;
    let dir = Path::new(line.strip_suffix('"')?);
    Some(if dir.ends_with("jetstream") { dir.parent()?.to_path_buf() } else { dir.to_path_buf() })
}

fn read_info(port: u16) -> Result<NatsServerInfo, String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)
        .map_err(|err| format!("connect to {addr}: {err}"))?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT)).map_err(|err| err.to_string())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).map_err(|err| format!("read INFO: {err}"))?;
    NatsServerInfo::parse(&line)
}

/// A running nats-server; killed when dropped, and its temporary store deleted after that.
#[derive(Debug)]
pub struct NatsInstance {
    // Field order matters: the guard kills the server before the store it writes to is deleted.
    guard: ProcessGuard,
    /// The binary, also used to send it signals.
    binary: PathBuf,
    port: u16,
    info: NatsServerInfo,
    store_dir: PathBuf,
    /// Deleted on drop, after `guard` has killed the server.
    _owned_store: Option<TempDir>,
}

impl NatsInstance {
    /// The client URL, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port the server listens on.
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// The operating-system process id.
    pub const fn pid(&self) -> u32 {
        self.guard.pid()
    }

    /// What the server announced when it became ready.
    pub const fn info(&self) -> &NatsServerInfo {
        &self.info
    }

    /// The JetStream store directory (whether or not JetStream is enabled); with a
    /// configuration file, the one the server reported (empty if it reported none).
    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    /// The file holding the server's log; deleted when the instance is.
    pub fn log_path(&self) -> &Path {
        self.guard.log_path()
    }

    /// Returns the exit status if the server has exited on its own, without blocking.
    ///
    /// # Errors
    ///
    /// [`DevstackError::Status`] when the operating system cannot be queried.
    pub fn try_wait(&mut self) -> DevstackResult<Option<ExitStatus>> {
        self.guard.try_wait()
    }

    /// Makes the server re-read its configuration file (`nats-server --signal reload=<pid>`)
    /// and waits until it logs that the new configuration is in force.
    ///
    /// Reloading applies changed users and permissions: a removed or re-keyed user can no
    /// longer connect, and its open connections are closed.
    ///
    /// # Errors
    ///
    /// - [`DevstackError::Spawn`] when the signal cannot be sent;
    /// - [`DevstackError::NotReady`] when the server rejects the new configuration (the log
    ///   tail says why) or does not confirm the reload within `timeout`.
    pub fn reload(&mut self, timeout: Duration) -> DevstackResult<()> {
        let log_path = self.guard.log_path().to_path_buf();
        let log = || std::fs::read_to_string(&log_path);
        let count =
            |text: &str| (text.matches(RELOADED).count(), text.matches(RELOAD_FAILED).count());
        let before = count(&log().unwrap_or_default());
        let signal_err =
            |source| DevstackError::Spawn { name: NAME, binary: self.binary.clone(), source };
        let output = Command::new(&self.binary)
            .arg("--signal")
            .arg(format!("reload={}", self.guard.pid()))
            .output()
            .map_err(signal_err)?;
        if !output.status.success() {
            return Err(DevstackError::NotReady {
                name: NAME,
                timeout,
                last_probe: format!(
                    "sending the reload signal failed: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
                log_tail: self.guard.log_tail(),
            });
        }
        let outcome = self.guard.wait_ready(self.port, timeout, || {
            let now = count(&log().map_err(|err| format!("read the log: {err}"))?);
            if now.1 > before.1 {
                Ok(Err("the server rejected the new configuration".to_owned()))
            } else if now.0 > before.0 {
                Ok(Ok(()))
            } else {
                Err("no reload in the log yet".to_owned())
            }
        })?;
        outcome.map_err(|last_probe| DevstackError::NotReady {
            name: NAME,
            timeout,
            last_probe,
            log_tail: self.guard.log_tail(),
        })
    }

    /// Kills the server, waits for it to exit, and deletes its temporary store. Dropping the
    /// instance does the same but cannot report failure.
    ///
    /// # Errors
    ///
    /// [`DevstackError::Stop`] when the process cannot be killed or reaped.
    pub fn stop(mut self) -> DevstackResult<()> {
        self.guard.stop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_line_with_jetstream_parses() {
        let line = "INFO {\"server_id\":\"NABC\",\"version\":\"2.9.10\",\"jetstream\":true} \r\n";
        let info = NatsServerInfo::parse(line).unwrap();
        assert_eq!(info.server_id, "NABC");
        assert_eq!(info.version, "2.9.10");
        assert!(info.jetstream);
    }

    #[test]
    fn info_line_without_jetstream_field_means_disabled() {
        let info = NatsServerInfo::parse("INFO {\"server_id\":\"N\"}\r\n").unwrap();
        assert!(!info.jetstream);
    }

    #[test]
    fn non_info_line_is_rejected() {
        assert!(NatsServerInfo::parse("-ERR 'Authorization Violation'\r\n").is_err());
    }

    #[test]
    fn a_server_requiring_auth_is_ready_and_reloads_its_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nats.conf");
        let store = dir.path().join("store");
        let jetstream = format!("jetstream {{ store_dir: {:?} }}\n", store.to_str().unwrap());
        std::fs::write(&file, format!("{jetstream}authorization {{ token: \"first\" }}\n"))
            .unwrap();
        let mut nats = NatsServer::spawn(NatsConfig::default().with_config_file(&file)).unwrap();
        assert!(nats.info().jetstream);
        assert_eq!(nats.store_dir(), store, "the store directory is the file's");

        std::fs::write(&file, format!("{jetstream}authorization {{ token: \"second\" }}\n"))
            .unwrap();
        nats.reload(Duration::from_secs(10)).unwrap();

        std::fs::write(&file, "authorization {\n").unwrap();
        let err = nats.reload(Duration::from_secs(10)).unwrap_err();
        assert!(matches!(err, DevstackError::NotReady { .. }), "{err}");
        assert!(nats.try_wait().unwrap().is_none(), "a rejected reload keeps the server up");
    }
}
