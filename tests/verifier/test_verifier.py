"""The verifier: every check passes for genuine bundles, and each fails, by name, for its own reason."""

from __future__ import annotations

import gc
import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crossverify import (
    Bundle,
    Certificate,
    HashAlgorithm,
    RevocationReason,
    attachment_claim,
    load_bundle,
    salt_document,
    seal_batch,
)
from crossverify.chain.records import ProposalKind
from crossverify.chain.registry import Registry
from crossverify.errors import NodeBehind
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.journal import Journal
from crossverify.verifier.client import CHECKS, Outcome, Policy, VerifierClient, collector_paused

from ..conftest import Consortium, deposit_certificates, labelled_test_key

PDF = b"%PDF-1.7 statement"
KECCAK = HashAlgorithm.KECCAK256


@pytest.fixture
def issued(consortium: Consortium, tmp_path: Path) -> list[Bundle]:
    issuer = IssuerClient(consortium.registry, "BNUMMOMX", consortium.signing_key, consortium.issuer_admin,
                          Journal(tmp_path / "j.sqlite"), tmp_path / "bundles")
    issuer.issue(deposit_certificates(consortium, 8))
    return [load_bundle(p.read_bytes()) for p in sorted(issuer.run().delivered)]


def verifier(c: Consortium, **kwargs: object) -> VerifierClient:
    return VerifierClient(c.registry, sender=c.verifier, circulation=c.circulation, **kwargs)  # type: ignore[arg-type]


def only_failure(report: object) -> str:
    failed = [c.name for c in report.failed]  # type: ignore[attr-defined]
    assert len(failed) == 1, [(c.name, c.detail) for c in report.failed]  # type: ignore[attr-defined]
    return failed[0]


def test_genuine_bundles_pass_every_check(consortium: Consortium, issued: list[Bundle]) -> None:
    reports = verifier(consortium, policy=Policy({"DEPCERT": 30 * 86400})).verify_many(issued)
    assert all(r.valid for r in reports)
    assert [c.name for c in reports[0].checks] == list(CHECKS)
    assert reports[0].check("attachments_match").outcome is Outcome.NOT_APPLICABLE
    assert reports[0].check("fresh_enough").outcome is Outcome.PASSED
    redacted = issued[0].redact(["account_no", "balance_mop"])
    assert verifier(consortium).verify(redacted.dumps()).valid


def test_malformed_bundle_is_a_verdict_not_an_exception(consortium: Consortium) -> None:
    report = verifier(consortium).verify('{"version": 1}')
    assert not report.valid and only_failure(report) == "bundle_well_formed"
    assert "MissingMember" in report.check("bundle_well_formed").detail
    assert all(c.outcome is Outcome.NOT_APPLICABLE for c in report.checks[1:])


def test_tampered_field(consortium: Consortium, issued: list[Bundle]) -> None:
    doc = issued[0].to_json()
    doc["claims"][1]["value"] = 999_999_999
    assert only_failure(verifier(consortium).verify(json.dumps(doc))) == "proof_leads_to_root"


def test_proof_from_another_document(consortium: Consortium, issued: list[Bundle]) -> None:
    stolen = replace(issued[0], proof=issued[1].proof)
    assert only_failure(verifier(consortium).verify(stolen)) == "proof_leads_to_root"


def test_bundle_for_another_registry(consortium: Consortium, issued: list[Bundle]) -> None:
    elsewhere = replace(issued[0], registry="0x" + "12" * 20)
    assert only_failure(verifier(consortium).verify(elsewhere)) == "registry_matches"


def test_unadmitted_key_cannot_get_an_anchor(consortium: Consortium) -> None:
    forged = seal_batch([salt_document(cert, KECCAK) for _, cert in deposit_certificates(consortium, 3)], KECCAK)
    assert only_failure(verifier(consortium).verify(
        forged.bundle(0, consortium.w3.eth.chain_id, consortium.registry.address))) == "anchored"


def test_anchor_for_another_document_type(consortium: Consortium) -> None:
    docs = [salt_document(cert, KECCAK) for _, cert in deposit_certificates(consortium, 2)]
    batch = seal_batch(docs)
    consortium.anchor(batch.root, doc_type=b"ACCTSTMT", leaf_count=2)
    report = verifier(consortium).verify(batch.bundle(0, consortium.w3.eth.chain_id, consortium.registry.address))
    assert only_failure(report) == "anchor_matches_bundle"
    assert "document type" in report.check("anchor_matches_bundle").detail


