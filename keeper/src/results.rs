//! The results of the phases this keeper runs, read through one consumer.
//!
//! A consumer per phase, filtered to the phase's subjects and reading the stream from its start,
//! finds every answer, also those stored before the keeper (re)started; but with one for every
//! phase, nats-server's CPU per job was the largest of the stack and grew with the stream (10 ms
//! over a 600-job benchmark, 14 ms over 1,500; about 3 ms with the shared consumer below). A
//! phase that nobody can have answered before — of a
//! job this keeper process claimed first, collected for the first time — needs no search: its
//! results are all still to come. Those are read by one keeper-wide consumer of every new result
//! and routed to the phase by subject ([`Results::route`]); every other phase (a job resumed
//! after a restart, taken over from another keeper, or retried after a failed step) keeps its
//! own consumer, which replays what is stored. So does a routed phase once the shared consumer
//! stops, or stays silent for a quarter of the phase's time: it is ephemeral, and a NATS cluster
//! restarted as a whole loses it until the client recreates it.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use alloy::primitives::U256;
use async_nats::jetstream::{
    Message,
    consumer::{DeliverPolicy, pull::OrderedConfig},
};
use futures::StreamExt;
use nsed_bus::{Bus, BusError};
use nsed_protocol::wire::{Phase, RESULTS_STREAM, RESULTS_WILDCARD};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::KeeperError;

/// The keeper-wide result consumer and the phases waiting on it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Results {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Phases being collected, by `<job>.<round>.<phase>`.
    routes: Mutex<HashMap<String, mpsc::UnboundedSender<Box<Message>>>>,
    /// Jobs this process claimed first whose deliberation has not run a step yet.
    fresh: Mutex<HashSet<U256>>,
    /// Whether the consumer is reading; once it stops, every phase gets its own consumer.
    live: AtomicBool,
}

impl Results {
    /// Creates the consumer of every result stored from now on and starts routing them until
    /// `shutdown`. Must run before the first task of a fresh job is published.
    ///
    /// # Errors
    ///
    /// [`KeeperError::Bus`] if the consumer cannot be created.
    pub(crate) async fn start(
        bus: &Bus,
        shutdown: CancellationToken,
    ) -> Result<(Self, impl Future<Output = ()> + Send + 'static), KeeperError> {
        let js_error = |operation: &str, source: async_nats::Error| {
            KeeperError::Bus(BusError::JetStream { operation: operation.to_owned(), source })
        };
        let stream = bus
            .jetstream()
            .get_stream_no_info(RESULTS_STREAM)
            .await
            .map_err(|e| js_error(&format!("open {RESULTS_STREAM}"), e.into()))?;
        let consumer = stream
            .create_consumer(OrderedConfig {
                filter_subject: RESULTS_WILDCARD.to_owned(),
                deliver_policy: DeliverPolicy::New,
                ..Default::default()
            })
            .await
            .map_err(|e| js_error(&format!("read {RESULTS_WILDCARD}"), e.into()))?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| js_error(&format!("read {RESULTS_WILDCARD}"), e.into()))?;
        let results = Self::default();
        results.inner.live.store(true, Ordering::Release);
        let inner = results.inner.clone();
        let routing = async move {
            loop {
                let next = tokio::select! {
                    biased;
                    () = shutdown.cancelled() => break,
                    next = messages.next() => next,
                };
                match next {
                    Some(Ok(message)) => inner.deliver(message),
                    // The ordered consumer recreates itself after a gap or a lost server.
                    Some(Err(e)) => {
                        debug!(target: "keeper::results", error = %e, "result consumer error")
                    }
                    None => {
                        warn!(target: "keeper::results", "the keeper-wide result consumer ended; every phase reads its own from now on");
                        break;
                    }
                }
            }
            inner.live.store(false, Ordering::Release);
            // Ends every routed phase's channel: each then opens its own consumer.
            inner.routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        };
        Ok((results, routing))
    }

    /// Marks `job_id` as claimed first by this process: no task of it was ever published.
    pub(crate) fn claimed_first(&self, job_id: U256) {
        self.inner.fresh.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(job_id);
    }

    /// Ends `job_id`'s freshness: its deliberation step ran (its later steps resume phases whose
    /// tasks may have been answered already).
    pub(crate) fn step_ended(&self, job_id: U256) {
        self.inner.fresh.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&job_id);
    }

    /// The results of `job_id`'s `phase` of `round`, routed from the keeper-wide consumer, when
    /// nobody can have answered it before: the job is fresh and the consumer reads. `None`: the
    /// phase needs its own consumer. Call before publishing the phase's tasks.
    pub(crate) fn route(&self, job_id: U256, round: u32, phase: Phase) -> Option<Route> {
        let fresh = self.inner.fresh.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !fresh.contains(&job_id) || !self.inner.live.load(Ordering::Acquire) {
            return None;
        }
        let key = format!("{job_id}.{round}.{phase}");
        let (sender, receiver) = mpsc::unbounded_channel();
        let mut routes =
            self.inner.routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Checked under the routes' lock, which the routing task takes to clear them when it
        // stops: a route added after that would never end.
        if !self.inner.live.load(Ordering::Acquire) {
            return None;
        }
        routes.insert(key.clone(), sender);
        Some(Route { key, receiver, inner: self.inner.clone() })
    }
}

