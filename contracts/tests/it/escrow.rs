//! TripartiteEscrow: direct deals through every transition, revert path and ruling split, the
//! dispute timeout, plus a model-based property test of the whole state machine.

use alloy::primitives::{Address, U256};
use nsed_contracts::{
    blocklist_token::BlocklistToken,
    bounty_token::BountyToken,
    testkit::{ExpectRevert, Receipt, TxFailure},
    tripartite_escrow::TripartiteEscrow,
};
use proptest::prelude::*;

use crate::market_fixture::*;

/// Direct deals on the market fixture's escrow: buyers are accounts 2, 8 and 9 (funded, escrow
/// approved), the operator (a seller) is account 7, the resolver is the guild (account 0).
struct EscrowFixture {
    f: MarketFixture,
    seller: Address,
}

impl EscrowFixture {
    fn new() -> Self {
        let f = MarketFixture::new(0);
        let seller = f.chain.account(7);
        Self { f, seller }
    }

    fn buyer(&self) -> Address {
        self.f.requester
    }

    fn now(&self) -> u64 {
        self.f.chain.timestamp()
    }

    fn open_from(
        &mut self,
        buyer: Address,
        amount: U256,
        deadline: u64,
        window: u64,
    ) -> Result<Receipt<U256>, TxFailure> {
        let call = TripartiteEscrow::openCall {
            operator: self.seller,
            token: self.f.token,
            amount,
            deliveryDeadline: deadline,
            challengeWindow: window,
        };
        self.f.chain.send(buyer, self.f.escrow, &call)
    }

    /// Opens a deal of `amount` from the default buyer, deliverable for an hour, with a 10-minute
    /// challenge window.
    fn open(&mut self, amount: u64) -> U256 {
        let deadline = self.now() + 3600;
        self.open_from(self.buyer(), u(amount), deadline, 600).expect("open succeeds").ret
    }

    fn deliver_from(
        &mut self,
        from: Address,
        deal: U256,
        recipients: &[Address],
        amounts: &[u64],
    ) -> Result<Receipt<TripartiteEscrow::deliverReturn>, TxFailure> {
        let call = TripartiteEscrow::deliverCall {
            dealId: deal,
            recipients: recipients.to_vec(),
            amounts: amounts.iter().map(|&a| u(a)).collect(),
        };
        self.f.chain.send(from, self.f.escrow, &call)
    }

    fn deliver(
        &mut self,
        deal: U256,
        recipients: &[Address],
        amounts: &[u64],
    ) -> Result<Receipt<TripartiteEscrow::deliverReturn>, TxFailure> {
        self.deliver_from(self.seller, deal, recipients, amounts)
    }

    fn release(
        &mut self,
        deal: U256,
    ) -> Result<Receipt<TripartiteEscrow::releaseReturn>, TxFailure> {
        let anyone = self.f.chain.account(6);
        self.f.chain.send(anyone, self.f.escrow, &TripartiteEscrow::releaseCall { dealId: deal })
    }

    fn dispute_from(
        &mut self,
        from: Address,
        deal: U256,
    ) -> Result<Receipt<TripartiteEscrow::disputeReturn>, TxFailure> {
        self.f.chain.send(from, self.f.escrow, &TripartiteEscrow::disputeCall { dealId: deal })
    }

    fn rule_from(
        &mut self,
        from: Address,
        deal: U256,
        bps: u16,
    ) -> Result<Receipt<TripartiteEscrow::ruleReturn>, TxFailure> {
        let call = TripartiteEscrow::ruleCall { dealId: deal, buyerShareBps: bps };
        self.f.chain.send(from, self.f.escrow, &call)
    }

    fn refund(&mut self, deal: U256) -> Result<Receipt<TripartiteEscrow::refundReturn>, TxFailure> {
        let anyone = self.f.chain.account(6);
        self.f.chain.send(anyone, self.f.escrow, &TripartiteEscrow::refundCall { dealId: deal })
    }

    fn resolve_expired(
        &mut self,
        deal: U256,
    ) -> Result<Receipt<TripartiteEscrow::resolveExpiredDisputeReturn>, TxFailure> {
        let anyone = self.f.chain.account(6);
        let call = TripartiteEscrow::resolveExpiredDisputeCall { dealId: deal };
        self.f.chain.send(anyone, self.f.escrow, &call)
    }

    fn set_timeout_from(
        &mut self,
        from: Address,
        seconds: u64,
    ) -> Result<Receipt<TripartiteEscrow::setDisputeTimeoutReturn>, TxFailure> {
        let call = TripartiteEscrow::setDisputeTimeoutCall { disputeTimeout_: seconds };
        self.f.chain.send(from, self.f.escrow, &call)
    }

    fn state(&mut self, deal: U256) -> u8 {
        self.f
            .chain
            .call(self.f.guild, self.f.escrow, &TripartiteEscrow::dealStateCall { dealId: deal })
            .unwrap()
    }
}

fn unexpected(deal: U256, current: u8) -> TripartiteEscrow::TripartiteEscrowUnexpectedState {
    TripartiteEscrow::TripartiteEscrowUnexpectedState { dealId: deal, current }
}

/// Three payees that hold nothing else.
fn payees() -> [Address; 3] {
    [Address::repeat_byte(0xa1), Address::repeat_byte(0xa2), Address::repeat_byte(0xa3)]
}

mod open {
    use super::*;

    #[test]
    fn open_pulls_the_amount_and_records_the_caller_as_buyer() {
        let mut e = EscrowFixture::new();
        let (buyer, deadline) = (e.buyer(), e.now() + 100);
        let before = e.f.balance(buyer);
        let receipt = e.open_from(buyer, u(1_000), deadline, 50).unwrap();
        assert_eq!(receipt.ret, u(1));
        let event = receipt.event::<TripartiteEscrow::DealOpened>();
        assert_eq!((event.dealId, event.buyer, event.operator), (u(1), buyer, e.seller));
        assert_eq!((event.token, event.amount), (e.f.token, u(1_000)));
        assert_eq!((event.deliveryDeadline, event.challengeWindow), (deadline, 50));
        assert_eq!(e.f.balance(buyer), before - u(1_000));
        assert_eq!(e.f.balance(e.f.escrow), u(1_000));
        let deal = e.f.deal(u(1));
        assert_eq!((deal.buyer, deal.operator, deal.token), (buyer, e.seller, e.f.token));
        assert_eq!((deal.amount, deal.state), (u(1_000), deal_state::FUNDED));
        assert_eq!(
            (deal.deliveryDeadline, deal.challengeWindow, deal.deliveredAt),
            (deadline, 50, 0)
        );
        assert!(deal.recipients.is_empty() && deal.amounts.is_empty());
        let count = e.f.chain.call(buyer, e.f.escrow, &TripartiteEscrow::dealCountCall {}).unwrap();
        assert_eq!(count, u(1));
        assert_eq!(e.open(5), u(2));
    }

    #[test]
    fn open_for_records_another_buyer_and_pulls_from_the_caller() {
        let mut e = EscrowFixture::new();
        let (payer, buyer) = (e.f.requester, e.f.chain.account(8));
        let (payer_before, buyer_before) = (e.f.balance(payer), e.f.balance(buyer));
        let call = TripartiteEscrow::openForCall {
            buyer,
            operator: e.seller,
            token: e.f.token,
            amount: u(40),
            deliveryDeadline: e.now() + 10,
            challengeWindow: 0,
        };
        let deal = e.f.chain.send(payer, e.f.escrow, &call).unwrap().ret;
        assert_eq!(e.f.deal(deal).buyer, buyer);
        assert_eq!(e.f.balance(payer), payer_before - u(40));
        assert_eq!(e.f.balance(buyer), buyer_before);
        e.f.chain.advance_time(11);
        e.refund(deal).unwrap();
        assert_eq!(e.f.balance(buyer), buyer_before + u(40));
    }

