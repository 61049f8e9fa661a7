//! The error type of this crate.

use std::{io, path::PathBuf, process::ExitStatus, time::Duration};

/// Result alias for fallible devstack operations.
pub type DevstackResult<T> = Result<T, DevstackError>;

/// Everything that can go wrong while locating, starting, probing or stopping a local service.
///
/// Callers should branch on the variant; the messages are meant for humans.
#[derive(Debug, thiserror::Error)]
pub enum DevstackError {
    /// The service binary does not exist at any of the places that were searched.
    #[error("`{name}` binary not found (searched: {}); {hint}", display_paths(searched))]
    BinaryNotFound {
        /// The service, e.g. `anvil`.
        name: &'static str,
        /// Every path that was tried, in order.
        searched: Vec<PathBuf>,
        /// What the user can do about it.
        hint: String,
    },

    /// A temporary directory for logs or storage could not be created.
    #[error("failed to create a temporary directory for `{name}`: {source}")]
    TempDir {
        /// The service the directory was for.
        name: &'static str,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },

    /// No free TCP port could be reserved on `127.0.0.1`.
    #[error("failed to find a free port on 127.0.0.1: {0}")]
    FreePort(#[source] io::Error),

    /// The operating system refused to start the process.
    #[error("failed to spawn `{name}` from {}: {source}", binary.display())]
    Spawn {
        /// The service that failed to start.
        name: &'static str,
        /// The binary that was executed.
        binary: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },

    /// The process exited because its port was already taken.
    #[error(
        "`{name}` could not listen on 127.0.0.1:{port}: address already in use; log tail:\n{log_tail}"
    )]
    AddrInUse {
        /// The service that failed to bind.
        name: &'static str,
        /// The port that was taken.
        port: u16,
        /// The last lines the process wrote to stdout and stderr.
        log_tail: String,
    },

    /// The process exited before it became ready.
    #[error("`{name}` exited early with {status}; log tail:\n{log_tail}")]
    ExitedEarly {
        /// The service that exited.
        name: &'static str,
        /// How it exited.
        status: ExitStatus,
        /// The last lines the process wrote to stdout and stderr.
        log_tail: String,
    },

    /// The process kept running but did not pass its readiness probe in time.
    #[error(
        "`{name}` was not ready after {timeout:?} (last probe: {last_probe}); log tail:\n{log_tail}"
    )]
    NotReady {
        /// The service that was probed.
        name: &'static str,
        /// How long readiness was awaited.
        timeout: Duration,
        /// Why the last readiness probe failed.
        last_probe: String,
        /// The last lines the process wrote to stdout and stderr.
        log_tail: String,
    },

    /// Querying whether the process is still running failed.
    #[error("failed to query the status of `{name}` (pid {pid}): {source}")]
    Status {
        /// The service that was queried.
        name: &'static str,
        /// Its process id.
        pid: u32,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },

    /// Killing or reaping the process failed.
    #[error("failed to stop `{name}` (pid {pid}): {source}")]
    Stop {
        /// The service that was stopped.
        name: &'static str,
        /// Its process id.
        pid: u32,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nothing".to_owned();
    }
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}
