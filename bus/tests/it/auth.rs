//! NKey users and their permissions, against a real nats-server started from the configuration
//! `nsed_bus::auth` renders.
//!
//! A refused publish or subscription is dropped by the server and reported to the client as an
//! error line; each refusal below waits for that report naming the subject, then asks the
//! operator whether anything happened anyway.

use std::{
    fmt::Debug,
    future::Future,
    path::{Path, PathBuf},
    time::Duration,
};

use alloy_primitives::{Address, U256};
use async_nats::jetstream::{
    AckKind,
    consumer::{AckPolicy, pull},
    stream,
};
use futures::StreamExt;
use nsed_bus::{
    Bus, BusError, DenialKind, NatsConnect, RETENTION,
    auth::{AuthDir, DEFAULT_KEEPER, InitOptions, OPERATOR, ServerTls},
    consumer_name,
};
use nsed_devstack::{NatsConfig, NatsInstance, NatsServer};
use nsed_protocol::wire::{
    HEARTBEAT_WILDCARD, Phase, RESULTS_STREAM, TASKS_STREAM, failed_subject, heartbeat_subject,
    result_subject, task_subject,
};
use tempfile::TempDir;
use tokio::time::timeout;

/// Upper bound for anything that should happen at once.
const WAIT: Duration = Duration::from_secs(10);

const A: Address = Address::repeat_byte(0xa1);
const B: Address = Address::repeat_byte(0xb2);

/// An auth directory and a server started from its configuration.
struct Stack {
    nats: NatsInstance,
    auth: AuthDir,
    dir: TempDir,
}

impl Stack {
    /// The operator, the default keeper and one user per agent in `agents`.
    fn start(agents: &[Address]) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), agents, None)
    }

    /// As [`Stack::start`], in `dir`, with TLS if given.
    fn start_in(dir: TempDir, agents: &[Address], tls: Option<ServerTls>) -> Self {
        // The file names the store directory (one per test), so devstack passes no `-sd`.
        let mut options = InitOptions::new("127.0.0.1:4222", dir.path().join("jetstream"));
        if let Some(tls) = tls {
            options = options.with_tls(tls);
        }
        let mut auth = AuthDir::init(dir.path().join("nats"), options).unwrap();
        for agent in agents {
            auth.add_agent(*agent, false).unwrap();
        }
        let nats =
            NatsServer::spawn(NatsConfig::default().with_config_file(auth.config_path())).unwrap();
        Self { nats, auth, dir }
    }

    fn connect(&self, creds: PathBuf) -> NatsConnect {
        NatsConnect::new(self.nats.url()).with_creds(creds)
    }

    async fn user(&self, name: &str) -> Bus {
        Bus::connect_with(&self.connect(self.auth.creds_path(name))).await.unwrap()
    }

    /// The operator, after creating the streams.
    async fn operator(&self) -> Bus {
        let operator = self.user(OPERATOR).await;
        operator.ensure_streams().await.unwrap();
        operator
    }

    async fn keeper(&self) -> Bus {
        self.user(DEFAULT_KEEPER).await
    }

    async fn agent(&self, agent: Address) -> Bus {
        self.user(&format!("agent-{agent:#x}")).await
    }
}

/// Runs `attempt` and waits until the server reports that it refused `bus` to `kind`
/// `subject`. Fails if no such report arrives, showing what the attempt returned.
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

async fn refused_publish(bus: &Bus, subject: &str) {
    let payload = b"{}".as_slice();
    refused(bus, DenialKind::Publish, subject, async {
        bus.client().publish(subject.to_owned(), payload.into()).await.unwrap();
        bus.client().flush().await
    })
    .await;
}

async fn refused_subscription(bus: &Bus, subject: &str) {
    refused(bus, DenialKind::Subscribe, subject, async {
        let subscriber = bus.client().subscribe(subject.to_owned()).await.unwrap();
        bus.client().flush().await.unwrap();
        subscriber
    })
    .await;
}

