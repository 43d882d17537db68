"""Receipts and disputes sealed to the regulators (and a dispute's other party): public bytes, private content.

A bank that verified a document states a :class:`Receipt` (document digest, issuer, document type and batch
root, purpose code, how the resident consented, time, and a fresh salt), whose commitment is its public
reference. :func:`seal_receipts` seals the receipts of one transaction as one envelope: a fresh 128-bit body key,
sealed to every regulator key with HPKE (RFC 9180, base mode, single shot, from ``cryptography``), and one
AES-128-GCM body holding every receipt's plaintext after its version byte, in the order of the commitments::

    plaintext  = 0x02 || digest(32) || issuer(11) || docType(8) || batchRoot(32) || purpose(8) || consent(1)
                 || consentReference(32) || verifiedAt(5) || salt(16)
    commitment = keccak256(0x10 || plaintext)
    info       = "crossverify sealed receipts v3" || keccak256(commitment_1 || ... || commitment_m)
    sealed     = 0x03 || kemId(2) || n(1) || n × (enc || HPKE(bodyKey)) || AES-128-GCM(bodyKey, body, aad=info)
    body       = plaintext_1[1:] || ... || plaintext_m[1:]

The consent is a holder-signed presentation (its hash), the bank's attestation that the resident consented in
person (its case reference), or none. A batch's receipts share one version, which the body's length tells
(version 1 receipts, still read, lack the document type, batch root and consent byte).

The commitments and the sealed bytes are what a chain carries (the circulation contract's event-only
``recordSealedReceipts(bytes32[] commitments, bytes ciphertext)``). The salt makes a commitment unpredictable,
HPKE's fresh ephemeral key makes every ciphertext new: nobody without a regulator's key can link a receipt to a
document digest, even by sealing a guess. A regulator opens a batch with :func:`open_receipts`, which checks every
plaintext against the commitment at its position: reordering, truncating or swapping them does not open as
another receipt. Disputes and their answers (:class:`Dispute`, :class:`DisputeAnswer`) use the version 2
envelope (one payload, its salt as the body key). See docs/format.md.
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
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_account import Account
from eth_account.messages import encode_defunct

from .errors import NotSealedToThisKey, SealingError
from .format.codes import code_name, doc_type_code, issuer_id_code
from .format.encoding import from_hex, to_hex
from .format.hashing import HashAlgorithm

#: The receipt plaintext's version (its first byte, under the commitment); version 1 is still read.
RECEIPT_VERSION = 2
#: The plaintext version of a dispute and of an answer.
DISPUTE_VERSION = 1
#: The envelope version of a batch of receipts, and of a dispute or an answer.
BATCH_VERSION = 3
SEALED_VERSION = 2
COMMITMENT_PREFIX = b"\x10"
INFO = b"crossverify sealed receipts v3"
SALT_BYTES = 16
#: Plaintext bytes by receipt version: version(1) digest(32) issuer(11) [docType(8) batchRoot(32)] purpose(8)
#: [consent(1)] consentReference(32) verifiedAt(5) salt(16); version 1 has neither bracketed field.
_PLAINTEXT_BYTES = {1: 1 + 32 + 11 + 8 + 32 + 5 + SALT_BYTES, 2: 1 + 32 + 11 + 8 + 32 + 8 + 1 + 32 + 5 + SALT_BYTES}
#: Receipts one batch may hold (the body stays far below AES-GCM's limits).
MAX_BATCH = 10_000
KEY_ID_BYTES = 8
TAG_BYTES = 16
#: The AES-GCM nonce of a body: every body key is fresh and used once.
_NONCE = bytes(12)
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


#: The default: 64 bytes per regulator against 1,152 for the hybrid (see docs/benchmarks.md).
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
        """The first 8 bytes of SHA-256(kemId(2) || raw): a short name for the key (not in the sealed bytes)."""
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
        return cls.from_json(data)

    @classmethod
    def from_json(cls, data: object) -> RegulatorKey:
        """A private key from ``{"kem": ..., "private": "0x..."}``."""
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


class Consent(IntEnum):
    """How the resident consented to the verification a receipt records (the receipt's consent byte)."""

    NONE = 0  #: neither: the bank states no consent (what regulators flag)
    PRESENTATION = 1  #: a presentation the holder signed for this bank; the receipt carries its hash
    IN_PERSON = 2  #: the bank attests the resident consented in person; the receipt carries its case reference


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a bank tells the regulators about one verification: the document (digest, issuer, type, the batch
    root it was anchored under), the purpose, how the resident consented, when, and a fresh salt.

    ``consent_reference`` is 32 bytes: the presentation's hash (``Consent.PRESENTATION``), the bank's case
    reference as UTF-8, zero-padded (``Consent.IN_PERSON``), or zeros. A version 1 receipt (read, never made)
    names no document type or batch root (``""`` and zeros) and no in-person consent.
    """

    document_digest: bytes
    issuer_id: str
    doc_type: str
    batch_root: bytes
    purpose: str
    consent: Consent
    consent_reference: bytes
    verified_at: int
    salt: bytes
    version: int = RECEIPT_VERSION

    @classmethod
    def new(cls, document_digest: bytes, issuer_id: str, doc_type: str, batch_root: bytes, purpose: str,
            verified_at: int, *, presentation_hash: bytes | None = None, case: str | None = None) -> Receipt:
        """A receipt with a fresh salt; its consent is the holder-signed presentation with ``presentation_hash``,
        or the bank's attestation of in-person consent under its ``case`` reference, or neither."""
        if presentation_hash is not None and case is not None:
            raise SealingError("a receipt states one consent: a presentation's hash or an in-person case reference")
        if presentation_hash is not None:
            consent, reference = Consent.PRESENTATION, presentation_hash
        elif case is not None:
            consent, reference = Consent.IN_PERSON, case_reference_code(case)
        else:
            consent, reference = Consent.NONE, bytes(32)
        return cls(document_digest, issuer_id, doc_type, batch_root, purpose, consent, reference, verified_at,
                   secrets.token_bytes(SALT_BYTES))

    @staticmethod
    def plaintext_bytes(version: int = RECEIPT_VERSION) -> int:
        """The plaintext length of a receipt of ``version``."""
        try:
            return _PLAINTEXT_BYTES[version]
        except KeyError:
            raise SealingError(f"no receipt version {version}; versions are {sorted(_PLAINTEXT_BYTES)}") from None

    @staticmethod
    def body_bytes(version: int = RECEIPT_VERSION) -> int:
        """A receipt's share of a batch's body: its plaintext without the version byte."""
        return Receipt.plaintext_bytes(version) - 1

    def plaintext(self) -> bytes:
        if (len(self.document_digest), len(self.batch_root), len(self.consent_reference), len(self.salt)) != (
                32, 32, 32, SALT_BYTES):
            raise SealingError("digest, batch root and consent reference are 32 bytes, the salt 16")
        if not 0 <= self.verified_at < 2**40:
            raise SealingError(f"verifiedAt must fit 40 bits, got {self.verified_at}")
        if (self.consent is Consent.NONE) != (self.consent_reference == bytes(32)):
            raise SealingError("a consent has a reference, and only a consent has one")
        at, issuer, purpose = self.verified_at.to_bytes(5, "big"), issuer_id_code(self.issuer_id), doc_type_code(
            self.purpose)
        if self.version == 1:
            if self.consent is Consent.IN_PERSON:
                raise SealingError("a version 1 receipt cannot state in-person consent")
            return bytes([1]) + self.document_digest + issuer + purpose + self.consent_reference + at + self.salt
        if self.version != RECEIPT_VERSION:
            raise SealingError(f"receipts are made at version {RECEIPT_VERSION}, not {self.version}")
        return (bytes([RECEIPT_VERSION]) + self.document_digest + issuer + doc_type_code(self.doc_type)
                + self.batch_root + purpose + bytes([self.consent]) + self.consent_reference + at + self.salt)

    @classmethod
    def from_plaintext(cls, data: bytes) -> Receipt:
        """A receipt of either version from its plaintext; anything else raises :class:`SealingError`."""
        version = data[0] if data else -1
        if version not in _PLAINTEXT_BYTES or len(data) != _PLAINTEXT_BYTES[version]:
            raise SealingError("a receipt is " + " or ".join(
                f"{n} bytes starting 0x{v:02x}" for v, n in sorted(_PLAINTEXT_BYTES.items())))
        if version == 1:
            reference = data[52:84]
            return cls(data[1:33], code_name(data[33:44]), "", bytes(32), code_name(data[44:52]),
                       Consent.PRESENTATION if any(reference) else Consent.NONE, reference,
                       int.from_bytes(data[84:89], "big"), data[89:], version=1)
        try:
            consent = Consent(data[92])
        except ValueError:
            raise SealingError(f"no consent kind {data[92]}") from None
        receipt = cls(data[1:33], code_name(data[33:44]), code_name(data[44:52]), data[52:84], code_name(data[84:92]),
                      consent, data[93:125], int.from_bytes(data[125:130], "big"), data[130:])
        if consent is Consent.IN_PERSON:
            receipt.case_reference  # noqa: B018  (refused when not a case reference)
        return receipt

    def commitment(self) -> bytes:
        return _KECCAK(COMMITMENT_PREFIX + self.plaintext())

    @property
    def consented(self) -> bool:
        """Whether the receipt states the resident's consent (a signed presentation, or in person)."""
        return self.consent is not Consent.NONE

    @property
    def presentation_hash(self) -> bytes | None:
        """The hash of the holder-signed presentation the bank verified, if that was the consent."""
        return self.consent_reference if self.consent is Consent.PRESENTATION else None

    @property
    def case_reference(self) -> str | None:
        """The bank's case reference under which it attests in-person consent, if that was the consent."""
        if self.consent is not Consent.IN_PERSON:
            return None
        try:
            case = self.consent_reference.rstrip(b"\0").decode("utf-8")
            case_reference_code(case)
        except (UnicodeDecodeError, SealingError):
            raise SealingError("an in-person consent's case reference is not readable text") from None
        return case


def case_reference_code(case: str) -> bytes:
    """A bank's case reference as a receipt carries it: 1 to 32 bytes of UTF-8 without control characters,
    zero-padded to 32."""
    raw = case.encode("utf-8")
    if not 1 <= len(raw) <= 32 or any(ch < " " or ch == "\x7f" for ch in case):
        raise SealingError(f"a case reference is 1 to 32 bytes of printable UTF-8, got {case!r}")
    return raw.ljust(32, b"\0")


@dataclass(frozen=True, slots=True)
class SealedReceipts:
    """Receipts as one transaction carries them: their commitments, in order, and one sealed envelope."""

    commitments: tuple[bytes, ...]
    sealed: bytes


@dataclass(frozen=True, slots=True)
class SealedReceipt:
    """One receipt as a chain carries it: a batch of one."""

    commitment: bytes
    sealed: bytes


def _check_recipients(recipients: Sequence[RegulatorPublicKey]) -> Kem:
    if not 1 <= len(recipients) <= MAX_REGULATORS:
        raise SealingError(f"seal to 1 to {MAX_REGULATORS} keys, got {len(recipients)}")
    kem = recipients[0].kem
    if any(r.kem is not kem for r in recipients):
        raise SealingError("every key of one sealed payload uses the same KEM")
    if len({r.raw for r in recipients}) != len(recipients):
        raise SealingError("a key is listed twice")
    return kem


def _envelope(body: bytes, content_key: bytes, recipients: Sequence[RegulatorPublicKey], info: bytes,
              version: int = SEALED_VERSION) -> bytes:
    """``version || kemId || n || n × (enc || HPKE(contentKey)) || AES-128-GCM(contentKey, body, aad=info)``."""
    kem = _check_recipients(recipients)
    parts = b"".join(kem.suite.encrypt(content_key, r._hpke(), info=info) for r in recipients)
    return (bytes([version]) + kem.to_bytes(2, "big") + bytes([len(recipients)]) + parts
            + AESGCM(content_key).encrypt(_NONCE, body, info))


def _part_bytes(kem: Kem) -> int:
    return kem.enc_bytes + SALT_BYTES + TAG_BYTES


def _open_envelope(data: bytes, key: RegulatorKey, info: bytes, body_bytes: int, what: str,
                   part_index: int | None = None, version: int = SEALED_VERSION) -> tuple[bytes, bytes]:
    """The content key and body of an envelope, opened with ``key``: the part at ``part_index`` (the key's
    position in its epoch's list) if given, else each part in turn (the bytes name no key)."""
    kem = key.kem
    if len(data) < 4 or data[0] != version or int.from_bytes(data[1:3], "big") != kem:
        raise SealingError(f"not a version {version} {what} sealed with {kem.name}")
    count, part = data[3], _part_bytes(kem)
    expected = 4 + count * part + body_bytes + TAG_BYTES
    if count == 0 or len(data) != expected:
        raise SealingError(f"a {what} sealed to {count} keys is {expected} bytes, got {len(data)}")
    body = data[4 + count * part:]
    for i in range(count) if part_index is None else [part_index] if 0 <= part_index < count else []:
        try:
            content_key = kem.suite.decrypt(data[4 + i * part:4 + (i + 1) * part], key._hpke, info=info)
            return content_key, AESGCM(content_key).decrypt(_NONCE, body, info)
        except (InvalidTag, ValueError):
            continue
    raise NotSealedToThisKey(f"no part of this {what} opens with this key (not addressed to it, or altered)")


def _batch_info(commitments: Sequence[bytes]) -> bytes:
    if not 1 <= len(commitments) <= MAX_BATCH or any(len(c) != 32 for c in commitments):
        raise SealingError(f"a batch holds 1 to {MAX_BATCH} commitments of 32 bytes")
    return INFO + _KECCAK(b"".join(commitments))


def seal_receipts(receipts: Sequence[Receipt], regulators: Sequence[RegulatorPublicKey]) -> SealedReceipts:
    """Seal ``receipts`` (all of one version) as one envelope to every regulator key (all of one KEM, each
    once)."""
    if len({r.version for r in receipts}) > 1:
        raise SealingError("the receipts of one sealed batch share one version")
    plaintexts = [r.plaintext() for r in receipts]
    commitments = tuple(_KECCAK(COMMITMENT_PREFIX + p) for p in plaintexts)
    body = b"".join(p[1:] for p in plaintexts)
    sealed = _envelope(body, secrets.token_bytes(SALT_BYTES), regulators, _batch_info(commitments), BATCH_VERSION)
    return SealedReceipts(commitments, sealed)


def sealed_receipts_size(kem: Kem, regulators: int, receipts: int, version: int = RECEIPT_VERSION) -> int:
    """The length of the envelope of ``receipts`` receipts of ``version`` sealed to ``regulators`` keys of
    ``kem``."""
    return 4 + regulators * _part_bytes(kem) + receipts * Receipt.body_bytes(version) + TAG_BYTES


def _receipt_version(batch: SealedReceipts, kem: Kem) -> int:
    """The version of a batch's receipts, which its body's length tells (a batch's receipts share one); the
    current version when no length fits (the envelope's own checks then refuse it by name)."""
    if len(batch.sealed) >= 4:
        for version in _PLAINTEXT_BYTES:
            if len(batch.sealed) == sealed_receipts_size(kem, batch.sealed[3], len(batch.commitments), version):
                return version
    return RECEIPT_VERSION


def open_receipts(batch: SealedReceipts, key: RegulatorKey, part_index: int | None = None) -> list[Receipt | None]:
    """The receipts inside ``batch``, opened with a regulator's key, one per commitment in order; ``None`` where
    the plaintext at that position does not match its commitment (a bank's error or forgery). ``part_index``, the
    key's position in the key epoch's list, spares the trial of the other parts.

    Raises :class:`NotSealedToThisKey` when no part opens with this key (not addressed to it, altered bytes,
    other commitments), and :class:`SealingError` when the bytes are not a sealed batch of that many receipts.
    """
    info = _batch_info(batch.commitments)
    version = _receipt_version(batch, key.kem)
    share = Receipt.body_bytes(version)
    _, body = _open_envelope(batch.sealed, key, info, len(batch.commitments) * share, "batch of receipts",
                             part_index, BATCH_VERSION)
    out: list[Receipt | None] = []
    for i, commitment in enumerate(batch.commitments):
        plaintext = bytes([version]) + body[i * share:(i + 1) * share]
        if _KECCAK(COMMITMENT_PREFIX + plaintext) != commitment:
            out.append(None)
            continue
        try:
            out.append(Receipt.from_plaintext(plaintext))
        except (SealingError, ValueError):
            out.append(None)
    return out


def seal(receipt: Receipt, regulators: Sequence[RegulatorPublicKey]) -> SealedReceipt:
    """Seal one ``receipt`` to every regulator key: a batch of one."""
    batch = seal_receipts([receipt], regulators)
    return SealedReceipt(batch.commitments[0], batch.sealed)


def sealed_size(kem: Kem, regulators: int) -> int:
    """The length of one receipt sealed alone to ``regulators`` keys of ``kem``."""
    return sealed_receipts_size(kem, regulators, 1)


def open_sealed(sealed: SealedReceipt, key: RegulatorKey, part_index: int | None = None) -> Receipt:
    """The receipt inside a batch of one, opened with a regulator's key and checked against its commitment (see
    :func:`open_receipts`)."""
    [receipt] = open_receipts(SealedReceipts((sealed.commitment,), sealed.sealed), key, part_index)
    if receipt is None:
        raise NotSealedToThisKey("the receipt opens but does not match its commitment")
    return receipt


# ----------------------------------------------------------------------------------------------------------
# Disputes
# ----------------------------------------------------------------------------------------------------------

DISPUTE_INFO = b"crossverify sealed dispute v1"
ANSWER_INFO = b"crossverify sealed dispute answer v1"
ANSWER_KEY_PREFIX = b"crossverify dispute answer key"
#: version(1) digest(32) issuer(11) batchRoot(32) reason(1) receiptCommitment(32) openedAt(5) replyKey(32|1216)
_DISPUTE_FIXED = 1 + 32 + 11 + 32 + 1 + 32 + 5
#: version(1) disputeId(32) status(1) answeredAt(5) signature(65)
_ANSWER_BYTES = 1 + 32 + 1 + 5 + 65


class DisputeReason(IntEnum):
    """Why a bank doubts a document it verified."""

    STATEMENT_MISMATCH = 1  # the customer's own statement disagrees with the document
    SUSPECTED_REUSE = 2  # the document looks re-used (another person, another application)
    SUSPECTED_ALTERATION = 3  # the paper or file looks altered although the digest matched
    OTHER = 4


class DisputeStatus(IntEnum):
    """The issuer's answer to a dispute."""

    CONFIRMED_GENUINE = 1
    REVOKED = 2
    BEING_INVESTIGATED = 3


@dataclass(frozen=True, slots=True)
class Dispute:
    """What a bank tells the issuer concerned and the regulators about a document it doubts.

    ``reply_key`` is the bank's one-time public key the answer is sealed to; ``salt`` is secret and fresh: the
    body's AES key, and the seed of the one-time answer key whose address the chain holds.
    """

    document_digest: bytes
    issuer_id: str
    batch_root: bytes
    reason: DisputeReason
    receipt_commitment: bytes
    opened_at: int
    reply_key: RegulatorPublicKey
    salt: bytes

    @classmethod
    def new(cls, document_digest: bytes, issuer_id: str, batch_root: bytes, reason: DisputeReason,
            receipt_commitment: bytes | None, opened_at: int, reply_key: RegulatorPublicKey) -> Dispute:
        return cls(document_digest, issuer_id, batch_root, DisputeReason(reason), receipt_commitment or bytes(32),
                   opened_at, reply_key, secrets.token_bytes(SALT_BYTES))

    def plaintext(self) -> bytes:
        if (len(self.document_digest), len(self.batch_root), len(self.receipt_commitment), len(self.salt)) != (
                32, 32, 32, SALT_BYTES):
            raise SealingError("digest, batch root and receipt commitment are 32 bytes, the salt 16")
        if not 0 <= self.opened_at < 2**40:
            raise SealingError(f"openedAt must fit 40 bits, got {self.opened_at}")
        return (bytes([DISPUTE_VERSION]) + self.document_digest + issuer_id_code(self.issuer_id) + self.batch_root
                + bytes([self.reason]) + self.receipt_commitment + self.opened_at.to_bytes(5, "big")
                + self.reply_key.kem.to_bytes(2, "big") + self.reply_key.raw)

    @classmethod
    def from_plaintext(cls, data: bytes, salt: bytes) -> Dispute:
        try:
            if len(data) < _DISPUTE_FIXED + 2 or data[0] != DISPUTE_VERSION:
                raise ValueError("too short")
            reply = RegulatorPublicKey(Kem(int.from_bytes(data[_DISPUTE_FIXED:_DISPUTE_FIXED + 2], "big")),
                                       data[_DISPUTE_FIXED + 2:])
            return cls(data[1:33], code_name(data[33:44]), data[44:76], DisputeReason(data[76]), data[77:109],
                       int.from_bytes(data[109:114], "big"), reply, salt)
        except (ValueError, SealingError) as exc:
            raise SealingError(f"not a version {DISPUTE_VERSION} dispute: {exc}") from None

    @property
    def answer_key(self) -> bytes:
        """The private key (secp256k1) that signs the answer: ``keccak256(prefix || salt)``; only readers of the
        dispute know it. Its address is what the chain stores."""
        return _KECCAK(ANSWER_KEY_PREFIX + self.salt)


def answer_key_address(dispute: Dispute) -> str:
    """The Ethereum address of the dispute's answer key (what ``openDispute`` is given)."""
    return str(Account.from_key(dispute.answer_key).address)


def seal_dispute(dispute: Dispute, recipients: Sequence[RegulatorPublicKey]) -> bytes:
    """Seal ``dispute`` to the issuer's key and every regulator key (all of one KEM)."""
    info = DISPUTE_INFO + bytes.fromhex(answer_key_address(dispute)[2:])
    return _envelope(dispute.plaintext(), dispute.salt, recipients, info)


def open_dispute(sealed: bytes, answer_key: str, key: RegulatorKey) -> Dispute:
    """The dispute inside ``sealed``, recorded on chain with ``answer_key``, opened with the issuer's or a
    regulator's key; refused (:class:`NotSealedToThisKey`) if its salt does not derive that answer key."""
    info = DISPUTE_INFO + bytes.fromhex(answer_key[2:])
    reply_bytes = len(sealed) - 4 - sealed[3] * _part_bytes(key.kem) - TAG_BYTES - _DISPUTE_FIXED - 2 \
        if len(sealed) >= 4 else 0
    if reply_bytes not in _PUBLIC_BYTES.values():
        raise SealingError("not a sealed dispute of a known length")
    salt, body = _open_envelope(sealed, key, info, _DISPUTE_FIXED + 2 + reply_bytes, "dispute")
    dispute = Dispute.from_plaintext(body, salt)
    if answer_key_address(dispute).lower() != answer_key.lower():
        raise NotSealedToThisKey("the dispute opens but its salt does not derive the answer key on chain")
    return dispute


@dataclass(frozen=True, slots=True)
class DisputeAnswer:
    """The issuer's answer: the status, when, and the signature of one of the issuer's signing keys over
    ``keccak256("crossverify dispute answer" || disputeId || status || answeredAt)`` (EIP-191)."""

    dispute_id: bytes
    status: DisputeStatus
    answered_at: int
    signature: bytes

    @staticmethod
    def signed_bytes(dispute_id: bytes, status: DisputeStatus, answered_at: int) -> bytes:
        """What the issuer's signing key signs (as an EIP-191 personal message)."""
        return b"crossverify dispute answer" + dispute_id + bytes([status]) + answered_at.to_bytes(5, "big")

    def plaintext(self) -> bytes:
        if len(self.dispute_id) != 32 or len(self.signature) != 65 or not 0 <= self.answered_at < 2**40:
            raise SealingError("a dispute id is 32 bytes, a signature 65, a time 40 bits")
        return (bytes([DISPUTE_VERSION]) + self.dispute_id + bytes([self.status]) + self.answered_at.to_bytes(5, "big")
                + self.signature)

    @classmethod
    def from_plaintext(cls, data: bytes) -> DisputeAnswer:
        try:
            if len(data) != _ANSWER_BYTES or data[0] != DISPUTE_VERSION:
                raise ValueError(f"{_ANSWER_BYTES} bytes starting 0x01")
            return cls(data[1:33], DisputeStatus(data[33]), int.from_bytes(data[34:39], "big"), data[39:])
        except ValueError as exc:
            raise SealingError(f"not a version {DISPUTE_VERSION} dispute answer: {exc}") from None

    def signer(self) -> str:
        """The address whose key signed this answer (check it is a signing key of the issuer concerned)."""
        try:
            message = encode_defunct(self.signed_bytes(self.dispute_id, self.status, self.answered_at))
            return str(Account.recover_message(message, signature=self.signature))
        except Exception as exc:  # eth-keys raises several types for a malformed signature
            raise SealingError(f"the answer's signature does not recover: {exc}") from None


def seal_answer(answer: DisputeAnswer, recipients: Sequence[RegulatorPublicKey]) -> bytes:
    """Seal ``answer`` to the disputing bank's reply key and every regulator key."""
    return _envelope(answer.plaintext(), secrets.token_bytes(SALT_BYTES), recipients, ANSWER_INFO + answer.dispute_id)


def open_answer(sealed: bytes, dispute_id: bytes, key: RegulatorKey) -> DisputeAnswer:
    """The answer to ``dispute_id`` inside ``sealed``, opened with the bank's reply key or a regulator's key."""
    _, body = _open_envelope(sealed, key, ANSWER_INFO + dispute_id, _ANSWER_BYTES, "dispute answer")
    answer = DisputeAnswer.from_plaintext(body)
    if answer.dispute_id != dispute_id:
        raise NotSealedToThisKey("the answer is for another dispute")
    return answer
