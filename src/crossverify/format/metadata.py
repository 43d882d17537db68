"""Display metadata: how people read a document type's claims and an issuer's name, in Traditional Chinese,
Simplified Chinese, Portuguese and English.

Two kinds of document, each a JSON object (docs/format.md, "Display metadata"):

- a **document type's** metadata names the type and, in display order, each claim it knows: the claim's label
  in every language and its kind (plain text; an identifier such as an identity or account number, shown
  masked until the reader chooses to see it; an amount, in a currency the metadata or the value names; a
  number, with an optional unit; a calendar date; yes or no);
- an **issuer's** metadata names the issuer.

Metadata is content-addressed: its digest is keccak-256 over its RFC 8785 form, and the registry holds, per
issuer, the digest of the issuer's own metadata (document type zero) and of each type's. The consortium
registers them when it admits the issuer or the type; the issuer's admin may register new ones. A reader takes
the digest from the registry and uses only metadata with that digest: :class:`Catalogue` finds it among the
standard types this package ships (``format/types/``) and whatever an institution adds, and refuses, with
:class:`~crossverify.errors.MetadataMismatch`, metadata for that issuer or type with any other digest.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import rfc8785

from ..errors import BundleError, MalformedMetadata, MetadataMismatch, MetadataUnavailable
from .codes import doc_type_code, issuer_id_code
from .encoding import to_hex
from .hashing import HashAlgorithm
from .strict_json import pointer, read_json
from .suite import Suite

#: The languages every name and label is given in, in the order pages offer them.
LANGUAGES = ("zh-Hant", "zh-Hans", "pt", "en")
#: The ``format`` member of each kind of metadata (the version is part of it).
DOC_TYPE_FORMAT = "crossverify-doc-type-display/1"
ISSUER_FORMAT = "crossverify-issuer-display/1"
#: A metadata text is at most this many bytes; a type names at most this many claims; a label this many characters.
MAX_BYTES = 32_768
MAX_CLAIMS = 200
MAX_LABEL = 120
#: The registry's digest when nothing is registered.
NONE = bytes(32)
#: Unicode categories a name or label may not use, as claim names may not: controls, format characters (direction
#: overrides and isolates that reorder the text beside them, zero-width and byte order marks) and line separators.
_UNSEEN = frozenset({"Cc", "Cf", "Zl", "Zp"})
_CURRENCY = re.compile("[A-Z]{3}")


class Kind(StrEnum):
    """How a claim's value reads."""

    TEXT = "text"
    IDENTIFIER = "identifier"  # identity or account number: masked until the reader chooses to see it
    AMOUNT = "amount"  # a number in `currency`, or an object {"MOP": 1234.5} when the metadata names none
    NUMBER = "number"  # grouped, with an optional unit
    DATE = "date"  # "YYYY-MM-DD"
    YES_NO = "yes-no"  # true or false


@dataclass(frozen=True)
class Words:
    """One text in every language of :data:`LANGUAGES`."""

    texts: tuple[tuple[str, str], ...]

    def __getitem__(self, language: str) -> str:
        return dict(self.texts)[language]

    def as_json(self) -> dict[str, str]:
        return dict(self.texts)


@dataclass(frozen=True)
class ClaimDisplay:
    """How one claim reads: its label, kind, and for amounts the currency, for numbers the unit."""

    name: str
    kind: Kind
    label: Words
    currency: str | None = None
    unit: Words | None = None


@dataclass(frozen=True)
class TypeDisplay:
    """A document type's metadata, as read and hashed."""

    doc_type: str
    name: Words
    claims: tuple[ClaimDisplay, ...]
    digest: bytes
    source: str = field(default="", repr=False, compare=False)  # the RFC 8785 form that was hashed

    def as_json(self) -> dict[str, Any]:
        """The metadata object, as read: hashing it again gives :attr:`digest`."""
        return dict(json.loads(self.source))

    def digest_in(self, suite: Suite) -> bytes:
        """The digest a registry of ``suite`` holds: :attr:`digest` (keccak-256), or SM3 in the GM suite."""
        return _digest(self.source.encode(), suite) if suite is Suite.GM else self.digest

    def claim(self, name: str) -> ClaimDisplay | None:
        return next((c for c in self.claims if c.name == name), None)

    def order(self, names: Iterable[str]) -> list[str]:
        """``names`` in display order: the claims this metadata knows as it lists them, then the others as given."""
        given = list(names)
        known = [c.name for c in self.claims if c.name in given]
        return known + [n for n in given if n not in known]


@dataclass(frozen=True)
class IssuerDisplay:
    """An issuer's metadata, as read and hashed."""

    issuer: str
    name: Words
    digest: bytes
    source: str = field(default="", repr=False, compare=False)

    def as_json(self) -> dict[str, Any]:
        return dict(json.loads(self.source))

    def digest_in(self, suite: Suite) -> bytes:
        """The digest a registry of ``suite`` holds: :attr:`digest` (keccak-256), or SM3 in the GM suite."""
        return _digest(self.source.encode(), suite) if suite is Suite.GM else self.digest


