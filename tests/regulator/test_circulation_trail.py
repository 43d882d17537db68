"""The regulator's circulation trail on the embedded chain: every receipt of a document traced in chain order, with
consent; old keys still read their epoch, an outsider's key reads nothing; a fork rewinds the opened tables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from web3 import Web3

from crossverify.chain.records import ProposalKind, RevocationReason, Role
from crossverify.errors import NoRegulatorKey
from crossverify.format.encoding import to_hex
from crossverify.regulator import circulation, index, rollup
from crossverify.regulator.circulation import CirculationTrail
from crossverify.regulator.export import to_csv, to_html
from crossverify.regulator.index import RegulatorReader
from crossverify.regulator.queries import AuditReport, Filters, Supervision
from crossverify.sealing import (
    Dispute,
    DisputeAnswer,
    DisputeReason,
    DisputeStatus,
    Receipt,
    RegulatorKey,
    answer_key_address,
    answer_signing_key,
    issuer_answer_key,
    seal_answer,
    seal_dispute,
    seal_receipts,
)

from ..capped_logs import cap_log_ranges
from ..conftest import Consortium, forge_batch, labelled_regulator_key, labelled_test_key
from ..postgres import Locate
from ..sqlite_steps import counted

DIGEST = Web3.keccak(text="Alice's deposit certificate")
ROOT = Web3.keccak(text="the batch it was anchored in")
OTHER = Web3.keccak(text="Bob's deposit certificate")


def record(c: Consortium, bank: str, *receipts: Receipt, keys: list[RegulatorKey] | None = None) -> None:
    batch = seal_receipts(receipts, [k.public_key for k in keys or c.regulator_keys])
    c.circulation.record(batch.commitments, batch.sealed, bank)


def receipt(digest: bytes, purpose: str, consented: bool = True) -> Receipt:
    return Receipt.new(digest, "BNUMMOMX", "DEPCERT", ROOT, purpose, 1_790_000_000,
                       presentation_hash=secrets.token_bytes(32) if consented else None)


def trail(c: Consortium, location: Locate, keys: list[RegulatorKey], name: str = "audit") -> CirculationTrail:
    reader = RegulatorReader(c.registry, location(f"{name}.sqlite"), chunk=5, circulation=c.circulation)
    return CirculationTrail(reader, keys, now=lambda: c.now())


def second_bank(c: Consortium) -> str:
    bank = c.w3.eth.accounts[7]
    c.govern(ProposalKind.ADMIT_MEMBER, bank, Role.VERIFIER, bytes(32))
    return str(bank)


def audit(opened: CirculationTrail) -> AuditReport:
    return Supervision(opened.reader, opened).report()


def flagged(opened: CirculationTrail, kind: str | None = None) -> list[dict[str, Any]]:
    """The anomalies (of ``kind``) the trail raised, oldest first."""
    return list(reversed(list(Supervision(opened.reader, opened).rows("anomalies", Filters(kind=kind)))))


def test_the_regulator_traces_every_circulation_of_a_document(consortium: Consortium, location: Locate) -> None:
    c = consortium
    bank_b = second_bank(c)
    first, other = receipt(DIGEST, "ACCTOPEN"), receipt(OTHER, "ACCTOPEN")
    record(c, c.verifier, first, other)
    bare = receipt(DIGEST, "LOAN", consented=False)
    record(c, bank_b, bare)

    amcm = trail(c, location, [c.regulator_keys[0]])
    _, opened = amcm.sync()
    assert (opened.receipts, opened.unreadable) == (3, 0)
    found = amcm.circulation(DIGEST)
    assert [(r.verifier, r.purpose, r.consented) for r in found.receipts] == [
        (c.verifier, "ACCTOPEN", True), (bank_b, "LOAN", False)]
    shown = found.as_json()["receipts"]
    assert shown[0]["purposeInWords"] == "account opening" and shown[1]["purposeInWords"] == "loan application"
    assert shown[0]["presentationHash"] == to_hex(first.presentation_hash) and shown[1]["presentationHash"] is None
    assert shown[0]["member"].startswith("verifier, admitted") and shown[0]["block"] < shown[1]["block"]
    assert shown[0]["commitment"] == to_hex(first.commitment())
    assert [r.commitment for r in amcm.circulation(OTHER).receipts] == [other.commitment()]
    assert amcm.circulation(Web3.keccak(text="never verified")).receipts == []

    report = audit(amcm)
    assert report.circulation is not None and report.circulation["receipts"] == 3
    assert report.circulation["byVerifier"][bank_b] == {"sealed_receipts": 1, "consented": 0, "without_consent": 1,
                                                        "for_revoked": 0}
    assert report.circulation["byPurpose"] == {"ACCTOPEN": 2, "LOAN": 1}
    [unconsented] = flagged(amcm, "circulation_without_consent")
    assert unconsented["bank"] == bank_b and unconsented["documentDigest"] == to_hex(DIGEST)
    assert unconsented["details"]["commitment"] == to_hex(bare.commitment())
    assert "circulation_verifier" in to_csv(report) and "without the resident" in to_html(report)
    assert amcm.open_new().receipts == 0  # each event is opened once


def test_without_keys_the_index_counts_each_banks_sealed_receipts_and_flags_bursts(consortium: Consortium,
                                                                                    location: Locate) -> None:
    c = consortium
    record(c, c.verifier, *(receipt(secrets.token_bytes(32), "ACCTOPEN") for _ in range(3)))
    reader = RegulatorReader(c.registry, location("keyless.sqlite"), chunk=5, circulation=c.circulation,
                             burst_per_hour=2)
    reader.sync()
    report = Supervision(reader).report()
    assert report.by_verifier[c.verifier]["receipts"] == 3 and report.totals["receipts"] == 3
    [burst] = [g for g in report.anomalies if g["kind"] == "receipt_burst"]
    assert burst["examples"][0]["bank"] == c.verifier and burst["examples"][0]["details"]["receipts"] == 3
    opened = CirculationTrail(reader, c.regulator_keys, now=lambda: c.now())
    opened.sync()
    assert audit(opened).totals["receipts"] == 3  # opening them counts no receipt twice


def test_an_old_key_still_reads_its_epoch_and_an_outsider_reads_nothing(consortium: Consortium,
                                                                        location: Locate) -> None:
    c = consortium
    old_amcm, pboc = c.regulator_keys
    in_old_epoch = receipt(DIGEST, "ACCTOPEN")
    record(c, c.verifier, in_old_epoch)
    new_amcm = labelled_regulator_key("AMCM 2027")
    c.set_regulator_keys([new_amcm, pboc], ["MO", "GD"])
    in_new_epoch = receipt(DIGEST, "KYC")
    record(c, c.verifier, in_new_epoch, keys=[new_amcm, pboc])

    both = trail(c, location, [new_amcm, old_amcm], "both")
    both.sync()
    assert [r.commitment for r in both.circulation(DIGEST).receipts] == [
        in_old_epoch.commitment(), in_new_epoch.commitment()]

    only_new = trail(c, location, [new_amcm], "new")
    only_new.sync()
    assert [r.purpose for r in only_new.circulation(DIGEST).receipts] == ["KYC"]
    assert [a["kind"] for a in flagged(only_new) if a["kind"].startswith("sealed")] == ["sealed_to_other_keys"]

    outsider = trail(c, location, [labelled_regulator_key("an outsider")], "outsider")
    _, opened = outsider.sync()
    assert (opened.receipts, opened.unreadable) == (0, 2) and outsider.circulation(DIGEST).receipts == []


def test_a_batch_sealed_before_the_keys_changed_and_mined_after_opens_with_the_keys_it_was_sealed_to(
        consortium: Consortium, location: Locate) -> None:
    """A bank seals to the keys of the epoch it reads (receipts, a dispute): its transaction, pending when the
    consortium changes the keys, is mined in the next epoch. A regulator holding the key it was sealed to opens it
    and accuses the bank of nothing; a batch sealed to the old keys long after the change is still flagged."""
    c = consortium
    c.anchor(ROOT)
    old_amcm, pboc = c.regulator_keys
    pending = seal_receipts([receipt(DIGEST, "ACCTOPEN")], [k.public_key for k in c.regulator_keys])
    new_amcm = labelled_regulator_key("AMCM 2027")
    c.set_regulator_keys([new_amcm, pboc], ["MO", "GD"])
    c.circulation.record(pending.commitments, pending.sealed, c.verifier)
    open_a_dispute(c, DisputeReason.OTHER, receipt(DIGEST, "LOAN"), keys=[old_amcm, pboc])
    amcm = trail(c, location, [new_amcm, old_amcm])
    _, opened = amcm.sync()
    assert (opened.receipts, opened.disputes, opened.unreadable) == (1, 1, 0) and flagged(amcm) == []

    c.w3.testing.timeTravel(c.now() + circulation.SEALED_BEFORE_CHANGE + 60)
    stale = seal_receipts([receipt(DIGEST, "KYC")], [k.public_key for k in c.regulator_keys])
    c.circulation.record(stale.commitments, stale.sealed, c.verifier)
    _, opened = amcm.sync()
    assert (opened.receipts, opened.unreadable) == (0, 1)
    assert [a["kind"] for a in flagged(amcm)] == ["sealed_altered"]


def test_a_receipt_for_a_revoked_document_is_an_anomaly(consortium: Consortium, location: Locate) -> None:
    c = consortium
    c.registry.transact(lambda f: f.revokeDocument(DIGEST, RevocationReason.WITHDRAWN), c.issuer_admin)
    before = Receipt.new(DIGEST, "BNUMMOMX", "DEPCERT", ROOT, "ACCTOPEN", c.now() - 3600)
    after = Receipt.new(DIGEST, "BNUMMOMX", "DEPCERT", ROOT, "ACCTOPEN", c.now() + 60,
                        presentation_hash=secrets.token_bytes(32))
    record(c, c.verifier, before, after)
    amcm = trail(c, location, [c.regulator_keys[0]])
    amcm.sync()
    report = audit(amcm)
    [revoked] = flagged(amcm, "circulation_of_revoked")
    assert revoked["documentDigest"] == to_hex(DIGEST) and revoked["bank"] == c.verifier
    assert revoked["details"]["commitment"] == to_hex(after.commitment())
    assert report.circulation["byVerifier"][c.verifier]["for_revoked"] == 1  # type: ignore[index]


def test_what_does_not_open_is_an_anomaly(consortium: Consortium, location: Locate) -> None:
    c = consortium
    regulators = [k.public_key for k in c.regulator_keys]
    good, other, third = receipt(DIGEST, "ACCTOPEN"), receipt(OTHER, "ACCTOPEN"), receipt(OTHER, "LOAN")
    batch = seal_receipts([good, other, third], regulators)
    # A bank that seals the plaintexts in one order under commitments in another (both under the envelope's key):
    # the swapped pair is refused position by position, the third still opens where it stands.
    swapped = forge_batch([other, good, third], (good.commitment(), other.commitment(), third.commitment()),
                          regulators)
    flipped = bytearray(batch.sealed)
    flipped[-20] ^= 1
    for commitments, sealed in [
            (swapped.commitments, swapped.sealed),
            (batch.commitments, bytes(flipped)),  # a tampered body: none of its three receipts opens
            (batch.commitments[::-1], batch.sealed),  # the commitments reordered on chain
            (batch.commitments[:2], batch.sealed),  # truncated: the envelope is the wrong length for two
            ((Web3.keccak(text="junk"),), b"\x01\x00"),
            ((Web3.keccak(text="the GM suite's"),), b"\x04\x02" + bytes(200))]:  # another suite: malformed, no crash
        c.circulation.record(commitments, sealed, c.verifier)
    amcm = trail(c, location, [c.regulator_keys[0]])
    _, opened = amcm.sync()
    assert (opened.receipts, opened.unreadable) == (1, 2 + 3 + 3 + 2 + 1 + 1)
    assert [r.purpose for r in amcm.circulation(OTHER).receipts] == ["LOAN"]
    assert amcm.circulation(DIGEST).receipts == []
    kinds = [(a["kind"], a["details"].get("commitment")) for a in flagged(amcm) if a["kind"].startswith("sealed")]
    assert sorted(k for k, _ in kinds) == ["sealed_altered"] * 8 + ["sealed_malformed"] * 4
    assert {to_hex(good.commitment()), to_hex(other.commitment())} <= {commitment for _, commitment in kinds}


def test_a_receipt_sealed_in_another_key_order_still_opens(consortium: Consortium, location: Locate) -> None:
    c = consortium
    reordered = receipt(DIGEST, "ACCTOPEN")
    record(c, c.verifier, reordered, keys=list(reversed(c.regulator_keys)))
    for key in c.regulator_keys:
        regulator = trail(c, location, [key], key.public_key.key_id.hex())
        assert regulator.sync()[1].receipts == 1
        assert [r.commitment for r in regulator.circulation(DIGEST).receipts] == [reordered.commitment()]


def test_a_fork_rewinds_the_opened_trail(consortium: Consortium, location: Locate) -> None:
    c = consortium
    record(c, c.verifier, receipt(DIGEST, "ACCTOPEN"))
    amcm = trail(c, location, [c.regulator_keys[0]])
    amcm.sync()
    fork = c.w3.testing.snapshot()
    record(c, c.verifier, receipt(DIGEST, "LOAN"), receipt(DIGEST, "LOAN"))
    amcm.sync()
    assert [r.purpose for r in amcm.circulation(DIGEST).receipts] == ["ACCTOPEN", "LOAN", "LOAN"]

    c.w3.testing.revert(fork)  # the abandoned receipts leave the chain; another branch grows in its place
    record(c, c.verifier, receipt(DIGEST, "KYC"))
    indexed, opened = amcm.sync()
    assert indexed.rewound > 0 and opened.receipts == 1
    assert [r.purpose for r in amcm.circulation(DIGEST).receipts] == ["ACCTOPEN", "KYC"]
    assert audit(amcm).circulation["receipts"] == 2  # type: ignore[index]


def events_read(reader: RegulatorReader, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many rows each statement reading the index's events in chain order returns, from now on."""
    db, read = reader.store.db, []
    execute = db.execute

    def counting(sql: str, parameters: Any = ()) -> Any:
        rows = execute(sql, parameters)
        if "FROM events WHERE (block_number, log_index) >" in sql:
            rows = rows.fetchall()
            read.append(len(rows))
        return rows

    monkeypatch.setattr(db, "execute", counting)
    return read


