//! DeliberationMarket: a claim belongs to its keeper until the guild's claim timeout; after it,
//! another keeper may re-claim the job (same seats) and settle it, and the first keeper no
//! longer can.

use alloy::primitives::{Address, U256, keccak256};
use nsed_contracts::{
    deliberation_market::DeliberationMarket,
    i_deliberation_market::IDeliberationMarket,
    testkit::{ExpectRevert, Receipt, TxFailure},
};

use crate::market_fixture::*;

/// The majority plan of three seats: everyone backs "7".
fn majority() -> RoundPlan {
    RoundPlan::full(&["7", "7", "1"], "7")
}

/// A second account with the keeper role.
fn second_keeper(f: &mut MarketFixture) -> Address {
    let other = f.chain.account(7);
    let role = keccak256("KEEPER_ROLE");
    f.chain
        .send(f.guild, f.market, &DeliberationMarket::grantRoleCall { role, account: other })
        .unwrap();
    other
}

fn claim_from(
    f: &mut MarketFixture,
    keeper: Address,
    job: U256,
) -> Result<Receipt<IDeliberationMarket::claimJobReturn>, TxFailure> {
    f.chain.send(keeper, f.market, &IDeliberationMarket::claimJobCall { jobId: job })
}

#[test]
fn a_claim_is_held_until_its_timeout_then_another_keeper_takes_it_with_the_same_seats() {
    let mut f = MarketFixture::new(3);
    let other = second_keeper(&mut f);
    let job = f.claimed_job(3, 1, tokens(10));
    let first = f.job(job);
    let until = first.claimedAt + u64::from(DEFAULT_CLAIM_TIMEOUT);
    assert_eq!(first.claimedAt, f.chain.timestamp());
    let held =
        DeliberationMarket::DeliberationMarketClaimHeld { jobId: job, keeper: f.keeper, until };
    claim_from(&mut f, other, job).expect_revert(held.clone());
    f.chain.warp(until);
    claim_from(&mut f, other, job).expect_revert(held);

    f.chain.warp(until + 1);
    let receipt = claim_from(&mut f, other, job).unwrap();
    let claimed = receipt.event::<IDeliberationMarket::JobClaimed>();
    assert_eq!((claimed.jobId, claimed.keeper), (job, other));
    assert!(receipt.events::<IDeliberationMarket::SeatsDrawn>().is_empty(), "no new draw");
    let now = f.job(job);
    assert_eq!((now.keeper, now.claimedAt), (other, until + 1));
    assert_eq!(now.seatsHash, first.seatsHash, "the seats of the first claim stay");
    assert_eq!(f.status(job), status::CLAIMED);

    // The first keeper lost the job; the second settles it with the seats drawn at the claim.
    let t = f.transcript(job, 3, &[majority()]);
    f.settle(job, &t).expect_revert(DeliberationMarket::DeliberationMarketNotClaimingKeeper {
        jobId: job,
        caller: f.keeper,
    });
    f.settle_from(other, job, &t).unwrap();
    assert_eq!(f.status(job), status::SETTLED);
}

#[test]
fn a_keeper_renews_its_own_claim_by_claiming_again_after_the_timeout() {
    let mut f = MarketFixture::new(3);
    let other = second_keeper(&mut f);
    let job = f.claimed_job(3, 1, tokens(10));
    let renewed = f.job(job).claimedAt + u64::from(DEFAULT_CLAIM_TIMEOUT) + 1;
    f.chain.warp(renewed);
    let keeper = f.keeper;
    claim_from(&mut f, keeper, job).unwrap();
    assert_eq!((f.job(job).keeper, f.job(job).claimedAt), (f.keeper, renewed));
    claim_from(&mut f, other, job).expect_revert(DeliberationMarket::DeliberationMarketClaimHeld {
        jobId: job,
        keeper: f.keeper,
        until: renewed + u64::from(DEFAULT_CLAIM_TIMEOUT),
    });
}

#[test]
fn a_reclaim_needs_the_keeper_role_and_an_open_deadline() {
    let mut f = MarketFixture::new(3);
    let other = second_keeper(&mut f);
    let job = f.claimed_job(3, 1, tokens(10));
    let deadline = f.job(job).deadline;
    let after = f.job(job).claimedAt + u64::from(DEFAULT_CLAIM_TIMEOUT) + 1;
    f.chain.warp(after);
    let stranger = f.chain.account(8);
    claim_from(&mut f, stranger, job).expect_revert(
        DeliberationMarket::AccessControlUnauthorizedAccount {
            account: stranger,
            neededRole: keccak256("KEEPER_ROLE"),
        },
    );
    f.chain.warp(deadline + 1);
    claim_from(&mut f, other, job)
        .expect_revert(DeliberationMarket::DeliberationMarketJobExpired { jobId: job, deadline });
    // An expired claimed job refunds as before.
    f.refund_from(f.requester, job).unwrap();
    assert_eq!(f.status(job), status::REFUNDED);
}

#[test]
fn settled_and_refunded_jobs_cannot_be_reclaimed() {
    let mut f = MarketFixture::new(3);
    let other = second_keeper(&mut f);
    let job = f.claimed_job(3, 1, tokens(10));
    let t = f.transcript(job, 3, &[majority()]);
    f.settle(job, &t).unwrap();
    let after = f.job(job).claimedAt + u64::from(DEFAULT_CLAIM_TIMEOUT) + 1;
    f.chain.warp(after);
    claim_from(&mut f, other, job).expect_revert(
        DeliberationMarket::DeliberationMarketUnexpectedJobStatus {
            jobId: job,
            current: status::SETTLED,
        },
    );
}

#[test]
fn the_guild_sets_the_claim_timeout_for_open_claims_too() {
    let mut f = MarketFixture::new(3);
    let (m, g) = (f.market, f.guild);
    let other = second_keeper(&mut f);
    assert_eq!(f.chain.call(g, m, &DeliberationMarket::claimTimeoutCall {}).unwrap(), 1800);
    assert_eq!(
        f.chain.call(g, m, &DeliberationMarket::DEFAULT_CLAIM_TIMEOUTCall {}).unwrap(),
        DEFAULT_CLAIM_TIMEOUT
    );
    let job = f.claimed_job(3, 1, tokens(10));
    let claimed_at = f.job(job).claimedAt;

    let set = DeliberationMarket::setClaimTimeoutCall { claimTimeout_: 60 };
    f.chain.send(other, m, &set).expect_revert(
        DeliberationMarket::AccessControlUnauthorizedAccount {
            account: other,
            neededRole: alloy::primitives::B256::ZERO,
        },
    );
    let zero = DeliberationMarket::setClaimTimeoutCall { claimTimeout_: 0 };
    f.chain
        .send(g, m, &zero)
        .expect_revert(DeliberationMarket::DeliberationMarketInvalidClaimTimeout {});
    let receipt = f.chain.send(g, m, &set).unwrap();
    assert_eq!(receipt.event::<DeliberationMarket::ClaimTimeoutChanged>().claimTimeout, 60);
    assert_eq!(f.chain.call(g, m, &DeliberationMarket::claimTimeoutCall {}).unwrap(), 60);

    f.chain.warp(claimed_at + 61);
    claim_from(&mut f, other, job).unwrap();
    assert_eq!(f.job(job).keeper, other);
}
