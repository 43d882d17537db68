"""HTTP by the book over real sockets, against the service as ``crossverify serve`` runs it: slow senders get 408
and are closed, oversized heads 431, broken requests 400, all as problem details; clients that vanish mid-body
are logged as such, without a traceback."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crossverify.config import Config, KeySettings, NetworkSettings, ServiceSettings, VerifierSettings
from crossverify.service.app import create_app
from crossverify.service.auth import new_key
from crossverify.session import Session

from ..conftest import Consortium
from .live import logged, serving

KEY, DIGEST = new_key()
HEAD_TIMEOUT, BODY_TIMEOUT = 1.0, 1.5


@pytest.fixture
def live(consortium: Consortium, tmp_path: Path) -> Iterator[tuple[str, int]]:
    settings = ServiceSettings(api_keys={"bank": f"bank {DIGEST}"}, head_timeout=HEAD_TIMEOUT,
                               body_timeout=BODY_TIMEOUT, max_header_bytes=8192, max_body_bytes=64 * 1024)
    session = Session(Config(network=NetworkSettings(registry=consortium.registry.address),
                             keys=KeySettings(sender_address=consortium.verifier),
                             verifier=VerifierSettings(outbox=tmp_path / "outbox.sqlite"), service=settings))
    with serving(create_app(session, start_workers=False), settings) as address:
        yield address
    session.close()


def head(path: str = "/v1/verifications", length: int = 100, **headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: bank.example", f"Authorization: Bearer {KEY}",
             "Content-Type: application/json", f"Content-Length: {length}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(sock: socket.socket, closing: bool = True) -> tuple[int, dict[str, str], bytes, bool]:
    """Read one response to its end: status, headers, body, and (when ``closing``) whether the server then closed
    the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed without an answer after {data!r}"
        data += chunk
    raw, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = raw.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        body += sock.recv(65536)
    try:
        closed = closing and sock.recv(1) == b""
    except ConnectionResetError:  # closed while a byte of ours was on its way: reset
        closed = True
    except TimeoutError:
        closed = False
    return int(status_line.split()[1]), headers, body, closed


def problem(status: int, headers: dict[str, str], body: bytes) -> dict[str, object]:
    assert headers["content-type"] == "application/problem+json", (status, body)
    found: dict[str, object] = json.loads(body)
    assert found["status"] == status
    return found


