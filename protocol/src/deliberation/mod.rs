//! The deliberation state machine the keeper drives (docs/protocol.md), without any I/O.
//!
//! A [`Deliberation`] walks one job through its rounds. Each round collects signed proposals
//! ([`Deliberation::accept_proposal`]) until the keeper closes them
//! ([`Deliberation::close_proposals`]: a [`quorum`] of the seats, and at least two), then signed
//! ballots ([`Deliberation::accept_ballot`]) until it closes the round
//! ([`Deliberation::close_round`]: a [`quorum`] of ballots),
//! which tallies, picks the supported winner and applies the halting rule. Every message is
//! checked before it counts — job, round, phase, seat, duplicate, EIP-712 signature, proposals
//! digest, quadratic-voting rules — and a rejected message changes nothing. Agents that never
//! answer are missing (no proposal, an all-zero ballot) as long as the rest make the quorum.
//!
//! ```
//! use alloy_primitives::U256;
//! use alloy_signer_local::PrivateKeySigner;
//! use nsed_protocol::{
//!     deliberation::Deliberation, eip712, halting::{HaltReason, HaltingConfig},
//!     quadratic_votes, wire::{SignedBallot, SignedProposal},
//! };
//!
//! let mut keys: Vec<PrivateKeySigner> = (0..3).map(|_| PrivateKeySigner::random()).collect();
//! keys.sort_by_key(|k| k.address());
//! let seats: Vec<_> = keys.iter().map(|k| k.address()).collect();
//! let domain = eip712::domain(31337, alloy_primitives::Address::repeat_byte(9));
//! let job = U256::from(1);
//! let input_hash = alloy_primitives::keccak256(b"the job's input");
//! let mut d = Deliberation::new(job, input_hash, seats, domain.clone(), 100, HaltingConfig::default()).unwrap();
//!
//! let ctx = d.context(); // what round 1's answers sign: job, round, input hash, history
//! for (key, answer) in keys.iter().zip(["7", "7", "1"]) {
//!     d.accept_proposal(SignedProposal::sign(key, &domain, &ctx, answer.into()).unwrap()).unwrap();
//! }
//! let set = d.close_proposals().unwrap();
//! for (seat, key) in keys.iter().enumerate() {
//!     // Each agent backs the answers equal to "7" and opposes the others.
//!     let weights: Vec<i32> = set.contents.iter().enumerate()
//!         .map(|(q, c)| if q == seat { 0 } else if c.as_deref() == Some("7") { 50 } else { -50 })
//!         .collect();
//!     let votes = quadratic_votes(&weights, seat, &set.proposed(), 100).unwrap();
//!     d.accept_ballot(SignedBallot::sign(key, &domain, &ctx, set.digest, votes).unwrap()).unwrap();
//! }
//! let record = d.close_round().unwrap();
//! assert_eq!(record.winning_content(), Some("7"));
//! let outcome = d.outcome().unwrap();
//! assert_eq!(outcome.halt, HaltReason::Conviction);
//! assert_eq!(outcome.answer.unwrap().content, "7");
//! ```

mod error;
mod record;

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::Eip712Domain;

pub use error::{RejectError, RoundError, SetupError};
pub use record::{Answer, Outcome, RoundRecord, WinnerRecord};

use crate::{
    Tally, eip712,
    halting::{HaltReason, HaltingConfig, RoundFacts},
    quorum, validate_ballot,
    wire::{Phase, RoundView, SignedBallot, SignedProposal},
};

/// Longest accepted proposal content in bytes.
pub const MAX_CONTENT_BYTES: usize = 4096;
/// Longest accepted rationale in bytes: rationales travel in every later task of the job, so they
/// stay short enough that a round view of many seats fits one message.
pub const MAX_RATIONALE_BYTES: usize = 2048;

/// The round's proposals once collection closed: what evaluators judge and ballots commit to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalSet {
    /// The round.
    pub round: u32,
    /// Contents by seat (`None` for seats without a proposal).
    pub contents: Vec<Option<String>>,
    /// [`eip712::proposals_digest`] of the set.
    pub digest: B256,
}

impl ProposalSet {
    /// Which seats proposed.
    pub fn proposed(&self) -> Vec<bool> {
        self.contents.iter().map(Option::is_some).collect()
    }
}

/// Where the current round stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Collecting proposals.
    Proposing,
    /// Collecting ballots over a closed proposal set.
    Evaluating(ProposalSet),
    /// The deliberation ended.
    Finished(HaltReason),
}

