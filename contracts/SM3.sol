// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title SM3, the Chinese national standard hash (GB/T 32905-2016, GM/T 0004-2012, ISO/IEC 10118-3)
/// @notice `hash(data)` is SM3(data), in EVM code, for chains that offer no SM3 precompile.
/// @dev A 32-bit word lives in the low bits of a stack slot; a rotation is one multiplication that places two
///      copies of the word side by side, one shift and one mask. The message schedule is computed on eight
///      32-bit lanes of one 256-bit word: three new words at a time (W[j..j+2] depend on W[j-3] at the latest),
///      and W'[j] = W[j] ^ W[j+4] eight at a time. The 64 rounds run four per loop step, renaming the eight
///      registers instead of moving them.
library SM3 {
    /// @notice The SM3 digest of `data`.
    function hash(bytes memory data) internal pure returns (bytes32 digest) {
        assembly ("memory-safe") {
            // Padding: the message, the bit 1, zeros, and the length in bits as 64 bits, to a multiple of 64 bytes.
            let w
            {
                let len := mload(data)
                let buf := mload(0x40)
                let total := shl(6, div(add(len, 72), 64))
                for { let i := 0 } lt(i, len) { i := add(i, 32) } { mstore(add(buf, i), mload(add(data, add(32, i)))) }
                for { let i := len } lt(i, total) { i := add(i, 32) } { mstore(add(buf, i), 0) }
                mstore8(add(buf, len), 0x80)
                let last := add(buf, sub(total, 32))
                mstore(last, or(mload(last), shl(3, len)))
                // Scratch after the padded message, at w: W[0..67] packed 4 bytes each (320 bytes, with room for
                // the lanes written past W[67]), W'[0..63] at w + 320, T'[j] = T[j] <<< j at w + 576, then the
                // chaining value V, the next block and the end of the message.
                w := add(buf, add(total, 32))
                mstore(add(w, 832), 0x7380166f4914b2b9172442d7da8a0600a96f30bc163138aae38dee4db0fb0e4e)
                mstore(add(w, 864), buf)
                mstore(add(w, 896), add(buf, total))
            }
            mstore(add(w, 576), 0x79cc4519f3988a32e7311465ce6228cb9cc451973988a32f7311465ee6228cbc)
            mstore(add(w, 608), 0xcc451979988a32f3311465e76228cbcec451979c88a32f3911465e73228cbce6)
            mstore(add(w, 640), 0x9d8a7a873b14f50f7629ea1eec53d43cd8a7a879b14f50f3629ea1e7c53d43ce)
            mstore(add(w, 672), 0x8a7a879d14f50f3b29ea1e7653d43ceca7a879d84f50f3b19ea1e7623d43cec5)
            mstore(add(w, 704), 0x7a879d8af50f3b14ea1e7629d43cec53a879d8a750f3b14fa1e7629e43cec53d)
            mstore(add(w, 736), 0x879d8a7a0f3b14f51e7629ea3cec53d479d8a7a8f3b14f50e7629ea1cec53d43)
            mstore(add(w, 768), 0x9d8a7a873b14f50f7629ea1eec53d43cd8a7a879b14f50f3629ea1e7c53d43ce)
            mstore(add(w, 800), 0x8a7a879d14f50f3b29ea1e7653d43ceca7a879d84f50f3b19ea1e7623d43cec5)

            for { } lt(mload(add(w, 864)), mload(add(w, 896))) { } {
                // Message expansion of the block.
                {
                    let blk := mload(add(w, 864))
                    mstore(w, mload(blk))
                    mstore(add(w, 32), mload(add(blk, 32)))
                    mstore(add(w, 864), add(blk, 64))
                }
                for { let q := add(w, 64) } lt(q, add(w, 272)) { q := add(q, 12) } {
                    // q = w + 4j: lanes 0..2 of x become W[j..j+2]. A lane rotation is two shifts, each masked to
                    // the bits that stay in their lane.
                    let y := mload(sub(q, 12))
                    let x := xor(
                        xor(mload(sub(q, 64)), mload(sub(q, 36))),
                        or(
                            and(shl(15, y), 0xffff8000ffff8000ffff8000ffff8000ffff8000ffff8000ffff8000ffff8000),
                            and(shr(17, y), 0x00007fff00007fff00007fff00007fff00007fff00007fff00007fff00007fff)
                        )
                    )
                    x := xor(
                        xor(
                            x,
                            or(
                                and(shl(15, x), 0xffff8000ffff8000ffff8000ffff8000ffff8000ffff8000ffff8000ffff8000),
                                and(shr(17, x), 0x00007fff00007fff00007fff00007fff00007fff00007fff00007fff00007fff)
                            )
                        ),
                        or(
                            and(shl(23, x), 0xff800000ff800000ff800000ff800000ff800000ff800000ff800000ff800000),
                            and(shr(9, x), 0x007fffff007fffff007fffff007fffff007fffff007fffff007fffff007fffff)
                        )
                    )
                    y := mload(sub(q, 52))
                    x := xor(
                        x,
                        or(
                            and(shl(7, y), 0xffffff80ffffff80ffffff80ffffff80ffffff80ffffff80ffffff80ffffff80),
                            and(shr(25, y), 0x0000007f0000007f0000007f0000007f0000007f0000007f0000007f0000007f)
                        )
                    )
                    mstore(q, xor(x, mload(sub(q, 24))))
                }
                for { let k := w } lt(k, add(w, 256)) { k := add(k, 32) } {
                    mstore(add(k, 320), xor(mload(k), mload(add(k, 16))))
                }

                // Compression: four rounds per step, the registers renamed instead of moved. In each round,
                // with (a, b, c, d, e, f, g, h) standing for the renamed registers: SS1 = ((a <<< 12) + e + T'[j])
                // <<< 7, d = FF(a, b, c) + d + (SS1 ^ (a <<< 12)) + W'[j], h = P0(GG(e, f, g) + h + SS1 + W[j]),
                // b = b <<< 9, f = f <<< 19. q points at the step's four words of W; W' and T' lie at fixed
                // distances from it. Only the registers and q live through the rounds: the loop bounds wait in
                // the scratch words at 0x00 and 0x20.
                mstore(0x00, add(w, 64))
                mstore(0x20, add(w, 256))
                let v := mload(add(w, 832))
                let a := shr(224, v)
                let b := and(shr(192, v), 0xffffffff)
                let c := and(shr(160, v), 0xffffffff)
                let d := and(shr(128, v), 0xffffffff)
                let e := and(shr(96, v), 0xffffffff)
                let f := and(shr(64, v), 0xffffffff)
                let g := and(shr(32, v), 0xffffffff)
                let h := and(v, 0xffffffff)
                let q := w
                for { } lt(q, mload(0x00)) { q := add(q, 16) } {
                    {
                        let a12 := shr(20, mul(a, 0x100000001))
                        let ss1 := shr(25, mul(and(add(add(a12, e), shr(224, mload(add(q, 576)))), 0xffffffff), 0x100000001))
                        d := and(add(add(add(xor(xor(a, b), c), d), xor(ss1, a12)), shr(224, mload(add(q, 320)))), 0xffffffff)
                        let tt2 := and(add(add(add(xor(xor(e, f), g), h), ss1), shr(224, mload(q))), 0xffffffff)
                        b := shr(23, mul(b, 0x100000001))
                        f := shr(13, mul(f, 0x100000001))
                        let tt := mul(tt2, 0x100000001)
                        h := and(xor(tt2, xor(shr(23, tt), shr(15, tt))), 0xffffffff)
                    }
                    {
                        let a12 := shr(20, mul(d, 0x100000001))
                        let ss1 := shr(25, mul(and(add(add(a12, h), shr(192, mload(add(q, 576)))), 0xffffffff), 0x100000001))
                        c := and(add(add(add(xor(xor(d, a), b), c), xor(ss1, a12)), shr(192, mload(add(q, 320)))), 0xffffffff)
                        let tt2 := and(add(add(add(xor(xor(h, e), f), g), ss1), shr(192, mload(q))), 0xffffffff)
                        a := shr(23, mul(a, 0x100000001))
                        e := shr(13, mul(e, 0x100000001))
                        let tt := mul(tt2, 0x100000001)
                        g := and(xor(tt2, xor(shr(23, tt), shr(15, tt))), 0xffffffff)
                    }
                    {
                        let a12 := shr(20, mul(c, 0x100000001))
                        let ss1 := shr(25, mul(and(add(add(a12, g), shr(160, mload(add(q, 576)))), 0xffffffff), 0x100000001))
                        b := and(add(add(add(xor(xor(c, d), a), b), xor(ss1, a12)), shr(160, mload(add(q, 320)))), 0xffffffff)
                        let tt2 := and(add(add(add(xor(xor(g, h), e), f), ss1), shr(160, mload(q))), 0xffffffff)
                        d := shr(23, mul(d, 0x100000001))
                        h := shr(13, mul(h, 0x100000001))
                        let tt := mul(tt2, 0x100000001)
                        f := and(xor(tt2, xor(shr(23, tt), shr(15, tt))), 0xffffffff)
                    }
                    {
                        let a12 := shr(20, mul(b, 0x100000001))
                        let ss1 := shr(25, mul(and(add(add(a12, f), shr(128, mload(add(q, 576)))), 0xffffffff), 0x100000001))
                        a := and(add(add(add(xor(xor(b, c), d), a), xor(ss1, a12)), shr(128, mload(add(q, 320)))), 0xffffffff)
                        let tt2 := and(add(add(add(xor(xor(f, g), h), e), ss1), shr(128, mload(q))), 0xffffffff)
                        c := shr(23, mul(c, 0x100000001))
                        g := shr(13, mul(g, 0x100000001))
                        let tt := mul(tt2, 0x100000001)
                        e := and(xor(tt2, xor(shr(23, tt), shr(15, tt))), 0xffffffff)
                    }
                }
                for { } lt(q, mload(0x20)) { q := add(q, 16) } {
                    {
                        let a12 := shr(20, mul(a, 0x100000001))
                        let ss1 := shr(25, mul(and(add(add(a12, e), shr(224, mload(add(q, 576)))), 0xffffffff), 0x100000001))
                        d := and(add(add(add(or(and(a, b), and(c, or(a, b))), d), xor(ss1, a12)), shr(224, mload(add(q, 320)))), 0xffffffff)
                        let tt2 := and(add(add(add(xor(g, and(e, xor(f, g))), h), ss1), shr(224, mload(q))), 0xffffffff)
                        b := shr(23, mul(b, 0x100000001))
                        f := shr(13, mul(f, 0x100000001))
                        let tt := mul(tt2, 0x100000001)
                        h := and(xor(tt2, xor(shr(23, tt), shr(15, tt))), 0xffffffff)
                    }
                    {
                        let a12 := shr(20, mul(d, 0x100000001))
                        let ss1 := shr(25, mul(and(add(add(a12, h), shr(192, mload(add(q, 576)))), 0xffffffff), 0x100000001))
                        c := and(add(add(add(or(and(d, a), and(b, or(d, a))), c), xor(ss1, a12)), shr(192, mload(add(q, 320)))), 0xffffffff)
                        let tt2 := and(add(add(add(xor(f, and(h, xor(e, f))), g), ss1), shr(192, mload(q))), 0xffffffff)
                        a := shr(23, mul(a, 0x100000001))
                        e := shr(13, mul(e, 0x100000001))
                        let tt := mul(tt2, 0x100000001)
                        g := and(xor(tt2, xor(shr(23, tt), shr(15, tt))), 0xffffffff)
                    }
                    {
                        let a12 := shr(20, mul(c, 0x100000001))
                        let ss1 := shr(25, mul(and(add(add(a12, g), shr(160, mload(add(q, 576)))), 0xffffffff), 0x100000001))
                        b := and(add(add(add(or(and(c, d), and(a, or(c, d))), b), xor(ss1, a12)), shr(160, mload(add(q, 320)))), 0xffffffff)
                        let tt2 := and(add(add(add(xor(e, and(g, xor(h, e))), f), ss1), shr(160, mload(q))), 0xffffffff)
                        d := shr(23, mul(d, 0x100000001))
                        h := shr(13, mul(h, 0x100000001))
                        let tt := mul(tt2, 0x100000001)
                        f := and(xor(tt2, xor(shr(23, tt), shr(15, tt))), 0xffffffff)
                    }
                    {
                        let a12 := shr(20, mul(b, 0x100000001))
                        let ss1 := shr(25, mul(and(add(add(a12, f), shr(128, mload(add(q, 576)))), 0xffffffff), 0x100000001))
                        a := and(add(add(add(or(and(b, c), and(d, or(b, c))), a), xor(ss1, a12)), shr(128, mload(add(q, 320)))), 0xffffffff)
                        let tt2 := and(add(add(add(xor(h, and(f, xor(g, h))), e), ss1), shr(128, mload(q))), 0xffffffff)
                        c := shr(23, mul(c, 0x100000001))
                        g := shr(13, mul(g, 0x100000001))
                        let tt := mul(tt2, 0x100000001)
                        e := and(xor(tt2, xor(shr(23, tt), shr(15, tt))), 0xffffffff)
                    }
                }
                w := sub(q, 256)
                mstore(
                    add(w, 832),
                    xor(
                        mload(add(w, 832)),
                        or(
                            or(
                                or(shl(224, and(a, 0xffffffff)), shl(192, and(b, 0xffffffff))),
                                or(shl(160, and(c, 0xffffffff)), shl(128, and(d, 0xffffffff)))
                            ),
                            or(
                                or(shl(96, and(e, 0xffffffff)), shl(64, and(f, 0xffffffff))),
                                or(shl(32, and(g, 0xffffffff)), and(h, 0xffffffff))
                            )
                        )
                    )
                )
            }
            digest := mload(add(w, 832))
        }
    }
}
