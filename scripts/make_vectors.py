#!/usr/bin/env python3
"""Write the format 1.2 test vectors (docs/format.md; the files keep the names of the version that began them):

- ``docs/vectors/v1.1.json``: fixed inputs and every intermediate value, per hash algorithm (each with its own
  salts): claim encodings and leaves, header and document digests, batch roots and every proof for batches of
  1, 2, 3, 5, 8 and 33 documents, whole bundles (redacted, with an attachment, with non-ASCII claim names that
  sort differently by UTF-8 and by UTF-16), and the EIP-712 anchor and revocation signatures.
- ``docs/vectors/v1.1-reading.json``: bundles a reader must accept (with the digest it must compute) and bundles
  it must reject, each with the error a reader must give and the JSON pointer crossverify gives.
- ``docs/vectors/presentation-v1.json``: a holder-bound certificate, a presentation, the faults readers must
  reject or refuse (the bound certificate handed over bare, or with its binding hidden, among them), and
  receipts sealed to two regulators with each KEM.
- ``docs/vectors/display-v1.json``: display metadata: the standard document types and an issuer's name with
  their canonical forms and digests, metadata a reader must reject, an altered copy it must refuse, and claim
  values as each language reads them.

The salts, nonces and keys are fixed and labelled as test material; never issue with them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric import ec
from eth_account import Account

from crossverify import (
    AnchorRequest,
    Challenge,
    Claim,
    CrossverifyError,
    DocumentHeader,
    Domain,
    HashAlgorithm,
    Receipt,
    RegulatorKey,
    RevocationRequest,
    SaltedDocument,
    attachment_claim,
    gm,
    holder_claim,
    present,
    seal_batch,
    sign,
)
from crossverify.chain.records import RevocationReason
from crossverify.chain.typed_data import (
    ANSWER_TYPE,
    KeyProof,
    gm_answer_message,
    gm_domain_separator,
    gm_message,
    gm_type_prefix,
    type_string,
)
from crossverify.errors import MalformedMetadata
from crossverify.format.certificate import FORMAT_VERSION, MAX_BUNDLE_BYTES, claim_order, document_digest
from crossverify.format.codes import doc_type_code, issuer_id_code
from crossverify.format.display import claim_value
from crossverify.format.holder import SM2HolderPrivateKey, public_jwk, sign_p1363
from crossverify.format.metadata import ISSUER_FORMAT, LANGUAGES, from_json, metadata_digest, standard_types
from crossverify.format.strict_json import MAX_DEPTH
from crossverify.format.suite import Suite
from crossverify.keys.sm2 import LocalSM2Key
from crossverify.sealing import Consent, Kem, SealedReceipts, case_reference_code, open_receipts, seal_receipts

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "docs" / "vectors"
TEST_KEY = hashlib.sha256(b"crossverify test vector signing key").digest()
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
CHAIN_ID = 8_853
BATCH_SIZES = (1, 2, 3, 5, 8, 33)
#: Bundles written out whole, as (batch size, index).
BUNDLES = ((1, 0), (2, 1), (3, 0), (3, 1), (3, 2), (5, 3), (5, 4), (8, 7), (33, 32))
STATEMENT = b"%PDF-1.7\n% crossverify test vector attachment: statement of account, June 2026\n%%EOF\n"

CLAIMS: list[dict[str, Any]] = [
    {"holder_name": "陳大文 CHAN Tai Man", "account_no": "9-101-234567-8", "balance": {"MOP": 125000.5},
     "joint": False, "branches": ["Macau", "Taipa"], "note": None},
    {"holder_name": "LEI Ka Ian", "account_no": "9-101-765432-1", "balance": {"MOP": 0}, "joint": True,
     "branches": [], "note": "tab\tand \"quote\""},
    {"holder_name": "Ana da Silva", "account_no": "9-101-000001-0", "balance": {"HKD": 1e21, "MOP": -1.25},
     "joint": False, "branches": ["Cotai"], "note": "\u2028", "rate": 0.1},
    # Names whose UTF-8 order (the format's) differs from their UTF-16 order (RFC 8785's for object members):
    # U+FF4D (fullwidth m) sorts before U+20BB7 by UTF-8 bytes, after it by UTF-16 code units.
    {"z": 1, "é": "e with acute, NFC", "姓名": "陳大文", "ｍｅｍｏ": "fullwidth", "𠮷": "U+20BB7", "Ω": "omega"},
    {"holder_name": "WONG Siu Ming", "statement": attachment_claim(STATEMENT, "application/pdf"),
     "statement_sm3": attachment_claim(STATEMENT, "application/pdf", HashAlgorithm.SM3)},
    *({"holder_name": f"Resident {i}", "balance_mop": 1000 * i} for i in range(5, 33)),
]


def header(i: int) -> DocumentHeader:
    """Documents of one batch share issuer and type; their times differ (the anchor takes the latest notAfter)."""
    return DocumentHeader("DEPCERT", "BNUMMOMX", 1_790_000_000, 1_789_862_400 - 86_400 * (i % 3),
                          1_821_398_400 + 86_400 * (i % 5))


def fixed_salt(alg: HashAlgorithm, doc: int, name: str) -> bytes:
    return hashlib.sha256(f"crossverify test vector salt/{alg.label}/{doc}/{name}".encode()).digest()[:16]


def salted(alg: HashAlgorithm) -> list[SaltedDocument]:
    hasher = alg.hasher()
    out = []
    for i, claims in enumerate(CLAIMS):
        items = tuple(Claim(n, claims[n], fixed_salt(alg, i, n)) for n in claim_order(claims))
        out.append(SaltedDocument(header(i), items, document_digest(header(i), items, hasher)))
    return out


def build(alg: HashAlgorithm) -> dict[str, object]:
    hasher = alg.hasher()
    documents = salted(alg)
    batches = {n: seal_batch(documents[:n], alg) for n in BATCH_SIZES}
    bundles = [{"batchSize": n, "index": i, "bundle": batches[n].bundle(i, CHAIN_ID, REGISTRY).to_json()}
               for n, i in BUNDLES]
    redacted = batches[3].bundle(2, CHAIN_ID, REGISTRY).redact(["account_no", "balance"])
    return {
        "documents": [{
            "header": d.header.as_json(),
            "headerCanonical": d.header.canonical().decode(),
            "headerDigest": "0x" + d.header.digest(hasher).hex(),
            "claims": [{
                "name": c.name, "value": c.value, "salt": "0x" + c.salt.hex(),
                "canonical": "0x" + rfc8785.dumps([c.name, c.value]).hex(), "leaf": "0x" + c.leaf(hasher).hex(),
            } for c in d.claims],
            "documentDigest": "0x" + d.digest.hex(),
        } for d in documents],
        "batches": [{
            "size": n, "leafCount": batches[n].leaf_count, "root": "0x" + batches[n].root.hex(),
            "notAfter": batches[n].not_after,
            **({"decoy": "0x" + batches[n].tree.levels[0][1].hex()} if n == 1 else {}),
            "proofs": [["0x" + h.hex() for h in batches[n].tree.proof(i)] for i in range(n)],
        } for n in BATCH_SIZES],
        "bundles": [*bundles, {"batchSize": 3, "index": 2, "redacted": ["account_no", "balance"],
                               "bundle": redacted.to_json()}],
    }


def signatures() -> dict[str, object]:
    key = Account.from_key(TEST_KEY)
    domain = Domain("crossverify DocumentRegistry", "2", CHAIN_ID, REGISTRY)
    root, digest = bytes.fromhex("11" * 32), bytes.fromhex("22" * 32)

    def signed(request: AnchorRequest | RevocationRequest, fields: dict[str, object]) -> dict[str, object]:
        message = request.typed_data(domain)
        r, vs = sign(request, domain, key)
        return {"message": fields, "structHash": "0x" + message.body.hex(), "r": "0x" + r.hex(),
                "vs": "0x" + vs.hex()}

    return {
        "privateKey": "0x" + TEST_KEY.hex(),
        "signer": key.address,
        "domain": domain.as_dict(),
        "domainSeparator": "0x" + AnchorRequest(root, b"", 1, 1, 0, 0).typed_data(domain).header.hex(),
        "anchor": signed(AnchorRequest(root, b"DEPCERT\0", 1, 3, 1_821_398_400, 1_790_003_600), {
            "batchRoot": "0x" + root.hex(), "docType": "0x" + b"DEPCERT\0".hex(), "hashAlg": 1, "leafCount": 3,
            "notAfter": 1_821_398_400, "deadline": 1_790_003_600}),
        "documentRevocation": signed(RevocationRequest(bytes(32), digest, 2, 1_790_003_600), {
            "batchRoot": "0x" + "00" * 32, "documentDigest": "0x" + digest.hex(), "reason": 2,
            "deadline": 1_790_003_600}),
        "batchRevocation": signed(RevocationRequest(root, bytes(32), 3, 1_790_003_600), {
            "batchRoot": "0x" + root.hex(), "documentDigest": "0x" + "00" * 32, "reason": 3,
            "deadline": 1_790_003_600}),
    }


def vectors() -> dict[str, object]:
    return {
        "description": "crossverify certificate format 1.2 test vectors (docs/format.md). Salts and key are "
                       "test material only.",
        "formatVersion": FORMAT_VERSION,
        "attachments": {"statement": "0x" + STATEMENT.hex()},
        "hashAlgorithms": {alg.label: build(alg) for alg in HashAlgorithm},
        "eip712": signatures(),
    }


# -- reading: must accept, must reject ------------------------------------------------------------------------

def _base(index: int = 1) -> dict[str, Any]:
    """A valid keccak256 bundle: document ``index`` of the batch of 5 (1: numbers; 4: attachments)."""
    bundle = seal_batch(salted(HashAlgorithm.KECCAK256)[:5]).bundle(index, CHAIN_ID, REGISTRY)
    return json.loads(bundle.dumps())  # a copy: edits must not reach the shared claim values


def _text(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _edit(change: Callable[[dict[str, Any]], object], index: int = 1) -> str:
    doc = _base(index)
    change(doc)
    return _text(doc)


def _spell(literal: str, where: Callable[[dict[str, Any]], None] | None = None) -> str:
    """The base bundle with the number at /claims/1/value/MOP (a balance of 0) written as ``literal``."""
    doc = _base()
    doc["claims"][1]["value"]["MOP"] = "@@"
    if where:
        where(doc)
    return _text(doc).replace('"@@"', literal)


def _claim(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in doc["claims"] if c.get("name") == name)


def _swap(doc: dict[str, Any]) -> None:
    doc["claims"][0], doc["claims"][1] = doc["claims"][1], doc["claims"][0]


def _redact(doc: dict[str, Any], name: str, twice: bool = False) -> None:
    from crossverify import load_bundle
    redacted = load_bundle(_text(_base())).redact([name]).to_json()["claims"]
    leaf = next(c for c in redacted if "redacted" in c)
    doc["claims"].append(leaf)
    if twice:
        doc["claims"].append(leaf)


def _registry(doc: dict[str, Any], value: str) -> None:
    doc["anchor"]["registry"] = value


def must_reject() -> list[dict[str, object]]:
    utf8 = _text(_base()).encode()
    first = next(i for i, char in enumerate(REGISTRY) if i > 1 and char.isalpha())
    wrong_case = REGISTRY[:first] + REGISTRY[first].swapcase() + REGISTRY[first + 1:]
    cases: list[tuple[str, str, str, str | bytes | dict[str, object]]] = [
        # encoding, size and depth: before any JSON is parsed; the whole file is at fault
        ("byte order mark", "InvalidEncoding", "", b"\xef\xbb\xbf" + utf8),
        ("UTF-16", "InvalidEncoding", "", _text(_base()).encode("utf-16-le")),
        ("invalid UTF-8", "InvalidEncoding", "", utf8.replace(b"LEI", b"L\xffI", 1)),
        ("UTF-8 encoded surrogate", "InvalidEncoding", "", utf8.replace(b"LEI", b"L\xed\xa0\x80I", 1)),
        ("too large", "BundleTooLarge", "", {"base": _text(_base()), "padWithSpacesTo": MAX_BUNDLE_BYTES + 1}),
        (f"nested {MAX_DEPTH + 1} deep", "NestingTooDeep", "",
         _edit(lambda d: _claim(d, "branches").update(value=_nest(MAX_DEPTH - 2)))),
        ("nested 100,000 deep", "NestingTooDeep", "", {"repeat": "[", "count": 100_000}),
        ("not JSON", "MalformedBundle", "", _text(_base())[:-1]),
        ("not an object", "MalformedBundle", "", "[]"),
        # JSON that I-JSON refuses
        ("member twice", "DuplicateKey", "/document/issuer",
         _text(_base()).replace('"issuer":"BNUMMOMX"', '"issuer":"BNUMMOMX","issuer":"ICBKMOMX"')),
        ("NaN", "InvalidNumber", "/claims/1/value/MOP", _spell("NaN")),
        ("Infinity", "InvalidNumber", "/claims/1/value/MOP", _spell("Infinity")),
        ("-Infinity", "InvalidNumber", "/claims/1/value/MOP", _spell("-Infinity")),
        ("nan, a token JSON does not define", "MalformedBundle", "", _spell("nan")),
        ("a leading plus sign", "MalformedBundle", "", _spell("+1")),
        ("a leading zero", "MalformedBundle", "", _spell("01")),
        ("beyond a double", "InvalidNumber", "/claims/1/value/MOP", _spell("1e400")),
        ("below a double", "InvalidNumber", "/claims/1/value/MOP", _spell("1e-400")),
        ("below a double, its exponent beyond a 64-bit decimal type", "InvalidNumber", "/claims/1/value/MOP",
         _spell("1e-99999999999999999999")),
        ("integer a double cannot hold", "InvalidNumber", "/claims/1/value/MOP", _spell("9007199254740993")),
        ("the same, with a fraction", "InvalidNumber", "/claims/1/value/MOP", _spell("9007199254740993.0")),
        ("more digits than a double holds", "InvalidNumber", "/claims/1/value/MOP",
         _spell("125000.50000000000000001")),
        ("exact double, spelled longer than its RFC 8785 form", "InvalidNumber", "/claims/1/value/MOP",
         _spell("1152921504606846976")),
        ("lone surrogate in a string", "InvalidString", "/claims/1/value/MOP", _spell('"\\ud800"')),
        ("lone surrogate in a member name", "InvalidString", "/claims/1/value",
         _spell("0").replace('"MOP":0', '"\\udc00":0')),
        # the envelope
        ("version 2", "UnsupportedVersion", "/version", _edit(lambda d: d.update(version=2))),
        ("version 1.0 as a number", "UnsupportedVersion", "/version", _text(_base()).replace('"1.2"', "1.0", 1)),
        ("version 1.1 as a number", "UnsupportedVersion", "/version", _text(_base()).replace('"1.2"', "1.1", 1)),
        ("version 1.2 as a number", "UnsupportedVersion", "/version", _text(_base()).replace('"1.2"', "1.2", 1)),
        ("no version", "UnsupportedVersion", "/version", _edit(lambda d: d.pop("version"))),
        ("missing member", "MissingMember", "/document", _edit(lambda d: d["document"].pop("asOf"))),
        ("unknown member", "UnexpectedMember", "/proof/extra", _edit(lambda d: d["proof"].update(extra=1))),
        ("index written 1.0", "InvalidValue", "/proof/index",
         _text(_base()).replace('"index":1', '"index":1.0')),
        ("chainId written with a fraction", "InvalidValue", "/anchor/chainId",
         _text(_base()).replace(f'"chainId":{CHAIN_ID}', f'"chainId":{CHAIN_ID}.0')),
        ("chainId 0", "InvalidValue", "/anchor/chainId", _edit(lambda d: d["anchor"].update(chainId=0))),
        ("chainId beyond 2^53 - 1", "InvalidValue", "/anchor/chainId",
         _edit(lambda d: d["anchor"].update(chainId=2**53))),
        ("issuedAt with a fraction", "InvalidValue", "/document/issuedAt",
         _text(_base()).replace('"issuedAt":1790000000', '"issuedAt":1790000000.5')),
        ("issuedAt beyond 2^40 - 1", "InvalidValue", "/document/issuedAt",
         _edit(lambda d: d["document"].update(issuedAt=2**40))),
        ("notAfter before issuedAt", "InvalidValue", "/document/notAfter",
         _edit(lambda d: d["document"].update(notAfter=1_789_999_999))),
        ("docType outside its alphabet", "InvalidValue", "/document/docType",
         _edit(lambda d: d["document"].update(docType="depcert"))),
        ("docType with a trailing newline (a pattern's $ ends the text, as in ECMA-262)", "InvalidValue",
         "/document/docType", _edit(lambda d: d["document"].update(docType="DEPCERT\n"))),
        ("issuer starting with a separator (the first character as for docType)", "InvalidValue",
         "/document/issuer", _edit(lambda d: d["document"].update(issuer="-BNUMMOMX"))),
        ("issuer with a trailing newline", "InvalidValue", "/document/issuer",
         _edit(lambda d: d["document"].update(issuer="BNUMMOMX\n"))),
        ("batchRoot with a trailing newline", "InvalidHex", "/proof/batchRoot",
         _edit(lambda d: d["proof"].update(batchRoot=d["proof"]["batchRoot"] + "\n"))),
        ("holderBound false (absent is the only unbound spelling)", "InvalidValue", "/document/holderBound",
         _edit(lambda d: d["document"].update(holderBound=False))),
        ("holderBound as a string", "InvalidValue", "/document/holderBound",
         _edit(lambda d: d["document"].update(holderBound="true"))),
        ("registry in lower case", "InvalidChecksum", "/anchor/registry",
         _edit(lambda d: _registry(d, REGISTRY.lower()))),
        ("registry with a wrong EIP-55 checksum", "InvalidChecksum", "/anchor/registry",
         _edit(lambda d: _registry(d, wrong_case))),
        ("registry not hex", "InvalidHex", "/anchor/registry", _edit(lambda d: _registry(d, "0x" + "g" * 40))),
        ("unknown hash algorithm", "UnknownHashAlgorithm", "/proof/hashAlg",
         _edit(lambda d: d["proof"].update(hashAlg="sha3-256"))),
        ("upper-case hex", "InvalidHex", "/proof/batchRoot",
         _edit(lambda d: d["proof"].update(batchRoot=d["proof"]["batchRoot"].upper().replace("0X", "0x")))),
        ("salt of 15 bytes", "InvalidLength", "/claims/0/salt",
         _edit(lambda d: d["claims"][0].update(salt=d["claims"][0]["salt"][:-2]))),
        # the proof
        ("index outside the batch", "ProofIndexOutOfRange", "/proof/index",
         _edit(lambda d: d["proof"].update(index=5))),
        ("path too long", "ProofTooLong", "/proof/path",
         _edit(lambda d: d["proof"]["path"].append(d["proof"]["batchRoot"]))),
        ("path too short", "ProofTooShort", "/proof/path", _edit(lambda d: d["proof"]["path"].pop())),
        # claims
        ("no claims", "InvalidValue", "/claims", _edit(lambda d: d.update(claims=[]))),
        ("claim name with NUL", "InvalidClaimName", "/claims/0/name",
         _edit(lambda d: d["claims"][0].update(name="account\u0000no"))),
        ("claim name not NFC", "InvalidClaimName", "/claims/0/name",
         _edit(lambda d: d["claims"][0].update(name="accounte\u0301"))),
        ("claim name with a format character", "InvalidClaimName", "/claims/0/name",
         _edit(lambda d: d["claims"][0].update(name="account\u200bno"))),
        ("empty claim name", "InvalidClaimName", "/claims/0/name", _edit(lambda d: d["claims"][0].update(name=""))),
        ("claim name of 129 code points", "InvalidClaimName", "/claims/0/name",
         _edit(lambda d: d["claims"][0].update(name="a" * 129))),
        ("claims out of order", "ClaimsOutOfOrder", "/claims/1", _edit(_swap)),
        ("claim disclosed twice", "DuplicateClaim", "/claims/6",
         _edit(lambda d: d["claims"].append(dict(d["claims"][0], salt="0x" + "00" * 16)))),
        ("salt reused", "ReusedSalt", "/claims/1/salt",
         _edit(lambda d: d["claims"][1].update(salt=d["claims"][0]["salt"]))),
        ("claim disclosed and redacted", "ClaimDisclosedAndRedacted", "/claims/0",
         _edit(lambda d: _redact(d, "account_no"))),
        ("redacted leaf given twice", "ClaimDisclosedAndRedacted", "/claims/6",
         _edit(lambda d: (d["claims"].pop(0), _redact(d, "account_no", twice=True)))),
        # attachments (document 4: "statement" is claim 1)
        ("attachment descriptor a string", "InvalidAttachment", "/claims/1/value/attachment",
         _edit(lambda d: _claim(d, "statement").update(value={"attachment": "statement.pdf"}), 4)),
        ("attachment with a numeric hash name", "InvalidAttachment", "/claims/1/value/attachment/hashAlg",
         _edit(lambda d: _claim(d, "statement")["value"]["attachment"].update(hashAlg=2), 4)),
        ("attachment without digest", "InvalidAttachment", "/claims/1/value/attachment",
         _edit(lambda d: _claim(d, "statement")["value"]["attachment"].pop("digest"), 4)),
        ("attachment size with a fraction", "InvalidAttachment", "/claims/1/value/attachment/size",
         _edit(lambda d: _claim(d, "statement")["value"]["attachment"].update(size=len(STATEMENT) + 0.5), 4)),
        ("attachment with another member", "InvalidAttachment", "/claims/1/value/attachment/pages",
         _edit(lambda d: _claim(d, "statement")["value"]["attachment"].update(pages=3), 4)),
        ("attachment beside another member", "InvalidAttachment", "/claims/1/value/note",
         _edit(lambda d: _claim(d, "statement")["value"].update(note="x"), 4)),
    ]
    out: list[dict[str, object]] = []
    for name, error, where, data in cases:
        entry: dict[str, object] = {"name": name, "error": error, "pointer": where}
        if isinstance(data, bytes):
            entry["hex"] = data.hex()
        elif isinstance(data, dict):
            entry["generate"] = data
        else:
            entry["text"] = data
        out.append(entry)
    statement = _text(_base(4))
    out += [
        {"name": "attachment bytes differ", "error": "AttachmentMismatch", "pointer": "/claims/1", "text": statement,
         "attachments": {"statement": "0x" + (STATEMENT + b" ").hex(), "statement_sm3": "0x" + STATEMENT.hex()}},
        {"name": "attachment bytes missing", "error": "MissingAttachment", "pointer": "/claims/1", "text": statement,
         "attachments": {"statement_sm3": "0x" + STATEMENT.hex()}},
    ]
    return out


def _nest(levels: int) -> object:
    value: object = []
    for _ in range(levels - 1):
        value = [value]
    return value


def must_accept() -> list[dict[str, object]]:
    """Bundles that differ from what a writer writes yet are valid, with the document digest they lead to."""
    base = _base()
    digest = "0x" + seal_batch(salted(HashAlgorithm.KECCAK256)[:5]).documents[1].digest.hex()
    cases = [
        ("format 1.0 (version 1)", _text({**base, "version": 1})),
        ("format 1.1 (version \"1.1\")", _text({**base, "version": "1.1"})),
        ("0 written as 0.0", _spell("0.0")),
        ("0 written as -0", _spell("-0")),
        ("0 written as 0e7", _spell("0E7")),
        ("0 written with an exponent beyond a 64-bit decimal type", _spell("0e99999999999999999999")),
        ("indented, with spaces around members", json.dumps(base, ensure_ascii=False, indent=2)),
        ("non-ASCII written as escapes", json.dumps(base)),
    ]
    accepted = [{"name": name, "text": text, "documentDigest": digest} for name, text in cases]
    # Only a claim's value itself can be an attachment descriptor: deeper, an "attachment" member is data.
    claims = {"holder_name": "WONG Siu Ming", "statement": {"pages": [{"attachment": "statement.pdf"}]}}
    alg = HashAlgorithm.KECCAK256
    items = tuple(Claim(n, claims[n], fixed_salt(alg, 98, n)) for n in claim_order(claims))
    nested = SaltedDocument(header(0), items, document_digest(header(0), items, alg.hasher()))
    return [*accepted, {"name": "an attachment member nested inside a claim's value: data, not a descriptor",
                        "text": seal_batch([nested]).bundle(0, CHAIN_ID, REGISTRY).dumps(),
                        "documentDigest": "0x" + nested.digest.hex()}]


def reading() -> dict[str, object]:
    return {
        "description": "Bundles a crossverify format 1.2 reader must accept, and bundles it must reject with the "
                       "named error (docs/format.md, Reading a bundle). 'pointer' is the JSON pointer crossverify "
                       "reports. An input is 'text' (UTF-8), 'hex' (bytes), or 'generate': 'base' padded with "
                       "spaces to 'padWithSpacesTo' bytes, or 'repeat' written 'count' times.",
        "maxBytes": MAX_BUNDLE_BYTES,
        "maxDepth": MAX_DEPTH,
        "mustAccept": must_accept(),
        "mustReject": must_reject(),
    }


def render() -> dict[str, str]:
    """Each vectors file's name and text."""
    return {name: json.dumps(content, ensure_ascii=False, indent=1) + "\n"
            for name, content in (("v1.1.json", vectors()), ("v1.1-reading.json", reading()),
                                  ("presentation-v1.json", presentation_vectors()),
                                  ("display-v1.json", display_vectors()), ("gm-v1.json", gm_vectors()))}


