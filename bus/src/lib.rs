//! NSED message bus: the NATS JetStream layout keeper and workers share (docs/protocol.md).
//!
//! - Stream `NSED_TASKS` captures `nsed.task.>`; each agent has a durable pull consumer on its own
//!   subject ([`Bus::task_consumer`]). Tasks are published with the message id
//!   `<job>-<round>-<phase>-<agent>`, so a re-sent task inside the duplicate window is dropped by
//!   the server.
//! - Stream `NSED_RESULTS` captures `nsed.result.>`: signed proposals, ballots and `.failed`
//!   reports, also deduplicated by message id, so a worker that answers again after a crash
//!   cannot make a result appear twice.
//! - Heartbeats are core NATS publishes on `nsed.heartbeat.<agent>` (not stored).
//!
//! Both sides call [`Bus::ensure_streams`], which creates the streams or checks that existing
//! ones capture the right subjects.
//!
//! # Replication
//!
//! Both streams are kept in files (`storage: file`), with as many replicas as
//! [`NatsConnect::with_replicas`] asks for (one by default). On a JetStream cluster with three
//! replicas, a publish is acknowledged once a majority of the stream's servers stored it, so
//! one server may fail without losing an acknowledged task or result. An existing stream with a
//! different replica count is refused ([`BusError::ReplicasMismatch`]), never changed.
//!
//! # Authentication
//!
//! [`Bus::connect_with`] takes a [`NatsConnect`]: the URL, an NKey seed or `.creds` file, and TLS
//! files. [`auth`] generates the server side: one NKey user per role (operator, keepers, agents),
//! each allowed exactly the subjects its role needs, and the nats-server configuration that
//! lists them (docs/nats-auth.md). The server reports a refused publish or subscription only
//! asynchronously; [`Bus::permission_denials`] delivers those reports, and the bus's own
//! operations turn them into [`BusError::PermissionDenied`] or [`BusError::StreamCreateDenied`]
//! instead of waiting for a timeout.
//!
//! # Feature flags
//!
//! None.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

use std::{
    future::Future,
    time::{Duration, Instant},
};

use alloy_primitives::Address;
use async_nats::jetstream::{
    self, Context,
    consumer::{AckPolicy, PullConsumer, pull},
    context::PublishErrorKind,
    message::PublishMessage,
    stream::{self, Stream},
};
use bytes::Bytes;
use nsed_protocol::wire::{
    self, MAX_MESSAGE_BYTES, RESULTS_STREAM, RESULTS_WILDCARD, TASKS_STREAM, TASKS_WILDCARD,
    task_subject,
};
use tokio::sync::broadcast::{self, error::RecvError};
use tracing::debug;

pub mod auth;
mod connect;
mod error;

pub use connect::{DenialKind, NatsConnect, PermissionDenied, inbox_prefix};
pub use error::BusError;

/// Window in which JetStream drops a message whose id it has already stored.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);
/// How long tasks and results are kept.
pub const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long [`Bus::publish_dedup`] keeps sending a publish that no stream acknowledged: longer
/// than a JetStream cluster takes to elect a stream's new leader after losing a server, or to
/// come back after a restart of every server.
pub const PUBLISH_RETRY_FOR: Duration = Duration::from_secs(30);
/// The first and the longest pause between two tries of an unacknowledged publish.
const PUBLISH_BACKOFF_MIN: Duration = Duration::from_millis(100);
const PUBLISH_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The prefix of the JetStream API subjects (the default domain).
const JS_API: &str = "$JS.API";

/// A NATS connection with its JetStream context.
#[derive(Debug, Clone)]
pub struct Bus {
    client: async_nats::Client,
    jetstream: Context,
    /// Fans out the permission refusals the server reports on this connection.
    denials: broadcast::Sender<PermissionDenied>,
    /// The replica count [`Bus::ensure_streams`] asks for; `None` accepts any.
    replicas: Option<usize>,
}