Display = TypeDisplay | IssuerDisplay


def metadata_digest(doc: Mapping[str, Any], suite: Suite = Suite.STANDARD) -> bytes:
    """The digest over the RFC 8785 form of a metadata object that a registry of ``suite`` holds: keccak-256, or SM3
    in the GM suite."""
    return _digest(rfc8785.dumps(doc), suite)


def _digest(canonical: bytes, suite: Suite) -> bytes:
    return (HashAlgorithm.SM3 if suite is Suite.GM else HashAlgorithm.KECCAK256).hasher()(canonical)


def read_metadata(data: str | bytes) -> Display:
    """Read and check one metadata text; its digest is computed from what was read."""
    try:
        doc = read_json(data, MAX_BYTES)
    except BundleError as exc:
        raise MalformedMetadata(str(exc).rsplit(" (at ", 1)[0], exc.path) from None
    return from_json(doc)


def from_json(doc: Any) -> Display:
    """Check a parsed metadata object (see docs/format.md) and return it with its digest."""
    _object(doc, "", {"format"}, {"format", "docType", "issuer", "name", "claims"})
    kind = doc["format"]
    if kind == DOC_TYPE_FORMAT:
        _object(doc, "", {"format", "docType", "name", "claims"}, set())
        _code(doc_type_code, doc["docType"], "/docType")
        claims = _claims(doc["claims"])
        return TypeDisplay(doc["docType"], _words(doc["name"], "/name"), claims, *_hashed(doc))
    if kind == ISSUER_FORMAT:
        _object(doc, "", {"format", "issuer", "name"}, set())
        _code(issuer_id_code, doc["issuer"], "/issuer")
        return IssuerDisplay(doc["issuer"], _words(doc["name"], "/name"), *_hashed(doc))
    raise MalformedMetadata(f"format must be {DOC_TYPE_FORMAT!r} or {ISSUER_FORMAT!r}, got {kind!r}", "/format")


def _hashed(doc: Mapping[str, Any]) -> tuple[bytes, str]:
    canonical = rfc8785.dumps(doc)
    return HashAlgorithm.KECCAK256.hasher()(canonical), canonical.decode()


def check_registered(display: Display, registered: bytes, suite: Suite = Suite.STANDARD) -> None:
    """Refuse ``display`` unless its digest in ``suite`` is ``registered``, the registry's digest for its issuer and
    type."""
    if display.digest_in(suite) != registered:
        what = f"{display.doc_type} metadata" if isinstance(display, TypeDisplay) else f"{display.issuer}'s name"
        raise MetadataMismatch(f"{what} has digest {to_hex(display.digest_in(suite))}, the registry holds "
                               f"{to_hex(registered) if registered != NONE else 'none'}")


class Catalogue:
    """Metadata known here, by digest: the standard types this package ships and whatever is added (an issuer's
    own types and name, from files its institution publishes). A lookup takes the digest from the registry."""

    def __init__(self, displays: Iterable[Display] = ()) -> None:
        self._by_digest: dict[bytes, Display] = {}  # by keccak-256 digest
        #: The same, by SM3 digest: made on the first lookup of a GM deployment, so that a standard one needs no
        #: SM3 (which not every Python's OpenSSL provides).
        self._by_sm3: dict[bytes, Display] | None = None
        for display in displays:
            self.add(display)

    @classmethod
    def standard(cls) -> Catalogue:
        """The standard document types shipped with crossverify."""
        return cls(standard_types())

    def add(self, display: Display) -> None:
        self._by_digest[display.digest] = display
        self._by_sm3 = None

    def add_folder(self, folder: Path) -> None:
        """Every ``*.json`` file in ``folder``, each one metadata document; one that cannot be read (a folder so
        named, a file this process may not read) is :class:`MalformedMetadata` too, naming it."""
        for path in sorted(Path(folder).glob("*.json")):
            try:
                self.add(read_metadata(path.read_bytes()))
            except MalformedMetadata as exc:
                raise MalformedMetadata(f"{path}: {exc}") from None
            except OSError as exc:
                raise MalformedMetadata(f"{path}: cannot be read: {exc.strerror or exc}") from None

    def __iter__(self) -> Iterator[Display]:
        return iter(self._by_digest.values())

    def get(self, digest: bytes, suite: Suite = Suite.STANDARD) -> Display | None:
        """The metadata whose digest in ``suite`` is ``digest``."""
        if suite is not Suite.GM:
            return self._by_digest.get(digest)
        if self._by_sm3 is None:
            self._by_sm3 = {display.digest_in(Suite.GM): display for display in self._by_digest.values()}
        return self._by_sm3.get(digest)

    def doc_type(self, issuer_id: str, doc_type: str, registered: bytes, suite: Suite = Suite.STANDARD
                 ) -> TypeDisplay | None:
        """The metadata the registry (of ``suite``) names for ``issuer_id``'s ``doc_type`` (``None``: none is
        registered)."""
        found = self._lookup(registered, lambda d: isinstance(d, TypeDisplay) and d.doc_type == doc_type,
                             f"{doc_type} metadata of {issuer_id}", suite)
        assert found is None or isinstance(found, TypeDisplay)
        return found

    def issuer(self, issuer_id: str, registered: bytes, suite: Suite = Suite.STANDARD) -> IssuerDisplay | None:
        """The issuer's own metadata the registry (of ``suite``) names (``None``: none is registered)."""
        found = self._lookup(registered, lambda d: isinstance(d, IssuerDisplay) and d.issuer == issuer_id,
                             f"{issuer_id}'s name", suite)
        assert found is None or isinstance(found, IssuerDisplay)
        return found

    def _lookup(self, registered: bytes, fits: Any, what: str, suite: Suite) -> Display | None:
        if registered == NONE:
            return None
        found = self.get(registered, suite)
        if found is not None and fits(found):
            return found
        if found is not None:
            raise MetadataMismatch(f"the registry's digest for {what} is that of other metadata")
        others = [d for d in self._by_digest.values() if fits(d)]
        if others:
            check_registered(others[0], registered, suite)
        raise MetadataUnavailable(f"no metadata known here has the digest {to_hex(registered)} the registry holds "
                                  f"for {what}")


