//! LatConverter: LAT value by tier, the rising epoch price and its exact Rust model, the per-epoch
//! cap and the fill up to it, epoch rollover, vesting positions, slippage and parameter governance.

use alloy::primitives::{Address, B256, U256, U512, aliases::U248};
use nsed_contracts::{
    guild_token::GuildToken,
    lat_converter::LatConverter::{self, Params},
    liquid_access_token::LiquidAccessToken,
    testkit::{ExpectRevert, Receipt, TestChain, TxFailure},
};
use proptest::prelude::*;

use crate::{
    fixtures::deploy_lat,
    guild::{deploy_guild_token, tokens},
};

/// The exact conversion rule, independent of the contract's root-and-correct computation: the
/// largest `q` with `p0·q·(2·S·WAD + k·(2c + q)) ≤ 2·S·WAD²·x`, found by bisection in 512 bits.
pub(crate) mod model {
    use super::*;

    pub(crate) const WAD: u64 = 1_000_000_000_000_000_000;

    fn wide(v: U256) -> U512 {
        U512::from(v)
    }

    /// Whether `q` units on top of `c` cost at most `x` value units against base `s`.
    pub(crate) fn fits(s: U256, c: U256, q: U256, x: U256, p: &Params) -> bool {
        let w = wide(U256::from(WAD));
        let two_sw = wide(s) * w * U512::from(2);
        let lhs = wide(p.basePrice)
            * wide(q)
            * (two_sw + wide(p.slope) * (wide(c) * U512::from(2) + wide(q)));
        let rhs = two_sw * w * wide(x);
        lhs <= rhs
    }

    /// The amount `x` value units buy on top of `c` (saturating like the contract).
    pub(crate) fn quote(s: U256, c: U256, x: U256, p: &Params) -> U256 {
        let w = wide(U256::from(WAD));
        let linear = wide(x) * w / wide(p.basePrice);
        if linear >= U512::from(1) << 128 {
            return U256::MAX;
        }
        let linear = U256::from(linear);
        if p.slope.is_zero() {
            return linear;
        }
        let (mut lo, mut hi) = (U256::ZERO, linear + U256::from(1));
        while hi - lo > U256::from(1) {
            let mid = lo + (hi - lo) / U256::from(2);
            if fits(s, c, mid, x, p) { lo = mid } else { hi = mid }
        }
        lo
    }

    /// The least value that buys at least `q` on top of `c`: `⌈C(c, q)⌉`.
    pub(crate) fn cost(s: U256, c: U256, q: U256, p: &Params) -> U256 {
        let w = wide(U256::from(WAD));
        let two_sw = wide(s) * w * U512::from(2);
        let num = wide(p.basePrice)
            * wide(q)
            * (two_sw + wide(p.slope) * (wide(c) * U512::from(2) + wide(q)));
        let den = two_sw * w;
        U256::from(num.div_ceil(den))
    }

    /// `⌊S·capBps/10000⌋`.
    pub(crate) fn cap(s: U256, p: &Params) -> U256 {
        s * U256::from(p.capBps) / U256::from(10_000)
    }
}

/// The asset every test LAT belongs to.
pub(crate) const ASSET: u64 = 7;
/// Seconds per epoch in the default parameters.
const EPOCH: u64 = 86_400;
/// Vesting period of the default parameters.
const VESTING: u64 = 3 * 86_400;
/// Genesis supply of the default fixture, whole tokens.
const GENESIS: u64 = 1_000_000;

fn u(v: u64) -> U256 {
    U256::from(v)
}

/// The token id of the test asset at `tier`.
pub(crate) fn lat_id(tier: u8) -> U256 {
    nsed_contracts::lat::encode(U248::from(ASSET), tier)
}

/// p0 = 10 value units per token, k = 1 (the price doubles at a full supply converted), 10% cap,
/// daily epochs, three-day vesting.
pub(crate) fn default_params() -> Params {
    Params {
        basePrice: u(10),
        slope: u(model::WAD),
        capBps: 1_000,
        epochLength: EPOCH,
        vestingPeriod: VESTING,
    }
}

/// Converter deployed with guild = account 0 (also token and LAT admin and LAT minter), genesis
/// holder = account 1, converters = accounts 2 and 3 (both approved the converter for their LATs).
pub(crate) struct ConverterFixture {
    pub(crate) chain: TestChain,
    pub(crate) guild: Address,
    pub(crate) holder: Address,
    pub(crate) user: Address,
    pub(crate) other: Address,
    pub(crate) token: Address,
    pub(crate) lat: Address,
    pub(crate) converter: Address,
    pub(crate) params: Params,
}

impl ConverterFixture {
    fn new() -> Self {
        Self::with(default_params(), tokens(GENESIS))
    }

    pub(crate) fn with(params: Params, genesis: U256) -> Self {
        let mut chain = TestChain::new();
        let (guild, holder, user, other) =
            (chain.account(0), chain.account(1), chain.account(2), chain.account(3));
        let token = deploy_guild_token(&mut chain, guild, holder, genesis);
        let lat = deploy_lat(&mut chain, guild, &[guild]);
        let converter = chain
            .deploy(
                guild,
                &LatConverter::BYTECODE,
                &LatConverter::constructorCall {
                    lat_: lat,
                    token_: token,
                    guild_: guild,
                    params_: params.clone(),
                },
            )
            .expect("LatConverter deploys");
        let minter = chain.call(guild, token, &GuildToken::MINTER_ROLECall {}).unwrap();
        chain
            .send(guild, token, &GuildToken::grantRoleCall { role: minter, account: converter })
            .unwrap();
        for account in [user, other] {
            chain
                .send(
                    account,
                    lat,
                    &LiquidAccessToken::setApprovalForAllCall {
                        operator: converter,
                        approved: true,
                    },
                )
                .unwrap();
        }
        let convertible = LatConverter::setConvertibleCall {
            asset: alloy::primitives::Uint::from(ASSET),
            convertible: true,
        };
        chain.send(guild, converter, &convertible).unwrap();
        Self { chain, guild, holder, user, other, token, lat, converter, params }
    }

