// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @dev Bonded agents of the deliberation market and the pool its seats are drawn from
 * (docs/contracts.md, docs/economics.md).
 *
 * An agent registers with its own EIP-712 signature of
 * `Registration(address agent,address owner,bytes32 modelId,string metadataURI)` in the
 * registry's domain (name `NSED AgentRegistry`, version `1`): the owner (the caller, who pays the
 * bond and may later deactivate, reactivate, unbond and withdraw) and the agent key may differ,
 * but nobody registers a key without its holder's consent. The bond is paid in the registry's
 * token. A key registers once, ever: after a withdrawal or a slash it stays taken.
 *
 * An agent is *eligible* (in the pool seats are drawn from) while it is registered, active, not
 * slashed, not unbonding and its bond is at least {minBond}. Eligibility is evaluated whenever the
 * agent's own record changes (and by {refreshEligibility}, which anyone may call), never by a scan
 * of the pool: when the guild raises {minBond}, an agent bonded below the new minimum stays in the
 * pool until its next change or until someone refreshes it. Unbonding starts a delay (the
 * registry's unbond delay at the time of the request) during which the agent is no longer drawn
 * but can still be slashed; after it the owner withdraws the bond.
 *
 * {drawSeats} picks agents uniformly from the pool: every identity costs at least {minBond}, so an
 * operator's share of the seats is its share of the bonded identities, i.e. proportional to the
 * capital it locks.
 */
interface IAgentRegistry {
    /**
     * @dev A registered agent.
     * @param owner Who registered it (zero if unregistered).
     * @param active Whether its owner keeps it in service.
     * @param slashed Whether its bond was slashed (for good: it can never be drawn again).
     * @param unbondingAt When its owner may withdraw the bond (0: not unbonding).
     * @param bond Its bond, in the registry's token (0 once withdrawn or slashed).
     * @param modelId Hash of the model it runs.
     */
    struct Agent {
        address owner;
        bool active;
        bool slashed;
        uint64 unbondingAt;
        uint256 bond;
        bytes32 modelId;
    }

    /**
     * @dev `owner` registered `agent` running `modelId` with a bond of `bond`.
     * @param agent The agent key.
     * @param owner Its owner, who paid the bond.
     * @param modelId Hash of the model it runs.
     * @param metadataURI Where the agent describes itself (only in this event).
     * @param bond The bond paid.
     */
    event AgentRegistered(
        address indexed agent, address indexed owner, bytes32 modelId, string metadataURI, uint256 bond
    );

    /**
     * @dev `agent`'s bond grew by `amount` to `bond`.
     * @param agent The agent.
     * @param amount What was added.
     * @param bond The bond now.
     */
    event AgentBonded(address indexed agent, uint256 amount, uint256 bond);

    /**
     * @dev `agent` started unbonding; its owner may withdraw from `withdrawableAt`.
     * @param agent The agent.
     * @param withdrawableAt First second the bond can be withdrawn.
     */
    event AgentUnbonding(address indexed agent, uint64 withdrawableAt);

    /**
     * @dev `agent`'s owner withdrew its whole bond `amount`.
     * @param agent The agent.
     * @param owner The owner, who received the bond.
     * @param amount The bond paid out.
     */
    event AgentBondWithdrawn(address indexed agent, address indexed owner, uint256 amount);

    /**
     * @dev `agent` was taken out of service by its owner.
     * @param agent The agent.
     */
    event AgentDeactivated(address indexed agent);

    /**
     * @dev `agent` was put back into service by its owner.
     * @param agent The agent.
     */
    event AgentReactivated(address indexed agent);

    /**
     * @dev `agent`'s bond `amount` was slashed: `reporterShare` to `reporter`, the rest to the guild.
     * @param agent The agent.
     * @param reporter Who proved the misbehaviour (zero: no reporter, everything to the guild).
     * @param amount The whole bond.
     * @param reporterShare The reporter's part of it.
     */
    event AgentSlashed(address indexed agent, address indexed reporter, uint256 amount, uint256 reporterShare);

    /**
     * @dev `agent` entered (`true`) or left (`false`) the pool seats are drawn from.
     * @param agent The agent.
     * @param eligible Whether it is in the pool now.
     */
    event EligibilityChanged(address indexed agent, bool eligible);

    /**
     * @dev The guild changed the bond parameters.
     * @param minBond Smallest bond of a new (or re-evaluated) eligible agent.
     * @param unbondDelay Seconds between an unbond request made from now on and the withdrawal.
     * @param reporterBps Reporter's share of a slashed bond, in basis points.
     */
    event BondParametersChanged(uint256 minBond, uint64 unbondDelay, uint16 reporterBps);

    /**
     * @dev `agent` is not registered.
     * @param agent The unknown agent.
     */
    error AgentRegistryUnknownAgent(address agent);

    /**
     * @dev Only the agent's owner may do this.
     * @param agent The agent.
     * @param caller The rejected caller.
     */
    error AgentRegistryNotOwner(address agent, address caller);

    /**
     * @dev The key is already taken (registered now or before, withdrawn or slashed since).
     * @param agent The agent key.
     */
    error AgentRegistryAlreadyRegistered(address agent);

    /**
     * @dev The registration signature is malformed, malleable, or not `agent`'s signature of this
     * registration (another owner, model or metadata URI, another registry or chain).
     * @param agent The agent key that should have signed.
     */
    error AgentRegistryInvalidSignature(address agent);

    /**
     * @dev A bond below the minimum (at registration or reactivation).
     * @param bond The offered or current bond.
     * @param minBond The minimum.
     */
    error AgentRegistryBondBelowMinimum(uint256 bond, uint256 minBond);

    /**
     * @dev Fewer agents are eligible than seats were asked for.
     * @param count Seats asked for.
     * @param eligible Agents in the pool.
     */
    error AgentRegistryNotEnoughEligibleAgents(uint256 count, uint256 eligible);

    /**
     * @dev More seats asked for than one draw handles.
     * @param count Seats asked for.
     * @param max The most seats of one draw.
     */
    error AgentRegistryInvalidSeatCount(uint256 count, uint256 max);

    /**
     * @dev The agent's bond was slashed: it can be neither slashed again nor used by its owner.
     * @param agent The agent.
     */
    error AgentRegistryAlreadySlashed(address agent);

    /**
     * @dev The agent's bond was withdrawn: nothing is left to slash, withdraw or use.
     * @param agent The agent.
     */
    error AgentRegistryBondWithdrawn(address agent);

    /**
     * @dev A withdrawal before the unbonding delay is over.
     * @param agent The agent.
     * @param withdrawableAt First second the bond can be withdrawn.
     */
    error AgentRegistryStillBonding(address agent, uint64 withdrawableAt);

    /**
     * @dev A withdrawal without an unbond request.
     * @param agent The agent.
     */
    error AgentRegistryNotUnbonding(address agent);

    /**
     * @dev The agent is unbonding: it cannot unbond again, add bond or return to service.
     * @param agent The agent.
     * @param withdrawableAt First second the bond can be withdrawn.
     */
    error AgentRegistryAlreadyUnbonding(address agent, uint64 withdrawableAt);

    /**
     * @dev Deactivation of an agent already out of service.
     * @param agent The agent.
     */
    error AgentRegistryAgentInactive(address agent);

    /**
     * @dev Reactivation of an agent already in service.
     * @param agent The agent.
     */
    error AgentRegistryAgentActive(address agent);

    /// @dev An address that must be set is the zero address (agent, token or guild).
    error AgentRegistryZeroAddress();

    /// @dev A bond top-up of zero.
    error AgentRegistryZeroAmount();

    /**
     * @dev Bond parameters out of range: `minBond` must be positive, `unbondDelay` at most
     * `MAX_UNBOND_DELAY`, `reporterBps` at most 10000.
     * @param minBond The rejected minimum bond.
     * @param unbondDelay The rejected delay.
     * @param reporterBps The rejected reporter share.
     */
    error AgentRegistryInvalidBondParameters(uint256 minBond, uint64 unbondDelay, uint16 reporterBps);

    /**
     * @dev The token moved a different amount than requested (fee-on-transfer or rebasing tokens
     * are not supported: bonds would not add up).
     * @param expected The requested amount.
     * @param received What the registry's balance grew by.
     */
    error AgentRegistryTransferMismatch(uint256 expected, uint256 received);

    /**
     * @dev Registers `agent` (whose `agentSignature` consents) with `bond` paid by the caller, who
     * becomes its owner. The agent enters the pool.
     *
     * Requirements:
     *
     * - `agent` is not the zero address and was never registered;
     * - `agentSignature` is `agent`'s 65-byte, low-s EIP-712 signature of
     *   `Registration(agent, msg.sender, modelId, metadataURI)`;
     * - `bond >= minBond()`, and the caller approved the registry for it.
     *
     * Emits an {AgentRegistered} and an {EligibilityChanged} event.
     */
    function register(
        address agent,
        bytes32 modelId,
        string calldata metadataURI,
        uint256 bond,
        bytes calldata agentSignature
    ) external;

    /**
     * @dev Adds `amount` to `agent`'s bond, paid by the caller (its owner), and re-evaluates its
     * eligibility.
     *
     * Requirements:
     *
     * - the caller owns `agent`, which is neither slashed, withdrawn nor unbonding;
     * - `amount > 0`.
     *
     * Emits an {AgentBonded} event, and {EligibilityChanged} if the agent enters or leaves the pool.
     */
    function addBond(address agent, uint256 amount) external;

    /**
     * @dev Starts unbonding `agent`: it leaves the pool at once, and its owner may withdraw the bond
     * after the unbonding delay. It can still be slashed until then.
     *
     * Requirements:
     *
     * - the caller owns `agent`, which is neither slashed, withdrawn nor already unbonding.
     *
     * Emits an {AgentUnbonding} event, and {EligibilityChanged} if the agent was in the pool.
     */
    function requestUnbond(address agent) external;

    /**
     * @dev Sends `agent`'s whole bond to its owner once the unbonding delay is over. The key stays
     * registered (and can never register again).
     *
     * Requirements:
     *
     * - the caller owns `agent`, which is not slashed and still has its bond;
     * - the agent is unbonding and `block.timestamp >= unbondingAt`.
     *
     * Emits an {AgentBondWithdrawn} event.
     */
    function withdrawBond(address agent) external;

    /**
     * @dev Takes `agent` out of service (and out of the pool); jobs it is already seated in are
     * unaffected.
     *
     * Requirements:
     *
     * - the caller owns `agent`, which is active, not slashed and not withdrawn.
     *
     * Emits an {AgentDeactivated} event, and {EligibilityChanged} if the agent was in the pool.
     */
    function deactivate(address agent) external;

    /**
     * @dev Puts a deactivated `agent` back into service and into the pool.
     *
     * Requirements:
     *
     * - the caller owns `agent`, which is inactive, not slashed, not withdrawn and not unbonding;
     * - its bond is at least {minBond} (top it up with {addBond} first).
     *
     * Emits an {AgentReactivated} and an {EligibilityChanged} event.
     */
    function reactivate(address agent) external;

    /**
     * @dev Re-evaluates whether `agent` belongs in the pool under the current rules (e.g. after the
     * guild raised {minBond}) and adds or removes it; anyone may call. Does nothing for an agent
     * already where it belongs, or an unknown one.
     *
     * Emits an {EligibilityChanged} event if the agent enters or leaves the pool.
     */
    function refreshEligibility(address agent) external;

    /**
     * @dev Slashes `agent`'s whole bond (the market, on proven equivocation): the reporter's share
     * ({reporterBps} of the bond, rounded down) to `reporter`, the rest to the guild. The agent
     * leaves the pool for good; unbonding does not protect it.
     *
     * Requirements:
     *
     * - the caller has the slasher role;
     * - `agent` is registered, not slashed yet, and its bond was not withdrawn.
     *
     * Emits an {AgentSlashed} event, and {EligibilityChanged} if the agent was in the pool.
     */
    function slash(address agent, address reporter) external;

    /**
     * @dev Draws `count` distinct eligible agents, uniformly at random from `seed`, returned in
     * ascending address order. Every `count`-subset of the pool is equally likely (up to a modulo
     * bias below `n / 2^256`), so each eligible agent is drawn with probability `count / n`, where
     * `n` is {eligibleCount}. Gas does not depend on the pool's size.
     *
     * Requirements:
     *
     * - `count <= MAX_SEATS` (16) and `count <= eligibleCount()`.
     */
    function drawSeats(bytes32 seed, uint256 count) external view returns (address[] memory seats);

    /// @dev The registration of `account` (all zero if unregistered).
    function agent(address account) external view returns (Agent memory);

    /// @dev Whether `account` is in the pool seats are drawn from.
    function isEligible(address account) external view returns (bool);

    /// @dev How many agents are in the pool.
    function eligibleCount() external view returns (uint256);

    /// @dev Smallest bond of an agent entering the pool.
    function minBond() external view returns (uint256);

    /// @dev Seconds between an unbond request and the withdrawal it allows.
    function unbondDelay() external view returns (uint64);

    /// @dev Reporter's share of a slashed bond, in basis points.
    function reporterBps() external view returns (uint16);
}
