//! `TripartiteEscrow`: EscrowDeal (with its dispute, ruling, dispute bond and refused payouts),
//! EscrowDebt, what the escrow owes an account after the token refused a payout, and EscrowConfig
//! (the resolver's dispute settings).

use alloy::{
    primitives::{Address, U256},
    rpc::types::Log,
};
use nsed_contracts::tripartite_escrow::TripartiteEscrow::{
    DealDelivered, DealDisputeExpired, DealOpened, DealRefunded, DealRuled, DisputeBondPaid,
    PaymentDeferred, TripartiteEscrowEvents, Withdrawn,
};

use super::{ContractHandler, HandlerCtx, Outcome, block_i64, decode};
use crate::{
    entity::{EntityDef, IdKind, Kind, Record, enc_bytes, f},
    error::IndexerResult,
};

/// An escrow deal (id: the deal id).
pub static ESCROW_DEAL: EntityDef = EntityDef {
    name: "EscrowDeal",
    single: "escrowDeal",
    plural: "escrowDeals",
    table: "escrow_deal",
    id: IdKind::Number,
    doc: "A tripartite escrow deal (id: the deal id).",
    fields: &[
        f("buyer", Kind::Bytes, "Who paid and is refunded."),
        f("operator", Kind::Bytes, "Who delivers."),
        f("token", Kind::Bytes, "The escrowed ERC-20."),
        f("amount", Kind::BigInt, "Escrowed amount."),
        f("deliveryDeadline", Kind::BigInt, "Last time delivery is accepted (unix seconds)."),
        f("challengeWindow", Kind::BigInt, "Seconds the buyer may dispute after delivery."),
        f("state", Kind::String, "Funded, Delivered, Disputed, Released, Ruled or Refunded."),
        f("recipients", Kind::BytesList, "Who is paid on release (after delivery)."),
        f("amounts", Kind::BigIntList, "What each recipient is paid."),
        f("challengeEndsAt", Kind::BigInt, "Last time the buyer may dispute."),
        f("buyerShareBps", Kind::Int, "A ruling's buyer share in basis points."),
        f("buyerAmount", Kind::BigInt, "What the buyer got back (ruling or refund)."),
        f(
            "disputeExpired",
            Kind::Boolean,
            "Whether the guild let a dispute's ruling deadline pass and the buyer was refunded.",
        ),
        f(
            "rulingDeadline",
            Kind::BigInt,
            "Last second the guild could rule (once a dispute expired).",
        ),
        f("disputeBond", Kind::BigInt, "What the buyer bonded to dispute (0 if the bond was off)."),
        f(
            "disputeBondOutcome",
            Kind::String,
            "Refunded (the ruling gave the buyer a share, or the dispute expired) or Forfeited (to \
             the guild: the ruling gave the buyer nothing).",
        ),
        f(
            "deferred",
            Kind::BigInt,
            "What of the deal's payouts the token refused, owed to their recipients (EscrowDebt).",
        ),
        f("disputedAtBlock", Kind::Int, "Block of the buyer's dispute."),
        f("ruledAtBlock", Kind::Int, "Block of the resolver's ruling."),
        f("openedAtBlock", Kind::Int, "Block of opening."),
        f("updatedAtBlock", Kind::Int, "Block of the last transition."),
    ],
    derived: &[],
};

