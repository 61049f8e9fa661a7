//! Indexed entities equal chain state read with `cast`.

use nsed_indexer::{
    entity::enc_bytes,
    test_utils::{Chain, StoreKind},
};

use crate::{cast_call, cast_list, catch_up, data, ids};

const JOB_STATUS: [&str; 5] = ["None", "Requested", "Claimed", "Settled", "Refunded"];
const DEAL_STATE: [&str; 7] =
    ["None", "Funded", "Delivered", "Disputed", "Released", "Ruled", "Refunded"];

on_both_stores!(graphql_answers_equal_chain_state_read_with_cast);

async fn graphql_answers_equal_chain_state_read_with_cast(store: StoreKind) {
    let chain = Chain::start_on(store).await;
    let settled = chain.request_job(1000).await;
    chain.claim_job(settled).await;
    chain.settle_job(settled, ["7", "3", "7"]).await;
    let _open = chain.request_job(500).await;
    let claimed = chain.request_job(2000).await;
    chain.claim_job(claimed).await;
    let game = chain.play_game().await;
    let indexer = chain.indexer("sync.sqlite").await;
    let head = catch_up(&chain, &indexer).await;
    let market = chain.market();
    let escrow = chain.record.address(nsed_deploy::ESCROW).unwrap();

    // Jobs: status and count as the market reports them, escrow deals as the escrow does.
    let d = data(
        &indexer,
        "{ jobs(orderBy: id) { id status bounty requester escrow { id amount state }
             rounds { id round scores hasWinner job { id } }
             settlement { content score rounds winner { id } job { id } } winner { id } } }",
    )
    .await;
    let jobs = d["jobs"].as_array().unwrap();
    let count = cast_call(&chain, market, "jobCount()(uint256)", &[]);
    assert_eq!(jobs.len().to_string(), count);
    assert_eq!(ids(&d["jobs"]), ["1", "2", "3"]);
    for job in jobs {
        let id = job["id"].as_str().unwrap().to_string();
        let status: usize =
            cast_call(&chain, market, "jobStatus(uint256)(uint8)", &[id.as_str()]).parse().unwrap();
        assert_eq!(job["status"], JOB_STATUS[status], "job {id}");
        let deal = job["escrow"]["id"].as_str().unwrap().to_string();
        let state: usize = cast_call(&chain, escrow, "dealState(uint256)(uint8)", &[deal.as_str()])
            .parse()
            .unwrap();
        assert_eq!(job["escrow"]["state"], DEAL_STATE[state], "deal {deal}");
        assert_eq!(job["escrow"]["amount"], job["bounty"]);
        assert_eq!(job["requester"], enc_bytes(chain.requester_address.as_slice()));
    }
    // The settled job: one round, the favourite seat 0 wins with its answer.
    let job = &jobs[0];
    assert_eq!(job["status"], "Settled");
    let favourite = enc_bytes(chain.agents[0].address().as_slice());
    assert_eq!(job["winner"]["id"], favourite);
    assert_eq!(job["settlement"]["winner"]["id"], favourite);
    assert_eq!(job["settlement"]["content"], "7");
    assert_eq!(job["settlement"]["rounds"], 1);
    assert_eq!(job["settlement"]["job"]["id"], "1");
    assert_eq!(job["rounds"].as_array().unwrap().len(), 1);
    assert_eq!(job["rounds"][0]["job"]["id"], "1");
    assert_eq!(job["rounds"][0]["hasWinner"], true);
    assert!(jobs[1]["settlement"].is_null() && jobs[1]["rounds"].as_array().unwrap().is_empty());

    // Filters and ordering on BigInt compare numerically (2000 > 1000 > 500).
    let d = data(
        &indexer,
        r#"{ a: jobs(where: { status: "Settled" }) { id }
             b: jobs(where: { bounty_gt: "600" }, orderBy: bounty, orderDirection: desc) { id }
             c: jobs(orderBy: bounty) { id }
             d: jobs(where: { status_in: ["Claimed", "Requested"], bounty_lte: "2000" }) { id }
             e: jobs(where: { status_not: "Settled", kind_contains: "tensor" }, first: 1, skip: 1) { id }
             f: jobs(where: { id_in: ["1", "3"] }) { id } }"#,
    )
    .await;
    assert_eq!(ids(&d["a"]), ["1"]);
    assert_eq!(ids(&d["b"]), ["3", "1"]);
    assert_eq!(ids(&d["c"]), ["2", "1", "3"]);
    assert_eq!(ids(&d["d"]), ["2", "3"]);
    assert_eq!(ids(&d["e"]), ["3"]);
    assert_eq!(ids(&d["f"]), ["1", "3"]);

    // Agents: rank as the market reports it, eligibility as the registry does; the winner's jobs.
    let registry = chain.registry();
    let d = data(&indexer, "{ agents { id active eligible rank jobsWon jobs { id } } }").await;
    let agents = d["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 3);
    for agent in agents {
        let id = agent["id"].as_str().unwrap().to_string();
        let rank = cast_call(&chain, market, "agentRank(address)(uint256)", &[id.as_str()]);
        assert_eq!(agent["rank"], rank.as_str(), "agent {id}");
        assert_eq!(agent["active"], true);
        let eligible = cast_call(&chain, registry, "isEligible(address)(bool)", &[id.as_str()]);
        assert_eq!(agent["eligible"], eligible == "true", "agent {id}");
        let won = if id == favourite { vec!["1".to_string()] } else { vec![] };
        assert_eq!(ids(&agent["jobs"]), won);
    }

    // The game: players by seat, scores and winner as the arena reports them.
    let arena = chain.arena();
    let d = data(
        &indexer,
        &format!(
            "{{ game(id: \"{game}\") {{ phase winner playerCount scores currentTurn
                players(orderBy: seat) {{ account seat score winner game {{ id }} proposals {{ content }} }}
                turns {{ turn ended }} ballots {{ votes revealed }} }} }}"
        ),
    )
    .await;
    let g = &d["game"];
    let players = cast_list(&cast_call(
        &chain,
        arena,
        "players(uint256)(address[])",
        &[game.to_string().as_str()],
    ));
    let scores = cast_list(&cast_call(
        &chain,
        arena,
        "scores(uint256)(int256[])",
        &[game.to_string().as_str()],
    ));
    assert_eq!(g["phase"], "Ended");
    assert_eq!(g["playerCount"], 3);
    let indexed: Vec<String> = g["players"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["account"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(indexed, players);
    let indexed_scores: Vec<String> = g["players"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["score"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(indexed_scores, scores);
    assert_eq!(g["scores"], serde_json::json!(scores));
    // Seat 1 got both 3-vote ballots.
    assert_eq!(g["winner"], players[1].as_str());
    assert_eq!(g["players"][1]["winner"], true);
    assert_eq!(g["players"][0]["game"]["id"], game.to_string());
    assert_eq!(g["players"][2]["proposals"][0]["content"], "idea of seat 2");
    assert_eq!(g["turns"], serde_json::json!([{ "turn": 1, "ended": true }]));
    assert_eq!(g["ballots"].as_array().unwrap().len(), 3);

    // Rank balances equal the token's balances.
    let ranks = chain.record.address(nsed_deploy::RANK_TOKEN).unwrap();
    let d = data(&indexer, "{ rankBalances(first: 1000) { id account rank balance } }").await;
    let balances = d["rankBalances"].as_array().unwrap();
    assert!(!balances.is_empty(), "the game's winner and the job's agent were promoted");
    for b in balances {
        let (account, rank) = (b["account"].as_str().unwrap(), b["rank"].as_str().unwrap());
        let on_chain =
            cast_call(&chain, ranks, "balanceOf(address,uint256)(uint256)", &[account, rank]);
        assert_eq!(b["balance"], on_chain.as_str(), "{account} rank {rank}");
    }

    // _meta reports the indexed head and its hash.
    let d = data(&indexer, "{ _meta { block { number hash } hasIndexingErrors } }").await;
    assert_eq!(d["_meta"]["block"]["number"], head);
    assert_eq!(d["_meta"]["block"]["hash"], indexer.indexed_head().unwrap().1.to_string());
    indexer.shutdown().await.unwrap();
}
