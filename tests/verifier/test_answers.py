"""The receipt of a presentation that answered a challenge: queued once, never for a failed verification, and
recovered after a crash between the challenge store and the outbox."""

from __future__ import annotations

import secrets

import pytest

from crossverify.format.suite import Suite
from crossverify.sealing import Receipt
from crossverify.verifier.answers import FAULT_POINTS, AnswerReceipts, reference
from crossverify.verifier.challenges import ANSWERS_KEPT, ChallengeStore, Consumed
from crossverify.verifier.outbox import ReceiptOutbox

from ..postgres import Locate

NOW = 1_790_000_000
BANK = "ICBKCNBJGDG"


class Crash(Exception):
    pass


def stores(location: Locate) -> tuple[ChallengeStore, ReceiptOutbox]:
    return ChallengeStore(location("c.sqlite"), BANK), ReceiptOutbox(location("outbox.sqlite"))


def answered(challenges: ChallengeStore) -> tuple[bytes, str]:
    """A handed-over challenge that a presentation has just consumed, and its code."""
    challenge = challenges.issue("ACCTOPEN", NOW, ttl=300)
    code = challenges.hand_over(challenge)
    assert challenges.consume(challenge.nonce, "ACCTOPEN", NOW + 1) is Consumed.FRESH
    return challenge.nonce, code


def receipt() -> Receipt:
    return Receipt.new(secrets.token_bytes(32), "BNUMMOMX", "DEPCERT", secrets.token_bytes(32), "ACCTOPEN", NOW + 1,
                       presentation_hash=secrets.token_bytes(32))


def queued(outbox: ReceiptOutbox) -> list[tuple[bytes, str, str]]:
    return [(bytes(c), r, s) for c, r, s in outbox.store.db.execute(
        "SELECT commitment, reference, state FROM sealed_receipts").fetchall()]


def test_an_answer_queues_its_receipt_once(location: Locate) -> None:
    challenges, outbox = stores(location)
    answers = AnswerReceipts(challenges, outbox)
    nonce, code = answered(challenges)
    first = receipt()
    commitment = answers.answer(nonce, '{"valid": true}', first)
    assert commitment == first.commitment()
    assert answers.answer(nonce, '{"valid": true}', receipt()) == commitment  # the first answer stands
    assert answers.recover() == 0
    assert queued(outbox) == [(commitment, reference(nonce), "queued")]
    state = challenges.hand_over_state(code, NOW + 2)
    assert state is not None and state[3] == first.plaintext()


def test_an_answer_in_the_gm_suite_is_committed_with_its_hash(location: Locate) -> None:
    """The receipt's commitment, the bank's reference and the chain's, is the deployment's suite's (SM3)."""
    challenges, outbox = stores(location)
    answers = AnswerReceipts(challenges, outbox, lambda: Suite.GM)
    nonce, _ = answered(challenges)
    given = receipt()
    commitment = answers.answer(nonce, '{"valid": true}', given)
    assert commitment == given.commitment(Suite.GM) == answers.commitment(given.plaintext())
    assert queued(outbox) == [(commitment, reference(nonce), "queued")]


def test_a_failed_verification_queues_nothing(location: Locate) -> None:
    challenges, outbox = stores(location)
    answers = AnswerReceipts(challenges, outbox)
    nonce, code = answered(challenges)
    assert answers.answer(nonce, '{"valid": false}', None) is None
    assert answers.answer(nonce, '{"valid": true}', receipt()) is None  # a later answer does not replace it
    assert answers.recover() == 0 and queued(outbox) == []
    state = challenges.hand_over_state(code, NOW + 2)
    assert state is not None and (state[0], state[2], state[3]) == ("answered", '{"valid": false}', None)


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_a_crash_between_the_answer_and_the_outbox_neither_loses_nor_doubles(location: Locate, point: str) -> None:
    def crash(at: str) -> None:
        if at == point:
            raise Crash(at)

    challenges, outbox = stores(location)
    nonce, _ = answered(challenges)
    given = receipt()
    with pytest.raises(Crash):
        AnswerReceipts(challenges, outbox, faults=crash).answer(nonce, '{"valid": true}', given)
    assert len(queued(outbox)) == (point == "after_enqueue")
    challenges.close()
    outbox.close()

    challenges, outbox = stores(location)  # the service restarts
    restarted = AnswerReceipts(challenges, outbox)
    later = NOW + 10_000 + ANSWERS_KEPT
    assert challenges.purge(later) == 0  # an answer whose receipt is not queued outlives its challenge
    assert restarted.recover() == 1
    assert restarted.recover() == 0
    assert queued(outbox) == [(given.commitment(), reference(nonce), "queued")]
    assert challenges.purge(later) == 1  # queued now: forgotten with its challenge
