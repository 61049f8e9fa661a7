//! Settlements: the first of its shape is checked by the node's gas estimate; later ones of that
//! shape by reading the job's state, and a job re-claimed or expired meanwhile is refused before
//! anything is sent.

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use nsed_contracts::{
    i_deliberation_market::{IDeliberationMarket::Transcript, JobStatus},
    market::job_halting_config,
    testkit::{RoundPlan, deliberate_with},
    transcript::transcript_from_rounds,
    tx::TxError,
};
use nsed_keeper::chain::Market;
use nsed_protocol::eip712;
use std::time::Duration;

use crate::{Stack, row, step};

/// A one-round transcript for `job_id`, claimed with `seats`, that the market accepts: every seat
/// answers "7" and backs the others.
async fn unanimous<P: Provider + Clone>(
    stack: &Stack,
    market: &Market<P>,
    job_id: U256,
    seats: &[Address],
) -> Transcript {
    let job = step("job", market.job(job_id)).await.unwrap();
    let keys: Vec<PrivateKeySigner> = seats
        .iter()
        .map(|seat| stack.agents.iter().find(|key| key.address() == *seat).unwrap().clone())
        .collect();
    let chain_id = step("chain id", stack.deployer.get_chain_id()).await.unwrap();
    let plan = RoundPlan::full(&vec!["7"; seats.len()], "7");
    let d = deliberate_with(
        &keys,
        eip712::domain(chain_id, stack.market),
        job_id,
        job.inputHash,
        job.credits,
        job_halting_config(&job),
        &[plan],
    );
    assert!(d.outcome().is_some(), "a unanimous round halts");
    transcript_from_rounds(d.seats(), d.rounds())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settlement_like_one_landed_before_reads_the_job_and_is_refused_once_re_claimed_or_expired()
 {
    let stack = Stack::start().await;
    let (counted, counts) = stack.counted_keeper_provider();
    // The chain's time read afresh for every check: the test moves it.
    let ours = Market::new(counted, stack.market)
        .with_sender(stack.keeper_key.address())
        .with_fresh_for(Duration::ZERO);
    let rival = Market::new(stack.provider_for(&stack.rival_key), stack.market);
    let from = stack.record.start_block;
    let sent = |method: &str| counts.snapshot().get(method).copied().unwrap_or(0);

    let first = stack.request(&row(0), 3600).await;
    let (_, seats) = step("claim the first", ours.claim(first, from, 3)).await.unwrap();
    let transcript = unanimous(&stack, &ours, first, &seats).await;
    let estimates = sent("eth_estimateGas");
    step("settle the first", ours.settle(first, transcript)).await.unwrap();
    assert_eq!(sent("eth_estimateGas"), estimates + 1, "the first of its shape is estimated");
    assert_eq!(stack.status(first).await, JobStatus::Settled);

    let second = stack.request(&row(1), 3600).await;
    let (_, seats) = step("claim the second", ours.claim(second, from, 3)).await.unwrap();
    let transcript = unanimous(&stack, &ours, second, &seats).await;
    let (estimates, calls) = (sent("eth_estimateGas"), sent("eth_call"));
    step("settle the second", ours.settle(second, transcript)).await.unwrap();
    assert_eq!(
        (sent("eth_estimateGas"), sent("eth_call")),
        (estimates, calls + 1),
        "a shape seen before reads the job, with one call"
    );
    assert_eq!(stack.status(second).await, JobStatus::Settled);

    // Re-claimed by the rival once our claim timed out: refused, nothing sent.
    let third = stack.request(&row(2), 3600).await;
    let (_, seats) = step("claim the third", ours.claim(third, from, 3)).await.unwrap();
    let transcript = unanimous(&stack, &ours, third, &seats).await;
    stack.advance(u64::from(nsed_deploy::DEFAULT_CLAIM_TIMEOUT) + 1).await;
    step("the rival re-claims", rival.claim(third, from, 3)).await.unwrap();
    let nonce = stack.keeper_nonce().await;
    let err = step("settle the re-claimed", ours.settle(third, transcript)).await.unwrap_err();
    assert!(matches!(err, TxError::Refused { .. }), "{err}");
    assert!(err.to_string().contains(&stack.rival_key.address().to_string()), "{err}");
    assert_eq!(stack.keeper_nonce().await, nonce, "the refused settlement was never sent");
    assert_eq!(stack.status(third).await, JobStatus::Claimed);

    // Still ours, but past its deadline: refused, nothing sent.
    let fourth = stack.request(&row(3), 120).await;
    let (_, seats) = step("claim the fourth", ours.claim(fourth, from, 3)).await.unwrap();
    let transcript = unanimous(&stack, &ours, fourth, &seats).await;
    stack.advance(121).await;
    let nonce = stack.keeper_nonce().await;
    let err = step("settle the expired", ours.settle(fourth, transcript)).await.unwrap_err();
    assert!(matches!(err, TxError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("deadline"), "{err}");
    assert_eq!(stack.keeper_nonce().await, nonce, "the refused settlement was never sent");
    assert_eq!(stack.status(fourth).await, JobStatus::Claimed);
}
