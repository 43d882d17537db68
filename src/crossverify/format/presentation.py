"""Presentations: a bundle the resident hands to one bank, for one purpose, once, with their signature.

A bank issues a :class:`Challenge` (its verifier id, a 32-byte one-time nonce, a purpose code, an expiry). The
resident answers with :func:`present`: the (redacted) bundle plus a :class:`Binding` (the challenge's audience,
nonce and purpose, the names of the disclosed claims, issue time and a short expiry) signed with the holder key
the certificate names in its ``cnf`` claim. This is the SD-JWT key-binding pattern (``aud``, ``nonce``,
``iat``, a hash over what was disclosed) over crossverify's document digest. The signature covers::

    JCS({"aud", "digest", "disclosed", "exp", "iat", "nonce", "purpose", "typ": "crossverify-presentation/1"})

``load_presentation`` validates strictly (the shipped JSON Schema, by code generated from it, then the rules a
schema cannot state) and raises a named
:class:`~crossverify.errors.BundleError`; whether the signature, audience, challenge and times are acceptable
is the verifier's to judge, check by check. See docs/format.md.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from json.encoder import encode_basestring as quote
from typing import Any

from .. import gm
from ..errors import BundleError, ChallengeError, HolderKeyError, MalformedBundle, PresentationError, UnsupportedVersion
from .bundle import (
    _DOC_TYPE,
    _ISSUER,
    _SURROGATE,
    Bundle,
    _hex,
    _members,
    _named,
    bundle_from_json,
    bundle_from_pairs,
    load_bundle,
)
from .canonical import canonical_json
from .certificate import MAX_BUNDLE_BYTES, MAX_CLAIMS, MAX_NAME_LENGTH, MAX_TIME
from .codes import doc_type_code, issuer_id_code
from .encoding import from_hex, to_hex
from .holder import (
    HOLDER_CLAIM,
    SIGNATURE_BYTES,
    HolderPrivateKey,
    HolderPublicKey,
    holder_sign,
    holder_verify,
    is_sm2,
    key_from_claim,
    public_jwk,
)
from .strict_json import MAX_DEPTH, MAX_SAFE_INTEGER, read_json, read_pairs
from .validation import SchemaCheck, compile_schema

PRESENTATION_VERSION = 1
CHALLENGE_VERSION = 1
TYP = "crossverify-presentation/1"
NONCE_BYTES = 32
#: The longest a presentation may live, from ``iat`` to ``exp``, in seconds.
MAX_LIFETIME = 900
#: How long a presentation lives by default when the challenge allows it.
DEFAULT_LIFETIME = 300
#: The largest presentation read: a bundle of the largest size, and room for the binding.
MAX_PRESENTATION_BYTES = MAX_BUNDLE_BYTES + 64 * 2**10


@dataclass(frozen=True, slots=True)
class Challenge:
    """What a bank hands a resident to answer: who asks (``aud``), a one-time nonce, why, and until when."""

    aud: str
    nonce: bytes
    purpose: str
    expires_at: int

    def __post_init__(self) -> None:
        _check_codes(self.aud, self.purpose, ChallengeError)
        if len(self.nonce) != NONCE_BYTES:
            raise ChallengeError(f"a challenge nonce is {NONCE_BYTES} bytes, got {len(self.nonce)}")

    @classmethod
    def fresh(cls, aud: str, purpose: str, expires_at: int) -> Challenge:
        """A new challenge with a nonce from ``secrets``."""
        return cls(aud, secrets.token_bytes(NONCE_BYTES), purpose, expires_at)

    def to_json(self) -> dict[str, Any]:
        return {"version": CHALLENGE_VERSION, "aud": self.aud, "nonce": to_hex(self.nonce),
                "purpose": self.purpose, "expiresAt": self.expires_at}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Binding:
    """What the holder signs besides the document digest: audience, challenge, purpose, disclosure, times."""

    aud: str
    nonce: bytes
    purpose: str
    disclosed: tuple[str, ...]
    iat: int
    exp: int

    def signing_input(self, digest: bytes) -> bytes:
        """The exact bytes the holder signs (and whose SHA-256 is the presentation hash) for ``digest``: the
        members written in RFC 8785's order directly when every one is of its type (strings quoted as RFC 8785
        quotes them, times safe integers), else encoded by :func:`~.canonical.canonical_json`."""
        aud, purpose, names, iat, exp = self.aud, self.purpose, self.disclosed, self.iat, self.exp
        if (type(aud) is str and type(purpose) is str and type(iat) is int and type(exp) is int
                and 0 <= iat <= MAX_SAFE_INTEGER and 0 <= exp <= MAX_SAFE_INTEGER
                and all(type(n) is str for n in names)):
            try:
                return (f'{{"aud":{quote(aud)},"digest":"0x{digest.hex()}","disclosed":[{",".join(map(quote, names))}'
                        f'],"exp":{exp},"iat":{iat},"nonce":"0x{self.nonce.hex()}","purpose":{quote(purpose)},'
                        f'"typ":"{TYP}"}}').encode()
            except UnicodeEncodeError:  # a lone surrogate: RFC 8785 refuses it in its own words
                pass
        return canonical_json({
            "aud": self.aud, "digest": to_hex(digest), "disclosed": list(self.disclosed), "exp": self.exp,
            "iat": self.iat, "nonce": to_hex(self.nonce), "purpose": self.purpose, "typ": TYP,
        })

    def to_json(self) -> dict[str, Any]:
        return {"aud": self.aud, "nonce": to_hex(self.nonce), "purpose": self.purpose,
                "disclosed": list(self.disclosed), "iat": self.iat, "exp": self.exp}


@dataclass(frozen=True, slots=True)
class Presentation:
    """A bundle bound to one bank's challenge by the holder's signature."""

    bundle: Bundle
    binding: Binding
    signature: bytes

    def holder_key(self) -> HolderPublicKey | None:
        """The key the certificate's disclosed ``cnf`` claim names; ``None`` when it is redacted or absent."""
        value = self.bundle.disclosed_value(HOLDER_CLAIM)
        return None if value is None else key_from_claim(value)

    def signed_by(self, key: HolderPublicKey, digest: bytes | None = None) -> bool:
        """Whether ``key`` signed this binding over the document digest (recomputed unless given)."""
        digest = self.bundle.document_digest() if digest is None else digest
        return holder_verify(key, self.signature, self.binding.signing_input(digest))

    def hash(self, digest: bytes | None = None) -> bytes:
        """SHA-256 of what the holder signed (SM3 when the holder key is SM2): the presentation's identity in a
        sealed receipt."""
        digest = self.bundle.document_digest() if digest is None else digest
        signed = self.binding.signing_input(digest)
        key = self._named_key()
        return gm.sm3(signed) if key is not None and is_sm2(key) else hashlib.sha256(signed).digest()

    def _named_key(self) -> HolderPublicKey | None:
        try:
            return self.holder_key()
        except HolderKeyError:
            return None

    def to_json(self) -> dict[str, Any]:
        return {"version": PRESENTATION_VERSION, "bundle": self.bundle.to_json(), "binding": self.binding.to_json(),
                "signature": to_hex(self.signature)}

    def dumps(self, indent: int | None = None) -> str:
        separators = (",", ":") if indent is None else None
        return json.dumps(self.to_json(), ensure_ascii=False, indent=indent, separators=separators)


