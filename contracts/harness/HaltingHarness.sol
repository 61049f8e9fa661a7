// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Halting} from "../src/voting/Halting.sol";

/**
 * @dev Exposes the internal {Halting} library as external functions, so the protocol-agreement
 * property test can call it on revm. Never deployed by `nsed deploy`.
 */
contract HaltingHarness {
    /// @dev See {Halting-decide}.
    function decide(Halting.Config calldata config, Halting.RoundFacts calldata facts)
        external
        pure
        returns (Halting.Reason)
    {
        return Halting.decide(config, facts);
    }

    /// @dev See {Halting-roundFacts}.
    function roundFacts(
        uint32 round,
        int256[] calldata scores,
        bytes32[] calldata contentHashes,
        uint256 winnerSeat,
        bool hasWinner
    ) external pure returns (Halting.RoundFacts memory) {
        return Halting.roundFacts(round, scores, contentHashes, winnerSeat, hasWinner);
    }
}