    pub(crate) fn mint_lat(&mut self, to: Address, tier: u8, amount: U256) {
        let call = LiquidAccessToken::mintCall {
            to,
            asset: alloy::primitives::Uint::from(ASSET),
            tier,
            amount,
        };
        self.chain.send(self.guild, self.lat, &call).expect("LAT mint succeeds");
    }

    pub(crate) fn lat_balance(&mut self, account: Address, tier: u8) -> U256 {
        self.chain
            .call(
                account,
                self.lat,
                &LiquidAccessToken::balanceOfCall { account, id: lat_id(tier) },
            )
            .unwrap()
    }

    pub(crate) fn convert(
        &mut self,
        from: Address,
        ids: Vec<U256>,
        amounts: Vec<U256>,
        min_out: U256,
    ) -> Result<Receipt<U256>, TxFailure> {
        self.chain.send(
            from,
            self.converter,
            &LatConverter::convertCall { ids, amounts, minOut: min_out },
        )
    }

    /// Converts `value` tier-1 LATs (one value unit each) from `from`, minting them first.
    pub(crate) fn convert_value(
        &mut self,
        from: Address,
        value: U256,
    ) -> Result<Receipt<U256>, TxFailure> {
        self.mint_lat(from, 1, value);
        self.convert(from, vec![lat_id(1)], vec![value], U256::ZERO)
    }

    pub(crate) fn quote(&mut self, value: U256) -> U256 {
        self.chain.call(self.user, self.converter, &LatConverter::quoteCall { value }).unwrap()
    }

    /// `(epoch, base, converted, remaining)`.
    pub(crate) fn epoch_state(&mut self) -> (U256, U256, U256, U256) {
        let s =
            self.chain.call(self.user, self.converter, &LatConverter::epochStateCall {}).unwrap();
        (s.epoch, s.base, s.converted, s.remaining)
    }

    pub(crate) fn position(&mut self, id: U256) -> LatConverter::Position {
        self.chain
            .call(self.user, self.converter, &LatConverter::positionCall { positionId: id })
            .unwrap()
    }

    pub(crate) fn claim(
        &mut self,
        from: Address,
        id: U256,
    ) -> Result<Receipt<LatConverter::claimReturn>, TxFailure> {
        self.chain.send(from, self.converter, &LatConverter::claimCall { positionId: id })
    }

    pub(crate) fn supply(&mut self) -> U256 {
        self.chain.call(self.user, self.token, &GuildToken::totalSupplyCall {}).unwrap()
    }

    pub(crate) fn balance(&mut self, account: Address) -> U256 {
        self.chain.call(account, self.token, &GuildToken::balanceOfCall { account }).unwrap()
    }

    /// Warps to the first second of the next epoch and returns it.
    pub(crate) fn warp_to_next_epoch(&mut self) -> u64 {
        let len = self.params.epochLength;
        let start = (self.chain.timestamp() / len + 1) * len;
        self.chain.warp(start);
        self.chain.roll(self.chain.block_number() + 1);
        start
    }
}

mod deployment {
    use super::*;

    #[test]
    fn the_guild_holds_the_admin_role_and_the_constructor_announces_the_params() {
        let mut chain = TestChain::new();
        let guild = chain.account(0);
        let token = deploy_guild_token(&mut chain, guild, guild, tokens(1));
        let lat = deploy_lat(&mut chain, guild, &[]);
        let p = default_params();
        let receipt = chain
            .deploy_with_receipt(
                guild,
                &LatConverter::BYTECODE,
                &LatConverter::constructorCall {
                    lat_: lat,
                    token_: token,
                    guild_: guild,
                    params_: p.clone(),
                },
            )
            .unwrap();
        let converter = receipt.ret;
        let event = receipt.event::<LatConverter::ParamsChanged>();
        assert_eq!(
            (event.basePrice, event.slope, event.capBps, event.epochLength, event.vestingPeriod),
            (p.basePrice, p.slope, p.capBps, p.epochLength, p.vestingPeriod)
        );
        let stored = chain.call(guild, converter, &LatConverter::paramsCall {}).unwrap();
        assert_eq!(stored, p);
        assert!(
            chain
                .call(
                    guild,
                    converter,
                    &LatConverter::hasRoleCall { role: B256::ZERO, account: guild }
                )
                .unwrap()
        );
        assert_eq!(chain.call(guild, converter, &LatConverter::latCall {}).unwrap(), lat);
        assert_eq!(chain.call(guild, converter, &LatConverter::tokenCall {}).unwrap(), token);
        assert_eq!(
            chain.call(guild, converter, &LatConverter::positionCountCall {}).unwrap(),
            U256::ZERO
        );
    }

    #[test]
    fn construction_rejects_zero_addresses_and_invalid_params() {
        let mut chain = TestChain::new();
        let guild = chain.account(0);
        let lat = deploy_lat(&mut chain, guild, &[]);
        let token = deploy_guild_token(&mut chain, guild, guild, tokens(1));
        let deploy = |chain: &mut TestChain, lat: Address, guild_: Address, params: Params| {
            chain.deploy_with_receipt(
                guild,
                &LatConverter::BYTECODE,
                &LatConverter::constructorCall {
                    lat_: lat,
                    token_: token,
                    guild_,
                    params_: params,
                },
            )
        };
        deploy(&mut chain, Address::ZERO, guild, default_params())
            .expect_revert(LatConverter::LatConverterZeroAddress {});
        deploy(&mut chain, lat, Address::ZERO, default_params())
            .expect_revert(LatConverter::LatConverterZeroAddress {});
        deploy(&mut chain, lat, guild, Params { capBps: 0, ..default_params() })
            .expect_revert(LatConverter::LatConverterInvalidCapBps { capBps: 0 });
    }
}

mod value {
    use super::*;

