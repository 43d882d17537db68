"""Disputes end to end: a bank opens one, the issuer concerned finds and answers it, the bank reads the answer;
everybody else, issuer included for other issuers' disputes, learns nothing of which document it concerns."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from crossverify import Bundle, VerifierClient
from crossverify.errors import CirculationAnswerNotAuthorised, CrossverifyError, SealingError
from crossverify.issuer.disputes import answer_dispute, received_disputes, register_sealing_key
from crossverify.sealing import DisputeReason, DisputeStatus, RegulatorKey, open_answer, open_dispute
from crossverify.verifier.disputes import OpenedDispute, read_answer
from crossverify.verifier.disputes import open_dispute as bank_opens

from ..conftest import Consortium
from .test_verifier import issued  # noqa: F401 - the fixture


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
    assert all(open_dispute(sealed, answer_key, k) == opened.dispute for k in c.regulator_keys)

    # The issuer answers through a relay (here the outsider's account), signed by its signing key.
    answer = answer_dispute(c.circulation, received, DisputeStatus.CONFIRMED_GENUINE, c.signing_key, c.outsider,
                            c.now())
    read = read_answer(c.circulation, c.registry, OpenedDispute.read(tmp_path / "dispute.json"))
    assert read is not None and read.answer == answer and read.signed_by_issuer
    assert read.signer == c.signing_key.address
    answered = next(bytes(e.args["ciphertext"]) for e in c.circulation.events() if e.name == "DisputeAnswered")
    assert open_answer(answered, opened.dispute_id, c.regulator_keys[1]).status is DisputeStatus.CONFIRMED_GENUINE
    with pytest.raises(CrossverifyError):
        answer_dispute(c.circulation, received_disputes(c.circulation, issuer_key)[0], DisputeStatus.REVOKED,
                       c.signing_key, c.outsider, c.now())


def test_another_issuer_and_the_bank_itself_cannot_read_or_answer(
        consortium: Consortium, issued: list[Bundle], issuer_key: RegulatorKey) -> None:  # noqa: F811
    c = consortium
    bank = VerifierClient(c.registry, sender=c.verifier, circulation=c.circulation)
    opened = bank_opens(c.circulation, c.verifier, bank.verify(issued[1]), DisputeReason.STATEMENT_MISMATCH,
                        c.now())
    assert received_disputes(c.circulation, RegulatorKey.generate()) == []  # another issuer's key opens nothing
    sealed = next(bytes(e.args["ciphertext"]) for e in c.circulation.events() if e.name == "DisputeOpened")
    with pytest.raises(SealingError):
        open_dispute(sealed, c.circulation.dispute(opened.dispute_id).answer_key, opened.reply_key)
    with pytest.raises(CirculationAnswerNotAuthorised):  # whoever lacks the dispute's secret cannot answer it
        c.circulation.answer_dispute(opened.dispute_id, b"x" * 64, Account.create(), c.issuer_admin)


def test_an_answer_signed_by_a_key_that_is_not_the_issuers_is_flagged(
        consortium: Consortium, issued: list[Bundle], issuer_key: RegulatorKey) -> None:  # noqa: F811
    c = consortium
    bank = VerifierClient(c.registry, sender=c.verifier, circulation=c.circulation)
    opened = bank_opens(c.circulation, c.verifier, bank.verify(issued[2]), DisputeReason.OTHER, c.now())
    [received] = received_disputes(c.circulation, issuer_key)
    answer_dispute(c.circulation, received, DisputeStatus.REVOKED, Account.create(), c.outsider, c.now())
    read = read_answer(c.circulation, c.registry, opened)
    assert read is not None and not read.signed_by_issuer


def test_no_dispute_without_the_issuers_sealing_key(consortium: Consortium, issued: list[Bundle]) -> None:  # noqa: F811
    c = consortium
    bank = VerifierClient(c.registry, sender=c.verifier, circulation=c.circulation)
    with pytest.raises(SealingError):
        bank_opens(c.circulation, c.verifier, bank.verify(issued[0]), DisputeReason.OTHER, c.now())
