//! Messages exchanged over NATS (docs/protocol.md): JSON with serde, versioned, tolerant of unknown
//! fields, size-limited on the way in.
//!
//! Every message carries a `version` (currently [`WIRE_VERSION`]); readers ignore fields they do
//! not know, so later versions can add optional fields without breaking older workers. Anything
//! read from the network goes through [`decode`], which rejects oversized payloads, malformed
//! JSON and newer major versions with a typed [`WireError`].

mod heartbeat;
mod result;
mod sig;
mod subjects;
mod task;

pub use heartbeat::{AgentStatus, Heartbeat};
pub use result::{SignedBallot, SignedProposal, TaskFailure};
pub use subjects::{
    HEARTBEAT_WILDCARD, RESULTS_STREAM, RESULTS_WILDCARD, TASKS_STREAM, TASKS_WILDCARD,
    failed_subject, heartbeat_subject, result_subject, task_message_id, task_subject,
};
pub use task::{
    AnswerFormat, ChoiceInput, MAX_CHOICES, MAX_QUESTION_BYTES, RoundView, TASK_KIND_TENSOR_F32,
    TASK_KIND_TEXT, TASK_KIND_TEXT_CHOICE, Task, TensorInput, TextInput, TextInputError,
};

/// Version written into every message this crate produces.
pub const WIRE_VERSION: u16 = 1;

/// Largest message accepted from the network (1 MiB): bigger inputs go by URI + hash.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

pub(crate) const fn wire_version() -> u16 {
    WIRE_VERSION
}

/// Which half of a round a task or result belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Every agent answers the task.
    Propose,
    /// Every agent weighs the other agents' answers.
    Evaluate,
}

impl Phase {
    /// The lowercase name used in subjects and message ids.
    ///
    /// ```
    /// assert_eq!(nsed_protocol::wire::Phase::Evaluate.as_str(), "evaluate");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Propose => "propose",
            Self::Evaluate => "evaluate",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why bytes from the network are not a usable message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Larger than [`MAX_MESSAGE_BYTES`].
    #[error("message of {size} bytes exceeds the {max}-byte limit")]
    Oversized {
        /// The message size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not JSON, or not the expected shape.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Written by a newer protocol version than this reader understands.
    #[error("message version {found} is newer than supported version {supported}")]
    UnsupportedVersion {
        /// The message's version.
        found: u16,
        /// The newest version this build reads.
        supported: u16,
    },
}

/// A message that carries a protocol version.
pub trait Versioned {
    /// The message's `version` field.
    fn version(&self) -> u16;
}

/// Decodes a message received from the network: size limit, JSON, version check.
///
/// # Errors
///
/// [`WireError`] for oversized, malformed or too-new messages.
///
/// ```
/// use nsed_protocol::wire::{Heartbeat, WireError, decode};
/// assert!(matches!(decode::<Heartbeat>(b"{oops"), Err(WireError::Malformed(_))));
/// ```
pub fn decode<T>(bytes: &[u8]) -> Result<T, WireError>
where
    T: serde::de::DeserializeOwned + Versioned,
{
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::Oversized { size: bytes.len(), max: MAX_MESSAGE_BYTES });
    }
    let message: T =
        serde_json::from_slice(bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
    if message.version() > WIRE_VERSION {
        return Err(WireError::UnsupportedVersion {
            found: message.version(),
            supported: WIRE_VERSION,
        });
    }
    Ok(message)
}

