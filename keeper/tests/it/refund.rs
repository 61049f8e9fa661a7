//! A job nobody settles is refunded after its deadline, and only then and once.

use alloy::{primitives::U256, providers::Provider};
use nsed_contracts::{
    bounty_token::BountyToken,
    i_deliberation_market::{IDeliberationMarket, JobStatus},
};

use crate::{Stack, row, step};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_nobody_settles_is_refunded_after_its_deadline() {
    let stack = Stack::start().await;
    let token = BountyToken::new(stack.token, &stack.deployer);
    let before =
        step("balance before", token.balanceOf(stack.requester_address).call()).await.unwrap();
    let job_id = step("request", stack.request(&row(4), 120)).await;
    let market = IDeliberationMarket::new(stack.market, &stack.requester);
    // Too early: the market refuses (gas estimation already reverts, nothing is sent).
    assert!(step("early refund", market.refund(job_id).send()).await.is_err());
    let increase =
        stack.deployer.raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (121u64,));
    step("evm_increaseTime", increase).await.unwrap();
    let mine = stack.deployer.raw_request::<_, serde_json::Value>("evm_mine".into(), ());
    step("evm_mine", mine).await.unwrap();
    let pending = step("refund", market.refund(job_id).send()).await.unwrap();
    step("refund receipt", pending.get_receipt()).await.unwrap();
    assert_eq!(stack.status(job_id).await, JobStatus::Refunded);
    let after =
        step("balance after", token.balanceOf(stack.requester_address).call()).await.unwrap();
    // The test minted exactly the bounty before requesting, so the refund restores it.
    assert_eq!(after, before + U256::from(10u64).pow(U256::from(18)));
    // A refunded job cannot be refunded again.
    assert!(step("second refund", market.refund(job_id).send()).await.is_err());
}
