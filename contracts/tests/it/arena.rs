//! RankifyArena: lifecycle, hidden moves, relayed moves and their replay protection, scoring,
//! overtime, the ladder and payouts.

use alloy::primitives::{Address, B256, I256, U256};
use nsed_contracts::{
    quadratic_voting::QuadraticVoting,
    rank_token::RankToken,
    rankify_arena::RankifyArena::{self, GameParams},
    testkit::{ExpectRevert, TestChain},
};

use crate::arena_fixture::{
    ArenaFixture, CREDITS, Commit, FEE, MIN_FEE_UNIT, PHASE, STAKE, SeatPlan, everyone_plays,
    favour, i, params, phase, proposal_commitment, salt, u, vote_commitment, votes,
};

type A = RankifyArena::RankifyArenaErrors;

fn unexpected(game: U256, current: u8) -> RankifyArena::ArenaUnexpectedPhase {
    RankifyArena::ArenaUnexpectedPhase { gameId: game, current }
}

#[test]
fn constructor_rejects_zero_addresses() {
    let mut chain = TestChain::new();
    let admin = chain.account(0);
    let one = chain.account(1);
    let zero = Address::ZERO;
    for (ranks, token, treasury, lat) in
        [(zero, one, one, one), (one, zero, one, one), (one, one, zero, one), (one, one, one, zero)]
    {
        chain
            .deploy_with_receipt(
                admin,
                &RankifyArena::BYTECODE,
                &RankifyArena::constructorCall {
                    ranks,
                    feeToken: token,
                    treasury,
                    lat,
                    minJoinFeeUnit_: u(MIN_FEE_UNIT),
                },
            )
            .expect_revert(RankifyArena::ArenaZeroAddress {});
    }
}

/// A zero unit would make every LAT free; one above `MAX_AMOUNT` would admit no game.
#[test]
fn constructor_rejects_a_zero_or_unpayable_fee_unit() {
    let mut chain = TestChain::new();
    let admin = chain.account(0);
    let one = chain.account(1);
    let max_amount = U256::from(u128::MAX);
    for unit in [U256::ZERO, max_amount + u(1), U256::MAX] {
        chain
            .deploy_with_receipt(
                admin,
                &RankifyArena::BYTECODE,
                &RankifyArena::constructorCall {
                    ranks: one,
                    feeToken: one,
                    treasury: one,
                    lat: one,
                    minJoinFeeUnit_: unit,
                },
            )
            .expect_revert(RankifyArena::ArenaInvalidMinJoinFeeUnit { unit });
    }
    chain
        .deploy(
            admin,
            &RankifyArena::BYTECODE,
            &RankifyArena::constructorCall {
                ranks: one,
                feeToken: one,
                treasury: one,
                lat: one,
                minJoinFeeUnit_: max_amount,
            },
        )
        .unwrap();
}

/// The floor is the deployment's: `minJoinFee(R) = unit · 2^(tier − 1)`, exact up to tier 129
/// even for the largest unit (no shift overflows), and unreachable past it.
#[test]
fn min_join_fee_scales_the_deployed_unit_without_overflow() {
    let mut chain = TestChain::new();
    let admin = chain.account(0);
    let one = chain.account(1);
    let token_cent = U256::from(10u64).pow(u(16));
    let max_amount = U256::from(u128::MAX);
    for unit in [u(1), token_cent, max_amount] {
        let arena = chain
            .deploy(
                admin,
                &RankifyArena::BYTECODE,
                &RankifyArena::constructorCall {
                    ranks: one,
                    feeToken: one,
                    treasury: one,
                    lat: one,
                    minJoinFeeUnit_: unit,
                },
            )
            .unwrap();
        let min = |chain: &mut TestChain, rank: u64| {
            chain.call(admin, arena, &RankifyArena::minJoinFeeCall { rank }).unwrap()
        };
        assert_eq!(chain.call(admin, arena, &RankifyArena::minJoinFeeUnitCall {}).unwrap(), unit);
        assert_eq!(min(&mut chain, 0), unit, "rank 0 prices as tier 1");
        for rank in [1u64, 2, 8, 64, 129] {
            assert_eq!(min(&mut chain, rank), unit << (rank - 1), "rank {rank}");
        }
        for rank in [130u64, 255, 256, u64::MAX] {
            assert_eq!(min(&mut chain, rank), U256::MAX, "rank {rank}");
        }
    }
}

#[test]
fn create_game_stores_parameters_and_emits() {
    let mut f = ArenaFixture::new(3);
    let creator = f.player(0);
    let receipt = f.try_create(creator, params(1, 2, 3, 2)).unwrap();
    assert_eq!(receipt.ret, u(1));
    let event = receipt.event::<RankifyArena::GameCreated>();
    assert_eq!((event.gameId, event.creator, event.rank), (u(1), creator, 1));
    assert_eq!(event.joinDeadline, f.chain.timestamp() + PHASE);
    let g = f.game(u(1));
    assert_eq!((g.creator, g.phase, g.turn, g.playerCount), (creator, phase::JOINING, 0, 0));
    assert_eq!(g.params.metadataURI, "ipfs://game");
}

