// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/**
 * @dev Escrow between a buyer, an operator (who delivers) and the guild, which resolves disputes
 * (docs/economics.md).
 *
 * A deal holds `amount` of one ERC-20 and moves through:
 *
 * - `Funded` ({open}, {openFor}) → `Delivered` when the operator names who gets paid ({deliver},
 *   at or before `deliveryDeadline`);
 * - `Delivered` → `Released` once the challenge window has passed ({release}, anyone): the
 *   recipients are paid as delivered;
 * - `Delivered` → `Disputed` when the buyer objects within the window ({dispute}), paying a
 *   dispute bond in the deal's token;
 * - `Disputed` → `Ruled` when the resolver splits the funds between buyer and recipients ({rule}),
 *   at or before the deal's `rulingDeadline` (the dispute's time plus the escrow's dispute timeout
 *   at that time); the bond goes back to the buyer if the ruling gives it any share, else to the
 *   resolver;
 * - `Disputed` → `Refunded` after `rulingDeadline` without a ruling ({resolveExpiredDispute},
 *   anyone): a resolver that does not decide in time cannot keep the funds locked, and the default
 *   is the buyer's full refund, bond included;
 * - `Funded` → `Refunded` after `deliveryDeadline` without delivery ({refund}, anyone): the buyer
 *   gets everything back.
 *
 * Time bounds are inclusive on the side of the earlier phase: a deal can be delivered at
 * `deliveryDeadline` and refunded after it; it can be disputed at `deliveredAt + challengeWindow`
 * and released after it (`deliveredAt + challengeWindow` is computed in 256 bits, so it never
 * overflows); it can be ruled on at `rulingDeadline` and resolved as expired after it. Every
 * transition checks the state first and reverts with {TripartiteEscrowUnexpectedState} otherwise,
 * so a retried call never pays twice.
 *
 * Payouts are pushed, one transfer per recipient, and each is isolated: a transfer the token
 * refuses (a blocklisted recipient, a token that returns `false`) does not revert the transition;
 * the amount is credited to the recipient instead ({PaymentDeferred}, {owed}), and the recipient
 * pulls it to an address of its choice with {withdraw}. One blocked recipient never freezes the
 * others' payouts.
 */
interface ITripartiteEscrow {
    /// @dev Lifecycle of a deal. `Released`, `Ruled` and `Refunded` are final.
    enum DealState {
        None,
        Funded,
        Delivered,
        Disputed,
        Released,
        Ruled,
        Refunded
    }

    /**
     * @dev One deal.
     * @param buyer Who paid and receives refunds (and a ruling's buyer share).
     * @param deliveryDeadline Unix time after which an undelivered deal can be refunded.
     * @param state Where the deal stands.
     * @param operator Who delivers and names the recipients.
     * @param challengeWindow Seconds after delivery during which the buyer may dispute.
     * @param token The escrowed ERC-20.
     * @param deliveredAt Unix time of delivery (0 before).
     * @param rulingDeadline Last second the resolver may rule on the dispute (0 before a dispute);
     * after it anyone may refund the buyer.
     * @param amount Escrowed amount.
     * @param disputeBond What the buyer bonded to dispute (0 before a dispute, or if the bond was
     * off); kept after the outcome for the record.
     * @param recipients Who gets paid on release, as delivered (empty before delivery).
     * @param amounts What each recipient gets on release; sums to `amount`.
     */
    struct Deal {
        address buyer;
        uint64 deliveryDeadline;
        DealState state;
        address operator;
        uint64 challengeWindow;
        IERC20 token;
        uint64 deliveredAt;
        uint64 rulingDeadline;
        uint256 amount;
        uint256 disputeBond;
        address[] recipients;
        uint256[] amounts;
    }

    /**
     * @dev A deal was opened and funded.
     * @param dealId The new deal.
     * @param buyer Who is refunded if the deal fails.
     * @param operator Who delivers.
     * @param token The escrowed ERC-20.
     * @param amount Escrowed amount.
     * @param deliveryDeadline Last time delivery is accepted.
     * @param challengeWindow Seconds the buyer has to dispute after delivery.
     */
    event DealOpened(
        uint256 indexed dealId,
        address indexed buyer,
        address indexed operator,
        IERC20 token,
        uint256 amount,
        uint64 deliveryDeadline,
        uint64 challengeWindow
    );

    /**
     * @dev The operator delivered and named the payout.
     * @param dealId The deal.
     * @param recipients Who gets paid on release.
     * @param amounts What each recipient gets.
     * @param challengeEndsAt Last time the buyer may dispute.
     */
    event DealDelivered(uint256 indexed dealId, address[] recipients, uint256[] amounts, uint256 challengeEndsAt);

