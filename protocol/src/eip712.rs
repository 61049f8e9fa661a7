//! EIP-712 typed data of the deliberation market: what agents sign (and the market verifies on
//! chain), and what keepers and agents sign for each other on the bus (verified off chain only).
//!
//! Domain: name `NSED DeliberationMarket`, version `1`, the chain id and the market's address, so
//! a signature is bound to one market on one chain. Types:
//!
//! ```solidity
//! struct Proposal { uint256 jobId; uint32 round; bytes32 inputHash; bytes32 previousRoundDigest; bytes32 contentHash; }
//! struct Ballot   { uint256 jobId; uint32 round; bytes32 inputHash; bytes32 previousRoundDigest; bytes32 proposalsDigest; int256[] votes; }
//! // Off chain only:
//! struct Task     { uint256 jobId; uint32 round; uint8 phase; address agent; bytes32 inputHash; uint64 deadlineMs; bytes32 bodyHash; }
//! struct Failure  { uint256 jobId; uint32 round; uint8 phase; bytes32 taskHash; bytes32 reasonHash; }
//! ```
//!
//! - `inputHash = keccak256(input)`, the hash the market stores for the job: an answer is bound
//!   to the question that was asked on chain, not to whatever a task claimed it was.
//! - `previousRoundDigest` commits to everything the agent was shown of earlier rounds: zero in
//!   round 1, then the [`round_digest`] chain over every closed round. A proposal made for
//!   another history cannot be settled.
//! - `contentHash = keccak256(bytes(content))`.
//! - `proposalsDigest = keccak256(abi.encode(address[] seats, bytes32[] contentHashes))` over the
//!   round's seats in order, with `bytes32(0)` for a seat that did not propose: a ballot commits
//!   to the exact proposals it judged, so it cannot be replayed onto another set.
//! - A task's `bodyHash` is `keccak256` of the task's exact JSON bytes; `phase` is 0 (propose)
//!   or 1 (evaluate); `taskHash` is the EIP-712 hash of the keeper's task a failure answers.
//! - The signer is recovered from the 65-byte signature and must be the agent (or, for tasks,
//!   the keeper) itself.

use alloy_primitives::{Address, B256, I256, Signature, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{Eip712Domain, SolStruct, SolValue, eip712_domain};
use secp256k1::{
    All, Message, Secp256k1, SecretKey,
    ecdsa::{RecoverableSignature, RecoveryId},
};
use std::sync::LazyLock;

/// The Solidity structs, generated with `sol!`.
pub mod typed {
    alloy_sol_types::sol! {
        /// An agent's proposal: its content for one round of one job, bound to the job's input
        /// and to the rounds it was shown.
        #[derive(Debug, PartialEq, Eq)]
        struct Proposal {
            uint256 jobId;
            uint32 round;
            bytes32 inputHash;
            bytes32 previousRoundDigest;
            bytes32 contentHash;
        }

        /// An agent's ballot: integer quadratic votes, one per seat, over one proposal set.
        #[derive(Debug, PartialEq, Eq)]
        struct Ballot {
            uint256 jobId;
            uint32 round;
            bytes32 inputHash;
            bytes32 previousRoundDigest;
            bytes32 proposalsDigest;
            int256[] votes;
        }

        /// A keeper's task for one seat of one phase of one round (verified by workers).
        #[derive(Debug, PartialEq, Eq)]
        struct Task {
            uint256 jobId;
            uint32 round;
            uint8 phase;
            address agent;
            bytes32 inputHash;
            uint64 deadlineMs;
            bytes32 bodyHash;
        }

        /// An agent's refusal of one keeper task (verified by keepers).
        #[derive(Debug, PartialEq, Eq)]
        struct Failure {
            uint256 jobId;
            uint32 round;
            uint8 phase;
            bytes32 taskHash;
            bytes32 reasonHash;
        }
    }

    // The agent registry's struct, in its own block: it is signed in the registry's domain
    // ([`super::registry_domain`]), not the market's.
    alloy_sol_types::sol! {
        /// An agent key's consent to its registration by `owner` (the account that calls
        /// `AgentRegistry.register` and pays the bond), running `modelId`, described at
        /// `metadataURI`.
        #[derive(Debug, PartialEq, Eq)]
        struct Registration {
            address agent;
            address owner;
            bytes32 modelId;
            string metadataURI;
        }
    }
}

/// What every answer of one round is bound to: the job, the round, the job's input and the
/// history the agent was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RoundContext {
    /// The on-chain job id.
    pub job_id: U256,
    /// Round number, from 1.
    pub round: u32,
    /// `keccak256(input)` as the market stores it.
    pub input_hash: B256,
    /// Zero in round 1, then the [`round_digest`] of the previous round.
    pub previous_round_digest: B256,
}

