"""Signing-key lifecycle: add with a proof of possession, retire, compromise from a time, and the history view."""

from __future__ import annotations

import pytest

from crossverify import errors
from crossverify.chain.records import ProposalKind
from crossverify.chain.typed_data import key_proof

from ..conftest import Consortium, add_key, labelled_test_key
from .helpers import only_event


def test_admin_adds_and_retires_keys(consortium: Consortium) -> None:
    c, reg = consortium, consortium.registry
    key = labelled_test_key("BNU key 2")
    receipt = add_key(c, "BNUMMOMX", c.issuer_admin, key)
    added_at = c.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert only_event(reg, receipt, "SigningKeyAdded") == {"issuerId": c.issuer_id, "key": key.address,
                                                           "actor": c.issuer_admin}
    assert reg.call(lambda f: f.issuerKeys(c.issuer_id)) == [c.signing_key.address, key.address]
    c.anchor(b"\x01" * 32, signer=key)

    receipt = reg.transact(lambda f: f.retireSigningKey(key.address), c.issuer_admin)
    retired_at = c.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert only_event(reg, receipt, "SigningKeyRetired") == {"issuerId": c.issuer_id, "key": key.address,
                                                             "actor": c.issuer_admin}
    assert reg.call(lambda f: f.signingKey(key.address)) == (c.issuer_id, added_at, retired_at, 0)
    with pytest.raises(errors.RegistryKeyRetired):
        c.anchor(b"\x02" * 32, signer=key)
    with pytest.raises(errors.RegistryKeyRetired):
        reg.transact(lambda f: f.retireSigningKey(key.address), c.issuer_admin)
    # The anchor made before retirement keeps its key valid at that time.
    anchored_at = reg.document_status(c.issuer_id, b"\x01" * 32, b"\x00" * 32).anchored_at
    assert reg.call(lambda f: f.keyValidAt(c.issuer_id, key.address, anchored_at))
    assert reg.call(lambda f: f.keyValidAt(c.issuer_id, key.address, retired_at))  # its block still counts
    assert not reg.call(lambda f: f.keyValidAt(c.issuer_id, key.address, retired_at + 1))


def test_only_the_issuer_admin_manages_keys(consortium: Consortium) -> None:
    c, reg = consortium, consortium.registry
    key = labelled_test_key("intruder key")
    with pytest.raises(errors.RegistryNotIssuerAdmin):
        add_key(c, "BNUMMOMX", c.macao_operator, key)
    with pytest.raises(errors.RegistryNotIssuerAdmin):
        reg.transact(lambda f: f.retireSigningKey(c.signing_key.address), c.outsider)
    with pytest.raises(errors.RegistryNotIssuerAdmin):
        reg.transact(lambda f: f.markKeyCompromised(c.signing_key.address, c.now()), c.outsider)


def test_key_errors(consortium: Consortium) -> None:
    c, reg = consortium, consortium.registry
    with pytest.raises(errors.RegistryKeyExists):
        add_key(c, "BNUMMOMX", c.issuer_admin, c.signing_key)
    proof = key_proof(c.issuer_id, c.signing_key, c.domain)
    with pytest.raises(errors.RegistryZeroAddress):
        reg.transact(lambda f: f.addSigningKey(c.issuer_id, "0x" + "00" * 20, proof), c.issuer_admin)
    stranger = labelled_test_key("never added").address
    with pytest.raises(errors.RegistryUnknownKey):
        reg.transact(lambda f: f.retireSigningKey(stranger), c.issuer_admin)
    with pytest.raises(errors.RegistryUnknownKey):
        reg.transact(lambda f: f.markKeyCompromised(stranger, c.now()), c.issuer_admin)


