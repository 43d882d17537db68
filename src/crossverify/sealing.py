"""Receipts and disputes sealed to the regulators (and a dispute's other party): public bytes, private content.

A bank that verified a document states a :class:`Receipt` (document digest, issuer, document type and batch
root, purpose code, how the resident consented, time, and a fresh salt), whose commitment is its public
reference. :func:`seal_receipts` seals the receipts of one transaction as one envelope: a fresh 128-bit body key,
sealed to every regulator key with HPKE (RFC 9180, base mode, single shot, from ``cryptography``), and one
AES-128-GCM body holding every receipt's plaintext after its version byte, in the order of the commitments::

    plaintext  = 0x02 || digest(32) || issuer(11) || docType(8) || batchRoot(32) || purpose(8) || consent(1)
                 || consentReference(32) || verifiedAt(5) || salt(16)
    commitment = H(0x10 || plaintext)
    info       = "crossverify sealed receipts v4" || H(commitment_1 || ... || commitment_m)
    body       = plaintext_1[1:] || ... || plaintext_m[1:]
    sealed     = 0x04 || 0x01 || kemId(2) || n(1) || n × (enc || HPKE(bodyKey)) || AES-128-GCM(bodyKey, body, aad=info)
               | 0x04 || 0x02 || n(1) || n × SM2(bodyKey) || SM4-GCM(bodyKey, body, aad=info)

The byte after the version names the crypto suite: the standard suite (1) seals body keys with HPKE and bodies
with AES-GCM, H is keccak-256; the GM suite (2) encrypts body keys with SM2 (GB/T 32918.4, C1 || C3 || C2, 113
bytes) and bodies with SM4-GCM, H is SM3. A regulator's key belongs to one suite, and so does everything sealed
to it: an envelope of the other suite is refused by name (:class:`~crossverify.errors.SuiteMismatch`).

The consent is a holder-signed presentation (its hash), the bank's attestation that the resident consented in
person (its case reference), or none. A batch's receipts share one version, which the body's length tells
(version 1 receipts, still read, lack the document type, batch root and consent byte).

The commitments and the sealed bytes are what a chain carries (the circulation contract's event-only
``recordSealedReceipts(bytes32[] commitments, bytes ciphertext)``). The salt makes a commitment unpredictable,
HPKE's fresh ephemeral key makes every ciphertext new: nobody without a regulator's key can link a receipt to a
document digest, even by sealing a guess. A regulator opens a batch with :func:`open_receipts`, which checks every
plaintext against the commitment at its position: reordering, truncating or swapping them does not open as
another receipt. Disputes and their answers (:class:`Dispute`, :class:`DisputeAnswer`) use the same envelope (one
payload; a dispute's salt is its body key). See docs/format.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from pathlib import Path

import coincurve
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import to_checksum_address

from . import gm
from .errors import InvalidSM2Key, NotSealedToThisKey, SealingError, SuiteMismatch
from .format.codes import code_name, doc_type_code, issuer_id_code
from .format.encoding import from_hex, to_hex
from .format.hashing import HashAlgorithm
from .format.suite import Suite

#: The receipt plaintext's version (its first byte, under the commitment); version 1 is still read.
RECEIPT_VERSION = 2
#: The plaintext version of a dispute and of an answer.
DISPUTE_VERSION = 1
#: The envelope version of a batch of receipts, a dispute and an answer: 4, with the suite byte after it.
ENVELOPE_VERSION = 4
COMMITMENT_PREFIX = b"\x10"
INFO = b"crossverify sealed receipts v4"
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
#: Each suite's hash: of commitments and of the commitments a batch's ``info`` binds.
_HASH = {Suite.STANDARD: _KECCAK, Suite.GM: gm.sm3}


class Kem(IntEnum):
    """The KEMs a receipt may be sealed with: the standard suite's by their IANA HPKE KEM id, and the GM suite's
    SM2 public-key encryption (no HPKE KEM: its number is crossverify's, and never appears in sealed bytes)."""

    X25519 = 0x0020  # DHKEM(X25519, HKDF-SHA256), RFC 9180
    MLKEM768_X25519 = 0x647A  # the ML-KEM-768 + X25519 hybrid (post-quantum)
    SM2 = 0xF002  # SM2 public-key encryption, GB/T 32918.4 (the GM suite)

    @property
    def enc_bytes(self) -> int:
        """What a part adds to the body key besides its 16-byte tag (SM2: C1 and C3 less a tag's worth)."""
        return {Kem.X25519: 32, Kem.MLKEM768_X25519: 1120, Kem.SM2: gm.CIPHERTEXT_OVERHEAD - TAG_BYTES}[self]

    @property
    def crypto_suite(self) -> Suite:
        """The suite whose envelopes seal to keys of this KEM."""
        return Suite.GM if self is Kem.SM2 else Suite.STANDARD

    @property
    def suite(self) -> hpke.Suite:
        return _SUITES[self]


#: The default: 64 bytes per regulator against 1,152 for the hybrid (see docs/benchmarks.md).
DEFAULT_KEM = Kem.X25519
#: The standard suite's KEMs (the GM suite has SM2 alone).
STANDARD_KEMS = (Kem.X25519, Kem.MLKEM768_X25519)
_SUITES = {
    Kem.X25519: hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM),
    Kem.MLKEM768_X25519: hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM),
}
_PUBLIC_BYTES = {Kem.X25519: 32, Kem.MLKEM768_X25519: 1184 + 32, Kem.SM2: gm.PUBLIC_KEY_SIZE}
_PRIVATE_BYTES = {Kem.X25519: 32, Kem.MLKEM768_X25519: 64 + 32, Kem.SM2: gm.PRIVATE_KEY_SIZE}


