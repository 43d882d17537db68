"""The registry of a GM-suite deployment: its suite fixed at deployment and readable on chain, SM2 signing keys
registered with their proof of possession, anchors and revocations signed with SM2 (Tongsuo, from Python) and
verified on chain through the EVM verifier or FISCO BCOS's precompile (the stand-in of tests/fisco.py), and every
entry point of the other suite refused by name."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from web3 import Web3

from crossverify import errors, gm
from crossverify.chain.records import ProposalKind, RevocationReason
from crossverify.chain.registry import deploy_contract
from crossverify.chain.typed_data import Domain, KeyProof, RevocationRequest, gm_key_proof, sign_gm
from crossverify.format.codes import issuer_id_code
from crossverify.format.suite import Suite
from crossverify.keys.sm2 import LocalSM2Key
from tests.fisco import fisco_chain

from ..conftest import Consortium, add_key, admission, deploy_gm_consortium, labelled_test_key, sm2_signature
from .helpers import only_event

ROOT = Web3.keccak(text="GM batch")
OTHER_ROOT = Web3.keccak(text="another GM batch")
DOC = Web3.keccak(text="GM document")
ZERO = bytes(32)
#: The issue's budget for a relayed SM2 anchor on the EVM (docs/benchmarks.md measures it beside secp256k1's).
SM2_ANCHOR_GAS = 400_000


def _key(label: str) -> LocalSM2Key:
    return LocalSM2Key.labelled(f"crossverify test key: {label}")


def _sm2_key(c: Consortium) -> LocalSM2Key:
    assert c.sm2_key is not None
    return c.sm2_key


def _revocation(c: Consortium, root: bytes = ZERO, digest: bytes = ZERO,
                reason: RevocationReason = RevocationReason.FRAUD) -> RevocationRequest:
    return RevocationRequest(root, digest, int(reason), c.now() + 3600)


def _revoke(c: Consortium, request: RevocationRequest, signature: tuple[bytes, bytes, str]) -> Any:
    return c.registry.transact(lambda f: f.revokeBySM2Signature(request.as_abi(), signature), c.macao_operator)


# ------------------------------------------------------------------------------------------------------------
# The suite, on chain
# ------------------------------------------------------------------------------------------------------------


def test_the_suite_is_fixed_at_deployment_and_readable(gm_consortium: Consortium, consortium: Consortium) -> None:
    gm_registry, standard = gm_consortium.registry, consortium.registry
    assert gm_registry.call(lambda f: f.cryptoSuite()) == 2 and gm_registry.crypto_suite() is Suite.GM
    assert standard.call(lambda f: f.cryptoSuite()) == 1 and standard.crypto_suite() is Suite.STANDARD
    verifier = gm_registry.call(lambda f: f.sm2Verifier())
    assert gm_consortium.w3.eth.get_code(verifier)
    assert standard.call(lambda f: f.sm2Verifier()) == "0x" + "00" * 20


@pytest.mark.parametrize(("suite", "with_verifier"), [(0, False), (3, True), (2, False), (1, True)],
                         ids=["no suite", "unknown suite", "GM without a verifier", "standard with a verifier"])
def test_a_registry_is_deployed_with_one_suite_and_its_verifier(
        consortium: Consortium, suite: int, with_verifier: bool) -> None:
    c = consortium
    verifier = c.registry.address if with_verifier else "0x" + "00" * 20
    with pytest.raises(errors.RegistryInvalidSuite):
        deploy_contract(c.w3, "RegistryGovernance", [c.consortium.address, suite, verifier], c.outsider, {})


def test_the_other_suites_entry_points_are_refused_by_name(gm_consortium: Consortium, consortium: Consortium) -> None:
    """A GM registry refuses secp256k1 keys, anchors and revocations; a standard one refuses SM2's."""
    g, s = gm_consortium, consortium
    key = labelled_test_key("a secp256k1 key in a GM deployment")
    request = g.anchor_request(ROOT)
    compact = (bytes(32), bytes(32))
    revocation = _revocation(g, digest=DOC)
    for call in (lambda f: f.addSigningKey(g.issuer_id, key.address, compact),
                 lambda f: f.anchor(request.as_abi(), compact),
                 lambda f: f.anchorMany([request.as_abi()], [compact]),
                 lambda f: f.revokeBySignature(revocation.as_abi(), compact)):
        with pytest.raises(errors.RegistrySuiteMismatch) as raised:
            g.registry.transact(call, g.issuer_admin)
        assert raised.value.args_by_name == {"suite": 2}

    sm2_key = _key("an SM2 key in a standard deployment")
    x, y = sm2_key.public_key[:32], sm2_key.public_key[32:]
    sm2 = (bytes(32), bytes(32), sm2_key.address)
    for call in (lambda f: f.addSM2SigningKey(s.issuer_id, x, y, sm2),
                 lambda f: f.anchorSM2(request.as_abi(), sm2),
                 lambda f: f.anchorManySM2([request.as_abi()], [sm2]),
                 lambda f: f.revokeBySM2Signature(revocation.as_abi(), sm2)):
        with pytest.raises(errors.RegistrySuiteMismatch) as raised:
            s.registry.transact(call, s.issuer_admin)
        assert raised.value.args_by_name == {"suite": 1}


