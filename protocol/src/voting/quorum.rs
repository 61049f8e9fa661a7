//! How many seats must take part in a round for it to count.

/// The participation quorum of a panel of `seats` seats: a round counts only with proposals from
/// at least `quorum(seats)` seats (and never fewer than two) and ballots from at least as many.
///
/// It is every seat but at most `⌊(seats − 1) / 3⌋`, the classic bound of faults a panel can
/// absorb. The keeper, which alone assembles the transcript, cannot tell the chain that an agent
/// was silent when it was not, except within that bound: a three-seat panel needs every proposal
/// and every ballot, so leaving an honest ballot out to change the winner is impossible; larger
/// panels trade that lever, bounded by the same count, for liveness when agents fail.
/// `QuadraticVoting.quorum` in the contracts is the same rule (a property test proves it).
///
/// ```
/// use nsed_protocol::quorum;
///
/// assert_eq!([2, 3, 4, 5, 6, 7, 10].map(quorum), [2, 3, 3, 4, 5, 5, 7]);
/// assert_eq!(quorum(0), 0);
/// ```
pub const fn quorum(seats: usize) -> usize {
    seats - seats.saturating_sub(1) / 3
}
