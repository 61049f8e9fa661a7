//! DeliberationMarket: jobs, seat draws, settlement with signed transcripts, payouts, refunds.
//! The halting rule, equivocation reports and the bond-backed ladder are in `market_halting.rs`,
//! `market_equivocation.rs` and `market_ladder.rs`.

use alloy::{
    primitives::{Address, B256, Bytes, I256, U256, keccak256},
    sol_types::{SolError, SolStruct, SolValue},
};
use nsed_contracts::{
    authority_registry::AuthorityRegistry,
    deliberation_market::DeliberationMarket::{self, DeliberationMarketErrors},
    i_deliberation_market::IDeliberationMarket::{self, Round, Transcript},
    liquid_access_token::LiquidAccessToken,
    rank_token::RankToken,
    testkit::{ExpectRevert, TestChain, TxFailure},
    transcript::transcript_from_rounds,
    tripartite_escrow::TripartiteEscrow,
};
use nsed_protocol::eip712::{self, RoundContext};

use crate::market_fixture::*;

type Dm = DeliberationMarket::DeliberationMarketUnexpectedJobStatus;

fn unexpected(job_id: U256, current: u8) -> Dm {
    Dm { jobId: job_id, current }
}

/// The majority plan: seats 0 and 1 answer "7", seat 2 answers "1"; everyone backs "7".
fn majority(n: usize) -> RoundPlan {
    let answers: Vec<&str> = (0..n).map(|s| if s % 3 == 2 { "1" } else { "7" }).collect();
    RoundPlan::full(&answers, "7")
}

/// Round 1 of `job_id` (a job with the default input): nothing was shown before it.
fn round_one(job_id: U256) -> RoundContext {
    context(job_id, 1, B256::ZERO)
}

/// A signed round built by hand (for transcripts the protocol crate would refuse to produce):
/// `contents[seat]` is signed in `ctx` when present, `votes[seat]` is signed in `ctx` over the
/// digest of `contents`.
fn signed_round(
    f: &MarketFixture,
    ctx: &RoundContext,
    contents: &[Option<&str>],
    votes: &[Option<Vec<i64>>],
) -> Round {
    let seats = f.seats(contents.len());
    let digest = eip712::proposals_digest(&seats, contents);
    Round {
        contents: contents.iter().map(|c| c.unwrap_or_default().to_string()).collect(),
        proposalSignatures: contents
            .iter()
            .enumerate()
            .map(|(seat, c)| c.map(|c| f.sign_proposal(seat, ctx, c)).unwrap_or_default())
            .collect(),
        votes: votes
            .iter()
            .map(|v| v.as_ref().map(|v| v.iter().map(|&x| i(x)).collect()).unwrap_or_default())
            .collect(),
        ballotSignatures: votes
            .iter()
            .enumerate()
            .map(|(seat, v)| {
                v.as_ref().map(|v| f.sign_ballot(seat, ctx, digest, v)).unwrap_or_default()
            })
            .collect(),
    }
}

fn transcript_of(f: &MarketFixture, rounds: Vec<Round>) -> Transcript {
    let n = rounds[0].contents.len();
    Transcript { agents: f.seats(n), rounds }
}

fn scores_of(values: &[i128]) -> Vec<I256> {
    values.iter().map(|&s| I256::try_from(s).unwrap()).collect()
}

mod deployment {
    use super::*;

    #[test]
    fn constructor_wires_parameters_and_roles() {
        let mut f = MarketFixture::new(0);
        let (m, g) = (f.market, f.guild);
        let c = &mut f.chain;
        assert_eq!(c.call(g, m, &DeliberationMarket::tokenCall {}).unwrap(), f.token);
        assert_eq!(c.call(g, m, &DeliberationMarket::ranksCall {}).unwrap(), f.ranks);
        assert_eq!(c.call(g, m, &DeliberationMarket::escrowCall {}).unwrap(), f.escrow);
        assert_eq!(c.call(g, m, &DeliberationMarket::agentRegistryCall {}).unwrap(), f.registry);
        assert_eq!(c.call(g, m, &DeliberationMarket::guildCall {}).unwrap(), g);
        assert_eq!(c.call(g, m, &DeliberationMarket::keeperFeeBpsCall {}).unwrap(), KEEPER_FEE_BPS);
        assert_eq!(c.call(g, m, &DeliberationMarket::guildFeeBpsCall {}).unwrap(), GUILD_FEE_BPS);
        assert_eq!(
            c.call(g, m, &DeliberationMarket::challengeWindowCall {}).unwrap(),
            CHALLENGE_WINDOW
        );
        assert_eq!(c.call(g, m, &DeliberationMarket::jobCountCall {}).unwrap(), U256::ZERO);
        assert_eq!(c.call(g, m, &DeliberationMarket::MAX_AGENTSCall {}).unwrap(), 16);
        assert_eq!(c.call(g, m, &DeliberationMarket::MAX_ROUNDSCall {}).unwrap(), 5);
        assert_eq!(c.call(g, m, &DeliberationMarket::MAX_INPUT_BYTESCall {}).unwrap(), u(65_536));
        assert_eq!(c.call(g, m, &DeliberationMarket::MAX_KIND_BYTESCall {}).unwrap(), u(64));
        assert_eq!(c.call(g, m, &DeliberationMarket::MAX_CONTENT_BYTESCall {}).unwrap(), u(4096));
        let keeper_role = c.call(g, m, &DeliberationMarket::KEEPER_ROLECall {}).unwrap();
        assert_eq!(keeper_role, keccak256("KEEPER_ROLE"));
        let has = |c: &mut TestChain, role: B256, account: Address| {
            c.call(g, m, &DeliberationMarket::hasRoleCall { role, account }).unwrap()
        };
        assert!(has(c, B256::ZERO, g));
        assert!(has(c, keeper_role, f.keeper));
        assert!(!has(c, keeper_role, f.requester));
        assert!(!has(c, B256::ZERO, f.keeper));
    }

    #[test]
    fn constructor_rejects_zero_addresses() {
        let mut f = MarketFixture::new(0);
        let valid = DeliberationMarket::constructorCall {
            token_: f.token,
            ranks_: f.ranks,
            escrow_: f.escrow,
            lat_: f.lat,
            registry_: f.registry,
            guild_: f.guild,
            keeperFeeBps_: 0,
            guildFeeBps_: 0,
            challengeWindow_: 0,
        };
        let cases = [
            DeliberationMarket::constructorCall { token_: Address::ZERO, ..valid.clone() },
            DeliberationMarket::constructorCall { ranks_: Address::ZERO, ..valid.clone() },
            DeliberationMarket::constructorCall { escrow_: Address::ZERO, ..valid.clone() },
            DeliberationMarket::constructorCall { lat_: Address::ZERO, ..valid.clone() },
            DeliberationMarket::constructorCall { registry_: Address::ZERO, ..valid.clone() },
            DeliberationMarket::constructorCall { guild_: Address::ZERO, ..valid.clone() },
        ];
        for args in cases {
            f.chain
                .deploy_with_receipt(f.guild, &DeliberationMarket::BYTECODE, &args)
                .expect_revert(DeliberationMarket::DeliberationMarketZeroAddress {});
        }
        let deployed =
            f.chain.deploy_with_receipt(f.guild, &DeliberationMarket::BYTECODE, &valid).unwrap();
        // The halting terms start at the protocol crate's defaults.
        let terms = deployed.event::<DeliberationMarket::HaltingTermsChanged>();
        let default = nsed_protocol::halting::HaltingConfig::default();
        assert_eq!(u32::from(terms.minRounds), default.min_rounds);
        assert_eq!(terms.effortPermille, default.effort_permille);
        assert_eq!(terms.roundAllowance, ROUND_ALLOWANCE);
        let stored =
            f.chain.call(f.guild, deployed.ret, &DeliberationMarket::haltingTermsCall {}).unwrap();
        assert_eq!(
            (stored.minRounds, stored.effortPermille, stored.roundAllowance),
            (1, 600, ROUND_ALLOWANCE)
        );
    }

    #[test]
    fn constructor_rejects_fees_above_the_bounty() {
        let mut f = MarketFixture::new(0);
        let args = |keeper: u16, guild: u16| DeliberationMarket::constructorCall {
            token_: f.token,
            ranks_: f.ranks,
            escrow_: f.escrow,
            lat_: f.lat,
            registry_: f.registry,
            guild_: f.guild,
            keeperFeeBps_: keeper,
            guildFeeBps_: guild,
            challengeWindow_: CHALLENGE_WINDOW,
        };
        let (over, exact) = (args(9_000, 1_001), args(9_000, 1_000));
        f.chain.deploy_with_receipt(f.guild, &DeliberationMarket::BYTECODE, &over).expect_revert(
            DeliberationMarket::DeliberationMarketInvalidFees {
                keeperFeeBps: 9_000,
                guildFeeBps: 1_001,
            },
        );
        f.chain.deploy(f.guild, &DeliberationMarket::BYTECODE, &exact).unwrap();
    }

    #[test]
    fn the_domain_separator_is_the_protocol_crates() {
        let mut f = MarketFixture::new(0);
        let (g, m) = (f.guild, f.market);
        let separator = f.chain.call(g, m, &DeliberationMarket::domainSeparatorCall {}).unwrap();
        assert_eq!(separator, f.domain().separator());
        let domain = f.chain.call(g, m, &DeliberationMarket::eip712DomainCall {}).unwrap();
        assert_eq!(domain.name, eip712::DOMAIN_NAME);
        assert_eq!(domain.version, eip712::DOMAIN_VERSION);
        assert_eq!(domain.chainId, u(f.chain.chain_id()));
        assert_eq!(domain.verifyingContract, m);
    }