def test_slow_senders_get_408_and_are_closed(live: tuple[str, int]) -> None:
    """Forty clients send a body one byte a second: each gets a 408 within the body timeout and is closed."""
    results: list[tuple[int, dict[str, str], bytes, bool]] = []
    started = time.monotonic()

    def slow_sender() -> None:
        with socket.create_connection(live, timeout=10) as sock:
            sock.sendall(head())
            try:
                for _ in range(30):
                    sock.sendall(b" ")
                    time.sleep(1)
                    sock.setblocking(False)
                    try:
                        if sock.recv(1, socket.MSG_PEEK):
                            break
                    except BlockingIOError:
                        pass
                    finally:
                        sock.setblocking(True)
            except (BrokenPipeError, ConnectionResetError):
                pass
            results.append(answer(sock))

    senders = [threading.Thread(target=slow_sender) for _ in range(40)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert len(results) == 40 and time.monotonic() - started < BODY_TIMEOUT + 8
    for status, headers, body, closed in results:
        assert status == 408 and closed
        assert problem(status, headers, body)["type"] == "https://crossverify.example/problems/request-timeout"


def test_slow_silent_and_oversized_heads(live: tuple[str, int]) -> None:
    with socket.create_connection(live, timeout=10) as silent:  # connects, sends nothing
        status, headers, body, closed = answer(silent)
        assert status == 408 and closed and problem(status, headers, body)["detail"].startswith(  # type: ignore[union-attr]
            "the request's head did not arrive")
    with socket.create_connection(live, timeout=10) as slow:  # a head one byte a second
        start = time.monotonic()
        try:
            for byte in head():
                slow.sendall(bytes([byte]))
                time.sleep(0.25)
                if time.monotonic() - start > HEAD_TIMEOUT + 1:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, headers, body, closed = answer(slow)
        assert status == 408 and closed
    with socket.create_connection(live, timeout=10) as big:
        big.sendall(head(**{f"X-Padding-{i}": "x" * 1000 for i in range(10)}))
        status, headers, body, closed = answer(big)
        assert status == 431 and closed
        assert problem(status, headers, body)["title"] == "Request header fields too large"
    with socket.create_connection(live, timeout=10) as endless:  # a head that never ends
        endless.sendall(head()[:-2] + b"".join(f"X-More-{i}: {'y' * 100}\r\n".encode() for i in range(100)))
        status, headers, body, closed = answer(endless)
        assert status == 431 and closed
    with socket.create_connection(live, timeout=10) as whole:  # a small head with a large body in one packet
        whole.sendall(head(length=60_000) + b" " * 60_000)
        status, headers, body, _ = answer(whole, closing=False)
        assert status == 200 and not json.loads(body)["valid"]
    with socket.create_connection(live, timeout=10) as broken:
        broken.sendall(b"POST /v1/verifications HTTP/1.1\r\nContent-Length: x\r\n\r\n")
        status, headers, body, closed = answer(broken)
        assert status == 400 and closed and problem(status, headers, body)["type"].endswith("/bad-request")  # type: ignore[union-attr]


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(live: tuple[str, int]) -> None:
    with socket.create_connection(live, timeout=10) as sock:
        sock.sendall(head(length=10**9))
        status, headers, body, closed = answer(sock)
        assert status == 413 and closed and problem(status, headers, body)["detail"] == \
            "request bodies are limited to 65536 bytes"


def test_clients_that_vanish_mid_body_are_logged_without_a_traceback(live: tuple[str, int],
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    for path in ("/v1/verifications", "/v1/verifications/batch"):
        for _ in range(10):
            with socket.create_connection(live, timeout=10) as sock:
                sock.sendall(head(path, length=1000) + b'{"bundles": [')
                time.sleep(0.02)
    logged(caplog, 20)  # once the server saw them go
    gone = [r for r in caplog.records if r.getMessage() == "client went away"]
    assert len(gone) == 20
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info], \
        [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    requests = [r for r in caplog.records if r.getMessage() == "request"]
    assert [r.status for r in requests] == [499] * 20  # type: ignore[attr-defined]


def test_a_fault_of_the_service_is_a_500_logged_with_its_request_id(consortium: Consortium, tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """The client gets problem details and the request id to quote; the log has that id with the traceback; the
    connection stays usable."""
    settings = ServiceSettings(api_keys={"bank": f"bank {DIGEST}"})
    session = Session(Config(network=NetworkSettings(registry=consortium.registry.address),
                             keys=KeySettings(sender_address=consortium.verifier),
                             verifier=VerifierSettings(outbox=tmp_path / "outbox.sqlite"), service=settings))
    app = create_app(session, start_workers=False)

    def broken(commitment: bytes) -> None:
        raise RuntimeError("a bug at /srv/crossverify/outbox.py")

    app.state.context.outbox.state = broken
    caplog.set_level(logging.INFO)
    with serving(app, settings) as address, socket.create_connection(address, timeout=10) as sock:
        request = (f"GET /v1/receipts/0x{'00' * 32} HTTP/1.1\r\nHost: bank.example\r\n"
                   f"Authorization: Bearer {KEY}\r\n\r\n").encode()
        sock.sendall(request)
        status, headers, body, _ = answer(sock, closing=False)
        found = problem(status, headers, body)
        assert found["type"] == "https://crossverify.example/problems/internal-error"
        assert found["requestId"] == headers["x-request-id"] and "/srv" not in body.decode()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bank.example\r\n\r\n")  # the same connection still answers
        assert answer(sock, closing=False)[0] == 200
    session.close()
    [failed] = [r for r in caplog.records if r.exc_info]
    assert failed.getMessage() == "request failed" and failed.request_id == found["requestId"]  # type: ignore[attr-defined]
    assert [r.status for r in caplog.records if r.getMessage() == "request"] == [500, 200]  # type: ignore[attr-defined]


def test_each_answer_is_written_once_and_continue_and_head_still_work(live: tuple[str, int]) -> None:
    """An answer's head and body leave in one write (the first read on the loopback holds all of it); a client
    that expects 100-continue gets it before it sends its body; HEAD gets the head alone, and the connection
    serves the next request."""
    with socket.create_connection(live, timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bank.example\r\n\r\n")
        data = sock.recv(65536)
        raw, _, body = data.partition(b"\r\n\r\n")
        assert raw.startswith(b"HTTP/1.1 200") and body and int(raw.lower().split(b"content-length: ")[1]
                                                                  .split(b"\r\n")[0]) == len(body)
        sock.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: bank.example\r\n\r\n")
        data = sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\n")
        sock.sendall(head(length=2, Expect="100-continue"))
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"{}")
        status, _, body, _ = answer(sock, closing=False)
        assert status == 200 and json.loads(body)["valid"] is False
