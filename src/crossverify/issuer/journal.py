"""The issuer's durable journal: every certificate, salt and batch state, in a store (SQLite or PostgreSQL).

A certificate is committed here, salts included, before anything else happens to it, and each batch moves
``sealed -> signed -> sent -> anchored -> delivered`` in its own committed step. After a crash the journal says
exactly where every batch stood, so the pipeline resumes without losing a certificate, anchoring a root twice
or changing a bundle.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .. import idempotency
from ..errors import JournalError
from ..format.batch import SaltedDocument
from ..format.certificate import document_digest
from ..format.hashing import HashAlgorithm
from ..store import Connection, Location, PerEngine, Store

REISSUE = """
-- A reference may be re-issued with changed content, superseding its earlier revision (revoked on chain).
CREATE TABLE documents_v3 (
    id            INTEGER PRIMARY KEY,
    issuer_id     TEXT    NOT NULL,
    reference     TEXT    NOT NULL,
    revision      INTEGER NOT NULL DEFAULT 0,
    doc_type      TEXT    NOT NULL,
    hash_alg      INTEGER NOT NULL,
    body          TEXT    NOT NULL,
    digest        BLOB    NOT NULL,
    batch_id      INTEGER REFERENCES batches (id),
    leaf_index    INTEGER,
    added_at      REAL    NOT NULL,
    superseded_by INTEGER REFERENCES documents_v3 (id),
    revoked       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (issuer_id, reference, revision)
);
INSERT INTO documents_v3 (id, issuer_id, reference, doc_type, hash_alg, body, digest, batch_id, leaf_index, added_at)
    SELECT id, issuer_id, reference, doc_type, hash_alg, body, digest, batch_id, leaf_index, added_at FROM documents;
