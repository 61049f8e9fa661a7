//! `LiquidAccessToken`: LatBalance per account and token id (asset, tier), from
//! the ERC-1155 transfer events (mints to winners, trades, burns for access or conversion), and
//! LatAccess per access redeemed (`Accessed`); its operator approvals and roles go to the shared
//! OperatorApproval and RoleMember entities.

use alloy::{
    primitives::{Address, U256},
    rpc::types::Log,
};
use nsed_contracts::{
    lat,
    liquid_access_token::LiquidAccessToken::{
        Accessed, LiquidAccessTokenEvents, TransferBatch, TransferSingle,
    },
};

use super::{
    ContractHandler, HandlerCtx, Outcome, adjust_uint, block_i64, decode, event_id, shared,
};
use crate::{
    entity::{EntityDef, IdKind, Kind, Record, enc_bytes, f},
    error::IndexerResult,
};

/// One account's balance of one access token (id: `<account>-<tokenId>`).
pub static LAT_BALANCE: EntityDef = EntityDef {
    name: "LatBalance",
    single: "latBalance",
    plural: "latBalances",
    table: "lat_balance",
    id: IdKind::Text,
    doc: "An account's balance of one Liquid Access Token (id: <account>-<tokenId>).",
    fields: &[
        f("account", Kind::Bytes, "The holder."),
        f("tokenId", Kind::BigInt, "The ERC-1155 id: asset << 8 | tier."),
        f("asset", Kind::BigInt, "The IP asset (the minting game's address as a number)."),
        f("tier", Kind::Int, "The quality tier (the rank it was earned at)."),
        f("balance", Kind::BigInt, "Tokens held."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[],
};

/// An access redeemed with a LAT (id: `<transaction hash>-<log index>`).
pub static LAT_ACCESS: EntityDef = EntityDef {
    name: "LatAccess",
    single: "latAccess",
    plural: "latAccesses",
    table: "lat_access",
    id: IdKind::Text,
    doc: "An account burned one Liquid Access Token to access its asset (id: <transaction \
          hash>-<log index>).",
    fields: &[
        f("account", Kind::Bytes, "Who was granted access."),
        f("asset", Kind::BigInt, "The IP asset."),
        f("tier", Kind::Int, "The tier of the token burned."),
        f("requestedTier", Kind::Int, "The tier access was asked for (at most tier)."),
        f("tokenId", Kind::BigInt, "The ERC-1155 id burned: asset << 8 | tier."),
        f("balance", Kind::Ref("LatBalance"), "The balance the token was burned from."),
        f("block", Kind::Int, "Block of the access."),
        f("transactionHash", Kind::Bytes, "The transaction."),
    ],
    derived: &[],
};

/// The access token's handler.
pub static HANDLER: ContractHandler = ContractHandler {
    contract: "LiquidAccessToken",
    entities: &[&LAT_BALANCE, &LAT_ACCESS],
    handle,
};

/// Moves `value` of token `id` from `from` to `to` (the zero address is mint or burn).
fn transfer(
    ctx: &HandlerCtx<'_>,
    from: Address,
    to: Address,
    id: U256,
    value: U256,
) -> IndexerResult<()> {
    for (account, add) in [(from, false), (to, true)] {
        if account == Address::ZERO {
            continue;
        }
        let init = |row: &mut Record| {
            row.set_bytes("account", account.as_slice())
                .set_uint("tokenId", id)
                .set_uint("asset", U256::from(lat::asset(id)))
                .set_i64("tier", i64::from(lat::tier(id)))
                .set_uint("balance", U256::ZERO);
        };
        let key = format!("{}-{id}", enc_bytes(account.as_slice()));
        adjust_uint(ctx, &LAT_BALANCE, &key, init, "balance", value, add)?;
    }
    Ok(())
}

fn handle(ctx: &mut HandlerCtx<'_>, log: &Log) -> IndexerResult<Outcome> {
    let event = match decode::<LiquidAccessTokenEvents>(log) {
        Ok(event) => event,
        Err(outcome) => return Ok(outcome),
    };
    match event {
        LiquidAccessTokenEvents::TransferSingle(e) => transfer_single(ctx, e),
        LiquidAccessTokenEvents::TransferBatch(e) => transfer_batch(ctx, e),
        LiquidAccessTokenEvents::Accessed(e) => accessed(ctx, e),
        LiquidAccessTokenEvents::ApprovalForAll(e) => {
            shared::approval_for_all(ctx, log.address(), e.account, e.operator, e.approved)
        }
        LiquidAccessTokenEvents::RoleGranted(e) => {
            shared::role_granted(ctx, log.address(), e.role, e.account, e.sender)
        }
        LiquidAccessTokenEvents::RoleRevoked(e) => {
            shared::role_revoked(ctx, log.address(), e.role, e.account, e.sender)
        }
        LiquidAccessTokenEvents::RoleAdminChanged(e) => shared::role_admin_changed(
            ctx,
            log.address(),
            e.role,
            e.previousAdminRole,
            e.newAdminRole,
        ),
        LiquidAccessTokenEvents::URI(_) => Ok(Outcome::Ignored),
    }
}

fn accessed(ctx: &mut HandlerCtx<'_>, e: Accessed) -> IndexerResult<Outcome> {
    let token_id = (U256::from(e.asset) << 8) | U256::from(e.tier);
    let mut row = ctx.load_or_new(&LAT_ACCESS, &event_id(ctx))?;
    row.set_bytes("account", e.account.as_slice())
        .set_uint("asset", U256::from(e.asset))
        .set_i64("tier", i64::from(e.tier))
        .set_i64("requestedTier", i64::from(e.requestedTier))
        .set_uint("tokenId", token_id)
        .set_ref(
            "balance",
            &LAT_BALANCE,
            &format!("{}-{token_id}", enc_bytes(e.account.as_slice())),
        )
        .set_i64("block", block_i64(ctx))
        .set_bytes("transactionHash", ctx.tx_hash.as_slice());
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn transfer_single(ctx: &mut HandlerCtx<'_>, e: TransferSingle) -> IndexerResult<Outcome> {
    transfer(ctx, e.from, e.to, e.id, e.value)?;
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
        transfer(ctx, e.from, e.to, *id, *value)?;
    }
    Ok(Outcome::Applied)
}
