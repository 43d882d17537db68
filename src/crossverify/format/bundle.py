"""The bundle: the self-contained file a resident carries from the Macao issuer to the Guangdong bank.

``load_bundle`` reads the file strictly (:mod:`.strict_json`), validates it against the shipped JSON Schema (by
code generated from it, :mod:`.validation`) and the format's own rules, and raises a named
:class:`~crossverify.errors.BundleError` whose ``path`` is the JSON pointer of the fault. ``Bundle.redact`` lets
the holder withhold claims without the issuer; the bundle still leads to the same anchored root. docs/format.md
is the specification.
"""

from __future__ import annotations

import copy
import json
import re
from binascii import unhexlify
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from importlib import resources
from operator import itemgetter
from struct import Struct
from typing import Any

from eth_utils.address import to_checksum_address

from ..errors import (
    AttachmentMismatch,
    BundleError,
    ClaimDisclosedAndRedacted,
    ClaimsOutOfOrder,
    CrossverifyError,
    DuplicateClaim,
    InvalidAttachment,
    InvalidChecksum,
    InvalidClaimName,
    InvalidHex,
    InvalidLength,
    InvalidValue,
    MalformedBundle,
    MissingAttachment,
    MissingMember,
    ProofIndexOutOfRange,
    ProofTooLong,
    ProofTooShort,
    ReusedSalt,
    UnexpectedMember,
    UnknownHashAlgorithm,
    UnsupportedVersion,
)
from .certificate import (
    FORMAT_VERSION,
    HOLDER_BOUND,
    JSON,
    MAX_BUNDLE_BYTES,
    MAX_CLAIMS,
    MAX_TIME,
    MAX_VALUE_DEPTH,
    Claim,
    Claims,
    Disclosure,
    DocumentHeader,
    RedactedClaim,
    attachment_fault,
    claim_name_fault,
    document_digest,
    is_attachment,
)
from .encoding import to_hex
from .frozen import FrozenArray, FrozenObject
from .hashing import HashAlgorithm
from .merkle import expected_proof_length, root_from_proof
from .strict_json import MAX_SAFE_INTEGER, pointer, read_json, read_pairs
from .validation import Fault, SchemaCheck, compile_schema