#[test]
fn create_game_rejects_every_invalid_parameter() {
    let mut f = ArenaFixture::new(1);
    let creator = f.player(0);
    let cases: Vec<(GameParams, A)> = vec![
        (
            GameParams { rank: 0, ..params(1, 2, 3, 1) },
            A::ArenaInvalidRank(RankifyArena::ArenaInvalidRank { rank: 0 }),
        ),
        (
            params(1, 1, 3, 1),
            A::ArenaInvalidPlayerBounds(RankifyArena::ArenaInvalidPlayerBounds {
                minPlayers: 1,
                maxPlayers: 3,
            }),
        ),
        (
            params(1, 4, 3, 1),
            A::ArenaInvalidPlayerBounds(RankifyArena::ArenaInvalidPlayerBounds {
                minPlayers: 4,
                maxPlayers: 3,
            }),
        ),
        (
            params(1, 2, 17, 1),
            A::ArenaInvalidPlayerBounds(RankifyArena::ArenaInvalidPlayerBounds {
                minPlayers: 2,
                maxPlayers: 17,
            }),
        ),
        (
            params(1, 2, 3, 0),
            A::ArenaInvalidTurns(RankifyArena::ArenaInvalidTurns { turns: 0, maxOvertimeTurns: 0 }),
        ),
        (
            GameParams { maxOvertimeTurns: u16::MAX, ..params(1, 2, 3, 1) },
            A::ArenaInvalidTurns(RankifyArena::ArenaInvalidTurns {
                turns: 1,
                maxOvertimeTurns: u16::MAX,
            }),
        ),
        (
            GameParams { votingDuration: u64::MAX, ..params(1, 2, 3, 1) },
            A::ArenaInvalidDurations(RankifyArena::ArenaInvalidDurations {
                joinDuration: PHASE,
                proposingDuration: PHASE,
                votingDuration: u64::MAX,
                revealDuration: PHASE,
            }),
        ),
        (
            GameParams { stake: U256::MAX, ..params(1, 2, 3, 1) },
            A::ArenaInvalidAmounts(RankifyArena::ArenaInvalidAmounts {
                joinFee: u(FEE),
                stake: U256::MAX,
            }),
        ),
        (
            GameParams { voteCredits: 0, ..params(1, 2, 3, 1) },
            A::ArenaInvalidVoteCredits(RankifyArena::ArenaInvalidVoteCredits { credits: 0 }),
        ),
        (
            GameParams { revealDuration: 0, ..params(1, 2, 3, 1) },
            A::ArenaInvalidDurations(RankifyArena::ArenaInvalidDurations {
                joinDuration: PHASE,
                proposingDuration: PHASE,
                votingDuration: PHASE,
                revealDuration: 0,
            }),
        ),
        (
            GameParams { joinDuration: 0, ..params(1, 2, 3, 1) },
            A::ArenaInvalidDurations(RankifyArena::ArenaInvalidDurations {
                joinDuration: 0,
                proposingDuration: PHASE,
                votingDuration: PHASE,
                revealDuration: PHASE,
            }),
        ),
    ];
    for (p, expected) in cases {
        let failure = f.try_create(creator, p).unwrap_err();
        assert_eq!(failure.decode::<A>(), Some(expected));
    }
    // The largest legal game is accepted.
    f.try_create(creator, params(1, 16, 16, 1)).unwrap();
}

#[test]
fn join_pulls_fee_and_stake_and_rejects_duplicates_full_games_and_late_joins() {
    let mut f = ArenaFixture::new(4);
    let game = f.create(params(1, 2, 3, 1));
    let p0 = f.player(0);
    let before = f.token_balance(p0);
    let joined = f.try_join(game, p0).unwrap().event::<RankifyArena::PlayerJoined>();
    assert_eq!((joined.gameId, joined.player, joined.seat), (game, p0, 0));
    assert_eq!(before - f.token_balance(p0), u(FEE + STAKE));
    f.try_join(game, p0)
        .expect_revert(RankifyArena::ArenaAlreadyJoined { gameId: game, player: p0 });
    for k in 1..3 {
        let who = f.player(k);
        f.try_join(game, who).unwrap();
    }
    let p3 = f.player(3);
    f.try_join(game, p3).expect_revert(RankifyArena::ArenaGameFull { gameId: game });
    let late = f.create(params(1, 2, 3, 1));
    f.chain.advance_time(PHASE + 1);
    let deadline = f.game(late).joinDeadline;
    f.try_join(late, p3).expect_revert(RankifyArena::ArenaPhaseOver { gameId: late, deadline });
    f.try_join(u(99), p3).expect_revert(unexpected(u(99), phase::NONE));
}

#[test]
fn ranked_join_locks_one_rank_token_and_needs_one() {
    let mut f = ArenaFixture::new(2);
    let game = f.create(params(2, 2, 2, 1));
    let (p0, p1) = (f.player(0), f.player(1));
    f.mint_rank(p0, 2, 1);
    f.try_join(game, p0).unwrap();
    assert_eq!(f.locked(p0, 2), u(1));
    f.try_join(game, p1).expect_revert(RankToken::RankTokenInsufficientUnlocked {
        account: p1,
        rank: u(2),
        available: U256::ZERO,
        needed: u(1),
    });
}

#[test]
fn start_rules_creator_early_anyone_when_full_or_after_the_window() {
    let mut f = ArenaFixture::new(3);
    let (p0, p1, p2) = (f.player(0), f.player(1), f.player(2));
    let game = f.create(params(1, 2, 3, 1));
    f.try_join(game, p0).unwrap();
    // Creator below min: not allowed.
    f.chain
        .send(p0, f.arena, &RankifyArena::startCall { gameId: game })
        .expect_revert(RankifyArena::ArenaStartNotAllowed { gameId: game, caller: p0, players: 1 });
    f.try_join(game, p1).unwrap();
    // Another player at min, before the window ends: not allowed.
    f.chain
        .send(p1, f.arena, &RankifyArena::startCall { gameId: game })
        .expect_revert(RankifyArena::ArenaStartNotAllowed { gameId: game, caller: p1, players: 2 });
    // The creator may start once min is reached.
    let started = f.chain.send(p0, f.arena, &RankifyArena::startCall { gameId: game }).unwrap();
    let event = started.event::<RankifyArena::GameStarted>();
    assert_eq!(event.players, vec![p0, p1]);
    assert_eq!(f.game(game).phase, phase::PROPOSING);
    assert_eq!(f.owed(f.treasury), u(2 * FEE));
    f.chain
        .send(p0, f.arena, &RankifyArena::startCall { gameId: game })
        .expect_revert(unexpected(game, phase::PROPOSING));

    // Anyone starts a full game.
    let full = f.create(params(1, 2, 2, 1));
    f.try_join(full, p0).unwrap();
    f.try_join(full, p1).unwrap();
    f.chain.send(p2, f.arena, &RankifyArena::startCall { gameId: full }).unwrap();
    // Anyone starts after the window.
    let late = f.create(params(1, 2, 3, 1));
    f.try_join(late, p0).unwrap();
    f.try_join(late, p1).unwrap();
    f.chain.advance_time(PHASE + 1);
    f.chain.send(p2, f.arena, &RankifyArena::startCall { gameId: late }).unwrap();
    assert_eq!(f.game(late).phase, phase::PROPOSING);
}

