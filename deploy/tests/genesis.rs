//! The tokens' initial balances are a deployment parameter, and outside a dev chain the deployer
//! ends the deployment with no power over either token's supply.

use alloy::{
    primitives::{Address, U256, keccak256},
    providers::DynProvider,
    signers::local::PrivateKeySigner,
};
use nsed_contracts::{bounty_token::BountyToken, guild_token::GuildToken};
use nsed_deploy::{
    Allocation, BOUNTY_TOKEN, DEV_GENESIS_SUPPLY, DeployError, Deployment, GUILD_TOKEN, Genesis,
    SuiteParams, deploy_suite,
};
use nsed_devstack::{Anvil, AnvilConfig, AnvilInstance};

/// An anvil serving `chain_id`, its first account's address and a provider signing as it.
fn chain(chain_id: u64) -> (AnvilInstance, Address, DynProvider) {
    let anvil = Anvil::spawn(AnvilConfig::default().with_chain_id(chain_id)).unwrap();
    let signer: PrivateKeySigner = anvil.accounts()[0].private_key().parse().unwrap();
    let deployer = signer.address();
    let provider =
        nsed_contracts::provider::wallet_provider(anvil.endpoint().parse().unwrap(), signer);
    (anvil, deployer, provider)
}

fn account(anvil: &AnvilInstance, i: usize) -> Address {
    anvil.accounts()[i].address().parse().unwrap()
}

fn whole(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// Asserts that the deployer can mint neither token nor administer the guild token's roles.
async fn assert_deployer_cannot_mint(record: &Deployment, provider: &DynProvider) {
    let deployer = record.deployer;
    let bounty = BountyToken::new(record.address(BOUNTY_TOKEN).unwrap(), provider);
    let err = bounty.mint(deployer, U256::from(1)).call().await.err().expect("bounty mint reverts");
    assert!(
        matches!(
            err.as_decoded_interface_error::<BountyToken::BountyTokenErrors>(),
            Some(BountyToken::BountyTokenErrors::OwnableUnauthorizedAccount(_))
        ),
        "{err}"
    );
    assert_eq!(bounty.owner().call().await.unwrap(), Address::ZERO);

    let guild = GuildToken::new(record.address(GUILD_TOKEN).unwrap(), provider);
    let err = guild.mint(deployer, U256::from(1)).call().await.err().expect("guild mint reverts");
    assert!(
        matches!(
            err.as_decoded_interface_error::<GuildToken::GuildTokenErrors>(),
            Some(GuildToken::GuildTokenErrors::AccessControlUnauthorizedAccount(_))
        ),
        "{err}"
    );
    for role in [keccak256("MINTER_ROLE"), Default::default()] {
        assert!(!guild.hasRole(role, deployer).call().await.unwrap(), "{role}");
    }
}

#[tokio::test]
async fn outside_a_dev_chain_the_genesis_is_the_parameter_and_the_deployer_cannot_mint() {
    let (anvil, deployer, provider) = chain(4242);
    let (a, b, vesting) = (account(&anvil, 1), account(&anvil, 2), account(&anvil, 3));
    let genesis = Genesis {
        guild: vec![
            Allocation { holder: a, amount: 600_000 },
            Allocation { holder: b, amount: 300_000 },
            Allocation { holder: vesting, amount: 100_000 },
        ],
        bounty: vec![Allocation { holder: a, amount: 5_000 }],
    };
    let params = SuiteParams { genesis: genesis.clone(), ..SuiteParams::default() };
    let record = deploy_suite(&provider, deployer, "chain-4242", params, None).await.unwrap();
    assert_eq!(record.params.genesis, genesis);

    let guild = GuildToken::new(record.address(GUILD_TOKEN).unwrap(), &provider);
    for allocation in &genesis.guild {
        let balance = guild.balanceOf(allocation.holder).call().await.unwrap();
        assert_eq!(balance, whole(allocation.amount), "{}", allocation.holder);
    }
    assert_eq!(guild.balanceOf(deployer).call().await.unwrap(), U256::ZERO);
    assert_eq!(guild.totalSupply().call().await.unwrap(), whole(1_000_000));
    let bounty = BountyToken::new(record.address(BOUNTY_TOKEN).unwrap(), &provider);
    assert_eq!(bounty.balanceOf(a).call().await.unwrap(), whole(5_000));
    assert_eq!(bounty.totalSupply().call().await.unwrap(), whole(5_000));
    assert_deployer_cannot_mint(&record, &provider).await;

    // Running the deployment again reuses everything and mints nothing more.
    let again =
        deploy_suite(&provider, deployer, "chain-4242", record.params.clone(), Some(&record))
            .await
            .unwrap();
    assert_eq!(again, record);
    assert_eq!(bounty.totalSupply().call().await.unwrap(), whole(5_000));
}

#[tokio::test]
async fn outside_a_dev_chain_a_deployment_without_a_guild_genesis_is_refused() {
    let (_anvil, deployer, provider) = chain(4242);
    let err = deploy_suite(&provider, deployer, "chain-4242", SuiteParams::default(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, DeployError::NoGenesis { chain_id: 4242 }), "{err}");
}

#[tokio::test]
async fn on_a_dev_chain_the_deployer_gets_the_default_genesis_and_keeps_the_faucet() {
    let (anvil, deployer, provider) = chain(31337);
    let holder = account(&anvil, 4);
    let params = SuiteParams {
        genesis: Genesis { guild: Vec::new(), bounty: vec![Allocation { holder, amount: 7 }] },
        ..SuiteParams::default()
    };
    let record = deploy_suite(&provider, deployer, "local", params, None).await.unwrap();
    assert_eq!(
        record.params.genesis.guild,
        vec![Allocation { holder: deployer, amount: DEV_GENESIS_SUPPLY }]
    );
    let guild = GuildToken::new(record.address(GUILD_TOKEN).unwrap(), &provider);
    assert_eq!(guild.balanceOf(deployer).call().await.unwrap(), whole(DEV_GENESIS_SUPPLY));
    assert!(!guild.hasRole(keccak256("MINTER_ROLE"), deployer).call().await.unwrap());
    let bounty = BountyToken::new(record.address(BOUNTY_TOKEN).unwrap(), &provider);
    assert_eq!(bounty.balanceOf(holder).call().await.unwrap(), whole(7));
    assert_eq!(bounty.owner().call().await.unwrap(), deployer, "the dev faucet stays");
    bounty.mint(holder, U256::from(1)).call().await.unwrap();
}
