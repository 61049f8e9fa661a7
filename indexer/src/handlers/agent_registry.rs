//! `AgentRegistry`: Agent per agent key (its registration, bond, unbonding, service and
//! eligibility), with its bond history (BondChange) and its slash (Slash), and RegistryConfig (the
//! guild's bond parameters); its roles go to the shared RoleMember entity.
//!
//! The market adds to the same Agent rows: its rank (`AgentPromoted`) and the jobs it won; see
//! [`super::deliberation_market`].

use alloy::{
    primitives::{Address, U256},
    rpc::types::Log,
};
use nsed_contracts::agent_registry::AgentRegistry::{
    AgentBondWithdrawn, AgentBonded, AgentDeactivated, AgentReactivated, AgentRegistered,
    AgentRegistryEvents, AgentSlashed, AgentUnbonding, EligibilityChanged,
};
use rusqlite::types::Value as Sql;

use super::{ContractHandler, HandlerCtx, Outcome, block_i64, decode, event_id, shared};
use crate::{
    entity::{EntityDef, IdKind, Kind, Record, derived, enc_bytes, f},
    error::IndexerResult,
};

/// A registered agent (id: its address).
pub static AGENT: EntityDef = EntityDef {
    name: "Agent",
    single: "agent",
    plural: "agents",
    table: "agent",
    id: IdKind::Text,
    doc: "An agent key registered and bonded in the AgentRegistry (id: its lowercase address).",
    fields: &[
        f("owner", Kind::Bytes, "Who registered it and paid its bond."),
        f("modelId", Kind::Bytes, "Hash of the model it runs."),
        f("metadataURI", Kind::String, "Metadata URI."),
        f("active", Kind::Boolean, "Whether its owner keeps it in service."),
        f("bond", Kind::BigInt, "Its bond in the registry's token (0 once withdrawn or slashed)."),
        f("unbondingAt", Kind::BigInt, "When its owner may withdraw the bond (0: not unbonding)."),
        f("withdrawn", Kind::Boolean, "Whether its owner withdrew the bond (the key stays taken)."),
        f("slashed", Kind::Boolean, "Whether its bond was slashed (it is never drawn again)."),
        f("eligible", Kind::Boolean, "Whether it is in the pool seats are drawn from."),
        f("rank", Kind::BigInt, "Market rank after its last promotion (0 before any)."),
        f("jobsWon", Kind::Int, "Settled jobs it won."),
        f("registeredAtBlock", Kind::Int, "Block of registration."),
        f("updatedAtBlock", Kind::Int, "Block of the last change to its registry record."),
    ],
    derived: &[
        derived("jobs", "Job", "winner", true),
        derived("settlements", "Settlement", "winner", true),
        derived("seats", "Seat", "agent", true),
        derived("bondChanges", "BondChange", "agent", true),
        derived("slashes", "Slash", "agent", true),
        derived("equivocations", "Equivocation", "agent", true),
    ],
};

/// One change of an agent's bond (id: `<transaction hash>-<log index>`).
pub static BOND_CHANGE: EntityDef = EntityDef {
    name: "BondChange",
    single: "bondChange",
    plural: "bondChanges",
    table: "bond_change",
    id: IdKind::Text,
    doc: "A change of an agent's bond in the AgentRegistry (id: <transaction hash>-<log index>).",
    fields: &[
        f("agent", Kind::Ref("Agent"), "The agent."),
        f("kind", Kind::String, "Registered, Bonded, Unbonding, Withdrawn or Slashed."),
        f(
            "amount",
            Kind::BigInt,
            "Tokens paid in (Registered, Bonded), paid out (Withdrawn) or slashed (Slashed); 0 for \
             Unbonding.",
        ),
        f("bond", Kind::BigInt, "The agent's bond after the change."),
        f("unbondingAt", Kind::BigInt, "When the bond can be withdrawn (Unbonding only)."),
        f("block", Kind::Int, "Block of the change."),
        f("logIndex", Kind::Int, "Position of its log in the block."),
        f("transactionHash", Kind::Bytes, "The transaction."),
    ],
    derived: &[],
};

/// A slashed bond (id: `<transaction hash>-<log index>`).
pub static SLASH: EntityDef = EntityDef {
    name: "Slash",
    single: "slash",
    plural: "slashes",
    table: "slash",
    id: IdKind::Text,
    doc: "An agent's whole bond slashed on proven misbehaviour, split between the reporter and \
          the guild (id: <transaction hash>-<log index>).",
    fields: &[
        f("agent", Kind::Ref("Agent"), "The slashed agent."),
        f("reporter", Kind::Bytes, "Who proved the misbehaviour (zero: no reporter)."),
        f("amount", Kind::BigInt, "The whole bond slashed."),
        f("reporterShare", Kind::BigInt, "The reporter's part of it."),
        f("guildShare", Kind::BigInt, "The guild's part of it."),
        f("block", Kind::Int, "Block of the slash."),
        f("transactionHash", Kind::Bytes, "The transaction."),
    ],
    derived: &[],
};

