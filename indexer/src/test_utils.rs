//! Real-chain fixtures for the indexer's tests and `bench-indexer`: an anvil, the deployed suite
//! (with a keeper granted through the suite's parameters), registered agents, and helpers
//! that request, claim and settle jobs with signed one-round transcripts and play whole arena
//! games, all as real transactions from anvil's dev accounts.
//!
//! Fixture code: it panics (with a message) on anything unexpected, which is what a test wants.

use std::time::Duration;

use alloy::{
    primitives::{Address, Bytes, I256, U256, keccak256},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
    sol_types::SolValue,
};
use nsed_contracts::{
    bounty_token::BountyToken,
    i_deliberation_market::IDeliberationMarket::{self, JobSpec},
    rankify_arena::RankifyArena::{self, GameParams},
    transcript::transcript_from_rounds,
};
pub use nsed_deploy::ARENA;
use nsed_deploy::{BOUNTY_TOKEN, Deployment, MARKET, SuiteParams, deploy_suite};
use nsed_devstack::{Anvil, AnvilConfig, AnvilInstance};
use nsed_protocol::{
    deliberation::Deliberation,
    eip712,
    halting::HaltingConfig,
    quadratic_votes,
    wire::{SignedBallot, SignedProposal},
};

use crate::{Indexer, IndexerConfig, IndexerHandle};

/// Vote credits of fixture jobs and games.
pub const CREDITS: u64 = 100;

/// The input of every fixture job; its `keccak256` is what the market stores and agents sign.
pub const JOB_INPUT: &[u8] = br#"{"shape":[1,4],"values":[0.0,0.5,1.0,0.25]}"#;

/// `confirm!("what", contract.call(..))`: sends the call through [`nsed_contracts::tx::send_call`]
/// and panics on a failure or revert, naming `what` and the decoded revert; returns the receipt.
#[macro_export]
macro_rules! confirm {
    ($what:expr, $call:expr) => {{
        match ::nsed_contracts::tx::send_call($what, $call).await {
            Ok(receipt) => receipt,
            Err(e) => panic!("{e} (revert: {:?})", e.revert().map(|r| r.to_string())),
        }
    }};
}

/// anvil with the suite deployed, three agents registered and a keeper granted.
#[derive(Debug)]
pub struct Chain {
    /// The anvil process (stopped on drop).
    pub anvil: AnvilInstance,
    /// The deployment record.
    pub record: Deployment,
    /// Account 0: deployer, guild, token owner.
    pub deployer: DynProvider,
    /// Account 1: holds KEEPER_ROLE.
    pub keeper: DynProvider,
    /// Account 2: requests jobs.
    pub requester: DynProvider,
    /// Account 2's address.
    pub requester_address: Address,
    /// Agents (accounts 4, 5, 6), sorted by address (the seat order).
    pub agents: Vec<PrivateKeySigner>,
    /// Players (accounts 7, 8, 9), each with its provider.
    pub players: Vec<(PrivateKeySigner, DynProvider)>,
    /// The chain id.
    pub chain_id: u64,
    /// Temporary files (databases).
    pub dir: tempfile::TempDir,
}

