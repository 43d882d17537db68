"""The bank's receipt outbox: every verification receipt is recorded on chain, sealed, exactly once.

A receipt is first committed to a local queue with its plaintext (salt included, so its commitment is fixed from
then on), keyed by what it records (document digest, purpose code) and the bank's own case reference, so queueing
it again changes nothing. Sending a batch seals the queued receipts of each transaction as one envelope to the
regulator keys the circulation contract holds now (the current epoch) and journals the transaction's hash before
the broadcast; a flush sends up to ``TXS_IN_FLIGHT`` transactions before waiting for them, so that one block can
take them all. A later flush settles every sent batch from the chain (mined: done; still pending: waited for;
failed or forgotten: queued again, and sealed afresh when sent again: same commitments, a new ciphertext) before
sending anything new, but for those still pending while receipts are queued (behind a forgotten one, whose nonce
the next send takes). A crash, a node outage or a retry of the whole command therefore never loses a receipt and
never doubles one, so long as its transactions are looked up on the node they were sent to (docs/deploy.md: a
node that never saw one takes it for forgotten).

A recorded receipt is not final until ``confirmations`` blocks lie on top of its block and that block is still the
chain's: every flush re-checks the recorded ones (one block read per block that holds them), and a receipt whose
transaction a reorganisation or a network reset dropped is found again where the node mined it anew, waited for
while the node still has it pending, or queued and sent again once the node has forgotten it (with the account's
next nonce, which the dropped transaction held: at most one of the two is ever mined). Final receipts are watched
too, through the newest final block: a reset deeper than the confirmations sends them back to re-checking.

An outbox follows a registry succession: flushed to a circulation contract whose registry records, by its
consortium's quorum, the outbox's registry as its predecessor, it first finishes its work on the old contract (on
the same chain, a new version of the contracts: sent receipts are settled there, a forgotten transaction sent there
again while the node knows another the outbox sent (which may wait for its nonce), and recorded ones waited for
until final, else :class:`~crossverify.errors.ReceiptsUnsettled` and nothing moves), then binds itself to the
successor and sends everything still queued there. After a rebuilt network (a new genesis: the old chain and its pending
transactions are gone) the receipts the old chain held short of final are queued again and sent to the successor
with the same commitments. Receipts recorded and final on the old contract stay as they are, never re-checked.

Replicas of a bank's service share one outbox (PostgreSQL; on one machine, the workers of ``crossverify serve
--workers N`` share its SQLite file): one of them flushes at a time (the store's
``receipt sending`` lock, freed when its holder dies, so another takes over and settles what it sent), and a
transaction's receipts are claimed while its hash is journalled: rows still queued, locked for that transaction
(``FOR UPDATE SKIP LOCKED``), or nothing is broadcast.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TransactionNotFound

from .. import idempotency
from ..chain.circulation import CirculationContract
from ..chain.connection import node_errors, quantity, rpc
from ..chain.registry import CHAIN_NAMED, Deployed, Registry, chain_identity
from ..chain.transactions import Sender
from ..errors import (
    ReceiptsUnsettled,
    ReceiptTimeout,
    SealingError,
    StoreChainMismatch,
    StoreLocked,
    TransactionDropped,
    TransactionFailed,
    TransactionReplaced,
)
from ..format.encoding import to_hex
from ..format.suite import Suite
from ..sealing import Receipt, RegulatorPublicKey, kem_of_public_key, seal_receipts
from ..store import Location, Store, rows_in

log = logging.getLogger(__name__)

#: Receipts per ``recordSealedReceipts`` transaction (about 5,700 gas each with two regulators, one envelope).
RECEIPTS_PER_TX = 200
#: Transactions a flush sends before it waits for the first: a chain mining a block every few seconds takes them
#: into one block (about 1.2M gas each: a 30M-gas block holds 24), where one at a time recorded at most
#: ``RECEIPTS_PER_TX`` receipts a block, and a bank verifying faster than that fell behind for good.
TXS_IN_FLIGHT = 16
#: Blocks read in one batch of JSON-RPC requests when recorded receipts are re-checked.
BLOCKS_PER_READ = 200
#: Points where a test may inject a crash: each lies between two durable steps.
FAULT_POINTS = ("after_send", "after_receipt")
#: The longest case reference the outbox keys receipts by, in characters, all printable: PostgreSQL's text holds
#: no NUL, and its unique index no key over 2,704 bytes.
MAX_REFERENCE = 128
REFERENCE = re.compile(rf"[^\x00-\x1f\x7f]{{0,{MAX_REFERENCE}}}")

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
""", """
-- Cleartext receipts left the registry: the table above is history; receipts are sealed from now on.
CREATE TABLE sealed_receipts (
    commitment      BLOB    PRIMARY KEY,
    plaintext       BLOB    NOT NULL,   -- the receipt with its salt: the bank's own record, never sent in the clear
    document_digest BLOB    NOT NULL,
    purpose         TEXT    NOT NULL,
    reference       TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'sent', 'recorded')),
    tx_hash         BLOB,
    block           INTEGER,
    UNIQUE (document_digest, purpose, reference)
);
CREATE INDEX sealed_receipts_by_state ON sealed_receipts (state, tx_hash);
""", idempotency.MIGRATION, """
-- A recorded receipt's block hash, re-checked until the block is final (a reorganisation or a reset may drop it).
ALTER TABLE sealed_receipts ADD COLUMN block_hash BLOB;
ALTER TABLE sealed_receipts ADD COLUMN final INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sealed_receipts_unsettled ON sealed_receipts (final, state, block);
""", """
-- Receipts recorded on the circulation contract of a registry the outbox has left for its successor: history.
ALTER TABLE sealed_receipts ADD COLUMN succeeded INTEGER NOT NULL DEFAULT 0;
""", """
-- A flush reads what it settles, not every receipt ever recorded: a transaction's receipts by its hash, the
-- unsettled ones and the newest final one by their finality (the index before served neither: scans that grew
-- with the outbox's history, every round).
CREATE INDEX sealed_receipts_by_tx ON sealed_receipts (tx_hash);
CREATE INDEX sealed_receipts_by_finality ON sealed_receipts (final, succeeded, block);
-- Last: on PostgreSQL a dropped index locks out the table's readers until the migration commits.
DROP INDEX sealed_receipts_unsettled;
""")