# ------------------------------------------------------------------------------------------------------------
# SM2 signing keys
# ------------------------------------------------------------------------------------------------------------


def test_an_sm2_key_joins_with_its_proof_of_possession(gm_consortium: Consortium) -> None:
    c, reg = gm_consortium, gm_consortium.registry
    key = _key("BNU SM2 signing key 2")
    receipt = add_key(c, "BNUMMOMX", c.issuer_admin, key)
    assert only_event(reg, receipt, "SigningKeyAdded") == {"issuerId": c.issuer_id, "key": key.address,
                                                           "actor": c.issuer_admin}
    assert reg.call(lambda f: f.issuerKeys(c.issuer_id)) == [_sm2_key(c).address, key.address]
    assert reg.call(lambda f: f.sm2PublicKey(key.address)) == [key.public_key[:32], key.public_key[32:]]
    assert reg.call(lambda f: f.sm2PublicKey(c.outsider)) == [ZERO, ZERO]
    c.anchor(ROOT, signer=key)
    assert reg.document_status(c.issuer_id, ROOT, ZERO).signing_key == key.address


def test_sm2_key_proofs_that_are_refused(gm_consortium: Consortium) -> None:
    """Only the key itself proves possession, for this issuer and this registry, under the key's own address:
    nobody registers another institution's key first, or a key it cannot sign with."""
    c, reg = gm_consortium, gm_consortium.registry
    key, stranger = _key("BNU SM2 signing key 2"), _key("someone else's SM2 key")
    x, y = key.public_key[:32], key.public_key[32:]

    def add(proof: bytes, named: str = key.address, public: tuple[bytes, bytes] = (x, y),
            issuer: bytes = c.issuer_id, admin: str = c.issuer_admin) -> Any:
        return reg.transact(lambda f: f.addSM2SigningKey(issuer, *public, (proof[:32], proof[32:], named)), admin)

    # Signed by another key, over the right message.
    with pytest.raises(errors.RegistryInvalidKeyProof):
        add(sign_gm(_proof_of(c, key), c.domain, stranger))
    # A proof for another issuer, or for another registry.
    with pytest.raises(errors.RegistryInvalidKeyProof):
        add(gm_key_proof(issuer_id_code("ICBKMOMX"), key, c.domain))
    elsewhere = Domain(c.domain.name, c.domain.version, c.domain.chain_id, c.outsider)
    with pytest.raises(errors.RegistryInvalidKeyProof):
        add(gm_key_proof(c.issuer_id, key, elsewhere))
    # A proof naming another address than the public key's.
    with pytest.raises(errors.RegistryInvalidKeyProof):
        add(gm_key_proof(c.issuer_id, key, c.domain), named=stranger.address)
    # A public key that is not a point of the curve.
    with pytest.raises(errors.RegistryInvalidKeyProof):
        add(gm_key_proof(c.issuer_id, key, c.domain), public=(x, (int.from_bytes(y, "big") ^ 1).to_bytes(32, "big")))
    # Not the issuer's admin; a key already registered.
    with pytest.raises(errors.RegistryNotIssuerAdmin):
        add(gm_key_proof(c.issuer_id, key, c.domain), admin=c.outsider)
    registered = _sm2_key(c)
    with pytest.raises(errors.RegistryKeyExists):
        add(gm_key_proof(c.issuer_id, registered, c.domain), named=registered.address,
            public=(registered.public_key[:32], registered.public_key[32:]))
    assert reg.call(lambda f: f.issuerKeys(c.issuer_id)) == [registered.address]
    assert reg.call(lambda f: f.sm2PublicKey(key.address)) == [ZERO, ZERO]