/// One job's deliberation: seats, signing domain, rules and every closed round.
#[derive(Debug, Clone)]
pub struct Deliberation {
    job_id: U256,
    input_hash: B256,
    seats: Vec<Address>,
    domain: Eip712Domain,
    credits: u64,
    halting: HaltingConfig,
    rounds: Vec<RoundRecord>,
    /// The digest of the closed rounds: what this round's answers sign as their history.
    history: B256,
    stage: Stage,
    proposals: Vec<Option<SignedProposal>>,
    ballots: Vec<Option<SignedBallot>>,
}

impl Deliberation {
    /// Starts a deliberation in round 1.
    ///
    /// # Errors
    ///
    /// [`SetupError`] for fewer than two seats, seats not strictly ascending by address (the order
    /// makes the lowest-seat tie-break mean "lowest address"), or inconsistent halting parameters.
    pub fn new(
        job_id: U256,
        input_hash: B256,
        seats: Vec<Address>,
        domain: Eip712Domain,
        credits: u64,
        halting: HaltingConfig,
    ) -> Result<Self, SetupError> {
        if seats.len() < 2 {
            return Err(SetupError::TooFewSeats(seats.len()));
        }
        if let Some(pair) = seats.windows(2).find(|pair| pair[0] >= pair[1]) {
            return Err(SetupError::SeatsNotSorted(pair[1]));
        }
        halting.validate().map_err(SetupError::Halting)?;
        let n = seats.len();
        Ok(Self {
            job_id,
            input_hash,
            history: B256::ZERO,
            seats,
            domain,
            credits,
            halting,
            rounds: Vec::new(),
            stage: Stage::Proposing,
            proposals: vec![None; n],
            ballots: vec![None; n],
        })
    }

    /// The job id.
    pub const fn job_id(&self) -> U256 {
        self.job_id
    }

    /// The agents, by seat.
    pub fn seats(&self) -> &[Address] {
        &self.seats
    }

    /// The signing domain.
    pub const fn domain(&self) -> &Eip712Domain {
        &self.domain
    }

    /// Vote credits per ballot.
    pub const fn credits(&self) -> u64 {
        self.credits
    }

    /// The current round number (the last one once finished), from 1.
    pub fn round(&self) -> u32 {
        match self.stage {
            Stage::Finished(_) => self.rounds.len() as u32,
            _ => self.rounds.len() as u32 + 1,
        }
    }

    /// Where the current round stands.
    pub const fn stage(&self) -> &Stage {
        &self.stage
    }

    /// Every closed round, in order.
    pub fn rounds(&self) -> &[RoundRecord] {
        &self.rounds
    }

    /// The previous round as agents see it when revising (`None` in round 1).
    pub fn previous_view(&self) -> Option<RoundView> {
        self.rounds.last().map(RoundRecord::view)
    }

    /// Seats that have not sent an accepted message for the current phase.
    pub fn missing(&self) -> Vec<usize> {
        let answered: Vec<bool> = match self.stage {
            Stage::Proposing => self.proposals.iter().map(Option::is_some).collect(),
            Stage::Evaluating(_) => self.ballots.iter().map(Option::is_some).collect(),
            Stage::Finished(_) => return Vec::new(),
        };
        answered.iter().enumerate().filter(|(_, a)| !**a).map(|(seat, _)| seat).collect()
    }

    /// What this round's answers must be signed over.
    pub fn context(&self) -> eip712::RoundContext {
        eip712::RoundContext {
            job_id: self.job_id,
            round: self.round(),
            input_hash: self.input_hash,
            previous_round_digest: self.history,
        }
    }

    fn check_context(&self, ctx: &eip712::RoundContext) -> Result<(), RejectError> {
        self.check_job_and_round(ctx.job_id, ctx.round)?;
        if ctx.input_hash != self.input_hash {
            return Err(RejectError::WrongInput { expected: self.input_hash, got: ctx.input_hash });
        }
        if ctx.previous_round_digest != self.history {
            return Err(RejectError::WrongHistory {
                expected: self.history,
                got: ctx.previous_round_digest,
            });
        }
        Ok(())
    }

    fn seat_of(&self, agent: Address) -> Result<usize, RejectError> {
        self.seats.binary_search(&agent).map_err(|_| RejectError::UnknownAgent(agent))
    }

