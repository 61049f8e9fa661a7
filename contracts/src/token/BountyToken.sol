// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/**
 * @dev The demo and test bounty token of NSED on chain ("NSED Bounty", `NSEDB`, 18 decimals): a plain
 * OpenZeppelin ERC-20 whose owner mints. Deliberation jobs are paid in it on local stacks and in
 * tests; a real deployment can price jobs in any standard ERC-20 instead (the market takes the
 * token at construction).
 *
 * There is no fee on transfer, no rebasing and no receiver hook, so balances move exactly as the
 * market and the escrow expect.
 */
contract BountyToken is ERC20, Ownable {
    /**
     * @dev Sets the name, symbol and the minting owner.
     * @param initialOwner Account allowed to {mint} (the deployer or the guild).
     */
    constructor(address initialOwner) ERC20("NSED Bounty", "NSEDB") Ownable(initialOwner) {}

    /**
     * @dev Mints `amount` tokens to `to`.
     *
     * Requirements:
     *
     * - the caller is the owner;
     * - `to` is not the zero address.
     *
     * Emits a {Transfer} event.
     */
    function mint(address to, uint256 amount) public virtual onlyOwner {
        _mint(to, amount);
    }
}
