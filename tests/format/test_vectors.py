"""The published test vectors (docs/vectors/v1.json), recomputed byte for byte from the rules of docs/format.md."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from eth_account import Account
from eth_account.messages import SignableMessage
from eth_utils import keccak

from crossverify import HashAlgorithm, load_bundle
from crossverify.format.merkle import root_from_proof

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "docs" / "vectors" / "v1.json").read_text())


def h(hex_str: str) -> bytes:
    return bytes.fromhex(hex_str[2:])


def test_file_is_what_the_generator_writes() -> None:
    script = runpy.run_path(str(ROOT / "scripts" / "make_vectors.py"))
    assert script["render"]() == (ROOT / "docs" / "vectors" / "v1.json").read_text()


@pytest.mark.parametrize("label", ["keccak256", "sha256", "sm3"])
def test_every_intermediate_value(label: str) -> None:
    v: dict[str, Any] = VECTORS["hashAlgorithms"][label]
    hasher = HashAlgorithm.from_label(label).hasher()
    assert rfc8785.dumps(v["header"]).decode() == v["headerCanonical"]
    assert hasher(b"\x03" + v["headerCanonical"].encode()) == h(v["headerDigest"])
    for index, doc in enumerate(v["documents"]):
        leaves = []
        for claim in doc["claims"]:
            assert rfc8785.dumps([claim["name"], claim["value"]]) == h(claim["canonical"])
            assert hasher(b"\x00" + h(claim["salt"]) + h(claim["canonical"])) == h(claim["leaf"])
            leaves.append(h(claim["leaf"]))
        assert [c["name"].encode() for c in doc["claims"]] == sorted(c["name"].encode() for c in doc["claims"])
        digest = hasher(b"\x02" + h(v["headerDigest"]) + b"".join(leaves))
        assert digest == h(doc["documentDigest"])
        path = [h(p) for p in doc["proof"]]
        assert root_from_proof(digest, index, len(v["documents"]), path, hasher) == h(v["batchRoot"])
        bundle = load_bundle(json.dumps(doc["bundle"]))
        assert bundle.leads_to_root() and bundle.document_digest() == digest
    redacted = load_bundle(json.dumps(v["documents"][-1]["redactedBundle"]))
    assert redacted.leads_to_root() and redacted.redacted_count == 2


def test_eip712_anchor_signature() -> None:
    v = VECTORS["eip712Anchor"]
    domain_type = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    d = v["domain"]
    separator = keccak(domain_type + keccak(text=d["name"]) + keccak(text=d["version"])
                       + d["chainId"].to_bytes(32, "big") + bytes(12) + h(d["verifyingContract"]))
    assert separator == h(v["domainSeparator"])
    a = v["anchor"]
    type_hash = keccak(text="Anchor(bytes32 batchRoot,bytes8 docType,uint8 hashAlg,uint24 leafCount,uint40 notAfter,"
                            "uint40 deadline)")
    struct = keccak(type_hash + h(a["batchRoot"]) + h(a["docType"]).ljust(32, b"\0")
                    + b"".join(x.to_bytes(32, "big") for x in (a["hashAlg"], a["leafCount"], a["notAfter"],
                                                              a["deadline"])))
    assert struct == h(v["structHash"])
    vs = int.from_bytes(h(v["vs"]), "big")
    signature = h(v["r"]) + (vs & (2**255 - 1)).to_bytes(32, "big") + bytes([27 + (vs >> 255)])
    message = SignableMessage(b"\x01", separator, struct)
    assert Account.recover_message(message, signature=signature) == v["signer"]
    assert Account.from_key(v["privateKey"]).address == v["signer"]
