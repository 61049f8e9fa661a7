// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {AgentRegistry} from "../src/agents/AgentRegistry.sol";

/**
 * @dev An {AgentRegistry} whose pool the Rust tests can fill with thousands of synthetic agents in a
 * few transactions, to measure {AgentRegistry-drawSeats} on large pools. Never deployed by
 * `nsed deploy`.
 *
 * The filler is the fallback function, so the harness has exactly the registry's selectors and
 * dispatches every registry function along the same path: its draws cost what the registry's
 * draws cost (the gas snapshot test checks this on a pool both can hold).
 */
contract AgentRegistryHarness is AgentRegistry {
    /// @dev Same parameters as {AgentRegistry}.
    constructor(IERC20 token_, address guild_, uint256 minBond_, uint64 unbondDelay_, uint16 reporterBps_)
        AgentRegistry(token_, guild_, minBond_, unbondDelay_, reporterBps_)
    {}

    /**
     * @dev Calldata `abi.encode(address[] agents)`: enrolls `agents` (owned by the caller, bonded
     * {minBond} without any transfer) straight into the pool, in order. No signatures, no tokens:
     * for gas measurements only. (The calldata starts with the array's offset, `0x20`, whose first
     * four bytes match no selector.)
     */
    fallback() external {
        address[] memory agents = abi.decode(msg.data, (address[]));
        uint256 bond = minBond();
        for (uint256 i = 0; i < agents.length; ++i) {
            _enroll(agents[i], msg.sender, bytes32(0), bond);
            _syncPool(agents[i]);
        }
    }
}
