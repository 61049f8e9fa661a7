//! RankifyArena properties: random games with random idle players always end on timeouts alone,
//! with the contract's scores equal to a Rust model (vote budgets hold, self-votes never count,
//! the non-voter rule), and stakes and fees conserved; and the ladder's seat-filling cost.

use alloy::primitives::{Address, I256, U256, keccak256};
use nsed_contracts::rankify_arena::RankifyArena::{self, GameParams};
use proptest::prelude::*;

use crate::arena_fixture::{
    ArenaFixture, CREDITS, FEE, FUNDS, MIN_FEE_UNIT, STAKE, i, params, phase, proposal_commitment,
    u,
};

/// A tiny deterministic generator, seeded by proptest.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One seat's random behaviour in one turn.
#[derive(Clone, Copy, Debug)]
struct Behaviour {
    commit_proposal: bool,
    reveal_proposal: bool,
    commit_vote: bool,
    reveal_vote: bool,
}

fn behaviour(rng: &mut Rng) -> Behaviour {
    // Idle is frequent: each step is skipped with probability 1/4.
    let mut step = || rng.below(4) != 0;
    Behaviour {
        commit_proposal: step(),
        reveal_proposal: step(),
        commit_vote: step(),
        reveal_vote: step(),
    }
}

/// A valid random ballot for `voter` over `proposers`: at most two non-zero votes of magnitude at
/// most 7, so `Σv² <= 98 <= CREDITS`.
fn ballot(rng: &mut Rng, n: usize, voter: usize, proposers: &[bool]) -> Vec<I256> {
    let mut b = vec![I256::ZERO; n];
    let targets: Vec<usize> = (0..n).filter(|&q| q != voter && proposers[q]).collect();
    for _ in 0..2 {
        if targets.is_empty() {
            break;
        }
        let q = targets[rng.below(targets.len() as u64) as usize];
        let magnitude = i64::try_from(rng.below(8)).unwrap();
        b[q] = i(if rng.below(2) == 0 { magnitude } else { -magnitude });
    }
    b
}

/// Plays one turn with random behaviour, advancing only on deadlines, and returns the model's
/// score change and which seats revealed a proposal.
fn random_turn(f: &mut ArenaFixture, game: U256, n: usize, rng: &mut Rng) -> (Vec<i64>, Vec<bool>) {
    let turn = f.game(game).turn;
    let plan: Vec<Behaviour> = (0..n).map(|_| behaviour(rng)).collect();
    for (seat, b) in plan.iter().enumerate() {
        if b.commit_proposal {
            f.commit_proposal(game, turn, seat, "p");
        }
    }
    f.advance_after_deadline(game);
    let proposers: Vec<bool> =
        plan.iter().map(|b| b.commit_proposal && b.reveal_proposal).collect();
    for (seat, _) in plan.iter().enumerate().filter(|(s, _)| proposers[*s]) {
        f.reveal_proposal(game, turn, seat, "p");
    }
    f.advance_after_deadline(game);
    let ballots: Vec<Vec<I256>> = (0..n).map(|s| ballot(rng, n, s, &proposers)).collect();
    for (seat, b) in plan.iter().enumerate() {
        if b.commit_vote {
            f.commit_vote(game, turn, seat, &ballots[seat]);
        }
    }
    f.advance_after_deadline(game);
    let mut delta = vec![0i64; n];
    for (seat, b) in plan.iter().enumerate() {
        if b.commit_vote && b.reveal_vote {
            // A self-vote is always rejected, whatever else the ballot holds.
            let mut cheat = ballots[seat].clone();
            cheat[seat] = i(1);
            assert!(f.try_reveal_vote(game, turn, seat, &cheat).is_err());
            f.try_reveal_vote(game, turn, seat, &ballots[seat]).unwrap();
            for (q, v) in ballots[seat].iter().enumerate() {
                delta[q] += v.as_i64();
            }
        }
    }
    // Non-voter rule.
    let gift = i64::try_from(CREDITS.isqrt()).unwrap();
    for p in 0..n {
        let voted = plan[p].commit_vote && plan[p].reveal_vote;
        if proposers[p] && !voted {
            for q in (0..n).filter(|&q| q != p && proposers[q]) {
                delta[q] += gift;
            }
        }
    }
    f.advance_after_deadline(game);
    (delta, proposers)
}

