//! The `settleJob` transcript, built from the protocol crate's round records.
//!
//! [`transcript_from_rounds`] turns the [`RoundRecord`]s a keeper's
//! [`Deliberation`](nsed_protocol::deliberation::Deliberation) collected into the
//! `IDeliberationMarket.Transcript` the market verifies (see `contracts/src/market/IDeliberationMarket.sol`):
//!
//! - one entry per seat in every array of every round, in seat order;
//! - a present proposal is its content and its 65-byte signature `r ‖ s ‖ v` with `v ∈ {27, 28}`
//!   (alloy's [`Signature::as_bytes`](alloy::primitives::Signature::as_bytes), exactly the layout
//!   OpenZeppelin's `ECDSA.recover` takes; it rejects `v ∈ {0, 1}` and high-`s` signatures, and
//!   alloy's signers only produce low-`s` ones);
//! - a present ballot is its votes as `int256` and its signature in the same layout;
//! - a missing proposal or ballot is an empty content, signature and vote list.
//!
//! The transcript carries no hashes: every signature covers the job's input hash and the digest
//! of the rounds before its own ([`RoundRecord::previous_round_digest`]), and the market
//! recomputes both from its stored input hash and the transcript's earlier rounds. So the records
//! must be the job's rounds in order, from round 1.

use alloy::primitives::{Address, Bytes, I256, Signature};
use nsed_protocol::deliberation::RoundRecord;

use crate::i_deliberation_market::IDeliberationMarket::{Round, Transcript};

/// The transcript the market verifies for a deliberation over `agents` (the seats drawn at the
/// job's claim, in their order: see [`crate::market::seats_from_logs`]) with `rounds` (every
/// closed round, in order, stopping where the job's halting rule stops:
/// [`crate::market::halting_config`]).
///
/// The records' seats must be `agents` (a [`Deliberation`](nsed_protocol::deliberation::Deliberation)
/// guarantees it for its own [`seats`](nsed_protocol::deliberation::Deliberation::seats) and
/// [`rounds`](nsed_protocol::deliberation::Deliberation::rounds)); the function does not check
/// signatures, the market does.
///
/// ```
/// use alloy::primitives::Address;
/// use nsed_contracts::transcript::transcript_from_rounds;
///
/// let agents = [Address::repeat_byte(1), Address::repeat_byte(2)];
/// let transcript = transcript_from_rounds(&agents, &[]);
/// assert_eq!(transcript.agents, agents);
/// assert!(transcript.rounds.is_empty());
/// ```
pub fn transcript_from_rounds(agents: &[Address], rounds: &[RoundRecord]) -> Transcript {
    Transcript { agents: agents.to_vec(), rounds: rounds.iter().map(round_from_record).collect() }
}

/// One round of a transcript; missing seats become empty entries.
fn round_from_record(record: &RoundRecord) -> Round {
    let proposals = &record.proposals;
    let ballots = &record.ballots;
    Round {
        contents: proposals
            .iter()
            .map(|p| p.as_ref().map(|p| p.content.clone()).unwrap_or_default())
            .collect(),
        proposalSignatures: proposals
            .iter()
            .map(|p| p.as_ref().map(|p| signature_bytes(&p.signature)).unwrap_or_default())
            .collect(),
        votes: ballots
            .iter()
            .map(|b| {
                b.as_ref().map(|b| b.votes.iter().map(|&v| vote(v)).collect()).unwrap_or_default()
            })
            .collect(),
        ballotSignatures: ballots
            .iter()
            .map(|b| b.as_ref().map(|b| signature_bytes(&b.signature)).unwrap_or_default())
            .collect(),
    }
}

/// `r ‖ s ‖ v` with `v = 27 + y_parity`, the 65-byte form `ECDSA.recover` expects.
fn signature_bytes(signature: &Signature) -> Bytes {
    Bytes::from(signature.as_bytes())
}

fn vote(v: i64) -> I256 {
    I256::try_from(v).expect("every i64 fits in int256")
}

#[cfg(test)]
mod tests {
    use alloy::{
        primitives::{U256, keccak256},
        signers::local::PrivateKeySigner,
    };
    use nsed_protocol::{
        deliberation::Deliberation,
        eip712,
        halting::HaltingConfig,
        quadratic_votes,
        wire::{SignedBallot, SignedProposal},
    };

