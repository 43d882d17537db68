"""Certificates as salted claims, and the document digest that commits to them.

A certificate is a header (type, issuer, times, whether it is bound to a holder's key: never personal) and
claims (name -> JSON value). Each claim gets a fresh 128-bit salt and becomes a leaf
``H(0x00 || salt || JCS([name, value]))``; the document digest is ``H(0x02 || H(0x03 || JCS(header)) || leaf_1 ||
... || leaf_n)`` over the leaves in claim-name order. A holder redacts a claim by replacing it with its leaf: the
digest stays the same, but the header's ``holderBound`` flag cannot be hidden. See docs/format.md.
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, overload

from ..errors import HolderKeyError, InvalidClaim
from .canonical import canonical_claim, canonical_header
from .codes import doc_type_code, issuer_id_code
from .encoding import from_hex, to_hex
from .frozen import FROZEN, frozen
from .hashing import HashAlgorithm, Hasher
from .holder import HOLDER_CLAIM, key_from_claim
from .strict_json import MAX_DEPTH, MAX_SAFE_INTEGER, depth, pointer

SALT_BYTES = 16
CLAIM_PREFIX = b"\x00"
DOCUMENT_PREFIX = b"\x02"
HEADER_PREFIX = b"\x03"
MAX_CLAIMS = 1024
#: The largest bundle a reader reads by default (4 MiB); writers stay within it.
MAX_BUNDLE_BYTES = 4 * 2**20
#: What claims may take of a bundle, leaving room for header, proof and anchor.
MAX_CLAIMS_BYTES = MAX_BUNDLE_BYTES - 64 * 2**10
#: What a claim takes in a bundle beyond its name and value: the salt and member names.
CLAIM_OVERHEAD = 64
MAX_NAME_LENGTH = 128
FORMAT_VERSION = "1.2"
MAX_TIME = 2**40 - 1  # the registry's uint40 times
#: The header member that marks a certificate bound to its holder's key (present only as ``true``).
HOLDER_BOUND = "holderBound"
#: How deep a claim value may nest: a bundle nests it three levels down (bundle, claims, claim).
MAX_VALUE_DEPTH = MAX_DEPTH - 3
#: Unicode general categories a claim name may use: letters, marks, numbers, punctuation, symbols, spaces.
NAME_CATEGORIES = frozenset(["L", "M", "N", "P", "S", "Zs"])
ATTACHMENT_MEMBERS = ("hashAlg", "digest", "size", "mediaType")
_DIGEST = re.compile(r"0x[0-9a-f]{64}\Z")
_MEDIA_TYPE = re.compile(r"[\x20-\x7e]{1,255}\Z")

JSON = Any  # a JSON value: str, int, float, bool, None, list, dict with str keys


@lru_cache(maxsize=1024)  # a reader meets the same few document types and issuers again and again
def _check_codes(doc_type: str, issuer_id: str) -> None:
    """Raise unless ``doc_type`` and ``issuer_id`` are valid codes (a refusal is not cached)."""
    doc_type_code(doc_type)
    issuer_id_code(issuer_id)


@dataclass(frozen=True, slots=True)
class DocumentHeader:
    """What every party may see of a document: its type, issuer and times (unix seconds), and whether it is bound
    to its holder's key (``holder_bound``: it then verifies only as a presentation the holder signed). The flag is
    hashed with the header, so whoever hides it breaks the document digest."""

    doc_type: str
    issuer_id: str
    issued_at: int
    as_of: int
    not_after: int
    holder_bound: bool = False

    def __post_init__(self) -> None:
        _check_codes(self.doc_type, self.issuer_id)
        for name in ("issued_at", "as_of", "not_after"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= MAX_TIME:
                raise InvalidClaim(f"{name} must be unix seconds from 0 to {MAX_TIME}, got {value!r}")
        if self.not_after < self.issued_at:
            raise InvalidClaim(f"not_after ({self.not_after}) is before issued_at ({self.issued_at})")
        if type(self.holder_bound) is not bool:
            raise InvalidClaim(f"holder_bound is true or false, got {self.holder_bound!r}")

    def canonical(self) -> bytes:
        return canonical_header(self.doc_type, self.issuer_id, self.issued_at, self.as_of, self.not_after,
                                self.holder_bound)

    def as_json(self) -> dict[str, JSON]:
        """The header as a bundle carries it; ``holderBound`` appears only when true (one spelling per digest)."""
        out: dict[str, JSON] = {
            "docType": self.doc_type, "issuer": self.issuer_id, "issuedAt": self.issued_at,
            "asOf": self.as_of, "notAfter": self.not_after,
        }
        if self.holder_bound:
            out[HOLDER_BOUND] = True
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> DocumentHeader:
        """The header from its JSON form (:meth:`as_json`), validated as on construction."""
        return cls(d["docType"], d["issuer"], d["issuedAt"], d["asOf"], d["notAfter"], HOLDER_BOUND in d)

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


class Claims(Sequence[Disclosure]):
    """A document's claims, in order, as a bundle keeps them: side by side, each claim's name (``None`` where it is
    redacted), value (``None`` there) and salt (there, its leaf hash), with no object per claim until one is
    asked for. A reader of thousands of files builds no object per claim, and Python's collector has a dozen
    objects fewer per document to walk. Immutable all the way down (objects and arrays among the values are
    frozen, :mod:`.frozen`), so leaves hashed once, while a reader checks the claims, stay theirs; equal to, and
    hashed as, the tuple of the same :class:`Claim` and :class:`RedactedClaim` objects."""

    __slots__ = ("_leaves", "names", "salts", "values")
    names: tuple[str | None, ...]
    values: tuple[JSON, ...]
    salts: tuple[bytes, ...]
    #: The leaves last kept (:meth:`leaves` with ``keep``) and the hasher that hashed them; ``None``: none kept.
    _leaves: tuple[Hasher, tuple[bytes, ...]] | None

    def __init__(self, names: tuple[str | None, ...], values: tuple[JSON, ...], salts: tuple[bytes, ...]) -> None:
        if not len(names) == len(values) == len(salts):
            raise ValueError("as many names, values and salts as claims")
        if not set(map(type, values)) <= FROZEN:
            values = tuple(map(frozen, values))
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "salts", salts)
        object.__setattr__(self, "_leaves", None)

    @classmethod
    def of(cls, claims: Sequence[Disclosure]) -> Claims:
        """``claims`` as :class:`Claims` (itself, when it is one already)."""
        if type(claims) is Claims:
            return claims
        if not set(map(type, claims)) <= {Claim, RedactedClaim}:
            raise TypeError("claims are Claim or RedactedClaim objects")
        entries = [(c.name, c.value, c.salt) if type(c) is Claim else (None, None, c.leaf_hash)  # type: ignore[union-attr]
                   for c in claims]
        if not entries:
            return cls((), (), ())
        names, values, salts = zip(*entries, strict=True)
        return cls(names, values, salts)

    def __len__(self) -> int:
        return len(self.names)

    @overload
    def __getitem__(self, index: int) -> Disclosure: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Disclosure, ...]: ...

    def __getitem__(self, index: int | slice) -> Disclosure | tuple[Disclosure, ...]:
        if isinstance(index, slice):
            return tuple(self)[index]
        name = self.names[index]
        return RedactedClaim(self.salts[index]) if name is None else Claim(name, self.values[index], self.salts[index])

    def __iter__(self) -> Iterator[Disclosure]:
        return map(_disclosure, self.names, self.values, self.salts)

    def __eq__(self, other: object) -> bool:
        if type(other) is Claims:
            return (self.names, self.values, self.salts) == (other.names, other.values, other.salts)
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("claims are immutable")

    def __reduce__(self) -> tuple[type[Claims], tuple[Any, ...]]:
        return Claims, (self.names, self.values, self.salts)

    @property
    def redacted_count(self) -> int:
        return self.names.count(None)

    def disclosed(self) -> dict[str, JSON]:
        """The disclosed claims' values, by name."""
        if None not in self.names:
            return dict(zip(self.names, self.values, strict=True))  # type: ignore[arg-type]
        return {n: v for n, v in zip(self.names, self.values, strict=True) if n is not None}

    def as_json(self) -> list[JSON]:
        """The claims as a bundle carries them: each disclosed one as :meth:`Claim.as_json` writes it, each redacted
        one as ``{"redacted": its leaf hash}``; written from the columns, no claim object made."""
        return [{"redacted": to_hex(salt)} if name is None else {"name": name, "salt": to_hex(salt), "value": value}
                for name, value, salt in zip(self.names, self.values, self.salts, strict=True)]

    def leaves(self, hasher: Hasher, redacted: bool = True, *, keep: bool = False) -> Sequence[bytes]:
        """Each claim's leaf: ``H(0x00 || salt || JCS([name, value]))``, or the leaf hash a redacted claim keeps
        (``redacted=False``: the disclosed claims' leaves only). ``keep``: remember them, so that the next call
        with the same ``hasher`` (the document digest's, after a reader checked the claims) hashes nothing."""
        kept = self._leaves
        if kept is not None and kept[0] is hasher:
            leaves = kept[1]
        else:
            leaves = tuple([s if n is None else hasher(CLAIM_PREFIX + s + canonical_claim(n, v))
                            for n, v, s in zip(self.names, self.values, self.salts, strict=True)])
            if keep and set(map(type, self.values)) <= FROZEN:  # no value can change: the leaves stay right
                object.__setattr__(self, "_leaves", (hasher, leaves))
        if redacted:
            return leaves
        return [leaf for n, leaf in zip(self.names, leaves, strict=True) if n is not None]