#: The versions this software reads, all under the current rules: 1.0 bundles (``"version": 1``), 1.1 and 1.2.
READABLE_VERSIONS = (1, "1.1", FORMAT_VERSION)
_HEX = re.compile(r"0x[0-9a-f]*\Z")
#: A batch of at most 2^24 - 1 documents has proofs of at most 24 steps.
MAX_PROOF_LENGTH = 24


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Where a document sits in its batch, and the path from it to the batch root."""

    hash_alg: HashAlgorithm
    index: int
    leaf_count: int
    path: tuple[bytes, ...]
    batch_root: bytes

    def fits_anchor(self, leaf_count: int) -> bool:
        """Whether an anchor's ``leafCount`` (its documents) is this proof's batch: the same size, or a batch of one
        proved with its decoy leaf (2 leaves, the document first)."""
        return leaf_count == self.leaf_count or (leaf_count, self.leaf_count, self.index) == (1, 2, 0)


@dataclass(frozen=True, slots=True)
class Bundle:
    """A certificate as its holder carries it."""

    header: DocumentHeader
    #: Kept as :class:`~.certificate.Claims` whatever sequence of claims the bundle is made with.
    claims: Sequence[Disclosure]
    proof: InclusionProof
    chain_id: int
    registry: str

    def __post_init__(self) -> None:
        if type(self.claims) is not Claims:
            object.__setattr__(self, "claims", Claims.of(self.claims))

    @property
    def _compact(self) -> Claims:
        return self.claims  # type: ignore[return-value]  # made a Claims on construction

    def document_digest(self) -> bytes:
        """The digest recomputed from the header and claims (one hash per disclosed claim, plus two)."""
        return document_digest(self.header, self.claims, self.proof.hash_alg.hasher())

    def recompute_root(self, digest: bytes | None = None) -> bytes:
        """The batch root the claims and proof lead to; compare it with ``proof.batch_root`` and the chain.

        ``digest``: the document digest, when the caller has already computed it.
        """
        p = self.proof
        leaf = self.document_digest() if digest is None else digest
        return root_from_proof(leaf, p.index, p.leaf_count, p.path, p.hash_alg.hasher())

    def leads_to_root(self, leaf_count: int | None = None) -> bool:
        """Whether the claims and proof lead to the batch root the bundle names (and, given the anchor's
        ``leaf_count``, whether the bundle's batch size is that one).

        This is the offline half of verification only. It does not establish that the root is anchored, by
        whom, or under which batch size: without the anchor's ``leafCount``, a path that proves document 3 of
        4 also proves it as leaf 5 of 6, and any document digest or inner node "leads to" itself as the root
        of a one-leaf batch. A verifier reads the anchor for ``batchRoot`` and compares its ``leafCount``,
        ``hashAlg``, ``docType`` and issuer with the bundle's (:class:`~crossverify.VerifierClient` does).
        """
        if leaf_count is not None and not self.proof.fits_anchor(leaf_count):
            return False
        return self.recompute_root() == self.proof.batch_root

    def disclosed(self) -> dict[str, JSON]:
        """The disclosed claims, by name."""
        return self._compact.disclosed()

    def disclosed_names(self) -> tuple[str, ...]:
        """The names of the disclosed claims, in digest order."""
        names = self._compact.names
        return tuple([n for n in names if n is not None]) if None in names else names  # type: ignore[return-value]

    def discloses(self, name: str) -> bool:
        """Whether a claim named ``name`` is disclosed."""
        return name in self._compact.names

    def disclosed_value(self, name: str) -> JSON | None:
        """The value of the disclosed claim named ``name``; ``None`` when no such claim is disclosed."""
        c = self._compact
        return c.values[c.names.index(name)] if name in c.names else None

    def attachment_names(self) -> list[str]:
        """The names of the disclosed claims whose values are attachment descriptors."""
        c = self._compact
        if FrozenObject not in set(map(type, c.values)):  # (Claims holds every object value as a FrozenObject)
            return []
        return [n for n, v in zip(c.names, c.values, strict=True)
                if type(v) is FrozenObject and n is not None and is_attachment(v)]

    @property
    def redacted_count(self) -> int:
        return self._compact.redacted_count

    def redact(self, names: Iterable[str]) -> Bundle:
        """A copy with the named claims replaced by their leaf hashes. Unknown names raise ``KeyError``."""
        wanted = set(names)
        unknown = wanted - set(self.disclosed())
        if unknown:
            raise KeyError(f"no disclosed claim named {', '.join(sorted(unknown))}")
        hasher = self.proof.hash_alg.hasher()
        claims = tuple(
            RedactedClaim(c.leaf(hasher)) if isinstance(c, Claim) and c.name in wanted else c for c in self.claims
        )
        return replace(self, claims=claims)

    def check_attachments(self, files: Mapping[str, bytes]) -> None:
        """Check every disclosed attachment claim against the bytes handed over under its claim name: the
        size, then the digest under the descriptor's own ``hashAlg``. Files under other names are not
        covered by the bundle and are ignored."""
        for i, claim in enumerate(self.claims):
            if not (isinstance(claim, Claim) and is_attachment(claim.value)):
                continue
            fault = attachment_fault(claim.value)
            if fault:
                raise InvalidAttachment(fault[1], f"/claims/{i}/value{fault[0]}")
            meta = claim.value["attachment"]
            if claim.name not in files:
                raise MissingAttachment(f"claim {claim.name!r} names an attachment that was not handed over",
                                        f"/claims/{i}")
            data = files[claim.name]
            if len(data) != meta["size"] or (
                    to_hex(HashAlgorithm.from_label(meta["hashAlg"]).hasher()(data)) != meta["digest"]):
                raise AttachmentMismatch(
                    f"the file given for {claim.name!r} is not the one issued (digest or size differs)",
                    f"/claims/{i}")

    def check(self) -> None:
        """Apply the format's rules that a JSON Schema cannot state; raise the first fault as a named
        :class:`~crossverify.errors.BundleError`. ``load_bundle`` does this; call it on a bundle built in code."""
        _check_anchor(self.chain_id, self.registry)
        _check_proof(self.proof)
        _check_claims(self._compact, self.proof.hash_alg)

    def to_json(self) -> dict[str, JSON]:
        p = self.proof
        return {
            "version": FORMAT_VERSION,
            "document": self.header.as_json(),
            "claims": self._compact.as_json(),
            "proof": {
                "hashAlg": p.hash_alg.label, "index": p.index, "leafCount": p.leaf_count,
                "path": [to_hex(h) for h in p.path], "batchRoot": to_hex(p.batch_root),
            },
            "anchor": {"chainId": self.chain_id, "registry": self.registry},
        }

    def dumps(self, indent: int | None = None) -> str:
        """The bundle file's text: compact by default (CPython's C encoder), indented on request."""
        if indent is None:
            return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return json.dumps(self.to_json(), ensure_ascii=False, indent=indent, allow_nan=False)


def load_bundle(text: str | bytes, attachments: Mapping[str, bytes] | None = None, *,
                max_bytes: int = MAX_BUNDLE_BYTES) -> Bundle:
    """Parse and validate a bundle of at most ``max_bytes`` bytes of UTF-8. Every fault raises a named
    ``BundleError`` with the JSON pointer of the fault; nothing is half-loaded."""
    bundle = bundle_from_pairs(read_pairs(text, max_bytes))
    if bundle is None:  # not plainly valid: read strictly, which names the fault
        return bundle_from_json(read_json(text, max_bytes), attachments)
    if attachments is not None:
        bundle.check_attachments(attachments)
    return bundle


def bundle_from_json(doc: Any, attachments: Mapping[str, bytes] | None = None) -> Bundle:
    """:func:`load_bundle` for a bundle already read strictly (as a member of a larger document)."""
    if type(doc) is not dict:
        raise MalformedBundle("a bundle is a JSON object")
    version = doc.get("version")
    if type(version) not in (int, str) or version not in READABLE_VERSIONS:
        raise UnsupportedVersion(
            f"bundle format version {repr(version)[:40]} is not supported; this software reads versions 1, 1.1 "
            f"and {FORMAT_VERSION}", "/version")
    _check_lengths(doc)
    check = _schema_check()
    if not check.valid(doc):
        raise _named(check.explain(doc))
    claims = _claims(doc["claims"])
    d = doc["document"]
    if d["notAfter"] < d["issuedAt"]:
        raise InvalidValue("notAfter is before issuedAt", "/document/notAfter")
    bundle = _build(doc, claims)
    bundle.check()
    if attachments is not None:
        bundle.check_attachments(attachments)
    return bundle


@cache
def schema() -> dict[str, Any]:
    """The bundle JSON Schema shipped in the package."""
    return json.loads(resources.files("crossverify.format").joinpath("schema", "bundle-1.1.json").read_text())  # type: ignore[no-any-return]


@cache
def _schema_check() -> SchemaCheck:
    """The shipped schema, compiled, with the claim entries left to :func:`_check_claim_entries` (the same rules,
    checked in bulk)."""
    runtime = copy.deepcopy(schema())
    runtime["properties"]["claims"]["items"] = True
    return compile_schema(runtime)


def _named(error: Fault) -> BundleError:
    """The named error for a schema fault (or a JSON Schema validator's error, which has the same fields)."""
    path = ""
    for key in error.absolute_path:
        path = pointer(path, key)
    kind = error.validator
    instance: Any = error.instance
    expected: Any = error.validator_value
    subschema: Any = error.schema
    if kind == "required":
        missing = sorted(set(expected) - set(instance))
        return MissingMember(f"required member {missing[0]!r} is missing", path)
    if kind == "additionalProperties":
        allowed = set(subschema.get("properties", {}))
        extra = sorted(set(instance) - allowed)
        return UnexpectedMember(f"member {extra[0]!r} is not part of the format", pointer(path, extra[0]))
    if kind == "enum" and path == "/proof/hashAlg":
        return UnknownHashAlgorithm(str(instance))
    hexadecimal = str(subschema.get("pattern", "")).startswith("^0x")
    if kind == "pattern" and hexadecimal:
        return InvalidHex(f"{instance[:20]!r} is not 0x-prefixed lowercase hexadecimal", path)
    if kind in ("minLength", "maxLength") and hexadecimal:
        return InvalidLength(f"expected {(expected - 2) // 2} bytes of hex, got {(len(instance) - 2) / 2:g}", path)
    if kind == "maxItems" and path == "/proof/path":
        return ProofTooLong(len(instance), expected)
    return InvalidValue(f"{error.message[:200]}", path)


def _check_lengths(doc: dict[str, Any]) -> None:
    """Refuse over-long arrays before the schema validator visits every item of them."""
    claims, proof = doc.get("claims"), doc.get("proof")
    if isinstance(claims, list) and len(claims) > MAX_CLAIMS:
        raise InvalidValue(f"a bundle holds at most {MAX_CLAIMS} claims, not {len(claims)}", "/claims")
    if isinstance(proof, dict) and isinstance(proof.get("path"), list) and len(proof["path"]) > MAX_PROOF_LENGTH:
        raise ProofTooLong(len(proof["path"]), MAX_PROOF_LENGTH)


def _check_claim_entries(claims: list[Any]) -> None:
    """What the schema says of each entry of ``claims``: a redacted claim is exactly ``{"redacted": hash}``, a
    disclosed one exactly ``{"name": string, "salt": hash, "value": any}``."""
    for i, claim in enumerate(claims):
        where = f"/claims/{i}"
        if type(claim) is not dict:
            raise InvalidValue("a claim is an object", where)
        members = ("redacted",) if "redacted" in claim else ("name", "salt", "value")
        missing = [m for m in members if m not in claim]
        if missing:
            raise MissingMember(f"required member {missing[0]!r} is missing", where)
        extra = sorted(set(claim) - set(members))
        if extra:
            raise UnexpectedMember(f"member {extra[0]!r} is not part of the format", pointer(where, extra[0]))
        if "redacted" in claim:
            _check_hex(claim["redacted"], 32, f"{where}/redacted")
            continue
        if type(claim["name"]) is not str:
            raise InvalidValue(f"{repr(claim['name'])[:40]} is not of type 'string'", f"{where}/name")
        _check_hex(claim["salt"], 16, f"{where}/salt")


def _check_hex(value: Any, size: int, where: str) -> None:
    if type(value) is not str:
        raise InvalidValue(f"{repr(value)[:40]} is not of type 'string'", where)
    if not _HEX.match(value):
        raise InvalidHex(f"{value[:20]!r} is not 0x-prefixed lowercase hexadecimal", where)
    if len(value) != 2 + 2 * size:
        raise InvalidLength(f"expected {size} bytes of hex, got {(len(value) - 2) / 2:g}", where)


def _build(doc: dict[str, Any], claims: Claims) -> Bundle:
    d, p, a = doc["document"], doc["proof"], doc["anchor"]
    return Bundle(
        header=DocumentHeader.from_json(d),
        claims=claims,
        proof=InclusionProof(HashAlgorithm.from_label(p["hashAlg"]), p["index"], p["leafCount"],
                             tuple(bytes.fromhex(h[2:]) for h in p["path"]), bytes.fromhex(p["batchRoot"][2:])),
        chain_id=a["chainId"],
        registry=a["registry"],
    )


def _claims(entries: list[Any]) -> Claims:
    """The claim entries, after what the schema says of each (:func:`_check_claim_entries`): the common case,
    every entry plainly well formed, read in one pass."""
    names: list[str | None] = []
    values: list[Any] = []
    salts: list[bytes] = []
    for c in entries:
        if type(c) is dict and c.keys() == _DISCLOSED and type(c["name"]) is str and _is_hex(c["salt"], 34):
            names.append(c["name"])
            values.append(c["value"])
            salts.append(bytes.fromhex(c["salt"][2:]))
        elif type(c) is dict and c.keys() == _REDACTED and _is_hex(c["redacted"], 66):
            names.append(None)
            values.append(None)
            salts.append(bytes.fromhex(c["redacted"][2:]))
        else:
            _check_claim_entries(entries)  # raises the first fault, in order
    return Claims(tuple(names), tuple(values), tuple(salts))


_DISCLOSED = frozenset({"name", "salt", "value"})
_REDACTED = frozenset({"redacted"})


def _is_hex(value: Any, length: int) -> bool:
    return type(value) is str and len(value) == length and _HEX.match(value) is not None


def _check_anchor(chain_id: int, registry: str) -> None:
    if type(chain_id) is not int or not 1 <= chain_id <= MAX_SAFE_INTEGER:
        raise InvalidValue(f"chainId is an integer from 1 to {MAX_SAFE_INTEGER}, got {chain_id!r}", "/anchor/chainId")
    try:
        checksummed = _eip55(registry)
    except ValueError:
        raise InvalidHex(f"{registry!r} is not a 20-byte hexadecimal address", "/anchor/registry") from None
    if registry != checksummed:
        raise InvalidChecksum(f"registry {registry} is not written in its EIP-55 form {checksummed}",
                              "/anchor/registry")


@lru_cache(maxsize=256)  # a bank reads few registries
def _eip55(address: str) -> str:
    return to_checksum_address(address)


def _check_proof(p: InclusionProof) -> None:
    if p.index >= p.leaf_count:
        raise ProofIndexOutOfRange(p.index, p.leaf_count)
    expected = expected_proof_length(p.index, p.leaf_count)
    if len(p.path) > expected:
        raise ProofTooLong(len(p.path), expected)
    if len(p.path) < expected:
        raise ProofTooShort(len(p.path), expected)


def _check_claims(claims: Claims, hash_alg: HashAlgorithm) -> None:
    """Names valid, unique and in order; salts unique; descriptors well formed; no claim both disclosed and
    redacted, and no redacted leaf twice."""
    if not _plainly_valid(claims, hash_alg):
        _check_each_claim(claims, hash_alg)


def _check_each_claim(claims: Claims, hash_alg: HashAlgorithm) -> None:
    """:func:`_check_claims` one claim at a time, raising the first fault."""
    names: set[str] = set()
    salts: set[bytes] = set()
    previous = b""
    for i, claim in enumerate(claims):
        if not isinstance(claim, Claim):
            continue
        fault = claim_name_fault(claim.name)
        if fault:
            raise InvalidClaimName(fault, f"/claims/{i}/name")
        if claim.name in names:
            raise DuplicateClaim(f"claim {claim.name!r} is disclosed twice", f"/claims/{i}")
        names.add(claim.name)
        encoded = claim.name.encode()
        if encoded < previous:
            raise ClaimsOutOfOrder(f"claim {claim.name!r} comes after {previous.decode()!r}; claims are in the "
                                   f"order of their names' UTF-8 bytes", f"/claims/{i}")
        previous = encoded
        if claim.salt in salts:
            raise ReusedSalt(f"claim {claim.name!r} reuses another claim's salt", f"/claims/{i}/salt")
        salts.add(claim.salt)
        problem = attachment_fault(claim.value)
        if problem:
            raise InvalidAttachment(problem[1], f"/claims/{i}/value{problem[0]}")
    redacted: set[bytes] = set()
    for i, claim in enumerate(claims):
        if isinstance(claim, RedactedClaim):
            if claim.leaf_hash in redacted:
                raise ClaimDisclosedAndRedacted("the same redacted claim appears twice", f"/claims/{i}")
            redacted.add(claim.leaf_hash)
    if redacted:
        hasher = hash_alg.hasher()
        for i, claim in enumerate(claims):
            if isinstance(claim, Claim) and claim.leaf(hasher) in redacted:
                raise ClaimDisclosedAndRedacted(f"claim {claim.name!r} is both disclosed and redacted",
                                                f"/claims/{i}")


def _holds_objects(values: tuple[JSON, ...]) -> bool:
    """Whether any of ``values`` is an object (a ``dict``), found by their few types."""
    kinds = set(map(type, values))
    return not kinds <= _NOT_OBJECTS and any(issubclass(kind, dict) for kind in kinds)


#: The types of claim values a bundle reads that are not objects.
_NOT_OBJECTS = frozenset({str, int, float, bool, type(None), list, FrozenArray})


#: A bank reads the same few claim names again and again.
_name_fault = lru_cache(maxsize=4096)(claim_name_fault)


@lru_cache(maxsize=4096)  # the documents of a type disclose the same names: one look-up for all of them
def _names_in_order(names: tuple[str, ...]) -> bool:
    """Whether every one of ``names`` may name a claim and they ascend strictly (in the order of their code points:
    of their UTF-8 bytes)."""
    return not any(map(_name_fault, names)) and list(names) == sorted(set(names))


def _plainly_valid(claims: Claims, hash_alg: HashAlgorithm) -> bool:
    """Whether the claims keep every rule of :func:`_check_each_claim`, checked in bulk: disclosed names valid and
    strictly ascending, their salts distinct, descriptors well formed, redacted leaves distinct and none of them
    a disclosed claim's. ``False`` leaves finding the fault to :func:`_check_each_claim`."""
    names, salts = claims.names, claims.salts
    redacted = None in names
    shown = [n for n in names if n is not None] if redacted else names
    # names in the order of their code points are in the order of their UTF-8 bytes
    if any(map(_name_fault, shown)) or list(shown) != sorted(set(shown)):  # type: ignore[type-var]
        return False
    if redacted:
        salts = tuple(s for n, s in zip(names, salts, strict=True) if n is not None)
    if len(set(salts)) != len(salts) or (_holds_objects(claims.values) and any(
            attachment_fault(v) for v in claims.values if isinstance(v, dict))):
        return False
    if not redacted:
        return True
    hidden = {s for n, s in zip(names, claims.salts, strict=True) if n is None}
    try:
        return len(hidden) == len(names) - len(shown) and hidden.isdisjoint(
            claims.leaves(hash_alg.hasher(), redacted=False, keep=True))
    except CrossverifyError:  # no hasher for the algorithm, or a value that is no JSON: named one claim at a time
        return False


# --- the common case, in bulk -------------------------------------------------------------------------------------
#
# A genuine bundle is read in one pass over what the C parser returns (read_pairs), its claims checked together;
# whatever this pass does not recognise as plainly valid it declines, and load_bundle reads the text strictly
# instead, which finds and names the fault. So this pass only ever accepts, and what it accepts is the Bundle the
# strict reading gives (tests/format/test_bulk_reading.py holds the two equal on vectors and fuzzed texts).

_TOP = frozenset({"version", "document", "claims", "proof", "anchor"})
_HEADER = frozenset({"docType", "issuer", "issuedAt", "asOf", "notAfter"})
_BOUND_HEADER = _HEADER | {HOLDER_BOUND}
_PROOF = frozenset({"hashAlg", "index", "leafCount", "path", "batchRoot"})
_ANCHOR = frozenset({"chainId", "registry"})
_ALGORITHMS = {alg.label: alg for alg in HashAlgorithm}
_DOC_TYPE = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,7}\Z")
_ISSUER = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,10}\Z")
_NAMES = ("name", "salt", "value")
_SURROGATE = re.compile("[\ud800-\udfff]")


