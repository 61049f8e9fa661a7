//! Deploying twice on a real anvil reuses what is there; changed parameters redeploy.

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::{providers::Provider, signers::local::PrivateKeySigner};
use nsed_contracts::{
    deliberation_market::DeliberationMarket, guild_timelock::GuildTimelock,
    lat_converter::LatConverter, liquid_access_token::LiquidAccessToken,
    rankify_arena::RankifyArena, tripartite_escrow::TripartiteEscrow,
};
use nsed_deploy::{
    AGENT_REGISTRY, ARENA, AUTHORITY, CONVERTER, Deployment, ESCROW, GOVERNOR, GUILD_TOKEN, LAT,
    MARKET, RANK_TOKEN, SuiteParams, TIMELOCK, deploy_suite,
};
use nsed_devstack::{Anvil, AnvilConfig};

#[tokio::test]
async fn deploying_again_reuses_the_suite_and_the_record_round_trips() {
    let anvil = Anvil::spawn(AnvilConfig::default()).unwrap();
    let signer: PrivateKeySigner = anvil.accounts()[0].private_key().parse().unwrap();
    let deployer = signer.address();
    let provider =
        nsed_contracts::provider::wallet_provider(anvil.endpoint().parse().unwrap(), signer);

    let first =
        deploy_suite(&provider, deployer, "local", SuiteParams::default(), None).await.unwrap();
    assert_eq!(first.chain_id, 31337);
    assert_eq!(first.contracts.len(), 12);
    assert!(first.pending.is_empty(), "{:?}", first.pending);
    for record in first.contracts.values() {
        assert!(!provider.get_code_at(record.address).await.unwrap().is_empty());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = Deployment::path(dir.path(), "local");
    first.save(&path).unwrap();
    let loaded = Deployment::load(&path).unwrap();
    assert_eq!(loaded, first);

    let block = provider.get_block_number().await.unwrap();
    let second = deploy_suite(&provider, deployer, "local", SuiteParams::default(), Some(&loaded))
        .await
        .unwrap();
    assert_eq!(second, first, "nothing changed, nothing redeployed");
    assert_eq!(provider.get_block_number().await.unwrap(), block, "no transaction was sent");

    // A changed market parameter redeploys the market but reuses the rank token. The guild owns
    // the suite by now, so the new market's roles are left to governance, and recorded as such.
    let params = SuiteParams { keeper_fee_bps: 300, ..SuiteParams::default() };
    let third = deploy_suite(&provider, deployer, "local", params, Some(&second)).await.unwrap();
    let market = third.address(MARKET).unwrap();
    assert_ne!(market, first.address(MARKET).unwrap());
    assert_eq!(third.address(RANK_TOKEN).unwrap(), first.address(RANK_TOKEN).unwrap());
    assert_eq!(third.address(AGENT_REGISTRY).unwrap(), first.address(AGENT_REGISTRY).unwrap());
    let pending: Vec<&str> = third.pending.iter().map(|c| c.what.as_str()).collect();
    assert_eq!(pending.len(), 3, "{pending:?}");
    assert!(
        pending[0].starts_with("RankToken.grantRole(")
            && pending[0].ends_with(&format!("{market})"))
    );
    assert!(pending[1].starts_with("LiquidAccessToken.grantRole("), "{pending:?}");
    assert!(
        pending[2].starts_with("AgentRegistry.grantRole(")
            && pending[2].ends_with(&format!("{market})")),
        "{pending:?}"
    );
}

#[tokio::test]
async fn the_bootstrap_wires_the_suite_and_leaves_the_guild_timelock_in_charge() {
    let anvil = Anvil::spawn(AnvilConfig::default()).unwrap();
    let signer: PrivateKeySigner = anvil.accounts()[0].private_key().parse().unwrap();
    let deployer = signer.address();
    let keeper = anvil.accounts()[1].address().parse::<Address>().unwrap();
    let provider =
        nsed_contracts::provider::wallet_provider(anvil.endpoint().parse().unwrap(), signer);
    let params = SuiteParams {
        keepers: vec![keeper],
        require_authority_keepers: true,
        // 0.1 token, ten times the default.
        arena_min_join_fee: U256::from(10u64).pow(U256::from(17)),
        ..SuiteParams::default()
    };
    let record = deploy_suite(&provider, deployer, "local", params.clone(), None).await.unwrap();
    let at = |name: &str| record.address(name).unwrap();
    let (timelock, governor, market) = (at(TIMELOCK), at(GOVERNOR), at(MARKET));
    let has = |target: Address, role: &str, account: Address| {
        let provider = &provider;
        let role = if role.is_empty() { B256::ZERO } else { keccak256(role) };
        async move {
            LiquidAccessToken::new(target, provider).hasRole(role, account).call().await.unwrap()
        }
    };
    for game in [market, at(ARENA)] {
        assert!(has(at(RANK_TOKEN), "GAME_ROLE", game).await);
        assert!(has(at(LAT), "MINTER_ROLE", game).await);
    }
    assert!(has(at(GUILD_TOKEN), "MINTER_ROLE", at(CONVERTER)).await);
    assert!(has(at(AGENT_REGISTRY), "SLASHER_ROLE", market).await);
    assert!(has(market, "KEEPER_ROLE", keeper).await);
    for role in ["PROPOSER_ROLE", "CANCELLER_ROLE"] {
        assert!(has(timelock, role, governor).await);
        assert!(!has(timelock, role, deployer).await, "the deployer keeps no {role}");
    }
    // The timelock administers every contract; the deployer administers none.
    for name in [RANK_TOKEN, LAT, GUILD_TOKEN, MARKET, AUTHORITY, AGENT_REGISTRY, CONVERTER] {
        assert!(has(at(name), "", timelock).await, "{name}");
        assert!(!has(at(name), "", deployer).await, "{name}");
    }
    let delay = GuildTimelock::new(timelock, &provider).getMinDelay().call().await.unwrap();
    assert_eq!(delay, U256::from(params.governance.timelock_delay));
    // Only the arena's access tokens convert into guild votes.
    let converter = LatConverter::new(at(CONVERTER), &provider);
    let asset = nsed_contracts::lat::asset_of;
    assert!(converter.isConvertible(asset(at(ARENA))).call().await.unwrap());
    assert!(!converter.isConvertible(asset(market)).call().await.unwrap());
    let market_contract = DeliberationMarket::new(market, &provider);
    assert_eq!(market_contract.guild().call().await.unwrap(), timelock);
    assert_eq!(market_contract.keeperAuthority().call().await.unwrap(), at(AUTHORITY));
    assert_eq!(market_contract.agentRegistry().call().await.unwrap(), at(AGENT_REGISTRY));
    let agents = nsed_contracts::agent_registry::AgentRegistry::new(at(AGENT_REGISTRY), &provider);
    assert_eq!(agents.minBond().call().await.unwrap(), params.agents.min_bond);
    assert_eq!(agents.token().call().await.unwrap(), at(nsed_deploy::BOUNTY_TOKEN));
    let escrow = TripartiteEscrow::new(at(ESCROW), &provider);
    assert_eq!(escrow.resolver().call().await.unwrap(), timelock);
    let arena = RankifyArena::new(at(ARENA), &provider);
    let (_, _, treasury) = arena.config().call().await.unwrap().into();
    assert_eq!(treasury, timelock);
    assert_eq!(arena.minJoinFeeUnit().call().await.unwrap(), params.arena_min_join_fee);
    assert_eq!(record.contracts[ARENA].args.last().unwrap(), "100000000000000000");
    assert_eq!(record.params.arena_min_join_fee, params.arena_min_join_fee);
}

#[tokio::test]
async fn a_stale_record_from_an_earlier_dev_chain_is_not_reused() {
    // Two fresh anvils with the same deployer put different suite contracts at the same
    // addresses only if a record is trusted blindly; a record from the first must not make the
    // second "reuse" whatever code now sits at a recorded address.
    let old = Anvil::spawn(AnvilConfig::default()).unwrap();
    let signer: PrivateKeySigner = old.accounts()[0].private_key().parse().unwrap();
    let deployer = signer.address();
    let provider =
        nsed_contracts::provider::wallet_provider(old.endpoint().parse().unwrap(), signer.clone());
    let mut stale =
        deploy_suite(&provider, deployer, "local", SuiteParams::default(), None).await.unwrap();
    drop(old);
    // Pretend the bounty token had been deployed first: its recorded address now holds the
    // timelock on the new chain.
    let first_address = stale.address(TIMELOCK).unwrap();
    stale.contracts.get_mut(nsed_deploy::BOUNTY_TOKEN).unwrap().address = first_address;
    let new = Anvil::spawn(AnvilConfig::default()).unwrap();
    let provider =
        nsed_contracts::provider::wallet_provider(new.endpoint().parse().unwrap(), signer);
    let fresh = deploy_suite(&provider, deployer, "local", SuiteParams::default(), Some(&stale))
        .await
        .unwrap();
    let token = fresh.address(nsed_deploy::BOUNTY_TOKEN).unwrap();
    assert_ne!(token, first_address);
    assert_eq!(fresh.address(TIMELOCK).unwrap(), first_address);
    for record in fresh.contracts.values() {
        let receipt =
            provider.get_transaction_receipt(record.transaction_hash).await.unwrap().unwrap();
        assert_eq!(receipt.contract_address, Some(record.address));
    }
}

#[tokio::test]
async fn a_record_for_another_chain_is_refused() {
    let anvil = Anvil::spawn(AnvilConfig::default()).unwrap();
    let signer: PrivateKeySigner = anvil.accounts()[0].private_key().parse().unwrap();
    let deployer = signer.address();
    let provider =
        nsed_contracts::provider::wallet_provider(anvil.endpoint().parse().unwrap(), signer);
    let mut record =
        deploy_suite(&provider, deployer, "local", SuiteParams::default(), None).await.unwrap();
    record.chain_id = 1;
    let err = deploy_suite(&provider, deployer, "local", SuiteParams::default(), Some(&record))
        .await
        .unwrap_err();
    assert!(matches!(err, nsed_deploy::DeployError::WrongChain { record: 1, rpc: 31337 }), "{err}");
}

#[test]
fn a_malformed_record_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, "{ not json").unwrap();
    let err = Deployment::load(&path).unwrap_err();
    assert!(err.to_string().contains("broken.json"), "{err}");
}
