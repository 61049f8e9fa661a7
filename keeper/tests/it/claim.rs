//! Claims: the market's revert, decoded, says whether a lost claim is final.

use alloy::{primitives::U256, providers::Provider, signers::local::PrivateKeySigner};
use nsed_contracts::{
    deliberation_market::DeliberationMarket::{
        DeliberationMarketErrors, DeliberationMarketJobExpired,
    },
    i_deliberation_market::JobStatus,
};
use nsed_keeper::chain::{ClaimError, Market};

use crate::{Stack, row, step};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_lost_to_another_keeper_is_final_and_says_who_has_the_job() {
    let stack = Stack::start().await;
    let job_id = stack.request(&row(0), 3600).await;
    let rival = Market::new(stack.provider_for(&stack.rival_key), stack.market);
    let ours = Market::new(stack.provider_for(&stack.keeper_key), stack.market);
    step("the rival claims", rival.claim(job_id)).await.unwrap();
    let err = step("our claim", ours.claim(job_id)).await.unwrap_err();
    assert!(
        matches!(err, ClaimError::Taken { job_id: id, current: JobStatus::Claimed } if id == job_id),
        "{err}"
    );
    assert_eq!(stack.status(job_id).await, JobStatus::Claimed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_refused_for_another_reason_is_retryable_and_its_revert_is_decoded() {
    let stack = Stack::start().await;
    let job_id = stack.request(&row(1), 60).await;
    let increase =
        stack.deployer.raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (61u64,));
    step("evm_increaseTime", increase).await.unwrap();
    step("evm_mine", stack.deployer.raw_request::<_, serde_json::Value>("evm_mine".into(), ()))
        .await
        .unwrap();
    let ours = Market::new(stack.provider_for(&stack.keeper_key), stack.market);
    let Err(ClaimError::Tx(err)) = step("expired claim", ours.claim(job_id)).await else {
        panic!("an expired job is not taken, the claim fails")
    };
    assert!(
        matches!(
            err.decoded::<DeliberationMarketErrors>(),
            Some(DeliberationMarketErrors::DeliberationMarketJobExpired(
                DeliberationMarketJobExpired { jobId, .. }
            )) if jobId == job_id
        ),
        "{err}"
    );
    assert_eq!(err.revert().unwrap().name, "DeliberationMarketJobExpired");
    assert_eq!(stack.status(job_id).await, JobStatus::Requested);

    // Without KEEPER_ROLE the market's OpenZeppelin error is named too.
    let stranger = Market::new(stack.provider_for(&PrivateKeySigner::random()), stack.market);
    let fresh = stack.request(&row(2), 3600).await;
    let Err(ClaimError::Tx(err)) = step("unauthorized claim", stranger.claim(fresh)).await else {
        panic!("a stranger cannot claim")
    };
    // A random key has no ether: the node may refuse before the market is asked.
    if let Some(revert) = err.revert() {
        assert_eq!(revert.name, "AccessControlUnauthorizedAccount");
    }
    assert_eq!(stack.status(fresh).await, JobStatus::Requested);
    assert_eq!(stack.status(U256::from(999)).await, JobStatus::None);
}
