//! End to end with NATS authentication on (docs/nats-auth.md): anvil, a nats-server started from
//! the configuration `nsed_bus::auth` renders, three in-process workers each connected as its
//! own agent, and the keeper as the keeper user. Someone holding one agent's seed cannot touch
//! another agent's queue or answers, nor the streams; a client without credentials cannot
//! connect; and a job requested through the market settles with every agent seated and
//! answering.

use std::{fmt::Debug, future::Future, time::Duration};

use alloy::{
    primitives::{B256, U256},
    signers::local::PrivateKeySigner,
};
use nsed_bus::{
    Bus, BusError, DenialKind, RETENTION,
    auth::{OPERATOR, Role},
    consumer_name,
};
use nsed_protocol::{
    eip712,
    wire::{
        self, Phase, RESULTS_STREAM, SignedTask, TASKS_STREAM, Task, TaskFailure, failed_subject,
        task_subject,
    },
};
use tokio::time::timeout;

use crate::e2e::Stack;

/// Upper bound for anything the server answers at once.
const WAIT: Duration = Duration::from_secs(10);

/// Runs `attempt` on `bus` and waits until the server reports that it refused to let `bus`
/// `kind` `subject`; fails with what the attempt returned if no such report comes.
async fn refused<T: Debug>(
    bus: &Bus,
    kind: DenialKind,
    subject: &str,
    attempt: impl Future<Output = T>,
) {
    if let Err(outcome) = bus.refusal(kind, subject, WAIT, attempt).await {
        panic!("the server did not refuse to {kind} {subject}; the attempt returned {outcome:?}");
    }
}

