"""Bundles: round trips, tamper evidence, redaction without the issuer."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossverify import Bundle, Certificate, Claim, HashAlgorithm, load_bundle, salt_document, seal_batch
from crossverify.errors import BundleError

from .strategies import certificates, hash_algs

REGISTRY = "0x" + "ab" * 20


def bundles_of(certs: list[Certificate], alg: HashAlgorithm) -> list[Bundle]:
    batch = seal_batch([salt_document(c, alg) for c in certs], alg)
    return [batch.bundle(i, 1, REGISTRY) for i in range(len(certs))]


def fails(bundle: Bundle) -> bool:
    """A bundle fails verification if it no longer leads to its root, or cannot even be loaded."""
    try:
        return not load_bundle(bundle.dumps()).leads_to_root()
    except BundleError:
        return True


batches = st.lists(certificates, min_size=1, max_size=6).map(
    lambda certs: [replace(c, header=certs[0].header) for c in certs])


@given(batches, hash_algs, st.data())
def test_build_load_round_trip(certs: list[Certificate], alg: HashAlgorithm, data: st.DataObject) -> None:
    bundle = data.draw(st.sampled_from(bundles_of(certs, alg)))
    loaded = load_bundle(bundle.dumps())
    assert loaded == bundle
    assert loaded.leads_to_root()
    assert loaded.disclosed() == dict(certs[bundle.proof.index].claims)


@given(batches, hash_algs, st.data())
def test_any_redaction_subset_still_verifies(certs: list[Certificate], alg: HashAlgorithm, data: st.DataObject) -> None:
    bundle = data.draw(st.sampled_from(bundles_of(certs, alg)))
    names = data.draw(st.sets(st.sampled_from(sorted(bundle.disclosed()))))
    redacted = load_bundle(bundle.redact(names).dumps())
    assert redacted.leads_to_root()
    assert redacted.document_digest() == bundle.document_digest()
    assert set(redacted.disclosed()) == set(bundle.disclosed()) - names
    assert redacted.redacted_count == len(names)


def _flip(raw: bytes, bit: int) -> bytes:
    out = bytearray(raw)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])  # batches of certificates are big draws
@given(batches, hash_algs, st.data())
def test_any_single_change_fails(certs: list[Certificate], alg: HashAlgorithm, data: st.DataObject) -> None:
    bundle = data.draw(st.sampled_from(bundles_of(certs, alg)))
    bit = data.draw(st.integers(0, 255))
    target = data.draw(st.sampled_from(["salt", "value", "name", "path", "root", "index", "header", "leaf"]))
    claims = list(bundle.claims)
    i = data.draw(st.integers(0, len(claims) - 1))
    claim = claims[i]
    assert isinstance(claim, Claim)
    proof = bundle.proof
    if target == "salt":
        claims[i] = replace(claim, salt=_flip(claim.salt, bit))
    elif target == "value":
        claims[i] = replace(claim, value=_changed(claim.value, bit))
    elif target == "name":
        claims[i] = replace(claim, name=claim.name + "\u200b")
    elif target == "leaf":
        claims[i] = bundle.redact([claim.name]).claims[i]
        claims[i] = replace(claims[i], leaf_hash=_flip(claims[i].leaf_hash, bit))  # type: ignore[call-arg]
    elif target == "path" and proof.path:
        step = data.draw(st.integers(0, len(proof.path) - 1))
        path = list(proof.path)
        path[step] = _flip(path[step], bit)
        proof = replace(proof, path=tuple(path))
    elif target == "root":
        proof = replace(proof, batch_root=_flip(proof.batch_root, bit))
    elif target == "index" and proof.leaf_count > 1:
        proof = replace(proof, index=(proof.index + 1 + bit % (proof.leaf_count - 1)) % proof.leaf_count)
    elif target == "header":
        bundle = replace(bundle, header=replace(bundle.header, as_of=bundle.header.as_of ^ (1 << (bit % 40))))
    else:
        return  # a single-document batch has no path or other index to change
    assert fails(replace(bundle, claims=tuple(claims), proof=proof))


def _changed(value: object, bit: int) -> object:
    """A different JSON value of the same kind where there is one."""
    if isinstance(value, str):
        return value + "x" if not value else value[:-1] + chr((ord(value[-1]) ^ 1) or 0x41)
    if isinstance(value, bool) or value is None:
        return not value
    if isinstance(value, int):
        return value ^ 1
    if isinstance(value, float):
        return value + 1.0 if abs(value) < 1e15 else value / 2
    if isinstance(value, list):
        return [*value, bit]
    return {**value, "\u0000changed": bit}  # type: ignore[dict-item]