/// Subscribes `bus` to `subject` and returns once the server has registered the subscription.
///
/// `flush` only empties the client's write buffer; the server reads each connection on its own,
/// so a message another connection publishes right after could still reach the server first
/// and find no subscriber. The server handles one connection's commands in order, so its answer
/// to a request sent after the subscription proves the subscription is in place.
async fn subscribed(bus: &Bus, subject: &str) -> async_nats::Subscriber {
    let subscriber = bus.client().subscribe(subject.to_owned()).await.unwrap();
    // Any request this user may send will do; JetStream's account information is one.
    bus.client().request("$JS.API.INFO", "".into()).await.expect("a round trip to the server");
    subscriber
}

/// The number of messages `stream` holds, as the operator sees it.
async fn messages(operator: &Bus, stream: &str) -> u64 {
    operator.jetstream().get_stream(stream).await.unwrap().info().await.unwrap().state.messages
}

/// The consumers on `stream`, as the operator sees them.
async fn consumers(operator: &Bus, stream: &str) -> Vec<String> {
    let stream = operator.jetstream().get_stream(stream).await.unwrap();
    let mut names: Vec<String> =
        stream.consumer_names().map(|name| name.unwrap()).collect::<Vec<_>>().await;
    names.sort();
    names
}

fn agent_consumer(agent: Address, filter: Address) -> pull::Config {
    pull::Config {
        durable_name: Some(consumer_name(agent)),
        filter_subject: task_subject(filter),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    }
}

fn result(agent: Address) -> String {
    result_subject(U256::from(1), 1, Phase::Propose, agent)
}

#[tokio::test]
async fn only_the_operator_creates_the_streams() {
    let stack = Stack::start(&[A]);
    for bus in [stack.agent(A).await, stack.keeper().await] {
        let err = timeout(WAIT, bus.ensure_streams()).await.expect("refused at once").unwrap_err();
        assert!(matches!(err, BusError::StreamCreateDenied { stream: TASKS_STREAM }), "{err}");
    }
    stack.operator().await;
    stack.agent(A).await.ensure_streams().await.unwrap();
    stack.keeper().await.ensure_streams().await.unwrap();
}

#[tokio::test]
async fn an_agent_pulls_acks_and_answers_its_own_tasks() {
    let stack = Stack::start(&[A]);
    let operator = stack.operator().await;
    let keeper = stack.keeper().await;
    let agent = stack.agent(A).await;
    let mut agent_denials = agent.permission_denials();
    let mut beats = subscribed(&keeper, HEARTBEAT_WILDCARD).await;

    assert!(!keeper.publish_dedup(task_subject(A), "task-1", b"task".to_vec()).await.unwrap());
    agent.ensure_streams().await.unwrap();
    let tasks = agent.task_consumer(A, Duration::from_secs(30), 5).await.unwrap();
    let mut batch = tasks.fetch().max_messages(1).messages().await.unwrap();
    let task = timeout(WAIT, batch.next()).await.expect("a task arrives").unwrap().unwrap();
    assert_eq!(&task.payload[..], b"task");
    task.ack_with(AckKind::Progress).await.unwrap();
    // The double ack waits for the server's confirmation.
    task.double_ack().await.unwrap();

    agent.publish_dedup(result(A), "result-1", b"proposal".to_vec()).await.unwrap();
    let failed = failed_subject(U256::from(1), 1, Phase::Evaluate, A);
    agent.publish_dedup(failed, "failed-1", b"failure".to_vec()).await.unwrap();
    agent.publish_core(heartbeat_subject(A), b"beat".to_vec()).await.unwrap();
    let beat = timeout(WAIT, beats.next()).await.expect("a heartbeat arrives").unwrap();
    assert_eq!(beat.subject.as_str(), heartbeat_subject(A));

    let info = operator
        .jetstream()
        .get_stream(TASKS_STREAM)
        .await
        .unwrap()
        .consumer_info(consumer_name(A))
        .await
        .unwrap();
    assert_eq!((info.num_ack_pending, info.ack_floor.stream_sequence), (0, 1));
    assert_eq!(messages(&operator, RESULTS_STREAM).await, 2);
    assert!(agent_denials.try_recv().is_err(), "nothing the agent did was refused");
}

