"""Anomalies that mean something: the lawful flows raise none, each kind is raised once with what a supervisor
needs, and docs/regulator.md explains every kind as the catalogue does."""

from __future__ import annotations

import secrets
from pathlib import Path

from web3 import Web3

from crossverify.chain.records import RevocationReason
from crossverify.format.encoding import to_hex
from crossverify.regulator.anomalies import KINDS
from crossverify.regulator.queries import Filters, Supervision
from crossverify.sealing import Receipt, seal_receipts

from ..conftest import Consortium, admit_issuer, labelled_test_key
from ..postgres import Locate
from .test_circulation_trail import DIGEST, OTHER, flagged, record, second_bank, trail

DOCS = Path(__file__).resolve().parents[2] / "docs" / "regulator.md"


def test_the_docs_explain_every_kind_as_the_catalogue_does() -> None:
    text = DOCS.read_text()
    for k in KINDS.values():
        assert f"| `{k.name}` | {k.severity} | {k.meaning} | {k.next_step} |" in text, k.name
    assert text.count("\n| `") == len(KINDS)


def test_both_kinds_of_consent_are_lawful_and_none_is_flagged(consortium: Consortium, location: Locate) -> None:
    c = consortium
    root = Web3.keccak(text="consented batch")
    c.anchor(root)
    signed = Receipt.new(DIGEST, "BNUMMOMX", "DEPCERT", root, "ACCTOPEN", c.now(),
                         presentation_hash=secrets.token_bytes(32))
    at_the_counter = Receipt.new(OTHER, "BNUMMOMX", "DEPCERT", root, "LOAN", c.now(), case="LOAN-2027-0042")
    record(c, c.verifier, signed, at_the_counter)
    amcm = trail(c, location, [c.regulator_keys[0]])
    amcm.sync()
    assert flagged(amcm) == []
    supervision = Supervision(amcm.reader, amcm, now=c.now)
    assert supervision.overview()["totals"]["withoutConsent"] == 0
    [row] = supervision.page("receipts", Filters(consent="in_person")).rows
    assert (row["case"], row["presentationHash"], row["docType"]) == ("LOAN-2027-0042", None, "DEPCERT")

    bare = Receipt.new(OTHER, "BNUMMOMX", "DEPCERT", root, "KYC", c.now())
    record(c, c.verifier, bare)
    amcm.sync()
    [unconsented] = flagged(amcm)
    assert (unconsented["kind"], unconsented["severity"], unconsented["details"]["commitment"]) == (
        "circulation_without_consent", "high", to_hex(bare.commitment()))


def test_a_consent_cited_by_a_second_receipt_is_flagged_once(consortium: Consortium, location: Locate) -> None:
    c = consortium
    bank_b = second_bank(c)
    presentation = secrets.token_bytes(32)
    first = Receipt.new(DIGEST, "BNUMMOMX", "DEPCERT", bytes(32), "ACCTOPEN", c.now(), presentation_hash=presentation)
    again = Receipt.new(DIGEST, "BNUMMOMX", "DEPCERT", bytes(32), "LOAN", c.now(), presentation_hash=presentation)
    record(c, c.verifier, first)
    record(c, bank_b, again)
    amcm = trail(c, location, [c.regulator_keys[0]])
    amcm.sync()
    amcm.sync()
    [reused] = flagged(amcm)
    assert (reused["kind"], reused["bank"], reused["details"]["firstBy"]) == ("consent_reused", bank_b, c.verifier)
    assert reused["details"]["firstCommitment"] == to_hex(first.commitment())


def test_a_receipt_recorded_again_is_counted_once_and_accuses_no_one_of_reusing_consent(
        consortium: Consortium, location: Locate) -> None:
    """A bank's sealed batch is public: another bank that copies it, even ahead of it (its transaction seen
    pending), records the same commitments, which the honest bank's own transaction then records again. That is
    one verification recorded twice, not a consent cited by a second verification."""
    c = consortium
    bank_b = second_bank(c)
    genuine = Receipt.new(DIGEST, "BNUMMOMX", "DEPCERT", bytes(32), "ACCTOPEN", c.now(),
                          presentation_hash=secrets.token_bytes(32))
    batch = seal_receipts([genuine], [k.public_key for k in c.regulator_keys])
    c.circulation.record(batch.commitments, batch.sealed, bank_b)  # the copy, mined first
    c.circulation.record(batch.commitments, batch.sealed, c.verifier)
    amcm = trail(c, location, [c.regulator_keys[0]])
    amcm.sync()
    [again] = flagged(amcm)
    assert (again["kind"], again["bank"], again["details"]["firstBy"]) == ("receipt_recorded_again", c.verifier,
                                                                          bank_b)
    assert again["details"]["commitment"] == to_hex(genuine.commitment())
    supervision = Supervision(amcm.reader, amcm, now=c.now)
    assert supervision.overview()["totals"]["receipts"] == 1
    assert [r.verifier for r in amcm.circulation(DIGEST).receipts] == [bank_b]


