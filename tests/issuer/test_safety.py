"""The issuer's safety rails: a changed re-issue is refused unless it supersedes, revocation names only what the
journal anchored, a rotation re-signs what the old key signed, and bundles can be exported again offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from crossverify import Certificate, RevocationReason, VerifierClient, load_bundle
from crossverify.chain.registry import Registry
from crossverify.errors import JournalError, ReceiptTimeout, RegistryDocumentAlreadyRevoked
from crossverify.format.hashing import HashAlgorithm
from crossverify.issuer.client import export_bundles
from crossverify.issuer.journal import BatchState

from ..conftest import Consortium, deposit_certificates, labelled_test_key
from ..postgres import Locate
from .test_issuance import client


def changed(certificate: Certificate) -> Certificate:
    return Certificate(certificate.header, {**certificate.claims, "balance_mop": 999_999})


def test_a_changed_reissue_is_refused_and_changes_nothing(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    issuer = client(c, tmp_path)
    certs = deposit_certificates(c, 3)
    issuer.issue(certs)
    assert issuer.issue(certs) == issuer.issue(certs)  # the same content again: the same ids
    with pytest.raises(JournalError, match="BNUMMOMX-000001 was issued before with other content"):
        issuer.issue([certs[0], (certs[1][0], changed(certs[1][1]))])
    assert issuer.journal.counts("BNUMMOMX") == {"pending": 3}


def test_superseding_a_pending_certificate_replaces_it(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    issuer = client(c, tmp_path)
    [(ref, cert)] = deposit_certificates(c, 1)
    issuer.issue([(ref, cert)])
    issuer.issue([(ref, changed(cert))], supersede=True)
    report = issuer.run()
    assert (len(report.delivered), report.superseded) == (1, 0)
    assert load_bundle(issuer.bundle_path(ref).read_bytes()).disclosed()["balance_mop"] == 999_999


def test_a_pending_certificate_is_withdrawn_and_never_anchored(consortium: Consortium, tmp_path: Path,
                                                               location: Locate) -> None:
    """A certificate journalled by mistake is withdrawn while it waits for a batch: gone from the journal, salts and
    all, and never anchored; a seal that read it before cannot place the rest without it. Sealed (its root may be
    on its way), or superseding an earlier revision, it is refused with nothing changed."""
    c = consortium
    issuer = client(c, tmp_path, location)
    journal = issuer.journal
    certs = deposit_certificates(c, 3)
    issuer.issue(certs)
    [(wrong, _), (second, _), (kept, _)] = certs
    read_before = [doc_id for doc_id, *_ in journal.pending("BNUMMOMX")]  # a seal in another process, meanwhile
    journal.withdraw("BNUMMOMX", wrong)
    assert journal.find("BNUMMOMX", reference=wrong) is None and journal.counts("BNUMMOMX") == {"pending": 2}
    with pytest.raises(JournalError, match="sealed into another batch meanwhile"):
        journal.record_sealed("BNUMMOMX", "DEPCERT", HashAlgorithm.KECCAK256, b"\x01" * 32, 2**40, read_before, 4)
    with pytest.raises(JournalError, match=f"{wrong} is not in BNUMMOMX's journal"):
        journal.withdraw("BNUMMOMX", wrong)
    report = issuer.run()
    assert sorted(p.name for p in report.delivered) == [f"{second}.bundle.json", f"{kept}.bundle.json"]
    with pytest.raises(JournalError, match="sealed into a batch already"):
        journal.withdraw("BNUMMOMX", kept)
    issuer.issue([(kept, changed(certs[2][1]))], supersede=True)
    with pytest.raises(JournalError, match="supersedes an earlier one"):
        journal.withdraw("BNUMMOMX", kept)
    assert journal.counts("BNUMMOMX") == {"pending": 1, "delivered": 2}


def test_superseding_an_anchored_certificate_revokes_the_earlier_revision(consortium: Consortium,
                                                                           tmp_path: Path) -> None:
    c = consortium
    issuer = client(c, tmp_path)  # sent by the Macao operator, who relays the signed revocation too
    [(ref, cert)] = deposit_certificates(c, 1)
    issuer.issue([(ref, cert)])
    issuer.run()
    issuer.issue([(ref, changed(cert))], supersede=True)
    report = issuer.run()
    assert report.superseded == 1 and [p.name for p in report.delivered] == [f"{ref}~1.bundle.json"]
    old, new = (load_bundle(issuer.bundle_path(stem).read_bytes()) for stem in (ref, f"{ref}~1"))
    verifier = VerifierClient(c.registry)
    assert verifier.verify(new).valid
    verdict = verifier.verify(old)
    assert [f.name for f in verdict.failed] == ["not_revoked"] and "superseded" in verdict.failed[0].detail
    assert issuer.run().superseded == 0


def test_revocation_names_only_what_this_journal_anchored(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    issuer = client(c, tmp_path, sender=c.issuer_admin)
    certs = deposit_certificates(c, 4)
    issuer.issue(certs[:3])
    issuer.run()
    issuer.issue(certs[3:])
    with pytest.raises(JournalError, match="not in BNUMMOMX's journal"):
        issuer.revoke(RevocationReason.WITHDRAWN, document=Web3.keccak(text="a mistyped digest"))
    with pytest.raises(JournalError, match="not in BNUMMOMX's journal"):
        issuer.revoke(RevocationReason.WITHDRAWN, reference="BNUMMOMX-999999")
    with pytest.raises(JournalError, match="not anchored yet"):
        issuer.revoke(RevocationReason.WITHDRAWN, reference=certs[3][0])
    with pytest.raises(JournalError, match="not an anchored batch"):
        issuer.revoke(RevocationReason.WITHDRAWN, batch=Web3.keccak(text="another issuer's root"))

    issuer.revoke(RevocationReason.WITHDRAWN, reference=certs[1][0])
    revoked = load_bundle(issuer.bundle_path(certs[1][0]).read_bytes())
    assert [f.name for f in VerifierClient(c.registry).verify(revoked).failed] == ["not_revoked"]


def test_a_batch_signed_by_a_retired_key_is_signed_again(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    issuer = client(c, tmp_path, sender=c.issuer_admin)
    issuer.issue(deposit_certificates(c, 6))
    issuer.seal()
    issuer.sign()  # signed by the old key, not yet sent
    new_key = labelled_test_key("BNU key after rotation")
    issuer.rotate_key(new_key)  # the old key is retired on chain
    report = issuer.run()
    assert (report.anchored, len(report.delivered)) == (1, 6)
    [batch] = issuer.journal.batches("BNUMMOMX", BatchState.DELIVERED)
    assert batch.signer == new_key.address
    assert c.registry.document_status(c.issuer_id, batch.root, bytes(32)).signing_key == new_key.address


def test_bundles_are_exported_again_from_the_journal_alone(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    issuer = client(c, tmp_path)
    issuer.issue(deposit_certificates(c, 12))
    delivered = {p.name: p.read_bytes() for p in issuer.run(max_batch=5).delivered}
    exported = export_bundles(issuer.journal, "BNUMMOMX", tmp_path / "export")
    assert {p.name: p.read_bytes() for p in exported} == delivered


def test_delivery_writes_what_this_process_sealed_without_reading_the_journal_again(
        consortium: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = consortium
    issuer = client(c, tmp_path)
    issuer.issue(deposit_certificates(c, 7))
    with monkeypatch.context() as m:
        m.setattr(issuer.journal, "batch_documents", lambda batch_id: pytest.fail("the journal was read again"))
        delivered = {p.name: p.read_bytes() for p in issuer.run(max_batch=4).delivered}
    assert len(delivered) == 7
    exported = export_bundles(issuer.journal, "BNUMMOMX", tmp_path / "export")  # rebuilt from the journal
    assert {p.name: p.read_bytes() for p in exported} == delivered


def test_a_revocation_whose_answer_was_lost_is_kept_not_sent_again(consortium: Consortium, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The superseded revision's revocation is mined but its receipt comes too late (ReceiptTimeout): the next run
    finds it on chain and keeps it, where it used to send it again, be refused as already revoked, and fail every
    run after; a revocation by reference retried after a lost answer is kept in the journal too."""
    c = consortium
    issuer = client(c, tmp_path)
    [(ref, cert), (other, other_cert)] = deposit_certificates(c, 2)
    issuer.issue([(ref, cert), (other, other_cert)])
    issuer.run()
    issuer.issue([(ref, changed(cert))], supersede=True)
    transact = Registry.transact

    def answer_lost(registry: Registry, build: Any, sender: Any) -> Any:
        transact(registry, build, sender)
        raise ReceiptTimeout("no receipt in time")

    with monkeypatch.context() as patched:
        patched.setattr(Registry, "transact", answer_lost)
        with pytest.raises(ReceiptTimeout):
            issuer.run()
        with pytest.raises(ReceiptTimeout):
            issuer.revoke(RevocationReason.WITHDRAWN, reference=other)
    assert issuer.run().superseded == 1 and issuer.journal.superseded("BNUMMOMX") == []
    with pytest.raises(RegistryDocumentAlreadyRevoked):
        issuer.revoke(RevocationReason.WITHDRAWN, reference=other)
    kept = {target: reason for target, _, reason in issuer.journal.revocations("BNUMMOMX")}
    digest = issuer.journal.find("BNUMMOMX", reference=other).digest  # type: ignore[union-attr]
    assert len(kept) == 2 and kept[digest] == RevocationReason.WITHDRAWN  # restored after a reset, like the other


def test_certificates_pending_when_the_hash_changes_are_hashed_again(consortium: Consortium, tmp_path: Path) -> None:
    """[issuer] hash_alg changed (keccak256 to sha256) while certificates were journalled, not sealed: their
    digests were computed with keccak256, and a sha256 batch of them anchored a root no bundle of theirs led to."""
    c = consortium
    earlier = deposit_certificates(c, 2)
    before = client(c, tmp_path)
    before.issue(earlier)
    before.journal.close()
    issuer = client(c, tmp_path, hash_alg=HashAlgorithm.SHA256)
    later = deposit_certificates(c, 1, start=2)
    issuer.issue(later)
    assert len(issuer.run().delivered) == 3
    verifier = VerifierClient(c.registry)
    for ref, _ in earlier + later:
        assert verifier.verify(load_bundle(issuer.bundle_path(ref).read_bytes())).valid, ref
    assert [b.hash_alg for b in issuer.journal.batches("BNUMMOMX", BatchState.DELIVERED)] == [HashAlgorithm.SHA256]