    use super::*;

    /// Four seats (the quorum is three); seat 2 does not propose and seat 1 does not vote.
    fn one_round() -> (Vec<PrivateKeySigner>, Deliberation) {
        let mut keys: Vec<PrivateKeySigner> =
            (1u8..=4).map(|i| PrivateKeySigner::from_bytes(&[i; 32].into()).unwrap()).collect();
        keys.sort_by_key(PrivateKeySigner::address);
        let seats: Vec<Address> = keys.iter().map(PrivateKeySigner::address).collect();
        let domain = eip712::domain(31337, Address::repeat_byte(9));
        let job = U256::from(4);
        let input_hash = keccak256(b"the job's input");
        let halting = HaltingConfig { min_rounds: 1, max_rounds: 1, effort_permille: 600 };
        let mut d =
            Deliberation::new(job, input_hash, seats, domain.clone(), 100, halting).unwrap();
        let ctx = d.context();
        for (seat, answer) in [(0, "7"), (1, "3"), (3, "5")] {
            let proposal = SignedProposal::sign(&keys[seat], &domain, &ctx, answer.into()).unwrap();
            d.accept_proposal(proposal).unwrap();
        }
        let set = d.close_proposals().unwrap();
        for seat in [0usize, 2, 3] {
            let weights: Vec<i32> = (0..4)
                .map(|q| if q == seat || set.contents[q].is_none() { 0 } else { 10 })
                .collect();
            let votes = quadratic_votes(&weights, seat, &set.proposed(), 100).unwrap();
            let ballot = SignedBallot::sign(&keys[seat], &domain, &ctx, set.digest, votes).unwrap();
            d.accept_ballot(ballot).unwrap();
        }
        d.close_round().unwrap();
        (keys, d)
    }

    #[test]
    fn every_array_has_one_entry_per_seat_and_missing_seats_are_empty() {
        let (_, d) = one_round();
        let t = transcript_from_rounds(d.seats(), d.rounds());
        assert_eq!(t.agents, d.seats());
        assert_eq!(t.rounds.len(), 1);
        let round = &t.rounds[0];
        assert_eq!(round.contents, ["7", "3", "", "5"]);
        assert_eq!(
            round.proposalSignatures.iter().map(|b| b.len()).collect::<Vec<_>>(),
            [65, 65, 0, 65]
        );
        let record = &d.rounds()[0];
        for seat in [0, 2, 3] {
            let signed = &record.ballots[seat].as_ref().unwrap().votes;
            assert_eq!(round.votes[seat].len(), 4);
            for (v, w) in round.votes[seat].iter().zip(signed) {
                assert_eq!(*v, I256::try_from(*w).unwrap());
            }
        }
        assert_eq!(round.votes[0][0], I256::ZERO, "no self-vote");
        assert_eq!(round.votes[0][2], I256::ZERO, "no vote for a non-proposer");
        assert!(round.votes[1].is_empty());
        assert_eq!(
            round.ballotSignatures.iter().map(|b| b.len()).collect::<Vec<_>>(),
            [65, 0, 65, 65]
        );
    }

    #[test]
    fn signatures_are_r_s_v_with_v_27_or_28_and_recover_the_agent() {
        let (keys, d) = one_round();
        let t = transcript_from_rounds(d.seats(), d.rounds());
        let record = &d.rounds()[0];
        for (seat, bytes) in t.rounds[0].proposalSignatures.iter().enumerate().take(2) {
            let signed = record.proposals[seat].as_ref().unwrap();
            assert_eq!(&bytes[..32], &signed.signature.r().to_be_bytes::<32>());
            assert_eq!(&bytes[32..64], &signed.signature.s().to_be_bytes::<32>());
            assert!(matches!(bytes[64], 27 | 28), "v = {}", bytes[64]);
            let parsed = Signature::try_from(&bytes[..]).unwrap();
            let ctx = eip712::RoundContext {
                job_id: d.job_id(),
                round: 1,
                input_hash: keccak256(b"the job's input"),
                previous_round_digest: record.previous_round_digest,
            };
            let hash = eip712::proposal_hash(d.domain(), &ctx, &signed.content);
            assert_eq!(parsed.recover_address_from_prehash(&hash).unwrap(), keys[seat].address());
        }
    }
}
