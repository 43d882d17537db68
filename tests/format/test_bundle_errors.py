"""Every way a bundle can be unusable gets its own named error, pointing at the fault."""

from __future__ import annotations

import json
from dataclasses import replace
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


def test_an_unknown_hash_algorithm_is_named_in_a_few_characters() -> None:
    """A reader's message quotes a value it refuses only in part (the bank service returns and logs it)."""
    long = "md5" * 100_000
    for mutate in (lambda d: d["proof"].update(hashAlg=long),
                   lambda d: d["claims"][2].update(value={"attachment": {**d["claims"][2]["value"]["attachment"],
                                                                         "hashAlg": [long]}})):
        doc = good()
        mutate(doc)
        with pytest.raises(e.BundleError) as raised:
            load(doc)
        assert len(str(raised.value)) < 200


def test_duplicate_json_keys_say_where() -> None:
    text = json.dumps(good())
    with pytest.raises(e.DuplicateKey) as raised:
        load_bundle(text.replace('"version": "1.2"', '"version": "1.2", "version": "1.2"', 1))
    assert raised.value.path == "/version"
    with pytest.raises(e.DuplicateKey) as raised:
        load_bundle(text.replace('"index": 2', '"index": 2, "index": 0', 1))
    assert raised.value.path == "/proof/index"
    with pytest.raises(e.DuplicateKey) as raised:
        load_bundle(text.replace('"size": ', '"a/b~": 1, "a/b~": 2, "size": ', 1))
    assert raised.value.path == "/claims/2/value/attachment/a~1b~0"


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
    assert raised.value.path == "/claims/2"
    with pytest.raises(e.AttachmentMismatch):
        load(good(), attachments={"statement": PDF[:-1] + b"!"})  # same size, other bytes
    with pytest.raises(e.MissingAttachment) as raised:
        load(good(), attachments={})
    assert raised.value.path == "/claims/2"
    assert load(good(), attachments={"statement": PDF, "unrelated": b"ignored"}).leads_to_root()


@pytest.mark.parametrize(
    ("descriptor", "path"),
    [
        ("statement.pdf", "/claims/2/value"),
        ({"attachment": "statement.pdf"}, "/claims/2/value/attachment"),
        ({"attachment": None}, "/claims/2/value/attachment"),
        ({"attachment": {"hashAlg": 2, "digest": "0x" + "00" * 32, "size": 1, "mediaType": "a/b"}},
         "/claims/2/value/attachment/hashAlg"),
        ({"attachment": {"hashAlg": "sha256", "size": 1, "mediaType": "a/b"}}, "/claims/2/value/attachment"),
        ({"attachment": {"hashAlg": "sha256", "digest": "0x00", "size": 1, "mediaType": "a/b"}},
         "/claims/2/value/attachment/digest"),
        ({"attachment": {"hashAlg": "sha256", "digest": "0x" + "00" * 32, "size": -1, "mediaType": "a/b"}},
         "/claims/2/value/attachment/size"),
        ({"attachment": {"hashAlg": "sha256", "digest": "0x" + "00" * 32, "size": True, "mediaType": "a/b"}},
         "/claims/2/value/attachment/size"),
        ({"attachment": {"hashAlg": "sha256", "digest": "0x" + "00" * 32, "size": 1, "mediaType": ""}},
         "/claims/2/value/attachment/mediaType"),
        ({"attachment": {"hashAlg": "sha256", "digest": "0x" + "00" * 32, "size": 1, "mediaType": "a/b", "x": 1}},
         "/claims/2/value/attachment/x"),
        ({"attachment": {}, "other": 1}, "/claims/2/value/other"),
    ],
)
def test_malformed_attachment_descriptors(descriptor: Any, path: str) -> None:
    """Refused at load with a pointer into the descriptor, before any digest is computed."""
    doc = good()
    doc["claims"][2]["value"] = descriptor
    if not isinstance(descriptor, dict):  # an ordinary claim value, not a descriptor: nothing to compare
        assert load(doc, attachments={}).disclosed()["statement"] == descriptor
        return
    with pytest.raises(e.InvalidAttachment) as raised:
        load(doc)
    assert raised.value.path == path
    with pytest.raises(e.InvalidClaim):
        Certificate(HEADER, {"statement": descriptor})


def test_redacting_an_unknown_claim() -> None:
    with pytest.raises(KeyError):
        load(good()).redact(["no such claim"])


