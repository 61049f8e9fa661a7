//! `LiquidAccessToken`: LatBalance per account and token id (asset, tier), from
//! the ERC-1155 transfer events (mints to winners, trades, burns for access or conversion).

use alloy::{
    primitives::{Address, U256},
    rpc::types::Log,
    sol_types::SolEvent,
};
use nsed_contracts::liquid_access_token::LiquidAccessToken::{TransferBatch, TransferSingle};

use super::{ContractHandler, HandlerCtx, Outcome, adjust_uint, ev};
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

/// The access token's handler.
pub static HANDLER: ContractHandler =
    ContractHandler { contract: "LiquidAccessToken", entities: &[&LAT_BALANCE], handle };

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
                .set_uint("asset", id >> 8)
                .set_i64("tier", i64::from(id.byte(0)))
                .set_uint("balance", U256::ZERO);
        };
        let key = format!("{}-{id}", enc_bytes(account.as_slice()));
        adjust_uint(ctx, &LAT_BALANCE, &key, init, "balance", value, add)?;
    }
    Ok(())
}

fn handle(ctx: &mut HandlerCtx<'_>, log: &Log) -> IndexerResult<Outcome> {
    let Some(topic) = log.topic0().copied() else { return Ok(Outcome::Ignored) };
    if topic == TransferSingle::SIGNATURE_HASH {
        let e = ev!(log, TransferSingle);
        transfer(ctx, e.from, e.to, e.id, e.value)?;
    } else if topic == TransferBatch::SIGNATURE_HASH {
        let e = ev!(log, TransferBatch);
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
    } else {
        return Ok(Outcome::Ignored);
    }
    Ok(Outcome::Applied)
}
