//! `LatConverter`: LAT → guild token conversions. ConversionPosition per vesting position (opened
//! by `Converted`, minted by `Claimed`), ConversionEpoch per epoch (its base supply and what was
//! converted in it), ConvertibleAsset per asset the guild ruled on, ConverterConfig (the
//! conversion parameters); its roles go to the shared RoleMember entity.

use alloy::{
    primitives::{Address, U256},
    rpc::types::Log,
};
use nsed_contracts::lat_converter::LatConverter::{
    Claimed, Converted, ConvertibilityChanged, EpochStarted, LatConverterEvents, ParamsChanged,
};

use super::{ContractHandler, HandlerCtx, Outcome, block_i64, decode, shared};
use crate::{
    entity::{EntityDef, IdKind, Kind, Record, derived, enc_bytes, f},
    error::IndexerResult,
};

/// A vesting position (id: the position id).
pub static CONVERSION_POSITION: EntityDef = EntityDef {
    name: "ConversionPosition",
    single: "conversionPosition",
    plural: "conversionPositions",
    table: "conversion_position",
    id: IdKind::Number,
    doc: "A conversion of Liquid Access Tokens into guild tokens: a vesting position its owner \
          claims once vested (id: the position id).",
    fields: &[
        f("owner", Kind::Bytes, "Who converted, and receives the tokens."),
        f("value", Kind::BigInt, "Value units of the LATs burned (2^(tier-1) per token)."),
        f("amount", Kind::BigInt, "Guild token units the position mints."),
        f("epoch", Kind::Ref("ConversionEpoch"), "The epoch it was converted in."),
        f("vestsAt", Kind::BigInt, "First second it can be claimed (unix seconds)."),
        f("claimed", Kind::Boolean, "Whether the tokens were minted."),
        f("convertedAtBlock", Kind::Int, "Block of the conversion."),
        f("claimedAtBlock", Kind::Int, "Block of the claim."),
        f("transactionHash", Kind::Bytes, "The conversion transaction."),
    ],
    derived: &[],
};

/// A conversion epoch (id: the epoch number).
pub static CONVERSION_EPOCH: EntityDef = EntityDef {
    name: "ConversionEpoch",
    single: "conversionEpoch",
    plural: "conversionEpochs",
    table: "conversion_epoch",
    id: IdKind::Number,
    doc: "An epoch with conversions (id: the epoch, block.timestamp / epochLength).",
    fields: &[
        f("base", Kind::BigInt, "Guild token supply the epoch's price and cap are relative to."),
        f("converted", Kind::BigInt, "Guild token units converted in the epoch so far."),
        f("value", Kind::BigInt, "LAT value units burned in the epoch so far."),
        f("conversions", Kind::Int, "Conversions in the epoch."),
        f("startedAtBlock", Kind::Int, "Block of its first conversion."),
        f("updatedAtBlock", Kind::Int, "Block of its last conversion."),
    ],
    derived: &[derived("positions", "ConversionPosition", "epoch", true)],
};

/// The guild's ruling on one LAT asset (id: the asset).
pub static CONVERTIBLE_ASSET: EntityDef = EntityDef {
    name: "ConvertibleAsset",
    single: "convertibleAsset",
    plural: "convertibleAssets",
    table: "convertible_asset",
    id: IdKind::Number,
    doc: "A LAT asset the guild allowed (or disallowed) to convert into guild tokens (id: the \
          asset, the minting game's address as a number).",
    fields: &[
        f("convertible", Kind::Boolean, "Whether its LATs convert now."),
        f("updatedAtBlock", Kind::Int, "Block of the last ruling."),
    ],
    derived: &[],
};

