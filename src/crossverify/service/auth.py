"""API keys for institutions (the configuration holds each client's role and the SHA-256 of its key), and the
rate limits on them: in the process, or shared by the replicas of a service whose stores are in PostgreSQL."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass

from ..errors import ConfigError
from ..store import Store

log = logging.getLogger(__name__)

ROLES = ("bank", "issuer", "regulator")


@dataclass(frozen=True, slots=True)
class Client:
    """An authenticated institution."""

    name: str
    role: str


def key_digest(key: str) -> str:
    """The SHA-256 (hex) under which a key is configured. Keys are 256 random bits, so a plain hash suffices."""
    return hashlib.sha256(key.encode()).hexdigest()


def presented_key(authorization: str, api_key: str) -> str:
    """The API key a request presents: the token of its ``Authorization: Bearer`` (the scheme in any case, RFC 9110
    11.1), else (no Bearer token) its ``X-API-Key`` header's value, ``api_key``."""
    scheme, _, token = authorization.partition(" ")
    return (token.strip() if scheme.lower() == "bearer" else "") or api_key


def new_key() -> tuple[str, str]:
    """A fresh API key and its digest for the configuration."""
    key = "cvk_" + secrets.token_urlsafe(32)
    return key, key_digest(key)


class ApiKeys:
    """Who holds which key: parsed from ``[service.api_keys]`` (``name = "ROLE SHA256"``). A key is one client's:
    the same digest under two names is refused (one of them would silently hold the other's key and role)."""

    def __init__(self, table: dict[str, str]) -> None:
        self._by_digest: dict[str, Client] = {}
        for name, entry in table.items():
            role, _, digest = entry.partition(" ")
            if role not in ROLES or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ConfigError(f"[service.api_keys] {name} must be 'ROLE SHA256' with ROLE one of "
                                  f"{', '.join(ROLES)} and 64 lowercase hex digits")
            if (holder := self._by_digest.get(digest)) is not None:
                raise ConfigError(f"[service.api_keys] {holder.name} and {name} have the same key: give each "
                                  "client a key of its own ('serve new-key')")
            self._by_digest[digest] = Client(name, role)

    @property
    def roles(self) -> set[str]:
        return {client.role for client in self._by_digest.values()}

    def identify(self, key: str) -> Client | None:
        return self.holder(key_digest(key))

    def holder(self, digest: str) -> Client | None:
        """The client whose key has the SHA-256 ``digest`` (``None`` once that key left the configuration)."""
        return self._by_digest.get(digest)


#: Clients a limit keeps before it sweeps (forgets those it need not remember); the next sweep comes when it keeps
#: twice as many as the last one left.
SWEEP_AT = 4096


