//! Deploying twice on a real anvil reuses what is there; changed parameters redeploy.

use alloy::{providers::Provider, signers::local::PrivateKeySigner};
use nsed_deploy::{Deployment, MARKET, RANK_TOKEN, SuiteParams, deploy_suite};
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
    assert_eq!(first.contracts.len(), 4);
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

    // A changed market parameter redeploys the market but reuses the rank token.
    let params = SuiteParams { keeper_fee_bps: 300, ..SuiteParams::default() };
    let third = deploy_suite(&provider, deployer, "local", params, Some(&second)).await.unwrap();
    assert_ne!(third.address(MARKET).unwrap(), first.address(MARKET).unwrap());
    assert_eq!(third.address(RANK_TOKEN).unwrap(), first.address(RANK_TOKEN).unwrap());
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