@dataclass(frozen=True, slots=True)
class FlushReport:
    """What one flush did: receipts settled from earlier sends, recorded now, and transactions sent; for a
    verifier's ``record``, the commitments of the receipts it was given."""

    settled: int
    recorded: int
    transactions: int
    commitments: tuple[bytes, ...] = ()


def _no_fault(point: str) -> None:
    """The production fault hook: nothing happens."""


def regulator_keys(circulation: CirculationContract) -> list[RegulatorPublicKey]:
    """The regulator keys of the circulation contract's current epoch (:class:`SealingError` if none)."""
    keys = circulation.regulator_keys().keys
    if not keys:
        raise SealingError("the circulation contract holds no regulator keys yet: nothing can be sealed")
    return [RegulatorPublicKey(kem_of_public_key(k), k) for k in keys]


def identity(circulation: CirculationContract) -> dict[str, str]:
    """What an outbox is bound to: the chain, its registry and the circulation contract (one round trip: every
    flush round asks)."""
    [(registry,)], named = circulation.raw_calls([("registry", b"")], CHAIN_NAMED)
    return {**chain_identity(named, Web3.to_checksum_address(registry)), "circulation": circulation.address}


class ReceiptOutbox:
    """A durable queue of sealed receipts for one bank's account."""

    def __init__(self, location: Location, *, confirmations: int = 0, receipt_timeout: float = 120.0,
                 faults: Callable[[str], None] = _no_fault) -> None:
        self.store = Store(location, MIGRATIONS, kind="receipt outbox", exclusive=False)  # a bank's processes share it
        self._db = self.store.db
        self.confirmations = confirmations
        #: How long a flush waits for each transaction's receipt unless told otherwise (``[network]
        #: receipt_timeout``).
        self.receipt_timeout = receipt_timeout
        self._fault = faults

    def close(self) -> None:
        self.store.close()

    def enqueue(self, receipts: Iterable[Receipt], reference: str | Sequence[str] = "",
                suite: Suite = Suite.STANDARD) -> list[bytes]:
        """Queue receipts, in one durable transaction, under the bank's case ``reference`` (or each under its own:
        one reference per receipt); one already queued, sent or recorded for the same document, purpose and
        reference is not doubled. Returns each receipt's commitment in the deployment's ``suite`` (the earlier
        one's for a receipt queued before): the reference a bank keeps, and the one the chain will carry."""
        receipts = list(receipts)
        references = [reference] * len(receipts) if isinstance(reference, str) else list(reference)
        if len(references) != len(receipts):
            raise ValueError(f"{len(references)} references for {len(receipts)} receipts")
        for ref in references:
            if not REFERENCE.fullmatch(ref):
                raise SealingError(f"a case reference is at most {MAX_REFERENCE} printable characters, got "
                                   f"{ref[:40]!r}{'…' if len(ref) > 40 else ''}; nothing was queued")
        rows = [(r.commitment(suite), r.plaintext(), r.document_digest, r.purpose, ref)
                for r, ref in zip(receipts, references, strict=True)]
        keys = sorted({(r.document_digest, ref) for r, ref in zip(receipts, references, strict=True)})

        def queue(db: Any) -> dict[tuple[bytes, str, str], bytes]:
            db.executemany("INSERT INTO sealed_receipts (commitment, plaintext, document_digest, purpose, reference, "
                           "state) VALUES (?, ?, ?, ?, ?, 'queued') ON CONFLICT DO NOTHING", rows)
            kept: dict[tuple[bytes, str, str], bytes] = {}
            for start in range(0, len(keys), 400):  # one query per 400 documents and cases, not one per receipt
                digests, cases = (sorted(set(column)) for column in zip(*keys[start:start + 400], strict=True))
                kept.update(((bytes(d), p, ref), bytes(c)) for d, p, ref, c in db.execute(
                    "SELECT document_digest, purpose, reference, commitment FROM sealed_receipts WHERE document_digest "
                    f"IN ({','.join('?' * len(digests))}) AND reference IN ({','.join('?' * len(cases))})",
                    [*digests, *cases]))
            return kept

        # Replicas queuing the same receipts in other orders may deadlock on PostgreSQL: the victim runs again.
        kept = self.store.transact(queue)
        return [kept[(r.document_digest, r.purpose, ref)] for r, ref in zip(receipts, references, strict=True)]

    def state(self, commitment: bytes) -> dict[str, Any] | None:
        """Where one receipt stands: ``state`` (queued, sent, recorded), its transaction and block, and whether
        that block is final (``confirmations`` deep, and still the chain's when last checked)."""
        return self.states([commitment])[0]

    def states(self, commitments: Sequence[bytes]) -> list[dict[str, Any] | None]:
        """:meth:`state` of each receipt, read at once."""
        found: dict[bytes, dict[str, Any]] = {}
        unique = sorted(set(commitments))
        with self.store.lock:
            for c, state, tx, block, final in rows_in(
                    self._db, "SELECT commitment, state, tx_hash, block, final FROM sealed_receipts WHERE commitment "
                    "IN ({})", unique):
                found[bytes(c)] = receipt_state(bytes(c), state, None if tx is None else bytes(tx), block, bool(final))
        return [found.get(c) for c in commitments]

    def find(self, document_digest: bytes, purpose: str, reference: str = "") -> bytes | None:
        """The commitment of the receipt for a document, purpose and case, if one was queued."""
        with self.store.lock:
            row = self._db.execute("SELECT commitment FROM sealed_receipts WHERE document_digest = ? AND purpose = ? "
                                   "AND reference = ?", (document_digest, purpose, reference)).fetchone()
        return None if row is None else bytes(row[0])

    def counts(self) -> dict[str, int]:
        """Receipts by state: ``queued``, ``sent``, ``recorded`` (mined; :meth:`state` says whether final)."""
        return dict(self._db.execute("SELECT state, COUNT(*) FROM sealed_receipts GROUP BY state").fetchall())

    def flush(self, circulation: CirculationContract, sender: Sender, *, timeout: float | None = None,
              progress: Callable[[int, int], None] | None = None, wait: float = 0.0) -> FlushReport:
        """Settle what earlier flushes sent, then seal and record everything queued, ``RECEIPTS_PER_TX`` per
        transaction, each transaction's receipts as one envelope, each waited for up to ``timeout`` seconds
        (default: the outbox's ``receipt_timeout``); re-check recorded receipts until they are final.
        One process flushes at a time: another one's flush is waited for up to ``wait`` seconds, then
        :class:`~crossverify.errors.StoreLocked` names it (what is queued stays queued for the next flush). With
        nothing queued, sent or short of final, the chain is asked for one block only (the newest final receipt's,
        still the chain's?)."""
        timeout = self.receipt_timeout if timeout is None else timeout
        with self.store.exclusively("receipt sending", wait=wait):
            with self.store.lock:
                idle = self._db.execute("SELECT 1 FROM sealed_receipts WHERE state IN ('queued', 'sent') OR (state = "
                                        "'recorded' AND final = 0) LIMIT 1").fetchone() is None
                newest_final = self._db.execute(
                    "SELECT block, block_hash FROM sealed_receipts WHERE final = 1 AND succeeded = 0 ORDER BY block "
                    "DESC LIMIT 1").fetchone()
            if idle and (newest_final is None or _canonical(circulation, newest_final[0], newest_final[1])):
                return FlushReport(0, 0, 0)
            self._bind(circulation, sender, timeout)
            return self._flush(circulation, sender, timeout, progress)

    def _bind(self, circulation: CirculationContract, sender: Sender, timeout: float) -> None:
        """Bind the outbox to ``circulation`` (on first use), or move it there from the contract of a registry that
        ``circulation``'s registry records as its predecessor; any other binding is refused
        (:class:`~crossverify.errors.StoreChainMismatch`)."""
        here = identity(circulation)
        try:
            self.store.bind(here)
            return
        except StoreChainMismatch as refused:
            held = {k: v for k, v in self.store.binding().items() if not k.startswith("predecessor.")}
            try:
                recorded = {(chain_id, address.lower()) for chain_id, address, _ in
                            Registry.at(circulation.w3, here["registry"]).predecessors()}
            except TransactionFailed:
                raise refused from None
            if (int(held["chain_id"]), held["registry"].lower()) not in recorded:
                raise
        self._follow(circulation, sender, held, here, timeout)

    def _follow(self, circulation: CirculationContract, sender: Sender, held: dict[str, str], here: dict[str, str],
                timeout: float) -> None:
        """Finish the work on the old circulation contract where its chain still answers, then bind to the new."""
        unsettled = "state = 'sent' OR (state = 'recorded' AND final = 0)"
        if held.get("genesis") == here["genesis"]:  # a new version on the same chain: the old contract answers
            old = CirculationContract.at(circulation.w3, held["circulation"])
            self._recheck(old)
            self._send_forgotten_again(old, sender)
            self._settle(old, timeout)
            self._recheck(old)
            left = self._db.execute(f"SELECT COUNT(*), MAX(block) FROM sealed_receipts WHERE {unsettled}").fetchone()
            if left[0]:
                raise ReceiptsUnsettled(
                    f"{left[0]} receipts sent to the circulation contract {old.address} are not final yet (block "
                    f"{left[1]}, {self.confirmations} confirmations): the outbox moves to {circulation.address} once "
                    "they are; flush again later (nothing was sent to it)")
        with self.store.transaction() as db:
            requeued = db.execute(f"UPDATE sealed_receipts SET state = 'queued', tx_hash = NULL, block = NULL, "
                                  f"block_hash = NULL, final = 0 WHERE succeeded = 0 AND ({unsettled})").rowcount
            moved = db.execute("UPDATE sealed_receipts SET succeeded = 1 WHERE succeeded = 0 AND state = 'recorded'"
                               ).rowcount
            self.store.rebind(here, db)
        log.warning("the outbox follows a registry succession", extra={
            "from": held["circulation"], "to": circulation.address, "recorded_before": moved,
            "queued_again": requeued})

    def _flush(self, circulation: CirculationContract, sender: Sender, timeout: float,
               progress: Callable[[int, int], None] | None) -> FlushReport:
        self._recheck(circulation)
        settled = self._settle(circulation, timeout)
        # What was queued when the flush began, a wave at a time (oldest first): not every queued receipt held in
        # memory, nor read under the lock at once, and a flush that ends while receipts keep coming.
        last = self._db.execute(f"SELECT MAX(rowid) FROM sealed_receipts WHERE {_QUEUED}").fetchone()[0]
        if last is None:
            return FlushReport(settled, 0, 0)
        total = self._db.execute(f"SELECT COUNT(*) FROM sealed_receipts WHERE {_QUEUED}").fetchone()[0] \
            if progress else 0
        keys = regulator_keys(circulation)
        recorded = transactions = 0
        while rows := self._db.execute(f"SELECT commitment, plaintext FROM sealed_receipts WHERE {_QUEUED} AND "
                                       "rowid <= ? ORDER BY rowid LIMIT ?",
                                       (last, TXS_IN_FLIGHT * RECEIPTS_PER_TX)).fetchall():
            # A batch's receipts share one version: receipts queued by an older crossverify go in batches of their
            # own.
            by_version: dict[int, list[Any]] = {}
            for row in rows:
                by_version.setdefault(bytes(row[1])[0], []).append(row)
            wave = []  # sent whole, then waited for
            for chunk in [group[i:i + RECEIPTS_PER_TX] for group in by_version.values()
                          for i in range(0, len(group), RECEIPTS_PER_TX)]:
                tx_hash = _send(circulation, sender, keys, chunk, self._mark_sent)
                transactions += 1
                log.info("receipts sent", extra={"receipts": len(chunk), "tx": to_hex(tx_hash)})
                self._fault("after_send")
                wave.append((tx_hash, len(chunk)))
            for tx_hash, count in wave:
                receipt = circulation.wait(tx_hash, timeout)
                self._fault("after_receipt")
                self._mark_recorded(tx_hash, receipt["blockNumber"], bytes(receipt["blockHash"]))
                recorded += count
                if progress:
                    progress(recorded, max(total, recorded))
        self._recheck(circulation)  # what is deep enough already becomes final
        return FlushReport(settled, recorded, transactions)

    def _recheck(self, contract: Deployed) -> None:
        """Re-check recorded receipts until final: each block that holds some must still be the chain's. A final
        receipt is checked through the newest final block: if the chain no longer has it, every final receipt is
        checked again. A receipt whose block left the chain goes back to ``sent`` (its transaction is then looked
        up: mined elsewhere, pending, or forgotten and queued again)."""
        with self.store.lock:
            newest = self._db.execute("SELECT block, block_hash FROM sealed_receipts WHERE final = 1 AND succeeded = 0 "
                                      "ORDER BY block DESC LIMIT 1").fetchone()
            deep = newest is not None and not _canonical(contract, newest[0], newest[1])
            rows = self._db.execute(
                "SELECT DISTINCT tx_hash, block, block_hash FROM sealed_receipts WHERE state = 'recorded' AND "
                "succeeded = 0" + ("" if deep else " AND final = 0") + " ORDER BY block").fetchall()
        if not rows:
            return
        with node_errors():
            head = quantity(rpc(contract.w3)("eth_blockNumber", []))
        still = _still_the_chains(contract, [(block, None if h is None else bytes(h)) for _, block, h in rows])
        dropped: list[bytes] = []
        final: list[bytes] = []
        for (tx_hash, block, _), kept in zip(rows, still, strict=True):
            if not kept:
                dropped.append(bytes(tx_hash))
            elif head - block >= self.confirmations:
                final.append(bytes(tx_hash))
        with self.store.transaction() as db:
            for tx_hash in dropped:
                log.warning("recorded receipts left the chain: looking for their transaction again",
                            extra={"tx": to_hex(tx_hash)})
                db.execute("UPDATE sealed_receipts SET state = 'sent', final = 0, block = NULL, block_hash = NULL "
                           "WHERE tx_hash = ?", (tx_hash,))
            for tx_hash in final:
                db.execute("UPDATE sealed_receipts SET final = 1 WHERE tx_hash = ?", (tx_hash,))

    def _settle(self, contract: Deployed, timeout: float) -> int:
        """Resolve every sent transaction from the chain: recorded, waited for, or queued again. While receipts are
        queued (those of a transaction the node forgot among them), those still pending are not waited for: sent
        after a forgotten one (a wave), they wait for its nonce, which the flush's next transaction takes; they stay
        sent, for a later flush to settle."""
        known = self._sent(contract)
        for tx_hash in [tx for tx, seen in known.items() if not seen]:
            log.info("earlier receipts settled", extra={"tx": to_hex(tx_hash), "mined": False})
            with self.store.transaction() as db:
                db.execute("UPDATE sealed_receipts SET state = 'queued', tx_hash = NULL WHERE tx_hash = ?",
                           (tx_hash,))
        queued = self._db.execute(f"SELECT 1 FROM sealed_receipts WHERE {_QUEUED} LIMIT 1").fetchone() is not None
        settled = 0
        for tx_hash in [tx for tx, seen in known.items() if seen]:
            try:
                receipt = contract.wait(tx_hash, 0.0 if queued else timeout)
            except (TransactionFailed, TransactionDropped, TransactionReplaced):
                receipt = None
            except ReceiptTimeout:
                if not queued:
                    raise
                continue  # pending, perhaps behind a forgotten transaction's nonce
            log.info("earlier receipts settled", extra={"tx": to_hex(tx_hash), "mined": receipt is not None})
            if receipt is None:
                with self.store.transaction() as db:
                    db.execute("UPDATE sealed_receipts SET state = 'queued', tx_hash = NULL WHERE tx_hash = ?",
                               (tx_hash,))
            else:
                settled += self._mark_recorded(tx_hash, receipt["blockNumber"], bytes(receipt["blockHash"]))
        return settled

    def _sent(self, contract: Deployed) -> dict[bytes, bool]:
        """Each sent transaction's hash, and whether the node knows it (mined or pending)."""
        return {bytes(tx_hash): _known(contract, bytes(tx_hash)) for (tx_hash,) in self._db.execute(
            "SELECT DISTINCT tx_hash FROM sealed_receipts WHERE state = 'sent'").fetchall()}

    def _send_forgotten_again(self, contract: CirculationContract, sender: Sender) -> None:
        """While the node still knows some sent transaction (perhaps pending behind a forgotten one's nonce, which
        nothing else an outbox leaving ``contract`` sends would take), send each one it forgot to ``contract`` again:
        its receipts sealed afresh, the new hash journalled in place of the old before the broadcast."""
        known = self._sent(contract)
        forgotten = [tx_hash for tx_hash, seen in known.items() if not seen]
        if len(forgotten) == len(known):  # none waits behind them: queued again by the settling
            return
        for tx_hash in forgotten:
            rows = self._db.execute("SELECT commitment, plaintext FROM sealed_receipts WHERE tx_hash = ? ORDER BY "
                                    "rowid", (tx_hash,)).fetchall()
            again = _send(contract, sender, regulator_keys(contract), rows,
                          lambda _, h, old=tx_hash: self._mark_sent_again(old, h))  # type: ignore[misc]
            log.info("forgotten receipts sent again", extra={"tx": to_hex(tx_hash), "again": to_hex(again)})

    def _mark_sent_again(self, forgotten: bytes, tx_hash: bytes) -> None:
        """Journal ``tx_hash`` in place of the ``forgotten`` transaction it sends again, before its broadcast."""
        with self.store.transaction() as db:
            db.execute("UPDATE sealed_receipts SET tx_hash = ? WHERE tx_hash = ? AND state = 'sent'",
                       (tx_hash, forgotten))

    def _mark_sent(self, commitments: Sequence[bytes], tx_hash: bytes) -> None:
        """Journal ``tx_hash`` on the receipts it carries, before it is broadcast; refuses (nothing is sent) unless
        every one of them is still queued and free."""
        with self.store.transaction() as db:  # found by key: the index of states would walk every queued receipt
            claimed = [state for (state,) in db.execute(
                f"SELECT state FROM sealed_receipts WHERE commitment IN ({','.join('?' * len(commitments))})"
                f"{self.store.skip_locked}", commitments) if state == "queued"]
            if len(claimed) != len(commitments):
                raise StoreLocked(f"{len(commitments) - len(claimed)} of these receipts were taken by another "
                                  "sender meanwhile; nothing was sent")
            db.execute(f"UPDATE sealed_receipts SET state = 'sent', tx_hash = ? WHERE commitment IN "
                       f"({','.join('?' * len(commitments))})", (tx_hash, *commitments))

    def _mark_recorded(self, tx_hash: bytes, block: int, block_hash: bytes) -> int:
        with self.store.transaction() as db:
            return int(db.execute("UPDATE sealed_receipts SET state = 'recorded', block = ?, block_hash = ?, final = 0 "
                                  "WHERE tx_hash = ?", (block, block_hash, tx_hash)).rowcount)


