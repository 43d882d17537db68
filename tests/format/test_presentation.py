"""Holder keys, challenges and presentations as files: strict reading, a named error for every fault."""

from __future__ import annotations

import base64
import copy
import json
import pickle
from dataclasses import replace
from functools import partial
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossverify import Certificate, DocumentHeader, HashAlgorithm, load_bundle, salt_document, seal_batch
from crossverify.errors import (
    BundleError,
    BundleTooLarge,
    ChallengeError,
    DuplicateKey,
    HolderKeyError,
    InvalidClaim,
    InvalidHex,
    InvalidLength,
    InvalidValue,
    MalformedBundle,
    MissingMember,
    PresentationError,
    ProofTooShort,
    UnexpectedMember,
    UnsupportedVersion,
)
from crossverify.format.bundle import Bundle, bundle_from_json
from crossverify.format.holder import holder_claim, key_from_claim, key_from_jwk, public_jwk, verify_p1363
from crossverify.format.presentation import (
    MAX_LIFETIME,
    Challenge,
    load_challenge,
    load_document,
    load_presentation,
    looks_like_presentation,
    present,
)
from crossverify.keys.holder import generate_holder_key

NOW = 1_790_000_000
HEADER = DocumentHeader("DEPCERT", "BNUMMOMX", NOW, NOW - 86400, NOW + 86400 * 365)
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def bound_bundle(key: ec.EllipticCurvePrivateKey, **extra: Any) -> Bundle:
    claims = {"holder_name": "陳大文", "balance_mop": 125000, "cnf": holder_claim(key.public_key()), **extra}
    batch = seal_batch([salt_document(Certificate(HEADER, claims), HashAlgorithm.KECCAK256)])
    return batch.bundle(0, 1337, REGISTRY)


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return generate_holder_key()