/// The model's leader: among seats with at least one revealed proposal, the highest score, then
/// the most proposals, then the lowest seat; `None` when nobody proposed. `tied` when another
/// proposer has the top score.
fn leader(scores: &[i64], proposals: &[u64]) -> Option<(usize, bool)> {
    let eligible: Vec<usize> = (0..scores.len()).filter(|&q| proposals[q] > 0).collect();
    let top = eligible.iter().map(|&q| scores[q]).max()?;
    let at_top: Vec<usize> = eligible.into_iter().filter(|&q| scores[q] == top).collect();
    let most = at_top.iter().map(|&q| proposals[q]).max()?;
    let seat = *at_top.iter().find(|&&q| proposals[q] == most)?;
    Some((seat, at_top.len() > 1))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Random games with random idle players: advancing on deadlines alone ends every game within
    /// `4 × (turns + maxOvertimeTurns)` advances; the scores match the model (budgets hold,
    /// self-votes never count); the winner is the model's; stakes and fees are conserved.
    #[test]
    fn random_games_always_end_and_match_the_model(
        n in 2usize..=6,
        turns in 1u16..=3,
        max_overtime in 0u16..=2,
        seed in 1u64..,
    ) {
        let mut rng = Rng(seed);
        let mut f = ArenaFixture::new(n);
        let p = GameParams { maxOvertimeTurns: max_overtime, ..params(1, 2, u8::try_from(n).unwrap(), turns) };
        let game = f.started(p, n);
        let mut model = vec![0i64; n];
        let mut proposals = vec![0u64; n];
        let mut played = 0u16;
        loop {
            let (delta, proposed) = random_turn(&mut f, game, n, &mut rng);
            played += 1;
            for q in 0..n {
                model[q] += delta[q];
                proposals[q] += u64::from(proposed[q]);
            }
            let onchain: Vec<i64> = f.scores(game).iter().map(|s| s.as_i64()).collect();
            prop_assert_eq!(&onchain, &model);
            if f.game(game).phase == phase::ENDED {
                break;
            }
            prop_assert!(played < turns + max_overtime, "game did not end after {} turns", played);
        }
        let g = f.game(game);
        let (winner, tied) = match leader(&model, &proposals) {
            Some((seat, tied)) => (usize::from(u8::try_from(seat).unwrap()), tied),
            None => (255, false),
        };
        prop_assert_eq!(usize::from(g.winner), winner);
        // Only a proposer wins; a game nobody proposed in mints no LAT.
        let lats: u64 = (0..n).map(|k| { let p = f.player(k); f.lat_balance(p, 1).to::<u64>() }).sum();
        prop_assert_eq!(lats, u64::from(winner != 255));
        prop_assert!(played == turns || (played > turns && played <= turns + max_overtime));
        prop_assert!(!tied || played == turns + max_overtime);
        // Conservation: the arena holds exactly what it owes; after withdrawals each player paid
        // exactly one fee and the treasury got all fees.
        prop_assert_eq!(f.token_balance(f.arena), u((FEE + STAKE) * n as u64));
        for k in 0..n {
            let who = f.player(k);
            f.chain.send(who, f.arena, &RankifyArena::withdrawCall {}).unwrap();
            prop_assert_eq!(f.token_balance(who), u(FUNDS - FEE));
        }
        let treasury = f.treasury;
        f.chain.send(treasury, f.arena, &RankifyArena::withdrawCall {}).unwrap();
        prop_assert_eq!(f.token_balance(f.arena), U256::ZERO);
        prop_assert_eq!(f.token_balance(treasury), u(FEE * n as u64));
    }
}

/// The LAT value of tier `tier` in the converter: `2^(tier − 1)`.
fn lat_value(tier: u64) -> u64 {
    1 << (tier - 1)
}

/// A Sybil attacker that fills every seat of every game with its own accounts, on the real
/// contracts, as cheaply as the arena allows: the minimum join fee of each rank, no stake, one
/// turn, and only seat 0 moves (it proposes, so it wins; a game nobody proposed in earns nothing).
/// Rank-1 games are open to fresh accounts; each higher game needs one free token of its rank per
/// seat, and demoted tokens are recycled into later games.
struct Sybil {
    f: ArenaFixture,
    seats: usize,
    /// Accounts holding one free token, by rank.
    inventory: Vec<Vec<Address>>,
    /// Seats taken in rank-1 games (the attacker's fresh entries).
    entries: u64,
    /// Seats taken in games of any rank.
    all_seats: u64,
    /// Join fees paid (all spent: the treasury keeps them).
    fees: u64,
    /// LAT value the attacker's winners earned.
    lat: u64,
    fresh: u64,
}

