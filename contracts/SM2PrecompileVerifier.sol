// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ISM2Verifier} from "./ISM2Verifier.sol";
import {SM2} from "./SM2.sol";

/// @title SM2 and SM3 through FISCO BCOS's precompiled Crypto contract
/// @notice For a registry on FISCO BCOS 3.x, whose precompiled contract at 0x100a ("/sys/crypto_tools") offers
///         `sm3(bytes) returns (bytes32)` and `sm2Verify(bytes message, bytes sign) returns (bool, address)`:
///         `message` is the 32-byte message M, `sign` is r || s || x || y (the public key travels with the
///         signature), and the precompile checks e = SM3(Z || M) with Z for the default ID, returning the key's
///         FISCO BCOS account, the last 20 bytes of SM3(x || y) (zero when the signature is invalid).
///         The chain verifies natively, at a fraction of {SM2Verifier}'s gas.
/// @dev A node in national-cryptography mode computes function selectors with SM3 rather than keccak-256, so the
///      selectors are chosen at deployment by the chain's mode. The precompile derives Z from the public key
///      itself, so `z` is not read: by the interface's contract it is {identityDigest}(x, y). The ranges of r and
///      s and the key's place on the curve are checked here first, so that every implementation refuses exactly
///      the same malformed inputs, whatever the node's library does with them.
contract SM2PrecompileVerifier is ISM2Verifier {
    /// @notice The precompiled Crypto contract's address.
    address public constant CRYPTO = address(0x100a);

    /// @notice Whether the chain runs in national-cryptography mode (selectors hashed with SM3).
    bool public immutable nationalCryptography;

    bytes4 private immutable _sm3Selector;
    bytes4 private immutable _sm2VerifySelector;

    /// @notice The precompile answered a call with an error or with data of the wrong shape.
    error SM2PrecompileFailed(bytes4 selector);

    constructor(bool nationalCryptography_) {
        nationalCryptography = nationalCryptography_;
        // SM3("sm3(bytes)")[:4], SM3("sm2Verify(bytes,bytes)")[:4]; keccak-256 in standard mode.
        _sm3Selector = nationalCryptography_ ? bytes4(0xf25611b5) : bytes4(keccak256("sm3(bytes)"));
        _sm2VerifySelector =
            nationalCryptography_ ? bytes4(0xf36ea08d) : bytes4(keccak256("sm2Verify(bytes,bytes)"));
    }

    /// @inheritdoc ISM2Verifier
    function sm3(bytes calldata data) external view returns (bytes32) {
        return _sm3(data);
    }

    /// @inheritdoc ISM2Verifier
    function identityDigest(bytes32 x, bytes32 y) external view returns (bytes32) {
        return _sm3(abi.encodePacked(SM2.DEFAULT_ID_BITS, SM2.DEFAULT_ID, SM2.A, SM2.B, SM2.GX, SM2.GY, x, y));
    }

    /// @inheritdoc ISM2Verifier
    function verify(bytes32, bytes32 message, bytes32 r, bytes32 s, bytes32 x, bytes32 y)
        external
        view
        returns (bool)
    {
        if (uint256(r) == 0 || uint256(r) >= SM2.N || uint256(s) == 0 || uint256(s) >= SM2.N) return false;
        if (!SM2.isOnCurve(uint256(x), uint256(y))) return false;
        (bool ok, bytes memory result) = CRYPTO.staticcall(
            abi.encodeWithSelector(_sm2VerifySelector, abi.encodePacked(message), abi.encodePacked(r, s, x, y))
        );
        if (!ok || result.length != 64) revert SM2PrecompileFailed(_sm2VerifySelector);
        (bool valid, address account) = abi.decode(result, (bool, address));
        return valid && account == address(uint160(uint256(_sm3(abi.encodePacked(x, y)))));
    }

    function _sm3(bytes memory data) private view returns (bytes32) {
        (bool ok, bytes memory result) = CRYPTO.staticcall(abi.encodeWithSelector(_sm3Selector, data));
        if (!ok || result.length != 32) revert SM2PrecompileFailed(_sm3Selector);
        return abi.decode(result, (bytes32));
    }
}
