//! The events the other topics do not cover, indexed and compared with the chain after real
//! transactions: a LAT access and a LAT → guild token conversion (position, epoch, claim), guild
//! token balances, delegation and vote power, governance votes and the governor's settings,
//! timelock operations, an escrow dispute and the guild's ruling, an authority node granted and
//! revoked by the guild, market settings and a re-claim, and AccessControl roles.

use alloy::{
    primitives::{Address, Bytes, U256, keccak256},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use nsed_contracts::{
    authority_registry::AuthorityRegistry, deliberation_market::DeliberationMarket,
    guild_governor::GuildGovernor, guild_token::GuildToken, lat_converter::LatConverter,
    liquid_access_token::LiquidAccessToken, tripartite_escrow::TripartiteEscrow,
};
use nsed_indexer::{
    confirm,
    entity::enc_bytes,
    test_utils::{Chain, StoreKind},
};
use serde_json::{Value, json};

use crate::{cast_call, catch_up, data, warp};

fn hex(a: Address) -> String {
    enc_bytes(a.as_slice())
}

/// A provider that signs as `key` on `chain`.
fn wallet(chain: &Chain, key: &PrivateKeySigner) -> DynProvider {
    nsed_contracts::provider::wallet_provider(
        chain.anvil.endpoint().parse().expect("anvil endpoint is a url"),
        key.clone(),
    )
}

/// Sends `calldata` to `to` from the guild's timelock (impersonated on anvil: the guild's own
/// path is a governance proposal, which `economy.rs` walks through) and returns its block.
async fn as_guild(chain: &Chain, to: Address, calldata: Vec<u8>) -> u64 {
    let timelock = chain.record.address(nsed_deploy::TIMELOCK).unwrap();
    chain.rpc("anvil_impersonateAccount", json!([timelock])).await;
    chain.rpc("anvil_setBalance", json!([timelock, "0x56bc75e2d63100000"])).await;
    let hash = chain
        .rpc(
            "eth_sendTransaction",
            json!([{ "from": timelock, "to": to, "data": enc_bytes(&calldata) }]),
        )
        .await;
    let hash: alloy::primitives::B256 = serde_json::from_value(hash).expect("a transaction hash");
    let receipt =
        alloy::providers::PendingTransactionBuilder::new(chain.deployer.root().clone(), hash)
            .with_timeout(Some(crate::WAIT))
            .get_receipt()
            .await
            .expect("the guild's call is mined");
    assert!(receipt.status(), "the guild's call succeeds: {receipt:?}");
    receipt.block_number.expect("a mined receipt has a block")
}

/// Every listed entity of `query`'s top-level field `field`.
async fn all(indexer: &nsed_indexer::IndexerHandle, field: &str, fields: &str) -> Vec<Value> {
    let d = data(indexer, &format!("{{ {field}(first: 1000) {{ id {fields} }} }}")).await;
    d[field].as_array().unwrap().clone()
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("a string: {v}"))
}

on_both_stores!(
    lat_conversion_delegation_and_governance_votes_equal_chain_state,
    escrow_ruling_authority_grant_and_revocation_roles_and_reclaims_equal_chain_state,
);

