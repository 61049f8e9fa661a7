//! graph-node's query language against the chain: `and`/`or`, filters on referenced and derived
//! entities, `_change_block`, `block: { hash }` and `{ number_gte }`, `_meta`, string filters
//! whose input never acts as a wildcard, cursor pagination by id, and nested lists loaded a
//! level at a time (the test counts the database reads of a page of 100 jobs).

use std::collections::BTreeSet;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, U256},
    providers::Provider,
};
use nsed_contracts::{deliberation_market::DeliberationMarket, halting::Reason};
use nsed_indexer::{
    IndexerHandle,
    test_utils::{Chain, StoreKind, metadata_of},
};
use serde_json::{Value, json};

use crate::{cast_call, catch_up, data, errors, ids};

on_both_stores!(
    a_page_of_nested_lists_costs_one_read_per_level,
    filters_blocks_and_meta_equal_the_chain,
    bad_queries_get_graph_node_errors,
);

/// A job as the market stores it: id, status, halt reason, rounds, winner.
type StoredJob = (String, &'static str, String, u32, Address);

/// Runs `query` asking for the request's statistics; returns `data` and its database reads.
async fn counted(indexer: &IndexerHandle, query: &str) -> (Value, u64) {
    let body = json!({ "query": query, "extensions": { "queryStats": true } }).to_string();
    let (status, response) = nsed_indexer::test_utils::post(&indexer.graphql_url(), body).await;
    assert_eq!(status, 200, "{response}");
    assert!(response.get("errors").is_none(), "query {query} failed: {response}");
    let reads = response["extensions"]["queryStats"]["dbQueries"]
        .as_u64()
        .unwrap_or_else(|| panic!("no read count: {response}"));
    (response["data"].clone(), reads)
}

/// The job ids `where` selects, sorted numerically.
async fn job_ids(indexer: &IndexerHandle, filter: &str) -> Vec<String> {
    let d =
        data(indexer, &format!("{{ jobs(first: 1000, orderBy: id, where: {filter}) {{ id }} }}"))
            .await;
    ids(&d["jobs"])
}

async fn a_page_of_nested_lists_costs_one_read_per_level(store: StoreKind) {
    let chain = Chain::start_on(store).await;
    // Three settled jobs (one, one and three rounds), then open ones up to a page of 100.
    let plans = [["5", "5", "5"], ["7", "3", "7"], ["1", "2", "3"]];
    for answers in plans {
        let job = chain.request_job(1000).await;
        chain.claim_job(job).await;
        chain.settle_job(job, answers).await;
    }
    for _ in plans.len()..100 {
        chain.request_job(10).await;
    }
    let indexer = chain.indexer("nested.sqlite").await;
    catch_up(&chain, &indexer).await;

    let page = "{ jobs(first: 100, orderBy: id) { id status
                    rounds(orderBy: round) { round winnerSeat }
                    last: rounds(first: 1, skip: 1, orderBy: round, orderDirection: desc) { round }
                    settlement { content rounds winner { id rank } } } }";
    let (d, reads) = counted(&indexer, page).await;
    let jobs = d["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 100);
    // The head, the jobs, both round lists, the settlements and their winners: one read each,
    // not one per job.
    assert_eq!(reads, 6, "reads of a page of 100 jobs with rounds and settlements");
    // The same shape for one job costs the same.
    let one = page.replace("first: 100", "first: 1");
    assert_eq!(counted(&indexer, &one).await.1, 6);

    // Nested arguments from variables (an enum as a string, a filter object) answer as inline.
    let body = json!({
        "query": "query($n: Int!, $dir: OrderDirection, $w: Round_filter) {
                    jobs(first: 100, orderBy: id) { id
                      last: rounds(first: $n, skip: 1, orderBy: round, orderDirection: $dir,
                                   where: $w) { round } } }",
        "variables": { "n": 1, "dir": "desc", "w": { "round_gte": 1 } },
    });
    let (_, response) =
        nsed_indexer::test_utils::post(&indexer.graphql_url(), body.to_string()).await;
    assert!(response.get("errors").is_none(), "{response}");
    let by_variables: Vec<&Value> =
        response["data"]["jobs"].as_array().unwrap().iter().map(|j| &j["last"]).collect();
    let inline: Vec<&Value> = jobs.iter().map(|j| &j["last"]).collect();
    assert_eq!(by_variables, inline);
    // A response key selected twice with different sub-selections (fragments merge them) is
    // loaded once with both: the head, the jobs, their rounds and the rounds' jobs.
    let (d, reads) = counted(
        &indexer,
        "{ jobs(first: 5, orderBy: id) { id ...A ...B } }
         fragment A on Job { rounds { round } }
         fragment B on Job { rounds { job { id } } }",
    )
    .await;
    assert_eq!(reads, 4);
    for job in d["jobs"].as_array().unwrap() {
        let expected = &jobs.iter().find(|j| j["id"] == job["id"]).unwrap()["rounds"];
        let rounds = job["rounds"].as_array().unwrap();
        assert_eq!(rounds.len(), expected.as_array().unwrap().len(), "{job}");
        for (round, want) in rounds.iter().zip(expected.as_array().unwrap()) {
            assert_eq!(round["round"], want["round"]);
            assert_eq!(round["job"]["id"], job["id"]);
        }
    }

    // The batched answers equal the chain, per job.
    let market = DeliberationMarket::new(chain.market(), &chain.deployer);
    for job in jobs {
        let id: U256 = job["id"].as_str().unwrap().parse().unwrap();
        let stored = market.job(id).call().await.unwrap();
        let rounds: Vec<u64> = job["rounds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["round"].as_u64().unwrap())
            .collect();
        assert_eq!(rounds, (1..=u64::from(stored.rounds)).collect::<Vec<_>>(), "job {id}");
        // The second-to-last round, per job, as its own `first`/`skip`/`orderBy` ask.
        let last: Vec<u64> =
            job["last"].as_array().unwrap().iter().map(|r| r["round"].as_u64().unwrap()).collect();
        let expected: Vec<u64> =
            if stored.rounds >= 2 { vec![u64::from(stored.rounds) - 1] } else { Vec::new() };
        assert_eq!(last, expected, "job {id}");
        if stored.winner == Address::ZERO {
            assert!(job["settlement"].is_null(), "{job}");
            continue;
        }
        assert_eq!(job["settlement"]["content"], stored.answer.as_str(), "job {id}");
        assert_eq!(job["settlement"]["rounds"], stored.rounds, "job {id}");
        let winner = format!("{:#x}", stored.winner);
        assert_eq!(job["settlement"]["winner"]["id"], winner.as_str());
        let rank = cast_call(&chain, chain.market(), "agentRank(address)(uint256)", &[&winner]);
        assert_eq!(job["settlement"]["winner"]["rank"], rank.as_str(), "job {id}");
    }
    assert_eq!(jobs.iter().filter(|j| !j["settlement"].is_null()).count(), plans.len());
    indexer.shutdown().await.unwrap();
}

