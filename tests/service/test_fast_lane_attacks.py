"""The fast lane against hostile and broken clients, over real sockets: keys, roles and rate limits it must not let
through, bytes the lane must read as the app reads them (no request smuggled past one of them), and a client that
must not make another's request fail, wait or get its verdict, nor grow the server's memory or work beyond what
it sends. Where the app answers a case too, the two servers answer it alike (the app is the route's definition)."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI

from crossverify.format.batch import salt_document, seal_batch
from crossverify.format.encoding import to_hex
from crossverify.format.hashing import HashAlgorithm
from crossverify.service import auth, server

from ..conftest import Consortium, deposit_certificates
from . import test_fast_lane as equivalence
from .live import serving, until
from .test_fast_lane import BANK, REGULATOR, SETTINGS, alike, app, closed, node_away_once, normal, read, request

servers, genuine = equivalence.servers, equivalence.genuine  # the fixtures: the two servers, a valid bundle

ROUTE = "/v1/verifications"


def added(raw: bytes, *lines: str) -> bytes:
    """``raw`` with header ``lines`` added after its request line (names twice, odd spellings)."""
    first, _, rest = raw.partition(b"\r\n")
    return b"\r\n".join([first, *(line.encode("latin-1") for line in lines), rest])


def answered(built: FastAPI) -> float:
    """How many verifications ``built`` has answered (200)."""
    return built.state.context.requests_total.labels(ROUTE, "200")._value.get()  # type: ignore[no-any-return]


def until_settled(built: FastAPI, wanted: float) -> float:
    """Wait until ``built`` has answered ``wanted`` verifications or stopped answering; the count."""
    last, still = -1.0, 0
    while still < 4:
        time.sleep(0.25)
        now = answered(built)
        still = still + 1 if now == last else 0
        if now >= wanted:
            return now
        last = now
    return last


@pytest.fixture
def protocols(monkeypatch: pytest.MonkeyPatch) -> list[server.GuardedHttp]:
    """Every connection the live servers accept, as its protocol (to look at what the server holds for it), with
    a small send buffer in the kernel (what the server holds of its answers is then in the transport)."""
    made: list[server.GuardedHttp] = []
    connection_made = server.GuardedHttp.connection_made

    def recorded(self: server.GuardedHttp, transport: Any) -> None:
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        made.append(self)
        connection_made(self, transport)

    monkeypatch.setattr(server.GuardedHttp, "connection_made", recorded)
    return made


#: A limit no test reaches: bursts of 6,000.
ROOMY = replace(SETTINGS, requests_per_minute=60_000)


#: Each test so marked runs with its servers' batches checked on their worker and on their event loop (as on a node).
BATCHES = pytest.mark.parametrize("on_loop", [False, True], ids=["batches on the worker", "batches on the loop"])


@pytest.fixture(params=[False, True], ids=["batches on the worker", "batches on the loop"])
def roomy(consortium: Consortium, tmp_path: Path, request: pytest.FixtureRequest
          ) -> Iterator[list[tuple[FastAPI, tuple[str, int]]]]:
    """A server with the lane and one without, under :data:`ROOMY` limits."""
    with ExitStack() as stack:
        pair = []
        for name, lane in (("lane", True), ("app", False)):
            built = app(consortium, tmp_path / name, lane, ROOMY, on_loop=request.param)
            stack.callback(built.state.session.close)
            pair.append((built, stack.enter_context(serving(built, ROOMY))))
        yield pair


def test_keys_in_odd_places_are_read_as_the_app_reads_them(servers: Any, genuine: bytes,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """Both kinds of key at once, other schemes, whitespace, headers named twice or in capitals, another role's
    key: the lane takes only what the app would grant the bank, and the answers are the app's."""
    caplog.set_level(logging.INFO)
    bank, regulator = BANK[0], REGULATOR[0]
    requests = [
        request(body=genuine, key=regulator, X_Api_Key=bank),  # the Bearer key counts: a regulator's, 403
        request(body=genuine, key=None, Authorization=f"Basic {bank}", X_Api_Key=bank),  # not Bearer: X-Api-Key
        request(body=genuine, key=None, Authorization="Bearer ", X_Api_Key=bank),  # an empty Bearer
        request(body=genuine, key=None, Authorization=f"bearer {bank}"),  # the scheme in any case (RFC 9110)
        request(body=genuine, key=None, Authorization=f"Bearer \t {bank} \t"),
        request(body=genuine, key=None, Authorization=f"Bearer {bank}x"),
        request(body=genuine, key=None, Authorization=f"Bearer {bank[:-1]}"),
        request(body=genuine, key=None, Authorization=f"Bearer {bank.upper()}"),
        request(body=genuine, key=None, X_Api_Key=regulator),
        added(request(body=genuine, key=regulator), f"Authorization: Bearer {bank}"),  # named twice: the first
        added(request(body=genuine), f"authorization: Bearer {regulator}"),
        added(request(body=genuine), f"X-Api-Key: {regulator}"),
        added(request(body=genuine, key=None), f"AUTHORIZATION: Bearer {bank}"),
        added(request(body=genuine), "Content-Type: text/plain"),
        added(request(body=genuine), "Idempotency-Key: "),
        added(request(body=genuine), "X-Request-Id: first", "X-Request-Id: second"),
        request(body=genuine, X_Request_Id="caf\xe9 \t\xff" + "r" * 4000),  # bytes beyond ASCII, a tab, long
        request(body=genuine).replace(b"Content-Length: ", b"Content-Length: 000"),
        request("?purpose=ACCTOPEN&case=", genuine),  # an empty case
        request("?purpose=ACCTOPEN&case=%E4%BD%A0%00%0D%0A", genuine),  # a case holding NUL, CR and LF: 422
        request("?purpose=&case=x", genuine),
        request("?purpose", genuine),
        request("?=ACCTOPEN", genuine),
        request("?purpose=ACCTOPEN;case=x", genuine),
        request("?purpose=ACCT+OPEN", genuine),
    ]

    def scenario(address: tuple[str, int]) -> list[bytes]:
        with socket.create_connection(address, timeout=10) as sock:
            answers = []
            for one in requests:
                sock.sendall(one)
                answers += read(sock, 1)
            return answers

    answers = alike(servers, scenario, caplog, requests=len(requests))
    assert [int(a[9:12]) for a in answers] == [403, 200, 200, 200, 200, 401, 401, 401, 403, 200, 403, 200, 200,
                                               200, 422, 200, 200, 200, 200, 422, 422, 422, 200, 422, 422]
    (lane, _), _ = servers
    assert [i for i, taken in enumerate(lane.state.taken) if taken] == [1, 2, 3, 4, 11, 12, 16, 17, 18]


