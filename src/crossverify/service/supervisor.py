"""``crossverify serve --workers N``: N processes serving one port, each on a listening socket of its own.

The sockets share the port (``SO_REUSEPORT``), so the kernel spreads new connections across the workers by the hash
of their addresses. One socket shared by all, as uvicorn's own supervisor runs its workers, gives every connection
pending when the workers wake to whichever wakes first (asyncio accepts up to its backlog at a time): a bank's
gateway opening its 64 keep-alive connections at once found 92% of them at one worker.

The supervisor holds the port bound (not listening: the kernel hands connections to listening sockets only), so
that a port in use is refused before any worker starts, and another program cannot take it between restarts. A
worker that dies is started again (after a pause when it died young); SIGINT or SIGTERM stops them all, each
finishing its requests as one process does.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

from ..errors import ConfigError

log = logging.getLogger("crossverify.service")

#: A worker that dies sooner than this after its start waits this long before it is started again (a fault at start,
#: such as a configuration the node refuses, does not spin).
YOUNG = 5.0
#: Seconds the workers are given to finish their requests once told to stop, before they are killed.
GRACE = 30.0


def listening(host: str, port: int, *, listen: bool = True, backlog: int = 2048) -> socket.socket:
    """A TCP socket bound to ``host:port`` beside the others of this user that share it (``SO_REUSEPORT``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def supervise(workers: int, host: str, port: int, options: dict[str, Any]) -> None:
    """Run ``workers`` processes, each serving uvicorn's ``options`` on a socket of its own at ``host:port``,
    until SIGINT or SIGTERM."""
    try:
        held = listening(host, port, listen=False)
    except OSError as exc:
        raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from exc
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def start() -> tuple[BaseProcess, float]:
        process = context.Process(target=_worker, args=(host, port, options), daemon=False)
        process.start()
        return process, time.monotonic()

    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    running = [start() for _ in range(workers)]
    log.info("workers started", extra={"workers": workers, "port": port})
    try:
        while not stop.is_set():
            wait([p.sentinel for p, _ in running], timeout=0.5)
            for i, (process, started) in enumerate(running):
                if process.exitcode is None or stop.is_set():
                    continue
                log.warning("a worker died; starting another", extra={"exit_code": process.exitcode})
                if time.monotonic() - started < YOUNG:
                    stop.wait(YOUNG)
                if not stop.is_set():
                    running[i] = start()
    finally:
        for process, _ in running:
            if process.exitcode is None:
                process.terminate()  # SIGTERM: uvicorn finishes what it serves, then exits
        deadline = time.monotonic() + GRACE
        for process, _ in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                process.kill()
                process.join()
        held.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    """One worker: its own socket on the port, and uvicorn serving ``options`` on it."""
    import uvicorn

    sock = listening(host, port, backlog=options.get("backlog", 2048))
    uvicorn.Server(uvicorn.Config(**options)).run(sockets=[sock])
