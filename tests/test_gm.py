"""The GM suite's primitives against the standards' examples and two independent implementations: gmssl (pure
Python) and sm-crypto (JavaScript, the resident page's library) under Node.js."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from gmssl import sm2 as gmssl_sm2
from hypothesis import example, given, settings
from hypothesis import strategies as st

from crossverify import gm
from crossverify.errors import InvalidSM2Key
from tests.contract.test_sm2_verifier import (
    EXAMPLE_E,
    EXAMPLE_MESSAGE,
    EXAMPLE_PRIVATE,
    EXAMPLE_PUBLIC,
    EXAMPLE_SIGNATURE,
    EXAMPLE_Z,
    SM3_EXAMPLES,
)

ROOT = Path(__file__).resolve().parents[1]

#: gmssl's own point arithmetic fails on keys that are small multiples of the generator (its ladder meets the point
#: at infinity): it is checked against on keys of ordinary size; tests/contract covers the small ones.
ordinary_private_keys = st.integers(min_value=2**200, max_value=gm.N - 2).map(lambda d: d.to_bytes(32, "big"))


def reference(private_key: bytes, public_key: bytes, mode: int = 0) -> gmssl_sm2.CryptSM2:
    """gmssl's SM2 for a key pair. Its constructor reads a public key with ``lstrip("04")``, which also eats an x
    coordinate's leading 0 and 4 digits (one key in 128): the key is set after construction instead."""
    other = gmssl_sm2.CryptSM2(private_key=private_key.hex(), public_key="", mode=mode)
    other.public_key = public_key.hex()
    return other


@pytest.mark.parametrize(("message", "digest"), SM3_EXAMPLES)
def test_sm3_examples(message: bytes, digest: str) -> None:
    assert gm.sm3(message).hex() == digest


def test_the_standard_signature_example() -> None:
    assert gm.public_key_of(EXAMPLE_PRIVATE) == EXAMPLE_PUBLIC
    assert gm.identity_digest(EXAMPLE_PUBLIC) == EXAMPLE_Z
    assert gm.signed_digest(EXAMPLE_PUBLIC, EXAMPLE_MESSAGE) == EXAMPLE_E
    assert gm.verify(EXAMPLE_PUBLIC, EXAMPLE_MESSAGE, EXAMPLE_SIGNATURE)
    assert not gm.verify(EXAMPLE_PUBLIC, EXAMPLE_MESSAGE + b".", EXAMPLE_SIGNATURE)


def test_sm4_gcm_matches_rfc_8998() -> None:
    """RFC 8998 (ShangMi cipher suites for TLS 1.3), Appendix A.1: SM4-GCM."""
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    nonce = bytes.fromhex("00001234567800000000ABCD")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    plaintext = bytes.fromhex("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
                              "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA")
    sealed = bytes.fromhex("17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
                           "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
                           "83DE3541E4C2B58177E065A9BF7B62EC")
    cipher = gm.SM4GCM(key)
    assert cipher.encrypt(nonce, plaintext, aad) == sealed
    assert cipher.decrypt(nonce, sealed, aad) == plaintext
    for altered in (sealed[:-1] + bytes([sealed[-1] ^ 1]), sealed[:10], b""):
        with pytest.raises(InvalidTag):
            cipher.decrypt(nonce, altered, aad)
    with pytest.raises(InvalidTag):
        cipher.decrypt(nonce, sealed, aad + b"x")


@settings(max_examples=30, deadline=None)
@given(ordinary_private_keys, st.binary(max_size=200))
@example((0x31B077A5F77B8E << 160).to_bytes(32, "big"), b"")  # its public key's x begins with the byte 04
def test_signatures_verify_both_ways_with_gmssl(private_key: bytes, message: bytes) -> None:
    public_key = gm.public_key_of(private_key)
    ours = gm.sign(private_key, message)
    other = reference(private_key, public_key)
    assert other.verify_with_sm3(ours.hex(), message)
    theirs = bytes.fromhex(other.sign_with_sm3(message))
    assert gm.verify(public_key, message, theirs)
    assert not gm.verify(public_key, message + b"\x00", theirs)