/// What the escrow owes one account in one token (id: `<token>-<account>`).
pub static ESCROW_DEBT: EntityDef = EntityDef {
    name: "EscrowDebt",
    single: "escrowDebt",
    plural: "escrowDebts",
    table: "escrow_debt",
    id: IdKind::Text,
    doc: "What the escrow owes an account in a token after the token refused a payout, until the \
          account withdraws it (id: <token>-<account>).",
    fields: &[
        f("token", Kind::Bytes, "The ERC-20."),
        f("account", Kind::Bytes, "Who is owed."),
        f("owed", Kind::BigInt, "Owed now."),
        f("deferred", Kind::BigInt, "Every refused payout so far."),
        f("withdrawn", Kind::BigInt, "Every withdrawal so far."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[],
};

/// The escrow's dispute settings (id: its address).
pub static ESCROW_CONFIG: EntityDef = EntityDef {
    name: "EscrowConfig",
    single: "escrowConfig",
    plural: "escrowConfigs",
    table: "escrow_config",
    id: IdKind::Text,
    doc: "The escrow's dispute settings, as the resolver set them (id: its address).",
    fields: &[
        f(
            "disputeTimeout",
            Kind::BigInt,
            "Seconds the resolver has to rule on a dispute before anyone may refund the buyer.",
        ),
        f(
            "disputeBondBps",
            Kind::Int,
            "Dispute bond of disputes raised from now on, in basis points of a deal's amount.",
        ),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[],
};

/// The escrow's handler.
pub static HANDLER: ContractHandler = ContractHandler {
    contract: "TripartiteEscrow",
    entities: &[&ESCROW_DEAL, &ESCROW_DEBT, &ESCROW_CONFIG],
    handle,
};

fn handle(ctx: &mut HandlerCtx<'_>, log: &Log) -> IndexerResult<Outcome> {
    let event = match decode::<TripartiteEscrowEvents>(log) {
        Ok(event) => event,
        Err(outcome) => return Ok(outcome),
    };
    let (id, state) = match event {
        TripartiteEscrowEvents::DealOpened(e) => (deal_opened(ctx, &e)?, "Funded"),
        TripartiteEscrowEvents::DealDelivered(e) => (deal_delivered(ctx, &e)?, "Delivered"),
        TripartiteEscrowEvents::DealDisputed(e) => {
            (deal_stamp(ctx, e.dealId, "disputedAtBlock")?, "Disputed")
        }
        TripartiteEscrowEvents::DealRuled(e) => (deal_ruled(ctx, &e)?, "Ruled"),
        TripartiteEscrowEvents::DealReleased(e) => (e.dealId, "Released"),
        TripartiteEscrowEvents::DealRefunded(e) => (deal_refunded(ctx, &e)?, "Refunded"),
        // Followed by DealRefunded in the same transaction, which carries the amount.
        TripartiteEscrowEvents::DealDisputeExpired(e) => {
            (deal_dispute_expired(ctx, &e)?, "Refunded")
        }
        // The rest record money around a transition; they do not move the deal's state.
        TripartiteEscrowEvents::DisputeBondPaid(e) => return dispute_bond_paid(ctx, &e),
        TripartiteEscrowEvents::DisputeBondRefunded(e) => {
            return dispute_bond_outcome(ctx, e.dealId, "Refunded");
        }
        TripartiteEscrowEvents::DisputeBondForfeited(e) => {
            return dispute_bond_outcome(ctx, e.dealId, "Forfeited");
        }
        TripartiteEscrowEvents::PaymentDeferred(e) => return payment_deferred(ctx, &e),
        TripartiteEscrowEvents::Withdrawn(e) => return withdrawn(ctx, &e),
        TripartiteEscrowEvents::DisputeTimeoutChanged(e) => {
            return config(ctx, log.address(), |r| {
                r.set_uint("disputeTimeout", U256::from(e.disputeTimeout));
            });
        }
        TripartiteEscrowEvents::DisputeBondBpsChanged(e) => {
            return config(ctx, log.address(), |r| {
                r.set_i64("disputeBondBps", i64::from(e.disputeBondBps));
            });
        }
    };
    // Every deal event moves the deal's state.
    let mut deal = ctx.load_or_new(&ESCROW_DEAL, &id.to_string())?;
    deal.set_str("state", state).set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&deal)?;
    Ok(Outcome::Applied)
}

fn deal_opened(ctx: &HandlerCtx<'_>, e: &DealOpened) -> IndexerResult<U256> {
    let mut deal = ctx.load_or_new(&ESCROW_DEAL, &e.dealId.to_string())?;
    deal.set_bytes("buyer", e.buyer.as_slice())
        .set_bytes("operator", e.operator.as_slice())
        .set_bytes("token", e.token.as_slice())
        .set_uint("amount", e.amount)
        .set_uint("deliveryDeadline", U256::from(e.deliveryDeadline))
        .set_uint("challengeWindow", U256::from(e.challengeWindow))
        .set_bool("disputeExpired", false)
        .set_i64("openedAtBlock", block_i64(ctx));
    ctx.save(&deal)?;
    Ok(e.dealId)
}

fn deal_delivered(ctx: &HandlerCtx<'_>, e: &DealDelivered) -> IndexerResult<U256> {
    let mut deal = ctx.load_or_new(&ESCROW_DEAL, &e.dealId.to_string())?;
    deal.set_list("recipients", e.recipients.iter().map(|a| enc_bytes(a.as_slice())).collect())
        .set_list("amounts", e.amounts.iter().map(ToString::to_string).collect())
        .set_uint("challengeEndsAt", e.challengeEndsAt);
    ctx.save(&deal)?;
    Ok(e.dealId)
}

/// Sets the EscrowConfig fields `set` names of `escrow`.
fn config(
    ctx: &HandlerCtx<'_>,
    escrow: Address,
    set: impl FnOnce(&mut Record),
) -> IndexerResult<Outcome> {
    let mut row = ctx.load_or_new(&ESCROW_CONFIG, &enc_bytes(escrow.as_slice()))?;
    set(&mut row);
    row.set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

/// Stamps the block field `field` of deal `id`.
fn deal_stamp(ctx: &HandlerCtx<'_>, id: U256, field: &str) -> IndexerResult<U256> {
    let mut deal = ctx.load_or_new(&ESCROW_DEAL, &id.to_string())?;
    deal.set_i64(field, block_i64(ctx));
    ctx.save(&deal)?;
    Ok(id)
}

fn deal_ruled(ctx: &HandlerCtx<'_>, e: &DealRuled) -> IndexerResult<U256> {
    let mut deal = ctx.load_or_new(&ESCROW_DEAL, &e.dealId.to_string())?;
    deal.set_i64("buyerShareBps", i64::from(e.buyerShareBps))
        .set_uint("buyerAmount", e.buyerAmount)
        .set_i64("ruledAtBlock", block_i64(ctx));
    ctx.save(&deal)?;
    Ok(e.dealId)
}

fn deal_dispute_expired(ctx: &HandlerCtx<'_>, e: &DealDisputeExpired) -> IndexerResult<U256> {
    let mut deal = ctx.load_or_new(&ESCROW_DEAL, &e.dealId.to_string())?;
    deal.set_bool("disputeExpired", true).set_uint("rulingDeadline", U256::from(e.rulingDeadline));
    ctx.save(&deal)?;
    Ok(e.dealId)
}

fn deal_refunded(ctx: &HandlerCtx<'_>, e: &DealRefunded) -> IndexerResult<U256> {
    let mut deal = ctx.load_or_new(&ESCROW_DEAL, &e.dealId.to_string())?;
    deal.set_uint("buyerAmount", e.amount);
    ctx.save(&deal)?;
    Ok(e.dealId)
}

fn dispute_bond_paid(ctx: &HandlerCtx<'_>, e: &DisputeBondPaid) -> IndexerResult<Outcome> {
    let mut deal = ctx.load_or_new(&ESCROW_DEAL, &e.dealId.to_string())?;
    deal.set_uint("disputeBond", e.amount).set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&deal)?;
    Ok(Outcome::Applied)
}

fn dispute_bond_outcome(
    ctx: &HandlerCtx<'_>,
    deal_id: U256,
    outcome: &str,
) -> IndexerResult<Outcome> {
    let mut deal = ctx.load_or_new(&ESCROW_DEAL, &deal_id.to_string())?;
    deal.set_str("disputeBondOutcome", outcome).set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&deal)?;
    Ok(Outcome::Applied)
}

/// A payout the token refused: the deal's `deferred` and the recipient's debt grow.
fn payment_deferred(ctx: &HandlerCtx<'_>, e: &PaymentDeferred) -> IndexerResult<Outcome> {
    let mut deal = ctx.load_or_new(&ESCROW_DEAL, &e.dealId.to_string())?;
    let deferred = deal.uint("deferred").saturating_add(e.amount);
    deal.set_uint("deferred", deferred).set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&deal)?;
    let mut debt = load_debt(ctx, &e.token, &e.recipient)?;
    let (owed, deferred) = (debt.uint("owed"), debt.uint("deferred"));
    debt.set_uint("owed", owed.saturating_add(e.amount))
        .set_uint("deferred", deferred.saturating_add(e.amount));
    save_debt(ctx, &mut debt)
}