#: A queued receipt (one queued again has its transaction's hash cleared): so written, the index of states gives the
#: queued receipts in the order they were queued.
_QUEUED = "state = 'queued' AND tx_hash IS NULL"


def receipt_state(commitment: bytes, state: str = "queued", tx_hash: bytes | None = None, block: int | None = None,
                  final: bool = False) -> dict[str, Any]:
    """Where a receipt stands, as :meth:`ReceiptOutbox.state` tells it (by default: queued, nothing sent yet)."""
    return {"commitment": to_hex(commitment), "state": state,
            "transaction": None if tx_hash is None else to_hex(tx_hash), "block": block, "final": final}


def _send(contract: CirculationContract, sender: Sender, keys: list[RegulatorPublicKey], rows: Sequence[Any],
          journal: Callable[[list[bytes], bytes], None]) -> bytes:
    """Seal ``rows`` (commitment, plaintext) as one envelope and record them on ``contract``;
    ``journal(commitments, tx_hash)`` runs before the broadcast. The chain carries the commitments the envelope
    is bound to, the regulator keys' suite's (a receipt queued with the other suite's, as before the outbox was
    told the suite, is recorded where the regulators can open it)."""
    commitments = [bytes(c) for c, _ in rows]
    batch = seal_receipts([Receipt.from_plaintext(bytes(p)) for _, p in rows], keys)
    return contract.submit(lambda f: f.recordSealedReceipts(list(batch.commitments), batch.sealed), sender,
                           on_signed=lambda h: journal(commitments, h))


