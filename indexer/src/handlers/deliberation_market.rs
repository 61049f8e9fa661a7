//! `DeliberationMarket`: Agent, Job, Round, Settlement.

use alloy::{primitives::U256, rpc::types::Log};
use nsed_contracts::i_deliberation_market::IDeliberationMarket::{
    AgentDeactivated, AgentPromoted, AgentRegistered, IDeliberationMarketEvents, JobClaimed,
    JobRefunded, JobRequested, JobSettled, RoundTallied,
};

use super::{ContractHandler, HandlerCtx, Outcome, block_i64, decode};
use crate::{
    entity::{EntityDef, IdKind, Kind, derived, enc_bytes, f},
    error::IndexerResult,
};

/// A registered agent (id: its address).
pub static AGENT: EntityDef = EntityDef {
    name: "Agent",
    single: "agent",
    plural: "agents",
    table: "agent",
    id: IdKind::Text,
    doc: "An agent key registered on the market (id: its lowercase address).",
    fields: &[
        f("owner", Kind::Bytes, "Who registered it."),
        f("modelId", Kind::Bytes, "Hash of the model it runs."),
        f("metadataURI", Kind::String, "Metadata URI."),
        f("active", Kind::Boolean, "False once its owner deactivated it."),
        f("rank", Kind::BigInt, "Rank after its last promotion (0 before any)."),
        f("jobsWon", Kind::Int, "Settled jobs it won."),
        f("registeredAtBlock", Kind::Int, "Block of registration."),
    ],
    derived: &[
        derived("jobs", "Job", "winner", true),
        derived("settlements", "Settlement", "winner", true),
    ],
};

/// A deliberation job (id: the job id).
pub static JOB: EntityDef = EntityDef {
    name: "Job",
    single: "job",
    plural: "jobs",
    table: "job",
    id: IdKind::Number,
    doc: "A deliberation job requested on the market (id: the job id).",
    fields: &[
        f("requester", Kind::Bytes, "Who requested and paid."),
        f("kind", Kind::String, "Task kind, e.g. tensor-f32."),
        f("input", Kind::Bytes, "Task input bytes."),
        f("agentsWanted", Kind::Int, "Seats wanted."),
        f("maxRounds", Kind::Int, "Most rounds."),
        f("credits", Kind::BigInt, "Vote credits per ballot."),
        f("deadline", Kind::BigInt, "Unix deadline in seconds."),
        f("token", Kind::Bytes, "Bounty token."),
        f("bounty", Kind::BigInt, "Bounty in token units."),
        f("escrow", Kind::Ref("EscrowDeal"), "The escrow deal holding the bounty."),
        f("status", Kind::String, "Requested, Claimed, Settled or Refunded."),
        f("keeper", Kind::Bytes, "The claiming keeper."),
        f("winner", Kind::Ref("Agent"), "The winning agent once settled."),
        f("requestedAtBlock", Kind::Int, "Block of the request."),
        f("updatedAtBlock", Kind::Int, "Block of the last status change."),
        f("transactionHash", Kind::Bytes, "Transaction of the request."),
    ],
    derived: &[
        derived("rounds", "Round", "job", true),
        derived("settlement", "Settlement", "job", false),
    ],
};

/// One tallied round of a settled job (id: `<job>-<round>`).
pub static ROUND: EntityDef = EntityDef {
    name: "Round",
    single: "round",
    plural: "rounds",
    table: "round",
    id: IdKind::Text,
    doc: "A round of a settled transcript as the market tallied it (id: <job>-<round>).",
    fields: &[
        f("job", Kind::Ref("Job"), "The job."),
        f("round", Kind::Int, "Round number, from 1."),
        f("scores", Kind::BigIntList, "Score per seat."),
        f("winnerSeat", Kind::BigInt, "Seat of the round's supported winner."),
        f("hasWinner", Kind::Boolean, "Whether any seat received a non-zero vote."),
        f("block", Kind::Int, "Block of the settlement."),
    ],
    derived: &[],
};

/// A job's settlement (id: the job id).
pub static SETTLEMENT: EntityDef = EntityDef {
    name: "Settlement",
    single: "settlement",
    plural: "settlements",
    table: "settlement",
    id: IdKind::Number,
    doc: "The settled outcome of a job (id: the job id).",
    fields: &[
        f("job", Kind::Ref("Job"), "The job."),
        f("winner", Kind::Ref("Agent"), "The winning agent."),
        f("content", Kind::String, "The winning answer."),
        f("score", Kind::SignedBigInt, "The winner's score in the last round."),
        f("rounds", Kind::Int, "Rounds in the transcript."),
        f("block", Kind::Int, "Block of the settlement."),
        f("transactionHash", Kind::Bytes, "The settlement transaction."),
    ],
    derived: &[],
};

/// The market's handler.
pub static HANDLER: ContractHandler = ContractHandler {
    contract: "DeliberationMarket",
    entities: &[&AGENT, &JOB, &ROUND, &SETTLEMENT],
    handle,
};

fn addr_id(a: &alloy::primitives::Address) -> String {
    enc_bytes(a.as_slice())
}