/// What the operator sees of the streams: each one's messages and retention, and the task
/// consumers with how many tasks each has pending and was delivered.
async fn snapshot(operator: &Bus) -> Vec<String> {
    let js = operator.jetstream();
    let mut seen = Vec::new();
    for name in [TASKS_STREAM, RESULTS_STREAM] {
        let mut stream = js.get_stream(name).await.expect("the stream exists");
        let info = stream.info().await.unwrap();
        seen.push(format!(
            "{name}: {} messages, max age {:?}",
            info.state.messages, info.config.max_age
        ));
    }
    let tasks = js.get_stream(TASKS_STREAM).await.unwrap();
    let mut names: Vec<String> = {
        use futures::StreamExt;
        tasks.consumer_names().map(|name| name.unwrap()).collect().await
    };
    names.sort();
    for name in names {
        let info = tasks.consumer_info(&name).await.unwrap();
        seen.push(format!(
            "{name}: {} pending, delivered up to {}",
            info.num_pending, info.delivered.stream_sequence
        ));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_auth_one_agents_seed_cannot_touch_another_agent_or_the_streams_and_jobs_settle() {
    let stack = Stack::start_with_auth().await;
    let (a, b) = (stack.agents[0], stack.agents[1]);
    let user = |agent| Role::Agent(agent).user_name();
    let operator = Bus::connect_with(&stack.connect(OPERATOR)).await.unwrap();
    // Every worker is up once its consumer exists: it creates it after connecting.
    timeout(Duration::from_secs(60), async {
        let js = operator.jetstream();
        loop {
            let stream = js.get_stream(TASKS_STREAM).await.unwrap();
            let mut found = 0;
            for agent in &stack.agents {
                found += usize::from(stream.consumer_info(consumer_name(*agent)).await.is_ok());
            }
            if found == stack.agents.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("every worker opens its task queue");
    let before = snapshot(&operator).await;

    let attacker = Bus::connect_with(&stack.connect(&user(a))).await.unwrap();
    let market = stack.market;
    let domain = eip712::domain(stack.anvil.chain_id(), market);
    let next_job = U256::from(1);

    // A forged failure report in B's name, on B's subject.
    let mut forged = TaskFailure::sign(
        &PrivateKeySigner::random(),
        &domain,
        next_job,
        1,
        Phase::Propose,
        B256::ZERO,
        "forged".into(),
    )
    .unwrap();
    forged.agent = b;
    let subject = failed_subject(next_job, 1, Phase::Propose, b);
    let id = wire::message_id(next_job, 1, Phase::Propose, b, &forged.signature);
    let err =
        attacker.publish_dedup(subject.clone(), &id, wire::encode(&forged)).await.unwrap_err();
    assert!(
        matches!(&err, BusError::PermissionDenied { kind: DenialKind::Publish, subject: s, .. } if *s == subject),
        "{err}"
    );
    refused(&attacker, DenialKind::Publish, &subject, async {
        attacker.client().publish(subject.clone(), wire::encode(&forged).into()).await.unwrap();
        attacker.client().flush().await
    })
    .await;

    // A task on B's queue, signed by someone.
    let mut seats = stack.agents.clone();
    seats.sort();
    let input = br#"{"shape": [64], "values": []}"#;
    let task = Task {
        version: wire::WIRE_VERSION,
        job_id: next_job,
        round: 1,
        phase: Phase::Propose,
        seat: seats.iter().position(|s| *s == b).unwrap(),
        seats,
        credits: 100,
        deadline_ms: u64::MAX,
        chain_id: stack.anvil.chain_id(),
        market,
        kind: "tensor-f32".into(),
        input: input.into(),
        input_hash: alloy::primitives::keccak256(input),
        proposals: Vec::new(),
        previous: None,
    };
    let signed = SignedTask::sign(&PrivateKeySigner::random(), &task).unwrap();
    let err = attacker.publish_task(&signed).await.unwrap_err();
    assert!(
        matches!(&err, BusError::PermissionDenied { subject, .. } if *subject == task_subject(b)),
        "{err}"
    );

    // Pulling from B's consumer, directly and through the bus.
    let next = format!("$JS.API.CONSUMER.MSG.NEXT.{TASKS_STREAM}.{}", consumer_name(b));
    refused(&attacker, DenialKind::Publish, &next, async {
        let inbox = attacker.client().new_inbox();
        attacker.client().publish_with_reply(next.clone(), inbox, "1".into()).await.unwrap();
        attacker.client().flush().await
    })
    .await;
    let err = timeout(WAIT, attacker.task_consumer(b, Duration::from_secs(30), 5))
        .await
        .expect("refused at once");
    assert!(matches!(err, Err(BusError::PermissionDenied { .. })), "{err:?}");

    // Purging or deleting either stream.
    let js = attacker.jetstream();
    for name in [TASKS_STREAM, RESULTS_STREAM] {
        let stream = js.get_stream(name).await.unwrap();
        let subject = format!("$JS.API.STREAM.PURGE.{name}");
        refused(&attacker, DenialKind::Publish, &subject, async { stream.purge().await }).await;
        let subject = format!("$JS.API.STREAM.DELETE.{name}");
        refused(&attacker, DenialKind::Publish, &subject, async {
            js.delete_stream(name).await.map(|status| status.success)
        })
        .await;
    }

    // None of it changed anything the operator can see.
    assert_eq!(snapshot(&operator).await, before);
    assert!(before[0].contains(&format!("max age {RETENTION:?}")), "{before:?}");

    // No credentials, no connection, and the error says what to pass.
    let err = timeout(WAIT, Bus::connect(&stack.nats.url())).await.expect("fails at once");
    let err = err.expect_err("an anonymous client is refused");
    assert!(matches!(err, BusError::CredentialsRequired { .. }), "{err}");
    assert!(err.to_string().contains("--nats.creds"), "{err}");

    // The real thing: the keeper, with its own seed, runs a job through every agent.
    let (keeper, handle) = stack.keeper(Duration::from_secs(20));
    let job_id = stack.request(5, 3600).await;
    assert_eq!(job_id, next_job);
    let settled = stack.wait_settled(job_id).await;
    assert_eq!(Some(settled.content), stack.offchain_answer(job_id));
    let d = stack.offchain(job_id);
    let mut seated = d.seats().to_vec();
    let mut agents = stack.agents.clone();
    seated.sort();
    agents.sort();
    assert_eq!(seated, agents, "every agent was seated");
    let first = &d.rounds()[0];
    assert!(first.proposals.iter().all(Option::is_some), "every seat proposed in round 1");
    assert!(first.ballots.iter().all(Option::is_some), "every seat voted in round 1");
    keeper.cancel();
    handle.await.unwrap().unwrap();
}