    #[test]
    fn open_rejects_zero_addresses_amounts_and_past_deadlines() {
        let mut e = EscrowFixture::new();
        let (buyer, now) = (e.buyer(), e.now());
        let valid = TripartiteEscrow::openForCall {
            buyer,
            operator: e.seller,
            token: e.f.token,
            amount: u(1),
            deliveryDeadline: now + 1,
            challengeWindow: 0,
        };
        let escrow = e.f.escrow;
        let mut send = |call: TripartiteEscrow::openForCall| e.f.chain.send(buyer, escrow, &call);
        for call in [
            TripartiteEscrow::openForCall { buyer: Address::ZERO, ..valid },
            TripartiteEscrow::openForCall { operator: Address::ZERO, ..valid },
            TripartiteEscrow::openForCall { token: Address::ZERO, ..valid },
        ] {
            send(call).expect_revert(TripartiteEscrow::TripartiteEscrowZeroAddress {});
        }
        send(TripartiteEscrow::openForCall { amount: U256::ZERO, ..valid })
            .expect_revert(TripartiteEscrow::TripartiteEscrowZeroAmount {});
        send(TripartiteEscrow::openForCall { deliveryDeadline: now, ..valid }).expect_revert(
            TripartiteEscrow::TripartiteEscrowInvalidDeadline { deliveryDeadline: now },
        );
        send(valid).unwrap();
    }

    #[test]
    fn open_needs_the_callers_allowance() {
        let mut e = EscrowFixture::new();
        let stranger = e.f.chain.account(6);
        let deadline = e.now() + 10;
        e.open_from(stranger, u(1), deadline, 0).expect_revert(
            BountyToken::ERC20InsufficientAllowance {
                spender: e.f.escrow,
                allowance: U256::ZERO,
                needed: u(1),
            },
        );
    }

    #[test]
    fn the_resolver_is_fixed_at_construction_and_never_zero() {
        let mut e = EscrowFixture::new();
        let resolver =
            e.f.chain.call(e.seller, e.f.escrow, &TripartiteEscrow::resolverCall {}).unwrap();
        assert_eq!(resolver, e.f.guild);
        let timeout =
            e.f.chain.call(e.seller, e.f.escrow, &TripartiteEscrow::disputeTimeoutCall {}).unwrap();
        assert_eq!(timeout, DISPUTE_TIMEOUT);
        let guild = e.f.guild;
        let mut deploy = |resolver: Address, timeout: u64| {
            e.f.chain.deploy_with_receipt(
                guild,
                &TripartiteEscrow::BYTECODE,
                &TripartiteEscrow::constructorCall {
                    resolver_: resolver,
                    disputeTimeout_: timeout,
                },
            )
        };
        deploy(Address::ZERO, DISPUTE_TIMEOUT)
            .expect_revert(TripartiteEscrow::TripartiteEscrowZeroAddress {});
        let year = 365 * 86_400;
        deploy(guild, year + 1).expect_revert(
            TripartiteEscrow::TripartiteEscrowInvalidDisputeTimeout { disputeTimeout: year + 1 },
        );
        let deployed = deploy(guild, year).unwrap();
        assert_eq!(
            deployed.event::<TripartiteEscrow::DisputeTimeoutChanged>().disputeTimeout,
            year
        );
    }

    #[test]
    fn unknown_deals_read_as_empty_and_reject_every_transition() {
        let mut e = EscrowFixture::new();
        let id = u(77);
        assert_eq!(e.state(id), deal_state::NONE);
        assert_eq!(e.f.deal(id).buyer, Address::ZERO);
        e.deliver(id, &payees()[..1], &[1]).expect_revert(unexpected(id, deal_state::NONE));
        e.release(id).expect_revert(unexpected(id, deal_state::NONE));
        let buyer = e.buyer();
        e.dispute_from(buyer, id).expect_revert(unexpected(id, deal_state::NONE));
        let guild = e.f.guild;
        e.rule_from(guild, id, 0).expect_revert(unexpected(id, deal_state::NONE));
        e.refund(id).expect_revert(unexpected(id, deal_state::NONE));
        e.resolve_expired(id).expect_revert(unexpected(id, deal_state::NONE));
    }
}

mod deliver {
    use super::*;

    #[test]
    fn deliver_records_the_payout_and_starts_the_challenge_window() {
        let mut e = EscrowFixture::new();
        let deal = e.open(100);
        e.f.chain.advance_time(30);
        let [a, b, _] = payees();
        let receipt = e.deliver(deal, &[a, b], &[60, 40]).unwrap();
        let event = receipt.event::<TripartiteEscrow::DealDelivered>();
        assert_eq!(event.dealId, deal);
        assert_eq!((event.recipients, event.amounts), (vec![a, b], vec![u(60), u(40)]));
        assert_eq!(event.challengeEndsAt, u(e.now() + 600));
        let stored = e.f.deal(deal);
        assert_eq!((stored.state, stored.deliveredAt), (deal_state::DELIVERED, e.now()));
        assert_eq!((stored.recipients, stored.amounts), (vec![a, b], vec![u(60), u(40)]));
        // Nothing moves before release.
        assert_eq!(e.f.balance(a), U256::ZERO);
        e.deliver(deal, &[a], &[100]).expect_revert(unexpected(deal, deal_state::DELIVERED));
    }

    #[test]
    fn only_the_operator_delivers() {
        let mut e = EscrowFixture::new();
        let deal = e.open(100);
        let buyer = e.buyer();
        e.deliver_from(buyer, deal, &payees()[..1], &[100]).expect_revert(
            TripartiteEscrow::TripartiteEscrowNotOperator { dealId: deal, caller: buyer },
        );
    }

    #[test]
    fn delivery_is_accepted_up_to_the_deadline_and_not_after() {
        let mut e = EscrowFixture::new();
        let (on_time, late) = (e.open(10), e.open(10));
        let deadline = e.f.deal(on_time).deliveryDeadline;
        e.f.chain.warp(deadline);
        e.deliver(on_time, &payees()[..1], &[10]).unwrap();
        e.f.chain.warp(deadline + 1);
        e.deliver(late, &payees()[..1], &[10]).expect_revert(
            TripartiteEscrow::TripartiteEscrowDeliveryLate {
                dealId: late,
                deliveryDeadline: deadline,
            },
        );
    }

    #[test]
    fn deliver_rejects_payouts_that_do_not_add_up() {
        let mut e = EscrowFixture::new();
        let deal = e.open(100);
        let [a, b, _] = payees();
        e.deliver(deal, &[a, b], &[100]).expect_revert(
            TripartiteEscrow::TripartiteEscrowLengthMismatch { recipients: u(2), amounts: u(1) },
        );
        for (amounts, total) in [(vec![50, 49], 99), (vec![50, 51], 101)] {
            e.deliver(deal, &[a, b], &amounts).expect_revert(
                TripartiteEscrow::TripartiteEscrowAmountMismatch {
                    dealId: deal,
                    expected: u(100),
                    actual: u(total),
                },
            );
        }
        e.deliver(deal, &[], &[]).expect_revert(TripartiteEscrow::TripartiteEscrowAmountMismatch {
            dealId: deal,
            expected: u(100),
            actual: U256::ZERO,
        });
        e.deliver(deal, &[a, Address::ZERO], &[50, 50])
            .expect_revert(TripartiteEscrow::TripartiteEscrowZeroAddress {});
        let many: Vec<Address> = (0..65u8).map(|k| Address::repeat_byte(k + 1)).collect();
        let mut amounts = vec![1u64; 65];
        amounts[0] = 36;
        e.deliver(deal, &many, &amounts).expect_revert(
            TripartiteEscrow::TripartiteEscrowTooManyRecipients { count: u(65), max: u(64) },
        );
        assert_eq!(e.state(deal), deal_state::FUNDED);
    }