    #[test]
    fn only_assets_the_guild_approved_convert_and_only_the_guild_approves() {
        let mut f = ConverterFixture::new();
        let (user, guild, converter) = (f.user, f.guild, f.converter);
        let other_asset = ASSET + 1;
        let other_id = nsed_contracts::lat::encode(U248::from(other_asset), 1);
        let mint = LiquidAccessToken::mintCall {
            to: user,
            asset: alloy::primitives::Uint::from(other_asset),
            tier: 1,
            amount: u(10),
        };
        f.chain.send(guild, f.lat, &mint).unwrap();
        let not_convertible = LatConverter::LatConverterAssetNotConvertible {
            asset: alloy::primitives::Uint::from(other_asset),
        };
        f.convert(user, vec![other_id], vec![u(10)], U256::ZERO)
            .expect_revert(not_convertible.clone());
        // Mixed with a convertible id, the whole conversion fails and nothing is burned.
        f.mint_lat(user, 1, u(10));
        f.convert(user, vec![lat_id(1), other_id], vec![u(10), u(10)], U256::ZERO)
            .expect_revert(not_convertible);
        assert_eq!(f.lat_balance(user, 1), u(10));

        let set = |convertible| LatConverter::setConvertibleCall {
            asset: alloy::primitives::Uint::from(other_asset),
            convertible,
        };
        f.chain.send(user, converter, &set(true)).expect_revert(
            LatConverter::AccessControlUnauthorizedAccount {
                account: user,
                neededRole: B256::ZERO,
            },
        );
        let receipt = f.chain.send(guild, converter, &set(true)).unwrap();
        let changed = receipt.event::<LatConverter::ConvertibilityChanged>();
        assert_eq!(
            (changed.asset, changed.convertible),
            (alloy::primitives::Uint::from(other_asset), true)
        );
        f.convert(user, vec![other_id], vec![u(10)], U256::ZERO).unwrap();
        f.chain.send(guild, converter, &set(false)).unwrap();
        let asset = alloy::primitives::Uint::from(other_asset);
        assert!(
            !f.chain.call(user, converter, &LatConverter::isConvertibleCall { asset }).unwrap()
        );
    }

    #[test]
    fn a_tier_t_lat_is_worth_two_to_the_t_minus_one_value_units_capped_at_tier_64() {
        let mut f = ConverterFixture::new();
        for (tier, weight) in [
            (1u8, U256::from(1)),
            (2, U256::from(2)),
            (3, U256::from(4)),
            (10, U256::from(512)),
            (64, U256::from(1) << 63),
            (65, U256::from(1) << 63),
            (255, U256::from(1) << 63),
        ] {
            let value = f
                .chain
                .call(
                    f.user,
                    f.converter,
                    &LatConverter::latValueCall { ids: vec![lat_id(tier)], amounts: vec![u(3)] },
                )
                .unwrap();
            assert_eq!(value, weight * u(3), "tier {tier}");
        }
        let mixed = f
            .chain
            .call(
                f.user,
                f.converter,
                &LatConverter::latValueCall {
                    ids: vec![lat_id(1), lat_id(4), lat_id(1)],
                    amounts: vec![u(5), u(2), u(1)],
                },
            )
            .unwrap();
        assert_eq!(mixed, u(5 + 2 * 8 + 1));
        // Saturates instead of overflowing.
        let huge = f
            .chain
            .call(
                f.user,
                f.converter,
                &LatConverter::latValueCall { ids: vec![lat_id(64)], amounts: vec![U256::MAX] },
            )
            .unwrap();
        assert_eq!(huge, U256::MAX);
    }

    #[test]
    fn tier_zero_ids_and_mismatched_arrays_are_rejected() {
        let mut f = ConverterFixture::new();
        let (user, converter) = (f.user, f.converter);
        let tier_zero = lat_id(0);
        f.convert(user, vec![lat_id(1), tier_zero], vec![u(1), u(1)], U256::ZERO)
            .expect_revert(LatConverter::LatConverterInvalidTier { id: tier_zero });
        f.convert(user, vec![lat_id(1)], vec![u(1), u(1)], U256::ZERO).expect_revert(
            LatConverter::LatConverterInvalidArrayLength { idsLength: u(1), amountsLength: u(2) },
        );
        let err = f
            .chain
            .call(user, converter, &LatConverter::latValueCall { ids: vec![], amounts: vec![u(1)] })
            .unwrap_err();
        assert!(
            err.is_error(&LatConverter::LatConverterInvalidArrayLength {
                idsLength: u(0),
                amountsLength: u(1)
            }),
            "{err}"
        );
    }
}

mod pricing {
    use super::*;

    #[test]
    fn with_a_flat_price_a_conversion_mints_exactly_x_wad_over_p0() {
        let params = Params { slope: U256::ZERO, basePrice: u(7), ..default_params() };
        let mut f = ConverterFixture::with(params, tokens(GENESIS));
        let user = f.user;
        // 1_000 / 7 tokens, rounded down to a token unit.
        let expected = u(1_000) * u(model::WAD) / u(7);
        assert_eq!(f.quote(u(1_000)), expected);
        let receipt = f.convert_value(user, u(1_000)).unwrap();
        assert_eq!(receipt.event::<LatConverter::Converted>().amount, expected);
        // And the same again: a flat price does not rise.
        assert_eq!(
            f.convert_value(user, u(1_000)).unwrap().event::<LatConverter::Converted>().amount,
            expected
        );
    }

    #[test]
    fn the_first_conversion_of_an_epoch_mints_the_closed_form_root() {
        // With k = WAD the inequality is q·(2S + q) ≤ 2S·y, so q = ⌊√(S² + 2S·y)⌋ − S exactly.
        let mut f = ConverterFixture::new();
        let user = f.user;
        let s = tokens(GENESIS);
        for x in [u(1), u(999), u(123_456), u(1_000_000)] {
            let y = x * u(model::WAD) / f.params.basePrice;
            let closed_form = (s * s + u(2) * s * y).root(2) - s;
            assert_eq!(f.quote(x), closed_form, "x = {x}");
            assert_eq!(closed_form, model::quote(s, U256::ZERO, x, &f.params));
            // Never more than the flat price x·WAD/p0 would give.
            assert!(closed_form < y);
        }
        let x = u(123_456);
        let expected = f.quote(x);
        let receipt = f.convert_value(user, x).unwrap();
        let event = receipt.event::<LatConverter::Converted>();
        assert_eq!((event.value, event.amount), (x, expected));
    }

