//! The worker service against a real nats-server with JetStream, real ONNX Runtime and the
//! committed models.

use std::time::Duration;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use futures::StreamExt;
use nsed_bus::Bus;
use nsed_devstack::{NatsConfig, NatsInstance, NatsServer};
use nsed_inference_worker::{Worker, WorkerConfig};
use nsed_protocol::{
    eip712, validate_ballot,
    wire::{
        self, AgentStatus, Heartbeat, Phase, SignedBallot, SignedProposal, TASK_KIND_TENSOR_F32,
        Task, TaskFailure,
    },
};
use tokio_util::sync::CancellationToken;

use crate::fixtures::{classifier, features};

const MODEL: &str = "knn_pool4x4";
const WAIT: Duration = Duration::from_secs(20);

/// A worker serving on a fresh nats-server, with a subscription to every result.
pub(crate) struct Running {
    _nats: NatsInstance,
    pub(crate) bus: Bus,
    pub(crate) agent: Address,
    other: Address,
    shutdown: CancellationToken,
    handle: tokio::task::JoinHandle<Result<(), nsed_inference_worker::WorkerError>>,
    results: async_nats::Subscriber,
}

impl Running {
    async fn start() -> Self {
        Self::start_with(|config, signer| Worker::new(config, signer, classifier(MODEL))).await
    }

    /// Starts the worker `make` builds from a configuration and a fresh agent key.
    pub(crate) async fn start_with(
        make: impl FnOnce(WorkerConfig, PrivateKeySigner) -> Worker,
    ) -> Self {
        let nats = NatsServer::spawn(NatsConfig::default()).unwrap();
        let signer = PrivateKeySigner::random();
        let agent = signer.address();
        let config = WorkerConfig {
            nats_url: nats.url(),
            heartbeat_interval: Duration::from_millis(200),
            ..WorkerConfig::default()
        };
        let bus = Bus::connect(&nats.url()).await.unwrap();
        bus.ensure_streams().await.unwrap();
        // Subscribe before any task is sent so no answer can be missed.
        let results = bus.client().subscribe("nsed.result.>").await.unwrap();
        let shutdown = CancellationToken::new();
        let worker = make(config, signer);
        let handle = tokio::spawn(worker.run(shutdown.clone()));
        Self {
            _nats: nats,
            bus,
            agent,
            other: Address::repeat_byte(0xff),
            shutdown,
            handle,
            results,
        }
    }

    fn seats(&self) -> Vec<Address> {
        let mut seats = vec![self.agent, self.other];
        seats.sort();
        seats
    }

    /// A round-1 task of job 77 for this worker's seat, with the digits input of test row `row`.
    pub(crate) fn task(&self, phase: Phase, row: usize) -> Task {
        let seats = self.seats();
        Task {
            version: wire::WIRE_VERSION,
            job_id: U256::from(77),
            round: 1,
            phase,
            seat: seats.iter().position(|s| *s == self.agent).unwrap(),
            seats,
            credits: 100,
            deadline_ms: u64::MAX,
            chain_id: 31337,
            market: Address::repeat_byte(0x4d),
            kind: TASK_KIND_TENSOR_F32.into(),
            input: serde_json::json!({"shape": [64], "values": features()[row].to_vec()}),
            proposals: Vec::new(),
            previous: None,
        }
    }

    pub(crate) async fn next_result(&mut self) -> async_nats::Message {
        tokio::time::timeout(WAIT, self.results.next()).await.expect("an answer in time").unwrap()
    }

    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.handle).await.expect("stops in time").unwrap().unwrap();
    }
}

#[tokio::test]
async fn a_worker_answers_propose_and_evaluate_with_verifiable_signatures() {
    let mut w = Running::start().await;
    let expected = classifier(MODEL).classify(&[features()[3]]).unwrap()[0].label.to_string();

    let task = w.task(Phase::Propose, 3);
    w.bus.publish_task(&task).await.unwrap();
    let msg = w.next_result().await;
    assert_eq!(msg.subject.as_str(), wire::result_subject(task.job_id, 1, Phase::Propose, w.agent));
    let proposal: SignedProposal = wire::decode(&msg.payload).unwrap();
    assert_eq!(proposal.agent, w.agent);
    assert_eq!(proposal.content, expected);
    assert!(proposal.confidence.is_some_and(|c| c > 0.0 && c <= 1.0));
    proposal.verify(&task.domain()).unwrap();

    let mut eval = w.task(Phase::Evaluate, 3);
    eval.proposals = eval
        .seats
        .iter()
        .map(|s| Some(if *s == w.agent { expected.clone() } else { "different".into() }))
        .collect();
    w.bus.publish_task(&eval).await.unwrap();
    let msg = w.next_result().await;
    let ballot: SignedBallot = wire::decode(&msg.payload).unwrap();
    ballot.verify(&eval.domain()).unwrap();
    assert_eq!(ballot.proposals_digest, eval.proposals_digest());
    validate_ballot(&ballot.votes, eval.seat, &[true, true], 100).unwrap();
    let other_seat = 1 - eval.seat;
    assert_eq!(ballot.weights[other_seat], -100, "an unparseable answer is ruled out");
    assert!(ballot.votes[other_seat] < 0);
    // The signature is bound to the market: another domain does not verify.
    let elsewhere = eip712::domain(31337, Address::repeat_byte(0x01));
    assert!(ballot.verify(&elsewhere).is_err());
    w.stop().await;
}