    #[test]
    fn the_largest_payout_is_released_in_one_transaction() {
        let mut e = EscrowFixture::new();
        let deal = e.open(6_400);
        let many: Vec<Address> = (0..64u8).map(|k| Address::repeat_byte(k + 1)).collect();
        e.deliver(deal, &many, &[100; 64]).unwrap();
        e.f.chain.advance_time(601);
        let receipt = e.release(deal).unwrap();
        assert!(receipt.gas_used < 3_000_000, "release used {} gas", receipt.gas_used);
        for to in many {
            assert_eq!(e.f.balance(to), u(100));
        }
    }
}

mod release {
    use super::*;

    #[test]
    fn release_pays_the_recipients_after_the_window_and_only_once() {
        let mut e = EscrowFixture::new();
        let deal = e.open(100);
        let [a, b, _] = payees();
        e.deliver(deal, &[a, b], &[70, 30]).unwrap();
        let ends = e.now() + 600;
        e.f.chain.warp(ends);
        e.release(deal).expect_revert(TripartiteEscrow::TripartiteEscrowChallengeWindowOpen {
            dealId: deal,
            challengeEndsAt: u(ends),
        });
        e.f.chain.warp(ends + 1);
        let receipt = e.release(deal).unwrap();
        assert_eq!(receipt.event::<TripartiteEscrow::DealReleased>().dealId, deal);
        assert_eq!((e.f.balance(a), e.f.balance(b)), (u(70), u(30)));
        assert_eq!(e.f.balance(e.f.escrow), U256::ZERO);
        assert_eq!(e.state(deal), deal_state::RELEASED);
        e.release(deal).expect_revert(unexpected(deal, deal_state::RELEASED));
        let buyer = e.buyer();
        e.dispute_from(buyer, deal).expect_revert(unexpected(deal, deal_state::RELEASED));
        e.refund(deal).expect_revert(unexpected(deal, deal_state::RELEASED));
    }

    #[test]
    fn a_funded_deal_cannot_be_released() {
        let mut e = EscrowFixture::new();
        let deal = e.open(100);
        e.f.chain.advance_time(10_000);
        e.release(deal).expect_revert(unexpected(deal, deal_state::FUNDED));
    }

    #[test]
    fn a_zero_window_releases_one_second_after_delivery() {
        let mut e = EscrowFixture::new();
        let (buyer, deadline) = (e.buyer(), e.now() + 100);
        let deal = e.open_from(buyer, u(9), deadline, 0).unwrap().ret;
        e.deliver(deal, &payees()[..1], &[9]).unwrap();
        e.dispute_from(buyer, deal).unwrap();
        let deal = e.open_from(buyer, u(9), deadline, 0).unwrap().ret;
        e.deliver(deal, &payees()[..1], &[9]).unwrap();
        e.release(deal).expect_revert(TripartiteEscrow::TripartiteEscrowChallengeWindowOpen {
            dealId: deal,
            challengeEndsAt: u(e.now()),
        });
        e.f.chain.advance_time(1);
        e.release(deal).unwrap();
    }
}

mod dispute {
    use super::*;

    #[test]
    fn only_the_buyer_disputes_and_only_within_the_window() {
        let mut e = EscrowFixture::new();
        let (early, late) = (e.open(10), e.open(10));
        e.deliver(early, &payees()[..1], &[10]).unwrap();
        e.deliver(late, &payees()[..1], &[10]).unwrap();
        let ends = e.now() + 600;
        let (buyer, seller) = (e.buyer(), e.seller);
        e.dispute_from(seller, early).expect_revert(TripartiteEscrow::TripartiteEscrowNotBuyer {
            dealId: early,
            caller: seller,
        });
        e.f.chain.warp(ends);
        assert_eq!(e.f.deal(early).rulingDeadline, 0);
        let receipt = e.dispute_from(buyer, early).unwrap();
        assert_eq!(receipt.event::<TripartiteEscrow::DealDisputed>().dealId, early);
        assert_eq!(e.state(early), deal_state::DISPUTED);
        assert_eq!(e.f.deal(early).rulingDeadline, ends + DISPUTE_TIMEOUT);
        e.f.chain.warp(ends + 1);
        e.dispute_from(buyer, late).expect_revert(
            TripartiteEscrow::TripartiteEscrowChallengeWindowClosed {
                dealId: late,
                challengeEndsAt: u(ends),
            },
        );
        // A disputed deal waits for the resolver: no release, no second dispute.
        e.release(early).expect_revert(unexpected(early, deal_state::DISPUTED));
        e.dispute_from(buyer, early).expect_revert(unexpected(early, deal_state::DISPUTED));
    }

    #[test]
    fn an_undelivered_deal_cannot_be_disputed() {
        let mut e = EscrowFixture::new();
        let deal = e.open(10);
        let buyer = e.buyer();
        e.dispute_from(buyer, deal).expect_revert(unexpected(deal, deal_state::FUNDED));
    }
}

mod rule {
    use super::*;

    /// A disputed deal of `amount`, delivered to the payees in `shares`.
    fn disputed(e: &mut EscrowFixture, amount: u64, shares: &[u64]) -> U256 {
        let deal = e.open(amount);
        e.deliver(deal, &payees()[..shares.len()], shares).unwrap();
        let buyer = e.buyer();
        e.dispute_from(buyer, deal).unwrap();
        deal
    }

    #[test]
    fn only_the_resolver_rules_on_a_disputed_deal_within_100_percent() {
        let mut e = EscrowFixture::new();
        let deal = disputed(&mut e, 100, &[100]);
        let buyer = e.buyer();
        e.rule_from(buyer, deal, 10_000)
            .expect_revert(TripartiteEscrow::TripartiteEscrowNotResolver { caller: buyer });
        let guild = e.f.guild;
        e.rule_from(guild, deal, 10_001).expect_revert(
            TripartiteEscrow::TripartiteEscrowInvalidShare { buyerShareBps: 10_001 },
        );
        let delivered = e.open(5);
        e.deliver(delivered, &payees()[..1], &[5]).unwrap();
        e.rule_from(guild, delivered, 0)
            .expect_revert(unexpected(delivered, deal_state::DELIVERED));
    }

    #[test]
    fn a_full_refund_ruling_returns_everything_to_the_buyer() {
        let mut e = EscrowFixture::new();
        let buyer = e.buyer();
        let before = e.f.balance(buyer);
        let deal = disputed(&mut e, 100, &[60, 40]);
        let guild = e.f.guild;
        let receipt = e.rule_from(guild, deal, 10_000).unwrap();
        let event = receipt.event::<TripartiteEscrow::DealRuled>();
        assert_eq!((event.dealId, event.buyerShareBps, event.buyerAmount), (deal, 10_000, u(100)));
        assert_eq!(e.f.balance(buyer), before);
        assert_eq!(e.f.balance(payees()[0]), U256::ZERO);
        assert_eq!(e.state(deal), deal_state::RULED);
    }

