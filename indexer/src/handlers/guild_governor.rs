//! `GuildGovernor`: GovernanceProposal per proposal, with its vote tallies and
//! lifecycle (Created → Queued → Executed, or Canceled), GovernanceVote per ballot cast, and
//! GovernorConfig (the governor's settings).

use alloy::{
    primitives::{Address, Bytes, U256},
    rpc::types::Log,
};
use nsed_contracts::guild_governor::GuildGovernor::{GuildGovernorEvents, ProposalCreated};

use super::{ContractHandler, HandlerCtx, Outcome, block_i64, decode};
use crate::{
    entity::{EntityDef, IdKind, Kind, derived, enc_bytes, f},
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
        f("values", Kind::BigIntList, "Wei sent with each call."),
        f("calldatas", Kind::BytesList, "Calldata of each call."),
        f("description", Kind::String, "The proposal's description."),
        f("voteStart", Kind::BigInt, "Timepoint (seconds) the vote opens."),
        f("voteEnd", Kind::BigInt, "Timepoint (seconds) the vote closes."),
        f("forVotes", Kind::BigInt, "Votes for."),
        f("againstVotes", Kind::BigInt, "Votes against."),
        f("abstainVotes", Kind::BigInt, "Abstentions."),
        f("status", Kind::String, "Created, Queued, Executed or Canceled."),
        f("eta", Kind::BigInt, "When the timelock may execute it (once queued)."),
        f("voteCount", Kind::Int, "Ballots cast."),
        f("createdAtBlock", Kind::Int, "Block of the proposal."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
        f("transactionHash", Kind::Bytes, "The proposing transaction."),
    ],
    derived: &[derived("votes", "GovernanceVote", "proposal", true)],
};

/// A ballot on a governance proposal (id: `<proposal>-<voter>`; the governor takes one per voter).
pub static GOVERNANCE_VOTE: EntityDef = EntityDef {
    name: "GovernanceVote",
    single: "governanceVote",
    plural: "governanceVotes",
    table: "governance_vote",
    id: IdKind::Text,
    doc: "A vote cast on a guild governance proposal (id: <proposal>-<voter>).",
    fields: &[
        f("proposal", Kind::Ref("GovernanceProposal"), "The proposal."),
        f("voter", Kind::Bytes, "Who voted (with the votes delegated to it)."),
        f("support", Kind::Int, "0 against, 1 for, 2 abstain."),
        f("supportName", Kind::String, "Against, For or Abstain."),
        f("weight", Kind::BigInt, "Votes counted (the voter's votes at the proposal's snapshot)."),
        f("reason", Kind::String, "The voter's stated reason (may be empty)."),
        f(
            "params",
            Kind::Bytes,
            "Extra parameters (castVoteWithReasonAndParams); empty otherwise.",
        ),
        f("block", Kind::Int, "Block of the vote."),
        f("transactionHash", Kind::Bytes, "The vote's transaction."),
    ],
    derived: &[],
};

