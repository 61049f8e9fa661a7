//! Entities several contracts write, from the OpenZeppelin events they inherit: AccessControl roles
//! (RoleMember, RoleAdmin), ERC-20 tokens (Token, TokenBalance, TokenAllowance) and ERC-1155
//! operator approvals (OperatorApproval).
//!
//! Each contract's handler decodes these events with its own `<Contract>Events` enum (every binding
//! has its own copy of `RoleGranted`, `Transfer`, …) and passes their fields here, so one entity
//! holds them for the whole suite, told apart by the emitting contract's address.

use alloy::primitives::{Address, B256, U256};

use super::{HandlerCtx, Outcome, adjust_uint, block_i64};
use crate::{
    entity::{EntityDef, IdKind, Kind, Record, enc_bytes, f},
    error::IndexerResult,
};

/// An account's AccessControl role in one contract (id: `<contract>-<role>-<account>`).
pub static ROLE_MEMBER: EntityDef = EntityDef {
    name: "RoleMember",
    single: "roleMember",
    plural: "roleMembers",
    table: "role_member",
    id: IdKind::Text,
    doc: "An account granted an AccessControl role in one contract of the suite, kept after a \
          revocation with active false (id: <contract>-<role>-<account>).",
    fields: &[
        f("contract", Kind::Bytes, "The contract the role is in."),
        f("role", Kind::Bytes, "The role (bytes32; DEFAULT_ADMIN_ROLE is zero)."),
        f("account", Kind::Bytes, "The account."),
        f("active", Kind::Boolean, "Whether the account holds the role now."),
        f("grantedBy", Kind::Bytes, "Who granted it last (the sender of RoleGranted)."),
        f("revokedBy", Kind::Bytes, "Who revoked it last, if anyone (the sender of RoleRevoked)."),
        f("grantedAtBlock", Kind::Int, "Block of the latest grant."),
        f("updatedAtBlock", Kind::Int, "Block of the last grant or revocation."),
    ],
    derived: &[],
};