def _disclosure(name: str | None, value: JSON, salt: bytes) -> Disclosure:
    return RedactedClaim(salt) if name is None else Claim(name, value, salt)


def document_digest(header: DocumentHeader, claims: Sequence[Disclosure], hasher: Hasher) -> bytes:
    """The digest that a batch tree commits to, from the header and the claims (disclosed or redacted)."""
    return hasher(DOCUMENT_PREFIX + header.digest(hasher) + b"".join(Claims.of(claims).leaves(hasher)))


@dataclass(frozen=True, slots=True)
class Certificate:
    """What an issuer states: a header and named claims. ``salted()`` makes it ready to hash.

    A certificate that names its holder's key (the ``cnf`` claim) is holder-bound: its header is marked so here,
    and a header marked bound without a ``cnf`` claim is refused."""

    header: DocumentHeader
    claims: Mapping[str, JSON] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bound = HOLDER_CLAIM in self.claims
        if self.header.holder_bound and not bound:
            raise InvalidClaim(f"a holder-bound certificate names its holder's key in the {HOLDER_CLAIM!r} claim")
        if bound and not self.header.holder_bound:
            object.__setattr__(self, "header", replace(self.header, holder_bound=True))
        if not 1 <= len(self.claims) <= MAX_CLAIMS:
            raise InvalidClaim(f"a certificate holds 1 to {MAX_CLAIMS} claims, got {len(self.claims)}")
        size = sum(check_claim(name, value) + CLAIM_OVERHEAD for name, value in self.claims.items())
        if 2 * size > MAX_CLAIMS_BYTES:  # near the limit: measure the claims as a bundle writes them
            size = len(json.dumps(dict(self.claims), ensure_ascii=False, separators=(",", ":")).encode())
            size += CLAIM_OVERHEAD * len(self.claims)
        if size > MAX_CLAIMS_BYTES:
            raise InvalidClaim(f"the claims take {size:,} bytes in a bundle; at most {MAX_CLAIMS_BYTES:,} fit "
                               f"the {MAX_BUNDLE_BYTES:,} bytes a reader reads")

    def salted(self) -> list[Claim]:
        """The claims in name order (by UTF-8 bytes), each with a fresh 128-bit salt from ``secrets``."""
        return [Claim(name, self.claims[name], secrets.token_bytes(SALT_BYTES)) for name in claim_order(self.claims)]