class RateLimit:
    """A token bucket per client: ``per_minute`` requests, refilled continuously, bursts up to a tenth of it. A
    bucket full again is forgotten (a client's next request finds one as good): the limit holds the clients of
    the last few seconds, not every address that ever called."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1.0, per_minute / 10.0)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._sweep_at = SWEEP_AT

    def allow(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            granted = tokens >= 1
            self._buckets[client] = (tokens - 1 if granted else tokens, now)
            if len(self._buckets) >= self._sweep_at:
                self._buckets = {c: (t, at) for c, (t, at) in self._buckets.items()
                                 if t + (now - at) * self.rate < self.burst}
                self._sweep_at = max(SWEEP_AT, 2 * len(self._buckets))
        return 0.0 if granted else (1 - tokens) / self.rate


#: The shared buckets (one row per client or address, per limit); ``taken``: how many tokens the last request
#: for the bucket got.
BUCKETS = ["CREATE TABLE buckets (name TEXT PRIMARY KEY, tokens REAL NOT NULL, at REAL NOT NULL)",
           "ALTER TABLE buckets ADD COLUMN taken INTEGER NOT NULL DEFAULT 0"]
#: ``tokens`` refilled since ``at`` (never back in time), at most ``burst``; parameters: rate, burst.
_REFILLED = ("(CASE WHEN buckets.tokens + (CASE WHEN excluded.at > buckets.at THEN excluded.at - buckets.at ELSE 0 END)"
             " * ? > ? THEN ? ELSE buckets.tokens + (CASE WHEN excluded.at > buckets.at THEN excluded.at - buckets.at "
             "ELSE 0 END) * ? END)")


def take(lease: int) -> str:
    """The statement that takes ``lease`` tokens if there are as many, else one if there is one, in one
    statement (one round trip, its own transaction); parameters: name, tokens of a new bucket, the time, then
    rate, burst, burst, rate for each of the five :data:`_REFILLED` in it."""
    granted = f"CASE WHEN {_REFILLED} >= {lease:d} THEN {lease:d} WHEN {_REFILLED} >= 1 THEN 1 ELSE 0 END"
    return (f"INSERT INTO buckets (name, tokens, at, taken) VALUES (?, ?, ?, {lease:d}) ON CONFLICT (name) DO UPDATE "
            f"SET tokens = {_REFILLED} - {granted}, taken = {granted}, "
            "at = CASE WHEN excluded.at > buckets.at THEN excluded.at ELSE buckets.at END RETURNING tokens, taken")


class SharedRateLimit(RateLimit):
    """:class:`RateLimit` with its buckets in ``store`` (kind ``rate limits``), so that it holds across every
    replica sharing it. A replica takes its tokens from the shared bucket in one atomic statement, a lease of
    several at a time while the bucket holds that many (a sixteenth of the burst, at most 64; one at a time for
    a burst under 32), and spends them within a second of its last lease or not at all; a caller that must not
    wait for the round trip (the fast lane) takes the next lease ahead, in a thread, when a quarter of one is
    left (:meth:`claim_refill`, :meth:`refill`). No token is spent that the bucket did not give, and a burst can
    be early by at most about two leases per replica (a lease taken ahead while a request took one itself).
    ``scope`` keeps this limit's buckets apart from another's in the same store. Time is the wall clock (the
    replicas' clocks agree to well within a token's interval)."""

    def __init__(self, store: Store, per_minute: int, scope: str) -> None:
        super().__init__(per_minute)
        self.store, self.scope = store, scope
        self.lease = max(1, min(64, int(self.burst // 16)))
        self._take = take(self.lease)
        #: Tokens this replica holds per client, and until when (monotonic).
        self._leased: dict[str, tuple[int, float]] = {}
        #: Clients whose next lease is being taken ahead (:meth:`refill`).
        self._refilling: set[str] = set()
        #: When (monotonic) this replica next deletes the limit's full buckets (:meth:`_forget_full`).
        self._forget_due = 0.0

    def spend_leased(self, client: str) -> bool:
        """Spend a token this replica holds for ``client`` already, if it has one (no round trip)."""
        with self._lock:
            left, until = self._leased.get(client, (0, 0.0))
            if left > 0 and time.monotonic() < until:
                self._leased[client] = (left - 1, until)
                return True
            return False

    def claim_refill(self, client: str) -> bool:
        """Whether the caller is to take ``client``'s next lease ahead now (:meth:`refill`, in a thread): this
        replica holds a quarter of a lease or less (leases of 4 or more), and no other caller is taking it."""
        with self._lock:
            if self.lease < 4 or self._leased.get(client, (0, 0.0))[0] > self.lease // 4 \
                    or client in self._refilling:
                return False
            self._refilling.add(client)
            return True

    def refill(self, client: str) -> None:
        """Take ``client``'s next lease (as many tokens as the bucket gives of one) and add it to the tokens held,
        all of them good for a second from now; a store that cannot is logged (the next request asks itself)."""
        try:
            taken = self._taken(client)[1]
        except Exception as exc:  # in a thread nobody awaits: the next request without a token asks itself
            log.warning("a rate limit's lease could not be taken ahead",
                        extra={"error": f"{type(exc).__name__}: {exc}"})
            taken = 0
        finally:
            self.unclaim(client)
        self._hold(client, taken)

    def unclaim(self, client: str) -> None:
        """The next lease of ``client`` is no longer being taken ahead (:meth:`claim_refill`)."""
        with self._lock:
            self._refilling.discard(client)

    def _hold(self, client: str, taken: int) -> None:
        """Add ``taken`` tokens to those held for ``client``, all of them good for a second from now (held tokens
        past their second are forgotten in sweeps)."""
        if not taken:
            return
        with self._lock:
            left, until = self._leased.get(client, (0, 0.0))
            now = time.monotonic()
            self._leased[client] = ((left if now < until else 0) + taken, now + _LEASE_SECONDS)
            if len(self._leased) >= self._sweep_at:
                self._leased = {c: held for c, held in self._leased.items() if now < held[1]}
                self._sweep_at = max(SWEEP_AT, 2 * len(self._leased))

    def _forget_full(self) -> None:
        """Delete this limit's shared buckets that no request took from for as long as a whole burst takes to
        refill: full again, as a new one starts (the table holds recent clients, not every one that ever called).
        The scope is matched by prefix, not by a range of names: a database's collation may order ``:`` and
        ``;`` otherwise."""
        try:
            with self.store.transaction() as db:
                db.execute("DELETE FROM buckets WHERE substr(name, 1, ?) = ? AND at < ?",
                           (len(self.scope) + 1, f"{self.scope}:", time.time() - self.burst / self.rate))
        except Exception as exc:  # in a thread nobody awaits: the next one tries again
            log.warning("a rate limit's full buckets could not be deleted",
                        extra={"error": f"{type(exc).__name__}: {exc}"})

    def allow(self, client: str) -> float:
        if self.spend_leased(client):
            return 0.0
        tokens, taken = self._taken(client)
        if not taken:
            return float((1 - tokens) / self.rate)
        self._hold(client, taken - 1)  # added to a lease taken ahead meanwhile, if one was
        return 0.0

    def _taken(self, client: str) -> tuple[float, int]:
        """A lease taken from ``client``'s shared bucket: the tokens left in it, and how many were taken. Once a
        minute at most, this replica then deletes the limit's full buckets, in a thread."""
        refill = (self.rate, self.burst, self.burst, self.rate) * 5
        with self.store.lock:
            tokens, taken = self.store.db.execute(self._take, (f"{self.scope}:{client}", self.burst - self.lease,
                                                               time.time(), *refill)).fetchone()
        with self._lock:
            now = time.monotonic()
            forget = now >= self._forget_due
            if forget:
                self._forget_due = now + _FORGET_SECONDS
        if forget:
            threading.Thread(target=self._forget_full, name="rate limit sweep", daemon=True).start()
        return tokens, taken


#: How long a replica may hold tokens it took from a shared bucket and has not spent.
_LEASE_SECONDS = 1.0
#: How often at most a replica deletes a shared limit's full buckets.
_FORGET_SECONDS = 60.0
