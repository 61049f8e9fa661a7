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
 * Minting is a dev-chain faucet only while the owner keeps it. {finishMinting} mints the initial
 * balances and renounces ownership in one transaction, after which the supply is fixed for good:
 * the deployment does that on every chain but a local dev chain (docs/operations.md).
 *
 * There is no fee on transfer, no rebasing and no receiver hook, so balances move exactly as the
 * market and the escrow expect.
 */
contract BountyToken is ERC20, Ownable {
    /**
     * @dev The lists of holders and amounts given to {finishMinting} differ in length.
     * @param holders Length of the holders list.
     * @param amounts Length of the amounts list.
     */
    error BountyTokenInvalidArrayLength(uint256 holders, uint256 amounts);

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

    /**
     * @dev Mints `amounts[i]` to `holders[i]`, then renounces ownership, so nobody can ever mint
     * again.
     *
     * Requirements:
     *
     * - the caller is the owner;
     * - `holders` and `amounts` have the same length and no holder is the zero address.
     *
     * Emits a {Transfer} event per holder and an {OwnershipTransferred} event to the zero address.
     */
    function finishMinting(address[] calldata holders, uint256[] calldata amounts) public virtual onlyOwner {
        if (holders.length != amounts.length) {
            revert BountyTokenInvalidArrayLength(holders.length, amounts.length);
        }
        for (uint256 i = 0; i < holders.length; ++i) {
            _mint(holders[i], amounts[i]);
        }
        _transferOwnership(address(0));
    }
}