/// EIP-712 domain name of the deliberation market.
pub const DOMAIN_NAME: &str = "NSED DeliberationMarket";
/// EIP-712 domain version of the deliberation market.
pub const DOMAIN_VERSION: &str = "1";

/// Why a signature does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature is malformed, malleable (`s` in the upper half, which the market rejects)
    /// or no key recovers from it.
    #[error("signature does not recover a signer (malformed, or a malleable high s)")]
    Unrecoverable,
    /// A valid signature, but by someone else.
    #[error("signed by {recovered}, expected {expected}")]
    WrongSigner {
        /// The agent that should have signed.
        expected: Address,
        /// Who actually signed.
        recovered: Address,
    },
    /// The signer could not sign (a broken key; never happens with local keys).
    #[error("cannot sign: {0}")]
    Signing(String),
}

/// Where signatures are valid: one market contract on one chain.
///
/// ```
/// use alloy_primitives::Address;
/// let domain = nsed_protocol::eip712::domain(31337, Address::repeat_byte(1));
/// assert_eq!(domain.chain_id.unwrap().to::<u64>(), 31337);
/// ```
pub fn domain(chain_id: u64, market: Address) -> Eip712Domain {
    eip712_domain! {
        name: DOMAIN_NAME,
        version: DOMAIN_VERSION,
        chain_id: chain_id,
        verifying_contract: market,
    }
}

/// `keccak256(bytes(content))`, the hash a proposal signature covers.
///
/// ```
/// let h = nsed_protocol::eip712::content_hash("7");
/// assert_eq!(h, alloy_primitives::keccak256("7"));
/// ```
pub fn content_hash(content: &str) -> B256 {
    keccak256(content.as_bytes())
}

/// `keccak256(abi.encode(seats, contentHashes))` with `bytes32(0)` for seats without a proposal.
///
/// # Panics
///
/// If `seats` and `contents` differ in length (a caller bug: both come from the same round).
///
/// ```
/// use alloy_primitives::Address;
/// use nsed_protocol::eip712::proposals_digest;
/// let seats = [Address::repeat_byte(1), Address::repeat_byte(2)];
/// let a = proposals_digest(&seats, &[Some("3"), None]);
/// assert_ne!(a, proposals_digest(&seats, &[Some("3"), Some("4")]));
/// ```
#[track_caller]
pub fn proposals_digest(seats: &[Address], contents: &[Option<&str>]) -> B256 {
    assert_eq!(seats.len(), contents.len(), "one content slot per seat");
    let hashes: Vec<B256> =
        contents.iter().map(|c| c.map(content_hash).unwrap_or_default()).collect();
    keccak256((seats.to_vec(), hashes).abi_encode_params())
}

/// `keccak256(abi.encodePacked(int256[] votes))`: how a ballot's votes enter its hash.
///
/// ```
/// let h = nsed_protocol::eip712::votes_hash(&[0, -2]);
/// assert_ne!(h, nsed_protocol::eip712::votes_hash(&[0, 2]));
/// ```
pub fn votes_hash(votes: &[i64]) -> B256 {
    let mut packed = Vec::with_capacity(32 * votes.len());
    for &v in votes {
        packed.extend_from_slice(
            &I256::try_from(v).expect("every i64 fits in int256").to_be_bytes::<32>(),
        );
    }
    keccak256(packed)
}

/// The digest of a closed round, chained over the rounds before it:
/// `keccak256(abi.encode(previousRoundDigest, proposalsDigest, bytes32[] votesHashes))` with
/// [`votes_hash`] per seat and `bytes32(0)` for a seat without a ballot. The next round's
/// answers sign it as their `previousRoundDigest`.
///
/// ```
/// use alloy_primitives::B256;
/// use nsed_protocol::eip712::round_digest;
/// let d = B256::repeat_byte(1);
/// assert_ne!(round_digest(B256::ZERO, d, &[Some(&[0, 1][..]), None]), round_digest(B256::ZERO, d, &[None, Some(&[1, 0][..])]));
/// ```
pub fn round_digest(previous: B256, proposals_digest: B256, ballots: &[Option<&[i64]>]) -> B256 {
    let hashes: Vec<B256> = ballots.iter().map(|b| b.map(votes_hash).unwrap_or_default()).collect();
    keccak256((previous, proposals_digest, hashes).abi_encode_params())
}