def test_another_issuers_admin_cannot_claim_a_key_with_its_proof(gm_consortium: Consortium) -> None:
    """A proof seen in the mempool names its issuer: submitted by another issuer's admin, it fails."""
    c = gm_consortium
    c.govern(ProposalKind.ADMIT_ISSUER, *admission("ICBKMOMX", c.outsider, ["DEPCERT"]))
    key = _key("BNU SM2 signing key 2")
    proof = gm_key_proof(c.issuer_id, key, c.domain)
    x, y = key.public_key[:32], key.public_key[32:]
    other = issuer_id_code("ICBKMOMX")
    with pytest.raises(errors.RegistryInvalidKeyProof):
        c.registry.transact(lambda f: f.addSM2SigningKey(other, x, y, (proof[:32], proof[32:], key.address)),
                            c.outsider)
    add_key(c, "BNUMMOMX", c.issuer_admin, key)


def _proof_of(c: Consortium, key: LocalSM2Key) -> KeyProof:
    return KeyProof(c.issuer_id, key.address)


# ------------------------------------------------------------------------------------------------------------
# Anchors
# ------------------------------------------------------------------------------------------------------------


def test_an_sm2_signed_anchor_is_recorded_within_its_gas_budget(gm_consortium: Consortium) -> None:
    c, reg = gm_consortium, gm_consortium.registry
    receipt = c.anchor(ROOT, sender=c.macao_operator)
    assert only_event(reg, receipt, "BatchAnchored") == {
        "batchRoot": ROOT, "issuerId": c.issuer_id, "signingKey": _sm2_key(c).address, "docType": c.doc_type,
        "hashAlg": 3, "leafCount": 16, "notAfter": reg.document_status(c.issuer_id, ROOT, ZERO).not_after}
    status = reg.document_status(c.issuer_id, ROOT, DOC)
    assert status.anchored and status.hash_alg == 3 and status.signing_key == _sm2_key(c).address
    assert receipt["gasUsed"] <= SM2_ANCHOR_GAS
    with pytest.raises(errors.RegistryRootAlreadyAnchored):
        c.anchor(ROOT)


def test_sm2_anchors_that_are_refused(gm_consortium: Consortium) -> None:
    c = gm_consortium
    key = _sm2_key(c)
    request = c.anchor_request(ROOT)
    signature = sign_gm(request, c.domain, key)

    def anchor(signed: tuple[bytes, bytes, str], req: Any = request) -> Any:
        return c.registry.transact(lambda f: f.anchorSM2(req.as_abi(), signed), c.macao_operator)

    # A batch tree of another hash than SM3.
    keccak_tree = c.anchor_request(ROOT, hash_alg=1)
    with pytest.raises(errors.RegistryUnknownHashAlgorithm):
        anchor(sm2_signature(keccak_tree, c.domain, key), keccak_tree)
    # The signature over another root, another chain, another registry.
    tampered = c.anchor_request(OTHER_ROOT, not_after=request.not_after, deadline=request.deadline)
    with pytest.raises(errors.RegistryInvalidSM2Signature) as raised:
        anchor((signature[:32], signature[32:], key.address), tampered)
    assert raised.value.args_by_name == {"key": key.address}
    for domain in (Domain(c.domain.name, c.domain.version, c.domain.chain_id + 1, c.domain.verifying_contract),
                   Domain(c.domain.name, c.domain.version, c.domain.chain_id, c.outsider)):
        with pytest.raises(errors.RegistryInvalidSM2Signature):
            anchor(sm2_signature(request, domain, key))
    # Made by another key than the one it names; by a key no issuer holds.
    stranger = _key("an SM2 key no issuer holds")
    with pytest.raises(errors.RegistryInvalidSM2Signature):
        anchor((*_split(sign_gm(request, c.domain, stranger)), key.address))
    with pytest.raises(errors.RegistryUnknownKey):
        anchor(sm2_signature(request, c.domain, stranger))
    # Malformed values: r or s zero, n, or beyond.
    for r, s in ((0, 1), (1, 0), (gm.N, 1), (1, gm.N), (2**256 - 1, 1)):
        with pytest.raises(errors.RegistryInvalidSM2Signature):
            anchor((r.to_bytes(32, "big"), s.to_bytes(32, "big"), key.address))
    assert not c.registry.document_status(c.issuer_id, ROOT, ZERO).anchored
    anchor((signature[:32], signature[32:], key.address))


