"""The hash algorithms a batch may agree on, by id (as the registry records them) and by name (as bundles do)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from enum import IntEnum
from functools import cache

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
