#!/usr/bin/env python3
"""Write docs/vectors/v1.json: fixed inputs and every intermediate value of the bundle format, per hash algorithm.

The salts and the signing key are fixed and labelled as test material; never issue with them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import rfc8785
from eth_account import Account

from crossverify import (
    AnchorRequest,
    Claim,
    DocumentHeader,
    Domain,
    HashAlgorithm,
    SaltedDocument,
    seal_batch,
    sign,
)
from crossverify.format.certificate import document_digest

OUT = Path(__file__).resolve().parents[1] / "docs" / "vectors" / "v1.json"
TEST_KEY = hashlib.sha256(b"crossverify test vector signing key").digest()
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
CHAIN_ID = 8_853

HEADER = DocumentHeader("DEPCERT", "BNUMMOMX", 1_790_000_000, 1_789_862_400, 1_821_398_400)
CLAIMS = [
    {"holder_name": "陳大文 CHAN Tai Man", "account_no": "9-101-234567-8", "balance": {"MOP": 125000.5},
     "joint": False, "branches": ["Macau", "Taipa"], "note": None},
    {"holder_name": "LEI Ka Ian", "account_no": "9-101-765432-1", "balance": {"MOP": 0}, "joint": True,
     "branches": [], "note": "tab\tand \"quote\""},
    {"holder_name": "Ana da Silva", "account_no": "9-101-000001-0", "balance": {"HKD": 1e21, "MOP": -1.25},
     "joint": False, "branches": ["Cotai"], "note": "\u2028"},
]


def fixed_salt(doc: int, name: str) -> bytes:
    return hashlib.sha256(f"crossverify test vector salt/{doc}/{name}".encode()).digest()[:16]


def build(alg: HashAlgorithm) -> dict[str, object]:
    hasher = alg.hasher()
    documents, described = [], []
    for i, claims in enumerate(CLAIMS):
        salted = tuple(Claim(n, claims[n], fixed_salt(i, n)) for n in sorted(claims, key=lambda n: n.encode()))
        digest = document_digest(HEADER, salted, hasher)
        documents.append(SaltedDocument(HEADER, salted, digest))
        described.append({
            "claims": [{
                "name": c.name, "value": c.value, "salt": "0x" + c.salt.hex(),
                "canonical": "0x" + rfc8785.dumps([c.name, c.value]).hex(), "leaf": "0x" + c.leaf(hasher).hex(),
            } for c in salted],
            "documentDigest": "0x" + digest.hex(),
        })
    batch = seal_batch(documents, alg)
    bundles = [batch.bundle(i, CHAIN_ID, REGISTRY) for i in range(len(documents))]
    for entry, bundle in zip(described, bundles, strict=True):
        entry["proof"] = ["0x" + h.hex() for h in bundle.proof.path]
        entry["bundle"] = bundle.to_json()
    entry["redactedBundle"] = bundles[-1].redact(["account_no", "balance"]).to_json()
    return {
        "header": HEADER.as_json(),
        "headerCanonical": HEADER.canonical().decode(),
        "headerDigest": "0x" + HEADER.digest(hasher).hex(),
        "documents": described,
        "batchRoot": "0x" + batch.root.hex(),
    }


def signature_vector() -> dict[str, object]:
    key = Account.from_key(TEST_KEY)
    domain = Domain("crossverify DocumentRegistry", "1", CHAIN_ID, REGISTRY)
    request = AnchorRequest(bytes.fromhex("11" * 32), b"DEPCERT\0", 1, 3, 1_821_398_400, 1_790_003_600)
    message = request.typed_data(domain)
    r, vs = sign(request, domain, key)
    return {
        "privateKey": "0x" + TEST_KEY.hex(),
        "signer": key.address,
        "domain": domain.as_dict(),
        "anchor": {"batchRoot": "0x" + "11" * 32, "docType": "0x" + b"DEPCERT\0".hex(), "hashAlg": 1, "leafCount": 3,
                   "notAfter": 1_821_398_400, "deadline": 1_790_003_600},
        "domainSeparator": "0x" + message.header.hex(),
        "structHash": "0x" + message.body.hex(),
        "r": "0x" + r.hex(),
        "vs": "0x" + vs.hex(),
    }


def vectors() -> dict[str, object]:
    return {
        "description": "crossverify bundle format v1 test vectors (docs/format.md). Salts and key are test-only.",
        "hashAlgorithms": {alg.label: build(alg) for alg in HashAlgorithm},
        "eip712Anchor": signature_vector(),
    }


def render() -> str:
    return json.dumps(vectors(), ensure_ascii=False, indent=1) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