def bundle_from_pairs(tree: Any) -> Bundle | None:
    """The bundle a text parsed by :func:`~.strict_json.read_pairs` holds when it is plainly valid; ``None``
    when it is not (or ``tree`` is ``None``), for the strict reading to judge. No error is raised."""
    top = _members(tree, _TOP)
    if top is None:
        return None
    version = top["version"]
    if type(version) not in (int, str) or version not in READABLE_VERSIONS:
        return None
    header = _header(top["document"])
    proof = _proof(top["proof"])
    anchor = _members(top["anchor"], _ANCHOR)
    claims = top["claims"]
    if header is None or proof is None or anchor is None or type(claims) is not list:
        return None
    chain_id, registry = anchor["chainId"], anchor["registry"]
    if (type(chain_id) is not int or not 1 <= chain_id <= MAX_SAFE_INTEGER or type(registry) is not str
            or len(registry) != 42 or _checksummed(registry) != registry):
        return None
    disclosures = _disclosures(claims, proof.hash_alg)
    if disclosures is None:
        return None
    return Bundle(header, disclosures, proof, chain_id, registry)


def _members(pairs: Any, names: frozenset[str]) -> dict[str, Any] | None:
    """An object's members by name, when it has exactly ``names``, each once."""
    if type(pairs) is not tuple:
        return None
    members = dict(pairs)
    return members if len(members) == len(pairs) and members.keys() == names else None


