//! DeliberationMarket: the halting rule on chain. Transcripts built with the protocol crate must
//! stop exactly where `HaltingConfig::decide` (with the job's terms) stops, or earlier only inside
//! the job's deadline allowance; the terms are fixed at the request.

use alloy::primitives::B256;
use nsed_contracts::{
    deliberation_market::DeliberationMarket::{self, DeliberationMarketErrors},
    i_deliberation_market::IDeliberationMarket,
    market::{halt_reason, halt_reason_code, halting_config, job_halting_config},
    testkit::ExpectRevert,
    transcript::transcript_from_rounds,
};
use nsed_protocol::halting::{HaltReason, HaltingConfig};
use proptest::prelude::*;

use crate::market_fixture::*;

/// Seats 0 and 1 answer "7", seat 2 "1"; everyone backs "7": "7" holds 28 of 40 (700‰).
fn majority() -> RoundPlan {
    RoundPlan::full(&["7", "7", "1"], "7")
}

/// Three answers, each backed equally by the other two seats: no answer holds more than a third.
fn split() -> RoundPlan {
    RoundPlan {
        answers: ["7", "1", "4"].iter().map(|a| Some(a.to_string())).collect(),
        weights: vec![Some(vec![0, 50, 50]), Some(vec![50, 0, 50]), Some(vec![50, 50, 0])],
    }
}

/// Everyone answers "7".
fn unanimous() -> RoundPlan {
    RoundPlan::full(&["7", "7", "7"], "7")
}

/// The market's default halting terms (`HaltingConfig::default`'s `minRounds` and effort).
fn default_terms(f: &mut MarketFixture) {
    f.set_halting(1, EFFORT_PERMILLE, ROUND_ALLOWANCE);
}

fn halted(
    receipt: &nsed_contracts::testkit::Receipt<IDeliberationMarket::settleJobReturn>,
) -> (u32, Option<HaltReason>) {
    let event = receipt.event::<IDeliberationMarket::JobHalted>();
    (event.rounds, halt_reason(event.reason))
}

#[test]
fn a_transcript_stopped_where_the_protocol_halts_settles_with_its_reason() {
    let mut f = MarketFixture::new(3);
    default_terms(&mut f);
    for (plan, rounds, reason) in [
        (vec![majority()], 1, HaltReason::Conviction),
        (vec![unanimous()], 1, HaltReason::Unanimous),
        (vec![split(), majority()], 2, HaltReason::Conviction),
        (vec![split(), split(), split()], 3, HaltReason::MaxRounds),
    ] {
        let job = f.claimed_job(3, 3, tokens(1));
        let config = job_halting_config(&f.job(job));
        assert_eq!(config, HaltingConfig::default());
        let d = f.deliberate_under(job, 3, config, &plan);
        let outcome = d.outcome().expect("the protocol halts within the plan");
        assert_eq!((outcome.rounds, outcome.halt), (rounds, reason));
        let receipt = f.settle(job, &transcript_from_rounds(d.seats(), d.rounds())).unwrap();
        assert_eq!(halted(&receipt), (rounds, Some(reason)));
        let stored = f.job(job);
        assert_eq!(stored.halt, halt_reason_code(reason));
        assert_eq!(stored.rounds, rounds);
    }
}

#[test]
fn a_transcript_that_goes_on_after_a_halting_round_is_rejected() {
    let mut f = MarketFixture::new(3);
    default_terms(&mut f);
    let job = f.claimed_job(3, 3, tokens(1));
    // Round 1 convinces (700‰ >= 600‰): the protocol stops there; the keeper went on.
    let config = job_halting_config(&f.job(job));
    let d = f.deliberate_under(job, 3, config, &[majority(), split()]);
    assert_eq!(d.rounds().len(), 1);
    let t = f.transcript(job, 3, &[majority(), split()]);
    f.settle(job, &t)
        .expect_revert(DeliberationMarket::DeliberationMarketContinuedAfterHalt { round: 1 });
    // Unanimity halts too, even in a later round.
    let t = f.transcript(job, 3, &[split(), unanimous(), majority()]);
    f.settle(job, &t)
        .expect_revert(DeliberationMarket::DeliberationMarketContinuedAfterHalt { round: 2 });
    assert_eq!(f.status(job), status::CLAIMED);
    let receipt = f.settle(job, &transcript_from_rounds(d.seats(), d.rounds())).unwrap();
    assert_eq!(halted(&receipt), (1, Some(HaltReason::Conviction)));
}

#[test]
fn a_transcript_stopped_before_the_rule_halts_is_rejected_far_from_the_deadline() {
    let mut f = MarketFixture::new(3);
    default_terms(&mut f);
    let job = f.claimed_job(3, 3, tokens(1));
    // Round 1 is split: no answer above a third, so the protocol goes on.
    let config = job_halting_config(&f.job(job));
    let d = f.deliberate_under(job, 3, config, &[split()]);
    assert!(d.outcome().is_none());
    let t = f.transcript(job, 3, &[split()]);
    f.settle(job, &t)
        .expect_revert(DeliberationMarket::DeliberationMarketStoppedEarly { round: 1 });
    let t = f.transcript(job, 3, &[split(), split()]);
    f.settle(job, &t)
        .expect_revert(DeliberationMarket::DeliberationMarketStoppedEarly { round: 2 });
}