impl Sybil {
    fn new(seats: usize, top: usize) -> Self {
        Self {
            f: ArenaFixture::new(1),
            seats,
            inventory: vec![Vec::new(); top + 2],
            entries: 0,
            all_seats: 0,
            fees: 0,
            lat: 0,
            fresh: 0,
        }
    }

    fn fresh_account(&mut self) -> Address {
        self.fresh += 1;
        let a = Address::from_word(keccak256(format!("sybil {}", self.fresh)));
        self.f.fund(a);
        a
    }

    /// Returns an account holding a free rank-`rank` token.
    fn obtain(&mut self, rank: usize) -> Address {
        if let Some(a) = self.inventory[rank].pop() {
            return a;
        }
        self.play(rank - 1);
        self.inventory[rank].pop().expect("the game's winner holds the token")
    }

    /// Plays one rank-`rank` game with every seat the attacker's.
    fn play(&mut self, rank: usize) {
        let accounts: Vec<Address> = (0..self.seats)
            .map(|_| if rank == 1 { self.fresh_account() } else { self.obtain(rank) })
            .collect();
        if rank == 1 {
            self.entries += self.seats as u64;
        }
        self.all_seats += self.seats as u64;
        let n = u8::try_from(self.seats).unwrap();
        let rank64 = rank as u64;
        let fee = MIN_FEE_UNIT << (rank64 - 1);
        let p = GameParams { joinFee: u(fee), stake: U256::ZERO, ..params(rank64, n, n, 1) };
        // One seat below the minimum is refused.
        let low = GameParams { joinFee: u(fee - 1), ..p.clone() };
        let creator = accounts[0];
        assert!(self.f.try_create(creator, low).is_err());
        let game = self.f.try_create(creator, p).unwrap().ret;
        for &a in &accounts {
            self.f.try_join(game, a).unwrap();
        }
        let arena = self.f.arena;
        self.f.chain.send(creator, arena, &RankifyArena::startCall { gameId: game }).unwrap();
        self.fees += fee * self.seats as u64;
        // Seat 0 proposes; nobody else moves.
        let s = keccak256("sybil salt");
        let c = proposal_commitment(game, 1, creator, "x", s);
        let commit = RankifyArena::commitProposalCall { gameId: game, turn: 1, commitment: c };
        self.f.chain.send(creator, arena, &commit).unwrap();
        self.f.advance_after_deadline(game);
        let reveal = RankifyArena::revealProposalCall {
            gameId: game,
            turn: 1,
            proposal: "x".into(),
            salt: s,
        };
        self.f.chain.send(creator, arena, &reveal).unwrap();
        for _ in 0..3 {
            self.f.advance_after_deadline(game);
        }
        assert_eq!(self.f.rank_balance(creator, rank64 + 1), u(1));
        self.lat += lat_value(rank64);
        self.inventory[rank + 1].push(creator);
        for &loser in &accounts[1..] {
            if rank > 1 {
                assert_eq!(self.f.rank_balance(loser, rank64 - 1), u(1));
                assert_eq!(self.f.rank_balance(loser, rank64), U256::ZERO);
            }
            // Rank-1 tokens buy nothing (rank-1 games are open), so only ranks >= 2 are reusable.
            if rank > 2 {
                self.inventory[rank - 1].push(loser);
            }
        }
    }
}

