//! Claims: the market's revert, decoded, says whether a lost claim is final, held by another
//! keeper until its timeout, or worth retrying; a keeper takes over a job whose claim timed out.

use alloy::{primitives::U256, providers::Provider, signers::local::PrivateKeySigner};
use nsed_contracts::i_deliberation_market::{IDeliberationMarket, JobStatus};
use nsed_keeper::{
    chain::{ClaimError, Market},
    store::JobState,
};
use std::time::Duration;

use crate::{Stack, row, step};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_lost_to_another_keeper_says_who_holds_the_job_and_until_when() {
    let stack = Stack::start().await;
    let job_id = stack.request(&row(0), 3600).await;
    let rival = Market::new(stack.provider_for(&stack.rival_key), stack.market);
    let ours = Market::new(stack.provider_for(&stack.keeper_key), stack.market);
    let from = stack.record.start_block;
    step("the rival claims", rival.claim(job_id, from, 3)).await.unwrap();
    let claimed_at = stack.now().await;
    let timeout = step("claimTimeout", ours.claim_timeout()).await.unwrap();
    assert_eq!(timeout, u64::from(nsed_deploy::DEFAULT_CLAIM_TIMEOUT));
    let err = step("our claim", ours.claim(job_id, from, 3)).await.unwrap_err();
    assert!(
        matches!(err, ClaimError::Held { job_id: id, keeper, until }
            if id == job_id && keeper == stack.rival_key.address() && until == claimed_at + timeout),
        "{err}"
    );
    assert_eq!(stack.status(job_id).await, JobStatus::Claimed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_claim_is_re_claimed_with_its_seats_and_a_settled_or_refunded_job_is_final() {
    let stack = Stack::start().await;
    let job_id = stack.request(&row(0), 3600).await;
    let rival = Market::new(stack.provider_for(&stack.rival_key), stack.market);
    let ours = Market::new(stack.provider_for(&stack.keeper_key), stack.market);
    let from = stack.record.start_block;
    let (_, drawn) = step("the rival claims", rival.claim(job_id, from, 3)).await.unwrap();
    stack.advance(u64::from(nsed_deploy::DEFAULT_CLAIM_TIMEOUT) + 1).await;
    let (_, seats) = step("our re-claim", ours.claim(job_id, from, 3)).await.unwrap();
    assert_eq!(seats, drawn, "a re-claim keeps the seats drawn at the first claim");
    let job = step("job", ours.job(job_id)).await.unwrap();
    assert_eq!(job.keeper, stack.keeper_key.address());

    // Past the deadline the job can only be refunded; after that, no claim ever succeeds.
    let short = stack.request(&row(1), 60).await;
    stack.advance(61).await;
    let market = IDeliberationMarket::new(stack.market, &stack.requester);
    let refund = market.refund(short);
    step("refund", refund.send()).await.unwrap().get_receipt().await.unwrap();
    let err = step("claim of a refunded job", ours.claim(short, from, 3)).await.unwrap_err();
    assert!(
        matches!(err, ClaimError::Taken { job_id: id, current: JobStatus::Refunded } if id == short),
        "{err}"
    );
}

/// The keeper watches a job another keeper claimed and never finished, and takes it over once
/// that claim has timed out, with the seats drawn at the first claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keeper_takes_over_a_job_whose_keeper_stopped_once_its_claim_times_out() {
    let stack = Stack::start().await;
    let job_id = stack.request(&row(2), 3600).await;
    let rival = Market::new(stack.provider_for(&stack.rival_key), stack.market);
    let (_, drawn) =
        step("the rival claims", rival.claim(job_id, stack.record.start_block, 3)).await.unwrap();
    let (keeper, handle) = stack.keeper_with(Duration::from_secs(5), None);
    let store = nsed_keeper::store::Store::open(&stack.db.path().join("keeper.sqlite")).unwrap();
    // Seen and watched, not taken, while the rival's claim holds.
    step("the keeper sees the job", async {
        while store.job(job_id).unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(store.job(job_id).unwrap().unwrap().state, JobState::Requested);
    stack.advance(u64::from(nsed_deploy::DEFAULT_CLAIM_TIMEOUT) + 1).await;
    step("the keeper re-claims", async {
        loop {
            let row = store.job(job_id).unwrap().unwrap();
            if row.state == JobState::Claimed {
                break row;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let row = store.job(job_id).unwrap().unwrap();
    assert_eq!(row.seats, drawn);
    let market = Market::new(stack.provider_for(&stack.keeper_key), stack.market);
    assert_eq!(market.job(job_id).await.unwrap().keeper, stack.keeper_key.address());
    keeper.cancel();
    handle.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_job_is_final_and_other_refusals_are_retryable_with_their_revert_decoded() {
    let stack = Stack::start().await;
    let job_id = stack.request(&row(1), 60).await;
    let increase =
        stack.deployer.raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (61u64,));
    step("evm_increaseTime", increase).await.unwrap();
    step("evm_mine", stack.deployer.raw_request::<_, serde_json::Value>("evm_mine".into(), ()))
        .await
        .unwrap();
    let from = stack.record.start_block;
    let ours = Market::new(stack.provider_for(&stack.keeper_key), stack.market);
    let deadline = step("job", ours.job(job_id)).await.unwrap().deadline;
    let err = step("expired claim", ours.claim(job_id, from, 3)).await.unwrap_err();
    assert!(
        matches!(err, ClaimError::Expired { job_id: id, deadline: d } if id == job_id && d == deadline),
        "an expired job is not taken, and the keeper is told so: {err}"
    );
    assert_eq!(stack.status(job_id).await, JobStatus::Requested);

    // Without KEEPER_ROLE the market's OpenZeppelin error is named too.
    let stranger = Market::new(stack.provider_for(&PrivateKeySigner::random()), stack.market);
    let fresh = stack.request(&row(2), 3600).await;
    let Err(ClaimError::Tx(err)) = step("unauthorized claim", stranger.claim(fresh, from, 3)).await
    else {
        panic!("a stranger cannot claim")
    };
    // A random key has no ether: the node may refuse before the market is asked.
    if let Some(revert) = err.revert() {
        assert_eq!(revert.name, "AccessControlUnauthorizedAccount");
    }
    assert_eq!(stack.status(fresh).await, JobStatus::Requested);
    assert_eq!(stack.status(U256::from(999)).await, JobStatus::None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_with_too_few_eligible_agents_is_refused_before_anything_is_sent() {
    let stack = Stack::with_agents(2).await;
    let job_id = stack.request(&row(0), 3600).await;
    let ours = Market::new(stack.provider_for(&stack.keeper_key), stack.market);
    let nonce = stack.keeper_nonce().await;
    let err = step("claim", ours.claim(job_id, stack.record.start_block, 3)).await.unwrap_err();
    assert!(
        matches!(err, ClaimError::TooFewAgents { job_id: id, eligible, wanted: 3 }
            if id == job_id && eligible == U256::from(2)),
        "{err}"
    );
    assert_eq!(stack.keeper_nonce().await, nonce, "the refused claim was never sent");
    assert_eq!(stack.status(job_id).await, JobStatus::Requested);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_like_one_landed_before_is_checked_with_one_call_and_still_decodes_a_lost_race() {
    let stack = Stack::start().await;
    let (counted, counts) = stack.counted_keeper_provider();
    let ours = Market::new(counted, stack.market);
    let rival = Market::new(stack.provider_for(&stack.rival_key), stack.market);
    let from = stack.record.start_block;
    let sent = |method: &str| counts.snapshot().get(method).copied().unwrap_or(0);

    let first = stack.request(&row(0), 3600).await;
    step("our first claim", ours.claim(first, from, 3)).await.unwrap();
    assert_eq!((sent("eth_estimateGas"), sent("eth_call")), (1, 0), "the first is estimated");

    let second = stack.request(&row(1), 3600).await;
    step("our second claim", ours.claim(second, from, 3)).await.unwrap();
    assert_eq!(
        (sent("eth_estimateGas"), sent("eth_call")),
        (1, 1),
        "the second is checked with one call, with the gas the first used and a margin"
    );
    assert_eq!(stack.status(second).await, JobStatus::Claimed);

    let third = stack.request(&row(2), 3600).await;
    step("the rival claims", rival.claim(third, from, 3)).await.unwrap();
    let err = step("our late claim", ours.claim(third, from, 3)).await.unwrap_err();
    assert!(
        matches!(err, ClaimError::Held { job_id, keeper, .. }
            if job_id == third && keeper == stack.rival_key.address()),
        "the call's revert is decoded like the estimate's: {err}"
    );
    assert_eq!(sent("eth_sendRawTransaction"), 2, "the lost claim was never sent");
}
