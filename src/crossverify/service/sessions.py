"""The regulator's console sessions: what a supervisor's browser gets in exchange for the regulator's API key.

Sessions live in a store (kind ``console sessions``: an SQLite file beside the audit index, or the ``[storage]``
PostgreSQL database), keyed by the SHA-256 of their token, so that every worker and replica of the service knows
them, and a logout or a lapse in one holds in all.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from ..config import Config
from ..store import Store
from .auth import ApiKeys, Client, key_digest

#: A session lapses this many seconds after its last use, and this many after it was opened, whatever its use.
IDLE = 15 * 60
LIFETIME = 8 * 3600
#: A session's last use is written again only once it is this many seconds old (a read per request, a write at
#: most this often): a session may lapse up to this much before ``IDLE`` after its very last use, never after.
TOUCH = 30
#: The sessions: the SHA-256 of the token (the token itself lives only in the cookie), the API key's client it
#: stands for, when it was opened and last used (unix seconds: the replicas' clocks agree), and the SHA-256 (hex)
#: of the key it was opened with (sessions opened before there was one have ``''``: they open nothing).
MIGRATIONS = ["CREATE TABLE sessions (digest BLOB PRIMARY KEY, client TEXT NOT NULL, opened REAL NOT NULL, "
              "used REAL NOT NULL)",
              "ALTER TABLE sessions ADD COLUMN key_digest TEXT NOT NULL DEFAULT ''"]


def sessions_file(config: Config) -> Path:
    """Where ``config`` keeps the console's sessions in SQLite: ``[regulator] sessions``, by default a file beside
    the audit index (``[storage] url`` puts them in that database instead)."""
    index = config.audit.index
    return config.regulator.sessions or index.with_name(f"{index.stem}-sessions.sqlite")


def sessions_store(config: Config) -> Store:
    """The console's sessions as ``config`` places them. Every process serving the regulator opens it."""
    return Store(config.storage.location(sessions_file(config)), MIGRATIONS, kind="console sessions",
                 exclusive=False)


class Sessions:
    """The console's open sessions in ``store``, for the clients of ``keys``: a session stands for the client that
    opened it as long as the key it was opened with stays configured with the regulator's role (a key replaced
    ends the sessions it opened)."""

    def __init__(self, store: Store, keys: ApiKeys, idle: float = IDLE, lifetime: float = LIFETIME,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.keys = store, keys
        self.idle, self.lifetime, self._clock = idle, lifetime, clock

    def open(self, client: Client, key: str) -> str:
        """A new session for ``client``, who signed in with its API ``key``; returns its token (256 random bits),
        for the cookie. Lapsed sessions are forgotten on the way."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self.store.transaction() as db:
            db.execute("DELETE FROM sessions WHERE used < ? OR opened < ?", (now - self.idle, now - self.lifetime))
            db.execute("INSERT INTO sessions (digest, client, opened, used, key_digest) VALUES (?, ?, ?, ?, ?)",
                       (_digest(token), client.name, now, now, key_digest(key)))
        return token

    def client(self, token: str) -> Client | None:
        """Who holds the session ``token``, if it is open and has not lapsed (its idle time starts again). A read;
        a write only to forget a lapsed session or, every ``TOUCH`` seconds at most, to record its use."""
        now, digest = self._clock(), _digest(token)
        with self.store.lock:
            found = self.store.db.execute("SELECT opened, used, key_digest FROM sessions WHERE digest = ?",
                                          (digest,)).fetchone()
        if found is None:
            return None
        opened, used, key = found
        if now - used > self.idle or now - opened > self.lifetime:
            self.close(token)
            return None
        if now - used >= TOUCH:
            with self.store.transaction() as db:
                if not db.execute("UPDATE sessions SET used = CASE WHEN used < ? THEN ? ELSE used END "
                                  "WHERE digest = ?", (now, now, digest)).rowcount:
                    return None  # closed meanwhile
        client = self.keys.holder(key)
        return client if client is not None and client.role == "regulator" else None

    def close(self, token: str) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM sessions WHERE digest = ?", (_digest(token),))


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
