"""Answers kept under their clients' idempotency keys, in the store whose state the request changed (an issuer's
journal or pickups, a bank's challenges or receipt outbox), so that every process sharing that store sees them.

A request that creates something and carries a key is *begun* (its key reserved), done, then *finished* (its
answer kept) or *abandoned* (its key released, for a failure the client should try again). The store holds
opaque bytes only: the caller derives the key's id and the request's fingerprint from the client's key and
seals the answer under it (:mod:`crossverify.service.idempotency`), so nothing kept here can be read, or matched
to a request, without that key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .store import Store

#: The table, appended to the migrations of each store that keeps answers.
MIGRATION = """
CREATE TABLE idempotency (
    key_id BLOB PRIMARY KEY,
    fingerprint BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    status INTEGER,
    answer BLOB
);
CREATE INDEX idempotency_by_age ON idempotency (created_at);
"""
#: Seconds an answer is kept: a client retries within them.
KEPT = 24 * 3600
#: Seconds after which a request still unanswered is taken for lost (its process died) and may run again.
ABANDONED_AFTER = 120


@dataclass(frozen=True, slots=True)
class Kept:
    """An earlier request under the same key: ``same`` whether it had the same fingerprint; ``status`` and
    ``answer`` once it was answered (``None`` while it is still being answered)."""

    same: bool
    status: int | None
    answer: bytes | None


class Answers:
    """The answers kept in ``store`` (whose migrations include :data:`MIGRATION`)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def begin(self, key_id: bytes, fingerprint: bytes, now: int) -> Kept | None:
        """Reserve ``key_id`` for a request: ``None`` when it is this request's to answer, else what the store
        kept under it. Forgets answers older than :data:`KEPT` on the way."""
        return self.begin_many([(key_id, fingerprint)], now)[0]

    def begin_many(self, requests: Sequence[tuple[bytes, bytes]], now: int) -> list[Kept | None]:
        """:meth:`begin` for each request (key id, fingerprint) in one transaction: a key given twice finds the
        first one's reservation. Keys are reserved in the order of their ids (replicas reserving the same keys
        cannot deadlock), the transaction run again if PostgreSQL made it a deadlock's victim all the same."""
        order = sorted(range(len(requests)), key=lambda i: requests[i][0])

        def reserve(db: Any) -> list[Kept | None]:
            found: list[Kept | None] = [None] * len(requests)
            db.execute("DELETE FROM idempotency WHERE created_at < ?", (now - KEPT,))
            for i in order:
                key_id, fingerprint = requests[i]
                db.execute("DELETE FROM idempotency WHERE key_id = ? AND status IS NULL AND created_at < ?",
                           (key_id, now - ABANDONED_AFTER))
                if db.execute("INSERT INTO idempotency (key_id, fingerprint, created_at) VALUES (?, ?, ?) "
                              "ON CONFLICT (key_id) DO NOTHING", (key_id, fingerprint, now)).rowcount:
                    continue
                row = db.execute("SELECT fingerprint, status, answer FROM idempotency WHERE key_id = ?",
                                 (key_id,)).fetchone()
                found[i] = Kept(bytes(row[0]) == fingerprint, row[1], None if row[2] is None else bytes(row[2]))
            return found

        return self.store.transact(reserve)

    def finish(self, key_id: bytes, fingerprint: bytes, status: int, answer: bytes) -> None:
        """Keep the answer of the request (``fingerprint``) that began ``key_id``: not over another one's, which
        took the key when this one ran past :data:`ABANDONED_AFTER`, nor over an answer kept already."""
        self.finish_many([(key_id, fingerprint, status, answer)])

    def finish_many(self, answers: Sequence[tuple[bytes, bytes, int, bytes]]) -> None:
        """:meth:`finish` for each (key id, fingerprint, status, answer), in one transaction (in the order of the
        key ids, as :meth:`begin_many`)."""
        self.store.transact(lambda db: db.executemany(
            "UPDATE idempotency SET status = ?, answer = ? WHERE key_id = ? AND fingerprint = ? AND status IS NULL",
            [(status, answer, key_id, fingerprint)
             for key_id, fingerprint, status, answer in sorted(answers, key=lambda a: a[0])]))

    def abandon(self, key_id: bytes, fingerprint: bytes) -> None:
        """Release ``key_id``: its request (``fingerprint``) failed, and the same request may be sent again; not
        another request's reservation, which took the key when this one ran past :data:`ABANDONED_AFTER`."""
        with self.store.transaction() as db:
            db.execute("DELETE FROM idempotency WHERE key_id = ? AND fingerprint = ? AND status IS NULL",
                       (key_id, fingerprint))
