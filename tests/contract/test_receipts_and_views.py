"""Verification receipts (event only) and the verifier's one-call status views."""

from __future__ import annotations

import pytest
from web3 import Web3

from crossverify import errors
from crossverify.chain.records import ProposalKind, RevocationReason, Status

from ..conftest import Consortium
from .helpers import only_event

ROOT = Web3.keccak(text="batch")
DOC = Web3.keccak(text="doc")
PURPOSE = Web3.keccak(text="account opening")


def test_verifier_records_a_receipt_as_an_event_only(consortium: Consortium) -> None:
    c, reg = consortium, consortium.registry
    receipt = reg.transact(lambda f: f.recordVerifications([[c.issuer_id, ROOT, DOC]], PURPOSE), c.verifier)
    assert only_event(reg, receipt, "VerificationRecorded") == {
        "documentDigest": DOC, "batchRoot": ROOT, "verifier": c.verifier, "issuerId": c.issuer_id,
        "purposeHash": PURPOSE}


@pytest.mark.parametrize("who", ["outsider", "regulator", "operator"])
def test_only_active_verifiers_record(consortium: Consortium, who: str) -> None:
    c = consortium
    account = {"outsider": c.outsider, "regulator": c.regulator, "operator": c.macao_operator}[who]
    with pytest.raises(errors.RegistryNotVerifier):
        c.registry.transact(lambda f: f.recordVerifications([[c.issuer_id, ROOT, DOC]], PURPOSE), account)


def test_suspended_verifier_cannot_record(consortium: Consortium) -> None:
    c = consortium
    c.govern(ProposalKind.SUSPEND_MEMBER, c.verifier)
    with pytest.raises(errors.RegistryNotVerifier):
        c.registry.transact(lambda f: f.recordVerifications([[c.issuer_id, ROOT, DOC]], PURPOSE), c.verifier)


def test_unknown_root_reads_as_zero(consortium: Consortium) -> None:
    status = consortium.registry.document_status(consortium.issuer_id, ROOT, DOC)
    assert not status.anchored
    assert status.issuer_status == Status.NONE and status.signing_key == "0x" + "00" * 20


def test_status_reflects_suspension_and_permissions(consortium: Consortium) -> None:
    c, reg = consortium, consortium.registry
    c.anchor(ROOT)
    c.govern(ProposalKind.SUSPEND_ISSUER, c.issuer_id)
    c.govern(ProposalKind.SET_DOC_TYPES, c.issuer_id, [c.doc_type], False)
    status = reg.document_status(c.issuer_id, ROOT, DOC)
    assert status.issuer_status == Status.SUSPENDED
    assert not status.issuer_may_issue
    assert status.batch_revocation.reason == RevocationReason.NONE
    assert status.issuer_active_at_anchor  # suspended after it anchored


def test_batched_view_matches_single_calls(consortium: Consortium) -> None:
    c, reg = consortium, consortium.registry
    roots = [Web3.keccak(i) for i in range(5)]
    for root in roots[:3]:
        c.anchor(root)
    reg.transact(lambda f: f.revokeDocument(DOC, RevocationReason.WITHDRAWN), c.issuer_admin)
    pairs = [(c.issuer_id, r, DOC) for r in roots]
    assert reg.document_statuses(pairs) == [reg.document_status(*p) for p in pairs]
    assert [s.anchored for s in reg.document_statuses(pairs)] == [True, True, True, False, False]


def test_many_receipts_in_one_transaction(consortium: Consortium) -> None:
    c, reg = consortium, consortium.registry
    docs = [(c.issuer_id, ROOT, Web3.keccak(i)) for i in range(5)]
    receipt = reg.transact(lambda f: f.recordVerifications([list(d) for d in docs], PURPOSE), c.verifier)
    assert [(e.args["issuerId"], e.args["batchRoot"], e.args["documentDigest"])
            for e in reg.decode_logs(receipt["logs"])] == docs
    assert {e.args["verifier"] for e in reg.decode_logs(receipt["logs"])} == {c.verifier}
    with pytest.raises(errors.RegistryNotVerifier):
        reg.transact(lambda f: f.recordVerifications([list(d) for d in docs], PURPOSE), c.outsider)
