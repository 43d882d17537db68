"""The GM suite's verifier contracts. SM3 and SM2 in EVM code (SM2Verifier) against the standards' examples,
against signatures made by two independent libraries (Tongsuo from Python, sm-crypto under Node.js), over random
keys and messages, and against every malformed input; and the FISCO BCOS adapter (SM2PrecompileVerifier)
against a stand-in for the chain's precompile, in both of the chain's modes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import Web3

from crossverify import gm
from crossverify.chain.registry import artifact, deploy_contract, registry_errors
from crossverify.errors import SM2PrecompileFailed
from tests.fisco import fisco_chain

ROOT = Path(__file__).resolve().parents[2]

# GM/T 0003.5-2012 (GB/T 32918.5-2017), Annex A: a signature on the recommended curve.
EXAMPLE_PRIVATE = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
EXAMPLE_PUBLIC = bytes.fromhex(
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13")
EXAMPLE_Z = bytes.fromhex("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3")
EXAMPLE_MESSAGE = b"message digest"
EXAMPLE_E = bytes.fromhex("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640")
EXAMPLE_SIGNATURE = bytes.fromhex(
    "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA")

# GB/T 32905-2016, Annex A.
SM3_EXAMPLES = [
    (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
]


def _contract(w3: Web3, name: str, args: list[Any] | None = None) -> Any:
    address = deploy_contract(w3, name, args or [], w3.eth.accounts[0], {})
    return w3.eth.contract(address=address, abi=artifact(name)["abi"])


@pytest.fixture(scope="module")
def verifier(w3: Web3) -> Any:
    return _contract(w3, "SM2Verifier")


def _verify(contract: Any, public_key: bytes, message: bytes, signature: bytes) -> bool:
    z = gm.identity_digest(public_key) if gm.is_public_key(public_key) else bytes(32)
    return bool(contract.functions.verify(z, message, signature[:32], signature[32:], public_key[:32],
                                          public_key[32:]).call())


@pytest.mark.parametrize(("message", "digest"), SM3_EXAMPLES)
def test_sm3_matches_the_standard_examples(verifier: Any, message: bytes, digest: str) -> None:
    assert verifier.functions.sm3(message).call().hex() == digest


@pytest.mark.parametrize("length", [0, 1, 31, 32, 55, 56, 63, 64, 65, 119, 120, 128, 210, 1000])
def test_sm3_pads_every_length_at_the_block_boundaries(verifier: Any, length: int) -> None:
    message = os.urandom(length)
    assert verifier.functions.sm3(message).call() == gm.sm3(message)


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=300))
def test_sm3_agrees_with_openssl(verifier: Any, message: bytes) -> None:
    assert verifier.functions.sm3(message).call() == gm.sm3(message)


def test_the_standard_example_signature(verifier: Any) -> None:
    """Annex A's key, identity digest, message digest and signature, step by step."""
    assert gm.public_key_of(EXAMPLE_PRIVATE) == EXAMPLE_PUBLIC
    assert verifier.functions.identityDigest(EXAMPLE_PUBLIC[:32], EXAMPLE_PUBLIC[32:]).call() == EXAMPLE_Z
    assert gm.sm3(EXAMPLE_Z + EXAMPLE_MESSAGE) == EXAMPLE_E
    r, s, x, y = EXAMPLE_SIGNATURE[:32], EXAMPLE_SIGNATURE[32:], EXAMPLE_PUBLIC[:32], EXAMPLE_PUBLIC[32:]
    assert verifier.functions.verifyDigest(EXAMPLE_E, r, s, x, y).call()
    wrong_e = bytes([EXAMPLE_E[0] ^ 1]) + EXAMPLE_E[1:]
    assert not verifier.functions.verifyDigest(wrong_e, r, s, x, y).call()
    assert gm.verify(EXAMPLE_PUBLIC, EXAMPLE_MESSAGE, EXAMPLE_SIGNATURE)


private_keys = st.integers(min_value=1, max_value=gm.N - 2).map(lambda d: d.to_bytes(32, "big"))


@settings(max_examples=15, deadline=None)
@given(private_keys, st.binary(min_size=32, max_size=32), st.integers(min_value=0, max_value=255))
def test_tongsuo_signatures_verify_and_any_change_breaks_them(
        verifier: Any, private_key: bytes, message: bytes, bit: int) -> None:
    public_key = gm.public_key_of(private_key)
    signature = gm.sign(private_key, message)
    assert _verify(verifier, public_key, message, signature)
    flipped = (int.from_bytes(message, "big") ^ (1 << bit)).to_bytes(32, "big")
    assert not _verify(verifier, public_key, flipped, signature)
    assert not _verify(verifier, public_key, message, signature[:32] + _bump(signature[32:]))
    assert not _verify(verifier, gm.public_key_of(_bump(private_key)), message, signature)


def _bump(value: bytes) -> bytes:
    return ((int.from_bytes(value, "big") % (gm.N - 2)) + 1).to_bytes(32, "big")


