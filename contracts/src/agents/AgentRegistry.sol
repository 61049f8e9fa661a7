// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IAgentRegistry} from "./IAgentRegistry.sol";

/**
 * @dev Bonded agents and the uniform seat draw of the deliberation market (docs/contracts.md,
 * docs/economics.md); see {IAgentRegistry} for the agent's life cycle.
 *
 * - **Consent.** {register} checks the agent key's EIP-712 signature (domain
 *   `"NSED AgentRegistry"`, `"1"`) of its owner, model and metadata URI: 65 bytes, low-s, as the
 *   market checks its agents' answers. A key registers once, ever, so a registration signature
 *   cannot be replayed, not even after the key's bond was withdrawn or slashed.
 * - **Bonds.** Bonds are paid in {token} with an exact-amount check. An unbond request takes the
 *   agent out of the pool and starts the delay in force at the time of the request; the owner
 *   withdraws the whole bond after it. Until then the bond can be slashed ({SLASHER_ROLE}, granted
 *   by the guild to the market): {reporterBps} of it to the reporter, the rest to the guild.
 * - **Pool.** The eligible agents are kept in an array with an index per agent: an agent enters
 *   with a push and leaves with a swap-and-pop, both O(1), whenever its eligibility changes.
 *   Nothing ever scans the pool. So when the guild raises {minBond}, agents bonded below the new
 *   minimum stay drawable until their own record next changes (or anyone calls
 *   {refreshEligibility} for them); they still have their whole bond at stake. Checking the bond at
 *   draw time instead would either skip agents (the draw would no longer be uniform and its gas
 *   would grow with the number skipped) or revert (one under-bonded agent could then make every
 *   draw that picks it fail).
 * - **Draw.** {drawSeats} is a partial Fisher–Yates shuffle of the pool's indices, kept sparse: only
 *   the at most `count` positions it swaps are remembered, in memory, so it reads `count` pool
 *   entries from storage whatever the pool's size. Step `i` swaps position `i` with position
 *   `i + r_i mod (n − i)`, `r_i = uint256(keccak256(abi.encode(seed, i)))`, which makes every
 *   ordered `count`-tuple of distinct agents equally likely up to the modulo bias: `2^256` is not a
 *   multiple of `n − i`, so some residues are hit once more than others, a relative error below
 *   `n / 2^256`, far below anything observable. The seats are returned sorted, the order the
 *   market's transcripts use. The registry does not choose the seed: the market must derive it
 *   from something nobody who can change the pool can predict or grind.
 *
 * Why uniform over bonded agents: every identity costs at least {minBond}, so a Sybil operator's
 * share of the seats is its share of the bonded identities, that is, proportional to the capital it
 * locks; splitting a large bond into many minimum-sized agents yields the same share bond
 * weighting would give it, and cannot yield more. Weighting by rank or past wins would instead
 * compound the advantage of incumbents, who would win seats because they won before.
 *
 * The guild (its timelock, in a full deployment) holds `DEFAULT_ADMIN_ROLE`, receives the
 * non-reporter part of every slashed bond and alone tunes the bond parameters
 * ({setBondParameters}). Token and guild are immutable; there is no upgrade path. Timestamps are
 * compared with `block.timestamp`; delays are days long, so the few seconds a block producer can
 * skew it do not matter.
 */