    /**
     * @dev The buyer disputed a delivery; the resolver decides, at the latest by the deal's
     * `rulingDeadline`.
     * @param dealId The deal.
     */
    event DealDisputed(uint256 indexed dealId);

    /**
     * @dev The buyer paid the dispute bond of a deal it disputed (not emitted when the bond is 0).
     * @param dealId The deal.
     * @param payer The buyer.
     * @param amount The bond, in the deal's token.
     */
    event DisputeBondPaid(uint256 indexed dealId, address indexed payer, uint256 amount);

    /**
     * @dev A dispute bond went back to the buyer: the ruling gave it a share, or the resolver let
     * the dispute expire.
     * @param dealId The deal.
     * @param to The buyer.
     * @param amount The bond.
     */
    event DisputeBondRefunded(uint256 indexed dealId, address indexed to, uint256 amount);

    /**
     * @dev A dispute bond went to the resolver: the ruling gave the buyer nothing.
     * @param dealId The deal.
     * @param to The resolver.
     * @param amount The bond.
     */
    event DisputeBondForfeited(uint256 indexed dealId, address indexed to, uint256 amount);

    /**
     * @dev The token refused a payout (e.g. a blocklisted recipient), so it was credited to the
     * recipient instead, to be pulled with {withdraw}.
     * @param dealId The deal that paid out.
     * @param token The token.
     * @param recipient Who is owed the amount.
     * @param amount The amount now owed on top of what was owed before.
     */
    event PaymentDeferred(uint256 indexed dealId, IERC20 indexed token, address indexed recipient, uint256 amount);

    /**
     * @dev An account pulled what it was owed.
     * @param token The token.
     * @param account Who was owed.
     * @param to Where the tokens went.
     * @param amount What was paid (all that was owed).
     */
    event Withdrawn(IERC20 indexed token, address indexed account, address indexed to, uint256 amount);

    /**
     * @dev The resolver ruled on a disputed deal and the funds were paid out.
     * @param dealId The deal.
     * @param buyerShareBps The buyer's share in basis points (10000 = full refund).
     * @param buyerAmount What the buyer received; the rest went to the recipients pro rata.
     */
    event DealRuled(uint256 indexed dealId, uint16 buyerShareBps, uint256 buyerAmount);

    /**
     * @dev A delivered deal was paid out to its recipients after the challenge window.
     * @param dealId The deal.
     */
    event DealReleased(uint256 indexed dealId);

    /**
     * @dev A deal was returned to its buyer in full: undelivered after the delivery deadline
     * ({refund}), or disputed and not ruled on by its ruling deadline ({resolveExpiredDispute}).
     * @param dealId The deal.
     * @param amount What the buyer received.
     */
    event DealRefunded(uint256 indexed dealId, uint256 amount);

    /**
     * @dev The deal is not in a state that allows the call (including unknown deals, in `None`).
     * @param dealId The deal.
     * @param current Its current state.
     */
    error TripartiteEscrowUnexpectedState(uint256 dealId, DealState current);

    /**
     * @dev Only the deal's operator may deliver.
     * @param dealId The deal.
     * @param caller The rejected caller.
     */
    error TripartiteEscrowNotOperator(uint256 dealId, address caller);

    /**
     * @dev Only the deal's buyer may dispute.
     * @param dealId The deal.
     * @param caller The rejected caller.
     */
    error TripartiteEscrowNotBuyer(uint256 dealId, address caller);

    /**
     * @dev Only the resolver may rule.
     * @param caller The rejected caller.
     */
    error TripartiteEscrowNotResolver(address caller);

    /**
     * @dev An address that must be set is the zero address (resolver, buyer, operator, token or a
     * recipient).
     */
    error TripartiteEscrowZeroAddress();

    /// @dev Deals must escrow a positive amount.
    error TripartiteEscrowZeroAmount();

    /**
     * @dev The delivery deadline is not in the future when opening.
     * @param deliveryDeadline The rejected deadline.
     */
    error TripartiteEscrowInvalidDeadline(uint64 deliveryDeadline);

    /**
     * @dev The token moved a different amount than requested (fee-on-transfer or rebasing tokens
     * are not supported: they would break conservation).
     * @param expected The requested amount.
     * @param received What the escrow's balance grew by.
     */
    error TripartiteEscrowTransferMismatch(uint256 expected, uint256 received);

    /**
     * @dev Delivery came after the deadline.
     * @param dealId The deal.
     * @param deliveryDeadline The deadline that passed.
     */
    error TripartiteEscrowDeliveryLate(uint256 dealId, uint64 deliveryDeadline);

    /**
     * @dev A refund was asked for before the delivery deadline passed.
     * @param dealId The deal.
     * @param deliveryDeadline The deadline, still running.
     */
    error TripartiteEscrowDeadlineNotPassed(uint256 dealId, uint64 deliveryDeadline);