def kem_of_public_key(raw: bytes) -> Kem:
    """The KEM of a public key as the chain stores it (raw bytes): by its length."""
    for kem, size in _PUBLIC_BYTES.items():
        if len(raw) == size:
            return kem
    raise SealingError(f"a regulator public key is 32, 64 or 1,216 bytes, got {len(raw)}")


@dataclass(frozen=True, slots=True)
class RegulatorPublicKey:
    """A regulator's public sealing key: its KEM and raw bytes (hybrid: ML-KEM-768 key, then X25519 key)."""

    kem: Kem
    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != _PUBLIC_BYTES[self.kem]:
            raise SealingError(f"a {self.kem.name} public key is {_PUBLIC_BYTES[self.kem]} bytes, got {len(self.raw)}")
        if self.kem is Kem.SM2 and not gm.is_public_key(self.raw):
            raise SealingError("an SM2 public key is the 64 bytes x || y of a point of the SM2 curve")

    @property
    def key_id(self) -> bytes:
        """The first 8 bytes of SHA-256(kemId(2) || raw): a short name for the key (not in the sealed bytes)."""
        return hashlib.sha256(self.kem.to_bytes(2, "big") + self.raw).digest()[:KEY_ID_BYTES]

    def _hpke(self) -> x25519.X25519PublicKey | hpke.MLKEM768X25519PublicKey:
        try:
            if self.kem is Kem.SM2:
                raise ValueError("SM2 is not an HPKE KEM")
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
        if self.kem is Kem.SM2:
            try:
                gm.require_private_key(self.raw)
            except InvalidSM2Key as exc:
                raise SealingError(str(exc)) from None

    @classmethod
    def generate(cls, kem: Kem = DEFAULT_KEM) -> RegulatorKey:
        if kem is Kem.SM2:
            return cls(kem, gm.generate_private_key())
        return cls(kem, secrets.token_bytes(_PRIVATE_BYTES[kem]))

    @cached_property
    def _hpke(self) -> x25519.X25519PrivateKey | hpke.MLKEM768X25519PrivateKey:
        if self.kem is Kem.X25519:
            return x25519.X25519PrivateKey.from_private_bytes(self.raw)
        return hpke.MLKEM768X25519PrivateKey(mlkem.MLKEM768PrivateKey.from_seed_bytes(self.raw[:64]),
                                             x25519.X25519PrivateKey.from_private_bytes(self.raw[64:]))

    @cached_property
    def public_key(self) -> RegulatorPublicKey:
        if self.kem is Kem.SM2:
            return RegulatorPublicKey(self.kem, gm.public_key_of(self.raw))
        dh = x25519.X25519PrivateKey.from_private_bytes(self.raw[-32:]).public_key().public_bytes_raw()
        if self.kem is Kem.X25519:
            return RegulatorPublicKey(self.kem, dh)
        return RegulatorPublicKey(self.kem, mlkem.MLKEM768PrivateKey.from_seed_bytes(self.raw[:64]).public_key()
                                  .public_bytes_raw() + dh)

    def write(self, path: Path, password: str | None = None) -> None:
        """Write the key to a new file readable by its owner only (mode 0600); never overwrites. With a
        ``password``, each part of the key is kept as encrypted PKCS #8 (the best encryption ``cryptography``
        offers), as holder keys are; an SM2 key with GM primitives only, beside its public key."""
        data: dict[str, object] = {"kem": self.kem.name}
        if password and self.kem is Kem.SM2:
            public = self.public_key.raw
            data.update(public=to_hex(public), encrypted=gm.password_seal(self.raw, password, _SM2_KEY_AAD + public))
        elif password:
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
            raise SealingError(f"cannot read sealing key {path}: {exc}") from None
        if isinstance(data, dict) and set(data) == {"kem", "encrypted"}:
            return cls._decrypt(path, data, password)
        if isinstance(data, dict) and set(data) == {"kem", "encrypted", "public"} and data["kem"] == Kem.SM2.name:
            return cls._decrypt_sm2(path, data, password)
        return cls.from_json(data)

    @classmethod
    def _decrypt_sm2(cls, path: Path, data: dict[str, object], password: str | None) -> RegulatorKey:
        if not password:
            raise SealingError(f"regulator key {path} is encrypted: give its password")
        sealed = data["encrypted"]
        try:
            if not isinstance(sealed, dict) or not isinstance(data["public"], str):
                raise ValueError("malformed members")
            public = from_hex(data["public"])
            key = cls(Kem.SM2, gm.password_open(sealed, password, _SM2_KEY_AAD + public))
        except InvalidTag:
            raise SealingError(f"wrong password for regulator key {path}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise SealingError(f"{path} is not a readable regulator key: {exc}") from None
        if key.public_key.raw != public:
            raise SealingError(f"{path}: the private key does not match the public key")
        return key

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


_SM2_KEY_AAD = b"crossverify SM2 regulator key"


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

    def commitment(self, suite: Suite = Suite.STANDARD) -> bytes:
        """The receipt's public reference: H(0x10 || plaintext), H the suite's hash (keccak-256, or SM3)."""
        return _HASH[suite](COMMITMENT_PREFIX + self.plaintext())

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


def _header_bytes(kem: Kem) -> int:
    """Version, suite, the standard suite's KEM id, and the number of parts."""
    return 3 if kem is Kem.SM2 else 5


def _envelope(body: bytes, content_key: bytes, recipients: Sequence[RegulatorPublicKey], info: bytes) -> bytes:
    """``0x04 || suite || [kemId] || n || n × part || AEAD(contentKey, body, aad=info)``: the standard suite's
    parts are ``enc || HPKE(contentKey)`` and its AEAD AES-128-GCM, the GM suite's parts SM2(contentKey) and its
    AEAD SM4-GCM."""
    kem = _check_recipients(recipients)
    suite = kem.crypto_suite
    header = bytes([ENVELOPE_VERSION, suite]) + (b"" if kem is Kem.SM2 else kem.to_bytes(2, "big"))
    header += bytes([len(recipients)])
    if kem is Kem.SM2:
        parts = b"".join(gm.encrypt(r.raw, content_key) for r in recipients)
        return header + parts + gm.SM4GCM(content_key).encrypt(_NONCE, body, info)
    parts = b"".join(kem.suite.encrypt(content_key, r._hpke(), info=info) for r in recipients)
    return header + parts + AESGCM(content_key).encrypt(_NONCE, body, info)


def _part_bytes(kem: Kem) -> int:
    return kem.enc_bytes + SALT_BYTES + TAG_BYTES


def _open_envelope(data: bytes, key: RegulatorKey, info: bytes, body_bytes: int, what: str,
                   part_index: int | None = None) -> tuple[bytes, bytes]:
    """The content key and body of an envelope, opened with ``key``: the part at ``part_index`` (the key's
    position in its epoch's list) if given, else each part in turn (the bytes name no key)."""
    kem, header = key.kem, _header_bytes(key.kem)
    suite = kem.crypto_suite
    if len(data) < header or data[0] != ENVELOPE_VERSION:
        raise SealingError(f"not a version {ENVELOPE_VERSION} {what}")
    if data[1] != suite:
        if data[1] in {s.value for s in Suite}:
            raise SuiteMismatch(f"a {what} of the {Suite(data[1]).label} suite cannot open with a key of the "
                                f"{suite.label} suite")
        raise SealingError(f"a {what} of no known crypto suite ({data[1]})")
    if kem is not Kem.SM2 and int.from_bytes(data[2:4], "big") != kem:
        raise SealingError(f"not a {what} sealed with {kem.name}")
    count, part = data[header - 1], _part_bytes(kem)
    expected = header + count * part + body_bytes + TAG_BYTES
    if count == 0 or len(data) != expected:
        raise SealingError(f"a {what} sealed to {count} keys is {expected} bytes, got {len(data)}")
    body = data[header + count * part:]
    for i in range(count) if part_index is None else [part_index] if 0 <= part_index < count else []:
        sealed_key = data[header + i * part:header + (i + 1) * part]
        try:
            if kem is Kem.SM2:
                content_key = gm.decrypt(key.raw, sealed_key)
                if content_key is None or len(content_key) != SALT_BYTES:
                    continue
                return content_key, gm.SM4GCM(content_key).decrypt(_NONCE, body, info)
            content_key = kem.suite.decrypt(sealed_key, key._hpke, info=info)
            return content_key, AESGCM(content_key).decrypt(_NONCE, body, info)
        except (InvalidTag, ValueError):
            continue
    raise NotSealedToThisKey(f"no part of this {what} opens with this key (not addressed to it, or altered)")


def _batch_info(commitments: Sequence[bytes], suite: Suite) -> bytes:
    if not 1 <= len(commitments) <= MAX_BATCH or any(len(c) != 32 for c in commitments):
        raise SealingError(f"a batch holds 1 to {MAX_BATCH} commitments of 32 bytes")
    return INFO + _HASH[suite](b"".join(commitments))


def seal_receipts(receipts: Sequence[Receipt], regulators: Sequence[RegulatorPublicKey]) -> SealedReceipts:
    """Seal ``receipts`` (all of one version) as one envelope to every regulator key (all of one KEM, each once),
    in the suite of the keys: its commitments are that suite's."""
    if len({r.version for r in receipts}) > 1:
        raise SealingError("the receipts of one sealed batch share one version")
    suite = _check_recipients(regulators).crypto_suite
    plaintexts = [r.plaintext() for r in receipts]
    commitments = tuple(_HASH[suite](COMMITMENT_PREFIX + p) for p in plaintexts)
    body = b"".join(p[1:] for p in plaintexts)
    sealed = _envelope(body, secrets.token_bytes(SALT_BYTES), regulators, _batch_info(commitments, suite))
    return SealedReceipts(commitments, sealed)


def sealed_receipts_size(kem: Kem, regulators: int, receipts: int, version: int = RECEIPT_VERSION) -> int:
    """The length of the envelope of ``receipts`` receipts of ``version`` sealed to ``regulators`` keys of
    ``kem``."""
    return _header_bytes(kem) + regulators * _part_bytes(kem) + receipts * Receipt.body_bytes(version) + TAG_BYTES


def _receipt_version(batch: SealedReceipts, kem: Kem) -> int:
    """The version of a batch's receipts, which its body's length tells (a batch's receipts share one); the
    current version when no length fits (the envelope's own checks then refuse it by name)."""
    header = _header_bytes(kem)
    if len(batch.sealed) >= header:
        for version in _PLAINTEXT_BYTES:
            if len(batch.sealed) == sealed_receipts_size(kem, batch.sealed[header - 1], len(batch.commitments),
                                                         version):
                return version
    return RECEIPT_VERSION


def open_receipts(batch: SealedReceipts, key: RegulatorKey, part_index: int | None = None) -> list[Receipt | None]:
    """The receipts inside ``batch``, opened with a regulator's key, one per commitment in order; ``None`` where
    the plaintext at that position does not match its commitment (a bank's error or forgery). ``part_index``, the
    key's position in the key epoch's list, spares the trial of the other parts.

    Raises :class:`NotSealedToThisKey` when no part opens with this key (not addressed to it, altered bytes,
    other commitments), and :class:`SealingError` when the bytes are not a sealed batch of that many receipts.
    """
    suite = key.kem.crypto_suite
    info = _batch_info(batch.commitments, suite)
    version = _receipt_version(batch, key.kem)
    share = Receipt.body_bytes(version)
    _, body = _open_envelope(batch.sealed, key, info, len(batch.commitments) * share, "batch of receipts",
                             part_index)
    out: list[Receipt | None] = []
    for i, commitment in enumerate(batch.commitments):
        plaintext = bytes([version]) + body[i * share:(i + 1) * share]
        if _HASH[suite](COMMITMENT_PREFIX + plaintext) != commitment:
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
ISSUER_ANSWER_PREFIX = b"crossverify issuer answer key"
#: The order of secp256k1's group: answer keys and their tweaks are scalars below it.
_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
#: version(1) digest(32) issuer(11) batchRoot(32) reason(1) receiptCommitment(32) openedAt(5) replyKey(32|1216)
_DISPUTE_FIXED = 1 + 32 + 11 + 32 + 1 + 32 + 5
#: version(1) disputeId(32) status(1) answeredAt(5), then the standard suite's signature r || s || v (65), or the
#: GM suite's signing key address (20) and SM2 signature r || s (64).
_ANSWER_BYTES = {Suite.STANDARD: 1 + 32 + 1 + 5 + 65, Suite.GM: 1 + 32 + 1 + 5 + 20 + 64}


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
    body's AES key, and the seed of the tweak that moves the issuer's answer key to this dispute's one-time answer
    key, whose address the chain holds. Only the issuer can sign for it; its readers can check it is the issuer's.
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
    def suite(self) -> Suite:
        """The dispute's crypto suite: its reply key's (and so its recipients')."""
        return self.reply_key.kem.crypto_suite

    @property
    def answer_tweak(self) -> int:
        """The scalar that moves the issuer's answer key ``Q`` to this dispute's answer key ``Q + tweak·G``: from
        the salt, ``keccak256(prefix || salt)`` (secp256k1) or ``SM3(prefix || salt)`` (SM2, the GM suite), reduced
        into [1, n - 1]. Only readers of the dispute know it."""
        curve = _ANSWER_CURVES[self.suite]
        return int.from_bytes(curve.hash(ANSWER_KEY_PREFIX + self.salt), "big") % (curve.order - 1) + 1


@dataclass(frozen=True, slots=True)
class _AnswerCurve:
    """The curve of a suite's answer keys, its hash, and the address of a point (x || y): Ethereum's
    ``keccak256(x || y)[12:]`` on secp256k1, ``SM3(x || y)[12:]`` on SM2."""

    order: int
    hash: Callable[[bytes], bytes]
    sm2: bool

    def public(self, secret: int) -> bytes:
        if self.sm2:
            return gm.public_key_of(secret.to_bytes(32, "big"))
        return bytes(coincurve.PrivateKey(secret.to_bytes(32, "big")).public_key.format(compressed=False)[1:])

    def moved(self, point: bytes, tweak: int) -> bytes:
        """``point + tweak·G`` (x || y); :class:`SealingError` when ``point`` is not on the curve."""
        if self.sm2:
            if not gm.is_public_key(point):
                raise SealingError("the issuer's answer key is not a point of the SM2 curve")
            return _sm2_add(point, gm.public_key_of(tweak.to_bytes(32, "big")))
        try:
            return bytes(coincurve.PublicKey(b"\x04" + point).add(tweak.to_bytes(32, "big")).format(
                compressed=False)[1:])
        except ValueError as exc:
            raise SealingError(f"the issuer's answer key is not a secp256k1 point: {exc}") from None

    def address(self, point: bytes) -> str:
        return str(to_checksum_address(self.hash(point)[12:]))


_ANSWER_CURVES = {Suite.STANDARD: _AnswerCurve(_ORDER, _KECCAK, sm2=False),
                  Suite.GM: _AnswerCurve(gm.N, gm.sm3, sm2=True)}


def _sm2_add(p: bytes, q: bytes) -> bytes:
    """The sum of two points of the SM2 curve (x || y each), in affine coordinates."""
    (x1, y1), (x2, y2) = ((int.from_bytes(v[:32], "big"), int.from_bytes(v[32:], "big")) for v in (p, q))
    if x1 == x2:
        if (y1 + y2) % gm.P == 0:
            raise SealingError("the answer key would be the point at infinity")
        slope = (3 * x1 * x1 + gm.A) * pow(2 * y1, -1, gm.P) % gm.P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, gm.P) % gm.P
    x3 = (slope * slope - x1 - x2) % gm.P
    return x3.to_bytes(32, "big") + ((slope * (x1 - x3) - y1) % gm.P).to_bytes(32, "big")