def test_sm_crypto_signatures_verify(verifier: Any) -> None:
    """sm-crypto (the resident page's library) signs under Node.js; the contract and Tongsuo agree."""
    messages = [os.urandom(32).hex() for _ in range(6)]
    script = """
        const sm2 = require("sm-crypto").sm2;
        const out = JSON.parse(process.argv[1]).map((m) => {
          const keys = sm2.generateKeyPairHex();
          const bytes = Array.from(Buffer.from(m, "hex"));
          return {m, pub: keys.publicKey, sig: sm2.doSignature(bytes, keys.privateKey, {hash: true})};
        });
        process.stdout.write(JSON.stringify(out));
    """
    run = subprocess.run(["node", "-e", script, json.dumps(messages)], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    for case in json.loads(run.stdout):
        public_key, message, signature = bytes.fromhex(case["pub"])[1:], bytes.fromhex(case["m"]), \
            bytes.fromhex(case["sig"])
        assert _verify(verifier, public_key, message, signature)
        assert gm.verify(public_key, message, signature)
        assert not _verify(verifier, public_key, bytes(32), signature)


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5, 6, 9, gm.N - 2, gm.N - 3, gm.N - 4, gm.N - 7])
def test_keys_that_are_small_multiples_of_the_generator(verifier: Any, d: int) -> None:
    """[i]G + [j]Q with Q = ±kG lands on doublings and on the point at infinity while the contract builds its
    table: the special cases of its additions are all taken."""
    private_key = d.to_bytes(32, "big")
    public_key, message = gm.public_key_of(private_key), os.urandom(32)
    assert _verify(verifier, public_key, message, gm.sign(private_key, message))
    assert not _verify(verifier, public_key, os.urandom(32), gm.sign(private_key, message))


def _malformed(public_key: bytes, signature: bytes) -> list[tuple[str, bytes, bytes]]:
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    x, y = int.from_bytes(public_key[:32], "big"), int.from_bytes(public_key[32:], "big")
    b32 = lambda i: i.to_bytes(32, "big")  # noqa: E731
    return [
        ("r is 0", public_key, b32(0) + b32(s)),
        ("s is 0", public_key, b32(r) + b32(0)),
        ("r is n", public_key, b32(gm.N) + b32(s)),
        ("s is n", public_key, b32(r) + b32(gm.N)),
        ("r is n + r", public_key, b32(r + gm.N) + b32(s)) if r + gm.N < 2**256 else ("r is max", public_key,
                                                                                        b32(2**256 - 1) + b32(s)),
        ("s is 2^256 - 1", public_key, b32(r) + b32(2**256 - 1)),
        ("r + s is n", public_key, b32(r) + b32(gm.N - r)),
        ("the key is the point at infinity", bytes(64), signature),
        ("the key is off the curve", b32(x) + b32((y + 1) % gm.P), signature),
        ("the key's x is p + x", b32(x + gm.P) + b32(y) if x + gm.P < 2**256 else b32(gm.P) + b32(y), signature),
        ("the key's y is p + y", b32(x) + b32(y + gm.P) if y + gm.P < 2**256 else b32(x) + b32(gm.P), signature),
        ("the key's coordinates swapped", b32(y) + b32(x), signature),
        ("the key negated", b32(x) + b32(gm.P - y), signature),
        ("the generator", b32(gm.GX) + b32(gm.GY), signature),
    ]


def test_every_malformed_input_is_refused_without_reverting(verifier: Any) -> None:
    private_key = gm.generate_private_key()
    public_key, message = gm.public_key_of(private_key), os.urandom(32)
    signature = gm.sign(private_key, message)
    assert _verify(verifier, public_key, message, signature)
    for name, key, sig in _malformed(public_key, signature):
        assert not _verify(verifier, key, message, sig), name
        assert not gm.verify(key, message, sig), name


def test_gas_of_one_verification(verifier: Any) -> None:
    """e = SM3(Z || M) and the curve arithmetic for one signature: what an SM2-signed anchor adds."""
    private_key = gm.generate_private_key()
    public_key, message = gm.public_key_of(private_key), os.urandom(32)
    signature = gm.sign(private_key, message)
    gas = verifier.functions.verify(gm.identity_digest(public_key), message, signature[:32], signature[32:],
                                    public_key[:32], public_key[32:]).estimate_gas()
    assert gas < 265_000  # with the 21,000 of a transaction and its calldata


@pytest.fixture(scope="module", params=[True, False], ids=["national-cryptography mode", "standard mode"])
def precompile_verifier(request: pytest.FixtureRequest) -> Any:
    return _contract(fisco_chain(request.param), "SM2PrecompileVerifier", [request.param])


def test_the_precompile_adapter_verifies_what_the_evm_code_verifies(precompile_verifier: Any) -> None:
    contract = precompile_verifier
    assert contract.functions.sm3(b"abc").call().hex() == SM3_EXAMPLES[0][1]
    assert contract.functions.identityDigest(EXAMPLE_PUBLIC[:32], EXAMPLE_PUBLIC[32:]).call() == EXAMPLE_Z
    private_key = gm.generate_private_key()
    public_key, message = gm.public_key_of(private_key), os.urandom(32)
    signature = gm.sign(private_key, message)
    assert _verify(contract, public_key, message, signature)
    assert not _verify(contract, public_key, os.urandom(32), signature)
    for name, key, sig in _malformed(public_key, signature):
        assert not _verify(contract, key, message, sig), name
    gas = contract.functions.verify(gm.identity_digest(public_key), message, signature[:32], signature[32:],
                                    public_key[:32], public_key[32:]).estimate_gas()
    assert gas < 40_000


def test_the_precompile_adapter_fails_loudly_on_a_chain_without_the_precompile(w3: Web3) -> None:
    """On a chain with nothing at 0x100a the adapter names the failure instead of answering false."""
    contract = _contract(w3, "SM2PrecompileVerifier", [True])
    with pytest.raises(SM2PrecompileFailed), registry_errors():
        contract.functions.sm3(b"abc").call()
