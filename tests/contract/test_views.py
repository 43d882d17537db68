"""The verifier's one-call status views (receipts are sealed, on the circulation contract)."""

from __future__ import annotations

from typing import Any

from web3 import Web3

from crossverify.chain import registry
from crossverify.chain.connection import rpc
from crossverify.chain.records import ProposalKind, RevocationReason, Status

from ..conftest import Consortium

ROOT = Web3.keccak(text="batch")
DOC = Web3.keccak(text="doc")


def test_unknown_root_reads_as_zero(consortium: Consortium) -> None:
    status = consortium.registry.document_status(consortium.issuer_id, ROOT, DOC)
    assert not status.anchored
    assert status.issuer_status == Status.NONE and status.signing_key == "0x" + "00" * 20


def test_status_reflects_suspension_and_permissions(consortium: Consortium) -> None:
    c, reg = consortium, consortium.registry
    c.anchor(ROOT)
    c.govern(ProposalKind.SUSPEND_ISSUER, c.issuer_id)
    c.govern(ProposalKind.SET_DOC_TYPES, c.issuer_id, [c.doc_type], False, [bytes(32)])
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


def test_many_statuses_are_asked_in_bounded_round_trips(consortium: Consortium, monkeypatch: Any) -> None:
    """A node answers a JSON-RPC batch whole: a year of an issuer's batches asked at once outlasts the client's
    timeout. Each round trip asks for ``STATUSES_PER_ROUND_TRIP`` statuses at most, and the answers keep their
    order."""
    c, reg = consortium, consortium.registry
    roots = [Web3.keccak(i) for i in range(5)]
    for root in roots[1::2]:
        c.anchor(root)
    pairs = [(c.issuer_id, r, DOC) for r in roots]
    expected = [reg.document_status(*p) for p in pairs]
    node = rpc(reg.w3)
    trips: list[int] = []
    batch = type(node).batch

    def counted(self: Any, calls: Any) -> Any:
        trips.append(len(calls))
        return batch(self, calls)

    monkeypatch.setattr(type(node), "batch", counted)
    monkeypatch.setattr(registry, "STATUS_CHUNK", 1)
    monkeypatch.setattr(registry, "STATUSES_PER_ROUND_TRIP", 2)
    assert reg.document_statuses(pairs) == expected
    assert trips == [2, 2, 1]
    assert reg.document_statuses([]) == [] and trips == [2, 2, 1]  # nothing asked: no request