    #[test]
    fn a_second_equal_conversion_in_the_same_epoch_mints_less() {
        let mut f = ConverterFixture::new();
        let (user, other) = (f.user, f.other);
        let s = tokens(GENESIS);
        let x = u(200_000);
        let first_receipt = f.convert_value(user, x).unwrap();
        let second_receipt = f.convert_value(other, x).unwrap();
        let first = first_receipt.event::<LatConverter::Converted>().amount;
        let second = second_receipt.event::<LatConverter::Converted>().amount;
        println!(
            "converter gas: convert {} (first of the epoch), {} (second of the epoch)",
            first_receipt.gas_used, second_receipt.gas_used
        );
        assert_eq!(first, model::quote(s, U256::ZERO, x, &f.params));
        assert_eq!(second, model::quote(s, first, x, &f.params));
        assert!(second < first, "the price rose: {second} >= {first}");
        // The marginal price after the first conversion is p0·(1 + k·c/S): buying a further
        // 1000 tokens costs at least that much per token.
        let marginal_per_token = f.params.basePrice * (s + first) / s; // rounded down
        let cost = model::cost(s, first, tokens(1_000), &f.params);
        assert!(cost >= marginal_per_token * u(1_000));
        assert_eq!(f.epoch_state().2, first + second);
    }
}

mod cap {
    use super::*;

    #[test]
    fn a_conversion_ending_exactly_at_the_cap_succeeds_and_one_more_unit_reverts() {
        let mut f = ConverterFixture::new();
        let (user, other) = (f.user, f.other);
        let s = tokens(GENESIS);
        let cap = model::cap(s, &f.params);
        assert_eq!(cap, tokens(100_000));
        // C(0, S/10) = p0 · S/WAD · (0.1 + 0.1²/2) = 10 · 10^6 · 0.105 = 1_050_000 value units, exact.
        let x = model::cost(s, U256::ZERO, cap, &f.params);
        assert_eq!(x, u(1_050_000));
        let receipt = f.convert_value(user, x).unwrap();
        assert_eq!(receipt.event::<LatConverter::Converted>().amount, cap);
        assert_eq!(f.epoch_state().2, cap);
        assert_eq!(f.epoch_state().3, U256::ZERO);
        // One more LAT value unit buys a little more than nothing, and nothing remains.
        let wanted = model::quote(s, cap, u(1), &f.params);
        assert!(wanted > U256::ZERO);
        f.mint_lat(other, 1, u(1));
        f.convert(other, vec![lat_id(1)], vec![u(1)], U256::ZERO).expect_revert(
            LatConverter::LatConverterEpochCapExceeded { wanted, remaining: U256::ZERO },
        );
    }

    #[test]
    fn after_a_partial_conversion_a_conversion_past_the_cap_fills_exactly_what_remains() {
        let mut f = ConverterFixture::new();
        let user = f.user;
        let s = tokens(GENESIS);
        let cap = model::cap(s, &f.params);
        let first =
            f.convert_value(user, u(400_000)).unwrap().event::<LatConverter::Converted>().amount;
        let remaining = cap - first;
        assert_eq!(f.epoch_state().3, remaining);
        // C is additive, C(0, a) + C(a, b) = C(0, a + b), but the first piece's q was rounded down
        // and the value fraction it did not use was burned (the guild's favour): the rest costs
        // one unit more than 1_050_000 − 400_000, and that unit buys a fraction past the cap.
        let rest = model::cost(s, first, remaining, &f.params);
        assert_eq!(rest, u(650_001));
        assert!(model::quote(s, first, rest, &f.params) > remaining);
        f.mint_lat(user, 1, rest + u(10));
        let snapshot = f.chain.snapshot();
        // One value unit less stays within the cap, short of it by less than one token.
        let receipt = f.convert(user, vec![lat_id(1)], vec![rest - u(1)], U256::ZERO).unwrap();
        let second = receipt.event::<LatConverter::Converted>().amount;
        assert_eq!(second, model::quote(s, first, rest - u(1), &f.params));
        assert!(second <= remaining && remaining - second < tokens(1));
        assert_eq!(f.epoch_state().3, remaining - second);

        // Offered more, the conversion takes exactly `rest` and mints exactly what remains.
        assert!(f.chain.revert_to(snapshot));
        let receipt = f.convert(user, vec![lat_id(1)], vec![rest + u(10)], U256::ZERO).unwrap();
        let event = receipt.event::<LatConverter::Converted>();
        assert_eq!((event.value, event.amount), (rest, remaining));
        assert_eq!(f.lat_balance(user, 1), u(10));
        assert_eq!(f.epoch_state().3, U256::ZERO);
    }

    #[test]
    fn a_conversion_one_value_unit_past_the_cap_fills_the_cap_and_keeps_the_unit() {
        let mut f = ConverterFixture::new();
        let user = f.user;
        let s = tokens(GENESIS);
        let cap = model::cap(s, &f.params);
        let x = u(1_050_001);
        let wanted = model::quote(s, U256::ZERO, x, &f.params);
        assert!(wanted > cap);
        assert_eq!(f.quote(x), wanted, "the quote does not apply the cap");
        f.mint_lat(user, 1, x);
        let receipt = f.convert(user, vec![lat_id(1)], vec![x], cap).unwrap();
        let event = receipt.event::<LatConverter::Converted>();
        assert_eq!((event.value, event.amount), (u(1_050_000), cap));
        let burn = receipt.event::<LiquidAccessToken::TransferSingle>();
        assert_eq!((burn.id, burn.value), (lat_id(1), u(1_050_000)));
        assert_eq!(f.lat_balance(user, 1), u(1));
        assert_eq!(f.epoch_state().2, cap);
    }

