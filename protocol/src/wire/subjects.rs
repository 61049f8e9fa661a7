//! NATS subjects, streams and message ids. Addresses appear as lowercase `0x` hex tokens.

use alloy_primitives::{Address, Signature, U256};

use super::Phase;

/// JetStream stream holding every agent's task queue.
pub const TASKS_STREAM: &str = "NSED_TASKS";
/// Subjects captured by [`TASKS_STREAM`].
pub const TASKS_WILDCARD: &str = "nsed.task.>";
/// JetStream stream capturing every result and failure.
pub const RESULTS_STREAM: &str = "NSED_RESULTS";
/// Subjects captured by [`RESULTS_STREAM`].
pub const RESULTS_WILDCARD: &str = "nsed.result.>";
/// Subjects of all heartbeats (core NATS, not persisted).
pub const HEARTBEAT_WILDCARD: &str = "nsed.heartbeat.*";

fn token(agent: Address) -> String {
    format!("{agent:#x}")
}

/// `nsed.task.<agent>`: the agent's own task queue.
///
/// ```
/// use alloy_primitives::Address;
/// assert_eq!(
///     nsed_protocol::wire::task_subject(Address::repeat_byte(0xab)),
///     "nsed.task.0xabababababababababababababababababababab"
/// );
/// ```
pub fn task_subject(agent: Address) -> String {
    format!("nsed.task.{}", token(agent))
}

/// `nsed.result.<job>.<round>.<phase>.<agent>`: where an agent publishes its answer.
///
/// ```
/// use alloy_primitives::{Address, Signature, U256};
/// use nsed_protocol::wire::{Phase, result_subject};
/// assert_eq!(
///     result_subject(U256::from(7), 2, Phase::Propose, Address::ZERO),
///     "nsed.result.7.2.propose.0x0000000000000000000000000000000000000000"
/// );
/// ```
pub fn result_subject(job_id: U256, round: u32, phase: Phase, agent: Address) -> String {
    format!("nsed.result.{job_id}.{round}.{phase}.{}", token(agent))
}

/// [`result_subject`] + `.failed`: where an agent reports that it could not answer.
pub fn failed_subject(job_id: U256, round: u32, phase: Phase, agent: Address) -> String {
    format!("{}.failed", result_subject(job_id, round, phase, agent))
}

/// `nsed.heartbeat.<agent>`.
pub fn heartbeat_subject(agent: Address) -> String {
    format!("nsed.heartbeat.{}", token(agent))
}

/// `<job>-<round>-<phase>-<agent>-<tag>`: the JetStream message id of a task or result, where
/// `tag` is the first 16 hex digits of `keccak256` of the message's signature.
///
/// JetStream drops a message whose id it has stored in the duplicate window, stream-wide and
/// whatever the subject. An id anyone could compute in advance would let any publisher cancel
/// a real message by sending junk under its id first; the signature is unknown until its signer
/// makes it, so nobody else can pre-empt it. A signer that re-sends the same signed message
/// after a crash (ECDSA here is deterministic, RFC 6979) still gets it stored only once.
///
/// ```
/// use alloy_primitives::{Address, Signature, U256};
/// use nsed_protocol::wire::{Phase, message_id};
/// let id = message_id(U256::from(3), 1, Phase::Evaluate, Address::ZERO, &Signature::test_signature());
/// assert!(id.starts_with("3-1-evaluate-0x0000000000000000000000000000000000000000-"));
/// assert_eq!(id.len(), "3-1-evaluate-0x0000000000000000000000000000000000000000-".len() + 16);
/// ```
pub fn message_id(
    job_id: U256,
    round: u32,
    phase: Phase,
    agent: Address,
    signature: &Signature,
) -> String {
    let tag = alloy_primitives::keccak256(signature.as_bytes());
    format!(
        "{job_id}-{round}-{phase}-{}-{}",
        token(agent),
        alloy_primitives::hex::encode(&tag[..8])
    )
}
