//! Summing ballots and picking the winner.

/// The winning seat of a tally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Winner {
    /// Seat index of the winner: the highest score, ties going to the lowest index.
    pub seat: usize,
    /// The winner's score.
    pub score: i128,
    /// Whether another seat has the same top score.
    pub tied: bool,
}

/// Running per-seat scores of one round: the sum of every ballot's votes.
///
/// The tally trusts its ballots; check each with [`crate::validate_ballot`] first, as the contract
/// does before adding it.
///
/// # Examples
///
/// ```
/// use nsed_protocol::{Tally, Winner};
///
/// let mut tally = Tally::new(3);
/// tally.add(&[0, 2, 1]);
/// tally.add(&[1, 0, -1]);
/// tally.add(&[1, 1, 0]);
/// assert_eq!(tally.scores(), &[2, 3, 0]);
/// assert_eq!(tally.winner(), Some(Winner { seat: 1, score: 3, tied: false }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    scores: Vec<i128>,
    supported: Vec<bool>,
}

impl Tally {
    /// An empty tally over `seats` seats.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(nsed_protocol::Tally::new(2).scores(), &[0, 0]);
    /// ```
    pub fn new(seats: usize) -> Self {
        Self { scores: vec![0; seats], supported: vec![false; seats] }
    }

    /// Adds one ballot's votes to the scores.
    ///
    /// # Panics
    ///
    /// When `votes` does not have one entry per seat: ballots are validated before they are
    /// added, so a mismatch is a caller bug.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut tally = nsed_protocol::Tally::new(2);
    /// tally.add(&[0, -4]);
    /// assert_eq!(tally.scores(), &[0, -4]);
    /// ```
    #[track_caller]
    pub fn add(&mut self, votes: &[i64]) {
        assert_eq!(votes.len(), self.scores.len(), "ballot length must equal the number of seats");
        for ((score, supported), &vote) in
            self.scores.iter_mut().zip(&mut self.supported).zip(votes)
        {
            *score += i128::from(vote);
            *supported |= vote != 0;
        }
    }

    /// The per-seat scores so far.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(nsed_protocol::Tally::new(0).scores().is_empty());
    /// ```
    pub fn scores(&self) -> &[i128] {
        &self.scores
    }

    /// Whether seat `q` received at least one non-zero vote (the halting rule's "real evaluations").
    ///
    /// # Examples
    ///
    /// ```
    /// let mut tally = nsed_protocol::Tally::new(2);
    /// tally.add(&[0, -1]);
    /// assert_eq!((tally.is_supported(0), tally.is_supported(1)), (false, true));
    /// ```
    pub fn is_supported(&self, seat: usize) -> bool {
        self.supported.get(seat).copied().unwrap_or(false)
    }

    /// The NSED winner: like [`Self::winner`] but only among seats with at least one non-zero
    /// vote, so a proposal nobody really evaluated cannot win. `None` if no seat qualifies.
    ///
    /// # Examples
    ///
    /// ```
    /// use nsed_protocol::{Tally, Winner};
    ///
    /// let mut tally = Tally::new(3);
    /// tally.add(&[0, 0, -2]);
    /// assert_eq!(tally.winner(), Some(Winner { seat: 0, score: 0, tied: true }));
    /// assert_eq!(tally.supported_winner(), Some(Winner { seat: 2, score: -2, tied: false }));
    /// ```
    pub fn supported_winner(&self) -> Option<Winner> {
        let mut best: Option<Winner> = None;
        for (seat, (&score, _)) in
            self.scores.iter().zip(&self.supported).enumerate().filter(|(_, (_, s))| **s)
        {
            match &mut best {
                Some(b) if score > b.score => *b = Winner { seat, score, tied: false },
                Some(b) if score == b.score => b.tied = true,
                Some(_) => {}
                None => best = Some(Winner { seat, score, tied: false }),
            }
        }
        best
    }

    /// The winning seat, or `None` when there are no seats.
    ///
    /// # Examples
    ///
    /// ```
    /// use nsed_protocol::{Tally, Winner};
    ///
    /// let mut tally = Tally::new(3);
    /// tally.add(&[0, 1, 1]);
    /// assert_eq!(tally.winner(), Some(Winner { seat: 1, score: 1, tied: true }));
    /// ```
    pub fn winner(&self) -> Option<Winner> {
        let (&first, rest) = self.scores.split_first()?;
        let mut best = Winner { seat: 0, score: first, tied: false };
        for (offset, &score) in rest.iter().enumerate() {
            if score > best.score {
                best = Winner { seat: offset + 1, score, tied: false };
            } else if score == best.score {
                best.tied = true;
            }
        }
        Some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_tie_goes_to_the_lowest_seat_and_is_reported() {
        let mut tally = Tally::new(4);
        tally.add(&[0, 3, -1, 3]);
        assert_eq!(tally.winner(), Some(Winner { seat: 1, score: 3, tied: true }));
    }

    #[test]
    fn a_later_higher_score_clears_an_earlier_tie() {
        let mut tally = Tally::new(3);
        tally.add(&[1, 1, 2]);
        assert_eq!(tally.winner(), Some(Winner { seat: 2, score: 2, tied: false }));
    }

    #[test]
    fn all_negative_scores_still_have_a_winner() {
        let mut tally = Tally::new(3);
        tally.add(&[-3, -1, -2]);
        assert_eq!(tally.winner(), Some(Winner { seat: 1, score: -1, tied: false }));
    }

    #[test]
    fn no_seats_means_no_winner() {
        assert_eq!(Tally::new(0).winner(), None);
    }

    #[test]
    #[should_panic(expected = "ballot length")]
    fn adding_a_ballot_of_the_wrong_length_panics() {
        Tally::new(2).add(&[1]);
    }

    proptest! {
        #[test]
        fn tallies_do_not_depend_on_ballot_order(
            ballots in prop::collection::vec(prop::collection::vec(-50i64..50, 5), 0..8),
            seed in any::<u64>(),
        ) {
            let mut forward = Tally::new(5);
            for b in &ballots { forward.add(b); }
            let mut shuffled = ballots.clone();
            // Fisher–Yates driven by a small LCG: a permutation chosen by proptest's seed.
            let mut state = seed;
            for i in (1..shuffled.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (state >> 33) as usize % (i + 1));
            }
            let mut permuted = Tally::new(5);
            for b in &shuffled { permuted.add(b); }
            prop_assert_eq!(forward, permuted);
        }
    }
}
