//! DeliberationMarket: merit at stake. A won job promotes its winner from rank `r` to `r + 1` only
//! while the winner's registry bond is at least `minBond · 2^r`; otherwise the win is paid (and
//! earns its access token) but not promoted.

use alloy::primitives::{B256, U256, keccak256};
use nsed_contracts::{
    agent_registry::AgentRegistry,
    deliberation_market::DeliberationMarket,
    i_deliberation_market::IDeliberationMarket::{self, ProposalClaim},
};

use crate::market_fixture::*;

/// Seats 0 and 1 answer "7", seat 2 "1"; everyone backs "7": seat 0 (agent 0) wins.
fn majority() -> RoundPlan {
    RoundPlan::full(&["7", "7", "1"], "7")
}

/// Settles a fresh one-round job won by agent 0; returns whether it was promoted.
fn win(f: &mut MarketFixture) -> bool {
    let job = f.claimed_job(3, 1, tokens(10));
    let t = f.transcript(job, 3, &[majority()]);
    let receipt = f.settle(job, &t).unwrap();
    let winner = f.agents[0].address();
    assert_eq!(receipt.event::<IDeliberationMarket::JobSettled>().winner, winner);
    // Paid either way: the winner's share is in the delivered payout.
    assert!(f.job_deal(job).recipients.contains(&winner));
    let promoted = receipt.events::<IDeliberationMarket::AgentPromoted>();
    assert!(promoted.iter().all(|p| p.agent == winner));
    !promoted.is_empty()
}

fn promotion_bond(f: &mut MarketFixture, rank: u64) -> U256 {
    f.chain
        .call(f.guild, f.market, &DeliberationMarket::promotionBondCall { rank: u(rank) })
        .unwrap()
}

#[test]
fn every_rank_needs_twice_the_bond_of_the_one_below() {
    let mut f = MarketFixture::new(0);
    for rank in 0..=10 {
        assert_eq!(promotion_bond(&mut f, rank), tokens(MIN_BOND) << rank as usize);
    }
    // Saturates instead of overflowing: such ranks can never be climbed.
    assert_eq!(promotion_bond(&mut f, 200), U256::MAX);
    assert_eq!(promotion_bond(&mut f, 256), U256::MAX);
    assert_eq!(promotion_bond(&mut f, u64::MAX), U256::MAX);
}

#[test]
fn a_win_promotes_only_while_the_bond_covers_the_next_rank() {
    let mut f = MarketFixture::new(3);
    let winner = f.agents[0].address();
    assert_eq!(f.registered(winner).bond, tokens(MIN_BOND));
    // Rank 0 → 1 needs minBond, which every eligible agent has.
    assert!(win(&mut f));
    assert_eq!(f.rank_of(winner), u(1));
    // Rank 1 → 2 needs 2 · minBond: the win is paid, the rank stays.
    assert!(!win(&mut f));
    assert_eq!(f.rank_of(winner), u(1));
    assert_eq!((f.rank_balance(winner, 1), f.rank_balance(winner, 2)), (u(1), U256::ZERO));
    // It still earns its access token, at the tier of its rank.
    assert_eq!(f.lat_balance(winner, 1), u(2));
    // One token short of the rung is still short.
    f.add_bond(winner, tokens(MIN_BOND) - u(1));
    assert!(!win(&mut f));
    f.add_bond(winner, u(1));
    assert!(win(&mut f));
    assert_eq!(f.rank_of(winner), u(2));
    assert!(!win(&mut f));
    f.add_bond(winner, tokens(2 * MIN_BOND));
    assert!(win(&mut f));
    assert_eq!(f.rank_of(winner), u(3));
    assert_eq!(f.rank_balance(winner, 3), u(1));
}

#[test]
fn the_rungs_follow_the_registrys_current_minimum_bond() {
    let mut f = MarketFixture::new(3);
    let winner = f.agents[0].address();
    f.add_bond(winner, tokens(MIN_BOND));
    let raise = AgentRegistry::setBondParametersCall {
        minBond_: tokens(4 * MIN_BOND),
        unbondDelay_: UNBOND_DELAY,
        reporterBps_: REPORTER_BPS,
    };
    f.chain.send(f.guild, f.registry, &raise).unwrap();
    assert_eq!(promotion_bond(&mut f, 0), tokens(4 * MIN_BOND));
    // Bonded 2 · (old minBond) < new minBond: still drawable until refreshed, but not promoted.
    assert!(!win(&mut f));
    assert_eq!(f.rank_of(winner), U256::ZERO);
}

#[test]
fn a_slashed_winner_is_paid_but_never_promoted() {
    let mut f = MarketFixture::new(3);
    let winner = f.agents[0].address();
    let job = f.claimed_job(3, 1, tokens(10));
    // The winner equivocates after the claim; its seat stays, its bond is gone.
    let ctx = context(u(99), 1, B256::ZERO);
    let claim = |content: &str| ProposalClaim {
        inputHash: ctx.input_hash,
        previousRoundDigest: ctx.previous_round_digest,
        contentHash: keccak256(content),
    };
    let report = IDeliberationMarket::reportEquivocatingProposalsCall {
        jobId: u(99),
        round: 1,
        agent: winner,
        a: claim("7"),
        signatureA: f.sign_proposal(0, &ctx, "7"),
        b: claim("8"),
        signatureB: f.sign_proposal(0, &ctx, "8"),
    };
    f.chain.send(f.requester, f.market, &report).unwrap();
    let t = f.transcript(job, 3, &[majority()]);
    let receipt = f.settle(job, &t).unwrap();
    assert!(receipt.events::<IDeliberationMarket::AgentPromoted>().is_empty());
    assert_eq!(f.rank_of(winner), U256::ZERO);
    assert!(f.job_deal(job).recipients.contains(&winner));
}

#[test]
fn an_unbonded_winner_is_not_promoted() {
    let mut f = MarketFixture::new(3);
    let winner = f.agents[0].address();
    let mut spec = f.spec(3, 1);
    spec.deadline += UNBOND_DELAY;
    let job = f.request(spec, tokens(10));
    f.claim(job);
    f.chain
        .send(f.owner, f.registry, &AgentRegistry::requestUnbondCall { agent_: winner })
        .unwrap();
    f.chain.advance_time(UNBOND_DELAY + 1);
    f.chain.send(f.owner, f.registry, &AgentRegistry::withdrawBondCall { agent_: winner }).unwrap();
    assert_eq!(f.registered(winner).bond, U256::ZERO);
    let t = f.transcript(job, 3, &[majority()]);
    let receipt = f.settle(job, &t).unwrap();
    assert!(receipt.events::<IDeliberationMarket::AgentPromoted>().is_empty());
}
