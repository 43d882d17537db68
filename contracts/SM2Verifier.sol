// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ISM2Verifier} from "./ISM2Verifier.sol";
import {SM2} from "./SM2.sol";
import {SM3} from "./SM3.sol";

/// @title SM2 and SM3 in EVM code, for any chain
/// @notice Stateless: deployed once, shared by every registry of the GM suite on the chain. Its gas: about 25,000
///         per 64-byte block of SM3, about 170,000 for the curve arithmetic of one signature.
contract SM2Verifier is ISM2Verifier {
    /// @inheritdoc ISM2Verifier
    function sm3(bytes calldata data) external pure returns (bytes32) {
        return SM3.hash(data);
    }

    /// @inheritdoc ISM2Verifier
    function identityDigest(bytes32 x, bytes32 y) external pure returns (bytes32) {
        return SM2.identityDigest(uint256(x), uint256(y));
    }

    /// @inheritdoc ISM2Verifier
    function verify(bytes32 z, bytes32 message, bytes32 r, bytes32 s, bytes32 x, bytes32 y)
        external
        view
        returns (bool)
    {
        return SM2.verify(z, message, uint256(r), uint256(s), uint256(x), uint256(y));
    }

    /// @notice Whether (r, s) is an SM2 signature by public key (x, y) over the digest e = SM3(Z || M) of a message
    ///         of any length (the standards' examples sign 14 bytes): the curve check alone.
    function verifyDigest(bytes32 e, bytes32 r, bytes32 s, bytes32 x, bytes32 y) external view returns (bool) {
        return SM2.verifyDigest(uint256(e), uint256(r), uint256(s), uint256(x), uint256(y));
    }
}
