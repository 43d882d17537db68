"""Every way a bundle can be unusable gets its own named error, pointing at the fault."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crossverify import (
    Certificate,
    DocumentHeader,
    HashAlgorithm,
    attachment_claim,
    load_bundle,
    salt_document,
    seal_batch,
)
from crossverify import errors as e

PDF = b"%PDF-1.7 statement of account"
HEADER = DocumentHeader("DEPCERT", "BNUMMOMX", 1_790_000_000, 1_789_900_000, 1_821_536_000)


def good() -> dict[str, Any]:
    certs = [Certificate(HEADER, {"holder": f"CHAN Tai Man {i}", "balance_mop": 1200 + i,
                                  "statement": attachment_claim(PDF, "application/pdf")}) for i in range(5)]
    batch = seal_batch([salt_document(c, HashAlgorithm.KECCAK256) for c in certs])
    return batch.bundle(2, 1, "0x" + "ab" * 20).to_json()


def load(doc: Any, **kwargs: Any) -> Any:
    return load_bundle(json.dumps(doc), **kwargs)


def test_good_bundle_loads_and_checks_attachment() -> None:
    bundle = load(good(), attachments={"statement": PDF})
    assert bundle.leads_to_root()


@pytest.mark.parametrize(
    ("mutate", "error", "path"),
    [
        (lambda d: d.update(version=2), e.UnsupportedVersion, "/version"),
        (lambda d: d.pop("version"), e.UnsupportedVersion, "/version"),
        (lambda d: d["document"].pop("asOf"), e.MissingMember, "/document"),
        (lambda d: d.pop("anchor"), e.MissingMember, ""),
        (lambda d: d["proof"].update(extra=1), e.UnexpectedMember, "/proof/extra"),
        (lambda d: d["claims"][0].update(note="x"), e.UnexpectedMember, "/claims/0/note"),
        (lambda d: d["proof"].update(batchRoot="0x" + "zz" * 32), e.InvalidHex, "/proof/batchRoot"),
        (lambda d: d["proof"].update(batchRoot="0x" + "AB" * 32), e.InvalidHex, "/proof/batchRoot"),
        (lambda d: d["proof"].update(batchRoot="0x" + "ab" * 31), e.InvalidLength, "/proof/batchRoot"),
        (lambda d: d["claims"][0].update(salt="0x" + "ab" * 15), e.InvalidLength, "/claims/0/salt"),
        (lambda d: d["anchor"].update(registry="0x" + "ab" * 21), e.InvalidLength, "/anchor/registry"),
        (lambda d: d["proof"].update(hashAlg="md5"), e.UnknownHashAlgorithm, "/proof/hashAlg"),
        (lambda d: d["proof"].update(path=["0x" + "00" * 32] * 25), e.ProofTooLong, "/proof/path"),
        (lambda d: d["proof"]["path"].append("0x" + "00" * 32), e.ProofTooLong, "/proof/path"),
        (lambda d: d["proof"]["path"].pop(), e.ProofTooShort, "/proof/path"),
        (lambda d: d["proof"].update(index=5), e.ProofIndexOutOfRange, "/proof/index"),
        (lambda d: d["proof"].update(index=-1), e.InvalidValue, "/proof/index"),
        (lambda d: d["document"].update(issuedAt="yesterday"), e.InvalidValue, "/document/issuedAt"),
        (lambda d: d["document"].update(docType="deposit certificate"), e.InvalidValue, "/document/docType"),
        (lambda d: d.update(claims=[]), e.InvalidValue, "/claims"),
        (lambda d: d["claims"].append(dict(d["claims"][0], salt="0x" + "00" * 16)), e.DuplicateClaim, "/claims/3"),
    ],
)
def test_named_errors(mutate: Any, error: type[e.BundleError], path: str) -> None:
    doc = good()
    mutate(doc)
    with pytest.raises(error) as raised:
        load(doc)
    assert raised.value.path == path
    assert isinstance(raised.value, e.BundleError)


def test_duplicate_json_keys() -> None:
    text = json.dumps(good())
    tampered = text.replace('"version": 1', '"version": 1, "version": 1', 1)
    with pytest.raises(e.DuplicateKey):
        load_bundle(tampered)


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '"bundle"', b"\xff\xfe"])
def test_malformed(text: str | bytes) -> None:
    with pytest.raises(e.MalformedBundle):
        load_bundle(text)


def test_claim_disclosed_and_redacted() -> None:
    bundle = load(good())
    name = next(iter(bundle.disclosed()))
    doc = bundle.to_json()
    doc["claims"].append(bundle.redact([name]).to_json()["claims"][[c.get("name") for c in doc["claims"]].index(name)])
    with pytest.raises(e.ClaimDisclosedAndRedacted):
        load(doc)


def test_attachments() -> None:
    with pytest.raises(e.AttachmentMismatch) as raised:
        load(good(), attachments={"statement": PDF + b" "})
    assert raised.value.path == "/claims/statement"
    with pytest.raises(e.MissingAttachment):
        load(good(), attachments={})


def test_redacting_an_unknown_claim() -> None:
    with pytest.raises(KeyError):
        load(good()).redact(["no such claim"])


def test_invalid_claims_refused_at_issue() -> None:
    with pytest.raises(e.InvalidClaim):
        Certificate(HEADER, {"too big": 2**60})
    with pytest.raises(e.InvalidClaim):
        Certificate(HEADER, {"": "empty name"})
    with pytest.raises(e.InvalidClaim):
        Certificate(HEADER, {"nan": float("nan")})
    with pytest.raises(e.InvalidClaim):
        Certificate(HEADER, {})