impl Bus {
    /// Connects to the NATS server at `url` (e.g. `nats://127.0.0.1:4222`) without credentials;
    /// the same as [`Bus::connect_with`] with [`NatsConnect::new`].
    ///
    /// # Errors
    ///
    /// As [`Bus::connect_with`].
    pub async fn connect(url: &str) -> Result<Self, BusError> {
        Self::connect_with(&NatsConnect::new(url)).await
    }

    /// Connects as `connect` describes: with its credentials and TLS files, if any.
    ///
    /// The first connection is not retried in the background, so a refused credential fails
    /// here at once; later disconnections are retried.
    ///
    /// # Errors
    ///
    /// - [`BusError::ReadCredentials`] / [`BusError::InvalidSeed`] when the credentials file
    ///   cannot be read or holds no usable credentials;
    /// - [`BusError::CredentialsRefused`] when the server does not accept them;
    /// - [`BusError::CredentialsRequired`] when the server requires credentials and none were
    ///   given;
    /// - [`BusError::Connect`] for any other failure (unreachable server, TLS).
    pub async fn connect_with(connect: &NatsConnect) -> Result<Self, BusError> {
        let denials = connect::denials_channel();
        let client = connect
            .options(denials.clone())
            .await?
            .connect(connect.servers())
            .await
            .map_err(|source| connect.connect_error(source))?;
        let jetstream = jetstream::new(client.clone());
        Ok(Self { client, jetstream, denials, replicas: connect.replicas() })
    }

    /// Wraps an existing client. Permission refusals on it are not reported (the event callback
    /// is set when connecting), so a refused operation fails only when it times out. Streams are
    /// created with one replica and existing ones accepted with any count.
    pub fn from_client(client: async_nats::Client) -> Self {
        let jetstream = jetstream::new(client.clone());
        Self { client, jetstream, denials: connect::denials_channel(), replicas: None }
    }

    /// The core NATS client.
    pub const fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The JetStream context.
    pub const fn jetstream(&self) -> &Context {
        &self.jetstream
    }

    /// A receiver of the permission refusals the server reports on this connection from now on.
    ///
    /// The server drops a refused message and reports it as an error line, so this is the only
    /// way to learn that a publish or subscription was refused.
    pub fn permission_denials(&self) -> broadcast::Receiver<PermissionDenied> {
        self.denials.subscribe()
    }

    /// Runs `attempt` and waits up to `wait` for the server to report that it refused this
    /// connection to `kind` `subject`: `Ok(())` once it did, or `Err` with what the attempt
    /// returned when no such report came in time. A refused publish or subscription returns no
    /// error by itself, so this is how an operator or a test checks that a permission holds.
    ///
    /// # Errors
    ///
    /// The attempt's own output when the server did not refuse it.
    pub async fn refusal<T>(
        &self,
        kind: DenialKind,
        subject: &str,
        wait: Duration,
        attempt: impl Future<Output = T>,
    ) -> Result<(), T> {
        // Subscribed before `attempt` is first polled, so the report cannot be missed.
        let mut denials = self.permission_denials();
        let refusal = async move {
            loop {
                match denials.recv().await {
                    Ok(denied) if denied.kind == kind && denied.subject == subject => return,
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    // The connection is gone: no report can come any more.
                    Err(RecvError::Closed) => std::future::pending().await,
                }
            }
        };
        tokio::pin!(refusal);
        let outcome = tokio::select! {
            () = &mut refusal => return Ok(()),
            outcome = attempt => outcome,
        };
        tokio::time::timeout(wait, refusal).await.map_err(|_| outcome)
    }

