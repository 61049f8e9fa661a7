//! BountyToken: the demo bounty ERC-20 with owner-only minting.

use alloy::primitives::{Address, U256};
use nsed_contracts::{
    bounty_token::BountyToken,
    testkit::{ExpectRevert, TestChain},
};

/// A fresh chain with a BountyToken owned by account 0: `(chain, owner, token)`.
pub(crate) fn deployed() -> (TestChain, Address, Address) {
    let mut chain = TestChain::new();
    let owner = chain.account(0);
    let token = chain
        .deploy(
            owner,
            &BountyToken::BYTECODE,
            &BountyToken::constructorCall { initialOwner: owner },
        )
        .unwrap();
    (chain, owner, token)
}

#[test]
fn metadata_is_nsed_bounty_with_18_decimals_and_no_supply() {
    let (mut chain, owner, token) = deployed();
    assert_eq!(chain.call(owner, token, &BountyToken::nameCall {}).unwrap(), "NSED Bounty");
    assert_eq!(chain.call(owner, token, &BountyToken::symbolCall {}).unwrap(), "NSEDB");
    assert_eq!(chain.call(owner, token, &BountyToken::decimalsCall {}).unwrap(), 18);
    assert_eq!(chain.call(owner, token, &BountyToken::totalSupplyCall {}).unwrap(), U256::ZERO);
    assert_eq!(chain.call(owner, token, &BountyToken::ownerCall {}).unwrap(), owner);
}

#[test]
fn the_owner_mints_and_a_transfer_event_is_emitted() {
    let (mut chain, owner, token) = deployed();
    let to = chain.account(4);
    let receipt =
        chain.send(owner, token, &BountyToken::mintCall { to, amount: U256::from(42) }).unwrap();
    let event = receipt.event::<BountyToken::Transfer>();
    assert_eq!((event.from, event.to, event.value), (Address::ZERO, to, U256::from(42)));
    assert_eq!(
        chain.call(owner, token, &BountyToken::balanceOfCall { account: to }).unwrap(),
        U256::from(42)
    );
    assert_eq!(chain.call(owner, token, &BountyToken::totalSupplyCall {}).unwrap(), U256::from(42));
}

#[test]
fn only_the_owner_mints() {
    let (mut chain, _, token) = deployed();
    let stranger = chain.account(4);
    chain
        .send(stranger, token, &BountyToken::mintCall { to: stranger, amount: U256::from(1) })
        .expect_revert(BountyToken::OwnableUnauthorizedAccount { account: stranger });
}

#[test]
fn minting_to_the_zero_address_reverts() {
    let (mut chain, owner, token) = deployed();
    chain
        .send(owner, token, &BountyToken::mintCall { to: Address::ZERO, amount: U256::from(1) })
        .expect_revert(BountyToken::ERC20InvalidReceiver { receiver: Address::ZERO });
}
