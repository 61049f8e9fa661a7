//! The cost tables of `docs/economics.md` ("Rank ladder", "What guild votes cost"), recomputed
//! from the parameters of a suite deployed with the defaults, so that the tables cannot drift
//! from the contracts or from `SuiteParams::default()` silently.

use std::collections::BTreeMap;

use alloy::{primitives::U256, providers::DynProvider, signers::local::PrivateKeySigner};
use nsed_contracts::{
    agent_registry::AgentRegistry, guild_governor::GuildGovernor, guild_token::GuildToken,
    lat_converter::LatConverter, rankify_arena::RankifyArena,
};
use nsed_deploy::{
    AGENT_REGISTRY, ARENA, CONVERTER, GOVERNOR, GUILD_TOKEN, SuiteParams, deploy_suite,
};
use nsed_devstack::{Anvil, AnvilConfig};

const DOC: &str = include_str!("../../docs/economics.md");

/// The parameters the tables depend on, as the deployed contracts report them.
#[derive(Debug)]
struct Defaults {
    /// The arena's `minJoinFeeUnit`, in base units of the bounty token.
    min_join_fee: U256,
    min_bond: U256,
    base_price: U256,
    slope: U256,
    cap_bps: u16,
    epoch_length: u64,
    vesting_period: u64,
    supply: U256,
    quorum_bps: u64,
    threshold: U256,
}

async fn deployed_defaults() -> Defaults {
    let anvil = Anvil::spawn(AnvilConfig::default()).unwrap();
    let signer: PrivateKeySigner = anvil.accounts()[0].private_key().parse().unwrap();
    let deployer = signer.address();
    let provider: DynProvider =
        nsed_contracts::provider::wallet_provider(anvil.endpoint().parse().unwrap(), signer);
    let record =
        deploy_suite(&provider, deployer, "local", SuiteParams::default(), None).await.unwrap();
    let at = |name: &str| record.address(name).unwrap();
    let arena = RankifyArena::new(at(ARENA), &provider);
    // The floor the arena enforces at rank 1 is the unit, at rank 2 twice it.
    let unit = arena.minJoinFeeUnit().call().await.unwrap();
    assert_eq!(arena.minJoinFee(1).call().await.unwrap(), unit);
    assert_eq!(arena.minJoinFee(2).call().await.unwrap(), unit * U256::from(2));
    let params = LatConverter::new(at(CONVERTER), &provider).params().call().await.unwrap();
    let governor = GuildGovernor::new(at(GOVERNOR), &provider);
    let numerator = governor.quorumNumerator_1().call().await.unwrap();
    let denominator = governor.quorumDenominator().call().await.unwrap();
    Defaults {
        min_join_fee: arena.minJoinFeeUnit().call().await.unwrap(),
        min_bond: AgentRegistry::new(at(AGENT_REGISTRY), &provider).minBond().call().await.unwrap(),
        base_price: params.basePrice,
        slope: params.slope,
        cap_bps: params.capBps,
        epoch_length: params.epochLength,
        vesting_period: params.vestingPeriod,
        supply: GuildToken::new(at(GUILD_TOKEN), &provider).totalSupply().call().await.unwrap(),
        quorum_bps: (numerator * U256::from(10_000) / denominator).to(),
        threshold: governor.proposalThreshold().call().await.unwrap(),
    }
}

/// Games, fees and LAT value of the cheapest arena climb from nothing to one rank-`rank` token:
/// two-seat games at the minimum fee, a rank-`k` token built from two rank-`k − 1` ones, every
/// leftover reused (the recursion docs/economics.md describes).
#[derive(Debug, Default)]
struct Climb {
    games: u64,
    /// Fees in base units.
    fees: U256,
    value: u64,
    held: BTreeMap<u32, u64>,
}

impl Climb {
    fn to(rank: u32, min_join_fee: U256) -> Self {
        let mut climb = Self::default();
        if rank >= 2 {
            climb.ensure(rank, 1, min_join_fee);
        }
        climb
    }

    fn ensure(&mut self, rank: u32, count: u64, fee: U256) {
        while self.held.get(&rank).copied().unwrap_or(0) < count {
            // A rank-(rank − 1) game: its winner is promoted to `rank`, its loser demoted.
            let game_rank = rank - 1;
            if game_rank > 1 {
                self.ensure(game_rank, 2, fee);
                *self.held.get_mut(&game_rank).unwrap() -= 2;
                *self.held.entry(game_rank - 1).or_default() += 1;
            }
            *self.held.entry(rank).or_default() += 1;
            let weight = 1u64 << (game_rank - 1);
            self.games += 1;
            self.fees += U256::from(2 * weight) * fee;
            self.value += weight;
        }
    }
}

/// `1234567` as `1,234,567`.
fn grouped(n: impl ToString) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

const WAD: u64 = 1_000_000_000_000_000_000;

/// Base units (18 decimals) as whole tokens: grouped, with the exact fraction and at least two
/// decimals (`1963320000000000000000` as `1,963.32`, `10^17` as `0.10`).
fn tokens(base_units: U256) -> String {
    let whole = base_units / wad();
    let fraction = format!("{:018}", (base_units % wad()).to::<u64>());
    let fraction = fraction.trim_end_matches('0');
    format!("{}.{fraction:0<2}", grouped(whole))
}

fn wad() -> U256 {
    U256::from(WAD)
}

/// `⌈C(0, q)⌉`: the value units a conversion of `q` (base units) costs at the start of an epoch
/// whose base is `supply` (LatConverter's integral, rounded up as the converter's rounding makes
/// the caller pay).
fn conversion_cost(d: &Defaults, supply: U256, q: U256) -> U256 {
    let num = d.base_price * q * (U256::from(2) * supply * wad() + d.slope * q);
    let den = U256::from(2) * supply * wad() * wad();
    num.div_ceil(den)
}