    #[test]
    fn type_hashes_match_the_protocol_crates_structs() {
        let mut f = MarketFixture::new(0);
        let (g, m) = (f.guild, f.market);
        let proposal = f.chain.call(g, m, &DeliberationMarket::PROPOSAL_TYPEHASHCall {}).unwrap();
        let ballot = f.chain.call(g, m, &DeliberationMarket::BALLOT_TYPEHASHCall {}).unwrap();
        assert_eq!(proposal, keccak256(eip712::typed::Proposal::eip712_encode_type().as_bytes()));
        assert_eq!(ballot, keccak256(eip712::typed::Ballot::eip712_encode_type().as_bytes()));
        assert_eq!(
            proposal,
            keccak256(
                "Proposal(uint256 jobId,uint32 round,bytes32 inputHash,bytes32 previousRoundDigest,\
                 bytes32 contentHash)"
            )
        );
        assert_eq!(
            ballot,
            keccak256(
                "Ballot(uint256 jobId,uint32 round,bytes32 inputHash,bytes32 previousRoundDigest,\
                 bytes32 proposalsDigest,int256[] votes)"
            )
        );
    }
}

mod seats {
    use nsed_contracts::{agent_registry::AgentRegistry, market::seats_hash};

    use super::*;

    #[test]
    fn claim_job_draws_every_seat_from_the_registry_and_stores_only_their_hash() {
        let mut f = MarketFixture::new(3);
        let job = f.request(f.spec(3, 1), tokens(1));
        let receipt = f.try_claim(f.keeper, job).unwrap();
        let drawn = receipt.event::<IDeliberationMarket::SeatsDrawn>();
        // Three eligible agents for three seats: all of them, ascending.
        assert_eq!((drawn.jobId, drawn.seats.clone()), (job, f.seats(3)));
        assert_eq!(f.job(job).seatsHash, seats_hash(&drawn.seats));
        let claimed = receipt.event::<IDeliberationMarket::JobClaimed>();
        assert_eq!((claimed.jobId, claimed.keeper), (job, f.keeper));
    }

    #[test]
    fn the_draw_is_the_registrys_from_prevrandao_the_job_and_the_market() {
        let mut f = MarketFixture::new(10);
        let mut draws = Vec::new();
        for (k, randao) in
            [B256::ZERO, B256::repeat_byte(1), keccak256("beacon")].into_iter().enumerate()
        {
            f.chain.set_prevrandao(randao);
            let job = f.request(f.spec(4, 1), tokens(1));
            let seats = f.claim(job);
            let seed = keccak256((randao, job, f.market).abi_encode_params());
            let expected = f
                .chain
                .call(f.guild, f.registry, &AgentRegistry::drawSeatsCall { seed, count: u(4) })
                .unwrap();
            assert_eq!(seats, expected, "draw {k}");
            assert!(seats.windows(2).all(|w| w[0] < w[1]), "ascending and distinct: {seats:?}");
            assert!(seats.iter().all(|s| f.agents.iter().any(|k| k.address() == *s)));
            draws.push(seats);
        }
        assert!(draws[0] != draws[1] || draws[1] != draws[2], "draws vary: {draws:?}");
    }

    #[test]
    fn claim_job_needs_as_many_eligible_agents_as_seats() {
        let mut f = MarketFixture::new(3);
        let job = f.request(f.spec(3, 1), tokens(1));
        let agent = f.agents[1].address();
        f.chain
            .send(f.owner, f.registry, &AgentRegistry::deactivateCall { agent_: agent })
            .unwrap();
        f.try_claim(f.keeper, job).expect_revert(
            DeliberationMarket::DeliberationMarketTooFewEligibleAgents {
                jobId: job,
                eligible: u(2),
                wanted: 3,
            },
        );
        assert_eq!(f.status(job), status::REQUESTED);
        f.chain
            .send(f.owner, f.registry, &AgentRegistry::reactivateCall { agent_: agent })
            .unwrap();
        f.claim(job);
    }

    #[test]
    fn settle_job_accepts_only_the_drawn_seats_in_their_order() {
        let mut f = MarketFixture::new(5);
        let job = f.request(f.spec(3, 1), tokens(1));
        let seats = f.claim(job);
        let not_drawn: Vec<Address> =
            f.seats(5).into_iter().filter(|a| !seats.contains(a)).collect();
        let not_seats = |f: &MarketFixture, agents: &[Address]| {
            let keys = f.keys_of(agents);
            let d = deliberate(&keys, f.domain(), job, input_hash(), CREDITS, &[majority(3)]);
            transcript_from_rounds(d.seats(), d.rounds())
        };
        let expected = DeliberationMarket::DeliberationMarketSeatsNotDrawn { jobId: job };
        // The keeper's own choice of agents, one undrawn agent in a drawn seat, too many seats.
        let mut own = vec![not_drawn[0], not_drawn[1], seats[0]];
        own.sort();
        f.settle(job, &not_seats(&f, &own)).expect_revert(expected.clone());
        let mut swapped = vec![seats[0], seats[1], not_drawn[0]];
        swapped.sort();
        f.settle(job, &not_seats(&f, &swapped)).expect_revert(expected.clone());
        let mut more = seats.clone();
        more.push(not_drawn[0]);
        more.sort();
        let d =
            deliberate(&f.keys_of(&more), f.domain(), job, input_hash(), CREDITS, &[majority(4)]);
        f.settle(job, &transcript_from_rounds(d.seats(), d.rounds()))
            .expect_revert(expected.clone());
        // The drawn seats out of order.
        let good = f.transcript(job, 3, &[majority(3)]);
        let mut reordered = good.clone();
        reordered.agents.swap(0, 1);
        f.settle(job, &reordered).expect_revert(expected);
        let receipt = f.settle(job, &good).unwrap();
        assert!(seats.contains(&receipt.event::<IDeliberationMarket::JobSettled>().winner));
    }

    #[test]
    fn seats_are_fixed_at_the_claim_whatever_their_owners_do_afterwards() {
        let mut f = MarketFixture::new(4);
        let job = f.request(f.spec(4, 1), tokens(1));
        let seats = f.claim(job);
        // One seat leaves the pool, another starts unbonding, and a new agent joins it.
        f.chain
            .send(f.owner, f.registry, &AgentRegistry::deactivateCall { agent_: seats[0] })
            .unwrap();
        f.chain
            .send(f.owner, f.registry, &AgentRegistry::requestUnbondCall { agent_: seats[1] })
            .unwrap();
        let newcomer = agent_key(&f.chain, 9);
        f.register(&newcomer, tokens(MIN_BOND)).unwrap();
        assert_eq!(f.job(job).seatsHash, nsed_contracts::market::seats_hash(&seats));
        let t = f.transcript(job, 4, &[majority(4)]);
        assert_eq!(t.agents, seats);
        f.settle(job, &t).unwrap();
        assert_eq!(f.status(job), status::SETTLED);
    }
}

mod request {
    use super::*;

    #[test]
    fn request_job_escrows_the_bounty_for_the_requester() {
        let mut f = MarketFixture::new(0);
        let spec = f.spec(3, 2);
        let before = f.balance(f.requester);
        let job = f.request(spec.clone(), tokens(100));
        assert_eq!(job, u(1));
        assert_eq!(f.balance(f.requester), before - tokens(100));
        assert_eq!(f.balance(f.escrow), tokens(100));
        assert_eq!(f.balance(f.market), U256::ZERO);
        assert_eq!(f.status(job), status::REQUESTED);
        let stored = f.job(job);
        assert_eq!(stored.requester, f.requester);
        assert_eq!(stored.status, status::REQUESTED);
        assert_eq!((stored.agentsWanted, stored.maxRounds), (3, 2));
        assert_eq!((stored.credits, stored.deadline), (CREDITS, spec.deadline));
        assert_eq!(
            (stored.keeper, stored.winner, stored.rounds),
            (Address::ZERO, Address::ZERO, 0)
        );
        assert_eq!((stored.bounty, stored.escrowId), (tokens(100), u(1)));
        assert_eq!(stored.inputHash, keccak256(&spec.input));
        assert_eq!((stored.kind.as_str(), stored.answer.as_str()), ("tensor-f32", ""));
        let deal = f.deal(stored.escrowId);
        assert_eq!((deal.buyer, deal.operator, deal.token), (f.requester, f.market, f.token));
        assert_eq!((deal.amount, deal.state), (tokens(100), deal_state::FUNDED));
        assert_eq!(
            (deal.deliveryDeadline, deal.challengeWindow),
            (spec.deadline, CHALLENGE_WINDOW)
        );
        let count = f.chain.call(f.guild, f.market, &DeliberationMarket::jobCountCall {}).unwrap();
        assert_eq!(count, u(1));
        assert_eq!(f.request(f.spec(2, 1), tokens(1)), u(2));
    }

    #[test]
    fn request_job_emits_everything_a_keeper_needs() {
        let mut f = MarketFixture::new(0);
        let spec = f.spec(4, 3);
        let receipt = f.try_request_from(f.requester, spec.clone(), tokens(5)).unwrap();
        let event = receipt.event::<IDeliberationMarket::JobRequested>();
        assert_eq!((event.jobId, event.requester), (u(1), f.requester));
        assert_eq!((event.kind, event.input), (spec.kind, spec.input));
        assert_eq!((event.agentsWanted, event.maxRounds), (4, 3));
        assert_eq!((event.credits, event.deadline), (CREDITS, spec.deadline));
        assert_eq!((event.token, event.bounty, event.escrowId), (f.token, tokens(5), u(1)));
        let opened = receipt.event::<TripartiteEscrow::DealOpened>();
        assert_eq!((opened.dealId, opened.buyer, opened.operator), (u(1), f.requester, f.market));
    }

