"""The fast lane answers a bank's verification inside the HTTP protocol exactly as the app does: over real sockets,
the same requests to a server with the lane and to one without answer the same bytes (but request ids and dates)
and leave the same receipts, metrics and log lines, for the plain case the lane takes and for every request it
leaves to the app: bad or missing keys, other roles, rate limits, malformed queries, oversized, slow, split,
pipelined and abandoned bodies, other methods, other media types, idempotency keys."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from prometheus_client import generate_latest

from crossverify import Certificate, load_challenge, present, store
from crossverify.config import AuditSettings, Config, KeySettings, NetworkSettings, ServiceSettings, VerifierSettings
from crossverify.errors import NodeUnavailable, StoreLocked, StoreUnavailable
from crossverify.format.batch import salt_document, seal_batch
from crossverify.format.bundle import Bundle
from crossverify.format.hashing import HashAlgorithm
from crossverify.format.holder import HolderPrivateKey, holder_claim
from crossverify.format.suite import Suite
from crossverify.keys.holder import generate_holder_key
from crossverify.service import auth
from crossverify.service.app import create_app
from crossverify.service.auth import new_key
from crossverify.service.dependencies import RECEIPT_THREADS, off_the_loop
from crossverify.session import Session
from crossverify.verifier.client import Check, Outcome, VerificationReport

from ..conftest import Consortium, deposit_certificates
from .live import logged, serving, until

BANK, REGULATOR = new_key(), new_key()
BODY_TIMEOUT, LIMIT = 1.0, 64 * 1024
SETTINGS = ServiceSettings(api_keys={"clerk": f"bank {BANK[1]}", "amcm": f"regulator {REGULATOR[1]}"},
                           requests_per_minute=600, body_timeout=BODY_TIMEOUT, max_body_bytes=LIMIT)  # bursts of 60


def app(c: Consortium, folder: Path, lane: bool, settings: ServiceSettings = SETTINGS, on_loop: bool = False
        ) -> FastAPI:
    """The bank's service on ``c`` (the lane or the app answering), checking its batches on its event loop if
    ``on_loop`` (as on a node), else on its worker (as on the embedded chain)."""
    config = Config(
        network=NetworkSettings(registry=c.registry.address, circulation=c.circulation.address),
        keys=KeySettings(dev_mode=True, sender_address=c.verifier),
        verifier=VerifierSettings(outbox=folder / "outbox.sqlite", audience="ICBKCNBJGDG",
                                  challenges=folder / "challenges.sqlite"),
        audit=AuditSettings(index=folder / "audit.sqlite"),
        service=settings,
    )
    built = create_app(Session(config), start_workers=False)
    built.state.context.queue.on_loop = on_loop
    built.state.taken = []
    if lane:  # which requests the lane took
        admit = built.state.lane.admit

        def watched(query: bytes, headers: list[tuple[bytes, bytes]]) -> Any:
            ticket = admit(query, headers)
            built.state.taken.append(ticket is not None)
            return ticket

        built.state.lane.admit = watched
    else:  # the app answers every request
        built.state.lane = None
    return built


@pytest.fixture(params=[False, True], ids=["batches on the worker", "batches on the loop"])
def servers(consortium: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
            ) -> Iterator[tuple[tuple[FastAPI, tuple[str, int]], tuple[FastAPI, tuple[str, int]]]]:
    monkeypatch.setattr(auth.time, "monotonic", lambda: 1000.0)  # no tokens come back while the test runs
    with ExitStack() as stack:
        pair = []
        for name, lane in (("lane", True), ("app", False)):
            built = app(consortium, tmp_path / name, lane, on_loop=request.param)
            stack.callback(built.state.session.close)
            pair.append((built, stack.enter_context(serving(built, SETTINGS))))
        yield pair[0], pair[1]


def request(query: str = "", body: bytes = b"{}", key: str | None = BANK[0], method: str = "POST",
            path: str = "/v1/verifications", **headers: str) -> bytes:
    lines = [f"{method} {path}{query} HTTP/1.1", "Host: bank.example"]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    given = {"Content-Type": "application/json", "Content-Length": str(len(body)),
             **{k.replace("_", "-"): v for k, v in headers.items()}}
    lines += [f"{k}: {v}" for k, v in given.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read(sock: socket.socket, answers: int, normalised: bool = True) -> list[bytes]:
    """``answers`` whole answers (head and body, by Content-Length), each normalised unless told otherwise: no
    date, request id or receipt commitment (each outbox salts its own receipts)."""
    data, out = b"", []
    while len(out) < answers:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {out} {data!r}"
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
        while len(rest) < length:
            rest += sock.recv(65536)
        answer = head + b"\r\n\r\n" + rest[:length]
        out.append(normal(answer) if normalised else answer)
        data = rest[length:]
    assert not data
    return out


def normal(answer: bytes) -> bytes:
    answer = re.sub(rb"date: [^\r]+", b"date: -", answer)
    answer = re.sub(rb"x-request-id: [0-9a-f]{32}\r", b"x-request-id: -\r", answer)
    answer = re.sub(rb'"requestId":"[0-9a-f]{32}"', b'"requestId":"-"', answer)
    return re.sub(rb'"commitment":"0x[0-9a-f]{64}"', b'"commitment":"-"', answer)


def closed(sock: socket.socket) -> bool:
    sock.settimeout(2)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def alike(servers: Any, scenario: Callable[[tuple[str, int]], Any], caplog: pytest.LogCaptureFixture,
          requests: int) -> Any:
    """``scenario`` against each server in turn, once it has logged its ``requests`` requests: its results, log
    lines (but time and request id), metrics and receipts must be the same. Returns the lane's results."""
    seen = []
    for built, address in servers:
        caplog.clear()
        result = scenario(address)
        logged(caplog, requests)
        logs = [{k: v for k, v in vars(r).items() if k in ("msg", "name", "levelno", "method", "route", "status",
                                                           "client", "path")}
                for r in caplog.records if r.name.startswith("crossverify")]
        metrics = [line for line in generate_latest(built.state.context.metrics).decode().splitlines()
                   if line.startswith(("crossverify_requests_total{", "crossverify_verifications_total{",
                                       "crossverify_request_seconds_count"))]
        receipts = built.state.context.outbox.store.db.execute(
            "SELECT purpose, reference, state FROM sealed_receipts ORDER BY purpose, reference").fetchall()
        seen.append((result, logs, metrics, receipts))
        assert len([r for r in logs if r["msg"] == "request"]) == requests
    assert seen[0] == seen[1]
    return seen[0][0]


