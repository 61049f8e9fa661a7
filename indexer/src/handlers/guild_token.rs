//! `GuildToken`: the guild's ERC-20 with ERC-5805 votes. Its balances, allowances and supply go to
//! the shared Token entities ([`super::shared`]); its delegation to Delegation (who delegates to
//! whom) and Delegate (each delegate's vote power, from `DelegateVotesChanged`).

use alloy::{
    primitives::{Address, U256},
    rpc::types::Log,
};
use nsed_contracts::guild_token::GuildToken::{
    DelegateChanged, DelegateVotesChanged, GuildTokenEvents,
};

use super::{ContractHandler, HandlerCtx, Outcome, block_i64, decode, shared};
use crate::{
    entity::{EntityDef, IdKind, Kind, Record, derived, enc_bytes, f},
    error::IndexerResult,
};

/// The name of the guild token in deployment records.
const NAME: &str = "GuildToken";

/// A delegate's vote power (id: its address).
pub static DELEGATE: EntityDef = EntityDef {
    name: "Delegate",
    single: "delegate",
    plural: "delegates",
    table: "delegate",
    id: IdKind::Text,
    doc: "An account guild-token holders delegated their votes to, with its vote power (id: its \
          address).",
    fields: &[
        f("account", Kind::Bytes, "The delegate."),
        f(
            "votes",
            Kind::BigInt,
            "Its current votes (getVotes), from the last DelegateVotesChanged; 0 before any.",
        ),
        f("previousVotes", Kind::BigInt, "Its votes before the last change."),
        f("votesChanges", Kind::Int, "DelegateVotesChanged events so far."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[derived("delegators", "Delegation", "delegate", true)],
};

/// Whom one holder delegates to (id: the holder's address).
pub static DELEGATION: EntityDef = EntityDef {
    name: "Delegation",
    single: "delegation",
    plural: "delegations",
    table: "delegation",
    id: IdKind::Text,
    doc: "A guild-token holder's choice of delegate (id: the holder's address).",
    fields: &[
        f("delegator", Kind::Bytes, "The holder."),
        f("delegate", Kind::Ref("Delegate"), "Its delegate now (the zero address: none)."),
        f("previousDelegate", Kind::Bytes, "Its delegate before the last change."),
        f("changes", Kind::Int, "DelegateChanged events so far."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[],
};

/// The guild token's handler.
pub static HANDLER: ContractHandler =
    ContractHandler { contract: NAME, entities: &[&DELEGATE, &DELEGATION], handle };

fn id(a: &Address) -> String {
    enc_bytes(a.as_slice())
}

/// The current Delegate row of `account` (votes 0 for a new one).
fn load_delegate(ctx: &HandlerCtx<'_>, account: &Address) -> IndexerResult<Record> {
    let mut row = ctx.load_or_new(&DELEGATE, &id(account))?;
    if row.get("votes") == &rusqlite::types::Value::Null {
        row.set_bytes("account", account.as_slice())
            .set_uint("votes", U256::ZERO)
            .set_uint("previousVotes", U256::ZERO)
            .set_i64("votesChanges", 0)
            .set_i64("updatedAtBlock", block_i64(ctx));
    }
    Ok(row)
}

fn handle(ctx: &mut HandlerCtx<'_>, log: &Log) -> IndexerResult<Outcome> {
    let event = match decode::<GuildTokenEvents>(log) {
        Ok(event) => event,
        Err(outcome) => return Ok(outcome),
    };
    let token = log.address();
    match event {
        GuildTokenEvents::Transfer(e) => {
            shared::erc20_transfer(ctx, token, NAME, e.from, e.to, e.value)
        }
        GuildTokenEvents::Approval(e) => {
            shared::erc20_approval(ctx, token, NAME, e.owner, e.spender, e.value)
        }
        GuildTokenEvents::DelegateChanged(e) => delegate_changed(ctx, e),
        GuildTokenEvents::DelegateVotesChanged(e) => delegate_votes_changed(ctx, e),
        GuildTokenEvents::RoleGranted(e) => {
            shared::role_granted(ctx, token, e.role, e.account, e.sender)
        }
        GuildTokenEvents::RoleRevoked(e) => {
            shared::role_revoked(ctx, token, e.role, e.account, e.sender)
        }
        GuildTokenEvents::RoleAdminChanged(e) => {
            shared::role_admin_changed(ctx, token, e.role, e.previousAdminRole, e.newAdminRole)
        }
        GuildTokenEvents::EIP712DomainChanged(_) => Ok(Outcome::Ignored),
    }
}

fn delegate_changed(ctx: &mut HandlerCtx<'_>, e: DelegateChanged) -> IndexerResult<Outcome> {
    let block = block_i64(ctx);
    // The delegate's row exists (with 0 votes) as soon as someone delegates to it, so the
    // relation resolves even before its votes change (a holder with no balance delegating). The
    // zero address is no delegate: undelegated votes count for no one.
    if e.toDelegate != Address::ZERO && ctx.load(&DELEGATE, &id(&e.toDelegate))?.is_none() {
        ctx.save(&load_delegate(ctx, &e.toDelegate)?)?;
    }
    let mut row = ctx.load_or_new(&DELEGATION, &id(&e.delegator))?;
    let changes = row.i64("changes").saturating_add(1);
    row.set_bytes("delegator", e.delegator.as_slice())
        .set_ref("delegate", &DELEGATE, &id(&e.toDelegate))
        .set_bytes("previousDelegate", e.fromDelegate.as_slice())
        .set_i64("changes", changes)
        .set_i64("updatedAtBlock", block);
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

fn delegate_votes_changed(
    ctx: &mut HandlerCtx<'_>,
    e: DelegateVotesChanged,
) -> IndexerResult<Outcome> {
    let mut row = load_delegate(ctx, &e.delegate)?;
    let changes = row.i64("votesChanges").saturating_add(1);
    row.set_uint("votes", e.newVotes)
        .set_uint("previousVotes", e.previousVotes)
        .set_i64("votesChanges", changes)
        .set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
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
    fn delegation_follows_the_holder_and_votes_follow_the_delegate() {
        let (_dir, mut store) = scratch_store();
        let tx = store.transaction().unwrap();
        let (holder, a, b) =
            (Address::repeat_byte(1), Address::repeat_byte(0xa), Address::repeat_byte(0xb));
        let apply = |block: u64, data: LogData| {
            let outcome = at_block(&tx, block, |ctx| handle(ctx, &log(data)).unwrap());
            assert_eq!(outcome, Outcome::Applied);
        };
        let changed = |from: Address, to: Address| {
            DelegateChanged { delegator: holder, fromDelegate: from, toDelegate: to }
                .encode_log_data()
        };
        let votes = |delegate: Address, previous: u64, new: u64| {
            DelegateVotesChanged {
                delegate,
                previousVotes: U256::from(previous),
                newVotes: U256::from(new),
            }
            .encode_log_data()
        };
        apply(1, changed(Address::ZERO, a));
        apply(1, votes(a, 0, 50));
        apply(2, changed(a, b));
        apply(2, votes(a, 50, 0));
        apply(2, votes(b, 0, 50));
        apply(3, changed(b, Address::ZERO));
        apply(3, votes(b, 50, 0));

        let ctx = HandlerCtx {
            writes: &crate::store::WindowWrites::Sqlite(&tx),
            block: 3,
            tx_hash: B256::ZERO,
            log_index: 0,
        };
        let delegation = ctx.load(&DELEGATION, &id(&holder)).unwrap().unwrap();
        assert_eq!(delegation.i64("changes"), 3);
        assert_eq!(
            delegation.get("previousDelegate"),
            &rusqlite::types::Value::Text(id(&b)),
            "the last change came from b"
        );
        for (delegate, changes) in [(a, 2), (b, 2)] {
            let row = ctx.load(&DELEGATE, &id(&delegate)).unwrap().unwrap();
            assert_eq!((row.uint("votes"), row.i64("votesChanges")), (U256::ZERO, changes));
        }
        assert!(
            ctx.load(&DELEGATE, &id(&Address::ZERO)).unwrap().is_none(),
            "undelegating makes no delegate"
        );
    }
}