#[tokio::test]
async fn an_agent_cannot_touch_another_agents_queue_or_answers() {
    let stack = Stack::start(&[A, B]);
    let operator = stack.operator().await;
    stack.keeper().await.publish_dedup(task_subject(B), "task-b", b"for b".to_vec()).await.unwrap();
    stack.agent(B).await.task_consumer(B, Duration::from_secs(30), 5).await.unwrap();
    let a = stack.agent(A).await;
    let js = a.jetstream();
    let (ca, cb) = (consumer_name(A), consumer_name(B));
    let (ta, tb) = (task_subject(A), task_subject(B));

    // B's consumer, A's consumer name on B's queue, or an unnamed consumer on B's queue.
    let subject = format!("$JS.API.CONSUMER.CREATE.{TASKS_STREAM}.{cb}.{tb}");
    refused(
        &a,
        DenialKind::Publish,
        &subject,
        js.create_consumer_on_stream(agent_consumer(B, B), TASKS_STREAM),
    )
    .await;
    let subject = format!("$JS.API.CONSUMER.CREATE.{TASKS_STREAM}.{ca}.{tb}");
    refused(
        &a,
        DenialKind::Publish,
        &subject,
        js.create_consumer_on_stream(agent_consumer(A, B), TASKS_STREAM),
    )
    .await;
    let ephemeral = pull::Config { durable_name: None, ..agent_consumer(A, B) };
    let subject = format!("$JS.API.CONSUMER.CREATE.{TASKS_STREAM}");
    refused(
        &a,
        DenialKind::Publish,
        &subject,
        js.create_consumer_on_stream(ephemeral, TASKS_STREAM),
    )
    .await;
    refused_publish(&a, &format!("$JS.API.CONSUMER.DURABLE.CREATE.{TASKS_STREAM}.{ca}")).await;
    // The subject it may use, with B's queue in the body: the server checks that the two agree.
    let crafted = serde_json::json!({
        "stream_name": TASKS_STREAM,
        "config": { "durable_name": ca, "filter_subject": tb, "ack_policy": "explicit" },
    });
    let answer = a
        .client()
        .request(
            format!("$JS.API.CONSUMER.CREATE.{TASKS_STREAM}.{ca}.{ta}"),
            serde_json::to_vec(&crafted).unwrap().into(),
        )
        .await
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&answer.payload).unwrap();
    assert!(answer.get("error").is_some(), "{answer}");

    // Pulling from, acknowledging on or looking up B's consumer.
    let next = format!("$JS.API.CONSUMER.MSG.NEXT.{TASKS_STREAM}.{cb}");
    refused(&a, DenialKind::Publish, &next, async {
        let inbox = a.client().new_inbox();
        a.client().publish_with_reply(next.clone(), inbox, "1".into()).await.unwrap();
        a.client().flush().await
    })
    .await;
    refused_publish(&a, &format!("$JS.ACK.{TASKS_STREAM}.{cb}.1.1.1.1700000000000000000.0")).await;
    let err = timeout(WAIT, a.task_consumer(B, Duration::from_secs(30), 5)).await.unwrap();
    assert!(matches!(err, Err(BusError::PermissionDenied { .. })), "{err:?}");

    // B's answers, failure reports and heartbeats.
    let err = a.publish_dedup(result(B), "forged", b"forged".to_vec()).await.unwrap_err();
    assert!(
        matches!(&err, BusError::PermissionDenied { subject, .. } if *subject == result(B)),
        "{err}"
    );
    let failed = failed_subject(U256::from(1), 1, Phase::Propose, B);
    refused(&a, DenialKind::Publish, &failed, a.publish_dedup(failed.clone(), "f", vec![])).await;
    refused_publish(&a, &heartbeat_subject(B)).await;

    // Reading B's queue or replies directly.
    refused_subscription(&a, &tb).await;
    refused_subscription(&a, "_INBOX.>").await;
    refused_subscription(&a, ">").await;

    assert_eq!(consumers(&operator, TASKS_STREAM).await, std::slice::from_ref(&cb));
    let info = operator
        .jetstream()
        .get_stream(TASKS_STREAM)
        .await
        .unwrap()
        .consumer_info(&cb)
        .await
        .unwrap();
    assert_eq!((info.delivered.stream_sequence, info.num_pending), (0, 1), "B's task is untouched");
    assert_eq!(messages(&operator, RESULTS_STREAM).await, 0);
}

