//! A dispute the guild does not rule on in time refunds the requester, bond included, and the
//! escrow deal says so, as the escrow does.

use alloy::primitives::U256;
use nsed_contracts::{
    deliberation_market::DeliberationMarket, tripartite_escrow::TripartiteEscrow,
};
use nsed_indexer::{
    confirm,
    test_utils::{Chain, StoreKind},
};
use serde_json::json;

use crate::{cast_call, catch_up, data, warp};

const DEAL_STATE: [&str; 7] =
    ["None", "Funded", "Delivered", "Disputed", "Released", "Ruled", "Refunded"];

on_both_stores!(an_expired_dispute_is_indexed_as_a_refund);

async fn an_expired_dispute_is_indexed_as_a_refund(store: StoreKind) {
    let chain = Chain::start_on(store).await;
    let job = chain.request_job(1000).await;
    chain.claim_job(job).await;
    chain.settle_job(job, ["7", "3", "7"]).await;
    let escrow = chain.record.address(nsed_deploy::ESCROW).unwrap();
    let deal = DeliberationMarket::new(chain.market(), &chain.deployer)
        .job(job)
        .call()
        .await
        .unwrap()
        .escrowId;
    // The requester disputes the delivery; the guild lets the ruling deadline pass.
    confirm!("dispute", TripartiteEscrow::new(escrow, &chain.requester).dispute(deal));
    let disputed = chain.head().await;
    let timeout =
        TripartiteEscrow::new(escrow, &chain.deployer).disputeTimeout().call().await.unwrap();
    warp(&chain, timeout + 1).await;
    // Anyone refunds the requester then.
    let (_, anyone) = &chain.players[1];
    confirm!(
        "resolveExpiredDispute",
        TripartiteEscrow::new(escrow, anyone).resolveExpiredDispute(deal)
    );

    let indexer = chain.indexer("escrow.sqlite").await;
    catch_up(&chain, &indexer).await;
    let query = |block: Option<u64>| {
        let at = block.map(|b| format!(", block: {{ number: {b} }}")).unwrap_or_default();
        format!(
            "{{ escrowDeal(id: \"{deal}\"{at}) {{ state disputeExpired rulingDeadline amount
                 buyerAmount disputeBond disputeBondOutcome deferred }} }}"
        )
    };
    let d = data(&indexer, &query(None)).await;
    let indexed = &d["escrowDeal"];
    let state: usize = cast_call(&chain, escrow, "dealState(uint256)(uint8)", &[&deal.to_string()])
        .parse()
        .unwrap();
    assert_eq!(indexed["state"], DEAL_STATE[state]);
    assert_eq!(indexed["state"], "Refunded");
    assert_eq!(indexed["disputeExpired"], true);
    let on_chain = TripartiteEscrow::new(escrow, &chain.deployer).deal(deal).call().await.unwrap();
    assert_eq!(indexed["rulingDeadline"], on_chain.rulingDeadline.to_string().as_str());
    assert_eq!(indexed["buyerAmount"], indexed["amount"], "the requester got everything back");
    // The requester paid the dispute bond and, the guild having failed to rule, got it back.
    assert_ne!(on_chain.disputeBond, U256::ZERO);
    assert_eq!(indexed["disputeBond"], on_chain.disputeBond.to_string().as_str());
    assert_eq!(indexed["disputeBondOutcome"], "Refunded");
    assert_eq!(indexed["deferred"], serde_json::Value::Null, "every payout went through");
    // While disputed: no expiry yet.
    let d = data(&indexer, &query(Some(disputed))).await;
    assert_eq!(
        d["escrowDeal"],
        json!({
            "state": "Disputed",
            "disputeExpired": false,
            "rulingDeadline": null,
            "amount": indexed["amount"],
            "buyerAmount": null,
            "disputeBond": indexed["disputeBond"],
            "disputeBondOutcome": null,
            "deferred": null,
        })
    );
    indexer.shutdown().await.unwrap();
}
