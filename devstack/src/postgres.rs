//! A throwaway PostgreSQL server: `initdb` in a temporary directory, `postgres` on `127.0.0.1`
//! at a free port (its unix socket inside that directory), one database created, everything
//! stopped and deleted on drop.
//!
//! PostgreSQL refuses to run as root. When this process is root (as in containers), `initdb`,
//! `postgres` and the client tools run as the `postgres` system user that Debian's package
//! creates (the child switches user itself before `exec`, so no wrapper process sits between the
//! guard and the server), and the temporary directory is handed to that user.

use std::{
    ffi::OsString,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use tempfile::TempDir;
use tracing::{debug, warn};

use crate::{
    DEFAULT_STARTUP_TIMEOUT,
    error::{DevstackError, DevstackResult},
    process::{ProcessGuard, free_port, run_dir},
};

const NAME: &str = "postgres";

/// Where Debian's `postgresql-<major>` packages put the server binaries.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// How many times [`Postgres::spawn`] tries when another process takes the picked port first.
const SPAWN_ATTEMPTS: usize = 3;

/// How to start a throwaway PostgreSQL server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// The directory holding `initdb`, `postgres`, `pg_ctl`, `pg_isready` and `createdb`; `None`
    /// searches as [`locate_postgres`] describes.
    pub bin_dir: Option<PathBuf>,
    /// The database created for the caller (in [`PostgresInstance::url`]).
    pub database: String,
    /// Further `-c name=value` settings for the server, after the throwaway defaults (no fsync).
    pub settings: Vec<(String, String)>,
    /// How long to wait for the server to accept connections.
    pub startup_timeout: Duration,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            bin_dir: None,
            database: "nsed".into(),
            settings: Vec::new(),
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
        }
    }
}

impl PostgresConfig {
    /// Uses the server binaries in `dir` instead of searching for them.
    pub fn with_bin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bin_dir = Some(dir.into());
        self
    }

    /// Names the database created for the caller.
    pub fn with_database(mut self, name: impl Into<String>) -> Self {
        self.database = name.into();
        self
    }

    /// Adds a server setting (`-c name=value`).
    pub fn with_setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((name.into(), value.into()));
        self
    }
}

/// Finds the PostgreSQL server binaries: `dir` if given, else the directory named by the
/// `NSED_POSTGRES_BIN` environment variable, else the newest `/usr/lib/postgresql/<major>/bin`
/// (Debian's layout), else the directory of an `initdb` on `PATH`.
///
/// # Errors
///
/// [`DevstackError::BinaryNotFound`] when none of them holds `initdb` and `postgres`.
pub fn locate_postgres(dir: Option<&Path>) -> DevstackResult<PathBuf> {
    let mut searched = Vec::new();
    let usable = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    let explicit = dir
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("NSED_POSTGRES_BIN").map(PathBuf::from));
    if let Some(d) = explicit {
        if usable(&d) {
            return Ok(d);
        }
        searched.push(d);
    } else {
        let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_ROOT)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let major = e.file_name().to_str()?.parse::<u32>().ok()?;
                Some((major, e.path().join("bin")))
            })
            .collect();
        majors.sort();
        for (_, d) in majors.into_iter().rev() {
            if usable(&d) {
                return Ok(d);
            }
            searched.push(d);
        }
        searched.push(PathBuf::from(DEBIAN_ROOT).join("*/bin"));
        for d in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            if usable(&d) {
                return Ok(d);
            }
        }
        searched.push(PathBuf::from("$PATH"));
    }
    Err(DevstackError::BinaryNotFound {
        name: "initdb",
        searched,
        hint: "install Debian's `postgresql` package (scripts/setup.sh does) or set \
               NSED_POSTGRES_BIN to the directory holding initdb and postgres"
            .into(),
    })
}

/// The system user PostgreSQL runs as when this process is root: `postgres`'s uid and gid.
fn server_user() -> DevstackResult<Option<(u32, u32)>> {
    if !is_root() {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let mut parts = line.split(':');
            if parts.next()? != "postgres" {
                return None;
            }
            let uid = parts.nth(1)?.parse().ok()?;
            let gid = parts.next()?.parse().ok()?;
            Some(Some((uid, gid)))
        })
        .ok_or_else(|| DevstackError::BinaryNotFound {
            name: "postgres user",
            searched: vec![PathBuf::from("/etc/passwd")],
            hint:
                "PostgreSQL refuses to run as root; install Debian's `postgresql` package, which \
                   creates the `postgres` system user, or run as another user"
                    .into(),
        })
}

