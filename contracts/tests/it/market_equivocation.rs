//! DeliberationMarket: equivocation reports. Two different proposals (or ballots) an agent signed
//! for one job and round slash its bond in the registry, once; anyone may report.

use alloy::primitives::{Address, B256, Bytes, I256, U256, keccak256};
use nsed_contracts::{
    agent_registry::AgentRegistry,
    deliberation_market::DeliberationMarket,
    i_deliberation_market::IDeliberationMarket::{self, BallotClaim, ProposalClaim},
    testkit::{ExpectRevert, Receipt, TxFailure},
};
use nsed_protocol::eip712::RoundContext;

use crate::market_fixture::*;

/// What a proposal of `content` in `ctx` signs besides its job and round.
fn proposal_claim(ctx: &RoundContext, content: &str) -> ProposalClaim {
    ProposalClaim {
        inputHash: ctx.input_hash,
        previousRoundDigest: ctx.previous_round_digest,
        contentHash: keccak256(content),
    }
}

/// What a ballot of `votes` over `digest` in `ctx` signs besides its job and round.
fn ballot_claim(ctx: &RoundContext, digest: B256, votes: &[i64]) -> BallotClaim {
    BallotClaim {
        inputHash: ctx.input_hash,
        previousRoundDigest: ctx.previous_round_digest,
        proposalsDigest: digest,
        votes: votes.iter().map(|&v| I256::try_from(v).unwrap()).collect(),
    }
}

struct Proof<C> {
    ctx: RoundContext,
    agent: Address,
    a: C,
    signature_a: Bytes,
    b: C,
    signature_b: Bytes,
}

fn report_proposals(
    f: &mut MarketFixture,
    reporter: Address,
    p: &Proof<ProposalClaim>,
) -> Result<Receipt<IDeliberationMarket::reportEquivocatingProposalsReturn>, TxFailure> {
    let call = IDeliberationMarket::reportEquivocatingProposalsCall {
        jobId: p.ctx.job_id,
        round: p.ctx.round,
        agent: p.agent,
        a: p.a.clone(),
        signatureA: p.signature_a.clone(),
        b: p.b.clone(),
        signatureB: p.signature_b.clone(),
    };
    f.chain.send(reporter, f.market, &call)
}

fn report_ballots(
    f: &mut MarketFixture,
    reporter: Address,
    p: &Proof<BallotClaim>,
) -> Result<Receipt<IDeliberationMarket::reportEquivocatingBallotsReturn>, TxFailure> {
    let call = IDeliberationMarket::reportEquivocatingBallotsCall {
        jobId: p.ctx.job_id,
        round: p.ctx.round,
        agent: p.agent,
        a: p.a.clone(),
        signatureA: p.signature_a.clone(),
        b: p.b.clone(),
        signatureB: p.signature_b.clone(),
    };
    f.chain.send(reporter, f.market, &call)
}

/// Agent `seat` proposed "7" and "8" for round 1 of job 1.
fn two_proposals(f: &MarketFixture, seat: usize) -> Proof<ProposalClaim> {
    let ctx = context(u(1), 1, B256::ZERO);
    Proof {
        ctx,
        agent: f.agents[seat].address(),
        a: proposal_claim(&ctx, "7"),
        signature_a: f.sign_proposal(seat, &ctx, "7"),
        b: proposal_claim(&ctx, "8"),
        signature_b: f.sign_proposal(seat, &ctx, "8"),
    }
}

