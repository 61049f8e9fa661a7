//! Liquid Access Token ids, the Rust mirror of `contracts/src/lat/LatId.sol`: `id = asset << 8 |
//! tier`, where the asset is the minting game's address as a number and the tier the rank the
//! win was earned at. The `lat_id` contract tests prove every function equal to the library's.
//!
//! ```
//! use alloy::primitives::{U256, address};
//! use nsed_contracts::lat;
//!
//! let game = address!("0x00000000000000000000000000000000000000aa");
//! let id = lat::encode(lat::asset_of(game), lat::tier_for_rank(U256::from(3)));
//! assert_eq!(id, U256::from(0xaa03));
//! assert_eq!(lat::asset(id), lat::asset_of(game));
//! assert_eq!(lat::tier(id), 3);
//! ```

use alloy::primitives::{Address, U160, U256, aliases::U248};

/// The token id of `asset` at `tier` (`LatId.encode`).
pub fn encode(asset: U248, tier: u8) -> U256 {
    (U256::from(asset) << 8) | U256::from(tier)
}

/// The asset of token `id` (`LatId.asset`).
pub fn asset(id: U256) -> U248 {
    // `id >> 8` has at most 248 significant bits, so the conversion never overflows.
    U248::from(id >> 8)
}

/// The tier of token `id` (`LatId.tier`).
pub const fn tier(id: U256) -> u8 {
    id.as_limbs()[0].to_le_bytes()[0]
}

/// The tier a win at rank `rank` earns (`LatId.tierForRank`): the rank, at least 1 (unranked
/// winners earn the lowest tier), at most 255.
pub fn tier_for_rank(rank: U256) -> u8 {
    if rank <= U256::from(1) { 1 } else { u8::try_from(rank).unwrap_or(u8::MAX) }
}

/// The asset a game at `game` mints its tokens under: its address as a number.
pub fn asset_of(game: Address) -> U248 {
    U248::from(U160::from_be_bytes(game.into_array()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_clamp_to_one_and_to_255() {
        for (rank, tier) in [(0u64, 1u8), (1, 1), (2, 2), (254, 254), (255, 255), (256, 255)] {
            assert_eq!(tier_for_rank(U256::from(rank)), tier, "rank {rank}");
        }
        assert_eq!(tier_for_rank(U256::MAX), 255);
    }

    #[test]
    fn ids_split_into_their_asset_and_tier() {
        let id = encode(U248::MAX, u8::MAX);
        assert_eq!(id, U256::MAX);
        assert_eq!((asset(id), tier(id)), (U248::MAX, u8::MAX));
    }
}
