//! The committed gas snapshot (`contracts/.gas-snapshot`), compared like `forge snapshot --check`.
//!
//! One deterministic scenario measures every external state-changing function and the view-heavy
//! tally paths; any change in gas fails this test until the file is regenerated on purpose with
//! `NSED_GAS_SNAPSHOT=update cargo test -p nsed-contracts --test it gas_snapshot`.

use alloy::{
    primitives::{Address, B256, Bytes, I256, U256, aliases::U248, keccak256},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use nsed_contracts::{
    agent_registry::AgentRegistry,
    authority_registry::AuthorityRegistry,
    bounty_token::BountyToken,
    deliberation_market::DeliberationMarket,
    guild_governor::GuildGovernor,
    i_deliberation_market::IDeliberationMarket,
    lat_converter::LatConverter,
    liquid_access_token::LiquidAccessToken,
    quadratic_voting_harness::QuadraticVotingHarness,
    rank_token::RankToken,
    rankify_arena::RankifyArena,
    testkit::{GasSnapshot, TestChain},
    tripartite_escrow::TripartiteEscrow,
};

use crate::{
    arena_fixture::{
        ArenaFixture, Commit, PHASE, everyone_plays, favour, params, proposal_commitment, salt,
    },
    authority::{AttributeConsent, DidIssuance, sign_consent},
    fixtures::{LAT_URI, RANK_URI, deploy_lat, qv_harness, register_agent},
    guild::{
        GuildDeployment, TIMELOCK_DELAY, VOTING_DELAY, VOTING_PERIOD, genesis_holders, tokens,
    },
    lat_converter::{self, ConverterFixture},
    market_fixture::{
        CHALLENGE_WINDOW, DISPUTE_TIMEOUT, GUILD_FEE_BPS, JOB_DURATION, KEEPER_FEE_BPS, MIN_BOND,
        MarketFixture, REPORTER_BPS, RoundPlan, UNBOND_DELAY, context,
    },
};

fn u(v: u64) -> U256 {
    U256::from(v)
}

fn rank_token_gas(snap: &mut GasSnapshot) {
    let mut chain = TestChain::new();
    let (admin, game, player) = (chain.account(0), chain.account(1), chain.account(5));
    let deployed = chain
        .deploy_with_receipt(
            admin,
            &RankToken::BYTECODE,
            &RankToken::constructorCall { uri_: RANK_URI.into(), admin },
        )
        .unwrap();
    let token = deployed.ret;
    snap.record("RankToken::constructor", deployed.gas_used);
    let role = chain.call(admin, token, &RankToken::GAME_ROLECall {}).unwrap();
    let mut measure = |name: &str, from: Address, call: &dyn SolCallDyn| {
        snap.record(name, call.send(&mut chain, from, token));
    };
    measure(
        "RankToken::grantRole (game)",
        admin,
        &RankToken::grantRoleCall { role, account: game },
    );
    measure(
        "RankToken::mint (new holder)",
        game,
        &RankToken::mintCall { to: player, rank: u(1), amount: u(2) },
    );
    measure(
        "RankToken::mint (existing holder)",
        game,
        &RankToken::mintCall { to: player, rank: u(1), amount: u(1) },
    );
    measure(
        "RankToken::lock (first lock)",
        game,
        &RankToken::lockCall { account: player, rank: u(1), amount: u(1) },
    );
    measure(
        "RankToken::lock (second lock)",
        game,
        &RankToken::lockCall { account: player, rank: u(1), amount: u(1) },
    );
    measure(
        "RankToken::unlock",
        game,
        &RankToken::unlockCall { account: player, rank: u(1), amount: u(1) },
    );
    measure(
        "RankToken::burnLocked",
        game,
        &RankToken::burnLockedCall { account: player, rank: u(1), amount: u(1) },
    );
    measure(
        "RankToken::burn (unlocked)",
        game,
        &RankToken::burnCall { from: player, rank: u(1), amount: u(1) },
    );
    measure(
        "RankToken::revokeRole (game)",
        admin,
        &RankToken::revokeRoleCall { role, account: game },
    );
}

/// The economic layer: access tokens, the authority registry, the LAT converter and one guild
/// governance round that changes the market's fees through the timelock.
fn economy_gas(snap: &mut GasSnapshot) {
    let mut chain = TestChain::new();
    let (admin, minter, a, b) =
        (chain.account(0), chain.account(1), chain.account(5), chain.account(6));
    let lat = deploy_lat(&mut chain, admin, &[minter]);
    let asset = U248::from(1);
    let id = (u(1) << 8) | u(1);
    let measure =
        |snap: &mut GasSnapshot,
         chain: &mut TestChain,
         name: &str,
         from: Address,
         to: Address,
         call: &dyn SolCallDyn| { snap.record(name, call.send(chain, from, to)) };
    let mint = LiquidAccessToken::mintCall { to: a, asset, tier: 1, amount: u(2) };
    measure(snap, &mut chain, "LiquidAccessToken::mint (new holder)", minter, lat, &mint);
    measure(snap, &mut chain, "LiquidAccessToken::mint (existing holder)", minter, lat, &mint);
    let transfer = LiquidAccessToken::safeTransferFromCall {
        from: a,
        to: b,
        id,
        value: u(1),
        data: Default::default(),
    };
    measure(snap, &mut chain, "LiquidAccessToken::safeTransferFrom", a, lat, &transfer);
    let access = LiquidAccessToken::accessCall { asset, tier: 1, requestedTier: 1 };
    measure(snap, &mut chain, "LiquidAccessToken::access", a, lat, &access);

    let ether = u(10).pow(u(18));
    let registry = chain
        .deploy_with_receipt(
            admin,
            &AuthorityRegistry::BYTECODE,
            &AuthorityRegistry::constructorCall {
                guild: admin,
                burnFloor: ether / u(10),
                burnScale: ether * u(10),
                burnDecayWad: ether * u(9) / u(10),
            },
        )
        .unwrap();
    snap.record("AuthorityRegistry::constructor", registry.gas_used);
    let registry = registry.ret;
    let register = AuthorityRegistry::registerCall {
        jurisdiction: keccak256("DE"),
        geoCell: 42,
        metadataURI: "ipfs://node".into(),
    };
    for (node, what) in [(a, "first node"), (b, "second node, excess refunded")] {
        chain.deal(node, ether * u(100));
        let burn = chain.call(node, registry, &AuthorityRegistry::requiredBurnCall {}).unwrap();
        let gas = chain.send_with_value(node, registry, &register, burn + ether).unwrap().gas_used;
        snap.record(format!("AuthorityRegistry::register ({what})"), gas);
    }
    let institution = chain.account(7);
    let grant = AuthorityRegistry::grantCall {
        account: institution,
        jurisdiction: keccak256("FR"),
        geoCell: 7,
        metadataURI: "ipfs://institution".into(),
    };
    measure(snap, &mut chain, "AuthorityRegistry::grant", admin, registry, &grant);
    let identity = chain.account(8);
    let identity_key = chain.signer(8).clone();
    let deadline = u(chain.timestamp() + 3_600);
    let (role, nonce) = (keccak256("agent"), U256::ZERO);
    let consent = DidIssuance { identity, role, issuer: a, nonce, deadline };
    let consent = sign_consent(&chain, registry, &identity_key, &consent);
    let issue = AuthorityRegistry::issueDidCall { identity, role, deadline, consent };
    measure(snap, &mut chain, "AuthorityRegistry::issueDid", a, registry, &issue);
    let (name, value, validity) =
        (keccak256("model"), Bytes::from_static(b"knn_pool4x4"), u(86_400));
    let consent = AttributeConsent {
        identity,
        name,
        valueHash: keccak256(&value),
        validity,
        writer: a,
        nonce: u(1),
        deadline,
    };
    let consent = sign_consent(&chain, registry, &identity_key, &consent);
    let attribute = AuthorityRegistry::setAttributeWithConsentCall {
        identity,
        name,
        value,
        validity,
        deadline,
        consent,
    };
    measure(
        snap,
        &mut chain,
        "AuthorityRegistry::setAttributeWithConsent (by the issuer)",
        a,
        registry,
        &attribute,
    );
    let delegate = AuthorityRegistry::addDelegateCall {
        identity,
        delegateType: keccak256("sigAuth"),
        delegate: chain.account(9),
        validity: u(86_400),
    };
    measure(snap, &mut chain, "AuthorityRegistry::addDelegate", identity, registry, &delegate);
    let revoke = AuthorityRegistry::revokeCall { account: b, reason: "test".into() };
    measure(snap, &mut chain, "AuthorityRegistry::revoke", admin, registry, &revoke);

    let mut f = ConverterFixture::with(lat_converter::default_params(), tokens(1_000_000));
    let (user, converter) = (f.user, f.converter);
    for (what, value) in [("first of an epoch", 1_000u64), ("second in the epoch", 1_000)] {
        f.mint_lat(user, 1, u(value));
        let call = LatConverter::convertCall {
            ids: vec![lat_converter::lat_id(1)],
            amounts: vec![u(value)],
            minOut: U256::ZERO,
        };
        snap.record(
            format!("LatConverter::convert ({what})"),
            call.send(&mut f.chain, user, converter),
        );
    }
    f.chain.advance_time(f.params.vestingPeriod);
    let claim = LatConverter::claimCall { positionId: u(1) };
    snap.record("LatConverter::claim", claim.send(&mut f.chain, user, converter));

    let mut m = MarketFixture::new(0);
    let deployer = m.guild;
    let holders = genesis_holders(&m.chain);
    let guild = GuildDeployment::deploy(&mut m.chain, deployer, &holders);
    guild.hand_over(&mut m.chain, deployer, m.market);
    let targets = vec![m.market];
    let values = vec![U256::ZERO];
    let calldatas: Vec<Bytes> = vec![
        DeliberationMarket::setFeesCall { keeperFeeBps_: 300, guildFeeBps_: 400 }
            .abi_encode()
            .into(),
    ];
    let description = "fees".to_string();
    let propose = GuildGovernor::proposeCall {
        targets: targets.clone(),
        values: values.clone(),
        calldatas: calldatas.clone(),
        description: description.clone(),
    };
    let proposer = holders[0].0;
    // Votes are read one second back (timestamp clock): let the genesis delegation settle.
    m.chain.advance_time(1);
    let proposed = m.chain.send(proposer, guild.governor, &propose).unwrap();
    snap.record("GuildGovernor::propose (one call)", proposed.gas_used);
    m.chain.advance_time(VOTING_DELAY + 1);
    for (i, &(voter, _)) in holders.iter().enumerate() {
        let vote = GuildGovernor::castVoteCall { proposalId: proposed.ret, support: 1 };
        let gas = vote.send(&mut m.chain, voter, guild.governor);
        if i == 0 {
            snap.record("GuildGovernor::castVote", gas);
        }
    }
    m.chain.advance_time(VOTING_PERIOD + 1);
    let hash = keccak256(&description);
    let queue = GuildGovernor::queueCall {
        targets: targets.clone(),
        values: values.clone(),
        calldatas: calldatas.clone(),
        descriptionHash: hash,
    };
    snap.record("GuildGovernor::queue", queue.send(&mut m.chain, proposer, guild.governor));
    m.chain.advance_time(TIMELOCK_DELAY + 1);
    let execute = GuildGovernor::executeCall { targets, values, calldatas, descriptionHash: hash };
    snap.record(
        "GuildGovernor::execute (market.setFees)",
        execute.send(&mut m.chain, proposer, guild.governor),
    );
}

/// Object-safe "send this call and report its gas", so calls of different types share one list.
trait SolCallDyn {
    fn send(&self, chain: &mut TestChain, from: Address, to: Address) -> u64;
}

impl<C: SolCall> SolCallDyn for C {
    fn send(&self, chain: &mut TestChain, from: Address, to: Address) -> u64 {
        chain.send(from, to, self).expect("measured calls succeed").gas_used
    }
}

fn quadratic_voting_gas(snap: &mut GasSnapshot) {
    let mut chain = TestChain::new();
    let harness = qv_harness(&mut chain);
    let from = chain.account(0);
    for seats in [3usize, 5, 8] {
        let ballot = |voter: usize| -> Vec<I256> {
            (0..seats)
                .map(|q| {
                    if q == voter {
                        I256::ZERO
                    } else {
                        I256::try_from(if q % 2 == 0 { 2 } else { -1 }).unwrap()
                    }
                })
                .collect()
        };
        let proposed = vec![true; seats];
        let credits = U256::from(100);
        let validate = QuadraticVotingHarness::validateCall {
            votes: ballot(0),
            voter: U256::ZERO,
            proposed: proposed.clone(),
            credits,
        };
        let gas = chain.send(from, harness, &validate).unwrap().gas_used;
        snap.record(format!("QuadraticVoting::validate ({seats} seats)"), gas);
        let tally = QuadraticVotingHarness::tallyCall {
            ballots: (0..seats).map(ballot).collect(),
            voters: (0..seats).map(U256::from).collect(),
            proposed,
            credits,
        };
        let gas = chain.send(from, harness, &tally).unwrap().gas_used;
        snap.record(format!("QuadraticVoting::tally ({seats} seats x {seats} ballots)"), gas);
    }
}

/// Deployment cost of the market suite.
fn deployment_gas(snap: &mut GasSnapshot) {
    let mut chain = TestChain::new();
    let guild = chain.account(0);
    let token = chain
        .deploy_with_receipt(
            guild,
            &BountyToken::BYTECODE,
            &BountyToken::constructorCall { initialOwner: guild },
        )
        .unwrap();
    snap.record("BountyToken::constructor", token.gas_used);
    let ranks = chain
        .deploy(
            guild,
            &RankToken::BYTECODE,
            &RankToken::constructorCall { uri_: RANK_URI.into(), admin: guild },
        )
        .unwrap();
    let escrow = chain
        .deploy_with_receipt(
            guild,
            &TripartiteEscrow::BYTECODE,
            &TripartiteEscrow::constructorCall {
                resolver_: guild,
                disputeTimeout_: DISPUTE_TIMEOUT,
            },
        )
        .unwrap();
    snap.record("TripartiteEscrow::constructor", escrow.gas_used);
    let registry = chain
        .deploy_with_receipt(
            guild,
            &AgentRegistry::BYTECODE,
            &AgentRegistry::constructorCall {
                token_: token.ret,
                guild_: guild,
                minBond_: tokens(MIN_BOND),
                unbondDelay_: UNBOND_DELAY,
                reporterBps_: REPORTER_BPS,
            },
        )
        .unwrap();
    snap.record("AgentRegistry::constructor", registry.gas_used);
    let lat = chain
        .deploy_with_receipt(
            guild,
            &LiquidAccessToken::BYTECODE,
            &LiquidAccessToken::constructorCall { uri_: LAT_URI.into(), admin: guild },
        )
        .unwrap();
    snap.record("LiquidAccessToken::constructor", lat.gas_used);
    let market = chain
        .deploy_with_receipt(
            guild,
            &DeliberationMarket::BYTECODE,
            &DeliberationMarket::constructorCall {
                token_: token.ret,
                ranks_: ranks,
                escrow_: escrow.ret,
                lat_: lat.ret,
                registry_: registry.ret,
                guild_: guild,
                keeperFeeBps_: KEEPER_FEE_BPS,
                guildFeeBps_: GUILD_FEE_BPS,
                challengeWindow_: CHALLENGE_WINDOW,
            },
        )
        .unwrap();
    snap.record("DeliberationMarket::constructor", market.gas_used);
}

/// Every state-changing market function: `claimJob` with its seat draw over pools of 10, 1,000
/// and 10,000 eligible agents, `settleJob` (with the halting rule applied after every round) for
/// 3, 5 and 8 agents over 1, 2 and 3 rounds with full participation, and the equivocation reports.
fn market_gas(snap: &mut GasSnapshot) {
    claim_gas(snap);
    for agents in [3usize, 5, 8] {
        settle_gas(snap, agents);
    }
    equivocation_gas(snap);
}

/// `claimJob` for 3 and 16 seats (16 only once the pool has them) as the pool grows: the draw reads
/// only the seats it picks, so the pool's size should not show.
fn claim_gas(snap: &mut GasSnapshot) {
    let mut f = MarketFixture::new(0);
    let (owner, registry) = (f.owner, f.registry);
    let mut registered = 0usize;
    for pool in [10usize, 1_000, 10_000] {
        while registered < pool {
            let key = PrivateKeySigner::from_bytes(&keccak256(format!("pool agent {registered}")))
                .unwrap();
            register_agent(&mut f.chain, registry, owner, &key, tokens(MIN_BOND)).unwrap();
            registered += 1;
        }
        for seats in [3u8, 16].into_iter().filter(|&seats| usize::from(seats) <= pool) {
            let job = f.request(f.spec(seats, 1), tokens(10));
            let claim = IDeliberationMarket::claimJobCall { jobId: job };
            snap.record(
                format!("DeliberationMarket::claimJob ({seats} seats of {pool} eligible)"),
                claim.send(&mut f.chain, f.keeper, f.market),
            );
        }
    }
}

/// `settleJob` on a pool of exactly `agents` agents (so every job seats them all and agent 0, the
/// majority's lowest seat, wins), plus the request, claim and refund of a job on the 3-agent pool.
fn settle_gas(snap: &mut GasSnapshot, agents: usize) {
    let mut f = MarketFixture::new(agents);
    // A first job warms the counters and gives the winner (agent 0) its first rank, and its bond
    // covers many more: every measured settlement below pays the same promotion (burn rank r,
    // mint rank r + 1).
    let winner = f.agents[0].address();
    f.add_bond(winner, tokens(MIN_BOND << 10));
    let warm_up = f.claimed_job(agents as u8, 1, tokens(10));
    let t = f.transcript(warm_up, agents, &[majority(agents)]);
    f.settle(warm_up, &t).unwrap();

    let requested = (agents == 3).then(|| {
        let spec = f.spec(3, 1);
        let requested = f.try_request_from(f.requester, spec, tokens(10)).unwrap();
        snap.record("DeliberationMarket::requestJob", requested.gas_used);
        let claim = IDeliberationMarket::claimJobCall { jobId: requested.ret };
        snap.record(
            "DeliberationMarket::claimJob (3 seats of 3 eligible)",
            claim.send(&mut f.chain, f.keeper, f.market),
        );
        requested.ret
    });

    for rounds in 1..=3usize {
        let job = f.claimed_job(agents as u8, rounds as u8, tokens(10));
        let plan = vec![majority(agents); rounds];
        let t = f.transcript(job, agents, &plan);
        let gas = f.settle(job, &t).unwrap().gas_used;
        snap.record(
            format!("DeliberationMarket::settleJob ({agents} agents x {rounds} rounds)"),
            gas,
        );
    }

    if let Some(job) = requested {
        f.chain.advance_time(JOB_DURATION + 1);
        let refunded = f.refund_from(f.requester, job).unwrap();
        snap.record("DeliberationMarket::refund (claimed job)", refunded.gas_used);
    }
}

/// Both equivocation reports, each slashing a fresh agent (reporter share and guild share paid).
fn equivocation_gas(snap: &mut GasSnapshot) {
    let mut f = MarketFixture::new(3);
    let reporter = f.chain.account(7);
    let ctx = context(U256::from(1), 1, B256::ZERO);
    let proposal = |content: &str| IDeliberationMarket::ProposalClaim {
        inputHash: ctx.input_hash,
        previousRoundDigest: ctx.previous_round_digest,
        contentHash: keccak256(content),
    };
    let report = IDeliberationMarket::reportEquivocatingProposalsCall {
        jobId: ctx.job_id,
        round: ctx.round,
        agent: f.agents[0].address(),
        a: proposal("7"),
        signatureA: f.sign_proposal(0, &ctx, "7"),
        b: proposal("8"),
        signatureB: f.sign_proposal(0, &ctx, "8"),
    };
    snap.record(
        "DeliberationMarket::reportEquivocatingProposals (slash)",
        report.send(&mut f.chain, reporter, f.market),
    );
    let digest = keccak256("proposals");
    let votes = |v: [i64; 3]| v.iter().map(|&x| I256::try_from(x).unwrap()).collect::<Vec<_>>();
    let ballot = |v: [i64; 3]| IDeliberationMarket::BallotClaim {
        inputHash: ctx.input_hash,
        previousRoundDigest: ctx.previous_round_digest,
        proposalsDigest: digest,
        votes: votes(v),
    };
    let report = IDeliberationMarket::reportEquivocatingBallotsCall {
        jobId: ctx.job_id,
        round: ctx.round,
        agent: f.agents[1].address(),
        a: ballot([3, 0, -4]),
        signatureA: f.sign_ballot(1, &ctx, digest, &[3, 0, -4]),
        b: ballot([4, 0, -3]),
        signatureB: f.sign_ballot(1, &ctx, digest, &[4, 0, -3]),
    };
    snap.record(
        "DeliberationMarket::reportEquivocatingBallots (3 seats, slash)",
        report.send(&mut f.chain, reporter, f.market),
    );
}

/// A direct escrow deal through every transition, with three recipients.
fn escrow_gas(snap: &mut GasSnapshot) {
    let mut f = MarketFixture::new(0);
    let (buyer, seller, escrow) = (f.requester, f.chain.account(7), f.escrow);
    let recipients =
        vec![Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3)];
    let amounts = vec![U256::from(500), U256::from(300), U256::from(200)];
    let open = |f: &mut MarketFixture| {
        let call = TripartiteEscrow::openCall {
            operator: seller,
            token: f.token,
            amount: U256::from(1_000),
            deliveryDeadline: f.chain.timestamp() + 3_600,
            challengeWindow: 600,
        };
        f.chain.send(buyer, escrow, &call).unwrap()
    };
    // The first deal pays for the counter's first write; measure the steady state.
    open(&mut f);
    let opened = open(&mut f);
    snap.record("TripartiteEscrow::open", opened.gas_used);
    let deliver = |f: &mut MarketFixture, deal: U256| {
        let call = TripartiteEscrow::deliverCall {
            dealId: deal,
            recipients: recipients.clone(),
            amounts: amounts.clone(),
        };
        call.send(&mut f.chain, seller, escrow)
    };
    snap.record("TripartiteEscrow::deliver (3 recipients)", deliver(&mut f, opened.ret));
    let disputed = open(&mut f).ret;
    deliver(&mut f, disputed);
    let refunded = open(&mut f).ret;
    let dispute = TripartiteEscrow::disputeCall { dealId: disputed };
    snap.record("TripartiteEscrow::dispute", dispute.send(&mut f.chain, buyer, escrow));
    let rule = TripartiteEscrow::ruleCall { dealId: disputed, buyerShareBps: 2_500 };
    snap.record(
        "TripartiteEscrow::rule (split, 3 recipients)",
        rule.send(&mut f.chain, f.guild, escrow),
    );
    // A dispute the guild lets expire: anyone refunds the buyer after the timeout.
    let expired = open(&mut f).ret;
    deliver(&mut f, expired);
    TripartiteEscrow::disputeCall { dealId: expired }.send(&mut f.chain, buyer, escrow);
    let timeout = f.chain.call(buyer, escrow, &TripartiteEscrow::disputeTimeoutCall {}).unwrap();
    f.chain.advance_time(timeout + 1);
    let resolve = TripartiteEscrow::resolveExpiredDisputeCall { dealId: expired };
    snap.record(
        "TripartiteEscrow::resolveExpiredDispute",
        resolve.send(&mut f.chain, seller, escrow),
    );
    let set_timeout = TripartiteEscrow::setDisputeTimeoutCall { disputeTimeout_: 7 * 86_400 };
    snap.record(
        "TripartiteEscrow::setDisputeTimeout",
        set_timeout.send(&mut f.chain, f.guild, escrow),
    );
    let set_bond = TripartiteEscrow::setDisputeBondBpsCall { disputeBondBps_: 500 };
    snap.record(
        "TripartiteEscrow::setDisputeBondBps",
        set_bond.send(&mut f.chain, f.guild, escrow),
    );
    f.chain.advance_time(3_601);
    let release = TripartiteEscrow::releaseCall { dealId: opened.ret };
    snap.record(
        "TripartiteEscrow::release (3 recipients)",
        release.send(&mut f.chain, seller, escrow),
    );
    let refund = TripartiteEscrow::refundCall { dealId: refunded };
    snap.record("TripartiteEscrow::refund", refund.send(&mut f.chain, seller, escrow));
}

