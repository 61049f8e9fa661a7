//! Real-chain fixtures for the indexer's tests and `bench-indexer`: an anvil, the deployed suite
//! (with a keeper granted through the suite's parameters), agents registered and bonded in the
//! agent registry, and helpers that request, claim (seats drawn on chain) and settle jobs with
//! signed transcripts that halt where the market's halting rule does, report equivocations, and
//! play whole arena games, all as real transactions from anvil's dev accounts.
//!
//! Fixture code: it panics (with a message) on anything unexpected, which is what a test wants.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use alloy::{
    primitives::{Address, B256, Bytes, I256, U256, keccak256},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
    sol_types::SolValue,
};
use nsed_contracts::{
    agent_registry::AgentRegistry,
    bounty_token::BountyToken,
    deliberation_market::DeliberationMarket,
    i_deliberation_market::IDeliberationMarket::{self, JobSpec, ProposalClaim},
    market::{job_halting_config, seats_from_logs},
    rankify_arena::RankifyArena::{self, GameParams},
    transcript::transcript_from_rounds,
};
pub use nsed_deploy::ARENA;
use nsed_deploy::{AGENT_REGISTRY, BOUNTY_TOKEN, Deployment, MARKET, SuiteParams, deploy_suite};
use nsed_devstack::{
    Anvil, AnvilConfig, AnvilInstance, Postgres, PostgresConfig, PostgresInstance,
};
use nsed_protocol::{
    deliberation::Deliberation,
    eip712::{self, RoundContext},
    quadratic_votes,
    wire::{SignedBallot, SignedProposal},
};

use rusqlite::types::Value as Sql;

use crate::{Indexer, IndexerConfig, IndexerHandle};

/// Vote credits of fixture jobs and games.
pub const CREDITS: u64 = 100;

/// Most rounds of a fixture job; where it stops is the market's halting rule's decision.
pub const MAX_ROUNDS: u8 = 3;

/// Gas limit of fixture transactions whose cost depends on the block they are mined in, well
/// above what they cost in any: a claim's seat draw depends on the block's prevrandao, and an
/// arena `advance` costs less when the phase it opens gets the deadline the last one had (a
/// storage write of an unchanged value). An estimate against the pending block can fall short.
const BLOCK_DEPENDENT_GAS: u64 = 1_000_000;

/// How often fixture providers poll anvil for receipts.
const RECEIPT_POLL: Duration = Duration::from_millis(5);

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

/// The model id a fixture agent registers with.
pub fn model_of(agent: Address) -> B256 {
    keccak256(format!("model of {agent}"))
}

/// The metadata URI a fixture agent registers with.
pub fn metadata_of(agent: Address) -> String {
    format!("ipfs://agents/{agent}")
}

/// Which store the fixture's indexers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A SQLite file in the fixture's temporary directory.
    Sqlite,
    /// A database on a throwaway PostgreSQL server the fixture starts ([`Postgres`]).
    Postgres,
}

/// anvil with the suite deployed, three agents registered and bonded, and a keeper granted.
#[derive(Debug)]
pub struct Chain {
    /// The store its indexers use.
    pub store: StoreKind,
    /// The PostgreSQL server, with [`StoreKind::Postgres`].
    pub postgres: Option<PostgresInstance>,
    /// PostgreSQL databases created so far, by the name tests give them.
    databases: Mutex<HashMap<String, String>>,
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
    /// Account 3: registered the agents and paid their bonds (their owner).
    pub agent_owner: DynProvider,
    /// Account 3's address.
    pub agent_owner_address: Address,
    /// Agents (accounts 4, 5, 6), sorted by address (the seat order of a job seating all three),
    /// each bonded with the registry's `minBond`.
    pub agents: Vec<PrivateKeySigner>,
    /// Players (accounts 7, 8, 9), each with its provider.
    pub players: Vec<(PrivateKeySigner, DynProvider)>,
    /// The chain id.
    pub chain_id: u64,
    /// Temporary files (databases).
    pub dir: tempfile::TempDir,
    /// The seats drawn for each job claimed with [`Chain::claim_job`].
    drawn: Mutex<HashMap<U256, Vec<Address>>>,
}

