// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";

/**
 * @dev The guild's governance token (docs/contracts.md): an ERC-20 with ERC-5805 votes and ERC-2612
 * permits, named "NSED Guild" ("GUILD").
 *
 * - **Timestamp clock.** Vote checkpoints are keyed by `block.timestamp` ({clock} / {CLOCK_MODE}
 *   follow ERC-6372), so every governance period (voting delay, voting period) is in seconds and
 *   behaves the same on a wall-clock dev chain and on a test chain whose time is warped.
 * - **Votes need delegation.** As with any {ERC20Votes}, a balance counts as votes only after its
 *   holder delegates (to itself or to someone else).
 * - **Genesis distribution.** The constructor mints the genesis supply straight to the listed
 *   holders (accounts, multisigs, vesting wallets), so no account, the deployer included, holds
 *   tokens it then has to hand out. The supply must be non-zero: the LAT conversion prices new
 *   tokens against the existing supply.
 * - **Minting.** Afterwards only {MINTER_ROLE} (the {LatConverter}) mints. Roles are administered by
 *   `DEFAULT_ADMIN_ROLE`, the guild's timelock in a full deployment; the constructor grants no
 *   other role. There is no upgrade path.
 */
contract GuildToken is ERC20, ERC20Permit, ERC20Votes, AccessControl {
    /// @dev Role of the contracts allowed to mint (the LAT converter).
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /**
     * @dev A required address is the zero address.
     */
    error GuildTokenZeroAddress();

    /**
     * @dev The genesis supply must be positive: the LAT conversion prices against the supply.
     */
    error GuildTokenZeroGenesisSupply();

    /**
     * @dev The genesis lists of holders and amounts differ in length.
     * @param holders Length of the holders list.
     * @param amounts Length of the amounts list.
     */
    error GuildTokenInvalidGenesisLength(uint256 holders, uint256 amounts);

    /**
     * @dev Sets the role administrator and mints the genesis distribution: `amounts[i]` to
     * `holders[i]`.
     *
     * Requirements:
     *
     * - `admin` is not the zero address;
     * - `holders` and `amounts` have the same length, no holder is the zero address, and the
     *   amounts add up to a positive supply within {ERC20Votes}' bound.
     *
     * Emits a {Transfer} event per holder.
     *
     * @param admin Receives `DEFAULT_ADMIN_ROLE` (the guild timelock in a full deployment).
     * @param holders Receive the genesis supply; a holder may appear more than once.
     * @param amounts What each holder receives, in token units (18 decimals).
     */
    constructor(address admin, address[] memory holders, uint256[] memory amounts)
        ERC20("NSED Guild", "GUILD")
        ERC20Permit("NSED Guild")
    {
        if (admin == address(0)) revert GuildTokenZeroAddress();
        if (holders.length != amounts.length) {
            revert GuildTokenInvalidGenesisLength(holders.length, amounts.length);
        }
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        for (uint256 i = 0; i < holders.length; ++i) {
            _mint(holders[i], amounts[i]);
        }
        if (totalSupply() == 0) revert GuildTokenZeroGenesisSupply();
    }

    /**
     * @dev Mints `amount` tokens to `to`.
     *
     * Requirements:
     *
     * - the caller has {MINTER_ROLE};
     * - `to` is not the zero address; the supply stays within {ERC20Votes}' bound.
     *
     * Emits a {Transfer} event.
     */
    function mint(address to, uint256 amount) external virtual onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /**
     * @dev The ERC-6372 clock: the current block timestamp.
     */
    function clock() public view virtual override returns (uint48) {
        return Time.timestamp();
    }

    /**
     * @dev The ERC-6372 clock mode: timestamps.
     */
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public view virtual override returns (string memory) {
        return "mode=timestamp";
    }

    /// @inheritdoc ERC20Permit
    function nonces(address owner) public view virtual override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    /**
     * @dev The single place balances change: {ERC20}'s accounting plus {ERC20Votes}' checkpoints.
     */
    function _update(address from, address to, uint256 value) internal virtual override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }
}
