//! Property tests of the market and escrow together: agreement with the protocol crate, funds
//! conservation, tamper evidence, history binding and settle-once.

use alloy::primitives::{Address, Bytes, I256, U256, keccak256};
use nsed_contracts::{
    deliberation_market::DeliberationMarket::{self, DeliberationMarketErrors},
    i_deliberation_market::IDeliberationMarket,
    transcript::transcript_from_rounds,
    tripartite_escrow::TripartiteEscrow,
};
use proptest::prelude::*;

use crate::market_fixture::*;

/// A random round over `seats` seats: answers from a small alphabet (so agents often agree), at
/// least two proposals, and per voter a missing ballot, an abstention (all zeros) or random weights,
/// with the quorum of proposals and ballots met.
pub(crate) fn round_strategy(seats: usize) -> impl Strategy<Value = RoundPlan> {
    let answers = prop::collection::vec(prop::option::weighted(0.8, 0u8..3), seats);
    let ballot = prop_oneof![
        1 => Just(None),
        1 => Just(Some(vec![0; seats])),
        3 => prop::collection::vec(-100i32..=100, seats).prop_map(Some),
    ];
    (answers, prop::collection::vec(ballot, seats)).prop_map(move |(mut answers, mut weights)| {
        if answers.iter().flatten().count() < 2 {
            answers[0] = Some(0);
            answers[1] = Some(1);
        }
        // Fill silent seats in order until the round makes the quorum of proposals and ballots.
        let needed = nsed_protocol::quorum(seats);
        for seat in 0..seats {
            if answers.iter().flatten().count() < needed && answers[seat].is_none() {
                answers[seat] = Some((seat % 3) as u8);
            }
            if weights.iter().flatten().count() < needed && weights[seat].is_none() {
                weights[seat] = Some(vec![0; seats]);
            }
        }
        RoundPlan {
            answers: answers.into_iter().map(|a| a.map(|a| a.to_string())).collect(),
            weights,
        }
    })
}

/// 2–6 seats and 1–4 rounds.
fn deliberation_strategy() -> impl Strategy<Value = (usize, Vec<RoundPlan>)> {
    (2usize..=6, 1usize..=4).prop_flat_map(|(seats, rounds)| {
        (Just(seats), prop::collection::vec(round_strategy(seats), rounds))
    })
}

/// A round where everyone proposes and every ballot has non-zero weights, so every round has a
/// supported winner.
fn decisive_round(seats: usize) -> impl Strategy<Value = RoundPlan> {
    let weight = prop_oneof![-100i32..=-1, 1i32..=100];
    (
        prop::collection::vec(0u8..3, seats),
        prop::collection::vec(prop::collection::vec(weight, seats), seats),
    )
        .prop_map(|(answers, weights)| RoundPlan {
            answers: answers.into_iter().map(|a| Some(a.to_string())).collect(),
            weights: weights.into_iter().map(Some).collect(),
        })
}

/// What to break in a valid transcript; indices are reduced modulo the transcript's sizes.
#[derive(Debug, Clone)]
enum Tamper {
    Vote { round: usize, seat: usize, candidate: usize, delta: i64 },
    Content { round: usize, seat: usize },
    SignatureByte { round: usize, seat: usize, ballot: bool, byte: usize, mask: u8 },
}

fn tamper_strategy() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (any::<usize>(), any::<usize>(), any::<usize>(), prop_oneof![-3i64..=-1, 1i64..=3])
            .prop_map(|(round, seat, candidate, delta)| Tamper::Vote {
                round,
                seat,
                candidate,
                delta
            }),
        (any::<usize>(), any::<usize>()).prop_map(|(round, seat)| Tamper::Content { round, seat }),
        (any::<usize>(), any::<usize>(), any::<bool>(), 0usize..65, 1u8..=255).prop_map(
            |(round, seat, ballot, byte, mask)| Tamper::SignatureByte {
                round,
                seat,
                ballot,
                byte,
                mask
            }
        ),
    ]
}