def claim_order(names: Mapping[str, Any] | Sequence[str]) -> list[str]:
    """Claims are hashed in the order of their names' UTF-8 bytes."""
    return sorted(names, key=lambda n: n.encode("utf-8"))


def check_claim(name: str, value: JSON) -> int:
    """Refuse a claim a reader would refuse: a bad name, a value nested too deep or that RFC 8785 cannot
    encode, a malformed attachment descriptor, or a ``cnf`` claim that is not a holder's P-256 key. Returns the
    length of its canonical encoding."""
    if not isinstance(name, str):
        raise InvalidClaim(f"claim names are strings, got {name!r}")
    fault = claim_name_fault(name)
    if fault:
        raise InvalidClaim(fault)
    if depth(value) > MAX_VALUE_DEPTH:
        raise InvalidClaim(f"claim {name!r} nests arrays and objects deeper than {MAX_VALUE_DEPTH} levels")
    size = len(canonical_claim(name, value))
    problem = attachment_fault(value)
    if problem:
        raise InvalidClaim(f"claim {name!r}: {problem[1]}")
    if name == HOLDER_CLAIM:
        try:
            key_from_claim(value)
        except HolderKeyError as exc:
            raise InvalidClaim(f"claim {name!r} is reserved for the holder's key: {exc}") from None
    return size