    #[test]
    fn request_job_rejects_invalid_specs() {
        let mut f = MarketFixture::new(0);
        let now = f.chain.timestamp();
        let base = f.spec(3, 2);
        let mut cases: Vec<(IDeliberationMarket::JobSpec, U256, Vec<u8>)> = Vec::new();
        let mut case = |spec, bounty, error: Vec<u8>| cases.push((spec, bounty, error));
        fn enc<E: SolError>(error: E) -> Vec<u8> {
            error.abi_encode()
        }
        use DeliberationMarket as D;
        let spec = |edit: &dyn Fn(&mut IDeliberationMarket::JobSpec)| {
            let mut s = base.clone();
            edit(&mut s);
            s
        };
        case(
            spec(&|s| s.agentsWanted = 1),
            tokens(1),
            enc(D::DeliberationMarketInvalidAgentsWanted { agentsWanted: 1 }),
        );
        case(
            spec(&|s| s.agentsWanted = 17),
            tokens(1),
            enc(D::DeliberationMarketInvalidAgentsWanted { agentsWanted: 17 }),
        );
        case(
            spec(&|s| s.maxRounds = 0),
            tokens(1),
            enc(D::DeliberationMarketInvalidMaxRounds { maxRounds: 0 }),
        );
        case(
            spec(&|s| s.maxRounds = 6),
            tokens(1),
            enc(D::DeliberationMarketInvalidMaxRounds { maxRounds: 6 }),
        );
        case(
            spec(&|s| s.credits = 0),
            tokens(1),
            enc(D::DeliberationMarketInvalidCredits { credits: 0 }),
        );
        case(
            spec(&|s| s.deadline = now),
            tokens(1),
            enc(D::DeliberationMarketInvalidDeadline { deadline: now }),
        );
        case(
            spec(&|s| s.deadline = 1),
            tokens(1),
            enc(D::DeliberationMarketInvalidDeadline { deadline: 1 }),
        );
        case(base.clone(), U256::ZERO, enc(D::DeliberationMarketZeroBounty {}));
        case(
            spec(&|s| s.kind = String::new()),
            tokens(1),
            enc(D::DeliberationMarketInvalidKindLength { length: u(0) }),
        );
        case(
            spec(&|s| s.kind = "k".repeat(65)),
            tokens(1),
            enc(D::DeliberationMarketInvalidKindLength { length: u(65) }),
        );
        case(
            spec(&|s| s.input = vec![7u8; 65_537].into()),
            tokens(1),
            enc(D::DeliberationMarketInputTooLarge { length: u(65_537) }),
        );
        for (spec, bounty, expected) in cases {
            let failure = f.try_request_from(f.requester, spec.clone(), bounty).unwrap_err();
            assert_eq!(
                failure.revert_data().map(|d| d.to_vec()),
                Some(expected),
                "spec {spec:?} with bounty {bounty}: {:?}",
                failure.decode::<DeliberationMarketErrors>()
            );
        }
        assert_eq!(f.balance(f.escrow), U256::ZERO);
    }

    #[test]
    fn request_job_accepts_the_largest_spec() {
        let mut f = MarketFixture::new(0);
        let mut spec = f.spec(16, 5);
        spec.kind = "k".repeat(64);
        spec.input = vec![7u8; 65_536].into();
        spec.credits = u64::MAX;
        let job = f.request(spec.clone(), U256::from(1));
        let stored = f.job(job);
        assert_eq!((stored.agentsWanted, stored.maxRounds, stored.credits), (16, 5, u64::MAX));
        assert_eq!(stored.inputHash, keccak256(&spec.input));
    }

    #[test]
    fn request_job_needs_an_allowance_and_funds() {
        let mut f = MarketFixture::new(0);
        let poor = f.chain.account(7);
        let spec = f.spec(2, 1);
        f.try_request_from(poor, spec, tokens(1)).expect_revert(
            nsed_contracts::bounty_token::BountyToken::ERC20InsufficientAllowance {
                spender: f.market,
                allowance: U256::ZERO,
                needed: tokens(1),
            },
        );
    }
}

mod claim {
    use super::*;

    #[test]
    fn claim_job_requires_the_keeper_role() {
        let mut f = MarketFixture::new(2);
        let job = f.request(f.spec(2, 1), tokens(1));
        let role = keccak256("KEEPER_ROLE");
        let stranger = f.chain.account(7);
        f.chain
            .send(stranger, f.market, &IDeliberationMarket::claimJobCall { jobId: job })
            .expect_revert(DeliberationMarket::AccessControlUnauthorizedAccount {
                account: stranger,
                neededRole: role,
            });
    }

    #[test]
    fn claim_job_marks_the_job_claimed_once() {
        let mut f = MarketFixture::new(2);
        let job = f.request(f.spec(2, 1), tokens(1));
        let receipt = f
            .chain
            .send(f.keeper, f.market, &IDeliberationMarket::claimJobCall { jobId: job })
            .unwrap();
        let event = receipt.event::<IDeliberationMarket::JobClaimed>();
        assert_eq!((event.jobId, event.keeper), (job, f.keeper));
        assert_eq!(f.status(job), status::CLAIMED);
        assert_eq!(f.job(job).keeper, f.keeper);
        let until = f.job(job).claimedAt + u64::from(DEFAULT_CLAIM_TIMEOUT);
        f.chain
            .send(f.keeper, f.market, &IDeliberationMarket::claimJobCall { jobId: job })
            .expect_revert(DeliberationMarket::DeliberationMarketClaimHeld {
                jobId: job,
                keeper: f.keeper,
                until,
            });
    }

    #[test]
    fn claim_job_works_at_the_deadline_and_reverts_after_it() {
        let mut f = MarketFixture::new(2);
        let spec = f.spec(2, 1);
        let deadline = spec.deadline;
        let (early, late) = (f.request(spec.clone(), tokens(1)), f.request(spec, tokens(1)));
        f.chain.warp(deadline);
        f.claim(early);
        f.chain.warp(deadline + 1);
        f.chain
            .send(f.keeper, f.market, &IDeliberationMarket::claimJobCall { jobId: late })
            .expect_revert(DeliberationMarket::DeliberationMarketJobExpired {
                jobId: late,
                deadline,
            });
    }

    #[test]
    fn claim_job_reverts_for_unknown_jobs() {
        let mut f = MarketFixture::new(2);
        f.chain
            .send(f.keeper, f.market, &IDeliberationMarket::claimJobCall { jobId: u(9) })
            .expect_revert(unexpected(u(9), status::NONE));
    }
}

mod settle {
    use super::*;

    #[test]
    fn settle_job_tallies_every_round_and_records_the_answer() {
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 2, tokens(100));
        let plan = [RoundPlan::full(&["7", "1", "1"], "1"), majority(3)];
        let d = f.deliberate(job, 3, &plan);
        let t = transcript_from_rounds(d.seats(), d.rounds());
        let receipt = f.settle(job, &t).unwrap();

        let tallies = receipt.events::<IDeliberationMarket::RoundTallied>();
        assert_eq!(tallies.len(), 2);
        for (tally, record) in tallies.iter().zip(d.rounds()) {
            assert_eq!((tally.jobId, tally.round), (job, record.round));
            assert_eq!(tally.scores, scores_of(&record.scores));
            let winner = record.winner.unwrap();
            assert_eq!((tally.winnerSeat, tally.hasWinner), (u(winner.seat as u64), true));
        }
        let answer = d.outcome().unwrap().answer.unwrap();
        assert_eq!(answer.content, "7");
        let settled = receipt.event::<IDeliberationMarket::JobSettled>();
        assert_eq!((settled.jobId, settled.winner), (job, answer.agent));
        assert_eq!(settled.content, "7");
        assert_eq!(settled.score, I256::try_from(answer.score).unwrap());
        assert_eq!(settled.rounds, 2);

