// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ITripartiteEscrow} from "./ITripartiteEscrow.sol";

/**
 * @dev Buyer / operator / guild escrow (docs/economics.md); see {ITripartiteEscrow} for the state
 * machine.
 *
 * - **Conservation.** The escrow's balance of a token always equals the sum of the amounts of its
 *   open (`Funded`, `Delivered`, `Disputed`) deals in that token, plus the bonds of its `Disputed`
 *   deals, plus what it {owed} accounts in that token: {open} and {dispute} check the exact amount
 *   arrived, every final transition pays out (or credits) exactly the deal's amount and bond, and
 *   {withdraw} pays out exactly what it debits.
 * - **Retry-safe.** Each transition checks the deal's state, then writes the new state, then emits,
 *   and only then transfers (checks-effects-interactions, plus a transient reentrancy guard).
 * - **Bounded payouts.** A delivery names at most {MAX_RECIPIENTS} recipients, so {release} and
 *   {rule} always fit in a block.
 * - **Time.** Deadlines and windows are compared with `block.timestamp`; they are meant to be
 *   minutes to days long, so the few seconds a block producer can skew it do not matter.
 * - **Immutable resolver.** The resolver is fixed at construction (the guild; in a full deployment
 *   its timelock). Its only settings are the dispute timeout ({setDisputeTimeout}) and the dispute
 *   bond ({setDisputeBondBps}); there is no other admin and no upgrade path.
 * - **Disputes end.** A dispute gives the resolver {disputeTimeout} seconds (the value in force
 *   when the buyer disputes, fixed in the deal as `rulingDeadline`) to rule. After that anyone can
 *   refund the buyer in full ({resolveExpiredDispute}) and the resolver can no longer rule, so a
 *   resolver that does not act never locks funds, and the buyer, who objected within the window,
 *   keeps the benefit of the doubt. Deployments use 14 days unless the guild decides otherwise.
 * - **Disputes and answer visibility.** The work a deal pays for is public once delivered: a
 *   market deal's answer is in the settlement's calldata, readable by anyone, buyer included,
 *   before the challenge window ends. This is deliberate (anyone can re-verify a settlement and
 *   indexers can serve the answers), so the escrow cannot stop a buyer who has the answer from
 *   disputing merely to hold the payout up. It prices that delay instead: {dispute} takes a bond of
 *   {disputeBondBps} of the deal's amount (rounded up; {DEFAULT_DISPUTE_BOND_BPS} unless the guild
 *   changes it), which the buyer gets back if the ruling gives it any share or if the resolver lets
 *   the dispute expire, and forfeits to the resolver if the ruling gives it nothing.
 * - **Isolated payouts.** Each payout is one transfer, tried on its own ({SafeERC20-trySafeTransfer}):
 *   a transfer the token refuses (a blocklisted recipient, a `false` return) is credited to the
 *   recipient ({owed}, {PaymentDeferred}) instead of reverting, so one blocked recipient never
 *   freezes the others' payouts; the recipient pulls it to any address with {withdraw}. A payout
 *   that fails with almost no gas left reverts the call instead ({TripartiteEscrowInsufficientGas}),
 *   so a caller cannot force deferrals by sending too little gas.
 *
 * NOTE: Only standard ERC-20 tokens without transfer fees are supported.
 */
