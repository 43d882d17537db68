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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from eth_utils.address import to_checksum_address

from ..errors import (
    AttachmentMismatch,
    BundleError,
    ClaimDisclosedAndRedacted,
    ClaimsOutOfOrder,
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
    JSON,
    MAX_BUNDLE_BYTES,
    MAX_CLAIMS,
    Claim,
    Disclosure,
    DocumentHeader,
    RedactedClaim,
    attachment_fault,
    claim_name_fault,
    document_digest,
    is_attachment,
)
from .encoding import to_hex
from .hashing import HashAlgorithm
from .merkle import expected_proof_length, root_from_proof
from .strict_json import MAX_SAFE_INTEGER, pointer, read_json
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
    claims: tuple[Disclosure, ...]
    proof: InclusionProof
    chain_id: int
    registry: str

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
        return {c.name: c.value for c in self.claims if isinstance(c, Claim)}

    @property
    def redacted_count(self) -> int:
        return len([c for c in self.claims if isinstance(c, RedactedClaim)])

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
        _check_claims(self.claims, self.proof.hash_alg)

    def to_json(self) -> dict[str, JSON]:
        p = self.proof
        return {
            "version": FORMAT_VERSION,
            "document": self.header.as_json(),
            "claims": [
                c.as_json() if isinstance(c, Claim) else {"redacted": to_hex(c.leaf_hash)}
                for c in self.claims
            ],
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
    return bundle_from_json(read_json(text, max_bytes), attachments)


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


def _build(doc: dict[str, Any], claims: tuple[Disclosure, ...]) -> Bundle:
    d, p, a = doc["document"], doc["proof"], doc["anchor"]
    return Bundle(
        header=DocumentHeader.from_json(d),
        claims=claims,
        proof=InclusionProof(HashAlgorithm.from_label(p["hashAlg"]), p["index"], p["leafCount"],
                             tuple(bytes.fromhex(h[2:]) for h in p["path"]), bytes.fromhex(p["batchRoot"][2:])),
        chain_id=a["chainId"],
        registry=a["registry"],
    )


def _claims(entries: list[Any]) -> tuple[Disclosure, ...]:
    """The claim entries, after what the schema says of each (:func:`_check_claim_entries`): the common case,
    every entry plainly well formed, read in one pass."""
    out: list[Disclosure] = []
    for c in entries:
        if type(c) is dict and c.keys() == _DISCLOSED and type(c["name"]) is str and _is_hex(c["salt"], 34):
            out.append(Claim(c["name"], c["value"], bytes.fromhex(c["salt"][2:])))
        elif type(c) is dict and c.keys() == _REDACTED and _is_hex(c["redacted"], 66):
            out.append(RedactedClaim(bytes.fromhex(c["redacted"][2:])))
        else:
            _check_claim_entries(entries)  # raises the first fault, in order
    return tuple(out)


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


def _check_claims(claims: tuple[Disclosure, ...], hash_alg: HashAlgorithm) -> None:
    """Names valid, unique and in order; salts unique; descriptors well formed; no claim both disclosed and
    redacted, and no redacted leaf twice."""
    if not _plainly_valid(claims):
        _check_each_claim(claims, hash_alg)


def _check_each_claim(claims: tuple[Disclosure, ...], hash_alg: HashAlgorithm) -> None:
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


#: A bank reads the same few claim names again and again.
_name_fault = lru_cache(maxsize=4096)(claim_name_fault)


def _plainly_valid(claims: tuple[Disclosure, ...]) -> bool:
    """Whether the claims are all disclosed, none an attachment, with valid names in strictly ascending order
    and distinct salts: the common case, checked in bulk. ``False`` leaves finding the fault to
    :func:`_check_claims`."""
    if not set(map(type, claims)) <= {Claim}:
        return False
    disclosed: list[Claim] = list(claims)  # type: ignore[arg-type]
    names = [c.name for c in disclosed]
    if any(map(_name_fault, names)):
        return False
    encoded = [n.encode() for n in names]
    return (encoded == sorted(set(encoded)) and len({c.salt for c in disclosed}) == len(disclosed)
            and not any(issubclass(t, dict) for t in {type(c.value) for c in disclosed}))