        let stored = f.job(job);
        assert_eq!(stored.status, status::SETTLED);
        assert_eq!((stored.winner, stored.answer.as_str(), stored.rounds), (answer.agent, "7", 2));
        assert_eq!(f.status(job), status::SETTLED);
    }

    #[test]
    fn settle_job_delivers_fees_and_pro_rata_shares_to_the_escrow() {
        let mut f = MarketFixture::new(3);
        let bounty = tokens(100) + u(7); // odd amount: the dust must land on the winner
        let job = f.claimed_job(3, 1, bounty);
        let d = f.deliberate(job, 3, &[majority(3)]);
        let t = transcript_from_rounds(d.seats(), d.rounds());
        f.settle(job, &t).unwrap();
        let last = &d.rounds()[0];
        let (recipients, amounts) = expected_payout(
            bounty,
            (KEEPER_FEE_BPS, GUILD_FEE_BPS),
            f.keeper,
            f.guild,
            d.seats(),
            &last.scores,
            last.winner.unwrap().seat,
        );
        let deal = f.job_deal(job);
        assert_eq!(deal.state, deal_state::DELIVERED);
        assert_eq!(deal.recipients, recipients);
        assert_eq!(deal.amounts, amounts);
        assert_eq!(amounts[0], bounty * u(500) / u(10_000));
        assert_eq!(amounts[1], bounty * u(200) / u(10_000));
        assert_eq!(amounts.iter().copied().sum::<U256>(), bounty);
        // Scores are 14 / 14 / -12: the two "7" seats split the agents' share.
        assert_eq!(last.scores, [14, 14, -12]);
        assert_eq!(recipients.len(), 4);

        // Funds move only after the challenge window, through the escrow.
        let before: Vec<U256> = recipients.iter().map(|&r| f.balance(r)).collect();
        f.chain.advance_time(CHALLENGE_WINDOW + 1);
        let (anyone, deal_id) = (f.chain.account(7), f.job(job).escrowId);
        f.chain.send(anyone, f.escrow, &TripartiteEscrow::releaseCall { dealId: deal_id }).unwrap();
        for ((&to, amount), before) in recipients.iter().zip(&amounts).zip(before) {
            assert_eq!(f.balance(to), before + *amount);
        }
        assert_eq!(f.balance(f.escrow), U256::ZERO);
    }

    #[test]
    fn the_winner_climbs_one_rank_per_win() {
        let mut f = MarketFixture::new(3);
        let winner = f.agents[0].address();
        // Rank 3 needs a bond of 4 · minBond (see `market_ladder.rs`).
        f.add_bond(winner, tokens(3 * MIN_BOND));
        for rank in 1..=3u64 {
            let job = f.claimed_job(3, 1, tokens(1));
            let t = f.transcript(job, 3, &[majority(3)]);
            let receipt = f.settle(job, &t).unwrap();
            let promoted = receipt.event::<IDeliberationMarket::AgentPromoted>();
            assert_eq!((promoted.agent, promoted.newRank), (winner, u(rank)));
            assert_eq!(f.rank_of(winner), u(rank));
            assert_eq!(f.rank_balance(winner, rank), u(1));
            assert_eq!(f.rank_balance(winner, rank - 1), U256::ZERO);
            let burns = receipt
                .events::<RankToken::TransferSingle>()
                .into_iter()
                .filter(|t| t.to == Address::ZERO)
                .count();
            assert_eq!(burns, usize::from(rank > 1));
        }
        assert_eq!(f.rank_of(f.agents[1].address()), U256::ZERO);
    }

    #[test]
    fn the_winner_earns_an_access_token_at_the_tier_of_the_rank_it_won_at() {
        let mut f = MarketFixture::new(3);
        let (winner, loser) = (f.agents[0].address(), f.agents[1].address());
        f.add_bond(winner, tokens(MIN_BOND));
        let asset = f.chain.call(f.guild, f.market, &DeliberationMarket::latAssetCall {}).unwrap();
        assert_eq!(U256::from(asset), U256::from_be_slice(f.market.as_slice()));
        // Unranked (0) and rank 1 both earn tier 1; rank 2 earns tier 2.
        for (tier1, tier2) in [(1, 0), (2, 0), (2, 1)] {
            let job = f.claimed_job(3, 1, tokens(1));
            let t = f.transcript(job, 3, &[majority(3)]);
            f.settle(job, &t).unwrap();
            assert_eq!((f.lat_balance(winner, 1), f.lat_balance(winner, 2)), (u(tier1), u(tier2)));
        }
        assert_eq!(f.lat_balance(loser, 1), U256::ZERO);
    }

    #[test]
    fn settle_job_reverts_while_the_market_cannot_mint_access_tokens() {
        let mut f = MarketFixture::new(3);
        let role = keccak256("MINTER_ROLE");
        let revoke = LiquidAccessToken::revokeRoleCall { role, account: f.market };
        f.chain.send(f.guild, f.lat, &revoke).unwrap();
        let job = f.claimed_job(3, 1, tokens(1));
        let t = f.transcript(job, 3, &[majority(3)]);
        f.settle(job, &t).expect_revert(LiquidAccessToken::AccessControlUnauthorizedAccount {
            account: f.market,
            neededRole: role,
        });
        assert_eq!(f.status(job), status::CLAIMED);
    }

    #[test]
    fn promotion_is_skipped_while_the_rank_token_is_locked_elsewhere() {
        let mut f = MarketFixture::new(3);
        let winner = f.agents[0].address();
        let job = f.claimed_job(3, 1, tokens(1));
        let t = f.transcript(job, 3, &[majority(3)]);
        f.settle(job, &t).unwrap();
        // Another game seats the agent and locks its rank-1 token.
        let game = f.chain.account(7);
        let role = keccak256("GAME_ROLE");
        f.chain.send(f.guild, f.ranks, &RankToken::grantRoleCall { role, account: game }).unwrap();
        f.chain
            .send(game, f.ranks, &RankToken::lockCall { account: winner, rank: u(1), amount: u(1) })
            .unwrap();
        let job = f.claimed_job(3, 1, tokens(1));
        let t = f.transcript(job, 3, &[majority(3)]);
        let receipt = f.settle(job, &t).unwrap();
        assert!(receipt.events::<IDeliberationMarket::AgentPromoted>().is_empty());
        assert_eq!(f.status(job), status::SETTLED);
        assert_eq!(f.rank_of(winner), u(1));
        assert_eq!((f.rank_balance(winner, 1), f.rank_balance(winner, 2)), (u(1), U256::ZERO));
    }

    #[test]
    fn settle_job_reverts_while_the_market_lacks_the_game_role() {
        let mut f = MarketFixture::new(3);
        let role = keccak256("GAME_ROLE");
        f.chain
            .send(f.guild, f.ranks, &RankToken::revokeRoleCall { role, account: f.market })
            .unwrap();
        let job = f.claimed_job(3, 1, tokens(1));
        let t = f.transcript(job, 3, &[majority(3)]);
        f.settle(job, &t).expect_revert(RankToken::AccessControlUnauthorizedAccount {
            account: f.market,
            neededRole: role,
        });
        assert_eq!(f.status(job), status::CLAIMED);
    }

    #[test]
    fn settle_job_requires_a_claimed_job() {
        let mut f = MarketFixture::new(3);
        let job = f.request(f.spec(3, 1), tokens(1));
        let t = f.transcript(job, 3, &[majority(3)]);
        f.settle(job, &t).expect_revert(unexpected(job, status::REQUESTED));
        f.settle(u(42), &t).expect_revert(unexpected(u(42), status::NONE));
    }

    #[test]
    fn only_the_claiming_keeper_settles() {
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 1, tokens(1));
        let t = f.transcript(job, 3, &[majority(3)]);
        let other = f.chain.account(7);
        let role = keccak256("KEEPER_ROLE");
        f.chain
            .send(f.guild, f.market, &DeliberationMarket::grantRoleCall { role, account: other })
            .unwrap();
        f.settle_from(other, job, &t).expect_revert(
            DeliberationMarket::DeliberationMarketNotClaimingKeeper { jobId: job, caller: other },
        );
        f.settle(job, &t).unwrap();
    }

    #[test]
    fn a_revoked_keeper_cannot_settle() {
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 1, tokens(1));
        let t = f.transcript(job, 3, &[majority(3)]);
        let role = keccak256("KEEPER_ROLE");
        f.chain
            .send(
                f.guild,
                f.market,
                &DeliberationMarket::revokeRoleCall { role, account: f.keeper },
            )
            .unwrap();
        f.settle(job, &t).expect_revert(DeliberationMarket::AccessControlUnauthorizedAccount {
            account: f.keeper,
            neededRole: role,
        });
    }

    #[test]
    fn settle_job_works_at_the_deadline_and_reverts_after_it() {
        let mut f = MarketFixture::new(3);
        let spec = f.spec(3, 1);
        let deadline = spec.deadline;
        let (on_time, late) = (f.request(spec.clone(), tokens(1)), f.request(spec, tokens(1)));
        f.claim(on_time);
        f.claim(late);
        let (t1, t2) =
            (f.transcript(on_time, 3, &[majority(3)]), f.transcript(late, 3, &[majority(3)]));
        f.chain.warp(deadline);
        f.settle(on_time, &t1).unwrap();
        f.chain.warp(deadline + 1);
        f.settle(late, &t2).expect_revert(DeliberationMarket::DeliberationMarketJobExpired {
            jobId: late,
            deadline,
        });
    }

    #[test]
    fn round_count_must_be_between_one_and_max_rounds() {
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 2, tokens(1));
        let mut t = f.transcript(job, 3, &[majority(3), majority(3), majority(3)]);
        f.settle(job, &t).expect_revert(DeliberationMarket::DeliberationMarketInvalidRoundCount {
            rounds: u(3),
            maxRounds: 2,
        });
        t.rounds.clear();
        f.settle(job, &t).expect_revert(DeliberationMarket::DeliberationMarketInvalidRoundCount {
            rounds: u(0),
            maxRounds: 2,
        });
    }

    #[test]
    fn every_round_array_needs_one_entry_per_seat() {
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 1, tokens(1));
        let t = f.transcript(job, 3, &[majority(3)]);
        let edits: [fn(&mut Round); 4] = [
            |r| drop(r.contents.pop()),
            |r| drop(r.proposalSignatures.pop()),
            |r| r.votes.push(Vec::new()),
            |r| drop(r.ballotSignatures.pop()),
        ];
        for edit in edits {
            let mut bad = t.clone();
            edit(&mut bad.rounds[0]);
            f.settle(job, &bad).expect_revert(
                DeliberationMarket::DeliberationMarketRoundLengthMismatch { round: 1, seats: u(3) },
            );
        }
    }

    #[test]
    fn a_missing_proposal_must_have_no_content() {
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 1, tokens(1));
        let mut t = f.transcript(job, 3, &[majority(3)]);
        t.rounds[0].proposalSignatures[1] = Bytes::new();
        f.settle(job, &t).expect_revert(DeliberationMarket::DeliberationMarketUnsignedContent {
            round: 1,
            seat: u(1),
        });
    }

    #[test]
    fn signed_content_must_be_non_empty_and_at_most_4096_bytes() {
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 1, tokens(1));
        let votes = || vec![None, None, None];
        for (content, length) in [(String::new(), 0u64), ("x".repeat(4097), 4097)] {
            let mut round =
                signed_round(&f, &round_one(job), &[Some("7"), Some("7"), None], &votes());
            round.contents[2] = content.clone();
            round.proposalSignatures[2] = f.sign_proposal(2, &round_one(job), &content);
            let t = transcript_of(&f, vec![round]);
            f.settle(job, &t).expect_revert(
                DeliberationMarket::DeliberationMarketInvalidContentLength {
                    round: 1,
                    seat: u(2),
                    length: u(length),
                },
            );
        }
        // Exactly 4096 bytes is accepted.
        let long = "y".repeat(4096);
        let t = transcript_of(
            &f,
            vec![signed_round(
                &f,
                &round_one(job),
                &[Some("7"), Some(&long), Some("1")],
                &[Some(vec![0, 1, 0]), Some(vec![0, 0, 0]), Some(vec![0, 1, 0])],
            )],
        );
        f.settle(job, &t).unwrap();
        assert_eq!(f.job(job).answer, long);
    }

    #[test]
    fn a_proposal_signed_by_another_key_is_rejected() {
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 1, tokens(1));
        let mut t = f.transcript(job, 3, &[majority(3)]);
        // Seat 1's content signed by seat 0.
        t.rounds[0].proposalSignatures[1] = f.sign_proposal(0, &round_one(job), "7");
        f.settle(job, &t).expect_revert(
            DeliberationMarket::DeliberationMarketInvalidProposalSignature { round: 1, seat: u(1) },
        );
        // Signed for another job, or another round.
        let mut t = f.transcript(job, 3, &[majority(3)]);
        t.rounds[0].proposalSignatures[0] = f.sign_proposal(0, &round_one(job + u(1)), "7");
        f.settle(job, &t).expect_revert(
            DeliberationMarket::DeliberationMarketInvalidProposalSignature { round: 1, seat: u(0) },
        );
        t.rounds[0].proposalSignatures[0] = f.sign_proposal(0, &context(job, 2, B256::ZERO), "7");
        f.settle(job, &t).expect_revert(
            DeliberationMarket::DeliberationMarketInvalidProposalSignature { round: 1, seat: u(0) },
        );
    }

    #[test]
    fn malleable_short_and_v_0_1_signatures_are_rejected() {
        // The secp256k1 group order.
        let n: U256 =
            "0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141".parse().unwrap();
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 1, tokens(1));
        let t = f.transcript(job, 3, &[majority(3)]);
        let good = t.rounds[0].proposalSignatures[1].clone();
        let s = U256::from_be_slice(&good[32..64]);
        let mut high_s = good.to_vec();
        high_s[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
        // (r, n - s) with the other parity recovers the same signer: the malleable twin.
        high_s[64] = if high_s[64] == 27 { 28 } else { 27 };
        let mut v_raw = good.to_vec();
        v_raw[64] -= 27;
        let short = good[..64].to_vec();
        let mut long = good.to_vec();
        long.push(0);
        for bad in [high_s, v_raw, short, long, Vec::new()] {
            let mut tampered = t.clone();
            tampered.rounds[0].proposalSignatures[1] = bad.clone().into();
            let failure = f.settle(job, &tampered).unwrap_err();
            let expected: Box<dyn Fn(&TxFailure) -> bool> = if bad.is_empty() {
                // An empty signature means "missing", which the content then contradicts.
                Box::new(|e| {
                    e.is_error(&DeliberationMarket::DeliberationMarketUnsignedContent {
                        round: 1,
                        seat: u(1),
                    })
                })
            } else {
                Box::new(|e| {
                    e.is_error(&DeliberationMarket::DeliberationMarketInvalidProposalSignature {
                        round: 1,
                        seat: u(1),
                    })
                })
            };
            assert!(expected(&failure), "{:?}", failure.decode::<DeliberationMarketErrors>());
        }
        f.settle(job, &t).unwrap();
    }

    #[test]
    fn a_round_needs_a_quorum_of_proposals() {
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 1, tokens(1));
        let round =
            signed_round(&f, &round_one(job), &[Some("7"), None, None], &[None, None, None]);
        let t = transcript_of(&f, vec![round]);
        f.settle(job, &t).expect_revert(DeliberationMarket::DeliberationMarketTooFewProposals {
            round: 1,
            proposals: u(1),
            needed: u(3),
        });
    }

    /// Leaving an honest ballot out of the transcript is not a lever: with three seats every seat
    /// must take part. Here the full round scores 1, 2, 1 (seat 1 wins); without seat 2's ballot it
    /// would score 1, 0, 1 and seat 0 would win.
    #[test]
    fn a_keeper_cannot_flip_the_winner_by_leaving_a_ballot_out() {
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 1, tokens(1));
        let ballots = [Some(vec![0, 1, 0]), Some(vec![1, 0, 1]), Some(vec![0, 1, 0])];
        let full = signed_round(&f, &round_one(job), &[Some("4"), Some("7"), Some("1")], &ballots);
        let mut dropped = full.clone();
        dropped.votes[2] = Vec::new();
        dropped.ballotSignatures[2] = Bytes::new();
        f.settle(job, &transcript_of(&f, vec![dropped])).expect_revert(
            DeliberationMarket::DeliberationMarketTooFewBallots {
                round: 1,
                ballots: u(2),
                needed: u(3),
            },
        );
        let receipt = f.settle(job, &transcript_of(&f, vec![full])).unwrap();
        let settled = receipt.event::<IDeliberationMarket::JobSettled>();
        assert_eq!(settled.content, "7");
    }

    /// A panel of `n` seats tolerates at most `⌊(n − 1) / 3⌋` silent seats per phase: four seats
    /// settle with three proposals and three ballots, and not with two ballots.
    #[test]
    fn a_round_needs_a_quorum_of_ballots() {
        let mut f = MarketFixture::new(4);
        let job = f.claimed_job(4, 1, tokens(1));
        let contents = [Some("7"), Some("7"), Some("1"), None];
        let three =
            [Some(vec![0, 1, -1, 0]), Some(vec![1, 0, -1, 0]), Some(vec![1, 1, 0, 0]), None];
        let two = [three[0].clone(), three[1].clone(), None, None];
        let short = signed_round(&f, &round_one(job), &contents, &two);
        f.settle(job, &transcript_of(&f, vec![short])).expect_revert(
            DeliberationMarket::DeliberationMarketTooFewBallots {
                round: 1,
                ballots: u(2),
                needed: u(3),
            },
        );
        let enough = signed_round(&f, &round_one(job), &contents, &three);
        f.settle(job, &transcript_of(&f, vec![enough])).unwrap();
    }

    #[test]
    fn a_missing_ballot_must_have_no_votes() {
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 1, tokens(1));
        let mut t = f.transcript(job, 3, &[majority(3)]);
        t.rounds[0].ballotSignatures[2] = Bytes::new();
        f.settle(job, &t).expect_revert(DeliberationMarket::DeliberationMarketUnsignedVotes {
            round: 1,
            seat: u(2),
        });
    }

    #[test]
    fn a_ballot_replayed_from_another_round_job_or_proposal_set_is_rejected() {
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 2, tokens(1));
        let t = f.transcript(job, 3, &[majority(3), majority(3)]);
        // Round 1's ballot copied into round 2: identical votes and proposals, other round.
        let mut replay = t.clone();
        replay.rounds[1].ballotSignatures[0] = t.rounds[0].ballotSignatures[0].clone();
        f.settle(job, &replay).expect_revert(
            DeliberationMarket::DeliberationMarketInvalidBallotSignature { round: 2, seat: u(0) },
        );
        // The same votes signed for another job.
        let seats = f.seats(3);
        let contents: Vec<Option<&str>> =
            t.rounds[0].contents.iter().map(|c| Some(c.as_str())).collect();
        let digest = eip712::proposals_digest(&seats, &contents);
        let votes: Vec<i64> =
            t.rounds[0].votes[0].iter().map(|v| i64::try_from(*v).unwrap()).collect();
        let mut other_job = t.clone();
        other_job.rounds[0].ballotSignatures[0] =
            f.sign_ballot(0, &round_one(job + u(1)), digest, &votes);
        f.settle(job, &other_job).expect_revert(
            DeliberationMarket::DeliberationMarketInvalidBallotSignature { round: 1, seat: u(0) },
        );
        // The same votes over another proposal set.
        let mut other_set = t.clone();
        other_set.rounds[0].ballotSignatures[0] =
            f.sign_ballot(0, &round_one(job), keccak256("other proposals"), &votes);
        f.settle(job, &other_set).expect_revert(
            DeliberationMarket::DeliberationMarketInvalidBallotSignature { round: 1, seat: u(0) },
        );
        f.settle(job, &t).unwrap();
    }

    #[test]
    fn answers_to_another_input_than_the_jobs_are_rejected() {
        let mut f = MarketFixture::new(3);
        let mut spec = f.spec(3, 1);
        spec.input = Bytes::from_static(b"what the requester asked");
        let asked = keccak256(&spec.input);
        let job = f.request(spec, tokens(1));
        f.claim(job);
        assert_eq!(f.job(job).inputHash, asked);

        // Every agent answered another input (the default one) under this job's id and round.
        let shown_otherwise = f.transcript(job, 3, &[majority(3)]);
        f.settle(job, &shown_otherwise).expect_revert(
            DeliberationMarket::DeliberationMarketInvalidProposalSignature { round: 1, seat: u(0) },
        );

        let d = f.deliberate_on(job, asked, 3, &[majority(3)]);
        let good = transcript_from_rounds(d.seats(), d.rounds());
        let other_input = round_one(job);
        assert_ne!(other_input.input_hash, asked);
        // One proposal of the right transcript signed for the other input.
        let mut t = good.clone();
        t.rounds[0].proposalSignatures[1] =
            f.sign_proposal(1, &other_input, &good.rounds[0].contents[1]);
        f.settle(job, &t).expect_revert(
            DeliberationMarket::DeliberationMarketInvalidProposalSignature { round: 1, seat: u(1) },
        );
        // One ballot signed for the other input, over the right proposal set.
        let record = &d.rounds()[0];
        let votes = &record.ballots[2].as_ref().unwrap().votes;
        let mut t = good.clone();
        t.rounds[0].ballotSignatures[2] =
            f.sign_ballot(2, &other_input, record.proposals_digest, votes);
        f.settle(job, &t).expect_revert(
            DeliberationMarket::DeliberationMarketInvalidBallotSignature { round: 1, seat: u(2) },
        );
        f.settle(job, &good).unwrap();
    }

    #[test]
    fn a_later_round_answered_after_another_history_is_rejected() {
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 2, tokens(1));
        let d = f.deliberate(job, 3, &[RoundPlan::full(&["7", "1", "1"], "1"), majority(3)]);
        let good = transcript_from_rounds(d.seats(), d.rounds());
        let (first, second) = (&d.rounds()[0], &d.rounds()[1]);
        assert_eq!(second.previous_round_digest, first.digest);

        // A round-2 proposal signed as if nothing had been shown before it.
        let no_history = context(job, 2, B256::ZERO);
        let mut t = good.clone();
        t.rounds[1].proposalSignatures[0] =
            f.sign_proposal(0, &no_history, &good.rounds[1].contents[0]);
        f.settle(job, &t).expect_revert(
            DeliberationMarket::DeliberationMarketInvalidProposalSignature { round: 2, seat: u(0) },
        );

        // A round-2 ballot signed after a different round 1, over the right proposal set.
        let other = f.deliberate(job, 3, &[majority(3), majority(3)]);
        assert_ne!(other.rounds()[0].digest, first.digest);
        let other_history = context(job, 2, other.rounds()[0].digest);
        let votes = &second.ballots[1].as_ref().unwrap().votes;
        let mut t = good.clone();
        t.rounds[1].ballotSignatures[1] =
            f.sign_ballot(1, &other_history, second.proposals_digest, votes);
        f.settle(job, &t).expect_revert(
            DeliberationMarket::DeliberationMarketInvalidBallotSignature { round: 2, seat: u(1) },
        );

        // Round 1 of one deliberation spliced before round 2 of another: every signature is valid
        // on its own, but round 2 was not answered after this round 1.
        let mut spliced = good.clone();
        spliced.rounds[0] = transcript_from_rounds(other.seats(), other.rounds()).rounds[0].clone();
        f.settle(job, &spliced).expect_revert(
            DeliberationMarket::DeliberationMarketInvalidProposalSignature { round: 2, seat: u(0) },
        );

        // A round-1 ballot the agents were shown, dropped afterwards: round 1 no longer makes
        // the quorum, and round 2 was answered after the full round 1 anyway.
        let mut dropped = good.clone();
        dropped.rounds[0].votes[2].clear();
        dropped.rounds[0].ballotSignatures[2] = Bytes::new();
        f.settle(job, &dropped).expect_revert(
            DeliberationMarket::DeliberationMarketTooFewBallots {
                round: 1,
                ballots: u(2),
                needed: u(3),
            },
        );

        f.settle(job, &good).unwrap();
    }

    #[test]
    fn a_five_round_transcript_settles_along_its_digest_chain() {
        let mut f = MarketFixture::new(4);
        let job = f.claimed_job(4, 5, tokens(3));
        // One silent seat per phase: the quorum of four seats is three.
        let partial = RoundPlan {
            answers: vec![Some("7".into()), None, Some("7".into()), Some("2".into())],
            weights: vec![
                Some(vec![0, 0, 50, -10]),
                Some(vec![30, 0, 30, -30]),
                None,
                Some(vec![40, 0, 40, 0]),
            ],
        };
        let silent = RoundPlan {
            answers: vec![Some("7".into()), Some("1".into()), None, Some("1".into())],
            weights: vec![Some(vec![0; 4]), Some(vec![0; 4]), None, Some(vec![0; 4])],
        };
        let plan = [
            majority(4),
            partial,
            silent,
            RoundPlan::full(&["1", "1", "7", "7"], "1"),
            majority(4),
        ];
        let d = f.deliberate(job, 4, &plan);
        let t = transcript_from_rounds(d.seats(), d.rounds());

        // The chain as documented, recomputed from the transcript alone.
        let mut previous = B256::ZERO;
        for (round, record) in t.rounds.iter().zip(d.rounds()) {
            let contents: Vec<Option<&str>> =
                round.contents.iter().map(|c| (!c.is_empty()).then_some(c.as_str())).collect();
            let votes_hashes: Vec<B256> = round
                .votes
                .iter()
                .zip(&round.ballotSignatures)
                .map(|(v, sig)| match sig.is_empty() {
                    true => B256::ZERO,
                    false => keccak256(v.abi_encode_packed()),
                })
                .collect();
            let proposals_digest = eip712::proposals_digest(d.seats(), &contents);
            let digest = keccak256((previous, proposals_digest, votes_hashes).abi_encode_params());
            assert_eq!(record.previous_round_digest, previous, "round {}", record.round);
            assert_eq!(record.digest, digest, "round {}", record.round);
            previous = digest;
        }

        let receipt = f.settle(job, &t).unwrap();
        let tallies = receipt.events::<IDeliberationMarket::RoundTallied>();
        assert_eq!(tallies.len(), 5);
        for (tally, record) in tallies.iter().zip(d.rounds()) {
            assert_eq!(tally.round, record.round);
            assert_eq!(tally.scores, scores_of(&record.scores));
        }
        let answer = d.outcome().unwrap().answer.unwrap();
        let settled = receipt.event::<IDeliberationMarket::JobSettled>();
        assert_eq!(
            (settled.winner, settled.content.as_str(), settled.rounds),
            (answer.agent, "7", 5)
        );
    }

    #[test]
    fn a_hand_signed_second_round_settles_after_the_documented_digest() {
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 2, tokens(1));
        let seats = f.seats(3);
        let contents = [Some("7"), Some("1"), Some("1")];
        let votes = [Some(vec![0, 4, 0]), Some(vec![0, 0, 0]), Some(vec![5, -5, 0])];
        let first = signed_round(&f, &round_one(job), &contents, &votes);
        let votes_hashes = [
            keccak256([i(0), i(4), i(0)].abi_encode_packed()),
            keccak256([i(0), i(0), i(0)].abi_encode_packed()),
            keccak256([i(5), i(-5), i(0)].abi_encode_packed()),
        ];
        let digest = keccak256(
            (B256::ZERO, eip712::proposals_digest(&seats, &contents), votes_hashes.to_vec())
                .abi_encode_params(),
        );
        let refs: Vec<Option<&[i64]>> = votes.iter().map(Option::as_deref).collect();
        assert_eq!(
            digest,
            eip712::round_digest(B256::ZERO, eip712::proposals_digest(&seats, &contents), &refs)
        );
        let second = signed_round(
            &f,
            &context(job, 2, digest),
            &[Some("7"), Some("7"), Some("1")],
            &[Some(vec![0, 3, -3]), Some(vec![0, 0, 0]), Some(vec![0, 0, 0])],
        );
        let receipt = f.settle(job, &transcript_of(&f, vec![first, second])).unwrap();
        let settled = receipt.event::<IDeliberationMarket::JobSettled>();
        assert_eq!((settled.winner, settled.content.as_str()), (seats[1], "7"));
    }

    #[test]
    fn ballots_must_follow_the_quadratic_voting_rules() {
        // Four seats (quorum 3): seat 2 stays silent, seats 1 and 3 abstain, seat 0 is checked.
        let mut f = MarketFixture::new(4);
        let job = f.claimed_job(4, 1, tokens(1));
        let contents = [Some("7"), Some("1"), None, Some("1")];
        let abstain = Some(vec![0, 0, 0, 0]);
        let cases: [(Vec<i64>, Vec<u8>); 4] = [
            (
                vec![1, 1, 0, 0],
                SolError::abi_encode(&DeliberationMarket::QuadraticVotingSelfVote { voter: u(0) }),
            ),
            (
                vec![0, 1, 1, 0],
                SolError::abi_encode(&DeliberationMarket::QuadraticVotingVoteForNonProposer {
                    candidate: u(2),
                }),
            ),
            (
                vec![0, 11, 0, 0],
                SolError::abi_encode(&DeliberationMarket::QuadraticVotingBudgetExceeded {
                    cost: u(121),
                    credits: u(100),
                }),
            ),
            (
                vec![0, 1],
                SolError::abi_encode(&DeliberationMarket::QuadraticVotingLengthMismatch {
                    expected: u(4),
                    actual: u(2),
                }),
            ),
        ];
        for (votes, expected) in cases {
            let ballots = [Some(votes.clone()), abstain.clone(), None, abstain.clone()];
            let round = signed_round(&f, &round_one(job), &contents, &ballots);
            let failure = f.settle(job, &transcript_of(&f, vec![round])).unwrap_err();
            assert_eq!(
                failure.revert_data().map(|d| d.to_vec()),
                Some(expected),
                "votes {votes:?}"
            );
        }
        // Exactly the budget (6² + 8² = 100) is fine.
        let round = signed_round(
            &f,
            &round_one(job),
            &[Some("7"), Some("1"), Some("1"), None],
            &[Some(vec![0, 6, -8, 0]), abstain.clone(), abstain, None],
        );
        f.settle(job, &transcript_of(&f, vec![round])).unwrap();
    }

    #[test]
    fn the_last_round_needs_a_supported_winner() {
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 2, tokens(1));
        let silent = RoundPlan {
            answers: vec![Some("7".into()), Some("1".into()), Some("1".into())],
            weights: vec![Some(vec![0; 3]), Some(vec![0; 3]), Some(vec![0; 3])],
        };
        let d = f.deliberate(job, 3, &[majority(3), silent.clone()]);
        assert!(d.outcome().unwrap().answer.is_none());
        let t = transcript_from_rounds(d.seats(), d.rounds());
        f.settle(job, &t)
            .expect_revert(DeliberationMarket::DeliberationMarketNoSupportedWinner { round: 2 });
        // A silent first round is fine as long as the last one decides.
        let t = f.transcript(job, 3, &[silent, majority(3)]);
        let receipt = f.settle(job, &t).unwrap();
        let tallies = receipt.events::<IDeliberationMarket::RoundTallied>();
        assert_eq!((tallies[0].hasWinner, tallies[0].winnerSeat), (false, U256::ZERO));
        assert_eq!(tallies[0].scores, scores_of(&[0, 0, 0]));
        assert!(tallies[1].hasWinner);
    }

    #[test]
    fn ties_go_to_the_lowest_seat() {
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 1, tokens(1));
        // Seat 2 backs seats 0 and 1 equally; the others abstain.
        let round = signed_round(
            &f,
            &round_one(job),
            &[Some("7"), Some("1"), Some("4")],
            &[Some(vec![0; 3]), Some(vec![0; 3]), Some(vec![5, 5, 0])],
        );
        let receipt = f.settle(job, &transcript_of(&f, vec![round])).unwrap();
        let settled = receipt.event::<IDeliberationMarket::JobSettled>();
        assert_eq!((settled.winner, settled.content.as_str()), (f.agents[0].address(), "7"));
    }

    #[test]
    fn an_unsupported_seat_cannot_win_and_a_negative_winner_takes_the_agents_share() {
        let mut f = MarketFixture::new(3);
        let bounty = tokens(10);
        let job = f.claimed_job(3, 1, bounty);
        // Seat 0 gets no vote (score 0, unsupported); seats 1 and 2 are opposed: -3 and -5.
        let round = signed_round(
            &f,
            &round_one(job),
            &[Some("7"), Some("1"), Some("4")],
            &[Some(vec![0, -3, -5]), Some(vec![0; 3]), Some(vec![0; 3])],
        );
        let receipt = f.settle(job, &transcript_of(&f, vec![round])).unwrap();
        let settled = receipt.event::<IDeliberationMarket::JobSettled>();
        assert_eq!((settled.winner, settled.score), (f.agents[1].address(), i(-3)));
        let deal = f.job_deal(job);
        let keeper_fee = bounty * u(500) / u(10_000);
        let guild_fee = bounty * u(200) / u(10_000);
        assert_eq!(deal.recipients, [f.keeper, f.guild, f.agents[1].address()]);
        assert_eq!(deal.amounts, [keeper_fee, guild_fee, bounty - keeper_fee - guild_fee]);
    }

    #[test]
    fn missing_agents_still_settle() {
        let mut f = MarketFixture::new(4);
        let job = f.claimed_job(4, 1, tokens(3));
        let plan = RoundPlan {
            answers: vec![Some("7".into()), None, Some("7".into()), Some("2".into())],
            weights: vec![
                Some(vec![0, 0, 50, -10]),
                Some(vec![30, 0, 30, -30]),
                None,
                Some(vec![20, 0, 0, 0]),
            ],
        };
        let d = f.deliberate(job, 4, &[plan]);
        let t = transcript_from_rounds(d.seats(), d.rounds());
        assert!(t.rounds[0].contents[1].is_empty() && t.rounds[0].votes[2].is_empty());
        let receipt = f.settle(job, &t).unwrap();
        let tally = receipt.event::<IDeliberationMarket::RoundTallied>();
        assert_eq!(tally.scores, scores_of(&d.rounds()[0].scores));
        let answer = d.outcome().unwrap().answer.unwrap();
        assert_eq!(receipt.event::<IDeliberationMarket::JobSettled>().winner, answer.agent);
    }

    #[test]
    fn zero_fees_leave_keeper_and_guild_out_of_the_payout() {
        let mut f = MarketFixture::new(3);
        let market = f
            .chain
            .deploy(
                f.guild,
                &DeliberationMarket::BYTECODE,
                &DeliberationMarket::constructorCall {
                    token_: f.token,
                    ranks_: f.ranks,
                    escrow_: f.escrow,
                    lat_: f.lat,
                    registry_: f.registry,
                    guild_: f.guild,
                    keeperFeeBps_: 0,
                    guildFeeBps_: 0,
                    challengeWindow_: 60,
                },
            )
            .unwrap();
        crate::fixtures::grant_lat_minter(&mut f.chain, f.guild, f.lat, market);
        f.market = market;
        f.chain
            .send(
                f.requester,
                f.token,
                &nsed_contracts::bounty_token::BountyToken::approveCall {
                    spender: market,
                    value: U256::MAX,
                },
            )
            .unwrap();
        let role = keccak256("KEEPER_ROLE");
        f.chain
            .send(f.guild, market, &DeliberationMarket::grantRoleCall { role, account: f.keeper })
            .unwrap();
        let game = keccak256("GAME_ROLE");
        f.chain
            .send(f.guild, f.ranks, &RankToken::grantRoleCall { role: game, account: market })
            .unwrap();
        let job = f.claimed_job(3, 1, u(1_000));
        let t = f.transcript(job, 3, &[majority(3)]);
        f.settle(job, &t).unwrap();
        let deal = f.job_deal(job);
        assert_eq!(deal.recipients, [f.agents[0].address(), f.agents[1].address()]);
        assert_eq!(deal.amounts, [u(500), u(500)]);
        assert_eq!(deal.challengeWindow, 60);
    }

    #[test]
    fn the_requester_can_dispute_a_settlement_and_the_guild_splits_it() {
        let mut f = MarketFixture::new(3);
        let bounty = tokens(100);
        let job = f.claimed_job(3, 1, bounty);
        let t = f.transcript(job, 3, &[majority(3)]);
        f.settle(job, &t).unwrap();
        let deal_id = f.job(job).escrowId;
        let before = f.balance(f.requester);
        f.chain
            .send(f.requester, f.escrow, &TripartiteEscrow::disputeCall { dealId: deal_id })
            .unwrap();
        f.chain
            .send(
                f.guild,
                f.escrow,
                &TripartiteEscrow::ruleCall { dealId: deal_id, buyerShareBps: 5_000 },
            )
            .unwrap();
        assert_eq!(f.balance(f.requester), before + tokens(50));
        assert_eq!(f.deal(deal_id).state, deal_state::RULED);
        assert_eq!(f.balance(f.escrow), U256::ZERO);
        // The job itself stays settled: the answer was given, only the money was disputed.
        assert_eq!(f.status(job), status::SETTLED);
    }
}