    #[test]
    fn a_fill_takes_the_ids_in_the_given_order_and_only_whole_units_that_fit() {
        let mut f = ConverterFixture::new();
        let user = f.user;
        let s = tokens(GENESIS);
        let cap = model::cap(s, &f.params);
        // The cap costs 1_050_000 value units; tier-3 LATs are worth 4 each.
        f.mint_lat(user, 1, u(10));
        f.mint_lat(user, 3, u(300_000));
        let snapshot = f.chain.snapshot();

        // Heavy ids first: 262_500 tier-3 LATs pay for the cap exactly, no tier-1 LAT is taken.
        let ids = vec![lat_id(3), lat_id(1)];
        let receipt = f.convert(user, ids.clone(), vec![u(300_000), u(10)], U256::ZERO).unwrap();
        let event = receipt.event::<LatConverter::Converted>();
        assert_eq!((event.value, event.amount), (u(1_050_000), cap));
        let burn = receipt.event::<LiquidAccessToken::TransferBatch>();
        assert_eq!((burn.ids, burn.values), (ids, vec![u(262_500), U256::ZERO]));
        assert_eq!((f.lat_balance(user, 3), f.lat_balance(user, 1)), (u(37_500), u(10)));

        // Light ids first: 5 tier-1 LATs, then the 262_498 tier-3 LATs that still fit in full
        // (1_049_997 in all), which buy a little less than the cap; the rest stays unconverted.
        assert!(f.chain.revert_to(snapshot));
        let snapshot = f.chain.snapshot();
        let ids = vec![lat_id(1), lat_id(3)];
        let receipt = f.convert(user, ids.clone(), vec![u(5), u(300_000)], U256::ZERO).unwrap();
        let event = receipt.event::<LatConverter::Converted>();
        let value = u(5 + 262_498 * 4);
        let amount = model::quote(s, U256::ZERO, value, &f.params);
        assert!(amount < cap);
        assert_eq!((event.value, event.amount), (value, amount));
        let burn = receipt.event::<LiquidAccessToken::TransferBatch>();
        assert_eq!((burn.ids, burn.values), (ids, vec![u(5), u(262_498)]));
        assert_eq!(f.epoch_state().3, cap - amount);

        // minOut guards the fill: asking for the whole cap from that order reverts.
        assert!(f.chain.revert_to(snapshot));
        f.convert(user, vec![lat_id(1), lat_id(3)], vec![u(5), u(300_000)], cap)
            .expect_revert(LatConverter::LatConverterInsufficientOutput { amount, minOut: cap });
    }

    #[test]
    fn a_value_beyond_the_arithmetic_bounds_whose_lats_are_too_heavy_to_fill_reverts() {
        let mut f = ConverterFixture::new();
        let user = f.user;
        let cap = model::cap(tokens(GENESIS), &f.params);
        assert_eq!(f.quote(U256::MAX), U256::MAX);
        // One tier-64 LAT is worth 2^63 value units, far more than the whole cap costs: none fits.
        f.mint_lat(user, 64, U256::MAX >> 64);
        f.convert(user, vec![lat_id(64)], vec![U256::MAX >> 64], U256::ZERO).expect_revert(
            LatConverter::LatConverterEpochCapExceeded { wanted: U256::MAX, remaining: cap },
        );
    }
}

mod front_running {
    use super::*;

    #[test]
    fn a_one_unit_front_run_no_longer_makes_a_larger_conversion_revert() {
        let mut f = ConverterFixture::new();
        let (user, other) = (f.user, f.other);
        let s = tokens(GENESIS);
        let cap = model::cap(s, &f.params);
        // The user offers more than the whole cap costs and accepts no less than the cap minus
        // one token.
        let x = model::cost(s, U256::ZERO, cap, &f.params) + u(50_000);
        f.mint_lat(user, 1, x);
        let min_out = cap - tokens(1);
        // A front-runner converts a single value unit first.
        let front = f.convert_value(other, u(1)).unwrap().event::<LatConverter::Converted>().amount;
        assert!(front > U256::ZERO);
        let remaining = cap - front;
        let snapshot = f.chain.snapshot();

        // minOut above what is left: the slippage check names what the conversion would mint.
        f.convert(user, vec![lat_id(1)], vec![x], remaining + u(1)).expect_revert(
            LatConverter::LatConverterInsufficientOutput {
                amount: remaining,
                minOut: remaining + u(1),
            },
        );
        assert!(f.chain.revert_to(snapshot));

        // The conversion fills what is left of the cap and burns only the LATs that pay for it.
        let receipt = f.convert(user, vec![lat_id(1)], vec![x], min_out).unwrap();
        let converted = receipt.event::<LatConverter::Converted>();
        assert_eq!(converted.amount, remaining);
        let used = model::cost(s, front, remaining, &f.params);
        assert_eq!(converted.value, used);
        assert!(used < x);
        let burn = receipt.event::<LiquidAccessToken::TransferSingle>();
        assert_eq!((burn.id, burn.value), (lat_id(1), used));
        assert_eq!(f.lat_balance(user, 1), x - used);
        assert_eq!(f.epoch_state().3, U256::ZERO);
        assert_eq!(f.position(converted.positionId).amount, remaining);
    }
}

mod epochs {
    use super::*;

    #[test]
    fn the_last_second_of_an_epoch_still_counts_against_it_and_the_next_second_rebases() {
        let mut f = ConverterFixture::new();
        let (guild, user, holder) = (f.guild, f.user, f.holder);
        let start = f.warp_to_next_epoch();
        let epoch = u(start / EPOCH);
        let s = tokens(GENESIS);
        let receipt = f.convert_value(user, u(100_000)).unwrap();
        let started = receipt.event::<LatConverter::EpochStarted>();
        assert_eq!((started.epoch, started.base), (epoch, s));
        let c1 = receipt.event::<LatConverter::Converted>().amount;
        assert_eq!(receipt.event::<LatConverter::Converted>().epoch, epoch);

        // The supply grows mid-epoch (another minter); the epoch keeps its base.
        let minter = f.chain.call(guild, f.token, &GuildToken::MINTER_ROLECall {}).unwrap();
        f.chain
            .send(guild, f.token, &GuildToken::grantRoleCall { role: minter, account: guild })
            .unwrap();
        f.chain
            .send(guild, f.token, &GuildToken::mintCall { to: holder, amount: tokens(500_000) })
            .unwrap();
        let s2 = tokens(GENESIS + 500_000);

        f.chain.warp(start + EPOCH - 1);
        assert_eq!(f.epoch_state(), (epoch, s, c1, model::cap(s, &f.params) - c1));
        let receipt = f.convert_value(user, u(100_000)).unwrap();
        assert!(receipt.events::<LatConverter::EpochStarted>().is_empty());
        let c2 = receipt.event::<LatConverter::Converted>().amount;
        assert_eq!(c2, model::quote(s, c1, u(100_000), &f.params));
        assert!(c2 < c1);

        f.chain.warp(start + EPOCH);
        let next = epoch + u(1);
        assert_eq!(f.epoch_state(), (next, s2, U256::ZERO, model::cap(s2, &f.params)));
        let receipt = f.convert_value(user, u(100_000)).unwrap();
        let started = receipt.event::<LatConverter::EpochStarted>();
        assert_eq!((started.epoch, started.base), (next, s2));
        let c3 = receipt.event::<LatConverter::Converted>().amount;
        assert_eq!(c3, model::quote(s2, U256::ZERO, u(100_000), &f.params));
        assert!(c3 > c1, "a larger base and a reset c make the price lower");
        assert_eq!(f.epoch_state().2, c3);
    }