def disclosed_names(bundle: Bundle) -> tuple[str, ...]:
    """The names of the bundle's disclosed claims, in digest order."""
    return bundle.disclosed_names()


def present(bundle: Bundle, challenge: Challenge, key: HolderPrivateKey, now: int,
            lifetime: int = DEFAULT_LIFETIME) -> Presentation:
    """Answer ``challenge`` with ``bundle`` (already redacted as the resident wishes), signed with ``key``.

    The presentation expires ``lifetime`` seconds from ``now``, or when the challenge does if that is sooner.
    Raises :class:`HolderKeyError` when the bundle does not disclose the ``cnf`` claim of this very key, and
    :class:`ChallengeError` when the challenge has already expired.
    """
    named = bundle.disclosed().get(HOLDER_CLAIM)
    if named is None:
        raise HolderKeyError(f"the bundle does not disclose a {HOLDER_CLAIM!r} claim: it is not bound to a holder "
                             "key (or the claim was redacted)")
    if public_jwk(key_from_claim(named)) != public_jwk(key.public_key()):
        raise HolderKeyError("the certificate is bound to another holder key than the one given")
    if not 0 < lifetime <= MAX_LIFETIME:
        raise ChallengeError(f"a presentation lives 1 to {MAX_LIFETIME} seconds, got {lifetime}")
    if challenge.expires_at <= now:
        raise ChallengeError("the challenge has expired; ask the bank for a new one")
    binding = Binding(challenge.aud, challenge.nonce, challenge.purpose, disclosed_names(bundle), now,
                      min(now + lifetime, challenge.expires_at))
    return Presentation(bundle, binding, holder_sign(key, binding.signing_input(bundle.document_digest())))