/// Whether this process runs as root, read from `/proc/self/status` (no libc needed).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|rest| rest.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// Starts throwaway PostgreSQL servers; see [`Postgres::spawn`].
#[derive(Debug, Clone, Copy)]
pub struct Postgres;

impl Postgres {
    /// Runs `initdb` in a new temporary directory, starts `postgres` on `127.0.0.1` at a free
    /// port, waits until `pg_isready` reports that it accepts connections, and creates
    /// `config.database`.
    ///
    /// # Errors
    ///
    /// - [`DevstackError::BinaryNotFound`] when the binaries (or, as root, the `postgres` user)
    ///   are missing;
    /// - [`DevstackError::TempDir`] when the temporary directory cannot be created;
    /// - [`DevstackError::Spawn`] when a binary cannot be executed;
    /// - [`DevstackError::ExitedEarly`] when `initdb` or `createdb` fails, or the server exits
    ///   before it is ready;
    /// - [`DevstackError::AddrInUse`] when the port is taken after the retries;
    /// - [`DevstackError::NotReady`] when it does not accept connections within
    ///   `config.startup_timeout`.
    pub fn spawn(config: PostgresConfig) -> DevstackResult<PostgresInstance> {
        let bin = locate_postgres(config.bin_dir.as_deref())?;
        let user = server_user()?;
        let dir = tempfile::Builder::new()
            .prefix("nsed-devstack-postgres-")
            .tempdir()
            .map_err(|source| DevstackError::TempDir { name: NAME, source })?;
        let temp_err = |source| DevstackError::TempDir { name: NAME, source };
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).map_err(temp_err)?;
        }
        let data = dir.path().join("data");
        let socket_dir = dir.path().join("socket");
        std::fs::create_dir(&socket_dir).map_err(temp_err)?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&socket_dir, Some(uid), Some(gid)).map_err(temp_err)?;
        }
        run_tool(
            &bin,
            "initdb",
            user,
            dir.path(),
            [
                "-D".into(),
                data.clone().into_os_string(),
                "-U".into(),
                "postgres".into(),
                "--auth=trust".into(),
                "--encoding=UTF8".into(),
                "--locale=C".into(),
                "--no-sync".into(),
            ],
        )?;
        let mut attempt = 1;
        loop {
            let port = free_port()?;
            match spawn_server(&bin, &config, user, &data, &socket_dir, port) {
                Ok(guard) => {
                    let instance = PostgresInstance {
                        guard,
                        bin,
                        user,
                        data,
                        port,
                        database: config.database.clone(),
                        dir,
                    };
                    run_tool(
                        &instance.bin,
                        "createdb",
                        user,
                        instance.dir.path(),
                        [
                            "-h".into(),
                            "127.0.0.1".into(),
                            "-p".into(),
                            port.to_string().into(),
                            "-U".into(),
                            "postgres".into(),
                            config.database.clone().into(),
                        ],
                    )?;
                    return Ok(instance);
                }
                Err(DevstackError::AddrInUse { port, .. }) if attempt < SPAWN_ATTEMPTS => {
                    debug!(target: "devstack::postgres", port, attempt, "port taken, retrying");
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }
}

/// A command for one of the server's binaries, as the server's user when this process is root.
fn command(bin: &Path, tool: &str, user: Option<(u32, u32)>, cwd: &Path) -> Command {
    let mut command = Command::new(bin.join(tool));
    // A working directory the server's user can enter (the caller's may be root-only).
    command.current_dir(cwd);
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid).env("HOME", cwd).env("USER", "postgres");
    }
    command
}

/// Runs a tool to completion, failing with its output when it exits unsuccessfully.
fn run_tool<I: IntoIterator<Item = OsString>>(
    bin: &Path,
    tool: &'static str,
    user: Option<(u32, u32)>,
    cwd: &Path,
    args: I,
) -> DevstackResult<()> {
    let output =
        command(bin, tool, user, cwd).args(args).stdin(Stdio::null()).output().map_err(
            |source| DevstackError::Spawn { name: tool, binary: bin.join(tool), source },
        )?;
    if output.status.success() {
        return Ok(());
    }
    let mut log_tail = String::from_utf8_lossy(&output.stdout).into_owned();
    log_tail.push_str(&String::from_utf8_lossy(&output.stderr));
    Err(DevstackError::ExitedEarly { name: tool, status: output.status, log_tail })
}

