//! LiquidAccessToken: (asset, tier) ids, minting by minters only, trading, burn-to-access.

use alloy::primitives::{Address, B256, U256, aliases::U248, keccak256};
use nsed_contracts::{
    liquid_access_token::LiquidAccessToken::{self, LiquidAccessTokenErrors},
    testkit::{ExpectRevert, Receipt, TestChain, TxFailure},
};
use proptest::prelude::*;

use crate::fixtures::{LAT_URI, deploy_lat};

fn u(v: u64) -> U256 {
    U256::from(v)
}

/// A token administered by account 0 with account 1 as its only minter.
struct LatFixture {
    chain: TestChain,
    admin: Address,
    minter: Address,
    lat: Address,
}

impl LatFixture {
    fn new() -> Self {
        let mut chain = TestChain::new();
        let (admin, minter) = (chain.account(0), chain.account(1));
        let lat = deploy_lat(&mut chain, admin, &[minter]);
        Self { chain, admin, minter, lat }
    }

    fn id(&mut self, asset: u64, tier: u8) -> U256 {
        let call = LiquidAccessToken::tokenIdCall { asset: U248::from(asset), tier };
        self.chain.call(self.admin, self.lat, &call).unwrap()
    }

    fn mint(&mut self, to: Address, asset: u64, tier: u8, amount: u64) {
        let call =
            LiquidAccessToken::mintCall { to, asset: U248::from(asset), tier, amount: u(amount) };
        self.chain.send(self.minter, self.lat, &call).unwrap();
    }

    fn balance(&mut self, account: Address, asset: u64, tier: u8) -> U256 {
        let id = self.id(asset, tier);
        self.chain
            .call(self.admin, self.lat, &LiquidAccessToken::balanceOfCall { account, id })
            .unwrap()
    }

    fn access(
        &mut self,
        from: Address,
        asset: u64,
        tier: u8,
        requested: u8,
    ) -> Result<Receipt<LiquidAccessToken::accessReturn>, TxFailure> {
        let call = LiquidAccessToken::accessCall {
            asset: U248::from(asset),
            tier,
            requestedTier: requested,
        };
        self.chain.send(from, self.lat, &call)
    }
}

#[test]
fn ids_encode_asset_and_tier_and_the_admin_holds_the_roles() {
    let mut f = LatFixture::new();
    assert_eq!(f.id(7, 3), u((7 << 8) | 3));
    let (admin, lat) = (f.admin, f.lat);
    let id = u((0xabcd << 8) | 200);
    let asset = f.chain.call(admin, lat, &LiquidAccessToken::assetOfCall { id }).unwrap();
    let tier = f.chain.call(admin, lat, &LiquidAccessToken::tierOfCall { id }).unwrap();
    assert_eq!((asset, tier), (U248::from(0xabcd), 200));
    let role = f.chain.call(admin, lat, &LiquidAccessToken::MINTER_ROLECall {}).unwrap();
    assert_eq!(role, keccak256("MINTER_ROLE"));
    let has = |f: &mut LatFixture, role, account| {
        f.chain.call(admin, lat, &LiquidAccessToken::hasRoleCall { role, account }).unwrap()
    };
    let minter = f.minter;
    assert!(has(&mut f, role, minter));
    assert!(!has(&mut f, role, admin));
    assert!(has(&mut f, B256::ZERO, admin));
    let uri = f.chain.call(admin, lat, &LiquidAccessToken::uriCall(id)).unwrap();
    assert_eq!(uri, LAT_URI);
}

#[test]
fn only_minters_mint_and_mints_need_a_tier_an_amount_and_a_receiver() {
    let mut f = LatFixture::new();
    let (lat, minter, holder) = (f.lat, f.minter, f.chain.account(5));
    let mint = |to, tier, amount| LiquidAccessToken::mintCall {
        to,
        asset: U248::from(1),
        tier,
        amount: u(amount),
    };
    let stranger = f.chain.account(4);
    f.chain.send(stranger, lat, &mint(holder, 1, 1)).expect_revert(
        LiquidAccessToken::AccessControlUnauthorizedAccount {
            account: stranger,
            neededRole: keccak256("MINTER_ROLE"),
        },
    );
    f.chain
        .send(minter, lat, &mint(holder, 0, 1))
        .expect_revert(LiquidAccessToken::LiquidAccessTokenInvalidTier { tier: 0 });
    f.chain
        .send(minter, lat, &mint(holder, 1, 0))
        .expect_revert(LiquidAccessToken::LiquidAccessTokenZeroAmount {});
    f.chain
        .send(minter, lat, &mint(Address::ZERO, 1, 1))
        .expect_revert(LiquidAccessToken::ERC1155InvalidReceiver { receiver: Address::ZERO });
    let receipt = f.chain.send(minter, lat, &mint(holder, 2, 3)).unwrap();
    let event = receipt.event::<LiquidAccessToken::TransferSingle>();
    assert_eq!((event.from, event.to, event.value), (Address::ZERO, holder, u(3)));
    assert_eq!(f.balance(holder, 1, 2), u(3));
}

