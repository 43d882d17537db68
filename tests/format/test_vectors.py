"""The published test vectors (docs/vectors/), recomputed from the rules of docs/format.md alone: the hashing,
tree and signature steps are written out here again rather than taken from crossverify."""

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
from crossverify import errors as e
from crossverify.format.bundle import schema

from ..conftest import Consortium
from .reference import schema_validator

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "docs" / "vectors"
V = json.loads((VECTORS / "v1.1.json").read_text())
READING = json.loads((VECTORS / "v1.1-reading.json").read_text())
LABELS = ["keccak256", "sha256", "sm3"]


def h(hex_str: str) -> bytes:
    return bytes.fromhex(hex_str[2:])


def mth(leaves: list[bytes], hasher: Any) -> bytes:
    """RFC 6962's Merkle tree hash, with 0x01 inner nodes and document digests as leaf values."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hasher(b"\x01" + mth(leaves[:k], hasher) + mth(leaves[k:], hasher))


def path_root(leaf: bytes, index: int, size: int, path: list[bytes], hasher: Any) -> bytes:
    """RFC 9162, 2.1.3.2, as docs/format.md writes it."""
    fn, sn, r = index, size - 1, leaf
    for p in path:
        assert sn != 0, "path too long"
        if fn & 1 or fn == sn:
            r = hasher(b"\x01" + p + r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hasher(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0, "path too short"
    return r


def test_files_are_what_the_generator_writes() -> None:
    script = runpy.run_path(str(ROOT / "scripts" / "make_vectors.py"))
    for name, text in script["render"]().items():
        assert text == (VECTORS / name).read_text(), name


@pytest.mark.parametrize("label", LABELS)
def test_every_intermediate_value(label: str) -> None:
    v: dict[str, Any] = V["hashAlgorithms"][label]
    hasher = HashAlgorithm.from_label(label).hasher()
    digests = []
    for doc in v["documents"]:
        assert rfc8785.dumps(doc["header"]).decode() == doc["headerCanonical"]
        assert hasher(b"\x03" + doc["headerCanonical"].encode()) == h(doc["headerDigest"])
        leaves = []
        for claim in doc["claims"]:
            assert rfc8785.dumps([claim["name"], claim["value"]]) == h(claim["canonical"])
            assert hasher(b"\x00" + h(claim["salt"]) + h(claim["canonical"])) == h(claim["leaf"])
            leaves.append(h(claim["leaf"]))
        names = [c["name"].encode() for c in doc["claims"]]
        assert names == sorted(names)
        digest = hasher(b"\x02" + h(doc["headerDigest"]) + b"".join(leaves))
        assert digest == h(doc["documentDigest"])
        digests.append(digest)
    assert [b["size"] for b in v["batches"]] == [1, 2, 3, 5, 8, 33]
    for batch in v["batches"]:
        n = batch["size"]
        leaves = digests[:n]
        if n == 1:  # a one-document batch gets a decoy leaf over its salts, so its root is no document digest
            salts = b"".join(h(c["salt"]) for c in v["documents"][0]["claims"])
            assert hasher(b"\x04" + salts) == h(batch["decoy"])
            leaves = [digests[0], h(batch["decoy"])]
        assert batch["leafCount"] == len(leaves)
        assert mth(leaves, hasher) == h(batch["root"]) != digests[0]
        assert batch["notAfter"] == max(d["header"]["notAfter"] for d in v["documents"][:n])
        for i, proof in enumerate(batch["proofs"]):
            assert path_root(digests[i], i, len(leaves), [h(p) for p in proof], hasher) == h(batch["root"])


@pytest.mark.parametrize("label", LABELS)
def test_bundles_load_and_lead_to_their_roots(label: str) -> None:
    v: dict[str, Any] = V["hashAlgorithms"][label]
    roots = {b["size"]: b for b in v["batches"]}
    for entry in v["bundles"]:
        bundle = load_bundle(json.dumps(entry["bundle"], ensure_ascii=False))
        batch = roots[entry["batchSize"]]
        assert bundle.proof.batch_root == h(batch["root"]) and bundle.proof.index == entry["index"]
        assert ["0x" + p.hex() for p in bundle.proof.path] == batch["proofs"][entry["index"]]
        assert bundle.document_digest() == h(v["documents"][entry["index"]]["documentDigest"])
        assert bundle.leads_to_root(leaf_count=batch["leafCount"])
        assert bundle.redacted_count == len(entry.get("redacted", []))
    with_files = [entry for entry in v["bundles"] if "statement" in entry["bundle"]["claims"][1].get("name", "")]
    files = {name: h(data) for name, data in V["attachments"].items()}
    for entry in with_files:
        load_bundle(json.dumps(entry["bundle"]), {**files, "statement_sm3": files["statement"]})
    assert with_files


def test_salts_differ_between_algorithms() -> None:
    salts = [{c["salt"] for d in V["hashAlgorithms"][label]["documents"] for c in d["claims"]} for label in LABELS]
    assert not (salts[0] & salts[1] or salts[0] & salts[2] or salts[1] & salts[2])


def test_non_ascii_names_pin_the_order() -> None:
    """Claims sort by UTF-8 bytes, which is code point order, not RFC 8785's UTF-16 order for members."""
    names = [c["name"] for c in V["hashAlgorithms"]["keccak256"]["documents"][3]["claims"]]
    assert names == sorted(names, key=lambda n: n.encode("utf-8"))
    assert names != sorted(names, key=lambda n: n.encode("utf-16-be"))
    assert all(not n.isascii() for n in names[1:])


