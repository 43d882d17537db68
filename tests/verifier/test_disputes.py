"""Disputes end to end: a bank opens one, the issuer concerned finds and answers it, the bank reads the answer;
everybody else, issuer included for other issuers' disputes, learns nothing of which document it concerns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from crossverify import Bundle, VerifierClient
from crossverify.errors import CirculationAnswerNotAuthorised, CrossverifyError, NotSealedToThisKey, SealingError
from crossverify.format.codes import issuer_id_code
from crossverify.format.hashing import HashAlgorithm
from crossverify.issuer.disputes import answer_dispute, received_disputes, register_sealing_key
from crossverify.sealing import (
    ANSWER_KEY_PREFIX,
    Dispute,
    DisputeReason,
    DisputeStatus,
    Kem,
    RegulatorKey,
    RegulatorPublicKey,
    issuer_answer_key,
    open_answer,
    open_dispute,
    seal_dispute,
)
from crossverify.verifier.disputes import OpenedDispute, read_answer
from crossverify.verifier.disputes import open_dispute as bank_opens

from ..capped_logs import cap_log_ranges
from ..conftest import Consortium
from .test_verifier import issued  # noqa: F401 - the fixture

_keccak = HashAlgorithm.KECCAK256.hasher()


@pytest.fixture
def issuer_key(consortium: Consortium) -> RegulatorKey:
    key = RegulatorKey.generate()
    register_sealing_key(consortium.circulation, "BNUMMOMX", key, consortium.issuer_admin)
    return key


def test_a_dispute_is_opened_answered_and_read(consortium: Consortium, issued: list[Bundle],  # noqa: F811
                                               issuer_key: RegulatorKey, tmp_path: Path) -> None:
    c = consortium
    bank = VerifierClient(c.registry, sender=c.verifier, circulation=c.circulation)
    report = bank.verify(issued[0])
    [commitment] = bank.record([report], "ACCTOPEN").commitments
    opened = bank_opens(c.circulation, c.verifier, report, DisputeReason.SUSPECTED_REUSE, c.now(), commitment)
    opened.write(tmp_path / "dispute.json")
    assert OpenedDispute.read(tmp_path / "dispute.json") == opened
    assert (tmp_path / "dispute.json").stat().st_mode & 0o777 == 0o600
    assert read_answer(c.circulation, c.registry, opened) is None  # not answered yet

    [received] = received_disputes(c.circulation, issuer_key)
    assert received.dispute == opened.dispute and received.verifier == c.verifier and not received.answered
    assert received.dispute.receipt_commitment == commitment
    # The regulators read the dispute too.
    sealed = next(bytes(e.args["ciphertext"]) for e in c.circulation.events() if e.name == "DisputeOpened")
    answer_key = c.circulation.dispute(opened.dispute_id).answer_key
    assert all(open_dispute(sealed, answer_key, k, registered(c)) == opened.dispute for k in c.regulator_keys)

    # The issuer answers through a relay (here the outsider's account), signed by its signing key.
    answer = answer_dispute(c.circulation, received, DisputeStatus.CONFIRMED_GENUINE, c.signing_key, c.outsider,
                            c.now(), issuer_key)
    read = read_answer(c.circulation, c.registry, OpenedDispute.read(tmp_path / "dispute.json"))
    assert read is not None and read.answer == answer and read.signed_by_issuer
    assert read.signer == c.signing_key.address
    answered = next(bytes(e.args["ciphertext"]) for e in c.circulation.events() if e.name == "DisputeAnswered")
    assert open_answer(answered, opened.dispute_id, c.regulator_keys[1]).status is DisputeStatus.CONFIRMED_GENUINE
    with pytest.raises(CrossverifyError):
        answer_dispute(c.circulation, received_disputes(c.circulation, issuer_key)[0], DisputeStatus.REVOKED,
                       c.signing_key, c.outsider, c.now(), issuer_key)


def test_another_issuer_and_the_bank_itself_cannot_read_or_answer(
        consortium: Consortium, issued: list[Bundle], issuer_key: RegulatorKey) -> None:  # noqa: F811
    c = consortium
    bank = VerifierClient(c.registry, sender=c.verifier, circulation=c.circulation)
    opened = bank_opens(c.circulation, c.verifier, bank.verify(issued[1]), DisputeReason.STATEMENT_MISMATCH,
                        c.now())
    assert received_disputes(c.circulation, RegulatorKey.generate()) == []  # another issuer's key opens nothing
    sealed = next(bytes(e.args["ciphertext"]) for e in c.circulation.events() if e.name == "DisputeOpened")
    with pytest.raises(SealingError):
        open_dispute(sealed, c.circulation.dispute(opened.dispute_id).answer_key, opened.reply_key, registered(c))
    with pytest.raises(CirculationAnswerNotAuthorised):  # whoever lacks the issuer's answer key cannot answer it
        c.circulation.answer_dispute(opened.dispute_id, b"x" * 64, Account.create(), c.issuer_admin)


def test_the_bank_cannot_answer_its_own_dispute_nor_lock_the_issuer_out(
        consortium: Consortium, issued: list[Bundle], issuer_key: RegulatorKey) -> None:  # noqa: F811
    """The bank draws the salt: it used to hold the one-time answer key (so did every regulator), answer its own
    dispute, and have the issuer's real answer refused. The key is now the issuer's answer key moved by the salt's
    tweak: the bank and the regulators know the tweak, not the issuer's secret."""
    c = consortium
    bank = VerifierClient(c.registry, sender=c.verifier, circulation=c.circulation)
    opened = bank_opens(c.circulation, c.verifier, bank.verify(issued[0]), DisputeReason.OTHER, c.now())
    for guess in (_keccak(ANSWER_KEY_PREFIX + opened.dispute.salt),  # the old derivation
                  opened.dispute.answer_tweak.to_bytes(32, "big")):  # the tweak alone
        with pytest.raises(CirculationAnswerNotAuthorised):
            c.circulation.answer_dispute(opened.dispute_id, b"self-answer", Account.from_key(guess), c.verifier)
    [received] = received_disputes(c.circulation, issuer_key)
    answer_dispute(c.circulation, received, DisputeStatus.CONFIRMED_GENUINE, c.signing_key, c.outsider, c.now(),
                   issuer_key)
    read = read_answer(c.circulation, c.registry, opened)
    assert read is not None and read.signed_by_issuer


