//! `nsed worker` as a real process: crash mid-task, redelivery, exactly-once answers, clean stop.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use futures::StreamExt;
use nsed_bus::Bus;
use nsed_devstack::{NatsConfig, NatsServer};
use nsed_protocol::wire::{
    self, Heartbeat, Phase, RESULTS_STREAM, SignedProposal, SignedTask, TASK_KIND_TENSOR_F32, Task,
};

const KEY: &str = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba";
/// The keeper whose tasks the workers accept.
const KEEPER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const WAIT: Duration = Duration::from_secs(30);

/// A worker process that is killed (SIGKILL) if the test ends early.
struct WorkerProcess(Child);

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_worker(nats_url: &str, extra: &[&str]) -> WorkerProcess {
    spawn_worker_with_log(nats_url, extra, Stdio::null())
}

/// A worker whose log (stderr) goes to `log`.
fn spawn_worker_with_log(nats_url: &str, extra: &[&str], log: Stdio) -> WorkerProcess {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let child = Command::new(env!("CARGO_BIN_EXE_nsed"))
        .args([
            "--json",
            "worker",
            "--model",
            "gnb_full",
            "--nats-url",
            nats_url,
            "--worker.heartbeat-ms",
            "100",
            "--keeper",
        ])
        .arg(keeper().address().to_string())
        .arg("--models-dir")
        .arg(models)
        .args(extra)
        .env("NSED_AGENT_KEY", KEY)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("nsed runs");
    WorkerProcess(child)
}