# -- presentations and sealed receipts: docs/vectors/presentation-v1.json -----------------------------------

PRESENTATION_OUT = VECTORS / "presentation-v1.json"
NOW = 1_790_000_000
BANK = "ICBKCNBJGDG"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def holder_key() -> ec.EllipticCurvePrivateKey:
    scalar = int.from_bytes(hashlib.sha256(b"crossverify test vector holder key").digest(), "big")
    return ec.derive_private_key(scalar, ec.SECP256R1())


def regulator_key(kem: Kem, name: str) -> RegulatorKey:
    seed = hashlib.sha512(f"crossverify test vector regulator key/{kem.name}/{name}".encode()).digest()
    if kem is Kem.SM2:  # a scalar in [1, n - 2]
        return RegulatorKey(kem, (int.from_bytes(seed[:32], "big") % (gm.N - 2) + 1).to_bytes(32, "big"))
    return RegulatorKey(kem, (seed + hashlib.sha512(seed).digest())[:{Kem.X25519: 32}.get(kem, 96)])


def bound_document() -> SaltedDocument:
    """A certificate issued to the vectors' holder key: its header says so (``holderBound``)."""
    claims = {"holder_name": "陳大文 CHAN Tai Man", "balance": {"MOP": 125000.5},
              "cnf": holder_claim(holder_key().public_key())}
    alg = HashAlgorithm.KECCAK256
    bound = replace(header(0), holder_bound=True)
    items = tuple(Claim(n, claims[n], fixed_salt(alg, 99, n)) for n in claim_order(claims))
    return SaltedDocument(bound, items, document_digest(bound, items, alg.hasher()))