/// One step of a random market-and-escrow history; `job` and `deal` pick among the existing ones
/// (modulo their number).
#[derive(Debug, Clone)]
enum Op {
    Request { buyer: usize, bounty: u64, seats: u8 },
    Claim { job: usize },
    Settle { job: usize },
    Refund { job: usize },
    Open { buyer: usize, amount: u64 },
    Deliver { deal: usize, split: u64 },
    Dispute { deal: usize },
    Rule { deal: usize, bps: u16 },
    Release { deal: usize },
    EscrowRefund { deal: usize },
    Warp { seconds: u64 },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0usize..3, 1u64..1_000_000, 2u8..=3)
            .prop_map(|(buyer, bounty, seats)| Op::Request { buyer, bounty, seats }),
        2 => any::<usize>().prop_map(|job| Op::Claim { job }),
        2 => any::<usize>().prop_map(|job| Op::Settle { job }),
        1 => any::<usize>().prop_map(|job| Op::Refund { job }),
        1 => (0usize..3, 1u64..1_000_000).prop_map(|(buyer, amount)| Op::Open { buyer, amount }),
        2 => (any::<usize>(), 0u64..=100).prop_map(|(deal, split)| Op::Deliver { deal, split }),
        2 => any::<usize>().prop_map(|deal| Op::Dispute { deal }),
        2 => (any::<usize>(), 0u16..=10_000).prop_map(|(deal, bps)| Op::Rule { deal, bps }),
        1 => any::<usize>().prop_map(|deal| Op::Release { deal }),
        1 => any::<usize>().prop_map(|deal| Op::EscrowRefund { deal }),
        2 => prop_oneof![0u64..900, 900u64..7_200].prop_map(|seconds| Op::Warp { seconds }),
    ]
}

/// The majority plan over `n` seats (see `market.rs`).
fn majority(n: usize) -> RoundPlan {
    let answers: Vec<&str> = (0..n).map(|s| if s % 3 == 2 { "1" } else { "7" }).collect();
    RoundPlan::full(&answers, "7")
}

/// The `index`-th element of `items`, modulo their number.
fn pick<T>(items: &[T], index: usize) -> Option<&T> {
    (!items.is_empty()).then(|| &items[index % items.len()])
}

