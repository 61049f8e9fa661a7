//! Jobs carry the market's terms (fees and halting terms fixed at the request), the seats drawn
//! at the claim and why their transcript halted, as the market stores them.

use alloy::primitives::{Address, U256};
use nsed_contracts::{
    deliberation_market::DeliberationMarket, halting::Reason, market::seats_hash,
};
use nsed_indexer::{
    entity::enc_bytes,
    test_utils::{Chain, MAX_ROUNDS, StoreKind},
};
use serde_json::json;

use crate::{catch_up, data, ids};

on_both_stores!(job_terms_seats_and_halts_equal_the_market);

async fn job_terms_seats_and_halts_equal_the_market(store: StoreKind) {
    let chain = Chain::start_on(store).await;
    // Everyone gives the same answer; the same-answer seats back the favourite well past the
    // conviction threshold; three answers split the score too evenly to convince anyone.
    let plans = [["5", "5", "5"], ["7", "3", "7"], ["1", "2", "3"]];
    let mut drawn = Vec::new();
    for answers in plans {
        let job = chain.request_job(1000).await;
        drawn.push(chain.claim_job(job).await);
        chain.settle_job(job, answers).await;
    }
    let open = chain.request_job(10).await;
    let indexer = chain.indexer("market.sqlite").await;
    catch_up(&chain, &indexer).await;

    let d = data(
        &indexer,
        "{ jobs(orderBy: id) { id status seats haltReason haltedAfter keeperFeeBps guildFeeBps
             minRounds effortPermille roundAllowance maxRounds
             rounds(orderBy: round) { round } settlement { rounds } } }",
    )
    .await;
    let jobs = d["jobs"].as_array().unwrap();
    assert_eq!(ids(&d["jobs"]), ["1", "2", "3", "4"]);
    let market = DeliberationMarket::new(chain.market(), &chain.deployer);
    for job in jobs {
        let id: U256 = job["id"].as_str().unwrap().parse().unwrap();
        let stored = market.job(id).call().await.unwrap();
        // Terms as fixed at the request.
        assert_eq!(job["keeperFeeBps"], stored.keeperFeeBps, "job {id}");
        assert_eq!(job["guildFeeBps"], stored.guildFeeBps, "job {id}");
        assert_eq!(job["minRounds"], stored.minRounds, "job {id}");
        assert_eq!(job["effortPermille"], stored.effortPermille, "job {id}");
        assert_eq!(job["roundAllowance"], stored.roundAllowance, "job {id}");
        assert_eq!(job["maxRounds"], stored.maxRounds, "job {id}");
        assert_eq!(
            (job["keeperFeeBps"].clone(), job["guildFeeBps"].clone()),
            (json!(chain.record.params.keeper_fee_bps), json!(chain.record.params.guild_fee_bps))
        );
        if id == open {
            assert!(job["seats"].is_null() && job["haltReason"].is_null(), "{job}");
            continue;
        }
        // Seats: the claim's draw, which the market stored the hash of.
        let seats: Vec<Address> = job["seats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(seats, drawn[id.to::<usize>() - 1], "job {id}");
        assert_eq!(seats_hash(&seats), stored.seatsHash, "job {id}");
        // The halt: the market's reason and round count, and as many tallied rounds.
        let reason = Reason::try_from(stored.halt).unwrap();
        assert_eq!(job["haltReason"], format!("{reason:?}"), "job {id}");
        assert_eq!(job["haltedAfter"], stored.rounds, "job {id}");
        assert_eq!(job["settlement"]["rounds"], stored.rounds, "job {id}");
        assert_eq!(job["rounds"].as_array().unwrap().len(), stored.rounds as usize);
    }
    let halts: Vec<_> =
        jobs[..3].iter().map(|j| (j["haltReason"].clone(), j["haltedAfter"].clone())).collect();
    assert_eq!(
        halts,
        [
            (json!("Unanimous"), json!(1)),
            (json!("Conviction"), json!(1)),
            (json!("MaxRounds"), json!(MAX_ROUNDS)),
        ]
    );

    // Seat entities: one per drawn agent, filterable by job.
    let d = data(
        &indexer,
        "{ seats(where: { job: \"2\" }, orderBy: seat) { seat agent { id } job { id } } }",
    )
    .await;
    let expected: Vec<_> = drawn[1]
        .iter()
        .enumerate()
        .map(|(seat, a)| json!({ "seat": seat, "agent": { "id": enc_bytes(a.as_slice()) }, "job": { "id": "2" } }))
        .collect();
    assert_eq!(d["seats"], json!(expected));
    indexer.shutdown().await.unwrap();
}