def presentation_vectors() -> dict[str, object]:
    key = holder_key()
    document = bound_document()
    batch = seal_batch([document])
    bundle = batch.bundle(0, CHAIN_ID, REGISTRY).redact(["balance"])
    challenge = Challenge(BANK, hashlib.sha256(b"crossverify test vector nonce").digest(), "ACCTOPEN", NOW + 600)
    presentation = present(bundle, challenge, key, NOW)
    digest = document.digest
    signing_input = presentation.binding.signing_input(digest)
    good = presentation.to_json()

    def mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        doc = json.loads(json.dumps(good))
        change(doc)
        return doc

    other = ec.derive_private_key(7, ec.SECP256R1())
    forged = replace(presentation, signature=sign_p1363(other, signing_input)).to_json()
    readdressed = replace(presentation, binding=replace(presentation.binding, aud="BKCHCNBJ45A")).to_json()
    re_redacted = replace(presentation, bundle=bundle.redact(["holder_name"])).to_json()
    stretched = replace(presentation.binding, exp=challenge.expires_at + 300)  # readable: within iat + 900
    outliving = replace(presentation, binding=stretched,
                        signature=sign_p1363(key, stretched.signing_input(digest))).to_json()
    low = int.from_bytes(presentation.signature[32:], "big")
    high_s = replace(presentation, signature=presentation.signature[:32]
                     + max(low, P256_ORDER - low).to_bytes(32, "big")).to_json()
    unflagged = bundle.to_json()
    unflagged["document"] = {k: v for k, v in unflagged["document"].items() if k != "holderBound"}
    return {
        "description": "crossverify presentation and sealed receipt v1 test vectors (docs/format.md). Every key, "
                       "salt and nonce here is test-only.",
        "holder": {"privateKey": "0x" + key.private_numbers().private_value.to_bytes(32, "big").hex(),
                   "jwk": public_jwk(key.public_key())},
        "document": {
            "header": document.header.as_json(),
            "headerCanonical": document.header.canonical().decode(),
            "headerDigest": "0x" + document.header.digest(HashAlgorithm.KECCAK256.hasher()).hex(),
            "claims": [{**c.as_json(), "leaf": "0x" + c.leaf(HashAlgorithm.KECCAK256.hasher()).hex()}
                       for c in document.claims],
            "documentDigest": "0x" + digest.hex(),
            "decoyLeaf": "0x" + batch.tree.levels[0][1].hex(),
            "batchRoot": "0x" + batch.root.hex(),
        },
        "challenge": challenge.to_json(),
        "signingInput": signing_input.decode(),
        "presentationHash": "0x" + presentation.hash().hex(),
        "presentation": good,
        "mustAccept": [
            {"case": "the holder's signature with a high s (n - s): the other encoding of one signature",
             "presentation": high_s},
        ],
        "mustReject": [
            {"case": "disclosed names out of order", "error": "PresentationError", "path": "/binding/disclosed",
             "presentation": mutated(lambda d: d["binding"].update(disclosed=["holder_name", "cnf"]))},
            {"case": "lives longer than 900 s", "error": "PresentationError", "path": "/binding/exp",
             "presentation": mutated(lambda d: d["binding"].update(exp=NOW + 901))},
            {"case": "a member the format does not define", "error": "UnexpectedMember", "path": "/binding/scope",
             "presentation": mutated(lambda d: d["binding"].update(scope="all"))},
            {"case": "signature not 64 bytes", "error": "InvalidLength", "path": "/signature",
             "presentation": mutated(lambda d: d.update(signature=d["signature"][:-2]))},
            {"case": "the bundle's proof cut short", "error": "ProofTooShort", "path": "/bundle/proof/path",
             "presentation": mutated(lambda d: d["bundle"]["proof"].update(path=[]))},
        ],
        "mustRefuse": [
            {"case": "signed by another key", "check": "holder_signed", "presentation": forged},
            {"case": "readdressed to another bank after signing", "check": "holder_signed",
             "presentation": readdressed},
            {"case": "re-redacted after signing", "check": "disclosure_matches_signature",
             "presentation": re_redacted},
            {"case": "signed to expire after its challenge", "check": "presentation_within_challenge",
             "presentation": outliving},
        ],
        "mustRefuseBare": [
            {"case": "the bound certificate handed over bare", "check": "holder_bound", "bundle": bundle.to_json()},
            {"case": "the same with its holderBound flag removed", "check": "proof_leads_to_root",
             "bundle": unflagged},
            {"case": "the same with its cnf claim redacted too", "check": "proof_leads_to_root",
             "bundle": {**unflagged, "claims": bundle.redact(["cnf"]).to_json()["claims"]}},
        ],
        "sealedReceipts": {kem.name: sealed_vector(kem, presentation.hash(), digest,
                                                   presentation.bundle.proof.batch_root) for kem in Kem},
    }