def test_compromised_key(consortium: Consortium, issued: list[Bundle], tmp_path: Path) -> None:
    c = consortium
    cut_off = c.travel(100)
    later = IssuerClient(c.registry, "BNUMMOMX", c.signing_key, c.issuer_admin, Journal(tmp_path / "k.sqlite"),
                         tmp_path / "later")
    later.issue(deposit_certificates(c, 2, start=100))
    after = [load_bundle(p.read_bytes()) for p in later.run().delivered]
    c.registry.transact(lambda f: f.markKeyCompromised(c.signing_key.address, cut_off), c.issuer_admin)
    reports = verifier(c).verify_many([issued[0], after[0]])
    assert reports[0].valid  # anchored before the cut-off
    assert only_failure(reports[1]) == "key_not_compromised"


def test_suspended_issuer_and_withdrawn_permission(consortium: Consortium, issued: list[Bundle]) -> None:
    c = consortium
    c.govern(ProposalKind.SET_DOC_TYPES, c.issuer_id, [c.doc_type], False, [bytes(32)])
    assert only_failure(verifier(c).verify(issued[0])) == "doc_type_permitted"
    c.govern(ProposalKind.SUSPEND_ISSUER, c.issuer_id)
    assert {x.name for x in verifier(c).verify(issued[0]).failed} == {"doc_type_permitted", "issuer_in_good_standing"}


@pytest.mark.parametrize(("reason", "words"), [(RevocationReason.SUPERSEDED, "superseded"),
                                               (RevocationReason.WITHDRAWN, "withdrawn")])
def test_revoked_document_says_why(consortium: Consortium, issued: list[Bundle], reason: RevocationReason,
                                   words: str) -> None:
    c = consortium
    c.registry.transact(lambda f: f.revokeDocument(issued[2].document_digest(), reason), c.issuer_admin)
    reports = verifier(c).verify_many(issued)
    assert only_failure(reports[2]) == "not_revoked" and words in reports[2].check("not_revoked").detail
    assert all(r.valid for i, r in enumerate(reports) if i != 2)


def test_a_batch_prepared_before_a_revocation_and_completed_after_it_reports_it(consortium: Consortium,
                                                                               issued: list[Bundle]) -> None:
    """``prepare`` reads no status: a batch prepared before a document's revocation was mined and completed after
    it reports the document revoked, as ``verify_many`` then does; the other documents pass."""
    c = consortium
    client = verifier(c)
    texts = [b.dumps() for b in issued]
    prepared = client.prepare(texts)
    assert all(r.valid for r in client.complete(client.prepare(texts)))
    c.registry.transact(lambda f: f.revokeDocument(issued[2].document_digest(), RevocationReason.FRAUD),
                        c.issuer_admin)
    reports = client.complete(prepared)
    assert only_failure(reports[2]) == "not_revoked" and all(r.valid for i, r in enumerate(reports) if i != 2)
    assert reports == client.verify_many(texts)


def test_a_verifier_warm_at_a_block_sees_every_change_the_next_block_makes(consortium: Consortium,
                                                                           issued: list[Bundle]) -> None:
    """A verifier keeps what the registry said of a batch at the latest block, and its checks: every change after
    (a document revoked, the key compromised, the batch revoked, the issuer suspended) makes a block, and its next
    batch answers as a verifier that kept nothing; a snapshot reverted (a reorganised chain) likewise."""
    c = consortium
    warm, texts = verifier(c), [b.dumps() for b in issued]
    assert all(r.valid for r in warm.verify_many(texts)) and all(r.valid for r in warm.verify_many(texts[:3]))
    snapshot = c.w3.testing.snapshot()
    changes = [
        lambda: c.registry.transact(lambda f: f.revokeDocument(issued[2].document_digest(), RevocationReason.FRAUD),
                                    c.issuer_admin),
        lambda: c.registry.transact(lambda f: f.markKeyCompromised(c.signing_key.address, 1), c.issuer_admin),
        lambda: c.registry.transact(lambda f: f.revokeBatch(issued[0].proof.batch_root, RevocationReason.FRAUD),
                                    c.issuer_admin),
        lambda: c.govern(ProposalKind.SUSPEND_ISSUER, c.issuer_id),
    ]
    failed = []
    for change in changes:
        change()
        reports = warm.verify_many(texts)
        assert reports == verifier(c).verify_many(texts)
        failed.append(({x.name for x in reports[2].failed}, {x.name for x in reports[5].failed}))
    assert [five for _, five in failed] == [set(), {"key_not_compromised"}, {"key_not_compromised", "not_revoked"},
                                            {"key_not_compromised", "not_revoked", "issuer_in_good_standing"}]
    assert all("not_revoked" in two for two, _ in failed)
    c.w3.testing.revert(snapshot)
    assert all(r.valid for r in warm.verify_many(texts))


