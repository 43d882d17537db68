"""docs/vectors/gm-v1.json reproduced by independent implementations: gmssl (pure-Python SM2 and SM3) and
sm-crypto (JavaScript, under Node.js), with nothing from crossverify but the file. See docs/format.md, "The GM
suite"."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from gmssl import sm2 as pure_sm2
from gmssl import sm3 as pure_sm3

ROOT = Path(__file__).resolve().parents[2]
V = json.loads((ROOT / "docs" / "vectors" / "gm-v1.json").read_text())
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


def h(text: str) -> bytes:
    return bytes.fromhex(text[2:])


def sm3(data: bytes) -> bytes:
    return bytes.fromhex(pure_sm3.sm3_hash(list(data)))


def identity_digest(public_key: bytes) -> bytes:
    curve = pure_sm2.default_ecc_table
    fields = b"".join(bytes.fromhex(curve[k].rjust(64, "0")) for k in ("a", "b")) + bytes.fromhex(curve["g"])
    return sm3(b"\x00\x80" + b"1234567812345678" + fields + public_key)


def packed(name: str, f: dict[str, Any]) -> bytes:
    """The fields at their types' widths, big-endian (docs/format.md's table)."""
    if name == "anchor":
        return (h(f["batchRoot"]) + f["docType"].encode().ljust(8, b"\0") + f["hashAlg"].to_bytes(1, "big")
                + f["leafCount"].to_bytes(3, "big") + f["notAfter"].to_bytes(5, "big")
                + f["deadline"].to_bytes(5, "big"))
    if name == "revocation":
        return (h(f["batchRoot"]) + h(f["documentDigest"]) + f["reason"].to_bytes(1, "big")
                + f["deadline"].to_bytes(5, "big"))
    return f["issuerId"].encode().ljust(11, b"\0") + h(f["key"])


def verifies(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """gmssl's SM2 verification, which computes Z for the default ID itself."""
    return bool(pure_sm2.CryptSM2(private_key="", public_key=public_key.hex()).verify_with_sm3(signature.hex(),
                                                                                                   message))


def test_the_standards_example() -> None:
    ex = V["sm2Example"]
    assert verifies(h(ex["publicKey"]), ex["message"].encode(), h(ex["signature"]))
    assert not verifies(h(ex["publicKey"]), b"message digesT", h(ex["signature"]))


def test_the_domain_separator() -> None:
    d = V["domain"]
    domain_type = b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    separator = sm3(sm3(domain_type) + sm3(d["name"].encode()) + sm3(d["version"].encode())
                    + d["chainId"].to_bytes(32, "big") + bytes(12) + h(d["verifyingContract"]))
    assert separator == h(d["separator"])


def test_the_signing_key_and_its_address() -> None:
    k = V["signingKey"]
    public = h(k["publicKey"])
    assert identity_digest(public) == h(k["identityDigest"])
    assert sm3(public)[12:] == h(k["address"].lower())
    derived = pure_sm2.CryptSM2(private_key=k["privateKey"][2:], public_key="")._kg(
        int(k["privateKey"], 16), pure_sm2.default_ecc_table["g"])
    assert bytes.fromhex(derived) == public


@pytest.mark.parametrize("name", ["anchor", "revocation", "keyProof"])
def test_each_signed_structure(name: str) -> None:
    s, public = V["structures"][name], h(V["signingKey"]["publicKey"])
    assert sm3(s["typeString"].encode()) == h(s["typeHash"])
    assert sm3(h(V["domain"]["separator"]) + h(s["typeHash"])) == h(s["typePrefix"])
    assert packed(name, s["fields"]) == h(s["packed"])
    message = sm3(b"\x19\x01" + h(s["typePrefix"]) + h(s["packed"]))
    assert message == h(s["message"])
    assert sm3(identity_digest(public) + message) == h(s["e"])
    assert verifies(public, message, h(s["signature"]))
    altered = bytearray(message)
    altered[0] ^= 1
    assert not verifies(public, bytes(altered), h(s["signature"]))


def test_the_holders_sm2_presentation() -> None:
    holder = V["holder"]
    jwk = holder["jwk"]
    assert jwk["crv"] == "SM2"
    public = base64.urlsafe_b64decode(jwk["x"] + "=") + base64.urlsafe_b64decode(jwk["y"] + "=")
    p = holder["presentation"]
    b = p["binding"]
    signing_input = rfc8785.dumps({"aud": b["aud"], "digest": holder["documentDigest"], "disclosed": b["disclosed"],
                                   "exp": b["exp"], "iat": b["iat"], "nonce": b["nonce"], "purpose": b["purpose"],
                                   "typ": "crossverify-presentation/1"})
    assert signing_input == holder["signingInput"].encode()
    assert sm3(signing_input) == h(holder["presentationHash"])
    assert verifies(public, signing_input, h(p["signature"]))
    assert p["bundle"]["proof"]["hashAlg"] == "sm3"


def test_the_answer_to_a_dispute() -> None:
    """What an issuer's SM2 answer key signs on the circulation contract: its own domain, the dispute's id and
    the sealed answer's SM3."""
    a = V["answer"]
    d, f, public = a["domain"], a["fields"], h(a["publicKey"])
    domain_type = b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    separator = sm3(sm3(domain_type) + sm3(d["name"].encode()) + sm3(d["version"].encode())
                    + d["chainId"].to_bytes(32, "big") + bytes(12) + h(d["verifyingContract"]))
    assert separator == h(d["separator"])
    assert a["typeString"] == "Answer(bytes32 disputeId,bytes32 ciphertextHash)"
    assert sm3(separator + sm3(a["typeString"].encode())) == h(a["typePrefix"])
    assert sm3(h(f["ciphertext"])) == h(f["ciphertextHash"])
    message = sm3(b"\x19\x01" + h(a["typePrefix"]) + h(f["disputeId"]) + h(f["ciphertextHash"]))
    assert message == h(a["message"])
    assert sm3(identity_digest(public) + message) == h(a["e"])
    assert sm3(public)[12:] == h(a["address"].lower())
    assert verifies(public, message, h(a["signature"]))
    assert not verifies(public, sm3(message), h(a["signature"]))


def test_sm_crypto_checks_every_signature() -> None:
    """The resident page's library verifies what crossverify signed: the structures, the presentation and the
    dispute's answer."""
    public = V["signingKey"]["publicKey"][2:]
    cases = [[s["message"][2:], s["signature"][2:], public] for s in V["structures"].values()]
    holder = V["holder"]
    holder_public = (base64.urlsafe_b64decode(holder["jwk"]["x"] + "=")
                     + base64.urlsafe_b64decode(holder["jwk"]["y"] + "=")).hex()
    cases.append([holder["signingInput"].encode().hex(), holder["presentation"]["signature"][2:], holder_public])
    cases.append([V["answer"]["message"][2:], V["answer"]["signature"][2:], V["answer"]["publicKey"][2:]])
    script = """
        const sm2 = require("sm-crypto").sm2;
        const cases = JSON.parse(process.argv[1]);
        process.stdout.write(JSON.stringify(cases.map(([m, sig, pub]) =>
          sm2.doVerifySignature(Array.from(Buffer.from(m, "hex")), sig, "04" + pub, {hash: true}))));
    """
    run = subprocess.run(["node", "-e", script, json.dumps(cases)], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert json.loads(run.stdout) == [True] * len(cases)
