//! What agents send back: signed proposals, signed ballots, and failures.

use alloy_primitives::{Address, B256, Signature, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::Eip712Domain;
use serde::{Deserialize, Serialize};

use super::{Phase, Versioned, wire_version};
use crate::eip712::{self, SignatureError};

/// An agent's answer for one round, signed over `(jobId, round, keccak256(content))`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedProposal {
    /// Protocol version of this message.
    #[serde(default = "wire_version")]
    pub version: u16,
    /// The on-chain job id.
    pub job_id: U256,
    /// Round number, from 1.
    pub round: u32,
    /// The proposing agent (the signer).
    pub agent: Address,
    /// The answer, e.g. `"7"` for a digit.
    pub content: String,
    /// EIP-712 signature of [`eip712::typed::Proposal`].
    #[serde(with = "super::sig")]
    pub signature: Signature,
    /// How sure the agent is, in `[0, 1]`; informational, not signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// A short explanation shared with the other agents in the next round; advisory, not signed
    /// and never settled on chain (agents treat it as untrusted text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
}

impl Versioned for SignedProposal {
    fn version(&self) -> u16 {
        self.version
    }
}

impl SignedProposal {
    /// Signs `content` as `signer`'s proposal for `(job_id, round)` in `domain`.
    ///
    /// # Errors
    ///
    /// [`SignatureError::Signing`] if the key cannot sign.
    ///
    /// ```
    /// use alloy_primitives::{Address, U256};
    /// use alloy_signer_local::PrivateKeySigner;
    /// use nsed_protocol::{eip712::domain, wire::SignedProposal};
    /// let d = domain(31337, Address::repeat_byte(1));
    /// let p = SignedProposal::sign(&PrivateKeySigner::random(), &d, U256::from(1), 1, "7".into()).unwrap();
    /// assert!(p.verify(&d).is_ok());
    /// ```
    pub fn sign(
        signer: &PrivateKeySigner,
        domain: &Eip712Domain,
        job_id: U256,
        round: u32,
        content: String,
    ) -> Result<Self, SignatureError> {
        let signature =
            eip712::sign(signer, eip712::proposal_hash(domain, job_id, round, &content))?;
        Ok(Self {
            version: wire_version(),
            job_id,
            round,
            agent: signer.address(),
            content,
            signature,
            confidence: None,
            rationale: None,
        })
    }

    /// Checks the signature was made by `agent` over this exact proposal in `domain`.
    ///
    /// # Errors
    ///
    /// [`SignatureError`] if it was not.
    pub fn verify(&self, domain: &Eip712Domain) -> Result<(), SignatureError> {
        let hash = eip712::proposal_hash(domain, self.job_id, self.round, &self.content);
        eip712::verify(hash, &self.signature, self.agent)
    }
}

/// An agent's ballot for one round, signed over `(jobId, round, proposalsDigest, votes)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedBallot {
    /// Protocol version of this message.
    #[serde(default = "wire_version")]
    pub version: u16,
    /// The on-chain job id.
    pub job_id: U256,
    /// Round number, from 1.
    pub round: u32,
    /// The voting agent (the signer).
    pub agent: Address,
    /// Digest of the proposal set the votes judge (see [`eip712::proposals_digest`]).
    pub proposals_digest: B256,
    /// Integer quadratic votes by seat.
    pub votes: Vec<i64>,
    /// The raw weights in `[−100, 100]` the votes were mapped from; informational, not signed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weights: Vec<i32>,
    /// EIP-712 signature of [`eip712::typed::Ballot`].
    #[serde(with = "super::sig")]
    pub signature: Signature,
}

impl Versioned for SignedBallot {
    fn version(&self) -> u16 {
        self.version
    }
}

impl SignedBallot {
    /// Signs `votes` as `signer`'s ballot over the proposals with `proposals_digest`.
    ///
    /// # Errors
    ///
    /// [`SignatureError::Signing`] if the key cannot sign.
    ///
    /// ```
    /// use alloy_primitives::{Address, B256, U256};
    /// use alloy_signer_local::PrivateKeySigner;
    /// use nsed_protocol::{eip712::domain, wire::SignedBallot};
    /// let d = domain(31337, Address::repeat_byte(1));
    /// let b = SignedBallot::sign(&PrivateKeySigner::random(), &d, U256::from(1), 1, B256::ZERO, vec![0, 3]).unwrap();
    /// assert!(b.verify(&d).is_ok());
    /// ```
    pub fn sign(
        signer: &PrivateKeySigner,
        domain: &Eip712Domain,
        job_id: U256,
        round: u32,
        proposals_digest: B256,
        votes: Vec<i64>,
    ) -> Result<Self, SignatureError> {
        let hash = eip712::ballot_hash(domain, job_id, round, proposals_digest, &votes);
        Ok(Self {
            version: wire_version(),
            job_id,
            round,
            agent: signer.address(),
            proposals_digest,
            votes,
            weights: Vec::new(),
            signature: eip712::sign(signer, hash)?,
        })
    }

    /// Checks the signature was made by `agent` over this exact ballot in `domain`.
    ///
    /// # Errors
    ///
    /// [`SignatureError`] if it was not.
    pub fn verify(&self, domain: &Eip712Domain) -> Result<(), SignatureError> {
        let hash = eip712::ballot_hash(
            domain,
            self.job_id,
            self.round,
            self.proposals_digest,
            &self.votes,
        );
        eip712::verify(hash, &self.signature, self.agent)
    }
}

/// An agent's report that it could not answer a task, with a human-readable reason.
///
/// Not signed: a failure only ever makes an agent count as missing, which anyone could cause by
/// staying silent anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFailure {
    /// Protocol version of this message.
    #[serde(default = "wire_version")]
    pub version: u16,
    /// The job id, when the task was readable enough to tell.
    pub job_id: Option<U256>,
    /// The round, when known.
    pub round: Option<u32>,
    /// The phase, when known.
    pub phase: Option<Phase>,
    /// The agent reporting.
    pub agent: Address,
    /// What was wrong, e.g. `unknown task kind "text"`.
    pub reason: String,
}

impl Versioned for TaskFailure {
    fn version(&self) -> u16 {
        self.version
    }
}
