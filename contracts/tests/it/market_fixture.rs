//! A deployed market suite (bounty token, ranks, escrow, agent registry, market) and
//! deliberations built with the real protocol crate, shared by the market, escrow and gas tests.

use std::collections::HashMap;

use alloy::{
    primitives::{Address, B256, Bytes, I256, U256, keccak256},
    signers::local::PrivateKeySigner,
    sol_types::Eip712Domain,
};
use nsed_contracts::{
    agent_registry::{AgentRegistry, IAgentRegistry},
    bounty_token::BountyToken,
    deliberation_market::DeliberationMarket,
    i_deliberation_market::IDeliberationMarket::{self, JobSpec, Transcript},
    liquid_access_token::LiquidAccessToken,
    market::seats_from_logs,
    rank_token::RankToken,
    testkit::{Receipt, TestChain, TxFailure},
    transcript::transcript_from_rounds,
    tripartite_escrow::{ITripartiteEscrow, TripartiteEscrow},
};
use nsed_protocol::{
    deliberation::Deliberation,
    eip712::{self, RoundContext},
    halting::HaltingConfig,
};

pub(crate) use nsed_contracts::testkit::{RoundPlan, deliberate, deliberate_with};

use crate::fixtures::{RANK_URI, deploy_lat, grant_lat_minter, register_agent};

/// Keeper fee of the test market, in basis points.
pub(crate) const KEEPER_FEE_BPS: u16 = 500;
/// Guild fee of the test market, in basis points.
pub(crate) const GUILD_FEE_BPS: u16 = 200;
/// Challenge window of the test market's escrow deals, in seconds.
pub(crate) const CHALLENGE_WINDOW: u64 = 3600;
/// Seconds the guild has to rule on a dispute in the test escrow (the deployment default).
pub(crate) const DISPUTE_TIMEOUT: u64 = 14 * 86_400;
/// The test registry's minimum bond, in whole tokens (what every fixture agent bonds).
pub(crate) const MIN_BOND: u64 = 10;
/// The test registry's unbonding delay, in seconds.
pub(crate) const UNBOND_DELAY: u64 = 86_400;
/// The test registry's reporter share of a slashed bond, in basis points.
pub(crate) const REPORTER_BPS: u16 = 1_000;
/// The fixture market's `minRounds`: every round up to a job's `maxRounds` runs (a job's
/// `minRounds` is capped at its `maxRounds`), so a test picks its transcript's length with the
/// spec. Tests of the halting rule set their own terms ([`MarketFixture::set_halting`]).
pub(crate) const FIXTURE_MIN_ROUNDS: u8 = 5;
/// The market's default conviction threshold (`HaltingConfig::default`).
pub(crate) const EFFORT_PERMILLE: u16 = 600;
/// The market's default round allowance, in seconds.
pub(crate) const ROUND_ALLOWANCE: u32 = 300;
/// The market's default claim timeout, in seconds.
pub(crate) const DEFAULT_CLAIM_TIMEOUT: u32 = 1800;
/// Vote credits of the default spec.
pub(crate) const CREDITS: u64 = 100;
/// How long after "now" the default spec's deadline is.
pub(crate) const JOB_DURATION: u64 = 86_400;
/// Tokens minted to the requester and the other buyers (18 decimals).
pub(crate) const STARTING_TOKENS: u64 = 1_000_000;
/// The input of the default spec.
pub(crate) const INPUT: &[u8] = br#"{"shape":[1,4],"values":[0.0,0.5,1.0,0.25]}"#;

/// `keccak256(INPUT)`: the input hash the market stores for a job with the default spec, and the
/// one every answer of such a job signs.
pub(crate) fn input_hash() -> B256 {
    keccak256(INPUT)
}

/// What an answer in round `round` of `job_id` (a job with the default spec's [`INPUT`]) signs,
/// after the history `previous_round_digest` (zero in round 1).
pub(crate) fn context(job_id: U256, round: u32, previous_round_digest: B256) -> RoundContext {
    RoundContext { job_id, round, input_hash: input_hash(), previous_round_digest }
}