def issuer_answer_secret(key: RegulatorKey) -> bytes:
    """The issuer's answer key, a secret on its suite's curve derived from its dispute sealing key (one file keeps
    both)."""
    curve = _ANSWER_CURVES[key.kem.crypto_suite]
    secret = int.from_bytes(curve.hash(ISSUER_ANSWER_PREFIX + key.raw), "big") % (curve.order - 1) + 1
    return secret.to_bytes(32, "big")


def issuer_answer_key(key: RegulatorKey) -> bytes:
    """The public half of :func:`issuer_answer_secret` as the circulation contract holds it: x || y, 64 bytes."""
    return _ANSWER_CURVES[key.kem.crypto_suite].public(int.from_bytes(issuer_answer_secret(key), "big"))


def answer_key_address(dispute: Dispute, issuer_key: bytes) -> str:
    """The address of the dispute's one-time answer key: the issuer's registered answer key ``issuer_key`` (x || y)
    moved by the dispute's tweak (what ``openDispute`` is given): Ethereum's address for secp256k1, the last 20
    bytes of SM3(x || y) for SM2. The bank computes it but cannot sign for it."""
    curve = _ANSWER_CURVES[dispute.suite]
    return curve.address(curve.moved(issuer_key, dispute.answer_tweak))


def answer_signing_key(dispute: Dispute, key: RegulatorKey) -> bytes:
    """The secret of the dispute's answer key, which only the issuer holding its sealing key ``key`` can form."""
    order = _ANSWER_CURVES[dispute.suite].order
    return ((int.from_bytes(issuer_answer_secret(key), "big") + dispute.answer_tweak) % order).to_bytes(32, "big")