def sealed_vector(kem: Kem, presentation_hash: bytes, digest: bytes, batch_root: bytes) -> dict[str, object]:
    """Three receipts sealed together to two regulators, one per consent: the presentation's, a bare bundle's
    with the bank's attestation of in-person consent, and a bare bundle's without. Encryption (HPKE, SM2) is
    randomised, so the sealed bytes of the file already written are kept while they still open to these very
    receipts; otherwise they are sealed afresh."""
    keys = [regulator_key(kem, name) for name in ("AMCM", "PBOC-GD")]
    other = hashlib.sha256(b"crossverify test vector: another document").digest()

    def salt(n: str) -> bytes:
        return hashlib.sha256(f"crossverify test vector receipt salt{n}".encode()).digest()[:16]

    receipts = [Receipt(digest, "BNUMMOMX", "DEPCERT", batch_root, "ACCTOPEN", Consent.PRESENTATION,
                        presentation_hash, NOW + 5, salt("")),
                Receipt(other, "BNUMMOMX", "DEPCERT", batch_root, "LOAN", Consent.IN_PERSON,
                        case_reference_code("LOAN-17"), NOW + 6, salt(" 2")),
                Receipt(other, "BNUMMOMX", "DEPCERT", batch_root, "KYC", Consent.NONE, bytes(32), NOW + 7, salt(" 3"))]
    sealed = None
    if PRESENTATION_OUT.exists():
        old = json.loads(PRESENTATION_OUT.read_text()).get("sealedReceipts", {}).get(kem.name, {})
        with suppress(KeyError, ValueError, TypeError, CrossverifyError):
            candidate = SealedReceipts(tuple(bytes.fromhex(r["commitment"][2:]) for r in old["receipts"]),
                                       bytes.fromhex(old["sealed"][2:]))
            if all(open_receipts(candidate, k) == receipts for k in keys):
                sealed = candidate
    sealed = sealed or seal_receipts(receipts, [k.public_key for k in keys])
    return {
        "regulators": [{"privateKey": "0x" + k.raw.hex(), "publicKey": "0x" + k.public_key.raw.hex()}
                       for k in keys],
        "receipts": [{"documentDigest": "0x" + r.document_digest.hex(), "issuer": r.issuer_id, "docType": r.doc_type,
                      "batchRoot": "0x" + r.batch_root.hex(), "purpose": r.purpose, "consent": r.consent.name.lower(),
                      "consentReference": "0x" + r.consent_reference.hex(), "verifiedAt": r.verified_at,
                      "salt": "0x" + r.salt.hex(), "plaintext": "0x" + r.plaintext().hex(),
                      "commitment": "0x" + c.hex()} for r, c in zip(receipts, sealed.commitments, strict=True)],
        "sealed": "0x" + sealed.sealed.hex(),
    }