def _header(pairs: Any) -> DocumentHeader | None:
    if type(pairs) is not tuple:
        return None
    d = dict(pairs)
    if len(d) != len(pairs) or not (d.keys() == _HEADER or (d.keys() == _BOUND_HEADER and d[HOLDER_BOUND] is True)):
        return None
    fields = (d["docType"], d["issuer"], d["issuedAt"], d["asOf"], d["notAfter"])
    if tuple(map(type, fields)) != (str, str, int, int, int):
        return None
    return _known_header(*fields, len(d) == 6)


@lru_cache(maxsize=4096)  # the documents of a batch share their header: one immutable object for all of them
def _known_header(doc_type: str, issuer: str, issued_at: int, as_of: int, not_after: int,
                  bound: bool) -> DocumentHeader | None:
    if (not _DOC_TYPE.match(doc_type) or not _ISSUER.match(issuer) or not_after < issued_at
            or not all(0 <= t <= MAX_TIME for t in (issued_at, as_of, not_after))):
        return None
    try:
        return DocumentHeader(doc_type, issuer, issued_at, as_of, not_after, bound)
    except CrossverifyError:  # a code the registry refuses: the strict reading names it
        return None


def _proof(pairs: Any) -> InclusionProof | None:
    p = _members(pairs, _PROOF)
    if p is None:
        return None
    alg, index, count, path, root = p["hashAlg"], p["index"], p["leafCount"], p["path"], p["batchRoot"]
    if (type(alg) is not str or alg not in _ALGORITHMS or type(index) is not int or type(count) is not int
            or not 0 <= index < count <= 2**24 - 1 or type(path) is not list
            or len(path) != expected_proof_length(index, count)):
        return None
    hashes = _hashes([*path, root], 32)
    if hashes is None:
        return None
    return InclusionProof(_ALGORITHMS[alg], index, count, tuple(hashes[:-1]), hashes[-1])


