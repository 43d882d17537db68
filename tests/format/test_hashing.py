"""The agreed hash algorithms, checked against published answers."""

from __future__ import annotations

import pytest

from crossverify import HashAlgorithm
from crossverify.errors import UnknownHashAlgorithm


@pytest.mark.parametrize(
    ("alg", "digest"),
    [
        (HashAlgorithm.KECCAK256, "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"),
        (HashAlgorithm.SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        # GB/T 32905-2016, example 1
        (HashAlgorithm.SM3, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    ],
)
def test_known_answers(alg: HashAlgorithm, digest: str) -> None:
    assert alg.hasher()(b"abc").hex() == digest


def test_labels_round_trip() -> None:
    for alg in HashAlgorithm:
        assert HashAlgorithm.from_label(alg.label) is alg
    with pytest.raises(UnknownHashAlgorithm):
        HashAlgorithm.from_label("md5")


def test_web3_eth_utils_and_py_evm_hash_with_pysha3() -> None:
    import eth_hash.auto
    from eth_hash.backends import pysha3
    from eth_utils import keccak
    from web3 import Web3

    assert eth_hash.auto.keccak.hasher is pysha3.keccak256
    empty = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
    assert keccak(b"") == Web3.keccak(b"") == eth_hash.auto.keccak.new(b"").digest() == empty
