//! Agents come from the AgentRegistry: registration, bonds, unbonding, withdrawal, service and
//! eligibility, a slash for proven equivocation, and each agent's bond history equal what the
//! registry and the market report after real transactions.

use alloy::primitives::{Address, U256};
use nsed_contracts::agent_registry::AgentRegistry;
use nsed_indexer::{
    confirm,
    entity::enc_bytes,
    test_utils::{Chain, StoreKind, metadata_of, model_of},
};
use serde_json::{Value, json};

use crate::{cast_call, catch_up, data, ids, warp};

fn hex(a: Address) -> String {
    enc_bytes(a.as_slice())
}

/// The `kind`, `amount` and `bond` of each bond change, in chain order.
fn history(agent: &Value) -> Vec<(String, String, String)> {
    agent["bondChanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let field = |name: &str| c[name].as_str().unwrap().to_string();
            (field("kind"), field("amount"), field("bond"))
        })
        .collect()
}

on_both_stores!(agents_bonds_and_slashes_equal_the_registry);

async fn agents_bonds_and_slashes_equal_the_registry(store: StoreKind) {
    let chain = Chain::start_on(store).await;
    let registry = chain.registry();
    let owner = chain.registry_as_owner();
    let min_bond = owner.minBond().call().await.unwrap();
    let [a0, a1, a2] = [0, 1, 2].map(|i| chain.agents[i].address());

    // Agent 0 wins a job, tops its bond up to twice the minimum and wins again (promoted twice:
    // rank 1 needs minBond, rank 2 twice that).
    let first = chain.request_job(1000).await;
    chain.claim_job(first).await;
    chain.settle_job(first, ["7", "3", "7"]).await;
    confirm!("addBond", owner.addBond(a0, min_bond));
    let second = chain.request_job(1000).await;
    chain.claim_job(second).await;
    chain.settle_job(second, ["7", "3", "7"]).await;
    // Agent 1 leaves service and comes back; agent 2 unbonds and withdraws after the delay.
    confirm!("deactivate", owner.deactivate(a1));
    let deactivated = chain.head().await;
    confirm!("reactivate", owner.reactivate(a1));
    confirm!("requestUnbond", owner.requestUnbond(a2));
    let delay = owner.unbondDelay().call().await.unwrap();
    warp(&chain, delay + 1).await;
    confirm!("withdrawBond", owner.withdrawBond(a2));
    // A player proves that agent 0 signed two answers for round 1 of the first job.
    let (reporter_key, reporter) = &chain.players[0];
    let reporter_address = reporter_key.address();
    let token = chain.record.address(nsed_deploy::BOUNTY_TOKEN).unwrap();
    let balance =
        |who: Address| cast_call(&chain, token, "balanceOf(address)(uint256)", &[&hex(who)]);
    let reporter_before: U256 = balance(reporter_address).parse().unwrap();
    chain.report_equivocation(first, a0, reporter).await;

    let indexer = chain.indexer("registry.sqlite").await;
    catch_up(&chain, &indexer).await;

    let d = data(
        &indexer,
        "{ agents { id owner modelId metadataURI active bond unbondingAt withdrawn slashed
             eligible rank jobsWon registeredAtBlock
             seats(orderBy: block) { job { id } seat }
             bondChanges(orderBy: block) { kind amount bond unbondingAt transactionHash }
             slashes { reporter amount reporterShare guildShare agent { id } }
             equivocations { job { id } jobId round reporter ballots agent { id } } } }",
    )
    .await;
    let agents = d["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 3);
    let view = AgentRegistry::new(registry, &chain.deployer);
    let mut eligible_indexed = 0;
    for agent in agents {
        let id = agent["id"].as_str().unwrap();
        let address: Address = id.parse().unwrap();
        let on_chain = view.agent(address).call().await.unwrap();
        assert_eq!(agent["owner"], hex(on_chain.owner), "{id}");
        assert_eq!(agent["owner"], hex(chain.agent_owner_address));
        assert_eq!(agent["modelId"], enc_bytes(on_chain.modelId.as_slice()));
        assert_eq!(agent["modelId"], enc_bytes(model_of(address).as_slice()));
        assert_eq!(agent["metadataURI"], metadata_of(address).as_str());
        assert_eq!(agent["active"], on_chain.active, "{id}");
        assert_eq!(agent["slashed"], on_chain.slashed, "{id}");
        assert_eq!(agent["bond"], on_chain.bond.to_string().as_str(), "{id}");
        assert_eq!(agent["unbondingAt"], on_chain.unbondingAt.to_string().as_str(), "{id}");
        let eligible = cast_call(&chain, registry, "isEligible(address)(bool)", &[id]) == "true";
        assert_eq!(agent["eligible"], eligible, "{id}");
        eligible_indexed += usize::from(eligible);
        let rank = cast_call(&chain, chain.market(), "agentRank(address)(uint256)", &[id]);
        assert_eq!(agent["rank"], rank.as_str(), "{id}");
        // Every agent sat in both jobs (three seats, three agents), in address order.
        let seat = chain.agents.iter().position(|k| k.address() == address).unwrap();
        assert_eq!(
            agent["seats"],
            json!([{ "job": { "id": "1" }, "seat": seat }, { "job": { "id": "2" }, "seat": seat }])
        );
    }
    assert_eq!(
        eligible_indexed.to_string(),
        cast_call(&chain, registry, "eligibleCount()(uint256)", &[])
    );
    let by_id = |a: Address| agents.iter().find(|x| x["id"] == hex(a).as_str()).unwrap();
    let bond = min_bond.to_string();
    let double = (min_bond * U256::from(2)).to_string();
    let s = |v: &str| v.to_string();

    // Agent 0: registered, topped up, slashed; it won both jobs and climbed twice.
    let agent0 = by_id(a0);
    assert_eq!(
        history(agent0),
        [
            (s("Registered"), bond.clone(), bond.clone()),
            (s("Bonded"), bond.clone(), double.clone()),
            (s("Slashed"), double.clone(), s("0")),
        ]
    );
    assert_eq!(
        (agent0["slashed"].clone(), agent0["eligible"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!((agent0["rank"].clone(), agent0["jobsWon"].clone()), (json!("2"), json!(2)));
    let reporter_bps: u64 =
        cast_call(&chain, registry, "reporterBps()(uint16)", &[]).parse().unwrap();
    let share = min_bond * U256::from(2) * U256::from(reporter_bps) / U256::from(10_000);
    assert_eq!(
        agent0["slashes"],
        json!([{
            "reporter": hex(reporter_address),
            "amount": double,
            "reporterShare": share.to_string(),
            "guildShare": (min_bond * U256::from(2) - share).to_string(),
            "agent": { "id": hex(a0) },
        }])
    );
    let reporter_after: U256 = balance(reporter_address).parse().unwrap();
    assert_eq!(reporter_after - reporter_before, share, "the reporter was paid its share");
    assert_eq!(
        agent0["equivocations"],
        json!([{
            "job": { "id": first.to_string() },
            "jobId": first.to_string(),
            "round": 1,
            "reporter": hex(reporter_address),
            "ballots": false,
            "agent": { "id": hex(a0) },
        }])
    );

    // Agent 1: back in service and in the pool; its bond never changed.
    let agent1 = by_id(a1);
    assert_eq!(history(agent1), [(s("Registered"), bond.clone(), bond.clone())]);
    assert_eq!((agent1["active"].clone(), agent1["eligible"].clone()), (json!(true), json!(true)));
    let past = data(
        &indexer,
        &format!(
            "{{ agent(id: \"{}\", block: {{ number: {deactivated} }}) {{ active eligible }} }}",
            hex(a1)
        ),
    )
    .await;
    assert_eq!(past["agent"], json!({ "active": false, "eligible": false }));

    // Agent 2: unbonded, then withdrew everything; it stays registered but out of the pool.
    let agent2 = by_id(a2);
    assert_eq!(
        history(agent2),
        [
            (s("Registered"), bond.clone(), bond.clone()),
            (s("Unbonding"), s("0"), bond.clone()),
            (s("Withdrawn"), bond.clone(), s("0")),
        ]
    );
    assert_eq!(agent2["bondChanges"][1]["unbondingAt"], agent2["unbondingAt"]);
    assert_ne!(agent2["unbondingAt"], "0");
    assert_eq!(
        (agent2["withdrawn"].clone(), agent2["slashed"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(agent2["eligible"], false);

    // The collections answer on their own too.
    let d = data(
        &indexer,
        "{ slashes { agent { id } } equivocations { agent { id } job { equivocations { round } } }
           bondChanges(where: { kind: \"Slashed\" }) { agent { id } } }",
    )
    .await;
    assert_eq!(d["slashes"], json!([{ "agent": { "id": hex(a0) } }]));
    assert_eq!(d["equivocations"][0]["job"]["equivocations"], json!([{ "round": 1 }]));
    assert_eq!(d["bondChanges"], json!([{ "agent": { "id": hex(a0) } }]));
    // The example of docs/operations.md answers: agent 1 is the one left in the pool.
    let d = data(
        &indexer,
        "{ jobs(first: 2, orderBy: id) { id status seats haltReason settlement { content rounds winner { id } } }
           agents(where: { eligible: true }) { id bond rank bondChanges(orderBy: block) { kind amount bond } }
           _meta { block { number } } }",
    )
    .await;
    assert_eq!(ids(&d["agents"]), [hex(a1)]);
    assert_eq!(d["jobs"][0]["haltReason"], "Conviction");
    indexer.shutdown().await.unwrap();
}
