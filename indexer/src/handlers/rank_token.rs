//! `RankToken`: RankBalance per account and rank, from the ERC-1155 transfer
//! events (mints and burns: the token is soulbound) and the lock events; its operator approvals and
//! roles go to the shared OperatorApproval and RoleMember entities.

use alloy::{
    primitives::{Address, U256},
    rpc::types::Log,
};
use nsed_contracts::rank_token::RankToken::{
    RankLocked, RankTokenEvents, RankUnlocked, TransferBatch, TransferSingle,
};

use super::{ContractHandler, HandlerCtx, Outcome, adjust_uint, decode, shared};
use crate::{
    entity::{EntityDef, IdKind, Kind, Record, enc_bytes, f},
    error::IndexerResult,
};

/// One account's balance of one rank (id: `<account>-<rank>`).
pub static RANK_BALANCE: EntityDef = EntityDef {
    name: "RankBalance",
    single: "rankBalance",
    plural: "rankBalances",
    table: "rank_balance",
    id: IdKind::Text,
    doc: "An account's balance of one rank level (id: <account>-<rank>).",
    fields: &[
        f("account", Kind::Bytes, "The holder."),
        f("rank", Kind::BigInt, "The rank level (ERC-1155 token id)."),
        f("balance", Kind::BigInt, "Tokens held."),
        f("locked", Kind::BigInt, "Tokens locked in running games."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[],
};

/// The rank token's handler.
pub static HANDLER: ContractHandler =
    ContractHandler { contract: "RankToken", entities: &[&RANK_BALANCE], handle };

/// Adds `delta` to (or, when `add` is false, takes it from) `field` of `account`'s `rank` balance.
fn adjust(
    ctx: &HandlerCtx<'_>,
    account: Address,
    rank: U256,
    field: &str,
    delta: U256,
    add: bool,
) -> IndexerResult<()> {
    if account == Address::ZERO {
        return Ok(());
    }
    let id = format!("{}-{rank}", enc_bytes(account.as_slice()));
    let init = |row: &mut Record| {
        row.set_bytes("account", account.as_slice())
            .set_uint("rank", rank)
            .set_uint("balance", U256::ZERO)
            .set_uint("locked", U256::ZERO);
    };
    adjust_uint(ctx, &RANK_BALANCE, &id, init, field, delta, add)
}

fn handle(ctx: &mut HandlerCtx<'_>, log: &Log) -> IndexerResult<Outcome> {
    let event = match decode::<RankTokenEvents>(log) {
        Ok(event) => event,
        Err(outcome) => return Ok(outcome),
    };
    match event {
        RankTokenEvents::TransferSingle(e) => transfer_single(ctx, e),
        RankTokenEvents::TransferBatch(e) => transfer_batch(ctx, e),
        RankTokenEvents::RankLocked(e) => rank_locked(ctx, e),
        RankTokenEvents::RankUnlocked(e) => rank_unlocked(ctx, e),
        RankTokenEvents::ApprovalForAll(e) => {
            shared::approval_for_all(ctx, log.address(), e.account, e.operator, e.approved)
        }
        RankTokenEvents::RoleGranted(e) => {
            shared::role_granted(ctx, log.address(), e.role, e.account, e.sender)
        }
        RankTokenEvents::RoleRevoked(e) => {
            shared::role_revoked(ctx, log.address(), e.role, e.account, e.sender)
        }
        RankTokenEvents::RoleAdminChanged(e) => shared::role_admin_changed(
            ctx,
            log.address(),
            e.role,
            e.previousAdminRole,
            e.newAdminRole,
        ),
        RankTokenEvents::URI(_) => Ok(Outcome::Ignored),
    }
}

fn transfer_single(ctx: &mut HandlerCtx<'_>, e: TransferSingle) -> IndexerResult<Outcome> {
    adjust(ctx, e.from, e.id, "balance", e.value, false)?;
    adjust(ctx, e.to, e.id, "balance", e.value, true)?;
    Ok(Outcome::Applied)
}

fn transfer_batch(ctx: &mut HandlerCtx<'_>, e: TransferBatch) -> IndexerResult<Outcome> {
    if e.ids.len() != e.values.len() {
        return Ok(Outcome::Malformed(format!(
            "TransferBatch with {} ids and {} values",
            e.ids.len(),
            e.values.len()
        )));
    }
    for (id, value) in e.ids.iter().zip(&e.values) {
        adjust(ctx, e.from, *id, "balance", *value, false)?;
        adjust(ctx, e.to, *id, "balance", *value, true)?;
    }
    Ok(Outcome::Applied)
}

fn rank_locked(ctx: &mut HandlerCtx<'_>, e: RankLocked) -> IndexerResult<Outcome> {
    adjust(ctx, e.account, e.rank, "locked", e.amount, true)?;
    Ok(Outcome::Applied)
}

fn rank_unlocked(ctx: &mut HandlerCtx<'_>, e: RankUnlocked) -> IndexerResult<Outcome> {
    adjust(ctx, e.account, e.rank, "locked", e.amount, false)?;
    Ok(Outcome::Applied)
}