def test_revoked_batch(consortium: Consortium, issued: list[Bundle]) -> None:
    c = consortium
    c.registry.transact(lambda f: f.revokeBatch(issued[0].proof.batch_root, RevocationReason.FRAUD), c.issuer_admin)
    report = verifier(c).verify(issued[5])
    assert only_failure(report) == "not_revoked" and "whole batch" in report.check("not_revoked").detail


def test_expired_and_stale(consortium: Consortium, issued: list[Bundle]) -> None:
    c = consortium
    far = c.now() + 2 * 365 * 86400
    assert {x.name for x in verifier(c, clock=lambda: far).verify(issued[0]).failed} == {"not_expired"}
    strict = verifier(c, policy=Policy({"DEPCERT": 3600}), clock=lambda: c.now() + 86400)
    assert only_failure(strict.verify(issued[0])) == "fresh_enough"


def test_a_node_behind_the_chain_gives_no_verdict(consortium: Consortium, issued: list[Bundle]) -> None:
    """A node whose latest block lags this machine's clock past ``max_head_age`` (it stopped following the chain,
    or is catching up) would judge revocations and expiry as of that block: the verifier gives no verdict on a
    document it read there (``NodeBehind``, a 503 for the service). Within the limit, and for a bundle that never
    reaches the registry's checks, it does."""
    c = consortium
    revoked = issued[0]
    c.registry.transact(lambda f: f.revokeBatch(revoked.proof.batch_root, RevocationReason.FRAUD), c.issuer_admin)
    head = c.now()
    stale = verifier(c, policy=Policy(max_head_age=60), wall_clock=lambda: head + 61)
    with pytest.raises(NodeBehind, match=r"61 s before this machine's clock.*max_head_age allows 60 s"):
        stale.verify(revoked)
    assert only_failure(stale.verify('{"version": 1}')) == "bundle_well_formed"
    assert only_failure(verifier(c, policy=Policy(max_head_age=60), wall_clock=lambda: head + 60).verify(
        revoked)) == "not_revoked"


def test_a_policy_is_fixed_when_made(consortium: Consortium, issued: list[Bundle]) -> None:
    """A verifier keeps the checks it made at the latest block under its policy: the policy cannot change under
    them, through the mapping it was made from or its own."""
    limits = {"DEPCERT": 30 * 86400}
    policy = Policy(limits)
    limits["DEPCERT"] = 1
    with pytest.raises(TypeError):
        policy.max_age["DEPCERT"] = 1  # type: ignore[index]
    assert policy.max_age == {"DEPCERT": 30 * 86400}
    assert verifier(consortium, policy=policy).verify(issued[0]).valid