/// The governor's settings (id: its address).
pub static GOVERNOR_CONFIG: EntityDef = EntityDef {
    name: "GovernorConfig",
    single: "governorConfig",
    plural: "governorConfigs",
    table: "governor_config",
    id: IdKind::Text,
    doc: "The guild governor's settings, as its events set them (id: its address).",
    fields: &[
        f("votingDelay", Kind::BigInt, "Seconds from a proposal until its vote opens."),
        f("votingPeriod", Kind::BigInt, "Seconds its vote stays open."),
        f("proposalThreshold", Kind::BigInt, "Votes a proposer needs."),
        f("quorumNumerator", Kind::BigInt, "Quorum, as a fraction of the supply over 100."),
        f("timelock", Kind::Bytes, "The timelock that executes proposals."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[],
};

/// The governor's handler.
pub static HANDLER: ContractHandler = ContractHandler {
    contract: "GuildGovernor",
    entities: &[&GOVERNANCE_PROPOSAL, &GOVERNANCE_VOTE, &GOVERNOR_CONFIG],
    handle,
};

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

/// One `VoteCast` or `VoteCastWithParams`.
struct Ballot {
    voter: Address,
    proposal: U256,
    support: u8,
    weight: U256,
    reason: String,
    params: Bytes,
}

/// Records `ballot` and adds its weight to the proposal's tally of its support.
fn count(ctx: &HandlerCtx<'_>, ballot: Ballot) -> IndexerResult<Outcome> {
    let id = ballot.proposal;
    let (field, name) = match ballot.support {
        0 => ("againstVotes", "Against"),
        1 => ("forVotes", "For"),
        2 => ("abstainVotes", "Abstain"),
        other => return Ok(Outcome::Malformed(format!("vote with support {other}"))),
    };
    let Some(mut row) = ctx.load(&GOVERNANCE_PROPOSAL, &id.to_string())? else {
        return Ok(Outcome::Malformed(format!("vote for unknown proposal {id}")));
    };
    let block = block_i64(ctx);
    let total = row.uint(field).saturating_add(ballot.weight);
    let votes = row.i64("voteCount").saturating_add(1);
    row.set_uint(field, total).set_i64("voteCount", votes).set_i64("updatedAtBlock", block);
    ctx.save(&row)?;
    let vote_id = format!("{id}-{}", enc_bytes(ballot.voter.as_slice()));
    let mut vote = ctx.load_or_new(&GOVERNANCE_VOTE, &vote_id)?;
    vote.set_ref("proposal", &GOVERNANCE_PROPOSAL, &id.to_string())
        .set_bytes("voter", ballot.voter.as_slice())
        .set_i64("support", i64::from(ballot.support))
        .set_str("supportName", name)
        .set_uint("weight", ballot.weight)
        .set_str("reason", ballot.reason)
        .set_bytes("params", &ballot.params)
        .set_i64("block", block)
        .set_bytes("transactionHash", ctx.tx_hash.as_slice());
    ctx.save(&vote)?;
    Ok(Outcome::Applied)
}

/// Sets the GovernorConfig fields `set` names of `governor`.
fn config(
    ctx: &HandlerCtx<'_>,
    governor: Address,
    set: impl FnOnce(&mut crate::entity::Record),
) -> IndexerResult<Outcome> {
    let mut row = ctx.load_or_new(&GOVERNOR_CONFIG, &enc_bytes(governor.as_slice()))?;
    set(&mut row);
    row.set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn handle(ctx: &mut HandlerCtx<'_>, log: &Log) -> IndexerResult<Outcome> {
    let event = match decode::<GuildGovernorEvents>(log) {
        Ok(event) => event,
        Err(outcome) => return Ok(outcome),
    };
    let governor = log.address();
    match event {
        GuildGovernorEvents::ProposalCreated(e) => proposal_created(ctx, e),
        GuildGovernorEvents::VoteCast(e) => count(
            ctx,
            Ballot {
                voter: e.voter,
                proposal: e.proposalId,
                support: e.support,
                weight: e.weight,
                reason: e.reason,
                params: Bytes::new(),
            },
        ),
        GuildGovernorEvents::VoteCastWithParams(e) => count(
            ctx,
            Ballot {
                voter: e.voter,
                proposal: e.proposalId,
                support: e.support,
                weight: e.weight,
                reason: e.reason,
                params: e.params,
            },
        ),
        GuildGovernorEvents::ProposalQueued(e) => {
            set_status(ctx, e.proposalId, "Queued", Some(e.etaSeconds))
        }
        GuildGovernorEvents::ProposalExecuted(e) => set_status(ctx, e.proposalId, "Executed", None),
        GuildGovernorEvents::ProposalCanceled(e) => set_status(ctx, e.proposalId, "Canceled", None),
        GuildGovernorEvents::VotingDelaySet(e) => config(ctx, governor, |r| {
            r.set_uint("votingDelay", e.newVotingDelay);
        }),
        GuildGovernorEvents::VotingPeriodSet(e) => config(ctx, governor, |r| {
            r.set_uint("votingPeriod", e.newVotingPeriod);
        }),
        GuildGovernorEvents::ProposalThresholdSet(e) => config(ctx, governor, |r| {
            r.set_uint("proposalThreshold", e.newProposalThreshold);
        }),
        GuildGovernorEvents::QuorumNumeratorUpdated(e) => config(ctx, governor, |r| {
            r.set_uint("quorumNumerator", e.newQuorumNumerator);
        }),
        GuildGovernorEvents::TimelockChange(e) => config(ctx, governor, |r| {
            r.set_bytes("timelock", e.newTimelock.as_slice());
        }),
        GuildGovernorEvents::EIP712DomainChanged(_) => Ok(Outcome::Ignored),
    }
}

fn proposal_created(ctx: &HandlerCtx<'_>, e: ProposalCreated) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let mut row = ctx.load_or_new(&GOVERNANCE_PROPOSAL, &e.proposalId.to_string())?;
    row.set_bytes("proposer", e.proposer.as_slice())
        .set_list("targets", e.targets.iter().map(|t| enc_bytes(t.as_slice())).collect())
        .set_list("values", e.values.iter().map(ToString::to_string).collect())
        .set_list("calldatas", e.calldatas.iter().map(|c| enc_bytes(c)).collect())
        .set_str("description", e.description)
        .set_uint("voteStart", e.voteStart)
        .set_uint("voteEnd", e.voteEnd)
        .set_uint("forVotes", U256::ZERO)
        .set_uint("againstVotes", U256::ZERO)
        .set_uint("abstainVotes", U256::ZERO)
        .set_str("status", "Created")
        .set_i64("voteCount", 0)
        .set_i64("createdAtBlock", block)
        .set_i64("updatedAtBlock", block)
        .set_bytes("transactionHash", ctx.tx_hash.as_slice());
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}
