"""Replicas of a bank's service over one PostgreSQL database, in one process: rate limits hold across them, a
worker whose work another replica runs stands by, and /readyz says when the database is away; a regulator's
console session opened at one replica holds at every other, until it is closed at any."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from crossverify.bench._postgres import PostgresServer
from crossverify.config import (
    AuditSettings,
    Config,
    KeySettings,
    NetworkSettings,
    ServiceSettings,
    StorageSettings,
    VerifierSettings,
)
from crossverify.errors import StoreLocked
from crossverify.service import auth
from crossverify.service.app import create_app
from crossverify.service.auth import BUCKETS, SWEEP_AT, RateLimit, SharedRateLimit, new_key
from crossverify.service.console import COOKIE
from crossverify.service.workers import Periodic
from crossverify.session import Session
from crossverify.store import Store

from ..conftest import Consortium
from ..postgres import Locate, empty
from .live import until

KEY, DIGEST = new_key()


def replica(c: Consortium, tmp_path: Path, url: str, per_minute: int) -> TestClient:
    config = Config(
        network=NetworkSettings(registry=c.registry.address, circulation=c.circulation.address),
        keys=KeySettings(sender_address=c.verifier),
        verifier=VerifierSettings(outbox=tmp_path / "unused.sqlite", audience="ICBKCNBJGDG"),
        service=ServiceSettings(api_keys={"branch-app": f"bank {DIGEST}"}, requests_per_minute=per_minute),
        storage=StorageSettings(url=url))
    app = create_app(Session(config, w3=c.w3), start_workers=False)
    client = TestClient(app, headers={"Authorization": f"Bearer {KEY}"})
    client.app_state = app.state  # type: ignore[attr-defined]
    return client


@pytest.fixture
def replicas(consortium: Consortium, tmp_path: Path, postgres_url: str) -> Iterator[list[TestClient]]:
    made = [replica(consortium, tmp_path / str(i), postgres_url, per_minute=60) for i in range(3)]
    yield made
    for client in made:
        client.app_state.session.close()  # type: ignore[attr-defined]
    empty(postgres_url)


def test_a_client_rate_limit_holds_across_replicas(replicas: list[TestClient],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # 60 a minute: a burst of 6, then one a second. Each replica alone would let 6 through. The buckets' clock
    # stands still, so that however slowly the requests run, no token is refilled between them.
    now = time.time()
    monkeypatch.setattr(auth, "time", SimpleNamespace(time=lambda: now, monotonic=time.monotonic))
    codes = [replicas[i % 3].get("/v1/receipts/0x" + "00" * 32).status_code for i in range(18)]
    assert codes.count(404) == 6 and codes.count(429) == 12
    refused = replicas[0].get("/v1/receipts/0x" + "00" * 32)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def test_a_challenge_issued_by_one_replica_is_read_by_another(replicas: list[TestClient]) -> None:
    code = replicas[0].post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}).json()["code"]
    issued = replicas[1].get(f"/v1/challenges/hand-over/{code}").json()
    assert issued["state"] == "open"
    read = replicas[2].post("/resident/challenges", json={"code": code})
    assert read.status_code == 200 and read.json()["purpose"] == "ACCTOPEN"


def test_a_worker_whose_work_another_replica_runs_stands_by(replicas: list[TestClient]) -> None:
    first, second = (r.app_state.context for r in replicas[:2])  # type: ignore[attr-defined]
    assert first.outbox is not None and second.outbox is not None
    with first.outbox.store.exclusively("receipt sending"):
        worker = second.workers["outbox"]
        worker.run_once()
        assert worker.standby and worker.last_error is None
        assert replicas[1].get("/readyz").json()["checks"]["outbox"] == "standby: another replica runs it"
    worker.run_once()
    assert not worker.standby and worker.last_error is None


def test_standby_is_not_a_failure() -> None:
    def busy() -> None:
        raise StoreLocked("the receipt sending of the outbox runs in process host:1")

    worker = Periodic("outbox", busy, threading.Lock(), 1.0)
    worker.run_once()
    assert (worker.standby, worker.last_error) == (True, None) and worker.last_success is not None


def test_a_stream_of_wakes_joins_rounds_spaced_apart_and_a_lone_wake_is_not_kept_waiting() -> None:
    """Rounds start at least ``spacing`` apart however often the worker is woken (a receipt queued with every
    verification batch); a wake after a quiet spell starts a round within ``spacing``, not after ``every``."""
    starts: list[float] = []
    worker = Periodic("outbox", lambda: starts.append(time.monotonic()), threading.Lock(), 60.0, spacing=0.2)
    worker.start()
    try:
        until(lambda: len(starts) == 1, "the first round")
        woken = time.monotonic()
        while time.monotonic() - woken < 1.0:  # a wake every 5 ms for a second
            worker.wake()
            time.sleep(0.005)
        time.sleep(0.5)  # the round the last wakes called for, then quiet
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert min(gaps) >= 0.2 and 3 <= len(starts) <= 7, gaps  # not one per wake (200)
        count, lone = len(starts), time.monotonic()
        worker.wake()
        until(lambda: len(starts) > count, "the lone wake's round")
        assert starts[-1] - lone < 0.2
    finally:
        worker.stop()


def test_a_stopping_service_flushes_its_outbox_once_more_within_a_bound(consortium: Consortium,
                                                                         tmp_path: Path) -> None:
    """A graceful shutdown (SIGTERM) left the receipts queued by the last requests for the next start, however long
    that was; the outbox worker now runs one last round as the app shuts down, and a round that hangs (a node that
    does not answer) holds the shutdown up for :data:`LAST_FLUSH` seconds at most."""
    app = create_app(Session(Config(
        network=NetworkSettings(registry=consortium.registry.address, circulation=consortium.circulation.address),
        keys=KeySettings(sender_address=consortium.verifier),
        verifier=VerifierSettings(outbox=tmp_path / "outbox.sqlite", audience="ICBKCNBJGDG"),
        service=ServiceSettings(api_keys={"branch-app": f"bank {DIGEST}"})), w3=consortium.w3))
    worker, rounds = app.state.workers["outbox"], []
    flush = worker.work
    worker.work = lambda: (rounds.append(time.monotonic()), flush())
    with TestClient(app):
        until(lambda: rounds, "the outbox's first round")
        stopping = time.monotonic()
    assert rounds[-1] >= stopping and not worker._thread.is_alive()
    app.state.session.close()

    hung = threading.Event()
    stuck = Periodic("outbox", hung.wait, threading.Lock(), 60.0)
    stuck.start()
    started = time.monotonic()
    assert not stuck.finish(within=0.3) and time.monotonic() - started < 1.0
    hung.set()
    assert Periodic("outbox", hung.wait, threading.Lock(), 60.0).finish(within=0.3)  # never started: no round


def test_requests_fail_as_503_while_the_database_is_away_and_resume(replicas: list[TestClient],
                                                                    postgres: PostgresServer) -> None:
    bank = replicas[0]
    postgres.stop("immediate")
    try:
        refused = bank.post("/v1/challenges", params={"purpose": "ACCTOPEN"})
        assert refused.status_code == 503 and refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["Retry-After"]) >= 1
        ready = bank.get("/readyz")
        checks = ready.json()["checks"]
        assert ready.status_code == 503 and "database server cannot be reached" in checks["store receipt outbox"]
    finally:
        postgres.start()
    assert bank.post("/v1/challenges", params={"purpose": "ACCTOPEN"}).status_code == 200
    assert all(not k.startswith("store ") for k in bank.get("/readyz").json()["checks"])


def test_a_shared_rate_limit_takes_one_token_per_request_whoever_asks(location: Locate) -> None:
    stores = [Store(location("limits.sqlite"), BUCKETS, kind="rate limits", exclusive=False, durable=False)
              for _ in range(2)]
    replicas = [SharedRateLimit(store, 6, "client") for store in stores]  # a burst of 1, then one each 10 s
    waits = [replicas[i % 2].allow("branch-app") for i in range(4)]
    assert waits[0] == 0.0 and all(5 < wait <= 10 for wait in waits[1:])
    assert SharedRateLimit(stores[1], 6, "address").allow("branch-app") == 0.0  # another limit's bucket
    assert SharedRateLimit(stores[1], 6, "client").allow("another-app") == 0.0
    for store in stores:
        store.close()


def test_replicas_lease_tokens_and_spend_no_more_than_the_shared_bucket_gives(location: Locate,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """With a burst of 600 each replica takes 37 tokens a round trip; together they let exactly 600 through on
    a clock that stands still, and a lease not spent within a second is dropped, not spent late."""
    now, ticks = time.time(), [time.monotonic()]
    monkeypatch.setattr(auth, "time", SimpleNamespace(time=lambda: now, monotonic=lambda: ticks[0]))
    stores = [Store(location("limits.sqlite"), BUCKETS, kind="rate limits", exclusive=False, durable=False)
              for _ in range(2)]
    replicas = [SharedRateLimit(store, 6000, "client") for store in stores]
    assert replicas[0].lease == 37
    waits = [replicas[i % 2].allow("branch-app") for i in range(700)]
    assert waits.count(0.0) == 600 and all(w > 0 for w in waits[600:])
    fresh = [SharedRateLimit(store, 6000, "address") for store in stores]
    assert fresh[0].allow("branch-app") == 0.0  # takes a lease of 37: 36 held
    ticks[0] += 1.5
    assert not fresh[0].spend_leased("branch-app")  # held too long: dropped
    assert [fresh[1].allow("branch-app") for _ in range(563)].count(0.0) == 563  # the bucket still had them
    assert fresh[1].allow("branch-app") > 0
    for store in stores:
        store.close()


def test_a_limit_keeps_the_clients_of_the_last_seconds_not_every_address_that_ever_called(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Addresses calling once each (a botnet, or a million residents over a year) do not grow the limit without
    end: buckets full again are forgotten in sweeps; a client still short of tokens is kept, and still refused."""
    ticks = [time.monotonic()]
    monkeypatch.setattr(auth, "time", SimpleNamespace(time=time.time, monotonic=lambda: ticks[0]))
    limit = RateLimit(600)  # 10 a second, bursts of 60
    assert [limit.allow("greedy") for _ in range(61)].count(0.0) == 60
    for i in range(5 * SWEEP_AT):
        ticks[0] += 0.001  # 200 s in all: each address's bucket is full again 0.1 s after its request
        assert limit.allow(f"address:{i}") == 0.0
        limit.allow("greedy")  # asks every millisecond: never full, never forgotten
    assert len(limit._buckets) < SWEEP_AT and limit.allow("greedy") > 0


