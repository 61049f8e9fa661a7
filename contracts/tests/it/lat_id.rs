//! The Rust mirror of the LAT id encoding (`nsed_contracts::lat`) against the `LatId` library
//! on revm, through its harness.

use alloy::primitives::{Address, U256, aliases::U248};
use nsed_contracts::{lat, lat_id_harness::LatIdHarness, testkit::TestChain};
use proptest::prelude::*;

struct Harness {
    chain: TestChain,
    address: Address,
}

impl Harness {
    fn new() -> Self {
        let mut chain = TestChain::new();
        let deployer = chain.account(0);
        let address = chain
            .deploy_code(deployer, LatIdHarness::BYTECODE.clone())
            .expect("harness deploys")
            .ret;
        Self { chain, address }
    }

    fn call<C: alloy::sol_types::SolCall>(&mut self, call: &C) -> C::Return {
        let from = self.chain.account(0);
        self.chain.call(from, self.address, call).expect("LatId functions never revert")
    }
}

fn any_u256() -> impl Strategy<Value = U256> {
    prop_oneof![
        any::<[u8; 32]>().prop_map(U256::from_be_bytes),
        (0u64..600).prop_map(U256::from),
        Just(U256::MAX),
    ]
}

fn any_u248() -> impl Strategy<Value = U248> {
    any_u256().prop_map(|v| U248::from(v >> 8))
}

#[test]
fn tier_for_rank_agrees_at_the_edges() {
    let mut h = Harness::new();
    for rank in [0u64, 1, 2, 254, 255, 256, u64::MAX] {
        let rank = U256::from(rank);
        let onchain = h.call(&LatIdHarness::tierForRankCall { rank });
        assert_eq!(onchain, lat::tier_for_rank(rank), "rank {rank}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// One encoding: for random assets, tiers, ids and ranks the library and the Rust mirror give
    /// the same token ids, assets, tiers and tier for a rank.
    #[test]
    fn the_library_and_the_rust_mirror_agree(
        asset in any_u248(),
        tier in any::<u8>(),
        id in any_u256(),
        rank in any_u256(),
    ) {
        let mut h = Harness::new();
        prop_assert_eq!(
            h.call(&LatIdHarness::encodeCall { asset, tier }),
            lat::encode(asset, tier)
        );
        prop_assert_eq!(h.call(&LatIdHarness::assetCall { id }), lat::asset(id));
        prop_assert_eq!(h.call(&LatIdHarness::tierCall { id }), lat::tier(id));
        prop_assert_eq!(h.call(&LatIdHarness::tierForRankCall { rank }), lat::tier_for_rank(rank));
    }
}
