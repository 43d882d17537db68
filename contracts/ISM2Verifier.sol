// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title SM2 signatures and SM3 digests, as the registry of a GM-suite deployment needs them
/// @notice SM2 (GB/T 32918.2-2016, GM/T 0003.2-2012) on the recommended curve of GB/T 32918.5-2017, with SM3
///         (GB/T 32905-2016). Two implementations exist: {SM2Verifier}, plain EVM code for any chain, and
///         {SM2PrecompileVerifier}, for FISCO BCOS in national-cryptography mode, whose precompiled Crypto
///         contract does the work natively. The registry is given one at deployment, for ever.
/// @dev Every value is 32 bytes, big-endian: public key coordinates (x, y), signature values (r, s), digests.
interface ISM2Verifier {
    /// @notice SM3(data).
    function sm3(bytes calldata data) external view returns (bytes32);

    /// @notice The identity digest Z of public key (x, y) under the default signer ID "1234567812345678":
    ///         SM3(0x0080 || "1234567812345678" || a || b || xG || yG || x || y).
    function identityDigest(bytes32 x, bytes32 y) external view returns (bytes32);

    /// @notice Whether (r, s) is an SM2 signature by public key (x, y) over the 32-byte message `message`, that
    ///         is over the digest e = SM3(z || message), where `z` is {identityDigest}(x, y). False for any
    ///         malformed input: r or s outside [1, n - 1], a key that is not a point of the curve.
    function verify(bytes32 z, bytes32 message, bytes32 r, bytes32 s, bytes32 x, bytes32 y)
        external
        view
        returns (bool);
}