    fn check_job_and_round(&self, job_id: U256, round: u32) -> Result<(), RejectError> {
        if matches!(self.stage, Stage::Finished(_)) {
            return Err(RejectError::Finished);
        }
        if job_id != self.job_id {
            return Err(RejectError::WrongJob { expected: self.job_id, got: job_id });
        }
        if round != self.round() {
            return Err(RejectError::WrongRound { expected: self.round(), got: round });
        }
        Ok(())
    }

    /// Accepts a signed proposal for the current round and returns the proposer's seat.
    ///
    /// # Errors
    ///
    /// [`RejectError`] when the job, round, phase, seat, content size or signature is wrong, or
    /// the agent already proposed this round. A rejected proposal changes nothing.
    pub fn accept_proposal(&mut self, proposal: SignedProposal) -> Result<usize, RejectError> {
        self.check_context(&proposal.context())?;
        if !matches!(self.stage, Stage::Proposing) {
            return Err(RejectError::WrongPhase { got: Phase::Propose });
        }
        let seat = self.seat_of(proposal.agent)?;
        if self.proposals[seat].is_some() {
            return Err(RejectError::Duplicate(proposal.agent));
        }
        let len = proposal.content.len();
        if len == 0 || len > MAX_CONTENT_BYTES {
            return Err(RejectError::ContentSize { len });
        }
        if let Some(rationale) = &proposal.rationale
            && rationale.len() > MAX_RATIONALE_BYTES
        {
            return Err(RejectError::RationaleSize { len: rationale.len() });
        }
        proposal
            .verify(&self.domain)
            .map_err(|source| RejectError::Signature { agent: proposal.agent, source })?;
        self.proposals[seat] = Some(proposal);
        Ok(seat)
    }

    /// Closes proposal collection and returns the set evaluators judge.
    ///
    /// # Errors
    ///
    /// [`RoundError::TooFewProposals`] with fewer proposals than the [`quorum`] or than two (the
    /// round cannot count; the keeper may wait longer or end the job), [`RoundError::WrongStage`] outside the
    /// proposing stage, [`RoundError::Finished`] after the end.
    pub fn close_proposals(&mut self) -> Result<ProposalSet, RoundError> {
        let round = self.round();
        match self.stage {
            Stage::Proposing => {}
            Stage::Evaluating(_) => {
                return Err(RoundError::WrongStage { round, expected: "proposing" });
            }
            Stage::Finished(_) => return Err(RoundError::Finished),
        }
        let got = self.proposals.iter().filter(|p| p.is_some()).count();
        let needed = quorum(self.seats.len()).max(2);
        if got < needed {
            return Err(RoundError::TooFewProposals { round, got, needed });
        }
        let contents: Vec<Option<String>> =
            self.proposals.iter().map(|p| p.as_ref().map(|p| p.content.clone())).collect();
        let borrowed: Vec<Option<&str>> = contents.iter().map(Option::as_deref).collect();
        let digest = eip712::proposals_digest(&self.seats, &borrowed);
        let set = ProposalSet { round, contents, digest };
        self.stage = Stage::Evaluating(set.clone());
        Ok(set)
    }

    /// Accepts a signed ballot over the closed proposal set and returns the voter's seat.
    ///
    /// # Errors
    ///
    /// [`RejectError`] when the job, round, phase, seat, digest or signature is wrong, the agent
    /// already voted, or the votes break a quadratic-voting rule. A rejected ballot changes nothing.
    pub fn accept_ballot(&mut self, ballot: SignedBallot) -> Result<usize, RejectError> {
        self.check_context(&ballot.context())?;
        let Stage::Evaluating(set) = &self.stage else {
            return Err(RejectError::WrongPhase { got: Phase::Evaluate });
        };
        let seat = self.seat_of(ballot.agent)?;
        if self.ballots[seat].is_some() {
            return Err(RejectError::Duplicate(ballot.agent));
        }
        if ballot.proposals_digest != set.digest {
            return Err(RejectError::DigestMismatch {
                expected: set.digest,
                got: ballot.proposals_digest,
            });
        }
        validate_ballot(&ballot.votes, seat, &set.proposed(), self.credits)
            .map_err(|source| RejectError::Ballot { agent: ballot.agent, source })?;
        ballot
            .verify(&self.domain)
            .map_err(|source| RejectError::Signature { agent: ballot.agent, source })?;
        self.ballots[seat] = Some(ballot);
        Ok(seat)
    }

