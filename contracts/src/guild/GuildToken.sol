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
 * - **Genesis supply.** The constructor mints a non-zero genesis supply that bootstraps the guild:
 *   the LAT conversion prices new tokens against the existing supply, so it needs one.
 * - **Minting.** Afterwards only {MINTER_ROLE} (the {LatConverter}) mints. Roles are administered by
 *   `DEFAULT_ADMIN_ROLE`, the guild's timelock in a full deployment. There is no upgrade path.
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
     * @dev Sets the role administrator and mints the genesis supply.
     * @param admin Receives `DEFAULT_ADMIN_ROLE` (the guild timelock in a full deployment).
     * @param genesisHolder Receives the genesis supply.
     * @param genesisSupply The genesis supply, in token units (18 decimals); must be positive.
     */
    constructor(address admin, address genesisHolder, uint256 genesisSupply)
        ERC20("NSED Guild", "GUILD")
        ERC20Permit("NSED Guild")
    {
        if (admin == address(0)) revert GuildTokenZeroAddress();
        if (genesisSupply == 0) revert GuildTokenZeroGenesisSupply();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _mint(genesisHolder, genesisSupply);
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
