//! `AuthorityRegistry`: AuthorityNode per node account and Did per identity.

use alloy::{
    primitives::{Address, U256},
    rpc::types::Log,
};
use nsed_contracts::authority_registry::AuthorityRegistry::{
    AuthorityRegistryEvents, DIDAttributeChanged, DIDDelegateChanged, DIDIssued, DIDOwnerChanged,
    NodeRegistered, NodeRevoked, NodeUpdated,
};

use super::{ContractHandler, HandlerCtx, Outcome, block_i64, decode};
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
    derived: &[derived("dids", "Did", "issuer", true)],
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
    derived: &[],
};

/// The registry's handler.
pub static HANDLER: ContractHandler =
    ContractHandler { contract: "AuthorityRegistry", entities: &[&AUTHORITY_NODE, &DID], handle };

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
        _ => Ok(Outcome::Ignored),
    }
}

fn node_registered(ctx: &mut HandlerCtx<'_>, e: NodeRegistered) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let mut row = ctx.load_or_new(&AUTHORITY_NODE, &id(e.node))?;
    row.set_bytes("jurisdiction", e.jurisdiction.as_slice())
        .set_uint("geoCell", U256::from(e.geoCell))
        .set_str("metadataURI", e.metadataURI)
        .set_str("origin", if e.origin == 0 { "Burn" } else { "Grant" })
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
    bump(ctx, e.identity, "delegateChanges")?;
    Ok(Outcome::Applied)
}

fn did_attribute_changed(
    ctx: &mut HandlerCtx<'_>,
    e: DIDAttributeChanged,
) -> IndexerResult<Outcome> {
    bump(ctx, e.identity, "attributeChanges")?;
    Ok(Outcome::Applied)
}