#[test]
fn two_different_proposals_slash_the_agent_and_pay_the_reporter() {
    let mut f = MarketFixture::new(3);
    let proof = two_proposals(&f, 1);
    let reporter = f.chain.account(7);
    let (guild_before, eligible_before) = (f.balance(f.guild), f.eligible());
    let receipt = report_proposals(&mut f, reporter, &proof).unwrap();

    let reported = receipt.event::<IDeliberationMarket::EquivocationReported>();
    assert_eq!(
        (reported.jobId, reported.round, reported.agent, reported.reporter, reported.ballots),
        (u(1), 1, proof.agent, reporter, false)
    );
    let bond = tokens(MIN_BOND);
    let share = bond * U256::from(REPORTER_BPS) / u(10_000);
    let slashed = receipt.event::<AgentRegistry::AgentSlashed>();
    assert_eq!((slashed.agent, slashed.reporter), (proof.agent, reporter));
    assert_eq!((slashed.amount, slashed.reporterShare), (bond, share));
    assert_eq!(f.balance(reporter), share);
    assert_eq!(f.balance(f.guild), guild_before + bond - share);
    let record = f.registered(proof.agent);
    assert!(record.slashed);
    assert_eq!(record.bond, U256::ZERO);
    assert_eq!(f.eligible(), eligible_before - u(1));
}

#[test]
fn a_second_report_reverts_because_the_registry_slashes_once() {
    let mut f = MarketFixture::new(3);
    let proof = two_proposals(&f, 0);
    let reporter = f.chain.account(7);
    report_proposals(&mut f, reporter, &proof).unwrap();
    let expected = AgentRegistry::AgentRegistryAlreadySlashed { agent: proof.agent };
    let other = f.chain.account(8);
    report_proposals(&mut f, other, &proof).expect_revert(expected.clone());
    // Another proof of the same agent (its ballots) changes nothing either.
    let ctx = context(u(1), 1, B256::ZERO);
    let digest = keccak256("proposals");
    let ballots = Proof {
        ctx,
        agent: proof.agent,
        a: ballot_claim(&ctx, digest, &[0, 1, 0]),
        signature_a: f.sign_ballot(0, &ctx, digest, &[0, 1, 0]),
        b: ballot_claim(&ctx, digest, &[0, 0, 1]),
        signature_b: f.sign_ballot(0, &ctx, digest, &[0, 0, 1]),
    };
    report_ballots(&mut f, reporter, &ballots).expect_revert(expected);
}

#[test]
fn two_different_ballots_slash_the_agent() {
    let mut f = MarketFixture::new(3);
    let requester = f.requester;
    let ctx = context(u(4), 2, keccak256("round 1"));
    let digest = keccak256("proposals");
    // The same votes over two proposal sets count as two ballots, as do two vote vectors.
    for (seat, (digest_b, votes_b)) in
        [(keccak256("other proposals"), vec![0, 3, -4]), (digest, vec![0, 4, -3])]
            .into_iter()
            .enumerate()
    {
        let proof = Proof {
            ctx,
            agent: f.agents[seat].address(),
            a: ballot_claim(&ctx, digest, &[0, 3, -4]),
            signature_a: f.sign_ballot(seat, &ctx, digest, &[0, 3, -4]),
            b: ballot_claim(&ctx, digest_b, &votes_b),
            signature_b: f.sign_ballot(seat, &ctx, digest_b, &votes_b),
        };
        let receipt = report_ballots(&mut f, requester, &proof).unwrap();
        let reported = receipt.event::<IDeliberationMarket::EquivocationReported>();
        assert_eq!((reported.jobId, reported.round, reported.ballots), (u(4), 2, true));
        assert!(f.registered(proof.agent).slashed);
    }
}

#[test]
fn answers_shown_two_histories_are_equivocation_too() {
    let mut f = MarketFixture::new(3);
    let requester = f.requester;
    let first = context(u(2), 2, keccak256("history"));
    let second = context(u(2), 2, keccak256("another history"));
    let proof = Proof {
        ctx: first,
        agent: f.agents[2].address(),
        a: proposal_claim(&first, "7"),
        signature_a: f.sign_proposal(2, &first, "7"),
        b: proposal_claim(&second, "7"),
        signature_b: f.sign_proposal(2, &second, "7"),
    };
    report_proposals(&mut f, requester, &proof).unwrap();
    assert!(f.registered(proof.agent).slashed);
}