/// The EIP-712 signing hash of a proposal.
///
/// ```
/// use alloy_primitives::{Address, U256};
/// use nsed_protocol::eip712::{RoundContext, domain, proposal_hash};
/// let d = domain(1, Address::ZERO);
/// let r1 = RoundContext { job_id: U256::from(1), round: 1, ..Default::default() };
/// let r2 = RoundContext { round: 2, ..r1 };
/// assert_ne!(proposal_hash(&d, &r1, "7"), proposal_hash(&d, &r2, "7"));
/// ```
pub fn proposal_hash(domain: &Eip712Domain, ctx: &RoundContext, content: &str) -> B256 {
    typed::Proposal {
        jobId: ctx.job_id,
        round: ctx.round,
        inputHash: ctx.input_hash,
        previousRoundDigest: ctx.previous_round_digest,
        contentHash: content_hash(content),
    }
    .eip712_signing_hash(domain)
}

/// The EIP-712 signing hash of a ballot.
///
/// ```
/// use alloy_primitives::{Address, B256, U256};
/// use nsed_protocol::eip712::{RoundContext, ballot_hash, domain};
/// let d = domain(1, Address::ZERO);
/// let r = RoundContext { job_id: U256::from(1), round: 1, ..Default::default() };
/// assert_ne!(ballot_hash(&d, &r, B256::ZERO, &[0, 1]), ballot_hash(&d, &r, B256::ZERO, &[0, 2]));
/// ```
pub fn ballot_hash(
    domain: &Eip712Domain,
    ctx: &RoundContext,
    proposals_digest: B256,
    votes: &[i64],
) -> B256 {
    typed::Ballot {
        jobId: ctx.job_id,
        round: ctx.round,
        inputHash: ctx.input_hash,
        previousRoundDigest: ctx.previous_round_digest,
        proposalsDigest: proposals_digest,
        votes: votes
            .iter()
            .map(|&v| I256::try_from(v).expect("every i64 fits in int256"))
            .collect(),
    }
    .eip712_signing_hash(domain)
}

/// Signs a prehashed EIP-712 message.
///
/// # Errors
///
/// [`SignatureError::Signing`] if the key cannot sign.
///
/// ```
/// use alloy_primitives::B256;
/// use alloy_signer_local::PrivateKeySigner;
/// use nsed_protocol::eip712::{sign, verify};
/// let key = PrivateKeySigner::random();
/// let sig = sign(&key, B256::repeat_byte(9)).unwrap();
/// assert!(verify(B256::repeat_byte(9), &sig, key.address()).is_ok());
/// ```
pub fn sign(signer: &PrivateKeySigner, hash: B256) -> Result<Signature, SignatureError> {
    let secret = SecretKey::from_byte_array(signer.credential().to_bytes().into())
        .map_err(|e| SignatureError::Signing(e.to_string()))?;
    // RFC 6979 and low s, as alloy's signer: the same signature, made faster.
    let (id, rs) =
        SECP256K1.sign_ecdsa_recoverable(Message::from_digest(hash.0), &secret).serialize_compact();
    Ok(Signature::from_bytes_and_parity(&rs, i32::from(id) == 1))
}

/// Checks that `signature` over `hash` was made by `expected`, with `s` in the lower half of the
/// curve order as the market's `ECDSA.recover` requires: the other half is the malleable twin
/// of a valid signature, which the keeper must not accept into a transcript the market would
/// then refuse.
///
/// # Errors
///
/// [`SignatureError::Unrecoverable`] (a high `s` included) or [`SignatureError::WrongSigner`].
///
/// ```
/// use alloy_primitives::{Address, B256};
/// use alloy_signer_local::PrivateKeySigner;
/// use nsed_protocol::eip712::{SignatureError, sign, verify};
/// let key = PrivateKeySigner::random();
/// let sig = sign(&key, B256::repeat_byte(9)).unwrap();
/// assert!(matches!(verify(B256::repeat_byte(8), &sig, key.address()), Err(SignatureError::WrongSigner { .. })));
/// ```
pub fn verify(hash: B256, signature: &Signature, expected: Address) -> Result<(), SignatureError> {
    if signature.normalize_s().is_some() {
        return Err(SignatureError::Unrecoverable);
    }
    let id = RecoveryId::from_u8_masked(u8::from(signature.v()));
    let compact = RecoverableSignature::from_compact(&signature.as_bytes()[..64], id)
        .map_err(|_| SignatureError::Unrecoverable)?;
    let key = SECP256K1
        .recover_ecdsa(Message::from_digest(hash.0), &compact)
        .map_err(|_| SignatureError::Unrecoverable)?;
    let recovered = Address::from_raw_public_key(&key.serialize_uncompressed()[1..]);
    if recovered == expected {
        Ok(())
    } else {
        Err(SignatureError::WrongSigner { expected, recovered })
    }
}