mod parameters {
    use super::*;

    #[test]
    fn the_guild_changes_fees_for_jobs_requested_later_and_strangers_cannot() {
        let mut f = MarketFixture::new(3);
        // Requested (and claimed) before the change: keeps the fees it was requested under.
        let open = f.claimed_job(3, 1, tokens(10));
        let stranger = f.chain.account(7);
        f.chain
            .send(
                stranger,
                f.market,
                &DeliberationMarket::setFeesCall { keeperFeeBps_: 1, guildFeeBps_: 1 },
            )
            .expect_revert(DeliberationMarket::AccessControlUnauthorizedAccount {
                account: stranger,
                neededRole: B256::ZERO,
            });
        f.chain
            .send(
                f.guild,
                f.market,
                &DeliberationMarket::setFeesCall { keeperFeeBps_: 5_000, guildFeeBps_: 5_001 },
            )
            .expect_revert(DeliberationMarket::DeliberationMarketInvalidFees {
                keeperFeeBps: 5_000,
                guildFeeBps: 5_001,
            });
        let receipt = f
            .chain
            .send(
                f.guild,
                f.market,
                &DeliberationMarket::setFeesCall { keeperFeeBps_: 0, guildFeeBps_: 1_000 },
            )
            .unwrap();
        let changed = receipt.event::<DeliberationMarket::FeesChanged>();
        assert_eq!((changed.keeperFeeBps, changed.guildFeeBps), (0, 1_000));
        let bounty = tokens(10);
        let spec = f.spec(3, 1);
        let requested = f.try_request_from(f.requester, spec, bounty).unwrap();
        let terms = requested.event::<IDeliberationMarket::JobTermsFixed>();
        assert_eq!((terms.jobId, terms.keeperFeeBps, terms.guildFeeBps), (requested.ret, 0, 1_000));
        let job = requested.ret;
        f.claim(job);
        let t = f.transcript(job, 3, &[majority(3)]);
        f.settle(job, &t).unwrap();
        let deal = f.job_deal(job);
        assert_eq!((deal.recipients[0], deal.amounts[0]), (f.guild, bounty / u(10)));
        assert!(!deal.recipients.contains(&f.keeper));

        // The open job settles under its own terms, after the change.
        let stored = f.job(open);
        assert_eq!((stored.keeperFeeBps, stored.guildFeeBps), (KEEPER_FEE_BPS, GUILD_FEE_BPS));
        let t = f.transcript(open, 3, &[majority(3)]);
        f.settle(open, &t).unwrap();
        let deal = f.job_deal(open);
        assert_eq!((deal.recipients[0], deal.recipients[1]), (f.keeper, f.guild));
        assert_eq!(
            (deal.amounts[0], deal.amounts[1]),
            (tokens(10) * u(500) / u(10_000), tokens(10) * u(200) / u(10_000))
        );
    }