# -- display metadata: docs/vectors/display-v1.json --------------------------------------------------------------

EXAMPLE_ISSUER = {"format": ISSUER_FORMAT, "issuer": "BNUMMOMX",
                  "name": {"zh-Hant": "大西洋銀行", "zh-Hans": "大西洋银行", "pt": "Banco Nacional Ultramarino",
                           "en": "Banco Nacional Ultramarino"}}
#: Claim values as each language reads them: (document type, claim, value).
DISPLAYED = (("DEPCERT", "balance", {"MOP": 1332704.93}), ("DEPCERT", "balance_mop", 125000.5),
             ("DEPCERT", "balance_mop", 0), ("DEPCERT", "term_months", 12), ("DEPCERT", "opened_on", "2021-03-04"),
             ("DEPCERT", "joint", False), ("DEPCERT", "id_number", "1234567(8)"),
             ("DEPCERT", "account_no", "9-101-234567-8"), ("CREDREC", "score", 1712),
             ("DEPCERT", "holder_name", "陳大文 CHAN Tai Man"), ("DEPCERT", "balance_mop", "not a number"),
             ("DEPCERT", "nickname", True), ("DEPCERT", "balance_mop", 1.005), ("DEPCERT", "balance_mop", 0.005),
             ("DEPCERT", "balance", {"JPY": 125000.5, "USD": 0.0005}), ("CREDREC", "score", 1.5e-20),
             ("DEPCERT", "balance_mop", -0.0), ("DEPCERT", "opened_on", "0000-01-01"))