@lru_cache(maxsize=4096)  # the same few names recur in every document of a type
def claim_name_fault(name: str) -> str | None:
    """Why ``name`` cannot name a claim, or ``None``: names are 1 to 128 code points, each of a general
    category in :data:`NAME_CATEGORIES` (no controls, format characters, surrogates, private-use or unassigned
    code points, line or paragraph separators), in Unicode Normalization Form C."""
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        return f"claim names are 1 to {MAX_NAME_LENGTH} code points, got {len(name)}"
    for char in name:
        category = unicodedata.category(char)
        if category[0] not in NAME_CATEGORIES and category not in NAME_CATEGORIES:
            return (f"claim name {name!r} holds U+{ord(char):04X} (general category {category}), which names may "
                    f"not use")
    if not unicodedata.is_normalized("NFC", name):
        return f"claim name {name!r} is not in Unicode NFC (write it as {unicodedata.normalize('NFC', name)!r})"
    return None


def is_attachment(value: JSON) -> bool:
    """Whether a claim value is an attachment descriptor: an object with a member named ``attachment``."""
    return isinstance(value, dict) and "attachment" in value


def attachment_fault(value: JSON) -> tuple[str, str] | None:
    """For an attachment descriptor, where (a JSON pointer below the claim value) and why it is malformed, or
    ``None``. A descriptor is ``{"attachment": {"hashAlg", "digest", "size", "mediaType"}}`` and nothing more."""
    if not is_attachment(value):
        return None
    extra = sorted(set(value) - {"attachment"})
    if extra:
        return pointer("", extra[0]), f"an attachment descriptor holds only 'attachment', not {extra[0]!r}"
    meta = value["attachment"]
    if not isinstance(meta, dict):
        return "/attachment", "an attachment is described by an object"
    for member in ATTACHMENT_MEMBERS:
        if member not in meta:
            return "/attachment", f"the attachment's {member!r} is missing"
    extra = sorted(set(meta) - set(ATTACHMENT_MEMBERS))
    if extra:
        return pointer("/attachment", extra[0]), f"{extra[0]!r} is not part of an attachment descriptor"
    if meta["hashAlg"] not in [alg.label for alg in HashAlgorithm]:
        return "/attachment/hashAlg", f"unknown hash algorithm {repr(meta['hashAlg'])[:40]}"
    if not isinstance(meta["digest"], str) or not _DIGEST.match(meta["digest"]):
        return "/attachment/digest", "the digest is 0x and 64 lowercase hexadecimal digits"
    if type(meta["size"]) is not int or not 0 <= meta["size"] <= MAX_SAFE_INTEGER:
        return "/attachment/size", f"the size is an integer from 0 to {MAX_SAFE_INTEGER}"
    if not isinstance(meta["mediaType"], str) or not _MEDIA_TYPE.match(meta["mediaType"]):
        return "/attachment/mediaType", "the media type is 1 to 255 printable ASCII characters"
    return None


def attachment_claim(data: bytes, media_type: str, alg: HashAlgorithm = HashAlgorithm.SHA256) -> dict[str, JSON]:
    """The claim value for a binary attachment (e.g. the PDF the bank prints): its digest, size and type.

    The bytes travel beside the bundle; a verifier checks them against this digest.
    """
    return {"attachment": {"hashAlg": alg.label, "digest": to_hex(alg.hasher()(data)), "size": len(data),
                           "mediaType": media_type}}
