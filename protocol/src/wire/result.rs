//! What agents send back: signed proposals, signed ballots, and failures.

use alloy_primitives::{Address, B256, Signature, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{Eip712Domain, SolStruct};
use serde::{Deserialize, Serialize};

use super::{Phase, Versioned, wire_version};
use crate::eip712::{self, RoundContext, SignatureError};

/// An agent's answer for one round, signed over
/// `(jobId, round, inputHash, previousRoundDigest, keccak256(content))`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedProposal {
    /// Protocol version of this message.
    #[serde(default = "wire_version")]
    pub version: u16,
    /// The on-chain job id.
    pub job_id: U256,
    /// Round number, from 1.
    pub round: u32,
    /// `keccak256` of the job's input, as the market stores it.
    pub input_hash: B256,
    /// The digest of the earlier rounds the agent was shown (zero in round 1).
    pub previous_round_digest: B256,
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
    /// Signs `content` as `signer`'s proposal in round context `ctx` of `domain`.
    ///
    /// # Errors
    ///
    /// [`SignatureError::Signing`] if the key cannot sign.
    ///
    /// ```
    /// use alloy_primitives::{Address, U256};
    /// use alloy_signer_local::PrivateKeySigner;
    /// use nsed_protocol::{eip712::{RoundContext, domain}, wire::SignedProposal};
    /// let d = domain(31337, Address::repeat_byte(1));
    /// let ctx = RoundContext { job_id: U256::from(1), round: 1, ..Default::default() };
    /// let p = SignedProposal::sign(&PrivateKeySigner::random(), &d, &ctx, "7".into()).unwrap();
    /// assert!(p.verify(&d).is_ok());
    /// ```
    pub fn sign(
        signer: &PrivateKeySigner,
        domain: &Eip712Domain,
        ctx: &RoundContext,
        content: String,
    ) -> Result<Self, SignatureError> {
        let signature = eip712::sign(signer, eip712::proposal_hash(domain, ctx, &content))?;
        Ok(Self {
            version: wire_version(),
            job_id: ctx.job_id,
            round: ctx.round,
            input_hash: ctx.input_hash,
            previous_round_digest: ctx.previous_round_digest,
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
        let hash = eip712::proposal_hash(domain, &self.context(), &self.content);
        eip712::verify(hash, &self.signature, self.agent)
    }

    /// The round context this proposal claims to answer.
    pub const fn context(&self) -> RoundContext {
        RoundContext {
            job_id: self.job_id,
            round: self.round,
            input_hash: self.input_hash,
            previous_round_digest: self.previous_round_digest,
        }
    }
}

/// An agent's ballot for one round, signed over
/// `(jobId, round, inputHash, previousRoundDigest, proposalsDigest, votes)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedBallot {
    /// Protocol version of this message.
    #[serde(default = "wire_version")]
    pub version: u16,
    /// The on-chain job id.
    pub job_id: U256,
    /// Round number, from 1.
    pub round: u32,
    /// `keccak256` of the job's input, as the market stores it.
    pub input_hash: B256,
    /// The digest of the earlier rounds the agent was shown (zero in round 1).
    pub previous_round_digest: B256,
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
    /// use nsed_protocol::{eip712::{RoundContext, domain}, wire::SignedBallot};
    /// let d = domain(31337, Address::repeat_byte(1));
    /// let ctx = RoundContext { job_id: U256::from(1), round: 1, ..Default::default() };
    /// let b = SignedBallot::sign(&PrivateKeySigner::random(), &d, &ctx, B256::ZERO, vec![0, 3]).unwrap();
    /// assert!(b.verify(&d).is_ok());
    /// ```
    pub fn sign(
        signer: &PrivateKeySigner,
        domain: &Eip712Domain,
        ctx: &RoundContext,
        proposals_digest: B256,
        votes: Vec<i64>,
    ) -> Result<Self, SignatureError> {
        let hash = eip712::ballot_hash(domain, ctx, proposals_digest, &votes);
        Ok(Self {
            version: wire_version(),
            job_id: ctx.job_id,
            round: ctx.round,
            input_hash: ctx.input_hash,
            previous_round_digest: ctx.previous_round_digest,
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
        let hash = eip712::ballot_hash(domain, &self.context(), self.proposals_digest, &self.votes);
        eip712::verify(hash, &self.signature, self.agent)
    }

    /// The round context this ballot claims to answer.
    pub const fn context(&self) -> RoundContext {
        RoundContext {
            job_id: self.job_id,
            round: self.round,
            input_hash: self.input_hash,
            previous_round_digest: self.previous_round_digest,
        }
    }
}

/// An agent's signed refusal of one keeper task, with a human-readable reason.
///
/// It names the task it refuses by the task's EIP-712 hash, so a keeper counts it only for a
/// task it published itself: an agent that refused some other (forged or stale) task is still
/// waited for. It is signed, so nobody but the agent can make the keeper stop waiting for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFailure {
    /// Protocol version of this message.
    #[serde(default = "wire_version")]
    pub version: u16,
    /// The job id the refused task named.
    pub job_id: U256,
    /// The round it named.
    pub round: u32,
    /// The phase it named.
    pub phase: Phase,
    /// The EIP-712 hash of the refused task ([`super::VerifiedTask::hash`]), or of the
    /// unverifiable task's claimed fields when its signature did not check out.
    pub task_hash: B256,
    /// The agent reporting (the signer).
    pub agent: Address,
    /// What was wrong, e.g. `unknown task kind "text"`.
    pub reason: String,
    /// EIP-712 signature of [`eip712::typed::Failure`].
    #[serde(with = "super::sig")]
    pub signature: Signature,
}

impl Versioned for TaskFailure {
    fn version(&self) -> u16 {
        self.version
    }
}

fn failure_hash(
    domain: &Eip712Domain,
    job_id: U256,
    round: u32,
    phase: Phase,
    task_hash: B256,
    reason: &str,
) -> B256 {
    eip712::typed::Failure {
        jobId: job_id,
        round,
        phase: phase.index(),
        taskHash: task_hash,
        reasonHash: alloy_primitives::keccak256(reason.as_bytes()),
    }
    .eip712_signing_hash(domain)
}

impl TaskFailure {
    /// Signs `signer`'s refusal of the task with hash `task_hash`.
    ///
    /// # Errors
    ///
    /// [`SignatureError::Signing`] if the key cannot sign.
    ///
    /// ```
    /// use alloy_primitives::{Address, B256, U256};
    /// use alloy_signer_local::PrivateKeySigner;
    /// use nsed_protocol::{eip712::domain, wire::{Phase, TaskFailure}};
    /// let d = domain(31337, Address::repeat_byte(1));
    /// let f = TaskFailure::sign(&PrivateKeySigner::random(), &d, U256::from(1), 1, Phase::Propose, B256::ZERO, "busy".into()).unwrap();
    /// assert!(f.verify(&d).is_ok());
    /// ```
    pub fn sign(
        signer: &PrivateKeySigner,
        domain: &Eip712Domain,
        job_id: U256,
        round: u32,
        phase: Phase,
        task_hash: B256,
        reason: String,
    ) -> Result<Self, SignatureError> {
        let hash = failure_hash(domain, job_id, round, phase, task_hash, &reason);
        Ok(Self {
            version: wire_version(),
            job_id,
            round,
            phase,
            task_hash,
            agent: signer.address(),
            reason,
            signature: eip712::sign(signer, hash)?,
        })
    }

    /// Checks the signature was made by `agent` over this exact failure in `domain`.
    ///
    /// # Errors
    ///
    /// [`SignatureError`] if it was not.
    pub fn verify(&self, domain: &Eip712Domain) -> Result<(), SignatureError> {
        let hash =
            failure_hash(domain, self.job_id, self.round, self.phase, self.task_hash, &self.reason);
        eip712::verify(hash, &self.signature, self.agent)
    }
}