def display_vectors() -> dict[str, object]:
    types = {t.doc_type: t for t in standard_types()}
    documents = [json.loads((ROOT / "src" / "crossverify" / "format" / "types" / f"{code}.json").read_text())
                 for code in types] + [EXAMPLE_ISSUER]
    altered = json.loads(json.dumps(documents[[*types].index("CREDREC")]))
    next(c for c in altered["claims"] if c["name"] == "overdue_balance_mop")["label"]["en"] = "Savings"
    return {
        "documents": [{"metadata": doc, "canonical": rfc8785.dumps(doc).decode(),
                       "digest": "0x" + metadata_digest(doc).hex(),
                       "sm3Digest": "0x" + metadata_digest(doc, Suite.GM).hex()} for doc in documents],
        "altered": {"registered": "0x" + types["CREDREC"].digest.hex(), "metadata": altered,
                    "digest": "0x" + metadata_digest(altered).hex(), "error": "MetadataMismatch"},
        "values": [{"docType": code, "claim": name, "value": value, "language": language,
                    "text": claim_value(value, types[code].claim(name), language)}
                   for code, name, value in DISPLAYED for language in LANGUAGES],
        "mustReject": display_must_reject(documents[[*types].index("DEPCERT")]),
    }


def display_must_reject(base: dict[str, Any]) -> list[dict[str, object]]:
    """Metadata a reader must refuse: each with the JSON pointer of the fault."""
    def edit(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
        doc = json.loads(json.dumps(base))
        change(doc)
        return doc

    cases: list[tuple[str, Any]] = [
        ("not an object", ["DEPCERT"]),
        ("unknown format", edit(lambda d: d.update(format="crossverify-doc-type-display/2"))),
        ("unexpected member", edit(lambda d: d.update(url="https://example.org"))),
        ("missing claims", edit(lambda d: d.pop("claims"))),
        ("a language missing", edit(lambda d: d["name"].pop("pt"))),
        ("a language too many", edit(lambda d: d["name"].update(fr="Certificat de dépôt"))),
        ("empty label", edit(lambda d: d["claims"][0]["label"].update(en=""))),
        ("control character", edit(lambda d: d["claims"][0]["label"].update(en="Holder\nname"))),
        ("format character", edit(lambda d: d["claims"][0]["label"].update(en="Holder\u202ename"))),
        ("byte order mark before a label", edit(lambda d: d["claims"][0]["label"].update(en="\ufeffHolder name"))),
        ("line separator", edit(lambda d: d["claims"][0]["label"].update(en="Holder\u2028name"))),
        ("unknown kind", edit(lambda d: d["claims"][0].update(kind="money"))),
        ("claim named twice", edit(lambda d: d["claims"].append(d["claims"][0]))),
        ("currency not ISO 4217", edit(lambda d: d["claims"][5].update(currency="MOP$"))),
        ("currency with a digit", edit(lambda d: d["claims"][5].update(currency="M0P"))),
        ("currency on text", edit(lambda d: d["claims"][0].update(currency="MOP"))),
        ("currency null", edit(lambda d: d["claims"][5].update(currency=None))),
        ("unit on an amount", edit(lambda d: d["claims"][5].update(unit=d["name"]))),
        ("bad document type code", edit(lambda d: d.update(docType="depcert"))),
        ("no claims", edit(lambda d: d.update(claims=[]))),
    ]
    out = []
    for name, doc in cases:
        try:
            from_json(doc)
        except MalformedMetadata as exc:
            out.append({"name": name, "metadata": doc, "error": "MalformedMetadata", "pointer": exc.path})
        else:
            raise AssertionError(f"{name}: accepted")
    return out


def api_examples(rendered: dict[str, str]) -> str:
    """The HTTP API's examples (its OpenAPI document shows them): a redacted bundle and a presentation with the
    challenge it answers, taken from the vectors."""
    bundles = json.loads(rendered["v1.1.json"])["hashAlgorithms"]["keccak256"]["bundles"]
    presentation = json.loads(rendered["presentation-v1.json"])
    return json.dumps({"bundle": next(b["bundle"] for b in bundles if b.get("redacted")),
                       "presentation": presentation["presentation"], "challenge": presentation["challenge"]},
                      indent=1, ensure_ascii=False) + "\n"


# -- the GM suite: docs/vectors/gm-v1.json -------------------------------------------------------------------

GM_OUT = VECTORS / "gm-v1.json"
GM_DOMAIN = Domain("crossverify DocumentRegistry", "2", CHAIN_ID, REGISTRY)
#: The circulation contract's domain, for a dispute's answer.
GM_CIRCULATION = Domain("crossverify circulation", "1", CHAIN_ID, "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512")


def gm_key(label: str) -> bytes:
    """A test-only SM2 private key named by ``label``: SHA-256 of it, reduced into [1, n - 2]."""
    return (int.from_bytes(hashlib.sha256(f"crossverify GM test vector/{label}".encode()).digest(), "big")
            % (gm.N - 2) + 1).to_bytes(32, "big")


def _kept_signature(path: list[str], public_key: bytes, message: bytes, private_key: bytes) -> bytes:
    """SM2 draws a fresh k for every signature: the signature already written is kept while it still verifies."""
    if GM_OUT.exists():
        old: Any = json.loads(GM_OUT.read_text())
        with suppress(KeyError, ValueError, TypeError):
            for step in path:
                old = old[step]
            signature = bytes.fromhex(old[2:])
            if gm.verify(public_key, message, signature):
                return signature
    return gm.sign(private_key, message)


def _fields(request: AnchorRequest | RevocationRequest | KeyProof) -> dict[str, object]:
    """A request's fields as JSON: bytes in hex, codes as text, numbers as numbers."""
    if isinstance(request, KeyProof):
        return {"issuerId": request.issuer_id.rstrip(b"\0").decode(), "key": request.key}
    if isinstance(request, RevocationRequest):
        return {"batchRoot": "0x" + request.batch_root.hex(), "documentDigest": "0x" + request.document_digest.hex(),
                "reason": int(request.reason), "deadline": request.deadline}
    return {"batchRoot": "0x" + request.batch_root.hex(), "docType": request.doc_type.rstrip(b"\0").decode(),
            "hashAlg": request.hash_alg, "leafCount": request.leaf_count, "notAfter": request.not_after,
            "deadline": request.deadline}


def gm_vectors() -> dict[str, object]:
    issuer = gm_key("issuer signing key")
    public = gm.public_key_of(issuer)
    address = LocalSM2Key(issuer).address
    requests: dict[str, AnchorRequest | RevocationRequest | KeyProof] = {
        "anchor": AnchorRequest(hashlib.sha256(b"crossverify GM test vector batch").digest(), doc_type_code("DEPCERT"),
                                HashAlgorithm.SM3.value, 1000, NOW + 365 * 86400, NOW + 3600),
        "revocation": RevocationRequest(bytes(32), hashlib.sha256(b"crossverify GM test vector document").digest(),
                                        RevocationReason.WITHDRAWN, NOW + 3600),
        "keyProof": KeyProof(issuer_id_code("BNUMMOMX"), address),
    }
    structures = {}
    for name, request in requests.items():
        message = gm_message(request, GM_DOMAIN)
        signature = _kept_signature(["structures", name, "signature"], public, message, issuer)
        structures[name] = {
            "fields": _fields(request),
            "typeString": type_string(request.PRIMARY, request.FIELDS),
            "typeHash": "0x" + gm.sm3(type_string(request.PRIMARY, request.FIELDS).encode()).hex(),
            "typePrefix": "0x" + gm_type_prefix(GM_DOMAIN, request.PRIMARY, request.FIELDS).hex(),
            "packed": "0x" + request.packed().hex(),
            "message": "0x" + message.hex(),
            "e": "0x" + gm.signed_digest(public, message).hex(),
            "signature": "0x" + signature.hex(),
        }
    holder = SM2HolderPrivateKey(gm_key("holder key"))
    claims = {"holder_name": "陳大文 CHAN Tai Man", "balance": {"MOP": 125000.5},
              "cnf": holder_claim(holder.public_key())}
    alg = HashAlgorithm.SM3
    bound = replace(header(0), holder_bound=True)
    items = tuple(Claim(n, claims[n], fixed_salt(alg, 77, n)) for n in claim_order(claims))
    document = SaltedDocument(bound, items, document_digest(bound, items, alg.hasher()))
    bundle = seal_batch([document], alg).bundle(0, CHAIN_ID, REGISTRY).redact(["balance"])
    challenge = Challenge(BANK, hashlib.sha256(b"crossverify GM test vector nonce").digest(), "ACCTOPEN", NOW + 600)
    presentation = present(bundle, challenge, holder, NOW)
    signing_input = presentation.binding.signing_input(document.digest)
    held = _kept_signature(["holder", "presentation", "signature"], holder.public_key().raw, signing_input,
                           holder.raw)
    presentation = replace(presentation, signature=held)
    answer_key = gm_key("dispute answer key")
    answer_public = gm.public_key_of(answer_key)
    dispute_id = hashlib.sha256(b"crossverify GM test vector dispute").digest()
    sealed = hashlib.sha256(b"crossverify GM test vector sealed answer").digest() * 4  # stands for the envelope
    answer_message = gm_answer_message(GM_CIRCULATION, dispute_id, sealed)
    answer = {
        "domain": {**GM_CIRCULATION.as_dict(), "separator": "0x" + gm_domain_separator(GM_CIRCULATION).hex()},
        "privateKey": "0x" + answer_key.hex(), "publicKey": "0x" + answer_public.hex(),
        "address": LocalSM2Key(answer_key).address,
        "fields": {"disputeId": "0x" + dispute_id.hex(), "ciphertext": "0x" + sealed.hex(),
                   "ciphertextHash": "0x" + gm.sm3(sealed).hex()},
        "typeString": type_string("Answer", ANSWER_TYPE),
        "typePrefix": "0x" + gm_type_prefix(GM_CIRCULATION, "Answer", ANSWER_TYPE).hex(),
        "message": "0x" + answer_message.hex(),
        "e": "0x" + gm.signed_digest(answer_public, answer_message).hex(),
        "signature": "0x" + _kept_signature(["answer", "signature"], answer_public, answer_message,
                                            answer_key).hex(),
    }
    return {
        "description": "crossverify GM suite test vectors (docs/format.md, \"The GM suite\"). Every key here is "
                       "test-only. SM2 signatures are randomised: check them, do not expect to reproduce them.",
        "sm2Example": {
            "source": "GM/T 0003.5-2012 (GB/T 32918.5-2017), Annex A",
            "privateKey": "0x3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8",
            "publicKey": "0x" + gm.public_key_of(bytes.fromhex(
                "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8")).hex(),
            "message": "message digest",
            "signature": "0xf5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3"
                         "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa",
        },
        "domain": {**GM_DOMAIN.as_dict(), "separator": "0x" + gm_domain_separator(GM_DOMAIN).hex()},
        "signingKey": {"privateKey": "0x" + issuer.hex(), "publicKey": "0x" + public.hex(), "address": address,
                       "identityDigest": "0x" + gm.identity_digest(public).hex()},
        "structures": structures,
        "holder": {
            "privateKey": "0x" + holder.raw.hex(),
            "jwk": public_jwk(holder.public_key()),
            "documentDigest": "0x" + document.digest.hex(),
            "challenge": challenge.to_json(),
            "signingInput": signing_input.decode(),
            "presentationHash": "0x" + presentation.hash().hex(),
            "presentation": presentation.to_json(),
        },
        "answer": answer,
    }


API_EXAMPLES = VECTORS.parents[1] / "src" / "crossverify" / "service" / "examples.json"

if __name__ == "__main__":
    rendered = render()
    for name, text in rendered.items():
        (VECTORS / name).write_text(text)
        print(f"wrote {VECTORS / name}")
    API_EXAMPLES.write_text(api_examples(rendered))
    print(f"wrote {API_EXAMPLES}")