    #[test]
    fn a_new_epoch_length_restarts_the_epoch_and_other_changes_keep_it() {
        let mut f = ConverterFixture::new();
        let (guild, user) = (f.guild, f.user);
        f.warp_to_next_epoch();
        let c =
            f.convert_value(user, u(100_000)).unwrap().event::<LatConverter::Converted>().amount;
        let cheaper = Params { basePrice: u(5), ..f.params.clone() };
        f.chain
            .send(guild, f.converter, &LatConverter::setParamsCall { params_: cheaper.clone() })
            .unwrap();
        assert_eq!(f.epoch_state().2, c, "same epoch length: the epoch goes on");
        let longer = Params { epochLength: 2 * EPOCH, ..cheaper };
        let receipt = f
            .chain
            .send(guild, f.converter, &LatConverter::setParamsCall { params_: longer })
            .unwrap();
        let event = receipt.event::<LatConverter::ParamsChanged>();
        assert_eq!((event.basePrice, event.epochLength), (u(5), 2 * EPOCH));
        let (epoch, base, converted, _) = f.epoch_state();
        assert_eq!(
            (epoch, base, converted),
            (u(f.chain.timestamp() / (2 * EPOCH)), tokens(GENESIS), U256::ZERO)
        );
    }
}

mod conversion {
    use super::*;

    #[test]
    fn converting_burns_the_lats_and_opens_a_vesting_position() {
        let mut f = ConverterFixture::new();
        let (user, converter) = (f.user, f.converter);
        f.mint_lat(user, 1, u(10));
        f.mint_lat(user, 3, u(5));
        let ids = vec![lat_id(1), lat_id(3)];
        let amounts = vec![u(4), u(5)];
        let value = u(4 + 5 * 4);
        let expected = f.quote(value);
        let supply = f.supply();
        let now = f.chain.timestamp();
        let receipt = f.convert(user, ids.clone(), amounts.clone(), U256::ZERO).unwrap();
        assert_eq!(receipt.ret, u(1));
        let converted = receipt.event::<LatConverter::Converted>();
        assert_eq!(
            (converted.account, converted.positionId, converted.value, converted.amount),
            (user, u(1), value, expected)
        );
        assert_eq!((converted.epoch, converted.vestsAt), (u(now / EPOCH), now + VESTING));
        let burn = receipt.event::<LiquidAccessToken::TransferBatch>();
        assert_eq!((burn.operator, burn.from, burn.to), (converter, user, Address::ZERO));
        assert_eq!((burn.ids, burn.values), (ids, amounts));
        assert_eq!(f.lat_balance(user, 1), u(6));
        assert_eq!(f.lat_balance(user, 3), U256::ZERO);

        let position = f.position(u(1));
        assert_eq!(
            (position.owner, position.vestsAt, position.claimed, position.amount),
            (user, now + VESTING, false, expected)
        );
        assert_eq!(
            f.chain.call(user, converter, &LatConverter::positionCountCall {}).unwrap(),
            u(1)
        );
        // Nothing is minted before the claim.
        assert_eq!(f.supply(), supply);
        assert_eq!(f.balance(user), U256::ZERO);
    }

    #[test]
    fn min_out_above_the_output_reverts_and_at_the_output_succeeds() {
        let mut f = ConverterFixture::new();
        let user = f.user;
        f.mint_lat(user, 1, u(5_000));
        let amount = f.quote(u(5_000));
        f.convert(user, vec![lat_id(1)], vec![u(5_000)], amount + u(1)).expect_revert(
            LatConverter::LatConverterInsufficientOutput { amount, minOut: amount + u(1) },
        );
        let receipt = f.convert(user, vec![lat_id(1)], vec![u(5_000)], amount).unwrap();
        assert_eq!(receipt.event::<LatConverter::Converted>().amount, amount);
    }

    #[test]
    fn value_that_buys_nothing_reverts() {
        let params = Params { basePrice: U256::from(u64::MAX), ..default_params() };
        let mut f = ConverterFixture::with(params, tokens(GENESIS));
        let user = f.user;
        // 1 value unit at 2^64 − 1 value units per token: 1e18 / (2^64 − 1) < 1 token unit.
        f.mint_lat(user, 1, u(1));
        f.convert(user, vec![lat_id(1)], vec![u(1)], U256::ZERO)
            .expect_revert(LatConverter::LatConverterNothingToMint { value: u(1) });
        f.convert(user, vec![], vec![], U256::ZERO)
            .expect_revert(LatConverter::LatConverterNothingToMint { value: U256::ZERO });
        // 19 value units buy one unit.
        f.mint_lat(user, 1, u(19));
        assert_eq!(
            f.convert(user, vec![lat_id(1)], vec![u(19)], U256::ZERO)
                .unwrap()
                .event::<LatConverter::Converted>()
                .amount,
            u(1)
        );
    }