    #[test]
    fn a_zero_share_ruling_pays_as_delivered() {
        let mut e = EscrowFixture::new();
        let deal = disputed(&mut e, 100, &[60, 40]);
        let guild = e.f.guild;
        e.rule_from(guild, deal, 0).unwrap();
        let [a, b, _] = payees();
        assert_eq!((e.f.balance(a), e.f.balance(b)), (u(60), u(40)));
    }

    #[test]
    fn a_split_pays_the_buyer_share_and_the_rest_pro_rata_with_dust_to_the_last() {
        let mut e = EscrowFixture::new();
        let buyer = e.buyer();
        let before = e.f.balance(buyer);
        let deal = disputed(&mut e, 1_001, &[500, 300, 201]);
        let guild = e.f.guild;
        let receipt = e.rule_from(guild, deal, 3_333).unwrap();
        // buyer ⌊1001·0.3333⌋ = 333; rest 668 → ⌊668·500/1001⌋ = 333, ⌊668·300/1001⌋ = 200,
        // and the last recipient takes 668 − 533 = 135.
        assert_eq!(receipt.event::<TripartiteEscrow::DealRuled>().buyerAmount, u(333));
        assert_eq!(e.f.balance(buyer), before - u(1_001) + u(333));
        let [a, b, c] = payees();
        assert_eq!((e.f.balance(a), e.f.balance(b), e.f.balance(c)), (u(333), u(200), u(135)));
        assert_eq!(e.f.balance(e.f.escrow), U256::ZERO);
    }

    #[test]
    fn a_ruling_is_final() {
        let mut e = EscrowFixture::new();
        let deal = disputed(&mut e, 10, &[10]);
        let guild = e.f.guild;
        e.rule_from(guild, deal, 5_000).unwrap();
        e.rule_from(guild, deal, 5_000).expect_revert(unexpected(deal, deal_state::RULED));
        e.f.chain.advance_time(DISPUTE_TIMEOUT + 1);
        e.release(deal).expect_revert(unexpected(deal, deal_state::RULED));
        e.refund(deal).expect_revert(unexpected(deal, deal_state::RULED));
        e.resolve_expired(deal).expect_revert(unexpected(deal, deal_state::RULED));
    }
}

mod dispute_timeout {
    use super::*;

    /// A deal of `amount` delivered to the first payee and disputed now; returns it and its ruling
    /// deadline.
    fn disputed(e: &mut EscrowFixture, amount: u64) -> (U256, u64) {
        let deal = e.open(amount);
        e.deliver(deal, &payees()[..1], &[amount]).unwrap();
        let buyer = e.buyer();
        e.dispute_from(buyer, deal).unwrap();
        (deal, e.now() + DISPUTE_TIMEOUT)
    }

    #[test]
    fn an_expired_dispute_refunds_the_buyer_in_full_exactly_once() {
        let mut e = EscrowFixture::new();
        let buyer = e.buyer();
        let before = e.f.balance(buyer);
        let (deal, deadline) = disputed(&mut e, 100);
        assert_eq!(e.f.deal(deal).rulingDeadline, deadline);
        let not_yet = TripartiteEscrow::TripartiteEscrowDisputeNotExpired {
            dealId: deal,
            rulingDeadline: deadline,
        };
        e.resolve_expired(deal).expect_revert(not_yet.clone());
        e.f.chain.warp(deadline);
        e.resolve_expired(deal).expect_revert(not_yet);

        e.f.chain.warp(deadline + 1);
        let receipt = e.resolve_expired(deal).unwrap();
        let expired = receipt.event::<TripartiteEscrow::DealDisputeExpired>();
        assert_eq!((expired.dealId, expired.rulingDeadline), (deal, deadline));
        let refunded = receipt.event::<TripartiteEscrow::DealRefunded>();
        assert_eq!((refunded.dealId, refunded.amount), (deal, u(100)));
        assert_eq!(e.f.balance(buyer), before);
        assert_eq!(e.f.balance(payees()[0]), U256::ZERO);
        assert_eq!(e.f.balance(e.f.escrow), U256::ZERO);
        assert_eq!(e.state(deal), deal_state::REFUNDED);

        e.resolve_expired(deal).expect_revert(unexpected(deal, deal_state::REFUNDED));
        let guild = e.f.guild;
        e.rule_from(guild, deal, 0).expect_revert(unexpected(deal, deal_state::REFUNDED));
        e.release(deal).expect_revert(unexpected(deal, deal_state::REFUNDED));
        e.refund(deal).expect_revert(unexpected(deal, deal_state::REFUNDED));
    }

    #[test]
    fn the_resolver_rules_up_to_the_deadline_and_not_after() {
        let mut e = EscrowFixture::new();
        let (on_time, deadline) = disputed(&mut e, 100);
        let (late, _) = disputed(&mut e, 100);
        let guild = e.f.guild;
        e.f.chain.warp(deadline);
        e.rule_from(guild, on_time, 0).unwrap();
        assert_eq!(e.f.balance(payees()[0]), u(100));
        e.f.chain.warp(deadline + 1);
        e.rule_from(guild, late, 0).expect_revert(
            TripartiteEscrow::TripartiteEscrowDisputeExpired {
                dealId: late,
                rulingDeadline: deadline,
            },
        );
        e.resolve_expired(late).unwrap();
        e.resolve_expired(on_time).expect_revert(unexpected(on_time, deal_state::RULED));
    }

    #[test]
    fn only_a_disputed_deal_can_expire() {
        let mut e = EscrowFixture::new();
        let funded = e.open(10);
        let delivered = e.open(10);
        e.deliver(delivered, &payees()[..1], &[10]).unwrap();
        e.f.chain.advance_time(DISPUTE_TIMEOUT + 3_601);
        e.resolve_expired(funded).expect_revert(unexpected(funded, deal_state::FUNDED));
        e.resolve_expired(delivered).expect_revert(unexpected(delivered, deal_state::DELIVERED));
    }

    #[test]
    fn the_guild_sets_the_timeout_of_later_disputes_only() {
        let mut e = EscrowFixture::new();
        let (running, deadline) = disputed(&mut e, 10);
        let (guild, buyer) = (e.f.guild, e.buyer());
        e.set_timeout_from(buyer, 60)
            .expect_revert(TripartiteEscrow::TripartiteEscrowNotResolver { caller: buyer });
        let year = 365 * 86_400;
        e.set_timeout_from(guild, year + 1).expect_revert(
            TripartiteEscrow::TripartiteEscrowInvalidDisputeTimeout { disputeTimeout: year + 1 },
        );
        let receipt = e.set_timeout_from(guild, 60).unwrap();
        assert_eq!(receipt.event::<TripartiteEscrow::DisputeTimeoutChanged>().disputeTimeout, 60);
        let timeout =
            e.f.chain.call(buyer, e.f.escrow, &TripartiteEscrow::disputeTimeoutCall {}).unwrap();
        assert_eq!(timeout, 60);

        // A new dispute gets the short timeout; the running one keeps its deadline.
        let deal = e.open(10);
        e.deliver(deal, &payees()[..1], &[10]).unwrap();
        e.dispute_from(buyer, deal).unwrap();
        assert_eq!(e.f.deal(deal).rulingDeadline, e.now() + 60);
        assert_eq!(e.f.deal(running).rulingDeadline, deadline);
        e.f.chain.advance_time(61);
        e.resolve_expired(deal).unwrap();
        e.resolve_expired(running).expect_revert(
            TripartiteEscrow::TripartiteEscrowDisputeNotExpired {
                dealId: running,
                rulingDeadline: deadline,
            },
        );
        // A zero timeout: the guild can rule only in the dispute's own second.
        e.set_timeout_from(guild, 0).unwrap();
        let (instant, at) = {
            let deal = e.open(10);
            e.deliver(deal, &payees()[..1], &[10]).unwrap();
            e.dispute_from(buyer, deal).unwrap();
            (deal, e.now())
        };
        assert_eq!(e.f.deal(instant).rulingDeadline, at);
        e.f.chain.advance_time(1);
        e.resolve_expired(instant).unwrap();
    }
}