DROP TABLE documents;
ALTER TABLE documents_v3 RENAME TO documents;
CREATE INDEX pending ON documents (issuer_id, doc_type, batch_id, id);
CREATE INDEX by_digest ON documents (digest);
"""

#: A round checks the revocations of unexpired batches, found from the batches, not every revocation ever sent; and,
#: between full checks, the anchors above the reorganisation window, found by block, and the revocations kept since
#: the last full check, by position (issuer/watch.py).
WATCHED = """
CREATE INDEX revocations_by_root ON revocations (issuer_id, batch_root);
CREATE INDEX batches_by_block ON batches (issuer_id, state, anchor_block);
"""

#: The counts of GET /v1/batches (every page) read one index, not the batch rows: a year of batches sealed every five
#: minutes is ~100,000 rows a document type. (On PostgreSQL the index carries the id its count of a batch sealed
#: without one needs.)
COUNTED = """
CREATE INDEX batches_counted ON batches (issuer_id, state, documents);
"""

MIGRATIONS = ("""
CREATE TABLE IF NOT EXISTS batches (
    id          INTEGER PRIMARY KEY,
    issuer_id   TEXT    NOT NULL,
    doc_type    TEXT    NOT NULL,
    hash_alg    INTEGER NOT NULL,
    root        BLOB    NOT NULL UNIQUE,
    leaf_count  INTEGER NOT NULL,
    not_after   INTEGER NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('sealed', 'signed', 'sent', 'anchored', 'delivered')),
    deadline    INTEGER,
    signature   BLOB,
    tx_hash     BLOB,
    anchored_at INTEGER,
    sealed_at   REAL    NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    id         INTEGER PRIMARY KEY,
    issuer_id  TEXT    NOT NULL,
    reference  TEXT    NOT NULL,
    doc_type   TEXT    NOT NULL,
    hash_alg   INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    digest     BLOB    NOT NULL,
    batch_id   INTEGER REFERENCES batches (id),
    leaf_index INTEGER,
    added_at   REAL    NOT NULL,
    UNIQUE (issuer_id, reference)
);
CREATE INDEX IF NOT EXISTS pending ON documents (issuer_id, doc_type, batch_id, id);
""", """
ALTER TABLE batches ADD COLUMN signer TEXT;             -- the key that signed it, to re-sign after a rotation
ALTER TABLE batches ADD COLUMN anchor_block INTEGER;    -- where the anchor was mined, to notice a reorg or reset
ALTER TABLE batches ADD COLUMN anchor_block_hash BLOB;
""", PerEngine(REISSUE, REISSUE + """
-- the ids were copied: the identity goes on after them
SELECT setval(pg_get_serial_sequence('documents', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM documents;
"""), idempotency.MIGRATION, """
-- Every revocation this issuer sent, with its reason: one that a network reset or a new registry lost is sent again.
-- Journals before it kept only a document's revoked flag: superseded revisions come back as superseded, the others
-- as withdrawn.
CREATE TABLE revocations (
    issuer_id  TEXT    NOT NULL,
    target     BLOB    NOT NULL,
    batch_root BLOB    NOT NULL,
    scope      TEXT    NOT NULL CHECK (scope IN ('batch', 'document')),
    reason     INTEGER NOT NULL,
    PRIMARY KEY (issuer_id, target)
);
INSERT INTO revocations (issuer_id, target, batch_root, scope, reason)
    SELECT d.issuer_id, d.digest, b.root, 'document', CASE WHEN d.superseded_by IS NULL THEN 1 ELSE 2 END
    FROM documents d JOIN batches b ON b.id = d.batch_id WHERE d.revoked = 1;
""", """
-- A round and GET /v1/batches read what they need, not every document ever issued: each batch keeps its document
-- count from sealing, documents are found by batch, the unbatched and the superseded ones still to revoke by their
-- own partial indexes, and batches by state, the unexpired ones by expiry (the index "pending" served none of
-- these without a scan).
CREATE INDEX documents_by_batch ON documents (batch_id, leaf_index);
CREATE INDEX documents_unbatched ON documents (issuer_id, id) WHERE batch_id IS NULL;
CREATE INDEX documents_superseded ON documents (issuer_id, id) WHERE superseded_by IS NOT NULL AND revoked = 0;
CREATE INDEX batches_by_state ON batches (issuer_id, state, id);
CREATE INDEX batches_by_expiry ON batches (issuer_id, state, not_after);
ALTER TABLE batches ADD COLUMN documents INTEGER NOT NULL DEFAULT 0;
UPDATE batches SET documents = (SELECT COUNT(*) FROM documents d WHERE d.batch_id = batches.id);
-- Last: on PostgreSQL a dropped index locks out the table's readers until the migration commits.
DROP INDEX pending;
""", PerEngine(WATCHED, WATCHED + """
-- (SQLite's rowid is the table's key; PostgreSQL's is a column of its own)
CREATE INDEX revocations_by_position ON revocations (rowid);
"""), PerEngine(COUNTED, COUNTED.replace("documents);", "documents) INCLUDE (id);")), """
-- A sealed batch whose documents expired before it could be anchored never will be: the chain's time when a round
-- found it so.
ALTER TABLE batches ADD COLUMN lapsed_at INTEGER;
""")


REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_reference(reference: object) -> None:
    """Raise :class:`JournalError` unless ``reference`` is one the journal takes."""
    if not isinstance(reference, str) or not REFERENCE.fullmatch(reference):
        raise JournalError(f"reference must be 1-128 of A-Z a-z 0-9 . _ - (first alphanumeric): {reference!r}")


class BatchState(StrEnum):
    """Where a batch stands in the issuance pipeline."""

    SEALED = "sealed"
    SIGNED = "signed"
    SENT = "sent"
    ANCHORED = "anchored"
    DELIVERED = "delivered"


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """One batch as the journal knows it."""

    id: int
    issuer_id: str
    doc_type: str
    hash_alg: HashAlgorithm
    root: bytes
    leaf_count: int
    not_after: int
    state: BatchState
    deadline: int | None
    signature: bytes | None
    tx_hash: bytes | None
    anchored_at: int | None
    signer: str | None
    anchor_block: int | None
    anchor_block_hash: bytes | None
    documents: int
    lapsed_at: int | None = None


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """Where one journalled document stands: its digest, and its batch's root and state once sealed."""

    id: int
    reference: str
    revision: int
    digest: bytes
    batch_root: bytes | None
    batch_state: BatchState | None
    superseded_by: int | None
    revoked: bool

    @property
    def file_stem(self) -> str:
        """The bundle's file name without ``.bundle.json``: the reference, and ``~N`` for revision N > 0."""
        return _stem(self.reference, self.revision)


class Journal:
    """A journal file shared by the issuers one process serves; every query names its issuer. ``read_only``: for
    commands that only read it (no lock, nothing written: see :class:`~crossverify.store.Store`)."""

    def __init__(self, location: Location, *, read_only: bool = False) -> None:
        self.store = Store(location, MIGRATIONS, kind="journal", read_only=read_only)
        #: Where the journal is, for messages.
        self.where = self.store.where
        self._db = self.store.db

    def close(self) -> None:
        self.store.close()

    def transaction(self) -> AbstractContextManager[Connection]:
        """One atomic, durable step: all of it is committed, or none."""
        return self.store.transaction()

    def add_documents(self, entries: Sequence[tuple[str, SaltedDocument]], hash_alg: HashAlgorithm, *,
                      supersede: bool = False) -> list[int]:
        """Record salted documents under caller references, atomically.

        A reference already journalled with the same content returns its id again instead of a duplicate (so a
        caller may retry after a crash). With other content it is refused, unless ``supersede``: then a document
        still waiting for a batch is replaced, and one already sealed gets a new revision, the earlier one to be
        revoked on chain as superseded.
        """
        for reference, _ in entries:
            check_reference(reference)
        with self.transaction() as db:
            return [self._add(db, reference, doc, hash_alg, supersede) for reference, doc in entries]

    @staticmethod
    def _add(db: Connection, reference: str, doc: SaltedDocument, hash_alg: HashAlgorithm, supersede: bool) -> int:
        """:meth:`add_documents` for one document. On PostgreSQL another replica may journal or seal the reference
        between this read and this write (SQLite's writers exclude each other): the write then changes nothing and
        the reference is read again."""
        h = doc.header
        body = json.dumps(doc.to_json(), ensure_ascii=False)
        while True:
            row = db.execute("SELECT id, revision, body, batch_id FROM documents WHERE issuer_id = ? AND "
                             "reference = ? ORDER BY revision DESC LIMIT 1", (h.issuer_id, reference)).fetchone()
            if row and _content(json.loads(row[2])) == _content(doc.to_json()):
                return int(row[0])
            if row and not supersede:
                raise JournalError(f"reference {reference} was issued before with other content; nothing was "
                                   "changed (to replace it, issue it again superseding the earlier one)")
            if row and row[3] is None:  # not sealed yet: it never left the issuer, replace it
                if db.execute("UPDATE documents SET doc_type = ?, hash_alg = ?, body = ?, digest = ?, added_at = ? "
                              "WHERE id = ? AND batch_id IS NULL",
                              (h.doc_type, int(hash_alg), body, doc.digest, time.time(), row[0])).rowcount:
                    return int(row[0])
                continue  # sealed meanwhile: a new revision
            added = db.execute(
                "INSERT INTO documents (issuer_id, reference, revision, doc_type, hash_alg, body, digest, "
                "added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                (h.issuer_id, reference, row[1] + 1 if row else 0, h.doc_type, int(hash_alg), body, doc.digest,
                 time.time())).fetchone()
            if added is None:
                continue  # journalled meanwhile
            if row:
                db.execute("UPDATE documents SET superseded_by = ? WHERE id = ?", (added[0], row[0]))
            return int(added[0])

    def find(self, issuer_id: str, *, reference: str | None = None, digest: bytes | None = None,
             ) -> DocumentRecord | None:
        """The newest revision of a reference, or the document with a digest, as this journal knows it."""
        where, value = ("d.reference = ?", reference) if reference is not None else ("d.digest = ?", digest)
        row = self._db.execute(
            "SELECT d.id, d.reference, d.revision, d.digest, b.root, b.state, d.superseded_by, d.revoked "
            f"FROM documents d LEFT JOIN batches b ON b.id = d.batch_id WHERE d.issuer_id = ? AND {where} "
            "ORDER BY d.revision DESC LIMIT 1", (issuer_id, value)).fetchone()
        return None if row is None else _record(row)

    def withdraw(self, issuer_id: str, reference: str) -> None:
        """Delete the document journalled as ``reference``, salts and all, while it waits for a batch (it never
        left the issuer). :class:`JournalError` for one not journalled, one sealed into a batch
        (its root may be signed or sent: anchor it and revoke it), or one that supersedes an earlier revision (issue
        the right content with ``supersede``, which replaces it). A seal that read it first then fails, changing
        nothing (:meth:`record_sealed`)."""
        with self.transaction() as db:
            row = db.execute("SELECT id, revision, batch_id FROM documents WHERE issuer_id = ? AND reference = ? "
                             f"ORDER BY revision DESC LIMIT 1{self.store.for_update}",
                             (issuer_id, reference)).fetchone()
            if row is None:
                raise JournalError(f"reference {reference} is not in {issuer_id}'s journal; nothing was changed")
            doc_id, revision, batch_id = row
            if batch_id is not None:
                raise JournalError(f"reference {reference} is sealed into a batch already, which may be on its way to "
                                   "the registry: let it be anchored, then revoke it (crossverify issuer revoke "
                                   "--reference ... --reason withdrawn or issued_in_error); nothing was changed")
            if revision > 0:
                raise JournalError(f"reference {reference}'s pending revision {revision} supersedes an earlier one: "
                                   "issue the right content with --supersede, which replaces it; nothing was changed")
            db.execute("DELETE FROM documents WHERE id = ? AND batch_id IS NULL", (doc_id,))

    def superseded(self, issuer_id: str) -> list[DocumentRecord]:
        """Superseded documents whose batch is on chain and that are not revoked yet."""
        rows = self._db.execute(
            "SELECT d.id, d.reference, d.revision, d.digest, b.root, b.state, d.superseded_by, d.revoked "
            "FROM documents d JOIN batches b ON b.id = d.batch_id WHERE d.issuer_id = ? AND "
            "d.superseded_by IS NOT NULL AND d.revoked = 0 AND b.state IN ('anchored', 'delivered') ORDER BY d.id",
            (issuer_id,)).fetchall()
        return [_record(r) for r in rows]

    def record_revoked(self, document_ids: Sequence[int]) -> None:
        with self.transaction() as db:
            db.executemany("UPDATE documents SET revoked = 1 WHERE id = ?", [(i,) for i in document_ids])

    def record_revocation(self, issuer_id: str, target: bytes, batch_root: bytes, reason: int) -> None:
        """Keep a revocation this issuer sent (``target`` is ``batch_root`` for a whole batch, else a document's
        digest): the first one of a target stands."""
        scope = "batch" if target == batch_root else "document"
        with self.transaction() as db:
            db.execute("INSERT INTO revocations (issuer_id, target, batch_root, scope, reason) VALUES (?, ?, ?, ?, ?) "
                       "ON CONFLICT DO NOTHING", (issuer_id, target, batch_root, scope, reason))

    def revoked(self, issuer_id: str, digest: bytes, batch_root: bytes) -> bool:
        """Whether the issuer revoked the document ``digest`` or its whole batch (a revocation kept here)."""
        return self._db.execute("SELECT 1 FROM revocations WHERE issuer_id = ? AND target IN (?, ?)",
                                (issuer_id, digest, batch_root)).fetchone() is not None

    def revocations(self, issuer_id: str, live_at: int | None = None, after: int | None = None,
                    batches_only: bool = False) -> list[tuple[bytes, bytes, int]]:
        """Every revocation the issuer sent: a document's always, a whole batch's once its batch is anchored (as far
        as the journal knows): (target, batch root, reason); the target is the batch root for a whole batch. Only
        those of batches not expired at ``live_at`` (a time), found from the batches by expiry, when given; only
        those kept after position ``after`` (:meth:`revocations_kept`); only whole batches', ``batches_only``."""
        since, live = "", ""
        parameters: list[object] = [issuer_id]
        if after is not None:  # the few kept since: each one's batch looked up
            since, parameters = " AND r.rowid > ?", [issuer_id, after]
            if live_at is not None:
                live, parameters = " AND b.not_after > ?", [*parameters, live_at]
        elif live_at is not None:  # all of them: found from the unexpired batches
            live = (f" AND r.batch_root IN (SELECT root FROM batches WHERE issuer_id = ? AND state IN "
                    f"({','.join('?' * len(BatchState))}) AND not_after > ?)")
            parameters = [issuer_id, issuer_id, *BatchState, live_at]
        issuer = "r.issuer_id || ''" if since else "r.issuer_id"  # (the few since: by position, not the issuer's index)
        rows = self._db.execute(
            "SELECT r.target, r.batch_root, r.reason FROM revocations r JOIN batches b ON b.root = r.batch_root "
            f"WHERE {issuer} = ?{since}{live}{' AND r.target = r.batch_root' if batches_only else ''} "
            "AND (r.target != r.batch_root OR b.state IN ('anchored', 'delivered')) "
            "ORDER BY r.batch_root, r.target", parameters).fetchall()
        return [(bytes(t), bytes(b), int(r)) for t, b, r in rows]

    def revocations_kept(self) -> int:
        """The journal's position among revocations: those kept from now on come after it. On PostgreSQL the
        revocations being kept meanwhile (their identity values taken, not committed) are waited for, so that none
        is left behind a later one's position."""
        read = "SELECT COALESCE(MAX(rowid), 0) FROM revocations"
        if self.store.engine != "postgresql":
            return int(self._db.execute(read).fetchone()[0])
        with self.transaction() as db:
            db.execute("LOCK TABLE revocations IN SHARE MODE")
            return int(db.execute(read).fetchone()[0])

    def pending(self, issuer_id: str) -> list[tuple[int, str, str, float]]:
        """Documents not yet in a batch: (id, doc type, bundle file stem, added at), oldest first."""
        rows = self._db.execute(
            "SELECT id, doc_type, reference, revision, added_at FROM documents "
            "WHERE issuer_id = ? AND batch_id IS NULL ORDER BY id", (issuer_id,))
        return [(doc_id, doc_type, _stem(reference, revision), added_at)
                for doc_id, doc_type, reference, revision, added_at in rows]

    def rehash_pending(self, issuer_id: str, hash_alg: HashAlgorithm) -> int:
        """Compute again, with ``hash_alg``, the digest of every document not yet in a batch that was journalled
        with another (``[issuer] hash_alg`` changed since): a batch hashes its documents with its own algorithm, and
        none of theirs is anchored or handed out yet. Their salts stay. How many. (Asked each round: a write is
        taken only when there is one.)"""
        stale = "SELECT id, body FROM documents WHERE issuer_id = ? AND batch_id IS NULL AND hash_alg != ?"
        if self._db.execute(f"{stale} LIMIT 1", (issuer_id, int(hash_alg))).fetchone() is None:
            return 0
        with self.transaction() as db:
            rows = db.execute(stale, (issuer_id, int(hash_alg))).fetchall()
            redone = [(doc_id, _document(body, b"")) for doc_id, body in rows]
            db.executemany("UPDATE documents SET hash_alg = ?, digest = ? WHERE id = ?",
                           [(int(hash_alg), document_digest(doc.header, doc.claims, hash_alg.hasher()), doc_id)
                            for doc_id, doc in redone])
        return len(rows)

    def documents(self, ids: Sequence[int]) -> list[SaltedDocument]:
        rows = {r[0]: r for r in self._db.execute(
            f"SELECT id, body, digest FROM documents WHERE id IN ({','.join('?' * len(ids))})", list(ids))}
        return [_document(rows[i][1], rows[i][2]) for i in ids]

    def batch_documents(self, batch_id: int) -> list[tuple[str, SaltedDocument]]:
        """A batch's documents in leaf order, with their bundle file stems (see :attr:`DocumentRecord.file_stem`)."""
        rows = self._db.execute(
            "SELECT reference, revision, body, digest FROM documents WHERE batch_id = ? ORDER BY leaf_index",
            (batch_id,))
        return [(_stem(reference, revision), _document(body, digest)) for reference, revision, body, digest in rows]

    def record_sealed(self, issuer_id: str, doc_type: str, hash_alg: HashAlgorithm, root: bytes, not_after: int,
                      document_ids: Sequence[int], leaf_count: int) -> int:
        """Place documents in a new sealed batch; ``leaf_count`` counts the tree's leaves (a decoy included)."""
        with self.transaction() as db:
            batch_id = int(db.execute(
                "INSERT INTO batches (issuer_id, doc_type, hash_alg, root, leaf_count, not_after, state, sealed_at, "
                "documents) VALUES (?, ?, ?, ?, ?, ?, 'sealed', ?, ?) RETURNING id",
                (issuer_id, doc_type, int(hash_alg), root, leaf_count, not_after, time.time(), len(document_ids)),
            ).fetchone()[0])
            db.executemany("UPDATE documents SET batch_id = ?, leaf_index = ? WHERE id = ? AND batch_id IS NULL",
                           [(batch_id, i, doc_id) for i, doc_id in enumerate(document_ids)])
            placed = db.execute("SELECT COUNT(*) FROM documents WHERE batch_id = ?", (batch_id,)).fetchone()[0]
            if placed != len(document_ids):
                raise JournalError("a document was sealed into another batch meanwhile; nothing was changed")
        return batch_id

    def record_signed(self, batch_id: int, deadline: int, signature: bytes, signer: str) -> None:
        self._set(batch_id, "state = 'signed', deadline = ?, signature = ?, signer = ?, tx_hash = NULL, "
                            "lapsed_at = NULL", deadline, signature, signer)  # (the chain's time stepped back)

    def record_sent(self, batch_ids: Sequence[int], tx_hash: bytes) -> None:
        """The batches' anchor is sent in ``tx_hash`` (recorded before its broadcast), or was and is to be looked
        for again (a reorganisation took its block): where an earlier anchor was mined is forgotten."""
        with self.transaction() as db:
            db.executemany("UPDATE batches SET state = 'sent', tx_hash = ?, anchored_at = NULL, anchor_block = NULL, "
                           "anchor_block_hash = NULL WHERE id = ?", [(tx_hash, b) for b in batch_ids])

    def record_anchored(self, batch_id: int, anchored_at: int, block: int | None, block_hash: bytes | None) -> None:
        """The registry holds the batch's root since ``anchored_at``, mined in ``block`` (``block_hash``); lapsed no
        more, if it was."""
        self._set(batch_id, "state = 'anchored', anchored_at = ?, anchor_block = ?, anchor_block_hash = ?, "
                            "lapsed_at = NULL", anchored_at, block, block_hash)

    def record_unsent(self, batch_id: int) -> None:
        """The batch is not anchored (a transaction failed or was dropped, or a reorg or a network reset undid
        its anchor): back to sealed, to be signed and sent again. Its root and bundles stay the same."""
        self._set(batch_id, "state = 'sealed', signature = NULL, signer = NULL, deadline = NULL, tx_hash = NULL, "
                            "anchored_at = NULL, anchor_block = NULL, anchor_block_hash = NULL")

    def record_delivered(self, batch_id: int) -> None:
        self._set(batch_id, "state = 'delivered'")

    def _set(self, batch_id: int, assignments: str, *values: object) -> None:
        with self.transaction() as db:
            db.execute(f"UPDATE batches SET {assignments} WHERE id = ?", (*values, batch_id))

    def batches(self, issuer_id: str, *states: BatchState, after: int = 0, limit: int | None = None,
                live_at: int | None = None, anchored_after: int | None = None, ids: Collection[int] | None = None,
                root: bytes | None = None) -> list[BatchRecord]:
        """The issuer's batches in ``states``, oldest first; a page of them: ``limit`` batches after id ``after``;
        only those not expired at ``live_at`` (a time), found by expiry: not every batch of the years before; only
        those anchored in a block after ``anchored_after``, found by block (not one whose block is unknown); only
        those of ``ids``, found by id; only the one of ``root``, found by root."""
        if ids is not None and not ids:
            return []
        live = "" if live_at is None else f" AND {'+' if anchored_after is not None else ''}not_after > ?"
        if anchored_after is not None:
            live += " AND anchor_block > ?"
        if ids is not None:
            live += f" AND id IN ({','.join(map(str, map(int, ids)))})"
        if root is not None:
            live += " AND root = ?"
        rows = self._db.execute(
            "SELECT id, issuer_id, doc_type, hash_alg, root, leaf_count, not_after, state, deadline, signature, "
            f"tx_hash, anchored_at, signer, anchor_block, anchor_block_hash, {_DOCUMENTS}, lapsed_at FROM batches "
            f"WHERE issuer_id = ? AND state IN ({','.join('?' * len(states))}){live} AND id > ? "
            f"ORDER BY id{'' if limit is None else ' LIMIT ?'}",
            (issuer_id, *states, *(() if live_at is None else (live_at,)),
             *(() if anchored_after is None else (anchored_after,)), *(() if root is None else (root,)), after,
             *(() if limit is None else (limit,)))).fetchall()
        return [BatchRecord(r[0], r[1], r[2], HashAlgorithm(r[3]), r[4], r[5], r[6], BatchState(r[7]), *r[8:])
                for r in rows]

    def counts(self, issuer_id: str) -> dict[str, int]:
        """How many documents are pending and in each batch state; those of lapsed batches (:meth:`record_lapsed`)
        as ``lapsed``, not ``sealed``."""
        out = {"pending": self._db.execute("SELECT COUNT(*) FROM documents WHERE issuer_id = ? AND batch_id IS NULL",
                                           (issuer_id,)).fetchone()[0]}
        for state, count in self._db.execute(f"SELECT state, SUM({_DOCUMENTS}) FROM batches WHERE issuer_id = ? "
                                             "GROUP BY state", (issuer_id,)):
            out[state] = int(count)
        if out.get("sealed"):  # (few batches are sealed at a time: read by state, not counted from the index)
            lapsed = int(self._db.execute(f"SELECT COALESCE(SUM({_DOCUMENTS}), 0) FROM batches WHERE issuer_id = ? "
                                          "AND state = 'sealed' AND lapsed_at IS NOT NULL", (issuer_id,)).fetchone()[0])
            if lapsed:
                out["sealed"] -= lapsed
                out = {k: v for k, v in out.items() if v or k == "pending"} | {"lapsed": lapsed}
        return out

    def record_lapsed(self, issuer_id: str, now: int, expired_at: int) -> list[BatchRecord]:
        """Mark, as lapsed at ``now`` (the chain's time), the issuer's sealed batches that expire at ``expired_at``
        or sooner and are not marked yet: they will never be anchored (the registry refuses an anchor past its
        not-after). Returns them."""
        with self.transaction() as db:
            ids = [r[0] for r in db.execute("SELECT id FROM batches WHERE issuer_id = ? AND state = 'sealed' AND "
                                            "not_after <= ? AND lapsed_at IS NULL", (issuer_id, expired_at))]
            if ids:
                db.execute(f"UPDATE batches SET lapsed_at = ? WHERE id IN ({','.join(map(str, ids))})", (now,))
        return self.batches(issuer_id, BatchState.SEALED, ids=ids)


#: A batch's documents: as counted when it was sealed, or counted now for one sealed without the count (0: by a
#: replica still running the version before, during a rolling upgrade on PostgreSQL).
_DOCUMENTS = ("(CASE WHEN documents > 0 THEN documents ELSE (SELECT COUNT(*) FROM documents d "
              "WHERE d.batch_id = batches.id) END)")


def _content(document: dict[str, object]) -> object:
    """What a document says, without its salts: two issues of a reference are the same when this is."""
    claims = document["claims"]
    assert isinstance(claims, list)
    return document["header"], sorted((c["name"], json.dumps(c["value"], sort_keys=True)) for c in claims)


def _record(row: Any) -> DocumentRecord:
    doc_id, reference, revision, digest, root, state, superseded_by, revoked = row
    return DocumentRecord(doc_id, reference, revision, bytes(digest), None if root is None else bytes(root),
                          None if state is None else BatchState(state), superseded_by, bool(revoked))


def _document(body: str, digest: bytes) -> SaltedDocument:
    return SaltedDocument.from_json(json.loads(body), digest)


def _stem(reference: str, revision: int) -> str:
    return reference if revision == 0 else f"{reference}~{revision}"