@pytest.fixture
def presented(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    challenge = Challenge.fresh("ICBKCNBJGDG", "ACCTOPEN", NOW + 600)
    return present(bound_bundle(key).redact(["balance_mop"]), challenge, key, NOW).to_json()


def test_round_trip(key: ec.EllipticCurvePrivateKey, presented: dict[str, Any]) -> None:
    p = load_presentation(json.dumps(presented))
    assert p.to_json() == presented
    assert p.binding.disclosed == ("cnf", "holder_name")
    assert (p.binding.iat, p.binding.exp) == (NOW, NOW + 300)
    assert p.signed_by(key.public_key())
    assert looks_like_presentation(json.dumps(presented)) and not looks_like_presentation(p.bundle.dumps())
    assert len(p.hash()) == 32
    assert load_document(json.dumps(presented)) == p and load_document(p.bundle.dumps()) == p.bundle
    with pytest.raises(UnsupportedVersion):  # a presentation, read once as one
        load_document(json.dumps({**presented, "version": 2}))
    with pytest.raises(BundleTooLarge):
        load_document(json.dumps(presented), max_bytes=100)


def test_a_presentation_spelling_binding_with_escapes_is_read_as_one(presented: dict[str, Any]) -> None:
    """Any JSON spelling of a member name is that name: not taken for a bundle lacking its members."""
    text = json.dumps(presented).replace('"binding"', '"bindin\\u0067"')
    assert looks_like_presentation(text)
    assert load_document(text) == load_presentation(text)
    assert not looks_like_presentation(json.dumps({"claims": ["\u00e9"]}))


@pytest.mark.parametrize(("mutate", "error", "path"), [
    (lambda d: d.pop("signature"), MissingMember, ""),
    (lambda d: d.update(version=2), UnsupportedVersion, "/version"),
    (lambda d: d["binding"].update(extra=1), UnexpectedMember, "/binding/extra"),
    (lambda d: d["binding"].update(nonce="0x" + "AB" * 32), InvalidHex, "/binding/nonce"),
    (lambda d: d.update(signature="0x" + "00" * 63), InvalidLength, "/signature"),
    (lambda d: d["binding"].update(aud="icbc"), InvalidValue, "/binding/aud"),
    (lambda d: d["binding"].update(purpose="ACCOUNT-OPENING"), InvalidValue, "/binding/purpose"),
    (lambda d: d["binding"].update(iat=True), InvalidValue, "/binding/iat"),
    (lambda d: d["binding"].update(disclosed=["holder_name", "cnf"]), PresentationError, "/binding/disclosed"),
    (lambda d: d["binding"].update(disclosed=["cnf", "cnf"]), PresentationError, "/binding/disclosed"),
    (lambda d: d["binding"].update(exp=d["binding"]["iat"]), PresentationError, "/binding/exp"),
    (lambda d: d["binding"].update(exp=d["binding"]["iat"] + MAX_LIFETIME + 1), PresentationError, "/binding/exp"),
    (lambda d: d["bundle"]["proof"].update(path=[]), ProofTooShort, "/bundle/proof/path"),
    (lambda d: d["bundle"].pop("anchor"), MissingMember, "/bundle"),
])
def test_every_fault_is_named(presented: dict[str, Any], mutate: Any, error: type[Exception], path: str) -> None:
    mutate(presented)
    with pytest.raises(error) as caught:
        load_presentation(json.dumps(presented))
    assert caught.value.path == path  # type: ignore[attr-defined]
    assert f"(at {path or 'the top level'})" in str(caught.value)


def test_not_json_and_duplicate_members(presented: dict[str, Any]) -> None:
    with pytest.raises(MalformedBundle):
        load_presentation(b"\xff")
    with pytest.raises(MalformedBundle):
        load_presentation("[]")
    text = json.dumps(presented)
    with pytest.raises(DuplicateKey):
        load_presentation(text.replace('"aud":', '"aud": "X", "aud":', 1))


def test_challenges_round_trip_and_refuse_faults() -> None:
    challenge = Challenge.fresh("ICBKCNBJGDG", "ACCTOPEN", NOW)
    assert load_challenge(challenge.dumps()) == challenge
    for bad in ("", "{}", challenge.dumps().replace("ACCTOPEN", "acct"), challenge.dumps()[:-1] + ',"x":1}'):
        with pytest.raises(ChallengeError):
            load_challenge(bad)
    with pytest.raises(ChallengeError):
        Challenge("ICBKCNBJGDG", bytes(16), "ACCTOPEN", NOW)


def test_present_refuses_what_the_holder_cannot_sign(key: ec.EllipticCurvePrivateKey) -> None:
    challenge = Challenge.fresh("ICBKCNBJGDG", "ACCTOPEN", NOW + 600)
    with pytest.raises(HolderKeyError):
        present(bound_bundle(key), challenge, generate_holder_key(), NOW)  # another key
    with pytest.raises(HolderKeyError):
        present(bound_bundle(key).redact(["cnf"]), challenge, key, NOW)
    with pytest.raises(ChallengeError):
        present(bound_bundle(key), challenge, key, NOW + 600)  # the challenge expired
    with pytest.raises(ChallengeError):
        present(bound_bundle(key), challenge, key, NOW, lifetime=MAX_LIFETIME + 1)
    assert present(bound_bundle(key), challenge, key, NOW + 500).binding.exp == NOW + 600  # capped by the challenge


def test_holder_keys_are_strict_jwks(key: ec.EllipticCurvePrivateKey) -> None:
    jwk = public_jwk(key.public_key())
    assert key_from_jwk(jwk).public_numbers() == key.public_key().public_numbers()
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(HolderKeyError):
        public_jwk(p384)
    off_curve = {**jwk, "y": base64.urlsafe_b64encode(b"\x01" * 32).rstrip(b"=").decode()}
    for bad in ({**jwk, "crv": "P-384"}, {**jwk, "kid": "1"}, {**jwk, "x": jwk["x"] + "A"}, {**jwk, "x": 5},
                {**jwk, "x": "*" * 43}, off_curve, "jwk"):
        with pytest.raises(HolderKeyError):
            key_from_jwk(bad)
    with pytest.raises(HolderKeyError):
        key_from_claim({"jwk": jwk, "kid": "x"})
    with pytest.raises(InvalidClaim):  # an issuer cannot put anything but a holder key in the reserved claim
        Certificate(HEADER, {"cnf": "alice"})


def test_claim_values_cannot_change_once_a_bundle_holds_them(key: ec.EllipticCurvePrivateKey) -> None:
    """A bundle keeps the leaves it hashed while a reader checked its claims (a redacted bundle's disclosed leaves,
    hashed to tell them from the redacted ones), so its values are frozen: nobody can change one after it was
    hashed, however the bundle was read or made, and its digest stays the one its claims give."""
    made = bound_bundle(key, address={"lines": ["1 Rua do Campo"], "city": "Macau"}).redact(["balance_mop"])
    for bundle in (load_bundle(made.dumps()), bundle_from_json(json.loads(made.dumps())), made):
        digest = bundle.document_digest()
        cnf, address = bundle.disclosed()["cnf"], bundle.disclosed()["address"]
        for change in (partial(cnf["jwk"].__setitem__, "x", "A" * 43), partial(cnf["jwk"].update, x="A" * 43),
                       partial(cnf.pop, "jwk"), partial(address["lines"].append, "2/F"),
                       partial(address["lines"].__setitem__, 0, "2 Rua"), address.clear):
            with pytest.raises(TypeError, match="cannot change"):
                change()
        assert bundle.document_digest() == digest == made.document_digest() and bundle.leads_to_root()
        assert copy.deepcopy(bundle) == bundle == pickle.loads(pickle.dumps(bundle))
        assert json.loads(bundle.dumps()) == json.loads(made.dumps())
    own = json.loads(json.dumps(cnf))  # a copy is the caller's own to change
    own["jwk"]["x"] = "A" * 43
    assert cnf != own


def test_binding_is_a_property_of_the_certificate(key: ec.EllipticCurvePrivateKey) -> None:
    """A certificate naming its holder's key is marked bound in its header, inside the digest: the flag cannot be
    dropped, by redaction or by editing the file, without the bundle leading to another root."""
    bundle = bound_bundle(key)
    assert bundle.header.holder_bound and bundle.to_json()["document"]["holderBound"] is True
    assert b'"holderBound":true' in bundle.header.canonical()
    redacted = bundle.redact(["cnf"])
    assert redacted.header.holder_bound and redacted.leads_to_root()
    unflagged = replace(bundle, header=replace(bundle.header, holder_bound=False))
    assert not unflagged.leads_to_root()
    text = bundle.to_json()
    del text["document"]["holderBound"]
    assert not load_bundle(json.dumps(text)).leads_to_root()
    plain = Certificate(HEADER, {"holder_name": "LEI Ka Ian"})
    assert not plain.header.holder_bound and "holderBound" not in plain.header.as_json()
    with pytest.raises(InvalidClaim, match="names its holder's key"):
        Certificate(replace(HEADER, holder_bound=True), {"holder_name": "LEI Ka Ian"})
    with pytest.raises(InvalidClaim):
        DocumentHeader("DEPCERT", "BNUMMOMX", NOW, NOW, NOW, 1)  # type: ignore[arg-type]


def test_signatures_are_p1363_and_reject_junk(key: ec.EllipticCurvePrivateKey, presented: dict[str, Any]) -> None:
    p = load_presentation(json.dumps(presented))
    message = p.binding.signing_input(p.bundle.document_digest())
    assert verify_p1363(key.public_key(), p.signature, message)
    assert not verify_p1363(key.public_key(), bytes(64), message)
    assert not verify_p1363(key.public_key(), p.signature[:32] + bytes(32), message)
    assert not verify_p1363(key.public_key(), p.signature + b"\0", message)
    assert not verify_p1363(key.public_key(), p.signature, message + b" ")


def test_a_batch_root_is_never_a_document_digest(key: ec.EllipticCurvePrivateKey) -> None:
    document = salt_document(Certificate(HEADER, {"holder_name": "LEI Ka Ian"}), HashAlgorithm.SHA256)
    batch = seal_batch([document], HashAlgorithm.SHA256)
    assert batch.leaf_count == 2 and batch.root != document.digest
    bundle = batch.bundle(0, 1337, REGISTRY)
    assert bundle.leads_to_root() and bundle.proof.leaf_count == 2 and len(bundle.proof.path) == 1
    assert seal_batch([document], HashAlgorithm.SHA256).root == batch.root  # rebuilt from the journal alike
    twin = salt_document(Certificate(HEADER, {"holder_name": "LEI Ka Ian"}), HashAlgorithm.SHA256)
    assert seal_batch([twin], HashAlgorithm.SHA256).tree.levels[0][1] != batch.tree.levels[0][1]  # salted decoy
    pair = seal_batch([document, twin], HashAlgorithm.SHA256)
    assert pair.leaf_count == 2 and pair.root not in (document.digest, twin.digest)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mangled_presentations_fail_by_name(presented: dict[str, Any], data: st.DataObject) -> None:
    """Flipped, cut or inserted bytes anywhere: a presentation loads, or fails with a named BundleError."""
    raw = bytearray(json.dumps(presented, ensure_ascii=False).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            raw[at] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del raw[at:at + data.draw(st.integers(1, 64))]
        else:
            raw[at:at] = data.draw(st.sampled_from([b"{", b"[", b'"', b"\\u0000", b"1e999", b',"x":1', b"\xff"]))
    try:
        p = load_presentation(bytes(raw))
    except BundleError:
        return
    assert p.binding.iat < p.binding.exp
