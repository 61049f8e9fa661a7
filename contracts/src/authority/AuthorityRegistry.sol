// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IAuthorityRegistry} from "./IAuthorityRegistry.sol";

/**
 * @dev Authority nodes and the DIDs they issue (docs/economics.md).
 *
 * - **Burn to register.** Anyone becomes an authority node by burning ETH: {register} takes exactly
 *   {requiredBurn}, sends it to the zero address and refunds the excess. The burn rises with the
 *   number `n` of active nodes and approaches `floor + scale`:
 *
 *       requiredBurn(n) = floor + ⌈scale · (1e18 − ⌊r^n⌋) / 1e18⌉,   r = decayWad / 1e18 ∈ (0, 1)
 *
 *   which is the design's `c1 · (1 − e^(−c2·n))` plus a floor, with `c1 = scale` and
 *   `r = e^(−c2)`. `r^n` is computed in 1e18 fixed point by exponentiation by squaring, every
 *   product rounded down ({Math-mulDiv}); rounding down every factor of a product of numbers below
 *   one gives a lower bound of `r^n`, and the final product is rounded up, so the burn is never
 *   below the exact formula. It exceeds it by less than `1 + n · scale / 1e18` wei: a squaring at
 *   most doubles the error of its input and adds one unit, so `⌊r^n⌋` is less than `n` units of
 *   1e-18 below `r^n`.
 * - **Consensus grant.** `DEFAULT_ADMIN_ROLE` (the guild's timelock: admin actions happen only by
 *   governance vote) admits an institution without a burn ({grant}) and revokes misbehaving nodes
 *   ({revoke}). A revoked node keeps its record (inactive); it may register again by burning, at the
 *   burn of the day, only once {reregistrationDelay} has passed since its revocation (a revocation
 *   is a ban, not a fee), or earlier if the guild grants it again. Burned ETH is never returned,
 *   revoked or not.
 * - **DIDs, ERC-1056 style, by consent.** An active node issues a DID to an identity (an agent or
 *   expert key) with {issueDid}, carrying the identity's EIP-712 consent (`DidIssuance`, signed by
 *   {identityOwner}, which is the identity itself until {changeOwner}); only issued identities have
 *   owners, delegates and attributes here. The owner writes its identity's attributes itself
 *   ({setAttribute}, {revokeAttribute}); the DID's issuer writes them only with the owner's
 *   EIP-712 consent to that exact write (`AttributeConsent`, {setAttributeWithConsent},
 *   {revokeAttributeWithConsent}). Every consent names its writer, carries the identity's current
 *   {nonces} value (so it is used at most once) and a deadline. As in
 *   ERC-1056's `EthereumDIDRegistry`, the owner of an identity defaults to the identity itself,
 *   delegates have a type and an expiry, attributes live only in events, and every change event
 *   carries `previousChange`, the block of the identity's previous change, so a resolver can walk
 *   an identity's history backwards from {changed}. A DID is {did}-valid only while its issuer is an
 *   active node, in the same admission it issued the DID in: revoking a node invalidates every DID
 *   it issued without touching each one (re-registering later does not revive them), and another
 *   active node may then issue the DID again.
 *
 * IMPORTANT: ETH sent to the zero address is irrecoverable: nobody holds its key, so the burn is
 * final. The registry itself never holds ETH between transactions.
 *
 * The contract is immutable: parameters change only through {setBurnParameters} and
 * {setReregistrationDelay} by the admin, and there is no upgrade path.
 */
