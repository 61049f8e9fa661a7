//! `BountyToken`: the ERC-20 bounties are paid in. Its balances, allowances, supply and owner go
//! to the shared Token entities ([`super::shared`]).

use alloy::rpc::types::Log;
use nsed_contracts::bounty_token::BountyToken::BountyTokenEvents;

use super::{ContractHandler, HandlerCtx, Outcome, decode, shared};
use crate::error::IndexerResult;

/// The name of the bounty token in deployment records.
const NAME: &str = "BountyToken";

/// The bounty token's handler (its entities are [`shared::ENTITIES`]).
pub static HANDLER: ContractHandler = ContractHandler { contract: NAME, entities: &[], handle };

fn handle(ctx: &mut HandlerCtx<'_>, log: &Log) -> IndexerResult<Outcome> {
    let event = match decode::<BountyTokenEvents>(log) {
        Ok(event) => event,
        Err(outcome) => return Ok(outcome),
    };
    let token = log.address();
    match event {
        BountyTokenEvents::Transfer(e) => {
            shared::erc20_transfer(ctx, token, NAME, e.from, e.to, e.value)
        }
        BountyTokenEvents::Approval(e) => {
            shared::erc20_approval(ctx, token, NAME, e.owner, e.spender, e.value)
        }
        BountyTokenEvents::OwnershipTransferred(e) => {
            shared::ownership_transferred(ctx, token, NAME, e.newOwner)
        }
    }
}
