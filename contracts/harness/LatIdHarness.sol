// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {LatId} from "../src/lat/LatId.sol";

/**
 * @dev Exposes the internal {LatId} library as external functions, so the Rust mirror
 * (`nsed_contracts::lat`) is proven equal to it on revm. Never deployed by `nsed deploy`.
 */
contract LatIdHarness {
    /// @dev See {LatId-encode}.
    function encode(uint248 asset, uint8 tier) external pure returns (uint256) {
        return LatId.encode(asset, tier);
    }

    /// @dev See {LatId-asset}.
    function asset(uint256 id) external pure returns (uint248) {
        return LatId.asset(id);
    }

    /// @dev See {LatId-tier}.
    function tier(uint256 id) external pure returns (uint8) {
        return LatId.tier(id);
    }

    /// @dev See {LatId-tierForRank}.
    function tierForRank(uint256 rank) external pure returns (uint8) {
        return LatId.tierForRank(rank);
    }
}
