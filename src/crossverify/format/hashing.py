"""The hash algorithms a batch may agree on, by id (as the registry records them) and by name (as bundles do).

Keccak-256 is pysha3's (safe-pysha3), the fastest this Python has. Importing this module also points eth-hash's
shared keccak, which web3, eth-utils, eth-account, eth-abi and py-evm hash with, at pysha3 instead of the backend
eth-hash would pick on its own (pycryptodome, several times slower): contract calls, addresses, typed data and
the embedded chain's EVM all hash through it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from enum import IntEnum
from functools import cache

import eth_hash.auto
from eth_hash.backends import pysha3
from sha3 import keccak_256

from ..errors import UnknownHashAlgorithm, UnsupportedHashAlgorithm

Hasher = Callable[[bytes], bytes]


class HashAlgorithm(IntEnum):
    """Hash algorithm ids shared by the registry, the bundle format and the clients."""

    KECCAK256 = 1
    SHA256 = 2
    SM3 = 3

    @property
    def label(self) -> str:
        """The name bundles use: ``keccak256``, ``sha256`` or ``sm3``."""
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> HashAlgorithm:
        try:
            return cls[label.upper()]
        except KeyError:
            raise UnknownHashAlgorithm(label) from None

    def hasher(self) -> Hasher:
        """A function from bytes to the 32-byte digest. SM3 needs an OpenSSL build that provides it."""
        return _hasher(self)


@cache
def _hasher(alg: HashAlgorithm) -> Hasher:
    if alg is HashAlgorithm.KECCAK256:
        return lambda data: keccak_256(data).digest()
    if alg is HashAlgorithm.SHA256:
        return lambda data: hashlib.sha256(data).digest()
    try:
        hashlib.new("sm3", b"")
    except ValueError:
        raise UnsupportedHashAlgorithm("sm3", "this Python's OpenSSL does not provide SM3") from None
    return lambda data: hashlib.new("sm3", data).digest()


def _use_pysha3_in_eth_hash() -> None:
    shared = eth_hash.auto.keccak
    shared._backend = pysha3.backend
    shared.hasher = pysha3.keccak256  # type: ignore[assignment]
    shared.preimage = pysha3.preimage  # type: ignore[assignment]


_use_pysha3_in_eth_hash()
