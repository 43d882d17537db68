"""The receipt of a presentation that answered one of the bank's challenges: recorded exactly once.

The challenge store and the receipt outbox are two SQLite files, so no one transaction spans both. The answer
goes first: the verdict and the receipt's plaintext (salt included, so its commitment is fixed from then on) are
kept together in the challenge store, in one transaction. The receipt is then queued in the outbox under a
reference naming the challenge, and the answer flagged as queued. A crash between the two leaves an answer whose
receipt is not flagged: :meth:`AnswerReceipts.recover` (run before every flush of the outbox) queues it again,
and the outbox ignores a receipt it holds already for the same document, purpose and reference. A replayed
presentation finds its challenge used and gets no verdict to keep, so no receipt either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..errors import UNAVAILABLE
from ..format.suite import Suite
from ..sealing import Receipt
from .challenges import ChallengeStore
from .outbox import ReceiptOutbox

log = logging.getLogger(__name__)
#: Points where a test may inject a crash: between the answer and the outbox, and between queueing and the flag.
FAULT_POINTS = ("after_answer", "after_enqueue")


def reference(nonce: bytes) -> str:
    """The outbox reference of the receipt of the presentation that answered the challenge ``nonce``."""
    return f"challenge:{nonce.hex()}"


def _no_fault(point: str) -> None:
    """The production fault hook: nothing happens."""


def _standard() -> Suite:
    return Suite.STANDARD


class AnswerReceipts:
    """Keeps answers to the bank's challenges and queues their receipts in the bank's outbox."""

    def __init__(self, challenges: ChallengeStore, outbox: ReceiptOutbox, suite: Callable[[], Suite] = _standard, *,
                 faults: Callable[[str], None] = _no_fault) -> None:
        """``suite`` tells the deployment's crypto suite (the bank's verifier reads it once), whose hash makes the
        receipts' commitments."""
        self.challenges, self.outbox, self._suite, self._fault = challenges, outbox, suite, faults

    def answer(self, nonce: bytes, verdict: str, receipt: Receipt | None) -> bytes | None:
        """Keep the verdict (JSON text) on the answer to the challenge ``nonce`` and queue its ``receipt`` (``None``
        for a failed verification); returns the receipt's commitment (the first answer's, if one was kept). An
        outbox that is unavailable leaves the kept receipt to :meth:`recover` (logged): the answer stands."""
        kept = self.challenges.record_answer(nonce, verdict, None if receipt is None else receipt.plaintext())
        if kept is None:
            return None
        self._fault("after_answer")
        try:
            return self._queue([(nonce, kept)])[0]
        except UNAVAILABLE as exc:
            log.warning("an answer's receipt is kept for the next flush: the outbox is unavailable",
                        extra={"error": f"{type(exc).__name__}: {exc}"})
            return self.commitment(kept)

    def recover(self) -> int:
        """Queue the receipts of answers kept before a crash but not queued; how many there were."""
        return len(self._queue(self.challenges.unqueued_receipts()))

    def commitment(self, plaintext: bytes) -> bytes:
        """The commitment (the outbox's reference) of a kept receipt's plaintext."""
        return Receipt.from_plaintext(plaintext).commitment(self._suite())

    def _queue(self, answers: list[tuple[bytes, bytes]]) -> list[bytes]:
        if not answers:
            return []
        commitments = self.outbox.enqueue([Receipt.from_plaintext(p) for _, p in answers],
                                          [reference(n) for n, _ in answers], self._suite())
        self._fault("after_enqueue")
        self.challenges.receipts_queued([n for n, _ in answers])
        return commitments