/// One libsecp256k1 context for signing and recovering (building one costs far more than a
/// signature).
static SECP256K1: LazyLock<Secp256k1<All>> = LazyLock::new(Secp256k1::new);

// The agent registry's typed data: an agent key's consent to being registered by its owner.

/// EIP-712 domain name of the agent registry (version [`DOMAIN_VERSION`]).
pub const REGISTRY_DOMAIN_NAME: &str = "NSED AgentRegistry";

/// Where registration signatures are valid: one agent registry contract on one chain.
///
/// ```
/// use alloy_primitives::Address;
/// use nsed_protocol::eip712::{REGISTRY_DOMAIN_NAME, registry_domain};
/// let domain = registry_domain(31337, Address::repeat_byte(2));
/// assert_eq!(domain.name.as_deref(), Some(REGISTRY_DOMAIN_NAME));
/// assert_eq!(domain.verifying_contract, Some(Address::repeat_byte(2)));
/// ```
pub fn registry_domain(chain_id: u64, registry: Address) -> Eip712Domain {
    eip712_domain! {
        name: REGISTRY_DOMAIN_NAME,
        version: DOMAIN_VERSION,
        chain_id: chain_id,
        verifying_contract: registry,
    }
}

/// The EIP-712 signing hash of `Registration(agent, owner, modelId, metadataURI)`, which the
/// agent key signs (with [`sign`]) so that `owner` can register it.
///
/// The signature binds the owner, the model and the metadata URI: nobody else can register the
/// key with it, and the registry accepts each key only once, so it cannot be replayed either.
///
/// ```
/// use alloy_primitives::{Address, B256};
/// use alloy_signer_local::PrivateKeySigner;
/// use nsed_protocol::eip712::{registration_hash, registry_domain, sign, verify};
/// let agent = PrivateKeySigner::random();
/// let owner = Address::repeat_byte(3);
/// let domain = registry_domain(31337, Address::repeat_byte(2));
/// let model = B256::repeat_byte(7);
/// let hash = registration_hash(&domain, agent.address(), owner, model, "ipfs://agent");
/// let signature = sign(&agent, hash).unwrap();
/// assert!(verify(hash, &signature, agent.address()).is_ok());
/// // Another owner, or another chain, is another message.
/// assert_ne!(hash, registration_hash(&domain, agent.address(), Address::ZERO, model, "ipfs://agent"));
/// assert_ne!(
///     hash,
///     registration_hash(&registry_domain(1, Address::repeat_byte(2)), agent.address(), owner, model, "ipfs://agent")
/// );
/// ```
pub fn registration_hash(
    domain: &Eip712Domain,
    agent: Address,
    owner: Address,
    model_id: B256,
    metadata_uri: &str,
) -> B256 {
    typed::Registration { agent, owner, modelId: model_id, metadataURI: metadata_uri.to_owned() }
        .eip712_signing_hash(domain)
}

#[cfg(test)]
mod registry_tests {
    use super::*;

    #[test]
    fn the_registration_type_string_matches_the_registry() {
        assert_eq!(
            typed::Registration::eip712_encode_type(),
            "Registration(address agent,address owner,bytes32 modelId,string metadataURI)"
        );
    }

