//! How to reach and authenticate to a NATS server, and how the server's refusals are reported.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use async_nats::{ConnectErrorKind, ConnectOptions, Event, ServerError};
use nkeys::{
    KeyPair, KeyPairType,
    error::{Error as NkeyError, ErrorKind as NkeyErrorKind},
};
use tokio::sync::broadcast;
use tracing::{debug, info, warn};

use crate::BusError;

/// The marker line that opens the JWT of a standard NATS `.creds` file.
const CREDS_JWT_MARKER: &str = "-----BEGIN NATS USER JWT-----";

/// How many refusals a [`broadcast`] receiver may fall behind before it loses the oldest.
const DENIALS_CAPACITY: usize = 64;

/// Where and how to connect to NATS: the URL, the user's credentials and TLS files, and how many
/// replicas the streams should have.
///
/// Build one with [`NatsConnect::new`] and the `with_*` methods. Giving any TLS file makes TLS
/// required, so a server without TLS is refused instead of being spoken to in the clear.
///
/// The URL may list several servers of one cluster, separated by commas (as `NATS_URL` does for
/// the other NATS clients): the client connects to any of them and, when that one goes away,
/// reconnects to another.
///
/// ```
/// use nsed_bus::NatsConnect;
/// let connect = NatsConnect::new("nats://127.0.0.1:4222,nats://127.0.0.1:4223")
///     .with_creds("nats/creds/keeper.nk")
///     .with_tls_ca("nats/ca.pem")
///     .with_replicas(3);
/// assert!(connect.requires_tls());
/// assert_eq!(connect.servers(), ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"]);
/// assert_eq!(connect.replicas(), Some(3));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsConnect {
    url: String,
    creds: Option<PathBuf>,
    tls_ca: Option<PathBuf>,
    tls_client: Option<(PathBuf, PathBuf)>,
    replicas: Option<usize>,
}

impl NatsConnect {
    /// Connects to `url` (e.g. `nats://127.0.0.1:4222`, or several servers separated by commas)
    /// without credentials or TLS files, accepting the streams' replica count as it is.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), creds: None, tls_ca: None, tls_client: None, replicas: None }
    }

    /// Asks for streams with `replicas` copies, each on its own server of the cluster:
    /// [`Bus::ensure_streams`](crate::Bus::ensure_streams) creates missing streams with that many
    /// and refuses existing ones that have a different count. Without it, streams are created
    /// with one replica and existing ones are accepted with any count.
    pub const fn with_replicas(mut self, replicas: usize) -> Self {
        self.replicas = Some(replicas);
        self
    }

    /// Authenticates with the credentials in `path`: an NKey user seed file (a line starting
    /// with `SU`, as `nsed_bus::auth` writes them) or a standard NATS `.creds` file (a user JWT
    /// and its seed).
    pub fn with_creds(mut self, path: impl Into<PathBuf>) -> Self {
        self.creds = Some(path.into());
        self
    }

    /// Trusts the certificate authorities in the PEM bundle at `path` (instead of the system's
    /// roots) for the server's certificate, and requires TLS.
    pub fn with_tls_ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls_ca = Some(path.into());
        self
    }

    /// Presents the client certificate `cert` with its private key `key` (PEM files) to a
    /// server that verifies clients, and requires TLS.
    pub fn with_tls_client(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls_client = Some((cert.into(), key.into()));
        self
    }

    /// The server URL, as given (possibly several, separated by commas).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Each server of [`NatsConnect::url`], in the order given.
    pub fn servers(&self) -> Vec<&str> {
        self.url.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()
    }

    /// The replica count asked for with [`NatsConnect::with_replicas`], if any.
    pub const fn replicas(&self) -> Option<usize> {
        self.replicas
    }

    /// The credentials file, if any.
    pub fn creds(&self) -> Option<&Path> {
        self.creds.as_deref()
    }

    /// The CA bundle, if any.
    pub fn tls_ca(&self) -> Option<&Path> {
        self.tls_ca.as_deref()
    }

    /// The client certificate and key files, if any.
    pub fn tls_client(&self) -> Option<(&Path, &Path)> {
        self.tls_client.as_ref().map(|(cert, key)| (cert.as_path(), key.as_path()))
    }

    /// Whether TLS is required: true as soon as any TLS file is given.
    pub const fn requires_tls(&self) -> bool {
        self.tls_ca.is_some() || self.tls_client.is_some()
    }

    /// The async-nats options for this connection; `denials` receives every permission refusal
    /// the server reports.
    pub(crate) async fn options(
        &self,
        denials: broadcast::Sender<PermissionDenied>,
    ) -> Result<ConnectOptions, BusError> {
        let url = self.url.clone();
        let mut options = ConnectOptions::new()
            .name("nsed")
            // Retrying in the background would hide a refused credential behind endless
            // reconnects; async-nats's default is off, and it stays off here on purpose.
            .event_callback(move |event| {
                let denials = denials.clone();
                let url = url.clone();
                async move { report(&url, event, &denials) }
            });
        if let Some(path) = &self.creds {
            options = match Credentials::load(path).await? {
                Credentials::Seed { seed, public_key } => {
                    // Each NKey user may subscribe only below its own inbox prefix, so no user
                    // can read the replies (acks, JetStream API answers) meant for another.
                    options.nkey(seed).custom_inbox_prefix(inbox_prefix(&public_key))
                }
                // A JWT user's permissions come from whoever signed the JWT; keep the default
                // `_INBOX` prefix those permissions usually allow.
                Credentials::Jwt => options
                    .credentials_file(path)
                    .await
                    .map_err(|source| BusError::ReadCredentials { path: path.clone(), source })?,
            };
        }
        if let Some(ca) = &self.tls_ca {
            options = options.add_root_certificates(ca.clone());
        }
        if let Some((cert, key)) = &self.tls_client {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        Ok(options.require_tls(self.requires_tls()))
    }

    /// Turns a failed connection into the error that tells the user what to fix.
    pub(crate) fn connect_error(&self, source: async_nats::ConnectError) -> BusError {
        let url = self.url.clone();
        match (source.kind(), &self.creds) {
            (ConnectErrorKind::AuthorizationViolation, Some(path)) => {
                BusError::CredentialsRefused { url, path: path.clone(), source }
            }
            (ConnectErrorKind::AuthorizationViolation, None) => {
                BusError::CredentialsRequired { url, source }
            }
            _ => BusError::Connect { url, source },
        }
    }
}

