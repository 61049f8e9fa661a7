//! Driving one job's deliberation over NATS, durably.
//!
//! Every accepted proposal or ballot and every phase close is appended to the job's log in the
//! store before the keeper moves on, so after a restart [`replay`] rebuilds the exact same
//! [`Deliberation`] and the keeper only waits for what is still missing. A phase that may have
//! been answered before (after a restart, a take-over or a failed step) reads the `NSED_RESULTS`
//! stream from its start, filtered to the job, round and phase, so answers that arrived while the
//! keeper was down are not lost; answers already in the log are rejected as duplicates and
//! ignored. Every other phase gets its results from the keeper-wide consumer ([`crate::results`]).

use std::{
    collections::{BTreeSet, HashMap},
    sync::atomic::Ordering,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use alloy::{
    primitives::{Address, B256, keccak256},
    signers::local::PrivateKeySigner,
};
use async_nats::jetstream::{
    Message,
    consumer::pull::{Ordered, OrderedConfig},
    stream::Stream,
};
use futures::StreamExt;
use nsed_bus::Bus;
use nsed_protocol::{
    deliberation::{Deliberation, RejectError, RoundError, Stage},
    halting::HaltReason,
    wire::{
        self, Phase, RESULTS_STREAM, SignedBallot, SignedProposal, SignedTask, Task, TaskFailure,
        failed_subject,
    },
};
use tracing::{debug, info, warn};

use crate::{
    KeeperError, Metrics,
    results::{Results, Route},
    store::{JobSpec, LogEvent, Store},
    timing::Part,
};

/// Applies a stored log to a fresh deliberation.
///
/// # Errors
///
/// [`KeeperError::Replay`] if the log does not apply (the database does not match the job).
pub fn replay(d: &mut Deliberation, events: Vec<LogEvent>) -> Result<(), KeeperError> {
    for event in events {
        let applied = match event {
            LogEvent::Proposal(p) => d.accept_proposal(p).map(|_| ()).map_err(|e| e.to_string()),
            LogEvent::Ballot(b) => d.accept_ballot(b).map(|_| ()).map_err(|e| e.to_string()),
            LogEvent::CloseProposals => d.close_proposals().map(|_| ()).map_err(|e| e.to_string()),
            LogEvent::CloseRound => d.close_round().map(|_| ()).map_err(|e| e.to_string()),
            LogEvent::Halt(reason) => d.halt(reason).map_err(|e| e.to_string()),
        };
        applied.map_err(|reason| KeeperError::Replay { job_id: d.job_id(), reason })?;
    }
    Ok(())
}

/// What drives a deliberation: the bus, the store, timing and the signing domain.
#[derive(Debug)]
pub(crate) struct Driver<'a> {
    /// Signs every task, so workers answer only this keeper (and never a forged task).
    pub(crate) signer: &'a PrivateKeySigner,
    pub(crate) bus: &'a Bus,
    /// Routes the results of phases nobody answered before.
    pub(crate) results: &'a Results,
    pub(crate) store: &'a Store,
    pub(crate) metrics: &'a Metrics,
    pub(crate) phase_timeout: Duration,
    pub(crate) chain_id: u64,
    pub(crate) market: Address,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

impl Driver<'_> {
    /// Runs `d` until it finishes. `seconds_left` tells how long until the job's deadline (chain
    /// time) so no round starts that cannot finish. Returns `false` when the deliberation cannot
    /// produce an answer at all (round 1 missed the quorum of proposals or ballots).
    pub(crate) async fn run(
        &self,
        d: &mut Deliberation,
        spec: &JobSpec,
        seconds_left: impl Fn() -> u64,
    ) -> Result<bool, KeeperError> {
        let job_id = d.job_id();
        loop {
            match d.stage().clone() {
                Stage::Finished(_) => return Ok(true),
                Stage::Proposing => {
                    let round_budget = 2 * self.phase_timeout.as_secs() + 5;
                    if d.round() > 1 && seconds_left() < round_budget {
                        self.log(job_id, d, LogEvent::Halt(HaltReason::Deadline))?;
                        return Ok(true);
                    }
                    let started = Instant::now();
                    self.collect(d, spec, Phase::Propose).await?;
                    match d.close_proposals() {
                        Ok(_) => self.store.append_event(job_id, &LogEvent::CloseProposals)?,
                        Err(RoundError::TooFewProposals { round, got, needed }) => {
                            warn!(target: "keeper::rounds", %job_id, round, got, needed, "too few proposals for the quorum");
                            return self.end_short(job_id, d);
                        }
                        Err(e) => {
                            return Err(KeeperError::Replay { job_id, reason: e.to_string() });
                        }
                    }
                    debug!(target: "keeper::rounds", %job_id, round = d.round(), ms = started.elapsed().as_millis() as u64, "proposals closed");
                }
                Stage::Evaluating(_) => {
                    self.collect(d, spec, Phase::Evaluate).await?;
                    let record = match d.close_round() {
                        Ok(record) => record,
                        Err(RoundError::TooFewBallots { round, got, needed }) => {
                            warn!(target: "keeper::rounds", %job_id, round, got, needed, "too few ballots for the quorum");
                            return self.end_short(job_id, d);
                        }
                        Err(e) => {
                            return Err(KeeperError::Replay { job_id, reason: e.to_string() });
                        }
                    };
                    info!(
                        target: "keeper::rounds",
                        %job_id,
                        round = record.round,
                        winner = ?record.winning_content(),
                        scores = ?record.scores,
                        "round closed"
                    );
                    self.store.append_event(job_id, &LogEvent::CloseRound)?;
                    self.metrics.rounds.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Ends a deliberation whose current round missed the quorum: without a closed round there
    /// is nothing to settle (`false`: the job is left to refund); otherwise it stops after the
    /// rounds before, which the market accepts only inside the job's round allowance of its
    /// deadline (the settlement waits for that).
    fn end_short(
        &self,
        job_id: alloy::primitives::U256,
        d: &mut Deliberation,
    ) -> Result<bool, KeeperError> {
        if d.rounds().is_empty() {
            return Ok(false);
        }
        self.log(job_id, d, LogEvent::Halt(HaltReason::Deadline))?;
        Ok(true)
    }

    fn log(
        &self,
        job_id: alloy::primitives::U256,
        d: &mut Deliberation,
        event: LogEvent,
    ) -> Result<(), KeeperError> {
        if let LogEvent::Halt(reason) = event {
            d.halt(reason).map_err(|e| KeeperError::Replay { job_id, reason: e.to_string() })?;
        }
        self.store.append_event(job_id, &event)?;
        Ok(())
    }

    /// Publishes the phase's signed task to every seat still missing, then accepts answers until
    /// every seat answered (or refused) or the phase times out.
    ///
    /// A refusal counts only if its agent signed it for the very task this call published to its
    /// seat: a failure naming any other task (forged, replayed, from before a restart) is
    /// ignored, so nobody else can make the keeper stop waiting for an agent. A seat's valid
    /// answer is accepted whenever it arrives before the phase ends, refusal or not.
    async fn collect(
        &self,
        d: &mut Deliberation,
        spec: &JobSpec,
        phase: Phase,
    ) -> Result<(), KeeperError> {
        let job_id = d.job_id();
        let round = d.round();
        let seats = d.seats().to_vec();
        let input = alloy::primitives::Bytes::copy_from_slice(&spec.input);
        let input_hash = keccak256(&spec.input);
        let domain = d.domain().clone();
        let proposals = match d.stage() {
            Stage::Evaluating(set) => set.contents.clone(),
            _ => Vec::new(),
        };
        let previous = d.previous_view();
        let deadline_ms = now_ms() + self.phase_timeout.as_millis() as u64;
        // Before the tasks go out, so no answer can come before the route.
        let route = self.results.route(job_id, round, phase);
        let mut published: HashMap<Address, B256> = HashMap::new();
        let mut tasks = Vec::new();
        let publishing = self.metrics.timings.start(Part::Publish);
        for seat in d.missing() {
            let task = Task {
                version: wire::WIRE_VERSION,
                job_id,
                round,
                phase,
                seat,
                seats: seats.clone(),
                credits: d.credits(),
                deadline_ms,
                chain_id: self.chain_id,
                market: self.market,
                kind: spec.kind.clone(),
                input: input.clone(),
                input_hash,
                proposals: proposals.clone(),
                previous: previous.clone(),
            };
            let sign_error = |source| KeeperError::SignTask { job_id, source };
            let signed = SignedTask::sign(self.signer, &task).map_err(sign_error)?;
            let (_, hash) = signed.read().map_err(sign_error)?;
            published.insert(seats[seat], hash);
            tasks.push(signed);
        }
        // Published together: each waits for the stream's acknowledgement, and the seats' tasks
        // do not depend on one another.
        let outcomes =
            futures::future::join_all(tasks.iter().map(|signed| self.bus.publish_task(signed)))
                .await;
        let stored = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        self.metrics.tasks_published.fetch_add(stored as u64, Ordering::Relaxed);
        outcomes.into_iter().collect::<Result<Vec<_>, _>>()?;
        drop(publishing);

        let mut incoming = match route {
            Some(route) => Incoming::Routed(route),
            None => self.replay(job_id, round, phase).await?,
        };
        let mut failed: BTreeSet<Address> = BTreeSet::new();
        let until = Instant::now() + self.phase_timeout;
        loop {
            let missing: Vec<usize> =
                d.missing().into_iter().filter(|s| !failed.contains(&seats[*s])).collect();
            if missing.is_empty() {
                break;
            }
            let left = until.saturating_duration_since(Instant::now());
            let routed = matches!(incoming, Incoming::Routed(_));
            // The keeper-wide consumer is ephemeral: a NATS cluster restarted as a whole loses
            // it, and it may stay silent until the client recreates it. A routed phase that
            // hears nothing for a quarter of its time reads its own consumer instead.
            let wait = if routed { left.min(self.phase_timeout / 4) } else { left };
            let waiting = self.metrics.timings.start(Part::Answers);
            let next = tokio::time::timeout(wait, incoming.next()).await;
            drop(waiting);
            let verifying = self.metrics.timings.start(Part::Verify);
            let Ok(next) = next else {
                if routed && wait < left {
                    debug!(target: "keeper::rounds", %job_id, round, %phase, "no result routed for a while; reading the phase's own consumer");
                    incoming = self.replay(job_id, round, phase).await?;
                    continue;
                }
                warn!(target: "keeper::rounds", %job_id, round, %phase, ?missing, "phase timed out; missing agents count as absent");
                break;
            };
            let message = match next {
                Next::Message(message) => message,
                Next::Skip => continue,
                // The keeper-wide consumer stopped: what it had not routed is read again, with
                // what was already accepted rejected as a duplicate.
                Next::Ended => {
                    incoming = self.replay(job_id, round, phase).await?;
                    continue;
                }
            };
            let subject = message.subject.as_str();
            if subject.ends_with(".failed") {
                match wire::decode::<TaskFailure>(&message.payload) {
                    Ok(failure)
                        if published.get(&failure.agent) == Some(&failure.task_hash)
                            && subject == failed_subject(job_id, round, phase, failure.agent)
                            && failure.verify(&domain).is_ok() =>
                    {
                        warn!(target: "keeper::rounds", %job_id, round, %phase, agent = %failure.agent, reason = %failure.reason, "agent refused the task");
                        failed.insert(failure.agent);
                    }
                    Ok(failure) => {
                        debug!(target: "keeper::rounds", %job_id, round, %phase, agent = %failure.agent, reason = %failure.reason, "ignoring a failure that is not the agent's signed refusal of this keeper's task");
                    }
                    Err(e) => {
                        debug!(target: "keeper::rounds", %job_id, error = %e, "undecodable failure");
                    }
                }
                continue;
            }
            let outcome = match phase {
                Phase::Propose => match wire::decode::<SignedProposal>(&message.payload) {
                    Ok(p) => d.accept_proposal(p.clone()).map(|_| LogEvent::Proposal(p)),
                    Err(e) => {
                        warn!(target: "keeper::rounds", %job_id, error = %e, "undecodable proposal");
                        continue;
                    }
                },
                Phase::Evaluate => match wire::decode::<SignedBallot>(&message.payload) {
                    Ok(b) => d.accept_ballot(b.clone()).map(|_| LogEvent::Ballot(b)),
                    Err(e) => {
                        warn!(target: "keeper::rounds", %job_id, error = %e, "undecodable ballot");
                        continue;
                    }
                },
            };
            match outcome {
                Ok(event) => {
                    drop(verifying);
                    self.store.append_event(job_id, &event)?;
                    self.metrics.results_accepted.fetch_add(1, Ordering::Relaxed);
                }
                Err(RejectError::Duplicate(_)) => {}
                Err(e) => {
                    warn!(target: "keeper::rounds", %job_id, round, %phase, error = %e, "result rejected");
                    self.metrics.results_rejected.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        incoming.close().await;
        Ok(())
    }
}

impl Driver<'_> {
    /// A consumer of the phase's results from the stream's start: also the answers stored
    /// before this keeper (re)started or before a failed step, which the workers do not send
    /// again (the stream drops a repeated answer as a duplicate).
    async fn replay(
        &self,
        job_id: alloy::primitives::U256,
        round: u32,
        phase: Phase,
    ) -> Result<Incoming, KeeperError> {
        let filter = format!("nsed.result.{job_id}.{round}.{phase}.>");
        let js_error = |operation: String, source: async_nats::Error| {
            KeeperError::Bus(nsed_bus::BusError::JetStream { operation, source })
        };
        // No `STREAM.INFO` request: the handle only names the stream.
        let stream = self
            .bus
            .jetstream()
            .get_stream_no_info(RESULTS_STREAM)
            .await
            .map_err(|e| js_error(format!("open {RESULTS_STREAM}"), e.into()))?;
        let consumer = stream
            .create_consumer(OrderedConfig { filter_subject: filter.clone(), ..Default::default() })
            .await
            .map_err(|e| js_error(format!("read {filter}"), e.into()))?;
        let name = consumer.cached_info().name.clone();
        let messages =
            consumer.messages().await.map_err(|e| js_error(format!("read {filter}"), e.into()))?;
        Ok(Incoming::Replayed(Box::new(Replayed { stream, name, messages })))
    }
}

/// Where a phase's results come from.
enum Incoming {
    /// The keeper-wide consumer ([`Results::route`]).
    Routed(Route),
    /// The phase's own consumer ([`Driver::replay`]).
    Replayed(Box<Replayed>),
}

/// A phase's own consumer and what deletes it.
struct Replayed {
    stream: Stream<()>,
    name: String,
    messages: Ordered,
}

/// What [`Incoming::next`] got.
enum Next {
    Message(Box<Message>),
    /// A consumer error: the ordered consumer recreates itself.
    Skip,
    /// The keeper-wide consumer stopped.
    Ended,
}

impl Incoming {
    async fn next(&mut self) -> Next {
        match self {
            Self::Routed(route) => route.next().await.map_or(Next::Ended, Next::Message),
            Self::Replayed(replayed) => match replayed.messages.next().await {
                Some(Ok(message)) => Next::Message(Box::new(message)),
                _ => Next::Skip,
            },
        }
    }

    /// Deletes the phase's own consumer: the server would keep it for its inactivity threshold
    /// (30 s), so with many jobs in flight the consumers of phases ended in the last 30 s would
    /// far outnumber the live ones. One left behind (the delete failed, or it was recreated
    /// under another name) still expires then.
    async fn close(self) {
        if let Self::Replayed(replayed) = self {
            let Replayed { stream, name, messages } = *replayed;
            drop(messages);
            if let Err(e) = stream.delete_consumer(&name).await {
                debug!(target: "keeper::rounds", consumer = %name, error = %e, "cannot delete a phase's result consumer");
            }
        }
    }
}