#[tokio::test]
async fn an_agent_cannot_publish_tasks_read_answers_or_administer_streams() {
    let stack = Stack::start(&[A, B]);
    let operator = stack.operator().await;
    stack.keeper().await.publish_dedup(task_subject(A), "task-a", b"for a".to_vec()).await.unwrap();
    stack.agent(B).await.publish_dedup(result(B), "answer-b", b"b".to_vec()).await.unwrap();
    let a = stack.agent(A).await;
    let js = a.jetstream();

    for agent in [A, B] {
        let subject = task_subject(agent);
        refused(&a, DenialKind::Publish, &subject, a.publish_dedup(subject.clone(), "x", vec![]))
            .await;
    }

    let subject = format!("$JS.API.CONSUMER.CREATE.{RESULTS_STREAM}");
    let results = js.get_stream(RESULTS_STREAM).await.unwrap();
    refused(
        &a,
        DenialKind::Publish,
        &subject,
        results.create_consumer(pull::OrderedConfig::default()),
    )
    .await;
    refused_subscription(&a, "nsed.result.>").await;
    refused_publish(&a, &format!("$JS.API.STREAM.MSG.GET.{RESULTS_STREAM}")).await;
    refused_publish(&a, &format!("$JS.API.DIRECT.GET.{RESULTS_STREAM}")).await;

    let evil = stream::Config {
        name: "EVIL".into(),
        subjects: vec!["evil.>".into()],
        ..Default::default()
    };
    refused(&a, DenialKind::Publish, "$JS.API.STREAM.CREATE.EVIL", js.create_stream(evil)).await;
    let short = stream::Config {
        name: TASKS_STREAM.into(),
        subjects: vec!["nsed.task.>".into()],
        max_age: Duration::from_secs(1),
        ..Default::default()
    };
    let subject = format!("$JS.API.STREAM.UPDATE.{TASKS_STREAM}");
    refused(&a, DenialKind::Publish, &subject, js.update_stream(short)).await;
    let subject = format!("$JS.API.STREAM.PURGE.{TASKS_STREAM}");
    let tasks = js.get_stream(TASKS_STREAM).await.unwrap();
    refused(&a, DenialKind::Publish, &subject, async { tasks.purge().await }).await;
    let subject = format!("$JS.API.STREAM.MSG.DELETE.{TASKS_STREAM}");
    refused(&a, DenialKind::Publish, &subject, tasks.delete_message(1)).await;
    for stream in [TASKS_STREAM, RESULTS_STREAM] {
        let subject = format!("$JS.API.STREAM.DELETE.{stream}");
        refused(&a, DenialKind::Publish, &subject, async {
            js.delete_stream(stream).await.map(|status| status.success)
        })
        .await;
    }

    assert!(operator.jetstream().get_stream("EVIL").await.is_err(), "no stream was created");
    let mut tasks = operator.jetstream().get_stream(TASKS_STREAM).await.unwrap();
    let info = tasks.info().await.unwrap();
    assert_eq!((info.state.messages, info.config.max_age), (1, RETENTION));
    assert_eq!(messages(&operator, RESULTS_STREAM).await, 1);
}

