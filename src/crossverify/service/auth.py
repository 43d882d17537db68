"""API keys for institutions (the configuration holds each client's role and the SHA-256 of its key), and the
rate limits on them: in memory for one process, in a store the workers of one service share."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..store import Store

ROLES = ("bank", "issuer", "regulator")


@dataclass(frozen=True, slots=True)
class Client:
    """An authenticated institution."""

    name: str
    role: str


def key_digest(key: str) -> str:
    """The SHA-256 (hex) under which a key is configured. Keys are 256 random bits, so a plain hash suffices."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh API key and its digest for the configuration."""
    key = "cvk_" + secrets.token_urlsafe(32)
    return key, key_digest(key)


class ApiKeys:
    """Who holds which key: parsed from ``[service.api_keys]`` (``name = "ROLE SHA256"``)."""

    def __init__(self, table: dict[str, str]) -> None:
        self._by_digest: dict[str, Client] = {}
        for name, entry in table.items():
            role, _, digest = entry.partition(" ")
            if role not in ROLES or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ConfigError(f"[service.api_keys] {name} must be 'ROLE SHA256' with ROLE one of "
                                  f"{', '.join(ROLES)} and 64 lowercase hex digits")
            self._by_digest[digest] = Client(name, role)

    @property
    def roles(self) -> set[str]:
        return {client.role for client in self._by_digest.values()}

    def identify(self, key: str) -> Client | None:
        return self._by_digest.get(key_digest(key))


class RateLimit:
    """A token bucket per client: ``per_minute`` requests, refilled continuously, bursts up to a tenth of it."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1.0, per_minute / 10.0)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate


#: The shared buckets: one row per client, its tokens and when they were counted (unix seconds).
RATE_LIMIT_MIGRATIONS = ("""
CREATE TABLE buckets (
    client TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    at     REAL NOT NULL
);
""",)


class SharedRateLimit(RateLimit):
    """:class:`RateLimit` for the processes of one service: the buckets live in a store, updated in one short
    write transaction per request (the store's lock orders the processes), so ``per_minute`` holds for a client
    whichever worker its requests reach. ``scope`` keeps apart the limits that share the store (API keys,
    network addresses). A lost update costs nothing worse than a few requests' worth of tokens, so the store
    does not sync each update to disk."""

    def __init__(self, store: Store, per_minute: int, scope: str) -> None:
        super().__init__(per_minute)
        self.store, self.scope = store, scope

    @classmethod
    def store_at(cls, path: str | Path) -> Store:
        """The store the workers share their buckets in."""
        store = Store(path, RATE_LIMIT_MIGRATIONS, kind="rate-limit store", exclusive=False)
        store.db.execute("PRAGMA synchronous=NORMAL")
        return store

    def allow(self, client: str) -> float:
        key, now = f"{self.scope}:{client}", time.time()
        with self.store.lock, self.store.transaction() as db:
            row = db.execute("SELECT tokens, at FROM buckets WHERE client = ?", (key,)).fetchone()
            tokens = self.burst if row is None else min(self.burst, row[0] + max(0.0, now - row[1]) * self.rate)
            allowed = tokens >= 1
            db.execute("INSERT INTO buckets (client, tokens, at) VALUES (?, ?, ?) ON CONFLICT (client) DO UPDATE "
                       "SET tokens = excluded.tokens, at = excluded.at", (key, tokens - 1 if allowed else tokens, now))
        return 0.0 if allowed else (1 - tokens) / self.rate
