// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @dev An ERC-20 with a blocklist, like USDC's and USDT's: a blocked account can neither send nor
 * receive. Anyone may mint and (un)block, so tests set up any situation. Never deployed by
 * `nsed deploy`.
 *
 * A transfer to or from a blocked account reverts with {BlocklistTokenBlocked}, or, once
 * {setQuietFailure} is on, `transfer` returns `false` instead (the other failure mode of
 * non-reverting tokens), so both are tested.
 */
contract BlocklistToken is ERC20 {
    mapping(address account => bool) private _blocked;
    bool private _quietFailure;

    /**
     * @dev `account` was blocked or unblocked.
     * @param account The account.
     * @param blocked Whether it is blocked now.
     */
    event BlockedSet(address indexed account, bool blocked);

    /**
     * @dev A transfer involved a blocked account.
     * @param account The blocked account.
     */
    error BlocklistTokenBlocked(address account);

    /// @dev Sets the name and symbol.
    constructor() ERC20("Blocklist Token", "BLOCK") {}

    /**
     * @dev Mints `amount` to `to`; anyone may.
     *
     * Emits a {Transfer} event.
     */
    function mint(address to, uint256 amount) public virtual {
        _mint(to, amount);
    }

    /**
     * @dev Blocks or unblocks `account`; anyone may.
     *
     * Emits a {BlockedSet} event.
     */
    function setBlocked(address account, bool blocked) public virtual {
        _blocked[account] = blocked;
        emit BlockedSet(account, blocked);
    }

    /// @dev Makes `transfer` involving a blocked account return `false` instead of reverting.
    function setQuietFailure(bool quiet) public virtual {
        _quietFailure = quiet;
    }

    /// @dev Whether `account` is blocked.
    function isBlocked(address account) public view virtual returns (bool) {
        return _blocked[account];
    }

    /// @dev Returns `false` instead of reverting for a blocked party when quiet failure is on.
    function transfer(address to, uint256 value) public virtual override returns (bool) {
        if (_quietFailure && (_blocked[msg.sender] || _blocked[to])) return false;
        return super.transfer(to, value);
    }

    /// @dev Refuses any movement from or to a blocked account.
    function _update(address from, address to, uint256 value) internal virtual override {
        if (_blocked[from]) revert BlocklistTokenBlocked(from);
        if (_blocked[to]) revert BlocklistTokenBlocked(to);
        super._update(from, to, value);
    }
}