async fn lat_conversion_delegation_and_governance_votes_equal_chain_state(store: StoreKind) {
    let chain = Chain::start_on(store).await;
    let at = |name: &str| chain.record.address(name).unwrap();
    let (lat, converter, guild_token, governor, timelock) = (
        at(nsed_deploy::LAT),
        at(nsed_deploy::CONVERTER),
        at(nsed_deploy::GUILD_TOKEN),
        at(nsed_deploy::GOVERNOR),
        at(nsed_deploy::TIMELOCK),
    );
    let deployer = chain.deployer.get_accounts().await.unwrap()[0];

    // A settled job mints its winner (seat 0, everyone's favourite) a market LAT, which the
    // winner burns for access.
    let job = chain.request_job(1000).await;
    let seats = chain.claim_job(job).await;
    chain.settle_job(job, ["7", "3", "7"]).await;
    let agent = seats[0];
    let as_agent = wallet(&chain, chain.agent_key(agent));
    let market_asset = alloy::primitives::Uint::<248, 4>::from_be_slice(chain.market().as_slice());
    let market_lat =
        LiquidAccessToken::new(lat, &as_agent).tokenId(market_asset, 1).call().await.unwrap();
    let agent_lats =
        LiquidAccessToken::new(lat, &as_agent).balanceOf(agent, market_lat).call().await.unwrap();
    assert!(agent_lats >= U256::from(1), "the winner holds a tier-1 market LAT");
    let access =
        confirm!("access", LiquidAccessToken::new(lat, &as_agent).access(market_asset, 1, 1));
    let access_block = access.block_number.unwrap();

    // A game mints its winner (the second player) an arena LAT, which converts: approve the
    // converter, convert everything, wait out the vesting, claim.
    chain.play_game().await;
    let (winner_key, winner) = &chain.players[1];
    let winner_address = winner_key.address();
    let arena_asset = alloy::primitives::Uint::<248, 4>::from_be_slice(chain.arena().as_slice());
    let own_lat = LiquidAccessToken::new(lat, winner);
    let arena_lat = own_lat.tokenId(arena_asset, 1).call().await.unwrap();
    let lats = own_lat.balanceOf(winner_address, arena_lat).call().await.unwrap();
    assert!(lats > U256::ZERO, "the game's winner holds an arena LAT");
    confirm!("setApprovalForAll", own_lat.setApprovalForAll(converter, true));
    let conv = LatConverter::new(converter, winner);
    confirm!("convert", conv.convert(vec![arena_lat], vec![lats], U256::ZERO));
    let position = conv.positionCount().call().await.unwrap();
    let epoch = conv.epochState().call().await.unwrap();
    let converted = conv.position(position).call().await.unwrap();
    assert!(!converted.claimed);
    let vesting = conv.params().call().await.unwrap().vestingPeriod;
    warp(&chain, vesting + 1).await;
    confirm!("claim", conv.claim(position));
    let claimed = conv.position(position).call().await.unwrap();
    assert!(claimed.claimed && claimed.amount > U256::ZERO);

    // Vote power: the genesis holder delegates to itself, the converter's owner to itself, and
    // the genesis holder hands a third player tokens, who delegates them to the genesis holder.
    let token = GuildToken::new(guild_token, &chain.deployer);
    confirm!("delegate", token.delegate(deployer));
    confirm!("delegate", GuildToken::new(guild_token, winner).delegate(winner_address));
    let (third_key, third) = &chain.players[2];
    let gift = U256::from(10u64).pow(U256::from(21));
    confirm!("transfer", token.transfer(third_key.address(), gift));
    confirm!("delegate", GuildToken::new(guild_token, third).delegate(deployer));
    warp(&chain, 1).await;

    // A proposal both delegates vote on: the genesis holder for, the converter against with a
    // reason.
    let gov = GuildGovernor::new(governor, &chain.deployer);
    let calldata: Bytes =
        DeliberationMarket::setClaimTimeoutCall { claimTimeout_: 900 }.abi_encode().into();
    let description = "Shorter claim timeout".to_string();
    let (targets, values, calldatas) = (vec![chain.market()], vec![U256::ZERO], vec![calldata]);
    confirm!(
        "propose",
        gov.propose(targets.clone(), values.clone(), calldatas.clone(), description.clone())
    );
    let proposal =
        gov.hashProposal(targets, values, calldatas, keccak256(&description)).call().await.unwrap();
    let delay = gov.votingDelay().call().await.unwrap();
    warp(&chain, delay.to::<u64>() + 1).await;
    confirm!("castVote", gov.castVote(proposal, 1));
    confirm!(
        "castVoteWithReason",
        GuildGovernor::new(governor, winner).castVoteWithReason(proposal, 0, "too soon".into())
    );
    // The third player delegated its tokens away, so it abstains with no weight, with params.
    let params = Bytes::from_static(&[0x12, 0x34]);
    confirm!(
        "castVoteWithReasonAndParams",
        GuildGovernor::new(governor, third).castVoteWithReasonAndParams(
            proposal,
            2,
            String::new(),
            params.clone()
        )
    );
    warp(&chain, 1).await;

    let indexer = chain.indexer("events-economy.sqlite").await;
    catch_up(&chain, &indexer).await;

    // The access: one LatAccess, and the balance it burned from equals the token's.
    let accesses = all(
        &indexer,
        "latAccesses",
        "account asset tier requestedTier tokenId block balance { balance }",
    )
    .await;
    assert_eq!(accesses.len(), 1, "{accesses:?}");
    let a = &accesses[0];
    assert_eq!(text(&a["account"]), hex(agent));
    assert_eq!(text(&a["asset"]), U256::from(market_asset).to_string());
    assert_eq!((a["tier"].as_i64(), a["requestedTier"].as_i64()), (Some(1), Some(1)));
    assert_eq!(text(&a["tokenId"]), market_lat.to_string());
    assert_eq!(a["block"].as_u64(), Some(access_block));
    let left = cast_call(
        &chain,
        lat,
        "balanceOf(address,uint256)(uint256)",
        &[&hex(agent), &market_lat.to_string()],
    );
    assert_eq!(text(&a["balance"]["balance"]), left);
    assert_eq!(left, (agent_lats - U256::from(1)).to_string());

    // The conversion: position, epoch and claim as the converter has them.
    let d = data(
        &indexer,
        &format!(
            "{{ conversionPosition(id: \"{position}\") {{ owner value amount vestsAt claimed
                 epoch {{ id base converted conversions positions {{ id }} }} }}
               converterConfigs {{ id basePrice slope capBps epochLength vestingPeriod }}
               operatorApprovals {{ contract account operator approved }} }}"
        ),
    )
    .await;
    let p = &d["conversionPosition"];
    assert_eq!(text(&p["owner"]), hex(claimed.owner));
    assert_eq!(text(&p["amount"]), claimed.amount.to_string());
    assert_eq!(text(&p["vestsAt"]), claimed.vestsAt.to_string());
    assert_eq!(p["claimed"], json!(claimed.claimed));
    let value = conv.latValue(vec![arena_lat], vec![lats]).call().await.unwrap();
    assert_eq!(text(&p["value"]), value.to_string());
    assert_eq!(text(&p["epoch"]["id"]), epoch.epoch.to_string());
    assert_eq!(text(&p["epoch"]["base"]), epoch.base.to_string());
    assert_eq!(text(&p["epoch"]["converted"]), epoch.converted.to_string());
    assert_eq!(p["epoch"]["conversions"], 1);
    assert_eq!(p["epoch"]["positions"], json!([{ "id": position.to_string() }]));
    let params = conv.params().call().await.unwrap();
    assert_eq!(
        d["converterConfigs"],
        json!([{
            "id": hex(converter),
            "basePrice": params.basePrice.to_string(),
            "slope": params.slope.to_string(),
            "capBps": params.capBps,
            "epochLength": params.epochLength.to_string(),
            "vestingPeriod": params.vestingPeriod.to_string(),
        }])
    );
    let approved = own_lat.isApprovedForAll(winner_address, converter).call().await.unwrap();
    assert!(approved);
    assert_eq!(
        d["operatorApprovals"],
        json!([{
            "contract": hex(lat),
            "account": hex(winner_address),
            "operator": hex(converter),
            "approved": approved,
        }])
    );

    // Guild token: supply, every balance, every delegate's votes and every holder's delegate.
    let d = data(
        &indexer,
        &format!(
            "{{ token(id: \"{}\") {{ contractName totalSupply balances(first: 1000) {{ account
                 balance }} }} }}",
            hex(guild_token)
        ),
    )
    .await;
    assert_eq!(d["token"]["contractName"], "GuildToken");
    assert_eq!(
        text(&d["token"]["totalSupply"]),
        cast_call(&chain, guild_token, "totalSupply()(uint256)", &[])
    );
    let balances = d["token"]["balances"].as_array().unwrap();
    assert!(balances.len() >= 3, "{balances:?}");
    for b in balances {
        let onchain =
            cast_call(&chain, guild_token, "balanceOf(address)(uint256)", &[text(&b["account"])]);
        assert_eq!(text(&b["balance"]), onchain, "{b}");
    }
    let winner_balance = balances.iter().find(|b| b["account"] == hex(winner_address).as_str());
    assert_eq!(text(&winner_balance.unwrap()["balance"]), claimed.amount.to_string());
    let delegates = all(&indexer, "delegates", "account votes delegators { delegator }").await;
    assert!(delegates.len() >= 2, "{delegates:?}");
    for d in &delegates {
        let onchain =
            cast_call(&chain, guild_token, "getVotes(address)(uint256)", &[text(&d["id"])]);
        assert_eq!(text(&d["votes"]), onchain, "{d}");
    }
    let genesis = delegates.iter().find(|d| d["id"] == hex(deployer).as_str()).unwrap();
    let mut backers: Vec<&str> =
        genesis["delegators"].as_array().unwrap().iter().map(|d| text(&d["delegator"])).collect();
    backers.sort_unstable();
    let mut expected = vec![hex(deployer), hex(third_key.address())];
    expected.sort();
    assert_eq!(backers, expected);
    for d in all(&indexer, "delegations", "delegator delegate { id }").await {
        let onchain =
            cast_call(&chain, guild_token, "delegates(address)(address)", &[text(&d["delegator"])]);
        assert_eq!(text(&d["delegate"]["id"]), onchain.to_lowercase(), "{d}");
    }

    // The votes: one per voter, with the weight the governor counted.
    let d = data(
        &indexer,
        &format!(
            "{{ governanceProposal(id: \"{proposal}\") {{ forVotes againstVotes voteCount
                 abstainVotes votes(orderBy: block) {{ voter support supportName weight reason
                   params proposal {{ id }} }} }}
               governorConfigs {{ votingDelay votingPeriod proposalThreshold quorumNumerator
                 timelock }} }}"
        ),
    )
    .await;
    let p = &d["governanceProposal"];
    let tally = gov.proposalVotes(proposal).call().await.unwrap();
    assert_eq!(text(&p["forVotes"]), tally.forVotes.to_string());
    assert_eq!(text(&p["againstVotes"]), tally.againstVotes.to_string());
    assert_eq!(text(&p["abstainVotes"]), tally.abstainVotes.to_string());
    assert_eq!(p["voteCount"], 3);
    let snapshot = gov.proposalSnapshot(proposal).call().await.unwrap().to_string();
    let votes = p["votes"].as_array().unwrap();
    assert_eq!(votes.len(), 3, "{votes:?}");
    let expected = [
        (deployer, 1, "For", "", "0x"),
        (winner_address, 0, "Against", "too soon", "0x"),
        (third_key.address(), 2, "Abstain", "", "0x1234"),
    ];
    for (vote, (voter, support, name, reason, params)) in votes.iter().zip(expected) {
        assert_eq!(text(&vote["voter"]), hex(voter));
        assert_eq!((vote["support"].as_i64(), text(&vote["supportName"])), (Some(support), name));
        assert_eq!(text(&vote["reason"]), reason);
        assert_eq!(text(&vote["params"]), params);
        assert_eq!(text(&vote["proposal"]["id"]), proposal.to_string());
        let weight = cast_call(
            &chain,
            guild_token,
            "getPastVotes(address,uint256)(uint256)",
            &[&hex(voter), &snapshot],
        );
        assert_eq!(text(&vote["weight"]), weight);
        let voted = cast_call(
            &chain,
            governor,
            "hasVoted(uint256,address)(bool)",
            &[&proposal.to_string(), &hex(voter)],
        );
        assert_eq!(voted, "true");
    }
    let config = &d["governorConfigs"][0];
    for (field, sig) in [
        ("votingDelay", "votingDelay()(uint256)"),
        ("votingPeriod", "votingPeriod()(uint256)"),
        ("proposalThreshold", "proposalThreshold()(uint256)"),
        ("quorumNumerator", "quorumNumerator()(uint256)"),
    ] {
        assert_eq!(text(&config[field]), cast_call(&chain, governor, sig, &[]), "{field}");
    }
    assert_eq!(text(&config["timelock"]), hex(timelock));

    // Timelock operations (the deployment's bootstrap batch at least) and their fate.
    let operations = all(&indexer, "timelockOperations", "status targets").await;
    assert!(!operations.is_empty());
    for op in &operations {
        let done =
            cast_call(&chain, timelock, "isOperationDone(bytes32)(bool)", &[text(&op["id"])]);
        let pending =
            cast_call(&chain, timelock, "isOperationPending(bytes32)(bool)", &[text(&op["id"])]);
        assert_eq!(done == "true", op["status"] == "Executed", "{op}");
        assert_eq!(pending == "true", op["status"] == "Scheduled", "{op}");
    }
    let d = data(&indexer, "{ timelockConfigs { id minDelay } }").await;
    assert_eq!(
        text(&d["timelockConfigs"][0]["minDelay"]),
        cast_call(&chain, timelock, "getMinDelay()(uint256)", &[])
    );
    indexer.shutdown().await.unwrap();
}