fn handle(ctx: &mut HandlerCtx<'_>, log: &Log) -> IndexerResult<Outcome> {
    let event = match decode::<IDeliberationMarketEvents>(log) {
        Ok(event) => event,
        Err(outcome) => return Ok(outcome),
    };
    match event {
        IDeliberationMarketEvents::AgentRegistered(e) => agent_registered(ctx, e),
        IDeliberationMarketEvents::AgentDeactivated(e) => agent_deactivated(ctx, e),
        IDeliberationMarketEvents::AgentPromoted(e) => agent_promoted(ctx, e),
        IDeliberationMarketEvents::JobRequested(e) => job_requested(ctx, e),
        IDeliberationMarketEvents::JobClaimed(e) => job_claimed(ctx, e),
        IDeliberationMarketEvents::RoundTallied(e) => round_tallied(ctx, e),
        IDeliberationMarketEvents::JobSettled(e) => job_settled(ctx, e),
        IDeliberationMarketEvents::JobRefunded(e) => job_refunded(ctx, e),
    }
}

fn agent_registered(ctx: &mut HandlerCtx<'_>, e: AgentRegistered) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let mut agent = ctx.load_or_new(&AGENT, &addr_id(&e.agent))?;
    agent
        .set_bytes("owner", e.owner.as_slice())
        .set_bytes("modelId", e.modelId.as_slice())
        .set_str("metadataURI", e.metadataURI)
        .set_bool("active", true)
        .set_i64("registeredAtBlock", block);
    if agent.get("rank") == &rusqlite::types::Value::Null {
        agent.set_uint("rank", U256::ZERO).set_i64("jobsWon", 0);
    }
    ctx.save(&agent)?;
    Ok(Outcome::Applied)
}

fn agent_deactivated(ctx: &mut HandlerCtx<'_>, e: AgentDeactivated) -> IndexerResult<Outcome> {
    let mut agent = ctx.load_or_new(&AGENT, &addr_id(&e.agent))?;
    agent.set_bool("active", false);
    ctx.save(&agent)?;
    Ok(Outcome::Applied)
}

fn agent_promoted(ctx: &mut HandlerCtx<'_>, e: AgentPromoted) -> IndexerResult<Outcome> {
    let mut agent = ctx.load_or_new(&AGENT, &addr_id(&e.agent))?;
    agent.set_uint("rank", e.newRank);
    ctx.save(&agent)?;
    Ok(Outcome::Applied)
}

fn job_requested(ctx: &mut HandlerCtx<'_>, e: JobRequested) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let mut job = ctx.load_or_new(&JOB, &e.jobId.to_string())?;
    job.set_bytes("requester", e.requester.as_slice())
        .set_str("kind", e.kind)
        .set_bytes("input", &e.input)
        .set_i64("agentsWanted", i64::from(e.agentsWanted))
        .set_i64("maxRounds", i64::from(e.maxRounds))
        .set_uint("credits", U256::from(e.credits))
        .set_uint("deadline", U256::from(e.deadline))
        .set_bytes("token", e.token.as_slice())
        .set_uint("bounty", e.bounty)
        .set_ref("escrow", &super::tripartite_escrow::ESCROW_DEAL, &e.escrowId.to_string())
        .set_str("status", "Requested")
        .set_i64("requestedAtBlock", block)
        .set_i64("updatedAtBlock", block)
        .set_bytes("transactionHash", ctx.tx_hash.as_slice());
    ctx.save(&job)?;
    Ok(Outcome::Applied)
}

fn job_claimed(ctx: &mut HandlerCtx<'_>, e: JobClaimed) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let mut job = ctx.load_or_new(&JOB, &e.jobId.to_string())?;
    job.set_str("status", "Claimed")
        .set_bytes("keeper", e.keeper.as_slice())
        .set_i64("updatedAtBlock", block);
    ctx.save(&job)?;
    Ok(Outcome::Applied)
}

fn round_tallied(ctx: &mut HandlerCtx<'_>, e: RoundTallied) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let id = format!("{}-{}", e.jobId, e.round);
    let mut round = ctx.load_or_new(&ROUND, &id)?;
    round
        .set_ref("job", &JOB, &e.jobId.to_string())
        .set_i64("round", i64::from(e.round))
        .set_list("scores", e.scores.iter().map(ToString::to_string).collect())
        .set_uint("winnerSeat", e.winnerSeat)
        .set_bool("hasWinner", e.hasWinner)
        .set_i64("block", block);
    ctx.save(&round)?;
    Ok(Outcome::Applied)
}

fn job_settled(ctx: &mut HandlerCtx<'_>, e: JobSettled) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let job_id = e.jobId.to_string();
    let winner = addr_id(&e.winner);
    let mut job = ctx.load_or_new(&JOB, &job_id)?;
    job.set_str("status", "Settled")
        .set_ref("winner", &AGENT, &winner)
        .set_i64("updatedAtBlock", block);
    ctx.save(&job)?;
    let mut settlement = ctx.load_or_new(&SETTLEMENT, &job_id)?;
    settlement
        .set_ref("job", &JOB, &job_id)
        .set_ref("winner", &AGENT, &winner)
        .set_str("content", e.content)
        .set_int("score", e.score)
        .set_i64("rounds", i64::from(e.rounds))
        .set_i64("block", block)
        .set_bytes("transactionHash", ctx.tx_hash.as_slice());
    ctx.save(&settlement)?;
    let mut agent = ctx.load_or_new(&AGENT, &winner)?;
    let won = agent.i64("jobsWon") + 1;
    agent.set_i64("jobsWon", won);
    ctx.save(&agent)?;
    Ok(Outcome::Applied)
}

fn job_refunded(ctx: &mut HandlerCtx<'_>, e: JobRefunded) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let mut job = ctx.load_or_new(&JOB, &e.jobId.to_string())?;
    job.set_str("status", "Refunded").set_i64("updatedAtBlock", block);
    ctx.save(&job)?;
    Ok(Outcome::Applied)
}
