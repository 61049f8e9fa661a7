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
    failed_subject, heartbeat_subject, message_id, result_subject, task_subject,
};
pub use task::{
    AnswerFormat, ChoiceInput, MAX_CHOICES, MAX_QUESTION_BYTES, RoundView, SignedTask,
    TASK_KIND_TENSOR_F32, TASK_KIND_TEXT, TASK_KIND_TEXT_CHOICE, Task, TaskError, TensorInput,
    TextInput, TextInputError, VerifiedTask,
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

    /// The phase as signed in EIP-712 types: 0 for propose, 1 for evaluate.
    ///
    /// ```
    /// assert_eq!(nsed_protocol::wire::Phase::Evaluate.index(), 1);
    /// ```
    pub const fn index(self) -> u8 {
        match self {
            Self::Propose => 0,
            Self::Evaluate => 1,
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
            input: br#"{"shape": [2], "values": [0.5, 1.0]}"#.into(),
            input_hash: alloy_primitives::keccak256(br#"{"shape": [2], "values": [0.5, 1.0]}"#),
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
        let ctx =
            crate::eip712::RoundContext { job_id: U256::from(1), round: 1, ..Default::default() };
        let p = SignedProposal::sign(&key, &domain, &ctx, "3".into()).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&encode(&p)).unwrap();
        let sig = json["signature"].as_str().unwrap();
        assert!(sig.starts_with("0x") && sig.len() == 2 + 130, "{sig}");
        let back = decode::<SignedProposal>(&encode(&p)).unwrap();
        assert!(back.verify(&domain).is_ok());
        let b = SignedBallot::sign(&key, &domain, &ctx, B256::ZERO, vec![0, -2]).unwrap();
        assert!(decode::<SignedBallot>(&encode(&b)).unwrap().verify(&domain).is_ok());
        let mut bad: serde_json::Value = serde_json::from_slice(&encode(&p)).unwrap();
        bad["signature"] = serde_json::json!("0x1234");
        assert!(matches!(
            decode::<SignedProposal>(bad.to_string().as_bytes()),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn a_signed_task_opens_only_untouched_and_with_its_own_input() {
        let keeper = PrivateKeySigner::random();
        let t = task();
        let signed = SignedTask::sign(&keeper, &t).unwrap();
        let opened = decode::<SignedTask>(&encode(&signed)).unwrap().open().unwrap();
        assert_eq!(opened.task, t);
        assert_eq!(opened.keeper, keeper.address());

        // Any change to the body breaks the signature, even one a re-encoding would hide.
        let body = signed.task.get().replace("\"credits\":100", "\"credits\":101");
        assert_ne!(body, signed.task.get());
        let mut changed = signed.clone();
        changed.task = serde_json::value::RawValue::from_string(body).unwrap();
        assert!(matches!(changed.open(), Err(TaskError::Signature(_))));
        let spaced = signed.task.get().replacen(',', ", ", 1);
        let mut respaced = signed;
        respaced.task = serde_json::value::RawValue::from_string(spaced).unwrap();
        assert!(matches!(respaced.open(), Err(TaskError::Signature(_))));

        // Someone else's signature under the keeper's name.
        let mut forged = SignedTask::sign(&PrivateKeySigner::random(), &t).unwrap();
        forged.keeper = keeper.address();
        assert!(matches!(forged.open(), Err(TaskError::Signature(_))));

        // Validly signed, but the input is not what the hash says.
        let mut lying = t;
        lying.input = b"{}".into();
        let lying = SignedTask::sign(&keeper, &lying).unwrap();
        assert!(matches!(lying.open(), Err(TaskError::InputHash { .. })));
    }

    #[test]
    fn a_round_view_digest_is_what_the_next_round_signs() {
        let mut t = task();
        assert_eq!(t.previous_round_digest(), B256::ZERO);
        let view = RoundView {
            round: 1,
            previous_digest: B256::ZERO,
            contents: vec![Some("1".into()), Some("2".into())],
            votes: vec![Some(vec![0, 1]), None],
            scores: vec![0, 1],
            rationales: vec![],
        };
        t.round = 2;
        t.previous = Some(view.clone());
        let expected = crate::eip712::round_digest(
            B256::ZERO,
            crate::eip712::proposals_digest(&t.seats, &[Some("1"), Some("2")]),
            &[Some(&[0, 1][..]), None],
        );
        assert_eq!(t.context().previous_round_digest, expected);
        let mut shown_otherwise = view;
        shown_otherwise.votes[1] = Some(vec![1, 0]);
        t.previous = Some(shown_otherwise);
        assert_ne!(t.previous_round_digest(), expected);
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
