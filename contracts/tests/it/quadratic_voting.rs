//! The QuadraticVoting library (through its harness) and its agreement with `nsed-protocol`.

use alloy::primitives::{Address, I256, U256};
use nsed_contracts::{
    quadratic_voting_harness::QuadraticVotingHarness::{
        self, QuadraticVotingHarnessErrors as QvErrors,
    },
    testkit::{TestChain, TxFailure},
};
use nsed_protocol::{BallotError, Tally, validate_ballot};
use proptest::prelude::*;

use crate::fixtures::qv_harness;

struct Harness {
    chain: TestChain,
    address: Address,
}

impl Harness {
    fn new() -> Self {
        let mut chain = TestChain::new();
        let address = qv_harness(&mut chain);
        Self { chain, address }
    }

    fn validate(
        &mut self,
        votes: &[I256],
        voter: u64,
        proposed: &[bool],
        credits: U256,
    ) -> Result<U256, TxFailure> {
        let from = self.chain.account(0);
        self.chain.call(
            from,
            self.address,
            &QuadraticVotingHarness::validateCall {
                votes: votes.to_vec(),
                voter: U256::from(voter),
                proposed: proposed.to_vec(),
                credits,
            },
        )
    }

    fn tally(
        &mut self,
        ballots: &[Vec<I256>],
        voters: &[u64],
        proposed: &[bool],
        credits: u64,
    ) -> Result<QuadraticVotingHarness::tallyReturn, TxFailure> {
        let from = self.chain.account(0);
        self.chain.call(
            from,
            self.address,
            &QuadraticVotingHarness::tallyCall {
                ballots: ballots.to_vec(),
                voters: voters.iter().map(|&v| U256::from(v)).collect(),
                proposed: proposed.to_vec(),
                credits: U256::from(credits),
            },
        )
    }

    fn winner(
        &mut self,
        scores: &[i64],
    ) -> Result<QuadraticVotingHarness::winnerReturn, TxFailure> {
        let from = self.chain.account(0);
        self.chain.call(
            from,
            self.address,
            &QuadraticVotingHarness::winnerCall {
                scores: scores.iter().map(|&s| I256::try_from(s).unwrap()).collect(),
            },
        )
    }
}

fn i(v: i64) -> I256 {
    I256::try_from(v).unwrap()
}

fn votes(values: &[i64]) -> Vec<I256> {
    values.iter().map(|&v| i(v)).collect()
}

/// The protocol crate's error for an on-chain revert, so both sides can be compared directly.
fn as_ballot_error(failure: &TxFailure) -> BallotError {
    let to_usize = |v: U256| usize::try_from(v).unwrap();
    match failure.decode::<QvErrors>() {
        Some(QvErrors::QuadraticVotingLengthMismatch(e)) => BallotError::LengthMismatch {
            expected: to_usize(e.expected),
            actual: to_usize(e.actual),
        },
        Some(QvErrors::QuadraticVotingInvalidVoter(e)) => {
            BallotError::InvalidVoter { voter: to_usize(e.voter), seats: to_usize(e.seats) }
        }
        Some(QvErrors::QuadraticVotingSelfVote(e)) => {
            BallotError::SelfVote { voter: to_usize(e.voter) }
        }
        Some(QvErrors::QuadraticVotingVoteForNonProposer(e)) => {
            BallotError::VoteForNonProposer { candidate: to_usize(e.candidate) }
        }
        Some(QvErrors::QuadraticVotingBudgetExceeded(e)) => BallotError::BudgetExceeded {
            cost: e.cost.try_into().unwrap(),
            credits: e.credits.try_into().unwrap(),
        },
        other => panic!("unexpected failure {failure}: {other:?}"),
    }
}

mod validate {
    use super::*;

    const ALL: [bool; 3] = [true; 3];

    #[test]
    fn returns_the_cost_of_a_valid_ballot() {
        let mut h = Harness::new();
        assert_eq!(
            h.validate(&votes(&[0, 3, -1]), 0, &ALL, U256::from(10)).unwrap(),
            U256::from(10)
        );
        assert_eq!(h.validate(&votes(&[0, 0, 0]), 2, &ALL, U256::ZERO).unwrap(), U256::ZERO);
    }

    #[test]
    fn rejects_a_self_vote() {
        let mut h = Harness::new();
        let failure = h.validate(&votes(&[0, 1, 0]), 1, &ALL, U256::from(10)).unwrap_err();
        assert!(
            failure.is_error(&QuadraticVotingHarness::QuadraticVotingSelfVote {
                voter: U256::from(1)
            })
        );
    }

