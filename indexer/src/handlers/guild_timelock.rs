//! `GuildTimelock`: TimelockOperation per scheduled operation (its calls, delay and fate) and
//! TimelockConfig (its minimum delay); its roles go to the shared RoleMember entity.

use alloy::{
    primitives::{Address, U256},
    rpc::types::Log,
};
use nsed_contracts::guild_timelock::GuildTimelock::{
    CallExecuted, CallSalt, CallScheduled, Cancelled, GuildTimelockEvents, MinDelayChange,
};

use super::{ContractHandler, HandlerCtx, Outcome, block_i64, decode, shared};
use crate::{
    entity::{EntityDef, IdKind, Kind, enc_bytes, f},
    error::IndexerResult,
};

/// An operation scheduled on the timelock (id: the operation id).
pub static TIMELOCK_OPERATION: EntityDef = EntityDef {
    name: "TimelockOperation",
    single: "timelockOperation",
    plural: "timelockOperations",
    table: "timelock_operation",
    id: IdKind::Text,
    doc: "An operation (one call or a batch) scheduled on the guild's timelock, usually a queued \
          governance proposal (id: the operation id, bytes32 hex).",
    fields: &[
        f("targets", Kind::BytesList, "Contract called by each call, in order."),
        f("values", Kind::BigIntList, "Wei sent with each call."),
        f("calldatas", Kind::BytesList, "Calldata of each call."),
        f("predecessor", Kind::Bytes, "The operation that must run first (zero: none)."),
        f("delay", Kind::BigInt, "Seconds between scheduling and the earliest execution."),
        f("salt", Kind::Bytes, "The salt it was scheduled with, if not zero."),
        f("status", Kind::String, "Scheduled, Executed or Cancelled."),
        f("executedCalls", Kind::Int, "Calls executed so far."),
        f("scheduledAtBlock", Kind::Int, "Block of the (latest) scheduling."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
        f("transactionHash", Kind::Bytes, "The scheduling transaction."),
    ],
    derived: &[],
};

/// The timelock's settings (id: its address).
pub static TIMELOCK_CONFIG: EntityDef = EntityDef {
    name: "TimelockConfig",
    single: "timelockConfig",
    plural: "timelockConfigs",
    table: "timelock_config",
    id: IdKind::Text,
    doc: "The guild timelock's settings (id: its address).",
    fields: &[
        f("minDelay", Kind::BigInt, "Least delay of an operation, in seconds."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[],
};

/// The timelock's handler.
pub static HANDLER: ContractHandler = ContractHandler {
    contract: "GuildTimelock",
    entities: &[&TIMELOCK_OPERATION, &TIMELOCK_CONFIG],
    handle,
};

fn handle(ctx: &mut HandlerCtx<'_>, log: &Log) -> IndexerResult<Outcome> {
    let event = match decode::<GuildTimelockEvents>(log) {
        Ok(event) => event,
        Err(outcome) => return Ok(outcome),
    };
    let timelock = log.address();
    match event {
        GuildTimelockEvents::CallScheduled(e) => call_scheduled(ctx, e),
        GuildTimelockEvents::CallSalt(e) => call_salt(ctx, e),
        GuildTimelockEvents::CallExecuted(e) => call_executed(ctx, e),
        GuildTimelockEvents::Cancelled(e) => cancelled(ctx, e),
        GuildTimelockEvents::MinDelayChange(e) => min_delay_change(ctx, timelock, e),
        GuildTimelockEvents::RoleGranted(e) => {
            shared::role_granted(ctx, timelock, e.role, e.account, e.sender)
        }
        GuildTimelockEvents::RoleRevoked(e) => {
            shared::role_revoked(ctx, timelock, e.role, e.account, e.sender)
        }
        GuildTimelockEvents::RoleAdminChanged(e) => {
            shared::role_admin_changed(ctx, timelock, e.role, e.previousAdminRole, e.newAdminRole)
        }
    }
}

fn call_scheduled(ctx: &mut HandlerCtx<'_>, e: CallScheduled) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    let mut row = ctx.load_or_new(&TIMELOCK_OPERATION, &enc_bytes(e.id.as_slice()))?;
    // A batch emits one CallScheduled per call, in index order; index 0 starts a (re)scheduling,
    // since a cancelled operation can be scheduled again under the same id.
    let (mut targets, mut values, mut calldatas) = if e.index == U256::ZERO {
        (Vec::new(), Vec::new(), Vec::new())
    } else {
        (row.list("targets"), row.list("values"), row.list("calldatas"))
    };
    targets.push(enc_bytes(e.target.as_slice()));
    values.push(e.value.to_string());
    calldatas.push(enc_bytes(&e.data));
    row.set_list("targets", targets)
        .set_list("values", values)
        .set_list("calldatas", calldatas)
        .set_bytes("predecessor", e.predecessor.as_slice())
        .set_uint("delay", e.delay)
        .set_str("status", "Scheduled")
        .set_i64("executedCalls", 0)
        .set_i64("scheduledAtBlock", block)
        .set_i64("updatedAtBlock", block)
        .set_bytes("transactionHash", ctx.tx_hash.as_slice());
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn call_salt(ctx: &mut HandlerCtx<'_>, e: CallSalt) -> IndexerResult<Outcome> {
    let Some(mut row) = ctx.load(&TIMELOCK_OPERATION, &enc_bytes(e.id.as_slice()))? else {
        return Ok(Outcome::Malformed(format!("CallSalt for unknown operation {}", e.id)));
    };
    row.set_bytes("salt", e.salt.as_slice());
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn call_executed(ctx: &mut HandlerCtx<'_>, e: CallExecuted) -> IndexerResult<Outcome> {
    let Some(mut row) = ctx.load(&TIMELOCK_OPERATION, &enc_bytes(e.id.as_slice()))? else {
        return Ok(Outcome::Malformed(format!("CallExecuted for unknown operation {}", e.id)));
    };
    let executed = row.i64("executedCalls").saturating_add(1);
    row.set_i64("executedCalls", executed)
        .set_str("status", "Executed")
        .set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn cancelled(ctx: &mut HandlerCtx<'_>, e: Cancelled) -> IndexerResult<Outcome> {
    let Some(mut row) = ctx.load(&TIMELOCK_OPERATION, &enc_bytes(e.id.as_slice()))? else {
        return Ok(Outcome::Malformed(format!("Cancelled for unknown operation {}", e.id)));
    };
    row.set_str("status", "Cancelled").set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn min_delay_change(
    ctx: &mut HandlerCtx<'_>,
    timelock: Address,
    e: MinDelayChange,
) -> IndexerResult<Outcome> {
    let mut row = ctx.load_or_new(&TIMELOCK_CONFIG, &enc_bytes(timelock.as_slice()))?;
    row.set_uint("minDelay", e.newDuration).set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

#[cfg(test)]
mod tests {
    use alloy::{
        primitives::{B256, Bytes, LogData},
        sol_types::SolEvent,
    };

    use super::*;
    use crate::handlers::testing::{at_block, log, scratch_store};

    fn scheduled(id: B256, index: u64, target: u8) -> LogData {
        CallScheduled {
            id,
            index: U256::from(index),
            target: Address::repeat_byte(target),
            value: U256::from(index),
            data: Bytes::from(vec![target]),
            predecessor: B256::ZERO,
            delay: U256::from(86_400),
        }
        .encode_log_data()
    }

    #[test]
    fn a_batch_collects_its_calls_and_a_rescheduling_starts_over() {
        let (_dir, mut store) = scratch_store();
        let tx = store.transaction().unwrap();
        let id = B256::repeat_byte(0x0b);
        let apply = |block: u64, data: LogData| {
            at_block(&tx, block, |ctx| handle(ctx, &log(data)).unwrap())
        };
        let op = |block: u64| {
            at_block(&tx, block, |ctx| {
                ctx.load(&TIMELOCK_OPERATION, &enc_bytes(id.as_slice())).unwrap().unwrap()
            })
        };
        // Salt and execution of an operation never scheduled are malformed, not applied.
        let salt = CallSalt { id, salt: B256::repeat_byte(5) }.encode_log_data();
        assert!(matches!(apply(1, salt.clone()), Outcome::Malformed(_)));
        assert_eq!(apply(2, scheduled(id, 0, 0xa1)), Outcome::Applied);
        assert_eq!(apply(2, scheduled(id, 1, 0xa2)), Outcome::Applied);
        assert_eq!(apply(2, salt), Outcome::Applied);
        let row = op(2);
        let targets = [enc_bytes(&[0xa1; 20]), enc_bytes(&[0xa2; 20])];
        assert_eq!(row.list("targets"), targets);
        assert_eq!(row.list("values"), ["0", "1"]);
        assert_eq!(row.list("calldatas"), ["0xa1", "0xa2"]);
        assert_eq!(row.get("salt"), &rusqlite::types::Value::Text(enc_bytes(&[5; 32])));
        assert_eq!(apply(3, Cancelled { id }.encode_log_data()), Outcome::Applied);
        assert_eq!(op(3).get("status"), &rusqlite::types::Value::Text("Cancelled".into()));
        // Scheduled again under the same id: one call now, then executed.
        assert_eq!(apply(4, scheduled(id, 0, 0xa3)), Outcome::Applied);
        let executed = CallExecuted {
            id,
            index: U256::ZERO,
            target: Address::repeat_byte(0xa3),
            value: U256::ZERO,
            data: Bytes::from(vec![0xa3]),
        };
        assert_eq!(apply(5, executed.encode_log_data()), Outcome::Applied);
        let row = op(5);
        assert_eq!(row.list("targets"), [enc_bytes(&[0xa3; 20])]);
        assert_eq!(row.get("status"), &rusqlite::types::Value::Text("Executed".into()));
        assert_eq!(row.i64("executedCalls"), 1);
        assert_eq!(row.i64("scheduledAtBlock"), 4);
    }
}