@cache
def standard_types() -> tuple[TypeDisplay, ...]:
    """The standard document types' metadata shipped in ``crossverify/format/types/``."""
    folder = resources.files("crossverify.format") / "types"
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            display = read_metadata(entry.read_bytes())
            assert isinstance(display, TypeDisplay) and entry.name == f"{display.doc_type}.json", entry.name
            found.append(display)
    return tuple(found)


def standard_digest(doc_type: str, suite: Suite = Suite.STANDARD) -> bytes:
    """The digest (in ``suite``) of the standard metadata for ``doc_type``, or :data:`NONE` when the package ships
    none."""
    return next((d.digest_in(suite) for d in standard_types() if d.doc_type == doc_type), NONE)


def _object(doc: Any, path: str, required: set[str], allowed: set[str]) -> None:
    if not isinstance(doc, dict):
        raise MalformedMetadata("expected a JSON object", path)
    for name in sorted(required - doc.keys()):
        raise MalformedMetadata(f"missing member {name!r}", path)
    for name in sorted(doc.keys() - required - allowed):
        raise MalformedMetadata(f"unexpected member {name!r}", pointer(path, name))


def _code(encode: Any, value: Any, path: str) -> None:
    try:
        encode(value)
    except (TypeError, ValueError) as exc:
        raise MalformedMetadata(f"not a registry code: {exc}", path) from None


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_LABEL or value != value.strip():
        raise MalformedMetadata(f"expected 1-{MAX_LABEL} characters with no space around them", path)
    if any(unicodedata.category(ch) in _UNSEEN for ch in value):
        raise MalformedMetadata("control, format and line separator characters are not allowed", path)
    return value


def _words(value: Any, path: str) -> Words:
    _object(value, path, set(LANGUAGES), set())
    return Words(tuple((lang, _text(value[lang], pointer(path, lang))) for lang in LANGUAGES))


def _claims(value: Any) -> tuple[ClaimDisplay, ...]:
    if not isinstance(value, list) or not 0 < len(value) <= MAX_CLAIMS:
        raise MalformedMetadata(f"expected a list of 1-{MAX_CLAIMS} claims", "/claims")
    claims, seen = [], set()
    for i, claim in enumerate(value):
        path = pointer("/claims", i)
        _object(claim, path, {"name", "kind", "label"}, {"currency", "unit"})
        name = claim["name"]
        if not isinstance(name, str) or not 0 < len(name) <= 64 or name in seen:
            raise MalformedMetadata("expected a claim name of 1-64 characters, named once", pointer(path, "name"))
        seen.add(name)
        try:
            kind = Kind(claim["kind"])
        except ValueError:
            raise MalformedMetadata(f"kind must be one of {', '.join(k.value for k in Kind)}",
                                    pointer(path, "kind")) from None
        currency = claim.get("currency")
        if "currency" in claim and (kind is not Kind.AMOUNT or not isinstance(currency, str)
                                    or not _CURRENCY.fullmatch(currency)):
            raise MalformedMetadata("an amount's currency is an ISO 4217 code such as MOP", pointer(path, "currency"))
        if "unit" in claim and kind is not Kind.NUMBER:
            raise MalformedMetadata("only a number has a unit", pointer(path, "unit"))
        unit = _words(claim["unit"], pointer(path, "unit")) if "unit" in claim else None
        claims.append(ClaimDisplay(name, kind, _words(claim["label"], pointer(path, "label")), currency, unit))
    return tuple(claims)
