//! Ballot validation: the budget and seat rules.

use super::BallotError;

/// Checks `votes` (cast by seat `voter`) against every ballot rule and returns its cost `Σ v²`.
///
/// `proposed[q]` says whether seat `q` proposed this round. Checks run in the same order as the
/// Solidity library's `validate`, entry by entry, so the first broken rule is the one both report.
///
/// # Errors
///
/// The first [`BallotError`] found: a length or voter-index mismatch, a self-vote, a vote for a
/// non-proposer, or a cost above `credits`.
///
/// # Examples
///
/// ```
/// use nsed_protocol::{BallotError, validate_ballot};
///
/// let proposed = [true, true, true];
/// assert_eq!(validate_ballot(&[0, 3, -1], 0, &proposed, 10), Ok(10));
/// assert_eq!(
///     validate_ballot(&[0, 3, -2], 0, &proposed, 10),
///     Err(BallotError::BudgetExceeded { cost: 13, credits: 10 })
/// );
/// assert_eq!(validate_ballot(&[1, 0, 0], 0, &proposed, 10), Err(BallotError::SelfVote { voter: 0 }));
/// ```
pub fn validate_ballot(
    votes: &[i64],
    voter: usize,
    proposed: &[bool],
    credits: u64,
) -> Result<u128, BallotError> {
    let seats = proposed.len();
    if votes.len() != seats {
        return Err(BallotError::LengthMismatch { expected: seats, actual: votes.len() });
    }
    if voter >= seats {
        return Err(BallotError::InvalidVoter { voter, seats });
    }
    let mut cost: u128 = 0;
    for (seat, (&vote, &did_propose)) in votes.iter().zip(proposed).enumerate() {
        if vote == 0 {
            continue;
        }
        if seat == voter {
            return Err(BallotError::SelfVote { voter });
        }
        if !did_propose {
            return Err(BallotError::VoteForNonProposer { candidate: seat });
        }
        let magnitude = u128::from(vote.unsigned_abs());
        if magnitude > u128::from(credits) {
            return Err(BallotError::BudgetExceeded { cost: magnitude, credits });
        }
        // magnitude <= credits < 2^64, so the square is below 2^128 and cost stays below 2^65
        // before adding it: no overflow.
        cost += magnitude * magnitude;
        if cost > u128::from(credits) {
            return Err(BallotError::BudgetExceeded { cost, credits });
        }
    }
    Ok(cost)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [bool; 4] = [true; 4];

    #[test]
    fn accepts_a_ballot_that_spends_exactly_the_budget() {
        assert_eq!(validate_ballot(&[0, 2, -2, 1], 0, &ALL, 9), Ok(9));
    }

    #[test]
    fn accepts_an_empty_ballot_at_zero_cost() {
        assert_eq!(validate_ballot(&[0, 0, 0, 0], 3, &ALL, 0), Ok(0));
    }

    #[test]
    fn rejects_wrong_length_before_anything_else() {
        assert_eq!(
            validate_ballot(&[5, 5], 9, &ALL, 1),
            Err(BallotError::LengthMismatch { expected: 4, actual: 2 })
        );
    }

    #[test]
    fn rejects_a_voter_outside_the_seats() {
        assert_eq!(
            validate_ballot(&[0, 0, 0, 0], 4, &ALL, 1),
            Err(BallotError::InvalidVoter { voter: 4, seats: 4 })
        );
    }

    #[test]
    fn rejects_a_vote_for_a_non_proposer() {
        let proposed = [true, false, true, true];
        assert_eq!(
            validate_ballot(&[0, 1, 0, 0], 0, &proposed, 10),
            Err(BallotError::VoteForNonProposer { candidate: 1 })
        );
    }

    #[test]
    fn reports_a_single_vote_larger_than_the_budget_by_its_magnitude() {
        assert_eq!(
            validate_ballot(&[0, i64::MIN, 0, 0], 0, &ALL, 100),
            Err(BallotError::BudgetExceeded { cost: 1 << 63, credits: 100 })
        );
    }

    #[test]
    fn handles_the_largest_budget_without_overflow() {
        let v = i64::from(u32::MAX);
        let credits = u64::MAX;
        assert_eq!(
            validate_ballot(&[0, v, 0, 0], 0, &ALL, credits),
            Ok(u128::from(u32::MAX).pow(2))
        );
        assert!(matches!(
            validate_ballot(&[0, v, v, 2], 0, &ALL, credits),
            Err(BallotError::BudgetExceeded { .. })
        ));
    }
}