#[test]
fn a_game_below_min_after_the_window_is_cancelled_and_refunds_everything() {
    let mut f = ArenaFixture::new(3);
    let (p0, p1) = (f.player(0), f.player(1));
    f.mint_rank(p0, 2, 1);
    f.mint_rank(p1, 2, 1);
    let game = f.create(params(2, 3, 3, 1));
    let before = f.token_balance(p0);
    f.try_join(game, p0).unwrap();
    f.try_join(game, p1).unwrap();
    f.chain.advance_time(PHASE + 1);
    let cancelled = f.try_advance(game).unwrap().event::<RankifyArena::GameCancelled>();
    assert_eq!((cancelled.gameId, cancelled.players), (game, 2));
    assert_eq!(f.game(game).phase, phase::CANCELLED);
    assert_eq!(f.locked(p0, 2), U256::ZERO);
    assert_eq!(f.owed(p0), u(FEE + STAKE));
    assert_eq!(f.owed(f.treasury), U256::ZERO);
    let w = f.chain.send(p0, f.arena, &RankifyArena::withdrawCall {}).unwrap();
    let event = w.event::<RankifyArena::Withdrawn>();
    assert_eq!((event.account, event.amount), (p0, u(FEE + STAKE)));
    assert_eq!(f.token_balance(p0), before);
    f.chain
        .send(p0, f.arena, &RankifyArena::withdrawCall {})
        .expect_revert(RankifyArena::ArenaNothingToWithdraw { account: p0 });
    f.try_advance(game).expect_revert(unexpected(game, phase::CANCELLED));
}

#[test]
fn a_full_game_scores_votes_closes_and_promotes_the_winner() {
    let mut f = ArenaFixture::new(3);
    let game = f.started(params(1, 3, 3, 1), 3);
    let end = f.play_turn(game, &favour(3, 2, 5));
    // Seat 2 gets 5 + 5, seat 0 gets 5 from seat 2.
    let expected = votes(&[5, 0, 10]);
    let turn = end.event::<RankifyArena::TurnEnded>();
    assert_eq!((turn.turn, turn.scores), (1, expected.clone()));
    let ended = end.event::<RankifyArena::GameEnded>();
    assert_eq!((ended.winner, ended.scores), (f.player(2), expected));
    let g = f.game(game);
    assert_eq!((g.phase, g.winner), (phase::ENDED, 2));
    assert_eq!(f.rank_balance(f.player(2), 2), u(1));
    assert_eq!(f.rank_balance(f.player(0), 2), U256::ZERO);
    // The rank-1 winner earns one tier-1 access token; nobody else earns any.
    assert_eq!(f.lat_balance(f.player(2), 1), u(1));
    assert_eq!(f.lat_balance(f.player(0), 1), U256::ZERO);
    for k in 0..3 {
        assert_eq!(f.owed(f.player(k)), u(STAKE));
    }
    assert_eq!(f.owed(f.treasury), u(3 * FEE));
    // The arena holds exactly what it owes.
    assert_eq!(f.token_balance(f.arena), u(3 * (FEE + STAKE)));
    f.try_advance(game).expect_revert(unexpected(game, phase::ENDED));
}

#[test]
fn a_ranked_game_burns_every_stake_promotes_the_winner_and_demotes_losers() {
    let mut f = ArenaFixture::new(3);
    for k in 0..3 {
        let p = f.player(k);
        f.mint_rank(p, 3, 1);
    }
    let game = f.started(params(3, 3, 3, 1), 3);
    // No other game (the admin holds GAME_ROLE here) can take a seated player's locked token, so
    // nothing outside the arena can make its close fail.
    let p0 = f.player(0);
    f.chain
        .send(f.admin, f.ranks, &RankToken::burnCall { from: p0, rank: u(3), amount: u(1) })
        .expect_revert(RankToken::RankTokenInsufficientUnlocked {
            account: p0,
            rank: u(3),
            available: U256::ZERO,
            needed: u(1),
        });
    f.play_turn(game, &favour(3, 1, 4));
    let (p1, p2) = (f.player(1), f.player(2));
    assert_eq!(
        (f.rank_balance(p1, 3), f.rank_balance(p1, 4), f.rank_balance(p1, 2)),
        (U256::ZERO, u(1), U256::ZERO)
    );
    assert_eq!((f.lat_balance(p1, 3), f.lat_balance(p1, 1)), (u(1), U256::ZERO));
    for loser in [p0, p2] {
        assert_eq!(f.lat_balance(loser, 3), U256::ZERO);
        assert_eq!((f.rank_balance(loser, 3), f.rank_balance(loser, 2)), (U256::ZERO, u(1)));
        assert_eq!(f.locked(loser, 3), U256::ZERO);
    }
}

