//! A deployed arena suite (fee token, ranks, arena) and helpers to play games, shared by the arena,
//! arena property and gas tests.

use alloy::{
    primitives::{Address, B256, Bytes, I256, U256, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol,
    sol_types::{Eip712Domain, SolStruct, SolValue, eip712_domain},
};
use nsed_contracts::{
    bounty_token::BountyToken,
    liquid_access_token::LiquidAccessToken,
    rank_token::RankToken,
    rankify_arena::RankifyArena::{self, GameParams, SignedCommit},
    testkit::{Receipt, TestChain, TxFailure},
};

use crate::fixtures::{RANK_URI, deploy_lat, grant_lat_minter};

sol! {
    /// The EIP-712 struct a player signs for a relayed commitment.
    #[derive(Debug)]
    struct Commit {
        uint256 gameId;
        uint16 turn;
        uint8 kind;
        bytes32 commitment;
        uint256 deadline;
    }
}

/// Vote credits of the default parameters.
pub(crate) const CREDITS: u128 = 100;
/// Every phase's duration in the default parameters, in seconds.
pub(crate) const PHASE: u64 = 600;
/// The arena's `minJoinFeeUnit` in these fixtures: small, so that fees stay readable in tests about
/// other things (the suite's deployment default, 0.01 token, is exercised by `nsed-deploy`'s tests).
pub(crate) const MIN_FEE_UNIT: u64 = 10;
/// Join fee of the default parameters.
pub(crate) const FEE: u64 = 1_000;
/// Stake of the default parameters.
pub(crate) const STAKE: u64 = 10_000;
/// Fee tokens minted to each player.
pub(crate) const FUNDS: u64 = 1_000_000;

/// Phases, as the contract numbers them.
pub(crate) mod phase {
    pub(crate) const NONE: u8 = 0;
    pub(crate) const JOINING: u8 = 1;
    pub(crate) const PROPOSING: u8 = 2;
    pub(crate) const PROPOSAL_REVEAL: u8 = 3;
    pub(crate) const VOTING: u8 = 4;
    pub(crate) const VOTE_REVEAL: u8 = 5;
    pub(crate) const ENDED: u8 = 6;
    pub(crate) const CANCELLED: u8 = 7;
}

pub(crate) fn u(v: u64) -> U256 {
    U256::from(v)
}

pub(crate) fn i(v: i64) -> I256 {
    I256::try_from(v).unwrap()
}

pub(crate) fn votes(values: &[i64]) -> Vec<I256> {
    values.iter().map(|&v| i(v)).collect()
}

/// Default parameters: rank `rank`, `min..=max` players, `turns` turns, no overtime.
pub(crate) fn params(rank: u64, min: u8, max: u8, turns: u16) -> GameParams {
    GameParams {
        rank,
        minPlayers: min,
        maxPlayers: max,
        turns,
        maxOvertimeTurns: 0,
        voteCredits: CREDITS,
        joinDuration: PHASE,
        proposingDuration: PHASE,
        votingDuration: PHASE,
        revealDuration: PHASE,
        joinFee: u(FEE),
        stake: u(STAKE),
        metadataURI: "ipfs://game".into(),
    }
}

/// A player key: anvil dev keys 1..=8, then keys derived from a fixed seed.
pub(crate) fn player_key(chain: &TestChain, index: usize) -> PrivateKeySigner {
    if index < 8 {
        chain.signer(1 + index).clone()
    } else {
        PrivateKeySigner::from_bytes(&keccak256(format!("nsed arena player {index}"))).unwrap()
    }
}

/// `keccak256(abi.encode(gameId, turn, player, proposal, salt))`.
pub(crate) fn proposal_commitment(
    game: U256,
    turn: u16,
    player: Address,
    proposal: &str,
    salt: B256,
) -> B256 {
    keccak256((game, turn, player, proposal.to_string(), salt).abi_encode_params())
}

/// `keccak256(abi.encode(gameId, turn, player, votes, salt))`.
pub(crate) fn vote_commitment(
    game: U256,
    turn: u16,
    player: Address,
    ballot: &[I256],
    salt: B256,
) -> B256 {
    keccak256((game, turn, player, ballot.to_vec(), salt).abi_encode_params())
}

/// A salt that differs per player and turn.
pub(crate) fn salt(player: Address, turn: u16, kind: u8) -> B256 {
    keccak256((player, turn, U256::from(kind)).abi_encode())
}

/// Deployed suite: admin = account 0 (rank admin, fee token owner), treasury = account 9.
pub(crate) struct ArenaFixture {
    pub(crate) chain: TestChain,
    pub(crate) admin: Address,
    pub(crate) treasury: Address,
    pub(crate) ranks: Address,
    pub(crate) token: Address,
    pub(crate) lat: Address,
    pub(crate) arena: Address,
    pub(crate) keys: Vec<PrivateKeySigner>,
}

/// What one seat does in one turn: propose (and reveal), vote (and reveal) with these votes.
#[derive(Clone, Debug, Default)]
pub(crate) struct SeatPlan {
    pub(crate) propose: bool,
    pub(crate) vote: Option<Vec<I256>>,
}

impl ArenaFixture {
    pub(crate) fn new(players: usize) -> Self {
        let mut chain = TestChain::new();
        let admin = chain.account(0);
        let treasury = chain.account(9);
        let ranks = chain
            .deploy(
                admin,
                &RankToken::BYTECODE,
                &RankToken::constructorCall { uri_: RANK_URI.into(), admin },
            )
            .unwrap();
        let token = chain
            .deploy(
                admin,
                &BountyToken::BYTECODE,
                &BountyToken::constructorCall { initialOwner: admin },
            )
            .unwrap();
        let lat = deploy_lat(&mut chain, admin, &[]);
        let arena = Self::deploy_arena(&mut chain, admin, ranks, token, treasury, lat);
        let keys: Vec<_> = (0..players).map(|k| player_key(&chain, k)).collect();
        let mut f = Self { chain, admin, treasury, ranks, token, lat, arena, keys };
        for k in 0..players {
            let p = f.player(k);
            f.fund(p);
        }
        f
    }

    /// Deploys an arena and grants it `GAME_ROLE` on the ranks and `MINTER_ROLE` on the LATs.
    pub(crate) fn deploy_arena(
        chain: &mut TestChain,
        admin: Address,
        ranks: Address,
        token: Address,
        treasury: Address,
        lat: Address,
    ) -> Address {
        let arena = chain
            .deploy(
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
            .unwrap();
        let role = chain.call(admin, ranks, &RankToken::GAME_ROLECall {}).unwrap();
        chain.send(admin, ranks, &RankToken::grantRoleCall { role, account: arena }).unwrap();
        grant_lat_minter(chain, admin, lat, arena);
        arena
    }

    pub(crate) fn player(&self, k: usize) -> Address {
        self.keys[k].address()
    }

    /// Mints fee tokens to `who` and approves the arena.
    pub(crate) fn fund(&mut self, who: Address) {
        self.chain
            .send(self.admin, self.token, &BountyToken::mintCall { to: who, amount: u(FUNDS) })
            .unwrap();
        self.chain
            .send(
                who,
                self.token,
                &BountyToken::approveCall { spender: self.arena, value: U256::MAX },
            )
            .unwrap();
    }

    pub(crate) fn token_balance(&mut self, who: Address) -> U256 {
        self.chain
            .call(self.admin, self.token, &BountyToken::balanceOfCall { account: who })
            .unwrap()
    }

    pub(crate) fn rank_balance(&mut self, who: Address, rank: u64) -> U256 {
        self.chain
            .call(self.admin, self.ranks, &RankToken::balanceOfCall { account: who, id: u(rank) })
            .unwrap()
    }

    /// `who`'s balance of the arena's tier-`tier` access tokens.
    pub(crate) fn lat_balance(&mut self, who: Address, tier: u8) -> U256 {
        let asset = self.chain.call(self.admin, self.arena, &RankifyArena::latAssetCall {});
        let id = nsed_contracts::lat::encode(asset.unwrap(), tier);
        self.chain
            .call(self.admin, self.lat, &LiquidAccessToken::balanceOfCall { account: who, id })
            .unwrap()
    }

    pub(crate) fn locked(&mut self, who: Address, rank: u64) -> U256 {
        self.chain
            .call(
                self.admin,
                self.ranks,
                &RankToken::lockedBalanceOfCall { account: who, rank: u(rank) },
            )
            .unwrap()
    }

    /// Mints rank tokens with a test game role held by the admin.
    pub(crate) fn mint_rank(&mut self, to: Address, rank: u64, amount: u64) {
        let role = self.chain.call(self.admin, self.ranks, &RankToken::GAME_ROLECall {}).unwrap();
        self.chain
            .send(self.admin, self.ranks, &RankToken::grantRoleCall { role, account: self.admin })
            .unwrap();
        self.chain
            .send(
                self.admin,
                self.ranks,
                &RankToken::mintCall { to, rank: u(rank), amount: u(amount) },
            )
            .unwrap();
    }

    pub(crate) fn try_create(
        &mut self,
        creator: Address,
        p: GameParams,
    ) -> Result<Receipt<U256>, TxFailure> {
        self.chain.send(creator, self.arena, &RankifyArena::createGameCall { params: p })
    }

    /// Creates a game from player 0.
    pub(crate) fn create(&mut self, p: GameParams) -> U256 {
        let creator = self.player(0);
        self.try_create(creator, p).unwrap().ret
    }

    pub(crate) fn try_join(
        &mut self,
        game: U256,
        who: Address,
    ) -> Result<Receipt<RankifyArena::joinReturn>, TxFailure> {
        self.chain.send(who, self.arena, &RankifyArena::joinCall { gameId: game })
    }

    /// Creates a game with `p`, seats the first `seats` players and starts it (from player 0).
    pub(crate) fn started(&mut self, p: GameParams, seats: usize) -> U256 {
        let game = self.create(p);
        for k in 0..seats {
            let who = self.player(k);
            self.try_join(game, who).unwrap();
        }
        let creator = self.player(0);
        self.chain.send(creator, self.arena, &RankifyArena::startCall { gameId: game }).unwrap();
        game
    }

    pub(crate) fn game(&mut self, game: U256) -> RankifyArena::Game {
        self.chain.call(self.admin, self.arena, &RankifyArena::gameCall { gameId: game }).unwrap()
    }

    pub(crate) fn scores(&mut self, game: U256) -> Vec<I256> {
        self.chain.call(self.admin, self.arena, &RankifyArena::scoresCall { gameId: game }).unwrap()
    }

    pub(crate) fn owed(&mut self, who: Address) -> U256 {
        self.chain
            .call(self.admin, self.arena, &RankifyArena::withdrawableCall { account: who })
            .unwrap()
    }

    /// Warps past the current phase's deadline and advances.
    pub(crate) fn advance_after_deadline(
        &mut self,
        game: U256,
    ) -> Receipt<RankifyArena::advanceReturn> {
        let deadline = self.game(game).phaseDeadline;
        self.chain.warp(deadline + 1);
        let anyone = self.chain.account(8);
        self.chain.send(anyone, self.arena, &RankifyArena::advanceCall { gameId: game }).unwrap()
    }

    pub(crate) fn try_advance(
        &mut self,
        game: U256,
    ) -> Result<Receipt<RankifyArena::advanceReturn>, TxFailure> {
        let anyone = self.chain.account(8);
        self.chain.send(anyone, self.arena, &RankifyArena::advanceCall { gameId: game })
    }

    pub(crate) fn commit_proposal(
        &mut self,
        game: U256,
        turn: u16,
        seat: usize,
        text: &str,
    ) -> Receipt<RankifyArena::commitProposalReturn> {
        let who = self.player(seat);
        let c = proposal_commitment(game, turn, who, text, salt(who, turn, 0));
        self.chain
            .send(
                who,
                self.arena,
                &RankifyArena::commitProposalCall { gameId: game, turn, commitment: c },
            )
            .unwrap()
    }

    pub(crate) fn reveal_proposal(
        &mut self,
        game: U256,
        turn: u16,
        seat: usize,
        text: &str,
    ) -> Receipt<RankifyArena::revealProposalReturn> {
        let who = self.player(seat);
        let call = RankifyArena::revealProposalCall {
            gameId: game,
            turn,
            proposal: text.into(),
            salt: salt(who, turn, 0),
        };
        self.chain.send(who, self.arena, &call).unwrap()
    }

    pub(crate) fn commit_vote(
        &mut self,
        game: U256,
        turn: u16,
        seat: usize,
        ballot: &[I256],
    ) -> Receipt<RankifyArena::commitVoteReturn> {
        let who = self.player(seat);
        let c = vote_commitment(game, turn, who, ballot, salt(who, turn, 1));
        self.chain
            .send(
                who,
                self.arena,
                &RankifyArena::commitVoteCall { gameId: game, turn, commitment: c },
            )
            .unwrap()
    }

    pub(crate) fn try_reveal_vote(
        &mut self,
        game: U256,
        turn: u16,
        seat: usize,
        ballot: &[I256],
    ) -> Result<Receipt<RankifyArena::revealVoteReturn>, TxFailure> {
        let who = self.player(seat);
        let call = RankifyArena::revealVoteCall {
            gameId: game,
            turn,
            votes: ballot.to_vec(),
            salt: salt(who, turn, 1),
        };
        self.chain.send(who, self.arena, &call)
    }

    /// Plays the current turn with `plan` (one entry per seat), advancing each phase after its
    /// deadline. Returns the receipt of the final advance (the turn's end).
    pub(crate) fn play_turn(
        &mut self,
        game: U256,
        plan: &[SeatPlan],
    ) -> Receipt<RankifyArena::advanceReturn> {
        let turn = self.game(game).turn;
        for (seat, s) in plan.iter().enumerate() {
            if s.propose {
                self.commit_proposal(game, turn, seat, &format!("proposal {seat}"));
            }
        }
        self.advance_after_deadline(game);
        for (seat, s) in plan.iter().enumerate() {
            if s.propose {
                self.reveal_proposal(game, turn, seat, &format!("proposal {seat}"));
            }
        }
        self.advance_after_deadline(game);
        for (seat, s) in plan.iter().enumerate() {
            if let Some(b) = &s.vote {
                self.commit_vote(game, turn, seat, b);
            }
        }
        self.advance_after_deadline(game);
        for (seat, s) in plan.iter().enumerate() {
            if let Some(b) = &s.vote {
                self.try_reveal_vote(game, turn, seat, b).unwrap();
            }
        }
        self.advance_after_deadline(game)
    }

    pub(crate) fn domain(&self, chain_id: u64, arena: Address) -> Eip712Domain {
        eip712_domain! {
            name: "NSED RankifyArena",
            version: "1",
            chain_id: chain_id,
            verifying_contract: arena,
        }
    }

    /// A relayed commitment signed by `seat` for `domain`.
    pub(crate) fn signed_commit(
        &self,
        domain: &Eip712Domain,
        seat: usize,
        commit: Commit,
    ) -> SignedCommit {
        let hash = commit.eip712_signing_hash(domain);
        let sig = self.keys[seat].sign_hash_sync(&hash).unwrap();
        SignedCommit {
            gameId: commit.gameId,
            turn: commit.turn,
            kind: commit.kind,
            player: self.player(seat),
            commitment: commit.commitment,
            deadline: commit.deadline,
            signature: Bytes::from(sig.as_bytes()),
        }
    }
}

/// Everyone proposes and votes +1 for the next seat (a cyclic ballot), so scores tie.
pub(crate) fn everyone_plays(n: usize) -> Vec<SeatPlan> {
    (0..n)
        .map(|seat| {
            let mut b = vec![I256::ZERO; n];
            b[(seat + 1) % n] = i(1);
            SeatPlan { propose: true, vote: Some(b) }
        })
        .collect()
}

/// Everyone proposes; everyone votes `points` for `favourite` (who votes for the next seat).
pub(crate) fn favour(n: usize, favourite: usize, points: i64) -> Vec<SeatPlan> {
    (0..n)
        .map(|seat| {
            let mut b = vec![I256::ZERO; n];
            if seat == favourite {
                b[(seat + 1) % n] = i(points);
            } else {
                b[favourite] = i(points);
            }
            SeatPlan { propose: true, vote: Some(b) }
        })
        .collect()
}
