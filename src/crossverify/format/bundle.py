"""The bundle: the self-contained file a resident carries from the Macao issuer to the Guangdong bank.

``load_bundle`` validates strictly against the shipped JSON Schema and the format's own rules, raising a named
:class:`~crossverify.errors.BundleError` whose ``path`` points at the fault. ``Bundle.redact`` lets the holder
withhold claims without the issuer; the bundle still leads to the same anchored root.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from eth_utils.address import to_checksum_address

from ..errors import (
    AttachmentMismatch,
    BundleError,
    ClaimDisclosedAndRedacted,
    DuplicateClaim,
    DuplicateKey,
    InvalidHex,
    InvalidLength,
    InvalidValue,
    MalformedBundle,
    MissingAttachment,
    MissingMember,
    ProofIndexOutOfRange,
    ProofTooLong,
    ProofTooShort,
    UnexpectedMember,
    UnknownHashAlgorithm,
    UnsupportedVersion,
)
from .certificate import FORMAT_VERSION, JSON, Claim, Disclosure, DocumentHeader, RedactedClaim, document_digest
from .encoding import from_hex, to_hex
from .hashing import HashAlgorithm
from .merkle import expected_proof_length, root_from_proof


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Where a document sits in its batch, and the path from it to the batch root."""

    hash_alg: HashAlgorithm
    index: int
    leaf_count: int
    path: tuple[bytes, ...]
    batch_root: bytes


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

    def leads_to_root(self) -> bool:
        """Whether the claims and proof lead to the batch root the bundle names."""
        return self.recompute_root() == self.proof.batch_root

    def disclosed(self) -> dict[str, JSON]:
        """The disclosed claims, by name."""
        return {c.name: c.value for c in self.claims if isinstance(c, Claim)}

    @property
    def redacted_count(self) -> int:
        return sum(isinstance(c, RedactedClaim) for c in self.claims)

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
        """Check every attachment claim against the bytes handed over, by claim name."""
        for claim in self.claims:
            if not (isinstance(claim, Claim) and isinstance(claim.value, dict) and "attachment" in claim.value):
                continue
            meta = claim.value["attachment"]
            if claim.name not in files:
                raise MissingAttachment(f"claim {claim.name!r} names an attachment that was not handed over",
                                        f"/claims/{claim.name}")
            data = files[claim.name]
            digest = "0x" + HashAlgorithm.from_label(meta["hashAlg"]).hasher()(data).hex()
            if digest != meta["digest"] or len(data) != meta["size"]:
                raise AttachmentMismatch(
                    f"the file given for {claim.name!r} is not the one issued (digest or size differs)",
                    f"/claims/{claim.name}")

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
            return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))
        return json.dumps(self.to_json(), ensure_ascii=False, indent=indent)


def load_bundle(text: str | bytes, attachments: Mapping[str, bytes] | None = None) -> Bundle:
    """Parse and validate a bundle. Every fault raises a named ``BundleError``; nothing is half-loaded."""
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except DuplicateKey:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBundle(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise MalformedBundle("a bundle is a JSON object")
    if doc.get("version") != FORMAT_VERSION:
        raise UnsupportedVersion(
            f"bundle format version {doc.get('version')!r} is not supported; this software reads version "
            f"{FORMAT_VERSION}", "/version")
    error = jsonschema.exceptions.best_match(_validator().iter_errors(doc))
    if error is not None:
        raise _named(error)
    bundle = _build(doc)
    _check_rules(bundle)
    if attachments is not None:
        bundle.check_attachments(attachments)
    return bundle


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(f"member {key!r} appears twice in one object; the file may have been tampered with")
        result[key] = value
    return result


@cache
def schema() -> dict[str, Any]:
    """The bundle JSON Schema shipped in the package."""
    return json.loads(resources.files("crossverify.format").joinpath("schema", "bundle-v1.json").read_text())  # type: ignore[no-any-return]


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def _named(error: jsonschema.ValidationError) -> BundleError:
    path = "/" + "/".join(str(p) for p in error.absolute_path) if error.absolute_path else ""
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
        return UnexpectedMember(f"member {extra[0]!r} is not part of the format", f"{path}/{extra[0]}")
    if kind == "enum" and path == "/proof/hashAlg":
        return UnknownHashAlgorithm(str(instance))
    if kind == "pattern" and isinstance(instance, str) and instance.startswith("0x"):
        return InvalidHex(f"{instance[:20]!r} is not 0x-prefixed lowercase hexadecimal", path)
    if kind in ("minLength", "maxLength") and isinstance(instance, str) and instance.startswith("0x"):
        want = expected - 2
        return InvalidLength(f"expected {want // 2} bytes of hex, got {(len(instance) - 2) / 2:g}", path)
    if kind == "maxItems" and path == "/proof/path":
        return ProofTooLong(len(instance), expected)
    return InvalidValue(f"{error.message}", path)


def _build(doc: dict[str, Any]) -> Bundle:
    d, p, a = doc["document"], doc["proof"], doc["anchor"]
    claims: list[Disclosure] = [
        RedactedClaim(from_hex(c["redacted"])) if "redacted" in c else Claim.from_json(c)
        for c in doc["claims"]
    ]
    return Bundle(
        header=DocumentHeader.from_json(d),
        claims=tuple(claims),
        proof=InclusionProof(HashAlgorithm.from_label(p["hashAlg"]), p["index"], p["leafCount"],
                             tuple(from_hex(h) for h in p["path"]), from_hex(p["batchRoot"])),
        chain_id=a["chainId"],
        registry=to_checksum_address(a["registry"]),
    )


def _check_rules(bundle: Bundle) -> None:
    """The rules a schema cannot say: unique names, no claim twice, a proof that fits its batch."""
    p = bundle.proof
    if p.index >= p.leaf_count:
        raise ProofIndexOutOfRange(p.index, p.leaf_count)
    expected = expected_proof_length(p.index, p.leaf_count)
    if len(p.path) > expected:
        raise ProofTooLong(len(p.path), expected)
    if len(p.path) < expected:
        raise ProofTooShort(len(p.path), expected)
    names: set[str] = set()
    for i, claim in enumerate(bundle.claims):
        if isinstance(claim, Claim):
            if claim.name in names:
                raise DuplicateClaim(f"claim {claim.name!r} is disclosed twice", f"/claims/{i}")
            names.add(claim.name)
    redacted = {c.leaf_hash for c in bundle.claims if isinstance(c, RedactedClaim)}
    if redacted:
        hasher = p.hash_alg.hasher()
        for i, claim in enumerate(bundle.claims):
            if isinstance(claim, Claim) and claim.leaf(hasher) in redacted:
                raise ClaimDisclosedAndRedacted(f"claim {claim.name!r} is both disclosed and redacted", f"/claims/{i}")
    if len(redacted) != bundle.redacted_count:
        raise ClaimDisclosedAndRedacted("the same redacted claim appears twice", "/claims")