mod refund {
    use super::*;

    #[test]
    fn refund_returns_an_undelivered_deal_after_the_deadline_once() {
        let mut e = EscrowFixture::new();
        let buyer = e.buyer();
        let before = e.f.balance(buyer);
        let deal = e.open(100);
        let deadline = e.f.deal(deal).deliveryDeadline;
        e.f.chain.warp(deadline);
        e.refund(deal).expect_revert(TripartiteEscrow::TripartiteEscrowDeadlineNotPassed {
            dealId: deal,
            deliveryDeadline: deadline,
        });
        e.f.chain.warp(deadline + 1);
        let receipt = e.refund(deal).unwrap();
        let event = receipt.event::<TripartiteEscrow::DealRefunded>();
        assert_eq!((event.dealId, event.amount), (deal, u(100)));
        assert_eq!(e.f.balance(buyer), before);
        assert_eq!(e.state(deal), deal_state::REFUNDED);
        e.refund(deal).expect_revert(unexpected(deal, deal_state::REFUNDED));
        e.deliver(deal, &payees()[..1], &[100])
            .expect_revert(unexpected(deal, deal_state::REFUNDED));
    }

    #[test]
    fn a_delivered_deal_cannot_be_refunded() {
        let mut e = EscrowFixture::new();
        let deal = e.open(100);
        e.deliver(deal, &payees()[..1], &[100]).unwrap();
        e.f.chain.advance_time(3_601);
        e.refund(deal).expect_revert(unexpected(deal, deal_state::DELIVERED));
    }
}

mod dispute_bond {
    use super::*;

    /// A deal of `amount` delivered to the first payee, within its challenge window.
    fn delivered(e: &mut EscrowFixture, amount: u64) -> U256 {
        let deal = e.open(amount);
        e.deliver(deal, &payees()[..1], &[amount]).unwrap();
        deal
    }

    fn set_bond_from(
        e: &mut EscrowFixture,
        from: Address,
        bps: u16,
    ) -> Result<Receipt<TripartiteEscrow::setDisputeBondBpsReturn>, TxFailure> {
        let call = TripartiteEscrow::setDisputeBondBpsCall { disputeBondBps_: bps };
        e.f.chain.send(from, e.f.escrow, &call)
    }

    fn quote(e: &mut EscrowFixture, deal: U256) -> U256 {
        let call = TripartiteEscrow::quoteDisputeBondCall { dealId: deal };
        e.f.chain.call(e.seller, e.f.escrow, &call).unwrap()
    }

    #[test]
    fn a_frivolous_dispute_costs_the_buyer_its_bond() {
        let mut e = EscrowFixture::new();
        let (buyer, guild) = (e.buyer(), e.f.guild);
        let deal = delivered(&mut e, 1_000);
        let (buyer_before, guild_before) = (e.f.balance(buyer), e.f.balance(guild));
        // The buyer has read the answer in the settlement and disputes anyway: holding the
        // bounty up is not free.
        let receipt = e.dispute_from(buyer, deal).unwrap();
        let paid = receipt.event::<TripartiteEscrow::DisputeBondPaid>();
        assert_eq!((paid.dealId, paid.payer, paid.amount), (deal, buyer, u(100)));
        assert_eq!(e.f.balance(buyer), buyer_before - u(100), "10% of the deal is bonded");
        assert_eq!(e.f.deal(deal).disputeBond, u(100));
        assert_eq!(e.f.balance(e.f.escrow), u(1_100));
        let receipt = e.rule_from(guild, deal, 0).unwrap();
        let forfeited = receipt.event::<TripartiteEscrow::DisputeBondForfeited>();
        assert_eq!((forfeited.dealId, forfeited.to, forfeited.amount), (deal, guild, u(100)));
        assert!(receipt.events::<TripartiteEscrow::DisputeBondRefunded>().is_empty());
        assert_eq!(e.f.balance(buyer), buyer_before - u(100), "a ruling for nothing forfeits it");
        assert_eq!(e.f.balance(guild), guild_before + u(100), "to the resolver");
        assert_eq!(e.f.balance(payees()[0]), u(1_000), "the recipients are paid in full");
        assert_eq!(e.f.balance(e.f.escrow), U256::ZERO);
    }

    #[test]
    fn a_ruling_with_any_buyer_share_refunds_the_bond() {
        let mut e = EscrowFixture::new();
        let (buyer, guild) = (e.buyer(), e.f.guild);
        let deal = delivered(&mut e, 1_000);
        let before = e.f.balance(buyer);
        e.dispute_from(buyer, deal).unwrap();
        let receipt = e.rule_from(guild, deal, 1).unwrap();
        let refunded = receipt.event::<TripartiteEscrow::DisputeBondRefunded>();
        assert_eq!((refunded.dealId, refunded.to, refunded.amount), (deal, buyer, u(100)));
        assert!(receipt.events::<TripartiteEscrow::DisputeBondForfeited>().is_empty());
        // 1 bps of 1000 rounds down to nothing, but the ruling still sided with the buyer.
        assert_eq!(receipt.event::<TripartiteEscrow::DealRuled>().buyerAmount, U256::ZERO);
        assert_eq!(e.f.balance(buyer), before);
        assert_eq!(e.f.balance(payees()[0]), u(1_000));
        assert_eq!(e.f.balance(e.f.escrow), U256::ZERO);
    }

    #[test]
    fn an_expired_dispute_refunds_the_bond() {
        let mut e = EscrowFixture::new();
        let buyer = e.buyer();
        let before = e.f.balance(buyer);
        let deal = delivered(&mut e, 1_000);
        e.dispute_from(buyer, deal).unwrap();
        e.f.chain.advance_time(DISPUTE_TIMEOUT + 1);
        let receipt = e.resolve_expired(deal).unwrap();
        let refunded = receipt.event::<TripartiteEscrow::DisputeBondRefunded>();
        assert_eq!((refunded.dealId, refunded.to, refunded.amount), (deal, buyer, u(100)));
        assert_eq!(receipt.event::<TripartiteEscrow::DealRefunded>().amount, u(1_000));
        assert_eq!(e.f.balance(buyer), before, "the deal and the bond are back");
        assert_eq!(e.f.balance(e.f.escrow), U256::ZERO);
    }

    #[test]
    fn a_dispute_without_approval_reverts_with_the_bond_it_needs() {
        let mut e = EscrowFixture::new();
        let (buyer, escrow, token) = (e.buyer(), e.f.escrow, e.f.token);
        let deal = delivered(&mut e, 1_000);
        let approve = |value: U256| BountyToken::approveCall { spender: escrow, value };
        e.f.chain.send(buyer, token, &approve(U256::ZERO)).unwrap();
        e.dispute_from(buyer, deal).expect_revert(
            TripartiteEscrow::TripartiteEscrowDisputeBondNotApproved {
                dealId: deal,
                bond: u(100),
                allowance: U256::ZERO,
            },
        );
        e.f.chain.send(buyer, token, &approve(u(99))).unwrap();
        e.dispute_from(buyer, deal).expect_revert(
            TripartiteEscrow::TripartiteEscrowDisputeBondNotApproved {
                dealId: deal,
                bond: u(100),
                allowance: u(99),
            },
        );
        assert_eq!(e.state(deal), deal_state::DELIVERED);
        // What the quote says is what it takes.
        let bond = quote(&mut e, deal);
        e.f.chain.send(buyer, token, &approve(bond)).unwrap();
        e.dispute_from(buyer, deal).unwrap();
        assert_eq!(e.f.deal(deal).disputeBond, bond);
    }