    #[test]
    fn converting_without_approval_or_without_the_lats_reverts_with_the_lat_errors() {
        let mut f = ConverterFixture::new();
        let (user, stranger, converter) = (f.user, f.chain.account(4), f.converter);
        f.mint_lat(stranger, 1, u(100));
        f.convert(stranger, vec![lat_id(1)], vec![u(100)], U256::ZERO).expect_revert(
            LiquidAccessToken::ERC1155MissingApprovalForAll {
                operator: converter,
                owner: stranger,
            },
        );
        f.mint_lat(user, 1, u(100));
        f.convert(user, vec![lat_id(1)], vec![u(101)], U256::ZERO).expect_revert(
            LiquidAccessToken::ERC1155InsufficientBalance {
                sender: user,
                balance: u(100),
                needed: u(101),
                tokenId: lat_id(1),
            },
        );
        assert_eq!(f.epoch_state().2, U256::ZERO, "a failed burn counts nothing");
    }
}

mod vesting {
    use super::*;

    #[test]
    fn a_position_is_claimable_at_vests_at_and_not_a_second_earlier() {
        let mut f = ConverterFixture::new();
        let user = f.user;
        let receipt = f.convert_value(user, u(10_000)).unwrap();
        let Converted { positionId: id, amount, vestsAt: vests_at, .. } =
            receipt.event::<LatConverter::Converted>();
        let supply = f.supply();
        f.chain.warp(vests_at - 1);
        f.claim(user, id).expect_revert(LatConverter::LatConverterNotVested {
            positionId: id,
            vestsAt: vests_at,
        });
        f.chain.warp(vests_at);
        let receipt = f.claim(user, id).unwrap();
        let claimed = receipt.event::<LatConverter::Claimed>();
        assert_eq!((claimed.positionId, claimed.owner, claimed.amount), (id, user, amount));
        let mint = receipt.event::<GuildToken::Transfer>();
        assert_eq!((mint.from, mint.to, mint.value), (Address::ZERO, user, amount));
        assert_eq!(f.balance(user), amount);
        assert_eq!(f.supply(), supply + amount);
        assert!(f.position(id).claimed);
    }

    use LatConverter::Converted;

    #[test]
    fn a_position_is_claimed_once_and_only_by_its_owner() {
        let mut f = ConverterFixture::new();
        let (user, other) = (f.user, f.other);
        let id = f.convert_value(user, u(10_000)).unwrap().ret;
        f.chain.warp(f.chain.timestamp() + VESTING);
        f.claim(other, id).expect_revert(LatConverter::LatConverterNotPositionOwner {
            positionId: id,
            caller: other,
        });
        f.claim(user, id).unwrap();
        f.claim(user, id)
            .expect_revert(LatConverter::LatConverterAlreadyClaimed { positionId: id });
    }

    #[test]
    fn an_unknown_position_cannot_be_claimed() {
        let mut f = ConverterFixture::new();
        let user = f.user;
        for id in [U256::ZERO, u(1)] {
            f.claim(user, id)
                .expect_revert(LatConverter::LatConverterUnknownPosition { positionId: id });
        }
    }

    #[test]
    fn a_zero_vesting_period_is_claimable_in_the_same_second() {
        let params = Params { vestingPeriod: 0, ..default_params() };
        let mut f = ConverterFixture::with(params, tokens(GENESIS));
        let user = f.user;
        let receipt = f.convert_value(user, u(10_000)).unwrap();
        assert_eq!(receipt.event::<LatConverter::Converted>().vestsAt, f.chain.timestamp());
        f.claim(user, receipt.ret).unwrap();
    }

    #[test]
    fn converted_tokens_vote_only_once_claimed_and_delegated() {
        let mut f = ConverterFixture::new();
        let (user, token) = (f.user, f.token);
        let votes = |f: &mut ConverterFixture| {
            f.chain.call(user, token, &GuildToken::getVotesCall { account: user }).unwrap()
        };
        f.chain.send(user, token, &GuildToken::delegateCall { delegatee: user }).unwrap();
        let receipt = f.convert_value(user, u(10_000)).unwrap();
        let amount = receipt.event::<LatConverter::Converted>().amount;
        assert_eq!(votes(&mut f), U256::ZERO, "a pending position has no votes");
        f.chain.warp(f.chain.timestamp() + VESTING);
        f.claim(user, receipt.ret).unwrap();
        assert_eq!(votes(&mut f), amount, "delegated beforehand, the claim brings the votes");
    }
}

mod params {
    use super::*;

    #[test]
    fn only_the_guild_sets_params() {
        let mut f = ConverterFixture::new();
        let (user, converter) = (f.user, f.converter);
        f.chain
            .send(user, converter, &LatConverter::setParamsCall { params_: default_params() })
            .expect_revert(LatConverter::AccessControlUnauthorizedAccount {
                account: user,
                neededRole: B256::ZERO,
            });
    }