def test_a_dispute_not_bound_to_the_issuers_answer_key_is_refused_by_its_readers(
        consortium: Consortium, issued: list[Bundle], issuer_key: RegulatorKey) -> None:  # noqa: F811
    """A bank that opens a dispute under a key of its own (so that it could answer it itself) is found out by the
    issuer and every regulator: the sealed tweak does not move the issuer's answer key to it."""
    c = consortium
    bank = VerifierClient(c.registry, sender=c.verifier, circulation=c.circulation)
    report = bank.verify(issued[0])
    assert report.bundle is not None and report.document_digest is not None
    reply = RegulatorKey.generate()
    dispute = Dispute.new(report.document_digest, "BNUMMOMX", report.bundle.proof.batch_root, DisputeReason.OTHER,
                          None, c.now(), reply.public_key)
    own = Account.create()
    recipients = [RegulatorPublicKey(Kem.X25519, c.circulation.issuer_sealing_key(c.issuer_id)),
                  *(k.public_key for k in c.regulator_keys)]
    dispute_id, _ = c.circulation.open_dispute(own.address, seal_dispute(dispute, recipients, own.address), c.verifier)
    assert received_disputes(c.circulation, issuer_key) == []
    sealed = next(bytes(e.args["ciphertext"]) for e in c.circulation.events() if e.name == "DisputeOpened")
    with pytest.raises(NotSealedToThisKey, match="could answer it itself"):
        open_dispute(sealed, own.address, c.regulator_keys[0], registered(c))
    assert c.circulation.dispute(dispute_id).answer_key == own.address


def registered(c: Consortium):  # type: ignore[no-untyped-def]
    """Issuers' registered answer keys, by issuer id, as the circulation contract holds them."""
    return lambda issuer: c.circulation.issuer_answer_key(issuer_id_code(issuer))


def test_a_dispute_of_the_other_suite_is_passed_over_by_the_issuer(
        consortium: Consortium, issued: list[Bundle], issuer_key: RegulatorKey) -> None:  # noqa: F811
    """Bytes that name the GM suite, of the length of a dispute sealed to one X25519 key, recorded by a bank: the
    issuer's list of disputes passes over them as over any it cannot open, and still lists the others."""
    c = consortium
    c.circulation.open_dispute(Account.create().address, b"\x04\x02\x00\x20\x01" + bytes(228), c.verifier)
    bank = VerifierClient(c.registry, sender=c.verifier, circulation=c.circulation)
    opened = bank_opens(c.circulation, c.verifier, bank.verify(issued[0]), DisputeReason.OTHER, c.now())
    assert [r.dispute_id for r in received_disputes(c.circulation, issuer_key)] == [opened.dispute_id]