    #[test]
    fn a_registration_is_the_typed_hash_of_its_fields() {
        // keccak256("\x19\x01" ‖ domainSeparator ‖ keccak256(abi.encode(typeHash, agent, owner,
        // modelId, keccak256(metadataURI)))), written out as the registry computes it.
        let domain = registry_domain(31337, Address::repeat_byte(9));
        let (agent, owner, model) =
            (Address::repeat_byte(1), Address::repeat_byte(2), B256::repeat_byte(3));
        let type_hash = keccak256(
            "Registration(address agent,address owner,bytes32 modelId,string metadataURI)",
        );
        let struct_hash =
            keccak256((type_hash, agent, owner, model, keccak256("ipfs://a")).abi_encode_params());
        let mut message = vec![0x19, 0x01];
        message.extend_from_slice(domain.separator().as_slice());
        message.extend_from_slice(struct_hash.as_slice());
        assert_eq!(registration_hash(&domain, agent, owner, model, "ipfs://a"), keccak256(message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_signer::SignerSync;
    use proptest::prelude::*;

    /// The order of secp256k1's group.
    const ORDER: U256 = U256::from_be_bytes(alloy_primitives::hex!(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
    ));

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The same deterministic (RFC 6979) signature as alloy's signer, recovering its key;
        /// its malleable twin (`n - s`, the other parity), which the market rejects, is rejected.
        #[test]
        fn signatures_are_alloys_and_their_malleable_twins_are_rejected(
            key in prop::array::uniform32(1u8..),
            hash in prop::array::uniform32(any::<u8>()),
        ) {
            let key = PrivateKeySigner::from_bytes(&B256::from(key)).unwrap();
            let hash = B256::from(hash);
            let ours = sign(&key, hash).unwrap();
            prop_assert_eq!(ours, key.sign_hash_sync(&hash).unwrap());
            prop_assert!(verify(hash, &ours, key.address()).is_ok());
            let twin = Signature::new(ours.r(), ORDER - ours.s(), !ours.v());
            let twin_refused = matches!(verify(hash, &twin, key.address()), Err(SignatureError::Unrecoverable));
            prop_assert!(twin_refused, "{:?}", twin.recover_address_from_prehash(&hash));
            let other = PrivateKeySigner::random();
            let wrong = matches!(verify(hash, &ours, other.address()), Err(SignatureError::WrongSigner { .. }));
            prop_assert!(wrong);
        }
    }

    #[test]
    fn the_type_strings_match_the_solidity_structs() {
        assert_eq!(
            typed::Proposal::eip712_encode_type(),
            "Proposal(uint256 jobId,uint32 round,bytes32 inputHash,bytes32 previousRoundDigest,bytes32 contentHash)"
        );
        assert_eq!(
            typed::Ballot::eip712_encode_type(),
            "Ballot(uint256 jobId,uint32 round,bytes32 inputHash,bytes32 previousRoundDigest,bytes32 proposalsDigest,int256[] votes)"
        );
        assert_eq!(
            typed::Task::eip712_encode_type(),
            "Task(uint256 jobId,uint32 round,uint8 phase,address agent,bytes32 inputHash,uint64 deadlineMs,bytes32 bodyHash)"
        );
    }

    #[test]
    fn a_signature_is_bound_to_chain_and_market() {
        let key = PrivateKeySigner::random();
        let market = Address::repeat_byte(7);
        let ctx = RoundContext { job_id: U256::from(5), round: 1, ..Default::default() };
        let hash = proposal_hash(&domain(1, market), &ctx, "3");
        let sig = sign(&key, hash).unwrap();
        assert!(verify(hash, &sig, key.address()).is_ok());
        for other in [
            proposal_hash(&domain(2, market), &ctx, "3"),
            proposal_hash(&domain(1, Address::repeat_byte(8)), &ctx, "3"),
            proposal_hash(&domain(1, market), &RoundContext { job_id: U256::from(6), ..ctx }, "3"),
            proposal_hash(&domain(1, market), &ctx, "4"),
            proposal_hash(
                &domain(1, market),
                &RoundContext { input_hash: B256::repeat_byte(1), ..ctx },
                "3",
            ),
            proposal_hash(
                &domain(1, market),
                &RoundContext { previous_round_digest: B256::repeat_byte(1), ..ctx },
                "3",
            ),
        ] {
            assert!(matches!(
                verify(other, &sig, key.address()),
                Err(SignatureError::WrongSigner { .. })
            ));
        }
    }

    #[test]
    fn votes_hash_is_abi_encode_packed_of_int256s() {
        let packed = [I256::try_from(-1).unwrap(), I256::try_from(3).unwrap()].abi_encode_packed();
        assert_eq!(votes_hash(&[-1, 3]), keccak256(packed));
    }

    #[test]
    fn the_digest_depends_on_seat_order() {
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        assert_ne!(
            proposals_digest(&[a, b], &[Some("1"), Some("2")]),
            proposals_digest(&[b, a], &[Some("2"), Some("1")])
        );
    }
}