@settings(max_examples=20, deadline=None)
@given(ordinary_private_keys, st.binary(min_size=1, max_size=64))
def test_encryption_round_trips_with_gmssl(private_key: bytes, plaintext: bytes) -> None:
    public_key = gm.public_key_of(private_key)
    other = reference(private_key, public_key, mode=1)  # C1C3C2
    ours = gm.encrypt(public_key, plaintext)
    assert len(ours) == gm.CIPHERTEXT_OVERHEAD + len(plaintext)
    assert other.decrypt(ours[1:]) == plaintext
    theirs = None
    while theirs is None:  # the reference gives up when its KDF output is all zero (1 in 256 for one byte): redraw
        theirs = other.encrypt(plaintext)
    assert gm.decrypt(private_key, b"\x04" + theirs) == plaintext


def test_sm_crypto_agrees_on_signatures_and_encryption() -> None:
    private_key = gm.generate_private_key()
    public_key = gm.public_key_of(private_key)
    message = os.urandom(40)
    script = """
        const sm2 = require("sm-crypto").sm2;
        const [priv, pub, msg, ours, ct] = JSON.parse(process.argv[1]);
        const bytes = Array.from(Buffer.from(msg, "hex"));
        process.stdout.write(JSON.stringify({
          verifies: sm2.doVerifySignature(bytes, ours, "04" + pub, {hash: true}),
          signature: sm2.doSignature(bytes, priv, {hash: true}),
          decrypted: Buffer.from(sm2.doDecrypt(ct, priv, 1, {output: "array"})).toString("hex"),
          encrypted: sm2.doEncrypt(bytes, "04" + pub, 1),
        }));
    """
    args = [private_key.hex(), public_key.hex(), message.hex(), gm.sign(private_key, message).hex(),
            gm.encrypt(public_key, message)[1:].hex()]
    run = subprocess.run(["node", "-e", script, json.dumps(args)], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    out = json.loads(run.stdout)
    assert out["verifies"] is True
    assert gm.verify(public_key, message, bytes.fromhex(out["signature"]))
    assert out["decrypted"] == message.hex()
    assert gm.decrypt(private_key, b"\x04" + bytes.fromhex(out["encrypted"])) == message


def test_decryption_refuses_altered_or_misaddressed_ciphertexts(capfd: pytest.CaptureFixture[str]) -> None:
    private_key, other_key = gm.generate_private_key(), gm.generate_private_key()
    ciphertext = gm.encrypt(gm.public_key_of(private_key), b"a body key, 16 b")
    assert gm.decrypt(private_key, ciphertext) == b"a body key, 16 b"
    assert gm.decrypt(other_key, ciphertext) is None
    for i in (0, 1, 64, 65, 96, 97, len(ciphertext) - 1):
        altered = bytearray(ciphertext)
        altered[i] ^= 1
        assert gm.decrypt(private_key, bytes(altered)) is None, i
    for malformed in (b"", ciphertext[:97], b"\x04" + bytes(64) + ciphertext[65:], ciphertext + bytes(300)):
        assert gm.decrypt(private_key, malformed) is None
    print("stderr is ours again", file=sys.stderr, flush=True)
    assert capfd.readouterr().err == "stderr is ours again\n"  # nothing of GmSSL's call trace


def test_malformed_keys_are_named() -> None:
    for bad in (b"", bytes(32), gm.N.to_bytes(32, "big"), (gm.N - 1).to_bytes(32, "big"), bytes(33)):
        with pytest.raises(InvalidSM2Key):
            gm.public_key_of(bad)
    public_key = gm.public_key_of(gm.generate_private_key())
    for bad in (bytes(64), public_key[:63], public_key + b"\x00", public_key[:32] + public_key[:32]):
        assert not gm.is_public_key(bad)
        with pytest.raises(InvalidSM2Key):
            gm.identity_digest(bad)
        with pytest.raises(InvalidSM2Key):
            gm.encrypt(bad, b"key")
        assert not gm.verify(bad, b"m", bytes(64))


def test_a_sealed_key_with_malformed_members_is_a_value_error() -> None:
    """Key files read with json, which reads 1e400 and Infinity as infinity: refused, not an OverflowError."""
    sealed = gm.password_seal(b"key", "pw", b"aad", iterations=1_000)
    assert gm.password_open(sealed, "pw", b"aad") == b"key"
    for member, value in (("iterations", float("inf")), ("iterations", 1000.0), ("salt", None), ("nonce", 12)):
        with pytest.raises(ValueError):
            gm.password_open({**sealed, member: value}, "pw", b"aad")
    with pytest.raises(ValueError):
        gm.password_open({k: v for k, v in sealed.items() if k != "ciphertext"}, "pw", b"aad")