async fn filters_blocks_and_meta_equal_the_chain(store: StoreKind) {
    let chain = Chain::start_on(store).await;
    let plans = [["5", "5", "5"], ["7", "3", "7"], ["1", "2", "3"]];
    for answers in plans {
        let job = chain.request_job(1000).await;
        chain.claim_job(job).await;
        chain.settle_job(job, answers).await;
    }
    let before_open = chain.head().await;
    let open = chain.request_job(10).await;
    let indexer = chain.indexer("filters.sqlite").await;
    let head = catch_up(&chain, &indexer).await;

    // Each job as the market stores it: (id, status, halt reason, rounds, winner).
    let market = DeliberationMarket::new(chain.market(), &chain.deployer);
    let count: u64 = cast_call(&chain, chain.market(), "jobCount()(uint256)", &[]).parse().unwrap();
    assert_eq!(count, 4);
    let mut jobs = Vec::new();
    for id in 1..=count {
        let stored = market.job(U256::from(id)).call().await.unwrap();
        let status =
            ["None", "Requested", "Claimed", "Settled", "Refunded"][stored.status as usize];
        let halt = format!("{:?}", Reason::try_from(stored.halt).unwrap());
        jobs.push((id.to_string(), status, halt, stored.rounds, stored.winner));
    }
    let expect = |keep: &dyn Fn(&StoredJob) -> bool| -> Vec<String> {
        jobs.iter().filter(|j| keep(j)).map(|j| j.0.clone()).collect()
    };

    // `or` of nested objects, and `and` beside a plain field.
    let found = job_ids(
        &indexer,
        r#"{ or: [{ status: "Settled", haltReason: "Unanimous" }, { status: "Requested" }] }"#,
    )
    .await;
    let wanted = expect(&|j| (j.1 == "Settled" && j.2 == "Unanimous") || j.1 == "Requested");
    assert_eq!(found, wanted);
    assert_eq!(wanted.len(), 2);
    let found = job_ids(
        &indexer,
        r#"{ bounty_gte: "1000", and: [{ status_not: "Requested" }, { or: [{ haltedAfter: 1 }, { haltedAfter_gt: 2 }] }] }"#,
    )
    .await;
    let wanted = expect(&|j| j.1 != "Requested" && (j.3 == 1 || j.3 > 2));
    assert_eq!(found, wanted);
    assert_eq!(wanted.len(), 3);

    // Filters on the entities a reference (`winner_`) and a derived field (`rounds_`) reach.
    let mut ranks = Vec::new();
    for j in &jobs {
        if j.4 != Address::ZERO {
            let winner = format!("{:#x}", j.4);
            let rank = cast_call(&chain, chain.market(), "agentRank(address)(uint256)", &[&winner]);
            ranks.push((j.0.clone(), rank.parse::<u64>().unwrap()));
        }
    }
    let top = ranks.iter().map(|r| r.1).max().unwrap();
    for (filter, keep) in [("rank_gte", true), ("rank_lt", false)] {
        let wanted: Vec<String> =
            ranks.iter().filter(|r| (r.1 >= top) == keep).map(|r| r.0.clone()).collect();
        let found = job_ids(&indexer, &format!(r#"{{ winner_: {{ {filter}: "{top}" }} }}"#)).await;
        assert_eq!(found, wanted, "{filter} {top}");
    }
    assert_eq!(job_ids(&indexer, "{ rounds_: { round_gte: 2 } }").await, expect(&|j| j.3 >= 2));
    assert_eq!(
        job_ids(&indexer, r#"{ settlement_: { content: "7" }, status: "Settled" }"#).await,
        ["2"]
    );

    // `_change_block`: only the job requested after `before_open` changed since.
    assert_eq!(
        job_ids(&indexer, &format!("{{ _change_block: {{ number_gte: {} }} }}", before_open + 1))
            .await,
        [open.to_string()]
    );
    assert_eq!(job_ids(&indexer, "{ _change_block: { number_gte: 0 } }").await.len(), 4);

    // String filters; `_`, `%`, `*` and `?` in the input match only themselves.
    let mut agents: Vec<String> =
        chain.agents.iter().map(|a| format!("{:#x}", a.address())).collect();
    agents.sort();
    let agent_ids = |d: Value| ids(&d["agents"]);
    let q =
        |filter: &str| format!("{{ agents(orderBy: id, where: {filter}) {{ id metadataURI }} }}");
    let all = data(&indexer, &q(r#"{ metadataURI_starts_with: "ipfs://agents/" }"#)).await;
    assert_eq!(agent_ids(all.clone()), agents);
    for agent in all["agents"].as_array().unwrap() {
        // The registry keeps the URI only in its `AgentRegistered` event: what was registered.
        let address: Address = agent["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(agent["metadataURI"], metadata_of(address).as_str());
    }
    for (filter, expected) in [
        (r#"{ metadataURI_starts_with: "IPFS://agents/" }"#, 0),
        (r#"{ metadataURI_starts_with_nocase: "IPFS://AGENTS/" }"#, 3),
        (r#"{ metadataURI_starts_with: "ipfs:__agents" }"#, 0),
        (r#"{ metadataURI_starts_with: "ipfs:%" }"#, 0),
        (r#"{ metadataURI_starts_with: "ipfs:*" }"#, 0),
        (r#"{ metadataURI_starts_with: "ipfs:/?agents" }"#, 0),
        (r#"{ metadataURI_contains_nocase: "%" }"#, 0),
        (r#"{ metadataURI_contains_nocase: "AGENTS" }"#, 3),
        (r#"{ metadataURI_not_starts_with: "ipfs://" }"#, 0),
        (r#"{ metadataURI_not_contains_nocase: "_" }"#, 3),
    ] {
        let d = data(&indexer, &q(filter)).await;
        assert_eq!(d["agents"].as_array().unwrap().len(), expected, "{filter}");
    }
    // A suffix picks out one agent: its checksummed address, case-insensitively or not.
    let one = chain.agents[0].address();
    let checksummed = one.to_string();
    let d = data(&indexer, &q(&format!(r#"{{ metadataURI_ends_with: "{checksummed}" }}"#))).await;
    assert_eq!(agent_ids(d), [format!("{one:#x}")]);
    let lower = checksummed.to_lowercase();
    let d = data(&indexer, &q(&format!(r#"{{ metadataURI_ends_with_nocase: "{lower}" }}"#))).await;
    assert_eq!(agent_ids(d), [format!("{one:#x}")]);
    let d =
        data(&indexer, &q(&format!(r#"{{ metadataURI_not_ends_with: "{checksummed}" }}"#))).await;
    assert_eq!(agent_ids(d).len(), 2);

    // Cursor pagination by id, two at a time, covers every job once.
    let mut seen = Vec::new();
    let mut last = "0".to_string();
    loop {
        let d = data(
            &indexer,
            &format!(r#"{{ jobs(first: 2, orderBy: id, where: {{ id_gt: "{last}" }}) {{ id }} }}"#),
        )
        .await;
        let page = ids(&d["jobs"]);
        let Some(end) = page.last() else { break };
        last = end.clone();
        seen.extend(page);
    }
    assert_eq!(seen, (1..=count).map(|i| i.to_string()).collect::<Vec<_>>());

    // `block: { hash }` answers as of that block; `number_gte` at the head once reached.
    let requested_at = data(&indexer, &format!("{{ job(id: \"{open}\") {{ requestedAtBlock }} }}"))
        .await["job"]["requestedAtBlock"]
        .as_u64()
        .unwrap();
    let block = chain
        .deployer
        .get_block_by_number(BlockNumberOrTag::Number(requested_at))
        .await
        .unwrap()
        .unwrap();
    let hash = block.header.hash.to_string();
    let d = data(
        &indexer,
        &format!(
            "{{ jobs(block: {{ hash: \"{hash}\" }}) {{ id }}
                before: jobs(block: {{ number: {} }}) {{ id }}
                _meta(block: {{ hash: \"{}\" }}) {{ block {{ number hash parentHash timestamp }} }} }}",
            requested_at - 1,
            hash.to_uppercase().replace("0X", "0x"),
        ),
    )
    .await;
    assert_eq!(ids(&d["jobs"]), ["1", "2", "3", "4"]);
    assert_eq!(ids(&d["before"]), ["1", "2", "3"]);
    assert_eq!(d["_meta"]["block"]["number"], requested_at);
    assert_eq!(d["_meta"]["block"]["hash"], hash.as_str());
    // A block with logs: its time from the logs (anvil reports `blockTimestamp`).
    assert_eq!(d["_meta"]["block"]["timestamp"], block.header.timestamp);
    let d = data(
        &indexer,
        &format!("{{ jobs(block: {{ number_gte: {head} }}) {{ id }} _meta(block: {{ number_gte: {head} }}) {{ block {{ number }} }} }}"),
    )
    .await;
    assert_eq!(ids(&d["jobs"]).len(), 4);
    assert_eq!(d["_meta"]["block"]["number"], head);

    // `_meta` at the head: its hash as the chain has it, the deployment, no indexing errors.
    let d = data(
        &indexer,
        "{ _meta { block { number hash timestamp } deployment hasIndexingErrors } }",
    )
    .await;
    let tip =
        chain.deployer.get_block_by_number(BlockNumberOrTag::Number(head)).await.unwrap().unwrap();
    assert_eq!(d["_meta"]["block"]["number"], head);
    assert_eq!(d["_meta"]["block"]["hash"], tip.header.hash.to_string());
    assert_eq!(d["_meta"]["block"]["timestamp"], tip.header.timestamp);
    assert_eq!(d["_meta"]["deployment"], chain.record.network.as_str());
    assert_eq!(d["_meta"]["hasIndexingErrors"], false);
    let distinct: BTreeSet<String> = seen.into_iter().collect();
    assert_eq!(distinct.len() as u64, count);
    indexer.shutdown().await.unwrap();
}

async fn bad_queries_get_graph_node_errors(store: StoreKind) {
    let chain = Chain::start_on(store).await;
    chain.request_job(10).await;
    let indexer = chain.indexer("bad.sqlite").await;
    let head = catch_up(&chain, &indexer).await;

    let unknown = format!("0x{}", "11".repeat(32));
    let e =
        errors(&indexer, &format!("{{ jobs(block: {{ hash: \"{unknown}\" }}) {{ id }} }}")).await;
    assert!(e.contains("no block with that hash found"), "{e}");
    let e = errors(&indexer, "{ jobs(block: { hash: \"0x1234\" }) { id } }").await;
    assert!(e.contains("block.hash"), "{e}");
    let e =
        errors(&indexer, &format!("{{ jobs(block: {{ number_gte: {} }}) {{ id }} }}", head + 1000))
            .await;
    assert!(
        e.contains(&format!(
            "has only indexed up to block number {head} and data for block number {} is therefore \
             not yet available",
            head + 1000
        )),
        "{e}"
    );
    // graph-node refuses column filters beside `or`.
    let e = errors(
        &indexer,
        r#"{ jobs(where: { status: "Requested", or: [{ bounty: "10" }] }) { id } }"#,
    )
    .await;
    assert!(e.contains("Cannot mix column filters with 'or' operator"), "{e}");
    assert!(e.contains("'status'"), "{e}");
    // Too deep, too wide.
    let mut deep = r#"{ status: "Requested" }"#.to_string();
    for _ in 0..6 {
        deep = format!("{{ and: [{deep}] }}");
    }
    let e = errors(&indexer, &format!("{{ jobs(where: {deep}) {{ id }} }}")).await;
    assert!(e.contains("nests more than 5 levels"), "{e}");
    let wide = vec![r#"{ status: "Requested" }"#; 101].join(", ");
    let e = errors(&indexer, &format!("{{ jobs(where: {{ or: [{wide}] }}) {{ id }} }}")).await;
    assert!(e.contains("`or` takes at most 100 filters"), "{e}");
    let e = errors(&indexer, "{ jobs(where: { _change_block: { number_gte: -1 } }) { id } }").await;
    assert!(e.contains("number_gte"), "{e}");
    // Nested collections keep the limits of top-level ones.
    let e = errors(&indexer, "{ jobs { rounds(first: 5000) { id } } }").await;
    assert!(e.contains("`first` must be between 0 and 1000, got 5000"), "{e}");
    // Still answering after all of that.
    assert_eq!(ids(&data(&indexer, "{ jobs { id } }").await["jobs"]), ["1"]);
    indexer.shutdown().await.unwrap();
}