contract AgentRegistry is IAgentRegistry, EIP712, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @dev Role of the contracts that may slash bonds (the market); granted by the guild.
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    /// @dev EIP-712 type hash of the agent's consent to a registration.
    bytes32 public constant REGISTRATION_TYPEHASH =
        keccak256("Registration(address agent,address owner,bytes32 modelId,string metadataURI)");
    /// @dev Most seats one draw returns (the market's largest deliberation).
    uint256 public constant MAX_SEATS = 16;
    /// @dev Longest unbonding delay the guild may set, so bonds are never locked indefinitely.
    uint64 public constant MAX_UNBOND_DELAY = 365 days;

    /// @dev 100% in basis points.
    uint16 private constant _BPS = 10_000;

    IERC20 private immutable _token;
    address private immutable _guild;
    uint256 private _minBond;
    // One storage slot (64 + 16 bits).
    uint64 private _unbondDelay;
    uint16 private _reporterBps;

    mapping(address agent => Agent) private _agents;
    /// @dev The eligible agents, in no particular order.
    address[] private _pool;
    /// @dev Position in {_pool} plus one (0: not in the pool).
    mapping(address agent => uint256) private _poolSlot;

    /**
     * @dev Sets the immutable token and guild and the initial bond parameters, and makes `guild_`
     * the role administrator.
     * @param token_ ERC-20 bonds are paid in.
     * @param guild_ Receives `DEFAULT_ADMIN_ROLE` and the guild's part of slashed bonds.
     * @param minBond_ Smallest bond of an eligible agent (positive).
     * @param unbondDelay_ Seconds between an unbond request and the withdrawal (at most
     * {MAX_UNBOND_DELAY}).
     * @param reporterBps_ Reporter's share of a slashed bond, in basis points (at most 10000).
     */
    constructor(IERC20 token_, address guild_, uint256 minBond_, uint64 unbondDelay_, uint16 reporterBps_)
        EIP712("NSED AgentRegistry", "1")
    {
        if (address(token_) == address(0) || guild_ == address(0)) revert AgentRegistryZeroAddress();
        _token = token_;
        _guild = guild_;
        _setBondParameters(minBond_, unbondDelay_, reporterBps_);
        _grantRole(DEFAULT_ADMIN_ROLE, guild_);
    }

    /**
     * @dev Sets the bond parameters. A new minimum applies to registrations and reactivations at
     * once, and to agents already in the pool when their eligibility is next evaluated (see the
     * contract documentation); a new delay applies to unbond requests made afterwards; a new
     * reporter share to slashes afterwards.
     *
     * Requirements:
     *
     * - the caller has `DEFAULT_ADMIN_ROLE` (the guild);
     * - `minBond_ > 0`, `unbondDelay_ <= MAX_UNBOND_DELAY`, `reporterBps_ <= 10000`.
     *
     * Emits a {BondParametersChanged} event.
     */
    function setBondParameters(uint256 minBond_, uint64 unbondDelay_, uint16 reporterBps_)
        public
        virtual
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _setBondParameters(minBond_, unbondDelay_, reporterBps_);
    }

    /// @inheritdoc IAgentRegistry
    function register(
        address agent_,
        bytes32 modelId,
        string calldata metadataURI,
        uint256 bond,
        bytes calldata agentSignature
    ) public virtual nonReentrant {
        if (agent_ == address(0)) revert AgentRegistryZeroAddress();
        if (_agents[agent_].owner != address(0)) revert AgentRegistryAlreadyRegistered(agent_);
        bytes32 structHash =
            keccak256(abi.encode(REGISTRATION_TYPEHASH, agent_, msg.sender, modelId, keccak256(bytes(metadataURI))));
        if (!_signedBy(structHash, agentSignature, agent_)) revert AgentRegistryInvalidSignature(agent_);
        uint256 minimum = _minBond;
        if (bond < minimum) revert AgentRegistryBondBelowMinimum(bond, minimum);

        _enroll(agent_, msg.sender, modelId, bond);
        emit AgentRegistered(agent_, msg.sender, modelId, metadataURI, bond);
        _syncPool(agent_);

        _pull(bond);
    }

    /// @inheritdoc IAgentRegistry
    function addBond(address agent_, uint256 amount) public virtual nonReentrant {
        Agent storage a = _ownedAgent(agent_);
        if (a.unbondingAt != 0) revert AgentRegistryAlreadyUnbonding(agent_, a.unbondingAt);
        if (amount == 0) revert AgentRegistryZeroAmount();

        uint256 bond = a.bond + amount;
        a.bond = bond;
        emit AgentBonded(agent_, amount, bond);
        _syncPool(agent_);

        _pull(amount);
    }

    /// @inheritdoc IAgentRegistry
    function requestUnbond(address agent_) public virtual {
        Agent storage a = _ownedAgent(agent_);
        if (a.unbondingAt != 0) revert AgentRegistryAlreadyUnbonding(agent_, a.unbondingAt);

        // No overflow: the delay is at most MAX_UNBOND_DELAY and timestamps are far below 2^63.
        uint64 withdrawableAt = uint64(block.timestamp) + _unbondDelay;
        a.unbondingAt = withdrawableAt;
        emit AgentUnbonding(agent_, withdrawableAt);
        _syncPool(agent_);
    }

    /// @inheritdoc IAgentRegistry
    function withdrawBond(address agent_) public virtual nonReentrant {
        Agent storage a = _ownedAgent(agent_);
        uint64 withdrawableAt = a.unbondingAt;
        if (withdrawableAt == 0) revert AgentRegistryNotUnbonding(agent_);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < withdrawableAt) revert AgentRegistryStillBonding(agent_, withdrawableAt);

        uint256 amount = a.bond;
        a.bond = 0;
        emit AgentBondWithdrawn(agent_, msg.sender, amount);

        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IAgentRegistry
    function deactivate(address agent_) public virtual {
        Agent storage a = _ownedAgent(agent_);
        if (!a.active) revert AgentRegistryAgentInactive(agent_);
        a.active = false;
        emit AgentDeactivated(agent_);
        _syncPool(agent_);
    }

    /// @inheritdoc IAgentRegistry
    function reactivate(address agent_) public virtual {
        Agent storage a = _ownedAgent(agent_);
        if (a.active) revert AgentRegistryAgentActive(agent_);
        if (a.unbondingAt != 0) revert AgentRegistryAlreadyUnbonding(agent_, a.unbondingAt);
        uint256 minimum = _minBond;
        if (a.bond < minimum) revert AgentRegistryBondBelowMinimum(a.bond, minimum);
        a.active = true;
        emit AgentReactivated(agent_);
        _syncPool(agent_);
    }

    /// @inheritdoc IAgentRegistry
    function refreshEligibility(address agent_) public virtual {
        _syncPool(agent_);
    }

    /// @inheritdoc IAgentRegistry
    function slash(address agent_, address reporter) public virtual nonReentrant onlyRole(SLASHER_ROLE) {
        Agent storage a = _agents[agent_];
        if (a.owner == address(0)) revert AgentRegistryUnknownAgent(agent_);
        if (a.slashed) revert AgentRegistryAlreadySlashed(agent_);
        uint256 amount = a.bond;
        // Registered bonds are at least minBond > 0 and only grow until withdrawn or slashed.
        if (amount == 0) revert AgentRegistryBondWithdrawn(agent_);
        uint256 reporterShare = reporter == address(0) ? 0 : Math.mulDiv(amount, _reporterBps, _BPS);

        a.slashed = true;
        a.bond = 0;
        emit AgentSlashed(agent_, reporter, amount, reporterShare);
        _syncPool(agent_);

        if (reporterShare > 0) _token.safeTransfer(reporter, reporterShare);
        // No underflow: reporterBps <= 10000, so reporterShare <= amount.
        if (amount > reporterShare) _token.safeTransfer(_guild, amount - reporterShare);
    }

    /// @inheritdoc IAgentRegistry
    function drawSeats(bytes32 seed, uint256 count) public view virtual returns (address[] memory seats) {
        if (count > MAX_SEATS) revert AgentRegistryInvalidSeatCount(count, MAX_SEATS);
        uint256 n = _pool.length;
        if (count > n) revert AgentRegistryNotEnoughEligibleAgents(count, n);

        // The shuffle's permutation of pool indices, stored sparsely: position `movedAt[k]` holds
        // index `movedIndex[k]`; every other position `p` still holds index `p`.
        uint256[] memory movedAt = new uint256[](count);
        uint256[] memory movedIndex = new uint256[](count);
        uint256 moved = 0;
        seats = new address[](count);
        for (uint256 i = 0; i < count; ++i) {
            // n - i >= 1 since i < count <= n.
            uint256 j = i + uint256(keccak256(abi.encode(seed, i))) % (n - i);
            (uint256 atJ, uint256 slotJ) = _positionOf(movedAt, movedIndex, moved, j);
            (uint256 atI,) = _positionOf(movedAt, movedIndex, moved, i);
            seats[i] = _pool[atJ];
            // Swap: position j now holds what position i held. Position i itself is never read
            // again (later steps only look at positions above i), so it need not be written.
            if (slotJ < moved) {
                movedIndex[slotJ] = atI;
            } else {
                movedAt[moved] = j;
                movedIndex[moved] = atI;
                ++moved;
            }
        }
        _sortAscending(seats);
    }

    /// @inheritdoc IAgentRegistry
    function agent(address account) public view virtual returns (Agent memory) {
        return _agents[account];
    }

    /// @inheritdoc IAgentRegistry
    function isEligible(address account) public view virtual returns (bool) {
        return _poolSlot[account] != 0;
    }

    /// @inheritdoc IAgentRegistry
    function eligibleCount() public view virtual returns (uint256) {
        return _pool.length;
    }

    /// @dev The eligible agent at `index` of the pool (`index < eligibleCount()`); the order changes
    /// whenever an agent leaves.
    function eligibleAgentAt(uint256 index) public view virtual returns (address) {
        return _pool[index];
    }

    /// @inheritdoc IAgentRegistry
    function minBond() public view virtual returns (uint256) {
        return _minBond;
    }

    /// @inheritdoc IAgentRegistry
    function unbondDelay() public view virtual returns (uint64) {
        return _unbondDelay;
    }

    /// @inheritdoc IAgentRegistry
    function reporterBps() public view virtual returns (uint16) {
        return _reporterBps;
    }

    /// @dev The ERC-20 bonds are paid in.
    function token() public view virtual returns (IERC20) {
        return _token;
    }

    /// @dev The guild: role administrator and receiver of slashed bonds.
    function guild() public view virtual returns (address) {
        return _guild;
    }

    /// @dev The EIP-712 domain separator agents sign their registration under.
    function domainSeparator() public view virtual returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @dev Validates and stores the bond parameters; see {setBondParameters}.
    function _setBondParameters(uint256 minBond_, uint64 unbondDelay_, uint16 reporterBps_) internal virtual {
        if (minBond_ == 0 || unbondDelay_ > MAX_UNBOND_DELAY || reporterBps_ > _BPS) {
            revert AgentRegistryInvalidBondParameters(minBond_, unbondDelay_, reporterBps_);
        }
        _minBond = minBond_;
        _unbondDelay = unbondDelay_;
        _reporterBps = reporterBps_;
        emit BondParametersChanged(minBond_, unbondDelay_, reporterBps_);
    }

    /**
     * @dev Writes the record of a new, active agent `agent_` owned by `owner` with `bond`. No checks,
     * no event, no pool change and no transfer: {register} does those around it.
     */
    function _enroll(address agent_, address owner, bytes32 modelId, uint256 bond) internal virtual {
        Agent storage a = _agents[agent_];
        a.owner = owner;
        a.active = true;
        a.bond = bond;
        a.modelId = modelId;
    }

    /**
     * @dev `agent_`'s record, which the caller must own and which must still hold its bond (neither
     * slashed nor withdrawn).
     */
    function _ownedAgent(address agent_) internal view virtual returns (Agent storage a) {
        a = _agents[agent_];
        if (a.owner == address(0)) revert AgentRegistryUnknownAgent(agent_);
        if (a.owner != msg.sender) revert AgentRegistryNotOwner(agent_, msg.sender);
        if (a.slashed) revert AgentRegistryAlreadySlashed(agent_);
        // Registered bonds are at least minBond > 0 and only grow until withdrawn or slashed.
        if (a.bond == 0) revert AgentRegistryBondWithdrawn(agent_);
    }

    /**
     * @dev Whether `a` belongs in the pool under the current rules: registered, active, not
     * slashed, not unbonding, bonded at least {minBond}.
     */
    function _qualifies(Agent storage a) private view returns (bool) {
        return a.owner != address(0) && a.active && !a.slashed && a.unbondingAt == 0 && a.bond >= _minBond;
    }

    /**
     * @dev Puts `agent_` into the pool or takes it out, as {_qualifies} says; the only place the
     * pool changes. Entering pushes; leaving moves the last agent into the leaver's position.
     *
     * Emits an {EligibilityChanged} event if the agent enters or leaves.
     */
    function _syncPool(address agent_) internal virtual {
        bool qualifies = _qualifies(_agents[agent_]);
        uint256 slot = _poolSlot[agent_];
        if (qualifies == (slot != 0)) return;
        if (qualifies) {
            _pool.push(agent_);
            _poolSlot[agent_] = _pool.length;
        } else {
            uint256 last = _pool.length;
            if (slot != last) {
                address moving = _pool[last - 1];
                _pool[slot - 1] = moving;
                _poolSlot[moving] = slot;
            }
            _pool.pop();
            delete _poolSlot[agent_];
        }
        emit EligibilityChanged(agent_, qualifies);
    }

    /// @dev Pulls `amount` of {token} from the caller, checking the exact amount arrived.
    function _pull(uint256 amount) private {
        uint256 before = _token.balanceOf(address(this));
        _token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = _token.balanceOf(address(this)) - before;
        if (received != amount) revert AgentRegistryTransferMismatch(amount, received);
    }

    /// @dev Whether `signature` is `signer`'s valid (65-byte, low-s) signature of the typed `structHash`.
    function _signedBy(bytes32 structHash, bytes calldata signature, address signer)
        internal
        view
        virtual
        returns (bool)
    {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(_hashTypedDataV4(structHash), signature);
        return err == ECDSA.RecoverError.NoError && recovered == signer;
    }

    /**
     * @dev The pool index at shuffle position `position`, and the slot of the sparse map that holds
     * it (`moved` when the position was never moved and holds its own index).
     */
    function _positionOf(uint256[] memory movedAt, uint256[] memory movedIndex, uint256 moved, uint256 position)
        private
        pure
        returns (uint256 index, uint256 slot)
    {
        for (slot = 0; slot < moved; ++slot) {
            if (movedAt[slot] == position) return (movedIndex[slot], slot);
        }
        return (position, moved);
    }

    /// @dev Sorts `seats` ascending in place (insertion sort: at most {MAX_SEATS} entries).
    function _sortAscending(address[] memory seats) private pure {
        for (uint256 i = 1; i < seats.length; ++i) {
            address key = seats[i];
            uint256 k = i;
            while (k > 0 && seats[k - 1] > key) {
                seats[k] = seats[k - 1];
                --k;
            }
            seats[k] = key;
        }
    }
}
