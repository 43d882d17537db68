"""What a stolen admin account overwrote on chain comes back with the issuer's next run once the consortium declares
the admin compromised: a genuine anchor a thief replaced (after marking the genuine key compromised from long ago)
is anchored again, and a revocation it overwrote is sent again, so residents' files verify as before the theft."""

from __future__ import annotations

from pathlib import Path

from crossverify import VerifierClient, load_bundle
from crossverify.chain.records import ProposalKind, RevocationReason
from crossverify.regulator.index import RegulatorReader
from crossverify.regulator.queries import Supervision

from ..conftest import Consortium, add_key, deposit_certificates, labelled_test_key
from .test_issuance import client


def test_a_thiefs_overwrites_are_undone_by_the_next_run(consortium: Consortium, tmp_path: Path) -> None:
    c, reg = consortium, consortium.registry
    issuer = client(c, tmp_path)
    issuer.issue(deposit_certificates(c, 3))
    bundles = [load_bundle(p.read_bytes()) for p in issuer.run().delivered]
    issuer.revoke(RevocationReason.FRAUD, reference="BNUMMOMX-000001")
    root, fraud = bundles[0].proof.batch_root, bundles[1].document_digest()
    bank = VerifierClient(c.registry)
    assert [r.valid for r in bank.verify_many(bundles)] == [True, False, True]

    c.travel(3600)
    theft = c.now()
    thief = labelled_test_key("the thief's own key")
    reg.transact(lambda f: f.markKeyCompromised(c.signing_key.address, 1), c.issuer_admin)  # every genuine act void
    add_key(c, "BNUMMOMX", c.issuer_admin, thief)
    c.anchor(root, signer=thief, leaf_count=7)  # the genuine anchor no longer held its root: replaced
    reg.transact(lambda f: f.revokeDocument(fraud, RevocationReason.SUPERSEDED), c.issuer_admin)  # overwritten
    c.govern(ProposalKind.REPLACE_ISSUER_ADMIN, c.issuer_id, c.w3.eth.accounts[8], theft)

    status = reg.document_status(c.issuer_id, root, fraud)
    assert status.signing_key == thief.address and status.document_revocation.void  # what the thief left
    report = issuer.run()
    assert (report.reanchored, report.anchored, report.restored) == (1, 1, 1)
    reports = bank.verify_many(bundles)
    assert [r.valid for r in reports] == [True, False, True]
    assert [x.outcome.value for x in reports[1].checks if x.name == "not_revoked"] == ["failed"]
    assert reg.document_status(c.issuer_id, root, fraud).signing_key == c.signing_key.address
    assert issuer.run().transactions == 0  # nothing more to put back
    reader = RegulatorReader(reg, tmp_path / "audit.sqlite")
    reader.sync()
    totals = Supervision(reader).report().by_issuer["BNUMMOMX"]
    assert (totals["batches"], totals["documents"]) == (1, 3)  # the thief's anchor and the genuine one's return