/// A withdrawal pays out the account's whole debt in the token.
fn withdrawn(ctx: &HandlerCtx<'_>, e: &Withdrawn) -> IndexerResult<Outcome> {
    let mut debt = load_debt(ctx, &e.token, &e.account)?;
    let (owed, withdrawn) = (debt.uint("owed"), debt.uint("withdrawn"));
    // Saturating: the debt could only go negative if events were missed.
    debt.set_uint("owed", owed.saturating_sub(e.amount))
        .set_uint("withdrawn", withdrawn.saturating_add(e.amount));
    save_debt(ctx, &mut debt)
}

/// The current EscrowDebt of `account` in `token` (all zero for a new one).
fn load_debt(ctx: &HandlerCtx<'_>, token: &Address, account: &Address) -> IndexerResult<Record> {
    let id = format!("{}-{}", enc_bytes(token.as_slice()), enc_bytes(account.as_slice()));
    let mut debt = ctx.load_or_new(&ESCROW_DEBT, &id)?;
    debt.set_bytes("token", token.as_slice()).set_bytes("account", account.as_slice());
    for field in ["owed", "deferred", "withdrawn"] {
        let value = debt.uint(field);
        debt.set_uint(field, value);
    }
    Ok(debt)
}

fn save_debt(ctx: &HandlerCtx<'_>, debt: &mut Record) -> IndexerResult<Outcome> {
    debt.set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(debt)?;
    Ok(Outcome::Applied)
}