/// The registry's bond parameters (id: its address).
pub static REGISTRY_CONFIG: EntityDef = EntityDef {
    name: "RegistryConfig",
    single: "registryConfig",
    plural: "registryConfigs",
    table: "registry_config",
    id: IdKind::Text,
    doc: "The agent registry's bond parameters, as the guild set them (id: its address).",
    fields: &[
        f("minBond", Kind::BigInt, "Smallest bond of an eligible agent."),
        f("unbondDelay", Kind::BigInt, "Seconds between an unbond request and the withdrawal."),
        f("reporterBps", Kind::Int, "Reporter's share of a slashed bond, in basis points."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[],
};

/// The agent registry's handler.
pub static HANDLER: ContractHandler = ContractHandler {
    contract: "AgentRegistry",
    entities: &[&AGENT, &BOND_CHANGE, &SLASH, &REGISTRY_CONFIG],
    handle,
};

/// The Agent id of `agent`.
pub(crate) fn agent_id(agent: &Address) -> String {
    enc_bytes(agent.as_slice())
}

/// Sets the defaults of a new Agent row (a registration, or a market event about a key the
/// registry has not reported yet), leaving fields another event already set alone.
pub(crate) fn init_agent(agent: &mut Record) {
    for field in ["active", "withdrawn", "slashed", "eligible"] {
        if agent.get(field) == &Sql::Null {
            agent.set_bool(field, false);
        }
    }
    for field in ["bond", "unbondingAt", "rank"] {
        if agent.get(field) == &Sql::Null {
            agent.set_uint(field, U256::ZERO);
        }
    }
    if agent.get("jobsWon") == &Sql::Null {
        agent.set_i64("jobsWon", 0);
    }
}

/// The current Agent row of `agent` (with defaults for an unseen key).
fn load_agent(ctx: &HandlerCtx<'_>, agent: &Address) -> IndexerResult<Record> {
    let mut row = ctx.load_or_new(&AGENT, &agent_id(agent))?;
    init_agent(&mut row);
    Ok(row)
}

/// Saves `row` (an Agent) stamped with this block.
fn save_agent(ctx: &HandlerCtx<'_>, row: &mut Record) -> IndexerResult<()> {
    row.set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(row)
}

/// Records a BondChange of `agent` at this log.
fn bond_change(
    ctx: &HandlerCtx<'_>,
    agent: &Address,
    kind: &str,
    amount: U256,
    bond: U256,
    unbonding_at: Option<u64>,
) -> IndexerResult<()> {
    let mut row = ctx.load_or_new(&BOND_CHANGE, &event_id(ctx))?;
    row.set_ref("agent", &AGENT, &agent_id(agent))
        .set_str("kind", kind)
        .set_uint("amount", amount)
        .set_uint("bond", bond)
        .set_i64("block", block_i64(ctx))
        .set_i64("logIndex", i64::try_from(ctx.log_index).unwrap_or(i64::MAX))
        .set_bytes("transactionHash", ctx.tx_hash.as_slice());
    if let Some(at) = unbonding_at {
        row.set_uint("unbondingAt", U256::from(at));
    }
    ctx.save(&row)
}

fn handle(ctx: &mut HandlerCtx<'_>, log: &Log) -> IndexerResult<Outcome> {
    let event = match decode::<AgentRegistryEvents>(log) {
        Ok(event) => event,
        Err(outcome) => return Ok(outcome),
    };
    match event {
        AgentRegistryEvents::AgentRegistered(e) => agent_registered(ctx, e),
        AgentRegistryEvents::AgentBonded(e) => agent_bonded(ctx, e),
        AgentRegistryEvents::AgentUnbonding(e) => agent_unbonding(ctx, e),
        AgentRegistryEvents::AgentBondWithdrawn(e) => agent_bond_withdrawn(ctx, e),
        AgentRegistryEvents::AgentDeactivated(e) => agent_deactivated(ctx, e),
        AgentRegistryEvents::AgentReactivated(e) => agent_reactivated(ctx, e),
        AgentRegistryEvents::AgentSlashed(e) => agent_slashed(ctx, e),
        AgentRegistryEvents::EligibilityChanged(e) => eligibility_changed(ctx, e),
        AgentRegistryEvents::BondParametersChanged(e) => {
            let mut row = ctx.load_or_new(&REGISTRY_CONFIG, &agent_id(&log.address()))?;
            row.set_uint("minBond", e.minBond)
                .set_uint("unbondDelay", U256::from(e.unbondDelay))
                .set_i64("reporterBps", i64::from(e.reporterBps));
            save_agent(ctx, &mut row)?;
            Ok(Outcome::Applied)
        }
        AgentRegistryEvents::RoleGranted(e) => {
            shared::role_granted(ctx, log.address(), e.role, e.account, e.sender)
        }
        AgentRegistryEvents::RoleRevoked(e) => {
            shared::role_revoked(ctx, log.address(), e.role, e.account, e.sender)
        }
        AgentRegistryEvents::RoleAdminChanged(e) => shared::role_admin_changed(
            ctx,
            log.address(),
            e.role,
            e.previousAdminRole,
            e.newAdminRole,
        ),
        AgentRegistryEvents::EIP712DomainChanged(_) => Ok(Outcome::Ignored),
    }
}

fn agent_registered(ctx: &mut HandlerCtx<'_>, e: AgentRegistered) -> IndexerResult<Outcome> {
    let mut agent = load_agent(ctx, &e.agent)?;
    agent
        .set_bytes("owner", e.owner.as_slice())
        .set_bytes("modelId", e.modelId.as_slice())
        .set_str("metadataURI", e.metadataURI)
        .set_bool("active", true)
        .set_uint("bond", e.bond)
        .set_i64("registeredAtBlock", block_i64(ctx));
    save_agent(ctx, &mut agent)?;
    bond_change(ctx, &e.agent, "Registered", e.bond, e.bond, None)?;
    Ok(Outcome::Applied)
}

fn agent_bonded(ctx: &mut HandlerCtx<'_>, e: AgentBonded) -> IndexerResult<Outcome> {
    let mut agent = load_agent(ctx, &e.agent)?;
    agent.set_uint("bond", e.bond);
    save_agent(ctx, &mut agent)?;
    bond_change(ctx, &e.agent, "Bonded", e.amount, e.bond, None)?;
    Ok(Outcome::Applied)
}

fn agent_unbonding(ctx: &mut HandlerCtx<'_>, e: AgentUnbonding) -> IndexerResult<Outcome> {
    let mut agent = load_agent(ctx, &e.agent)?;
    agent.set_uint("unbondingAt", U256::from(e.withdrawableAt));
    save_agent(ctx, &mut agent)?;
    let bond = agent.uint("bond");
    bond_change(ctx, &e.agent, "Unbonding", U256::ZERO, bond, Some(e.withdrawableAt))?;
    Ok(Outcome::Applied)
}

fn agent_bond_withdrawn(ctx: &mut HandlerCtx<'_>, e: AgentBondWithdrawn) -> IndexerResult<Outcome> {
    let mut agent = load_agent(ctx, &e.agent)?;
    agent.set_uint("bond", U256::ZERO).set_bool("withdrawn", true);
    save_agent(ctx, &mut agent)?;
    bond_change(ctx, &e.agent, "Withdrawn", e.amount, U256::ZERO, None)?;
    Ok(Outcome::Applied)
}

fn agent_deactivated(ctx: &mut HandlerCtx<'_>, e: AgentDeactivated) -> IndexerResult<Outcome> {
    let mut agent = load_agent(ctx, &e.agent)?;
    agent.set_bool("active", false);
    save_agent(ctx, &mut agent)?;
    Ok(Outcome::Applied)
}

fn agent_reactivated(ctx: &mut HandlerCtx<'_>, e: AgentReactivated) -> IndexerResult<Outcome> {
    let mut agent = load_agent(ctx, &e.agent)?;
    agent.set_bool("active", true);
    save_agent(ctx, &mut agent)?;
    Ok(Outcome::Applied)
}

fn agent_slashed(ctx: &mut HandlerCtx<'_>, e: AgentSlashed) -> IndexerResult<Outcome> {
    let mut agent = load_agent(ctx, &e.agent)?;
    agent.set_uint("bond", U256::ZERO).set_bool("slashed", true);
    save_agent(ctx, &mut agent)?;
    bond_change(ctx, &e.agent, "Slashed", e.amount, U256::ZERO, None)?;
    let mut slash = ctx.load_or_new(&SLASH, &event_id(ctx))?;
    slash
        .set_ref("agent", &AGENT, &agent_id(&e.agent))
        .set_bytes("reporter", e.reporter.as_slice())
        .set_uint("amount", e.amount)
        .set_uint("reporterShare", e.reporterShare)
        // The registry pays the guild the rest; reporterShare <= amount there.
        .set_uint("guildShare", e.amount.saturating_sub(e.reporterShare))
        .set_i64("block", block_i64(ctx))
        .set_bytes("transactionHash", ctx.tx_hash.as_slice());
    ctx.save(&slash)?;
    Ok(Outcome::Applied)
}

fn eligibility_changed(ctx: &mut HandlerCtx<'_>, e: EligibilityChanged) -> IndexerResult<Outcome> {
    let mut agent = load_agent(ctx, &e.agent)?;
    agent.set_bool("eligible", e.eligible);
    save_agent(ctx, &mut agent)?;
    Ok(Outcome::Applied)
}