/// The ladder makes seat-filling exponential in rank, on the real contracts. With N = 3 seats
/// and one rank-R token built from nothing, an attacker needs exactly `N^(R−1)` fresh rank-1
/// entries for R = 2, 3, 4 (3, 9, 27): demoted tokens only appear after the last, highest game.
/// From R = 5 on, tokens demoted by earlier rank-3+ games are recycled, so the entries fall below
/// `N^(R−1)` but still grow by a factor of at least `N − 1` per rank (the amortised cost is
/// `N((N−1)^(R−1) − 1)/(N−2)`); counting every seat filled (each pays a join fee) stays
/// `≥ N^(R−1)`. Without demotion (as-built Rankify gives losers their token back) the cost of
/// rank R would be linear.
#[test]
fn seat_filling_cost_grows_exponentially_in_rank() {
    let n: u64 = 3;
    let mut previous = 0u64;
    let mut measured = Vec::new();
    for rank in 2..=5usize {
        let mut sybil = Sybil::new(n as usize, rank);
        sybil.obtain(rank);
        let r = u32::try_from(rank).unwrap();
        measured.push((rank, sybil.entries, sybil.all_seats));
        assert!(sybil.all_seats >= n.pow(r - 1), "rank {rank}: {} seats", sybil.all_seats);
        if rank <= 4 {
            assert_eq!(sybil.entries, n.pow(r - 1), "rank {rank}");
        }
        if previous > 0 {
            assert!(sybil.entries >= (n - 1) * previous, "rank {rank}");
        }
        previous = sybil.entries;
    }
    println!("seat-filling cost (rank, rank-1 entries, all seats): {measured:?}");
}

/// Plays one game of `n` seats at rank `rank` with fee `fee` and random behaviour; returns the
/// fees the treasury kept and the LAT value the game minted.
fn random_priced_game(n: usize, rank: u64, fee: u64, seed: u64) -> (u64, u64) {
    let mut rng = Rng(seed);
    let mut f = ArenaFixture::new(n);
    if rank > 1 {
        for k in 0..n {
            let p = f.player(k);
            f.mint_rank(p, rank, 1);
        }
    }
    let seats = u8::try_from(n).unwrap();
    let min = MIN_FEE_UNIT << (rank - 1);
    let creator = f.player(0);
    let low = GameParams { joinFee: u(min - 1), ..params(rank, 2, seats, 1) };
    assert!(f.try_create(creator, low).is_err(), "rank {rank}: fee below {min} accepted");
    let game = f.started(GameParams { joinFee: u(fee), ..params(rank, 2, seats, 1) }, n);
    random_turn(&mut f, game, n, &mut rng);
    assert_eq!(f.game(game).phase, phase::ENDED);
    let minted: u64 = (0..n)
        .map(|k| {
            let p = f.player(k);
            f.lat_balance(p, u8::try_from(rank).unwrap()).to::<u64>()
        })
        .sum();
    let kept = f.owed(f.treasury).to::<u64>();
    (kept, minted * lat_value(rank))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random arena games of 2..=16 seats at ranks 1..=8, at or above the minimum fee, with
    /// random (often idle) players: a fee below `minJoinFeeUnit · 2^(R−1)` is refused, and the
    /// fees a game spends are at least `2 · minJoinFeeUnit` per unit of LAT value it mints. Summed
    /// over any sequence of games, the cost of reaching rank R (every game on the way, at every
    /// rank) therefore grows at least as fast as the LAT weight earned on the way.
    #[test]
    fn a_game_never_mints_more_lat_value_than_its_fees_pay_for(
        n in 2usize..=16,
        rank in 1u64..=8,
        extra in 0u64..=1_000,
        seed in 1u64..,
    ) {
        let fee = (MIN_FEE_UNIT << (rank - 1)) + extra;
        let (kept, value) = random_priced_game(n, rank, fee, seed);
        prop_assert_eq!(kept, fee * n as u64);
        prop_assert!(value <= lat_value(rank));
        prop_assert!(kept >= 2 * MIN_FEE_UNIT * value, "fees {} for LAT value {}", kept, value);
    }

    /// A Sybil climbing from nothing with all seats its own (2..=4 seats a game): the fees spent
    /// to reach rank R are at least `2 · minJoinFeeUnit` times the LAT value earned on the way,
    /// and at least double from one rank to the next, as the LAT weight of the last win does.
    #[test]
    fn the_cost_of_a_climb_grows_at_least_as_fast_as_its_lat_weight(seats in 2usize..=4) {
        let mut previous = 0u64;
        for rank in 2..=5usize {
            let mut sybil = Sybil::new(seats, rank);
            sybil.obtain(rank);
            prop_assert!(sybil.fees >= 2 * MIN_FEE_UNIT * sybil.lat, "rank {}: {} for {}", rank, sybil.fees, sybil.lat);
            prop_assert!(sybil.fees >= MIN_FEE_UNIT * seats as u64 * lat_value(rank as u64 - 1));
            prop_assert!(sybil.fees >= 2 * previous, "rank {}: {} after {}", rank, sybil.fees, previous);
            previous = sybil.fees;
        }
    }
}