    #[test]
    fn the_guild_can_require_keepers_to_be_authority_nodes() {
        let mut f = MarketFixture::new(2);
        let ether = U256::from(10u64).pow(U256::from(18));
        let registry = f
            .chain
            .deploy(
                f.guild,
                &AuthorityRegistry::BYTECODE,
                &AuthorityRegistry::constructorCall {
                    guild: f.guild,
                    burnFloor: ether,
                    burnScale: ether,
                    burnDecayWad: ether / u(2),
                },
            )
            .unwrap();
        let require = DeliberationMarket::setKeeperAuthorityCall { registry };
        let stranger = f.chain.account(7);
        f.chain.send(stranger, f.market, &require).expect_revert(
            DeliberationMarket::AccessControlUnauthorizedAccount {
                account: stranger,
                neededRole: B256::ZERO,
            },
        );
        let receipt = f.chain.send(f.guild, f.market, &require).unwrap();
        assert_eq!(
            receipt.event::<DeliberationMarket::KeeperAuthorityChanged>().registry,
            registry
        );
        assert_eq!(
            f.chain.call(f.guild, f.market, &DeliberationMarket::keeperAuthorityCall {}).unwrap(),
            registry
        );

        let job = f.request(f.spec(2, 1), tokens(1));
        let claim = IDeliberationMarket::claimJobCall { jobId: job };
        f.chain.send(f.keeper, f.market, &claim).expect_revert(
            DeliberationMarket::DeliberationMarketKeeperNotAuthority { keeper: f.keeper },
        );
        // The guild admits the keeper by consensus grant; then it may claim.
        let grant = AuthorityRegistry::grantCall {
            account: f.keeper,
            jurisdiction: B256::repeat_byte(1),
            geoCell: 42,
            metadataURI: "ipfs://keeper".into(),
        };
        f.chain.send(f.guild, registry, &grant).unwrap();
        f.chain.send(f.keeper, f.market, &claim).unwrap();
        // Revoked, it can claim no more; lifting the requirement lets it claim again.
        let revoke =
            AuthorityRegistry::revokeCall { account: f.keeper, reason: "misbehaved".into() };
        f.chain.send(f.guild, registry, &revoke).unwrap();
        let next = f.request(f.spec(2, 1), tokens(1));
        let claim_next = IDeliberationMarket::claimJobCall { jobId: next };
        f.chain.send(f.keeper, f.market, &claim_next).expect_revert(
            DeliberationMarket::DeliberationMarketKeeperNotAuthority { keeper: f.keeper },
        );
        let lift = DeliberationMarket::setKeeperAuthorityCall { registry: Address::ZERO };
        f.chain.send(f.guild, f.market, &lift).unwrap();
        f.chain.send(f.keeper, f.market, &claim_next).unwrap();
        assert_eq!(f.status(next), status::CLAIMED);
    }

