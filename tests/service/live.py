"""A live service for tests that talk to it over real sockets: uvicorn in a thread, on a free port."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from crossverify.config import ServiceSettings
from crossverify.service import server


@contextmanager
def serving(app: Any, settings: ServiceSettings) -> Iterator[tuple[str, int]]:
    """Serve ``app`` as ``crossverify serve`` does (the same protocol and limits) on 127.0.0.1 and a free port;
    yields (host, port). Stops the server, and waits for it, on leaving."""
    live = uvicorn.Server(server.config(app, settings, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=live.run, name="live-service", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not live.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.02)
    try:
        yield "127.0.0.1", live.servers[0].sockets[0].getsockname()[1]
    finally:
        live.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), "the service did not stop"


def until(condition: Callable[[], object], what: str, timeout: float = 30) -> None:
    """Wait until ``condition()`` holds, at most ``timeout`` seconds (on ``perf_counter``: some fixtures stop
    ``time.monotonic``)."""
    deadline = time.perf_counter() + timeout
    while not condition():
        assert time.perf_counter() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def logged(caplog: pytest.LogCaptureFixture, requests: int) -> None:
    """Wait until ``requests`` requests are logged: a request's metrics and log line are recorded once its answer
    is written (or its client is gone), so a client may read it first."""
    until(lambda: len([r for r in caplog.records if r.name.startswith("crossverify") and r.getMessage() == "request"])
          >= requests, f"{requests} requests to be logged", timeout=60)