def test_an_sm2_key_follows_the_same_lifecycle(gm_consortium: Consortium) -> None:
    """Retired, compromised, its issuer suspended, its requests cancelled: the rules of every key."""
    c, reg = gm_consortium, gm_consortium.registry
    key = _sm2_key(c)
    c.anchor(ROOT)
    request = c.anchor_request(OTHER_ROOT)
    signed = sm2_signature(request, c.domain, key)
    reg.transact(lambda f: f.cancelSignedRequests(c.issuer_id, request.deadline), c.issuer_admin)
    with pytest.raises(errors.RegistrySignatureCancelled):
        reg.transact(lambda f: f.anchorSM2(request.as_abi(), signed), c.macao_operator)
    later = c.anchor_request(OTHER_ROOT, deadline=request.deadline + 1)
    reg.transact(lambda f: f.markKeyCompromised(key.address, c.now()), c.issuer_admin)
    with pytest.raises(errors.RegistryKeyCompromised):
        reg.transact(lambda f: f.anchorSM2(later.as_abi(), sm2_signature(later, c.domain, key)), c.macao_operator)
    assert reg.document_status(c.issuer_id, ROOT, ZERO).key_compromised_from

    fresh = _key("BNU SM2 signing key 2")
    add_key(c, "BNUMMOMX", c.issuer_admin, fresh)
    reg.transact(lambda f: f.retireSigningKey(fresh.address), c.issuer_admin)
    with pytest.raises(errors.RegistryKeyRetired):
        c.anchor(OTHER_ROOT, signer=fresh, deadline=later.deadline)


def test_many_sm2_anchors_in_one_transaction(gm_consortium: Consortium) -> None:
    c, reg = gm_consortium, gm_consortium.registry
    key = _sm2_key(c)
    requests = [c.anchor_request(Web3.keccak(text=f"GM batch {i}")) for i in range(3)]
    signatures = [sm2_signature(r, c.domain, key) for r in requests]
    reg.transact(lambda f: f.anchorManySM2([requests[0].as_abi()], [signatures[0]]), c.macao_operator)
    receipt = reg.transact(lambda f: f.anchorManySM2([r.as_abi() for r in requests], signatures), c.macao_operator)
    assert len([e for e in reg.decode_logs(receipt["logs"]) if e.name == "BatchAnchored"]) == 2  # one relayed first
    assert all(reg.document_status(c.issuer_id, r.batch_root, ZERO).anchored for r in requests)
    with pytest.raises(errors.RegistryLengthMismatch):
        reg.transact(lambda f: f.anchorManySM2([r.as_abi() for r in requests], signatures[:2]), c.macao_operator)
    fresh = [c.anchor_request(Web3.keccak(text=f"GM batch {i}")) for i in range(3, 6)]
    broken = [sm2_signature(r, c.domain, key) for r in fresh]
    broken[2] = (*broken[2][:2], c.outsider)
    with pytest.raises(errors.RegistryUnknownKey):
        reg.transact(lambda f: f.anchorManySM2([r.as_abi() for r in fresh], broken), c.macao_operator)
    assert not any(reg.document_status(c.issuer_id, r.batch_root, ZERO).anchored for r in fresh)


@contextmanager
def chain_id_changed(c: Consortium) -> Iterator[int]:
    """The embedded chain goes on under another chain id (as a fork of the consortium's chain would): the new id."""
    chain = c.w3.provider.ethereum_tester.backend.chain  # type: ignore[attr-defined]
    chain.chain_id = c.domain.chain_id + 1  # (py-evm gives each block's EVM the chain's id)
    try:
        yield chain.chain_id
    finally:
        del chain.chain_id


def test_sm2_requests_are_refused_on_a_chain_whose_id_changed(gm_consortium: Consortium) -> None:
    """The GM type prefixes are fixed at deployment with the chain's id: on a fork under another id, a request
    signed for the original chain must not replay, and one signed for the fork is not what the prefixes check."""
    c = gm_consortium
    key = _sm2_key(c)
    request = c.anchor_request(ROOT)

    def anchor(domain: Domain) -> Any:
        return c.registry.transact(lambda f: f.anchorSM2(request.as_abi(), sm2_signature(request, domain, key)),
                                   c.macao_operator)

    with chain_id_changed(c) as forked:
        for domain in (c.domain, Domain(c.domain.name, c.domain.version, forked, c.domain.verifying_contract)):
            with pytest.raises(errors.RegistryChainIdChanged) as raised:
                anchor(domain)
            assert raised.value.args_by_name == {"deployedOn": c.domain.chain_id, "chainId": forked}
        with pytest.raises(errors.CirculationChainIdChanged):
            c.circulation.transact(lambda f: f.answerDisputeSM2(ZERO, b"answer", ZERO, ZERO, ZERO, ZERO),
                                   c.macao_operator)
    assert not c.registry.document_status(c.issuer_id, ROOT, ZERO).anchored
    anchor(c.domain)  # on the chain it was deployed on
    assert c.registry.document_status(c.issuer_id, ROOT, ZERO).anchored