#[test]
fn min_rounds_always_run() {
    let mut f = MarketFixture::new(3);
    f.set_halting(2, EFFORT_PERMILLE, ROUND_ALLOWANCE);
    let job = f.claimed_job(3, 3, tokens(1));
    assert_eq!(job_halting_config(&f.job(job)), halting_config(2, 3, 600));
    let t = f.transcript(job, 3, &[unanimous()]);
    f.settle(job, &t)
        .expect_revert(DeliberationMarket::DeliberationMarketStoppedEarly { round: 1 });
    let t = f.transcript(job, 3, &[unanimous(), unanimous()]);
    let receipt = f.settle(job, &t).unwrap();
    assert_eq!(halted(&receipt), (2, Some(HaltReason::Unanimous)));
}

#[test]
fn an_early_stop_settles_only_inside_the_deadline_allowance() {
    let mut f = MarketFixture::new(3);
    default_terms(&mut f);
    let spec = f.spec(3, 3);
    let deadline = spec.deadline;
    let job = f.request(spec, tokens(1));
    f.claim(job);
    assert_eq!(f.job(job).roundAllowance, ROUND_ALLOWANCE);
    let t = f.transcript(job, 3, &[split()]);
    // One second before the allowance starts, the keeper may not stop for the deadline yet.
    f.chain.warp(deadline - u64::from(ROUND_ALLOWANCE) - 1);
    f.settle(job, &t)
        .expect_revert(DeliberationMarket::DeliberationMarketStoppedEarly { round: 1 });
    assert!(!nsed_contracts::market::may_stop_for_deadline(
        f.chain.timestamp(),
        deadline,
        ROUND_ALLOWANCE
    ));
    f.chain.warp(deadline - u64::from(ROUND_ALLOWANCE));
    assert!(nsed_contracts::market::may_stop_for_deadline(
        f.chain.timestamp(),
        deadline,
        ROUND_ALLOWANCE
    ));
    let receipt = f.settle(job, &t).unwrap();
    assert_eq!(halted(&receipt), (1, Some(HaltReason::Deadline)));
    assert_eq!(f.job(job).halt, halt_reason_code(HaltReason::Deadline));
}

#[test]
fn the_deadline_allowance_never_excuses_going_on_after_a_halt_or_a_round_without_a_winner() {
    let mut f = MarketFixture::new(3);
    default_terms(&mut f);
    let spec = f.spec(3, 3);
    let deadline = spec.deadline;
    let job = f.request(spec, tokens(1));
    f.claim(job);
    f.chain.warp(deadline);
    let t = f.transcript(job, 3, &[majority(), split()]);
    f.settle(job, &t)
        .expect_revert(DeliberationMarket::DeliberationMarketContinuedAfterHalt { round: 1 });
    let silent = RoundPlan {
        answers: vec![Some("7".into()), Some("1".into()), Some("1".into())],
        weights: vec![Some(vec![0; 3]), Some(vec![0; 3]), Some(vec![0; 3])],
    };
    let t = f.transcript(job, 3, &[silent]);
    f.settle(job, &t)
        .expect_revert(DeliberationMarket::DeliberationMarketNoSupportedWinner { round: 1 });
}

#[test]
fn halting_terms_are_fixed_at_the_request() {
    let mut f = MarketFixture::new(3);
    default_terms(&mut f);
    let requested = f.try_request_from(f.requester, f.spec(3, 2), tokens(1)).unwrap();
    let job = requested.ret;
    let terms = requested.event::<IDeliberationMarket::JobTermsFixed>();
    assert_eq!(
        (terms.jobId, terms.minRounds, terms.effortPermille, terms.roundAllowance),
        (job, 1, EFFORT_PERMILLE, ROUND_ALLOWANCE)
    );
    // The guild demands two rounds, unanimity and no allowance for jobs requested from now on.
    f.set_halting(2, 1_000, 0);
    f.claim(job);
    let stored = f.job(job);
    assert_eq!(
        (stored.minRounds, stored.effortPermille, stored.roundAllowance),
        (1, EFFORT_PERMILLE, ROUND_ALLOWANCE)
    );
    let t = f.transcript(job, 3, &[majority()]);
    let receipt = f.settle(job, &t).unwrap();
    assert_eq!(halted(&receipt), (1, Some(HaltReason::Conviction)));

    let later = f.claimed_job(3, 2, tokens(1));
    assert_eq!(job_halting_config(&f.job(later)), halting_config(2, 2, 1_000));
    let t = f.transcript(later, 3, &[majority()]);
    f.settle(later, &t)
        .expect_revert(DeliberationMarket::DeliberationMarketStoppedEarly { round: 1 });
}

