//! `TripartiteEscrow`: EscrowDeal.

use alloy::{primitives::U256, rpc::types::Log};
use nsed_contracts::tripartite_escrow::TripartiteEscrow::{
    DealDelivered, DealDisputeExpired, DealOpened, DealRefunded, DealRuled, TripartiteEscrowEvents,
};

use super::{ContractHandler, HandlerCtx, Outcome, block_i64, decode};
use crate::{
    entity::{EntityDef, IdKind, Kind, enc_bytes, f},
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
        f("openedAtBlock", Kind::Int, "Block of opening."),
        f("updatedAtBlock", Kind::Int, "Block of the last transition."),
    ],
    derived: &[],
};

/// The escrow's handler.
pub static HANDLER: ContractHandler =
    ContractHandler { contract: "TripartiteEscrow", entities: &[&ESCROW_DEAL], handle };

fn handle(ctx: &mut HandlerCtx<'_>, log: &Log) -> IndexerResult<Outcome> {
    let event = match decode::<TripartiteEscrowEvents>(log) {
        Ok(event) => event,
        Err(outcome) => return Ok(outcome),
    };
    let (id, state) = match event {
        TripartiteEscrowEvents::DealOpened(e) => (deal_opened(ctx, &e)?, "Funded"),
        TripartiteEscrowEvents::DealDelivered(e) => (deal_delivered(ctx, &e)?, "Delivered"),
        TripartiteEscrowEvents::DealDisputed(e) => (e.dealId, "Disputed"),
        TripartiteEscrowEvents::DealRuled(e) => (deal_ruled(ctx, &e)?, "Ruled"),
        TripartiteEscrowEvents::DealReleased(e) => (e.dealId, "Released"),
        TripartiteEscrowEvents::DealRefunded(e) => (deal_refunded(ctx, &e)?, "Refunded"),
        // Followed by DealRefunded in the same transaction, which carries the amount.
        TripartiteEscrowEvents::DealDisputeExpired(e) => {
            (deal_dispute_expired(ctx, &e)?, "Refunded")
        }
        _ => return Ok(Outcome::Ignored),
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

fn deal_ruled(ctx: &HandlerCtx<'_>, e: &DealRuled) -> IndexerResult<U256> {
    let mut deal = ctx.load_or_new(&ESCROW_DEAL, &e.dealId.to_string())?;
    deal.set_i64("buyerShareBps", i64::from(e.buyerShareBps))
        .set_uint("buyerAmount", e.buyerAmount);
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