@pytest.mark.parametrize("per_minute", [60, 600])  # leases of one token (the resident page's default), of three
def test_a_shared_limit_forgets_held_tokens_past_their_second_and_deletes_its_full_buckets(
        location: Locate, monkeypatch: pytest.MonkeyPatch, per_minute: int) -> None:
    """The same for the replicas' shared buckets: held tokens past their second are forgotten in sweeps, and once a
    minute at most a replica deletes, in a thread, this limit's buckets that no request took from for as long as a
    whole burst takes to refill, and no other bucket."""
    clock = [time.time(), time.monotonic()]
    monkeypatch.setattr(auth, "time", SimpleNamespace(time=lambda: clock[0], monotonic=lambda: clock[1]))
    monkeypatch.setattr(auth, "SWEEP_AT", 64)
    store = Store(location("limits.sqlite"), BUCKETS, kind="rate limits", exclusive=False, durable=False)
    limit, other = SharedRateLimit(store, per_minute, "address"), SharedRateLimit(store, per_minute, "client")
    assert other.allow("branch-app") == 0.0

    def names() -> set[str]:
        with store.lock:
            return {name for (name,) in store.db.execute("SELECT name FROM buckets")}

    def swept() -> bool:  # each limit's first request starts a delete: it must read the clock before it moves
        return not any(thread.name == "rate limit sweep" for thread in threading.enumerate())

    for i in range(100):
        if i == 1:
            until(swept, "the first deletes")
        clock[0] += 0.5
        clock[1] += 0.5
        assert limit.allow(f"address:{i}") == 0.0
    assert len(limit._leased) < 64 and len(names()) == 101  # memory swept; no delete due yet since the first
    clock[0] += 11  # a minute since the first delete (at the first request); the first buckets long full again
    clock[1] += 11
    assert limit.allow("recent") == 0.0
    until(lambda: "address:address:0" not in names(), "the delete")
    kept = names()
    assert {"client:branch-app", "address:recent"} <= kept and len(kept) < 20, kept
    store.close()