#[cfg(test)]
mod tests {
    use alloy::{
        primitives::{B256, LogData},
        sol_types::SolEvent,
    };

    use super::*;
    use crate::handlers::testing::{at_block, log, scratch_store};

    #[test]
    fn refused_payouts_are_owed_until_withdrawn() {
        let (_dir, mut store) = scratch_store();
        let tx = store.transaction().unwrap();
        let token = Address::repeat_byte(0x70);
        let (blocked, elsewhere) = (Address::repeat_byte(0xb0), Address::repeat_byte(0xe0));
        let apply = |block: u64, data: LogData| {
            let outcome = at_block(&tx, block, |ctx| handle(ctx, &log(data)).unwrap());
            assert_eq!(outcome, Outcome::Applied);
        };
        let deferred = |deal: u64, amount: u64| {
            PaymentDeferred {
                dealId: U256::from(deal),
                token,
                recipient: blocked,
                amount: U256::from(amount),
            }
            .encode_log_data()
        };
        apply(1, deferred(1, 30));
        apply(2, deferred(2, 15));
        apply(2, deferred(1, 5));
        let withdrawal =
            Withdrawn { token, account: blocked, to: elsewhere, amount: U256::from(50) };
        apply(3, withdrawal.encode_log_data());

        let ctx = HandlerCtx {
            writes: &crate::store::WindowWrites::Sqlite(&tx),
            block: 3,
            tx_hash: B256::ZERO,
            log_index: 0,
        };
        let id = format!("{}-{}", enc_bytes(token.as_slice()), enc_bytes(blocked.as_slice()));
        let debt = ctx.load(&ESCROW_DEBT, &id).unwrap().expect("the debt is indexed");
        let amounts = [debt.uint("owed"), debt.uint("deferred"), debt.uint("withdrawn")];
        assert_eq!(amounts, [U256::ZERO, U256::from(50), U256::from(50)]);
        let deal = ctx.load(&ESCROW_DEAL, "1").unwrap().expect("the deal is indexed");
        assert_eq!(deal.uint("deferred"), U256::from(35));
    }
}