@pytest.mark.parametrize(
    "claims",
    [
        {"too big": 2**60},
        {"": "empty name"},
        {"nan": float("nan")},
        {"inf": [float("inf")]},
        {},
        {"nul\0name": 1},
        {"cafe\u0301": "NFD"},
        {"zero\u200bwidth": 1},
        {"line\u2028separator": 1},
        {"private\ue000use": 1},
        {"a" * 129: 1},
        {"lone \ud800": 1},
        {"deep": "[" * 30 + "]" * 30},  # replaced by 30 nested arrays below
        {"surrogate value": "\udc00"},
    ],
)
def test_invalid_claims_refused_at_issue(claims: dict[str, Any]) -> None:
    if "deep" in claims:
        claims = {"deep": json.loads(claims["deep"])}
    with pytest.raises(e.InvalidClaim):
        Certificate(HEADER, claims)


def test_claim_names_of_every_script() -> None:
    names = {"姓名": 1, "é": 2, "Ω": 3, "𠮷": 4, "ｍｅｍｏ": 5, "balance (MOP)": 6, "€": 7, "١٢": 8, "a-b_c.d": 9}
    certificate = Certificate(HEADER, names)
    bundle = seal_batch([salt_document(certificate, HashAlgorithm.SHA256)]).bundle(0, 1, "0x" + "ab" * 20)
    assert load_bundle(bundle.dumps()).disclosed() == names
    # 29 levels: a bundle then nests 32 deep, the most a reader reads
    Certificate(HEADER, {"deep": json.loads("[" * 29 + "]" * 29)})


def test_header_times_in_order() -> None:
    with pytest.raises(e.InvalidClaim):
        DocumentHeader("DEPCERT", "BNUMMOMX", 1_790_000_000, 1_789_900_000, 1_789_999_999)
    doc = good()
    doc["document"]["notAfter"] = doc["document"]["issuedAt"] - 1
    with pytest.raises(e.InvalidValue) as raised:
        load(doc)
    assert raised.value.path == "/document/notAfter"
    doc["document"]["notAfter"] = doc["document"]["issuedAt"]
    assert isinstance(load(doc).header, DocumentHeader)  # loads; no longer leads to its root


def test_registry_checksum_is_checked_not_corrected() -> None:
    doc = good()
    registry = doc["anchor"]["registry"]
    assert registry != registry.lower()
    for wrong in (registry.lower(), registry[:2] + registry[2:].swapcase()):
        doc["anchor"]["registry"] = wrong
        with pytest.raises(e.InvalidChecksum) as raised:
            load(doc)
        assert raised.value.path == "/anchor/registry"


def test_format_1_0_bundles_are_read() -> None:
    doc = good()
    doc["version"] = 1
    assert load(doc).leads_to_root()
    assert json.loads(load(doc).dumps())["version"] == "1.2"


def test_leads_to_root_with_the_anchor_leaf_count() -> None:
    bundle = load(good())
    assert bundle.leads_to_root() and bundle.leads_to_root(leaf_count=5)
    assert not bundle.leads_to_root(leaf_count=6)


def test_salt_reuse_and_order() -> None:
    doc = good()
    doc["claims"][2]["salt"] = doc["claims"][0]["salt"]
    with pytest.raises(e.ReusedSalt) as raised:
        load(doc)
    assert raised.value.path == "/claims/2/salt"
    doc = good()
    doc["claims"].reverse()
    with pytest.raises(e.ClaimsOutOfOrder) as raised:
        load(doc)
    assert raised.value.path == "/claims/1"


def test_bundle_built_in_code_is_checked() -> None:
    bundle = load(good())
    first, second, *rest = bundle.claims
    with pytest.raises(e.ClaimsOutOfOrder):
        replace(bundle, claims=(second, first, *rest)).check()
    with pytest.raises(e.InvalidValue):
        replace(bundle, chain_id=0).check()
    with pytest.raises(e.InvalidChecksum):
        replace(bundle, registry=bundle.registry.lower()).check()


def test_claims_must_fit_a_bundle_a_reader_reads() -> None:
    Certificate(HEADER, {"scan": "x" * (3 * 2**20)})
    with pytest.raises(e.InvalidClaim):
        Certificate(HEADER, {"scan": "x" * (4 * 2**20)})
    with pytest.raises(e.InvalidClaim):  # numbers a bundle writes longer than RFC 8785 does (1e-07, 1e-7)
        Certificate(HEADER, {"figures": [1e-7] * 700_000})
    big = Certificate(HEADER, {f"part {i}": "y" * (2**20 - 200) for i in range(3)} | {"last": "z" * 900_000})
    bundle = seal_batch([salt_document(big, HashAlgorithm.SHA256)]).bundle(0, 1, "0x" + "ab" * 20)
    assert len(bundle.dumps().encode()) <= 4 * 2**20
    assert load_bundle(bundle.dumps()).disclosed() == dict(big.claims)