    /// Closes the round: tallies accepted ballots (missing ones count as zeros), records the
    /// supported winner, and either ends the deliberation or opens the next round.
    ///
    /// # Errors
    ///
    /// [`RoundError::TooFewBallots`] with fewer ballots than the [`quorum`] (nothing changes: the
    /// keeper may wait longer or end the job after the rounds before),
    /// [`RoundError::WrongStage`] unless proposals were closed, [`RoundError::Finished`] after the
    /// end.
    pub fn close_round(&mut self) -> Result<&RoundRecord, RoundError> {
        let round = self.round();
        let set = match &self.stage {
            Stage::Evaluating(set) => set.clone(),
            Stage::Proposing => {
                return Err(RoundError::WrongStage { round, expected: "evaluating" });
            }
            Stage::Finished(_) => return Err(RoundError::Finished),
        };
        let got = self.ballots.iter().filter(|b| b.is_some()).count();
        let needed = quorum(self.seats.len());
        if got < needed {
            return Err(RoundError::TooFewBallots { round, got, needed });
        }
        let mut tally = Tally::new(self.seats.len());
        for ballot in self.ballots.iter().flatten() {
            tally.add(&ballot.votes);
        }
        let winner = tally.supported_winner();
        let mut answers = set.contents.iter().flatten();
        let first = answers.next();
        let unanimous = first.is_some() && answers.all(|a| Some(a) == first);
        let votes: Vec<Option<&[i64]>> =
            self.ballots.iter().map(|b| b.as_ref().map(|b| b.votes.as_slice())).collect();
        let digest = eip712::round_digest(self.history, set.digest, &votes);
        let record = RoundRecord {
            round,
            previous_round_digest: std::mem::replace(&mut self.history, digest),
            digest,
            proposals: std::mem::replace(&mut self.proposals, vec![None; self.seats.len()]),
            proposals_digest: set.digest,
            ballots: std::mem::replace(&mut self.ballots, vec![None; self.seats.len()]),
            scores: tally.scores().to_vec(),
            supported: (0..self.seats.len()).map(|q| tally.is_supported(q)).collect(),
            winner: winner.map(Into::into),
            unanimous,
        };
        // Seats proposing the same content back the same answer, so the answer's support is the
        // sum of their scores.
        let answer_score = winner.map(|w| {
            let content = &set.contents[w.seat];
            tally
                .scores()
                .iter()
                .zip(&set.contents)
                .filter(|(_, c)| *c == content)
                .map(|(s, _)| *s)
                .sum::<i128>()
        });
        let facts = RoundFacts {
            round,
            unanimous,
            winner_score: answer_score,
            total_abs_score: tally.scores().iter().map(|s| s.unsigned_abs()).sum(),
        };
        self.stage = match self.halting.decide(&facts) {
            Some(reason) => Stage::Finished(reason),
            None => Stage::Proposing,
        };
        self.rounds.push(record);
        Ok(self.rounds.last().expect("a record was just pushed"))
    }

    /// Ends the deliberation after the last closed round, e.g. because the job's deadline is too
    /// close for another round. Collection in progress is discarded.
    ///
    /// # Errors
    ///
    /// [`RoundError::Finished`] if it already ended; [`RoundError::WrongStage`] if no round has
    /// closed yet (there is nothing to settle).
    pub fn halt(&mut self, reason: HaltReason) -> Result<(), RoundError> {
        if matches!(self.stage, Stage::Finished(_)) {
            return Err(RoundError::Finished);
        }
        if self.rounds.is_empty() {
            return Err(RoundError::WrongStage { round: 1, expected: "closed round" });
        }
        self.proposals = vec![None; self.seats.len()];
        self.ballots = vec![None; self.seats.len()];
        self.stage = Stage::Finished(reason);
        Ok(())
    }

    /// The outcome, once the deliberation has ended.
    pub fn outcome(&self) -> Option<Outcome> {
        let Stage::Finished(halt) = self.stage else { return None };
        let last = self.rounds.last()?;
        let answer = last.winner.and_then(|w| {
            Some(Answer {
                seat: w.seat,
                agent: self.seats[w.seat],
                content: last.winning_content()?.to_string(),
                score: w.score,
            })
        });
        Some(Outcome { job_id: self.job_id, rounds: self.rounds.len() as u32, halt, answer })
    }
}

#[cfg(test)]
mod tests;