/// The inbox prefix of the NKey user `public_key`: `_INBOX_<public key>`.
///
/// Replies to this user's requests (JetStream API answers, publish acknowledgements, pulled
/// messages) arrive below it; the auth configuration lets each user subscribe only there.
///
/// ```
/// assert_eq!(nsed_bus::inbox_prefix("UABC"), "_INBOX_UABC");
/// ```
pub fn inbox_prefix(public_key: &str) -> String {
    format!("_INBOX_{public_key}")
}

/// The two kinds of credentials file.
enum Credentials {
    /// An NKey user seed and its public key.
    Seed { seed: String, public_key: String },
    /// A standard `.creds` file, loaded by async-nats.
    Jwt,
}

impl Credentials {
    async fn load(path: &Path) -> Result<Self, BusError> {
        let text = tokio::fs::read_to_string(path)
            .await
            .map_err(|source| BusError::ReadCredentials { path: path.to_path_buf(), source })?;
        if text.contains(CREDS_JWT_MARKER) {
            return Ok(Self::Jwt);
        }
        let invalid = |source| BusError::InvalidSeed { path: path.to_path_buf(), source };
        let seed = text.trim();
        let key_pair = KeyPair::from_seed(seed).map_err(invalid)?;
        if key_pair.key_pair_type() != KeyPairType::User {
            return Err(invalid(NkeyError::new(
                NkeyErrorKind::IncorrectKeyType,
                Some("the seed is not a user seed (those start with `SU`)"),
            )));
        }
        Ok(Self::Seed { seed: seed.to_owned(), public_key: key_pair.public_key() })
    }
}

/// What the server refused: publishing to a subject or subscribing to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialKind {
    /// A publish (including JetStream API requests and acknowledgements).
    Publish,
    /// A subscription.
    Subscribe,
}

impl fmt::Display for DenialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Publish => "publish to",
            Self::Subscribe => "subscribe to",
        })
    }
}

/// A permission refusal reported by the server, e.g.
/// `Permissions Violation for Publish to "nsed.task.0x…"`.
///
/// The server drops a refused publish and tells the client asynchronously; the request that
/// carried it would only time out. [`Bus::permission_denials`](crate::Bus::permission_denials)
/// delivers these reports as they arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionDenied {
    /// Publish or subscribe.
    pub kind: DenialKind,
    /// The refused subject.
    pub subject: String,
}