    #[test]
    fn the_bond_is_rounded_up_so_no_dispute_is_free() {
        let mut e = EscrowFixture::new();
        let (small, tiny) = (e.open(19), e.open(1));
        assert_eq!(quote(&mut e, small), u(2), "10% of 19 is 1.9");
        assert_eq!(quote(&mut e, tiny), u(1));
        assert_eq!(quote(&mut e, u(99)), U256::ZERO, "unknown deals quote nothing");
    }

    #[test]
    fn the_guild_sets_the_bond_of_later_disputes_only() {
        let mut e = EscrowFixture::new();
        let (guild, buyer) = (e.f.guild, e.buyer());
        let bps = |e: &mut EscrowFixture| {
            e.f.chain.call(buyer, e.f.escrow, &TripartiteEscrow::disputeBondBpsCall {}).unwrap()
        };
        let default =
            e.f.chain
                .call(buyer, e.f.escrow, &TripartiteEscrow::DEFAULT_DISPUTE_BOND_BPSCall {})
                .unwrap();
        assert_eq!((bps(&mut e), default), (1_000, 1_000));
        let running = delivered(&mut e, 1_000);
        e.dispute_from(buyer, running).unwrap();

        set_bond_from(&mut e, buyer, 0)
            .expect_revert(TripartiteEscrow::TripartiteEscrowNotResolver { caller: buyer });
        set_bond_from(&mut e, guild, 10_001).expect_revert(
            TripartiteEscrow::TripartiteEscrowInvalidDisputeBond { disputeBondBps: 10_001 },
        );
        let receipt = set_bond_from(&mut e, guild, 10_000).unwrap();
        assert_eq!(
            receipt.event::<TripartiteEscrow::DisputeBondBpsChanged>().disputeBondBps,
            10_000
        );
        let full = delivered(&mut e, 1_000);
        assert_eq!(quote(&mut e, full), u(1_000));

        // Off: a dispute costs nothing and says nothing about a bond.
        set_bond_from(&mut e, guild, 0).unwrap();
        assert_eq!(bps(&mut e), 0);
        let free = delivered(&mut e, 1_000);
        let before = e.f.balance(buyer);
        let receipt = e.dispute_from(buyer, free).unwrap();
        assert!(receipt.events::<TripartiteEscrow::DisputeBondPaid>().is_empty());
        assert_eq!(e.f.balance(buyer), before);
        let receipt = e.rule_from(guild, free, 0).unwrap();
        assert!(receipt.events::<TripartiteEscrow::DisputeBondForfeited>().is_empty());

        // The running dispute keeps the bond it paid.
        assert_eq!(e.f.deal(running).disputeBond, u(100));
        let before = e.f.balance(buyer);
        e.rule_from(guild, running, 10_000).unwrap();
        assert_eq!(e.f.balance(buyer), before + u(1_100));
    }
}

mod blocked_recipients {
    use nsed_contracts::gas_capped_caller::GasCappedCaller;

    use super::*;

    /// A [`BlocklistToken`] with the default buyer funded and the escrow approved.
    fn blocklist_token(e: &mut EscrowFixture) -> Address {
        let (buyer, escrow) = (e.buyer(), e.f.escrow);
        let token =
            e.f.chain
                .deploy(buyer, &BlocklistToken::BYTECODE, &BlocklistToken::constructorCall {})
                .unwrap();
        let mint = BlocklistToken::mintCall { to: buyer, amount: u(1_000_000) };
        e.f.chain.send(buyer, token, &mint).unwrap();
        let approve = BlocklistToken::approveCall { spender: escrow, value: U256::MAX };
        e.f.chain.send(buyer, token, &approve).unwrap();
        token
    }

    fn set_blocked(e: &mut EscrowFixture, token: Address, account: Address, blocked: bool) {
        let anyone = e.f.chain.account(6);
        let call = BlocklistToken::setBlockedCall { account, blocked };
        e.f.chain.send(anyone, token, &call).unwrap();
    }

    fn balance(e: &mut EscrowFixture, token: Address, account: Address) -> U256 {
        e.f.chain.call(e.seller, token, &BlocklistToken::balanceOfCall { account }).unwrap()
    }

    fn escrow_balance(e: &mut EscrowFixture, token: Address) -> U256 {
        let escrow = e.f.escrow;
        balance(e, token, escrow)
    }

    fn owed(e: &mut EscrowFixture, token: Address, account: Address) -> U256 {
        let call = TripartiteEscrow::owedCall { token, account };
        e.f.chain.call(e.seller, e.f.escrow, &call).unwrap()
    }

    fn withdraw(
        e: &mut EscrowFixture,
        from: Address,
        token: Address,
        to: Address,
    ) -> Result<Receipt<U256>, TxFailure> {
        e.f.chain.send(from, e.f.escrow, &TripartiteEscrow::withdrawCall { token, to })
    }

    /// A deal of `amount` in `token`, deliverable for an hour, with a 10-minute window.
    fn open_in(e: &mut EscrowFixture, token: Address, amount: u64) -> U256 {
        let call = TripartiteEscrow::openCall {
            operator: e.seller,
            token,
            amount: u(amount),
            deliveryDeadline: e.now() + 3600,
            challengeWindow: 600,
        };
        let buyer = e.buyer();
        e.f.chain.send(buyer, e.f.escrow, &call).unwrap().ret
    }

    /// A deal of 100 in `token` delivered as 50 / 30 / 20 to the payees.
    fn delivered_in(e: &mut EscrowFixture, token: Address) -> U256 {
        let deal = open_in(e, token, 100);
        e.deliver(deal, &payees(), &[50, 30, 20]).unwrap();
        deal
    }

    #[test]
    fn a_blocked_recipient_does_not_freeze_the_release_of_the_others() {
        let mut e = EscrowFixture::new();
        let token = blocklist_token(&mut e);
        let deal = delivered_in(&mut e, token);
        let [a, blocked, c] = payees();
        set_blocked(&mut e, token, blocked, true);
        e.f.chain.advance_time(601);
        let receipt = e.release(deal).unwrap();
        assert_eq!((balance(&mut e, token, a), balance(&mut e, token, c)), (u(50), u(20)));
        assert_eq!(balance(&mut e, token, blocked), U256::ZERO);
        let deferred = receipt.event::<TripartiteEscrow::PaymentDeferred>();
        assert_eq!(
            (deferred.dealId, deferred.token, deferred.recipient, deferred.amount),
            (deal, token, blocked, u(30))
        );
        assert_eq!(owed(&mut e, token, blocked), u(30));
        assert_eq!(escrow_balance(&mut e, token), u(30), "the escrow holds what it owes");

        // The blocked recipient pulls its payout to an address the token accepts.
        let elsewhere = Address::repeat_byte(0xe1);
        let receipt = withdraw(&mut e, blocked, token, elsewhere).unwrap();
        assert_eq!(receipt.ret, u(30));
        let withdrawn = receipt.event::<TripartiteEscrow::Withdrawn>();
        assert_eq!(
            (withdrawn.token, withdrawn.account, withdrawn.to, withdrawn.amount),
            (token, blocked, elsewhere, u(30))
        );
        assert_eq!(balance(&mut e, token, elsewhere), u(30));
        assert_eq!(owed(&mut e, token, blocked), U256::ZERO);
        assert_eq!(escrow_balance(&mut e, token), U256::ZERO);
        withdraw(&mut e, blocked, token, elsewhere).expect_revert(
            TripartiteEscrow::TripartiteEscrowNothingOwed { token, account: blocked },
        );
    }