#[derive(Debug)]
struct Conversion {
    /// Guild tokens minted, in base units.
    minted: U256,
    /// Value units burned.
    value: U256,
    /// Epochs with a conversion.
    epochs: u64,
    /// Seconds from the first conversion until the last position vests.
    vested_after: u64,
}

/// Converts at the start of every epoch, the full cap or what is still missing, until `needed`
/// base units are minted; positions are claimed as soon as they vest, and only claimed tokens
/// count in a later epoch's base.
fn convert(d: &Defaults, needed: U256) -> Conversion {
    let mut positions: Vec<(u64, U256)> = Vec::new();
    let (mut minted, mut value, mut epoch) = (U256::ZERO, U256::ZERO, 0u64);
    loop {
        let now = epoch * d.epoch_length;
        let claimed: U256 = positions
            .iter()
            .filter(|(at, _)| at + d.vesting_period <= now)
            .map(|(_, amount)| *amount)
            .sum();
        let base = d.supply + claimed;
        let cap = base * U256::from(d.cap_bps) / U256::from(10_000);
        let q = cap.min(needed - minted);
        value += conversion_cost(d, base, q);
        minted += q;
        positions.push((now, q));
        if minted >= needed {
            return Conversion {
                minted,
                value,
                epochs: epoch + 1,
                vested_after: now + d.vesting_period,
            };
        }
        epoch += 1;
    }
}

fn whole(base_units: U256) -> U256 {
    (base_units + wad() / U256::from(2)) / wad()
}

fn markdown_cell_days(seconds: u64) -> String {
    format!("{} days", seconds / 86_400)
}

#[tokio::test]
async fn the_cost_tables_in_the_economics_doc_match_the_deployed_defaults() {
    let d = deployed_defaults().await;
    assert_eq!(d.min_join_fee, SuiteParams::default().arena_min_join_fee);
    // 0.01 token: a LAT value unit costs at least 0.02 tokens of fees, and a guild token at
    // p0 = 50 at least one bounty token: no cheaper through the arena than at parity.
    assert_eq!(d.min_join_fee, wad() / U256::from(100));
    assert_eq!(tokens(U256::from(2) * d.min_join_fee * d.base_price), "1.00");

    // The rank ladder: arena climbs and market bonds.
    let min_bond_tokens = d.min_bond / wad();
    for rank in [2u32, 3, 4, 5, 6, 8, 10, 16] {
        let climb = Climb::to(rank, d.min_join_fee);
        assert_eq!(
            climb.fees,
            U256::from(2 * climb.value) * d.min_join_fee,
            "fees price every value unit"
        );
        assert!(climb.games >= u64::from(rank * (rank - 1) / 2));
        assert!(climb.games < 1 << (rank - 1));
        let multiple = 1u64 << (rank - 1);
        let row = format!(
            "| {rank} | {} | {} | {} | {} | {rank} | `{multiple} · minBond` | {} |",
            grouped(climb.games),
            rank * (rank - 1) / 2,
            tokens(climb.fees),
            grouped(climb.value),
            grouped(min_bond_tokens * U256::from(multiple)),
        );
        assert!(DOC.contains(&row), "economics.md lacks the rank-{rank} row:\n{row}");
    }

    // The guild votes: propose, 1 %, quorum, majority.
    let supply = d.supply;
    let share = |bps: u64| {
        // Holding `f` of the supply after minting q: q = f·S / (1 − f), rounded up.
        (supply * U256::from(bps)).div_ceil(U256::from(10_000 - bps))
    };
    let targets = [
        (
            "propose",
            format!("threshold {}", grouped(d.threshold / wad())),
            d.threshold,
            d.threshold,
        ),
        ("1 %", "1 %".to_string(), supply / U256::from(100), share(100)),
        (
            "quorum",
            format!("{} %", d.quorum_bps / 100),
            supply * U256::from(d.quorum_bps) / U256::from(10_000),
            share(d.quorum_bps),
        ),
        ("majority", "> 50 %".to_string(), supply / U256::from(2), supply + U256::from(1)),
    ];
    let top_market_rank = 16u32;
    let per_win = U256::from(1u64 << (top_market_rank - 1));
    for (name, votes, bought, needed) in targets {
        let conversion = convert(&d, needed);
        let fees = U256::from(2) * d.min_join_fee * conversion.value;
        let climb_rank = (2..64)
            .find(|&r| U256::from(Climb::to(r, d.min_join_fee).value) >= conversion.value)
            .unwrap();
        let games = Climb::to(climb_rank, d.min_join_fee).games;
        let wins = U256::from(top_market_rank - 1) + conversion.value.div_ceil(per_win);
        let epochs = match conversion.epochs {
            1 => "1 epoch".to_string(),
            n => format!("{n} epochs"),
        };
        let buy = if name == "majority" {
            format!("> {} tokens, at once", grouped(whole(bought)))
        } else {
            format!("{} tokens, at once", grouped(whole(bought)))
        };
        let row = format!(
            "| {name} | {votes} | {buy} | {} | {} | {} | one climb to rank {climb_rank} ({} games) \
             | {epochs}, {} | {wins} |",
            grouped(whole(conversion.minted)),
            grouped(conversion.value),
            tokens(fees),
            grouped(games),
            markdown_cell_days(conversion.vested_after),
        );
        assert!(DOC.contains(&row), "economics.md lacks the `{name}` row:\n{row}");
    }
}