#[test]
fn proposals_are_hidden_until_proposing_ends_and_ballots_until_voting_ends() {
    let mut f = ArenaFixture::new(3);
    let game = f.started(params(1, 3, 3, 1), 3);
    f.commit_proposal(game, 1, 0, "a");
    let p0 = f.player(0);
    // No reveal is accepted while proposing.
    let reveal = RankifyArena::revealProposalCall {
        gameId: game,
        turn: 1,
        proposal: "a".into(),
        salt: salt(p0, 1, 0),
    };
    f.chain.send(p0, f.arena, &reveal).expect_revert(unexpected(game, phase::PROPOSING));
    // The phase cannot be cut short while a seat may still commit.
    let deadline = f.game(game).phaseDeadline;
    f.try_advance(game).expect_revert(RankifyArena::ArenaPhaseNotOver { gameId: game, deadline });
    f.commit_proposal(game, 1, 1, "b");
    f.commit_proposal(game, 1, 2, "c");
    // Complete: advance early.
    f.try_advance(game).unwrap();
    assert_eq!(f.game(game).phase, phase::PROPOSAL_REVEAL);
    // No more commits.
    let c = proposal_commitment(game, 1, p0, "x", B256::ZERO);
    f.chain
        .send(
            p0,
            f.arena,
            &RankifyArena::commitProposalCall { gameId: game, turn: 1, commitment: c },
        )
        .expect_revert(unexpected(game, phase::PROPOSAL_REVEAL));
    // A wrong preimage is rejected.
    let wrong = RankifyArena::revealProposalCall { proposal: "b".into(), ..reveal.clone() };
    f.chain.send(p0, f.arena, &wrong).expect_revert(RankifyArena::ArenaCommitmentMismatch {
        gameId: game,
        turn: 1,
        player: p0,
    });
    let revealed =
        f.chain.send(p0, f.arena, &reveal).unwrap().event::<RankifyArena::ProposalRevealed>();
    assert_eq!((revealed.player, revealed.proposal), (p0, "a".to_string()));
    f.chain.send(p0, f.arena, &reveal).expect_revert(RankifyArena::ArenaAlreadyMoved {
        gameId: game,
        turn: 1,
        player: p0,
    });
    // Anyone holding the preimage may reveal for the player.
    let relayer = f.chain.account(8);
    let p1 = f.player(1);
    let for_p1 = RankifyArena::revealProposalForCall {
        gameId: game,
        turn: 1,
        player: p1,
        proposal: "b".into(),
        salt: salt(p1, 1, 0),
    };
    f.chain.send(relayer, f.arena, &for_p1).unwrap();
    f.reveal_proposal(game, 1, 2, "c");
    f.try_advance(game).unwrap();
    assert_eq!(f.game(game).phase, phase::VOTING);
    let ballot = votes(&[0, 3, 0]);
    f.commit_vote(game, 1, 0, &ballot);
    // A ballot cannot be revealed while voting runs.
    f.try_reveal_vote(game, 1, 0, &ballot).expect_revert(unexpected(game, phase::VOTING));
    f.advance_after_deadline(game);
    assert_eq!(f.game(game).phase, phase::VOTE_REVEAL);
    f.try_reveal_vote(game, 1, 0, &ballot).unwrap();
}

#[test]
fn ballots_follow_the_quadratic_rules() {
    let mut f = ArenaFixture::new(3);
    let game = f.started(params(1, 3, 3, 1), 3);
    // Seat 2 does not propose.
    f.commit_proposal(game, 1, 0, "proposal 0");
    f.commit_proposal(game, 1, 1, "proposal 1");
    f.advance_after_deadline(game);
    f.reveal_proposal(game, 1, 0, "proposal 0");
    f.reveal_proposal(game, 1, 1, "proposal 1");
    f.try_advance(game).unwrap();
    let self_vote = votes(&[3, 0, 0]);
    let non_proposer = votes(&[0, 0, 1]);
    let over_budget = votes(&[0, 11, 0]);
    let good = votes(&[0, 10, 0]);
    f.commit_vote(game, 1, 0, &self_vote);
    f.commit_vote(game, 1, 1, &non_proposer);
    f.commit_vote(game, 1, 2, &over_budget);
    f.try_advance(game).unwrap();
    f.try_reveal_vote(game, 1, 0, &self_vote)
        .expect_revert(QuadraticVoting::QuadraticVotingSelfVote { voter: U256::ZERO });
    f.try_reveal_vote(game, 1, 1, &non_proposer)
        .expect_revert(QuadraticVoting::QuadraticVotingVoteForNonProposer { candidate: u(2) });
    f.try_reveal_vote(game, 1, 2, &over_budget).expect_revert(
        QuadraticVoting::QuadraticVotingBudgetExceeded { cost: u(121), credits: u(100) },
    );
    // A preimage other than the commitment is rejected before validation.
    let p2 = f.player(2);
    f.try_reveal_vote(game, 1, 2, &good).expect_revert(RankifyArena::ArenaCommitmentMismatch {
        gameId: game,
        turn: 1,
        player: p2,
    });
    // Nobody's ballot counted: both proposers are non-voters and give ⌊√100⌋ = 10 to each other.
    let end = f.advance_after_deadline(game);
    assert_eq!(end.event::<RankifyArena::TurnEnded>().scores, votes(&[10, 10, 0]));
}

#[test]
fn non_voters_give_their_credit_root_to_every_other_proposer_and_non_proposers_score_nothing() {
    let mut f = ArenaFixture::new(4);
    let game = f.started(params(1, 4, 4, 1), 4);
    let plan = vec![
        SeatPlan { propose: true, vote: Some(votes(&[0, 2, 0, 0])) },
        SeatPlan { propose: true, vote: None },
        SeatPlan { propose: true, vote: Some(votes(&[1, 0, 0, 0])) },
        SeatPlan { propose: false, vote: Some(votes(&[0, 0, 3, 0])) },
    ];
    let end = f.play_turn(game, &plan);
    // Seat 1 (silent proposer) gives 10 to seats 0 and 2; seat 3 did not propose.
    assert_eq!(end.event::<RankifyArena::TurnEnded>().scores, votes(&[11, 2, 13, 0]));
    assert_eq!(f.game(game).winner, 2);
    let _ = CREDITS;
}

#[test]
fn idle_players_are_not_waited_for_and_moves_after_a_deadline_fail() {
    let mut f = ArenaFixture::new(3);
    let game = f.started(params(1, 3, 3, 2), 3);
    let p0 = f.player(0);
    let deadline = f.game(game).phaseDeadline;
    f.chain.warp(deadline + 1);
    let c = proposal_commitment(game, 1, p0, "late", B256::ZERO);
    f.chain
        .send(
            p0,
            f.arena,
            &RankifyArena::commitProposalCall { gameId: game, turn: 1, commitment: c },
        )
        .expect_revert(RankifyArena::ArenaPhaseOver { gameId: game, deadline });
    // Nobody ever moves: eight advances end a two-turn game, which has no winner (nobody
    // proposed) and promotes nobody.
    for _ in 0..8 {
        f.advance_after_deadline(game);
    }
    let g = f.game(game);
    assert_eq!((g.phase, g.winner), (phase::ENDED, 255));
    assert_eq!(f.rank_balance(p0, 2), U256::ZERO);
}