    #[test]
    fn a_ruling_pays_around_a_blocked_recipient_and_a_blocked_resolver() {
        let mut e = EscrowFixture::new();
        let token = blocklist_token(&mut e);
        let (buyer, guild) = (e.buyer(), e.f.guild);
        let [a, blocked, c] = payees();
        let split = delivered_in(&mut e, token);
        let forfeit = delivered_in(&mut e, token);
        e.dispute_from(buyer, split).unwrap();
        e.dispute_from(buyer, forfeit).unwrap();
        set_blocked(&mut e, token, blocked, true);
        let before = balance(&mut e, token, buyer);
        // Half to the buyer (50, and its bond of 10 back), the rest pro rata: 25, 15, 10.
        let receipt = e.rule_from(guild, split, 5_000).unwrap();
        assert_eq!(receipt.event::<TripartiteEscrow::PaymentDeferred>().amount, u(15));
        assert_eq!(balance(&mut e, token, buyer), before + u(60));
        assert_eq!((balance(&mut e, token, a), balance(&mut e, token, c)), (u(25), u(10)));
        assert_eq!(owed(&mut e, token, blocked), u(15));
        // A forfeited bond to a resolver the token blocks is owed to the resolver.
        set_blocked(&mut e, token, guild, true);
        e.rule_from(guild, forfeit, 0).unwrap();
        assert_eq!(owed(&mut e, token, guild), u(10));
        assert_eq!(owed(&mut e, token, blocked), u(45));
        assert_eq!((balance(&mut e, token, a), balance(&mut e, token, c)), (u(75), u(30)));
        assert_eq!(escrow_balance(&mut e, token), u(55));
    }

    #[test]
    fn a_blocked_buyer_is_refunded_through_withdraw() {
        let mut e = EscrowFixture::new();
        let token = blocklist_token(&mut e);
        let buyer = e.buyer();
        let undelivered = open_in(&mut e, token, 100);
        let expired = delivered_in(&mut e, token);
        e.dispute_from(buyer, expired).unwrap();
        set_blocked(&mut e, token, buyer, true);
        e.f.chain.advance_time(3_601);
        let receipt = e.refund(undelivered).unwrap();
        assert_eq!(receipt.event::<TripartiteEscrow::PaymentDeferred>().recipient, buyer);
        e.f.chain.advance_time(DISPUTE_TIMEOUT);
        e.resolve_expired(expired).unwrap();
        assert_eq!(owed(&mut e, token, buyer), u(210), "both deals and the bond");
        let elsewhere = Address::repeat_byte(0xe2);
        withdraw(&mut e, buyer, token, elsewhere).unwrap();
        assert_eq!(balance(&mut e, token, elsewhere), u(210));
    }

    #[test]
    fn a_token_that_returns_false_is_deferred_too() {
        let mut e = EscrowFixture::new();
        let token = blocklist_token(&mut e);
        let anyone = e.f.chain.account(6);
        let quiet = BlocklistToken::setQuietFailureCall { quiet: true };
        e.f.chain.send(anyone, token, &quiet).unwrap();
        let deal = delivered_in(&mut e, token);
        let [a, blocked, c] = payees();
        set_blocked(&mut e, token, blocked, true);
        e.f.chain.advance_time(601);
        e.release(deal).unwrap();
        assert_eq!(owed(&mut e, token, blocked), u(30));
        assert_eq!((balance(&mut e, token, a), balance(&mut e, token, c)), (u(50), u(20)));
    }

    #[test]
    fn a_withdrawal_the_token_refuses_keeps_the_debt() {
        let mut e = EscrowFixture::new();
        let token = blocklist_token(&mut e);
        let deal = delivered_in(&mut e, token);
        let blocked = payees()[1];
        set_blocked(&mut e, token, blocked, true);
        e.f.chain.advance_time(601);
        e.release(deal).unwrap();
        withdraw(&mut e, blocked, token, blocked)
            .expect_revert(BlocklistToken::BlocklistTokenBlocked { account: blocked });
        withdraw(&mut e, blocked, token, Address::ZERO)
            .expect_revert(TripartiteEscrow::TripartiteEscrowZeroAddress {});
        assert_eq!(owed(&mut e, token, blocked), u(30));
        // Unblocked, it can take the payout itself.
        set_blocked(&mut e, token, blocked, false);
        withdraw(&mut e, blocked, token, blocked).unwrap();
        assert_eq!(balance(&mut e, token, blocked), u(30));
    }

    #[test]
    fn too_little_gas_reverts_the_release_instead_of_deferring_it() {
        let mut e = EscrowFixture::new();
        let deal = e.open(6_400);
        let many: Vec<Address> = (0..64u8).map(|k| Address::repeat_byte(k + 1)).collect();
        e.deliver(deal, &many, &[100; 64]).unwrap();
        e.f.chain.advance_time(601);
        let anyone = e.f.chain.account(6);
        let caller = e.f.chain.deploy_code(anyone, GasCappedCaller::BYTECODE.clone()).unwrap().ret;
        let data =
            alloy::sol_types::SolCall::abi_encode(&TripartiteEscrow::releaseCall { dealId: deal });
        // From too little gas for the first transfer to enough for all 64: a release either
        // reverts or pays everyone, never defers an unblocked recipient.
        let mut released = false;
        for cap in (20_000u64..2_000_000).step_by(15_013) {
            let snapshot = e.f.chain.snapshot();
            let call = GasCappedCaller::callWithGasCall {
                target: e.f.escrow,
                data: data.clone().into(),
                gasCap: u(cap),
            };
            let ok = e.f.chain.send(anyone, caller, &call).unwrap().ret;
            if ok {
                released = true;
                for &to in &many {
                    assert_eq!(e.f.balance(to), u(100), "gas cap {cap}");
                }
            }
            assert_eq!(
                e.state(deal),
                if ok { deal_state::RELEASED } else { deal_state::DELIVERED }
            );
            e.f.chain.revert_to(snapshot);
        }
        assert!(released, "enough gas releases");
    }
}

/// One step against direct deals.
#[derive(Debug, Clone)]
enum Op {
    Open { buyer: usize, amount: u64, deadline_in: u64, window: u64 },
    Deliver { deal: usize, weights: Vec<u64> },
    Dispute { deal: usize, by_buyer: bool },
    Rule { deal: usize, bps: u16 },
    Release { deal: usize },
    Refund { deal: usize },
    ResolveExpired { deal: usize },
    Warp { seconds: u64 },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..3, 1u64..10_000, 1u64..3_000, 0u64..2_000).prop_map(
            |(buyer, amount, deadline_in, window)| Op::Open { buyer, amount, deadline_in, window }
        ),
        (0usize..8, prop::collection::vec(0u64..5, 1..4))
            .prop_map(|(deal, weights)| Op::Deliver { deal, weights }),
        (0usize..8, prop::bool::weighted(0.8))
            .prop_map(|(deal, by_buyer)| Op::Dispute { deal, by_buyer }),
        (0usize..8, prop_oneof![Just(0u16), Just(10_000u16), 0u16..=10_001])
            .prop_map(|(deal, bps)| Op::Rule { deal, bps }),
        (0usize..8).prop_map(|deal| Op::Release { deal }),
        (0usize..8).prop_map(|deal| Op::Refund { deal }),
        (0usize..8).prop_map(|deal| Op::ResolveExpired { deal }),
        prop_oneof![0u64..200, 200u64..3_000].prop_map(|seconds| Op::Warp { seconds }),
    ]
}