/// Encodes a message as JSON bytes.
///
/// ```
/// use nsed_protocol::wire::{AgentStatus, Heartbeat, decode, encode};
/// let hb = Heartbeat::new(alloy_primitives::Address::ZERO, "m", Default::default(), AgentStatus::Ready, 0, 1, 5);
/// assert_eq!(decode::<Heartbeat>(&encode(&hb)).unwrap(), hb);
/// ```
pub fn encode<T: serde::Serialize>(message: &T) -> Vec<u8> {
    serde_json::to_vec(message)
        .expect("protocol messages always serialize: no maps with non-string keys")
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, B256, U256};
    use alloy_signer_local::PrivateKeySigner;

    fn task() -> Task {
        Task {
            version: WIRE_VERSION,
            job_id: U256::from(9),
            round: 1,
            phase: Phase::Propose,
            seat: 0,
            seats: vec![Address::repeat_byte(1), Address::repeat_byte(2)],
            credits: 100,
            deadline_ms: 1_700_000_000_000,
            chain_id: 31337,
            market: Address::repeat_byte(9),
            kind: TASK_KIND_TENSOR_F32.into(),
            input: serde_json::json!({"shape": [2], "values": [0.5, 1.0]}),
            proposals: Vec::new(),
            previous: None,
        }
    }

    #[test]
    fn a_task_round_trips_and_ignores_unknown_fields() {
        let t = task();
        assert_eq!(decode::<Task>(&encode(&t)).unwrap(), t);
        let mut json: serde_json::Value = serde_json::from_slice(&encode(&t)).unwrap();
        json["future_field"] = serde_json::json!({"anything": [1, 2]});
        assert_eq!(decode::<Task>(json.to_string().as_bytes()).unwrap(), t);
    }

    #[test]
    fn a_message_without_a_version_is_version_one() {
        let mut json: serde_json::Value = serde_json::from_slice(&encode(&task())).unwrap();
        json.as_object_mut().unwrap().remove("version");
        assert_eq!(decode::<Task>(json.to_string().as_bytes()).unwrap().version, 1);
    }

    #[test]
    fn newer_versions_oversized_and_malformed_messages_are_refused() {
        let mut json: serde_json::Value = serde_json::from_slice(&encode(&task())).unwrap();
        json["version"] = serde_json::json!(2);
        assert_eq!(
            decode::<Task>(json.to_string().as_bytes()),
            Err(WireError::UnsupportedVersion { found: 2, supported: 1 })
        );
        let huge = vec![b' '; MAX_MESSAGE_BYTES + 1];
        assert_eq!(
            decode::<Task>(&huge),
            Err(WireError::Oversized { size: MAX_MESSAGE_BYTES + 1, max: MAX_MESSAGE_BYTES })
        );
        assert!(matches!(decode::<Task>(b"[1,2,3]"), Err(WireError::Malformed(_))));
        assert!(matches!(decode::<Task>(br#"{"job_id": "0x1"}"#), Err(WireError::Malformed(_))));
    }

    #[test]
    fn signatures_travel_as_65_byte_hex_and_still_verify() {
        let key = PrivateKeySigner::random();
        let domain = crate::eip712::domain(31337, Address::repeat_byte(9));
        let p = SignedProposal::sign(&key, &domain, U256::from(1), 1, "3".into()).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&encode(&p)).unwrap();
        let sig = json["signature"].as_str().unwrap();
        assert!(sig.starts_with("0x") && sig.len() == 2 + 130, "{sig}");
        let back = decode::<SignedProposal>(&encode(&p)).unwrap();
        assert!(back.verify(&domain).is_ok());
        let b =
            SignedBallot::sign(&key, &domain, U256::from(1), 1, B256::ZERO, vec![0, -2]).unwrap();
        assert!(decode::<SignedBallot>(&encode(&b)).unwrap().verify(&domain).is_ok());
        let mut bad: serde_json::Value = serde_json::from_slice(&encode(&p)).unwrap();
        bad["signature"] = serde_json::json!("0x1234");
        assert!(matches!(
            decode::<SignedProposal>(bad.to_string().as_bytes()),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn task_helpers_name_the_agent_and_the_digest() {
        let mut t = task();
        assert_eq!(t.agent(), Some(Address::repeat_byte(1)));
        t.seat = 5;
        assert_eq!(t.agent(), None);
        t.proposals = vec![Some("1".into()), None];
        assert_eq!(
            t.proposals_digest(),
            crate::eip712::proposals_digest(&t.seats, &[Some("1"), None])
        );
    }
}