def _hashes(items: Sequence[Any], size: int) -> tuple[bytes, ...] | None:
    """The bytes of ``items`` when each is ``0x`` and ``2 * size`` lowercase hexadecimal digits."""
    width, count = 2 + 2 * size, len(items)
    try:
        joined = "".join(items)  # (every item a string)
    except TypeError:
        return None
    if set(map(len, items)) != {width} or joined[::width] != "0" * count or joined[1::width] != "x" * count:
        return None if count else ()
    digits = "".join(map(_DIGITS, items))
    try:
        raw = unhexlify(digits)
    except ValueError:
        return None
    if raw.hex() != digits:  # upper case
        return None
    return _columns(size, count).unpack(raw)


_DIGITS = itemgetter(slice(2, None))


def _hex(item: Any, size: int) -> bytes | None:
    """What :func:`_hashes` reads of one item, without its bulk steps: the bytes of ``item`` when it is ``0x``
    and ``2 * size`` lowercase hexadecimal digits."""
    if type(item) is not str or len(item) != 2 + 2 * size or item[:2] != "0x":
        return None
    digits = item[2:]
    try:
        raw = unhexlify(digits)
    except ValueError:  # not hexadecimal, or not ASCII
        return None
    return raw if raw.hex() == digits else None  # (else upper case)