/// The worker's agent line (`--json`): its address and model, what `registerAgent` needs.
fn agent_line(worker: &mut WorkerProcess) -> serde_json::Value {
    let stdout = worker.0.stdout.as_mut().expect("stdout is piped");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("the agent line");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn keeper() -> PrivateKeySigner {
    KEEPER_KEY.parse().unwrap()
}

/// A keeper-signed round-1 task for `agent`.
fn task(agent: Address) -> SignedTask {
    let input =
        serde_json::to_vec(&serde_json::json!({"shape": [8, 8], "values": vec![4.0f32; 64]}))
            .unwrap();
    let task = Task {
        version: wire::WIRE_VERSION,
        job_id: U256::from(5),
        round: 1,
        phase: Phase::Propose,
        seat: 0,
        seats: vec![agent, Address::repeat_byte(0xff)],
        credits: 100,
        deadline_ms: u64::MAX,
        chain_id: 31337,
        market: Address::repeat_byte(0x4d),
        kind: TASK_KIND_TENSOR_F32.into(),
        input_hash: alloy_primitives::keccak256(&input),
        input: input.into(),
        proposals: Vec::new(),
        previous: None,
    };
    SignedTask::sign(&keeper(), &task).unwrap()
}

/// Waits for a heartbeat matching `pred`.
async fn heartbeat_where(
    beats: &mut async_nats::Subscriber,
    pred: impl Fn(&Heartbeat) -> bool,
) -> Heartbeat {
    tokio::time::timeout(WAIT, async {
        loop {
            let msg = beats.next().await.expect("subscription open");
            let beat: Heartbeat = wire::decode(&msg.payload).unwrap();
            if pred(&beat) {
                return beat;
            }
        }
    })
    .await
    .expect("heartbeat in time")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_of_a_killed_worker_is_redelivered_and_answered_exactly_once() {
    let nats = NatsServer::spawn(NatsConfig::default()).unwrap();
    let agent = KEY.parse::<PrivateKeySigner>().unwrap().address();
    let bus = Bus::connect(&nats.url()).await.unwrap();
    let (_, mut results) = bus.ensure_streams().await.unwrap();
    let mut beats = bus.client().subscribe(wire::heartbeat_subject(agent)).await.unwrap();
    let mut answers = bus.client().subscribe("nsed.result.>").await.unwrap();

    // A slow first worker: it takes the task, then dies before answering.
    let mut slow = spawn_worker(
        &nats.url(),
        &["--worker.ack-wait-ms", "1500", "--worker.simulated-latency-ms", "20000"],
    );
    let line = agent_line(&mut slow);
    assert_eq!(line["agent"].as_str().unwrap().parse::<Address>().unwrap(), agent, "{line}");
    assert_eq!(line["model"], "gnb_full", "{line}");
    assert_eq!(line["sha256"].as_str().unwrap().len(), 64, "{line}");
    heartbeat_where(&mut beats, |_| true).await;
    let signed = task(agent);
    bus.publish_task(&signed).await.unwrap();
    let task = signed.open().unwrap().task;
    heartbeat_where(&mut beats, |b| b.in_flight == 1).await;
    slow.0.kill().unwrap();
    slow.0.wait().unwrap();
    drop(slow);

    // Its replacement (same key, same durable consumer) gets the task again after ack_wait.
    let _fresh = spawn_worker(&nats.url(), &["--worker.ack-wait-ms", "1500"]);
    let msg = tokio::time::timeout(WAIT, answers.next()).await.expect("an answer in time").unwrap();
    let proposal: SignedProposal = wire::decode(&msg.payload).unwrap();
    proposal.verify(&task.domain()).unwrap();
    assert_eq!((proposal.agent, proposal.job_id), (agent, task.job_id));

    // Exactly one answer is stored, and nothing is left unacknowledged.
    let subject = wire::result_subject(task.job_id, 1, Phase::Propose, agent);
    let mut consumer = bus
        .jetstream()
        .get_stream(wire::TASKS_STREAM)
        .await
        .unwrap()
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>(&nsed_bus::consumer_name(
            agent,
        ))
        .await
        .unwrap();
    tokio::time::timeout(WAIT, async {
        loop {
            let info = consumer.info().await.unwrap();
            if info.num_ack_pending == 0 {
                assert!(info.num_redelivered <= 1);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the task is acknowledged");
    let info = results.info().await.unwrap();
    assert_eq!(info.config.name, RESULTS_STREAM);
    assert_eq!(info.state.messages, 1, "exactly one stored answer");
    let stored = results.get_last_raw_message_by_subject(&subject).await.unwrap();
    assert_eq!(wire::decode::<SignedProposal>(&stored.payload).unwrap(), proposal);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_a_worker_cleanly_and_returns_its_task() {
    let nats = NatsServer::spawn(NatsConfig::default()).unwrap();
    let agent = KEY.parse::<PrivateKeySigner>().unwrap().address();
    let bus = Bus::connect(&nats.url()).await.unwrap();
    bus.ensure_streams().await.unwrap();
    let mut beats = bus.client().subscribe(wire::heartbeat_subject(agent)).await.unwrap();
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut worker = spawn_worker_with_log(
        &nats.url(),
        &["--worker.ack-wait-ms", "1500", "--worker.simulated-latency-ms", "600000"],
        Stdio::from(log.reopen().unwrap()),
    );
    heartbeat_where(&mut beats, |_| true).await;
    bus.publish_task(&task(agent)).await.unwrap();
    heartbeat_where(&mut beats, |b| b.in_flight == 1).await;
    let pid = worker.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::time::timeout(
        WAIT,
        tokio::task::spawn_blocking(move || {
            let status = worker.0.wait();
            (status, worker)
        }),
    )
    .await
    .expect("exits within the shutdown grace")
    .unwrap()
    .0
    .unwrap();
    assert!(status.success(), "clean exit, got {status}");
    // The unfinished task was returned (nak) before the worker exited, and the next worker
    // answers it.
    let log = std::fs::read_to_string(log.path()).unwrap();
    assert!(log.contains("shutting down before the task finished; returning it"), "{log}");
    let mut answers = bus.client().subscribe("nsed.result.>").await.unwrap();
    // A flush only empties the client's buffer: the server's answer to a request sent after the
    // subscription proves it registered it before the next worker can answer.
    bus.jetstream().get_stream(RESULTS_STREAM).await.unwrap();
    let _next = spawn_worker(&nats.url(), &["--worker.ack-wait-ms", "1500"]);
    let msg = tokio::time::timeout(3 * WAIT, answers.next())
        .await
        .expect("answered by the next worker")
        .unwrap();
    assert_eq!(wire::decode::<SignedProposal>(&msg.payload).unwrap().agent, agent);
}
