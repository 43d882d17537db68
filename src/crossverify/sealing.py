"""Verification receipts sealed to the regulators: public as bytes, readable by regulators only.

A bank that verified a document states a :class:`Receipt` (document digest, issuer, purpose code, the
presentation's hash, time, and a fresh salt). :func:`seal` encrypts it once to every regulator key with HPKE
(RFC 9180, base mode, single shot, from ``cryptography``) and computes its commitment::

    plaintext  = 0x01 || digest(32) || issuer(11) || purpose(8) || presentationHash(32) || verifiedAt(5) || salt(16)
    commitment = keccak256(0x10 || plaintext)
    info       = "crossverify sealed receipt v1" || commitment
    sealed     = 0x01 || kemId(2) || n(1) || n × (keyId(8) || enc || ciphertext)

The commitment and the sealed bytes are what a chain carries (an event-only
``recordSealedReceipts(bytes32[] commitments, bytes[] ciphertexts)``). The salt makes the commitment
unpredictable, HPKE's fresh ephemeral key makes every ciphertext new: nobody without a regulator's key can
link a receipt to a document digest, even by sealing a guess. A regulator opens its part with :func:`open_sealed`,
which also checks the plaintext against the commitment. See docs/format.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from .errors import NotSealedToThisKey, SealingError
from .format.codes import code_name, doc_type_code, issuer_id_code
from .format.encoding import from_hex, to_hex
from .format.hashing import HashAlgorithm

VERSION = 1
COMMITMENT_PREFIX = b"\x10"
INFO = b"crossverify sealed receipt v1"
SALT_BYTES = 16
PLAINTEXT_BYTES = 1 + 32 + 11 + 8 + 32 + 5 + SALT_BYTES
KEY_ID_BYTES = 8
TAG_BYTES = 16
MAX_REGULATORS = 255
_KECCAK = HashAlgorithm.KECCAK256.hasher()


class Kem(IntEnum):
    """The KEMs a receipt may be sealed with, by their IANA HPKE KEM id."""

    X25519 = 0x0020  # DHKEM(X25519, HKDF-SHA256), RFC 9180
    MLKEM768_X25519 = 0x647A  # the ML-KEM-768 + X25519 hybrid (post-quantum)

    @property
    def enc_bytes(self) -> int:
        return 32 if self is Kem.X25519 else 1120

    @property
    def suite(self) -> hpke.Suite:
        return _SUITES[self]


#: The default: 161 bytes per regulator against 1,249 for the hybrid (see docs/benchmarks.md).
DEFAULT_KEM = Kem.X25519
_SUITES = {
    Kem.X25519: hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM),
    Kem.MLKEM768_X25519: hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM),
}
_PUBLIC_BYTES = {Kem.X25519: 32, Kem.MLKEM768_X25519: 1184 + 32}
_PRIVATE_BYTES = {Kem.X25519: 32, Kem.MLKEM768_X25519: 64 + 32}


@dataclass(frozen=True, slots=True)
class RegulatorPublicKey:
    """A regulator's public sealing key: its KEM and raw bytes (hybrid: ML-KEM-768 key, then X25519 key)."""

    kem: Kem
    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != _PUBLIC_BYTES[self.kem]:
            raise SealingError(f"a {self.kem.name} public key is {_PUBLIC_BYTES[self.kem]} bytes, got {len(self.raw)}")

    @property
    def key_id(self) -> bytes:
        """The first 8 bytes of SHA-256(kemId(2) || raw): how a regulator finds its part of a sealed receipt."""
        return hashlib.sha256(self.kem.to_bytes(2, "big") + self.raw).digest()[:KEY_ID_BYTES]

    def _hpke(self) -> x25519.X25519PublicKey | hpke.MLKEM768X25519PublicKey:
        try:
            if self.kem is Kem.X25519:
                return x25519.X25519PublicKey.from_public_bytes(self.raw)
            return hpke.MLKEM768X25519PublicKey(mlkem.MLKEM768PublicKey.from_public_bytes(self.raw[:1184]),
                                                x25519.X25519PublicKey.from_public_bytes(self.raw[1184:]))
        except ValueError as exc:
            raise SealingError(f"not a usable {self.kem.name} public key: {exc}") from None

    def to_json(self) -> dict[str, str]:
        return {"kem": self.kem.name, "public": to_hex(self.raw)}

    @classmethod
    def from_json(cls, data: object) -> RegulatorPublicKey:
        kem, raw = _parse_key_json(data, "public")
        return cls(kem, raw)