def load_presentation(text: str | bytes, *, max_bytes: int = MAX_PRESENTATION_BYTES) -> Presentation:
    """Parse and validate a presentation (read as strictly as a bundle, one level deeper); every fault raises a
    named ``BundleError`` pointing at it. Faults inside the bundle carry their pointer from the presentation's
    top (``/bundle/...``).
    """
    return presentation_from_pairs(read_pairs(text, max_bytes)) or _presentation(read_json(text, max_bytes,
                                                                                          MAX_DEPTH + 1))


def load_document(text: str | bytes, *, max_bytes: int = MAX_BUNDLE_BYTES) -> Bundle | Presentation:
    """A file as a bank receives it: a presentation when it has a top-level ``binding``, a bundle otherwise,
    read once (:func:`load_presentation`, :func:`~crossverify.format.bundle.load_bundle`)."""
    if _names_binding(text):  # else not a presentation (every bundle, in practice), and not parsed to find out
        presentation = presentation_from_pairs(read_pairs(text, max_bytes))
        if presentation is not None:
            return presentation
        try:
            doc = read_json(text, max_bytes, MAX_DEPTH + 1)
        except BundleError:
            doc = None  # read as a bundle below, which says what is wrong with it
        if type(doc) is dict and "binding" in doc:
            return _presentation(doc)
    return load_bundle(text, max_bytes=max_bytes)


_TOP = frozenset({"version", "bundle", "binding", "signature"})
_BINDING = frozenset({"aud", "nonce", "purpose", "disclosed", "iat", "exp"})


def presentation_from_pairs(tree: Any) -> Presentation | None:
    """The presentation a text parsed by :func:`~.strict_json.read_pairs` holds when it is plainly valid, read in
    one pass as :func:`~.bundle.bundle_from_pairs` reads a bundle; ``None`` for the strict reading to judge. No
    error is raised (tests/format/test_bulk_reading.py holds it equal to the strict reading)."""
    top = _members(tree, _TOP)
    if top is None or type(top["version"]) is not int or top["version"] != PRESENTATION_VERSION:
        return None
    b = _members(top["binding"], _BINDING)
    if b is None:
        return None
    aud, purpose, names, iat, exp = b["aud"], b["purpose"], b["disclosed"], b["iat"], b["exp"]
    if (type(aud) is not str or type(purpose) is not str or not _ISSUER.match(aud) or not _DOC_TYPE.match(purpose)
            or type(iat) is not int or type(exp) is not int or not 0 <= iat < exp <= min(iat + MAX_LIFETIME, MAX_TIME)
            or type(names) is not list or len(names) > MAX_CLAIMS or not set(map(type, names)) <= {str}):
        return None
    disclosed = tuple(names)
    if not _plain_names(disclosed):
        return None
    nonce, signature = _hex(b["nonce"], NONCE_BYTES), _hex(top["signature"], SIGNATURE_BYTES)
    bundle = bundle_from_pairs(top["bundle"])
    if nonce is None or signature is None or bundle is None:
        return None
    return Presentation(bundle, Binding(aud, nonce, purpose, disclosed, iat, exp), signature)


@lru_cache(maxsize=4096)  # a bank's presentations disclose the same few sets of claims: one look-up for all of them
def _plain_names(names: tuple[str, ...]) -> bool:
    """Whether the disclosed ``names`` (strings) are each 1 to ``MAX_NAME_LENGTH`` characters without a lone
    surrogate, and ascend strictly (in the order of their code points: of their UTF-8 bytes)."""
    text = "".join(names)
    return ((text.isascii() or not _SURROGATE.search(text))
            and (not names or (min(map(len, names)) >= 1 and max(map(len, names)) <= MAX_NAME_LENGTH))
            and list(names) == sorted(set(names)))


