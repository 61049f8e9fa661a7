// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @dev What other contracts ask of the authority registry (docs/economics.md): whether an account is
 * a currently active authority node. The deliberation market uses it to require that keepers are
 * authority nodes when the guild turns that on.
 */
interface IAuthorityRegistry {
    /**
     * @dev Whether `account` is an active authority node (registered by burn or granted by the
     * guild, and not revoked).
     * @param account The account to check.
     * @return True when `account` is an active authority node.
     */
    function isAuthority(address account) external view returns (bool);
}