/// RankifyArena: every external state-changing function for 3, 5 and 10 players (rank-2 games,
/// so joins lock and the close burns and mints for every seat; two turns, the second decisive).
fn arena_gas(snap: &mut GasSnapshot) {
    for n in [3usize, 5, 10] {
        let mut f = ArenaFixture::new(n);
        if n == 3 {
            let (admin, ranks, token, treasury, lat) =
                (f.admin, f.ranks, f.token, f.treasury, f.lat);
            let deployed = f
                .chain
                .deploy_with_receipt(
                    admin,
                    &RankifyArena::BYTECODE,
                    &RankifyArena::constructorCall {
                        ranks,
                        feeToken: token,
                        treasury,
                        lat,
                        minJoinFeeUnit_: u(crate::arena_fixture::MIN_FEE_UNIT),
                    },
                )
                .unwrap();
            snap.record("RankifyArena::constructor", deployed.gas_used);
        }
        for k in 0..n {
            let p = f.player(k);
            f.mint_rank(p, 2, 1);
        }
        let tag = |what: &str| format!("RankifyArena::{what} ({n} players)");
        let n8 = u8::try_from(n).unwrap();
        let creator = f.player(0);
        let created = f.try_create(creator, params(2, n8, n8, 2)).unwrap();
        snap.record(tag("createGame"), created.gas_used);
        let game = created.ret;
        let mut last_join = 0;
        for k in 0..n {
            let who = f.player(k);
            let gas = f.try_join(game, who).unwrap().gas_used;
            if k == 0 {
                snap.record(tag("join (first seat)"), gas);
            }
            last_join = gas;
        }
        snap.record(tag("join (last seat)"), last_join);
        let started =
            f.chain.send(creator, f.arena, &RankifyArena::startCall { gameId: game }).unwrap();
        snap.record(tag("start"), started.gas_used);

        // Turn 1: direct moves (last mover measured), early advances once each phase is complete.
        let plan = everyone_plays(n);
        let mut gas = 0;
        for seat in 0..n {
            gas = f.commit_proposal(game, 1, seat, &format!("proposal {seat}")).gas_used;
        }
        snap.record(tag("commitProposal"), gas);
        snap.record(tag("advance (to proposal reveal)"), f.try_advance(game).unwrap().gas_used);
        for seat in 0..n {
            gas = f.reveal_proposal(game, 1, seat, &format!("proposal {seat}")).gas_used;
        }
        snap.record(tag("revealProposal"), gas);
        snap.record(tag("advance (to voting)"), f.try_advance(game).unwrap().gas_used);
        for (seat, s) in plan.iter().enumerate() {
            gas = f.commit_vote(game, 1, seat, s.vote.as_ref().unwrap()).gas_used;
        }
        snap.record(tag("commitVote"), gas);
        snap.record(tag("advance (to vote reveal)"), f.try_advance(game).unwrap().gas_used);
        for (seat, s) in plan.iter().enumerate() {
            gas = f.try_reveal_vote(game, 1, seat, s.vote.as_ref().unwrap()).unwrap().gas_used;
        }
        snap.record(tag("revealVote"), gas);
        snap.record(tag("advance (end of turn)"), f.try_advance(game).unwrap().gas_used);

        // Turn 2: proposal commitments relayed in one signed batch, then a decisive vote.
        let domain = f.domain(f.chain.chain_id(), f.arena);
        let deadline = U256::from(f.chain.timestamp() + 60);
        let batch: Vec<_> = (0..n)
            .map(|seat| {
                let who = f.player(seat);
                let commitment =
                    proposal_commitment(game, 2, who, &format!("proposal {seat}"), salt(who, 2, 0));
                f.signed_commit(
                    &domain,
                    seat,
                    Commit { gameId: game, turn: 2, kind: 0, commitment, deadline },
                )
            })
            .collect();
        let relayer = f.chain.account(0);
        let relayed = f
            .chain
            .send(relayer, f.arena, &RankifyArena::relayCommitsCall { commits: batch })
            .unwrap();
        snap.record(tag("relayCommits (one per player)"), relayed.gas_used);
        f.try_advance(game).unwrap();
        for seat in 0..n {
            f.reveal_proposal(game, 2, seat, &format!("proposal {seat}"));
        }
        f.try_advance(game).unwrap();
        let decisive = favour(n, 1, 3);
        for (seat, s) in decisive.iter().enumerate() {
            f.commit_vote(game, 2, seat, s.vote.as_ref().unwrap());
        }
        f.try_advance(game).unwrap();
        for (seat, s) in decisive.iter().enumerate() {
            f.try_reveal_vote(game, 2, seat, s.vote.as_ref().unwrap()).unwrap();
        }
        snap.record(tag("advance (close)"), f.try_advance(game).unwrap().gas_used);
        let withdrawn = f.chain.send(creator, f.arena, &RankifyArena::withdrawCall {}).unwrap();
        snap.record(tag("withdraw"), withdrawn.gas_used);

        // Cancellation: a game below min after its window refunds and unlocks every seat.
        for k in 0..n {
            let p = f.player(k);
            f.mint_rank(p, 2, 1);
        }
        let cancelled = f.create(params(2, 16, 16, 1));
        for k in 0..n {
            let who = f.player(k);
            f.try_join(cancelled, who).unwrap();
        }
        f.chain.advance_time(PHASE + 1);
        snap.record(tag("advance (cancel)"), f.try_advance(cancelled).unwrap().gas_used);
    }
}

/// Every seat proposes; about two thirds answer "7" and everyone backs "7".
fn majority(n: usize) -> RoundPlan {
    let answers: Vec<&str> = (0..n).map(|s| if s % 3 == 2 { "1" } else { "7" }).collect();
    RoundPlan::full(&answers, "7")
}

#[test]
fn gas_matches_the_committed_snapshot() {
    let mut snap = GasSnapshot::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.gas-snapshot"));
    rank_token_gas(&mut snap);
    quadratic_voting_gas(&mut snap);
    deployment_gas(&mut snap);
    market_gas(&mut snap);
    escrow_gas(&mut snap);
    crate::agent_registry::record_gas(&mut snap);
    arena_gas(&mut snap);
    economy_gas(&mut snap);
    if let Err(err) = snap.check_or_update() {
        panic!("{err}");
    }
}
