//! The error type of the bus.

use std::{io, path::PathBuf};

/// Errors of the message bus, with the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Could not connect to the NATS server.
    #[error("cannot connect to NATS at {url}: {source}")]
    Connect {
        /// The server URL.
        url: String,
        /// The client's error.
        source: async_nats::ConnectError,
    },
    /// The server requires credentials and none were given.
    #[error(
        "NATS at {url} requires credentials: pass `--nats.creds <FILE>` with the user's seed or \
         .creds file"
    )]
    CredentialsRequired {
        /// The server URL.
        url: String,
        /// The client's error (an authorization violation).
        source: async_nats::ConnectError,
    },
    /// The server refused the credentials that were given.
    #[error(
        "the credentials in {} were refused by NATS at {url}: the server's configuration does not \
         list this user (a rotated or removed key stops working once the server reloads its \
         configuration)",
        path.display()
    )]
    CredentialsRefused {
        /// The server URL.
        url: String,
        /// The credentials file.
        path: PathBuf,
        /// The client's error (an authorization violation).
        source: async_nats::ConnectError,
    },
    /// The credentials file is missing or unreadable, or a `.creds` file cannot be parsed.
    #[error("cannot read NATS credentials file {}: {source}", path.display())]
    ReadCredentials {
        /// The credentials file.
        path: PathBuf,
        /// The I/O or parse error.
        source: io::Error,
    },
    /// The credentials file holds neither a `.creds` JWT nor a valid NKey user seed.
    #[error(
        "NATS credentials file {} holds neither a NATS .creds JWT nor a valid NKey user seed \
         (a line starting with `SU`): {source}",
        path.display()
    )]
    InvalidSeed {
        /// The credentials file.
        path: PathBuf,
        /// Why the seed was rejected.
        source: nkeys::error::Error,
    },
    /// A JetStream operation failed.
    #[error("{operation}: {source}")]
    JetStream {
        /// What was being done.
        operation: String,
        /// The client's error.
        source: async_nats::Error,
    },
    /// A stream is missing and this user may not create it.
    #[error(
        "stream {stream} does not exist and this NATS user may not create it: streams are created \
         by the operator user, so run `nsed nats streams` with the operator's credentials \
         (`nsed up` does it for its own server)"
    )]
    StreamCreateDenied {
        /// The missing stream.
        stream: &'static str,
    },
    /// The server refused an operation because this user lacks the permission for it.
    #[error(
        "{operation}: this NATS user may not {kind} `{subject}`; check the credentials (each \
         agent and keeper has its own, see docs/nats-auth.md)"
    )]
    PermissionDenied {
        /// What was being done.
        operation: String,
        /// Whether publishing or subscribing was refused.
        kind: crate::DenialKind,
        /// The subject that was refused.
        subject: String,
    },
    /// An existing stream does not capture the subjects NSED needs.
    #[error("stream {stream} exists but captures {found:?} instead of {expected}")]
    StreamMismatch {
        /// The stream.
        stream: &'static str,
        /// Its subjects.
        found: Vec<String>,
        /// The subject it must capture.
        expected: &'static str,
    },
    /// An existing stream keeps a different number of replicas than was asked for.
    #[error(
        "stream {stream} has {found} replica(s) but {requested} were asked for: pass \
         `--nats.replicas {found}` to use it as it is, or delete the stream (losing its messages) \
         so that it is created again with {requested}; nsed never changes an existing stream's \
         replicas"
    )]
    ReplicasMismatch {
        /// The stream.
        stream: &'static str,
        /// Its replica count.
        found: usize,
        /// The replica count asked for.
        requested: usize,
    },
}

impl BusError {
    pub(crate) fn js(operation: impl Into<String>, source: impl Into<async_nats::Error>) -> Self {
        Self::JetStream { operation: operation.into(), source: source.into() }
    }
}
