//! The economic layer's entities (LatBalance, AuthorityNode, Did, GovernanceProposal) equal chain
//! state read with `cast`, after real transactions: a settled job and a game mint LATs, a node
//! burns ETH to register and issues a DID, and a guild proposal passes through vote, queue and
//! timelock execution.

use alloy::{
    primitives::{Bytes, U256, keccak256},
    providers::Provider,
    signers::SignerSync,
    sol,
    sol_types::{SolCall, SolStruct, eip712_domain},
};
use nsed_contracts::{
    authority_registry::AuthorityRegistry, deliberation_market::DeliberationMarket,
    guild_governor::GuildGovernor, guild_token::GuildToken,
};
use nsed_indexer::{
    confirm,
    entity::enc_bytes,
    test_utils::{Chain, StoreKind},
};

use crate::{cast_call, catch_up, data, warp};

sol! {
    /// An identity's consent to a DID, as `AuthorityRegistry` verifies it.
    struct DidIssuance {
        address identity;
        bytes32 role;
        address issuer;
        uint256 nonce;
        uint256 deadline;
    }
}

on_both_stores!(economic_layer_entities_equal_chain_state_read_with_cast);

async fn economic_layer_entities_equal_chain_state_read_with_cast(store: StoreKind) {
    let chain = Chain::start_on(store).await;
    let record = &chain.record;
    let at = |name: &str| record.address(name).unwrap();
    let (lat, registry, governor, guild_token, market) = (
        at(nsed_deploy::LAT),
        at(nsed_deploy::AUTHORITY),
        at(nsed_deploy::GOVERNOR),
        at(nsed_deploy::GUILD_TOKEN),
        chain.market(),
    );

    // LATs: a settled job and a finished game mint one to each winner.
    let job = chain.request_job(1000).await;
    chain.claim_job(job).await;
    chain.settle_job(job, ["7", "3", "7"]).await;
    chain.play_game().await;

    // Authority: the deployer burns the required ETH and issues a DID to an agent with the agent's
    // consent; its owner (the agent itself) then sets an attribute.
    let deployer = chain.deployer.get_accounts().await.unwrap()[0];
    let authority = AuthorityRegistry::new(registry, &chain.deployer);
    let burn = authority.requiredBurn().call().await.unwrap();
    let jurisdiction = keccak256("DE");
    confirm!(
        "register",
        authority.register(jurisdiction, 851_200_000_000, "ipfs://node".into()).value(burn)
    );
    let agent = chain.agents[0].address();
    let domain = eip712_domain! {
        name: "NSED AuthorityRegistry",
        version: "1",
        chain_id: chain.deployer.get_chain_id().await.unwrap(),
        verifying_contract: registry,
    };
    let (role, deadline) = (keccak256("agent"), U256::MAX);
    let nonce = authority.nonces(agent).call().await.unwrap();
    let consent = DidIssuance { identity: agent, role, issuer: deployer, nonce, deadline };
    let consent = chain.agents[0].sign_hash_sync(&consent.eip712_signing_hash(&domain)).unwrap();
    confirm!(
        "issueDid",
        authority.issueDid(agent, role, deadline, Bytes::from(consent.as_bytes()))
    );
    let as_agent = nsed_contracts::provider::wallet_provider(
        chain.anvil.endpoint().parse().unwrap(),
        chain.agents[0].clone(),
    );
    confirm!(
        "setAttribute",
        AuthorityRegistry::new(registry, &as_agent).setAttribute(
            agent,
            keccak256("model"),
            Bytes::from_static(b"knn_pool4x4"),
            U256::from(86_400u64),
        )
    );

    // Governance: the genesis holder delegates, proposes new market fees, votes, queues and
    // executes after the timelock's delay.
    confirm!("delegate", GuildToken::new(guild_token, &chain.deployer).delegate(deployer));
    warp(&chain, 1).await;
    let gov = GuildGovernor::new(governor, &chain.deployer);
    let calldata: Bytes = DeliberationMarket::setFeesCall { keeperFeeBps_: 300, guildFeeBps_: 400 }
        .abi_encode()
        .into();
    let description = "Lower the keeper fee to 3% and raise the guild fee to 4%".to_string();
    let (targets, values, calldatas) = (vec![market], vec![U256::ZERO], vec![calldata]);
    confirm!(
        "propose",
        gov.propose(targets.clone(), values.clone(), calldatas.clone(), description.clone())
    );
    let created_block = chain.head().await;
    let proposal = gov
        .hashProposal(targets.clone(), values.clone(), calldatas.clone(), keccak256(&description))
        .call()
        .await
        .unwrap();
    let delay = gov.votingDelay().call().await.unwrap();
    warp(&chain, delay.to::<u64>() + 1).await;
    confirm!("castVote", gov.castVote(proposal, 1));
    let period = gov.votingPeriod().call().await.unwrap();
    warp(&chain, period.to::<u64>() + 1).await;
    let description_hash = keccak256(&description);
    confirm!(
        "queue",
        gov.queue(targets.clone(), values.clone(), calldatas.clone(), description_hash)
    );
    let queued_block = chain.head().await;
    warp(&chain, record.params.governance.timelock_delay + 1).await;
    confirm!("execute", gov.execute(targets, values, calldatas, description_hash));
    assert_eq!(cast_call(&chain, market, "keeperFeeBps()(uint16)", &[]), "300");

    let indexer = chain.indexer("economy.sqlite").await;
    catch_up(&chain, &indexer).await;

    // Every LAT balance equals the token's balanceOf.
    let d =
        data(&indexer, "{ latBalances(first: 1000) { account tokenId asset tier balance } }").await;
    let balances = d["latBalances"].as_array().unwrap();
    assert_eq!(balances.len(), 2, "one job winner and one game winner: {d}");
    for b in balances {
        let (account, id) = (b["account"].as_str().unwrap(), b["tokenId"].as_str().unwrap());
        let onchain = cast_call(&chain, lat, "balanceOf(address,uint256)(uint256)", &[account, id]);
        assert_eq!(b["balance"].as_str().unwrap(), onchain, "{b}");
        assert_eq!(b["tier"], 1, "first wins are at rank 1 or unranked: {b}");
        let asset = U256::from_str_radix(b["asset"].as_str().unwrap(), 10).unwrap();
        let id = U256::from_str_radix(id, 10).unwrap();
        assert_eq!(asset, U256::from(nsed_contracts::lat::asset(id)));
    }

    // The authority node and its DID.
    let d = data(
        &indexer,
        &format!(
            "{{ authorityNode(id: \"{}\") {{ active origin burned jurisdiction geoCell
                 dids {{ id owner role attributeChanges delegateChanges issuer {{ id }} }} }} }}",
            enc_bytes(deployer.as_slice())
        ),
    )
    .await;
    let node = &d["authorityNode"];
    assert_eq!(
        node["active"],
        cast_call(
            &chain,
            registry,
            "isAuthority(address)(bool)",
            &[&enc_bytes(deployer.as_slice())]
        ) == "true"
    );
    assert_eq!(node["active"], true);
    assert_eq!(node["origin"], "Burn");
    assert_eq!(node["burned"].as_str().unwrap(), burn.to_string());
    assert_eq!(node["jurisdiction"].as_str().unwrap(), enc_bytes(jurisdiction.as_slice()));
    assert_eq!(node["geoCell"], "851200000000");
    let did = &node["dids"][0];
    assert_eq!(did["id"].as_str().unwrap(), enc_bytes(agent.as_slice()));
    assert_eq!(
        did["owner"].as_str().unwrap(),
        cast_call(
            &chain,
            registry,
            "identityOwner(address)(address)",
            &[&enc_bytes(agent.as_slice())]
        )
        .to_lowercase()
    );
    assert_eq!(did["role"].as_str().unwrap(), enc_bytes(keccak256("agent").as_slice()));
    assert_eq!(
        (did["attributeChanges"].as_i64(), did["delegateChanges"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(did["issuer"]["id"].as_str().unwrap(), enc_bytes(deployer.as_slice()));

    // The proposal: executed, with the votes the governor counted, and Created as of its block.
    let query = |block: Option<u64>| {
        let at = block.map(|b| format!(", block: {{ number: {b} }}")).unwrap_or_default();
        format!(
            "{{ governanceProposal(id: \"{proposal}\"{at}) {{ status proposer forVotes
                 againstVotes abstainVotes targets description }} }}"
        )
    };
    let d = data(&indexer, &query(None)).await;
    let p = &d["governanceProposal"];
    // Governor states: 7 = Executed.
    assert_eq!(cast_call(&chain, governor, "state(uint256)(uint8)", &[&proposal.to_string()]), "7");
    assert_eq!(p["status"], "Executed");
    assert_eq!(p["proposer"].as_str().unwrap(), enc_bytes(deployer.as_slice()));
    assert_eq!(p["targets"], serde_json::json!([enc_bytes(market.as_slice())]));
    assert_eq!(p["description"], description.as_str());
    let votes = gov.proposalVotes(proposal).call().await.unwrap();
    assert_eq!(p["againstVotes"].as_str().unwrap(), votes.againstVotes.to_string());
    assert_eq!(p["forVotes"].as_str().unwrap(), votes.forVotes.to_string());
    assert_eq!(p["abstainVotes"].as_str().unwrap(), votes.abstainVotes.to_string());
    assert_ne!(votes.forVotes, U256::ZERO);
    let past = data(&indexer, &query(Some(created_block))).await;
    assert_eq!(past["governanceProposal"]["status"], "Created");
    assert_eq!(past["governanceProposal"]["forVotes"], "0");
    let queued = data(&indexer, &query(Some(queued_block))).await;
    assert_eq!(queued["governanceProposal"]["status"], "Queued");
    indexer.shutdown().await.unwrap();
}