#[test]
fn identical_claims_are_no_equivocation() {
    let mut f = MarketFixture::new(3);
    let requester = f.requester;
    let mut proof = two_proposals(&f, 0);
    proof.b = proof.a.clone();
    proof.signature_b = proof.signature_a.clone();
    report_proposals(&mut f, requester, &proof)
        .expect_revert(DeliberationMarket::DeliberationMarketNotEquivocation {});
    let ctx = context(u(1), 1, B256::ZERO);
    let digest = keccak256("proposals");
    let signature = f.sign_ballot(0, &ctx, digest, &[0, 1, 1]);
    let ballots = Proof {
        ctx,
        agent: proof.agent,
        a: ballot_claim(&ctx, digest, &[0, 1, 1]),
        signature_a: signature.clone(),
        b: ballot_claim(&ctx, digest, &[0, 1, 1]),
        signature_b: signature,
    };
    report_ballots(&mut f, requester, &ballots)
        .expect_revert(DeliberationMarket::DeliberationMarketNotEquivocation {});
    assert!(!f.registered(proof.agent).slashed);
}

#[test]
fn a_signature_by_anyone_else_proves_nothing() {
    let mut f = MarketFixture::new(3);
    let requester = f.requester;
    let honest = f.agents[0].address();
    let mut proof = two_proposals(&f, 0);
    // The second proposal was signed by agent 1, not by the reported agent 0.
    let ctx = proof.ctx;
    proof.signature_b = f.sign_proposal(1, &ctx, "8");
    report_proposals(&mut f, requester, &proof).expect_revert(
        DeliberationMarket::DeliberationMarketInvalidEquivocationSignature {
            agent: honest,
            index: u(1),
        },
    );
    // So was the first; and a signature for another round does not count for this one.
    let mut proof = two_proposals(&f, 0);
    proof.signature_a = f.sign_proposal(1, &ctx, "7");
    report_proposals(&mut f, requester, &proof).expect_revert(
        DeliberationMarket::DeliberationMarketInvalidEquivocationSignature {
            agent: honest,
            index: U256::ZERO,
        },
    );
    let mut proof = two_proposals(&f, 0);
    proof.signature_b = f.sign_proposal(0, &context(u(1), 2, B256::ZERO), "8");
    report_proposals(&mut f, requester, &proof).expect_revert(
        DeliberationMarket::DeliberationMarketInvalidEquivocationSignature {
            agent: honest,
            index: u(1),
        },
    );
    assert!(!f.registered(honest).slashed);
}

#[test]
fn a_report_needs_the_markets_slasher_role() {
    let mut f = MarketFixture::new(3);
    let requester = f.requester;
    let role = keccak256("SLASHER_ROLE");
    let revoke = AgentRegistry::revokeRoleCall { role, account: f.market };
    f.chain.send(f.guild, f.registry, &revoke).unwrap();
    let proof = two_proposals(&f, 0);
    report_proposals(&mut f, requester, &proof).expect_revert(
        AgentRegistry::AccessControlUnauthorizedAccount { account: f.market, neededRole: role },
    );
}

#[test]
fn a_slashed_agent_is_never_drawn_again_but_its_claimed_jobs_still_settle() {
    let mut f = MarketFixture::new(3);
    let requester = f.requester;
    let job = f.claimed_job(3, 1, tokens(1));
    let proof = two_proposals(&f, 2);
    report_proposals(&mut f, requester, &proof).unwrap();
    let t = f.transcript(job, 3, &[majority3()]);
    f.settle(job, &t).unwrap();
    let next = f.request(f.spec(3, 1), tokens(1));
    f.try_claim(f.keeper, next).expect_revert(
        DeliberationMarket::DeliberationMarketTooFewEligibleAgents {
            jobId: next,
            eligible: u(2),
            wanted: 3,
        },
    );
}

/// Seats 0 and 1 answer "7", seat 2 "1"; everyone backs "7".
fn majority3() -> RoundPlan {
    RoundPlan::full(&["7", "7", "1"], "7")
}
