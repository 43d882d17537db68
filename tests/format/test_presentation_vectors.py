"""docs/vectors/presentation-v1.json, recomputed from the rules of docs/format.md with plain libraries: JCS,
SHA-256, keccak, ECDSA P-256 and RFC 9180 HPKE; the sealing's hybrid KEM against X-Wing's published vectors
(docs/vectors/xwing-kem.json)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import runpy
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, x25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, MLKEM768X25519PrivateKey, Suite
from eth_utils import keccak

from crossverify import errors, load_bundle, load_presentation
from crossverify.sealing import Kem, RegulatorKey

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "docs" / "vectors" / "presentation-v1.json"
V: dict[str, Any] = json.loads(FILE.read_text())
XWING: dict[str, Any] = json.loads((ROOT / "docs" / "vectors" / "xwing-kem.json").read_text())


def h(text: str) -> bytes:
    return bytes.fromhex(text[2:])


def b64(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()


def test_file_is_what_the_generator_writes() -> None:
    script = runpy.run_path(str(ROOT / "scripts" / "make_vectors.py"))
    assert script["render"]()["presentation-v1.json"] == FILE.read_text()


def test_holder_key_document_and_decoy() -> None:
    key = ec.derive_private_key(int.from_bytes(h(V["holder"]["privateKey"]), "big"), ec.SECP256R1())
    n = key.public_key().public_numbers()
    assert V["holder"]["jwk"] == {"kty": "EC", "crv": "P-256", "x": b64(n.x), "y": b64(n.y)}
    d = V["document"]
    header = V["presentation"]["bundle"]["document"]
    leaves = []
    for c in d["claims"]:
        leaf = keccak(b"\x00" + h(c["salt"]) + rfc8785.dumps([c["name"], c["value"]]))
        assert leaf == h(c["leaf"])
        leaves.append(leaf)
    assert [c["value"] for c in d["claims"] if c["name"] == "cnf"] == [{"jwk": V["holder"]["jwk"]}]
    assert header == d["header"] and header["holderBound"] is True
    assert rfc8785.dumps(header).decode() == d["headerCanonical"]
    assert keccak(b"\x03" + rfc8785.dumps(header)) == h(d["headerDigest"])
    digest = keccak(b"\x02" + keccak(b"\x03" + rfc8785.dumps(header)) + b"".join(leaves))
    assert digest == h(d["documentDigest"])
    assert keccak(b"\x04" + b"".join(h(c["salt"]) for c in d["claims"])) == h(d["decoyLeaf"])
    assert keccak(b"\x01" + digest + h(d["decoyLeaf"])) == h(d["batchRoot"]) != digest
    proof = V["presentation"]["bundle"]["proof"]
    assert (proof["leafCount"], proof["path"], proof["batchRoot"]) == (2, [d["decoyLeaf"]], d["batchRoot"])


def test_signing_input_hash_and_signature() -> None:
    p, b = V["presentation"], V["presentation"]["binding"]
    expected = rfc8785.dumps({"aud": b["aud"], "digest": V["document"]["documentDigest"],
                              "disclosed": b["disclosed"], "exp": b["exp"], "iat": b["iat"], "nonce": b["nonce"],
                              "purpose": b["purpose"], "typ": "crossverify-presentation/1"})
    assert expected.decode() == V["signingInput"]
    assert hashlib.sha256(expected).digest() == h(V["presentationHash"])
    assert (b["aud"], b["nonce"], b["purpose"]) == (V["challenge"]["aud"], V["challenge"]["nonce"],
                                                    V["challenge"]["purpose"])
    jwk = V["holder"]["jwk"]
    point = b"\x04" + base64.urlsafe_b64decode(jwk["x"] + "=") + base64.urlsafe_b64decode(jwk["y"] + "=")
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    sig = h(p["signature"])
    key.verify(encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")), expected,
               ec.ECDSA(hashes.SHA256()))
    assert load_presentation(json.dumps(p)).hash() == h(V["presentationHash"])


P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@pytest.mark.parametrize("case", V["mustAccept"], ids=lambda c: c["case"])
def test_must_accept(case: dict[str, Any]) -> None:
    """A high ``s`` (as WebCrypto may make) is accepted: the other encoding of the very signature, over the same
    signing input, so the consent it identifies (the presentation hash) is the same."""
    p = load_presentation(json.dumps(case["presentation"]))
    s = int.from_bytes(h(case["presentation"]["signature"])[32:], "big")
    assert s > P256_ORDER // 2 and h(case["presentation"]["signature"])[:32] == h(V["presentation"]["signature"])[:32]
    key = p.holder_key()
    assert key is not None and p.signed_by(key)
    assert p.hash() == h(V["presentationHash"])


@pytest.mark.parametrize("case", V["mustReject"], ids=lambda c: c["case"])
def test_must_reject(case: dict[str, Any]) -> None:
    with pytest.raises(getattr(errors, case["error"])) as caught:
        load_presentation(json.dumps(case["presentation"]))
    assert caught.value.path == case["path"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", V["mustRefuse"], ids=lambda c: c["case"])
def test_must_refuse(case: dict[str, Any]) -> None:
    """Each is readable and fails its check, the first of the checks in order that a bank holding the vectors'
    challenge (still open, before the presentation expires) would fail."""
    p = load_presentation(json.dumps(case["presentation"]))
    key = p.holder_key()
    assert key is not None
    signed = p.signed_by(key)
    same_disclosure = list(p.binding.disclosed) == [c["name"] for c in case["presentation"]["bundle"]["claims"]
                                                    if "name" in c]
    within = case["presentation"]["binding"]["exp"] <= V["challenge"]["expiresAt"]
    failed = ("holder_signed" if not signed else "disclosure_matches_signature" if not same_disclosure else
              "presentation_within_challenge" if not within else None)
    assert failed == case["check"]


@pytest.mark.parametrize("case", V["mustRefuseBare"], ids=lambda c: c["case"])
def test_a_bound_certificate_never_passes_bare(case: dict[str, Any]) -> None:
    """Handed over bare, the bound certificate fails ``holder_bound``; with its flag hidden, its digest no longer
    leads to the anchored root."""
    bundle = case["bundle"]
    leaves = [h(c["redacted"]) if "redacted" in c else
              keccak(b"\x00" + h(c["salt"]) + rfc8785.dumps([c["name"], c["value"]])) for c in bundle["claims"]]
    digest = keccak(b"\x02" + keccak(b"\x03" + rfc8785.dumps(bundle["document"])) + b"".join(leaves))
    leads = keccak(b"\x01" + digest + h(bundle["proof"]["path"][0])) == h(V["document"]["batchRoot"])
    failed = "proof_leads_to_root" if not leads else "holder_bound" if bundle["document"].get("holderBound") else None
    assert failed == case["check"]
    loaded = load_bundle(json.dumps(bundle))
    assert loaded.header.holder_bound is (failed == "holder_bound")
    assert loaded.leads_to_root() is leads


@pytest.mark.parametrize("kem", ["X25519", "MLKEM768_X25519", "SM2"])
def test_sealed_receipts(kem: str) -> None:
    v = V["sealedReceipts"][kem]
    commit = sm3 if kem == "SM2" else keccak
    plaintexts, commitments = [], []
    for r in v["receipts"]:
        consent = {"none": 0, "presentation": 1, "in_person": 2}[r["consent"]]
        plaintext = (b"\x02" + h(r["documentDigest"]) + r["issuer"].encode().ljust(11, b"\0")
                     + r["docType"].encode().ljust(8, b"\0") + h(r["batchRoot"])
                     + r["purpose"].encode().ljust(8, b"\0") + bytes([consent]) + h(r["consentReference"])
                     + r["verifiedAt"].to_bytes(5, "big") + h(r["salt"]))
        assert plaintext == h(r["plaintext"]) and len(plaintext) == 146
        assert commit(b"\x10" + plaintext) == h(r["commitment"])
        plaintexts.append(plaintext)
        commitments.append(h(r["commitment"]))
    assert v["receipts"][0]["consentReference"] == V["presentationHash"]
    assert h(v["receipts"][1]["consentReference"]).rstrip(b"\0") == b"LOAN-17"  # the bank's case reference
    assert [r["consent"] for r in v["receipts"]] == ["presentation", "in_person", "none"]
    sealed = h(v["sealed"])
    info = b"crossverify sealed receipts v4" + commit(b"".join(commitments))
    if kem == "SM2":
        _open_gm(v, sealed, info, plaintexts)
        return
    kem_id, suite_kem, enc = {"X25519": (0x20, KEM.X25519, 32), "MLKEM768_X25519": (0x647A, KEM.MLKEM768_X25519,
                                                                                     1120)}[kem]
    suite = Suite(suite_kem, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
    assert sealed[:5] == b"\x04\x01" + kem_id.to_bytes(2, "big") + b"\x02"
    m = len(v["receipts"])
    part = enc + 16 + 16
    assert len(sealed) == 5 + 2 * part + m * 145 + 16
    for i, regulator in enumerate(v["regulators"]):
        public, private = h(regulator["publicKey"]), h(regulator["privateKey"])
        if kem == "X25519":
            secret: Any = x25519.X25519PrivateKey.from_private_bytes(private)
            assert secret.public_key().public_bytes_raw() == public
        else:
            secret = MLKEM768X25519PrivateKey(mlkem.MLKEM768PrivateKey.from_seed_bytes(private[:64]),
                                              x25519.X25519PrivateKey.from_private_bytes(private[64:]))
        body_key = suite.decrypt(sealed[5 + i * part:5 + (i + 1) * part], secret, info=info)
        body = AESGCM(body_key).decrypt(bytes(12), sealed[5 + 2 * part:], info)
        assert [b"\x02" + body[j * 145:(j + 1) * 145] for j in range(m)] == plaintexts


@pytest.mark.parametrize("v", XWING["vectors"], ids=lambda v: v["seed"][:8])
def test_the_hybrid_kem_is_x_wing(v: dict[str, str]) -> None:
    """kemId 0x647a as the sealing runs it (pyca/cryptography's MLKEM768_X25519) against X-Wing's published
    vectors: the key stored as SHAKE-256(seed) has X-Wing's public key; the combiner docs/format.md describes
    gives X-Wing's shared secret; and HPKE decapsulates X-Wing's ciphertext to it (what was sealed with a key
    schedule on that secret opens)."""
    seed, pk, ct, ss = (bytes.fromhex(v[k]) for k in ("seed", "pk", "ct", "ss"))
    expanded = hashlib.shake_256(seed).digest(96)
    key = RegulatorKey(Kem.MLKEM768_X25519, expanded)
    assert key.public_key.raw == pk
    ss_m = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]).decapsulate(ct[:1088])
    ss_x = x25519.X25519PrivateKey.from_private_bytes(expanded[64:]).exchange(
        x25519.X25519PublicKey.from_public_bytes(ct[1088:]))
    assert hashlib.sha3_256(ss_m + ss_x + ct[1088:] + pk[1184:] + b"\\.//^\\").digest() == ss
    suite_id = b"HPKE" + bytes.fromhex("647a" "0001" "0002")  # X-Wing, HKDF-SHA256, AES-256-GCM

    def extract(salt: bytes, label: bytes, ikm: bytes) -> bytes:
        return hmac.digest(salt or bytes(32), b"HPKE-v1" + suite_id + label + ikm, "sha256")

    def expand(prk: bytes, label: bytes, info: bytes, n: int) -> bytes:  # n <= 32: one HKDF block
        return hmac.digest(prk, n.to_bytes(2, "big") + b"HPKE-v1" + suite_id + label + info + b"\x01", "sha256")[:n]

    info = b"crossverify sealed receipts v4"
    context = b"\x00" + extract(b"", b"psk_id_hash", b"") + extract(b"", b"info_hash", info)  # base mode
    secret = extract(ss, b"secret", b"")
    sealed = AESGCM(expand(secret, b"key", context, 32)).encrypt(expand(secret, b"base_nonce", context, 12),
                                                                 b"a body key", b"")
    assert Kem.MLKEM768_X25519.suite.decrypt(ct + sealed, key._hpke, info=info) == b"a body key"


def _open_gm(v: dict[str, Any], sealed: bytes, info: bytes, plaintexts: list[bytes]) -> None:
    """The GM suite's envelope, opened with gmssl (pure-Python SM2) and OpenSSL's SM4-GCM."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from gmssl import sm2 as pure

    m = len(plaintexts)
    assert sealed[:3] == b"\x04\x02\x02" and len(sealed) == 3 + 2 * 113 + m * 145 + 16
    for i, regulator in enumerate(v["regulators"]):
        public, private = h(regulator["publicKey"]), h(regulator["privateKey"])
        other = pure.CryptSM2(private_key=private.hex(), public_key=public.hex(), mode=1)  # C1 || C3 || C2
        part = sealed[3 + i * 113:3 + (i + 1) * 113]
        assert part[0] == 4
        body_key = other.decrypt(part[1:])
        body_ct = sealed[3 + 2 * 113:]
        decryptor = Cipher(algorithms.SM4(body_key), modes.GCM(bytes(12), body_ct[-16:])).decryptor()
        decryptor.authenticate_additional_data(info)
        body = decryptor.update(body_ct[:-16]) + decryptor.finalize()
        assert [b"\x02" + body[j * 145:(j + 1) * 145] for j in range(m)] == plaintexts


def sm3(data: bytes) -> bytes:
    """SM3 from gmssl (pure Python), beside the library's OpenSSL."""
    from gmssl import sm3 as pure_sm3

    return bytes.fromhex(pure_sm3.sm3_hash(list(data)))