impl Chain {
    /// Starts anvil and deploys everything.
    ///
    /// # Panics
    ///
    /// When anvil does not start or a transaction fails.
    pub async fn start() -> Self {
        Self::start_on(StoreKind::Sqlite).await
    }

    /// Starts anvil (and, for [`StoreKind::Postgres`], a throwaway PostgreSQL server) and deploys
    /// everything.
    ///
    /// # Panics
    ///
    /// When anvil or PostgreSQL does not start or a transaction fails.
    pub async fn start_on(store: StoreKind) -> Self {
        let postgres = match store {
            StoreKind::Sqlite => None,
            StoreKind::Postgres => Some(
                tokio::task::spawn_blocking(|| Postgres::spawn(PostgresConfig::default()))
                    .await
                    .expect("postgres spawn task")
                    .expect("postgres starts (scripts/setup.sh installs it)"),
            ),
        };
        let anvil = Anvil::spawn(AnvilConfig::default()).expect("anvil starts (source .cache/env)");
        let keys: Vec<PrivateKeySigner> = anvil
            .accounts()
            .iter()
            .map(|a| a.private_key().parse().expect("anvil dev keys parse"))
            .collect();
        let key = |i: usize| keys[i].clone();
        let url: alloy::transports::http::reqwest::Url =
            anvil.endpoint().parse().expect("anvil endpoint is a url");
        let provider = |i: usize| {
            let p = nsed_contracts::provider::wallet_provider(url.clone(), key(i));
            // anvil mines each transaction at once; alloy's 250 ms default for local nodes would
            // make every fixture transaction wait that long for its receipt.
            p.client().set_poll_interval(RECEIPT_POLL);
            p
        };
        let deployer = provider(0);
        let params = SuiteParams { keepers: vec![key(1).address()], ..SuiteParams::default() };
        let record = deploy_suite(&deployer, key(0).address(), "test", params, None)
            .await
            .expect("suite deploys");
        let chain_id = record.chain_id;
        let market = record.address(MARKET).expect("market");
        let token = record.address(BOUNTY_TOKEN).expect("token");
        let arena = record.address(ARENA).expect("arena");
        let registry = record.address(AGENT_REGISTRY).expect("agent registry");
        let requester = provider(2);
        let bounty = BountyToken::new(token, &deployer);
        let mut players = Vec::new();
        for i in [2usize, 3, 7, 8, 9] {
            let who = key(i).address();
            confirm!("mint", bounty.mint(who, U256::from(10u64).pow(U256::from(30))));
            let own = BountyToken::new(token, provider(i));
            let spenders = if i == 3 {
                vec![registry]
            } else {
                vec![market, record.address(nsed_deploy::ESCROW).expect("escrow"), arena]
            };
            for spender in spenders {
                confirm!("approve", own.approve(spender, U256::MAX));
            }
            if i >= 7 {
                players.push((key(i), provider(i)));
            }
        }
        let mut agents: Vec<PrivateKeySigner> = (4..7).map(key).collect();
        agents.sort_by_key(PrivateKeySigner::address);
        let chain = Self {
            store,
            postgres,
            databases: Mutex::new(HashMap::new()),
            anvil,
            record,
            deployer,
            keeper: provider(1),
            requester,
            requester_address: key(2).address(),
            agent_owner: provider(3),
            agent_owner_address: key(3).address(),
            agents,
            players,
            chain_id,
            dir: tempfile::tempdir().expect("temporary directory"),
            drawn: Mutex::new(HashMap::new()),
        };
        let min_bond =
            AgentRegistry::new(registry, &chain.deployer).minBond().call().await.expect("minBond");
        for agent in &chain.agents {
            chain.register_agent(agent, min_bond).await;
        }
        chain
    }