#[test]
fn a_jobs_min_rounds_is_capped_at_its_max_rounds() {
    let mut f = MarketFixture::new(3);
    f.set_halting(4, EFFORT_PERMILLE, ROUND_ALLOWANCE);
    let requested = f.try_request_from(f.requester, f.spec(3, 2), tokens(1)).unwrap();
    assert_eq!(requested.event::<IDeliberationMarket::JobTermsFixed>().minRounds, 2);
    assert_eq!(f.job(requested.ret).minRounds, 2);
    assert!(job_halting_config(&f.job(requested.ret)).validate().is_ok());
}

#[test]
fn only_the_guild_sets_halting_terms_within_range() {
    let mut f = MarketFixture::new(0);
    let stranger = f.chain.account(7);
    let set = |min: u8, effort: u16| DeliberationMarket::setHaltingTermsCall {
        minRounds: min,
        effortPermille: effort,
        roundAllowance: 60,
    };
    f.chain.send(stranger, f.market, &set(1, 600)).expect_revert(
        DeliberationMarket::AccessControlUnauthorizedAccount {
            account: stranger,
            neededRole: B256::ZERO,
        },
    );
    for (min, effort) in [(0, 600), (6, 600), (1, 1_001)] {
        f.chain.send(f.guild, f.market, &set(min, effort)).expect_revert(
            DeliberationMarket::DeliberationMarketInvalidHaltingTerms {
                minRounds: min,
                effortPermille: effort,
            },
        );
    }
    let receipt = f.chain.send(f.guild, f.market, &set(5, 1_000)).unwrap();
    let changed = receipt.event::<DeliberationMarket::HaltingTermsChanged>();
    assert_eq!((changed.minRounds, changed.effortPermille, changed.roundAllowance), (5, 1_000, 60));
    let terms = f.chain.call(f.guild, f.market, &DeliberationMarket::haltingTermsCall {}).unwrap();
    assert_eq!((terms.minRounds, terms.effortPermille, terms.roundAllowance), (5, 1_000, 60));
}

/// A random round over three seats: answers from a small alphabet, every seat proposing, and
/// random weights (abstentions and missing ballots included).
fn round_strategy() -> impl Strategy<Value = RoundPlan> {
    crate::market_properties::round_strategy(3)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// For random halting terms and random rounds, the market accepts a transcript exactly when
    /// the protocol crate, run with the job's terms over the same rounds, halts at its last round
    /// (with the same reason), and otherwise names the round where the two part: the first
    /// halting round when the transcript goes on, its last round when it stops early.
    #[test]
    fn the_market_halts_exactly_where_the_protocol_crate_does(
        min_rounds in 1u8..=3,
        effort in prop_oneof![0u16..=1_000, Just(500), Just(600), Just(1_000)],
        max_rounds in 1u8..=4,
        plan in prop::collection::vec(round_strategy(), 1..=4),
    ) {
        let plan = &plan[..plan.len().min(usize::from(max_rounds))];
        let mut f = MarketFixture::new(3);
        f.set_halting(min_rounds, effort, ROUND_ALLOWANCE);
        let job = f.claimed_job(3, max_rounds, tokens(1));
        let config = job_halting_config(&f.job(job));
        prop_assert_eq!(config, halting_config(min_rounds.min(max_rounds), max_rounds, effort));
        let protocol = f.deliberate_under(job, 3, config, plan);
        let t = f.transcript(job, 3, plan);
        let last = plan.len() as u32;
        let result = f.settle(job, &t);
        match protocol.outcome() {
            Some(outcome) if outcome.rounds == last => match (outcome.answer, result) {
                (Some(answer), Ok(receipt)) => {
                    prop_assert_eq!(halted(&receipt), (last, Some(outcome.halt)));
                    prop_assert_eq!(receipt.event::<IDeliberationMarket::JobSettled>().winner, answer.agent);
                }
                (None, Err(failure)) => prop_assert!(
                    failure.is_error(&DeliberationMarket::DeliberationMarketNoSupportedWinner { round: last }),
                    "{:?}", failure.decode::<DeliberationMarketErrors>()
                ),
                (answer, result) => prop_assert!(false, "protocol {answer:?}, market {result:?}"),
            },
            Some(outcome) => {
                let failure = result.unwrap_err();
                prop_assert!(
                    failure.is_error(&DeliberationMarket::DeliberationMarketContinuedAfterHalt { round: outcome.rounds }),
                    "{:?}", failure.decode::<DeliberationMarketErrors>()
                );
            }
            None => {
                let failure = result.unwrap_err();
                prop_assert!(
                    failure.is_error(&DeliberationMarket::DeliberationMarketStoppedEarly { round: last }),
                    "{:?}", failure.decode::<DeliberationMarketErrors>()
                );
            }
        }
    }
}