def test_an_answer_signed_by_a_key_that_is_not_the_issuers_is_flagged(
        consortium: Consortium, issued: list[Bundle], issuer_key: RegulatorKey) -> None:  # noqa: F811
    c = consortium
    bank = VerifierClient(c.registry, sender=c.verifier, circulation=c.circulation)
    opened = bank_opens(c.circulation, c.verifier, bank.verify(issued[2]), DisputeReason.OTHER, c.now())
    [received] = received_disputes(c.circulation, issuer_key)
    answer_dispute(c.circulation, received, DisputeStatus.REVOKED, Account.create(), c.outsider, c.now(), issuer_key)
    read = read_answer(c.circulation, c.registry, opened)
    assert read is not None and not read.signed_by_issuer


def test_no_dispute_without_the_issuers_sealing_key(consortium: Consortium, issued: list[Bundle]) -> None:  # noqa: F811
    c = consortium
    bank = VerifierClient(c.registry, sender=c.verifier, circulation=c.circulation)
    with pytest.raises(SealingError):
        bank_opens(c.circulation, c.verifier, bank.verify(issued[0]), DisputeReason.OTHER, c.now())


def test_an_issuer_key_of_another_kem_than_the_regulators_is_named(consortium: Consortium,
                                                                  issued: list[Bundle]) -> None:  # noqa: F811
    """Disputes are sealed to the issuer's key with the regulators' KEM: registering a key of another KEM is
    refused, and a bank facing one registered anyway is told which key the issuer must register."""
    c = consortium
    hybrid = RegulatorKey.generate(Kem.MLKEM768_X25519)
    with pytest.raises(SealingError, match="X25519 key, as the regulators' keys are"):
        register_sealing_key(c.circulation, "BNUMMOMX", hybrid, c.issuer_admin)
    assert c.circulation.issuer_sealing_key(c.issuer_id) == b""  # nothing registered
    c.circulation.set_issuer_keys(c.issuer_id, hybrid.public_key.raw, issuer_answer_key(hybrid), c.issuer_admin)
    bank = VerifierClient(c.registry, sender=c.verifier, circulation=c.circulation)
    with pytest.raises(SealingError, match="BNUMMOMX registered a MLKEM768_X25519 key for disputes"):
        bank_opens(c.circulation, c.verifier, bank.verify(issued[0]), DisputeReason.OTHER, c.now())


@pytest.mark.parametrize("capped", [False, True], ids=["node", "node capping log ranges"])
def test_disputes_are_found_without_reading_the_banks_receipts(consortium: Consortium, issued: list[Bundle],  # noqa: F811
                                                               issuer_key: RegulatorKey,
                                                               monkeypatch: pytest.MonkeyPatch, capped: bool) -> None:
    """The issuer looking for its disputes, and the bank for an answer, ask the node for those events by topic:
    a region's year of sealed receipts (~650 MB of logs) is not sent along to find a few disputes. A node that
    answers ``eth_getLogs`` over 10 blocks at most is asked span by span; for one dispute, from the block it was
    opened in (found from its time), not from the chain's first."""
    c = consortium
    spans = cap_log_ranges(monkeypatch, c.w3, 10) if capped else []
    bank = VerifierClient(c.registry, sender=c.verifier, circulation=c.circulation)
    reports = [bank.verify(b) for b in issued[:3]]
    [commitment, *_] = bank.record(reports, "ACCTOPEN").commitments
    opened = bank_opens(c.circulation, c.verifier, reports[0], DisputeReason.SUSPECTED_REUSE, c.now(), commitment)
    opened_in = c.w3.eth.block_number
    answered: list[str] = []  # the events the node sent
    get_logs = type(c.w3.eth).get_logs

    def logs_sent(eth: Any, query: Any) -> Any:
        logs = get_logs(eth, query)
        answered.extend(e.name for e in c.circulation.decode_logs(logs))
        return logs

    monkeypatch.setattr(type(c.w3.eth), "get_logs", logs_sent)
    received = [r for r in received_disputes(c.circulation, issuer_key) if r.dispute_id == opened.dispute_id]
    assert len(received) == 1 and set(answered) == {"DisputeOpened"}
    spans.clear()
    assert received_disputes(c.circulation, issuer_key, dispute_id=opened.dispute_id) == received
    assert all(low >= opened_in for low, _ in spans)
    answer_dispute(c.circulation, received[0], DisputeStatus.CONFIRMED_GENUINE, c.signing_key, c.outsider, c.now(),
                   issuer_key)
    answered.clear()
    spans.clear()
    read = read_answer(c.circulation, c.registry, opened)
    assert read is not None and read.answer.status is DisputeStatus.CONFIRMED_GENUINE
    assert answered == ["DisputeAnswered"]
    assert not capped or (spans and all(opened_in <= low and high - low < 10 for low, high in spans))
