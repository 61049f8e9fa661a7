//! The `Halting` library (through `HaltingHarness`) against the protocol crate's halting rule: the
//! same decision for random round facts and parameters, and the same round facts for the rounds
//! the protocol crate records.

use alloy::primitives::{Address, B256, I256, U256, keccak256};
use nsed_contracts::{
    halting_harness::{Halting, HaltingHarness},
    market::{halt_reason, halt_reason_code},
    testkit::TestChain,
};
use nsed_protocol::halting::{HaltReason, HaltingConfig, RoundFacts};
use proptest::prelude::*;

use crate::{
    fixtures::halting_harness,
    market_fixture::{CREDITS, deliberate, input_hash},
};

/// A deployed harness and an account to call it from.
struct Harness {
    chain: TestChain,
    from: Address,
    address: Address,
}

impl Harness {
    fn new() -> Self {
        let mut chain = TestChain::new();
        let address = halting_harness(&mut chain);
        let from = chain.account(0);
        Self { chain, from, address }
    }

    /// The library's decision, as the protocol crate's reason (`None`: go on).
    fn decide(&mut self, config: &HaltingConfig, facts: &RoundFacts) -> Option<HaltReason> {
        let call = HaltingHarness::decideCall {
            config: Halting::Config {
                minRounds: config.min_rounds,
                maxRounds: config.max_rounds,
                effortPermille: config.effort_permille,
            },
            facts: Halting::RoundFacts {
                round: facts.round,
                unanimous: facts.unanimous,
                hasWinner: facts.winner_score.is_some(),
                winnerSupport: I256::try_from(facts.winner_score.unwrap_or_default()).unwrap(),
                totalAbsScore: U256::from(facts.total_abs_score),
            },
        };
        let code = self.chain.call(self.from, self.address, &call).unwrap();
        let reason = halt_reason(code);
        assert!(code == 0 || reason.is_some(), "unknown reason code {code}");
        reason
    }
}

/// Scores and totals far below the protocol crate's `2^100` bound, with small values common so
/// that the threshold is hit exactly often.
fn facts_strategy() -> impl Strategy<Value = RoundFacts> {
    let small = (0u128..=1_000).prop_flat_map(|total| {
        let bound = i128::try_from(total).unwrap();
        (Just(total), prop::option::weighted(0.8, -bound..=bound))
    });
    let large = (0u128..(1 << 100), prop::option::weighted(0.8, -(1i128 << 100)..(1i128 << 100)));
    (1u32..=8, any::<bool>(), prop_oneof![3 => small, 1 => large]).prop_map(
        |(round, unanimous, (total_abs_score, winner_score))| RoundFacts {
            round,
            unanimous,
            winner_score,
            total_abs_score,
        },
    )
}

/// Valid and invalid parameters alike: the rule is a pure function of them.
fn config_strategy() -> impl Strategy<Value = HaltingConfig> {
    (0u32..=6, 0u32..=8, prop_oneof![0u16..=1_000, any::<u16>()]).prop_map(
        |(min_rounds, max_rounds, effort_permille)| HaltingConfig {
            min_rounds,
            max_rounds,
            effort_permille,
        },
    )
}

#[test]
fn the_library_decides_the_protocols_documented_cases() {
    let mut h = Harness::new();
    let config = HaltingConfig::default();
    let facts = |round, unanimous, winner_score, total_abs_score| RoundFacts {
        round,
        unanimous,
        winner_score,
        total_abs_score,
    };
    let cases = [
        (facts(1, false, Some(7), 10), Some(HaltReason::Conviction)),
        (facts(1, false, Some(6), 10), Some(HaltReason::Conviction)),
        (facts(1, false, Some(5), 10), None),
        (facts(1, true, Some(1), 10), Some(HaltReason::Unanimous)),
        (facts(1, true, None, 0), None),
        (facts(3, true, None, 0), Some(HaltReason::MaxRounds)),
        (facts(3, false, Some(1), 100), Some(HaltReason::MaxRounds)),
        (facts(2, false, Some(-1), 3), None),
        (facts(2, false, Some(0), 0), None),
    ];
    for (facts, expected) in cases {
        assert_eq!(config.decide(&facts), expected, "{facts:?}");
        assert_eq!(h.decide(&config, &facts), expected, "{facts:?}");
    }
    // Exact in 512 bits: products far beyond 2^256 compare correctly.
    let call = HaltingHarness::decideCall {
        config: Halting::Config { minRounds: 1, maxRounds: 3, effortPermille: 1_000 },
        facts: Halting::RoundFacts {
            round: 1,
            unanimous: false,
            hasWinner: true,
            winnerSupport: I256::MAX,
            totalAbsScore: U256::from_be_bytes(I256::MAX.to_be_bytes::<32>()),
        },
    };
    assert_eq!(h.chain.call(h.from, h.address, &call).unwrap(), 2);
}

