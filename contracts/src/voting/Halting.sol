// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

/**
 * @dev When a deliberation stops: the halting rule of `nsed-protocol` (`protocol/src/halting.rs`,
 * `HaltingConfig::decide`), bit for bit, so the market can hold a keeper to it.
 *
 * After round `r` closes, stop when `r >= minRounds`, the round has a supported winner, and either
 * every proposal of the round is the same answer ({Reason-Unanimous}) or the winning answer's
 * conviction reaches the effort threshold ({Reason-Conviction}); stop anyway once
 * `r >= maxRounds` ({Reason-MaxRounds}). The winning answer's support is the summed score of every
 * seat that proposed the winner's content; conviction is compared in integers as
 * `1000 · support >= effortPermille · Σ|score|`, and a round without positive support (or without
 * any score) is never convincing.
 *
 * {Reason-Deadline} is never decided here: it is the keeper's reason to stop when the job's
 * deadline is too close for another round, which the market checks against the chain's clock.
 *
 * A property test in `contracts/tests` checks {decide} against the protocol crate on random facts
 * and parameters.
 */
library Halting {
    /// @dev Why a deliberation stopped (`None`: it goes on); the protocol crate's `HaltReason`.
    enum Reason {
        None,
        Unanimous,
        Conviction,
        MaxRounds,
        Deadline
    }

    /**
     * @dev The halting parameters of a job.
     * @param minRounds Rounds that always run.
     * @param maxRounds Rounds after which the deliberation stops regardless.
     * @param effortPermille Conviction threshold in thousandths of the total absolute score.
     */
    struct Config {
        uint32 minRounds;
        uint32 maxRounds;
        uint16 effortPermille;
    }

    /**
     * @dev The facts about a closed round that halting looks at.
     * @param round The round number, from 1.
     * @param unanimous Whether every proposal of the round had the same content.
     * @param hasWinner Whether the round has a supported winner.
     * @param winnerSupport Summed score of the seats proposing the winner's content (0 without one).
     * @param totalAbsScore `Σ |score|` over all seats.
     */
    struct RoundFacts {
        uint32 round;
        bool unanimous;
        bool hasWinner;
        int256 winnerSupport;
        uint256 totalAbsScore;
    }

    /**
     * @dev Whether to stop after a round with `facts` under `config`, and why ({Reason-None}: go on).
     */
    function decide(Config memory config, RoundFacts memory facts) internal pure returns (Reason) {
        if (facts.round >= config.minRounds && facts.hasWinner) {
            if (facts.unanimous) return Reason.Unanimous;
            if (convinced(config.effortPermille, facts.winnerSupport, facts.totalAbsScore)) {
                return Reason.Conviction;
            }
        }
        return facts.round >= config.maxRounds ? Reason.MaxRounds : Reason.None;
    }

    /**
     * @dev `1000 · support >= effortPermille · totalAbsScore`, with no support at all never
     * convincing. Both products are taken in 512 bits, so the comparison is exact for every input.
     */
    function convinced(uint16 effortPermille, int256 support, uint256 totalAbsScore) internal pure returns (bool) {
        if (totalAbsScore == 0 || support <= 0) return false;
        // casting to 'uint256' is safe because support > 0 here
        // forge-lint: disable-next-line(unsafe-typecast)
        (uint256 supportHigh, uint256 supportLow) = Math.mul512(uint256(support), 1000);
        (uint256 thresholdHigh, uint256 thresholdLow) = Math.mul512(effortPermille, totalAbsScore);
        return supportHigh > thresholdHigh || (supportHigh == thresholdHigh && supportLow >= thresholdLow);
    }

    /**
     * @dev The facts of round `round` from its net `scores` and the `contentHashes` of its
     * proposals (`bytes32(0)` for a seat without one), given its supported winner (`winnerSeat`,
     * meaningful only when `hasWinner`).
     *
     * Two seats back the same answer when their content hashes are equal; a supported winner
     * always proposed (ballots give no votes to seats without a proposal), so its hash is never
     * zero.
     *
     * Requirements:
     *
     * - `scores` and `contentHashes` have the same length, and `winnerSeat` is inside them when
     *   `hasWinner`;
     * - the sums of the scores fit in `int256` and `uint256` (they are sums of quadratic votes,
     *   far below).
     */
    function roundFacts(
        uint32 round,
        int256[] memory scores,
        bytes32[] memory contentHashes,
        uint256 winnerSeat,
        bool hasWinner
    ) internal pure returns (RoundFacts memory facts) {
        facts.round = round;
        facts.hasWinner = hasWinner;
        bytes32 winnerHash = hasWinner ? contentHashes[winnerSeat] : bytes32(0);
        bytes32 first = bytes32(0);
        bool unanimous = true;
        for (uint256 q = 0; q < scores.length; ++q) {
            facts.totalAbsScore += SignedMath.abs(scores[q]);
            bytes32 h = contentHashes[q];
            if (h == bytes32(0)) continue;
            if (first == bytes32(0)) first = h;
            else if (h != first) unanimous = false;
            if (h == winnerHash) facts.winnerSupport += scores[q];
        }
        facts.unanimous = unanimous && first != bytes32(0);
    }
}
