//! `DeliberationMarket`: Job (with its terms, claims, drawn seats and halt), JobClaim, Round,
//! Settlement, Seat and Equivocation, plus each Agent's market rank and wins (the Agent rows
//! themselves come from [`super::agent_registry`]), and MarketConfig (the guild's settings: fees,
//! challenge window, halting terms, claim timeout, keeper authority); its roles go to the shared
//! RoleMember entity.

use alloy::{
    primitives::{Address, U256},
    rpc::types::Log,
};
use nsed_contracts::{
    deliberation_market::DeliberationMarket::{
        AgentPromoted, DeliberationMarketEvents, EquivocationReported, JobClaimed, JobHalted,
        JobRefunded, JobRequested, JobSettled, JobTermsFixed, RoundTallied, SeatsDrawn,
    },
    halting::Reason,
};

use super::{
    ContractHandler, HandlerCtx, Outcome,
    agent_registry::{AGENT, agent_id, init_agent},
    block_i64, decode, event_id, shared,
};
use crate::{
    entity::{EntityDef, IdKind, Kind, Record, derived, f},
    error::IndexerResult,
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
        f("keeper", Kind::Bytes, "The claiming keeper (the latest, after a re-claim)."),
        f("claimCount", Kind::Int, "Claims so far: 1 after the claim, more after re-claims."),
        f("claimedAtBlock", Kind::Int, "Block of the latest claim."),
        f("winner", Kind::Ref("Agent"), "The winning agent once settled."),
        f(
            "keeperFeeBps",
            Kind::Int,
            "Keeper fee in basis points of the bounty, fixed at the request.",
        ),
        f(
            "guildFeeBps",
            Kind::Int,
            "Guild fee in basis points of the bounty, fixed at the request.",
        ),
        f("minRounds", Kind::Int, "Rounds that always run (halting term fixed at the request)."),
        f("effortPermille", Kind::Int, "Conviction threshold of the halting rule, in thousandths."),
        f(
            "roundAllowance",
            Kind::Int,
            "Seconds before the deadline from which the transcript may stop early.",
        ),
        f(
            "seats",
            Kind::BytesList,
            "The agents drawn at the claim, ascending by address (the seat order).",
        ),
        f(
            "haltReason",
            Kind::String,
            "Why the settled transcript stopped: Unanimous, Conviction, MaxRounds or Deadline.",
        ),
        f("haltedAfter", Kind::Int, "Rounds the settled transcript ran before it stopped."),
        f("requestedAtBlock", Kind::Int, "Block of the request."),
        f("updatedAtBlock", Kind::Int, "Block of the last status change."),
        f("transactionHash", Kind::Bytes, "Transaction of the request."),
    ],
    derived: &[
        derived("rounds", "Round", "job", true),
        derived("settlement", "Settlement", "job", false),
        derived("equivocations", "Equivocation", "job", true),
        derived("claims", "JobClaim", "job", true),
    ],
};

/// One claim of a job (id: `<transaction hash>-<log index>`).
pub static JOB_CLAIM: EntityDef = EntityDef {
    name: "JobClaim",
    single: "jobClaim",
    plural: "jobClaims",
    table: "job_claim",
    id: IdKind::Text,
    doc: "A keeper's claim of a job: the first, which draws the seats, or a re-claim once the \
          previous claim timed out (id: <transaction hash>-<log index>).",
    fields: &[
        f("job", Kind::Ref("Job"), "The job."),
        f("keeper", Kind::Bytes, "The claiming keeper."),
        f("reclaim", Kind::Boolean, "Whether it took over a timed-out claim."),
        f("previousKeeper", Kind::Bytes, "The keeper it took over from (re-claims only)."),
        f("block", Kind::Int, "Block of the claim."),
        f("transactionHash", Kind::Bytes, "The claim's transaction."),
    ],
    derived: &[],
};

