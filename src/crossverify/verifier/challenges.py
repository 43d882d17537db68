"""The bank's one-time challenges, kept durably in a store: issued once, consumed at most once.

A challenge reaches the resident's page by a short hand-over code (:meth:`ChallengeStore.hand_over`): the
bank's clerk shows it (as text, or a QR code of the page's address with the code in its fragment), and the page
reads the challenge with it (:meth:`ChallengeStore.by_code`). Only the code's SHA-256 is stored. A code is a
pointer, not a credential: whoever reads a challenge still needs the holder's key to answer it.

Every worker of a bank may open the store at once (it takes no one-process lock). Consuming is a conditional
``UPDATE`` inside an immediate transaction, so of two presentations that answer one challenge (two threads, two
processes, two servers on one file or one database) exactly one finds it unused.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from enum import StrEnum

from .. import idempotency
from ..errors import ChallengeError
from ..format.presentation import Challenge
from ..store import Connection, Location, Store

# IF NOT EXISTS: workers that open a fresh file at the same moment may each run the first migration.
MIGRATIONS = ["""
CREATE TABLE IF NOT EXISTS challenges (
    nonce       BLOB PRIMARY KEY,
    aud         TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX IF NOT EXISTS challenges_expiry ON challenges (expires_at);
""", """
CREATE TABLE IF NOT EXISTS challenge_codes (
    code_hash   BLOB PRIMARY KEY,
    nonce       BLOB NOT NULL
);
""", """
CREATE TABLE IF NOT EXISTS challenge_answers (
    nonce       BLOB PRIMARY KEY,
    verdict     TEXT NOT NULL
);
""", """
-- The sealed receipt of a valid answer (its plaintext, salt included), kept with the verdict in one transaction
-- and flagged once the receipt outbox holds it: an answer whose receipt is not flagged is queued again.
ALTER TABLE challenge_answers ADD COLUMN receipt BLOB;
ALTER TABLE challenge_answers ADD COLUMN receipt_queued INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS challenge_answers_unqueued ON challenge_answers (nonce)
    WHERE receipt IS NOT NULL AND receipt_queued = 0;
""", idempotency.MIGRATION, """
-- The mark of the batch whose presentation used a challenge (random, one per batch): only that batch opens it
-- again, when it gave no verdict; batches within the same second are told apart.
ALTER TABLE challenges ADD COLUMN used_by BLOB;
""", """
-- Purging finds a challenge's hand-over codes by its nonce, not by reading every code.
CREATE INDEX IF NOT EXISTS challenge_codes_by_nonce ON challenge_codes (nonce);
"""]
#: The longest a challenge may stay open, and how long it does by default, in seconds.
MAX_CHALLENGE_TTL = 3600
DEFAULT_CHALLENGE_TTL = 600
#: Hand-over codes: Crockford's base-32 alphabet (no I, L, O, U), read aloud or typed from a clerk's screen.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 50 bits: guessing one of a bank's open codes at the page's rate limit takes centuries
#: How long after its challenge expires an answer's verdict stays readable by the clerk, in seconds.
ANSWERS_KEPT = 3600
#: The most challenges one :meth:`ChallengeStore.purge` forgets (one short write transaction).
PURGE_BATCH = 500


class Consumed(StrEnum):
    """What consuming a challenge found."""

    FRESH = "fresh"          # it was open: now it is used
    UNKNOWN = "unknown"      # this bank never issued it
    USED = "used"            # a presentation already answered it
    EXPIRED = "expired"      # it was never answered in time
    MISMATCH = "mismatch"    # it was issued for another audience or purpose
    OUTLIVED = "outlived"    # open, but the presentation expires after it: refused, and the challenge stays open


class ChallengeStore:
    """The challenges one bank (one ``aud``) issued."""

    def __init__(self, location: Location, aud: str) -> None:
        self.aud = aud
        self.store = Store(location, MIGRATIONS, kind="challenge store", exclusive=False)

    def close(self) -> None:
        self.store.close()

    def issue(self, purpose: str, now: int, ttl: int = DEFAULT_CHALLENGE_TTL) -> Challenge:
        """A fresh challenge for ``purpose``, stored before it is returned; it expires ``ttl`` seconds from now."""
        if not 0 < ttl <= MAX_CHALLENGE_TTL:
            raise ChallengeError(f"a challenge lives 1 to {MAX_CHALLENGE_TTL} seconds, got {ttl}")
        challenge = Challenge.fresh(self.aud, purpose, now + ttl)
        with self.store.transaction() as db:
            db.execute("INSERT INTO challenges (nonce, aud, purpose, issued_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                       (challenge.nonce, self.aud, purpose, now, challenge.expires_at))
        return challenge

    def consume(self, nonce: bytes, purpose: str, now: int, exp: int | None = None) -> Consumed:
        """Mark the challenge ``nonce`` used if it is open, for this audience and ``purpose``, and (given the
        presentation's ``exp``) expires no earlier than the presentation; say what was found."""
        return self.consume_many([(nonce, purpose, exp)], now)[0]

    def consume_many(self, answers: Sequence[tuple[bytes, str, int | None]], now: int,
                     by: bytes | None = None) -> list[Consumed]:
        """:meth:`consume` for many (nonce, purpose, exp) answers in one durable transaction (one sync to disk); a
        nonce given twice is fresh the first time only. The challenges used are marked ``by`` the batch (its own
        random mark, which :meth:`release_many` names; none: they are never opened again)."""
        with self.store.transaction() as db:
            return [_consume(db, self.aud, nonce, purpose, now, exp, by) for nonce, purpose, exp in answers]

    def release_many(self, nonces: Sequence[bytes], by: bytes) -> None:
        """Open again the challenges ``nonces`` that the batch marked ``by`` consumed and then gave no verdict on
        (its registry reads failed for want of the node, or what had to follow the verdict failed): the
        resident's presentation can be checked again, not refused as a replay. A challenge another batch
        consumed, or with an answer recorded, stays used."""
        with self.store.transaction() as db:
            db.executemany("UPDATE challenges SET used_at = NULL, used_by = NULL WHERE nonce = ? AND aud = ? AND "
                           "used_by = ? AND nonce NOT IN (SELECT nonce FROM challenge_answers)",
                           [(nonce, self.aud, by) for nonce in nonces])

    def hand_over(self, challenge: Challenge) -> str:
        """A new code by which the resident's page reads ``challenge`` (issued by this store), shown as
        ``XXXXX-XXXXX``."""
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        with self.store.transaction() as db:
            db.execute("INSERT INTO challenge_codes (code_hash, nonce) VALUES (?, ?)",
                       (_code_hash(code), challenge.nonce))
        return f"{code[:5]}-{code[5:]}"

    def by_code(self, code: str, now: int) -> Challenge:
        """The open challenge a hand-over code names (spaces, dashes and case do not matter, nor O for 0 or I/L for
        1); an unknown code, or one whose challenge was answered or has expired, raises :class:`ChallengeError`."""
        with self.store.lock:
            row = self.store.db.execute(
                "SELECT c.nonce, c.purpose, c.expires_at, c.used_at FROM challenge_codes k JOIN challenges c "
                "ON c.nonce = k.nonce WHERE k.code_hash = ? AND c.aud = ?", (_code_hash(code), self.aud)).fetchone()
        if row is None:
            raise ChallengeError("no challenge has this code: check it with the bank's clerk")
        nonce, purpose, expires_at, used_at = row
        if used_at is not None:
            raise ChallengeError("this challenge was answered already: ask the bank's clerk for a new code")
        if expires_at <= now:
            raise ChallengeError("this challenge has expired: ask the bank's clerk for a new code")
        return Challenge(self.aud, bytes(nonce), purpose, expires_at)

    def record_answer(self, nonce: bytes, verdict: str, receipt: bytes | None = None) -> bytes | None:
        """Keep the verdict (JSON text) on the presentation that answered the challenge ``nonce``, for the clerk
        who handed it over, with the plaintext of its sealed ``receipt`` if it passed, in one transaction; the
        first answer stands. Returns the receipt plaintext kept (the first answer's). It is forgotten with the
        challenge (:meth:`purge`), once its receipt is queued."""
        with self.store.transaction() as db:
            db.execute("INSERT INTO challenge_answers (nonce, verdict, receipt) VALUES (?, ?, ?) "
                       "ON CONFLICT DO NOTHING", (nonce, verdict, receipt))
            kept = db.execute("SELECT receipt FROM challenge_answers WHERE nonce = ?", (nonce,)).fetchone()[0]
        return None if kept is None else bytes(kept)

    def unqueued_receipts(self) -> list[tuple[bytes, bytes]]:
        """The (nonce, receipt plaintext) of every answer whose receipt the outbox may not hold yet."""
        with self.store.lock:  # (in the partial index's order: SQLite then reads it, not every answer)
            rows = self.store.db.execute("SELECT nonce, receipt FROM challenge_answers WHERE receipt IS NOT NULL "
                                         "AND receipt_queued = 0 ORDER BY nonce").fetchall()
        return [(bytes(n), bytes(r)) for n, r in rows]

    def receipts_queued(self, nonces: Sequence[bytes]) -> None:
        """Flag the receipts of the answers to ``nonces`` as held by the outbox."""
        with self.store.transaction() as db:
            db.executemany("UPDATE challenge_answers SET receipt_queued = 1 WHERE nonce = ?", [(n,) for n in nonces])

    def hand_over_state(self, code: str, now: int) -> tuple[str, Challenge, str | None, bytes | None] | None:
        """What became of the challenge a hand-over code names: ``open``, ``answered`` (with the verdict's JSON
        text) or ``expired``, the challenge, and the answer's receipt plaintext (``None`` without a valid answer);
        ``None`` for a code this bank never handed over."""
        with self.store.lock:
            row = self.store.db.execute(
                "SELECT c.nonce, c.purpose, c.expires_at, c.used_at, a.verdict, a.receipt FROM challenge_codes k "
                "JOIN challenges c "
                "ON c.nonce = k.nonce LEFT JOIN challenge_answers a ON a.nonce = c.nonce WHERE k.code_hash = ? AND "
                "c.aud = ?", (_code_hash(code), self.aud)).fetchone()
        if row is None:
            return None
        nonce, purpose, expires_at, used_at, verdict, receipt = row
        state = "answered" if used_at is not None else "expired" if expires_at <= now else "open"
        return (state, Challenge(self.aud, bytes(nonce), purpose, expires_at), verdict,
                None if receipt is None else bytes(receipt))

    def purge(self, now: int, limit: int = PURGE_BATCH) -> int:
        """Forget up to ``limit`` challenges, oldest first, that expired ``ANSWERS_KEPT`` seconds before ``now``
        (used ones included, with their codes and answers), but not one whose answer's receipt the outbox does not
        hold yet; how many were dropped. The bank's outbox worker calls it every round: replicas purging at once
        take different challenges (on PostgreSQL, rows another one holds are skipped)."""

        def purge(db: Connection) -> int:
            stale = [bytes(n) for (n,) in db.execute(
                "SELECT nonce FROM challenges WHERE expires_at < ? AND nonce NOT IN (SELECT nonce FROM "
                "challenge_answers WHERE receipt IS NOT NULL AND receipt_queued = 0) ORDER BY expires_at LIMIT ?"
                f"{self.store.skip_locked}", (now - ANSWERS_KEPT, limit))]
            if stale:
                for table in ("challenge_codes", "challenge_answers", "challenges"):
                    db.execute(f"DELETE FROM {table} WHERE nonce IN ({','.join('?' * len(stale))})", stale)
            return len(stale)

        return self.store.transact(purge)  # (a deadlock's victim runs again)


def _code_hash(code: str) -> bytes:
    normal = code.upper().replace("-", "").replace(" ", "").translate(str.maketrans("OIL", "011"))
    return hashlib.sha256(normal.encode()).digest()


def _consume(db: Connection, aud: str, nonce: bytes, purpose: str, now: int, exp: int | None,
             by: bytes | None) -> Consumed:
    taken = db.execute("UPDATE challenges SET used_at = ?, used_by = ? WHERE nonce = ? AND aud = ? AND purpose = ? "
                       "AND used_at IS NULL AND expires_at > ? AND expires_at >= ?",
                       (now, by, nonce, aud, purpose, now, 0 if exp is None else exp)).rowcount
    if taken == 1:
        return Consumed.FRESH
    row = db.execute("SELECT aud, purpose, expires_at, used_at FROM challenges WHERE nonce = ?", (nonce,)).fetchone()
    if row is None:
        return Consumed.UNKNOWN
    stored_aud, stored_purpose, expires_at, used_at = row
    if used_at is not None:
        return Consumed.USED
    if (stored_aud, stored_purpose) != (aud, purpose):
        return Consumed.MISMATCH
    if expires_at <= now:
        return Consumed.EXPIRED
    return Consumed.OUTLIVED if exp is not None and exp > expires_at else Consumed.UNKNOWN
