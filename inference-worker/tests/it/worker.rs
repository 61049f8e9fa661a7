//! The worker service against a real nats-server with JetStream, real ONNX Runtime and the
//! committed models.

use std::time::Duration;

use alloy_primitives::{Address, B256, Signature, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use futures::{StreamExt, TryStreamExt};
use nsed_bus::{Bus, NatsConnect};
use nsed_devstack::{NatsConfig, NatsInstance, NatsServer};
use nsed_inference_worker::{Worker, WorkerConfig};
use nsed_protocol::{
    eip712, validate_ballot,
    wire::{
        self, AgentStatus, Heartbeat, Phase, SignedBallot, SignedProposal, SignedTask,
        TASK_KIND_TENSOR_F32, Task, TaskFailure,
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
    /// The keeper this worker accepts tasks from.
    pub(crate) keeper: PrivateKeySigner,
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
        let keeper = PrivateKeySigner::random();
        let config = WorkerConfig {
            nats: NatsConnect::new(nats.url()),
            keepers: vec![keeper.address()],
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
            keeper,
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
        let input = serde_json::to_vec(
            &serde_json::json!({"shape": [64], "values": features()[row].to_vec()}),
        )
        .unwrap();
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
            input_hash: keccak256(&input),
            input: input.into(),
            proposals: Vec::new(),
            previous: None,
        }
    }

    /// Publishes `task` signed by the accepted keeper; returns the signed task.
    pub(crate) async fn publish(&self, task: &Task) -> SignedTask {
        let signed = SignedTask::sign(&self.keeper, task).unwrap();
        self.bus.publish_task(&signed).await.unwrap();
        signed
    }

    /// The next result, which must be the agent's signed refusal of the task with `hash`.
    pub(crate) async fn next_failure(&mut self, task: &Task, hash: B256) -> TaskFailure {
        let msg = self.next_result().await;
        assert_eq!(
            msg.subject.as_str(),
            wire::failed_subject(task.job_id, task.round, task.phase, self.agent)
        );
        let failure: TaskFailure = wire::decode(&msg.payload).unwrap();
        failure.verify(&task.domain()).expect("failures are signed by the agent");
        assert_eq!((failure.agent, failure.task_hash), (self.agent, hash));
        assert_eq!(
            (failure.job_id, failure.round, failure.phase),
            (task.job_id, task.round, task.phase)
        );
        failure
    }

    pub(crate) async fn next_result(&mut self) -> async_nats::Message {
        tokio::time::timeout(WAIT, self.results.next()).await.expect("an answer in time").unwrap()
    }

    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.handle).await.expect("stops in time").unwrap().unwrap();
    }
}

/// Sets `task`'s input to the JSON `input` and its hash to match.
pub(crate) fn set_input(task: &mut Task, input: serde_json::Value) {
    let bytes = serde_json::to_vec(&input).unwrap();
    task.input_hash = keccak256(&bytes);
    task.input = bytes.into();
}