/// One token with 18 decimals, times `n`.
pub(crate) fn tokens(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

pub(crate) fn u(v: u64) -> U256 {
    U256::from(v)
}

pub(crate) fn i(v: i64) -> I256 {
    I256::try_from(v).unwrap()
}

/// Agent keys: anvil's dev keys 4..=9 first (so a local stack's worker keys match), then keys
/// derived from a fixed seed for larger jobs; every agent is registered and bonded by account 3.
pub(crate) fn agent_key(chain: &TestChain, index: usize) -> PrivateKeySigner {
    if index < 6 {
        chain.signer(4 + index).clone()
    } else {
        PrivateKeySigner::from_bytes(&keccak256(format!("nsed test agent {index}"))).unwrap()
    }
}

/// The deployed suite: guild = account 0 (admin everywhere, escrow resolver, token owner),
/// keeper = account 1 (holds `KEEPER_ROLE`), requester = account 2, agent owner = account 3 (its
/// agents each bond [`MIN_BOND`] tokens). The market holds the registry's `SLASHER_ROLE`, and its
/// `minRounds` is [`FIXTURE_MIN_ROUNDS`].
///
/// With as many agents as a job has seats, the draw seats all of them, in the order of
/// [`Self::agents`]; with more, [`Self::claim`] records the drawn seats and the deliberation
/// helpers seat those.
pub(crate) struct MarketFixture {
    pub(crate) chain: TestChain,
    pub(crate) guild: Address,
    pub(crate) keeper: Address,
    pub(crate) requester: Address,
    pub(crate) owner: Address,
    pub(crate) token: Address,
    pub(crate) ranks: Address,
    pub(crate) escrow: Address,
    pub(crate) lat: Address,
    pub(crate) registry: Address,
    pub(crate) market: Address,
    /// Registered agents, sorted by address (the seat order of a job using all of them).
    pub(crate) agents: Vec<PrivateKeySigner>,
    /// The seats drawn for each job claimed through [`Self::claim`] or [`Self::try_claim`].
    pub(crate) drawn: HashMap<U256, Vec<Address>>,
}

impl MarketFixture {
    /// The suite with `agents` registered agents.
    pub(crate) fn new(agents: usize) -> Self {
        let mut chain = TestChain::new();
        let (guild, keeper, requester, owner) =
            (chain.account(0), chain.account(1), chain.account(2), chain.account(3));
        let token = chain
            .deploy(
                guild,
                &BountyToken::BYTECODE,
                &BountyToken::constructorCall { initialOwner: guild },
            )
            .expect("BountyToken deploys");
        let ranks = chain
            .deploy(
                guild,
                &RankToken::BYTECODE,
                &RankToken::constructorCall { uri_: RANK_URI.into(), admin: guild },
            )
            .expect("RankToken deploys");
        let escrow = chain
            .deploy(
                guild,
                &TripartiteEscrow::BYTECODE,
                &TripartiteEscrow::constructorCall {
                    resolver_: guild,
                    disputeTimeout_: DISPUTE_TIMEOUT,
                },
            )
            .expect("TripartiteEscrow deploys");
        let lat = deploy_lat(&mut chain, guild, &[]);
        let registry = chain
            .deploy(
                guild,
                &AgentRegistry::BYTECODE,
                &AgentRegistry::constructorCall {
                    token_: token,
                    guild_: guild,
                    minBond_: tokens(MIN_BOND),
                    unbondDelay_: UNBOND_DELAY,
                    reporterBps_: REPORTER_BPS,
                },
            )
            .expect("AgentRegistry deploys");
        let market = chain
            .deploy(
                guild,
                &DeliberationMarket::BYTECODE,
                &DeliberationMarket::constructorCall {
                    token_: token,
                    ranks_: ranks,
                    escrow_: escrow,
                    lat_: lat,
                    registry_: registry,
                    guild_: guild,
                    keeperFeeBps_: KEEPER_FEE_BPS,
                    guildFeeBps_: GUILD_FEE_BPS,
                    challengeWindow_: CHALLENGE_WINDOW,
                },
            )
            .expect("DeliberationMarket deploys");
        grant_lat_minter(&mut chain, guild, lat, market);
        let slasher = chain.call(guild, registry, &AgentRegistry::SLASHER_ROLECall {}).unwrap();
        chain
            .send(guild, registry, &AgentRegistry::grantRoleCall { role: slasher, account: market })
            .unwrap();
        chain
            .send(
                guild,
                market,
                &DeliberationMarket::setHaltingTermsCall {
                    minRounds: FIXTURE_MIN_ROUNDS,
                    effortPermille: EFFORT_PERMILLE,
                    roundAllowance: ROUND_ALLOWANCE,
                },
            )
            .unwrap();
        let game_role = chain.call(guild, ranks, &RankToken::GAME_ROLECall {}).unwrap();
        chain
            .send(guild, ranks, &RankToken::grantRoleCall { role: game_role, account: market })
            .unwrap();
        let keeper_role =
            chain.call(guild, market, &DeliberationMarket::KEEPER_ROLECall {}).unwrap();
        chain
            .send(
                guild,
                market,
                &DeliberationMarket::grantRoleCall { role: keeper_role, account: keeper },
            )
            .unwrap();
        for buyer in [requester, chain.account(8), chain.account(9)] {
            chain
                .send(
                    guild,
                    token,
                    &BountyToken::mintCall { to: buyer, amount: tokens(STARTING_TOKENS) },
                )
                .unwrap();
            for spender in [market, escrow] {
                chain
                    .send(buyer, token, &BountyToken::approveCall { spender, value: U256::MAX })
                    .unwrap();
            }
        }
        chain
            .send(
                guild,
                token,
                &BountyToken::mintCall { to: owner, amount: tokens(STARTING_TOKENS) },
            )
            .unwrap();
        chain
            .send(owner, token, &BountyToken::approveCall { spender: registry, value: U256::MAX })
            .unwrap();
        let mut keys: Vec<PrivateKeySigner> = (0..agents).map(|i| agent_key(&chain, i)).collect();
        keys.sort_by_key(PrivateKeySigner::address);
        let mut fixture = Self {
            chain,
            guild,
            keeper,
            requester,
            owner,
            token,
            ranks,
            escrow,
            lat,
            registry,
            market,
            agents: keys,
            drawn: HashMap::new(),
        };
        for key in fixture.agents.clone() {
            fixture.register(&key, tokens(MIN_BOND)).expect("agents register");
        }
        fixture
    }

    /// Registers `key`'s agent from the agent owner (account 3) with `bond`.
    pub(crate) fn register(
        &mut self,
        key: &PrivateKeySigner,
        bond: U256,
    ) -> Result<Receipt<AgentRegistry::registerReturn>, TxFailure> {
        register_agent(&mut self.chain, self.registry, self.owner, key, bond)
    }

    /// Adds `amount` to `agent`'s bond (from the agent owner).
    pub(crate) fn add_bond(&mut self, agent: Address, amount: U256) {
        self.chain
            .send(self.owner, self.registry, &AgentRegistry::addBondCall { agent_: agent, amount })
            .expect("addBond succeeds");
    }

    /// Sets the market's halting terms for jobs requested from now on (as the guild).
    pub(crate) fn set_halting(&mut self, min_rounds: u8, effort_permille: u16, allowance: u32) {
        let call = DeliberationMarket::setHaltingTermsCall {
            minRounds: min_rounds,
            effortPermille: effort_permille,
            roundAllowance: allowance,
        };
        self.chain.send(self.guild, self.market, &call).expect("setHaltingTerms succeeds");
    }

    /// The keys of `seats`, in their order.
    ///
    /// # Panics
    ///
    /// If a seat is not a fixture agent.
    #[track_caller]
    pub(crate) fn keys_of(&self, seats: &[Address]) -> Vec<PrivateKeySigner> {
        seats
            .iter()
            .map(|&seat| {
                self.agents.iter().find(|k| k.address() == seat).expect("a fixture agent").clone()
            })
            .collect()
    }

    /// The keys seated in `job_id` if it was claimed through the fixture with `seats` seats, else
    /// agents `0..seats`.
    fn seat_keys(&self, job_id: U256, seats: usize) -> Vec<PrivateKeySigner> {
        match self.drawn.get(&job_id) {
            Some(drawn) if drawn.len() == seats => self.keys_of(drawn),
            _ => self.agents[..seats].to_vec(),
        }
    }

    /// The addresses of registered agents `0..n` in seat order.
    pub(crate) fn seats(&self, n: usize) -> Vec<Address> {
        self.agents[..n].iter().map(PrivateKeySigner::address).collect()
    }

    /// A valid spec: `agents` seats, `max_rounds` rounds, [`CREDITS`] credits, deadline a day out.
    pub(crate) fn spec(&self, agents: u8, max_rounds: u8) -> JobSpec {
        JobSpec {
            kind: "tensor-f32".into(),
            input: Bytes::from_static(INPUT),
            agentsWanted: agents,
            maxRounds: max_rounds,
            credits: CREDITS,
            deadline: self.chain.timestamp() + JOB_DURATION,
        }
    }

    /// Sends `requestJob(spec, bounty)` from `from`.
    pub(crate) fn try_request_from(
        &mut self,
        from: Address,
        spec: JobSpec,
        bounty: U256,
    ) -> Result<Receipt<U256>, TxFailure> {
        self.chain.send(from, self.market, &IDeliberationMarket::requestJobCall { spec, bounty })
    }

    /// Requests a job from the requester and returns its id.
    pub(crate) fn request(&mut self, spec: JobSpec, bounty: U256) -> U256 {
        self.try_request_from(self.requester, spec, bounty).expect("requestJob succeeds").ret
    }

    /// Sends `claimJob(job_id)` from `from` and records the seats it draws (a first claim).
    pub(crate) fn try_claim(
        &mut self,
        from: Address,
        job_id: U256,
    ) -> Result<Receipt<IDeliberationMarket::claimJobReturn>, TxFailure> {
        let receipt = self.chain.send(
            from,
            self.market,
            &IDeliberationMarket::claimJobCall { jobId: job_id },
        )?;
        // A re-claim keeps the seats of the first claim and draws none.
        if let Some(seats) = seats_from_logs(job_id, &receipt.logs) {
            self.drawn.insert(job_id, seats);
        }
        Ok(receipt)
    }

    /// Claims `job_id` as the keeper and returns the seats it draws.
    #[track_caller]
    pub(crate) fn claim(&mut self, job_id: U256) -> Vec<Address> {
        self.try_claim(self.keeper, job_id).expect("claimJob succeeds");
        self.drawn[&job_id].clone()
    }

    /// Requests and claims a job with `agents` seats and `max_rounds` rounds.
    pub(crate) fn claimed_job(&mut self, agents: u8, max_rounds: u8, bounty: U256) -> U256 {
        let spec = self.spec(agents, max_rounds);
        let job = self.request(spec, bounty);
        self.claim(job);
        job
    }

    /// Sends `settleJob` from `from`.
    pub(crate) fn settle_from(
        &mut self,
        from: Address,
        job_id: U256,
        transcript: &Transcript,
    ) -> Result<Receipt<IDeliberationMarket::settleJobReturn>, TxFailure> {
        let call =
            IDeliberationMarket::settleJobCall { jobId: job_id, transcript: transcript.clone() };
        self.chain.send(from, self.market, &call)
    }

    /// Sends `settleJob` from the keeper.
    pub(crate) fn settle(
        &mut self,
        job_id: U256,
        transcript: &Transcript,
    ) -> Result<Receipt<IDeliberationMarket::settleJobReturn>, TxFailure> {
        self.settle_from(self.keeper, job_id, transcript)
    }

    /// Sends `refund(jobId)` from `from`.
    pub(crate) fn refund_from(
        &mut self,
        from: Address,
        job_id: U256,
    ) -> Result<Receipt<IDeliberationMarket::refundReturn>, TxFailure> {
        self.chain.send(from, self.market, &IDeliberationMarket::refundCall { jobId: job_id })
    }

    pub(crate) fn status(&mut self, job_id: U256) -> u8 {
        self.chain
            .call(self.guild, self.market, &IDeliberationMarket::jobStatusCall { jobId: job_id })
            .unwrap()
    }

    pub(crate) fn job(&mut self, job_id: U256) -> DeliberationMarket::Job {
        self.chain
            .call(self.guild, self.market, &DeliberationMarket::jobCall { jobId: job_id })
            .unwrap()
    }

    pub(crate) fn deal(&mut self, deal_id: U256) -> ITripartiteEscrow::Deal {
        self.chain
            .call(self.guild, self.escrow, &TripartiteEscrow::dealCall { dealId: deal_id })
            .unwrap()
    }

    /// The escrow deal holding `job_id`'s bounty.
    pub(crate) fn job_deal(&mut self, job_id: U256) -> ITripartiteEscrow::Deal {
        let deal_id = self.job(job_id).escrowId;
        self.deal(deal_id)
    }

    /// How many agents the registry can draw from.
    pub(crate) fn eligible(&mut self) -> U256 {
        self.chain.call(self.guild, self.registry, &AgentRegistry::eligibleCountCall {}).unwrap()
    }

    /// `agent`'s record in the registry.
    pub(crate) fn registered(&mut self, agent: Address) -> IAgentRegistry::Agent {
        self.chain
            .call(self.guild, self.registry, &AgentRegistry::agentCall { account: agent })
            .unwrap()
    }

    pub(crate) fn rank_of(&mut self, agent: Address) -> U256 {
        self.chain
            .call(self.guild, self.market, &DeliberationMarket::agentRankCall { account: agent })
            .unwrap()
    }

    pub(crate) fn rank_balance(&mut self, agent: Address, rank: u64) -> U256 {
        self.chain
            .call(self.guild, self.ranks, &RankToken::balanceOfCall { account: agent, id: u(rank) })
            .unwrap()
    }

    /// `agent`'s balance of the market's tier-`tier` access tokens.
    pub(crate) fn lat_balance(&mut self, agent: Address, tier: u8) -> U256 {
        let asset = self.chain.call(self.guild, self.market, &DeliberationMarket::latAssetCall {});
        let id = nsed_contracts::lat::encode(asset.unwrap(), tier);
        self.chain
            .call(self.guild, self.lat, &LiquidAccessToken::balanceOfCall { account: agent, id })
            .unwrap()
    }

    pub(crate) fn balance(&mut self, account: Address) -> U256 {
        self.chain.call(self.guild, self.token, &BountyToken::balanceOfCall { account }).unwrap()
    }

    /// The market's EIP-712 domain, as agents sign under it.
    pub(crate) fn domain(&self) -> Eip712Domain {
        eip712::domain(self.chain.chain_id(), self.market)
    }

    /// Runs `plan` for `job_id` (a job with the default spec's [`INPUT`]) over its `seats` drawn
    /// seats (registered agents `0..seats` for a job the fixture did not claim) with the protocol
    /// crate's [`Deliberation`], signing every message with the agents' keys. Every round of the
    /// plan runs, whatever the job's halting rule says.
    #[track_caller]
    pub(crate) fn deliberate(
        &self,
        job_id: U256,
        seats: usize,
        plan: &[RoundPlan],
    ) -> Deliberation {
        self.deliberate_on(job_id, input_hash(), seats, plan)
    }

    /// Like [`Self::deliberate`], for a job whose input hashes to `input_hash`.
    #[track_caller]
    pub(crate) fn deliberate_on(
        &self,
        job_id: U256,
        input_hash: B256,
        seats: usize,
        plan: &[RoundPlan],
    ) -> Deliberation {
        deliberate(&self.seat_keys(job_id, seats), self.domain(), job_id, input_hash, CREDITS, plan)
    }

    /// Runs `plan` for `job_id` (with the default [`INPUT`]) over its drawn seats like
    /// [`Self::deliberate`], but under `halting`: the deliberation stops where the protocol crate
    /// halts, and later rounds of the plan are left out.
    #[track_caller]
    pub(crate) fn deliberate_under(
        &self,
        job_id: U256,
        seats: usize,
        halting: HaltingConfig,
        plan: &[RoundPlan],
    ) -> Deliberation {
        let keys = self.seat_keys(job_id, seats);
        deliberate_with(&keys, self.domain(), job_id, input_hash(), CREDITS, halting, plan)
    }

    /// Like [`Self::deliberate`], converted to the market's transcript.
    #[track_caller]
    pub(crate) fn transcript(&self, job_id: U256, seats: usize, plan: &[RoundPlan]) -> Transcript {
        let d = self.deliberate(job_id, seats, plan);
        transcript_from_rounds(d.seats(), d.rounds())
    }

    /// Signs a proposal of agent `seat` (a registered agent index) in `ctx` as the market expects.
    pub(crate) fn sign_proposal(&self, seat: usize, ctx: &RoundContext, content: &str) -> Bytes {
        let hash = eip712::proposal_hash(&self.domain(), ctx, content);
        Bytes::from(eip712::sign(&self.agents[seat], hash).unwrap().as_bytes())
    }

    /// Signs a ballot of agent `seat` (a registered agent index) in `ctx` over the proposal set
    /// `digest` as the market expects.
    pub(crate) fn sign_ballot(
        &self,
        seat: usize,
        ctx: &RoundContext,
        digest: B256,
        votes: &[i64],
    ) -> Bytes {
        let hash = eip712::ballot_hash(&self.domain(), ctx, digest, votes);
        Bytes::from(eip712::sign(&self.agents[seat], hash).unwrap().as_bytes())
    }
}

/// Job statuses (`IDeliberationMarket.JobStatus`) as the ABI carries them.
pub(crate) mod status {
    pub(crate) const NONE: u8 = 0;
    pub(crate) const REQUESTED: u8 = 1;
    pub(crate) const CLAIMED: u8 = 2;
    pub(crate) const SETTLED: u8 = 3;
    pub(crate) const REFUNDED: u8 = 4;
}

/// Deal states (`ITripartiteEscrow.DealState`) as the ABI carries them.
pub(crate) mod deal_state {
    pub(crate) const NONE: u8 = 0;
    pub(crate) const FUNDED: u8 = 1;
    pub(crate) const DELIVERED: u8 = 2;
    pub(crate) const DISPUTED: u8 = 3;
    pub(crate) const RELEASED: u8 = 4;
    pub(crate) const RULED: u8 = 5;
    pub(crate) const REFUNDED: u8 = 6;
}

/// The payout the market should deliver to the escrow, computed independently: keeper fee, guild
/// fee, then agents pro rata to their positive last-round score with the dust (or everything) to
/// the winner; zero amounts left out.
pub(crate) fn expected_payout(
    bounty: U256,
    fees: (u16, u16),
    keeper: Address,
    guild: Address,
    seats: &[Address],
    scores: &[i128],
    winner: usize,
) -> (Vec<Address>, Vec<U256>) {
    let bps = U256::from(10_000u64);
    let keeper_fee = bounty * U256::from(fees.0) / bps;
    let guild_fee = bounty * U256::from(fees.1) / bps;
    let rest = bounty - keeper_fee - guild_fee;
    let positive: u128 = scores.iter().map(|&s| s.max(0) as u128).sum();
    let mut shares: Vec<U256> = scores
        .iter()
        .map(|&s| {
            if positive == 0 || s <= 0 {
                U256::ZERO
            } else {
                rest * U256::from(s as u128) / U256::from(positive)
            }
        })
        .collect();
    let paid: U256 = shares.iter().copied().sum();
    shares[winner] += rest - paid;
    let mut recipients = Vec::new();
    let mut amounts = Vec::new();
    for (to, amount) in [(keeper, keeper_fee), (guild, guild_fee)]
        .into_iter()
        .chain(seats.iter().copied().zip(shares))
    {
        if amount > U256::ZERO {
            recipients.push(to);
            amounts.push(amount);
        }
    }
    (recipients, amounts)
}