async fn escrow_ruling_authority_grant_and_revocation_roles_and_reclaims_equal_chain_state(
    store: StoreKind,
) {
    let chain = Chain::start_on(store).await;
    let at = |name: &str| chain.record.address(name).unwrap();
    let (escrow, authority, market) =
        (at(nsed_deploy::ESCROW), at(nsed_deploy::AUTHORITY), chain.market());
    let deployer = chain.deployer.get_accounts().await.unwrap()[0];

    // A settled job's requester disputes the delivery; the guild (the escrow's resolver) rules a
    // quarter back to the requester.
    let job = chain.request_job(1000).await;
    chain.claim_job(job).await;
    chain.settle_job(job, ["7", "3", "7"]).await;
    let deal =
        DeliberationMarket::new(market, &chain.deployer).job(job).call().await.unwrap().escrowId;
    let resolver = TripartiteEscrow::new(escrow, &chain.deployer).resolver().call().await.unwrap();
    assert_eq!(resolver, at(nsed_deploy::TIMELOCK), "the guild resolves disputes");
    let disputed =
        confirm!("dispute", TripartiteEscrow::new(escrow, &chain.requester).dispute(deal))
            .block_number
            .unwrap();
    let rule = TripartiteEscrow::ruleCall { dealId: deal, buyerShareBps: 2500 }.abi_encode();
    let ruled = as_guild(&chain, escrow, rule).await;

    // The guild grants a node authority, then revokes it.
    let node = chain.players[2].0.address();
    let jurisdiction = keccak256("FR");
    let grant = AuthorityRegistry::grantCall {
        account: node,
        jurisdiction,
        geoCell: 42,
        metadataURI: "ipfs://granted".into(),
    };
    let granted = as_guild(&chain, authority, grant.abi_encode()).await;
    let revoke = AuthorityRegistry::revokeCall { account: node, reason: "left the guild".into() };
    let revoked = as_guild(&chain, authority, revoke.abi_encode()).await;

    // The guild shortens the claim timeout and makes the deployer a second keeper; a job the
    // first keeper claims and abandons is re-claimed by the second once the claim times out.
    let timeout = DeliberationMarket::setClaimTimeoutCall { claimTimeout_: 600 }.abi_encode();
    as_guild(&chain, market, timeout).await;
    let keeper_role =
        DeliberationMarket::new(market, &chain.deployer).KEEPER_ROLE().call().await.unwrap();
    let grant_role = DeliberationMarket::grantRoleCall { role: keeper_role, account: deployer };
    as_guild(&chain, market, grant_role.abi_encode()).await;
    let abandoned = chain.request_job(1000).await;
    chain.claim_job(abandoned).await;
    let first_keeper = DeliberationMarket::new(market, &chain.deployer)
        .job(abandoned)
        .call()
        .await
        .unwrap()
        .keeper;
    assert_ne!(first_keeper, deployer);
    warp(&chain, 601).await;
    let reclaim = confirm!(
        "claimJob",
        DeliberationMarket::new(market, &chain.deployer).claimJob(abandoned).gas(1_000_000)
    );
    let reclaimed = reclaim.block_number.unwrap();

    let indexer = chain.indexer("events-guild.sqlite").await;
    catch_up(&chain, &indexer).await;

    // The ruling: the deal as the escrow has it, with its dispute and ruling blocks.
    let d = data(
        &indexer,
        &format!(
            "{{ escrowDeal(id: \"{deal}\") {{ state buyerShareBps buyerAmount disputedAtBlock
                 ruledAtBlock disputeBond disputeBondOutcome }}
               escrowConfigs {{ id disputeTimeout disputeBondBps }} }}"
        ),
    )
    .await;
    let indexed = &d["escrowDeal"];
    let on_chain = TripartiteEscrow::new(escrow, &chain.deployer).deal(deal).call().await.unwrap();
    // Deal states: 5 = Ruled.
    assert_eq!(cast_call(&chain, escrow, "dealState(uint256)(uint8)", &[&deal.to_string()]), "5");
    assert_eq!(indexed["state"], "Ruled");
    assert_eq!(indexed["buyerShareBps"], 2500);
    assert_eq!(text(&indexed["buyerAmount"]), (on_chain.amount / U256::from(4)).to_string());
    assert_eq!(indexed["disputedAtBlock"].as_u64(), Some(disputed));
    assert_eq!(indexed["ruledAtBlock"].as_u64(), Some(ruled));
    assert_eq!(text(&indexed["disputeBond"]), on_chain.disputeBond.to_string());
    assert_eq!(indexed["disputeBondOutcome"], "Refunded", "the ruling gave the buyer a share");
    let config = &d["escrowConfigs"][0];
    assert_eq!(text(&config["id"]), hex(escrow));
    assert_eq!(
        text(&config["disputeTimeout"]),
        cast_call(&chain, escrow, "disputeTimeout()(uint64)", &[])
    );
    assert_eq!(
        config["disputeBondBps"].as_i64().unwrap().to_string(),
        cast_call(&chain, escrow, "disputeBondBps()(uint16)", &[])
    );

    // The node: granted, then revoked, with both changes in its history.
    let query = |block: Option<u64>| {
        let at = block.map(|b| format!(", block: {{ number: {b} }}")).unwrap_or_default();
        format!(
            "{{ authorityNode(id: \"{}\"{at}) {{ active origin burned revokedReason jurisdiction
                 geoCell changes(orderBy: block) {{ kind burned reason block }} }} }}",
            hex(node)
        )
    };
    let d = data(&indexer, &query(None)).await;
    let n = &d["authorityNode"];
    assert_eq!(cast_call(&chain, authority, "isAuthority(address)(bool)", &[&hex(node)]), "false");
    assert_eq!(n["active"], false);
    assert_eq!(n["origin"], "Grant");
    assert_eq!(n["burned"], "0");
    assert_eq!(n["revokedReason"], "left the guild");
    assert_eq!(text(&n["jurisdiction"]), enc_bytes(jurisdiction.as_slice()));
    assert_eq!(
        n["changes"],
        json!([
            { "kind": "Grant", "burned": "0", "reason": null, "block": granted },
            { "kind": "Revoked", "burned": null, "reason": "left the guild", "block": revoked },
        ])
    );
    let d = data(&indexer, &query(Some(granted))).await;
    assert_eq!(d["authorityNode"]["active"], true, "an authority between grant and revocation");

    // The re-claim: two claims of the job, the second by the second keeper.
    let d = data(
        &indexer,
        &format!(
            "{{ job(id: \"{abandoned}\") {{ status keeper claimCount claimedAtBlock
                 claims(orderBy: block) {{ keeper reclaim previousKeeper }} }}
               marketConfigs {{ id claimTimeout keeperFeeBps guildFeeBps challengeWindow }} }}"
        ),
    )
    .await;
    let j = &d["job"];
    let stored =
        DeliberationMarket::new(market, &chain.deployer).job(abandoned).call().await.unwrap();
    assert_eq!(text(&j["keeper"]), hex(stored.keeper));
    assert_eq!(stored.keeper, deployer);
    assert_eq!(j["status"], "Claimed");
    assert_eq!(j["claimCount"], 2);
    assert_eq!(j["claimedAtBlock"].as_u64(), Some(reclaimed));
    assert_eq!(
        j["claims"],
        json!([
            { "keeper": hex(first_keeper), "reclaim": false, "previousKeeper": null },
            { "keeper": hex(deployer), "reclaim": true, "previousKeeper": hex(first_keeper) },
        ])
    );
    let config = &d["marketConfigs"][0];
    assert_eq!(text(&config["id"]), hex(market));
    for (field, sig) in [
        ("claimTimeout", "claimTimeout()(uint32)"),
        ("keeperFeeBps", "keeperFeeBps()(uint16)"),
        ("guildFeeBps", "guildFeeBps()(uint16)"),
    ] {
        assert_eq!(
            config[field].as_i64().unwrap().to_string(),
            cast_call(&chain, market, sig, &[]),
            "{field}"
        );
    }
    assert_eq!(config["claimTimeout"], 600);
    assert_eq!(
        text(&config["challengeWindow"]),
        cast_call(&chain, market, "challengeWindow()(uint64)", &[])
    );

    // The bounty token: supply, every balance, and every allowance still at its approved maximum
    // (spending lowers an allowance without an Approval event, except from the maximum).
    let bounty = at(nsed_deploy::BOUNTY_TOKEN);
    let d = data(
        &indexer,
        &format!(
            "{{ token(id: \"{}\") {{ contractName totalSupply owner
                 balances(first: 1000) {{ account balance }}
                 allowances(first: 1000) {{ owner spender value }} }} }}",
            hex(bounty)
        ),
    )
    .await;
    let t = &d["token"];
    assert_eq!(t["contractName"], "BountyToken");
    assert_eq!(text(&t["totalSupply"]), cast_call(&chain, bounty, "totalSupply()(uint256)", &[]));
    assert_eq!(
        text(&t["owner"]),
        cast_call(&chain, bounty, "owner()(address)", &[]).to_lowercase()
    );
    let balances = t["balances"].as_array().unwrap();
    assert!(balances.len() >= 6, "requester, players, agents' owner, escrow…: {balances:?}");
    for b in balances {
        let onchain =
            cast_call(&chain, bounty, "balanceOf(address)(uint256)", &[text(&b["account"])]);
        assert_eq!(text(&b["balance"]), onchain, "{b}");
    }
    let allowances = t["allowances"].as_array().unwrap();
    assert!(allowances.len() >= 10, "{allowances:?}");
    let unlimited: Vec<&Value> =
        allowances.iter().filter(|a| a["value"] == U256::MAX.to_string().as_str()).collect();
    assert!(!unlimited.is_empty(), "the fixture approves the maximum: {allowances:?}");
    for a in unlimited {
        let onchain = cast_call(
            &chain,
            bounty,
            "allowance(address,address)(uint256)",
            &[text(&a["owner"]), text(&a["spender"])],
        );
        assert_eq!(onchain, U256::MAX.to_string(), "{a}");
    }

    // Roles: every indexed membership agrees with hasRole, and the new keeper is one.
    let members = all(&indexer, "roleMembers", "contract role account active").await;
    assert!(members.len() > 10, "the suite wires many roles: {}", members.len());
    for m in &members {
        let holds = cast_call(
            &chain,
            text(&m["contract"]).parse().unwrap(),
            "hasRole(bytes32,address)(bool)",
            &[text(&m["role"]), text(&m["account"])],
        );
        assert_eq!(m["active"], holds == "true", "{m}");
    }
    let keeper_id =
        format!("{}-{}-{}", hex(market), enc_bytes(keeper_role.as_slice()), hex(deployer));
    assert!(
        members.iter().any(|m| m["id"] == keeper_id.as_str() && m["active"] == true),
        "the second keeper's role is indexed"
    );
    indexer.shutdown().await.unwrap();
}