@dataclass(frozen=True)
class RegulatorKey:
    """A regulator's private sealing key (hybrid: the ML-KEM-768 seed, then the X25519 key). Keep it secret."""

    kem: Kem
    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != _PRIVATE_BYTES[self.kem]:
            raise SealingError(f"a {self.kem.name} private key is {_PRIVATE_BYTES[self.kem]} bytes")

    @classmethod
    def generate(cls, kem: Kem = DEFAULT_KEM) -> RegulatorKey:
        return cls(kem, secrets.token_bytes(_PRIVATE_BYTES[kem]))

    @cached_property
    def _hpke(self) -> x25519.X25519PrivateKey | hpke.MLKEM768X25519PrivateKey:
        if self.kem is Kem.X25519:
            return x25519.X25519PrivateKey.from_private_bytes(self.raw)
        return hpke.MLKEM768X25519PrivateKey(mlkem.MLKEM768PrivateKey.from_seed_bytes(self.raw[:64]),
                                             x25519.X25519PrivateKey.from_private_bytes(self.raw[64:]))

    @cached_property
    def public_key(self) -> RegulatorPublicKey:
        dh = x25519.X25519PrivateKey.from_private_bytes(self.raw[-32:]).public_key().public_bytes_raw()
        if self.kem is Kem.X25519:
            return RegulatorPublicKey(self.kem, dh)
        return RegulatorPublicKey(self.kem, mlkem.MLKEM768PrivateKey.from_seed_bytes(self.raw[:64]).public_key()
                                  .public_bytes_raw() + dh)

    def write(self, path: Path, password: str | None = None) -> None:
        """Write the key to a new file readable by its owner only (mode 0600); never overwrites. With a
        ``password``, each part of the key is kept as encrypted PKCS #8 (the best encryption ``cryptography``
        offers), as holder keys are."""
        data: dict[str, object] = {"kem": self.kem.name}
        if password:
            encryption = serialization.BestAvailableEncryption(password.encode())
            data["encrypted"] = [part.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    encryption).decode() for part in self._parts()]
        else:
            data["private"] = to_hex(self.raw)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise SealingError(f"{path} exists; not overwriting a key") from None
        with os.fdopen(fd, "w") as file:
            json.dump(data, file)
            file.flush()
            os.fsync(file.fileno())

    def _parts(self) -> list[mlkem.MLKEM768PrivateKey | x25519.X25519PrivateKey]:
        dh = x25519.X25519PrivateKey.from_private_bytes(self.raw[-32:])
        return [dh] if self.kem is Kem.X25519 else [mlkem.MLKEM768PrivateKey.from_seed_bytes(self.raw[:64]), dh]

    @classmethod
    def read(cls, path: Path, password: str | None = None) -> RegulatorKey:
        """Read a key file; ``password`` opens an encrypted one. A missing or unreadable file, a wrong or missing
        password raise :class:`SealingError`."""
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SealingError(f"cannot read regulator key {path}: {exc}") from None
        if isinstance(data, dict) and set(data) == {"kem", "encrypted"}:
            return cls._decrypt(path, data, password)
        kem, raw = _parse_key_json(data, "private")
        return cls(kem, raw)

    @classmethod
    def _decrypt(cls, path: Path, data: dict[str, object], password: str | None) -> RegulatorKey:
        if not password:
            raise SealingError(f"regulator key {path} is encrypted: give its password")
        try:
            kem, pems = Kem[str(data["kem"])], data["encrypted"]
            if not isinstance(pems, list) or len(pems) != (1 if kem is Kem.X25519 else 2):
                raise ValueError("wrong number of parts")
            parts = [serialization.load_pem_private_key(pem.encode(), password.encode()) for pem in pems]
        except (KeyError, TypeError, ValueError) as exc:
            raise SealingError(f"{path} is not a readable regulator key (or the password is wrong): {exc}") from None
        raw = b"".join(p.private_bytes_raw() for p in parts
                       if isinstance(p, (mlkem.MLKEM768PrivateKey, x25519.X25519PrivateKey)))
        return cls(kem, raw)


