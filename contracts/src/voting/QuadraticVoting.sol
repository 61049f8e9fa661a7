// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

/**
 * @dev Quadratic voting: the one integer rule behind every ballot in NSED on chain (docs/protocol.md).
 *
 * A ballot is a vector of signed integer votes `v[q]`, one per candidate seat `q`. It is valid when:
 *
 * - it has exactly one entry per seat;
 * - the voter's vote for their own seat is 0 (no self-vote);
 * - every vote for a seat that did not propose is 0;
 * - its cost `Σ v[q]²` is at most the voter's credits.
 *
 * A round counts only when a {quorum} of its seats proposed and cast a ballot.
 *
 * The score of seat `q` is `Σ_voters v[q]`. The winner is the seat with the highest score; a tie is
 * broken in favour of the lowest seat index. Callers make that index meaningful and un-gameable
 * (e.g. the deliberation market requires agents sorted by address, so the lowest address wins).
 *
 * The same rules are implemented off chain by `nsed-protocol` (`protocol/src/voting`); a property
 * test in `contracts/tests` proves both agree on random ballots.
 */
library QuadraticVoting {
    /// @dev Largest accepted credit budget. Bounding credits by 2^128 - 1 bounds every accepted
    /// |vote| by the same value, so no square or running cost below can overflow.
    uint256 internal constant MAX_CREDITS = type(uint128).max;

    /**
     * @dev The ballot has `actual` entries but there are `expected` seats.
     * @param expected Number of seats.
     * @param actual Number of votes in the ballot.
     */
    error QuadraticVotingLengthMismatch(uint256 expected, uint256 actual);

    /**
     * @dev The voter in seat `voter` gave a non-zero vote to their own seat.
     * @param voter The voter's seat index.
     */
    error QuadraticVotingSelfVote(uint256 voter);

    /**
     * @dev The ballot gives a non-zero vote to seat `candidate`, which did not propose.
     * @param candidate The seat index of the non-proposer.
     */
    error QuadraticVotingVoteForNonProposer(uint256 candidate);

    /**
     * @dev The ballot costs more than the voter's credits (or a single vote alone already does).
     * @param cost The ballot's cost, `Σ v²`, counted up to the entry that exceeded the budget.
     * @param credits The voter's budget.
     */
    error QuadraticVotingBudgetExceeded(uint256 cost, uint256 credits);

    /**
     * @dev The credit budget is above {MAX_CREDITS}.
     * @param credits The rejected budget.
     */
    error QuadraticVotingCreditsTooLarge(uint256 credits);

    /**
     * @dev The voter's seat index is outside the ballot.
     * @param voter The rejected seat index.
     * @param seats Number of seats.
     */
    error QuadraticVotingInvalidVoter(uint256 voter, uint256 seats);

    /// @dev No seats: there is no winner to pick.
    error QuadraticVotingNoCandidates();

    /**
     * @dev Checks `votes` against every ballot rule and returns its cost `Σ v²`.
     *
     * Requirements:
     *
     * - `credits <= MAX_CREDITS`;
     * - `voter < proposed.length` and `votes.length == proposed.length`;
     * - `votes[voter] == 0`, and `votes[q] == 0` wherever `proposed[q]` is false;
     * - `Σ votes[q]² <= credits`.
     */
    function validate(int256[] memory votes, uint256 voter, bool[] memory proposed, uint256 credits)
        internal
        pure
        returns (uint256 cost)
    {
        uint256 seats = proposed.length;
        if (credits > MAX_CREDITS) revert QuadraticVotingCreditsTooLarge(credits);
        if (votes.length != seats) revert QuadraticVotingLengthMismatch(seats, votes.length);
        if (voter >= seats) revert QuadraticVotingInvalidVoter(voter, seats);
        for (uint256 q = 0; q < seats; ++q) {
            int256 v = votes[q];
            if (v == 0) continue;
            if (q == voter) revert QuadraticVotingSelfVote(voter);
            if (!proposed[q]) revert QuadraticVotingVoteForNonProposer(q);
            uint256 magnitude = SignedMath.abs(v);
            if (magnitude > credits) revert QuadraticVotingBudgetExceeded(magnitude, credits);
            // No overflow: magnitude <= credits <= 2^128 - 1, so magnitude² < 2^256 - 2^129, and
            // cost <= credits < 2^128 before this addition.
            unchecked {
                cost += magnitude * magnitude;
            }
            if (cost > credits) revert QuadraticVotingBudgetExceeded(cost, credits);
        }
    }

    /**
     * @dev Adds a (validated) ballot's votes to the running `scores`, in place.
     *
     * Requirements:
     *
     * - `votes.length == scores.length`.
     */
    function addToScores(int256[] memory scores, int256[] memory votes) internal pure {
        if (votes.length != scores.length) revert QuadraticVotingLengthMismatch(scores.length, votes.length);
        for (uint256 q = 0; q < scores.length; ++q) {
            scores[q] += votes[q];
        }
    }

    /**
     * @dev Returns the winning seat: the highest score, ties going to the lowest index. `tied` is true
     * when another seat has the same top score (callers that need a clear winner, like overtime in
     * games, check it).
     *
     * Requirements:
     *
     * - `scores` is not empty.
     */
    function winner(int256[] memory scores) internal pure returns (uint256 index, int256 score, bool tied) {
        if (scores.length == 0) revert QuadraticVotingNoCandidates();
        score = scores[0];
        for (uint256 q = 1; q < scores.length; ++q) {
            if (scores[q] > score) {
                index = q;
                score = scores[q];
                tied = false;
            } else if (scores[q] == score) {
                tied = true;
            }
        }
    }

    /**
     * @dev Returns the NSED winner: the highest score among seats with `supported[q]` set (seats
     * that received at least one non-zero vote), ties going to the lowest index, so a proposal
     * nobody really evaluated cannot win. `found` is false (and `index`, `score` are 0) when no
     * seat is supported. Matches `Tally::supported_winner` in `nsed-protocol`.
     *
     * Requirements:
     *
     * - `supported.length == scores.length`.
     */
    function supportedWinner(int256[] memory scores, bool[] memory supported)
        internal
        pure
        returns (uint256 index, int256 score, bool found)
    {
        if (supported.length != scores.length) {
            revert QuadraticVotingLengthMismatch(scores.length, supported.length);
        }
        for (uint256 q = 0; q < scores.length; ++q) {
            if (!supported[q]) continue;
            if (!found || scores[q] > score) {
                index = q;
                score = scores[q];
                found = true;
            }
        }
    }

    /**
     * @dev The participation quorum of a panel of `seats` seats: a round counts only with proposals
     * from at least `quorum(seats)` seats (and never fewer than two) and ballots from at least as
     * many. It is every seat but at most `⌊(seats − 1) / 3⌋`, so whoever assembles a transcript can
     * pass a seat off as silent only within that bound: a three-seat panel needs every proposal
     * and every ballot. Zero seats give zero.
     */
    function quorum(uint256 seats) internal pure returns (uint256) {
        return seats == 0 ? 0 : seats - (seats - 1) / 3;
    }
}