def test_a_shared_limit_deletes_its_full_buckets_whatever_the_database_s_collation(
        postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database that sorts by language (ICU, en-US) orders ``:`` after ``;``: the delete matches the limit's
    buckets by prefix, not by a range of names."""
    import psycopg

    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "icu_limits" WITH (FORCE)')
        conn.execute("CREATE DATABASE icu_limits TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' "
                     "LOCALE 'C'")
    clock = [time.time(), time.monotonic()]
    monkeypatch.setattr(auth, "time", SimpleNamespace(time=lambda: clock[0], monotonic=lambda: clock[1]))
    store = Store(postgres.url("icu_limits"), BUCKETS, kind="rate limits", exclusive=False, durable=False)
    limit = SharedRateLimit(store, 60, "address")
    assert limit.allow("198.51.100.7") == 0.0
    clock[0] += 61
    clock[1] += 61
    assert limit.allow("203.0.113.9") == 0.0

    def names() -> set[str]:
        with store.lock:
            return {name for (name,) in store.db.execute("SELECT name FROM buckets")}

    until(lambda: names() == {"address:203.0.113.9"}, "the delete")
    store.close()


def test_a_replica_takes_its_next_lease_ahead_and_still_spends_no_more_than_the_bucket_gives(
        location: Locate, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast lane's way (it must not wait for the round trip): with a quarter of a lease left (9 of 37), one
    caller claims the next lease and takes it (added to what is held, good for a second from then); no other
    claims it meanwhile. Spent to the end, exactly the burst gets through on a clock that stands still. A limit
    whose leases are under 4 tokens is never taken ahead."""
    now, ticks = time.time(), [time.monotonic()]
    monkeypatch.setattr(auth, "time", SimpleNamespace(time=lambda: now, monotonic=lambda: ticks[0]))
    store = Store(location("limits.sqlite"), BUCKETS, kind="rate limits", exclusive=False, durable=False)
    limit = SharedRateLimit(store, 6000, "client")
    assert limit.allow("branch-app") == 0.0  # 36 held
    assert [limit.spend_leased("branch-app") for _ in range(26)] == [True] * 26 and not limit.claim_refill("branch-app")
    assert limit.spend_leased("branch-app") and limit.claim_refill("branch-app")  # 9 held
    assert not limit.claim_refill("branch-app")  # claimed already
    ticks[0] += 0.9
    limit.refill("branch-app")
    assert not limit.claim_refill("branch-app")  # 46 held
    ticks[0] += 0.9  # the first lease's 9 were good until 0.1 s ago: the refill made them good for a second
    spent = 28 + sum(limit.spend_leased("branch-app") for _ in range(50))
    assert spent == 28 + 46
    spent += [limit.allow("branch-app") for _ in range(600)].count(0.0)
    assert spent == 600
    small = SharedRateLimit(store, 300, "address")  # a burst of 30: leases of 1
    assert small.allow("branch-app") == 0.0 and not small.claim_refill("branch-app")
    store.close()


def test_a_console_session_holds_at_every_replica_until_it_is_closed_at_one(
        consortium: Consortium, tmp_path: Path, postgres_url: str) -> None:
    key, digest = new_key()
    config = Config(
        network=NetworkSettings(registry=consortium.registry.address, circulation=consortium.circulation.address),
        audit=AuditSettings(index=tmp_path / "unused.sqlite"),
        service=ServiceSettings(api_keys={"amcm": f"regulator {digest}"}),
        storage=StorageSettings(url=postgres_url))
    apps = [create_app(Session(config, w3=consortium.w3), start_workers=False) for _ in range(3)]
    replicas = [TestClient(app) for app in apps]
    try:
        apps[0].state.workers["audit"].run_once()
        login = replicas[0].post("/regulator/session", json={"key": key})
        assert login.status_code == 200
        token = replicas[0].cookies[COOKIE]
        for replica in replicas[1:]:
            replica.cookies.set(COOKIE, token)
            assert replica.get("/regulator/session").json()["name"] == "amcm"
            assert replica.get("/v1/regulator/overview").status_code == 200
        assert replicas[1].delete("/regulator/session").status_code == 204
        for replica in (replicas[0], replicas[2]):
            assert replica.get("/v1/regulator/overview").status_code == 401
            assert replica.get("/regulator/session").json()["name"] is None
        assert not (tmp_path / "unused-sessions.sqlite").exists()  # the sessions live in the database
    finally:
        for app in apps:
            app.state.session.close()
        empty(postgres_url)
