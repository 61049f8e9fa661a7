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
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

use std::time::Duration;

use alloy_primitives::Address;
use async_nats::jetstream::{
    self, Context,
    consumer::{AckPolicy, PullConsumer, pull},
    message::PublishMessage,
    stream::{self, Stream},
};
use bytes::Bytes;
use nsed_protocol::wire::{
    self, MAX_MESSAGE_BYTES, RESULTS_STREAM, RESULTS_WILDCARD, TASKS_STREAM, TASKS_WILDCARD,
    task_subject,
};

/// Window in which JetStream drops a message whose id it has already stored.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);
/// How long tasks and results are kept.
pub const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

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
    /// A JetStream operation failed.
    #[error("{operation}: {source}")]
    JetStream {
        /// What was being done.
        operation: String,
        /// The client's error.
        source: async_nats::Error,
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
}

impl BusError {
    fn js(operation: impl Into<String>, source: impl Into<async_nats::Error>) -> Self {
        Self::JetStream { operation: operation.into(), source: source.into() }
    }
}

/// A NATS connection with its JetStream context.
#[derive(Debug, Clone)]
pub struct Bus {
    client: async_nats::Client,
    jetstream: Context,
}

impl Bus {
    /// Connects to the NATS server at `url` (e.g. `nats://127.0.0.1:4222`).
    ///
    /// # Errors
    ///
    /// [`BusError::Connect`] when the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, BusError> {
        let client = async_nats::ConnectOptions::new()
            .name("nsed")
            .connect(url)
            .await
            .map_err(|source| BusError::Connect { url: url.to_string(), source })?;
        Ok(Self::from_client(client))
    }

    /// Wraps an existing client.
    pub fn from_client(client: async_nats::Client) -> Self {
        let jetstream = jetstream::new(client.clone());
        Self { client, jetstream }
    }

    /// The core NATS client.
    pub const fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The JetStream context.
    pub const fn jetstream(&self) -> &Context {
        &self.jetstream
    }

    /// Creates `NSED_TASKS` and `NSED_RESULTS` if missing, or checks the existing ones.
    ///
    /// # Errors
    ///
    /// [`BusError`] if JetStream is unavailable or a stream captures the wrong subjects.
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
            ..Default::default()
        };
        let mut stream = self
            .jetstream
            .get_or_create_stream(config)
            .await
            .map_err(|e| BusError::js(format!("cannot create or open stream {name}"), e))?;
        let info = stream
            .info()
            .await
            .map_err(|e| BusError::js(format!("cannot read stream {name}"), e))?;
        if !info.config.subjects.iter().any(|s| s == subject) {
            return Err(BusError::StreamMismatch {
                stream: name,
                found: info.config.subjects.clone(),
                expected: subject,
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
    /// [`BusError`] if the stream or consumer cannot be opened.
    pub async fn task_consumer(
        &self,
        agent: Address,
        ack_wait: Duration,
        max_deliver: i64,
    ) -> Result<PullConsumer, BusError> {
        let stream = self
            .jetstream
            .get_stream(TASKS_STREAM)
            .await
            .map_err(|e| BusError::js(format!("cannot open stream {TASKS_STREAM}"), e))?;
        let name = consumer_name(agent);
        stream
            .get_or_create_consumer(
                &name,
                pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: task_subject(agent),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait,
                    max_deliver,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| BusError::js(format!("cannot open consumer {name}"), e))
    }

    /// Publishes `payload` to a JetStream subject with a deduplicating message id and waits for
    /// the stream's acknowledgement. Returns whether the stream flagged it a duplicate.
    ///
    /// # Errors
    ///
    /// [`BusError`] if the publish or its acknowledgement fails.
    pub async fn publish_dedup(
        &self,
        subject: String,
        message_id: &str,
        payload: Vec<u8>,
    ) -> Result<bool, BusError> {
        let ack = self
            .jetstream
            .send_publish(
                subject.clone(),
                PublishMessage::build().payload(Bytes::from(payload)).message_id(message_id),
            )
            .await
            .map_err(|e| BusError::js(format!("cannot publish to {subject}"), e))?
            .await
            .map_err(|e| BusError::js(format!("no stream acknowledgement for {subject}"), e))?;
        Ok(ack.duplicate)
    }

    /// Publishes a task to its agent's queue (message id `<job>-<round>-<phase>-<agent>`).
    ///
    /// # Errors
    ///
    /// [`BusError`] if the publish fails; a task without a valid seat is published nowhere and
    /// reported as a JetStream error.
    pub async fn publish_task(&self, task: &wire::Task) -> Result<bool, BusError> {
        let agent = task.agent().ok_or_else(|| {
            BusError::js(
                "cannot publish a task",
                format!("seat {} is outside the {} seats", task.seat, task.seats.len()),
            )
        })?;
        let id = wire::task_message_id(task.job_id, task.round, task.phase, agent);
        self.publish_dedup(task_subject(agent), &id, wire::encode(task)).await
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

/// Durable consumer name of an agent's task queue (`worker-<address>`).
pub fn consumer_name(agent: Address) -> String {
    format!("worker-{agent:x}")
}

/// The message id of a result: same scheme as tasks, so each task has at most one stored answer.
pub fn result_message_id(task: &wire::Task, agent: Address, failed: bool) -> String {
    let id = wire::task_message_id(task.job_id, task.round, task.phase, agent);
    if failed { format!("{id}-failed") } else { id }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_names_are_valid_nats_tokens() {
        let name = consumer_name(Address::repeat_byte(0xab));
        assert_eq!(name, "worker-abababababababababababababababababababab");
        assert!(!name.contains('.') && !name.contains('*') && !name.contains('>'));
    }
}