    /// The market's address.
    pub fn market(&self) -> Address {
        self.record.address(MARKET).expect("market")
    }

    /// The agent registry's address.
    pub fn registry(&self) -> Address {
        self.record.address(AGENT_REGISTRY).expect("agent registry")
    }

    /// The arena's address.
    pub fn arena(&self) -> Address {
        self.record.address(ARENA).expect("arena")
    }

    /// The agent registry as the agents' owner uses it.
    pub fn registry_as_owner(&self) -> AgentRegistry::AgentRegistryInstance<&DynProvider> {
        AgentRegistry::new(self.registry(), &self.agent_owner)
    }

    /// Registers `key`'s agent with `bond` from the agents' owner (who holds and approved the
    /// bounty token): the agent key signs its consent to this owner, model ([`model_of`]) and
    /// metadata URI ([`metadata_of`]).
    ///
    /// # Panics
    ///
    /// When the registry refuses it.
    pub async fn register_agent(&self, key: &PrivateKeySigner, bond: U256) {
        let agent = key.address();
        let (model_id, metadata_uri) = (model_of(agent), metadata_of(agent));
        let domain = eip712::registry_domain(self.chain_id, self.registry());
        let hash = eip712::registration_hash(
            &domain,
            agent,
            self.agent_owner_address,
            model_id,
            &metadata_uri,
        );
        let signature = eip712::sign(key, hash).expect("the agent signs its registration");
        confirm!(
            "register",
            self.registry_as_owner().register(
                agent,
                model_id,
                metadata_uri,
                bond,
                Bytes::from(signature.as_bytes())
            )
        );
    }

    /// An indexer config for this chain with its database in the fixture's directory, listening
    /// on a random port and polling every 50 ms.
    pub fn indexer_config(&self, db: &str) -> IndexerConfig {
        let mut config = IndexerConfig::new(self.anvil.endpoint(), self.record.clone());
        config.db_path = self.db_setting(db);
        config.listen = "127.0.0.1:0".parse().expect("address");
        config.poll_interval = Duration::from_millis(50);
        config
    }

    /// The `db_path` setting of the database tests call `db`: a file in the fixture's directory,
    /// or (with PostgreSQL) the URL of a database created on first use.
    ///
    /// # Panics
    ///
    /// When the database cannot be created.
    pub fn db_setting(&self, db: &str) -> std::path::PathBuf {
        let Some(pg) = &self.postgres else { return self.dir.path().join(db) };
        let mut databases = self.databases.lock().expect("databases lock");
        let url = databases.entry(db.to_string()).or_insert_with(|| {
            let name: String = db
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
                .collect();
            pg.create_database(&format!("idx_{name}")).expect("createdb")
        });
        std::path::PathBuf::from(url.clone())
    }

    /// Every (block, log index) the indexer stored in database `db`, in order.
    ///
    /// # Panics
    ///
    /// When the database cannot be read.
    pub async fn stored_logs(&self, db: &str) -> Vec<(u64, u64)> {
        let rows = self
            .read(db, "SELECT block_number, log_index FROM logs ORDER BY block_number, log_index")
            .await;
        rows.iter()
            .map(|r| match (&r[0], &r[1]) {
                (Sql::Integer(b), Sql::Integer(i)) => {
                    (u64::try_from(*b).expect("block"), u64::try_from(*i).expect("index"))
                }
                other => panic!("unexpected log row {other:?}"),
            })
            .collect()
    }

    /// The cursor (last committed block) of database `db`.
    ///
    /// # Panics
    ///
    /// When the database cannot be read.
    pub async fn stored_cursor(&self, db: &str) -> Option<u64> {
        let rows = self.read(db, "SELECT block FROM cursor").await;
        rows.first().map(|r| match &r[0] {
            Sql::Integer(b) => u64::try_from(*b).expect("block"),
            other => panic!("unexpected cursor {other:?}"),
        })
    }