def whole(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or stays silent for two seconds)."""
    sock.settimeout(2)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return normal(data)


def test_requests_the_parser_refuses_never_reach_the_lane(servers: Any, genuine: bytes,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """A Content-Length signed, negative, huge or twice; one with chunked transfer; a request id with CR, LF or
    another control byte (CRLF injection into the header written back, a forged log line): refused alike by the
    parser before either the lane or the app sees them, nothing verified or logged, nothing written back."""
    caplog.set_level(logging.INFO)
    plain = request(body=genuine)
    length = f"Content-Length: {len(genuine)}".encode()
    sent = [
        plain.replace(length, f"Content-Length: +{len(genuine)}".encode()),
        plain.replace(length, b"Content-Length: -1"),
        plain.replace(length, b"Content-Length: 99999999999999999999999"),
        plain.replace(length, length + b"\r\n" + length),
        plain.replace(length, length + f"\r\nContent-Length: {len(genuine) - 1}".encode()),
        plain.replace(length, length + b"\r\nTransfer-Encoding: chunked"),
        request(body=genuine, X_Request_Id="a\rX-Injected: 1"),
        request(body=genuine, X_Request_Id="a\nX-Injected: 1"),
        request(body=genuine, X_Request_Id="a\x01b"),
        request(body=genuine, X_Request_Id="a\x7fb"),
    ]

    def scenario(address: tuple[str, int]) -> list[bytes]:
        answers = []
        for one in sent:
            with socket.create_connection(address, timeout=10) as sock:
                sock.sendall(one)
                answers.append(whole(sock))
        return answers

    answers = alike(servers, scenario, caplog, requests=0)
    assert {a.partition(b"\r\n\r\n")[0] for a in answers} == {
        b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 193\r\n"
        b"connection: close"}
    assert not [r for r in caplog.records if r.getMessage() == "request"]
    (lane, _), _ = servers
    assert lane.state.taken == []


def test_bytes_past_the_declared_body_are_a_request_of_their_own(servers: Any, genuine: bytes,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """What follows a lane request's declared body is the next request, read on its own (its key, its route),
    not a part of the verified body; a length that claims the next request's head makes it body, and the rest
    a malformed request. The lane reads these bytes as the app does."""
    caplog.set_level(logging.INFO)
    smuggled = request(body=genuine, key=None)  # no key of its own: the first request's does not carry over
    regulators = request(method="GET", path="/v1/audit/report", body=b"", key=None)
    short = request(body=genuine)
    claiming = short.replace(f"Content-Length: {len(genuine)}".encode(),
                             f"Content-Length: {len(genuine) + 30}".encode())

    def scenario(address: tuple[str, int]) -> list[bytes]:
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(short + smuggled + short + regulators)
            answers = read(sock, 4)
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(claiming + smuggled)
            answers.append(whole(sock))
        return answers

    answers = alike(servers, scenario, caplog, requests=5)
    assert [int(a[9:12]) for a in answers] == [200, 401, 200, 401, 400]  # the malformed rest refused at once


def test_a_client_that_reads_no_answers_is_read_no_further(roomy: Any, genuine: bytes,
                                                           protocols: list[server.GuardedHttp],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """A client that sends request after request and never reads the answers: the server stops reading it once
    its answers fill the transport's buffer, as it does for the app's answers, instead of verifying on and
    holding every answer in memory; it goes on when the client reads. One that goes away instead leaves nothing
    behind (no task waiting for its answers to drain, no error)."""
    caplog.set_level(logging.INFO)
    count = 60
    for built, address in roomy:
        for reads in (True, False):
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.connect(address)
                sending = threading.Thread(target=sock.sendall, args=(request(body=genuine) * count,), daemon=True)
                sending.start()
                before = answered(built)
                stalled = until_settled(built, before + count) - before
                [protocol] = [p for p in protocols if p.server == address and not p.transport.is_closing()]
                held = protocol.transport.get_write_buffer_size()
                assert stalled < count and held < 96 * 1024, (stalled, held)
                if reads:
                    answers = read(sock, count)
                    assert {a[:12] for a in answers} == {b"HTTP/1.1 200"}
            sending.join(10)
        until(lambda last=protocol: not last.tasks, "the task awaiting the answers' drain to end")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@BATCHES
def test_a_client_that_reads_no_answers_cannot_hold_a_stop(consortium: Consortium, tmp_path: Path,
                                                           genuine: bytes, on_loop: bool) -> None:
    """A stop (a deploy, SIGTERM) is not held by a client that sends request after request and reads none of the
    answers, through the lane as through the app: the old server stops while that client is still connected."""
    for lane, query in ((True, ""), (False, "?other=1")):
        built = app(consortium, tmp_path / str(lane), lane, ROOMY, on_loop=on_loop)
        try:  # the server stops (and that it did is asserted) before the client hangs up
            with socket.socket() as sock, serving(built, ROOMY) as address:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.connect(address)
                threading.Thread(target=sock.sendall, args=(request(query, genuine) * 60,), daemon=True).start()
                until_settled(built, answered(built) + 60)
        finally:
            built.state.session.close()


def test_a_body_read_in_many_pieces_is_gathered_in_place(servers: Any, genuine: bytes,
                                                         protocols: list[server.GuardedHttp]) -> None:
    """A body that arrives a few bytes at a time (up to the limit, within the body's time) is gathered in one
    growing buffer, as uvicorn gathers the app's: not copied whole again at each piece, which for a 4 MiB body
    sent in a few thousand pieces would cost the event loop (every client of it) gigabytes of copying."""
    (built, address), _ = servers
    whole_request = request(body=genuine)
    head = len(whole_request) - len(genuine)
    with socket.create_connection(address, timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(whole_request[:head + 10])
        until(lambda: [len(getattr(p.cycle, "body", b"")) for p in protocols if p.server == address] == [10],
              "the server to read the first piece")
        [protocol] = [p for p in protocols if p.server == address]
        gathering = protocol.cycle.body  # type: ignore[attr-defined]
        for at in range(head + 10, head + 40, 10):
            sock.sendall(whole_request[at:at + 10])
            until(lambda: len(gathering) >= at - head + 10, "the server to read a piece")  # noqa: B023
        assert protocol.cycle.body is gathering and len(gathering) == 40  # type: ignore[attr-defined]
        sock.sendall(whole_request[head + 40:])
        [answer] = read(sock, 1)
    assert answer.startswith(b"HTTP/1.1 200") and b'"valid":true' in answer and built.state.taken == [True]


def test_heads_without_bodies_hold_no_other_client(servers: Any, genuine: bytes,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Connections that send a lane request's head and never its body are each answered 408 (with the request id
    they gave, however odd, written back as the app writes it) and closed when the body is due; a body sent after
    that is not verified and leaves no receipt; a client that sends whole requests meanwhile is answered at once,
    alike."""
    caplog.set_level(logging.INFO)
    odd = 'late "one" \\ caf\xe9'
    heads = [request(f"?purpose=ACCTOPEN&case=late-{i}", genuine, X_Request_Id=odd if i == 0 else None)
             [:-len(genuine)] for i in range(6)]

    def scenario(address: tuple[str, int]) -> list[Any]:
        with ExitStack() as stack:
            idle = [stack.enter_context(socket.create_connection(address, timeout=10)) for _ in heads]
            for sock, head in zip(idle, heads, strict=True):
                sock.sendall(head)
            started = time.monotonic()
            with socket.create_connection(address, timeout=10) as sock:
                for _ in range(3):
                    sock.sendall(request(body=genuine))
                    read(sock, 1)
            prompt = time.monotonic() - started < SETTINGS.body_timeout
            late = [read(sock, 1)[0] for sock in idle]
            for sock in idle:
                with suppress(OSError):  # the server may have reset it
                    sock.sendall(genuine)
            return [prompt, *late, all(closed(sock) for sock in idle)]

    outcome = alike(servers, scenario, caplog, requests=9)  # and no receipt in either outbox
    assert outcome[0] and outcome[-1] and {a[:12] for a in outcome[1:-1]} == {b"HTTP/1.1 408"}
    given = odd.encode()  # as sent: UTF-8
    assert b"x-request-id: " + given + b"\r" in outcome[1]  # written back byte for byte, and in the problem
    assert json.loads(outcome[1].partition(b"\r\n\r\n")[2])["requestId"] == odd  # read as UTF-8
    assert [r.status for r in caplog.records if r.getMessage() == "request"] == [  # type: ignore[attr-defined]
        200] * 3 + [408] * 6
    (lane, _), _ = servers
    assert lane.state.context.outbox.store.db.execute("SELECT count(*) FROM sealed_receipts").fetchone() == (0,)


def test_clients_of_one_batch_each_get_their_own_verdict(consortium: Consortium, servers: Any) -> None:
    """Clients whose requests are checked in one batch, among them one that sends a large invalid body and one
    that goes away once its body is in: each answered client gets the verdict and receipt of its own document
    and case, and the one that left has its receipt (as the app keeps it)."""
    (built, address), _ = servers
    certificates = deposit_certificates(consortium, 6)
    batch = seal_batch([salt_document(cert, HashAlgorithm.KECCAK256) for _, cert in certificates])
    consortium.anchor(batch.root, leaf_count=len(certificates))
    bundles = [batch.bundle(i, consortium.w3.eth.chain_id, consortium.registry.address) for i in range(6)]
    large = json.dumps({"version": "1.1", "pad": "x" * 60_000}).encode()
    together = threading.Barrier(7)
    verdicts: dict[int, Any] = {}

    def client(i: int) -> None:
        body = large if i == 6 else bundles[i].dumps().encode()
        with socket.create_connection(address, timeout=10) as sock:
            one = request(f"?purpose=ACCTOPEN&case=case-{i}", body)
            sock.sendall(one[:-1])
            together.wait()
            sock.sendall(one[-1:])
            if i == 5:
                return  # gone without its answer
            head, _, content = sock.recv(65536).partition(b"\r\n\r\n")  # as sent (read() hides commitments)
            length = int(re.search(rb"content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
            while len(content) < length:
                content += sock.recv(65536)
            verdicts[i] = json.loads(content)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not verdicts[6]["valid"] and verdicts[6]["receipt"] is None
    outbox = built.state.context.outbox
    until(lambda: len(outbox.store.db.execute("SELECT * FROM sealed_receipts").fetchall()) >= 6,
          "the receipts, the one that left included", timeout=10)
    for i, bundle in enumerate(bundles):
        digest = bundle.document_digest()
        commitment = outbox.find(digest, "ACCTOPEN", f"case-{i}")
        assert commitment is not None
        if i != 5:
            assert verdicts[i]["valid"] and verdicts[i]["documentDigest"] == to_hex(digest)
            assert verdicts[i]["receipt"]["commitment"] == to_hex(commitment)
    assert built.state.taken == [True] * 7


def test_replicas_share_one_limit_through_their_lanes(consortium: Consortium, tmp_path: Path, genuine: bytes,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Two replicas with the lane and one shared limit (the workers of one machine): the clerk's burst of 60 is
    spent across both, lane and app requests alike, and no more: every request past it is refused with 429."""
    monkeypatch.setattr(auth, "time", SimpleNamespace(monotonic=lambda: 1000.0, time=lambda: 2e9))  # no refill
    shared = replace(SETTINGS, workers=2, rate_limits=tmp_path / "limits.sqlite")
    with ExitStack() as stack:
        replicas = []
        for name in ("one", "two"):
            built = app(consortium, tmp_path / name, True, shared)
            stack.callback(built.state.session.close)
            replicas.append((built, stack.enter_context(serving(built, shared))))
        socks = [stack.enter_context(socket.create_connection(address, timeout=10)) for _, address in replicas]
        statuses = []
        for i in range(80):
            sock = socks[i % 2]
            sock.sendall(request("?other=1" if i % 9 == 0 else "", genuine))
            statuses.append(int(read(sock, 1)[0][9:12]))
    assert statuses.count(200) == 60 and set(statuses[70:]) == {429}
    assert all(any(built.state.taken) for built, _ in replicas)


def test_requests_after_the_last_one_are_never_read(servers: Any, genuine: bytes,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Requests sent behind one that closes the connection are neither answered nor verified, and cost the
    clerk no token of its limit, through the lane as through the app."""
    caplog.set_level(logging.INFO)

    def scenario(address: tuple[str, int]) -> list[Any]:
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(request(body=genuine, Connection="close") + request("?purpose=ACCTOPEN", genuine) * 3)
            return [*read(sock, 1), closed(sock)]

    answers = alike(servers, scenario, caplog, requests=1)
    assert answers[0].startswith(b"HTTP/1.1 200") and answers[1]
    (lane, _), (by_app, _) = servers
    assert [built.state.context.limits._buckets["clerk"][0] for built in (lane, by_app)] == [59, 59]
    assert lane.state.taken == [True]


def test_a_client_gone_with_requests_in_line_makes_no_error(servers: Any, genuine: bytes,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """A client that sends requests in a row and goes away after the first answer: the one being answered then
    (which the server never marked as disconnected: only the connection's last request is) is dropped quietly,
    logged and counted as the lane counts an answer to a client gone, not as a fault of the service (500, an
    error and its traceback in the log, a 5xx alert for any client that hangs up), through the app as through the
    lane."""
    caplog.set_level(logging.INFO)
    for _, address in servers:
        for query in ("", "?other=1"):  # the lane's requests, then the app's
            with socket.create_connection(address, timeout=10) as sock:
                sock.sendall(request(query, genuine) * 3)
                assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            time.sleep(0.3)
    assert {(r.getMessage(), r.status) for r in caplog.records  # type: ignore[attr-defined]
            if r.name.startswith("crossverify")} == {("request", 200)}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@BATCHES
def test_a_failed_batch_keeps_the_connection_in_order(consortium: Consortium, tmp_path: Path, genuine: bytes,
                                                      monkeypatch: pytest.MonkeyPatch, on_loop: bool) -> None:
    """A lane request whose batch fails is answered by the app, and the requests behind it on its connection (the
    lane's, a chunked one the app reads, the lane's again) wait for that answer and come in their order, each
    counted once against the limit."""
    monkeypatch.setattr(auth, "time", SimpleNamespace(monotonic=lambda: 1000.0, time=lambda: 2e9))  # no refill
    built = app(consortium, tmp_path, True, on_loop=on_loop)
    failed = node_away_once(built)
    chunked = request("?case=chunked", genuine).replace(f"Content-Length: {len(genuine)}".encode(),
                                                        b"Transfer-Encoding: chunked")
    chunked = chunked[:-len(genuine)] + f"{len(genuine):x}\r\n".encode() + genuine + b"\r\n0\r\n\r\n"
    try:
        with serving(built, SETTINGS) as address, socket.create_connection(address, timeout=10) as sock:
            sock.sendall(request("?purpose=ACCTOPEN&case=first", genuine) + request(body=b"[]") + chunked
                         + request("?purpose=ACCTOPEN&case=last", genuine))
            answers = read(sock, 4)
        assert [a[:12] for a in answers] == [b"HTTP/1.1 200"] * 4 and failed.is_set()
        assert [b'"valid":true' in a for a in answers] == [True, False, True, True]
        assert b'"state":"queued"' in answers[0] and b'"state":"queued"' in answers[3]
        assert built.state.taken == [True, True, False, True]
        assert built.state.context.limits._buckets["clerk"][0] == 56  # four tokens
    finally:
        built.state.session.close()


@BATCHES
def test_a_shutdown_answers_the_lane_requests_in_flight(consortium: Consortium, tmp_path: Path,
                                                        genuine: bytes, on_loop: bool) -> None:
    """The server stops (a deploy, a restart) while lane requests are being verified, one behind another on a
    connection: each is answered, the last with ``Connection: close``, and its receipt queued; none is lost."""
    built = app(consortium, tmp_path, True, on_loop=on_loop)
    verifier, checking = built.state.context.queue.verifier, threading.Event()
    prepare = verifier.prepare  # (where the worker's verify_many and the loop's batches begin)

    def slowly(bundles: Any, attachments: Any = None) -> Any:
        checking.set()
        time.sleep(0.3)
        return prepare(bundles, attachments)

    verifier.prepare = slowly
    answers: list[bytes] = []
    ended = threading.Event()

    def reading(sock: socket.socket) -> None:
        answers.extend(read(sock, 2))
        if closed(sock):
            ended.set()

    try:
        with socket.socket() as sock:
            with serving(built, SETTINGS) as address:
                sock.connect(address)
                sock.sendall(request("?purpose=ACCTOPEN&case=s-1", genuine)
                             + request("?purpose=ACCTOPEN&case=s-2", genuine))
                reader = threading.Thread(target=reading, args=(sock,))
                reader.start()
                assert checking.wait(10)
            reader.join(10)
        assert [a[:12] for a in answers] == [b"HTTP/1.1 200"] * 2 and ended.is_set()
        assert b"connection: close\r\n" in answers[1] and b"connection: close" not in answers[0]
        rows = built.state.context.outbox.store.db.execute("SELECT reference FROM sealed_receipts ORDER BY 1")
        assert rows.fetchall() == [("s-1",), ("s-2",)]
    finally:
        built.state.session.close()