def test_attachments(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    ref, cert = deposit_certificates(c, 1)[0]
    cert = Certificate(cert.header, {**cert.claims, "statement": attachment_claim(PDF, "application/pdf")})
    issuer = IssuerClient(c.registry, "BNUMMOMX", c.signing_key, c.issuer_admin, Journal(tmp_path / "a.sqlite"),
                          tmp_path / "att")
    issuer.issue([(ref, cert)])
    bundle = load_bundle(issuer.run().delivered[0].read_bytes())
    v = verifier(c)
    assert v.verify(bundle, {"statement": PDF}).check("attachments_match").outcome is Outcome.PASSED
    assert only_failure(v.verify(bundle, {"statement": PDF + b"!"})) == "attachments_match"


def test_receipts_are_recorded(consortium: Consortium, issued: list[Bundle]) -> None:
    c = consortium
    v = verifier(c)
    reports = v.verify_many(issued)
    start = c.w3.eth.block_number + 1
    flushed = v.record(reports, "ACCTOPEN")
    assert [commitment for _, commitment, _ in c.sealed_receipts(start)] == list(flushed.commitments)
    assert [r.document_digest for r in c.opened_receipts(start)] == [r.document_digest for r in reports]
    assert VerifierClient(c.registry).verify(issued[0]).valid  # reading needs no account


def test_signing_key_not_held_when_signing(consortium: Consortium, issued: list[Bundle]) -> None:
    """The registry refuses such anchors; the check still guards a verifier against a faulty or foreign node."""
    c = consortium
    real = c.registry.document_status(c.issuer_id, issued[0].proof.batch_root, issued[0].document_digest())
    forged = replace(real, key_added_at=real.anchored_at + 1, signing_key=labelled_test_key("x").address)
    checks = VerifierClient(c.registry)._online(issued[0], forged, c.now())
    assert [x.name for x in checks if x.outcome is Outcome.FAILED] == ["key_held_by_issuer"]


def test_one_bad_bundle_does_not_sink_the_batch(consortium: Consortium, issued: list[Bundle]) -> None:
    good = issued[0].dumps()
    first, second, *rest = issued[1].claims
    assert '"value":1000}' in good
    nan = good.replace('"value":1000}', '"value":NaN}')
    bad: list[str | bytes | Bundle] = [
        b"\xff\xfe" + good.encode("utf-16-le"),
        "[" * 200_000,
        nan,
        good.replace('"version":"1.2"', '"version":"1.2","version":"1.2"'),
        replace(issued[1], claims=(second, first, *rest)),
        replace(issued[1], chain_id=0),
    ]
    reports = verifier(consortium).verify_many([good, *bad, issued[2]])
    assert reports[0].valid and reports[-1].valid
    for report in reports[1:-1]:
        assert only_failure(report) == "bundle_well_formed"
    names = [r.check("bundle_well_formed").detail.split(":")[0] for r in reports[1:-1]]
    assert names == ["InvalidEncoding", "NestingTooDeep", "InvalidNumber", "DuplicateKey", "ClaimsOutOfOrder",
                     "InvalidValue"]


def test_the_collector_is_paused_for_a_batch_and_resumed_after_the_last(consortium: Consortium,
                                                                         issued: list[Bundle]) -> None:
    """Batches pause Python's cyclic collector while they run, together or one inside another, and it runs again
    once the last ends (also when one fails); a process that had it off keeps it off."""
    assert gc.isenabled()
    seen: list[bool] = []
    client = verifier(consortium)
    original = client._offline_all

    def offline_all(*args: Any) -> Any:
        seen.append(gc.isenabled())
        return original(*args)

    client._offline_all = offline_all  # type: ignore[method-assign]
    with collector_paused():
        assert client.verify_many([issued[0]])[0].valid and not gc.isenabled()
    assert seen == [False] and gc.isenabled()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("a batch that fails")
    assert gc.isenabled()
    gc.disable()
    try:
        assert client.verify_many([issued[0].dumps()])[0].valid and not gc.isenabled()
    finally:
        gc.enable()


def test_a_verifier_keeps_no_older_block_over_a_change_another_thread_saw(consortium: Consortium,
                                                                          issued: list[Bundle],
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads on one verifier: one's read of a block ends after the other read the next block, where a
    document was revoked. Whichever block the verifier keeps, every batch after reads the revocation."""
    c = consortium
    client, texts = verifier(c), [b.dumps() for b in issued]
    assert all(r.valid for r in client.verify_many(texts))
    read, answered, go = Registry.statuses_at_head, threading.Event(), threading.Event()

    def late(self: Registry, *args: Any) -> Any:
        found = read(self, *args)
        if threading.current_thread() is slow:
            answered.set()
            go.wait(30)
        return found

    monkeypatch.setattr(Registry, "statuses_at_head", late)
    earlier: list[Any] = []
    slow = threading.Thread(target=lambda: earlier.append(client.verify_many(texts)))
    slow.start()
    assert answered.wait(30)
    c.registry.transact(lambda f: f.revokeDocument(issued[2].document_digest(), RevocationReason.FRAUD),
                        c.issuer_admin)
    assert [r.valid for r in client.verify_many(texts)] == [i != 2 for i in range(len(texts))]
    go.set()
    slow.join(30)
    assert all(r.valid for r in earlier[0])  # read at the block before the revocation, and kept last
    assert client._seen is not None and client._seen.head.hash != bytes(c.w3.eth.get_block("latest")["hash"])
    assert client.verify_many(texts) == verifier(c).verify_many(texts)