impl Inner {
    /// Hands `message` to the phase its subject (`nsed.result.<job>.<round>.<phase>.<agent>…`)
    /// names, if it is being collected; anything else is dropped.
    fn deliver(&self, message: Message) {
        let Some(key) = phase_key(message.subject.as_str()) else { return };
        let routes = self.routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(sender) = routes.get(key) {
            // A closed channel is a phase that just ended.
            let _ = sender.send(Box::new(message));
        }
    }
}

/// `<job>.<round>.<phase>` of a result subject.
fn phase_key(subject: &str) -> Option<&str> {
    let rest = subject.strip_prefix("nsed.result.")?;
    let end = rest.match_indices('.').nth(2).map_or(rest.len(), |(i, _)| i);
    Some(&rest[..end])
}

/// One phase's results, as the keeper-wide consumer reads them; unregistered when dropped.
#[derive(Debug)]
pub(crate) struct Route {
    key: String,
    receiver: mpsc::UnboundedReceiver<Box<Message>>,
    inner: Arc<Inner>,
}

impl Route {
    /// The next result; `None` once the keeper-wide consumer stopped.
    pub(crate) async fn next(&mut self) -> Option<Box<Message>> {
        self.receiver.recv().await
    }
}

impl Drop for Route {
    fn drop(&mut self) {
        self.inner
            .routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_subject_names_its_phase() {
        let agent = "0x00000000000000000000000000000000000000aa";
        assert_eq!(phase_key(&format!("nsed.result.12.3.propose.{agent}")), Some("12.3.propose"));
        assert_eq!(
            phase_key(&format!("nsed.result.12.3.evaluate.{agent}.failed")),
            Some("12.3.evaluate")
        );
        assert_eq!(phase_key("nsed.result.12.3"), Some("12.3"));
        assert_eq!(phase_key("nsed.task.12"), None);
    }

    #[test]
    fn only_a_fresh_job_is_routed_and_a_route_is_gone_once_dropped() {
        let results = Results::default();
        results.inner.live.store(true, Ordering::Release);
        let job = U256::from(7);
        assert!(results.route(job, 1, Phase::Propose).is_none(), "not claimed here first");
        results.claimed_first(job);
        let route = results.route(job, 1, Phase::Propose).expect("fresh");
        assert!(results.inner.routes.lock().unwrap().contains_key("7.1.propose"));
        drop(route);
        assert!(results.inner.routes.lock().unwrap().is_empty());
        results.step_ended(job);
        assert!(results.route(job, 1, Phase::Evaluate).is_none(), "a later step replays");
        results.claimed_first(job);
        results.inner.live.store(false, Ordering::Release);
        assert!(results.route(job, 1, Phase::Evaluate).is_none(), "the consumer stopped");
    }
}