#[test]
fn moves_check_seat_turn_and_commitment() {
    let mut f = ArenaFixture::new(3);
    let game = f.started(params(1, 2, 2, 2), 2);
    let (p0, stranger) = (f.player(0), f.player(2));
    let c = proposal_commitment(game, 1, p0, "x", B256::ZERO);
    f.chain
        .send(
            stranger,
            f.arena,
            &RankifyArena::commitProposalCall { gameId: game, turn: 1, commitment: c },
        )
        .expect_revert(RankifyArena::ArenaNotPlayer { gameId: game, account: stranger });
    f.chain
        .send(
            p0,
            f.arena,
            &RankifyArena::commitProposalCall { gameId: game, turn: 2, commitment: c },
        )
        .expect_revert(RankifyArena::ArenaWrongTurn { gameId: game, current: 1, given: 2 });
    f.chain
        .send(
            p0,
            f.arena,
            &RankifyArena::commitProposalCall { gameId: game, turn: 1, commitment: B256::ZERO },
        )
        .expect_revert(RankifyArena::ArenaZeroCommitment {});
    f.chain
        .send(p0, f.arena, &RankifyArena::commitVoteCall { gameId: game, turn: 1, commitment: c })
        .expect_revert(unexpected(game, phase::PROPOSING));
    f.commit_proposal(game, 1, 0, "x");
    f.chain
        .send(
            p0,
            f.arena,
            &RankifyArena::commitProposalCall { gameId: game, turn: 1, commitment: c },
        )
        .expect_revert(RankifyArena::ArenaAlreadyMoved { gameId: game, turn: 1, player: p0 });
}

#[test]
fn pending_move_tells_a_wallet_what_is_owed() {
    let mut f = ArenaFixture::new(2);
    let game = f.started(params(1, 2, 2, 1), 2);
    let p0 = f.player(0);
    let call = RankifyArena::pendingMoveCall { gameId: game, player: p0 };
    let pending = f.chain.call(p0, f.arena, &call).unwrap();
    assert!(pending.pending);
    assert_eq!((pending.phase, pending.turn), (phase::PROPOSING, 1));
    f.commit_proposal(game, 1, 0, "x");
    assert!(!f.chain.call(p0, f.arena, &call).unwrap().pending);
    f.advance_after_deadline(game);
    let pending = f.chain.call(p0, f.arena, &call).unwrap();
    assert!(pending.pending && pending.phase == phase::PROPOSAL_REVEAL);
    let m = f
        .chain
        .call(p0, f.arena, &RankifyArena::movesCall { gameId: game, turn: 1, seat: 0 })
        .unwrap();
    assert!(m.proposalCommitment != B256::ZERO && !m.proposed);
    let (seated, seat) = {
        let r = f
            .chain
            .call(p0, f.arena, &RankifyArena::seatOfCall { gameId: game, player: p0 })
            .unwrap();
        (r.seated, r.seat)
    };
    assert!(seated && seat == 0);
    assert_eq!(
        f.chain.call(p0, f.arena, &RankifyArena::playersCall { gameId: game }).unwrap().len(),
        2
    );
}

#[test]
fn a_top_tie_plays_bounded_overtime_then_the_lowest_seat_wins() {
    let mut f = ArenaFixture::new(3);
    let p = GameParams { maxOvertimeTurns: 2, ..params(1, 3, 3, 1) };
    let game = f.started(p, 3);
    let end = f.play_turn(game, &everyone_plays(3));
    assert_eq!(end.event::<RankifyArena::OvertimeStarted>().turn, 2);
    assert_eq!(f.game(game).overtimeTurns, 1);
    // Overtime 1 is decisive for seat 1.
    let end = f.play_turn(game, &favour(3, 1, 3));
    let ended = end.event::<RankifyArena::GameEnded>();
    assert_eq!(ended.winner, f.player(1));

    // A game that stays tied stops after maxOvertimeTurns and the lowest seat wins.
    let mut f = ArenaFixture::new(3);
    let game = f.started(GameParams { maxOvertimeTurns: 2, ..params(1, 3, 3, 1) }, 3);
    for _ in 0..3 {
        f.play_turn(game, &everyone_plays(3));
    }
    let g = f.game(game);
    assert_eq!((g.phase, g.turn, g.overtimeTurns, g.winner), (phase::ENDED, 3, 2, 0));
    assert_eq!(f.scores(game), votes(&[3, 3, 3]));
}

fn relay_fixture() -> (ArenaFixture, U256, B256) {
    let mut f = ArenaFixture::new(3);
    let game = f.started(params(1, 2, 3, 2), 2);
    let p0 = f.player(0);
    let c = proposal_commitment(game, 1, p0, "relayed", salt(p0, 1, 0));
    (f, game, c)
}

#[test]
fn a_relayer_submits_signed_commitments_in_a_batch() {
    let (mut f, game, c0) = relay_fixture();
    let domain = f.domain(f.chain.chain_id(), f.arena);
    let deadline = u(f.chain.timestamp() + 60);
    let p1 = f.player(1);
    let c1 = proposal_commitment(game, 1, p1, "other", salt(p1, 1, 0));
    let moves = vec![
        f.signed_commit(
            &domain,
            0,
            Commit { gameId: game, turn: 1, kind: 0, commitment: c0, deadline },
        ),
        f.signed_commit(
            &domain,
            1,
            Commit { gameId: game, turn: 1, kind: 0, commitment: c1, deadline },
        ),
    ];
    let relayer = f.chain.account(8);
    let r = f
        .chain
        .send(relayer, f.arena, &RankifyArena::relayCommitsCall { commits: moves.clone() })
        .unwrap();
    assert_eq!(r.events::<RankifyArena::ProposalCommitted>().len(), 2);
    // Complete, so the phase may end early.
    f.try_advance(game).unwrap();
    // Replaying the same batch commits nothing: each entry is skipped on the phase now.
    let r =
        f.chain.send(relayer, f.arena, &RankifyArena::relayCommitsCall { commits: moves }).unwrap();
    assert!(r.events::<RankifyArena::ProposalCommitted>().is_empty());
    for (k, e) in skipped(&r).into_iter().enumerate() {
        assert_eq!(e.index, u(k as u64));
        assert!(
            matches!(e.error, A::ArenaUnexpectedPhase(p) if p == unexpected(game, phase::PROPOSAL_REVEAL))
        );
    }
}