@pytest.fixture
def genuine(consortium: Consortium) -> bytes:
    [(_, cert)] = deposit_certificates(consortium, 1)
    batch = seal_batch([salt_document(cert, HashAlgorithm.KECCAK256)])
    consortium.anchor(batch.root, leaf_count=1)
    return batch.bundle(0, consortium.w3.eth.chain_id, consortium.registry.address).dumps().encode()


def test_one_connection_of_every_kind_of_request(servers: Any, genuine: bytes,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    requests = [
        request(body=genuine),  # the plain case
        request("?purpose=ACCTOPEN&case=C-1", genuine),  # with a receipt
        request("?purpose=ACCTOPEN&case=C-1", genuine),  # the same receipt again: not doubled
        request("?case=C-2&purpose=LOANS.1", genuine, Content_Type="application/json; charset=utf-8"),
        request(body=b'{"version": "1.1"}'),  # not a bundle: a verdict that says why
        request(body=b"{"),  # not JSON
        request("?purpose=NO%20SUCH", genuine),  # a purpose that is not a code: 422
        request("?purpose=ACCTOPEN%0A", genuine),  # a code and a newline
        request("?purpose=ACCTOPEN&purpose=LOANS", genuine),  # a parameter twice
        request("?purpose=ACCTOPEN&case=C%00-5", genuine),  # a case no database keys: 422
        request(f"?purpose=ACCTOPEN&case={'C' * 129}", genuine),
        request("?other=1", genuine),  # a parameter the route ignores
        request("?inPerson=true&case=C-3&purpose=ACCTOPEN", genuine),
        request(body=genuine, key=None),  # no key
        request(body=genuine, key="cvk_not-a-key"),
        request(body=genuine, key=REGULATOR[0]),  # another role's key: 403
        request(body=genuine, key=None, X_Api_Key=BANK[0]),
        request(body=genuine, key=None, Authorization=f"Basic {BANK[0]}"),
        request(body=genuine, key=None, Authorization=f"bearer {BANK[0]}"),  # the scheme in any case
        request(body=genuine, Content_Type="text/plain"),
        request(body=genuine, Content_Type=None),
        request(body=genuine, X_Request_Id="given-by-the-client"),
        request("?purpose=ACCTOPEN&case=C-4", genuine, Idempotency_Key="k-1-0123456789abcdef"),
        request("?purpose=ACCTOPEN&case=C-4", genuine, Idempotency_Key="k-1-0123456789abcdef"),  # the kept answer
        request(body=b""),  # no body
        request(method="GET", body=b""),
        request(method="HEAD", body=b""),
        request(path="/v1/verifications/", body=genuine),
        request(path="/v1/verification%73", body=genuine),
    ]

    def scenario(address: tuple[str, int]) -> list[bytes]:
        answers = []
        with socket.create_connection(address, timeout=10) as sock:
            for one in requests:
                sock.sendall(one)
                if one.startswith(b"HEAD"):  # a head alone
                    data = sock.recv(65536)
                    answers.append(normal(data))
                    assert data.endswith(b"\r\n\r\n")
                else:
                    answers += read(sock, 1)
        return answers

    answers = alike(servers, scenario, caplog, requests=len(requests))
    statuses = [int(a[9:12]) for a in answers]
    assert statuses == [200, 200, 200, 200, 200, 200, 422, 422, 200, 422, 422, 200, 200, 401, 401, 403, 200, 401,
                        200, 200, 200, 200, 200, 200, 200, 405, 405, 307, 200]
    assert b'"state":"queued"' in answers[1] and b"x-request-id: given-by-the-client\r" in answers[21]
    (lane, _), _ = servers
    assert lane.state.taken[:6] == [True] * 6 and sum(lane.state.taken) == 9  # and the other ways of a key, the id


def test_pipelined_requests_are_answered_in_order(servers: Any, genuine: bytes,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Requests sent at once, lane's and app's mixed, answered in the order they came, on a connection the
    lane's last answer closes when the client asked it to."""
    caplog.set_level(logging.INFO)
    together = b"".join([request(body=genuine), request("?other=1", genuine), request(body=b"[]"),
                         request(body=genuine, key=None), request("?purpose=ACCTOPEN&case=P", genuine),
                         request(body=genuine, Connection="close")])

    def scenario(address: tuple[str, int]) -> tuple[list[bytes], bool]:
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(together)
            return read(sock, 6), closed(sock)

    answers, ended = alike(servers, scenario, caplog, requests=6)
    assert [int(a[9:12]) for a in answers] == [200, 200, 200, 401, 200, 200] and ended
    assert b"connection: close\r\n" in answers[-1]


def test_bodies_split_slow_oversized_or_abandoned(servers: Any, genuine: bytes,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """A body in parts is read whole; one that does not arrive within the bound gets 408 and the connection is
    closed; one declared over the limit gets 413 before it is read; a client that goes away mid-body is logged
    as such (499) and one that goes away after sending it still gets its receipt."""
    caplog.set_level(logging.INFO)

    def scenario(address: tuple[str, int]) -> list[Any]:
        out: list[Any] = []
        with socket.create_connection(address, timeout=10) as sock:
            whole = request("?purpose=ACCTOPEN&case=S", genuine)
            sock.sendall(whole[:len(whole) - 100])
            time.sleep(0.2)
            sock.sendall(whole[len(whole) - 100:])
            out += read(sock, 1)
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(request(body=genuine)[:-10])
            out += [read(sock, 1), closed(sock)]
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(request(body=genuine)[:-len(genuine)].replace(
                f"Content-Length: {len(genuine)}".encode(), f"Content-Length: {LIMIT + 1}".encode()))
            out += [read(sock, 1), closed(sock)]
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(request(body=genuine)[:-10])
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(request("?purpose=ACCTOPEN&case=gone", genuine))
        return out

    split, late, late_closed, large, large_closed = alike(servers, scenario, caplog, requests=5)
    assert split.startswith(b"HTTP/1.1 200") and b'"state":"queued"' in split
    assert late[0].startswith(b"HTTP/1.1 408") and late_closed
    assert large[0].startswith(b"HTTP/1.1 413") and large_closed
    assert [r.status for r in caplog.records if r.getMessage() == "request"] == [  # type: ignore[attr-defined]
        200, 408, 413, 499, 200]


def test_rate_limits_hold_through_the_lane(servers: Any, genuine: bytes, caplog: pytest.LogCaptureFixture) -> None:
    """The lane spends the clerk's tokens as the app does: the burst of 60 goes, then 429 with Retry-After, from
    the lane's server as from the app's, for the lane's requests as for the app's."""
    caplog.set_level(logging.INFO)

    def scenario(address: tuple[str, int]) -> list[bytes]:
        with socket.create_connection(address, timeout=10) as sock:
            answers = []
            for i in range(64):
                sock.sendall(request("?other=1" if i % 7 == 0 else "", genuine))
                answers += read(sock, 1)
            return answers

    answers = alike(servers, scenario, caplog, requests=64)
    assert [int(a[9:12]) for a in answers] == [200] * 60 + [429] * 4
    assert b"retry-after: " in answers[-1]


def test_the_lane_takes_a_shared_limit_s_next_lease_ahead(consortium: Consortium, tmp_path: Path,
                                                           genuine: bytes) -> None:
    """With the rate limit shared by replicas, the lane spends the tokens its process leased and takes the next
    lease in a thread before they run out: of 300 requests the app answers the first (no lease yet) and at most
    two more, were the machine slow (each would when the lease ran out: at least 5 in leases of 64)."""
    settings = replace(SETTINGS, requests_per_minute=60_000, workers=2, rate_limits=tmp_path / "limits.sqlite")
    built = app(consortium, tmp_path, True, settings)
    try:
        with serving(built, settings) as address, socket.create_connection(address, timeout=10) as sock:
            for _ in range(300):
                sock.sendall(request(body=genuine))
                assert read(sock, 1)[0].startswith(b"HTTP/1.1 200")
        assert built.state.taken[0] is False and built.state.taken.count(False) <= 3
    finally:
        built.state.session.close()


def node_away_once(built: FastAPI) -> threading.Event:
    """Make the first verification batch of ``built`` fail as when the node is away; the event says it did. (Both
    the worker's ``verify_many`` and the loop's batches begin with ``prepare``.)"""
    verifier, failed = built.state.context.queue.verifier, threading.Event()
    prepare = verifier.prepare

    def once_away(bundles: Any, attachments: Any = None) -> Any:
        if not failed.is_set():
            failed.set()
            raise NodeUnavailable("the node is away")
        return prepare(bundles, attachments)

    verifier.prepare = once_away
    return failed


@pytest.mark.parametrize("on_loop", [False, True], ids=["batches on the worker", "batches on the loop"])
def test_a_failed_verification_is_answered_by_the_app(consortium: Consortium, tmp_path: Path,
                                                      genuine: bytes, on_loop: bool) -> None:
    """When the lane's batch fails (the node away for a moment), the app answers the request, which it counts
    once against the rate limit."""
    built = app(consortium, tmp_path, True, on_loop=on_loop)
    failed = node_away_once(built)
    try:
        with serving(built, SETTINGS) as address, socket.create_connection(address, timeout=10) as sock:
            sock.sendall(request(body=genuine))
            [answer] = read(sock, 1)
        assert answer.startswith(b"HTTP/1.1 200") and b'"valid":true' in answer and failed.is_set()
        assert built.state.taken == [True]
        assert built.state.context.limits._buckets["clerk"][0] == 59  # one token, not two
    finally:
        built.state.session.close()


def holder_bound(c: Consortium) -> tuple[HolderPrivateKey, Bundle]:
    """A resident's key, and their statement bound to it, anchored on ``c``."""
    holder = generate_holder_key()
    [(_, cert)] = deposit_certificates(c, 1)
    bound = Certificate(cert.header, {**cert.claims, "cnf": holder_claim(holder.public_key())})
    batch = seal_batch([salt_document(bound, HashAlgorithm.KECCAK256)])
    c.anchor(batch.root, leaf_count=1)
    return holder, batch.bundle(0, c.w3.eth.chain_id, c.registry.address)


def answering(sock: socket.socket, c: Consortium) -> bytes:
    """A resident's presentation (of a statement anchored on ``c``) answering a challenge the bank issues over
    ``sock``."""
    holder, bundle = holder_bound(c)
    sock.sendall(request("?purpose=ACCTOPEN&ttl=60", b"", method="POST", path="/v1/challenges"))
    challenge = load_challenge(read(sock, 1)[0].partition(b"\r\n\r\n")[2])
    return present(bundle, challenge, holder, int(time.time())).dumps().encode()


@pytest.mark.parametrize("on_loop", [False, True], ids=["batches on the worker", "batches on the loop"])
def test_a_presentation_whose_reads_found_the_node_away_is_answered_by_the_app_not_refused_as_a_replay(
        consortium: Consortium, tmp_path: Path, on_loop: bool) -> None:
    """The lane's batch consumed the presentation's challenge, then its reads found the node away: the challenge
    is open again (no verdict was given), so the app, checking the request again, finds the presentation valid."""
    built = app(consortium, tmp_path, True, on_loop=on_loop)
    verifier, away = built.state.context.queue.verifier, [NodeUnavailable("the node is away (in the reads)")]
    reads = verifier._complete

    def away_once(prepared: Any) -> Any:
        if away:
            raise away.pop()
        return reads(prepared)

    verifier._complete = away_once
    try:
        with serving(built, SETTINGS) as address, socket.create_connection(address, timeout=10) as sock:
            sock.sendall(request("?purpose=ACCTOPEN", answering(sock, consortium)))
            [answer] = read(sock, 1)
        verdict = json.loads(answer.partition(b"\r\n\r\n")[2])
        assert not away and built.state.taken == [True]
        assert answer.startswith(b"HTTP/1.1 200") and verdict["valid"], verdict
    finally:
        built.state.session.close()


@pytest.mark.parametrize("lane", [True, False], ids=["the lane", "the app"])
def test_a_presentation_whose_receipt_could_not_be_queued_is_checked_again_not_refused_as_a_replay(
        consortium: Consortium, tmp_path: Path, lane: bool) -> None:
    """The presentation passed (its challenge consumed), then its receipt could not be queued (the outbox's store
    locked by another replica). The lane hands the request and its report to the app, which queues the receipt
    again and answers (the presentation checked once); the app alone answers 503, no verdict given, so the
    challenge is open again and the bank's retry is valid. One receipt either way."""
    built = app(consortium, tmp_path, lane)
    outbox, locked = built.state.context.outbox, [StoreLocked("the outbox is locked by another replica")]
    enqueue = outbox.enqueue

    def locked_once(receipts: Any, reference: str = "", suite: Suite = Suite.STANDARD) -> Any:
        if locked:
            raise locked.pop()
        return enqueue(receipts, reference, suite)

    outbox.enqueue = locked_once
    try:
        with serving(built, SETTINGS) as address, socket.create_connection(address, timeout=10) as sock:
            presentation = answering(sock, consortium)
            sock.sendall(request("?purpose=ACCTOPEN&case=K-1", presentation))
            answers = read(sock, 1)
            if not lane:
                assert answers[0].startswith(b"HTTP/1.1 503") and b"retry-after: 5" in answers[0]
                sock.sendall(request("?purpose=ACCTOPEN&case=K-1", presentation))
                answers = read(sock, 1)
        verdict = json.loads(answers[0].partition(b"\r\n\r\n")[2])
        assert not locked and answers[0].startswith(b"HTTP/1.1 200") and verdict["valid"], verdict
        assert verdict["receipt"]["state"] == "queued"
        assert outbox.store.db.execute("SELECT reference FROM sealed_receipts").fetchall() == [("K-1",)]
    finally:
        built.state.session.close()


@pytest.mark.parametrize("locked", [False, True], ids=["queued", "the outbox locked"])
def test_the_apps_receipts_of_one_turn_are_queued_in_one_transaction(consortium: Consortium, tmp_path: Path,
                                                                      genuine: bytes, locked: bool) -> None:
    """Requests the app answers (each under an Idempotency-Key) whose reports reach the event loop together (a
    batch's) have their receipts queued in one transaction, each under its own case; if it fails, each request
    fails as one alone does (503), and nothing is queued (no request's receipt is tried again on its own)."""
    built = app(consortium, tmp_path, True)
    ctx, clients = built.state.context, 5
    outbox, verifier = ctx.outbox, ctx.queue.verifier
    prepare, enqueue = verifier.prepare, outbox.enqueue
    sizes: list[int] = []
    batches: list[int] = []

    def batch(bundles: Any, attachments: Any = None) -> Any:
        if not batches:
            time.sleep(0.3)  # the first batch: the other requests come in meanwhile, to be checked together
        batches.append(len(bundles))
        return prepare(bundles, attachments)

    def counted(receipts: Any, reference: Any = "", suite: Suite = Suite.STANDARD) -> Any:
        receipts = list(receipts)
        sizes.append(len(receipts))
        if locked:
            raise StoreLocked("the outbox is locked by another replica")
        return enqueue(receipts, reference, suite)

    verifier.prepare, outbox.enqueue = batch, counted
    try:
        with serving(built, SETTINGS) as address, ExitStack() as stack:
            socks = [stack.enter_context(socket.create_connection(address, timeout=10)) for _ in range(clients)]
            for i, sock in enumerate(socks):
                sock.sendall(request(f"?purpose=ACCTOPEN&case=A-{i}", genuine, Idempotency_Key=f"{i:02}-{'k' * 16}"))
            answers = [read(sock, 1, normalised=False)[0] for sock in socks]
        if locked:
            assert all(a.startswith(b"HTTP/1.1 503") for a in answers), answers
            assert outbox.store.db.execute("SELECT COUNT(*) FROM sealed_receipts").fetchone()[0] == 0
        else:
            verdicts = [json.loads(a.partition(b"\r\n\r\n")[2]) for a in answers]
            assert all(v["valid"] and v["receipt"]["state"] == "queued" for v in verdicts), verdicts
        # A transaction a batch at most (two batches' reports reaching the loop together share one), none again
        assert sum(sizes) == clients and len(sizes) <= len(batches) < clients, (sizes, batches)
    finally:
        built.state.session.close()


@pytest.mark.parametrize("locked", [False, True], ids=["queued", "the outbox locked once"])
def test_the_receipts_of_a_batch_are_queued_in_one_transaction(consortium: Consortium, tmp_path: Path,
                                                                genuine: bytes, locked: bool) -> None:
    """The lane's requests checked in one batch have their receipts queued in one transaction (one durable commit
    per batch, not per request), each under its own case, and each is answered with where its own receipt stands.
    If that transaction fails (the outbox locked by another replica), the app answers each request from its report,
    queuing its receipt again: every verdict valid, one receipt each."""
    built = app(consortium, tmp_path, True)  # batches checked on the worker thread
    ctx, clients = built.state.context, 6
    queue, outbox, verifier = ctx.queue, ctx.outbox, ctx.queue.verifier
    prepare, enqueue = verifier.prepare, outbox.enqueue
    first, sizes = threading.Event(), []
    faults = [StoreLocked("the outbox is locked by another replica")] if locked else []

    def the_others_wait_for_the_first(bundles: Any, attachments: Any = None) -> Any:
        if not first.is_set():  # the first request's batch: the others queue meanwhile, one batch after it
            first.set()
            until(lambda: len(queue._pending) == clients - 1, "the other requests to queue")
        return prepare(bundles, attachments)

    def counted(receipts: Any, reference: Any = "", suite: Suite = Suite.STANDARD) -> Any:
        receipts = list(receipts)
        sizes.append(len(receipts))
        if faults and len(receipts) > 1:
            raise faults.pop()
        return enqueue(receipts, reference, suite)

    verifier.prepare, outbox.enqueue = the_others_wait_for_the_first, counted
    try:
        with serving(built, SETTINGS) as address, ExitStack() as stack:
            socks = [stack.enter_context(socket.create_connection(address, timeout=10)) for _ in range(clients)]
            socks[0].sendall(request("?purpose=ACCTOPEN&case=C-0", genuine))
            assert first.wait(10)
            for i, sock in enumerate(socks[1:], 1):
                sock.sendall(request(f"?purpose=ACCTOPEN&case=C-{i}", genuine))
            answers = [json.loads(read(sock, 1, normalised=False)[0].partition(b"\r\n\r\n")[2]) for sock in socks]
        assert all(a["valid"] and a["receipt"]["state"] == "queued" for a in answers), answers
        # One transaction per batch at most: the first request's (one receipt) and the others' (five), in either
        # order on a busy machine, or both together (six) when their answers reach the loop together; when the
        # batch's transaction failed, one for each of its requests, by the app.
        together = [n for n in sizes if n > 1]
        assert len(together) == 1 and not faults and together[0] in (clients - 1, clients), sizes
        assert sizes.count(1) == clients - together[0] + (together[0] if locked else 0), sizes
        stored = dict(outbox.store.db.execute("SELECT reference, commitment FROM sealed_receipts").fetchall())
        assert {case: "0x" + bytes(c).hex() for case, c in stored.items()} == \
            {f"C-{i}": a["receipt"]["commitment"] for i, a in enumerate(answers)}
        assert built.state.taken == [True] * clients
    finally:
        built.state.session.close()


def test_an_outbox_that_is_slow_holds_up_only_the_requests_whose_receipts_it_queues(
        consortium: Consortium, tmp_path: Path, genuine: bytes) -> None:
    """The lane queues receipts in a thread: while the outbox's store is held (another replica's transaction, a
    slow disk), the event loop answers other requests; the held one is answered once its receipt is queued."""
    built = app(consortium, tmp_path, True)
    outbox, held, released = built.state.context.outbox, threading.Event(), threading.Event()
    enqueue = outbox.enqueue

    def slow(receipts: Any, reference: Any = "", suite: Suite = Suite.STANDARD) -> Any:
        held.set()
        assert released.wait(10)
        return enqueue(receipts, reference, suite)

    outbox.enqueue = slow
    try:
        with serving(built, SETTINGS) as address, ExitStack() as stack:
            waiting, other = (stack.enter_context(socket.create_connection(address, timeout=3)) for _ in range(2))
            waiting.sendall(request("?purpose=ACCTOPEN&case=S", genuine))
            assert held.wait(10)
            other.sendall(request(body=genuine))
            answered = json.loads(read(other, 1)[0].partition(b"\r\n\r\n")[2])
            assert answered["valid"] and answered["receipt"] is None and not released.is_set()
            released.set()
            verdict = json.loads(read(waiting, 1)[0].partition(b"\r\n\r\n")[2])
        assert verdict["valid"] and verdict["receipt"]["state"] == "queued"
    finally:
        released.set()
        built.state.session.close()


def test_an_outbox_locked_past_its_busy_timeout_does_not_hold_up_the_event_loop(
        consortium: Consortium, tmp_path: Path, genuine: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process holds the outbox's write lock past the busy timeout: the lane's transaction for the batch's
    receipts fails, and the app answers each of those requests (queuing its receipt again, in a thread: 503 once
    that fails too); meanwhile a plain verification is answered at once."""
    monkeypatch.setattr(store, "BUSY_TIMEOUT", 1.0)
    built = app(consortium, tmp_path, True)
    outbox = built.state.context.outbox
    try:
        with serving(built, SETTINGS) as address, ExitStack() as stack:
            other = sqlite3.connect(outbox.store.path, isolation_level=None)  # another process's writer
            stack.callback(other.close)
            other.execute("BEGIN IMMEDIATE")
            held = [stack.enter_context(socket.create_connection(address, timeout=30)) for _ in range(3)]
            for i, sock in enumerate(held):
                sock.sendall(request(f"?purpose=ACCTOPEN&case=L-{i}", genuine))
            time.sleep(1.3)  # the batch's transaction gave up: the app queues each receipt again
            plain = stack.enter_context(socket.create_connection(address, timeout=30))
            sent = time.monotonic()
            plain.sendall(request(body=genuine))
            assert read(plain, 1)[0].startswith(b"HTTP/1.1 200") and time.monotonic() - sent < 0.5
            assert all(read(sock, 1)[0].startswith(b"HTTP/1.1 503") for sock in held)
            other.execute("ROLLBACK")
            held[0].sendall(request("?purpose=ACCTOPEN&case=L-0", genuine))
            assert json.loads(read(held[0], 1)[0].partition(b"\r\n\r\n")[2])["receipt"]["state"] == "queued"
    finally:
        built.state.session.close()


def test_a_step_off_the_loop_runs_whole_though_its_caller_is_cancelled() -> None:
    """What the service queues off the event loop (a receipt, a withdraw) runs once submitted, even when the request
    awaiting it is cancelled (a server shutting down) while it waits for a thread: a withdraw is never skipped."""
    release, done = threading.Event(), []

    async def scenario() -> None:
        busy = [asyncio.ensure_future(off_the_loop(release.wait, 10)) for _ in range(RECEIPT_THREADS._max_workers)]
        waiting = asyncio.ensure_future(off_the_loop(done.append, "withdrawn"))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert not done  # not started yet: every thread busy
        release.set()
        await asyncio.gather(*busy)

    with ThreadPoolExecutor(1) as own:  # a loop of its own: a browser test may hold this thread's (one process)
        own.submit(asyncio.run, scenario()).result()
    until(lambda: done == ["withdrawn"], "the cancelled caller's step")


def test_a_presentation_whose_client_left_before_its_receipt_failed_can_be_presented_again(
        consortium: Consortium, tmp_path: Path) -> None:
    """The lane's request passed, its client gone meanwhile, and its receipt could not be queued: nobody to hand
    the request to, no verdict given: the challenge is open again, and the presentation sent again is valid."""
    built = app(consortium, tmp_path, True)  # batches checked on the worker thread
    outbox, gone, locked = built.state.context.outbox, threading.Event(), [StoreLocked("locked by another replica")]
    enqueue, verifier = outbox.enqueue, built.state.context.queue.verifier
    prepare = verifier.prepare

    def after_the_client_left(bundles: Any, attachments: Any = None) -> Any:
        if locked:
            assert gone.wait(10)
            time.sleep(0.5)  # the event loop sees the connection closed meanwhile
        return prepare(bundles, attachments)

    def locked_once(receipts: Any, reference: str = "", suite: Suite = Suite.STANDARD) -> Any:
        if locked:
            raise locked.pop()
        return enqueue(receipts, reference, suite)

    verifier.prepare, outbox.enqueue = after_the_client_left, locked_once
    try:
        with serving(built, SETTINGS) as address:
            with socket.create_connection(address, timeout=10) as sock:
                presentation = answering(sock, consortium)
                sock.sendall(request("?purpose=ACCTOPEN&case=K-1", presentation))
            gone.set()
            deadline = time.monotonic() + 10
            while locked and time.monotonic() < deadline:  # until the receipt failed, then its withdraw
                time.sleep(0.01)
            time.sleep(0.3)
            with socket.create_connection(address, timeout=10) as sock:
                sock.sendall(request("?purpose=ACCTOPEN&case=K-1", presentation))
                verdict = json.loads(read(sock, 1)[0].partition(b"\r\n\r\n")[2])
        assert not locked and verdict["valid"] and built.state.taken == [True, True], verdict
        assert outbox.store.db.execute("SELECT reference FROM sealed_receipts").fetchall() == [("K-1",)]
    finally:
        built.state.session.close()


@pytest.mark.parametrize("lane", [True, False], ids=["the lane", "the app"])
def test_a_presentation_whose_receipt_may_have_been_queued_is_not_checked_again(
        consortium: Consortium, tmp_path: Path, lane: bool) -> None:
    """Queuing the receipt failed after it was kept (a commit whose acknowledgement was lost): the verdict left a
    receipt, so it stands and the challenge stays used (the app, answering for the lane, queues it again from the
    lane's report and finds it kept); the same presentation sent again, under another case, is refused as a
    replay, and the consent is cited by one receipt only."""
    built = app(consortium, tmp_path, lane)
    outbox, lost = built.state.context.outbox, [StoreUnavailable("the connection dropped after the commit")]
    enqueue = outbox.enqueue

    def kept_but_lost(receipts: Any, reference: str = "", suite: Suite = Suite.STANDARD) -> Any:
        kept = enqueue(receipts, reference)
        if lost:
            raise lost.pop()
        return kept

    outbox.enqueue = kept_but_lost
    try:
        with serving(built, SETTINGS) as address, socket.create_connection(address, timeout=10) as sock:
            presentation = answering(sock, consortium)
            sock.sendall(request("?purpose=ACCTOPEN&case=K-1", presentation))
            first = read(sock, 1)[0]
            sock.sendall(request("?purpose=ACCTOPEN&case=K-2", presentation))
            again = json.loads(read(sock, 1)[0].partition(b"\r\n\r\n")[2])
        if lane:  # the app answered from the lane's report, queuing the receipt again: the one kept
            assert first.startswith(b"HTTP/1.1 200") and json.loads(first.partition(b"\r\n\r\n")[2])["valid"]
        else:
            assert first.startswith(b"HTTP/1.1 503")
        assert not lost and [c["name"] for c in again["checks"] if c["outcome"] == "failed"] == ["challenge_fresh"]
        assert outbox.store.db.execute("SELECT reference FROM sealed_receipts").fetchall() == [("K-1",)]
    finally:
        built.state.session.close()


def test_the_loop_s_budget_and_read_limit_are_the_bank_s_settings(consortium: Consortium, tmp_path: Path) -> None:
    """A bank whose node is far away raises them (docs/deploy.md): ``[service] loop_budget`` and
    ``loop_read_limit`` reach the queue."""
    built = app(consortium, tmp_path, True, replace(SETTINGS, loop_budget=0.3, loop_read_limit=2.0))
    try:
        queue = built.state.context.queue
        assert (queue.on_loop_budget, queue.on_loop_read_limit) == (0.3, 2.0)
    finally:
        built.state.session.close()


def test_the_verdict_text_is_json_dumps_of_the_verdict_byte_for_byte(consortium: Consortium, tmp_path: Path,
                                                                     genuine: bytes) -> None:
    """The lane and the route write a verdict from its parts: the very bytes ``json.dumps`` gives its dict, for
    checks whose details hold quotes, backslashes, control characters and text beyond ASCII and the BMP."""
    built = app(consortium, tmp_path, True)
    ctx = built.state.context
    odd = 'BundleError: "名字" \\ at /claims/0\n\t\x00\x1f \u2028 café 🏦'
    [report] = ctx.queue.verify([genuine])
    unreadable = VerificationReport((Check("bundle_well_formed", Outcome.FAILED, odd),))
    for given, receipt in [(report, None), (report, {"state": "queued", "case": "C-1"}),
                           (replace(report, checks=(*report.checks, Check("x", Outcome.NOT_APPLICABLE, odd))), None),
                           (unreadable, None)]:
        expected = json.dumps(ctx.verdict(given, receipt), ensure_ascii=False, separators=(",", ":")).encode()
        assert ctx.verdict_text(given, receipt) == expected
    built.state.session.close()


def test_the_lane_refuses_a_presentation_outliving_its_challenge_as_the_route_does(
        consortium: Consortium, servers: Any, caplog: pytest.LogCaptureFixture) -> None:
    """The lane takes the plain request and the app the same presentation with a parameter the lane leaves to
    it: both refuse it by name, alike, and neither uses the challenge, which an honest presentation then answers
    through the lane."""
    (built, address), _ = servers
    holder, bundle = holder_bound(consortium)
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(request("?purpose=ACCTOPEN&ttl=60", b"", method="POST", path="/v1/challenges"))
        [issued] = read(sock, 1)
        challenge = load_challenge(issued.partition(b"\r\n\r\n")[2])
        now = int(time.time())
        stretched = present(bundle, replace(challenge, expires_at=challenge.expires_at + 600), holder, now)
        sock.sendall(request("?purpose=ACCTOPEN", stretched.dumps().encode()))
        sock.sendall(request("?purpose=ACCTOPEN&other=1", stretched.dumps().encode()))
        by_lane, by_app = (answer.partition(b"\r\n\r\n")[2] for answer in read(sock, 2))
        assert built.state.taken == [True, False] and by_lane == by_app
        verdict = json.loads(by_lane)
        assert [c["name"] for c in verdict["checks"] if c["outcome"] == "failed"] == ["presentation_within_challenge"]
        assert verdict["receipt"] is None
        sock.sendall(request("?purpose=ACCTOPEN", present(bundle, challenge, holder, now).dumps().encode()))
        honest = json.loads(read(sock, 1)[0].partition(b"\r\n\r\n")[2])
    assert built.state.taken[-1] and honest["valid"] and honest["receipt"]["state"] == "queued"


def test_a_fault_in_the_lane_closes_its_connection_and_spares_the_batch(consortium: Consortium, tmp_path: Path,
                                                                        genuine: bytes,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    """A fault of the lane's own while answering one request (here its metrics) closes that connection and is
    logged; the other requests of its batch are answered."""
    built = app(consortium, tmp_path, True)
    lane, faults = built.state.lane, [True]
    record = lane.record

    def once_broken(ticket: Any, status: int, elapsed: float) -> None:
        if faults and ticket.case == "broken":
            faults.pop()
            raise RuntimeError("metrics away")
        record(ticket, status, elapsed)

    lane.record = once_broken
    caplog.set_level(logging.INFO)
    try:
        with serving(built, SETTINGS) as address, ExitStack() as stack:
            socks = [stack.enter_context(socket.create_connection(address, timeout=10)) for _ in range(3)]
            for sock, case in zip(socks, ("a", "broken", "b"), strict=True):
                sock.sendall(request(f"?case={case}", genuine))
            assert read(socks[0], 1)[0].startswith(b"HTTP/1.1 200") and read(socks[2], 1)[0].startswith(b"HTTP/1.1 200")
            read(socks[1], 1)  # written before the fault
            assert closed(socks[1])
    finally:
        built.state.session.close()
    assert [r.getMessage() for r in caplog.records if r.exc_info] == ["a verification's waiter failed"]