@lru_cache(maxsize=1024)  # one per item size and count
def _columns(size: int, count: int) -> Struct:
    return Struct(f"{size}s" * count)


def _disclosures(entries: list[Any], hash_alg: HashAlgorithm) -> Claims | None:
    """The claims, when every entry is plainly well formed and together they keep every rule of
    :func:`_check_claims`."""
    if not 1 <= len(entries) <= MAX_CLAIMS:
        return None
    if set(map(type, entries)) == {tuple} and set(map(len, entries)) == {3}:
        claims = _as_written(entries)
        if claims is not None:
            return claims
    names: list[str | None] = []
    values: list[Any] = []
    salts: list[Any] = []  # of the disclosed claims
    hidden: list[Any] = []  # the redacted claims' leaf hashes
    for entry in entries:
        if type(entry) is not tuple:
            return None
        if len(entry) == 3 and (entry[0][0], entry[1][0], entry[2][0]) == _NAMES:  # as writers write it
            (_, name), (_, salt), (_, value) = entry
        elif len(entry) == 1 and entry[0][0] == "redacted":
            names.append(None)
            values.append(None)
            hidden.append(entry[0][1])
            continue
        else:
            member = _members(entry, _DISCLOSED)
            if member is None:
                return None
            name, salt, value = member["name"], member["salt"], member["value"]
        kind = type(value)
        if not ((kind is str and (value.isascii() or not _SURROGATE.search(value))) or kind is bool
                or value is None or (kind is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER) or kind is float):
            value = _plain(value, MAX_VALUE_DEPTH)
            if value is _DECLINED or (type(value) is FrozenObject and attachment_fault(value)):
                return None
        if type(name) is not str:
            return None
        names.append(name)
        values.append(value)
        salts.append(salt)
    salt_bytes = _hashes(salts, 16)
    leaf_hashes = _hashes(hidden, 32)
    disclosed = [n for n in names if n is not None] if hidden else names
    if (salt_bytes is None or leaf_hashes is None or not _names_in_order(tuple(disclosed))
            or len(set(salts)) != len(salts)):
        return None
    if not hidden:
        return Claims(tuple(names), tuple(values), tuple(salt_bytes))
    shown, withheld = iter(salt_bytes), iter(leaf_hashes)
    claims = Claims(tuple(names), tuple(values), tuple(next(withheld) if n is None else next(shown) for n in names))
    try:
        hasher = hash_alg.hasher()
    except CrossverifyError:
        return None
    unique = set(leaf_hashes)
    if len(unique) != len(leaf_hashes) or not unique.isdisjoint(claims.leaves(hasher, redacted=False, keep=True)):
        return None
    return claims


