// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @dev Calls a contract with a chosen gas cap, so tests can probe what a call does when its caller
 * sends too little gas (the revm test kit sends every transaction with a fixed limit). Never
 * deployed by `nsed deploy`.
 */
contract GasCappedCaller {
    /**
     * @dev Calls `target` with `data`, forwarding at most `gasCap` gas; returns whether the call
     * succeeded, without reverting when it did not.
     */
    function callWithGas(address target, bytes calldata data, uint256 gasCap) external returns (bool ok) {
        // forge-lint: disable-next-line(unchecked-call)
        (ok,) = target.call{gas: gasCap}(data);
    }
}