impl Chain {
    /// Starts anvil and deploys everything.
    ///
    /// # Panics
    ///
    /// When anvil does not start or a transaction fails.
    pub async fn start() -> Self {
        let anvil = Anvil::spawn(AnvilConfig::default()).expect("anvil starts (source .cache/env)");
        let keys: Vec<PrivateKeySigner> = anvil
            .accounts()
            .iter()
            .map(|a| a.private_key().parse().expect("anvil dev keys parse"))
            .collect();
        let key = |i: usize| keys[i].clone();
        let url: alloy::transports::http::reqwest::Url =
            anvil.endpoint().parse().expect("anvil endpoint is a url");
        let provider = |i: usize| nsed_contracts::provider::wallet_provider(url.clone(), key(i));
        let deployer = provider(0);
        let params = SuiteParams { keepers: vec![key(1).address()], ..SuiteParams::default() };
        let record = deploy_suite(&deployer, key(0).address(), "test", params, None)
            .await
            .expect("suite deploys");
        let chain_id = record.chain_id;
        let market = record.address(MARKET).expect("market");
        let token = record.address(BOUNTY_TOKEN).expect("token");
        let arena = record.address(ARENA).expect("arena");
        let requester = provider(2);
        let bounty = BountyToken::new(token, &deployer);
        let mut players = Vec::new();
        for i in [2usize, 7, 8, 9] {
            let who = key(i).address();
            confirm!("mint", bounty.mint(who, U256::from(10u64).pow(U256::from(30))));
            let own = BountyToken::new(token, provider(i));
            for spender in [market, record.address(nsed_deploy::ESCROW).expect("escrow"), arena] {
                confirm!("approve", own.approve(spender, U256::MAX));
            }
            if i != 2 {
                players.push((key(i), provider(i)));
            }
        }
        let mut agents: Vec<PrivateKeySigner> = (4..7).map(key).collect();
        agents.sort_by_key(PrivateKeySigner::address);
        let market_contract = IDeliberationMarket::new(market, &deployer);
        for agent in &agents {
            confirm!(
                "registerAgent",
                market_contract.registerAgent(
                    agent.address(),
                    keccak256(format!("model of {}", agent.address())),
                    format!("ipfs://agents/{}", agent.address()),
                )
            );
        }
        Self {
            anvil,
            record,
            deployer,
            keeper: provider(1),
            requester,
            requester_address: key(2).address(),
            agents,
            players,
            chain_id,
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// The market's address.
    pub fn market(&self) -> Address {
        self.record.address(MARKET).expect("market")
    }

    /// The arena's address.
    pub fn arena(&self) -> Address {
        self.record.address(ARENA).expect("arena")
    }

    /// An indexer config for this chain with its database in the fixture's directory, listening
    /// on a random port and polling every 50 ms.
    pub fn indexer_config(&self, db: &str) -> IndexerConfig {
        let mut config = IndexerConfig::new(self.anvil.endpoint(), self.record.clone());
        config.db_path = self.dir.path().join(db);
        config.listen = "127.0.0.1:0".parse().expect("address");
        config.poll_interval = Duration::from_millis(50);
        config
    }

    /// Starts an indexer with [`Chain::indexer_config`].
    ///
    /// # Panics
    ///
    /// When it does not start.
    pub async fn indexer(&self, db: &str) -> IndexerHandle {
        Indexer::start(self.indexer_config(db)).await.expect("indexer starts")
    }

    /// The latest block number.
    ///
    /// # Panics
    ///
    /// On RPC failure.
    pub async fn head(&self) -> u64 {
        self.deployer.get_block_number().await.expect("eth_blockNumber")
    }

    /// Requests a job with `bounty` and returns its id.
    ///
    /// # Panics
    ///
    /// When the transaction fails.
    pub async fn request_job(&self, bounty: u64) -> U256 {
        let now = self
            .deployer
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .expect("latest block")
            .expect("a latest block")
            .header
            .timestamp;
        let spec = JobSpec {
            kind: "tensor-f32".into(),
            input: Bytes::from_static(JOB_INPUT),
            agentsWanted: 3,
            maxRounds: 1,
            credits: CREDITS,
            deadline: now + 86_400,
        };
        let market = IDeliberationMarket::new(self.market(), &self.requester);
        let job =
            market.requestJob(spec.clone(), U256::from(bounty)).call().await.expect("requestJob");
        confirm!("requestJob", market.requestJob(spec, U256::from(bounty)));
        job
    }

    /// Claims `job` as the keeper.
    ///
    /// # Panics
    ///
    /// When the transaction fails.
    pub async fn claim_job(&self, job: U256) {
        confirm!("claimJob", IDeliberationMarket::new(self.market(), &self.keeper).claimJob(job));
    }

    /// Settles a claimed `job` (requested with [`Self::request_job`], so its input is
    /// [`JOB_INPUT`]) with a signed one-round deliberation of the three agents in which every
    /// agent answers `answers[seat]` and seat 0 is everyone's favourite.
    ///
    /// # Panics
    ///
    /// When the transcript is refused or the transaction fails.
    pub async fn settle_job(&self, job: U256, answers: [&str; 3]) {
        let seats: Vec<Address> = self.agents.iter().map(PrivateKeySigner::address).collect();
        let domain = eip712::domain(self.chain_id, self.market());
        let halting = HaltingConfig { min_rounds: 1, max_rounds: 1, effort_permille: 600 };
        let input_hash = keccak256(JOB_INPUT);
        let mut d = Deliberation::new(job, input_hash, seats, domain.clone(), CREDITS, halting)
            .expect("deliberation");
        let ctx = d.context();
        for (key, answer) in self.agents.iter().zip(answers) {
            let proposal =
                SignedProposal::sign(key, &domain, &ctx, answer.into()).expect("sign proposal");
            d.accept_proposal(proposal).expect("proposal accepted");
        }
        let set = d.close_proposals().expect("proposals close");
        for (seat, key) in self.agents.iter().enumerate() {
            // Seat 0 is everyone's favourite, so the winner is deterministic.
            let weights: Vec<i32> = (0..3)
                .map(|q| {
                    if q == seat {
                        0
                    } else if q == 0 {
                        80
                    } else {
                        10
                    }
                })
                .collect();
            let votes = quadratic_votes(&weights, seat, &set.proposed(), CREDITS).expect("votes");
            let ballot =
                SignedBallot::sign(key, &domain, &ctx, set.digest, votes).expect("sign ballot");
            d.accept_ballot(ballot).expect("ballot accepted");
        }
        d.close_round().expect("round closes");
        let transcript = transcript_from_rounds(d.seats(), d.rounds());
        confirm!(
            "settleJob",
            IDeliberationMarket::new(self.market(), &self.keeper).settleJob(job, transcript)
        );
    }

    /// Plays a whole one-turn rank-1 game of the three players (create, join, start, commit and
    /// reveal proposals and ballots, advance to the end) and returns its id.
    ///
    /// # Panics
    ///
    /// When a transaction fails.
    pub async fn play_game(&self) -> U256 {
        let arena = self.arena();
        let creator = &self.players[0].1;
        let params = GameParams {
            rank: 1,
            minPlayers: 3,
            maxPlayers: 3,
            turns: 1,
            maxOvertimeTurns: 0,
            voteCredits: u128::from(CREDITS),
            joinDuration: 3600,
            proposingDuration: 60,
            votingDuration: 60,
            revealDuration: 60,
            joinFee: U256::from(10),
            stake: U256::from(100),
            metadataURI: "ipfs://fixture-game".into(),
        };
        let contract = RankifyArena::new(arena, creator);
        let game = contract.createGame(params.clone()).call().await.expect("createGame");
        confirm!("createGame", contract.createGame(params));
        for (_, p) in &self.players {
            confirm!("join", RankifyArena::new(arena, p).join(game));
        }
        confirm!("start", contract.start(game));
        let turn = 1u16;
        let salt = |who: Address, kind: u8| keccak256((who, turn, U256::from(kind)).abi_encode());
        let proposal = |seat: usize| format!("idea of seat {seat}");
        for (seat, (key, p)) in self.players.iter().enumerate() {
            let who = key.address();
            let c = keccak256((game, turn, who, proposal(seat), salt(who, 0)).abi_encode_params());
            confirm!("commitProposal", RankifyArena::new(arena, p).commitProposal(game, turn, c));
        }
        confirm!("advance", contract.advance(game));
        for (seat, (key, p)) in self.players.iter().enumerate() {
            let who = key.address();
            confirm!(
                "revealProposal",
                RankifyArena::new(arena, p).revealProposal(
                    game,
                    turn,
                    proposal(seat),
                    salt(who, 0)
                )
            );
        }
        confirm!("advance", contract.advance(game));
        // Seats 0 and 2 back seat 1; seat 1 backs seat 0.
        let ballots: [[i64; 3]; 3] = [[0, 3, 0], [2, 0, 0], [0, 3, 0]];
        let ballot = |seat: usize| -> Vec<I256> {
            ballots[seat].iter().map(|&v| I256::try_from(v).expect("small")).collect()
        };
        // Seats follow join order, which is the players' order.
        for (seat, (key, p)) in self.players.iter().enumerate() {
            let who = key.address();
            let c = keccak256((game, turn, who, ballot(seat), salt(who, 1)).abi_encode_params());
            confirm!("commitVote", RankifyArena::new(arena, p).commitVote(game, turn, c));
        }
        confirm!("advance", contract.advance(game));
        for (seat, (key, p)) in self.players.iter().enumerate() {
            let who = key.address();
            confirm!(
                "revealVote",
                RankifyArena::new(arena, p).revealVote(game, turn, ballot(seat), salt(who, 1))
            );
        }
        confirm!("advance", contract.advance(game));
        game
    }

    /// Calls a JSON-RPC method with raw JSON params (anvil's `evm_snapshot`, `evm_mine`, …).
    ///
    /// # Panics
    ///
    /// On RPC failure.
    pub async fn rpc(&self, method: &'static str, params: serde_json::Value) -> serde_json::Value {
        self.deployer
            .raw_request::<_, serde_json::Value>(method.into(), params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }
}

/// POSTs a GraphQL query to `url` and returns the whole JSON response (`data` and `errors`).
///
/// # Panics
///
/// When the server does not answer JSON.
pub async fn graphql(url: &str, query: &str) -> serde_json::Value {
    let body = serde_json::json!({ "query": query }).to_string();
    post(url, body).await.1
}

/// POSTs `body` to `url`; returns the status and the JSON answer.
///
/// # Panics
///
/// When the server does not answer JSON.
pub async fn post(url: &str, body: String) -> (u16, serde_json::Value) {
    let client = alloy::transports::http::reqwest::Client::new();
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("graphql request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("graphql body");
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")))
}