#[test]
fn reason_codes_follow_the_solidity_enum() {
    assert_eq!(halt_reason_code(HaltReason::Unanimous), 1);
    assert_eq!(halt_reason_code(HaltReason::Conviction), 2);
    assert_eq!(halt_reason_code(HaltReason::MaxRounds), 3);
    assert_eq!(halt_reason_code(HaltReason::Deadline), 4);
}

/// The facts the protocol crate halts on for `record`: the winner's answer support is the summed
/// score of every seat proposing the winner's content.
fn protocol_facts(record: &nsed_protocol::deliberation::RoundRecord) -> RoundFacts {
    let content = |seat: usize| record.proposals[seat].as_ref().map(|p| p.content.clone());
    let winner_score = record.winner.map(|w| {
        let winning = content(w.seat);
        (0..record.scores.len()).filter(|&q| content(q) == winning).map(|q| record.scores[q]).sum()
    });
    RoundFacts {
        round: record.round,
        unanimous: record.unanimous,
        winner_score,
        total_abs_score: record.scores.iter().map(|s| s.unsigned_abs()).sum(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// For random round facts and parameters, `Halting.decide` equals
    /// `HaltingConfig::decide`: the same reason, or both going on.
    #[test]
    fn the_library_decides_exactly_like_the_protocol_crate(
        config in config_strategy(),
        facts in prop::collection::vec(facts_strategy(), 1..8),
    ) {
        let mut h = Harness::new();
        for facts in facts {
            prop_assert_eq!(h.decide(&config, &facts), config.decide(&facts), "{:?} {:?}", config, facts);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// For rounds the protocol crate actually records (random answers from a small alphabet,
    /// missing seats, abstentions), `Halting.roundFacts` over the round's scores and content
    /// hashes gives the facts the protocol crate halts on.
    #[test]
    fn the_library_reads_the_protocols_round_facts(
        (seats, plan) in (2usize..=6).prop_flat_map(|seats| {
            (Just(seats), prop::collection::vec(crate::market_properties::round_strategy(seats), 1..=3))
        }),
    ) {
        let mut h = Harness::new();
        let mut keys: Vec<_> = (0..seats)
            .map(|i| alloy::signers::local::PrivateKeySigner::from_bytes(&keccak256(format!("halting {i}"))).unwrap())
            .collect();
        keys.sort_by_key(alloy::signers::local::PrivateKeySigner::address);
        let domain = nsed_protocol::eip712::domain(h.chain.chain_id(), Address::repeat_byte(7));
        let d = deliberate(&keys, domain, U256::from(1), input_hash(), CREDITS, &plan);
        for record in d.rounds() {
            let hashes: Vec<B256> = record
                .proposals
                .iter()
                .map(|p| p.as_ref().map_or(B256::ZERO, |p| keccak256(&p.content)))
                .collect();
            let call = HaltingHarness::roundFactsCall {
                round: record.round,
                scores: record.scores.iter().map(|&s| I256::try_from(s).unwrap()).collect(),
                contentHashes: hashes,
                winnerSeat: U256::from(record.winner.map_or(0, |w| w.seat)),
                hasWinner: record.winner.is_some(),
            };
            let onchain = h.chain.call(h.from, h.address, &call).unwrap();
            let expected = protocol_facts(record);
            prop_assert_eq!(onchain.round, expected.round);
            prop_assert_eq!(onchain.unanimous, expected.unanimous);
            prop_assert_eq!(onchain.hasWinner, expected.winner_score.is_some());
            prop_assert_eq!(onchain.winnerSupport, I256::try_from(expected.winner_score.unwrap_or_default()).unwrap());
            prop_assert_eq!(onchain.totalAbsScore, U256::from(expected.total_abs_score));
        }
    }
}