def test_compromise_cut_off(consortium: Consortium) -> None:
    """Anchors made before the compromise time stay valid; those from it on do not."""
    c, reg = consortium, consortium.registry
    key = c.signing_key.address
    c.anchor(b"\x0a" * 32)
    before = reg.document_status(c.issuer_id, b"\x0a" * 32, b"\x00" * 32).anchored_at
    c.travel(1000)
    c.anchor(b"\x0b" * 32)
    after = reg.document_status(c.issuer_id, b"\x0b" * 32, b"\x00" * 32).anchored_at
    cut_off = before + 500

    receipt = reg.transact(lambda f: f.markKeyCompromised(key, cut_off), c.issuer_admin)
    assert only_event(reg, receipt, "SigningKeyCompromised") == {
        "issuerId": c.issuer_id, "key": key, "actor": c.issuer_admin, "compromisedFrom": cut_off, "proposalId": 0}
    assert reg.call(lambda f: f.keyValidAt(c.issuer_id, key, before))
    assert not reg.call(lambda f: f.keyValidAt(c.issuer_id, key, after))
    assert not reg.call(lambda f: f.keyValidAt(c.issuer_id, key, cut_off))
    assert reg.call(lambda f: f.keyValidAt(c.issuer_id, key, cut_off - 1))
    assert reg.document_status(c.issuer_id, b"\x0b" * 32, b"\x00" * 32).key_compromised_from == cut_off
    with pytest.raises(errors.RegistryKeyCompromised):
        c.anchor(b"\x0c" * 32)


def test_the_admin_marks_a_key_once_and_the_quorum_moves_it_earlier(consortium: Consortium) -> None:
    """An admin's mark cannot be moved by a later admin act (a thief's included); the consortium's can only
    move earlier, and the earliest mark that counts is the key's."""
    c, reg = consortium, consortium.registry
    key = c.signing_key.address
    now = c.now()
    for bad in (0, now + 10_000):
        with pytest.raises(errors.RegistryInvalidCompromiseTime):
            reg.transact(lambda f, bad=bad: f.markKeyCompromised(key, bad), c.issuer_admin)
    reg.transact(lambda f: f.markKeyCompromised(key, now - 100), c.issuer_admin)
    for again in (now - 50, now - 200):
        with pytest.raises(errors.RegistryInvalidCompromiseTime):
            reg.transact(lambda f, again=again: f.markKeyCompromised(key, again), c.issuer_admin)
    c.govern(ProposalKind.COMPROMISE_KEY, key, now - 50)  # later than the admin's: the admin's still counts
    assert reg.call(lambda f: f.signingKey(key))[3] == now - 100
    c.govern(ProposalKind.COMPROMISE_KEY, key, now - 200)
    assert reg.call(lambda f: f.signingKey(key))[3] == now - 200
    with pytest.raises(errors.RegistryInvalidCompromiseTime):
        c.govern(ProposalKind.COMPROMISE_KEY, key, now - 150)


def test_operator_quorum_marks_key_compromised(consortium: Consortium) -> None:
    c, reg = consortium, consortium.registry
    at = c.now() - 10
    receipt = c.govern(ProposalKind.COMPROMISE_KEY, c.signing_key.address, at)
    proposal_id = c.consortium.call(lambda f: f.proposalCount())
    assert only_event(reg, receipt, "SigningKeyCompromised") == {
        "issuerId": c.issuer_id, "key": c.signing_key.address, "actor": c.consortium.address, "compromisedFrom": at,
        "proposalId": proposal_id}
    with pytest.raises(errors.RegistryInvalidCompromiseTime):
        c.govern(ProposalKind.COMPROMISE_KEY, c.signing_key.address, at + 5)


def test_key_valid_only_for_its_issuer(consortium: Consortium) -> None:
    c, reg = consortium, consortium.registry
    assert not reg.call(lambda f: f.keyValidAt(b"OTHER".ljust(11, b"\0"), c.signing_key.address, c.now()))
    assert not reg.call(lambda f: f.keyValidAt(c.issuer_id, c.signing_key.address, 0))