def seal_dispute(dispute: Dispute, recipients: Sequence[RegulatorPublicKey], answer_key: str) -> bytes:
    """Seal ``dispute`` to the issuer's key and every regulator key (all of one KEM), bound to its answer key's
    address ``answer_key`` (:func:`answer_key_address`)."""
    info = DISPUTE_INFO + bytes.fromhex(answer_key[2:])
    return _envelope(dispute.plaintext(), dispute.salt, recipients, info)


def open_dispute(sealed: bytes, answer_key: str, key: RegulatorKey,
                 issuer_keys: Callable[[str], bytes | Sequence[bytes]]) -> Dispute:
    """The dispute inside ``sealed``, recorded on chain with ``answer_key``, opened with the issuer's or a
    regulator's key. ``issuer_keys`` gives an issuer's registered answer key (x || y) by issuer id, or the keys it
    had when the dispute was opened; a dispute whose answer key is not one its issuer's derives to (a bank that
    could then answer it itself) is refused (:class:`NotSealedToThisKey`)."""
    info = DISPUTE_INFO + bytes.fromhex(answer_key[2:])
    header = _header_bytes(key.kem)
    reply_bytes = len(sealed) - header - sealed[header - 1] * _part_bytes(key.kem) - TAG_BYTES - _DISPUTE_FIXED - 2 \
        if len(sealed) >= header else 0
    if reply_bytes not in _PUBLIC_BYTES.values():
        raise SealingError("not a sealed dispute of a known length")
    salt, body = _open_envelope(sealed, key, info, _DISPUTE_FIXED + 2 + reply_bytes, "dispute")
    dispute = Dispute.from_plaintext(body, salt)
    found = issuer_keys(dispute.issuer_id)
    candidates = [found] if isinstance(found, bytes) else list(found)
    if not any(len(k) == 64 and answer_key_address(dispute, k).lower() == answer_key.lower() for k in candidates):
        raise NotSealedToThisKey(f"the dispute opens but its answer key is not {dispute.issuer_id}'s answer key moved "
                                 "by its tweak: the bank that opened it could answer it itself")
    return dispute


