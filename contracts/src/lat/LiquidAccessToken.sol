// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC1155Burnable} from "@openzeppelin/contracts/token/ERC1155/extensions/ERC1155Burnable.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {LatId} from "./LatId.sol";

/**
 * @dev Liquid Access Tokens (docs/economics.md): an ERC-1155 whose id encodes an IP asset and a quality
 * tier, `id = asset << 8 | tier`.
 *
 * - **Earned by deliberation.** Accounts with {MINTER_ROLE} (the arena and the deliberation market)
 *   mint tier-`R` tokens to the winners of rank-`R` games and jobs. Rewards are credited through
 *   {_update} without calling `onERC1155Received`, so a winner's contract can never make a game's
 *   close or a job's settlement revert.
 * - **Freely tradable.** Ordinary ERC-1155 transfers and approvals; unlike rank, access is for sale.
 * - **Burned for access.** {access} burns one token of the asset at the requested tier or higher and
 *   emits {Accessed}, which off-chain key release watches. Holders and approved operators can also
 *   burn ({ERC1155Burnable}), e.g. when converting LATs into guild votes.
 *
 * Roles are administered by `DEFAULT_ADMIN_ROLE`, the guild's timelock in a full deployment.
 */
contract LiquidAccessToken is ERC1155, ERC1155Burnable, AccessControl {
    /// @dev Role of contracts allowed to mint rewards.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /**
     * @dev `account` burned a tier-`tier` token of `asset` to access it at `requestedTier`.
     * @param asset The IP asset.
     * @param tier The tier of the token burned (at least `requestedTier`).
     * @param account The account granted access.
     * @param requestedTier The tier access was asked for.
     */
    event Accessed(uint248 indexed asset, uint8 tier, address indexed account, uint8 requestedTier);

    /**
     * @dev Tiers start at 1; `tier` is zero.
     */
    error LiquidAccessTokenInvalidTier(uint8 tier);

    /**
     * @dev Amounts must be positive so every event means a change.
     */
    error LiquidAccessTokenZeroAmount();

    /**
     * @dev Access at `requestedTier` needs a token of tier `requestedTier` or higher, but `tier` was
     * offered.
     * @param tier The tier offered.
     * @param requestedTier The tier asked for.
     */
    error LiquidAccessTokenTierTooLow(uint8 tier, uint8 requestedTier);

    /**
     * @dev Sets the metadata URI template (ERC-1155 `{id}` substitution) and the role administrator.
     * @param uri_ Metadata URI template.
     * @param admin Receives `DEFAULT_ADMIN_ROLE` (the guild timelock in a full deployment).
     */
    constructor(string memory uri_, address admin) ERC1155(uri_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /**
     * @dev Mints `amount` tier-`tier` tokens of `asset` to `to` (no receiver hook).
     *
     * Requirements:
     *
     * - the caller has {MINTER_ROLE};
     * - `tier >= 1`, `amount > 0`, `to` is not the zero address.
     *
     * Emits a {TransferSingle} event.
     */
    function mint(address to, uint248 asset, uint8 tier, uint256 amount) external virtual onlyRole(MINTER_ROLE) {
        if (tier == 0) revert LiquidAccessTokenInvalidTier(tier);
        if (amount == 0) revert LiquidAccessTokenZeroAmount();
        if (to == address(0)) revert ERC1155InvalidReceiver(address(0));
        uint256[] memory ids = new uint256[](1);
        uint256[] memory values = new uint256[](1);
        ids[0] = tokenId(asset, tier);
        values[0] = amount;
        _update(address(0), to, ids, values);
    }

    /**
     * @dev Burns one of the caller's tier-`tier` tokens of `asset` to access the asset at
     * `requestedTier`: any tier at or above the requested one grants access.
     *
     * Requirements:
     *
     * - `requestedTier >= 1` and `tier >= requestedTier`;
     * - the caller holds a tier-`tier` token of `asset`.
     *
     * Emits {TransferSingle} and {Accessed}.
     */
    function access(uint248 asset, uint8 tier, uint8 requestedTier) external virtual {
        if (requestedTier == 0) revert LiquidAccessTokenInvalidTier(requestedTier);
        if (tier < requestedTier) revert LiquidAccessTokenTierTooLow(tier, requestedTier);
        _burn(msg.sender, tokenId(asset, tier), 1);
        emit Accessed(asset, tier, msg.sender, requestedTier);
    }

    /// @dev The token id of `asset` at `tier`: `asset << 8 | tier`.
    function tokenId(uint248 asset, uint8 tier) public pure virtual returns (uint256) {
        return LatId.encode(asset, tier);
    }

    /// @dev The IP asset of token `id`.
    function assetOf(uint256 id) public pure virtual returns (uint248) {
        return LatId.asset(id);
    }

    /// @dev The tier of token `id`.
    function tierOf(uint256 id) public pure virtual returns (uint8) {
        return LatId.tier(id);
    }

    /// @inheritdoc ERC1155
    function supportsInterface(bytes4 interfaceId) public view virtual override(ERC1155, AccessControl) returns (bool) {
        return super.supportsInterface(interfaceId);
    }
}
