"""Revocation of batches and single documents: by the admin, by relayed signature; final."""

from __future__ import annotations

import pytest
from web3 import Web3

from crossverify import errors
from crossverify.chain.records import ProposalKind, RevocationReason, RevocationRecord
from crossverify.chain.typed_data import RevocationRequest, sign
from crossverify.format.codes import issuer_id_code

from ..conftest import Consortium, admit_issuer, labelled_test_key
from .helpers import only_event

ROOT = Web3.keccak(text="batch")
DOCS = [Web3.keccak(text=f"document {i}") for i in range(4)]
ZERO = b"\0" * 32
NOBODY = "0x" + "00" * 20  # the signing key of a revocation the admin sent


@pytest.fixture
def anchored(consortium: Consortium) -> Consortium:
    consortium.anchor(ROOT, leaf_count=len(DOCS))
    return consortium


def test_revoking_one_document_leaves_the_others_valid(anchored: Consortium) -> None:
    c, reg = anchored, anchored.registry
    receipt = reg.transact(lambda f: f.revokeDocument(DOCS[1], RevocationReason.SUPERSEDED), c.issuer_admin)
    at = c.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert only_event(reg, receipt, "DocumentRevoked") == {
        "documentDigest": DOCS[1], "issuerId": c.issuer_id, "actor": c.issuer_admin,
        "reason": RevocationReason.SUPERSEDED, "signingKey": NOBODY}
    statuses = reg.document_statuses([(c.issuer_id, ROOT, d) for d in DOCS])
    assert [s.document_revocation.reason for s in statuses] == [
        RevocationReason.NONE, RevocationReason.SUPERSEDED, RevocationReason.NONE, RevocationReason.NONE]
    assert statuses[1].document_revocation == RevocationRecord(RevocationReason.SUPERSEDED, at, None, False)
    assert all(s.batch_revocation.reason == RevocationReason.NONE for s in statuses)
    with pytest.raises(errors.RegistryDocumentAlreadyRevoked):
        reg.transact(lambda f: f.revokeDocument(DOCS[1], RevocationReason.FRAUD), c.issuer_admin)


def test_revoking_a_batch(anchored: Consortium) -> None:
    c, reg = anchored, anchored.registry
    receipt = reg.transact(lambda f: f.revokeBatch(ROOT, RevocationReason.WITHDRAWN), c.issuer_admin)
    assert only_event(reg, receipt, "BatchRevoked") == {
        "batchRoot": ROOT, "issuerId": c.issuer_id, "actor": c.issuer_admin, "reason": RevocationReason.WITHDRAWN,
        "signingKey": NOBODY}
    statuses = reg.document_statuses([(c.issuer_id, ROOT, d) for d in DOCS])
    assert all(s.batch_revocation.reason == RevocationReason.WITHDRAWN for s in statuses)
    with pytest.raises(errors.RegistryBatchAlreadyRevoked):
        reg.transact(lambda f: f.revokeBatch(ROOT, RevocationReason.FRAUD), c.issuer_admin)


def test_revocation_refusals(anchored: Consortium) -> None:
    c, reg = anchored, anchored.registry
    with pytest.raises(errors.RegistryInvalidRevocationReason):
        reg.transact(lambda f: f.revokeBatch(ROOT, RevocationReason.NONE), c.issuer_admin)
    with pytest.raises(errors.RegistryInvalidRevocationReason):
        reg.transact(lambda f: f.revokeDocument(DOCS[0], RevocationReason.NONE), c.issuer_admin)
    with pytest.raises(errors.RegistryUnknownBatch):
        reg.transact(lambda f: f.revokeBatch(Web3.keccak(text="nothing"), RevocationReason.FRAUD), c.issuer_admin)
    with pytest.raises(errors.RegistryNotIssuerAdmin):
        reg.transact(lambda f: f.revokeBatch(ROOT, RevocationReason.FRAUD), c.macao_operator)
    with pytest.raises(errors.RegistryNotIssuerAdmin):
        reg.transact(lambda f: f.revokeDocument(DOCS[0], RevocationReason.FRAUD), c.outsider)


def test_suspended_issuer_can_still_revoke(anchored: Consortium) -> None:
    c = anchored
    c.govern(ProposalKind.SUSPEND_ISSUER, c.issuer_id)
    c.registry.transact(lambda f: f.revokeBatch(ROOT, RevocationReason.FRAUD), c.issuer_admin)