# ------------------------------------------------------------------------------------------------------------
# Revocations
# ------------------------------------------------------------------------------------------------------------


def test_sm2_signed_revocations(gm_consortium: Consortium) -> None:
    c, reg = gm_consortium, gm_consortium.registry
    key = _sm2_key(c)
    c.anchor(ROOT)
    request = _revocation(c, digest=DOC)
    receipt = _revoke(c, request, sm2_signature(request, c.domain, key))
    assert only_event(reg, receipt, "DocumentRevoked") == {
        "documentDigest": DOC, "issuerId": c.issuer_id, "actor": c.macao_operator,
        "reason": RevocationReason.FRAUD, "signingKey": key.address}
    record = reg.document_status(c.issuer_id, ROOT, DOC).document_revocation
    assert record.reason == RevocationReason.FRAUD and record.signing_key == key.address

    batch = _revocation(c, root=ROOT, reason=RevocationReason.WITHDRAWN)
    receipt = _revoke(c, batch, sm2_signature(batch, c.domain, key))
    assert only_event(reg, receipt, "BatchRevoked")["signingKey"] == key.address
    assert reg.document_status(c.issuer_id, ROOT, ZERO).batch_revocation.reason == RevocationReason.WITHDRAWN


def test_sm2_revocations_that_are_refused(gm_consortium: Consortium) -> None:
    c = gm_consortium
    key = _sm2_key(c)
    c.anchor(ROOT)
    request = _revocation(c, digest=DOC)
    other = RevocationRequest(ZERO, OTHER_ROOT, request.reason, request.deadline)
    with pytest.raises(errors.RegistryInvalidSM2Signature):  # signed for another document
        _revoke(c, other, sm2_signature(request, c.domain, key))
    with pytest.raises(errors.RegistryInvalidSM2Signature):  # an anchor's signature is no revocation's
        anchor_request = c.anchor_request(ROOT)
        _revoke(c, request, sm2_signature(anchor_request, c.domain, key))
    both = RevocationRequest(ROOT, DOC, request.reason, request.deadline)
    with pytest.raises(errors.RegistryInvalidRevocationTarget):
        _revoke(c, both, sm2_signature(both, c.domain, key))
    unknown = _revocation(c, root=OTHER_ROOT)
    with pytest.raises(errors.RegistryUnknownBatch):
        _revoke(c, unknown, sm2_signature(unknown, c.domain, key))
    assert c.registry.document_status(c.issuer_id, ROOT, DOC).document_revocation.reason == RevocationReason.NONE


def _split(signature: bytes) -> tuple[bytes, bytes]:
    return signature[:32], signature[32:]


# ------------------------------------------------------------------------------------------------------------
# FISCO BCOS: SM2 through the chain's precompile
# ------------------------------------------------------------------------------------------------------------


def test_a_gm_registry_on_fisco_bcos_verifies_through_the_precompile() -> None:
    """The whole registry path on a chain with SM2 built in (national-cryptography mode): keys, anchors,
    revocations, and the refusals."""
    national = True
    w3 = fisco_chain(national)
    adapter = deploy_contract(w3, "SM2PrecompileVerifier", [national], w3.eth.accounts[0], {})
    c = deploy_gm_consortium(w3, sm2_verifier=adapter)
    assert c.registry.call(lambda f: f.sm2Verifier()) == adapter
    receipt = c.anchor(ROOT)
    assert receipt["gasUsed"] < 150_000
    assert c.registry.document_status(c.issuer_id, ROOT, ZERO).signing_key == _sm2_key(c).address
    request = _revocation(c, digest=DOC)
    _revoke(c, request, sm2_signature(request, c.domain, _sm2_key(c)))
    signed_for_another_root = sm2_signature(c.anchor_request(ROOT), c.domain, _sm2_key(c))
    with pytest.raises(errors.RegistryInvalidSM2Signature):
        c.registry.transact(lambda f: f.anchorSM2(c.anchor_request(OTHER_ROOT).as_abi(), signed_for_another_root),
                            c.macao_operator)
    key = _key("BNU SM2 signing key 2")
    proof = gm_key_proof(issuer_id_code("ICBKMOMX"), key, c.domain)
    with pytest.raises(errors.RegistryInvalidKeyProof):
        c.registry.transact(lambda f: f.addSM2SigningKey(c.issuer_id, key.public_key[:32], key.public_key[32:],
                                                         (proof[:32], proof[32:], key.address)), c.issuer_admin)
    add_key(c, "BNUMMOMX", c.issuer_admin, key)
    c.anchor(OTHER_ROOT, signer=key)
