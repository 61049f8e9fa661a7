//! `GuildGovernor`: GovernanceProposal per proposal, with its vote tallies and
//! lifecycle (Created → Queued → Executed, or Canceled).

use alloy::{primitives::U256, rpc::types::Log};
use nsed_contracts::guild_governor::GuildGovernor::{GuildGovernorEvents, ProposalCreated};

use super::{ContractHandler, HandlerCtx, Outcome, block_i64, decode};
use crate::{
    entity::{EntityDef, IdKind, Kind, enc_bytes, f},
    error::IndexerResult,
};

/// A governance proposal (id: the governor's proposal id).
pub static GOVERNANCE_PROPOSAL: EntityDef = EntityDef {
    name: "GovernanceProposal",
    single: "governanceProposal",
    plural: "governanceProposals",
    table: "governance_proposal",
    id: IdKind::Number,
    doc: "A guild governance proposal (id: the governor's proposal id).",
    fields: &[
        f("proposer", Kind::Bytes, "Who proposed."),
        f("targets", Kind::BytesList, "Contracts the proposal calls."),
        f("calldatas", Kind::BytesList, "Calldata of each call."),
        f("description", Kind::String, "The proposal's description."),
        f("voteStart", Kind::BigInt, "Timepoint (seconds) the vote opens."),
        f("voteEnd", Kind::BigInt, "Timepoint (seconds) the vote closes."),
        f("forVotes", Kind::BigInt, "Votes for."),
        f("againstVotes", Kind::BigInt, "Votes against."),
        f("abstainVotes", Kind::BigInt, "Abstentions."),
        f("status", Kind::String, "Created, Queued, Executed or Canceled."),
        f("eta", Kind::BigInt, "When the timelock may execute it (once queued)."),
        f("createdAtBlock", Kind::Int, "Block of the proposal."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[],
};

/// The governor's handler.
pub static HANDLER: ContractHandler =
    ContractHandler { contract: "GuildGovernor", entities: &[&GOVERNANCE_PROPOSAL], handle };

/// Sets `status` (and `eta`) of proposal `id`.
fn set_status(
    ctx: &HandlerCtx<'_>,
    id: U256,
    status: &str,
    eta: Option<U256>,
) -> IndexerResult<Outcome> {
    let Some(mut row) = ctx.load(&GOVERNANCE_PROPOSAL, &id.to_string())? else {
        return Ok(Outcome::Malformed(format!("{status} for unknown proposal {id}")));
    };
    row.set_str("status", status).set_i64("updatedAtBlock", block_i64(ctx));
    if let Some(eta) = eta {
        row.set_uint("eta", eta);
    }
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

/// Adds `weight` to the tally of `support` (0 against, 1 for, 2 abstain).
fn count(ctx: &HandlerCtx<'_>, id: U256, support: u8, weight: U256) -> IndexerResult<Outcome> {
    let field = match support {
        0 => "againstVotes",
        1 => "forVotes",
        2 => "abstainVotes",
        other => return Ok(Outcome::Malformed(format!("vote with support {other}"))),
    };
    let Some(mut row) = ctx.load(&GOVERNANCE_PROPOSAL, &id.to_string())? else {
        return Ok(Outcome::Malformed(format!("vote for unknown proposal {id}")));
    };
    let total = row.uint(field).saturating_add(weight);
    row.set_uint(field, total).set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn handle(ctx: &mut HandlerCtx<'_>, log: &Log) -> IndexerResult<Outcome> {
    let event = match decode::<GuildGovernorEvents>(log) {
        Ok(event) => event,
        Err(outcome) => return Ok(outcome),
    };
    match event {
        GuildGovernorEvents::ProposalCreated(e) => proposal_created(ctx, e),
        GuildGovernorEvents::VoteCast(e) => count(ctx, e.proposalId, e.support, e.weight),
        GuildGovernorEvents::VoteCastWithParams(e) => count(ctx, e.proposalId, e.support, e.weight),
        GuildGovernorEvents::ProposalQueued(e) => {
            set_status(ctx, e.proposalId, "Queued", Some(e.etaSeconds))
        }
        GuildGovernorEvents::ProposalExecuted(e) => set_status(ctx, e.proposalId, "Executed", None),
        GuildGovernorEvents::ProposalCanceled(e) => set_status(ctx, e.proposalId, "Canceled", None),
        _ => Ok(Outcome::Ignored),
    }
}

fn proposal_created(ctx: &HandlerCtx<'_>, e: ProposalCreated) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let mut row = ctx.load_or_new(&GOVERNANCE_PROPOSAL, &e.proposalId.to_string())?;
    row.set_bytes("proposer", e.proposer.as_slice())
        .set_list("targets", e.targets.iter().map(|t| enc_bytes(t.as_slice())).collect())
        .set_list("calldatas", e.calldatas.iter().map(|c| enc_bytes(c)).collect())
        .set_str("description", e.description)
        .set_uint("voteStart", e.voteStart)
        .set_uint("voteEnd", e.voteEnd)
        .set_uint("forVotes", U256::ZERO)
        .set_uint("againstVotes", U256::ZERO)
        .set_uint("abstainVotes", U256::ZERO)
        .set_str("status", "Created")
        .set_i64("createdAtBlock", block)
        .set_i64("updatedAtBlock", block);
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}
