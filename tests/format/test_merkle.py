"""Batch trees: any size, exact proof lengths, and no proof that crosses documents."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossverify import HashAlgorithm
from crossverify.errors import ProofIndexOutOfRange, ProofTooLong, ProofTooShort
from crossverify.format.merkle import MerkleTree, expected_proof_length, root_from_proof

H = HashAlgorithm.KECCAK256.hasher()


def leaves(n: int) -> list[bytes]:
    return [H(b"\x02" + i.to_bytes(4, "big")) for i in range(n)]


@pytest.mark.parametrize("n", range(1, 301))
def test_every_proof_of_every_size_verifies(n: int) -> None:
    tree = MerkleTree(leaves(n), H)
    for i, leaf in enumerate(tree.levels[0]):
        path = tree.proof(i)
        assert len(path) == expected_proof_length(i, n)
        assert root_from_proof(leaf, i, n, path, H) == tree.root


def test_single_document_batch_root_is_the_document() -> None:
    assert MerkleTree(leaves(1), H).root == leaves(1)[0]


def test_shape_is_rfc6962() -> None:
    a, b, c, d, e = leaves(5)
    node = lambda x, y: H(b"\x01" + x + y)  # noqa: E731
    assert MerkleTree([a, b, c, d, e], H).root == node(node(node(a, b), node(c, d)), e)
    assert MerkleTree([a, b, c], H).root == node(node(a, b), c)


@given(st.integers(2, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1), st.integers(0, n - 1))))
def test_a_proof_never_verifies_another_document(case: tuple[int, int, int]) -> None:
    n, i, j = case
    tree = MerkleTree(leaves(n), H)
    if i == j:
        return
    path = tree.proof(i)
    # document j presented with document i's proof, at either position
    for index in (i, j):
        with contextlib.suppress(ProofTooLong, ProofTooShort):
            assert root_from_proof(tree.levels[0][j], index, n, path, H) != tree.root
    # document i's proof under a wrong index
    with contextlib.suppress(ProofTooLong, ProofTooShort):
        assert root_from_proof(tree.levels[0][i], j, n, path, H) != tree.root


@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))), st.data())
def test_any_changed_proof_step_fails(case: tuple[int, int], data: st.DataObject) -> None:
    n, i = case
    tree = MerkleTree(leaves(n), H)
    path = tree.proof(i)
    if not path:
        return
    step = data.draw(st.integers(0, len(path) - 1))
    bit = data.draw(st.integers(0, 255))
    tampered = bytearray(path[step])
    tampered[bit // 8] ^= 1 << (bit % 8)
    path[step] = bytes(tampered)
    assert root_from_proof(tree.levels[0][i], i, n, path, H) != tree.root


def test_wrong_lengths_are_named() -> None:
    tree = MerkleTree(leaves(5), H)
    path = tree.proof(2)
    with pytest.raises(ProofTooLong):
        root_from_proof(tree.levels[0][2], 2, 5, [*path, path[0]], H)
    with pytest.raises(ProofTooShort):
        root_from_proof(tree.levels[0][2], 2, 5, path[:-1], H)
    with pytest.raises(ProofIndexOutOfRange):
        root_from_proof(tree.levels[0][2], 5, 5, path, H)
    with pytest.raises(ProofIndexOutOfRange):
        tree.proof(-1)
