"""The console's sessions in their shared store, on both engines: what one process opens every other knows, a
logout or a lapse in one holds in all, only a digest of the token is kept, and a session stands for its client
only while the key it was opened with stays configured."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from crossverify.errors import ConfigError
from crossverify.service.auth import ApiKeys, Client, new_key
from crossverify.service.sessions import MIGRATIONS, TOUCH, Sessions
from crossverify.store import Store

from ..postgres import Locate

AMCM = Client("amcm", "regulator")
KEY, DIGEST = new_key()
KEYS = ApiKeys({"amcm": f"regulator {DIGEST}", "bank": f"bank {new_key()[1]}"})


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stores(location: Locate) -> Iterator[list[Store]]:
    """One sessions store as two processes open it."""
    opened = [Store(location("sessions.sqlite"), MIGRATIONS, kind="console sessions", exclusive=False)
              for _ in range(2)]
    yield opened
    for store in opened:
        store.close()


def test_a_session_lapses_when_idle_and_at_its_end(stores: list[Store], clock: Clock) -> None:
    sessions = Sessions(stores[0], KEYS, idle=60, lifetime=300, clock=clock)
    token = sessions.open(AMCM, KEY)
    for _ in range(5):
        clock.now += 50
        assert sessions.client(token) == AMCM  # each use starts its idle time again
    clock.now += 51
    assert sessions.client(token) is None  # eight hours (here: 300 s) at most, however busy
    idle = sessions.open(AMCM, KEY)
    clock.now += 61
    assert sessions.client(idle) is None
    clock.now -= 61
    assert sessions.client(idle) is None  # a lapsed session is forgotten, not only refused


def test_what_one_process_opens_and_closes_holds_in_the_other(stores: list[Store], clock: Clock) -> None:
    one, other = (Sessions(store, KEYS, idle=60, lifetime=300, clock=clock) for store in stores)
    token = one.open(AMCM, KEY)
    assert other.client(token) == AMCM
    clock.now += 40
    assert other.client(token) == AMCM  # used in the other process: its idle time starts again for both
    clock.now += 40
    assert one.client(token) == AMCM
    other.close(token)
    assert one.client(token) is None and other.client(token) is None
    lapsing = other.open(AMCM, KEY)
    clock.now += 61
    assert one.client(lapsing) is None


def test_a_use_is_written_at_most_every_touch_seconds(stores: list[Store], clock: Clock) -> None:
    sessions = Sessions(stores[0], KEYS, idle=600, clock=clock)
    token = sessions.open(AMCM, KEY)
    opened = clock.now

    def used() -> float:
        with stores[1].transaction() as db:
            return float(db.execute("SELECT used FROM sessions").fetchone()[0])

    clock.now += TOUCH - 1
    assert sessions.client(token) == AMCM and used() == opened  # a read, no write
    clock.now += 1
    assert sessions.client(token) == AMCM and used() == clock.now


def test_only_the_tokens_digest_is_kept(stores: list[Store], clock: Clock) -> None:
    token = Sessions(stores[0], KEYS, clock=clock).open(AMCM, KEY)
    with stores[1].transaction() as db:
        rows = db.execute("SELECT digest, client, opened, used FROM sessions").fetchall()
    assert [(bytes(r[0]), r[1]) for r in rows] == [(hashlib.sha256(token.encode()).digest(), "amcm")]
    assert token.encode() not in repr(rows).encode() and token not in repr(rows)


def test_a_session_ends_with_its_clients_key(stores: list[Store], clock: Clock) -> None:
    token = Sessions(stores[0], KEYS, clock=clock).open(AMCM, KEY)
    assert Sessions(stores[1], ApiKeys({}), clock=clock).client(token) is None  # the key left the configuration
    demoted = ApiKeys({"amcm": f"bank {DIGEST}"})
    assert Sessions(stores[1], demoted, clock=clock).client(token) is None  # the key now stands for a bank
    replaced = ApiKeys({"amcm": f"regulator {new_key()[1]}"})
    assert Sessions(stores[1], replaced, clock=clock).client(token) is None  # amcm has a new key: the old one leaked
    assert Sessions(stores[1], KEYS, clock=clock).client(token) == AMCM
    assert Sessions(stores[1], KEYS, clock=clock).client("made-up") is None


def test_a_key_configured_for_two_clients_is_refused() -> None:
    """The same key under two names (a line copied) would be one client's alone, with its role, whichever the
    table names last: a bank's key could open a regulator's console. The configuration is refused instead."""
    with pytest.raises(ConfigError, match="amcm and bank-copy have the same key"):
        ApiKeys({"amcm": f"regulator {DIGEST}", "bank-copy": f"bank {DIGEST}"})
