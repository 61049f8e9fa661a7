// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {QuadraticVoting} from "../src/voting/QuadraticVoting.sol";

/**
 * @dev Exposes the internal {QuadraticVoting} library as external functions, so Rust tests and the
 * protocol-agreement property test can call it on revm. Never deployed by `nsed deploy`.
 */
contract QuadraticVotingHarness {
    /// @dev See {QuadraticVoting-validate}.
    function validate(int256[] calldata votes, uint256 voter, bool[] calldata proposed, uint256 credits)
        external
        pure
        returns (uint256)
    {
        return QuadraticVoting.validate(votes, voter, proposed, credits);
    }

    /// @dev See {QuadraticVoting-quorum}.
    function quorum(uint256 seats) external pure returns (uint256) {
        return QuadraticVoting.quorum(seats);
    }

    /// @dev See {QuadraticVoting-winner}.
    function winner(int256[] calldata scores) external pure returns (uint256, int256, bool) {
        return QuadraticVoting.winner(scores);
    }

    /**
     * @dev Validates every ballot (cast by seat `voters[i]`), sums them and picks the winner: one
     * round's tally exactly as on-chain consumers run it.
     *
     * Requirements:
     *
     * - `ballots.length == voters.length`, and every ballot is valid (see {QuadraticVoting-validate}).
     */
    function tally(int256[][] calldata ballots, uint256[] calldata voters, bool[] calldata proposed, uint256 credits)
        external
        pure
        returns (int256[] memory scores, uint256 winnerIndex, int256 winnerScore, bool tied)
    {
        if (ballots.length != voters.length) {
            revert QuadraticVoting.QuadraticVotingLengthMismatch(voters.length, ballots.length);
        }
        scores = new int256[](proposed.length);
        for (uint256 i = 0; i < ballots.length; ++i) {
            QuadraticVoting.validate(ballots[i], voters[i], proposed, credits);
            QuadraticVoting.addToScores(scores, ballots[i]);
        }
        (winnerIndex, winnerScore, tied) = QuadraticVoting.winner(scores);
    }
}