def test_the_eip712_domain_is_the_one_the_registry_publishes(consortium: Consortium) -> None:
    """An implementer signs under the vectors' domain name and version: those the registry's ``eip712Domain()``
    gives (the chain id and address are the vectors' own)."""
    _, name, version, *_ = consortium.registry.call(lambda f: f.eip712Domain())
    assert (V["eip712"]["domain"]["name"], V["eip712"]["domain"]["version"]) == (name, version)


def test_eip712_signatures() -> None:
    v = V["eip712"]
    domain_type = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    d = v["domain"]
    separator = keccak(domain_type + keccak(text=d["name"]) + keccak(text=d["version"])
                       + d["chainId"].to_bytes(32, "big") + bytes(12) + h(d["verifyingContract"]))
    assert separator == h(v["domainSeparator"])
    types = {
        "anchor": ("Anchor(bytes32 batchRoot,bytes8 docType,uint8 hashAlg,uint24 leafCount,uint40 notAfter,"
                   "uint40 deadline)"),
        "documentRevocation": "Revocation(bytes32 batchRoot,bytes32 documentDigest,uint8 reason,uint40 deadline)",
        "batchRevocation": "Revocation(bytes32 batchRoot,bytes32 documentDigest,uint8 reason,uint40 deadline)",
    }
    for name, type_string in types.items():
        signed = v[name]
        fields = [
            h(x).ljust(32, b"\0") if isinstance(x, str) else x.to_bytes(32, "big") for x in signed["message"].values()
        ]
        struct = keccak(keccak(text=type_string) + b"".join(fields))
        assert struct == h(signed["structHash"]), name
        vs = int.from_bytes(h(signed["vs"]), "big")
        signature = h(signed["r"]) + (vs & (2**255 - 1)).to_bytes(32, "big") + bytes([27 + (vs >> 255)])
        message = SignableMessage(b"\x01", separator, struct)
        assert Account.recover_message(message, signature=signature) == v["signer"], name
    assert Account.from_key(v["privateKey"]).address == v["signer"]


def reading_input(case: dict[str, Any]) -> str | bytes:
    if "text" in case:
        return str(case["text"])
    if "hex" in case:
        return bytes.fromhex(case["hex"])
    made = case["generate"]
    if "base" in made:
        return made["base"] + " " * (made["padWithSpacesTo"] - len(made["base"].encode()))
    return made["repeat"] * made["count"]


@pytest.mark.parametrize("case", READING["mustAccept"], ids=lambda c: c["name"])
def test_must_accept(case: dict[str, Any]) -> None:
    assert load_bundle(reading_input(case)).document_digest() == h(case["documentDigest"])
    assert schema_validator(schema()).is_valid(json.loads(reading_input(case)))


SHAPE_ERRORS = {"MissingMember", "UnexpectedMember", "InvalidHex", "InvalidLength", "UnknownHashAlgorithm",
                "UnsupportedVersion"}


@pytest.mark.parametrize("case", [c for c in READING["mustReject"] if c["error"] in SHAPE_ERRORS],
                         ids=lambda c: c["name"])
def test_the_published_schema_refuses_what_it_describes(case: dict[str, Any]) -> None:
    assert not schema_validator(schema()).is_valid(json.loads(reading_input(case)))


@pytest.mark.parametrize("case", READING["mustReject"], ids=lambda c: c["name"])
def test_must_reject(case: dict[str, Any]) -> None:
    files = {name: h(data) for name, data in case["attachments"].items()} if "attachments" in case else None
    with pytest.raises(e.BundleError) as raised:
        load_bundle(reading_input(case), files)
    assert type(raised.value).__name__ == case["error"]
    assert raised.value.path == case["pointer"]


def test_every_reading_error_is_named_in_the_tree() -> None:
    named = {case["error"] for case in READING["mustReject"]}
    assert all(issubclass(getattr(e, name), e.BundleError) for name in named)
    assert READING["maxBytes"] == 4 * 2**20 and READING["maxDepth"] == 32


def test_the_example_in_the_specification_is_valid() -> None:
    spec = (ROOT / "docs" / "format.md").read_text()
    example = spec.split("## Bundle (JSON)", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    bundle = load_bundle(example)
    assert bundle.leads_to_root(leaf_count=3) and bundle.redacted_count == 2
    entry = V["hashAlgorithms"]["keccak256"]["bundles"][-1]
    assert bundle == load_bundle(json.dumps(entry["bundle"]))