/// A skipped relayed entry with its reason decoded.
#[derive(Debug)]
struct Skipped {
    game: U256,
    player: Address,
    index: U256,
    error: A,
}

/// The entries a relayed batch skipped, in order.
fn skipped<T>(r: &nsed_contracts::testkit::Receipt<T>) -> Vec<Skipped> {
    use alloy::sol_types::SolInterface;
    r.events::<RankifyArena::RelayedCommitSkipped>()
        .into_iter()
        .map(|e| Skipped {
            game: e.gameId,
            player: e.player,
            index: e.index,
            error: A::abi_decode(&e.reason).expect("a reason is one of the arena's errors"),
        })
        .collect()
}

/// Relays one entry and returns the error it was skipped with (panics if it was not skipped).
fn relay_one_skipped(f: &mut ArenaFixture, m: RankifyArena::SignedCommit) -> A {
    let relayer = f.chain.account(8);
    let r = f
        .chain
        .send(relayer, f.arena, &RankifyArena::relayCommitsCall { commits: vec![m] })
        .unwrap();
    assert!(r.events::<RankifyArena::ProposalCommitted>().is_empty());
    let mut s = skipped(&r);
    assert_eq!(s.len(), 1);
    s.pop().unwrap().error
}

#[test]
fn a_signed_commitment_cannot_be_replayed_in_another_turn_game_contract_or_chain_or_late() {
    let (mut f, game, c0) = relay_fixture();
    let p0 = f.player(0);
    let relayer = f.chain.account(8);
    let now = f.chain.timestamp();
    let deadline = u(now + 60);
    let good = Commit { gameId: game, turn: 1, kind: 0, commitment: c0, deadline };
    let domain = f.domain(f.chain.chain_id(), f.arena);
    let send = relay_one_skipped;
    // Tampering with turn or game (or kind) changes the digest: the signer no longer matches.
    for (turn, id, kind) in [(2u16, game, 0u8), (1, u(2), 0), (1, game, 1)] {
        let mut m = f.signed_commit(&domain, 0, good.clone());
        m.turn = turn;
        m.gameId = id;
        m.kind = kind;
        match send(&mut f, m) {
            A::ArenaInvalidSigner(e) => assert!(e.player == p0 && e.recovered != p0),
            other => panic!("expected ArenaInvalidSigner, got {other:?}"),
        }
    }
    // Signed for another contract or another chain.
    for other in [f.domain(f.chain.chain_id(), f.ranks), f.domain(1, f.arena)] {
        let m = f.signed_commit(&other, 0, good.clone());
        match send(&mut f, m) {
            A::ArenaInvalidSigner(e) => assert!(e.player == p0 && e.recovered != p0),
            other => panic!("expected ArenaInvalidSigner, got {other:?}"),
        }
    }
    // Signed by someone else.
    let mut m = f.signed_commit(&domain, 1, good.clone());
    m.player = p0;
    let p1 = f.player(1);
    assert!(matches!(send(&mut f, m),
        A::ArenaInvalidSigner(e) if e == RankifyArena::ArenaInvalidSigner { player: p0, recovered: p1 }));
    // A properly signed move for turn 2 is rejected in turn 1 by the turn check.
    let turn2 = f.signed_commit(&domain, 0, Commit { turn: 2, ..good });
    assert!(matches!(send(&mut f, turn2),
        A::ArenaWrongTurn(e) if e == RankifyArena::ArenaWrongTurn { gameId: game, current: 1, given: 2 }));
    // Expired.
    let m = f.signed_commit(&domain, 0, good);
    f.chain.warp(now + 61);
    assert!(matches!(send(&mut f, m.clone()),
        A::ArenaSignatureExpired(e) if e.deadline == deadline));
    // Within its deadline it works once, then never again.
    f.chain.warp(now + 10);
    let once = f
        .chain
        .send(relayer, f.arena, &RankifyArena::relayCommitsCall { commits: vec![m.clone()] })
        .unwrap();
    assert_eq!(once.events::<RankifyArena::ProposalCommitted>().len(), 1);
    assert!(matches!(send(&mut f, m),
        A::ArenaAlreadyMoved(e) if e == RankifyArena::ArenaAlreadyMoved { gameId: game, turn: 1, player: p0 }));
    // A malformed signature recovers nobody.
    let mut bad = f.signed_commit(
        &domain,
        1,
        Commit { gameId: game, turn: 1, kind: 0, commitment: c0, deadline },
    );
    bad.signature = vec![0u8; 65].into();
    let p1 = f.player(1);
    assert!(matches!(send(&mut f, bad),
        A::ArenaInvalidSigner(e) if e == RankifyArena::ArenaInvalidSigner { player: p1, recovered: Address::ZERO }));
    let _ = vote_commitment;
    let _: I256 = i(0);
}

#[test]
fn an_invalid_kind_is_rejected() {
    let (mut f, game, c0) = relay_fixture();
    let domain = f.domain(f.chain.chain_id(), f.arena);
    let deadline = u(f.chain.timestamp() + 60);
    let m = f.signed_commit(
        &domain,
        0,
        Commit { gameId: game, turn: 1, kind: 2, commitment: c0, deadline },
    );
    assert!(matches!(relay_one_skipped(&mut f, m), A::ArenaInvalidKind(e) if e.kind == 2));
    // A direct commit of an invalid kind cannot be made (the entry points fix the kind), so the
    // relayed path is the only one that reports it.
}

