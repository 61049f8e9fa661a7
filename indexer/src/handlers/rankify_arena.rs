//! `RankifyArena`: Game, Player, Turn, Proposal, Ballot, plus the relayed commitments the arena
//! skipped (SkippedCommit) and the fee withdrawals (ArenaWithdrawal).

use alloy::{
    primitives::{Address, I256, U256},
    rpc::types::Log,
};
use nsed_contracts::rankify_arena::{
    Phase,
    RankifyArena::{
        GameCancelled, GameCreated, GameEnded, GameStarted, OvertimeStarted, PhaseStarted,
        PlayerJoined, ProposalCommitted, ProposalRevealed, RankifyArenaEvents,
        RelayedCommitSkipped, TurnEnded, VoteCommitted, VoteRevealed, Withdrawn,
    },
};

use super::{ContractHandler, HandlerCtx, Outcome, block_i64, decode, event_id};
use crate::{
    entity::{EntityDef, IdKind, Kind, derived, enc_bytes, f},
    error::IndexerResult,
};

/// A game (id: the game id).
pub static GAME: EntityDef = EntityDef {
    name: "Game",
    single: "game",
    plural: "games",
    table: "game",
    id: IdKind::Number,
    doc: "A RankifyArena deliberation game (id: the game id).",
    fields: &[
        f("creator", Kind::Bytes, "Who created it."),
        f("rank", Kind::BigInt, "Rank level its seats require."),
        f("minPlayers", Kind::Int, "Fewest players it starts with."),
        f("maxPlayers", Kind::Int, "Most players."),
        f("numTurns", Kind::Int, "Regular turns."),
        f("maxOvertimeTurns", Kind::Int, "Most overtime turns."),
        f("voteCredits", Kind::BigInt, "Quadratic vote credits per ballot."),
        f("joinFee", Kind::BigInt, "Fee per seat."),
        f("stake", Kind::BigInt, "Stake per seat."),
        f("metadataURI", Kind::String, "Game description for a UI."),
        f("joinDeadline", Kind::BigInt, "Last second of the join window."),
        f(
            "phase",
            Kind::String,
            "Joining, Proposing, ProposalReveal, Voting, VoteReveal, Ended or Cancelled.",
        ),
        f("currentTurn", Kind::Int, "Current turn (0 before start)."),
        f("phaseDeadline", Kind::BigInt, "Last second of the current phase."),
        f("playerCount", Kind::Int, "Seated players."),
        f("overtimeTurns", Kind::Int, "Overtime turns started."),
        f("seats", Kind::BytesList, "Players by seat, once started."),
        f("winner", Kind::Bytes, "The winner once ended."),
        f("scores", Kind::BigIntList, "Cumulative scores by seat."),
        f("createdAtBlock", Kind::Int, "Block of creation."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[
        derived("players", "Player", "game", true),
        derived("turns", "Turn", "game", true),
        derived("proposals", "Proposal", "game", true),
        derived("ballots", "Ballot", "game", true),
        derived("skippedCommits", "SkippedCommit", "game", true),
    ],
};

/// A seat in a game (id: `<game>-<account>`).
pub static PLAYER: EntityDef = EntityDef {
    name: "Player",
    single: "player",
    plural: "players",
    table: "player",
    id: IdKind::Text,
    doc: "A player seated in a game (id: <game>-<account>).",
    fields: &[
        f("game", Kind::Ref("Game"), "The game."),
        f("account", Kind::Bytes, "The player's address."),
        f("seat", Kind::Int, "Seat index."),
        f("score", Kind::SignedBigInt, "Cumulative score."),
        f("winner", Kind::Boolean, "Whether the player won the game."),
        f("joinedAtBlock", Kind::Int, "Block of joining."),
    ],
    derived: &[
        derived("proposals", "Proposal", "player", true),
        derived("ballots", "Ballot", "player", true),
    ],
};

/// A turn of a game (id: `<game>-<turn>`).
pub static TURN: EntityDef = EntityDef {
    name: "Turn",
    single: "turn",
    plural: "turns",
    table: "turn",
    id: IdKind::Text,
    doc: "A turn of a game (id: <game>-<turn>).",
    fields: &[
        f("game", Kind::Ref("Game"), "The game."),
        f("turn", Kind::Int, "Turn number, from 1."),
        f("phase", Kind::String, "The turn's latest phase."),
        f("phaseDeadline", Kind::BigInt, "Last second of that phase."),
        f("overtime", Kind::Boolean, "Whether it is an overtime turn."),
        f("ended", Kind::Boolean, "Whether it ended."),
        f("scores", Kind::BigIntList, "Cumulative scores by seat after the turn."),
        f("startedAtBlock", Kind::Int, "Block of its first phase."),
    ],
    derived: &[
        derived("proposals", "Proposal", "turnRef", true),
        derived("ballots", "Ballot", "turnRef", true),
    ],
};

/// A proposal move (id: `<game>-<turn>-<account>`).
pub static PROPOSAL: EntityDef = EntityDef {
    name: "Proposal",
    single: "proposal",
    plural: "proposals",
    table: "proposal",
    id: IdKind::Text,
    doc: "A player's proposal in a turn (id: <game>-<turn>-<account>).",
    fields: &[
        f("game", Kind::Ref("Game"), "The game."),
        f("turnRef", Kind::Ref("Turn"), "The turn."),
        f("turn", Kind::Int, "Turn number."),
        f("player", Kind::Ref("Player"), "The player."),
        f("commitment", Kind::Bytes, "The commitment."),
        f("content", Kind::String, "The proposal text once revealed."),
        f("revealed", Kind::Boolean, "Whether it was revealed."),
        f("committedAtBlock", Kind::Int, "Block of the commitment."),
        f("revealedAtBlock", Kind::Int, "Block of the reveal."),
    ],
    derived: &[],
};

/// A ballot move (id: `<game>-<turn>-<account>`).
pub static BALLOT: EntityDef = EntityDef {
    name: "Ballot",
    single: "ballot",
    plural: "ballots",
    table: "ballot",
    id: IdKind::Text,
    doc: "A player's ballot in a turn (id: <game>-<turn>-<account>).",
    fields: &[
        f("game", Kind::Ref("Game"), "The game."),
        f("turnRef", Kind::Ref("Turn"), "The turn."),
        f("turn", Kind::Int, "Turn number."),
        f("player", Kind::Ref("Player"), "The player."),
        f("commitment", Kind::Bytes, "The commitment."),
        f("votes", Kind::BigIntList, "Votes by seat once revealed."),
        f("revealed", Kind::Boolean, "Whether it was revealed."),
        f("committedAtBlock", Kind::Int, "Block of the commitment."),
        f("revealedAtBlock", Kind::Int, "Block of the reveal."),
    ],
    derived: &[],
};

/// The arena's handler.
pub static HANDLER: ContractHandler = ContractHandler {
    contract: "RankifyArena",
    entities: &[&GAME, &PLAYER, &TURN, &PROPOSAL, &BALLOT, &SKIPPED_COMMIT, &ARENA_WITHDRAWAL],
    handle,
};

/// A relayed commitment the arena skipped (id: `<transaction hash>-<log index>`).
pub static SKIPPED_COMMIT: EntityDef = EntityDef {
    name: "SkippedCommit",
    single: "skippedCommit",
    plural: "skippedCommits",
    table: "skipped_commit",
    id: IdKind::Text,
    doc: "An entry of a relayCommits batch the arena skipped because it failed; the batch's \
          other entries still counted (id: <transaction hash>-<log index>).",
    fields: &[
        f("game", Kind::Ref("Game"), "The entry's game."),
        f("player", Kind::Bytes, "The entry's player."),
        f("index", Kind::BigInt, "Its position in the batch."),
        f("reason", Kind::Bytes, "The ABI-encoded custom error it failed with."),
        f("block", Kind::Int, "Block of the batch."),
        f("transactionHash", Kind::Bytes, "The batch's transaction."),
    ],
    derived: &[],
};

/// A withdrawal of credited arena fees (id: `<transaction hash>-<log index>`).
pub static ARENA_WITHDRAWAL: EntityDef = EntityDef {
    name: "ArenaWithdrawal",
    single: "arenaWithdrawal",
    plural: "arenaWithdrawals",
    table: "arena_withdrawal",
    id: IdKind::Text,
    doc: "An account's withdrawal of the fee tokens the arena credited it (refunds, winnings) \
          (id: <transaction hash>-<log index>).",
    fields: &[
        f("account", Kind::Bytes, "Who withdrew."),
        f("amount", Kind::BigInt, "Fee token units paid out."),
        f("block", Kind::Int, "Block of the withdrawal."),
        f("transactionHash", Kind::Bytes, "The transaction."),
    ],
    derived: &[],
};

/// The name of the arena's `Phase` value `phase` (its variant in the generated enum).
fn phase_name(phase: u8) -> String {
    Phase::try_from(phase).map_or_else(|_| format!("Unknown({phase})"), |p| format!("{p:?}"))
}

fn player_id(game: U256, account: Address) -> String {
    format!("{game}-{}", enc_bytes(account.as_slice()))
}

/// Sets each seated player's cumulative score from `scores` (by seat).
fn set_scores(
    ctx: &HandlerCtx<'_>,
    game: U256,
    seats: &[String],
    scores: &[I256],
) -> IndexerResult<()> {
    for (account, score) in seats.iter().zip(scores) {
        let mut player = ctx.load_or_new(&PLAYER, &format!("{game}-{account}"))?;
        player.set_int("score", *score);
        ctx.save(&player)?;
    }
    Ok(())
}

/// Writes a proposal or ballot commitment.
fn commit(
    ctx: &HandlerCtx<'_>,
    def: &'static EntityDef,
    (game, turn, player): (U256, u16, Address),
    commitment: &[u8],
) -> IndexerResult<()> {
    let mut mv =
        ctx.load_or_new(def, &format!("{game}-{turn}-{}", enc_bytes(player.as_slice())))?;
    mv.set_ref("game", &GAME, &game.to_string())
        .set_ref("turnRef", &TURN, &format!("{game}-{turn}"))
        .set_i64("turn", i64::from(turn))
        .set_ref("player", &PLAYER, &player_id(game, player))
        .set_bytes("commitment", commitment)
        .set_bool("revealed", false)
        .set_i64("committedAtBlock", block_i64(ctx));
    ctx.save(&mv)
}

fn handle(ctx: &mut HandlerCtx<'_>, log: &Log) -> IndexerResult<Outcome> {
    let event = match decode::<RankifyArenaEvents>(log) {
        Ok(event) => event,
        Err(outcome) => return Ok(outcome),
    };
    match event {
        RankifyArenaEvents::GameCreated(e) => game_created(ctx, e),
        RankifyArenaEvents::PlayerJoined(e) => player_joined(ctx, e),
        RankifyArenaEvents::GameStarted(e) => game_started(ctx, e),
        RankifyArenaEvents::PhaseStarted(e) => phase_started(ctx, e),
        RankifyArenaEvents::OvertimeStarted(e) => overtime_started(ctx, e),
        RankifyArenaEvents::ProposalCommitted(e) => proposal_committed(ctx, e),
        RankifyArenaEvents::VoteCommitted(e) => vote_committed(ctx, e),
        RankifyArenaEvents::ProposalRevealed(e) => proposal_revealed(ctx, e),
        RankifyArenaEvents::VoteRevealed(e) => vote_revealed(ctx, e),
        RankifyArenaEvents::TurnEnded(e) => turn_ended(ctx, e),
        RankifyArenaEvents::GameEnded(e) => game_ended(ctx, e),
        RankifyArenaEvents::GameCancelled(e) => game_cancelled(ctx, e),
        RankifyArenaEvents::RelayedCommitSkipped(e) => relayed_commit_skipped(ctx, e),
        RankifyArenaEvents::Withdrawn(e) => withdrawn(ctx, e),
        RankifyArenaEvents::EIP712DomainChanged(_) => Ok(Outcome::Ignored),
    }
}

fn relayed_commit_skipped(
    ctx: &mut HandlerCtx<'_>,
    e: RelayedCommitSkipped,
) -> IndexerResult<Outcome> {
    let mut row = ctx.load_or_new(&SKIPPED_COMMIT, &event_id(ctx))?;
    row.set_ref("game", &GAME, &e.gameId.to_string())
        .set_bytes("player", e.player.as_slice())
        .set_uint("index", e.index)
        .set_bytes("reason", &e.reason)
        .set_i64("block", block_i64(ctx))
        .set_bytes("transactionHash", ctx.tx_hash.as_slice());
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn withdrawn(ctx: &mut HandlerCtx<'_>, e: Withdrawn) -> IndexerResult<Outcome> {
    let mut row = ctx.load_or_new(&ARENA_WITHDRAWAL, &event_id(ctx))?;
    row.set_bytes("account", e.account.as_slice())
        .set_uint("amount", e.amount)
        .set_i64("block", block_i64(ctx))
        .set_bytes("transactionHash", ctx.tx_hash.as_slice());
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn game_created(ctx: &mut HandlerCtx<'_>, e: GameCreated) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let p = &e.params;
    let mut game = ctx.load_or_new(&GAME, &e.gameId.to_string())?;
    game.set_bytes("creator", e.creator.as_slice())
        .set_uint("rank", U256::from(e.rank))
        .set_i64("minPlayers", i64::from(p.minPlayers))
        .set_i64("maxPlayers", i64::from(p.maxPlayers))
        .set_i64("numTurns", i64::from(p.turns))
        .set_i64("maxOvertimeTurns", i64::from(p.maxOvertimeTurns))
        .set_uint("voteCredits", U256::from(p.voteCredits))
        .set_uint("joinFee", p.joinFee)
        .set_uint("stake", p.stake)
        .set_str("metadataURI", p.metadataURI.clone())
        .set_uint("joinDeadline", U256::from(e.joinDeadline))
        .set_str("phase", "Joining")
        .set_i64("currentTurn", 0)
        .set_uint("phaseDeadline", U256::from(e.joinDeadline))
        .set_i64("playerCount", 0)
        .set_i64("overtimeTurns", 0)
        .set_i64("createdAtBlock", block)
        .set_i64("updatedAtBlock", block);
    ctx.save(&game)?;
    Ok(Outcome::Applied)
}

fn player_joined(ctx: &mut HandlerCtx<'_>, e: PlayerJoined) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let mut player = ctx.load_or_new(&PLAYER, &player_id(e.gameId, e.player))?;
    player
        .set_ref("game", &GAME, &e.gameId.to_string())
        .set_bytes("account", e.player.as_slice())
        .set_i64("seat", i64::from(e.seat))
        .set_int("score", I256::ZERO)
        .set_bool("winner", false)
        .set_i64("joinedAtBlock", block);
    ctx.save(&player)?;
    let mut game = ctx.load_or_new(&GAME, &e.gameId.to_string())?;
    let count = game.i64("playerCount") + 1;
    game.set_i64("playerCount", count).set_i64("updatedAtBlock", block);
    ctx.save(&game)?;
    Ok(Outcome::Applied)
}

fn game_started(ctx: &mut HandlerCtx<'_>, e: GameStarted) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let mut game = ctx.load_or_new(&GAME, &e.gameId.to_string())?;
    game.set_list("seats", e.players.iter().map(|a| enc_bytes(a.as_slice())).collect())
        .set_i64("playerCount", i64::try_from(e.players.len()).unwrap_or(i64::MAX))
        .set_uint("phaseDeadline", U256::from(e.deadline))
        .set_i64("updatedAtBlock", block);
    ctx.save(&game)?;
    Ok(Outcome::Applied)
}

fn phase_started(ctx: &mut HandlerCtx<'_>, e: PhaseStarted) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let phase = phase_name(e.phase);
    let mut game = ctx.load_or_new(&GAME, &e.gameId.to_string())?;
    game.set_str("phase", phase.clone())
        .set_i64("currentTurn", i64::from(e.turn))
        .set_uint("phaseDeadline", U256::from(e.deadline))
        .set_i64("updatedAtBlock", block);
    ctx.save(&game)?;
    let mut turn = ctx.load_or_new(&TURN, &format!("{}-{}", e.gameId, e.turn))?;
    if turn.get("game") == &rusqlite::types::Value::Null {
        turn.set_ref("game", &GAME, &e.gameId.to_string())
            .set_i64("turn", i64::from(e.turn))
            .set_bool("ended", false)
            .set_i64("startedAtBlock", block);
        if turn.get("overtime") == &rusqlite::types::Value::Null {
            turn.set_bool("overtime", false);
        }
    }
    turn.set_str("phase", phase).set_uint("phaseDeadline", U256::from(e.deadline));
    ctx.save(&turn)?;
    Ok(Outcome::Applied)
}

fn overtime_started(ctx: &mut HandlerCtx<'_>, e: OvertimeStarted) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let mut game = ctx.load_or_new(&GAME, &e.gameId.to_string())?;
    let overtime = game.i64("overtimeTurns") + 1;
    game.set_i64("overtimeTurns", overtime).set_i64("updatedAtBlock", block);
    ctx.save(&game)?;
    let mut turn = ctx.load_or_new(&TURN, &format!("{}-{}", e.gameId, e.turn))?;
    turn.set_ref("game", &GAME, &e.gameId.to_string())
        .set_i64("turn", i64::from(e.turn))
        .set_bool("overtime", true);
    ctx.save(&turn)?;
    Ok(Outcome::Applied)
}

fn proposal_committed(ctx: &mut HandlerCtx<'_>, e: ProposalCommitted) -> IndexerResult<Outcome> {
    commit(ctx, &PROPOSAL, (e.gameId, e.turn, e.player), e.commitment.as_slice())?;
    Ok(Outcome::Applied)
}

fn vote_committed(ctx: &mut HandlerCtx<'_>, e: VoteCommitted) -> IndexerResult<Outcome> {
    commit(ctx, &BALLOT, (e.gameId, e.turn, e.player), e.commitment.as_slice())?;
    Ok(Outcome::Applied)
}

fn proposal_revealed(ctx: &mut HandlerCtx<'_>, e: ProposalRevealed) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let id = format!("{}-{}-{}", e.gameId, e.turn, enc_bytes(e.player.as_slice()));
    let mut mv = ctx.load_or_new(&PROPOSAL, &id)?;
    mv.set_str("content", e.proposal).set_bool("revealed", true).set_i64("revealedAtBlock", block);
    ctx.save(&mv)?;
    Ok(Outcome::Applied)
}

fn vote_revealed(ctx: &mut HandlerCtx<'_>, e: VoteRevealed) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let id = format!("{}-{}-{}", e.gameId, e.turn, enc_bytes(e.player.as_slice()));
    let mut mv = ctx.load_or_new(&BALLOT, &id)?;
    mv.set_list("votes", e.votes.iter().map(ToString::to_string).collect())
        .set_bool("revealed", true)
        .set_i64("revealedAtBlock", block);
    ctx.save(&mv)?;
    Ok(Outcome::Applied)
}

fn turn_ended(ctx: &mut HandlerCtx<'_>, e: TurnEnded) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let mut turn = ctx.load_or_new(&TURN, &format!("{}-{}", e.gameId, e.turn))?;
    turn.set_bool("ended", true)
        .set_list("scores", e.scores.iter().map(ToString::to_string).collect());
    ctx.save(&turn)?;
    let mut game = ctx.load_or_new(&GAME, &e.gameId.to_string())?;
    game.set_list("scores", e.scores.iter().map(ToString::to_string).collect())
        .set_i64("updatedAtBlock", block);
    ctx.save(&game)?;
    set_scores(ctx, e.gameId, &game.list("seats"), &e.scores)?;
    Ok(Outcome::Applied)
}

fn game_ended(ctx: &mut HandlerCtx<'_>, e: GameEnded) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let mut game = ctx.load_or_new(&GAME, &e.gameId.to_string())?;
    game.set_str("phase", "Ended")
        .set_bytes("winner", e.winner.as_slice())
        .set_list("scores", e.scores.iter().map(ToString::to_string).collect())
        .set_i64("updatedAtBlock", block);
    ctx.save(&game)?;
    set_scores(ctx, e.gameId, &game.list("seats"), &e.scores)?;
    let mut winner = ctx.load_or_new(&PLAYER, &player_id(e.gameId, e.winner))?;
    winner.set_bool("winner", true);
    ctx.save(&winner)?;
    Ok(Outcome::Applied)
}

fn game_cancelled(ctx: &mut HandlerCtx<'_>, e: GameCancelled) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let mut game = ctx.load_or_new(&GAME, &e.gameId.to_string())?;
    game.set_str("phase", "Cancelled").set_i64("updatedAtBlock", block);
    ctx.save(&game)?;
    Ok(Outcome::Applied)
}