    #[test]
    fn the_guild_changes_the_challenge_window_of_new_jobs_only() {
        let mut f = MarketFixture::new(0);
        let before = f.request(f.spec(2, 1), tokens(1));
        let set = DeliberationMarket::setChallengeWindowCall { challengeWindow_: 60 };
        let stranger = f.chain.account(7);
        f.chain.send(stranger, f.market, &set).expect_revert(
            DeliberationMarket::AccessControlUnauthorizedAccount {
                account: stranger,
                neededRole: B256::ZERO,
            },
        );
        let receipt = f.chain.send(f.guild, f.market, &set).unwrap();
        assert_eq!(
            receipt.event::<DeliberationMarket::ChallengeWindowChanged>().challengeWindow,
            60
        );
        let after = f.request(f.spec(2, 1), tokens(1));
        assert_eq!(f.job_deal(before).challengeWindow, CHALLENGE_WINDOW);
        assert_eq!(f.job_deal(after).challengeWindow, 60);
        assert_eq!(
            f.chain.call(f.guild, f.market, &DeliberationMarket::challengeWindowCall {}).unwrap(),
            60
        );
    }
}

mod refund {
    use super::*;

    #[test]
    fn refund_returns_the_bounty_of_requested_and_claimed_jobs_after_the_deadline() {
        let mut f = MarketFixture::new(2);
        let spec = f.spec(2, 1);
        let before = f.balance(f.requester);
        let requested = f.request(spec.clone(), tokens(3));
        let claimed = f.request(spec.clone(), tokens(4));
        f.claim(claimed);
        f.chain.warp(spec.deadline + 1);
        let anyone = f.chain.account(7);
        for job in [requested, claimed] {
            let receipt = f.refund_from(anyone, job).unwrap();
            assert_eq!(receipt.event::<IDeliberationMarket::JobRefunded>().jobId, job);
            assert_eq!(
                receipt.event::<TripartiteEscrow::DealRefunded>().dealId,
                f.job(job).escrowId
            );
            assert_eq!(f.status(job), status::REFUNDED);
            assert_eq!(f.job_deal(job).state, deal_state::REFUNDED);
        }
        assert_eq!(f.balance(f.requester), before);
        assert_eq!(f.balance(f.escrow), U256::ZERO);
    }

