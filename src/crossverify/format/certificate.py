"""Certificates as salted claims, and the document digest that commits to them.

A certificate is a header (type, issuer, times: never personal) and claims (name -> JSON value). Each claim
gets a fresh 128-bit salt and becomes a leaf ``H(0x00 || salt || JCS([name, value]))``; the document digest is
``H(0x02 || H(0x03 || JCS(header)) || leaf_1 || ... || leaf_n)`` over the leaves in claim-name order. A holder
redacts a claim by replacing it with its leaf: the digest stays the same. See docs/format.md.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import rfc8785

from ..errors import InvalidClaim
from .canonical import canonical_claim, canonical_header
from .codes import doc_type_code, issuer_id_code
from .encoding import from_hex, to_hex
from .hashing import HashAlgorithm, Hasher

SALT_BYTES = 16
CLAIM_PREFIX = b"\x00"
DOCUMENT_PREFIX = b"\x02"
HEADER_PREFIX = b"\x03"
MAX_CLAIMS = 1024
MAX_NAME_LENGTH = 128
FORMAT_VERSION = 1
MAX_TIME = 2**40 - 1  # the registry's uint40 times

JSON = Any  # a JSON value: str, int, float, bool, None, list, dict with str keys


@dataclass(frozen=True, slots=True)
class DocumentHeader:
    """What every party may see of a document: its type, issuer and times (unix seconds)."""

    doc_type: str
    issuer_id: str
    issued_at: int
    as_of: int
    not_after: int

    def __post_init__(self) -> None:
        doc_type_code(self.doc_type)
        issuer_id_code(self.issuer_id)
        for name in ("issued_at", "as_of", "not_after"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= MAX_TIME:
                raise InvalidClaim(f"{name} must be unix seconds from 0 to {MAX_TIME}, got {value!r}")

    def canonical(self) -> bytes:
        return canonical_header(self.doc_type, self.issuer_id, self.issued_at, self.as_of, self.not_after)

    def as_json(self) -> dict[str, JSON]:
        return {
            "docType": self.doc_type, "issuer": self.issuer_id, "issuedAt": self.issued_at,
            "asOf": self.as_of, "notAfter": self.not_after,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> DocumentHeader:
        """The header from its JSON form (:meth:`as_json`), validated as on construction."""
        return cls(d["docType"], d["issuer"], d["issuedAt"], d["asOf"], d["notAfter"])

    def digest(self, hasher: Hasher) -> bytes:
        return hasher(HEADER_PREFIX + self.canonical())


@dataclass(frozen=True, slots=True)
class Claim:
    """A disclosed claim: its name, value and salt."""

    name: str
    value: JSON
    salt: bytes

    def leaf(self, hasher: Hasher) -> bytes:
        return hasher(CLAIM_PREFIX + self.salt + canonical_claim(self.name, self.value))

    def as_json(self) -> dict[str, JSON]:
        """The claim as a bundle carries it: name, ``0x``-hex salt, value."""
        return {"name": self.name, "salt": to_hex(self.salt), "value": self.value}

    @classmethod
    def from_json(cls, c: Mapping[str, Any]) -> Claim:
        return cls(c["name"], c["value"], from_hex(c["salt"]))


@dataclass(frozen=True, slots=True)
class RedactedClaim:
    """A claim the holder withheld: only its leaf hash remains, which reveals nothing of name or value."""

    leaf_hash: bytes

    def leaf(self, hasher: Hasher) -> bytes:
        return self.leaf_hash


Disclosure = Claim | RedactedClaim


def document_digest(header: DocumentHeader, claims: Sequence[Disclosure], hasher: Hasher) -> bytes:
    """The digest that a batch tree commits to, from the header and the claims (disclosed or redacted)."""
    return hasher(DOCUMENT_PREFIX + header.digest(hasher) + b"".join([c.leaf(hasher) for c in claims]))


@dataclass(frozen=True, slots=True)
class Certificate:
    """What an issuer states: a header and named claims. ``salted()`` makes it ready to hash."""

    header: DocumentHeader
    claims: Mapping[str, JSON] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= len(self.claims) <= MAX_CLAIMS:
            raise InvalidClaim(f"a certificate holds 1 to {MAX_CLAIMS} claims, got {len(self.claims)}")
        for name, value in self.claims.items():
            check_claim(name, value)

    def salted(self) -> list[Claim]:
        """The claims in name order (by UTF-8 bytes), each with a fresh 128-bit salt from ``secrets``."""
        return [Claim(name, self.claims[name], secrets.token_bytes(SALT_BYTES)) for name in claim_order(self.claims)]


def claim_order(names: Mapping[str, Any] | Sequence[str]) -> list[str]:
    """Claims are hashed in the order of their names' UTF-8 bytes."""
    return sorted(names, key=lambda n: n.encode("utf-8"))


def check_claim(name: str, value: JSON) -> None:
    """Refuse a claim whose name is empty or too long, or whose value RFC 8785 cannot encode."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise InvalidClaim(f"claim names are 1 to {MAX_NAME_LENGTH} characters, got {name!r}")
    try:
        canonical_claim(name, value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InvalidClaim(f"claim {name!r} is not canonical JSON: {exc}") from exc


def attachment_claim(data: bytes, media_type: str, alg: HashAlgorithm = HashAlgorithm.SHA256) -> dict[str, JSON]:
    """The claim value for a binary attachment (e.g. the PDF the bank prints): its digest, size and type.

    The bytes travel beside the bundle; a verifier checks them against this digest.
    """
    return {"attachment": {"hashAlg": alg.label, "digest": to_hex(alg.hasher()(data)), "size": len(data),
                           "mediaType": media_type}}