#[tokio::test]
async fn a_keeper_publishes_tasks_reads_answers_and_heartbeats_but_cannot_administer_streams() {
    let stack = Stack::start(&[A]);
    let operator = stack.operator().await;
    let agent = stack.agent(A).await;
    let keeper = stack.keeper().await;
    let mut keeper_denials = keeper.permission_denials();
    keeper.ensure_streams().await.unwrap();

    keeper.publish_dedup(task_subject(A), "task-1", b"task".to_vec()).await.unwrap();
    agent.publish_dedup(result(A), "answer-1", b"first".to_vec()).await.unwrap();
    let failed = failed_subject(U256::from(1), 1, Phase::Propose, A);
    agent.publish_dedup(failed, "failed-1", b"second".to_vec()).await.unwrap();

    // As the keeper reads a phase: an ordered consumer from the start of the stream.
    let results = keeper.jetstream().get_stream(RESULTS_STREAM).await.unwrap();
    let filter = "nsed.result.1.1.propose.>".to_owned();
    let ordered = pull::OrderedConfig { filter_subject: filter, ..Default::default() };
    let mut answers = results.create_consumer(ordered).await.unwrap().messages().await.unwrap();
    for expected in [b"first".as_slice(), b"second"] {
        let answer = timeout(WAIT, answers.next()).await.expect("an answer arrives");
        assert_eq!(&answer.unwrap().unwrap().payload[..], expected);
    }
    // An ordered consumer recreates itself (delete, then create under a name and filter) when
    // its consumer disappears; the keeper may do that too.
    for name in consumers(&operator, RESULTS_STREAM).await {
        operator.jetstream().delete_consumer_from_stream(&name, RESULTS_STREAM).await.unwrap();
    }
    agent.publish_dedup(result(A), "answer-3", b"third".to_vec()).await.unwrap();
    let answer = timeout(WAIT, answers.next()).await.expect("the recreated consumer reads on");
    assert_eq!(&answer.unwrap().unwrap().payload[..], b"third");

    let mut beats = subscribed(&keeper, HEARTBEAT_WILDCARD).await;
    agent.publish_core(heartbeat_subject(A), b"beat".to_vec()).await.unwrap();
    assert!(timeout(WAIT, beats.next()).await.expect("a heartbeat arrives").is_some());
    assert!(keeper_denials.try_recv().is_err(), "nothing the keeper did was refused");

    refused_subscription(&keeper, "nsed.task.>").await;
    refused_subscription(&keeper, "_INBOX.>").await;
    refused(&keeper, DenialKind::Publish, &result(A), keeper.publish_dedup(result(A), "f", vec![]))
        .await;
    let js = keeper.jetstream();
    let tasks = js.get_stream(TASKS_STREAM).await.unwrap();
    let subject = format!("$JS.API.STREAM.PURGE.{TASKS_STREAM}");
    refused(&keeper, DenialKind::Publish, &subject, async { tasks.purge().await }).await;
    let subject = format!("$JS.API.STREAM.MSG.DELETE.{RESULTS_STREAM}");
    refused(&keeper, DenialKind::Publish, &subject, results.delete_message(1)).await;
    for stream in [TASKS_STREAM, RESULTS_STREAM] {
        let subject = format!("$JS.API.STREAM.DELETE.{stream}");
        refused(&keeper, DenialKind::Publish, &subject, async {
            js.delete_stream(stream).await.map(|status| status.success)
        })
        .await;
    }
    assert_eq!(messages(&operator, TASKS_STREAM).await, 1);
    assert_eq!(messages(&operator, RESULTS_STREAM).await, 3);
}

#[tokio::test]
async fn connecting_without_credentials_to_an_auth_server_fails_at_once() {
    let stack = Stack::start(&[]);
    let err = timeout(WAIT, Bus::connect(&stack.nats.url())).await.expect("fails at once");
    assert!(matches!(err, Err(BusError::CredentialsRequired { .. })), "{err:?}");
}

#[tokio::test]
async fn a_seed_the_server_does_not_list_is_refused_at_once() {
    let stack = Stack::start(&[]);
    let stranger = stack.dir.path().join("stranger.nk");
    std::fs::write(&stranger, nkeys::KeyPair::new_user().seed().unwrap()).unwrap();
    let err = timeout(WAIT, Bus::connect_with(&stack.connect(stranger.clone())))
        .await
        .expect("fails at once");
    assert!(matches!(&err, Err(BusError::CredentialsRefused { path, .. }) if *path == stranger));
}