contract TripartiteEscrow is ITripartiteEscrow, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @dev Most recipients a delivery may name.
    uint256 public constant MAX_RECIPIENTS = 64;

    /// @dev Longest dispute timeout the resolver may set, so a dispute always ends.
    uint64 public constant MAX_DISPUTE_TIMEOUT = 365 days;

    /// @dev The dispute bond set at construction: 10% of the deal's amount.
    uint16 public constant DEFAULT_DISPUTE_BOND_BPS = 1_000;

    /// @dev 100% in basis points.
    uint16 private constant _BPS = 10_000;

    address private immutable _resolver;
    uint64 private _disputeTimeout;
    uint16 private _disputeBondBps;
    uint256 private _dealCount;
    mapping(uint256 dealId => Deal) private _deals;
    mapping(IERC20 token => mapping(address account => uint256)) private _owed;

    /**
     * @dev The resolver changed the dispute timeout of disputes raised from now on.
     * @param disputeTimeout Seconds the resolver has to rule on a dispute.
     */
    event DisputeTimeoutChanged(uint64 disputeTimeout);

    /**
     * @dev The resolver changed the dispute bond of disputes raised from now on.
     * @param disputeBondBps The bond in basis points of a deal's amount.
     */
    event DisputeBondBpsChanged(uint16 disputeBondBps);

    /**
     * @dev The resolver did not rule on a disputed deal by its ruling deadline, and the deal was
     * refunded to the buyer (together with {DealRefunded}, which carries the amount).
     * @param dealId The deal.
     * @param rulingDeadline The deadline the resolver let pass.
     */
    event DealDisputeExpired(uint256 indexed dealId, uint64 rulingDeadline);

    /**
     * @dev A dispute timeout above {MAX_DISPUTE_TIMEOUT}.
     * @param disputeTimeout The rejected timeout.
     */
    error TripartiteEscrowInvalidDisputeTimeout(uint64 disputeTimeout);

    /**
     * @dev A dispute bond above 10000 basis points.
     * @param disputeBondBps The rejected bond.
     */
    error TripartiteEscrowInvalidDisputeBond(uint16 disputeBondBps);

    /**
     * @dev Sets the resolver of every dispute, the initial dispute timeout and the initial dispute
     * bond ({DEFAULT_DISPUTE_BOND_BPS}).
     * @param resolver_ The guild (or its timelock); must not be the zero address.
     * @param disputeTimeout_ Seconds the resolver has to rule on a dispute (at most
     * {MAX_DISPUTE_TIMEOUT}; deployments use 14 days).
     */
    constructor(address resolver_, uint64 disputeTimeout_) {
        if (resolver_ == address(0)) revert TripartiteEscrowZeroAddress();
        _resolver = resolver_;
        _setDisputeTimeout(disputeTimeout_);
        _setDisputeBondBps(DEFAULT_DISPUTE_BOND_BPS);
    }

    /**
     * @dev Sets the dispute timeout of disputes raised from now on (running disputes keep their
     * ruling deadline).
     *
     * Requirements:
     *
     * - the caller is the resolver (the guild);
     * - `disputeTimeout_ <= MAX_DISPUTE_TIMEOUT`.
     *
     * Emits a {DisputeTimeoutChanged} event.
     */
    function setDisputeTimeout(uint64 disputeTimeout_) public virtual {
        if (msg.sender != _resolver) revert TripartiteEscrowNotResolver(msg.sender);
        _setDisputeTimeout(disputeTimeout_);
    }

    /**
     * @dev Sets the dispute bond of disputes raised from now on, in basis points of the deal's
     * amount (running disputes keep the bond they paid). 0 turns the bond off.
     *
     * Requirements:
     *
     * - the caller is the resolver (the guild);
     * - `disputeBondBps_ <= 10000`.
     *
     * Emits a {DisputeBondBpsChanged} event.
     */
    function setDisputeBondBps(uint16 disputeBondBps_) public virtual {
        if (msg.sender != _resolver) revert TripartiteEscrowNotResolver(msg.sender);
        _setDisputeBondBps(disputeBondBps_);
    }

    /// @inheritdoc ITripartiteEscrow
    function open(address operator, IERC20 token, uint256 amount, uint64 deliveryDeadline, uint64 challengeWindow)
        public
        virtual
        nonReentrant
        returns (uint256)
    {
        return _open(msg.sender, operator, token, amount, deliveryDeadline, challengeWindow);
    }

    /// @inheritdoc ITripartiteEscrow
    function openFor(
        address buyer,
        address operator,
        IERC20 token,
        uint256 amount,
        uint64 deliveryDeadline,
        uint64 challengeWindow
    ) public virtual nonReentrant returns (uint256) {
        return _open(buyer, operator, token, amount, deliveryDeadline, challengeWindow);
    }

    /// @inheritdoc ITripartiteEscrow
    function deliver(uint256 dealId, address[] calldata recipients, uint256[] calldata amounts)
        public
        virtual
        nonReentrant
    {
        Deal storage d = _requireState(dealId, DealState.Funded);
        if (msg.sender != d.operator) revert TripartiteEscrowNotOperator(dealId, msg.sender);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > d.deliveryDeadline) revert TripartiteEscrowDeliveryLate(dealId, d.deliveryDeadline);
        if (recipients.length != amounts.length) {
            revert TripartiteEscrowLengthMismatch(recipients.length, amounts.length);
        }
        if (recipients.length > MAX_RECIPIENTS) {
            revert TripartiteEscrowTooManyRecipients(recipients.length, MAX_RECIPIENTS);
        }
        uint256 total = 0;
        for (uint256 i = 0; i < recipients.length; ++i) {
            if (recipients[i] == address(0)) revert TripartiteEscrowZeroAddress();
            total += amounts[i];
        }
        if (total != d.amount) revert TripartiteEscrowAmountMismatch(dealId, d.amount, total);

        d.state = DealState.Delivered;
        d.deliveredAt = uint64(block.timestamp);
        d.recipients = recipients;
        d.amounts = amounts;
        emit DealDelivered(dealId, recipients, amounts, _challengeEndsAt(d));
    }

    /// @inheritdoc ITripartiteEscrow
    function release(uint256 dealId) public virtual nonReentrant {
        Deal storage d = _requireState(dealId, DealState.Delivered);
        uint256 endsAt = _challengeEndsAt(d);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp <= endsAt) revert TripartiteEscrowChallengeWindowOpen(dealId, endsAt);

        d.state = DealState.Released;
        emit DealReleased(dealId);

        IERC20 token = d.token;
        uint256 count = d.recipients.length;
        for (uint256 i = 0; i < count; ++i) {
            _pay(dealId, token, d.recipients[i], d.amounts[i]);
        }
    }

    /// @inheritdoc ITripartiteEscrow
    function dispute(uint256 dealId) public virtual nonReentrant {
        Deal storage d = _requireState(dealId, DealState.Delivered);
        if (msg.sender != d.buyer) revert TripartiteEscrowNotBuyer(dealId, msg.sender);
        uint256 endsAt = _challengeEndsAt(d);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > endsAt) revert TripartiteEscrowChallengeWindowClosed(dealId, endsAt);

        IERC20 token = d.token;
        uint256 bond = _disputeBond(d);
        if (bond > 0) {
            uint256 allowance = token.allowance(msg.sender, address(this));
            if (allowance < bond) revert TripartiteEscrowDisputeBondNotApproved(dealId, bond, allowance);
        }

        d.state = DealState.Disputed;
        // No overflow: the timeout is at most MAX_DISPUTE_TIMEOUT and timestamps are far below 2^63.
        d.rulingDeadline = uint64(block.timestamp) + _disputeTimeout;
        d.disputeBond = bond;
        emit DealDisputed(dealId);
        if (bond == 0) return;
        emit DisputeBondPaid(dealId, msg.sender, bond);

        _pull(token, msg.sender, bond);
    }

    /// @inheritdoc ITripartiteEscrow
    function rule(uint256 dealId, uint16 buyerShareBps) public virtual nonReentrant {
        if (msg.sender != _resolver) revert TripartiteEscrowNotResolver(msg.sender);
        Deal storage d = _requireState(dealId, DealState.Disputed);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > d.rulingDeadline) revert TripartiteEscrowDisputeExpired(dealId, d.rulingDeadline);
        if (buyerShareBps > _BPS) revert TripartiteEscrowInvalidShare(buyerShareBps);

        uint256 amount = d.amount;
        uint256 buyerAmount = Math.mulDiv(amount, buyerShareBps, _BPS);
        uint256 bond = d.disputeBond;
        // A ruling that gives the buyer any share says the dispute had merit: the bond goes back
        // to the buyer. A ruling for nothing forfeits it to the resolver.
        uint256 bondBack = buyerShareBps > 0 ? bond : 0;
        address buyer = d.buyer;
        d.state = DealState.Ruled;
        emit DealRuled(dealId, buyerShareBps, buyerAmount);
        if (bondBack > 0) emit DisputeBondRefunded(dealId, buyer, bondBack);
        else if (bond > 0) emit DisputeBondForfeited(dealId, _resolver, bond);

        IERC20 token = d.token;
        _pay(dealId, token, buyer, buyerAmount + bondBack);
        if (bondBack == 0) _pay(dealId, token, _resolver, bond);
        uint256 rest = amount - buyerAmount;
        if (rest == 0) return;
        uint256 count = d.recipients.length;
        uint256 paid = 0;
        for (uint256 i = 0; i + 1 < count; ++i) {
            // Pro rata to the delivered amounts, rounded down: the shares of all but the last
            // recipient sum to at most rest * (amount - amounts[last]) / amount <= rest.
            uint256 share = Math.mulDiv(rest, d.amounts[i], amount);
            paid += share;
            _pay(dealId, token, d.recipients[i], share);
        }
        _pay(dealId, token, d.recipients[count - 1], rest - paid);
    }

    /// @inheritdoc ITripartiteEscrow
    function refund(uint256 dealId) public virtual nonReentrant {
        Deal storage d = _requireState(dealId, DealState.Funded);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp <= d.deliveryDeadline) {
            revert TripartiteEscrowDeadlineNotPassed(dealId, d.deliveryDeadline);
        }

        d.state = DealState.Refunded;
        uint256 amount = d.amount;
        emit DealRefunded(dealId, amount);

        _pay(dealId, d.token, d.buyer, amount);
    }

    /// @inheritdoc ITripartiteEscrow
    function resolveExpiredDispute(uint256 dealId) public virtual nonReentrant {
        Deal storage d = _requireState(dealId, DealState.Disputed);
        uint64 deadline = d.rulingDeadline;
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp <= deadline) revert TripartiteEscrowDisputeNotExpired(dealId, deadline);

        d.state = DealState.Refunded;
        uint256 amount = d.amount;
        uint256 bond = d.disputeBond;
        address buyer = d.buyer;
        emit DealDisputeExpired(dealId, deadline);
        emit DealRefunded(dealId, amount);
        // The resolver failed to rule: the dispute is not held against the buyer.
        if (bond > 0) emit DisputeBondRefunded(dealId, buyer, bond);

        _pay(dealId, d.token, buyer, amount + bond);
    }

    /// @inheritdoc ITripartiteEscrow
    function withdraw(IERC20 token, address to) public virtual nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert TripartiteEscrowZeroAddress();
        amount = _owed[token][msg.sender];
        if (amount == 0) revert TripartiteEscrowNothingOwed(token, msg.sender);

        delete _owed[token][msg.sender];
        emit Withdrawn(token, msg.sender, to, amount);

        token.safeTransfer(to, amount);
    }

    /// @inheritdoc ITripartiteEscrow
    function deal(uint256 dealId) public view virtual returns (Deal memory) {
        return _deals[dealId];
    }

    /// @inheritdoc ITripartiteEscrow
    function dealState(uint256 dealId) public view virtual returns (DealState) {
        return _deals[dealId].state;
    }

    /// @inheritdoc ITripartiteEscrow
    function dealCount() public view virtual returns (uint256) {
        return _dealCount;
    }

    /// @inheritdoc ITripartiteEscrow
    function resolver() public view virtual returns (address) {
        return _resolver;
    }

    /// @inheritdoc ITripartiteEscrow
    function disputeTimeout() public view virtual returns (uint64) {
        return _disputeTimeout;
    }

    /// @inheritdoc ITripartiteEscrow
    function disputeBondBps() public view virtual returns (uint16) {
        return _disputeBondBps;
    }

    /// @inheritdoc ITripartiteEscrow
    function quoteDisputeBond(uint256 dealId) public view virtual returns (uint256) {
        return _disputeBond(_deals[dealId]);
    }

    /// @inheritdoc ITripartiteEscrow
    function owed(IERC20 token, address account) public view virtual returns (uint256) {
        return _owed[token][account];
    }

    /// @dev Validates and stores the dispute timeout; see {setDisputeTimeout}.
    function _setDisputeTimeout(uint64 disputeTimeout_) internal virtual {
        if (disputeTimeout_ > MAX_DISPUTE_TIMEOUT) revert TripartiteEscrowInvalidDisputeTimeout(disputeTimeout_);
        _disputeTimeout = disputeTimeout_;
        emit DisputeTimeoutChanged(disputeTimeout_);
    }

    /// @dev Validates and stores the dispute bond; see {setDisputeBondBps}.
    function _setDisputeBondBps(uint16 disputeBondBps_) internal virtual {
        if (disputeBondBps_ > _BPS) revert TripartiteEscrowInvalidDisputeBond(disputeBondBps_);
        _disputeBondBps = disputeBondBps_;
        emit DisputeBondBpsChanged(disputeBondBps_);
    }

    /**
     * @dev Records a new deal and pulls its funds from the caller, checking the exact amount
     * arrived. The deal is written before the transfer; the whole call reverts if the transfer
     * does.
     */
    function _open(
        address buyer,
        address operator,
        IERC20 token,
        uint256 amount,
        uint64 deliveryDeadline,
        uint64 challengeWindow
    ) internal virtual returns (uint256 dealId) {
        if (buyer == address(0) || operator == address(0) || address(token) == address(0)) {
            revert TripartiteEscrowZeroAddress();
        }
        if (amount == 0) revert TripartiteEscrowZeroAmount();
        // forge-lint: disable-next-line(block-timestamp)
        if (deliveryDeadline <= block.timestamp) revert TripartiteEscrowInvalidDeadline(deliveryDeadline);

        dealId = ++_dealCount;
        Deal storage d = _deals[dealId];
        d.buyer = buyer;
        d.deliveryDeadline = deliveryDeadline;
        d.state = DealState.Funded;
        d.operator = operator;
        d.challengeWindow = challengeWindow;
        d.token = token;
        d.amount = amount;
        emit DealOpened(dealId, buyer, operator, token, amount, deliveryDeadline, challengeWindow);

        _pull(token, msg.sender, amount);
    }

    /// @dev The deal `dealId`, which must be in `expected` state.
    function _requireState(uint256 dealId, DealState expected) internal view virtual returns (Deal storage d) {
        d = _deals[dealId];
        if (d.state != expected) revert TripartiteEscrowUnexpectedState(dealId, d.state);
    }

    /// @dev Last second the buyer may dispute a delivered deal.
    function _challengeEndsAt(Deal storage d) internal view virtual returns (uint256) {
        return uint256(d.deliveredAt) + d.challengeWindow;
    }

    /// @dev The bond a dispute of `d` raised now costs: {disputeBondBps} of its amount, rounded up.
    function _disputeBond(Deal storage d) internal view virtual returns (uint256) {
        return Math.mulDiv(d.amount, _disputeBondBps, _BPS, Math.Rounding.Ceil);
    }

    /// @dev Pulls `amount` of `token` from `from`, checking the exact amount arrived.
    function _pull(IERC20 token, address from, uint256 amount) private {
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(from, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) revert TripartiteEscrowTransferMismatch(amount, received);
    }

    /**
     * @dev Pays `amount` of `token` to `to` for deal `dealId`, skipping zero amounts. A transfer the
     * token refuses is credited to `to` instead (see {withdraw}), so it cannot revert the payouts
     * of others.
     *
     * Emits a {PaymentDeferred} event if the token refuses the transfer.
     */
    function _pay(uint256 dealId, IERC20 token, address to, uint256 amount) private {
        if (amount == 0) return;
        uint256 gasBefore = gasleft();
        if (token.trySafeTransfer(to, amount)) return;
        // A transfer that ran out of gas leaves this call at most 1/64 of the gas it had (EIP-150).
        // Deferring it would let a caller turn payouts into debts by sending too little gas; with
        // standard tokens the deferral's own writes cannot fit in that 1/64 anyway, so this only
        // matters for tokens whose transfers are unusually expensive.
        if (gasleft() < gasBefore / 64) revert TripartiteEscrowInsufficientGas();
        _owed[token][to] += amount;
        emit PaymentDeferred(dealId, token, to, amount);
    }
}
