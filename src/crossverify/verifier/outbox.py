"""The bank's receipt outbox: every verification receipt is recorded on chain exactly once.

A receipt is first committed to a local queue, keyed by what it records (batch root, document digest, purpose
hash) and the bank's own case reference, so queueing it again changes nothing. Sending a batch of receipts
journals the transaction's hash before the broadcast; a later flush settles every sent batch from the chain
(mined: done; still pending: waited for; failed or forgotten: queued again) before sending anything new. A
crash, a node outage or a retry of the whole command therefore never loses a receipt and never doubles one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound

from ..chain.connection import node_errors
from ..chain.registry import Registry
from ..chain.transactions import Sender
from ..errors import TransactionDropped, TransactionFailed, TransactionReplaced
from ..format.encoding import to_hex
from ..store import Store

log = logging.getLogger(__name__)

#: Receipts per ``recordVerifications`` transaction (about 2,300 gas each, one event per document).
RECEIPTS_PER_TX = 500
#: Points where a test may inject a crash: each lies between two durable steps.
FAULT_POINTS = ("after_send", "after_receipt")

MIGRATIONS = ("""
CREATE TABLE receipts (
    batch_root      BLOB    NOT NULL,
    document_digest BLOB    NOT NULL,
    purpose_hash    BLOB    NOT NULL,
    reference       TEXT    NOT NULL,   -- the bank's case, so that a later, separate verification counts again
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'sent', 'recorded')),
    tx_hash         BLOB,
    block           INTEGER,
    PRIMARY KEY (batch_root, document_digest, purpose_hash, reference)
);
CREATE INDEX receipts_by_state ON receipts (state, tx_hash);
""", """
ALTER TABLE receipts ADD COLUMN issuer_id BLOB NOT NULL DEFAULT X'';  -- registry v2 keys batches by issuer
""")

#: One receipt: (batch root, document digest, purpose hash, issuer id).
Receipt = tuple[bytes, bytes, bytes, bytes]


@dataclass(frozen=True, slots=True)
class FlushReport:
    """What one flush did: receipts settled from earlier sends, recorded now, and transactions sent."""

    settled: int
    recorded: int
    transactions: int


def _no_fault(point: str) -> None:
    """The production fault hook: nothing happens."""


class ReceiptOutbox:
    """A durable queue of receipts for one bank's account."""

    def __init__(self, path: str | Path, *, faults: Callable[[str], None] = _no_fault) -> None:
        self.store = Store(path, MIGRATIONS, kind="receipt outbox")
        self._db = self.store.db
        self._fault = faults

    def close(self) -> None:
        self.store.close()

    def enqueue(self, receipts: Iterable[Receipt], reference: str = "") -> int:
        """Queue receipts; those already queued, sent or recorded under ``reference`` are not doubled.
        Returns how many are new."""
        with self.store.transaction() as db:
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO receipts (batch_root, document_digest, purpose_hash, issuer_id, "
                           "reference, state) VALUES (?, ?, ?, ?, ?, 'queued')",
                           [(*r, reference) for r in receipts])
            return db.total_changes - before

    def state(self, document_digest: bytes, purpose_hash: bytes, reference: str = "") -> dict[str, Any] | None:
        """Where one receipt stands: ``state`` (queued, sent, recorded), and its transaction and block."""
        with self.store.lock:
            row = self._db.execute("SELECT state, tx_hash, block FROM receipts WHERE document_digest = ? AND "
                                   "purpose_hash = ? AND reference = ?",
                                   (document_digest, purpose_hash, reference)).fetchone()
        if row is None:
            return None
        return {"state": row[0], "transaction": None if row[1] is None else to_hex(row[1]), "block": row[2]}

    def counts(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT state, COUNT(*) FROM receipts GROUP BY state").fetchall())

    def flush(self, registry: Registry, sender: Sender, *, timeout: float = 120.0,
              progress: Callable[[int, int], None] | None = None) -> FlushReport:
        """Settle what earlier flushes sent, then record everything queued, ``RECEIPTS_PER_TX`` per transaction."""
        self.store.bind(registry.identity())
        settled = self._settle(registry, timeout)
        by_purpose: dict[bytes, list[Any]] = {}
        for row in self._db.execute("SELECT batch_root, document_digest, purpose_hash, reference, issuer_id "
                                    "FROM receipts WHERE state = 'queued' ORDER BY rowid"):
            by_purpose.setdefault(row[2], []).append(row)
        chunks = [rows[i:i + RECEIPTS_PER_TX] for rows in by_purpose.values()
                  for i in range(0, len(rows), RECEIPTS_PER_TX)]  # one purpose per transaction
        total = sum(len(c) for c in chunks)
        recorded = transactions = 0
        for chunk in chunks:
            purpose = chunk[0][2]
            docs = [[issuer, root, digest] for root, digest, _, _, issuer in chunk]
            tx_hash = registry.submit(lambda f, d=docs, p=purpose: f.recordVerifications(d, p),  # type: ignore[misc]
                                      sender, on_signed=lambda h, c=chunk: self._mark_sent(c, h))  # type: ignore[misc]
            transactions += 1
            log.info("receipts sent", extra={"receipts": len(chunk), "tx": to_hex(tx_hash)})
            self._fault("after_send")
            receipt = registry.wait(tx_hash, timeout)
            self._fault("after_receipt")
            self._mark_recorded(tx_hash, receipt["blockNumber"])
            recorded += len(chunk)
            if progress:
                progress(recorded, total)
        return FlushReport(settled, recorded, transactions)

    def _settle(self, registry: Registry, timeout: float) -> int:
        """Resolve every sent transaction from the chain: recorded, waited for, or queued again."""
        sent = [bytes(r[0]) for r in self._db.execute(
            "SELECT DISTINCT tx_hash FROM receipts WHERE state = 'sent'").fetchall()]
        settled = 0
        for tx_hash in sent:
            try:
                receipt = registry.wait(tx_hash, timeout) if _known(registry, tx_hash) else None
            except (TransactionFailed, TransactionDropped, TransactionReplaced):
                receipt = None
            log.info("earlier receipts settled", extra={"tx": to_hex(tx_hash), "mined": receipt is not None})
            if receipt is None:
                with self.store.transaction() as db:
                    db.execute("UPDATE receipts SET state = 'queued', tx_hash = NULL WHERE tx_hash = ?", (tx_hash,))
            else:
                settled += self._mark_recorded(tx_hash, receipt["blockNumber"])
        return settled

    def _mark_sent(self, chunk: Sequence[Sequence[Any]], tx_hash: bytes) -> None:
        with self.store.transaction() as db:
            db.executemany("UPDATE receipts SET state = 'sent', tx_hash = ? WHERE batch_root = ? AND "
                           "document_digest = ? AND purpose_hash = ? AND reference = ?",
                           [(tx_hash, *row[:4]) for row in chunk])

    def _mark_recorded(self, tx_hash: bytes, block: int) -> int:
        with self.store.transaction() as db:
            return int(db.execute("UPDATE receipts SET state = 'recorded', block = ? WHERE tx_hash = ?",
                                  (block, tx_hash)).rowcount)


def _known(registry: Registry, tx_hash: bytes) -> bool:
    """Whether the node knows the transaction (mined or pending)."""
    with node_errors():
        try:
            registry.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return False
    return True
