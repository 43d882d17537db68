"""The bank's one-time challenges, kept durably in SQLite: issued once, consumed at most once.

Every worker of a bank may open the store at once (it takes no one-process lock). Consuming is a conditional
``UPDATE`` inside an immediate transaction, so of two presentations that answer one challenge (two threads, two
processes, two servers on one file) exactly one finds it unused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from ..errors import ChallengeError
from ..format.presentation import Challenge
from ..store import Store

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
"""]
#: The longest a challenge may stay open, and how long it does by default, in seconds.
MAX_CHALLENGE_TTL = 3600
DEFAULT_CHALLENGE_TTL = 600


class Consumed(StrEnum):
    """What consuming a challenge found."""

    FRESH = "fresh"          # it was open: now it is used
    UNKNOWN = "unknown"      # this bank never issued it
    USED = "used"            # a presentation already answered it
    EXPIRED = "expired"      # it was never answered in time
    MISMATCH = "mismatch"    # it was issued for another audience or purpose


class ChallengeStore:
    """The challenges one bank (one ``aud``) issued."""

    def __init__(self, path: str | Path, aud: str) -> None:
        self.aud = aud
        self.store = Store(path, MIGRATIONS, kind="challenge store", exclusive=False)
        self.path = self.store.path

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

    def consume(self, nonce: bytes, purpose: str, now: int) -> Consumed:
        """Mark the challenge ``nonce`` used if it is open, for this audience and ``purpose``; say what was found."""
        return self.consume_many([(nonce, purpose)], now)[0]

    def consume_many(self, answers: Sequence[tuple[bytes, str]], now: int) -> list[Consumed]:
        """:meth:`consume` for many (nonce, purpose) pairs in one durable transaction (one sync to disk); a
        nonce given twice is fresh the first time only."""
        with self.store.transaction() as db:
            return [_consume(db, self.aud, nonce, purpose, now) for nonce, purpose in answers]

    def purge(self, before: int) -> int:
        """Forget challenges that expired before ``before`` (used ones included); how many were dropped."""
        with self.store.transaction() as db:
            return db.execute("DELETE FROM challenges WHERE expires_at < ?", (before,)).rowcount


def _consume(db: sqlite3.Connection, aud: str, nonce: bytes, purpose: str, now: int) -> Consumed:
    taken = db.execute("UPDATE challenges SET used_at = ? WHERE nonce = ? AND aud = ? AND purpose = ? "
                       "AND used_at IS NULL AND expires_at > ?", (now, nonce, aud, purpose, now)).rowcount
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
    return Consumed.EXPIRED if expires_at <= now else Consumed.UNKNOWN