/// The admin role of an AccessControl role (id: `<contract>-<role>`).
pub static ROLE_ADMIN: EntityDef = EntityDef {
    name: "RoleAdmin",
    single: "roleAdmin",
    plural: "roleAdmins",
    table: "role_admin",
    id: IdKind::Text,
    doc: "A role whose admin role was changed from the default (DEFAULT_ADMIN_ROLE) in one \
          contract (id: <contract>-<role>).",
    fields: &[
        f("contract", Kind::Bytes, "The contract."),
        f("role", Kind::Bytes, "The role."),
        f("adminRole", Kind::Bytes, "The role that grants and revokes it now."),
        f("previousAdminRole", Kind::Bytes, "Its admin role before the last change."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[],
};

/// An ERC-20 token of the suite (id: its address).
pub static TOKEN: EntityDef = EntityDef {
    name: "Token",
    single: "token",
    plural: "tokens",
    table: "token",
    id: IdKind::Text,
    doc: "An ERC-20 token of the suite: the bounty token or the guild token (id: its address).",
    fields: &[
        f("contractName", Kind::String, "Its name in the deployment record."),
        f("totalSupply", Kind::BigInt, "Minted minus burned, from its Transfer events."),
        f("transfers", Kind::Int, "Transfer events so far (mints and burns included)."),
        f("owner", Kind::Bytes, "Its Ownable owner (bounty token; zero once renounced)."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[
        crate::entity::derived("balances", "TokenBalance", "token", true),
        crate::entity::derived("allowances", "TokenAllowance", "token", true),
    ],
};

/// One account's balance of an ERC-20 token (id: `<token>-<account>`).
pub static TOKEN_BALANCE: EntityDef = EntityDef {
    name: "TokenBalance",
    single: "tokenBalance",
    plural: "tokenBalances",
    table: "token_balance",
    id: IdKind::Text,
    doc: "An account's balance of an ERC-20 token of the suite (id: <token>-<account>).",
    fields: &[
        f("token", Kind::Ref("Token"), "The token."),
        f("account", Kind::Bytes, "The holder."),
        f("balance", Kind::BigInt, "Units held."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[],
};

/// An ERC-20 allowance (id: `<token>-<owner>-<spender>`).
pub static TOKEN_ALLOWANCE: EntityDef = EntityDef {
    name: "TokenAllowance",
    single: "tokenAllowance",
    plural: "tokenAllowances",
    table: "token_allowance",
    id: IdKind::Text,
    doc: "What a spender may move of an owner's ERC-20 tokens, as last approved (id: \
          <token>-<owner>-<spender>). Spending does not emit Approval, so this is the approved \
          amount, not what is left of it.",
    fields: &[
        f("token", Kind::Ref("Token"), "The token."),
        f("owner", Kind::Bytes, "Whose tokens."),
        f("spender", Kind::Bytes, "Who may spend them."),
        f("value", Kind::BigInt, "The approved amount."),
        f("updatedAtBlock", Kind::Int, "Block of the approval."),
    ],
    derived: &[],
};

/// An ERC-1155 operator approval (id: `<contract>-<account>-<operator>`).
pub static OPERATOR_APPROVAL: EntityDef = EntityDef {
    name: "OperatorApproval",
    single: "operatorApproval",
    plural: "operatorApprovals",
    table: "operator_approval",
    id: IdKind::Text,
    doc: "An ERC-1155 operator approval on the rank token or the access token (id: \
          <contract>-<account>-<operator>).",
    fields: &[
        f("contract", Kind::Bytes, "The ERC-1155 contract."),
        f("account", Kind::Bytes, "The holder."),
        f("operator", Kind::Bytes, "Who may move all of the holder's tokens."),
        f("approved", Kind::Boolean, "Whether the approval stands."),
        f("updatedAtBlock", Kind::Int, "Block of the last change."),
    ],
    derived: &[],
};

/// Every shared entity (see [`super::all_entities`]).
pub static ENTITIES: &[&EntityDef] =
    &[&ROLE_MEMBER, &ROLE_ADMIN, &TOKEN, &TOKEN_BALANCE, &TOKEN_ALLOWANCE, &OPERATOR_APPROVAL];

fn hex(v: &[u8]) -> String {
    enc_bytes(v)
}

fn role_member(
    ctx: &HandlerCtx<'_>,
    contract: Address,
    role: B256,
    account: Address,
) -> IndexerResult<Record> {
    let id = format!(
        "{}-{}-{}",
        hex(contract.as_slice()),
        hex(role.as_slice()),
        hex(account.as_slice())
    );
    let mut row = ctx.load_or_new(&ROLE_MEMBER, &id)?;
    row.set_bytes("contract", contract.as_slice())
        .set_bytes("role", role.as_slice())
        .set_bytes("account", account.as_slice())
        .set_i64("updatedAtBlock", block_i64(ctx));
    Ok(row)
}

/// `RoleGranted(role, account, sender)` of `contract`.
///
/// # Errors
///
/// Store errors.
pub(crate) fn role_granted(
    ctx: &HandlerCtx<'_>,
    contract: Address,
    role: B256,
    account: Address,
    sender: Address,
) -> IndexerResult<Outcome> {
    let mut row = role_member(ctx, contract, role, account)?;
    row.set_bool("active", true)
        .set_bytes("grantedBy", sender.as_slice())
        .set_i64("grantedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

/// `RoleRevoked(role, account, sender)` of `contract` (also a renouncement: sender = account).
///
/// # Errors
///
/// Store errors.
pub(crate) fn role_revoked(
    ctx: &HandlerCtx<'_>,
    contract: Address,
    role: B256,
    account: Address,
    sender: Address,
) -> IndexerResult<Outcome> {
    let mut row = role_member(ctx, contract, role, account)?;
    row.set_bool("active", false).set_bytes("revokedBy", sender.as_slice());
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

/// `RoleAdminChanged(role, previousAdminRole, newAdminRole)` of `contract`.
///
/// # Errors
///
/// Store errors.
pub(crate) fn role_admin_changed(
    ctx: &HandlerCtx<'_>,
    contract: Address,
    role: B256,
    previous: B256,
    admin: B256,
) -> IndexerResult<Outcome> {
    let id = format!("{}-{}", hex(contract.as_slice()), hex(role.as_slice()));
    let mut row = ctx.load_or_new(&ROLE_ADMIN, &id)?;
    row.set_bytes("contract", contract.as_slice())
        .set_bytes("role", role.as_slice())
        .set_bytes("adminRole", admin.as_slice())
        .set_bytes("previousAdminRole", previous.as_slice())
        .set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

/// The Token row of `token` (created with zero supply), stamped with this block.
fn load_token(ctx: &HandlerCtx<'_>, token: Address, name: &str) -> IndexerResult<Record> {
    let mut row = ctx.load_or_new(&TOKEN, &hex(token.as_slice()))?;
    if row.get("totalSupply") == &rusqlite::types::Value::Null {
        row.set_str("contractName", name)
            .set_uint("totalSupply", U256::ZERO)
            .set_i64("transfers", 0);
    }
    row.set_i64("updatedAtBlock", block_i64(ctx));
    Ok(row)
}

/// ERC-20 `Transfer(from, to, value)` of `token` (deployment record name `name`): balances, and the
/// supply on mints (from zero) and burns (to zero).
///
/// # Errors
///
/// Store errors.
pub(crate) fn erc20_transfer(
    ctx: &HandlerCtx<'_>,
    token: Address,
    name: &str,
    from: Address,
    to: Address,
    value: U256,
) -> IndexerResult<Outcome> {
    let mut row = load_token(ctx, token, name)?;
    let supply = row.uint("totalSupply");
    let supply = if from == Address::ZERO {
        supply.saturating_add(value)
    } else if to == Address::ZERO {
        supply.saturating_sub(value)
    } else {
        supply
    };
    let transfers = row.i64("transfers").saturating_add(1);
    row.set_uint("totalSupply", supply).set_i64("transfers", transfers);
    ctx.save(&row)?;
    let token_id = hex(token.as_slice());
    for (account, add) in [(from, false), (to, true)] {
        if account == Address::ZERO {
            continue;
        }
        let init = |row: &mut Record| {
            row.set_ref("token", &TOKEN, &token_id)
                .set_bytes("account", account.as_slice())
                .set_uint("balance", U256::ZERO);
        };
        let key = format!("{token_id}-{}", hex(account.as_slice()));
        adjust_uint(ctx, &TOKEN_BALANCE, &key, init, "balance", value, add)?;
    }
    Ok(Outcome::Applied)
}

/// ERC-20 `Approval(owner, spender, value)` of `token`.
///
/// # Errors
///
/// Store errors.
pub(crate) fn erc20_approval(
    ctx: &HandlerCtx<'_>,
    token: Address,
    name: &str,
    owner: Address,
    spender: Address,
    value: U256,
) -> IndexerResult<Outcome> {
    // The token row exists before any allowance refers to it (an approval can precede every
    // transfer); an existing row is left as it is.
    if ctx.load(&TOKEN, &hex(token.as_slice()))?.is_none() {
        ctx.save(&load_token(ctx, token, name)?)?;
    }
    let token_id = hex(token.as_slice());
    let id = format!("{token_id}-{}-{}", hex(owner.as_slice()), hex(spender.as_slice()));
    let mut row = ctx.load_or_new(&TOKEN_ALLOWANCE, &id)?;
    row.set_ref("token", &TOKEN, &token_id)
        .set_bytes("owner", owner.as_slice())
        .set_bytes("spender", spender.as_slice())
        .set_uint("value", value)
        .set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

/// Ownable `OwnershipTransferred(previousOwner, newOwner)` of ERC-20 `token`.
///
/// # Errors
///
/// Store errors.
pub(crate) fn ownership_transferred(
    ctx: &HandlerCtx<'_>,
    token: Address,
    name: &str,
    owner: Address,
) -> IndexerResult<Outcome> {
    let mut row = load_token(ctx, token, name)?;
    row.set_bytes("owner", owner.as_slice());
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}

/// ERC-1155 `ApprovalForAll(account, operator, approved)` of `contract`.
///
/// # Errors
///
/// Store errors.
pub(crate) fn approval_for_all(
    ctx: &HandlerCtx<'_>,
    contract: Address,
    account: Address,
    operator: Address,
    approved: bool,
) -> IndexerResult<Outcome> {
    let id = format!(
        "{}-{}-{}",
        hex(contract.as_slice()),
        hex(account.as_slice()),
        hex(operator.as_slice())
    );
    let mut row = ctx.load_or_new(&OPERATOR_APPROVAL, &id)?;
    row.set_bytes("contract", contract.as_slice())
        .set_bytes("account", account.as_slice())
        .set_bytes("operator", operator.as_slice())
        .set_bool("approved", approved)
        .set_i64("updatedAtBlock", block_i64(ctx));
    ctx.save(&row)?;
    Ok(Outcome::Applied)
}