#[test]
fn rewards_reach_contracts_without_receiver_hooks() {
    let mut f = LatFixture::new();
    // The LAT contract itself has code and no `onERC1155Received`: a mint must still succeed.
    let contract = f.lat;
    f.mint(contract, 1, 1, 1);
    assert_eq!(f.balance(contract, 1, 1), u(1));
}

#[test]
fn access_tokens_trade_freely() {
    let mut f = LatFixture::new();
    let (lat, a, b) = (f.lat, f.chain.account(5), f.chain.account(6));
    f.mint(a, 9, 2, 2);
    let id = f.id(9, 2);
    let transfer = LiquidAccessToken::safeTransferFromCall {
        from: a,
        to: b,
        id,
        value: u(1),
        data: Default::default(),
    };
    f.chain.send(a, lat, &transfer).unwrap();
    assert_eq!((f.balance(a, 9, 2), f.balance(b, 9, 2)), (u(1), u(1)));
}

#[test]
fn access_burns_one_token_at_or_above_the_requested_tier_and_emits() {
    let mut f = LatFixture::new();
    let holder = f.chain.account(5);
    f.mint(holder, 4, 3, 2);
    let receipt = f.access(holder, 4, 3, 2).unwrap();
    let accessed = receipt.event::<LiquidAccessToken::Accessed>();
    assert_eq!(
        (accessed.asset, accessed.tier, accessed.account, accessed.requestedTier),
        (U248::from(4), 3, holder, 2)
    );
    let burned = receipt.event::<LiquidAccessToken::TransferSingle>();
    assert_eq!((burned.from, burned.to, burned.value), (holder, Address::ZERO, u(1)));
    assert_eq!(f.balance(holder, 4, 3), u(1));
    f.access(holder, 4, 3, 3).unwrap();
    assert_eq!(f.balance(holder, 4, 3), U256::ZERO);
}

#[test]
fn access_rejects_a_lower_tier_tier_zero_and_a_missing_token() {
    let mut f = LatFixture::new();
    let holder = f.chain.account(5);
    f.mint(holder, 4, 2, 1);
    f.access(holder, 4, 2, 3).expect_revert(LiquidAccessToken::LiquidAccessTokenTierTooLow {
        tier: 2,
        requestedTier: 3,
    });
    f.access(holder, 4, 2, 0)
        .expect_revert(LiquidAccessToken::LiquidAccessTokenInvalidTier { tier: 0 });
    let id = f.id(5, 2);
    f.access(holder, 5, 2, 1).expect_revert(LiquidAccessToken::ERC1155InsufficientBalance {
        sender: holder,
        balance: U256::ZERO,
        needed: u(1),
        tokenId: id,
    });
    // Nothing was burned by the failed attempts.
    assert_eq!(f.balance(holder, 4, 2), u(1));
}

#[test]
fn holders_and_approved_operators_burn_and_strangers_cannot() {
    let mut f = LatFixture::new();
    let (lat, holder, operator) = (f.lat, f.chain.account(5), f.chain.account(6));
    f.mint(holder, 1, 1, 3);
    let id = f.id(1, 1);
    let burn = LiquidAccessToken::burnCall { account: holder, id, value: u(1) };
    f.chain
        .send(operator, lat, &burn)
        .expect_revert(LiquidAccessToken::ERC1155MissingApprovalForAll { operator, owner: holder });
    f.chain.send(holder, lat, &burn).unwrap();
    let approve = LiquidAccessToken::setApprovalForAllCall { operator, approved: true };
    f.chain.send(holder, lat, &approve).unwrap();
    f.chain.send(operator, lat, &burn).unwrap();
    assert_eq!(f.balance(holder, 1, 1), u(1));
}

#[test]
fn errors_decode_through_the_generated_enum() {
    let mut f = LatFixture::new();
    let holder = f.chain.account(5);
    let failure = f.access(holder, 1, 1, 0).unwrap_err();
    assert!(matches!(
        failure.decode::<LiquidAccessTokenErrors>(),
        Some(LiquidAccessTokenErrors::LiquidAccessTokenInvalidTier(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn the_id_round_trips_any_asset_and_tier(asset in any::<u64>(), tier in 1u8..) {
        let mut f = LatFixture::new();
        let id = f.id(asset, tier);
        let (admin, lat) = (f.admin, f.lat);
        let back_asset = f.chain.call(admin, lat, &LiquidAccessToken::assetOfCall { id }).unwrap();
        let back_tier = f.chain.call(admin, lat, &LiquidAccessToken::tierOfCall { id }).unwrap();
        prop_assert_eq!(back_asset, U248::from(asset));
        prop_assert_eq!(back_tier, tier);
    }
}