    #[test]
    fn rejects_a_vote_for_a_non_proposer() {
        let mut h = Harness::new();
        let failure =
            h.validate(&votes(&[0, 0, -1]), 0, &[true, true, false], U256::from(10)).unwrap_err();
        assert!(failure.is_error(&QuadraticVotingHarness::QuadraticVotingVoteForNonProposer {
            candidate: U256::from(2)
        }));
    }

    #[test]
    fn rejects_a_ballot_over_budget_with_the_running_cost() {
        let mut h = Harness::new();
        let failure = h.validate(&votes(&[0, 3, -2]), 0, &ALL, U256::from(12)).unwrap_err();
        assert!(failure.is_error(&QuadraticVotingHarness::QuadraticVotingBudgetExceeded {
            cost: U256::from(13),
            credits: U256::from(12)
        }));
    }

    #[test]
    fn rejects_the_most_negative_vote_without_overflowing() {
        let mut h = Harness::new();
        let failure = h.validate(&[i(0), I256::MIN, i(0)], 0, &ALL, U256::from(5)).unwrap_err();
        assert!(failure.is_error(&QuadraticVotingHarness::QuadraticVotingBudgetExceeded {
            cost: U256::from(1) << 255,
            credits: U256::from(5)
        }));
    }

    #[test]
    fn accepts_the_largest_budget_and_a_vote_of_its_square_root() {
        let mut h = Harness::new();
        let max = U256::from(u128::MAX);
        let root = I256::try_from(U256::from(u64::MAX)).unwrap();
        let cost = h.validate(&[i(0), root, i(0)], 0, &ALL, max).unwrap();
        assert_eq!(cost, U256::from(u64::MAX) * U256::from(u64::MAX));
    }

    #[test]
    fn rejects_credits_above_the_maximum() {
        let mut h = Harness::new();
        let too_many = U256::from(u128::MAX) + U256::from(1);
        let failure = h.validate(&votes(&[0, 0, 0]), 0, &ALL, too_many).unwrap_err();
        assert!(failure.is_error(&QuadraticVotingHarness::QuadraticVotingCreditsTooLarge {
            credits: too_many
        }));
    }

    #[test]
    fn rejects_length_mismatches_and_unknown_voters() {
        let mut h = Harness::new();
        let failure = h.validate(&votes(&[0, 1]), 0, &ALL, U256::from(10)).unwrap_err();
        assert!(failure.is_error(&QuadraticVotingHarness::QuadraticVotingLengthMismatch {
            expected: U256::from(3),
            actual: U256::from(2)
        }));
        let failure = h.validate(&votes(&[0, 0, 0]), 3, &ALL, U256::from(10)).unwrap_err();
        assert!(failure.is_error(&QuadraticVotingHarness::QuadraticVotingInvalidVoter {
            voter: U256::from(3),
            seats: U256::from(3)
        }));
    }
}

mod quorum {
    use super::*;

    /// One participation rule: the contract's quorum equals the protocol crate's for every panel
    /// size up to 300 seats (far above any job's seat count).
    #[test]
    fn the_contract_and_the_protocol_crate_agree_on_the_quorum() {
        let mut h = Harness::new();
        let from = h.chain.account(0);
        for seats in 0..=300usize {
            let onchain: U256 = h
                .chain
                .call(
                    from,
                    h.address,
                    &QuadraticVotingHarness::quorumCall { seats: U256::from(seats) },
                )
                .unwrap();
            assert_eq!(onchain, U256::from(nsed_protocol::quorum(seats)), "{seats} seats");
        }
        assert_eq!(nsed_protocol::quorum(3), 3, "three seats: every seat takes part");
    }
}

mod winner {
    use super::*;

    #[test]
    fn the_highest_score_wins() {
        let mut h = Harness::new();
        let w = h.winner(&[1, 5, -2]).unwrap();
        assert_eq!((w._0, w._1, w._2), (U256::from(1), i(5), false));
    }

    #[test]
    fn a_tie_goes_to_the_lowest_index_and_is_flagged() {
        let mut h = Harness::new();
        let w = h.winner(&[-1, 4, 2, 4]).unwrap();
        assert_eq!((w._0, w._1, w._2), (U256::from(1), i(4), true));
    }

    #[test]
    fn reverts_without_candidates() {
        let mut h = Harness::new();
        let failure = h.winner(&[]).unwrap_err();
        assert!(failure.is_error(&QuadraticVotingHarness::QuadraticVotingNoCandidates {}));
    }
}

mod tally {
    use super::*;

