//! From an evaluator's raw weights to quadratic votes (the NSED mapping).

use super::WeightError;

/// Largest magnitude of a raw evaluation weight.
pub const MAX_WEIGHT: i32 = 100;

/// Maps raw weights `w[q] ∈ [−100, 100]` of seat `voter` to integer votes.
///
/// With `f[q] = w[q] / Σ|w|` (all zero when `Σ|w| = 0`), the vote is
/// `v[q] = sign(f[q]) · ⌊√(credits · |f[q]|)⌋`, computed exactly in integers as
/// `sign(w[q]) · isqrt(⌊credits · |w[q]| / Σ|w|⌋)` (the floor of a square root of a non-negative
/// real equals the integer square root of its floor). Since each `v[q]² ≤ credits · |f[q]|` and
/// `Σ|f| = 1`, the ballot always satisfies `Σ v² ≤ credits`; it is `√credits` times NSED's
/// `sign(f)·√|f|`, rounded toward zero.
///
/// # Errors
///
/// [`WeightError`] when the lengths disagree, the voter is out of range, a weight is outside
/// `[−100, 100]`, or a weight is given to the voter's own seat or to a seat that did not propose.
///
/// # Examples
///
/// ```
/// use nsed_protocol::{quadratic_votes, validate_ballot};
///
/// let proposed = [true, true, true];
/// let votes = quadratic_votes(&[0, 75, -25], 0, &proposed, 100).unwrap();
/// assert_eq!(votes, vec![0, 8, -5]); // ⌊√75⌋ = 8, ⌊√25⌋ = 5
/// assert!(validate_ballot(&votes, 0, &proposed, 100).is_ok());
/// ```
pub fn quadratic_votes(
    weights: &[i32],
    voter: usize,
    proposed: &[bool],
    credits: u64,
) -> Result<Vec<i64>, WeightError> {
    let seats = proposed.len();
    if weights.len() != seats {
        return Err(WeightError::LengthMismatch { expected: seats, actual: weights.len() });
    }
    if voter >= seats {
        return Err(WeightError::InvalidVoter { voter, seats });
    }
    for (seat, (&weight, &did_propose)) in weights.iter().zip(proposed).enumerate() {
        if !(-MAX_WEIGHT..=MAX_WEIGHT).contains(&weight) {
            return Err(WeightError::OutOfRange { seat, weight });
        }
        if weight != 0 && seat == voter {
            return Err(WeightError::SelfWeight { voter });
        }
        if weight != 0 && !did_propose {
            return Err(WeightError::WeightForNonProposer { seat });
        }
    }
    let total: u128 = weights.iter().map(|w| u128::from(w.unsigned_abs())).sum();
    if total == 0 {
        return Ok(vec![0; seats]);
    }
    Ok(weights
        .iter()
        .map(|&w| {
            // credits < 2^64 and |w| <= 100, so the product fits in u128; the root is < 2^32.
            let root = (u128::from(credits) * u128::from(w.unsigned_abs()) / total).isqrt();
            let magnitude = i64::try_from(root).expect("isqrt of a value below 2^71 is below 2^36");
            if w < 0 { -magnitude } else { magnitude }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate_ballot;
    use proptest::prelude::*;

    #[test]
    fn all_zero_weights_give_an_empty_ballot() {
        assert_eq!(quadratic_votes(&[0, 0, 0], 1, &[true; 3], 100), Ok(vec![0, 0, 0]));
    }

    #[test]
    fn a_single_weight_takes_the_whole_budget() {
        assert_eq!(quadratic_votes(&[0, 0, -3], 0, &[true; 3], 49), Ok(vec![0, 0, -7]));
    }

    #[test]
    fn rejects_out_of_range_weights() {
        assert_eq!(
            quadratic_votes(&[0, 101, 0], 0, &[true; 3], 100),
            Err(WeightError::OutOfRange { seat: 1, weight: 101 })
        );
        assert_eq!(
            quadratic_votes(&[0, -101, 0], 0, &[true; 3], 100),
            Err(WeightError::OutOfRange { seat: 1, weight: -101 })
        );
    }

    #[test]
    fn rejects_a_weight_for_the_evaluators_own_proposal() {
        assert_eq!(
            quadratic_votes(&[5, 0, 0], 0, &[true; 3], 100),
            Err(WeightError::SelfWeight { voter: 0 })
        );
    }

    #[test]
    fn rejects_a_weight_for_a_missing_proposal() {
        assert_eq!(
            quadratic_votes(&[0, 0, 5], 0, &[true, true, false], 100),
            Err(WeightError::WeightForNonProposer { seat: 2 })
        );
    }

    #[test]
    fn rejects_mismatched_lengths_and_voters() {
        assert_eq!(
            quadratic_votes(&[0, 1], 0, &[true; 3], 100),
            Err(WeightError::LengthMismatch { expected: 3, actual: 2 })
        );
        assert_eq!(
            quadratic_votes(&[0, 1, 1], 3, &[true; 3], 100),
            Err(WeightError::InvalidVoter { voter: 3, seats: 3 })
        );
    }

    fn weights_strategy() -> impl Strategy<Value = (Vec<i32>, usize, Vec<bool>, u64)> {
        (2usize..10).prop_flat_map(|seats| {
            (
                prop::collection::vec(-MAX_WEIGHT..=MAX_WEIGHT, seats),
                0..seats,
                prop::collection::vec(any::<bool>(), seats),
                prop_oneof![0u64..1_000, any::<u64>()],
            )
        })
    }

    proptest! {
        #[test]
        fn every_mapped_ballot_is_valid_and_never_votes_for_its_author(
            (mut weights, voter, proposed, credits) in weights_strategy()
        ) {
            weights[voter] = 0;
            for (w, &p) in weights.iter_mut().zip(&proposed) {
                if !p { *w = 0; }
            }
            let votes = quadratic_votes(&weights, voter, &proposed, credits).unwrap();
            prop_assert_eq!(votes[voter], 0);
            let cost = validate_ballot(&votes, voter, &proposed, credits).unwrap();
            prop_assert!(cost <= u128::from(credits));
            for (v, w) in votes.iter().zip(&weights) {
                prop_assert_eq!(v.signum(), if *v == 0 { 0 } else { i64::from(w.signum()) });
            }
        }

        #[test]
        fn votes_follow_the_order_of_the_weights(
            (mut weights, voter, _proposed, credits) in weights_strategy()
        ) {
            weights[voter] = 0;
            let proposed = vec![true; weights.len()];
            let votes = quadratic_votes(&weights, voter, &proposed, credits).unwrap();
            for i in 0..weights.len() {
                for j in 0..weights.len() {
                    if weights[i] > weights[j] {
                        prop_assert!(votes[i] >= votes[j]);
                    }
                }
            }
        }
    }
}