    /// Runs `work`, unless the server first refuses a publish to one of `subjects`: then
    /// returns `denied(refusal)` at once instead of letting the request time out.
    async fn unless_denied<T>(
        &self,
        subjects: &[&str],
        denied: impl FnOnce(PermissionDenied) -> BusError,
        work: impl Future<Output = Result<T, BusError>>,
    ) -> Result<T, BusError> {
        // Subscribed before `work` is first polled, so no refusal of its requests is missed.
        let mut denials = self.denials.subscribe();
        let refusal = async {
            loop {
                match denials.recv().await {
                    Ok(d) if d.kind == DenialKind::Publish && subjects.contains(&&*d.subject) => {
                        return d;
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    // The sender lives as long as `self`; without it no refusal can come.
                    Err(RecvError::Closed) => std::future::pending::<()>().await,
                }
            }
        };
        tokio::select! {
            result = work => result,
            refusal = refusal => Err(denied(refusal)),
        }
    }

    /// Creates `NSED_TASKS` and `NSED_RESULTS` if missing, or checks the existing ones.
    ///
    /// Missing streams are created in files, with the replica count the connection asked for
    /// ([`NatsConnect::with_replicas`]; one if it asked for none). Only a user allowed to create
    /// streams (the operator, see [`auth`]) can create them; everyone else may only check them.
    ///
    /// # Errors
    ///
    /// - [`BusError::ReplicasMismatch`] when the connection asked for a replica count and an
    ///   existing stream has another (it is not changed: fewer replicas would silently lower
    ///   durability, and only the operator may edit streams);
    /// - [`BusError::StreamCreateDenied`] when a stream is missing and this user may not create
    ///   it;
    /// - [`BusError::PermissionDenied`] when this user may not even look the streams up;
    /// - [`BusError::StreamMismatch`] when a stream captures the wrong subjects;
    /// - [`BusError::JetStream`] when JetStream is unavailable.
    pub async fn ensure_streams(&self) -> Result<(Stream, Stream), BusError> {
        let tasks = self.ensure_stream(TASKS_STREAM, TASKS_WILDCARD).await?;
        let results = self.ensure_stream(RESULTS_STREAM, RESULTS_WILDCARD).await?;
        Ok((tasks, results))
    }

    async fn ensure_stream(
        &self,
        name: &'static str,
        subject: &'static str,
    ) -> Result<Stream, BusError> {
        let config = stream::Config {
            name: name.to_string(),
            subjects: vec![subject.to_string()],
            max_age: RETENTION,
            duplicate_window: DUPLICATE_WINDOW,
            max_message_size: i32::try_from(MAX_MESSAGE_BYTES).unwrap_or(i32::MAX),
            // File storage is also the server's default; spelled out because a memory stream
            // would lose every task and result on a restart, replicas or not.
            storage: stream::StorageType::File,
            num_replicas: self.replicas.unwrap_or(1),
            ..Default::default()
        };
        let info_subject = format!("{JS_API}.STREAM.INFO.{name}");
        let create_subject = format!("{JS_API}.STREAM.CREATE.{name}");
        let operation = format!("cannot create or open stream {name}");
        let info = self
            .unless_denied(
                &[&info_subject, &create_subject],
                |refusal| {
                    if refusal.subject == create_subject {
                        BusError::StreamCreateDenied { stream: name }
                    } else {
                        denied(&operation, refusal)
                    }
                },
                async {
                    let mut stream = self
                        .jetstream
                        .get_or_create_stream(config)
                        .await
                        .map_err(|e| BusError::js(&operation, e))?;
                    let info = stream
                        .info()
                        .await
                        .map_err(|e| BusError::js(format!("cannot read stream {name}"), e))?
                        .clone();
                    Ok((stream, info))
                },
            )
            .await;
        let (stream, info) = info?;
        if !info.config.subjects.iter().any(|s| s == subject) {
            return Err(BusError::StreamMismatch {
                stream: name,
                found: info.config.subjects,
                expected: subject,
            });
        }
        if let Some(requested) = self.replicas
            && info.config.num_replicas != requested
        {
            return Err(BusError::ReplicasMismatch {
                stream: name,
                found: info.config.num_replicas,
                requested,
            });
        }
        Ok(stream)
    }

    /// The durable pull consumer of `agent`'s task queue, created if missing.
    ///
    /// A message not acknowledged within `ack_wait` (workers send progress acks while busy) is
    /// redelivered, up to `max_deliver` times.
    ///
    /// # Errors
    ///
    /// [`BusError::PermissionDenied`] when this user may not open this agent's queue (each
    /// agent's credentials open only its own); [`BusError::JetStream`] if the stream or consumer
    /// cannot be opened.
    pub async fn task_consumer(
        &self,
        agent: Address,
        ack_wait: Duration,
        max_deliver: i64,
    ) -> Result<PullConsumer, BusError> {
        let name = consumer_name(agent);
        let filter = task_subject(agent);
        let operation = format!("cannot open consumer {name}");
        let subjects = [
            format!("{JS_API}.STREAM.INFO.{TASKS_STREAM}"),
            format!("{JS_API}.CONSUMER.INFO.{TASKS_STREAM}.{name}"),
            format!("{JS_API}.CONSUMER.CREATE.{TASKS_STREAM}.{name}.{filter}"),
        ];
        let subjects = subjects.each_ref().map(String::as_str);
        self.unless_denied(&subjects, |refusal| denied(&operation, refusal), async {
            let stream = self
                .jetstream
                .get_stream(TASKS_STREAM)
                .await
                .map_err(|e| BusError::js(format!("cannot open stream {TASKS_STREAM}"), e))?;
            stream
                .get_or_create_consumer(
                    &name,
                    pull::Config {
                        durable_name: Some(name.clone()),
                        filter_subject: filter.clone(),
                        ack_policy: AckPolicy::Explicit,
                        ack_wait,
                        max_deliver,
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| BusError::js(&operation, e))
        })
        .await
    }

    /// Publishes `payload` to a JetStream subject with a deduplicating message id and waits for
    /// the stream's acknowledgement. Returns whether the stream flagged it a duplicate.
    ///
    /// A publish that no stream answered (none found, e.g. while a cluster elects the stream's
    /// new leader after losing a server), that timed out or whose connection broke is sent
    /// again, with the same message id, for up to [`PUBLISH_RETRY_FOR`]: the id makes a repeat
    /// of a publish that was stored after all a duplicate, never a second message.
    ///
    /// # Errors
    ///
    /// [`BusError::PermissionDenied`] when this user may not publish to `subject`;
    /// [`BusError::JetStream`] if the publish or its acknowledgement fails for good or still
    /// fails after [`PUBLISH_RETRY_FOR`].
    pub async fn publish_dedup(
        &self,
        subject: String,
        message_id: &str,
        payload: Vec<u8>,
    ) -> Result<bool, BusError> {
        let operation = format!("cannot publish to {subject}");
        let payload = Bytes::from(payload);
        self.unless_denied(&[&subject], |refusal| denied(&operation, refusal), async {
            let give_up_at = Instant::now() + PUBLISH_RETRY_FOR;
            let mut backoff = PUBLISH_BACKOFF_MIN;
            loop {
                let message = PublishMessage::build().payload(payload.clone()).message_id(message_id);
                let (error, what) = match self.jetstream.send_publish(subject.clone(), message).await
                {
                    Ok(ack) => match ack.await {
                        Ok(ack) => return Ok(ack.duplicate),
                        Err(e) => (e, "no stream acknowledgement for"),
                    },
                    Err(e) => (e, "cannot publish to"),
                };
                let transient = matches!(
                    error.kind(),
                    PublishErrorKind::StreamNotFound
                        | PublishErrorKind::TimedOut
                        | PublishErrorKind::BrokenPipe
                );
                if !transient || Instant::now() + backoff >= give_up_at {
                    return Err(BusError::js(format!("{what} {subject}"), error));
                }
                debug!(target: "bus", %subject, %error, ?backoff, "publish not acknowledged; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(PUBLISH_BACKOFF_MAX);
            }
        })
        .await
    }

    /// Publishes a keeper-signed task to its agent's queue, under the message id
    /// [`wire::message_id`] (derived from the signature, so nobody can pre-empt it).
    ///
    /// # Errors
    ///
    /// [`BusError`] if the publish fails; a task that is unreadable or has no valid seat is
    /// published nowhere and reported as a JetStream error.
    pub async fn publish_task(&self, signed: &wire::SignedTask) -> Result<bool, BusError> {
        let (task, _) = signed.read().map_err(|e| BusError::js("cannot publish a task", e))?;
        let agent = task.agent().expect("read checks the seat");
        let id = wire::message_id(task.job_id, task.round, task.phase, agent, &signed.signature);
        self.publish_dedup(task_subject(agent), &id, wire::encode(signed)).await
    }

    /// Publishes a core NATS message (heartbeats), without persistence.
    ///
    /// # Errors
    ///
    /// [`BusError`] if the client is closed.
    pub async fn publish_core(&self, subject: String, payload: Vec<u8>) -> Result<(), BusError> {
        self.client
            .publish(subject.clone(), Bytes::from(payload))
            .await
            .map_err(|e| BusError::js(format!("cannot publish to {subject}"), e))
    }

    /// Flushes and closes the connection after in-flight publishes complete.
    ///
    /// # Errors
    ///
    /// [`BusError`] if draining fails.
    pub async fn drain(&self) -> Result<(), BusError> {
        self.client.drain().await.map_err(|e| BusError::js("cannot drain the NATS connection", e))
    }
}

/// The error for an operation the server refused.
fn denied(operation: &str, refusal: PermissionDenied) -> BusError {
    BusError::PermissionDenied {
        operation: operation.to_owned(),
        kind: refusal.kind,
        subject: refusal.subject,
    }
}

/// Durable consumer name of an agent's task queue (`worker-<address>`).
pub fn consumer_name(agent: Address) -> String {
    format!("worker-{agent:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Streams are kept in files with the replicas asked for; an existing stream with another
    /// count is refused, and accepted when no count is asked for.
    #[tokio::test]
    async fn streams_have_the_replicas_asked_for_and_refuse_another_count() {
        use nsed_devstack::{NatsCluster, NatsClusterConfig};
        let cluster =
            tokio::task::spawn_blocking(|| NatsCluster::spawn(NatsClusterConfig::default()))
                .await
                .unwrap()
                .unwrap();
        let connect = NatsConnect::new(cluster.url());
        let bus = Bus::connect_with(&connect.clone().with_replicas(3)).await.unwrap();
        let (mut tasks, mut results) = bus.ensure_streams().await.unwrap();
        for stream in [&mut tasks, &mut results] {
            let config = stream.info().await.unwrap().config.clone();
            assert_eq!((config.num_replicas, config.storage), (3, stream::StorageType::File));
        }
        Bus::connect_with(&connect).await.unwrap().ensure_streams().await.unwrap();
        let one = Bus::connect_with(&connect.with_replicas(1)).await.unwrap();
        let err = one.ensure_streams().await.unwrap_err();
        assert!(matches!(err, BusError::ReplicasMismatch { found: 3, requested: 1, .. }), "{err}");
        assert!(err.to_string().contains("--nats.replicas 3"), "{err}");
    }

    /// A single server cannot keep three replicas, and says so.
    #[tokio::test]
    async fn a_single_server_refuses_three_replicas() {
        use nsed_devstack::{NatsConfig, NatsServer};
        let nats = NatsServer::spawn(NatsConfig::default()).unwrap();
        let bus = Bus::connect_with(&NatsConnect::new(nats.url()).with_replicas(3)).await.unwrap();
        let err = bus.ensure_streams().await.unwrap_err();
        assert!(matches!(err, BusError::JetStream { .. }), "{err}");
    }

    #[test]
    fn consumer_names_are_valid_nats_tokens() {
        let name = consumer_name(Address::repeat_byte(0xab));
        assert_eq!(name, "worker-abababababababababababababababababababab");
        assert!(!name.contains('.') && !name.contains('*') && !name.contains('>'));
    }
}