class TestBySignature:
    def relay(self, c: Consortium, request: RevocationRequest, signer=None, sender=None):  # type: ignore[no-untyped-def]
        signature = sign(request, c.domain, signer or c.signing_key)
        return c.registry.transact(lambda f: f.revokeBySignature(request.as_abi(), signature),
                                   sender or c.guangdong_operator)

    def test_document_and_batch(self, anchored: Consortium) -> None:
        c, reg = anchored, anchored.registry
        deadline = c.now() + 600
        receipt = self.relay(c, RevocationRequest(ZERO, DOCS[2], RevocationReason.FRAUD, deadline))
        event = only_event(reg, receipt, "DocumentRevoked")
        assert (event["actor"], event["signingKey"]) == (c.guangdong_operator, c.signing_key.address)
        receipt = self.relay(c, RevocationRequest(ROOT, ZERO, RevocationReason.ISSUED_IN_ERROR, deadline))
        assert only_event(reg, receipt, "BatchRevoked")["reason"] == RevocationReason.ISSUED_IN_ERROR

    def test_refusals(self, anchored: Consortium) -> None:
        c = anchored
        deadline = c.now() + 600
        with pytest.raises(errors.RegistryInvalidRevocationTarget):
            self.relay(c, RevocationRequest(ROOT, DOCS[0], RevocationReason.FRAUD, deadline))
        with pytest.raises(errors.RegistryInvalidRevocationTarget):
            self.relay(c, RevocationRequest(ZERO, ZERO, RevocationReason.FRAUD, deadline))
        with pytest.raises(errors.RegistrySignatureExpired):
            self.relay(c, RevocationRequest(ROOT, ZERO, RevocationReason.FRAUD, 1))
        with pytest.raises(errors.RegistryUnknownKey):
            self.relay(c, RevocationRequest(ROOT, ZERO, RevocationReason.FRAUD, deadline),
                       signer=labelled_test_key("stranger"))

    def test_other_issuer_cannot_revoke_the_batch(self, anchored: Consortium) -> None:
        c = anchored
        other_key = labelled_test_key("other issuer key")
        admit_issuer(c, "OTHERMOMX", c.outsider, [other_key], ["DEPCERT"])
        with pytest.raises(errors.RegistryUnknownBatch):
            self.relay(c, RevocationRequest(ROOT, ZERO, RevocationReason.FRAUD, c.now() + 600), signer=other_key)
        # A document "revocation" by another issuer lands in that issuer's own namespace only.
        self.relay(c, RevocationRequest(ZERO, DOCS[0], RevocationReason.FRAUD, c.now() + 600), signer=other_key)
        assert c.registry.document_status(c.issuer_id, ROOT, DOCS[0]).document_revocation.reason == \
            RevocationReason.NONE


def test_bulk_revocation_view_returns_only_the_revoked(anchored: Consortium,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    c, reg = anchored, anchored.registry
    assert reg.revoked_documents(c.issuer_id, DOCS) == []
    assert reg.revoked_documents(c.issuer_id, []) == []
    reg.transact(lambda f: f.revokeDocument(DOCS[2], RevocationReason.FRAUD), c.issuer_admin)
    assert reg.revoked_documents(c.issuer_id, DOCS) == [2]
    assert reg.revoked_documents(c.issuer_id, DOCS[::-1] + DOCS) == [1, 6]
    monkeypatch.setattr("crossverify.chain.registry.REVOCATION_CHUNK", 3)  # positions count across chunks
    assert reg.revoked_documents(c.issuer_id, DOCS + DOCS) == [2, 6]
    # Another issuer's revocations are its own.
    admit_issuer(c, "OTHERMOMX", c.outsider, [], ["DEPCERT"])
    reg.transact(lambda f: f.revokeDocument(DOCS[0], RevocationReason.WITHDRAWN), c.outsider)
    assert reg.revoked_documents(issuer_id_code("OTHERMOMX"), DOCS) == [0]
    assert reg.revoked_documents(c.issuer_id, DOCS) == [2]


def test_bulk_revocation_view_refuses_malformed_keys(anchored: Consortium) -> None:
    c, reg = anchored, anchored.registry
    with pytest.raises(errors.InvalidQuery):
        reg.revoked_documents(c.issuer_id, [DOCS[0], DOCS[1][:31]])
    with pytest.raises(errors.InvalidQuery):
        reg.revoked_documents(c.issuer_id[:10], DOCS)
    with pytest.raises(errors.InvalidQuery):
        reg.document_statuses([(c.issuer_id, ROOT, DOCS[0] + b"\0")])


def test_bulk_revocation_view_refuses_an_answer_outside_the_query(anchored: Consortium,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A node that answers with positions the query does not have gets a named error, not an IndexError."""
    c, reg = anchored, anchored.registry
    monkeypatch.setattr(type(reg), "raw_calls", lambda self, calls, extra=(): ([([len(DOCS)],)], []))
    with pytest.raises(errors.TransactionFailed, match="not ascending positions"):
        reg.revoked_documents(c.issuer_id, DOCS)
    monkeypatch.setattr(type(reg), "raw_calls", lambda self, calls, extra=(): ([([2, 1],)], []))
    with pytest.raises(errors.TransactionFailed, match="not ascending positions"):
        reg.revoked_documents(c.issuer_id, DOCS)