    /**
     * @dev A release was asked for while the buyer can still dispute.
     * @param dealId The deal.
     * @param challengeEndsAt Last second of the challenge window.
     */
    error TripartiteEscrowChallengeWindowOpen(uint256 dealId, uint256 challengeEndsAt);

    /**
     * @dev A dispute came after the challenge window closed.
     * @param dealId The deal.
     * @param challengeEndsAt Last second of the challenge window.
     */
    error TripartiteEscrowChallengeWindowClosed(uint256 dealId, uint256 challengeEndsAt);

    /**
     * @dev A ruling came after the dispute's ruling deadline (anyone may now refund the buyer with
     * {resolveExpiredDispute}).
     * @param dealId The deal.
     * @param rulingDeadline Last second the resolver could rule.
     */
    error TripartiteEscrowDisputeExpired(uint256 dealId, uint64 rulingDeadline);

    /**
     * @dev An expired-dispute refund was asked for while the resolver may still rule.
     * @param dealId The deal.
     * @param rulingDeadline Last second the resolver may rule.
     */
    error TripartiteEscrowDisputeNotExpired(uint256 dealId, uint64 rulingDeadline);

    /**
     * @dev `recipients` and `amounts` differ in length.
     * @param recipients Number of recipients.
     * @param amounts Number of amounts.
     */
    error TripartiteEscrowLengthMismatch(uint256 recipients, uint256 amounts);

    /**
     * @dev More recipients than a release can safely pay in one transaction.
     * @param count The number given.
     * @param max {MAX_RECIPIENTS}.
     */
    error TripartiteEscrowTooManyRecipients(uint256 count, uint256 max);

    /**
     * @dev The delivered amounts do not add up to the escrowed amount.
     * @param dealId The deal.
     * @param expected The escrowed amount.
     * @param actual The sum of the delivered amounts.
     */
    error TripartiteEscrowAmountMismatch(uint256 dealId, uint256 expected, uint256 actual);

    /**
     * @dev The buyer has not approved the escrow for the dispute bond.
     * @param dealId The deal.
     * @param bond The bond the dispute needs.
     * @param allowance What the buyer has approved.
     */
    error TripartiteEscrowDisputeBondNotApproved(uint256 dealId, uint256 bond, uint256 allowance);

    /**
     * @dev {withdraw} by an account that is owed nothing in the token.
     * @param token The token.
     * @param account The caller.
     */
    error TripartiteEscrowNothingOwed(IERC20 token, address account);

    /**
     * @dev A payout failed with too little gas left to tell a refusing token from a caller that
     * sent too little gas; retry with more gas.
     */
    error TripartiteEscrowInsufficientGas();

    /**
     * @dev A ruling's buyer share is above 10000 basis points.
     * @param buyerShareBps The rejected share.
     */
    error TripartiteEscrowInvalidShare(uint16 buyerShareBps);

    /**
     * @dev Opens a deal with the caller as buyer, pulling `amount` of `token` from the caller (which
     * must have approved the escrow). Returns the new deal id (starting at 1).
     *
     * Requirements:
     *
     * - `operator` and `token` are not zero, `amount > 0`;
     * - `deliveryDeadline` is in the future;
     * - the token transfers exactly `amount`.
     *
     * Emits a {DealOpened} event.
     */
    function open(address operator, IERC20 token, uint256 amount, uint64 deliveryDeadline, uint64 challengeWindow)
        external
        returns (uint256 dealId);

    /**
     * @dev Like {open}, but records `buyer` as the deal's buyer while pulling the funds from the
     * caller (the market opens its jobs' deals so refunds go to the requester).
     */
    function openFor(
        address buyer,
        address operator,
        IERC20 token,
        uint256 amount,
        uint64 deliveryDeadline,
        uint64 challengeWindow
    ) external returns (uint256 dealId);

    /**
     * @dev Delivers a funded deal: on release, `recipients[i]` gets `amounts[i]`. Starts the
     * challenge window.
     *
     * Requirements:
     *
     * - the deal is `Funded` and the caller is its operator;
     * - `block.timestamp <= deliveryDeadline`;
     * - one amount per recipient, at most {MAX_RECIPIENTS}, no zero recipient, `Σ amounts == amount`.
     *
     * Emits a {DealDelivered} event.
     */
    function deliver(uint256 dealId, address[] calldata recipients, uint256[] calldata amounts) external;

    /**
     * @dev Pays a delivered deal out to its recipients once the challenge window has passed; anyone
     * may call. A payout the token refuses is owed to its recipient instead.
     *
     * Requirements:
     *
     * - the deal is `Delivered`;
     * - `block.timestamp > deliveredAt + challengeWindow`.
     *
     * Emits a {DealReleased} event, and a {PaymentDeferred} event per refused payout.
     */
    function release(uint256 dealId) external;