def _canonical(contract: Deployed, block: int, block_hash: bytes | None) -> bool:
    """Whether the chain's block ``block`` is still the one with ``block_hash``."""
    return _still_the_chains(contract, [(block, block_hash)])[0]


def _still_the_chains(contract: Deployed, blocks: Sequence[tuple[int, bytes | None]]) -> list[bool]:
    """:func:`_canonical` of each block (number, hash), each number read once, in batches of bare JSON-RPC
    requests (a node answers a block it does not have with ``null``)."""
    numbers = sorted({number for number, _ in blocks})
    hashes: dict[int, bytes | None] = {}
    call = rpc(contract.w3)
    for start in range(0, len(numbers), BLOCKS_PER_READ):
        part = numbers[start:start + BLOCKS_PER_READ]
        with node_errors():
            found = call.batch([("eth_getBlockByNumber", [hex(number), False]) for number in part])
        hashes.update((number, None if block is None else bytes(HexBytes(block["hash"])))
                      for number, block in zip(part, found, strict=True))
    return [block_hash is not None and hashes[number] == bytes(block_hash) for number, block_hash in blocks]


def _known(contract: Deployed, tx_hash: bytes) -> bool:
    """Whether the node knows the transaction (mined or pending)."""
    with node_errors():
        try:
            contract.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return False
    return True