    #[test]
    fn params_outside_their_bounds_are_rejected_and_the_bounds_themselves_accepted() {
        let mut f = ConverterFixture::new();
        let (guild, converter) = (f.guild, f.converter);
        let base = default_params();
        let max_price = U256::from(u64::MAX);
        let (min_slope, max_slope) = (u(100_000_000_000_000), u(10_000) * u(model::WAD));
        let (max_epoch, max_vesting) = (365 * 86_400, 730 * 86_400);
        let set = |f: &mut ConverterFixture, p: Params| {
            f.chain.send(guild, converter, &LatConverter::setParamsCall { params_: p })
        };
        set(&mut f, Params { basePrice: U256::ZERO, ..base })
            .expect_revert(LatConverter::LatConverterInvalidBasePrice { basePrice: U256::ZERO });
        set(&mut f, Params { basePrice: max_price + u(1), ..base }).expect_revert(
            LatConverter::LatConverterInvalidBasePrice { basePrice: max_price + u(1) },
        );
        for slope in [u(1), min_slope - u(1), max_slope + u(1)] {
            set(&mut f, Params { slope, ..base })
                .expect_revert(LatConverter::LatConverterInvalidSlope { slope });
        }
        for cap_bps in [0, 10_001] {
            set(&mut f, Params { capBps: cap_bps, ..base })
                .expect_revert(LatConverter::LatConverterInvalidCapBps { capBps: cap_bps });
        }
        for epoch_length in [0, max_epoch + 1] {
            set(&mut f, Params { epochLength: epoch_length, ..base }).expect_revert(
                LatConverter::LatConverterInvalidEpochLength { epochLength: epoch_length },
            );
        }
        set(&mut f, Params { vestingPeriod: max_vesting + 1, ..base }).expect_revert(
            LatConverter::LatConverterInvalidVestingPeriod { vestingPeriod: max_vesting + 1 },
        );

        let accepted = [
            Params { basePrice: max_price, ..base },
            Params { basePrice: u(1), ..base },
            Params { slope: U256::ZERO, ..base },
            Params { slope: min_slope, ..base },
            Params { slope: max_slope, ..base },
            Params { capBps: 1, ..base },
            Params { capBps: 10_000, ..base },
            Params { epochLength: 1, ..base },
            Params { epochLength: max_epoch, ..base },
            Params { vestingPeriod: 0, ..base },
            Params { vestingPeriod: max_vesting, ..base },
        ];
        for p in accepted {
            let receipt = set(&mut f, p.clone()).unwrap();
            assert_eq!(receipt.event::<LatConverter::ParamsChanged>().slope, p.slope);
            assert_eq!(f.chain.call(guild, converter, &LatConverter::paramsCall {}).unwrap(), p);
        }
        // The contract's published bounds are the ones tested here.
        assert_eq!(
            f.chain.call(guild, converter, &LatConverter::MIN_SLOPECall {}).unwrap(),
            min_slope
        );
        assert_eq!(
            f.chain.call(guild, converter, &LatConverter::MAX_SLOPECall {}).unwrap(),
            max_slope
        );
        assert_eq!(
            f.chain.call(guild, converter, &LatConverter::MAX_BASE_PRICECall {}).unwrap(),
            max_price
        );
    }
}

/// Random parameters across the supported space, a random base supply and a random sequence of
/// conversion values sized around the cost of the cap.
fn case_strategy() -> impl Strategy<Value = (Params, U256, Vec<u128>)> {
    let slope = prop_oneof![
        1 => Just(U256::ZERO),
        1 => Just(u(100_000_000_000_000)),
        1 => Just(u(10_000) * u(model::WAD)),
        4 => (100_000_000_000_000u128..=10_000_000_000_000_000_000_000u128).prop_map(U256::from),
    ];
    let price = prop_oneof![
        1 => Just(1u64),
        1 => Just(u64::MAX),
        4 => 1u64..1_000_000,
    ];
    let genesis = prop_oneof![
        1 => (1u128..1_000_000).prop_map(U256::from),
        4 => (1_000_000_000_000_000_000u128..1_000_000_000_000_000_000_000_000_000_000u128).prop_map(U256::from),
    ];
    (price, slope, 1u16..=10_000, genesis, prop::collection::vec(any::<u128>(), 1..6)).prop_map(
        |(price, slope, cap_bps, genesis, draws)| {
            let params = Params {
                basePrice: U256::from(price),
                slope,
                capBps: cap_bps,
                epochLength: EPOCH,
                vestingPeriod: VESTING,
            };
            (params, genesis, draws)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Every piece mints exactly what the Rust model says, filled up to the cap when it buys more
    /// (or reverts with the model's exact error), and the pieces together never mint more than one
    /// conversion of the value they took.
    #[test]
    fn splitting_a_conversion_never_mints_more_than_converting_at_once_and_matches_the_model(
        (params, genesis, draws) in case_strategy()
    ) {
        let mut f = ConverterFixture::with(params.clone(), genesis);
        let user = f.user;
        f.warp_to_next_epoch();
        let s = genesis;
        let cap = model::cap(s, &params);
        // Size pieces so that about all of them together reach twice the cap's cost.
        let budget = model::cost(s, U256::ZERO, cap, &params) * u(2) / u(draws.len() as u64) + u(2);
        let pieces: Vec<U256> = draws.iter().map(|&d| U256::from(d) % budget + u(1)).collect();
        let total: U256 = pieces.iter().copied().sum();
        f.mint_lat(user, 1, total);
        let snapshot = f.chain.snapshot();

        let (mut converted, mut accepted) = (U256::ZERO, U256::ZERO);
        for &x in &pieces {
            let q = model::quote(s, converted, x, &params);
            prop_assert_eq!(f.quote(x), q);
            let remaining = cap - converted;
            let result = f.convert(user, vec![lat_id(1)], vec![x], U256::ZERO);
            if q.is_zero() {
                result.expect_revert(LatConverter::LatConverterNothingToMint { value: x });
            } else if q > remaining && remaining.is_zero() {
                result.expect_revert(LatConverter::LatConverterEpochCapExceeded { wanted: q, remaining });
            } else if q > remaining {
                // Tier-1 LATs fill the cap exactly, with the least value that buys what remains.
                let taken = model::cost(s, converted, remaining, &params);
                prop_assert!(taken <= x);
                let event = result.unwrap().event::<LatConverter::Converted>();
                prop_assert_eq!((event.value, event.amount), (taken, remaining));
                prop_assert!(model::fits(s, converted, remaining, taken, &params));
                prop_assert!(!model::fits(s, converted, remaining, taken - u(1), &params));
                converted += remaining;
                accepted += taken;
            } else {
                let event = result.unwrap().event::<LatConverter::Converted>();
                prop_assert_eq!(event.amount, q);
                // q is the largest amount the value pays for.
                prop_assert!(model::fits(s, converted, q, x, &params));
                prop_assert!(!model::fits(s, converted, q + u(1), x, &params));
                converted += q;
                accepted += x;
            }
        }
        prop_assert_eq!(f.epoch_state().2, converted);

        prop_assert!(f.chain.revert_to(snapshot));
        let at_once = model::quote(s, U256::ZERO, accepted, &params);
        prop_assert!(converted <= at_once, "pieces {} > at once {}", converted, at_once);
        if !accepted.is_zero() {
            let event = f
                .convert(user, vec![lat_id(1)], vec![accepted], U256::ZERO)
                .unwrap()
                .event::<LatConverter::Converted>();
            prop_assert_eq!(event.amount, at_once.min(cap));
        }
    }
}