    #[test]
    fn refund_reverts_until_the_deadline_has_passed() {
        let mut f = MarketFixture::new(0);
        let spec = f.spec(2, 1);
        let deadline = spec.deadline;
        let job = f.request(spec, tokens(1));
        for at in [f.chain.timestamp(), deadline] {
            f.chain.warp(at);
            f.refund_from(f.requester, job).expect_revert(
                DeliberationMarket::DeliberationMarketJobNotExpired { jobId: job, deadline },
            );
        }
        f.chain.warp(deadline + 1);
        f.refund_from(f.requester, job).unwrap();
    }

    #[test]
    fn a_refunded_job_cannot_be_refunded_claimed_or_settled() {
        let mut f = MarketFixture::new(3);
        let spec = f.spec(3, 1);
        let job = f.request(spec.clone(), tokens(1));
        let t = f.transcript(job, 3, &[majority(3)]);
        f.chain.warp(spec.deadline + 1);
        f.refund_from(f.requester, job).unwrap();
        f.refund_from(f.requester, job).expect_revert(unexpected(job, status::REFUNDED));
        f.chain
            .send(f.keeper, f.market, &IDeliberationMarket::claimJobCall { jobId: job })
            .expect_revert(unexpected(job, status::REFUNDED));
        f.settle(job, &t).expect_revert(unexpected(job, status::REFUNDED));
    }

    #[test]
    fn a_settled_job_cannot_be_refunded_or_settled_again() {
        let mut f = MarketFixture::new(3);
        let job = f.claimed_job(3, 1, tokens(1));
        let t = f.transcript(job, 3, &[majority(3)]);
        f.settle(job, &t).unwrap();
        f.settle(job, &t).expect_revert(unexpected(job, status::SETTLED));
        f.chain.advance_time(JOB_DURATION + 1);
        f.refund_from(f.requester, job).expect_revert(unexpected(job, status::SETTLED));
    }

    #[test]
    fn refund_marks_the_job_when_the_escrow_deal_was_already_refunded() {
        let mut f = MarketFixture::new(0);
        let spec = f.spec(2, 1);
        let job = f.request(spec.clone(), tokens(2));
        let deal_id = f.job(job).escrowId;
        f.chain.warp(spec.deadline + 1);
        let anyone = f.chain.account(7);
        f.chain.send(anyone, f.escrow, &TripartiteEscrow::refundCall { dealId: deal_id }).unwrap();
        let receipt = f.refund_from(anyone, job).unwrap();
        assert!(receipt.events::<TripartiteEscrow::DealRefunded>().is_empty());
        assert_eq!(f.status(job), status::REFUNDED);
        assert_eq!(f.balance(f.requester), tokens(STARTING_TOKENS));
    }

    #[test]
    fn refund_reverts_for_unknown_jobs() {
        let mut f = MarketFixture::new(0);
        f.refund_from(f.requester, u(5)).expect_revert(unexpected(u(5), status::NONE));
    }
}

/// `settleJob` through `IDeliberationMarket` and through `DeliberationMarket` encode the same call.
#[test]
fn the_interface_and_the_contract_share_the_settle_selector() {
    use alloy::sol_types::SolCall;
    assert_eq!(
        IDeliberationMarket::settleJobCall::SELECTOR,
        DeliberationMarket::settleJobCall::SELECTOR
    );
}