fn spawn_server(
    bin: &Path,
    config: &PostgresConfig,
    user: Option<(u32, u32)>,
    data: &Path,
    socket_dir: &Path,
    port: u16,
) -> DevstackResult<ProcessGuard> {
    let mut server = command(bin, "postgres", user, socket_dir);
    server
        .arg("-D")
        .arg(data)
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(socket_dir)
        .args(["-c", "listen_addresses=127.0.0.1"])
        // A throwaway database: durability buys nothing and costs the tests' time.
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
        // A fresh cluster writes every WAL segment it needs as 16 MB of zeros first; a
        // long-running server reuses the segments its checkpoints free, which this makes the
        // fresh one match (otherwise its first minutes of writes cost a seventh more CPU).
        .args(["-c", "wal_init_zero=off"]);
    for (name, value) in &config.settings {
        server.arg("-c").arg(format!("{name}={value}"));
    }
    let mut guard = ProcessGuard::spawn(NAME, server, run_dir(NAME)?)?;
    let cwd = socket_dir.to_path_buf();
    guard.wait_ready(port, config.startup_timeout, || {
        let status = command(bin, "pg_isready", user, &cwd)
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("pg_isready: {e}"))?;
        if status.success() { Ok(()) } else { Err(format!("pg_isready: {status}")) }
    })?;
    Ok(guard)
}

/// A running throwaway PostgreSQL server; stopped and its directory deleted on drop.
#[derive(Debug)]
pub struct PostgresInstance {
    guard: ProcessGuard,
    bin: PathBuf,
    user: Option<(u32, u32)>,
    data: PathBuf,
    port: u16,
    database: String,
    /// Deleted after the server has stopped (fields drop after `Drop::drop`).
    dir: TempDir,
}

impl PostgresInstance {
    /// The connection URL of the created database:
    /// `postgres://postgres@127.0.0.1:<port>/<database>` (trust authentication on loopback).
    pub fn url(&self) -> String {
        self.url_of(&self.database)
    }

    /// The connection URL of another database on this server.
    pub fn url_of(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates another database on this server (for tests that want two).
    ///
    /// # Errors
    ///
    /// [`DevstackError::ExitedEarly`] when `createdb` fails.
    pub fn create_database(&self, name: &str) -> DevstackResult<String> {
        run_tool(
            &self.bin,
            "createdb",
            self.user,
            self.dir.path(),
            [
                "-h".into(),
                "127.0.0.1".into(),
                "-p".into(),
                self.port.to_string().into(),
                "-U".into(),
                "postgres".into(),
                name.into(),
            ],
        )?;
        Ok(self.url_of(name))
    }

    /// The TCP port the server listens on.
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// The server's log file.
    pub fn log_path(&self) -> &Path {
        self.guard.log_path()
    }
}

impl Drop for PostgresInstance {
    fn drop(&mut self) {
        // An immediate shutdown stops the postmaster and its backends together (a kill of the
        // postmaster alone would leave backends finishing on their own); the guard then reaps it.
        let stopped = command(&self.bin, "pg_ctl", self.user, self.dir.path())
            .args(["stop", "-m", "immediate", "-w", "-D"])
            .arg(&self.data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !matches!(stopped, Ok(s) if s.success()) {
            warn!(target: "devstack::postgres", port = self.port, ?stopped, "pg_ctl stop failed; killing the server");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_bin_dir_is_reported_with_the_fix() {
        let err = locate_postgres(Some(Path::new("/nonexistent/pg/bin"))).unwrap_err();
        assert!(matches!(err, DevstackError::BinaryNotFound { name: "initdb", .. }), "{err}");
    }

    #[test]
    fn spawns_accepts_connections_and_deletes_everything_on_drop() {
        let pg = Postgres::spawn(PostgresConfig::default()).unwrap();
        let url = pg.url();
        assert!(
            url.starts_with("postgres://postgres@127.0.0.1:") && url.ends_with("/nsed"),
            "{url}"
        );
        let other = pg.create_database("second").unwrap();
        assert!(other.ends_with("/second"), "{other}");
        let port = pg.port();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        let dir = pg.dir.path().to_path_buf();
        drop(pg);
        assert!(!dir.exists(), "{} is left behind", dir.display());
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