#[tokio::test]
async fn a_worker_answers_propose_and_evaluate_with_verifiable_signatures() {
    let mut w = Running::start().await;
    let expected = classifier(MODEL).classify(&[features()[3]]).unwrap()[0].label.to_string();

    let task = w.task(Phase::Propose, 3);
    w.publish(&task).await;
    let msg = w.next_result().await;
    assert_eq!(msg.subject.as_str(), wire::result_subject(task.job_id, 1, Phase::Propose, w.agent));
    let proposal: SignedProposal = wire::decode(&msg.payload).unwrap();
    assert_eq!(proposal.agent, w.agent);
    assert_eq!(proposal.content, expected);
    assert!(proposal.confidence.is_some_and(|c| c > 0.0 && c <= 1.0));
    proposal.verify(&task.domain()).unwrap();
    assert_eq!(proposal.input_hash, task.input_hash, "the answer signs the job's input");
    assert_eq!(proposal.previous_round_digest, B256::ZERO);

    let mut eval = w.task(Phase::Evaluate, 3);
    eval.proposals = eval
        .seats
        .iter()
        .map(|s| Some(if *s == w.agent { expected.clone() } else { "different".into() }))
        .collect();
    w.publish(&eval).await;
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
async fn malformed_tasks_get_signed_failures_and_the_worker_keeps_going() {
    let mut w = Running::start().await;
    let subject = wire::task_subject(w.agent);
    let js = w.bus.jetstream().clone();

    // Bytes that are no task name no job: dropped, and the worker goes on.
    js.publish(subject.clone(), "{not json".into()).await.unwrap().await.unwrap();
    let huge = vec![b' '; wire::MAX_MESSAGE_BYTES / 2];
    js.publish(subject.clone(), huge.into()).await.unwrap().await.unwrap();

    let mut unknown = w.task(Phase::Propose, 0);
    unknown.kind = "text".into();
    unknown.round = 2;
    let signed = w.publish(&unknown).await;
    let failure = w.next_failure(&unknown, signed.read().unwrap().1).await;
    assert!(failure.reason.contains("unknown task kind \"text\""), "{}", failure.reason);

    let mut wrong_shape = w.task(Phase::Propose, 0);
    wrong_shape.round = 3;
    wrong_shape.input = br#"{"shape": [3], "values": [1.0, 2.0, 3.0]}"#.into();
    wrong_shape.input_hash = keccak256(&wrong_shape.input);
    let signed = w.publish(&wrong_shape).await;
    let failure = w.next_failure(&wrong_shape, signed.read().unwrap().1).await;
    assert!(failure.reason.contains("the model takes 64 values"), "{}", failure.reason);

    let mut expired = w.task(Phase::Propose, 0);
    expired.round = 4;
    expired.deadline_ms = 1;
    let signed = w.publish(&expired).await;
    let failure = w.next_failure(&expired, signed.read().unwrap().1).await;
    assert!(failure.reason.contains("expired"), "{}", failure.reason);

    let mut misaddressed = w.task(Phase::Propose, 0);
    misaddressed.round = 5;
    misaddressed.seats = vec![Address::repeat_byte(1), Address::repeat_byte(2)];
    misaddressed.seat = 0;
    // Published straight onto this worker's subject although the seat names someone else.
    let signed = SignedTask::sign(&w.keeper, &misaddressed).unwrap();
    js.publish(subject, wire::encode(&signed).into()).await.unwrap().await.unwrap();
    let msg = w.next_result().await;
    let failure: TaskFailure = wire::decode(&msg.payload).unwrap();
    failure.verify(&misaddressed.domain()).unwrap();
    assert!(failure.reason.contains("reached agent"), "{}", failure.reason);

    let good = w.task(Phase::Propose, 1);
    w.publish(&good).await;
    let proposal: SignedProposal = wire::decode(&w.next_result().await.payload).unwrap();
    proposal.verify(&good.domain()).unwrap();
    w.stop().await;
}

#[tokio::test]
async fn injected_tasks_are_refused_and_only_the_keepers_task_is_answered() {
    let mut w = Running::start().await;
    let round = |w: &Running, r: u32| {
        let mut t = w.task(Phase::Propose, 2);
        t.round = r;
        t
    };

    // Unsigned: a task under the keeper's name with no valid signature.
    let task = round(&w, 1);
    let mut unsigned = SignedTask::sign(&w.keeper, &task).unwrap();
    unsigned.signature = Signature::test_signature();
    w.bus.publish_task(&unsigned).await.unwrap();
    let failure = w.next_failure(&task, unsigned.read().unwrap().1).await;
    assert!(failure.reason.contains("task signature"), "{}", failure.reason);

    // Signed, but by someone who is not an accepted keeper.
    let stranger = PrivateKeySigner::random();
    let forged = SignedTask::sign(&stranger, &task).unwrap();
    w.bus.publish_task(&forged).await.unwrap();
    let failure = w.next_failure(&task, forged.read().unwrap().1).await;
    assert!(failure.reason.contains("does not accept"), "{}", failure.reason);

    // Signed by the keeper, but the input is not the one the hash names.
    let mut swapped = round(&w, 1);
    swapped.input = w.task(Phase::Propose, 5).input;
    let signed = w.publish(&swapped).await;
    let failure = w.next_failure(&swapped, signed.read().unwrap().1).await;
    assert!(failure.reason.contains("input hashes to"), "{}", failure.reason);

    // None of that reserved round 1: the keeper's real task is answered.
    let signed = w.publish(&task).await;
    let proposal: SignedProposal = wire::decode(&w.next_result().await.payload).unwrap();
    proposal.verify(&task.domain()).unwrap();
    assert_eq!(proposal.context(), task.context());

    // Replayed: another keeper-signed task for the same job, round and phase (here with a
    // later deadline) gets no second answer, and no failure either (the keeper must go on
    // waiting for the answer it has). The next result is round 2's answer.
    let results = w.bus.jetstream().get_stream(wire::RESULTS_STREAM).await.unwrap();
    let round_one = wire::result_subject(task.job_id, 1, Phase::Propose, w.agent);
    let stored = || async {
        let subjects: Vec<(String, usize)> = results
            .info_with_subjects(format!("{round_one}.>"))
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        subjects.into_iter().map(|(_, n)| n).sum::<usize>()
    };
    assert_eq!(stored().await, 3, "the three refusals above");
    let mut again = task.clone();
    again.deadline_ms -= 1;
    let replay = w.publish(&again).await;
    assert_ne!(replay.read().unwrap().1, signed.read().unwrap().1);
    let next = round(&w, 2);
    w.publish(&next).await;
    let msg = w.next_result().await;
    assert_eq!(msg.subject.as_str(), wire::result_subject(next.job_id, 2, Phase::Propose, w.agent));
    assert_eq!(stored().await, 3, "no failure for the replay");
    // Expired: refused even when validly signed.
    let mut late = round(&w, 2);
    late.deadline_ms = 1;
    let signed = w.publish(&late).await;
    let failure = w.next_failure(&late, signed.read().unwrap().1).await;
    assert!(failure.reason.contains("expired"), "{}", failure.reason);
    w.stop().await;
}

#[tokio::test]
async fn a_worker_that_trusts_no_keeper_does_not_start() {
    let err = WorkerConfig::default().validate().unwrap_err();
    assert!(err.to_string().contains("--keeper"), "{err}");
}

#[tokio::test]
async fn heartbeats_report_the_model_and_the_status() {
    let nats = NatsServer::spawn(NatsConfig::default()).unwrap();
    let signer = PrivateKeySigner::random();
    let agent = signer.address();
    let bus = Bus::connect(&nats.url()).await.unwrap();
    let mut beats = bus.client().subscribe(wire::heartbeat_subject(agent)).await.unwrap();
    let config = WorkerConfig {
        nats: NatsConnect::new(nats.url()),
        keepers: vec![Address::repeat_byte(0x4b)],
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
    let config = WorkerConfig {
        nats: NatsConnect::new(format!("nats://127.0.0.1:{port}")),
        keepers: vec![Address::repeat_byte(0x4b)],
        ..WorkerConfig::default()
    };
    let err = Worker::new(config, PrivateKeySigner::random(), classifier(MODEL))
        .run(CancellationToken::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot connect to NATS"), "{err}");
}

/// How many clients node `port`'s monitoring endpoint reports (`/connz`).
async fn connections(monitor_port: u16) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut socket) = tokio::net::TcpStream::connect(("127.0.0.1", monitor_port)).await else {
        return 0;
    };
    let request = "GET /connz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if socket.write_all(request.as_bytes()).await.is_err() {
        return 0;
    }
    let mut response = String::new();
    let _ = socket.read_to_string(&mut response).await;
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["num_connections"].as_u64())
        .unwrap_or(0)
}

