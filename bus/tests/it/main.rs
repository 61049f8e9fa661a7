//! The bus against a real nats-server with JetStream.

mod auth;

use std::time::Duration;

use alloy_primitives::{Address, U256};
use futures::StreamExt;
use nsed_bus::Bus;
use nsed_devstack::{NatsConfig, NatsServer};
use nsed_protocol::wire::{self, Phase, SignedTask, TASK_KIND_TENSOR_F32, Task};

fn task(seat: usize, round: u32) -> SignedTask {
    let input = br#"{"shape": [1], "values": [0.0]}"#;
    let task = Task {
        version: wire::WIRE_VERSION,
        job_id: U256::from(1),
        round,
        phase: Phase::Propose,
        seat,
        seats: vec![Address::repeat_byte(1), Address::repeat_byte(2)],
        credits: 100,
        deadline_ms: u64::MAX,
        chain_id: 31337,
        market: Address::repeat_byte(9),
        kind: TASK_KIND_TENSOR_F32.into(),
        input: input.into(),
        input_hash: alloy_primitives::keccak256(input),
        proposals: Vec::new(),
        previous: None,
    };
    let keeper = alloy_signer_local::PrivateKeySigner::from_bytes(&[7; 32].into()).unwrap();
    if seat >= task.seats.len() {
        // Unsignable: the bus must still refuse to publish it.
        return SignedTask {
            version: wire::WIRE_VERSION,
            keeper: keeper.address(),
            task: serde_json::value::to_raw_value(&task).unwrap(),
            signature: alloy_primitives::Signature::test_signature(),
        };
    }
    SignedTask::sign(&keeper, &task).unwrap()
}

#[tokio::test]
async fn streams_are_created_once_and_reopened_idempotently() {
    let nats = NatsServer::spawn(NatsConfig::default()).unwrap();
    let bus = Bus::connect(&nats.url()).await.unwrap();
    let (mut tasks, mut results) = bus.ensure_streams().await.unwrap();
    assert_eq!(tasks.info().await.unwrap().config.name, "NSED_TASKS");
    assert_eq!(results.info().await.unwrap().config.subjects, vec!["nsed.result.>".to_string()]);
    bus.ensure_streams().await.unwrap();
}

#[tokio::test]
async fn a_task_sent_twice_is_stored_once() {
    let nats = NatsServer::spawn(NatsConfig::default()).unwrap();
    let bus = Bus::connect(&nats.url()).await.unwrap();
    let (mut tasks, _) = bus.ensure_streams().await.unwrap();
    assert!(!bus.publish_task(&task(0, 1)).await.unwrap());
    assert!(bus.publish_task(&task(0, 1)).await.unwrap(), "second copy is flagged duplicate");
    assert!(!bus.publish_task(&task(0, 2)).await.unwrap());
    assert_eq!(tasks.info().await.unwrap().state.messages, 2);
}

#[tokio::test]
async fn each_agent_consumes_only_its_own_tasks() {
    let nats = NatsServer::spawn(NatsConfig::default()).unwrap();
    let bus = Bus::connect(&nats.url()).await.unwrap();
    bus.ensure_streams().await.unwrap();
    bus.publish_task(&task(0, 1)).await.unwrap();
    bus.publish_task(&task(1, 1)).await.unwrap();
    bus.publish_task(&task(1, 2)).await.unwrap();
    let consumer =
        bus.task_consumer(Address::repeat_byte(2), Duration::from_secs(30), 5).await.unwrap();
    let mut messages = consumer.messages().await.unwrap();
    for expected_round in [1, 2] {
        let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("a task arrives")
            .unwrap()
            .unwrap();
        let t = wire::decode::<SignedTask>(&message.payload).unwrap().open().unwrap().task;
        assert_eq!((t.seat, t.round), (1, expected_round));
        message.ack().await.unwrap();
    }
    let nothing = tokio::time::timeout(Duration::from_millis(300), messages.next()).await;
    assert!(nothing.is_err(), "agent 2 must not see agent 1's task");
}

#[tokio::test]
async fn a_task_without_a_seat_is_refused() {
    let nats = NatsServer::spawn(NatsConfig::default()).unwrap();
    let bus = Bus::connect(&nats.url()).await.unwrap();
    bus.ensure_streams().await.unwrap();
    assert!(bus.publish_task(&task(7, 1)).await.is_err());
}