def test_another_issuers_revocation_or_anchor_of_the_same_digest_accuses_no_bank(consortium: Consortium,
                                                                                 location: Locate) -> None:
    """Revocations and anchors are each issuer's own: another issuer that anchors a root already on chain with a
    short validity, and revokes that batch and a document digest of it, changes nothing about the first issuer's
    documents, and the banks that accept them are accused of nothing, whichever comes first on chain."""
    c = consortium
    root, other_key = Web3.keccak(text="BNU's batch"), labelled_test_key("another issuer's key")
    c.anchor(root)
    admit_issuer(c, "OTHERMOMX", c.outsider, [other_key], ["DEPCERT"])
    c.anchor(root, signer=other_key, not_after=c.now() + 60)
    amcm = trail(c, location, [c.regulator_keys[0]])
    record(c, c.verifier, Receipt.new(DIGEST, "BNUMMOMX", "DEPCERT", root, "ACCTOPEN", c.now() + 3600, case="A-1"))
    amcm.sync()
    c.registry.transact(lambda f: f.revokeDocument(DIGEST, RevocationReason.FRAUD), c.outsider)
    c.registry.transact(lambda f: f.revokeBatch(root, RevocationReason.FRAUD), c.outsider)
    record(c, c.verifier, Receipt.new(DIGEST, "BNUMMOMX", "DEPCERT", root, "KYC", c.now() + 3600, case="K-1"))
    amcm.sync()
    assert flagged(amcm) == []
    named_other = Receipt.new(OTHER, "OTHERMOMX", "DEPCERT", Web3.keccak(text="BNU's other batch"), "KYC",
                              c.now() + 3600, case="K-2")  # a root only BNU anchored, named as OTHERMOMX's
    c.anchor(Web3.keccak(text="BNU's other batch"))
    record(c, c.verifier, named_other)
    amcm.sync()
    [unanchored] = flagged(amcm)
    assert (unanchored["kind"], unanchored["severity"], unanchored["bank"]) == (
        "circulation_of_unanchored", "high", c.verifier)
    assert unanchored["details"]["anchoredBy"] == ["BNUMMOMX"] and unanchored["issuer"] == "OTHERMOMX"
    timeline = Supervision(amcm.reader, amcm, now=c.now).timeline(DIGEST)
    assert timeline["document"]["issuer"] == "BNUMMOMX"
    assert [(e["event"], e["issuer"]) for e in timeline["events"] if e["event"] != "verified"] == [
        ("anchored", "BNUMMOMX")]


def test_documents_accepted_after_revocation_or_expiry(consortium: Consortium, location: Locate) -> None:
    """Whichever comes first on chain, the receipt or the revocation, a verification at or after the revocation
    is flagged once; a batch revocation covers its documents; an anchor's notAfter bounds its documents."""
    c = consortium
    root, short = Web3.keccak(text="a batch later revoked"), Web3.keccak(text="a short-lived batch")
    c.anchor(root)
    c.anchor(short, not_after=c.now() + 60)
    amcm = trail(c, location, [c.regulator_keys[0]])
    late = Receipt.new(DIGEST, "BNUMMOMX", "DEPCERT", root, "ACCTOPEN", c.now() + 3600, case="A-1")
    record(c, c.verifier, late)  # recorded first, with a verification time after the revocation below
    amcm.sync()
    c.registry.transact(lambda f: f.revokeBatch(root, RevocationReason.ISSUED_IN_ERROR), c.issuer_admin)
    expired = Receipt.new(OTHER, "BNUMMOMX", "DEPCERT", short, "LOAN", c.now() + 120, case="L-9")
    in_time = Receipt.new(OTHER, "BNUMMOMX", "DEPCERT", short, "KYC", c.now() + 30, case="K-3")
    record(c, c.verifier, expired, in_time)
    amcm.sync()
    found = {a["kind"]: a for a in flagged(amcm)}
    assert set(found) == {"circulation_of_revoked", "circulation_of_expired"}
    assert found["circulation_of_revoked"]["details"]["commitment"] == to_hex(late.commitment())
    assert found["circulation_of_revoked"]["details"]["scope"] == "batch"
    assert found["circulation_of_expired"]["details"]["commitment"] == to_hex(expired.commitment())
    report = Supervision(amcm.reader, amcm, now=c.now).report()
    assert report.by_issuer["BNUMMOMX"]["batches_revoked"] == 1 and report.totals["revocations"] == 1


def test_anomalies_come_grouped_with_their_explanation(consortium: Consortium, location: Locate) -> None:
    c = consortium
    record(c, c.verifier, *(Receipt.new(secrets.token_bytes(32), "BNUMMOMX", "DEPCERT", bytes(32), "KYC", c.now())
                            for _ in range(7)))
    amcm = trail(c, location, [c.regulator_keys[0]])
    amcm.sync()
    [group] = Supervision(amcm.reader, amcm, now=c.now).anomaly_groups(examples=3)
    assert (group["kind"], group["count"], len(group["examples"])) == ("circulation_without_consent", 7, 3)
    assert group["title"] == "Verification recorded without consent" and group["nextStep"].startswith("Ask the bank")