/// The converter's parameters (id: its address).
pub static CONVERTER_CONFIG: EntityDef = EntityDef {
    name: "ConverterConfig",
    single: "converterConfig",
    plural: "converterConfigs",
    table: "converter_config",
    id: IdKind::Text,
    doc: "The LAT converter's parameters (id: its address).",
    fields: &[
        f("basePrice", Kind::BigInt, "p0: value units per whole guild token."),
        f("slope", Kind::BigInt, "k, WAD fixed point: how fast the price rises within an epoch."),
        f("capBps", Kind::Int, "Most of an epoch's base that may be converted, in basis points."),
        f("epochLength", Kind::BigInt, "Seconds per epoch."),
        f("vestingPeriod", Kind::BigInt, "Seconds from a conversion until it can be claimed."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[],
};

/// The converter's handler.
pub static HANDLER: ContractHandler = ContractHandler {
    contract: "LatConverter",
    entities: &[&CONVERSION_POSITION, &CONVERSION_EPOCH, &CONVERTIBLE_ASSET, &CONVERTER_CONFIG],
    handle,
};

fn handle(ctx: &mut HandlerCtx<'_>, log: &Log) -> IndexerResult<Outcome> {
    let event = match decode::<LatConverterEvents>(log) {
        Ok(event) => event,
        Err(outcome) => return Ok(outcome),
    };
    let converter = log.address();
    match event {
        LatConverterEvents::EpochStarted(e) => epoch_started(ctx, e),
        LatConverterEvents::Converted(e) => converted(ctx, e),
        LatConverterEvents::Claimed(e) => claimed(ctx, e),
        LatConverterEvents::ConvertibilityChanged(e) => convertibility_changed(ctx, e),
        LatConverterEvents::ParamsChanged(e) => params_changed(ctx, converter, e),
        LatConverterEvents::RoleGranted(e) => {
            shared::role_granted(ctx, converter, e.role, e.account, e.sender)
        }
        LatConverterEvents::RoleRevoked(e) => {
            shared::role_revoked(ctx, converter, e.role, e.account, e.sender)
        }
        LatConverterEvents::RoleAdminChanged(e) => {
            shared::role_admin_changed(ctx, converter, e.role, e.previousAdminRole, e.newAdminRole)
        }
    }
}

/// The ConversionEpoch row of `epoch` (all zero for a new one).
fn load_epoch(ctx: &HandlerCtx<'_>, epoch: U256) -> IndexerResult<Record> {
    let mut row = ctx.load_or_new(&CONVERSION_EPOCH, &epoch.to_string())?;
    if row.get("converted") == &rusqlite::types::Value::Null {
        row.set_uint("converted", U256::ZERO)
            .set_uint("value", U256::ZERO)
            .set_i64("conversions", 0)
            .set_i64("startedAtBlock", block_i64(ctx));
    }
    row.set_i64("updatedAtBlock", block_i64(ctx));
    Ok(row)
}

fn epoch_started(ctx: &mut HandlerCtx<'_>, e: EpochStarted) -> IndexerResult<Outcome> {
    let mut row = load_epoch(ctx, e.epoch)?;
    row.set_uint("base", e.base).set_i64("startedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn converted(ctx: &mut HandlerCtx<'_>, e: Converted) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let mut epoch = load_epoch(ctx, e.epoch)?;
    let (converted, value) = (epoch.uint("converted"), epoch.uint("value"));
    let conversions = epoch.i64("conversions").saturating_add(1);
    epoch
        .set_uint("converted", converted.saturating_add(e.amount))
        .set_uint("value", value.saturating_add(e.value))
        .set_i64("conversions", conversions);
    ctx.save(&epoch)?;
    let mut row = ctx.load_or_new(&CONVERSION_POSITION, &e.positionId.to_string())?;
    row.set_bytes("owner", e.account.as_slice())
        .set_uint("value", e.value)
        .set_uint("amount", e.amount)
        .set_ref("epoch", &CONVERSION_EPOCH, &e.epoch.to_string())
        .set_uint("vestsAt", U256::from(e.vestsAt))
        .set_bool("claimed", false)
        .set_i64("convertedAtBlock", block)
        .set_bytes("transactionHash", ctx.tx_hash.as_slice());
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn claimed(ctx: &mut HandlerCtx<'_>, e: Claimed) -> IndexerResult<Outcome> {
    let Some(mut row) = ctx.load(&CONVERSION_POSITION, &e.positionId.to_string())? else {
        return Ok(Outcome::Malformed(format!("Claimed for unknown position {}", e.positionId)));
    };
    row.set_bool("claimed", true).set_i64("claimedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn convertibility_changed(
    ctx: &mut HandlerCtx<'_>,
    e: ConvertibilityChanged,
) -> IndexerResult<Outcome> {
    let mut row = ctx.load_or_new(&CONVERTIBLE_ASSET, &U256::from(e.asset).to_string())?;
    row.set_bool("convertible", e.convertible).set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn params_changed(
    ctx: &mut HandlerCtx<'_>,
    converter: Address,
    e: ParamsChanged,
) -> IndexerResult<Outcome> {
    let mut row = ctx.load_or_new(&CONVERTER_CONFIG, &enc_bytes(converter.as_slice()))?;
    row.set_uint("basePrice", e.basePrice)
        .set_uint("slope", e.slope)
        .set_i64("capBps", i64::from(e.capBps))
        .set_uint("epochLength", U256::from(e.epochLength))
        .set_uint("vestingPeriod", U256::from(e.vestingPeriod))
        .set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}
