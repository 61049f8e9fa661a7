// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/**
 * @dev The guild's timelock (docs/contracts.md): OpenZeppelin's {TimelockController} under its own name,
 * so the build emits a deployable artifact and bindings for it.
 *
 * In a full deployment the {GuildGovernor} is the only proposer and canceller, anyone may execute a
 * ready operation (executor `address(0)`), and no admin remains after setup: the timelock then
 * administers itself, owns every contract parameter and holds the treasury.
 */
contract GuildTimelock is TimelockController {
    /**
     * @dev Passes the configuration through to {TimelockController}.
     * @param minDelay Initial minimum delay, in seconds, between scheduling and executing.
     * @param proposers Accounts granted the proposer and canceller roles (the governor).
     * @param executors Accounts granted the executor role; `address(0)` lets anyone execute.
     * @param admin Optional setup administrator (`address(0)` for none); it should renounce once the
     * roles are in place.
     */
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