fn int(v: i128) -> I256 {
    I256::try_from(v).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// (a) For random deliberations run by the protocol crate over a random job input, the
    /// contract verifies every signature against the job's stored input hash and the digest chain
    /// of the rounds before it exactly as the protocol crate signed them; its per-round tallies
    /// and winners equal the protocol's round records, and settlement succeeds exactly when the
    /// protocol's last round has a supported winner, paying out as specified.
    #[test]
    fn the_contract_tallies_exactly_like_the_protocol_crate(
        (seats, plan) in deliberation_strategy(),
        input in prop::collection::vec(any::<u8>(), 0..96),
    ) {
        let mut f = MarketFixture::new(seats);
        let bounty = tokens(10) + u(13);
        let mut spec = f.spec(seats as u8, plan.len() as u8);
        spec.input = Bytes::from(input.clone());
        let job = f.request(spec, bounty);
        f.claim(job);
        let d = f.deliberate_on(job, keccak256(&input), seats, &plan);
        let t = transcript_from_rounds(d.seats(), d.rounds());
        let result = f.settle(job, &t);
        let last = d.rounds().last().unwrap();
        match (last.winner, result) {
            (Some(winner), Ok(receipt)) => {
                let tallies = receipt.events::<IDeliberationMarket::RoundTallied>();
                prop_assert_eq!(tallies.len(), d.rounds().len());
                for (tally, record) in tallies.iter().zip(d.rounds()) {
                    prop_assert_eq!(tally.round, record.round);
                    prop_assert_eq!(&tally.scores, &record.scores.iter().map(|&s| int(s)).collect::<Vec<_>>());
                    prop_assert_eq!(tally.hasWinner, record.winner.is_some());
                    prop_assert_eq!(tally.winnerSeat, u(record.winner.map_or(0, |w| w.seat as u64)));
                }
                let answer = d.outcome().unwrap().answer.unwrap();
                let settled = receipt.event::<IDeliberationMarket::JobSettled>();
                prop_assert_eq!(settled.winner, answer.agent);
                prop_assert_eq!(&settled.content, &answer.content);
                prop_assert_eq!(settled.score, int(answer.score));
                prop_assert_eq!(settled.rounds, d.rounds().len() as u32);
                let (recipients, amounts) = expected_payout(
                    bounty, (KEEPER_FEE_BPS, GUILD_FEE_BPS), f.keeper, f.guild, d.seats(),
                    &last.scores, winner.seat,
                );
                let deal = f.job_deal(job);
                prop_assert_eq!(deal.recipients, recipients);
                prop_assert_eq!(deal.amounts, amounts);
            }
            (None, Err(failure)) => {
                prop_assert!(failure.is_error(&DeliberationMarket::DeliberationMarketNoSupportedWinner {
                    round: d.rounds().len() as u32,
                }), "{:?}", failure.decode::<DeliberationMarketErrors>());
                prop_assert_eq!(f.status(job), status::CLAIMED);
            }
            (winner, result) => prop_assert!(false, "protocol winner {winner:?}, contract {result:?}"),
        }
    }

    /// (b) Across random histories of jobs (request, claim, settle, refund) and escrow deals (open,
    /// deliver, dispute, rule, release, refund) with time passing, no token is created or lost:
    /// the balances of every party sum to a constant, the market never holds a token, and the
    /// escrow holds exactly the sum of its open deals and the dispute bonds of its disputed ones.
    #[test]
    fn funds_are_conserved_across_random_histories(ops in prop::collection::vec(op_strategy(), 1..40)) {
        let mut f = MarketFixture::new(3);
        let seller = f.chain.account(7);
        let buyers = [f.requester, f.chain.account(8), f.chain.account(9)];
        let payees = [Address::repeat_byte(0xb1), Address::repeat_byte(0xb2)];
        let mut parties = vec![f.market, f.escrow, f.keeper, f.guild, seller];
        parties.extend(buyers);
        parties.extend(payees);
        parties.extend(f.seats(3));
        let total = |f: &mut MarketFixture| parties.iter().map(|&p| f.balance(p)).sum::<U256>();
        let start = total(&mut f);
        let mut jobs: Vec<U256> = Vec::new();
        let mut deals: Vec<U256> = Vec::new();
        for op in ops {
            let now = f.chain.timestamp();
            match op {
                Op::Request { buyer, bounty, seats } => {
                    let mut spec = f.spec(seats, 1);
                    spec.deadline = now + 7_200;
                    if let Ok(receipt) = f.try_request_from(buyers[buyer], spec, u(bounty)) {
                        jobs.push(receipt.ret);
                        deals.push(receipt.event::<IDeliberationMarket::JobRequested>().escrowId);
                    }
                }
                Op::Claim { job } => {
                    if let Some(&job) = pick(&jobs, job) {
                        let _ = f.try_claim(f.keeper, job);
                    }
                }
                Op::Settle { job } => {
                    if let Some(&job) = pick(&jobs, job) {
                        let seats = usize::from(f.job(job).agentsWanted);
                        let t = f.transcript(job, seats, &[majority(seats)]);
                        let _ = f.settle(job, &t);
                    }
                }
                Op::Refund { job } => {
                    if let Some(&job) = pick(&jobs, job) {
                        let _ = f.refund_from(seller, job);
                    }
                }
                Op::Open { buyer, amount } => {
                    let call = TripartiteEscrow::openCall {
                        operator: seller, token: f.token, amount: u(amount),
                        deliveryDeadline: now + 3_600, challengeWindow: 900,
                    };
                    if let Ok(receipt) = f.chain.send(buyers[buyer], f.escrow, &call) {
                        deals.push(receipt.ret);
                    }
                }
                Op::Deliver { deal, split } => {
                    if let Some(&deal) = pick(&deals, deal) {
                        let amount = f.deal(deal).amount;
                        let first = amount * u(split) / u(100);
                        let call = TripartiteEscrow::deliverCall {
                            dealId: deal,
                            recipients: vec![payees[0], payees[1], seller],
                            amounts: vec![first, (amount - first) / u(2), amount - first - (amount - first) / u(2)],
                        };
                        let _ = f.chain.send(seller, f.escrow, &call);
                    }
                }
                Op::Dispute { deal } => {
                    if let Some(&deal) = pick(&deals, deal) {
                        let buyer = f.deal(deal).buyer;
                        let _ = f.chain.send(buyer, f.escrow, &TripartiteEscrow::disputeCall { dealId: deal });
                    }
                }
                Op::Rule { deal, bps } => {
                    if let Some(&deal) = pick(&deals, deal) {
                        let call = TripartiteEscrow::ruleCall { dealId: deal, buyerShareBps: bps };
                        let _ = f.chain.send(f.guild, f.escrow, &call);
                    }
                }
                Op::Release { deal } => {
                    if let Some(&deal) = pick(&deals, deal) {
                        let _ = f.chain.send(seller, f.escrow, &TripartiteEscrow::releaseCall { dealId: deal });
                    }
                }
                Op::EscrowRefund { deal } => {
                    if let Some(&deal) = pick(&deals, deal) {
                        let _ = f.chain.send(seller, f.escrow, &TripartiteEscrow::refundCall { dealId: deal });
                    }
                }
                Op::Warp { seconds } => f.chain.advance_time(seconds),
            }
            prop_assert_eq!(total(&mut f), start);
            prop_assert_eq!(f.balance(f.market), U256::ZERO);
            let mut open = U256::ZERO;
            for &deal in &deals {
                let d = f.deal(deal);
                if matches!(d.state, deal_state::FUNDED | deal_state::DELIVERED | deal_state::DISPUTED) {
                    open += d.amount;
                }
                if d.state == deal_state::DISPUTED {
                    open += d.disputeBond;
                }
            }
            prop_assert_eq!(f.balance(f.escrow), open);
            for &job in &jobs {
                let (status, state) = (f.status(job), f.job_deal(job).state);
                match status {
                    status::SETTLED => prop_assert!(state != deal_state::FUNDED && state != deal_state::REFUNDED),
                    status::REFUNDED => prop_assert_eq!(state, deal_state::REFUNDED),
                    _ => prop_assert!(state == deal_state::FUNDED || state == deal_state::REFUNDED),
                }
            }
        }
    }

    /// (c) Changing one vote, one content or one signature byte of a valid transcript makes the
    /// market reject it, naming the tampered round and seat; the untouched transcript still settles.
    #[test]
    fn a_tampered_transcript_is_rejected(
        (seats, plan) in (2usize..=5, 1usize..=2).prop_flat_map(|(seats, rounds)| {
            (Just(seats), prop::collection::vec(decisive_round(seats), rounds))
        }),
        tamper in tamper_strategy(),
    ) {
        let mut f = MarketFixture::new(seats);
        let job = f.claimed_job(seats as u8, plan.len() as u8, tokens(1));
        let t = f.transcript(job, seats, &plan);
        let mut bad = t.clone();
        let rounds = t.rounds.len();
        let check: Box<dyn Fn(&DeliberationMarketErrors) -> bool> = match tamper {
            Tamper::Vote { round, seat, candidate, delta } => {
                let (r, s, q) = (round % rounds, seat % seats, candidate % seats);
                let vote = &mut bad.rounds[r].votes[s][q];
                *vote += I256::try_from(delta).unwrap();
                let (round, seat) = ((r + 1) as u32, u(s as u64));
                Box::new(move |e| match e {
                    DeliberationMarketErrors::DeliberationMarketInvalidBallotSignature(e) => {
                        (e.round, e.seat) == (round, seat)
                    }
                    DeliberationMarketErrors::QuadraticVotingSelfVote(e) => e.voter == seat,
                    DeliberationMarketErrors::QuadraticVotingBudgetExceeded(_) => true,
                    _ => false,
                })
            }
            Tamper::Content { round, seat } => {
                let (r, s) = (round % rounds, seat % seats);
                bad.rounds[r].contents[s].push('!');
                let (round, seat) = ((r + 1) as u32, u(s as u64));
                Box::new(move |e| matches!(e,
                    DeliberationMarketErrors::DeliberationMarketInvalidProposalSignature(e)
                        if (e.round, e.seat) == (round, seat)))
            }
            Tamper::SignatureByte { round, seat, ballot, byte, mask } => {
                let (r, s) = (round % rounds, seat % seats);
                let signatures = if ballot {
                    &mut bad.rounds[r].ballotSignatures
                } else {
                    &mut bad.rounds[r].proposalSignatures
                };
                let mut bytes = signatures[s].to_vec();
                bytes[byte] ^= mask;
                signatures[s] = bytes.into();
                let (round, seat) = ((r + 1) as u32, u(s as u64));
                Box::new(move |e| match e {
                    DeliberationMarketErrors::DeliberationMarketInvalidBallotSignature(e) => {
                        ballot && (e.round, e.seat) == (round, seat)
                    }
                    DeliberationMarketErrors::DeliberationMarketInvalidProposalSignature(e) => {
                        !ballot && (e.round, e.seat) == (round, seat)
                    }
                    _ => false,
                })
            }
        };
        let failure = f.settle(job, &bad).unwrap_err();
        let decoded = failure.decode::<DeliberationMarketErrors>();
        prop_assert!(decoded.as_ref().is_some_and(&check), "{tamper:?}: {decoded:?}");
        prop_assert_eq!(f.status(job), status::CLAIMED);
        prop_assert!(f.settle(job, &t).is_ok());
    }

    /// (e) Rewriting a closed round after the agents were shown it (swapping one ballot for the
    /// same seat's abstention, which on its own is still a valid round) makes the next round's first proposal fail, since
    /// it was signed after the original history; the untouched transcript still settles.
    #[test]
    fn a_rewritten_history_is_rejected_at_the_next_round(
        (seats, plan) in (2usize..=5, 2usize..=4).prop_flat_map(|(seats, rounds)| {
            (Just(seats), prop::collection::vec(decisive_round(seats), rounds))
        }),
        round in any::<usize>(),
        seat in any::<usize>(),
    ) {
        let mut f = MarketFixture::new(seats);
        let job = f.claimed_job(seats as u8, plan.len() as u8, tokens(1));
        let d = f.deliberate(job, seats, &plan);
        let t = transcript_from_rounds(d.seats(), d.rounds());
        let (r, s) = (round % (plan.len() - 1), seat % seats);
        // The seat's own abstention, validly signed for that round: the round still verifies and
        // still makes the quorum, but it is not the history the next round was answered after.
        let record = &d.rounds()[r];
        let ctx = context(job, record.round, record.previous_round_digest);
        let mut bad = t.clone();
        bad.rounds[r].votes[s] = vec![I256::ZERO; seats];
        bad.rounds[r].ballotSignatures[s] = f.sign_ballot(s, &ctx, record.proposals_digest, &vec![0; seats]);
        let expected = DeliberationMarket::DeliberationMarketInvalidProposalSignature {
            round: r as u32 + 2,
            seat: U256::ZERO,
        };
        let failure = f.settle(job, &bad).unwrap_err();
        prop_assert!(failure.is_error(&expected), "{:?}", failure.decode::<DeliberationMarketErrors>());
        prop_assert_eq!(f.status(job), status::CLAIMED);
        prop_assert!(f.settle(job, &t).is_ok());
    }

    /// (d) Once settled, a job can never be settled, claimed or refunded again, at any time; once
    /// refunded, never settled or claimed. Neither ever moves its escrowed funds a second time.
    #[test]
    fn a_finished_job_stays_finished(
        settle_first in any::<bool>(),
        attempts in prop::collection::vec((0u8..3, 0u64..100_000), 1..8),
    ) {
        let mut f = MarketFixture::new(3);
        let spec = f.spec(3, 1);
        let job = f.request(spec.clone(), tokens(5));
        f.claim(job);
        let t = f.transcript(job, 3, &[majority(3)]);
        let finished = if settle_first {
            f.settle(job, &t).unwrap();
            status::SETTLED
        } else {
            f.chain.warp(spec.deadline + 1);
            f.refund_from(f.requester, job).unwrap();
            status::REFUNDED
        };
        let deal_after = f.job_deal(job).state;
        let escrow_balance = f.balance(f.escrow);
        let requester_balance = f.balance(f.requester);
        let expected = DeliberationMarket::DeliberationMarketUnexpectedJobStatus { jobId: job, current: finished };
        for (kind, seconds) in attempts {
            f.chain.advance_time(seconds);
            let failure = match kind {
                0 => f.settle(job, &t).map(|_| ()),
                1 => f.refund_from(f.requester, job).map(|_| ()),
                _ => f.chain.send(f.keeper, f.market, &IDeliberationMarket::claimJobCall { jobId: job }).map(|_| ()),
            }.unwrap_err();
            prop_assert!(failure.is_error(&expected), "{:?}", failure.decode::<DeliberationMarketErrors>());
            prop_assert_eq!(f.status(job), finished);
            prop_assert_eq!(f.job_deal(job).state, deal_after);
            prop_assert_eq!(f.balance(f.escrow), escrow_balance);
            prop_assert_eq!(f.balance(f.requester), requester_balance);
        }
    }
}
