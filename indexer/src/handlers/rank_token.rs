//! `RankToken`: RankBalance per account and rank, from the ERC-1155 transfer
//! events (mints and burns: the token is soulbound) and the lock events.

use alloy::{
    primitives::{Address, U256},
    rpc::types::Log,
    sol_types::SolEvent,
};
use nsed_contracts::rank_token::RankToken::{
    RankLocked, RankUnlocked, TransferBatch, TransferSingle,
};

use super::{ContractHandler, HandlerCtx, Outcome, adjust_uint, ev};
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
    let Some(topic) = log.topic0().copied() else { return Ok(Outcome::Ignored) };
    if topic == TransferSingle::SIGNATURE_HASH {
        let e = ev!(log, TransferSingle);
        adjust(ctx, e.from, e.id, "balance", e.value, false)?;
        adjust(ctx, e.to, e.id, "balance", e.value, true)?;
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
            adjust(ctx, e.from, *id, "balance", *value, false)?;
            adjust(ctx, e.to, *id, "balance", *value, true)?;
        }
    } else if topic == RankLocked::SIGNATURE_HASH {
        let e = ev!(log, RankLocked);
        adjust(ctx, e.account, e.rank, "locked", e.amount, true)?;
    } else if topic == RankUnlocked::SIGNATURE_HASH {
        let e = ev!(log, RankUnlocked);
        adjust(ctx, e.account, e.rank, "locked", e.amount, false)?;
    } else {
        return Ok(Outcome::Ignored);
    }
    Ok(Outcome::Applied)
}
