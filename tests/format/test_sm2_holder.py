"""SM2 holder keys (the GM suite): the ``cnf`` claim names an SM2 key, the resident signs presentations with it,
the presentation's hash is SM3; and what sm-crypto (the resident page's library) signs verifies here."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from crossverify import Certificate, HashAlgorithm, gm, salt_document, seal_batch
from crossverify.errors import HolderKeyError
from crossverify.format.bundle import Bundle
from crossverify.format.holder import (
    SM2HolderKey,
    SM2HolderPrivateKey,
    holder_claim,
    holder_verify,
    key_from_claim,
    key_from_jwk,
    public_jwk,
)
from crossverify.format.presentation import Challenge, Presentation, load_presentation, present
from tests.format.test_presentation import HEADER, NOW, REGISTRY

ROOT = Path(__file__).resolve().parents[2]


def sm2_bundle(key: SM2HolderPrivateKey) -> Bundle:
    claims = {"holder_name": "陳大文", "balance_mop": 125000, "cnf": holder_claim(key.public_key())}
    return seal_batch([salt_document(Certificate(HEADER, claims), HashAlgorithm.SM3)]).bundle(0, 1337, REGISTRY)


def test_an_sm2_key_round_trips_as_a_jwk() -> None:
    key = SM2HolderPrivateKey.generate().public_key()
    jwk = public_jwk(key)
    assert jwk["crv"] == "SM2" and set(jwk) == {"kty", "crv", "x", "y"}
    assert key_from_jwk(jwk) == key
    assert key_from_claim(holder_claim(key)) == key


def test_an_sm2_jwk_off_the_curve_is_refused() -> None:
    jwk = public_jwk(SM2HolderPrivateKey.generate().public_key())
    y = bytearray(gm.public_key_of(SM2HolderPrivateKey.generate().raw)[32:])
    y[-1] ^= 1
    with pytest.raises(HolderKeyError, match="SM2 curve"):
        key_from_jwk({**jwk, "y": base64.urlsafe_b64encode(bytes(y)).rstrip(b"=").decode()})
    with pytest.raises(HolderKeyError):
        key_from_jwk({**jwk, "crv": "SM9"})
    with pytest.raises(HolderKeyError):
        SM2HolderPrivateKey(bytes(32))


def test_an_sm2_presentation_verifies_and_hashes_with_sm3() -> None:
    key = SM2HolderPrivateKey.generate()
    bundle = sm2_bundle(key)
    p = present(bundle, Challenge.fresh("BANKCNBJ", "ACCTOPEN", NOW + 600), key, NOW)
    assert p.signed_by(key.public_key())
    assert not p.signed_by(SM2HolderPrivateKey.generate().public_key())
    signed = p.binding.signing_input(bundle.document_digest())
    assert p.hash() == gm.sm3(signed)
    again = load_presentation(p.dumps())
    assert again.signed_by(key.public_key()) and again.holder_key() == key.public_key()
    with pytest.raises(HolderKeyError, match="another holder key"):
        present(bundle, Challenge.fresh("BANKCNBJ", "ACCTOPEN", NOW + 600), SM2HolderPrivateKey.generate(), NOW)


def test_what_sm_crypto_signs_for_the_page_verifies() -> None:
    key = SM2HolderPrivateKey.generate()
    bundle = sm2_bundle(key)
    p = present(bundle, Challenge.fresh("BANKCNBJ", "ACCTOPEN", NOW + 600), key, NOW)
    signed = p.binding.signing_input(bundle.document_digest())
    script = """
        const sm2 = require("sm-crypto").sm2;
        const [priv, msg] = JSON.parse(process.argv[1]);
        process.stdout.write(sm2.doSignature(Array.from(Buffer.from(msg, "hex")), priv, {hash: true}));
    """
    run = subprocess.run(["node", "-e", script, json.dumps([key.raw.hex(), signed.hex()])], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    signature = bytes.fromhex(run.stdout)
    assert holder_verify(key.public_key(), signature, signed)
    assert Presentation(p.bundle, p.binding, signature).signed_by(key.public_key())


def test_sm2_holder_keys_are_not_p256_keys() -> None:
    with pytest.raises(HolderKeyError):
        SM2HolderKey(bytes(64))