@dataclass(frozen=True, slots=True)
class DisputeAnswer:
    """The issuer's answer: the status, when, and the signature of one of the issuer's signing keys over
    ``"crossverify dispute answer" || disputeId || status || answeredAt``: an EIP-191 personal message signed
    with secp256k1 (``signature`` is ``r || s || v``), or in the GM suite SM2 over those bytes (``signature`` is
    the key's address, then ``r || s``: SM2 recovers no key, so the answer names it)."""

    dispute_id: bytes
    status: DisputeStatus
    answered_at: int
    signature: bytes

    @staticmethod
    def signed_bytes(dispute_id: bytes, status: DisputeStatus, answered_at: int) -> bytes:
        """What the issuer's signing key signs."""
        return b"crossverify dispute answer" + dispute_id + bytes([status]) + answered_at.to_bytes(5, "big")

    @property
    def suite(self) -> Suite:
        return Suite.GM if len(self.signature) == 84 else Suite.STANDARD

    def plaintext(self) -> bytes:
        if len(self.dispute_id) != 32 or len(self.signature) not in (65, 84) or not 0 <= self.answered_at < 2**40:
            raise SealingError("a dispute id is 32 bytes, a signature 65 (or a key and an SM2 signature, 84), a "
                               "time 40 bits")
        return (bytes([DISPUTE_VERSION]) + self.dispute_id + bytes([self.status])
                + self.answered_at.to_bytes(5, "big")
                + self.signature)

    @classmethod
    def from_plaintext(cls, data: bytes) -> DisputeAnswer:
        try:
            if len(data) not in _ANSWER_BYTES.values() or data[0] != DISPUTE_VERSION:
                raise ValueError(f"{' or '.join(map(str, _ANSWER_BYTES.values()))} bytes starting 0x01")
            return cls(data[1:33], DisputeStatus(data[33]), int.from_bytes(data[34:39], "big"), data[39:])
        except ValueError as exc:
            raise SealingError(f"not a version {DISPUTE_VERSION} dispute answer: {exc}") from None

    def signed_by(self, public_key: bytes) -> bool:
        """GM suite: whether the SM2 key ``public_key`` (the named key's, from the registry) signed this answer."""
        return self.suite is Suite.GM and gm.verify(
            public_key, self.signed_bytes(self.dispute_id, self.status, self.answered_at), self.signature[20:])

    def signed_by_signer(self, sm2_public_key: Callable[[str], bytes]) -> bool:
        """Whether the key :meth:`signer` names made the signature: by recovery in the standard suite; in the GM
        suite, checked against the named key's public half ``sm2_public_key(address)`` (from the registry)."""
        return self.suite is Suite.STANDARD or self.signed_by(sm2_public_key(self.signer()))

    def signer(self) -> str:
        """The address of the key that signed this answer (check it is a signing key of the issuer concerned):
        recovered in the standard suite; named in the GM suite, where :meth:`signed_by_signer` checks it."""
        if self.suite is Suite.GM:
            return str(to_checksum_address(self.signature[:20]))
        try:
            message = encode_defunct(self.signed_bytes(self.dispute_id, self.status, self.answered_at))
            return str(Account.recover_message(message, signature=self.signature))
        except Exception as exc:  # eth-keys raises several types for a malformed signature
            raise SealingError(f"the answer's signature does not recover: {exc}") from None


def seal_answer(answer: DisputeAnswer, recipients: Sequence[RegulatorPublicKey]) -> bytes:
    """Seal ``answer`` to the disputing bank's reply key and every regulator key (of the answer's suite)."""
    suite = _check_recipients(recipients).crypto_suite
    if answer.suite is not suite:
        raise SuiteMismatch(f"an answer signed in the {answer.suite.label} suite cannot be sealed to keys of the "
                            f"{suite.label} suite")
    return _envelope(answer.plaintext(), secrets.token_bytes(SALT_BYTES), recipients, ANSWER_INFO + answer.dispute_id)


def open_answer(sealed: bytes, dispute_id: bytes, key: RegulatorKey) -> DisputeAnswer:
    """The answer to ``dispute_id`` inside ``sealed``, opened with the bank's reply key or a regulator's key."""
    _, body = _open_envelope(sealed, key, ANSWER_INFO + dispute_id, _ANSWER_BYTES[key.kem.crypto_suite],
                             "dispute answer")
    answer = DisputeAnswer.from_plaintext(body)
    if answer.dispute_id != dispute_id:
        raise NotSealedToThisKey("the answer is for another dispute")
    return answer