contract AuthorityRegistry is IAuthorityRegistry, AccessControl, EIP712, Nonces, ReentrancyGuardTransient {
    /// @dev How a node was admitted.
    enum Origin {
        Burn,
        Grant
    }

    /**
     * @dev An authority node's record.
     * @param jurisdiction Legal jurisdiction (e.g. `bytes32("EU-DE")`); never zero for a registered node.
     * @param geoCell Geographic cell (e.g. an H3 index) the node serves.
     * @param registeredAt Timestamp of the latest registration or grant.
     * @param origin {Origin-Burn} or {Origin-Grant}, of the latest admission.
     * @param active False once revoked (and for accounts never admitted).
     * @param admission How many times the account has been admitted (1 for the first admission); a
     * DID is valid only while its issuer is in the admission it was issued in.
     * @param burned Wei burned by the latest admission (0 for a grant).
     * @param metadataURI Where the node describes itself (endpoint, operator, keys).
     */
    struct Node {
        bytes32 jurisdiction;
        uint64 geoCell;
        uint64 registeredAt;
        Origin origin;
        bool active;
        uint32 admission;
        uint256 burned;
        string metadataURI;
    }

    /// @dev A DID issued by an authority node, during the issuer's admission number `admission`.
    struct DidRecord {
        address issuer;
        uint64 issuedAt;
        uint32 admission;
        bytes32 role;
    }

    /// @dev DID role of an AI agent key: `keccak256("agent")`.
    bytes32 public constant DID_ROLE_AGENT = keccak256("agent");

    /// @dev DID role of a human expert: `keccak256("expert")`.
    bytes32 public constant DID_ROLE_EXPERT = keccak256("expert");

    /**
     * @dev EIP-712 type of an identity's consent to a DID: `DidIssuance(address identity,bytes32 role,
     * address issuer,uint256 nonce,uint256 deadline)`.
     */
    bytes32 public constant DID_ISSUANCE_TYPEHASH =
        keccak256("DidIssuance(address identity,bytes32 role,address issuer,uint256 nonce,uint256 deadline)");

    /**
     * @dev EIP-712 type of an identity's consent to one attribute write by `writer`:
     * `AttributeConsent(address identity,bytes32 name,bytes32 valueHash,uint256 validity,address writer,
     * uint256 nonce,uint256 deadline)`, `valueHash` being `keccak256(value)`. A revocation is consented
     * to with `validity` 0.
     */
    bytes32 public constant ATTRIBUTE_CONSENT_TYPEHASH = keccak256(
        "AttributeConsent(address identity,bytes32 name,bytes32 valueHash,uint256 validity,address writer,uint256 nonce,uint256 deadline)"
    );

    /// @dev The {reregistrationDelay} a registry starts with: 30 days.
    uint64 public constant DEFAULT_REREGISTRATION_DELAY = 30 days;

    /// @dev 1 in 1e18 fixed point.
    uint256 private constant _WAD = 1e18;

    uint256 private _burnFloor;
    uint256 private _burnScale;
    uint256 private _burnDecayWad;
    uint256 private _activeCount;
    uint64 private _reregistrationDelay;
    mapping(address account => Node) private _nodes;
    /// @dev Timestamp of the account's latest revocation, cleared when it is admitted again.
    mapping(address account => uint64 timestamp) private _revokedAt;

    mapping(address identity => DidRecord) private _dids;
    mapping(address identity => address) private _owners;
    mapping(address identity => mapping(bytes32 delegateType => mapping(address delegate => uint256 validTo))) private
        _delegates;
    mapping(address identity => uint256 blockNumber) private _changed;

    /**
     * @dev `node` became an active authority node.
     * @param node The node's account.
     * @param jurisdiction Its jurisdiction.
     * @param geoCell Its geographic cell.
     * @param burned Wei burned (0 for a grant).
     * @param origin {Origin-Burn} for {register}, {Origin-Grant} for {grant}.
     * @param metadataURI Its metadata URI.
     */
    event NodeRegistered(
        address indexed node,
        bytes32 indexed jurisdiction,
        uint64 geoCell,
        uint256 burned,
        Origin origin,
        string metadataURI
    );

    /**
     * @dev An active node changed its own record.
     * @param node The node's account.
     * @param jurisdiction The new jurisdiction.
     * @param geoCell The new geographic cell.
     * @param metadataURI The new metadata URI.
     */
    event NodeUpdated(address indexed node, bytes32 indexed jurisdiction, uint64 geoCell, string metadataURI);

    /**
     * @dev The admin revoked `node`; the DIDs it issued are no longer valid.
     * @param node The node's account.
     * @param reason Why, for the public record.
     */
    event NodeRevoked(address indexed node, string reason);

    /**
     * @dev The burn curve changed (also emitted by the constructor).
     * @param floor Wei burned by the first node.
     * @param scale Wei added on top of `floor` as the node count grows without bound.
     * @param decayWad Per-node decay factor `r` in 1e18 fixed point.
     */
    event BurnParametersChanged(uint256 floor, uint256 scale, uint256 decayWad);

    /**
     * @dev The time a revoked node must wait before registering again by burning changed (also
     * emitted by the constructor).
     * @param delay Seconds from a revocation until {register} accepts the node again.
     */
    event ReregistrationDelayChanged(uint64 delay);

    /**
     * @dev Active node `issuer` issued (or re-issued) a DID with `role` to `identity`.
     * @param identity The DID's identity address.
     * @param issuer The issuing authority node.
     * @param role The identity's role, e.g. {DID_ROLE_AGENT}.
     */
    event DIDIssued(address indexed identity, address indexed issuer, bytes32 indexed role);

    /**
     * @dev ERC-1056: `identity` is now owned by `owner`.
     * @param identity The DID's identity address.
     * @param owner The new owner.
     * @param previousChange Block number of the identity's previous change (0 if none).
     */
    event DIDOwnerChanged(address indexed identity, address owner, uint256 previousChange);

    /**
     * @dev ERC-1056: `delegate` is a `delegateType` delegate of `identity` until `validTo`.
     * @param identity The DID's identity address.
     * @param delegateType The delegate type (e.g. `bytes32("sigAuth")`).
     * @param delegate The delegate.
     * @param validTo Timestamp the delegation ends (the current time for a revocation).
     * @param previousChange Block number of the identity's previous change (0 if none).
     */
    event DIDDelegateChanged(
        address indexed identity, bytes32 delegateType, address delegate, uint256 validTo, uint256 previousChange
    );

    /**
     * @dev ERC-1056: attribute `name` = `value` of `identity` is valid until `validTo`.
     * @param identity The DID's identity address.
     * @param name The attribute name (e.g. `bytes32("did/svc/NsedKeeper")`).
     * @param value The attribute value.
     * @param validTo Timestamp the attribute ends (0 for a revocation).
     * @param previousChange Block number of the identity's previous change (0 if none).
     */
    event DIDAttributeChanged(
        address indexed identity, bytes32 name, bytes value, uint256 validTo, uint256 previousChange
    );

    /// @dev An address that must be set is the zero address.
    error AuthorityRegistryZeroAddress();

    /**
     * @dev The decay factor must lie strictly between 0 and 1e18.
     * @param decayWad The rejected factor.
     */
    error AuthorityRegistryInvalidDecay(uint256 decayWad);

    /**
     * @dev `floor + scale` does not fit in a uint256, so some burn could not be computed.
     * @param floor The rejected floor.
     * @param scale The rejected scale.
     */
    error AuthorityRegistryBurnOverflow(uint256 floor, uint256 scale);

    /// @dev A node's jurisdiction must not be zero.
    error AuthorityRegistryInvalidJurisdiction();

    /**
     * @dev `node` is already an active authority node.
     * @param node The account.
     */
    error AuthorityRegistryAlreadyActive(address node);

    /**
     * @dev `account` is not an active authority node.
     * @param account The account.
     */
    error AuthorityRegistryNotActive(address account);

    /**
     * @dev The registration sent `sent` wei but `required` must be burned.
     * @param required The current {requiredBurn}.
     * @param sent `msg.value`.
     */
    error AuthorityRegistryInsufficientBurn(uint256 required, uint256 sent);

    /**
     * @dev Sending `amount` wei to `to` failed (a refund to a contract that refuses ETH).
     * @param to The receiver.
     * @param amount The amount.
     */
    error AuthorityRegistryTransferFailed(address to, uint256 amount);

    /**
     * @dev A DID role must not be zero.
     */
    error AuthorityRegistryInvalidRole();

    /**
     * @dev `identity` already holds a DID issued by `issuer`, which is still an active node.
     * @param identity The identity.
     * @param issuer Its current issuer.
     */
    error AuthorityRegistryDIDAlreadyIssued(address identity, address issuer);

    /**
     * @dev `identity` has no DID: DIDs exist only by {issueDid}.
     * @param identity The identity.
     */
    error AuthorityRegistryDIDNotIssued(address identity);

    /**
     * @dev `actor` is not the owner of `identity`.
     * @param identity The identity.
     * @param actor The caller.
     */
    error AuthorityRegistryNotIdentityOwner(address identity, address actor);

    /**
     * @dev `actor` may not write `identity`'s attributes with consent: it is not the issuer of the
     * identity's still valid DID.
     * @param identity The identity.
     * @param actor The caller.
     */
    error AuthorityRegistryNotAttributeWriter(address identity, address actor);

    /**
     * @dev The consent's deadline has passed.
     * @param deadline The last timestamp the consent was valid at.
     */
    error AuthorityRegistryConsentExpired(uint256 deadline);

    /**
     * @dev The consent is not `signer`'s signature of this exact action, writer and `identity`'s
     * current nonce (a forged, altered or already used consent).
     * @param identity The identity.
     * @param signer The owner of `identity`, whose consent is required.
     */
    error AuthorityRegistryInvalidConsent(address identity, address signer);

    /**
     * @dev Revoked node `node` may register again by burning only from `registrableAt` on.
     * @param node The account.
     * @param registrableAt The first timestamp at which {register} accepts it.
     */
    error AuthorityRegistryReregistrationTooEarly(address node, uint256 registrableAt);

    /**
     * @dev Sets the admin, the burn curve and a {reregistrationDelay} of {DEFAULT_REREGISTRATION_DELAY}.
     * @param guild Receives `DEFAULT_ADMIN_ROLE` (the guild's timelock in a deployment).
     * @param burnFloor Wei burned by the first node.
     * @param burnScale Wei added on top of the floor as the node count grows without bound.
     * @param burnDecayWad Per-node decay factor `r` in 1e18 fixed point, `0 < r < 1e18`.
     *
     * Emits a {BurnParametersChanged} and a {ReregistrationDelayChanged} event.
     */
    constructor(address guild, uint256 burnFloor, uint256 burnScale, uint256 burnDecayWad)
        EIP712("NSED AuthorityRegistry", "1")
    {
        if (guild == address(0)) revert AuthorityRegistryZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, guild);
        _setBurnParameters(burnFloor, burnScale, burnDecayWad);
        _setReregistrationDelay(DEFAULT_REREGISTRATION_DELAY);
    }

    /**
     * @dev Makes the caller an authority node by burning {requiredBurn} wei; the rest of
     * `msg.value` is refunded to the caller.
     * @param jurisdiction The node's jurisdiction (not zero).
     * @param geoCell The node's geographic cell.
     * @param metadataURI The node's metadata URI.
     *
     * Requirements:
     *
     * - the caller is not an active node;
     * - a revoked caller was revoked at least {reregistrationDelay} seconds ago ({registrableAt});
     * - `jurisdiction` is not zero;
     * - `msg.value >= requiredBurn()`;
     * - the caller accepts the refund of any excess.
     *
     * Emits a {NodeRegistered} event.
     */
    function register(bytes32 jurisdiction, uint64 geoCell, string calldata metadataURI)
        external
        payable
        virtual
        nonReentrant
    {
        uint256 allowedAt = registrableAt(msg.sender);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < allowedAt) revert AuthorityRegistryReregistrationTooEarly(msg.sender, allowedAt);
        uint256 required = requiredBurn();
        if (msg.value < required) revert AuthorityRegistryInsufficientBurn(required, msg.value);
        _admit(msg.sender, jurisdiction, geoCell, metadataURI, required, Origin.Burn);

        _sendValue(address(0), required);
        // No underflow: msg.value >= required was checked above.
        unchecked {
            _sendValue(msg.sender, msg.value - required);
        }
    }

    /**
     * @dev Consensus grant: admits `account` without a burn (an institution voted in by the guild).
     * The guild may grant a revoked node again at any time; {reregistrationDelay} binds only
     * {register}.
     * @param account The account to admit.
     * @param jurisdiction Its jurisdiction (not zero).
     * @param geoCell Its geographic cell.
     * @param metadataURI Its metadata URI.
     *
     * Requirements:
     *
     * - the caller has `DEFAULT_ADMIN_ROLE`;
     * - `account` is not the zero address and not an active node;
     * - `jurisdiction` is not zero.
     *
     * Emits a {NodeRegistered} event with `burned` 0.
     */
    function grant(address account, bytes32 jurisdiction, uint64 geoCell, string calldata metadataURI)
        external
        virtual
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (account == address(0)) revert AuthorityRegistryZeroAddress();
        _admit(account, jurisdiction, geoCell, metadataURI, 0, Origin.Grant);
    }

    /**
     * @dev Revokes active node `account`: it stops being an authority, cannot issue DIDs or write
     * attributes, and every DID it issued stops being valid. Its record is kept, inactive, and it
     * may register again by burning only after {reregistrationDelay}.
     * @param account The node to revoke.
     * @param reason Why, for the public record.
     *
     * Requirements:
     *
     * - the caller has `DEFAULT_ADMIN_ROLE`;
     * - `account` is an active node.
     *
     * Emits a {NodeRevoked} event.
     */
    function revoke(address account, string calldata reason) external virtual onlyRole(DEFAULT_ADMIN_ROLE) {
        Node storage n = _requireActive(account);
        n.active = false;
        _revokedAt[account] = uint64(block.timestamp);
        // No underflow: `account` was active, so it is counted.
        unchecked {
            --_activeCount;
        }
        emit NodeRevoked(account, reason);
    }

    /**
     * @dev Changes the caller's own node record.
     * @param jurisdiction The new jurisdiction (not zero).
     * @param geoCell The new geographic cell.
     * @param metadataURI The new metadata URI.
     *
     * Requirements:
     *
     * - the caller is an active node;
     * - `jurisdiction` is not zero.
     *
     * Emits a {NodeUpdated} event.
     */
    function updateNode(bytes32 jurisdiction, uint64 geoCell, string calldata metadataURI) external virtual {
        Node storage n = _requireActive(msg.sender);
        if (jurisdiction == bytes32(0)) revert AuthorityRegistryInvalidJurisdiction();
        n.jurisdiction = jurisdiction;
        n.geoCell = geoCell;
        n.metadataURI = metadataURI;
        emit NodeUpdated(msg.sender, jurisdiction, geoCell, metadataURI);
    }

    /**
     * @dev Changes the burn curve; nodes already admitted keep their status.
     * @param floor Wei burned by the first node.
     * @param scale Wei added on top of the floor as the node count grows without bound.
     * @param decayWad Per-node decay factor `r` in 1e18 fixed point, `0 < r < 1e18`.
     *
     * Requirements:
     *
     * - the caller has `DEFAULT_ADMIN_ROLE`;
     * - `0 < decayWad < 1e18` and `floor + scale` fits in a uint256.
     *
     * Emits a {BurnParametersChanged} event.
     */
    function setBurnParameters(uint256 floor, uint256 scale, uint256 decayWad)
        external
        virtual
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _setBurnParameters(floor, scale, decayWad);
    }

    /**
     * @dev Sets how long a revoked node waits before {register} accepts it again.
     * @param delay Seconds from a revocation; applies to every revoked node from now on, including
     * nodes revoked earlier.
     *
     * Requirements:
     *
     * - the caller has `DEFAULT_ADMIN_ROLE`.
     *
     * Emits a {ReregistrationDelayChanged} event.
     */
    function setReregistrationDelay(uint64 delay) external virtual onlyRole(DEFAULT_ADMIN_ROLE) {
        _setReregistrationDelay(delay);
    }

    /**
     * @dev Issues a DID with `role` to `identity`, the caller being its issuer, with the consent of
     * the identity's owner. An identity whose issuer has been revoked may be issued a DID again; its
     * owner and delegates are kept.
     * @param identity The identity (an agent's or expert's address).
     * @param role The identity's role, e.g. {DID_ROLE_AGENT} or {DID_ROLE_EXPERT} (not zero).
     * @param deadline Last timestamp the consent is valid at.
     * @param consent {identityOwner}`(identity)`'s EIP-712 signature (or ERC-1271 approval) of
     * `DidIssuance(identity, role, msg.sender, nonces(identity), deadline)`.
     *
     * Requirements:
     *
     * - the caller is an active node;
     * - `identity` is not the zero address and `role` is not zero;
     * - `identity` holds no DID that is still {did}-valid;
     * - `block.timestamp <= deadline` and `consent` is valid; it uses up the identity's nonce.
     *
     * Emits a {DIDIssued} event.
     */
    function issueDid(address identity, bytes32 role, uint256 deadline, bytes calldata consent) external virtual {
        Node storage issuer = _requireActive(msg.sender);
        if (identity == address(0)) revert AuthorityRegistryZeroAddress();
        if (role == bytes32(0)) revert AuthorityRegistryInvalidRole();
        DidRecord storage d = _dids[identity];
        if (_issuerCurrent(d)) revert AuthorityRegistryDIDAlreadyIssued(identity, d.issuer);
        bytes32 structHash =
            keccak256(abi.encode(DID_ISSUANCE_TYPEHASH, identity, role, msg.sender, _useNonce(identity), deadline));
        _checkConsent(identity, deadline, structHash, consent);
        d.issuer = msg.sender;
        d.issuedAt = uint64(block.timestamp);
        d.admission = issuer.admission;
        d.role = role;
        emit DIDIssued(identity, msg.sender, role);
    }

    /**
     * @dev ERC-1056 `changeOwner`: hands control of `identity` to `newOwner`.
     * @param identity An identity with an issued DID.
     * @param newOwner The new owner (not the zero address).
     *
     * Requirements:
     *
     * - `identity` has been issued a DID;
     * - the caller is {identityOwner}`(identity)`.
     *
     * Emits a {DIDOwnerChanged} event.
     */
    function changeOwner(address identity, address newOwner) external virtual {
        _requireOwner(identity);
        if (newOwner == address(0)) revert AuthorityRegistryZeroAddress();
        _owners[identity] = newOwner;
        emit DIDOwnerChanged(identity, newOwner, _changed[identity]);
        _changed[identity] = block.number;
    }

    /**
     * @dev ERC-1056 `addDelegate`: makes `delegate` a `delegateType` delegate of `identity` for
     * `validity` seconds (saturating at the largest timestamp).
     * @param identity An identity with an issued DID.
     * @param delegateType The delegate type (e.g. `bytes32("sigAuth")`).
     * @param delegate The delegate.
     * @param validity Seconds from now the delegation lasts.
     *
     * Requirements:
     *
     * - `identity` has been issued a DID;
     * - the caller is {identityOwner}`(identity)`.
     *
     * Emits a {DIDDelegateChanged} event.
     */
    function addDelegate(address identity, bytes32 delegateType, address delegate, uint256 validity) external virtual {
        _requireOwner(identity);
        uint256 validTo = _validTo(validity);
        _delegates[identity][delegateType][delegate] = validTo;
        emit DIDDelegateChanged(identity, delegateType, delegate, validTo, _changed[identity]);
        _changed[identity] = block.number;
    }

    /**
     * @dev ERC-1056 `revokeDelegate`: ends `delegate`'s `delegateType` delegation of `identity` now.
     * @param identity An identity with an issued DID.
     * @param delegateType The delegate type.
     * @param delegate The delegate.
     *
     * Requirements:
     *
     * - `identity` has been issued a DID;
     * - the caller is {identityOwner}`(identity)`.
     *
     * Emits a {DIDDelegateChanged} event with `validTo` the current timestamp.
     */
    function revokeDelegate(address identity, bytes32 delegateType, address delegate) external virtual {
        _requireOwner(identity);
        _delegates[identity][delegateType][delegate] = block.timestamp;
        emit DIDDelegateChanged(identity, delegateType, delegate, block.timestamp, _changed[identity]);
        _changed[identity] = block.number;
    }

    /**
     * @dev ERC-1056 `setAttribute`: publishes attribute `name` = `value` of `identity`, valid for
     * `validity` seconds (saturating). Attributes are not stored; resolvers read the events.
     * @param identity An identity with an issued DID.
     * @param name The attribute name.
     * @param value The attribute value.
     * @param validity Seconds from now the attribute is valid.
     *
     * Requirements:
     *
     * - `identity` has been issued a DID;
     * - the caller is {identityOwner}`(identity)` (the issuer uses {setAttributeWithConsent}).
     *
     * Emits a {DIDAttributeChanged} event.
     */
    function setAttribute(address identity, bytes32 name, bytes calldata value, uint256 validity) external virtual {
        _requireOwner(identity);
        _emitAttribute(identity, name, value, _validTo(validity));
    }

    /**
     * @dev ERC-1056 `revokeAttribute`: withdraws attribute `name` = `value` of `identity`.
     * @param identity An identity with an issued DID.
     * @param name The attribute name.
     * @param value The attribute value.
     *
     * Requirements:
     *
     * - `identity` has been issued a DID;
     * - the caller is {identityOwner}`(identity)` (the issuer uses {revokeAttributeWithConsent}).
     *
     * Emits a {DIDAttributeChanged} event with `validTo` 0.
     */
    function revokeAttribute(address identity, bytes32 name, bytes calldata value) external virtual {
        _requireOwner(identity);
        _emitAttribute(identity, name, value, 0);
    }

    /**
     * @dev {setAttribute} by the DID's issuer, with the consent of the identity's owner to this exact
     * write.
     * @param identity An identity with an issued DID.
     * @param name The attribute name.
     * @param value The attribute value.
     * @param validity Seconds from now the attribute is valid.
     * @param deadline Last timestamp the consent is valid at.
     * @param consent {identityOwner}`(identity)`'s EIP-712 signature (or ERC-1271 approval) of
     * `AttributeConsent(identity, name, keccak256(value), validity, msg.sender, nonces(identity), deadline)`.
     *
     * Requirements:
     *
     * - `identity` has been issued a DID and the caller is its issuer, while the DID is {did}-valid;
     * - `block.timestamp <= deadline` and `consent` is valid; it uses up the identity's nonce.
     *
     * Emits a {DIDAttributeChanged} event.
     */
    function setAttributeWithConsent(
        address identity,
        bytes32 name,
        bytes calldata value,
        uint256 validity,
        uint256 deadline,
        bytes calldata consent
    ) external virtual {
        _useAttributeConsent(identity, name, keccak256(value), validity, deadline, consent);
        _emitAttribute(identity, name, value, _validTo(validity));
    }

    /**
     * @dev {revokeAttribute} by the DID's issuer, with the consent of the identity's owner: an
     * `AttributeConsent` with `validity` 0.
     * @param identity An identity with an issued DID.
     * @param name The attribute name.
     * @param value The attribute value.
     * @param deadline Last timestamp the consent is valid at.
     * @param consent {identityOwner}`(identity)`'s EIP-712 signature (or ERC-1271 approval) of
     * `AttributeConsent(identity, name, keccak256(value), 0, msg.sender, nonces(identity), deadline)`.
     *
     * Requirements:
     *
     * - `identity` has been issued a DID and the caller is its issuer, while the DID is {did}-valid;
     * - `block.timestamp <= deadline` and `consent` is valid; it uses up the identity's nonce.
     *
     * Emits a {DIDAttributeChanged} event with `validTo` 0.
     */
    function revokeAttributeWithConsent(
        address identity,
        bytes32 name,
        bytes calldata value,
        uint256 deadline,
        bytes calldata consent
    ) external virtual {
        _useAttributeConsent(identity, name, keccak256(value), 0, deadline, consent);
        _emitAttribute(identity, name, value, 0);
    }

    /// @inheritdoc IAuthorityRegistry
    function isAuthority(address account) public view virtual returns (bool) {
        return _nodes[account].active;
    }

    /**
     * @dev The record of `account` (all zero for an account never admitted; kept, inactive, after a
     * revocation).
     * @param account The node's account.
     * @return The node record.
     */
    function node(address account) public view virtual returns (Node memory) {
        return _nodes[account];
    }

    /**
     * @dev Number of active authority nodes, the `n` of {requiredBurn}.
     * @return The active node count.
     */
    function nodeCount() public view virtual returns (uint256) {
        return _activeCount;
    }

    /**
     * @dev Wei the next {register} burns: `floor + ⌈scale · (1e18 − ⌊r^n⌋) / 1e18⌉` with
     * `n = nodeCount()`; see the contract documentation for the rounding. Equal to `floor` when no
     * node is active, strictly increasing in `n` (until `⌊r^n⌋` reaches 0) and at most `floor + scale`.
     * @return The required burn in wei.
     */
    function requiredBurn() public view virtual returns (uint256) {
        uint256 decayed = _powWad(_burnDecayWad, _activeCount);
        // No overflow: decayed <= 1e18 because every factor is below 1e18, and the result is at
        // most floor + scale, which {_setBurnParameters} checked fits.
        unchecked {
            return _burnFloor + Math.mulDiv(_burnScale, _WAD - decayed, _WAD, Math.Rounding.Ceil);
        }
    }

    /**
     * @dev Seconds a revoked node waits from its revocation before {register} accepts it again.
     * @return The delay.
     */
    function reregistrationDelay() public view virtual returns (uint64) {
        return _reregistrationDelay;
    }

    /**
     * @dev The first timestamp at which {register} accepts `account`: its latest revocation plus the
     * current {reregistrationDelay}, or 0 when it is not waiting out a revocation (never revoked, or
     * admitted again since).
     * @param account The account.
     * @return The timestamp (0: no wait).
     */
    function registrableAt(address account) public view virtual returns (uint256) {
        uint256 revokedAt = _revokedAt[account];
        // No overflow: both terms are below 2^64.
        return revokedAt == 0 ? 0 : revokedAt + _reregistrationDelay;
    }

    /**
     * @dev The burn curve.
     * @return floor Wei burned by the first node.
     * @return scale Wei added on top of the floor as the node count grows without bound.
     * @return decayWad Per-node decay factor in 1e18 fixed point.
     */
    function burnParameters() public view virtual returns (uint256 floor, uint256 scale, uint256 decayWad) {
        return (_burnFloor, _burnScale, _burnDecayWad);
    }

    /**
     * @dev ERC-1056 `identityOwner`: the owner of `identity`, which is the identity itself until
     * {changeOwner}.
     * @param identity The identity.
     * @return The owner.
     */
    function identityOwner(address identity) public view virtual returns (address) {
        address owner = _owners[identity];
        return owner == address(0) ? identity : owner;
    }

    /**
     * @dev ERC-1056 `validDelegate`: whether `delegate` is an unexpired `delegateType` delegate of
     * `identity`.
     * @param identity The identity.
     * @param delegateType The delegate type.
     * @param delegate The delegate.
     * @return True while the delegation's `validTo` is in the future.
     */
    function validDelegate(address identity, bytes32 delegateType, address delegate)
        public
        view
        virtual
        returns (bool)
    {
        // forge-lint: disable-next-line(block-timestamp)
        return _delegates[identity][delegateType][delegate] > block.timestamp;
    }

    /**
     * @dev ERC-1056 `changed`: block number of the latest owner, delegate or attribute change of
     * `identity` (0 if none); the start of a resolver's walk through `previousChange`.
     * @param identity The identity.
     * @return The block number.
     */
    function changed(address identity) public view virtual returns (uint256) {
        return _changed[identity];
    }

    /**
     * @dev The DID of `identity`.
     * @param identity The identity.
     * @return issuer The issuing node (zero if never issued).
     * @return role The identity's role.
     * @return issuedAt Timestamp of the (latest) issuance.
     * @return valid True when issued and the issuer is still an active node, in the admission it
     * issued the DID in.
     */
    function did(address identity)
        public
        view
        virtual
        returns (address issuer, bytes32 role, uint64 issuedAt, bool valid)
    {
        DidRecord storage d = _dids[identity];
        return (d.issuer, d.role, d.issuedAt, _issuerCurrent(d));
    }

    /**
     * @dev Records `account` as an active node (checks, then effects and event); the caller moves
     * any ETH afterwards.
     */
    function _admit(
        address account,
        bytes32 jurisdiction,
        uint64 geoCell,
        string calldata metadataURI,
        uint256 burned,
        Origin origin
    ) internal virtual {
        Node storage n = _nodes[account];
        if (n.active) revert AuthorityRegistryAlreadyActive(account);
        if (jurisdiction == bytes32(0)) revert AuthorityRegistryInvalidJurisdiction();
        n.jurisdiction = jurisdiction;
        n.geoCell = geoCell;
        n.registeredAt = uint64(block.timestamp);
        n.origin = origin;
        n.active = true;
        ++n.admission;
        n.burned = burned;
        n.metadataURI = metadataURI;
        delete _revokedAt[account];
        ++_activeCount;
        emit NodeRegistered(account, jurisdiction, geoCell, burned, origin, metadataURI);
    }

    /// @dev Validates and stores the burn curve.
    function _setBurnParameters(uint256 floor, uint256 scale, uint256 decayWad) internal virtual {
        if (decayWad == 0 || decayWad >= _WAD) revert AuthorityRegistryInvalidDecay(decayWad);
        if (scale > type(uint256).max - floor) revert AuthorityRegistryBurnOverflow(floor, scale);
        _burnFloor = floor;
        _burnScale = scale;
        _burnDecayWad = decayWad;
        emit BurnParametersChanged(floor, scale, decayWad);
    }

    /// @dev Stores the re-registration delay.
    function _setReregistrationDelay(uint64 delay) internal virtual {
        _reregistrationDelay = delay;
        emit ReregistrationDelayChanged(delay);
    }

    /// @dev Emits an ERC-1056 attribute change of `identity` and records the block.
    function _emitAttribute(address identity, bytes32 name, bytes calldata value, uint256 validTo) internal virtual {
        emit DIDAttributeChanged(identity, name, value, validTo, _changed[identity]);
        _changed[identity] = block.number;
    }

    /**
     * @dev Requires that the caller is the current issuer of `identity`'s DID and that `consent`
     * approves this attribute write, using up the identity's nonce.
     */
    function _useAttributeConsent(
        address identity,
        bytes32 name,
        bytes32 valueHash,
        uint256 validity,
        uint256 deadline,
        bytes calldata consent
    ) internal virtual {
        DidRecord storage d = _dids[identity];
        if (d.issuer == address(0)) revert AuthorityRegistryDIDNotIssued(identity);
        if (msg.sender != d.issuer || !_issuerCurrent(d)) {
            revert AuthorityRegistryNotAttributeWriter(identity, msg.sender);
        }
        _checkConsent(identity, deadline, _attributeConsentHash(identity, name, valueHash, validity, deadline), consent);
    }

    /// @dev The `AttributeConsent` struct hash of a write by the caller, using up the identity's nonce.
    function _attributeConsentHash(
        address identity,
        bytes32 name,
        bytes32 valueHash,
        uint256 validity,
        uint256 deadline
    ) private returns (bytes32) {
        uint256 nonce = _useNonce(identity);
        return keccak256(
            abi.encode(ATTRIBUTE_CONSENT_TYPEHASH, identity, name, valueHash, validity, msg.sender, nonce, deadline)
        );
    }

    /**
     * @dev Requires that `deadline` has not passed and that `consent` is {identityOwner}`(identity)`'s
     * signature of the typed data `structHash` under this registry's EIP-712 domain.
     */
    function _checkConsent(address identity, uint256 deadline, bytes32 structHash, bytes calldata consent)
        internal
        view
        virtual
    {
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > deadline) revert AuthorityRegistryConsentExpired(deadline);
        address signer = identityOwner(identity);
        if (!SignatureChecker.isValidSignatureNowCalldata(signer, _hashTypedDataV4(structHash), consent)) {
            revert AuthorityRegistryInvalidConsent(identity, signer);
        }
    }

    /// @dev The record of `account`, which must be an active node.
    function _requireActive(address account) internal view virtual returns (Node storage n) {
        n = _nodes[account];
        if (!n.active) revert AuthorityRegistryNotActive(account);
    }

    /// @dev Requires that `identity` has a DID and the caller owns it.
    function _requireOwner(address identity) internal view virtual {
        if (_dids[identity].issuer == address(0)) revert AuthorityRegistryDIDNotIssued(identity);
        if (msg.sender != identityOwner(identity)) revert AuthorityRegistryNotIdentityOwner(identity, msg.sender);
    }

    /**
     * @dev Whether `d` was issued and its issuer is still active in the admission it issued `d` in
     * (so the DID is valid).
     */
    function _issuerCurrent(DidRecord storage d) internal view virtual returns (bool) {
        address issuer = d.issuer;
        if (issuer == address(0)) return false;
        Node storage n = _nodes[issuer];
        return n.active && n.admission == d.admission;
    }

    /// @dev `block.timestamp + validity`, saturating at the largest uint256.
    function _validTo(uint256 validity) internal view virtual returns (uint256) {
        (bool ok, uint256 validTo) = Math.tryAdd(block.timestamp, validity);
        return ok ? validTo : type(uint256).max;
    }

    /**
     * @dev `⌊base^exp⌋` in 1e18 fixed point by exponentiation by squaring, every product rounded
     * down: the result never exceeds the exact power. `base < 1e18`, so no product overflows and
     * the loop runs once per bit of `exp`.
     */
    function _powWad(uint256 base, uint256 exp) internal pure returns (uint256 result) {
        result = _WAD;
        while (exp != 0) {
            if (exp & 1 == 1) result = Math.mulDiv(result, base, _WAD);
            exp >>= 1;
            if (exp != 0) base = Math.mulDiv(base, base, _WAD);
        }
    }

    /// @dev Sends `amount` wei to `to` (nothing for 0), reverting if the receiver refuses it.
    function _sendValue(address to, uint256 amount) private {
        if (amount == 0) return;
        // slither-disable-next-line arbitrary-send-eth,low-level-calls
        (bool ok,) = payable(to).call{value: amount}("");
        if (!ok) revert AuthorityRegistryTransferFailed(to, amount);
    }
}
