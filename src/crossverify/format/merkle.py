"""Batch Merkle trees: document digests in, one root out, with compact inclusion proofs.

The tree is RFC 6962's (Certificate Transparency) shape for any number of leaves: a level's last node without
a sibling moves up unchanged. Inner nodes are ``H(0x01 || left || right)``; leaves are document digests, which
are themselves hashed under their own prefix (``0x02``), so an inner node can never pass for a document.
Proofs are verified with RFC 9162's algorithm, which also fixes their exact length for a given index and size.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ProofIndexOutOfRange, ProofTooLong, ProofTooShort
from .hashing import Hasher

NODE_PREFIX = b"\x01"
MAX_LEAVES = 2**24 - 1  # the registry's leafCount is a uint24


class MerkleTree:
    """All levels of a batch tree, kept so that every leaf's proof is a lookup."""

    def __init__(self, leaves: Sequence[bytes], hasher: Hasher) -> None:
        if not 1 <= len(leaves) <= MAX_LEAVES:
            raise ValueError(f"a batch holds 1 to {MAX_LEAVES} documents, got {len(leaves)}")
        self.levels: list[list[bytes]] = [list(leaves)]
        level = self.levels[0]
        while len(level) > 1:
            up = [hasher(NODE_PREFIX + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                up.append(level[-1])
            self.levels.append(up)
            level = up

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def proof(self, index: int) -> list[bytes]:
        """The sibling hashes from leaf ``index`` up to the root (levels where it has no sibling are skipped)."""
        if not 0 <= index < self.size:
            raise ProofIndexOutOfRange(index, self.size)
        path = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index >>= 1
        return path


def expected_proof_length(index: int, size: int) -> int:
    """How many hashes the proof of leaf ``index`` (``0 <= index < size``) in a tree of ``size`` leaves holds: one
    per level below the one where the leaf's path meets the last leaf's, then one per level above it where that
    node is a right child (a left child without a sibling is promoted, with no hash)."""
    meet = (index ^ (size - 1)).bit_length()
    return meet + ((size - 1) >> meet).bit_count()


def root_from_proof(leaf: bytes, index: int, size: int, path: Sequence[bytes], hasher: Hasher) -> bytes:
    """The root that ``path`` leads to from ``leaf`` at ``index`` (RFC 9162, 2.1.3.2). Wrong lengths raise."""
    if not 0 <= index < size:
        raise ProofIndexOutOfRange(index, size)
    fn, sn, node = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            raise ProofTooLong(len(path), expected_proof_length(index, size))
        if fn & 1 or fn == sn:
            node = hasher(NODE_PREFIX + sibling + node)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            node = hasher(NODE_PREFIX + node + sibling)
        fn >>= 1
        sn >>= 1
    if sn:
        raise ProofTooShort(len(path), expected_proof_length(index, size))
    return node