    #[test]
    fn sums_ballots_and_picks_the_winner() {
        let mut h = Harness::new();
        let ballots = [votes(&[0, 2, 1]), votes(&[1, 0, -1]), votes(&[1, 2, 0])];
        let result = h.tally(&ballots, &[0, 1, 2], &[true; 3], 5).unwrap();
        assert_eq!(result.scores, votes(&[2, 4, 0]));
        assert_eq!(
            (result.winnerIndex, result.winnerScore, result.tied),
            (U256::from(1), i(4), false)
        );
    }

    #[test]
    fn reverts_when_ballots_and_voters_disagree_in_length() {
        let mut h = Harness::new();
        let failure = h.tally(&[votes(&[0, 1])], &[0, 1], &[true; 2], 5).unwrap_err();
        assert!(failure.is_error(&QuadraticVotingHarness::QuadraticVotingLengthMismatch {
            expected: U256::from(2),
            actual: U256::from(1)
        }));
    }

    #[test]
    fn rejects_the_whole_round_when_one_ballot_is_invalid() {
        let mut h = Harness::new();
        let ballots = [votes(&[0, 1, 1]), votes(&[0, 1, 0])];
        let failure = h.tally(&ballots, &[0, 1], &[true; 3], 5).unwrap_err();
        assert_eq!(as_ballot_error(&failure), BallotError::SelfVote { voter: 1 });
    }
}

/// Which seats proposed, one `(voter seat, ballot)` per voter, and the credits.
type Round = (Vec<bool>, Vec<(usize, Vec<i64>)>, u64);

/// A random round: ballots are often valid, sometimes not (seat out of range, self-votes, over budget).
fn round_strategy() -> impl Strategy<Value = Round> {
    (2usize..8).prop_flat_map(|seats| {
        (
            prop::collection::vec(prop::bool::weighted(0.85), seats),
            prop::collection::vec(
                (0..seats + 1, prop::collection::vec(-6i64..=6, seats)),
                1..seats + 1,
            ),
            prop_oneof![Just(0u64), 1u64..40, 40u64..200],
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The one-rule promise (docs/protocol.md): for random ballots the contract and `nsed-protocol`
    /// accept and reject the same ballots with the same error, compute the same cost, and the same
    /// tally and winner for whole rounds.
    #[test]
    fn the_contract_and_the_protocol_crate_agree(
        (proposed, ballots, credits) in round_strategy()
    ) {
        let mut h = Harness::new();
        let mut rust_tally = Tally::new(proposed.len());
        let mut all_valid = true;
        for (voter, ballot) in &ballots {
            let onchain = h.validate(&votes(ballot), *voter as u64, &proposed, U256::from(credits));
            let offchain = validate_ballot(ballot, *voter, &proposed, credits);
            match (&onchain, &offchain) {
                (Ok(cost), Ok(expected)) => prop_assert_eq!(*cost, U256::from(*expected)),
                (Err(failure), Err(expected)) => prop_assert_eq!(as_ballot_error(failure), *expected),
                _ => prop_assert!(false, "disagreement: contract {onchain:?}, protocol {offchain:?}"),
            }
            if offchain.is_ok() { rust_tally.add(ballot) } else { all_valid = false }
        }
        let round: Vec<Vec<I256>> = ballots.iter().map(|(_, b)| votes(b)).collect();
        let voters: Vec<u64> = ballots.iter().map(|(v, _)| *v as u64).collect();
        let onchain = h.tally(&round, &voters, &proposed, credits);
        prop_assert_eq!(onchain.is_ok(), all_valid);
        if let Ok(result) = onchain {
            let expected_scores: Vec<I256> =
                rust_tally.scores().iter().map(|&s| I256::try_from(s).unwrap()).collect();
            prop_assert_eq!(result.scores, expected_scores);
            let winner = rust_tally.winner().unwrap();
            prop_assert_eq!(result.winnerIndex, U256::from(winner.seat));
            prop_assert_eq!(result.winnerScore, I256::try_from(winner.score).unwrap());
            prop_assert_eq!(result.tied, winner.tied);
        }
    }

    /// Ballots produced by the NSED weight mapping are always accepted on chain.
    #[test]
    fn mapped_ballots_are_always_accepted_on_chain(
        weights in prop::collection::vec(-100i32..=100, 2..8),
        credits in prop_oneof![1u64..1000, Just(u64::MAX)],
    ) {
        let mut h = Harness::new();
        let mut weights = weights;
        weights[0] = 0;
        let proposed = vec![true; weights.len()];
        let ballot = nsed_protocol::quadratic_votes(&weights, 0, &proposed, credits).unwrap();
        let cost = h.validate(&votes(&ballot), 0, &proposed, U256::from(credits)).unwrap();
        prop_assert!(cost <= U256::from(credits));
    }
}