def _as_written(entries: list[tuple[tuple[str, Any], ...]]) -> Claims | None:
    """The claims of the common case, checked column by column: each entry ``name``, ``salt``, ``value`` in that
    order, every value a string, number, boolean or null. ``None`` leaves the entries to :func:`_disclosures`."""
    first, second, third = zip(*entries, strict=True)
    name_keys, names = zip(*first, strict=True)
    salt_keys, salts = zip(*second, strict=True)
    value_keys, values = zip(*third, strict=True)
    count = len(entries)
    if (name_keys.count("name"), salt_keys.count("salt"), value_keys.count("value")) != (count, count, count):
        return None
    kinds = set(map(type, values))
    if not kinds <= _SCALAR_TYPES or set(map(type, names)) != {str}:
        return None
    if str in kinds:
        text = "".join([v for v in values if type(v) is str])
        if not text.isascii() and _SURROGATE.search(text):
            return None
    if int in kinds:
        numbers = [v for v in values if type(v) is int]
        if min(numbers) < -MAX_SAFE_INTEGER or max(numbers) > MAX_SAFE_INTEGER:
            return None
    salt_bytes = _hashes(salts, 16)
    if salt_bytes is None or len(set(salt_bytes)) != count or not _names_in_order(names):
        return None
    return Claims(names, values, tuple(salt_bytes))


_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})
_DECLINED = object()


def _plain(value: Any, room: int) -> Any:
    """A claim value from its pairs form as the strict reading gives it, frozen (:mod:`.frozen`), or ``_DECLINED``
    when a strict reading could refuse it (a name written twice, a lone surrogate, an integer beyond ±(2^53 − 1),
    more than ``room`` levels of nesting)."""
    kind = type(value)
    if kind is str:
        return value if value.isascii() or not _SURROGATE.search(value) else _DECLINED
    if kind is int:
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else _DECLINED
    if kind is float or kind is bool or value is None:
        return value
    if room == 0:
        return _DECLINED
    if kind is list:
        items = [_plain(item, room - 1) for item in value]
        return _DECLINED if _DECLINED in items else FrozenArray(items)
    members = {name: _plain(item, room - 1) for name, item in value}
    names = "".join(members)  # (below: _DECLINED equals nothing but itself)
    if (len(members) != len(value) or _DECLINED in members.values()
            or (not names.isascii() and _SURROGATE.search(names))):
        return _DECLINED
    return FrozenObject(members)


@lru_cache(maxsize=256)  # a bank reads few registries
def _checksummed(address: str) -> str | None:
    try:
        return _eip55(address)
    except ValueError:
        return None
