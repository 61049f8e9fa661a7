// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @dev The Liquid Access Token id encoding, `id = asset << 8 | tier`, in one place: the token
 * exposes it, the LAT converter reads tiers and assets without calling the token, and the games
 * map a winner's rank to the tier it earns.
 */
library LatId {
    /// @dev The token id of `asset` at `tier`.
    function encode(uint248 asset, uint8 tier) internal pure returns (uint256) {
        return (uint256(asset) << 8) | tier;
    }

    /// @dev The IP asset of token `id`.
    function asset(uint256 id) internal pure returns (uint248) {
        // casting to 'uint248' is safe because `id >> 8` has at most 248 significant bits
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint248(id >> 8);
    }

    /// @dev The tier of token `id`.
    function tier(uint256 id) internal pure returns (uint8) {
        // casting to 'uint8' is safe because truncating to the low byte is the encoding
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint8(id);
    }

    /// @dev The tier a win at rank `rank` earns: the rank, at least 1 (unranked winners earn the
    /// lowest tier), at most 255.
    function tierForRank(uint256 rank) internal pure returns (uint8) {
        if (rank <= 1) return 1;
        // casting to 'uint8' is safe because the value is capped at 255 first
        // forge-lint: disable-next-line(unsafe-typecast)
        return rank >= type(uint8).max ? type(uint8).max : uint8(rank);
    }
}