#[test]
fn start_after_the_window_below_min_cancels_and_anyone_may_call_it() {
    let mut f = ArenaFixture::new(3);
    let (p0, p2) = (f.player(0), f.player(2));
    let game = f.create(params(1, 3, 3, 1));
    f.try_join(game, p0).unwrap();
    f.chain
        .send(p2, f.arena, &RankifyArena::startCall { gameId: game })
        .expect_revert(RankifyArena::ArenaStartNotAllowed { gameId: game, caller: p2, players: 1 });
    f.chain.advance_time(PHASE + 1);
    let r = f.chain.send(p2, f.arena, &RankifyArena::startCall { gameId: game }).unwrap();
    assert_eq!(r.event::<RankifyArena::GameCancelled>().players, 1);
    assert_eq!(f.owed(p0), u(FEE + STAKE));
}

#[test]
fn ballots_can_be_relayed_and_revealed_by_anyone_holding_the_preimage() {
    let mut f = ArenaFixture::new(2);
    let game = f.started(params(1, 2, 2, 1), 2);
    f.commit_proposal(game, 1, 0, "a");
    f.commit_proposal(game, 1, 1, "b");
    f.try_advance(game).unwrap();
    f.reveal_proposal(game, 1, 0, "a");
    f.reveal_proposal(game, 1, 1, "b");
    f.try_advance(game).unwrap();
    let domain = f.domain(f.chain.chain_id(), f.arena);
    let deadline = u(f.chain.timestamp() + 60);
    let (p0, p1) = (f.player(0), f.player(1));
    let (b0, b1) = (votes(&[0, 4]), votes(&[1, 0]));
    let c0 = vote_commitment(game, 1, p0, &b0, salt(p0, 1, 1));
    let c1 = vote_commitment(game, 1, p1, &b1, salt(p1, 1, 1));
    // Signed as a proposal commitment, it is not a vote commitment.
    let wrong_kind = f.signed_commit(
        &domain,
        0,
        Commit { gameId: game, turn: 1, kind: 0, commitment: c0, deadline },
    );
    let relayer = f.chain.account(8);
    assert!(matches!(relay_one_skipped(&mut f, wrong_kind),
        A::ArenaUnexpectedPhase(e) if e == unexpected(game, phase::VOTING)));
    let batch = vec![
        f.signed_commit(
            &domain,
            0,
            Commit { gameId: game, turn: 1, kind: 1, commitment: c0, deadline },
        ),
        f.signed_commit(
            &domain,
            1,
            Commit { gameId: game, turn: 1, kind: 1, commitment: c1, deadline },
        ),
    ];
    let r =
        f.chain.send(relayer, f.arena, &RankifyArena::relayCommitsCall { commits: batch }).unwrap();
    assert_eq!(r.events::<RankifyArena::VoteCommitted>().len(), 2);
    f.try_advance(game).unwrap();
    for (who, b) in [(p0, b0), (p1, b1)] {
        let call = RankifyArena::revealVoteForCall {
            gameId: game,
            turn: 1,
            player: who,
            votes: b.clone(),
            salt: salt(who, 1, 1),
        };
        let e =
            f.chain.send(relayer, f.arena, &call).unwrap().event::<RankifyArena::VoteRevealed>();
        assert_eq!((e.player, e.votes), (who, b));
    }
    let end = f.try_advance(game).unwrap();
    assert_eq!(end.event::<RankifyArena::GameEnded>().winner, p1);
    assert_eq!(f.scores(game), votes(&[1, 4]));
}

#[test]
fn the_domain_separator_is_bound_to_chain_and_contract() {
    let mut f = ArenaFixture::new(1);
    let onchain = f.chain.call(f.admin, f.arena, &RankifyArena::domainSeparatorCall {}).unwrap();
    assert_eq!(onchain, f.domain(f.chain.chain_id(), f.arena).separator());
    let config = f.chain.call(f.admin, f.arena, &RankifyArena::configCall {}).unwrap();
    assert_eq!((config.ranks, config.feeToken, config.treasury), (f.ranks, f.token, f.treasury));
}

// ---------------------------------------------------------------------------------------------
// Exploits of the review: each failed against the arena before its fix.
// ---------------------------------------------------------------------------------------------

/// Finding 1: two Sybils farmed LATs with two-seat, zero-fee games nobody played (seat 0 won the
/// all-zero tie). A game's join fee must now cover the LAT weight it can earn, and a game nobody
/// played ends without a winner: no LAT, no promotion.
#[test]
fn zero_fee_move_less_sybil_games_farm_no_lats() {
    let mut f = ArenaFixture::new(2);
    let (p0, p1) = (f.player(0), f.player(1));
    // The farm's game: two seats, no fee, no stake.
    let free = GameParams { joinFee: U256::ZERO, stake: U256::ZERO, ..params(1, 2, 2, 1) };
    f.try_create(p0, free).expect_revert(RankifyArena::ArenaJoinFeeTooLow {
        rank: 1,
        joinFee: U256::ZERO,
        minimum: u(MIN_FEE_UNIT),
    });
    // The minimum doubles with the rank: the LAT value a rank-R win earns is 2^(R−1).
    for rank in 1..=8u64 {
        let min = f.chain.call(p0, f.arena, &RankifyArena::minJoinFeeCall { rank }).unwrap();
        assert_eq!(min, u(MIN_FEE_UNIT) << (rank - 1));
        let low = GameParams { joinFee: min - u(1), ..params(rank, 2, 2, 1) };
        f.try_create(p0, low).expect_revert(RankifyArena::ArenaJoinFeeTooLow {
            rank,
            joinFee: min - u(1),
            minimum: min,
        });
        f.try_create(p0, GameParams { joinFee: min, ..params(rank, 2, 2, 1) }).unwrap();
    }
    // Even a paid game where nobody moves earns nothing.
    let game = f.started(params(1, 2, 2, 1), 2);
    for _ in 0..4 {
        f.advance_after_deadline(game);
    }
    let g = f.game(game);
    assert_eq!((g.phase, g.winner), (phase::ENDED, 255));
    // Fees stay spent, stakes come back.
    assert_eq!(f.owed(f.treasury), u(2 * FEE));
    assert_eq!(f.owed(p0), u(STAKE));
    for who in [p0, p1] {
        assert_eq!(f.lat_balance(who, 1), U256::ZERO, "an unplayed game earned a LAT");
        assert_eq!(f.rank_balance(who, 2), U256::ZERO, "an unplayed game promoted");
    }
}