/// The market's settings (id: its address).
pub static MARKET_CONFIG: EntityDef = EntityDef {
    name: "MarketConfig",
    single: "marketConfig",
    plural: "marketConfigs",
    table: "market_config",
    id: IdKind::Text,
    doc: "The market's settings for jobs requested from now on, as the guild set them (id: its \
          address). A job's own terms are fixed at its request (Job).",
    fields: &[
        f("keeperFeeBps", Kind::Int, "Keeper fee in basis points of a bounty."),
        f("guildFeeBps", Kind::Int, "Guild fee in basis points of a bounty."),
        f("challengeWindow", Kind::BigInt, "Seconds a requester has to dispute a settlement."),
        f("minRounds", Kind::Int, "Rounds that always run."),
        f("effortPermille", Kind::Int, "Conviction threshold of the halting rule, in thousandths."),
        f(
            "roundAllowance",
            Kind::Int,
            "Seconds before a job's deadline from which its transcript may stop early.",
        ),
        f(
            "claimTimeout",
            Kind::Int,
            "Seconds after a claim from which another keeper may re-claim the job (open claims \
             included).",
        ),
        f(
            "keeperAuthority",
            Kind::Bytes,
            "The authority registry keepers must be active nodes of (zero: no requirement).",
        ),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[],
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

/// An agent's seat in a job, drawn at the claim (id: `<job>-<agent>`).
pub static SEAT: EntityDef = EntityDef {
    name: "Seat",
    single: "seat",
    plural: "seats",
    table: "seat",
    id: IdKind::Text,
    doc: "An agent drawn into a job at its claim (id: <job>-<agent>).",
    fields: &[
        f("job", Kind::Ref("Job"), "The job."),
        f("agent", Kind::Ref("Agent"), "The seated agent."),
        f("seat", Kind::Int, "Its seat index (seats ascend by address)."),
        f("block", Kind::Int, "Block of the claim."),
    ],
    derived: &[],
};

/// A proven equivocation (id: `<transaction hash>-<log index>`).
pub static EQUIVOCATION: EntityDef = EntityDef {
    name: "Equivocation",
    single: "equivocation",
    plural: "equivocations",
    table: "equivocation",
    id: IdKind::Text,
    doc: "Two different proposals or ballots an agent signed for one job and round, reported on \
          the market; the registry slashed the agent (id: <transaction hash>-<log index>).",
    fields: &[
        f(
            "job",
            Kind::Ref("Job"),
            "The job the signatures name (null if it was never requested: equivocation counts \
             wherever it was shown).",
        ),
        f("jobId", Kind::BigInt, "The job id the signatures name."),
        f("round", Kind::Int, "The round they name."),
        f("agent", Kind::Ref("Agent"), "The equivocating agent."),
        f("reporter", Kind::Bytes, "Who proved it (paid the registry's reporter share)."),
        f("ballots", Kind::Boolean, "Whether the two messages were ballots (else proposals)."),
        f("block", Kind::Int, "Block of the report."),
        f("transactionHash", Kind::Bytes, "The report's transaction."),
    ],
    derived: &[],
};

/// The market's handler.
pub static HANDLER: ContractHandler = ContractHandler {
    contract: "DeliberationMarket",
    entities: &[&JOB, &JOB_CLAIM, &ROUND, &SETTLEMENT, &SEAT, &EQUIVOCATION, &MARKET_CONFIG],
    handle,
};

/// The current Agent row of `agent` (with defaults for a key the registry has not reported).
fn load_agent(ctx: &HandlerCtx<'_>, agent: &Address) -> IndexerResult<Record> {
    let mut row = ctx.load_or_new(&AGENT, &agent_id(agent))?;
    init_agent(&mut row);
    Ok(row)
}

/// The name of a `Halting.Reason` value (its variant in the generated enum).
fn halt_name(reason: u8) -> String {
    Reason::try_from(reason).map_or_else(|_| format!("Unknown({reason})"), |r| format!("{r:?}"))
}

fn handle(ctx: &mut HandlerCtx<'_>, log: &Log) -> IndexerResult<Outcome> {
    let event = match decode::<DeliberationMarketEvents>(log) {
        Ok(event) => event,
        Err(outcome) => return Ok(outcome),
    };
    let market = log.address();
    match event {
        DeliberationMarketEvents::AgentPromoted(e) => agent_promoted(ctx, e),
        DeliberationMarketEvents::JobRequested(e) => job_requested(ctx, e),
        DeliberationMarketEvents::JobTermsFixed(e) => job_terms_fixed(ctx, e),
        DeliberationMarketEvents::JobClaimed(e) => job_claimed(ctx, e),
        DeliberationMarketEvents::SeatsDrawn(e) => seats_drawn(ctx, e),
        DeliberationMarketEvents::RoundTallied(e) => round_tallied(ctx, e),
        DeliberationMarketEvents::JobHalted(e) => job_halted(ctx, e),
        DeliberationMarketEvents::JobSettled(e) => job_settled(ctx, e),
        DeliberationMarketEvents::JobRefunded(e) => job_refunded(ctx, e),
        DeliberationMarketEvents::EquivocationReported(e) => equivocation_reported(ctx, e),
        DeliberationMarketEvents::FeesChanged(e) => config(ctx, market, |r| {
            r.set_i64("keeperFeeBps", i64::from(e.keeperFeeBps))
                .set_i64("guildFeeBps", i64::from(e.guildFeeBps));
        }),
        DeliberationMarketEvents::ChallengeWindowChanged(e) => config(ctx, market, |r| {
            r.set_uint("challengeWindow", U256::from(e.challengeWindow));
        }),
        DeliberationMarketEvents::HaltingTermsChanged(e) => config(ctx, market, |r| {
            r.set_i64("minRounds", i64::from(e.minRounds))
                .set_i64("effortPermille", i64::from(e.effortPermille))
                .set_i64("roundAllowance", i64::from(e.roundAllowance));
        }),
        DeliberationMarketEvents::ClaimTimeoutChanged(e) => config(ctx, market, |r| {
            r.set_i64("claimTimeout", i64::from(e.claimTimeout));
        }),
        DeliberationMarketEvents::KeeperAuthorityChanged(e) => config(ctx, market, |r| {
            r.set_bytes("keeperAuthority", e.registry.as_slice());
        }),
        DeliberationMarketEvents::RoleGranted(e) => {
            shared::role_granted(ctx, market, e.role, e.account, e.sender)
        }
        DeliberationMarketEvents::RoleRevoked(e) => {
            shared::role_revoked(ctx, market, e.role, e.account, e.sender)
        }
        DeliberationMarketEvents::RoleAdminChanged(e) => {
            shared::role_admin_changed(ctx, market, e.role, e.previousAdminRole, e.newAdminRole)
        }
        DeliberationMarketEvents::EIP712DomainChanged(_) => Ok(Outcome::Ignored),
    }
}

/// Sets the MarketConfig fields `set` names of `market`.
fn config(
    ctx: &HandlerCtx<'_>,
    market: Address,
    set: impl FnOnce(&mut Record),
) -> IndexerResult<Outcome> {
    let mut row = ctx.load_or_new(&MARKET_CONFIG, &agent_id(&market))?;
    set(&mut row);
    row.set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn agent_promoted(ctx: &mut HandlerCtx<'_>, e: AgentPromoted) -> IndexerResult<Outcome> {
    let mut agent = load_agent(ctx, &e.agent)?;
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

fn job_terms_fixed(ctx: &mut HandlerCtx<'_>, e: JobTermsFixed) -> IndexerResult<Outcome> {
    let mut job = ctx.load_or_new(&JOB, &e.jobId.to_string())?;
    job.set_i64("keeperFeeBps", i64::from(e.keeperFeeBps))
        .set_i64("guildFeeBps", i64::from(e.guildFeeBps))
        .set_i64("minRounds", i64::from(e.minRounds))
        .set_i64("effortPermille", i64::from(e.effortPermille))
        .set_i64("roundAllowance", i64::from(e.roundAllowance));
    ctx.save(&job)?;
    Ok(Outcome::Applied)
}

fn job_claimed(ctx: &mut HandlerCtx<'_>, e: JobClaimed) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let job_id = e.jobId.to_string();
    let mut job = ctx.load_or_new(&JOB, &job_id)?;
    // The market emits JobClaimed again when a keeper re-claims a job whose claim timed out.
    let claims = job.i64("claimCount");
    // The keeper being replaced, read back from its stored `0x` hex.
    let previous = match job.get("keeper") {
        rusqlite::types::Value::Text(keeper) => keeper.parse::<Address>().ok(),
        _ => None,
    };
    job.set_str("status", "Claimed")
        .set_bytes("keeper", e.keeper.as_slice())
        .set_i64("claimCount", claims.saturating_add(1))
        .set_i64("claimedAtBlock", block)
        .set_i64("updatedAtBlock", block);
    ctx.save(&job)?;
    let mut claim = ctx.load_or_new(&JOB_CLAIM, &event_id(ctx))?;
    claim
        .set_ref("job", &JOB, &job_id)
        .set_bytes("keeper", e.keeper.as_slice())
        .set_bool("reclaim", claims > 0)
        .set_i64("block", block)
        .set_bytes("transactionHash", ctx.tx_hash.as_slice());
    if claims > 0
        && let Some(keeper) = previous
    {
        claim.set_bytes("previousKeeper", keeper.as_slice());
    }
    ctx.save(&claim)?;
    Ok(Outcome::Applied)
}

fn seats_drawn(ctx: &mut HandlerCtx<'_>, e: SeatsDrawn) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let job_id = e.jobId.to_string();
    let mut job = ctx.load_or_new(&JOB, &job_id)?;
    job.set_list("seats", e.seats.iter().map(agent_id).collect()).set_i64("updatedAtBlock", block);
    ctx.save(&job)?;
    for (index, agent) in e.seats.iter().enumerate() {
        let mut seat = ctx.load_or_new(&SEAT, &format!("{job_id}-{}", agent_id(agent)))?;
        seat.set_ref("job", &JOB, &job_id)
            .set_ref("agent", &AGENT, &agent_id(agent))
            .set_i64("seat", i64::try_from(index).unwrap_or(i64::MAX))
            .set_i64("block", block);
        ctx.save(&seat)?;
    }
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

fn job_halted(ctx: &mut HandlerCtx<'_>, e: JobHalted) -> IndexerResult<Outcome> {
    let mut job = ctx.load_or_new(&JOB, &e.jobId.to_string())?;
    job.set_str("haltReason", halt_name(e.reason)).set_i64("haltedAfter", i64::from(e.rounds));
    ctx.save(&job)?;
    Ok(Outcome::Applied)
}

fn job_settled(ctx: &mut HandlerCtx<'_>, e: JobSettled) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let job_id = e.jobId.to_string();
    let winner = agent_id(&e.winner);
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
    let mut agent = load_agent(ctx, &e.winner)?;
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

fn equivocation_reported(
    ctx: &mut HandlerCtx<'_>,
    e: EquivocationReported,
) -> IndexerResult<Outcome> {
    let mut row = ctx.load_or_new(&EQUIVOCATION, &event_id(ctx))?;
    row.set_ref("job", &JOB, &e.jobId.to_string())
        .set_uint("jobId", e.jobId)
        .set_i64("round", i64::from(e.round))
        .set_ref("agent", &AGENT, &agent_id(&e.agent))
        .set_bytes("reporter", e.reporter.as_slice())
        .set_bool("ballots", e.ballots)
        .set_i64("block", block_i64(ctx))
        .set_bytes("transactionHash", ctx.tx_hash.as_slice());
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}