    /**
     * @dev The buyer disputes a delivery, handing the decision to the resolver, who has until
     * `rulingDeadline = block.timestamp + disputeTimeout()` (the timeout in force now; later changes
     * do not affect this dispute). The buyer pays the dispute bond, {quoteDisputeBond}, in the deal's
     * token (recorded in the deal): back to the buyer if the ruling gives it any share or the
     * dispute expires, to the resolver if the ruling gives it nothing.
     *
     * Requirements:
     *
     * - the deal is `Delivered` and the caller is its buyer;
     * - `block.timestamp <= deliveredAt + challengeWindow`;
     * - the buyer approved the escrow for the bond and holds it.
     *
     * Emits a {DealDisputed} event, and a {DisputeBondPaid} event if the bond is not zero.
     */
    function dispute(uint256 dealId) external;

    /**
     * @dev The resolver settles a disputed deal: the buyer gets `buyerShareBps` of the amount
     * (rounded down), the recipients share the rest pro rata to their delivered amounts (rounded
     * down, the dust to the last recipient). 10000 refunds the buyer in full; 0 pays as delivered.
     *
     * The dispute bond goes back to the buyer if `buyerShareBps > 0` (the dispute had merit), and
     * to the resolver if it is 0. A payout the token refuses is owed to its recipient instead.
     *
     * Requirements:
     *
     * - the caller is the resolver;
     * - the deal is `Disputed` and `block.timestamp <= rulingDeadline`;
     * - `buyerShareBps <= 10000`.
     *
     * Emits a {DealRuled} event, a {DisputeBondRefunded} or {DisputeBondForfeited} event if the bond
     * is not zero, and a {PaymentDeferred} event per refused payout.
     */
    function rule(uint256 dealId, uint16 buyerShareBps) external;

    /**
     * @dev Refunds a disputed deal in full to its buyer, dispute bond included, once the resolver
     * let the ruling deadline pass; anyone may call. A refund the token refuses is owed to the buyer
     * instead.
     *
     * Requirements:
     *
     * - the deal is `Disputed`;
     * - `block.timestamp > rulingDeadline`.
     *
     * Emits a {DealRefunded} event, a {DisputeBondRefunded} event if the bond is not zero, and a
     * {PaymentDeferred} event if the token refuses the refund.
     */
    function resolveExpiredDispute(uint256 dealId) external;

    /**
     * @dev Returns an undelivered deal to its buyer after the delivery deadline; anyone may call.
     * A refund the token refuses is owed to the buyer instead.
     *
     * Requirements:
     *
     * - the deal is `Funded`;
     * - `block.timestamp > deliveryDeadline`.
     *
     * Emits a {DealRefunded} event, and a {PaymentDeferred} event if the token refuses the refund.
     */
    function refund(uint256 dealId) external;

    /**
     * @dev Pays the caller's whole {owed} balance of `token` (payouts the token refused) to `to`,
     * which may be any address, e.g. one the token does not block. Returns the amount.
     *
     * Requirements:
     *
     * - `to` is not the zero address;
     * - the caller is owed something in `token`;
     * - the token transfers to `to` (otherwise nothing changes and the caller may try another
     *   address).
     *
     * Emits a {Withdrawn} event.
     */
    function withdraw(IERC20 token, address to) external returns (uint256 amount);

    /// @dev The deal `dealId` (all zero for unknown ids).
    function deal(uint256 dealId) external view returns (Deal memory);

    /// @dev The state of deal `dealId` (`None` for unknown ids).
    function dealState(uint256 dealId) external view returns (DealState);

    /// @dev Number of deals opened so far; ids run from 1 to this count.
    function dealCount() external view returns (uint256);

    /// @dev The account that rules on disputes (the guild, later its timelock).
    function resolver() external view returns (address);

    /// @dev Seconds the resolver has to rule on a dispute raised now.
    function disputeTimeout() external view returns (uint64);

    /// @dev The dispute bond, in basis points of the deal's amount, of a dispute raised now.
    function disputeBondBps() external view returns (uint16);

    /**
     * @dev The bond a dispute of deal `dealId` raised now costs: `disputeBondBps()` of its amount,
     * rounded up, so no deal can be disputed for free while the bond is on. What the buyer must
     * approve before {dispute}.
     */
    function quoteDisputeBond(uint256 dealId) external view returns (uint256);

    /// @dev What the escrow owes `account` in `token` (payouts the token refused), see {withdraw}.
    function owed(IERC20 token, address account) external view returns (uint256);
}