def test_a_pass_reads_only_the_events_it_opens(consortium: Consortium, location: Locate,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening the circulation takes ``EVENTS_PER_PASS`` events a pass: each pass reads those, not every event after
    the last one opened (PostgreSQL reads a statement's rows whole: catching up read the backlog once a pass)."""
    c = consortium
    for _ in range(5):
        record(c, c.verifier, receipt(secrets.token_bytes(32), "ACCTOPEN"))
    monkeypatch.setattr(circulation, "EVENTS_PER_PASS", 2)
    amcm = trail(c, location, [c.regulator_keys[0]])
    amcm.reader.sync()
    read = events_read(amcm.reader, monkeypatch)
    opened = amcm.open_new()
    assert opened.receipts >= 5 and max(read) == 2 and read[-1] == 0
    assert sum(read) == len(list(amcm.reader.events(*circulation.EVENTS)))  # each read once


def test_indexed_events_are_read_a_page_at_a_time(consortium: Consortium, location: Locate,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``RegulatorReader.events`` holds one page of rows at a time, whatever the index holds (a statement's rows
    are read whole), and yields every event once, in chain order."""
    c = consortium
    record(c, c.verifier, receipt(secrets.token_bytes(32), "ACCTOPEN"))
    reader = trail(c, location, [c.regulator_keys[0]]).reader
    reader.sync()
    whole = {names: list(reader.events(*names)) for names in ((), ("MemberAdmitted", "ReceiptsSealed"))}
    monkeypatch.setattr(index, "EVENTS_PAGE", 2)
    read = events_read(reader, monkeypatch)
    for names, events in whole.items():
        read.clear()
        assert list(reader.events(*names)) == events and len(events) > 2
        assert max(read) == 2 and sum(read) == len(events)


def test_keys_added_later_open_what_did_not_open(consortium: Consortium, location: Locate) -> None:
    c = consortium
    record(c, c.verifier, receipt(DIGEST, "ACCTOPEN"))
    stranger = labelled_regulator_key("not yet given the AMCM key")
    reader = RegulatorReader(c.registry, location("audit.sqlite"), circulation=c.circulation)
    assert CirculationTrail(reader, [stranger]).sync()[1].receipts == 0
    assert CirculationTrail(reader, [stranger, c.regulator_keys[0]]).open_new().receipts == 1
    with pytest.raises(NoRegulatorKey):
        CirculationTrail(reader, [])


def set_dispute_keys(c: Consortium) -> RegulatorKey:
    """BNU's dispute keys, registered on the circulation contract."""
    issuer_key = labelled_regulator_key("BNU dispute key")
    c.circulation.set_issuer_keys(c.issuer_id, issuer_key.public_key.raw, issuer_answer_key(issuer_key),
                                  c.issuer_admin)
    return issuer_key


def open_a_dispute(c: Consortium, reason: DisputeReason, about: Receipt, keys_set: bool = False,
                   keys: list[RegulatorKey] | None = None) -> tuple[bytes, Dispute, RegulatorKey]:
    """A dispute about ``about`` opened by the bank (BNU's dispute keys registered first, unless ``keys_set``),
    sealed to ``keys`` (default: the regulators' keys)."""
    reply = RegulatorKey.generate()
    dispute = Dispute.new(about.document_digest, "BNUMMOMX", Web3.keccak(text="its batch"), reason,
                          about.commitment(), c.now(), reply.public_key)
    issuer_key = labelled_regulator_key("BNU dispute key") if keys_set else set_dispute_keys(c)
    answer_key = answer_key_address(dispute, issuer_answer_key(issuer_key))
    sealed = seal_dispute(dispute, [issuer_key.public_key, *(k.public_key for k in keys or c.regulator_keys)],
                          answer_key)
    dispute_id, _ = c.circulation.open_dispute(answer_key, sealed, c.verifier)
    return dispute_id, dispute, reply


def test_an_index_starting_after_the_issuers_dispute_keys_opens_its_disputes(
        consortium: Consortium, location: Locate, monkeypatch: pytest.MonkeyPatch) -> None:
    """An index that starts ([audit] from_block) after the block where the issuer registered its dispute keys
    holds none of them: the keys set before its first block are read from the node, once per issuer however many
    disputes (on a node capping log ranges at 10 blocks, span by span)."""
    c = consortium
    set_dispute_keys(c)
    c.travel(60)
    c.w3.testing.mine(50)
    start = c.w3.eth.block_number + 1
    c.set_regulator_keys(c.regulator_keys, ["MO", "GD"])  # a key epoch the index holds: receipts open
    verified = receipt(DIGEST, "ACCTOPEN")
    record(c, c.verifier, verified)
    for _ in range(3):
        open_a_dispute(c, DisputeReason.SUSPECTED_REUSE, verified, keys_set=True)
    reader = RegulatorReader(c.registry, location("audit.sqlite"), chunk=5, circulation=c.circulation,
                             from_block=start)
    reader.sync()
    spans = cap_log_ranges(monkeypatch, c.w3, 10)
    _, opened = CirculationTrail(reader, [c.regulator_keys[0]], now=c.now).sync()
    assert (opened.receipts, opened.disputes, opened.unreadable) == (1, 3, 0), opened
    below = [(low, high) for low, high in spans if low < start]
    assert below and below[0][0] == 0 and max(high for _, high in below) == start - 1  # one walk, up to the index
    assert len(below) == len({low for low, _ in below})


def test_an_index_starting_after_the_key_epoch_opens_its_receipts(consortium: Consortium, location: Locate) -> None:
    """An index that starts after the regulator keys were set holds no RegulatorKeysChanged: the epochs set before
    its first block are read from the node, and the receipts sealed to them open."""
    c = consortium
    c.set_regulator_keys(c.regulator_keys, ["MO", "GD"])
    c.w3.testing.mine(5)
    start = c.w3.eth.block_number + 1
    record(c, c.verifier, receipt(DIGEST, "ACCTOPEN"))
    reader = RegulatorReader(c.registry, location("audit.sqlite"), circulation=c.circulation, from_block=start)
    _, opened = CirculationTrail(reader, [c.regulator_keys[1]], now=c.now).sync()
    assert (opened.receipts, opened.unreadable) == (1, 0), opened


def answer(c: Consortium, dispute_id: bytes, dispute: Dispute, reply: RegulatorKey, status: DisputeStatus,
           signer: LocalAccount) -> None:
    at = c.now()
    signature = signer.sign_message(encode_defunct(DisputeAnswer.signed_bytes(dispute_id, status, at))).signature
    sealed = seal_answer(DisputeAnswer(dispute_id, status, at, bytes(signature)),
                         [reply.public_key, *(k.public_key for k in c.regulator_keys)])
    key = Account.from_key(answer_signing_key(dispute, labelled_regulator_key("BNU dispute key")))
    c.circulation.answer_dispute(dispute_id, sealed, key, c.outsider)


def test_the_regulator_follows_each_dispute_to_its_answer(consortium: Consortium, location: Locate,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    c = consortium
    verified = receipt(DIGEST, "ACCTOPEN")
    record(c, c.verifier, verified)
    answered_id, answered, reply = open_a_dispute(c, DisputeReason.SUSPECTED_REUSE, verified)
    c.travel(3600)
    answer(c, answered_id, answered, reply, DisputeStatus.CONFIRMED_GENUINE, c.signing_key)
    forged_id, forged, forged_reply = open_a_dispute(c, DisputeReason.STATEMENT_MISMATCH, verified)
    answer(c, forged_id, forged, forged_reply, DisputeStatus.REVOKED, labelled_test_key("not BNU's key"))
    left_id, _, _ = open_a_dispute(c, DisputeReason.SUSPECTED_ALTERATION, receipt(OTHER, "LOAN"))

    pboc = trail(c, location, [c.regulator_keys[1]])
    events, asked = pboc.reader.events, []
    monkeypatch.setattr(pboc.reader, "events", lambda *names: asked.append(names) or events(*names))
    _, opened = pboc.sync()
    assert (opened.disputes, opened.unreadable) == (5, 0)
    assert asked.count(("SigningKeyAdded",)) == 1  # the issuers' signing keys read once, not once per answer
    monkeypatch.undo()
    [first, second] = pboc.circulation(DIGEST).disputes
    assert (first["disputeId"], first["reason"], first["state"]) == (to_hex(answered_id), "suspected_reuse",
                                                                    "confirmed_genuine")
    assert first["receiptCommitment"] == to_hex(verified.commitment()) and first["issuer"] == "BNUMMOMX"
    assert first["answers"][0]["signedByIssuer"] and first["ageDays"] == 0.04  # answered after an hour
    assert second["state"] == "revoked" and not second["answers"][0]["signedByIssuer"]

    c.travel(6 * 86400)
    report = audit(pboc)
    kinds = {g["kind"]: g["examples"] for g in report.anomalies}
    [late] = kinds["dispute_unanswered"]
    assert late["details"]["disputeId"] == to_hex(left_id) and late["details"]["ageDays"] > 5
    assert [a["details"]["disputeId"] for a in kinds["dispute_answer_not_by_issuer"]] == [to_hex(forged_id)]
    assert [d["state"] for d in report.circulation["disputes"]] == [  # type: ignore[index]
        "confirmed_genuine", "revoked", "open"]
    assert "suspected alteration" in to_html(report)  # the reason in the report's words
    assert f"dispute,{to_hex(left_id)},state,open" in to_csv(report)

    outsider = trail(c, location, [labelled_regulator_key("an outsider")], "outsider")
    _, unread = outsider.sync()
    assert (unread.disputes, unread.unreadable) == (0, 6)  # nobody else learns which document is disputed


def test_a_dispute_stays_readable_after_its_issuer_registers_new_keys(consortium: Consortium,
                                                                      location: Locate) -> None:
    """The new admin after a theft (or a rotation) registers new dispute keys: a dispute opened before is still
    checked against the answer key its issuer had when it was opened, not taken for a bank's own."""
    c = consortium
    verified = receipt(DIGEST, "ACCTOPEN")
    record(c, c.verifier, verified)
    open_a_dispute(c, DisputeReason.SUSPECTED_REUSE, verified)
    rotated = labelled_regulator_key("BNU's next dispute key")
    c.circulation.set_issuer_keys(c.issuer_id, rotated.public_key.raw, issuer_answer_key(rotated), c.issuer_admin)
    _, opened = trail(c, location, [c.regulator_keys[0]]).sync()
    assert (opened.disputes, opened.unreadable) == (1, 0)


DIMENSIONS = [(measure, dimension) for measure, dimensions in rollup.MEASURES.items() for dimension in dimensions]
#: A year's rows beside which an audit round opens new receipts and an answer, by the table they fill: revocations
#: of other documents, consented receipts opened before, days of counts, disputes.
HISTORY = {
    "revocations": ("INSERT INTO revocations (block_number, block_time, issuer_id, scope, target, reason, signing_key, "
                    "documents, counted) VALUES (0, 0, 'BNUMMOMX', 'document', ?, 'withdrawn', '', 1, 1)",
                    lambda i: (os.urandom(32),)),
    "consents": ("INSERT INTO circulation_receipts (block_number, log_index, position, block_time, verifier, "
                 "key_epoch, commitment, document_digest, issuer_id, doc_type, batch_root, purpose, consent, "
                 "consent_reference, verified_at) VALUES (0, 0, 0, 0, '', 1, ?, ?, 'BNUMMOMX', 'DEPCERT', ?, 'KYC', "
                 "1, ?, 0)",
                 lambda i: (os.urandom(32), os.urandom(32), ROOT, os.urandom(32))),
    "rollup": ("INSERT INTO rollup (measure, dimension, day, value, amount) VALUES (?, ?, ?, '', 1)",
               lambda i: (*DIMENSIONS[i % len(DIMENSIONS)], i // len(DIMENSIONS))),
    "disputes": ("INSERT INTO circulation_disputes (block_number, log_index, block_time, dispute_id, verifier, "
                 "key_epoch, content, document_digest) VALUES (0, ?, 0, ?, '', 1, '{}', ?)",
                 lambda i: (i, os.urandom(32), os.urandom(32))),
}


@pytest.mark.parametrize("history", list(HISTORY))
def test_an_audit_round_does_the_same_work_however_long_the_history_beside_it(
        consortium: Consortium, tmp_path: Path, history: str) -> None:
    """An audit round that opens new receipts and a dispute's answer looks up what they concern: beside 20,000
    rows of one table's history it takes SQLite as many steps as beside none (each was a walk over that table)."""
    c = consortium
    verified = receipt(DIGEST, "ACCTOPEN")
    record(c, c.verifier, verified)
    dispute_id, dispute, reply = open_a_dispute(c, DisputeReason.SUSPECTED_REUSE, verified)
    alone, beside = (trail(c, lambda name: tmp_path / name, [c.regulator_keys[0]], name) for name in ("alone", "long"))
    for opened in (alone, beside):
        opened.sync()
    insert, row = HISTORY[history]
    with beside.reader.store.transaction() as db:
        db.executemany(insert, [row(i) for i in range(20_000)])
    record(c, c.verifier, receipt(DIGEST, "LOAN"), receipt(OTHER, "KYC", consented=False))
    answer(c, dispute_id, dispute, reply, DisputeStatus.CONFIRMED_GENUINE, c.signing_key)

    def steps(opened: CirculationTrail) -> int:
        (_, report), steps_taken = counted(opened.reader.store.db, opened.sync)
        assert (report.receipts, report.disputes, report.unreadable) == (2, 1, 0)
        return steps_taken

    small, large = steps(alone), steps(beside)
    assert large < small * 1.2, (small, large)