/// Finding 2: a non-proposer scores 0 and cannot be voted down, and ties went to the lowest
/// seat, so seat 0 won a two-seat game by never proposing. Only a proposer can win now.
#[test]
fn seat_zero_cannot_win_a_two_seat_game_by_never_proposing() {
    let mut f = ArenaFixture::new(2);
    let game = f.started(params(1, 2, 2, 1), 2);
    let idle = SeatPlan::default();
    let honest = SeatPlan { propose: true, vote: Some(votes(&[0, 0])) };
    let end = f.play_turn(game, &[idle, honest]);
    assert_eq!(end.event::<RankifyArena::GameEnded>().winner, f.player(1));
    assert_eq!(f.game(game).winner, 1);
    assert_eq!(f.rank_balance(f.player(1), 2), u(1));
    assert_eq!(f.rank_balance(f.player(0), 2), U256::ZERO);
}

/// Finding 6: one bad entry (a co-player who committed directly, a replayed signature) reverted
/// a whole relayed batch. Failed entries are now skipped and reported.
#[test]
fn one_failing_entry_does_not_revert_a_relayed_batch() {
    let mut f = ArenaFixture::new(3);
    let game = f.started(params(1, 3, 3, 1), 3);
    let domain = f.domain(f.chain.chain_id(), f.arena);
    let deadline = u(f.chain.timestamp() + 60);
    let commit = |f: &ArenaFixture, seat: usize| {
        let who = f.player(seat);
        let c = proposal_commitment(game, 1, who, "relayed", salt(who, 1, 0));
        f.signed_commit(
            &domain,
            seat,
            Commit { gameId: game, turn: 1, kind: 0, commitment: c, deadline },
        )
    };
    let (m0, m1, m2) = (commit(&f, 0), commit(&f, 1), commit(&f, 2));
    // Seat 1 commits directly before the relayer's batch lands.
    f.commit_proposal(game, 1, 1, "direct");
    let relayer = f.chain.account(8);
    let batch = vec![m0.clone(), m1, m0, m2];
    let r = f
        .chain
        .send(relayer, f.arena, &RankifyArena::relayCommitsCall { commits: batch })
        .expect("one bad entry must not revert the batch");
    let committed: Vec<Address> =
        r.events::<RankifyArena::ProposalCommitted>().into_iter().map(|e| e.player).collect();
    assert_eq!(committed, vec![f.player(0), f.player(2)]);
    let s = skipped(&r);
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].game, s[0].player, s[0].index), (game, f.player(1), u(1)));
    assert!(matches!(&s[0].error,
        A::ArenaAlreadyMoved(e) if e.player == f.player(1) && e.turn == 1));
    assert_eq!((s[1].player, s[1].index), (f.player(0), u(2)));
    assert!(matches!(&s[1].error, A::ArenaAlreadyMoved(e) if e.player == f.player(0)));
    // Seat 1's own commitment stands.
    let own = proposal_commitment(game, 1, f.player(1), "direct", salt(f.player(1), 1, 0));
    let m =
        f.chain.call(relayer, f.arena, &RankifyArena::movesCall { gameId: game, turn: 1, seat: 1 });
    assert_eq!(m.unwrap().proposalCommitment, own);
}

/// A rank-R game nobody played ends without a winner: locks are released, nobody is promoted or
/// demoted, no LAT is minted.
#[test]
fn a_ranked_game_nobody_played_releases_every_lock_and_mints_nothing() {
    let mut f = ArenaFixture::new(3);
    for k in 0..3 {
        let p = f.player(k);
        f.mint_rank(p, 3, 1);
    }
    let game = f.started(params(3, 3, 3, 1), 3);
    let end = f.play_turn(game, &[SeatPlan::default(), SeatPlan::default(), SeatPlan::default()]);
    assert_eq!(end.event::<RankifyArena::GameEnded>().winner, Address::ZERO);
    for k in 0..3 {
        let p = f.player(k);
        assert_eq!((f.rank_balance(p, 3), f.locked(p, 3)), (u(1), U256::ZERO));
        assert_eq!((f.rank_balance(p, 2), f.rank_balance(p, 4)), (U256::ZERO, U256::ZERO));
        assert_eq!(f.lat_balance(p, 3), U256::ZERO);
        assert_eq!(f.owed(p), u(STAKE));
    }
}

/// Ties between proposers go to the one that proposed in more turns, then to the lowest seat;
/// a seat that never proposed is never the winner, even alone at the top.
#[test]
fn ties_go_to_the_more_active_proposer_and_non_proposers_never_win() {
    let mut f = ArenaFixture::new(3);
    let game = f.started(params(1, 3, 3, 2), 3);
    let idle = SeatPlan::default();
    let silent = SeatPlan { propose: true, vote: Some(votes(&[0, 0, 0])) };
    // Turn 1: only seat 1 proposes. Turn 2: seats 0 and 1 propose, nobody gains.
    f.play_turn(game, &[idle.clone(), silent.clone(), idle.clone()]);
    let end = f.play_turn(game, &[silent.clone(), silent, idle]);
    assert_eq!(f.scores(game), votes(&[0, 0, 0]));
    assert_eq!(end.event::<RankifyArena::GameEnded>().winner, f.player(1));

    // Seat 2 never proposes; the proposers vote each other down, so seat 2 would lead at 0.
    let mut f = ArenaFixture::new(3);
    let game = f.started(params(1, 3, 3, 1), 3);
    let down0 = SeatPlan { propose: true, vote: Some(votes(&[0, -2, 0])) };
    let down1 = SeatPlan { propose: true, vote: Some(votes(&[-1, 0, 0])) };
    let end = f.play_turn(game, &[down0, down1, SeatPlan::default()]);
    assert_eq!(f.scores(game), votes(&[-1, -2, 0]));
    assert_eq!(end.event::<RankifyArena::GameEnded>().winner, f.player(0));
}