#[tokio::test]
async fn malformed_tasks_get_failed_results_and_the_worker_keeps_going() {
    let mut w = Running::start().await;
    let subject = wire::task_subject(w.agent);
    let js = w.bus.jetstream().clone();

    js.publish(subject.clone(), "{not json".into()).await.unwrap().await.unwrap();
    let msg = w.next_result().await;
    assert_eq!(msg.subject.as_str(), format!("nsed.result.unreadable.{:#x}.failed", w.agent));
    let failure: TaskFailure = wire::decode(&msg.payload).unwrap();
    assert!(failure.reason.contains("unreadable task"), "{}", failure.reason);
    assert_eq!(failure.job_id, None);

    let mut unknown = w.task(Phase::Propose, 0);
    unknown.kind = "text".into();
    unknown.round = 2;
    w.bus.publish_task(&unknown).await.unwrap();
    let msg = w.next_result().await;
    assert!(msg.subject.ends_with(".failed"));
    let failure: TaskFailure = wire::decode(&msg.payload).unwrap();
    assert!(failure.reason.contains("unknown task kind \"text\""), "{}", failure.reason);
    assert_eq!(
        (failure.job_id, failure.round, failure.phase),
        (Some(U256::from(77)), Some(2), Some(Phase::Propose))
    );

    let mut wrong_shape = w.task(Phase::Propose, 0);
    wrong_shape.round = 3;
    wrong_shape.input = serde_json::json!({"shape": [3], "values": [1.0, 2.0, 3.0]});
    w.bus.publish_task(&wrong_shape).await.unwrap();
    let failure: TaskFailure = wire::decode(&w.next_result().await.payload).unwrap();
    assert!(failure.reason.contains("the model takes 64 values"), "{}", failure.reason);

    let mut expired = w.task(Phase::Propose, 0);
    expired.round = 4;
    expired.deadline_ms = 1;
    w.bus.publish_task(&expired).await.unwrap();
    let failure: TaskFailure = wire::decode(&w.next_result().await.payload).unwrap();
    assert!(failure.reason.contains("deadline"), "{}", failure.reason);

    let mut misaddressed = w.task(Phase::Propose, 0);
    misaddressed.round = 5;
    misaddressed.seats = vec![Address::repeat_byte(1), Address::repeat_byte(2)];
    misaddressed.seat = 0;
    // Published straight onto this worker's subject although the seat names someone else.
    js.send_publish(
        subject.clone(),
        async_nats::jetstream::message::PublishMessage::build()
            .payload(wire::encode(&misaddressed).into()),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let failure: TaskFailure = wire::decode(&w.next_result().await.payload).unwrap();
    assert!(failure.reason.contains("reached agent"), "{}", failure.reason);

    let huge = vec![b' '; wire::MAX_MESSAGE_BYTES / 2];
    js.publish(subject, huge.into()).await.unwrap().await.unwrap();
    let failure: TaskFailure = wire::decode(&w.next_result().await.payload).unwrap();
    assert!(failure.reason.contains("unreadable"), "{}", failure.reason);

    let good = w.task(Phase::Propose, 1);
    w.bus.publish_task(&good).await.unwrap();
    let proposal: SignedProposal = wire::decode(&w.next_result().await.payload).unwrap();
    proposal.verify(&good.domain()).unwrap();
    w.stop().await;
}

#[tokio::test]
async fn heartbeats_report_the_model_and_the_status() {
    let nats = NatsServer::spawn(NatsConfig::default()).unwrap();
    let signer = PrivateKeySigner::random();
    let agent = signer.address();
    let bus = Bus::connect(&nats.url()).await.unwrap();
    let mut beats = bus.client().subscribe(wire::heartbeat_subject(agent)).await.unwrap();
    let config = WorkerConfig {
        nats_url: nats.url(),
        heartbeat_interval: Duration::from_millis(100),
        ..WorkerConfig::default()
    };
    let model = classifier(MODEL);
    let model_id = model.model_id();
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(Worker::new(config, signer, model).run(shutdown.clone()));
    let msg = tokio::time::timeout(WAIT, beats.next()).await.unwrap().unwrap();
    let beat: Heartbeat = wire::decode(&msg.payload).unwrap();
    assert_eq!((beat.agent, beat.model.as_str(), beat.status), (agent, MODEL, AgentStatus::Ready));
    assert_eq!(beat.model_id.0, model_id);
    assert_eq!(beat.capacity, 4);
    shutdown.cancel();
    tokio::time::timeout(WAIT, handle).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn a_worker_without_a_nats_server_fails_with_a_clear_error() {
    let port = nsed_devstack::free_port().unwrap();
    let config =
        WorkerConfig { nats_url: format!("nats://127.0.0.1:{port}"), ..WorkerConfig::default() };
    let err = Worker::new(config, PrivateKeySigner::random(), classifier(MODEL))
        .run(CancellationToken::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot connect to NATS"), "{err}");
}