impl PermissionDenied {
    /// Parses the server's error text; `None` for any other error.
    ///
    /// ```
    /// use nsed_bus::{DenialKind, PermissionDenied};
    /// let denied =
    ///     PermissionDenied::parse(r#"Permissions Violation for Publish to "nsed.task.0xab""#)
    ///         .unwrap();
    /// assert_eq!(denied.kind, DenialKind::Publish);
    /// assert_eq!(denied.subject, "nsed.task.0xab");
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("Permissions Violation for ")?;
        let (kind, rest) = if let Some(rest) = rest.strip_prefix("Publish to ") {
            (DenialKind::Publish, rest)
        } else if let Some(rest) = rest.strip_prefix("Subscription to ") {
            // Queue subscriptions add ` using queue "<group>"` after the subject.
            (DenialKind::Subscribe, rest)
        } else {
            return None;
        };
        let subject = rest.strip_prefix('"')?.split('"').next()?;
        Some(Self { kind, subject: subject.to_owned() })
    }
}

/// Logs a connection event and forwards permission refusals to `denials`.
fn report(url: &str, event: Event, denials: &broadcast::Sender<PermissionDenied>) {
    match event {
        Event::ServerError(ServerError::Other(text)) => match PermissionDenied::parse(&text) {
            Some(denied) => {
                warn!(target: "bus", url, kind = ?denied.kind, subject = %denied.subject, "nats permission denied");
                // No receiver is fine: nobody is waiting for this refusal.
                let _ = denials.send(denied);
            }
            None => warn!(target: "bus", url, error = %text, "nats server error"),
        },
        Event::ServerError(error) => warn!(target: "bus", url, %error, "nats server error"),
        Event::Disconnected => warn!(target: "bus", url, "disconnected from nats"),
        Event::Connected => info!(target: "bus", url, "connected to nats"),
        event => debug!(target: "bus", url, %event, "nats connection event"),
    }
}

/// The sender that fans permission refusals out to every [`broadcast::Receiver`] subscribed.
pub(crate) fn denials_channel() -> broadcast::Sender<PermissionDenied> {
    broadcast::channel(DENIALS_CAPACITY).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_errors_parse_by_kind() {
        let table = [
            (r#"Permissions Violation for Publish to "a.b""#, Some((DenialKind::Publish, "a.b"))),
            (
                r#"Permissions Violation for Subscription to "_INBOX.>""#,
                Some((DenialKind::Subscribe, "_INBOX.>")),
            ),
            (
                r#"Permissions Violation for Subscription to "x" using queue "q""#,
                Some((DenialKind::Subscribe, "x")),
            ),
            (r#"Permissions Violation for Publish with Reply of "r""#, None),
            ("Slow Consumer", None),
        ];
        for (text, expected) in table {
            let parsed = PermissionDenied::parse(text).map(|d| (d.kind, d.subject));
            assert_eq!(parsed, expected.map(|(k, s)| (k, s.to_owned())), "{text}");
        }
    }

    #[tokio::test]
    async fn seed_files_are_validated_and_named_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.nk");
        let err = Credentials::load(&missing).await.err().unwrap();
        assert!(matches!(&err, BusError::ReadCredentials { path, .. } if path == &missing));

        let garbage = dir.path().join("garbage.nk");
        std::fs::write(&garbage, "not a seed\n").unwrap();
        let err = Credentials::load(&garbage).await.err().unwrap();
        assert!(matches!(&err, BusError::InvalidSeed { path, .. } if path == &garbage));

        let account = dir.path().join("account.nk");
        std::fs::write(&account, KeyPair::new_account().seed().unwrap()).unwrap();
        let err = Credentials::load(&account).await.err().unwrap();
        assert!(matches!(&err, BusError::InvalidSeed { path, .. } if path == &account));

        let user = KeyPair::new_user();
        let good = dir.path().join("user.nk");
        std::fs::write(&good, format!("{}\n", user.seed().unwrap())).unwrap();
        let Ok(Credentials::Seed { public_key, .. }) = Credentials::load(&good).await else {
            panic!("a user seed loads");
        };
        assert_eq!(public_key, user.public_key());
    }
}