    /// Entities of database `db` whose versions do not chain: a version whose `block_to` is not
    /// the next version's `block_from`, or a last version that is closed (each id must have
    /// exactly one current version and no gap or overlap in its history), as `table/id`.
    ///
    /// # Panics
    ///
    /// When the database cannot be read.
    pub async fn broken_version_chains(&self, db: &str) -> Vec<String> {
        let mut broken = Vec::new();
        for def in crate::handlers::all_entities() {
            let t = def.table;
            let sql = format!(
                "SELECT id FROM (SELECT id, block_to, LEAD(block_from) OVER
                 (PARTITION BY id ORDER BY block_from) AS next FROM \"{t}\") AS v
                 WHERE block_to IS DISTINCT FROM next"
            );
            for row in self.read(db, &sql).await {
                broken.push(format!("{t}/{:?}", row[0]));
            }
        }
        broken
    }

    async fn read(&self, db: &str, sql: &str) -> Vec<Vec<Sql>> {
        let target = crate::store::DbTarget::parse(&self.db_setting(db));
        let pool = crate::store::ReadPool::unchecked(&target).expect("read pool");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        match pool.select(sql, Vec::new(), deadline).await {
            Ok(rows) => rows,
            Err(e) => panic!("reading {db}: {e:?}"),
        }
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

    /// Requests a job of three seats and at most [`MAX_ROUNDS`] rounds with `bounty` and returns
    /// its id.
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
            maxRounds: MAX_ROUNDS,
            credits: CREDITS,
            deadline: now + 86_400,
        };
        let market = IDeliberationMarket::new(self.market(), &self.requester);
        let job =
            market.requestJob(spec.clone(), U256::from(bounty)).call().await.expect("requestJob");
        confirm!("requestJob", market.requestJob(spec, U256::from(bounty)));
        job
    }

    /// Claims `job` as the keeper and returns the seats the market drew for it (from the
    /// `SeatsDrawn` event of the claim's receipt), which [`Self::settle_job`] then seats.
    ///
    /// # Panics
    ///
    /// When the transaction fails or draws no seats.
    pub async fn claim_job(&self, job: U256) -> Vec<Address> {
        let receipt = confirm!(
            "claimJob",
            IDeliberationMarket::new(self.market(), &self.keeper)
                .claimJob(job)
                .gas(BLOCK_DEPENDENT_GAS)
        );
        let logs = receipt.inner.logs().iter().map(|log| &log.inner);
        let seats = seats_from_logs(job, logs).expect("a claim draws seats");
        self.drawn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(job, seats.clone());
        seats
    }

    /// The key of agent `address`.
    ///
    /// # Panics
    ///
    /// If it is not a fixture agent.
    #[track_caller]
    pub fn agent_key(&self, address: Address) -> &PrivateKeySigner {
        self.agents.iter().find(|k| k.address() == address).expect("a fixture agent")
    }

    /// Settles `job` (requested with [`Self::request_job`], so its input is [`JOB_INPUT`], and
    /// claimed with [`Self::claim_job`]) with a signed deliberation of its drawn seats, in which
    /// seat `i` answers `answers[i]` in every round and seat 0 is everyone's favourite. The
    /// deliberation runs under the job's own halting terms (read from the market), so it stops
    /// where the market's halting rule does.
    ///
    /// # Panics
    ///
    /// When the job was not claimed through the fixture, or the transcript is refused.
    pub async fn settle_job(&self, job: U256, answers: [&str; 3]) {
        let seats = self
            .drawn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&job)
            .cloned()
            .expect("the job was claimed with claim_job");
        let keys: Vec<&PrivateKeySigner> = seats.iter().map(|&s| self.agent_key(s)).collect();
        let market = DeliberationMarket::new(self.market(), &self.keeper);
        let stored = market.job(job).call().await.expect("job");
        let halting = job_halting_config(&stored);
        let domain = eip712::domain(self.chain_id, self.market());
        let mut d = Deliberation::new(
            job,
            stored.inputHash,
            seats.clone(),
            domain.clone(),
            stored.credits,
            halting,
        )
        .expect("deliberation");
        while d.outcome().is_none() {
            let ctx = d.context();
            for (key, answer) in keys.iter().zip(answers) {
                let proposal =
                    SignedProposal::sign(key, &domain, &ctx, answer.into()).expect("sign proposal");
                d.accept_proposal(proposal).expect("proposal accepted");
            }
            let set = d.close_proposals().expect("proposals close");
            for (seat, key) in keys.iter().enumerate() {
                // Seat 0 is everyone's favourite, so the winner is deterministic.
                let weights: Vec<i32> = (0..seats.len())
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
                let votes = quadratic_votes(&weights, seat, &set.proposed(), stored.credits)
                    .expect("votes");
                let ballot =
                    SignedBallot::sign(key, &domain, &ctx, set.digest, votes).expect("sign ballot");
                d.accept_ballot(ballot).expect("ballot accepted");
            }
            d.close_round().expect("round closes");
        }
        let transcript = transcript_from_rounds(d.seats(), d.rounds());
        confirm!(
            "settleJob",
            IDeliberationMarket::new(self.market(), &self.keeper).settleJob(job, transcript)
        );
    }

    /// Proves, from `reporter`, that agent `agent` signed two different proposals ("7" and "8")
    /// for round 1 of `job` (with [`JOB_INPUT`]), which slashes its bond in the registry.
    ///
    /// # Panics
    ///
    /// When the market refuses the report (e.g. the agent was slashed already).
    pub async fn report_equivocation(&self, job: U256, agent: Address, reporter: &DynProvider) {
        let key = self.agent_key(agent);
        let domain = eip712::domain(self.chain_id, self.market());
        let ctx = RoundContext {
            job_id: job,
            round: 1,
            input_hash: keccak256(JOB_INPUT),
            previous_round_digest: B256::ZERO,
        };
        let signed = |content: &str| {
            let hash = eip712::proposal_hash(&domain, &ctx, content);
            let signature = eip712::sign(key, hash).expect("the agent signs");
            let claim = ProposalClaim {
                inputHash: ctx.input_hash,
                previousRoundDigest: ctx.previous_round_digest,
                contentHash: keccak256(content),
            };
            (claim, Bytes::from(signature.as_bytes()))
        };
        let ((a, signature_a), (b, signature_b)) = (signed("7"), signed("8"));
        confirm!(
            "reportEquivocatingProposals",
            IDeliberationMarket::new(self.market(), reporter).reportEquivocatingProposals(
                job,
                ctx.round,
                agent,
                a,
                signature_a,
                b,
                signature_b,
            )
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
        let contract = RankifyArena::new(arena, creator);
        // The smallest fee the deployed arena accepts at rank 1 (its `minJoinFeeUnit`).
        let join_fee = contract.minJoinFee(1).call().await.expect("minJoinFee");
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
            joinFee: join_fee,
            stake: U256::from(100),
            metadataURI: "ipfs://fixture-game".into(),
        };
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
        confirm!("advance", contract.advance(game).gas(BLOCK_DEPENDENT_GAS));
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
        confirm!("advance", contract.advance(game).gas(BLOCK_DEPENDENT_GAS));
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
        confirm!("advance", contract.advance(game).gas(BLOCK_DEPENDENT_GAS));
        for (seat, (key, p)) in self.players.iter().enumerate() {
            let who = key.address();
            confirm!(
                "revealVote",
                RankifyArena::new(arena, p).revealVote(game, turn, ballot(seat), salt(who, 1))
            );
        }
        confirm!("advance", contract.advance(game).gas(BLOCK_DEPENDENT_GAS));
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