#[tokio::test]
async fn a_rotated_seed_is_refused_after_reload_and_its_successor_works() {
    let mut stack = Stack::start(&[A]);
    stack.operator().await;
    let seed = stack.auth.creds_path(&format!("agent-{A:#x}"));
    let old = stack.dir.path().join("old.nk");
    std::fs::copy(&seed, &old).unwrap();
    // A connection made with the old key before the rotation, watching its own events.
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let old_seed = std::fs::read_to_string(&old).unwrap().trim().to_owned();
    let _open = async_nats::ConnectOptions::with_nkey(old_seed)
        .event_callback(move |event| {
            let events_tx = events_tx.clone();
            async move {
                let _ = events_tx.send(event.to_string());
            }
        })
        .connect(stack.nats.url())
        .await
        .unwrap();

    assert_eq!(stack.auth.add_agent(A, true).unwrap(), seed);
    // Until the server reloads, it still knows only the old key.
    Bus::connect_with(&stack.connect(old.clone())).await.unwrap();
    assert!(matches!(
        Bus::connect_with(&stack.connect(seed.clone())).await,
        Err(BusError::CredentialsRefused { .. })
    ));

    stack.nats.reload(WAIT).unwrap();
    let err = Bus::connect_with(&stack.connect(old.clone())).await;
    assert!(matches!(&err, Err(BusError::CredentialsRefused { path, .. }) if *path == old));
    let fresh = Bus::connect_with(&stack.connect(seed)).await.unwrap();
    fresh.task_consumer(A, Duration::from_secs(30), 5).await.unwrap();
    // The server also closes connections that the old key had open.
    let closed = timeout(WAIT, async {
        loop {
            let event = events.recv().await.unwrap();
            if event == "disconnected" {
                break;
            }
        }
    });
    closed.await.expect("the old key's open connection is closed");
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files in `dir`.
struct Pki {
    ca: PathBuf,
    server: (PathBuf, PathBuf),
    client: (PathBuf, PathBuf),
}

fn pki(dir: &Path) -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca = ca.self_signed(&ca_key).unwrap();
    let leaf = |name: &str, names: &[&str], usage| {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        let (cert_path, key_path) =
            (dir.join(format!("{name}.pem")), dir.join(format!("{name}-key.pem")));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    };
    let server = leaf("server", &["127.0.0.1", "localhost"], ExtendedKeyUsagePurpose::ServerAuth);
    let client = leaf("client", &["nsed-client"], ExtendedKeyUsagePurpose::ClientAuth);
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    Pki { ca: ca_path, server, client }
}

#[tokio::test]
async fn tls_with_client_certificates_carries_the_nkey_users() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let tls = ServerTls {
        cert_file: pki.server.0.clone(),
        key_file: pki.server.1.clone(),
        ca_file: Some(pki.ca.clone()),
        verify: true,
    };
    let stack = Stack::start_in(dir, &[A], Some(tls));
    let operator = stack.connect(stack.auth.creds_path(OPERATOR));

    let trusted =
        operator.clone().with_tls_ca(&pki.ca).with_tls_client(&pki.client.0, &pki.client.1);
    assert!(trusted.requires_tls());
    Bus::connect_with(&trusted).await.unwrap().ensure_streams().await.unwrap();

    // The server verifies clients: no client certificate, no connection.
    let anonymous = operator.clone().with_tls_ca(&pki.ca);
    let err = timeout(WAIT, Bus::connect_with(&anonymous)).await.expect("fails at once");
    assert!(matches!(err, Err(BusError::Connect { .. })), "{err:?}");
    // Without the CA the server's certificate is not trusted.
    let err = timeout(WAIT, Bus::connect_with(&operator)).await.expect("fails at once");
    assert!(matches!(err, Err(BusError::Connect { .. })), "{err:?}");
    // TLS does not replace the NKey: a certificate without credentials is refused.
    let no_creds = NatsConnect::new(stack.nats.url())
        .with_tls_ca(&pki.ca)
        .with_tls_client(&pki.client.0, &pki.client.1);
    let err = timeout(WAIT, Bus::connect_with(&no_creds)).await.expect("fails at once");
    assert!(matches!(err, Err(BusError::CredentialsRequired { .. })), "{err:?}");
}
