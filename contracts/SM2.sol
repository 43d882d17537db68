// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {SM3} from "./SM3.sol";

/// @title SM2 signature verification (GB/T 32918.2-2016, GM/T 0003.2-2012) on the curve of GB/T 32918.5-2017
/// @notice A signature (r, s) by public key P over a message M is valid when 0 < r, s < n, t = (r + s) mod n
///         is not 0, and r = (e + x1) mod n, where (x1, y1) = [s]G + [t]P and e = SM3(Z || M). Z is the signer's
///         identity digest, SM3(ENTL || ID || a || b || xG || yG || xP || yP), here always with the default ID
///         "1234567812345678" of GM/T 0009.
/// @dev The curve has a = p - 3, like P-256, so points use the XYZZ coordinates (x = X/ZZ, y = Y/ZZZ) and the
///      doubling formula for a = -3 (dbl-2008-s-1, madd-2008-s). [s]G + [t]P takes two bits of both scalars at
///      a time (Shamir's trick with a 15-point table: 2G and 3G are constants, the rest is built per key and
///      made affine with one inversion). The last step needs no inversion: x1 is compared as X = x1 * ZZ, for
///      both candidates x1 = r - e and r - e + n (mod n) below p.
library SM2 {
    uint256 internal constant P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF;
    uint256 internal constant A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC;
    uint256 internal constant B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93;
    uint256 internal constant N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123;
    uint256 internal constant GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7;
    uint256 internal constant GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0;

    /// @notice The default signer identity of GM/T 0009-2012, and its length in bits (ENTL).
    bytes16 internal constant DEFAULT_ID = "1234567812345678";
    uint16 internal constant DEFAULT_ID_BITS = 128;

    /// @notice Z = SM3(ENTL || ID || a || b || xG || yG || x || y) for the default ID.
    function identityDigest(uint256 x, uint256 y) internal pure returns (bytes32) {
        return SM3.hash(abi.encodePacked(DEFAULT_ID_BITS, DEFAULT_ID, A, B, GX, GY, x, y));
    }

    /// @notice Whether (x, y) is a point of the curve, with both coordinates reduced (the point at infinity has
    ///         no affine coordinates and is not one).
    function isOnCurve(uint256 x, uint256 y) internal pure returns (bool) {
        if (x >= P || y >= P) return false;
        return mulmod(y, y, P) == addmod(mulmod(addmod(mulmod(x, x, P), A, P), x, P), B, P);
    }

    /// @notice Whether (r, s) is an SM2 signature by the public key (x, y) over the message `message`, where `z`
    ///         is the key's identity digest ({identityDigest}): e = SM3(z || message).
    function verify(bytes32 z, bytes32 message, uint256 r, uint256 s, uint256 x, uint256 y)
        internal
        view
        returns (bool)
    {
        return verifyDigest(uint256(SM3.hash(abi.encodePacked(z, message))), r, s, x, y);
    }

    /// @notice Whether (r, s) is an SM2 signature by the public key (x, y) over the digest e = SM3(Z || M).
    function verifyDigest(uint256 e, uint256 r, uint256 s, uint256 x, uint256 y) internal view returns (bool) {
        if (r == 0 || r >= N || s == 0 || s >= N || !isOnCurve(x, y)) return false;
        uint256 t = addmod(r, s, N);
        if (t == 0) return false;
        (uint256 rx, uint256 rzz) = _mulAdd(s, t, x, y);
        if (rzz == 0) return false; // [s]G + [t]P is the point at infinity
        uint256 x1 = addmod(r, N - (e % N), N);
        return mulmod(x1, rzz, P) == rx || (x1 < P - N && mulmod(x1 + N, rzz, P) == rx);
    }

    /// @dev [u]G + [v]Q for a point Q of the curve, as X and ZZ of its XYZZ coordinates (ZZ = 0: infinity).
    function _mulAdd(uint256 u, uint256 v, uint256 qx, uint256 qy) private view returns (uint256 x, uint256 zz) {
        assembly ("memory-safe") {
            let p := 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF

            // Doubling in XYZZ coordinates for a = -3 (dbl-2008-s-1); the point at infinity (zz1 = 0) stays it.
            function dbl(x1, y1, zz1, zzz1) -> x3, y3, zz3, zzz3 {
                let p_ := 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
                let u_ := addmod(y1, y1, p_)
                let v_ := mulmod(u_, u_, p_)
                let w_ := mulmod(u_, v_, p_)
                let s_ := mulmod(x1, v_, p_)
                let m_ := mulmod(3, mulmod(addmod(x1, sub(p_, zz1), p_), addmod(x1, zz1, p_), p_), p_)
                x3 := addmod(mulmod(m_, m_, p_), sub(p_, addmod(s_, s_, p_)), p_)
                y3 := addmod(mulmod(m_, addmod(s_, sub(p_, x3), p_), p_), sub(p_, mulmod(w_, y1, p_)), p_)
                zz3 := mulmod(v_, zz1, p_)
                zzz3 := mulmod(w_, zzz1, p_)
            }
            // (x1, y1, zz1, zzz1) + the affine point (x2, y2) (madd-2008-s), with every special case: either
            // point at infinity, equal points (doubling), opposite points (infinity).
            function madd(x1, y1, zz1, zzz1, x2, y2) -> x3, y3, zz3, zzz3 {
                let p_ := 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
                if iszero(zz1) {
                    x3 := x2
                    y3 := y2
                    zz3 := 1
                    zzz3 := 1
                    leave
                }
                let h_ := addmod(mulmod(x2, zz1, p_), sub(p_, x1), p_)
                let r_ := addmod(mulmod(y2, zzz1, p_), sub(p_, y1), p_)
                if iszero(h_) {
                    if iszero(r_) {
                        x3, y3, zz3, zzz3 := dbl(x1, y1, zz1, zzz1)
                        leave
                    }
                    leave // opposite points: the sum is the point at infinity (zz3 = 0)
                }
                let hh := mulmod(h_, h_, p_)
                let hhh := mulmod(hh, h_, p_)
                zz3 := mulmod(zz1, hh, p_)
                zzz3 := mulmod(zzz1, hhh, p_)
                let q_ := mulmod(x1, hh, p_)
                x3 := addmod(addmod(mulmod(r_, r_, p_), sub(p_, hhh), p_), sub(p_, addmod(q_, q_, p_)), p_)
                y3 := addmod(mulmod(r_, addmod(q_, sub(p_, x3), p_), p_), sub(p_, mulmod(y1, hhh, p_)), p_)
            }

            // The table: entry 4i + j is [i]G + [j]Q, affine, 64 bytes each; (0, 0) stands for the point at
            // infinity (it is not on the curve). G, 2G, 3G are constants and Q is given; the other entries are
            // computed in XYZZ coordinates in `xyzz` (128 bytes each), then made affine together with one
            // inversion (Montgomery's trick).
            let table := mload(0x40)
            let xyzz := add(table, 1024)
            let prefix := add(xyzz, 2048)
            mstore(table, 0)
            mstore(add(table, 32), 0)
            mstore(add(table, 64), qx)
            mstore(add(table, 96), qy)
            mstore(add(table, 256), 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7)
            mstore(add(table, 288), 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0)
            mstore(add(table, 512), 0x56CEFD60D7C87C000D58EF57FA73BA4D9C0DFA08C08A7331495C2E1DA3F2BD52)
            mstore(add(table, 544), 0x31B7E7E6CC8189F668535CE0F8EAF1BD6DE84C182F6C8E716F780D3A970A23C3)
            mstore(add(table, 768), 0xA97F7CD4B3C993B4BE2DAA8CDB41E24CA13F6BD945302244E26918F1D0509EBF)
            mstore(add(table, 800), 0x530B5DD88C688EF5CCC5CEC08A72150F7C400EE5CD045292AAACDD037458F6E6)
            {
                let x2, y2, zz2, zzz2 := dbl(qx, qy, 1, 1)
                let x3, y3, zz3, zzz3 := madd(x2, y2, zz2, zzz2, qx, qy)
                for { let idx := 1 } lt(idx, 16) { idx := add(idx, 1) } {
                    let j := and(idx, 3)
                    let i := shr(2, idx)
                    if iszero(or(iszero(j), eq(idx, 1))) {
                        let px, py, pzz, pzzz
                        switch j
                        case 1 { px := qx py := qy pzz := 1 pzzz := 1 }
                        case 2 { px := x2 py := y2 pzz := zz2 pzzz := zzz2 }
                        default { px := x3 py := y3 pzz := zz3 pzzz := zzz3 }
                        if i {
                            let g_ := add(table, shl(8, i)) // [i]G
                            px, py, pzz, pzzz := madd(px, py, pzz, pzzz, mload(g_), mload(add(g_, 32)))
                        }
                        let slot := add(xyzz, shl(7, idx))
                        mstore(slot, px)
                        mstore(add(slot, 32), py)
                        mstore(add(slot, 64), pzz)
                        mstore(add(slot, 96), pzzz)
                    }
                }
            }
            {
                // Montgomery's trick: before[idx] is the product of the ZZZ of the entries before it (a point at
                // infinity counts as 1), so one inversion of the whole product gives every 1/ZZZ on the way back.
                let product := 1
                for { let idx := 2 } lt(idx, 16) { idx := add(idx, 1) } {
                    if and(idx, 3) {
                        mstore(add(prefix, shl(5, idx)), product)
                        let zzz_ := mload(add(xyzz, add(shl(7, idx), 96)))
                        if zzz_ { product := mulmod(product, zzz_, p) }
                    }
                }
                // inverse = product^(p - 2) mod p, by the modexp precompile.
                let call_ := add(prefix, 512)
                mstore(call_, 32)
                mstore(add(call_, 32), 32)
                mstore(add(call_, 64), 32)
                mstore(add(call_, 96), product)
                mstore(add(call_, 128), sub(p, 2))
                mstore(add(call_, 160), p)
                if iszero(staticcall(gas(), 0x05, call_, 192, call_, 32)) { revert(0, 0) }
                let inverse := mload(call_)
                for { let idx := 15 } gt(idx, 1) { idx := sub(idx, 1) } {
                    if and(idx, 3) {
                        let slot := add(xyzz, shl(7, idx))
                        let zzz_ := mload(add(slot, 96))
                        let out := add(table, shl(6, idx))
                        switch zzz_
                        case 0 {
                            mstore(out, 0)
                            mstore(add(out, 32), 0)
                        }
                        default {
                            let izzz := mulmod(inverse, mload(add(prefix, shl(5, idx))), p)
                            inverse := mulmod(inverse, zzz_, p)
                            let iz := mulmod(mload(add(slot, 64)), izzz, p) // 1/Z = ZZ/ZZZ
                            mstore(out, mulmod(mload(slot), mulmod(iz, iz, p), p))
                            mstore(add(out, 32), mulmod(mload(add(slot, 32)), izzz, p))
                        }
                    }
                }
            }

            // Two bits of u and v at a time, from the top: two doublings, then the table's [i]G + [j]Q added.
            // The scalars wait in memory, so that only the point and the loop state live on the stack.
            mstore(add(prefix, 704), u)
            mstore(add(prefix, 736), v)
            let y
            let zzz
            for { let bit := 256 } bit { } {
                bit := sub(bit, 2)
                // Two doublings (dbl-2008-s-1 with a = -3); the point at infinity (zz = 0) stays it.
                {
                    let u_ := addmod(y, y, p)
                    let v_ := mulmod(u_, u_, p)
                    let s_ := mulmod(x, v_, p)
                    let m_ := mulmod(3, mulmod(addmod(x, sub(p, zz), p), addmod(x, zz, p), p), p)
                    zz := mulmod(v_, zz, p)
                    u_ := mulmod(u_, v_, p) // W
                    zzz := mulmod(u_, zzz, p)
                    x := addmod(mulmod(m_, m_, p), sub(p, addmod(s_, s_, p)), p)
                    y := addmod(mulmod(m_, addmod(s_, sub(p, x), p), p), sub(p, mulmod(u_, y, p)), p)
                }
                {
                    let u_ := addmod(y, y, p)
                    let v_ := mulmod(u_, u_, p)
                    let s_ := mulmod(x, v_, p)
                    let m_ := mulmod(3, mulmod(addmod(x, sub(p, zz), p), addmod(x, zz, p), p), p)
                    zz := mulmod(v_, zz, p)
                    u_ := mulmod(u_, v_, p) // W
                    zzz := mulmod(u_, zzz, p)
                    x := addmod(mulmod(m_, m_, p), sub(p, addmod(s_, s_, p)), p)
                    y := addmod(mulmod(m_, addmod(s_, sub(p, x), p), p), sub(p, mulmod(u_, y, p)), p)
                }
                let entry := add(
                    table,
                    shl(6, or(shl(2, and(shr(bit, mload(add(prefix, 704))), 3)), and(shr(bit, mload(add(prefix, 736))), 3)))
                )
                let ex := mload(entry)
                let ey := mload(add(entry, 32))
                if or(ex, ey) {
                    switch zz
                    case 0 {
                        x := ex
                        y := ey
                        zz := 1
                        zzz := 1
                    }
                    default {
                        // Mixed addition (madd-2008-s).
                        let h_ := addmod(mulmod(ex, zz, p), sub(p, x), p)
                        let r_ := addmod(mulmod(ey, zzz, p), sub(p, y), p)
                        switch h_
                        case 0 {
                            // Equal x: the same point (double it) or its opposite (the sum is infinity).
                            switch r_
                            case 0 { x, y, zz, zzz := dbl(x, y, zz, zzz) }
                            default { zz := 0 zzz := 0 }
                        }
                        default {
                            let hh := mulmod(h_, h_, p)
                            let hhh := mulmod(hh, h_, p)
                            zz := mulmod(zz, hh, p)
                            zzz := mulmod(zzz, hhh, p)
                            hh := mulmod(x, hh, p) // Q
                            x := addmod(addmod(mulmod(r_, r_, p), sub(p, hhh), p), sub(p, addmod(hh, hh, p)), p)
                            y := addmod(mulmod(r_, addmod(hh, sub(p, x), p), p), sub(p, mulmod(y, hhh, p)), p)
                        }
                    }
                }
            }
        }
    }
}