def _presentation(doc: Any) -> Presentation:
    doc = _checked(doc, "presentation", PRESENTATION_VERSION)
    check = _schema_check("presentation")
    if not check.valid(doc):
        raise _named(check.explain(doc))
    try:
        bundle = bundle_from_json(doc["bundle"])
    except BundleError as exc:
        exc.path = "/bundle" + exc.path
        exc.args = (f"{str(exc).rsplit(' (at ', 1)[0]} (at {exc.path})",)
        raise
    b = doc["binding"]
    names = tuple(b["disclosed"])
    if list(names) != sorted(set(names), key=lambda n: n.encode("utf-8")):
        raise PresentationError("disclosed names must be unique and in UTF-8 byte order", "/binding/disclosed")
    if not b["iat"] < b["exp"] <= b["iat"] + MAX_LIFETIME:
        raise PresentationError(f"exp must be after iat and at most {MAX_LIFETIME} s later", "/binding/exp")
    binding = Binding(b["aud"], from_hex(b["nonce"]), b["purpose"], names, b["iat"], b["exp"])
    return Presentation(bundle, binding, from_hex(doc["signature"]))


def load_challenge(text: str | bytes) -> Challenge:
    """Parse a bank's challenge (its JSON text); a fault raises :class:`ChallengeError`."""
    try:
        doc = _parse(text, "challenge", CHALLENGE_VERSION, 4096)
        check = _schema_check("challenge")
        if not check.valid(doc):
            raise _named(check.explain(doc))
    except BundleError as exc:
        raise ChallengeError(f"not a crossverify challenge: {exc}") from None
    return Challenge(doc["aud"], from_hex(doc["nonce"]), doc["purpose"], doc["expiresAt"])


def looks_like_presentation(text: str | bytes) -> bool:
    """Whether a file's text is meant as a presentation (it has a top-level ``binding``) rather than a bundle.
    Texts that do not even mention ``"binding"`` (every bundle, in practice) are not parsed at all."""
    if not _names_binding(text):
        return False
    try:
        doc = read_json(text, MAX_PRESENTATION_BYTES, MAX_DEPTH + 1)
    except BundleError:
        return False
    return type(doc) is dict and "binding" in doc


#: The member name ``binding`` as JSON may spell it: each letter as itself or as a ``\uXXXX`` escape.
_BINDING_NAME = re.compile(b'"' + b"".join(b"(?:%c|\\\\u00(?i:%x))" % (c, c) for c in b"binding") + b'"')


def _names_binding(text: str | bytes) -> bool:
    """Whether ``text`` may name a member ``binding``: written plainly (the bytes are searched alone), or with
    escapes (searched for only in a text that holds one)."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return b'"binding"' in raw or (b"\\u" in raw and _BINDING_NAME.search(raw) is not None)


def _parse(text: str | bytes, what: str, version: int, max_bytes: int) -> dict[str, Any]:
    return _checked(read_json(text, max_bytes, MAX_DEPTH + 1), what, version)


def _checked(doc: Any, what: str, version: int) -> dict[str, Any]:
    if type(doc) is not dict:
        raise MalformedBundle(f"a {what} is a JSON object")
    if type(doc.get("version")) is not int or doc["version"] != version:
        raise UnsupportedVersion(f"{what} version {doc.get('version')!r} is not supported; this software reads "
                                 f"version {version}", "/version")
    return doc


def _check_codes(aud: str, purpose: str, error: type[Exception]) -> None:
    try:
        issuer_id_code(aud)
        doc_type_code(purpose)
    except ValueError:
        raise error(f"audience must be 1-11 and purpose 1-8 characters of A-Z 0-9 . _ -, got {aud!r}, {purpose!r}"
                    ) from None


@cache
def schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in the package: ``"presentation"`` or ``"challenge"``."""
    text = resources.files("crossverify.format").joinpath("schema", f"{name}-v1.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


@cache
def _schema_check(name: str) -> SchemaCheck:
    return compile_schema(schema(name))