/// A worker that starts while its JetStream cluster has lost its quorum waits for JetStream
/// instead of exiting, and serves once the cluster is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_started_while_jetstream_is_down_waits_for_it() {
    use nsed_devstack::{NatsCluster, NatsClusterConfig};
    let mut cluster = NatsCluster::spawn(NatsClusterConfig::default()).unwrap();
    // One server of three left: it accepts clients but JetStream has no quorum.
    cluster.kill(1).unwrap();
    cluster.kill(2).unwrap();
    let signer = PrivateKeySigner::random();
    let agent = signer.address();
    let bus = Bus::connect(&cluster.node_url(0)).await.unwrap();
    let mut beats = bus.client().subscribe(wire::heartbeat_subject(agent)).await.unwrap();
    let config = WorkerConfig {
        nats: NatsConnect::new(cluster.node_url(0)),
        keepers: vec![Address::repeat_byte(0x4b)],
        heartbeat_interval: Duration::from_millis(100),
        ..WorkerConfig::default()
    };
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(Worker::new(config, signer, classifier(MODEL)).run(shutdown.clone()));
    // Our bus and the worker: once both are connected, the worker is opening its queue.
    let monitor = cluster.monitor_port(0);
    tokio::time::timeout(WAIT, async {
        while connections(monitor).await < 2 && !handle.is_finished() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the worker connects");
    assert!(!handle.is_finished(), "the worker waits for JetStream");
    cluster.restart(1).unwrap();
    cluster.restart(2).unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(90), beats.next())
        .await
        .expect("the worker is ready once JetStream is back")
        .unwrap();
    let beat: Heartbeat = wire::decode(&msg.payload).unwrap();
    assert_eq!((beat.agent, beat.status), (agent, AgentStatus::Ready));
    shutdown.cancel();
    handle.await.unwrap().unwrap();
}
