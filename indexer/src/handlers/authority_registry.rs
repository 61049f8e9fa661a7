//! `AuthorityRegistry`: AuthorityNode per node account (admitted by burn or by the guild's
//! grant, revoked by the guild), its history of admissions and revocations (AuthorityChange), Did
//! per identity with its ERC-1056 delegates (DidDelegate) and attributes (DidAttribute), and
//! AuthorityConfig (the burn curve and the re-registration delay); its roles go to the shared
//! RoleMember entity.

use alloy::{
    primitives::{Address, U256},
    rpc::types::Log,
};
use nsed_contracts::authority_registry::AuthorityRegistry::{
    AuthorityRegistryEvents, DIDAttributeChanged, DIDDelegateChanged, DIDIssued, DIDOwnerChanged,
    NodeRegistered, NodeRevoked, NodeUpdated,
};

use super::{ContractHandler, HandlerCtx, Outcome, block_i64, decode, event_id, shared};
use crate::{
    entity::{EntityDef, IdKind, Kind, derived, enc_bytes, f},
    error::IndexerResult,
};

/// An authority node (id: its account).
pub static AUTHORITY_NODE: EntityDef = EntityDef {
    name: "AuthorityNode",
    single: "authorityNode",
    plural: "authorityNodes",
    table: "authority_node",
    id: IdKind::Text,
    doc: "An authority node, admitted by burn or by the guild's consensus grant (id: its account).",
    fields: &[
        f("jurisdiction", Kind::Bytes, "Jurisdiction code (bytes32)."),
        f("geoCell", Kind::BigInt, "Geo cell id."),
        f("metadataURI", Kind::String, "Metadata URI."),
        f("origin", Kind::String, "Burn or Grant."),
        f("burned", Kind::BigInt, "Wei burned at its latest admission."),
        f("active", Kind::Boolean, "Whether it is an authority now."),
        f("revokedReason", Kind::String, "Why the guild revoked it, if it did."),
        f("registeredAtBlock", Kind::Int, "Block of its latest admission."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[
        derived("dids", "Did", "issuer", true),
        derived("changes", "AuthorityChange", "node", true),
    ],
};

/// One admission or revocation of an authority node (id: `<transaction hash>-<log index>`).
pub static AUTHORITY_CHANGE: EntityDef = EntityDef {
    name: "AuthorityChange",
    single: "authorityChange",
    plural: "authorityChanges",
    table: "authority_change",
    id: IdKind::Text,
    doc: "An authority node's admission (by burn, or granted by the guild) or revocation (id: \
          <transaction hash>-<log index>).",
    fields: &[
        f("node", Kind::Ref("AuthorityNode"), "The node."),
        f("kind", Kind::String, "Burn, Grant (admissions) or Revoked."),
        f("burned", Kind::BigInt, "Wei burned (Burn; 0 for a grant; null for a revocation)."),
        f("reason", Kind::String, "Why it was revoked (Revoked only)."),
        f("block", Kind::Int, "Block of the change."),
        f("transactionHash", Kind::Bytes, "The transaction."),
    ],
    derived: &[],
};

/// An ERC-1056 delegate of a DID (id: `<identity>-<delegateType>-<delegate>`).
pub static DID_DELEGATE: EntityDef = EntityDef {
    name: "DidDelegate",
    single: "didDelegate",
    plural: "didDelegates",
    table: "did_delegate",
    id: IdKind::Text,
    doc: "A delegate of a DID, valid until validTo (a revocation sets validTo to the revoking \
          block's time) (id: <identity>-<delegateType>-<delegate>).",
    fields: &[
        f("did", Kind::Ref("Did"), "The DID."),
        f("delegateType", Kind::Bytes, "The delegate type (bytes32, e.g. sigAuth)."),
        f("delegate", Kind::Bytes, "The delegate."),
        f("validTo", Kind::BigInt, "Last second it is valid (unix seconds)."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[],
};

/// An ERC-1056 attribute of a DID (id: `<identity>-<name>-<keccak256(value)>`).
pub static DID_ATTRIBUTE: EntityDef = EntityDef {
    name: "DidAttribute",
    single: "didAttribute",
    plural: "didAttributes",
    table: "did_attribute",
    id: IdKind::Text,
    doc: "An attribute of a DID, valid until validTo (a revocation sets validTo to the revoking \
          block's time) (id: <identity>-<name>-<keccak256 of the value>).",
    fields: &[
        f("did", Kind::Ref("Did"), "The DID."),
        f("name", Kind::Bytes, "The attribute name (bytes32)."),
        f("value", Kind::Bytes, "The attribute value."),
        f("validTo", Kind::BigInt, "Last second it is valid (unix seconds)."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[],
};

/// The registry's settings (id: its address).
pub static AUTHORITY_CONFIG: EntityDef = EntityDef {
    name: "AuthorityConfig",
    single: "authorityConfig",
    plural: "authorityConfigs",
    table: "authority_config",
    id: IdKind::Text,
    doc: "The authority registry's burn curve and re-registration delay (id: its address).",
    fields: &[
        f("burnFloor", Kind::BigInt, "Wei burned by the first node."),
        f("burnScale", Kind::BigInt, "Wei added on top of the floor as the node count grows."),
        f("burnDecayWad", Kind::BigInt, "Per-node decay factor, 1e18 fixed point."),
        f(
            "reregistrationDelay",
            Kind::BigInt,
            "Seconds from a revocation until the node may register again by burning.",
        ),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[],
};

/// A DID issued by an authority node (id: the identity).
pub static DID: EntityDef = EntityDef {
    name: "Did",
    single: "did",
    plural: "dids",
    table: "did",
    id: IdKind::Text,
    doc: "An ERC-1056-style DID issued to an agent or expert (id: the identity address).",
    fields: &[
        f("issuer", Kind::Ref("AuthorityNode"), "The issuing authority node."),
        f("role", Kind::Bytes, "keccak256 of the role, e.g. \"agent\" or \"expert\"."),
        f("owner", Kind::Bytes, "The identity's current owner."),
        f("delegateChanges", Kind::Int, "Delegate additions and revocations so far."),
        f("attributeChanges", Kind::Int, "Attribute changes so far."),
        f("issuedAtBlock", Kind::Int, "Block of the (latest) issuance."),
        f("changedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[
        derived("delegates", "DidDelegate", "did", true),
        derived("attributes", "DidAttribute", "did", true),
    ],
};

/// The registry's handler.
pub static HANDLER: ContractHandler = ContractHandler {
    contract: "AuthorityRegistry",
    entities: &[
        &AUTHORITY_NODE,
        &AUTHORITY_CHANGE,
        &DID,
        &DID_DELEGATE,
        &DID_ATTRIBUTE,
        &AUTHORITY_CONFIG,
    ],
    handle,
};

fn id(a: Address) -> String {
    enc_bytes(a.as_slice())
}

/// Counts one more change in `field` of `identity`'s DID. The contract rejects changes to
/// identities without a DID, so a missing row means nothing to count.
fn bump(ctx: &HandlerCtx<'_>, identity: Address, field: &str) -> IndexerResult<()> {
    let Some(mut row) = ctx.load(&DID, &id(identity))? else { return Ok(()) };
    let n = row.i64(field);
    row.set_i64(field, n.saturating_add(1)).set_i64("changedAtBlock", block_i64(ctx));
    ctx.save(&row)
}

fn handle(ctx: &mut HandlerCtx<'_>, log: &Log) -> IndexerResult<Outcome> {
    let event = match decode::<AuthorityRegistryEvents>(log) {
        Ok(event) => event,
        Err(outcome) => return Ok(outcome),
    };
    match event {
        AuthorityRegistryEvents::NodeRegistered(e) => node_registered(ctx, e),
        AuthorityRegistryEvents::NodeUpdated(e) => node_updated(ctx, e),
        AuthorityRegistryEvents::NodeRevoked(e) => node_revoked(ctx, e),
        AuthorityRegistryEvents::DIDIssued(e) => did_issued(ctx, e),
        AuthorityRegistryEvents::DIDOwnerChanged(e) => did_owner_changed(ctx, e),
        AuthorityRegistryEvents::DIDDelegateChanged(e) => did_delegate_changed(ctx, e),
        AuthorityRegistryEvents::DIDAttributeChanged(e) => did_attribute_changed(ctx, e),
        AuthorityRegistryEvents::BurnParametersChanged(e) => config(ctx, log.address(), |r| {
            r.set_uint("burnFloor", e.floor)
                .set_uint("burnScale", e.scale)
                .set_uint("burnDecayWad", e.decayWad);
        }),
        AuthorityRegistryEvents::ReregistrationDelayChanged(e) => config(ctx, log.address(), |r| {
            r.set_uint("reregistrationDelay", U256::from(e.delay));
        }),
        AuthorityRegistryEvents::RoleGranted(e) => {
            shared::role_granted(ctx, log.address(), e.role, e.account, e.sender)
        }
        AuthorityRegistryEvents::RoleRevoked(e) => {
            shared::role_revoked(ctx, log.address(), e.role, e.account, e.sender)
        }
        AuthorityRegistryEvents::RoleAdminChanged(e) => shared::role_admin_changed(
            ctx,
            log.address(),
            e.role,
            e.previousAdminRole,
            e.newAdminRole,
        ),
        AuthorityRegistryEvents::EIP712DomainChanged(_) => Ok(Outcome::Ignored),
    }
}

/// Sets the AuthorityConfig fields `set` names of `registry`.
fn config(
    ctx: &HandlerCtx<'_>,
    registry: Address,
    set: impl FnOnce(&mut crate::entity::Record),
) -> IndexerResult<Outcome> {
    let mut row = ctx.load_or_new(&AUTHORITY_CONFIG, &id(registry))?;
    set(&mut row);
    row.set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

/// Records an AuthorityChange of `node` at this log.
fn authority_change(
    ctx: &HandlerCtx<'_>,
    node: Address,
    kind: &str,
    burned: Option<U256>,
    reason: Option<String>,
) -> IndexerResult<()> {
    let mut row = ctx.load_or_new(&AUTHORITY_CHANGE, &event_id(ctx))?;
    row.set_ref("node", &AUTHORITY_NODE, &id(node))
        .set_str("kind", kind)
        .set_i64("block", block_i64(ctx))
        .set_bytes("transactionHash", ctx.tx_hash.as_slice());
    if let Some(burned) = burned {
        row.set_uint("burned", burned);
    }
    if let Some(reason) = reason {
        row.set_str("reason", reason);
    }
    ctx.save(&row)
}

fn node_registered(ctx: &mut HandlerCtx<'_>, e: NodeRegistered) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let origin = if e.origin == 0 { "Burn" } else { "Grant" };
    authority_change(ctx, e.node, origin, Some(e.burned), None)?;
    let mut row = ctx.load_or_new(&AUTHORITY_NODE, &id(e.node))?;
    row.set_bytes("jurisdiction", e.jurisdiction.as_slice())
        .set_uint("geoCell", U256::from(e.geoCell))
        .set_str("metadataURI", e.metadataURI)
        .set_str("origin", origin)
        .set_uint("burned", e.burned)
        .set_bool("active", true)
        .set_str("revokedReason", "")
        .set_i64("registeredAtBlock", block)
        .set_i64("updatedAtBlock", block);
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn node_updated(ctx: &mut HandlerCtx<'_>, e: NodeUpdated) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let Some(mut row) = ctx.load(&AUTHORITY_NODE, &id(e.node))? else {
        return Ok(Outcome::Malformed(format!("NodeUpdated for unknown node {}", e.node)));
    };
    row.set_bytes("jurisdiction", e.jurisdiction.as_slice())
        .set_uint("geoCell", U256::from(e.geoCell))
        .set_str("metadataURI", e.metadataURI)
        .set_i64("updatedAtBlock", block);
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn node_revoked(ctx: &mut HandlerCtx<'_>, e: NodeRevoked) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let Some(mut row) = ctx.load(&AUTHORITY_NODE, &id(e.node))? else {
        return Ok(Outcome::Malformed(format!("NodeRevoked for unknown node {}", e.node)));
    };
    authority_change(ctx, e.node, "Revoked", None, Some(e.reason.clone()))?;
    row.set_bool("active", false)
        .set_str("revokedReason", e.reason)
        .set_i64("updatedAtBlock", block);
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn did_issued(ctx: &mut HandlerCtx<'_>, e: DIDIssued) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let mut row = ctx.load_or_new(&DID, &id(e.identity))?;
    if row.get("owner") == &rusqlite::types::Value::Null {
        // ERC-1056: an identity owns itself until it hands over; counters start at zero.
        row.set_bytes("owner", e.identity.as_slice())
            .set_i64("delegateChanges", 0)
            .set_i64("attributeChanges", 0);
    }
    row.set_ref("issuer", &AUTHORITY_NODE, &id(e.issuer))
        .set_bytes("role", e.role.as_slice())
        .set_i64("issuedAtBlock", block)
        .set_i64("changedAtBlock", block);
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn did_owner_changed(ctx: &mut HandlerCtx<'_>, e: DIDOwnerChanged) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    if let Some(mut row) = ctx.load(&DID, &id(e.identity))? {
        row.set_bytes("owner", e.owner.as_slice()).set_i64("changedAtBlock", block);
        ctx.save(&row)?;
    }
    Ok(Outcome::Applied)
}

fn did_delegate_changed(ctx: &mut HandlerCtx<'_>, e: DIDDelegateChanged) -> IndexerResult<Outcome> {
    // The contract rejects changes to identities without a DID: nothing to record.
    if ctx.load(&DID, &id(e.identity))?.is_none() {
        return Ok(Outcome::Applied);
    }
    bump(ctx, e.identity, "delegateChanges")?;
    let key =
        format!("{}-{}-{}", id(e.identity), enc_bytes(e.delegateType.as_slice()), id(e.delegate));
    let mut row = ctx.load_or_new(&DID_DELEGATE, &key)?;
    row.set_ref("did", &DID, &id(e.identity))
        .set_bytes("delegateType", e.delegateType.as_slice())
        .set_bytes("delegate", e.delegate.as_slice())
        .set_uint("validTo", e.validTo)
        .set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn did_attribute_changed(
    ctx: &mut HandlerCtx<'_>,
    e: DIDAttributeChanged,
) -> IndexerResult<Outcome> {
    if ctx.load(&DID, &id(e.identity))?.is_none() {
        return Ok(Outcome::Applied);
    }
    bump(ctx, e.identity, "attributeChanges")?;
    let key = format!(
        "{}-{}-{}",
        id(e.identity),
        enc_bytes(e.name.as_slice()),
        enc_bytes(alloy::primitives::keccak256(&e.value).as_slice())
    );
    let mut row = ctx.load_or_new(&DID_ATTRIBUTE, &key)?;
    row.set_ref("did", &DID, &id(e.identity))
        .set_bytes("name", e.name.as_slice())
        .set_bytes("value", &e.value)
        .set_uint("validTo", e.validTo)
        .set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}
