//! The requester wallet against a real anvil: jobs funded and requested get consecutive ids and
//! open escrow deals, waiting for settlements nobody makes ends with the jobs still pending, and a
//! record without the market is refused up front. Settled jobs (a keeper and agents) are covered
//! end to end in `cli/tests/it/e2e.rs` and by `nsed up`.

use std::time::Duration;

use alloy::{
    primitives::{Address, U256},
    providers::DynProvider,
    signers::local::PrivateKeySigner,
};
use nsed_client::{ClientError, JobRequest, ONE_TOKEN, Requester};
use nsed_contracts::i_deliberation_market::{IDeliberationMarket, JobStatus};
use nsed_deploy::{DeployError, Deployment, SuiteParams, deploy_suite};
use nsed_devstack::{Anvil, AnvilConfig, AnvilInstance};

struct Chain {
    _anvil: AnvilInstance,
    deployer: DynProvider,
    requester: Requester<DynProvider>,
}

async fn chain() -> Chain {
    let anvil = Anvil::spawn(AnvilConfig::default()).unwrap();
    let key = |i: usize| anvil.accounts()[i].private_key().parse::<PrivateKeySigner>().unwrap();
    let (deployer_key, requester_key) = (key(0), key(2));
    let url: alloy::transports::http::reqwest::Url = anvil.endpoint().parse().unwrap();
    let deployer = nsed_contracts::provider::wallet_provider(url.clone(), deployer_key.clone());
    let record =
        deploy_suite(&deployer, deployer_key.address(), "client", SuiteParams::default(), None)
            .await
            .unwrap();
    let as_requester = nsed_contracts::provider::wallet_provider(url, requester_key.clone());
    let requester = Requester::new(as_requester, requester_key.address(), record).unwrap();
    Chain { _anvil: anvil, deployer, requester }
}

fn digit_job() -> JobRequest {
    let input = br#"{"shape":[64],"values":[0.0]}"#.to_vec();
    JobRequest::new("tensor-f32", input)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn funded_requests_open_jobs_with_consecutive_ids() {
    let c = chain().await;
    c.requester.fund(&c.deployer, ONE_TOKEN * U256::from(2)).await.unwrap();
    let first = c.requester.request_job(&digit_job()).await.unwrap();
    let second = c.requester.request_job(&digit_job()).await.unwrap();
    assert_eq!((first, second), (U256::from(1), U256::from(2)));
    let market = IDeliberationMarket::new(c.requester.market(), c.requester.provider());
    let status = JobStatus::try_from(market.jobStatus(second).call().await.unwrap()).unwrap();
    assert_eq!(status, JobStatus::Requested);
    assert!(c.requester.settlements().await.unwrap().is_empty());
    // Nobody has won anything yet: every agent holds no access token.
    let lats = c.requester.lats(&[Address::repeat_byte(7)]).await.unwrap();
    assert!(lats[0].1.iter().all(U256::is_zero), "{lats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_an_approved_bounty_fails_as_a_transaction() {
    let c = chain().await;
    let err = c.requester.request_job(&digit_job()).await.unwrap_err();
    assert!(matches!(err, ClientError::Tx(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_jobs_nobody_settles_ends_with_them_pending() {
    let c = chain().await;
    c.requester.fund(&c.deployer, ONE_TOKEN).await.unwrap();
    let job = c.requester.request_job(&digit_job()).await.unwrap();
    let mut looks = 0;
    let err = c
        .requester
        .wait_settled(&[job], Duration::from_millis(300), |found| {
            looks += 1;
            assert!(found.iter().all(Option::is_none));
        })
        .await
        .unwrap_err();
    assert!(looks >= 1);
    match err {
        ClientError::NotSettled { pending, .. } => assert_eq!(pending, vec![job]),
        other => panic!("expected NotSettled, got {other:?}"),
    }
}

#[test]
fn a_record_without_the_market_is_refused() {
    let url = "http://127.0.0.1:1".parse().unwrap();
    let provider = nsed_contracts::provider::wallet_provider(url, PrivateKeySigner::random());
    let err = Requester::new(provider, Address::ZERO, Deployment::default()).unwrap_err();
    assert!(matches!(err, ClientError::Deployment(DeployError::Missing { .. })), "{err:?}");
}
