//! The keeper library against real anvil and nats-server: following the market through a reorg,
//! claims decided by the market's decoded reverts, refunds of jobs nobody settles, and the
//! service shape (`/health`, `/metrics`, a clean stop). Deliberations with real agents run end to
//! end in `cli/tests`, the one crate that depends on both the keeper and the worker.

mod claim;
mod refund;
mod reorg;
mod service;
mod settle;

use std::time::Duration;

use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use nsed_bus::NatsConnect;
use nsed_contracts::{
    bounty_token::BountyToken,
    i_deliberation_market::{
        IDeliberationMarket::{self, JobSpec},
        JobStatus,
    },
};
use nsed_deploy::{BOUNTY_TOKEN, Deployment, MARKET, SuiteParams, deploy_suite};
use nsed_devstack::{Anvil, AnvilConfig, AnvilInstance, NatsConfig, NatsInstance, NatsServer};
use nsed_keeper::{Keeper, KeeperConfig, KeeperError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Anvil with the suite deployed (two keepers granted), a JetStream nats-server, and bonded
/// agents in the registry (registered, but no worker answers for them).
pub(crate) struct Stack {
    pub(crate) anvil: AnvilInstance,
    pub(crate) nats: NatsInstance,
    pub(crate) record: Deployment,
    pub(crate) market: Address,
    pub(crate) token: Address,
    pub(crate) deployer: DynProvider,
    pub(crate) requester: DynProvider,
    pub(crate) requester_address: Address,
    pub(crate) keeper_key: PrivateKeySigner,
    /// A second granted keeper, competing for the same jobs.
    pub(crate) rival_key: PrivateKeySigner,
    /// The registered agents' keys.
    pub(crate) agents: Vec<PrivateKeySigner>,
    pub(crate) db: tempfile::TempDir,
}

impl Stack {
    pub(crate) async fn start() -> Self {
        Self::with_agents(3).await
    }

    /// The stack with `agents` bonded agents in the registry (with none, the keeper never
    /// claims: the market would refuse to draw seats).
    pub(crate) async fn with_agents(agents: usize) -> Self {
        let anvil = Anvil::spawn(AnvilConfig::default()).unwrap();
        let nats = NatsServer::spawn(NatsConfig::default()).unwrap();
        let key = |i: usize| anvil.accounts()[i].private_key().parse::<PrivateKeySigner>().unwrap();
        let (deployer_key, keeper_key, requester_key, rival_key) = (key(0), key(1), key(2), key(3));
        let deployer = nsed_contracts::provider::wallet_provider(
            anvil.endpoint().parse().unwrap(),
            deployer_key.clone(),
        );
        let requester = nsed_contracts::provider::wallet_provider(
            anvil.endpoint().parse().unwrap(),
            requester_key.clone(),
        );
        let params = SuiteParams {
            challenge_window: 60,
            keepers: vec![keeper_key.address(), rival_key.address()],
            ..SuiteParams::default()
        };
        let record =
            deploy_suite(&deployer, deployer_key.address(), "keeper", params, None).await.unwrap();
        // Claims draw seats from the registry's pool: three bonded agents, owned by the deployer.
        let owner = nsed_client::AgentOwner::new(deployer.clone(), deployer_key.address(), &record)
            .unwrap();
        let bond = owner.min_bond().await.unwrap();
        owner.fund(&deployer, bond * U256::from(agents)).await.unwrap();
        let agents: Vec<PrivateKeySigner> =
            (0..agents).map(|_| PrivateKeySigner::random()).collect();
        for agent in &agents {
            owner.register(agent, Default::default(), "nsed://model/none", bond).await.unwrap();
        }
        let market = record.address(MARKET).unwrap();
        let token = record.address(BOUNTY_TOKEN).unwrap();
        Self {
            anvil,
            nats,
            record,
            market,
            token,
            deployer,
            requester,
            requester_address: requester_key.address(),
            keeper_key,
            rival_key,
            agents,
            db: tempfile::tempdir().unwrap(),
        }
    }

    /// A provider signing as `key`.
    pub(crate) fn provider_for(&self, key: &PrivateKeySigner) -> DynProvider {
        nsed_contracts::provider::wallet_provider(
            self.anvil.endpoint().parse().unwrap(),
            key.clone(),
        )
    }

    /// A provider signing as the keeper that counts every JSON-RPC request it sends, by method.
    pub(crate) fn counted_keeper_provider(
        &self,
    ) -> (DynProvider, std::sync::Arc<nsed_contracts::rpc_count::RpcCounts>) {
        let counts = std::sync::Arc::new(nsed_contracts::rpc_count::RpcCounts::default());
        let provider = nsed_contracts::provider::wallet_provider_through(
            self.anvil.endpoint().parse().unwrap(),
            [],
            self.keeper_key.clone(),
            nsed_contracts::rpc_count::CountRequests(counts.clone()),
        );
        (provider, counts)
    }

    /// Starts this stack's keeper, serving `/health` and `/metrics` on `metrics_addr` if given.
    pub(crate) fn keeper_with(
        &self,
        phase_timeout: Duration,
        metrics_addr: Option<std::net::SocketAddr>,
    ) -> (CancellationToken, JoinHandle<Result<(), KeeperError>>) {
        let mut config = KeeperConfig::new(
            self.anvil.endpoint(),
            NatsConnect::new(self.nats.url()),
            self.market,
        );
        config.start_block = self.record.start_block;
        config.db_path = self.db.path().join("keeper.sqlite");
        config.poll_interval = Duration::from_millis(100);
        config.phase_timeout = phase_timeout;
        config.metrics_addr = metrics_addr;
        let token = CancellationToken::new();
        let handle = tokio::spawn(Keeper::new(config, self.keeper_key.clone()).run(token.clone()));
        (token, handle)
    }

    /// Moves the chain's clock `seconds` ahead and mines a block at the new time.
    pub(crate) async fn advance(&self, seconds: u64) {
        let increase = self
            .deployer
            .raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (seconds,));
        step("evm_increaseTime", increase).await.unwrap();
        let mine = self.deployer.raw_request::<_, serde_json::Value>("evm_mine".into(), ());
        step("evm_mine", mine).await.unwrap();
    }

    pub(crate) async fn now(&self) -> u64 {
        self.deployer
            .get_block_by_number(Default::default())
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp
    }

    /// Requests a job classifying `values` with a bounty of 1 token; returns the job id.
    pub(crate) async fn request(&self, values: &[f32], deadline_in: u64) -> U256 {
        let bounty = U256::from(10u64).pow(U256::from(18));
        BountyToken::new(self.token, &self.deployer)
            .mint(self.requester_address, bounty)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        BountyToken::new(self.token, &self.requester)
            .approve(self.market, bounty)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let input = serde_json::json!({"shape": [values.len()], "values": values});
        let spec = JobSpec {
            kind: "tensor-f32".into(),
            input: serde_json::to_vec(&input).unwrap().into(),
            agentsWanted: 3,
            maxRounds: 3,
            credits: 100,
            deadline: self.now().await + deadline_in,
        };
        let receipt = IDeliberationMarket::new(self.market, &self.requester)
            .requestJob(spec, bounty)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| IDeliberationMarket::JobRequested::decode_log(&log.inner).ok())
            .unwrap()
            .jobId
    }

    /// The keeper account's nonce: how many transactions it has had mined.
    pub(crate) async fn keeper_nonce(&self) -> u64 {
        let count = self.deployer.get_transaction_count(self.keeper_key.address());
        step("eth_getTransactionCount", count).await.unwrap()
    }

    pub(crate) async fn status(&self, job_id: U256) -> JobStatus {
        let raw = IDeliberationMarket::new(self.market, &self.deployer)
            .jobStatus(job_id)
            .call()
            .await
            .unwrap();
        JobStatus::try_from(raw).unwrap()
    }
}

/// A 64-value input that differs per `row`, standing in for a held-out digit.
pub(crate) fn row(row: usize) -> Vec<f32> {
    (0..64).map(|i| (row * 64 + i) as f32 / 16.0).collect()
}

/// One plain HTTP/1.1 GET; the server closes the connection after answering.
pub(crate) async fn http_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    socket
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).await.unwrap();
    response
}

pub(crate) async fn rpc(
    stack: &Stack,
    method: &'static str,
    params: serde_json::Value,
) -> serde_json::Value {
    stack.deployer.raw_request::<_, serde_json::Value>(method.into(), params).await.unwrap()
}

/// Awaits `fut`, failing the test with `what` if it takes longer than 30 s.
pub(crate) async fn step<T>(what: &str, fut: impl std::future::IntoFuture<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), fut.into_future())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within 30 s"))
}