/// The escrow as a plain Rust model: what each deal holds and who gets what.
#[derive(Debug, Clone)]
struct DealModel {
    buyer: usize,
    amount: u64,
    deadline: u64,
    window: u64,
    state: u8,
    delivered_at: u64,
    ruling_deadline: u64,
    /// The dispute bond the buyer paid (10% of the amount, rounded up).
    bond: u64,
    payout: Vec<(usize, u64)>,
}

/// The dispute timeout the property test runs with, short enough for its warps to pass it.
const MODEL_DISPUTE_TIMEOUT: u64 = 1_500;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A plain model of the state machine predicts every success and failure of random direct
    /// deals (disputes included, which expire after a short timeout), and after every step each
    /// party's balance is what the model says (dispute bonds included) and the escrow holds
    /// exactly the sum of its open deals and the bonds of its disputed ones.
    #[test]
    fn deals_follow_the_model_and_conserve_funds(ops in prop::collection::vec(op_strategy(), 1..40)) {
        let mut e = EscrowFixture::new();
        let guild = e.f.guild;
        e.set_timeout_from(guild, MODEL_DISPUTE_TIMEOUT).unwrap();
        let buyers = [e.f.requester, e.f.chain.account(8), e.f.chain.account(9)];
        let payees = payees();
        // Balance changes: buyers then payees.
        let mut balances: Vec<i128> = vec![0; 6];
        let start: Vec<U256> = buyers.iter().map(|&b| e.f.balance(b)).collect();
        let mut deals: Vec<DealModel> = Vec::new();
        for op in ops {
            let now = e.now();
            match op {
                Op::Open { buyer, amount, deadline_in, window } => {
                    let deal = e.open_from(buyers[buyer], u(amount), now + deadline_in, window).unwrap().ret;
                    prop_assert_eq!(deal, u(deals.len() as u64 + 1));
                    deals.push(DealModel { buyer, amount, deadline: now + deadline_in, window,
                        state: deal_state::FUNDED, delivered_at: 0, ruling_deadline: 0,
                        bond: 0, payout: Vec::new() });
                    balances[buyer] -= i128::from(amount);
                }
                Op::Deliver { deal, weights } => {
                    let Some(model) = deals.get_mut(deal) else { continue };
                    let total: u64 = weights.iter().sum::<u64>().max(1);
                    let mut amounts: Vec<u64> = weights.iter().map(|w| model.amount * w / total).collect();
                    let paid: u64 = amounts.iter().sum();
                    *amounts.last_mut().unwrap() += model.amount - paid;
                    let recipients = &payees[..amounts.len()];
                    let ok = model.state == deal_state::FUNDED && now <= model.deadline;
                    let result = e.deliver(u(deal as u64 + 1), recipients, &amounts);
                    prop_assert_eq!(result.is_ok(), ok, "deliver {:?} -> {:?}", model, result);
                    if ok {
                        model.state = deal_state::DELIVERED;
                        model.delivered_at = now;
                        model.payout = amounts.iter().enumerate().map(|(k, &a)| (3 + k, a)).collect();
                    }
                }
                Op::Dispute { deal, by_buyer } => {
                    let Some(model) = deals.get_mut(deal) else { continue };
                    let caller = if by_buyer { buyers[model.buyer] } else { e.seller };
                    let ok = by_buyer && model.state == deal_state::DELIVERED
                        && now <= model.delivered_at + model.window;
                    let result = e.dispute_from(caller, u(deal as u64 + 1));
                    prop_assert_eq!(result.is_ok(), ok, "dispute {:?}", model);
                    if ok {
                        model.state = deal_state::DISPUTED;
                        model.ruling_deadline = now + MODEL_DISPUTE_TIMEOUT;
                        model.bond = model.amount.div_ceil(10);
                        balances[model.buyer] -= i128::from(model.bond);
                    }
                }
                Op::Rule { deal, bps } => {
                    let Some(model) = deals.get_mut(deal) else { continue };
                    let ok = model.state == deal_state::DISPUTED && now <= model.ruling_deadline
                        && bps <= 10_000;
                    let guild = e.f.guild;
                    let result = e.rule_from(guild, u(deal as u64 + 1), bps);
                    prop_assert_eq!(result.is_ok(), ok, "rule {:?}", model);
                    if ok {
                        model.state = deal_state::RULED;
                        let to_buyer = model.amount * u64::from(bps) / 10_000;
                        balances[model.buyer] += i128::from(to_buyer);
                        // The bond back if the ruling gives the buyer anything, else the guild's.
                        if bps > 0 {
                            balances[model.buyer] += i128::from(model.bond);
                        }
                        let rest = model.amount - to_buyer;
                        let last = model.payout.len() - 1;
                        let mut paid = 0;
                        for (k, &(party, share)) in model.payout.iter().enumerate() {
                            let amount = if k == last {
                                rest - paid
                            } else {
                                (u128::from(rest) * u128::from(share) / u128::from(model.amount)) as u64
                            };
                            paid += amount;
                            balances[party] += i128::from(amount);
                        }
                    }
                }
                Op::Release { deal } => {
                    let Some(model) = deals.get_mut(deal) else { continue };
                    let ok = model.state == deal_state::DELIVERED && now > model.delivered_at + model.window;
                    let result = e.release(u(deal as u64 + 1));
                    prop_assert_eq!(result.is_ok(), ok, "release {:?}", model);
                    if ok {
                        model.state = deal_state::RELEASED;
                        for &(party, amount) in &model.payout { balances[party] += i128::from(amount); }
                    }
                }
                Op::Refund { deal } => {
                    let Some(model) = deals.get_mut(deal) else { continue };
                    let ok = model.state == deal_state::FUNDED && now > model.deadline;
                    let result = e.refund(u(deal as u64 + 1));
                    prop_assert_eq!(result.is_ok(), ok, "refund {:?}", model);
                    if ok {
                        model.state = deal_state::REFUNDED;
                        balances[model.buyer] += i128::from(model.amount);
                    }
                }
                Op::ResolveExpired { deal } => {
                    let Some(model) = deals.get_mut(deal) else { continue };
                    let ok = model.state == deal_state::DISPUTED && now > model.ruling_deadline;
                    let result = e.resolve_expired(u(deal as u64 + 1));
                    prop_assert_eq!(result.is_ok(), ok, "resolveExpiredDispute {:?}", model);
                    if ok {
                        model.state = deal_state::REFUNDED;
                        balances[model.buyer] += i128::from(model.amount + model.bond);
                    }
                }
                Op::Warp { seconds } => e.f.chain.advance_time(seconds),
            }
            for (k, &buyer) in buyers.iter().enumerate() {
                let expected = start[k] - U256::from(balances[k].unsigned_abs());
                prop_assert!(balances[k] <= 0, "a buyer never ends up with more than it put in");
                prop_assert_eq!(e.f.balance(buyer), expected);
            }
            for (k, &payee) in payees.iter().enumerate() {
                prop_assert_eq!(e.f.balance(payee), U256::from(balances[3 + k] as u128));
            }
            let open: u64 = deals
                .iter()
                .filter(|d| matches!(d.state, deal_state::FUNDED | deal_state::DELIVERED | deal_state::DISPUTED))
                .map(|d| d.amount + if d.state == deal_state::DISPUTED { d.bond } else { 0 })
                .sum();
            prop_assert_eq!(e.f.balance(e.f.escrow), u(open));
            for (k, model) in deals.iter().enumerate() {
                prop_assert_eq!(e.state(u(k as u64 + 1)), model.state);
            }
        }
    }
}
