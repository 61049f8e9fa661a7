//! The revm test kit itself: accounts, time, snapshots and failure reporting.

use alloy::{
    primitives::{Address, Bytes, U256},
    signers::SignerSync,
};
use nsed_contracts::{
    rank_token::RankToken,
    testkit::{DEV_PRIVATE_KEYS, TestChain, TxFailure},
};

use crate::fixtures::RankFixture;

#[test]
fn dev_accounts_are_anvils_default_accounts_and_funded() {
    let chain = TestChain::new();
    let expected: Address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".parse().unwrap();
    assert_eq!(chain.account(0), expected);
    assert_eq!(DEV_PRIVATE_KEYS.len(), 10);
    for index in 0..10 {
        assert_eq!(
            chain.balance(chain.account(index)),
            U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18))
        );
    }
    let signature = chain.signer(3).sign_message_sync(b"hello").unwrap();
    assert_eq!(signature.recover_address_from_msg(b"hello").unwrap(), chain.account(3));
}

#[test]
fn warp_roll_and_advance_time_move_the_block_environment() {
    let mut chain = TestChain::new();
    let (t0, n0) = (chain.timestamp(), chain.block_number());
    chain.advance_time(60);
    assert_eq!((chain.timestamp(), chain.block_number()), (t0 + 60, n0 + 1));
    chain.warp(2_000_000_000);
    chain.roll(500);
    assert_eq!((chain.timestamp(), chain.block_number()), (2_000_000_000, 500));
}

#[test]
fn revert_to_restores_state_time_and_block() {
    let mut f = RankFixture::new();
    let player = f.chain.account(5);
    let snapshot = f.chain.snapshot();
    let (t0, n0) = (f.chain.timestamp(), f.chain.block_number());
    f.mint(player, 1, 1);
    f.chain.advance_time(3600);
    assert_eq!(f.balance(player, 1), U256::from(1));
    assert!(f.chain.revert_to(snapshot));
    assert_eq!(f.balance(player, 1), U256::ZERO);
    assert_eq!((f.chain.timestamp(), f.chain.block_number()), (t0, n0));
    assert!(!f.chain.revert_to(snapshot), "a snapshot is consumed by reverting to it");
}

#[test]
fn reverting_to_an_earlier_snapshot_drops_later_ones() {
    let mut chain = TestChain::new();
    let first = chain.snapshot();
    let second = chain.snapshot();
    assert!(chain.revert_to(first));
    assert!(!chain.revert_to(second));
}

#[test]
fn deal_sets_balances_and_code_is_visible_after_deploy() {
    let mut f = RankFixture::new();
    let someone = Address::repeat_byte(0x42);
    f.chain.deal(someone, U256::from(7));
    assert_eq!(f.chain.balance(someone), U256::from(7));
    assert!(f.chain.code(someone).is_empty());
    assert_eq!(f.chain.code(f.token), RankToken::DEPLOYED_BYTECODE.clone());
}

#[test]
fn calls_do_not_change_state() {
    let mut f = RankFixture::new();
    let player = f.chain.account(5);
    let call = RankToken::mintCall { to: player, rank: U256::from(1), amount: U256::from(1) };
    f.chain.call(f.game, f.token, &call).unwrap();
    assert_eq!(f.balance(player, 1), U256::ZERO);
}

#[test]
fn garbage_calldata_reverts_and_is_reported_as_a_revert() {
    let mut f = RankFixture::new();
    let caller = f.chain.account(5);
    let failure = f
        .chain
        .send_raw(caller, f.token, Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef]), U256::ZERO)
        .unwrap_err();
    assert!(
        matches!(failure, TxFailure::Revert { ref data, gas_used } if data.is_empty() && gas_used > 21_000)
    );
}

#[test]
fn an_unaffordable_value_transfer_is_an_invalid_transaction() {
    let mut f = RankFixture::new();
    let poor = Address::repeat_byte(0x11);
    let failure =
        f.chain.send_raw(poor, f.chain.account(0), Bytes::new(), U256::from(1)).unwrap_err();
    assert!(matches!(failure, TxFailure::Invalid(_)), "{failure:?}");
}

#[test]
fn deploying_failing_init_code_reports_the_revert() {
    let mut chain = TestChain::new();
    let from = chain.account(0);
    // PUSH1 0 PUSH1 0 REVERT: a constructor that always reverts with empty data.
    let failure =
        chain.deploy_code(from, Bytes::from_static(&[0x60, 0x00, 0x60, 0x00, 0xfd])).unwrap_err();
    assert!(matches!(failure, TxFailure::Revert { .. }), "{failure:?}");
}