def _parse_key_json(data: object, member: str) -> tuple[Kem, bytes]:
    if not isinstance(data, dict) or set(data) != {"kem", member}:
        raise SealingError(f"a regulator key is a JSON object with the members kem and {member}")
    try:
        return Kem[data["kem"]], from_hex(data[member])
    except (KeyError, TypeError, ValueError) as exc:
        raise SealingError(f"unusable regulator key: {exc}") from None


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a bank tells the regulators about one verification."""

    document_digest: bytes
    issuer_id: str
    purpose: str
    presentation_hash: bytes
    verified_at: int
    salt: bytes

    @classmethod
    def new(cls, document_digest: bytes, issuer_id: str, purpose: str, presentation_hash: bytes | None,
            verified_at: int) -> Receipt:
        """A receipt with a fresh salt; ``presentation_hash`` is ``None`` for a bare bundle (sealed as zeros)."""
        return cls(document_digest, issuer_id, purpose, presentation_hash or bytes(32), verified_at,
                   secrets.token_bytes(SALT_BYTES))

    def plaintext(self) -> bytes:
        if len(self.document_digest) != 32 or len(self.presentation_hash) != 32 or len(self.salt) != SALT_BYTES:
            raise SealingError("digest and presentation hash are 32 bytes, the salt 16")
        if not 0 <= self.verified_at < 2**40:
            raise SealingError(f"verifiedAt must fit 40 bits, got {self.verified_at}")
        return (bytes([VERSION]) + self.document_digest + issuer_id_code(self.issuer_id) + doc_type_code(self.purpose)
                + self.presentation_hash + self.verified_at.to_bytes(5, "big") + self.salt)

    @classmethod
    def from_plaintext(cls, data: bytes) -> Receipt:
        if len(data) != PLAINTEXT_BYTES or data[0] != VERSION:
            raise SealingError(f"a version {VERSION} receipt is {PLAINTEXT_BYTES} bytes starting 0x01")
        return cls(data[1:33], code_name(data[33:44]), code_name(data[44:52]), data[52:84],
                   int.from_bytes(data[84:89], "big"), data[89:])

    def commitment(self) -> bytes:
        return _KECCAK(COMMITMENT_PREFIX + self.plaintext())

    @property
    def consented(self) -> bool:
        """Whether the bank verified a holder-signed presentation (not a bare bundle)."""
        return self.presentation_hash != bytes(32)


@dataclass(frozen=True, slots=True)
class SealedReceipt:
    """A receipt as a chain carries it: the commitment and the bytes sealed to every regulator."""

    commitment: bytes
    sealed: bytes


def seal(receipt: Receipt, regulators: Sequence[RegulatorPublicKey]) -> SealedReceipt:
    """Seal ``receipt`` to every regulator key (all of one KEM, each once)."""
    if not 1 <= len(regulators) <= MAX_REGULATORS:
        raise SealingError(f"seal to 1 to {MAX_REGULATORS} regulator keys, got {len(regulators)}")
    kem = regulators[0].kem
    if any(r.kem is not kem for r in regulators):
        raise SealingError("every regulator key of one receipt uses the same KEM")
    if len({r.key_id for r in regulators}) != len(regulators):
        raise SealingError("a regulator key is listed twice")
    plaintext = receipt.plaintext()
    commitment = _KECCAK(COMMITMENT_PREFIX + plaintext)
    info = INFO + commitment
    parts = [r.key_id + kem.suite.encrypt(plaintext, r._hpke(), info=info) for r in regulators]
    return SealedReceipt(commitment, bytes([VERSION]) + kem.to_bytes(2, "big") + bytes([len(parts)]) + b"".join(parts))


def sealed_size(kem: Kem, regulators: int) -> int:
    """The length of a receipt sealed to ``regulators`` keys of ``kem``."""
    return 4 + regulators * (KEY_ID_BYTES + kem.enc_bytes + PLAINTEXT_BYTES + TAG_BYTES)


def open_sealed(sealed: SealedReceipt, key: RegulatorKey) -> Receipt:
    """The receipt inside ``sealed``, opened with a regulator's key and checked against its commitment.

    Raises :class:`NotSealedToThisKey` when no part is for this key or it does not open (altered bytes, another
    commitment), and :class:`SealingError` when the bytes are not a sealed receipt at all.
    """
    data, kem = sealed.sealed, key.kem
    if len(data) < 4 or data[0] != VERSION or int.from_bytes(data[1:3], "big") != kem:
        raise SealingError(f"not a version {VERSION} receipt sealed with {kem.name}")
    count, part = data[3], KEY_ID_BYTES + kem.enc_bytes + PLAINTEXT_BYTES + TAG_BYTES
    if len(data) != sealed_size(kem, count):
        raise SealingError(f"a receipt sealed to {count} keys is {sealed_size(kem, count)} bytes, got {len(data)}")
    key_id = key.public_key.key_id
    for i in range(count):
        start = 4 + i * part
        if data[start:start + KEY_ID_BYTES] != key_id:
            continue
        try:
            plaintext = kem.suite.decrypt(data[start + KEY_ID_BYTES:start + part], key._hpke,
                                          info=INFO + sealed.commitment)
        except (InvalidTag, ValueError):
            break
        if _KECCAK(COMMITMENT_PREFIX + plaintext) != sealed.commitment:
            break
        return Receipt.from_plaintext(plaintext)
    raise NotSealedToThisKey("no part of this receipt opens with this regulator key (not addressed to it, or altered)")
