// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/**
 * @dev The competence ladder (docs/economics.md): an ERC-1155 whose token id is a rank level (1, 2, …).
 *
 * - **Soulbound.** Balances never move between accounts: merit is not for sale (tradable value is
 *   carried by Liquid Access Tokens). Transfers and approvals revert with {RankTokenSoulbound}.
 * - **Only games change balances.** Accounts holding {GAME_ROLE} (the arena, the deliberation market)
 *   mint, burn and lock. Roles are administered by `DEFAULT_ADMIN_ROLE`, meant to be the guild's
 *   timelock; there is no other privileged path and no upgrade path.
 * - **Locks belong to the game that took them.** A game locks a player's rank token while the player
 *   is seated; the locked amount can only be released or burned by that same game, and no other game
 *   can burn into it ({burn} only takes unlocked balance).
 * - **No receiver hooks.** Mints and burns go through {_update} directly, never through
 *   `onERC1155Received`, so a player contract can never make a game's close revert.
 *
 * Invariant: for every account and rank, `balanceOf >= lockedBalanceOf`, and `lockedBalanceOf` is the
 * sum of {lockedBy} over all games.
 */
contract RankToken is ERC1155, AccessControl {
    /// @dev Role of contracts allowed to mint, burn, lock and unlock ranks.
    bytes32 public constant GAME_ROLE = keccak256("GAME_ROLE");

    mapping(address account => mapping(uint256 rank => uint256)) private _lockedTotal;
    mapping(address account => mapping(uint256 rank => mapping(address game => uint256))) private _lockedBy;

    /**
     * @dev `amount` of `account`'s rank-`rank` tokens were locked by `game`.
     * @param account The token holder.
     * @param rank The rank level (token id).
     * @param game The game contract that holds the lock.
     * @param amount The newly locked amount.
     */
    event RankLocked(address indexed account, uint256 indexed rank, address indexed game, uint256 amount);

    /**
     * @dev `amount` of `account`'s rank-`rank` tokens locked by `game` were released.
     * @param account The token holder.
     * @param rank The rank level (token id).
     * @param game The game contract that held the lock.
     * @param amount The released amount.
     */
    event RankUnlocked(address indexed account, uint256 indexed rank, address indexed game, uint256 amount);

    /**
     * @dev Rank tokens cannot be transferred or approved for transfer.
     * @param from The would-be sender (or the approving owner).
     * @param to The would-be receiver (or the operator).
     */
    error RankTokenSoulbound(address from, address to);

    /**
     * @dev Rank levels start at 1; `rank` is not one.
     * @param rank The rejected rank.
     */
    error RankTokenInvalidRank(uint256 rank);

    /**
     * @dev `account` has only `available` unlocked rank-`rank` tokens, `needed` are required.
     * @param account The token holder.
     * @param rank The rank level.
     * @param available The unlocked balance.
     * @param needed The amount the call needed.
     */
    error RankTokenInsufficientUnlocked(address account, uint256 rank, uint256 available, uint256 needed);

    /**
     * @dev `game` holds only `locked` of `account`'s rank-`rank` tokens, `needed` are required.
     * @param account The token holder.
     * @param rank The rank level.
     * @param game The game that tried to use its lock.
     * @param locked The amount that game holds locked.
     * @param needed The amount the call needed.
     */
    error RankTokenInsufficientLocked(address account, uint256 rank, address game, uint256 locked, uint256 needed);

    /**
     * @dev Amounts must be positive; zero-amount moves are rejected so every event means a change.
     */
    error RankTokenZeroAmount();

    /**
     * @dev Sets the metadata URI template (ERC-1155 `{id}` substitution) and the role administrator.
     * @param uri_ Metadata URI template.
     * @param admin Receives `DEFAULT_ADMIN_ROLE` (the guild timelock in a full deployment).
     */
    constructor(string memory uri_, address admin) ERC1155(uri_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /**
     * @dev Mints `amount` rank-`rank` tokens to `to` (no receiver hook).
     *
     * Requirements:
     *
     * - the caller has {GAME_ROLE};
     * - `rank >= 1`, `amount > 0`, `to` is not the zero address.
     *
     * Emits a {TransferSingle} event.
     */
    function mint(address to, uint256 rank, uint256 amount) external virtual onlyRole(GAME_ROLE) {
        _checkRankAndAmount(rank, amount);
        if (to == address(0)) revert ERC1155InvalidReceiver(address(0));
        _update(address(0), to, _single(rank), _single(amount));
    }

    /**
     * @dev Burns `amount` of `from`'s *unlocked* rank-`rank` tokens.
     *
     * Requirements:
     *
     * - the caller has {GAME_ROLE};
     * - `rank >= 1`, `amount > 0`;
     * - `unlockedBalanceOf(from, rank) >= amount`: locks of any game are never burned here.
     *
     * Emits a {TransferSingle} event.
     */
    function burn(address from, uint256 rank, uint256 amount) external virtual onlyRole(GAME_ROLE) {
        _checkRankAndAmount(rank, amount);
        _requireUnlocked(from, rank, amount);
        _update(from, address(0), _single(rank), _single(amount));
    }

    /**
     * @dev Locks `amount` of `account`'s unlocked rank-`rank` tokens under the calling game.
     *
     * Requirements:
     *
     * - the caller has {GAME_ROLE};
     * - `rank >= 1`, `amount > 0`;
     * - `unlockedBalanceOf(account, rank) >= amount`.
     *
     * Emits a {RankLocked} event.
     */
    function lock(address account, uint256 rank, uint256 amount) external virtual onlyRole(GAME_ROLE) {
        _checkRankAndAmount(rank, amount);
        _requireUnlocked(account, rank, amount);
        _lockedTotal[account][rank] += amount;
        _lockedBy[account][rank][msg.sender] += amount;
        emit RankLocked(account, rank, msg.sender, amount);
    }

    /**
     * @dev Releases `amount` of `account`'s rank-`rank` tokens locked by the calling game.
     *
     * Requirements:
     *
     * - the caller has {GAME_ROLE};
     * - `rank >= 1`, `amount > 0`;
     * - the caller holds at least `amount` locked.
     *
     * Emits a {RankUnlocked} event.
     */
    function unlock(address account, uint256 rank, uint256 amount) external virtual onlyRole(GAME_ROLE) {
        _checkRankAndAmount(rank, amount);
        _releaseLock(account, rank, amount);
        emit RankUnlocked(account, rank, msg.sender, amount);
    }

    /**
     * @dev Burns `amount` of `account`'s rank-`rank` tokens out of the calling game's lock (a seated
     * player's stake at the end of a game).
     *
     * Requirements:
     *
     * - the caller has {GAME_ROLE};
     * - `rank >= 1`, `amount > 0`;
     * - the caller holds at least `amount` locked.
     *
     * Emits a {RankUnlocked} and a {TransferSingle} event.
     */
    function burnLocked(address account, uint256 rank, uint256 amount) external virtual onlyRole(GAME_ROLE) {
        _checkRankAndAmount(rank, amount);
        _releaseLock(account, rank, amount);
        emit RankUnlocked(account, rank, msg.sender, amount);
        _update(account, address(0), _single(rank), _single(amount));
    }

    /// @dev Total amount of `account`'s rank-`rank` tokens locked by any game.
    function lockedBalanceOf(address account, uint256 rank) public view virtual returns (uint256) {
        return _lockedTotal[account][rank];
    }

    /// @dev Amount of `account`'s rank-`rank` tokens locked by `game`.
    function lockedBy(address account, uint256 rank, address game) public view virtual returns (uint256) {
        return _lockedBy[account][rank][game];
    }

    /// @dev `account`'s rank-`rank` balance that is free to lock or burn.
    function unlockedBalanceOf(address account, uint256 rank) public view virtual returns (uint256) {
        // Invariant balance >= locked total makes this subtraction safe.
        return balanceOf(account, rank) - _lockedTotal[account][rank];
    }

    /**
     * @dev Always reverts: rank tokens are soulbound, so there is nothing to approve.
     */
    function setApprovalForAll(address operator, bool) public virtual override {
        revert RankTokenSoulbound(msg.sender, operator);
    }

    /// @inheritdoc ERC1155
    function supportsInterface(bytes4 interfaceId) public view virtual override(ERC1155, AccessControl) returns (bool) {
        return super.supportsInterface(interfaceId);
    }

    /**
     * @dev The single place balances change. Rejects every account-to-account move (soulbound); mints
     * and burns come only from the game functions above, which have already checked locks.
     */
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values)
        internal
        virtual
        override
    {
        if (from != address(0) && to != address(0)) revert RankTokenSoulbound(from, to);
        super._update(from, to, ids, values);
    }

    function _releaseLock(address account, uint256 rank, uint256 amount) private {
        uint256 held = _lockedBy[account][rank][msg.sender];
        if (held < amount) revert RankTokenInsufficientLocked(account, rank, msg.sender, held, amount);
        // No underflow: held >= amount was just checked, and the total is the sum over games >= held.
        unchecked {
            _lockedBy[account][rank][msg.sender] = held - amount;
            _lockedTotal[account][rank] -= amount;
        }
    }

    function _requireUnlocked(address account, uint256 rank, uint256 amount) private view {
        uint256 available = unlockedBalanceOf(account, rank);
        if (available < amount) revert RankTokenInsufficientUnlocked(account, rank, available, amount);
    }

    function _checkRankAndAmount(uint256 rank, uint256 amount) private pure {
        if (rank == 0) revert RankTokenInvalidRank(rank);
        if (amount == 0) revert RankTokenZeroAmount();
    }

    function _single(uint256 value) private pure returns (uint256[] memory array) {
        array = new uint256[](1);
        array[0] = value;
    }
}
