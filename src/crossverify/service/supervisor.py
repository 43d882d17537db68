"""``crossverify serve --workers N``: N processes serving one port, each on a listening socket of its own.

The sockets share the port (``SO_REUSEPORT``), so the kernel spreads new connections across the workers by the hash
of their addresses. One socket shared by all, as uvicorn's own supervisor runs its workers, gives every connection
pending when the workers wake to whichever wakes first (asyncio accepts up to its backlog at a time): a bank's
gateway opening its 64 keep-alive connections at once found 92% of them at one worker.

With a queue of its own, a worker that stops serving would leave its share of new connections unanswered: each
worker's event loop beats (:data:`BEAT`), and one silent for :data:`SILENT` seconds is killed and started again, as
is one whose service is not built within :data:`STARTING` seconds of its start (a build that hangs leaves no
connection unanswered, its socket not listening, but serves nothing). A worker listens only once its service is
built (asyncio listens when it starts serving), and ends when its supervisor is gone. The port is the supervisor's
alone: it is refused while anything else, a second supervisor or the workers of one that was killed included, is
bound to it, and held (bound, not listening: the kernel hands connections to listening sockets only) for as long as
the supervisor runs. A worker that dies is started again, after a pause when it died young (or before it served);
when workers keep dying so, or one could not start its service, the supervisor stops. SIGINT, SIGTERM, SIGHUP and
SIGQUIT stop all workers, each finishing its requests as one process does.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from ..errors import ConfigError

log = logging.getLogger("crossverify.service")

#: A worker that dies sooner than this after its start, or before it served, died young: it is started again after
#: :data:`PAUSE` (a fault at start, such as a node that cannot be reached, does not spin).
YOUNG = 5.0
PAUSE = 1.0
#: A worker's place in which workers die young this many times in a row stops the supervisor: the fault will not
#: pass by itself.
YOUNG_DEATHS = 5
#: The exit code of a worker whose service could not start (uvicorn's): the supervisor stops.
STARTUP_FAILURE = 3
#: Seconds the workers are given to finish their requests once told to stop, before they are killed.
GRACE = 30.0
#: Seconds between a serving worker's beats, from its event loop.
BEAT = 1.0
#: A serving worker silent this long (its event loop blocked, the process stopped) is killed and started again.
SILENT = 10.0
#: A worker that has not served this long after its start (its service's build hangs) is killed and started again.
STARTING = 300.0
#: Signals that stop the supervisor and its workers.
STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def listening(host: str, port: int, *, listen: bool = True, backlog: int = 2048, reuse: bool = True
              ) -> socket.socket:
    """A TCP socket bound to ``host:port`` beside the others of this user that share it (``SO_REUSEPORT``), and
    (``reuse``) beside the closed connections of an earlier run still in TIME-WAIT (``SO_REUSEADDR``, which the
    connections it accepts inherit)."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        if reuse:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _held(host: str, port: int) -> socket.socket:
    """The port, bound for the supervisor: first alone (so that anything bound to it refuses it), then shared,
    without ``SO_REUSEADDR``: a second supervisor's first bind conflicts with it even before any worker listens."""
    try:
        with socket.socket(_family(host), socket.SOCK_STREAM) as alone:
            alone.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            alone.bind((host, port))
            port = alone.getsockname()[1]  # (port 0: the one the system chose, for every worker)
        return listening(host, port, listen=False, reuse=False)
    except OSError as exc:
        raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from exc


class _Worker:
    """One worker process, its beat, and how many of its slot's workers died young in a row (``young``)."""

    def __init__(self, context: Any, host: str, port: int, options: dict[str, Any], young: int = 0) -> None:
        self.beat: Synchronized[float] = context.Value("d", 0.0, lock=False)
        self.process: BaseProcess = context.Process(target=_worker, args=(host, port, options, self.beat,
                                                                          os.getpid()))
        interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited: Ctrl-C stops workers through us
        try:
            self.process.start()
        finally:
            signal.signal(signal.SIGINT, interrupt)
        self.started = time.monotonic()
        self.young = young
        self.heard = (0.0, self.started)  # the beat last seen, and when (the supervisor's clock)

    @property
    def served(self) -> bool:
        """Whether it has beaten: its service was built and served."""
        return self.beat.value > 0.0

    def silent(self, now: float) -> bool:
        """Its beat unchanged for :data:`SILENT` seconds of the supervisor's watch, or, until it first beats, for
        :data:`STARTING` seconds (its service's build hangs)."""
        beat = self.beat.value
        if beat != self.heard[0]:
            self.heard = (beat, now)
        return now - self.heard[1] > (SILENT if beat > 0.0 else STARTING)

    def overlook(self, now: float) -> None:
        """The supervisor was not watching (its process stopped or starved): silence until ``now`` is not held
        against the worker."""
        self.heard = (self.beat.value, now)

    def end(self) -> None:
        if self.process.exitcode is None:
            self.process.terminate()  # SIGTERM: uvicorn finishes what it serves, then exits


def supervise(workers: int, host: str, port: int, options: dict[str, Any]) -> None:
    """Run ``workers`` processes, each serving uvicorn's ``options`` on a socket of its own at ``host:port``,
    until a stopping signal (:data:`STOPPING`); :class:`ConfigError` when the port cannot be had, and when the
    workers cannot start their service."""
    held = _held(host, port)
    port = held.getsockname()[1]
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in STOPPING}
    running: list[_Worker] = []
    failure = None
    try:
        for _ in range(workers):
            running.append(_Worker(context, host, port, options))
        log.info("workers started", extra={"workers": workers, "port": port})
        watched = time.monotonic()
        while not stop.is_set():
            wait([w.process.sentinel for w in running], timeout=BEAT)
            now = time.monotonic()
            for worker in running if now - watched > BEAT + SILENT / 2 else ():  # (not watching meanwhile)
                worker.overlook(now)
            watched = now
            due = []
            for i, worker in enumerate(running):
                if worker.process.exitcode is None and worker.silent(now):
                    log.warning("a worker stopped serving; starting another" if worker.served else
                                f"a worker did not serve within {STARTING:g} s of its start; starting another",
                                extra={"pid": worker.process.pid})
                    worker.process.kill()
                    worker.process.join()
                if worker.process.exitcode is None or stop.is_set():
                    continue
                if worker.process.exitcode == STARTUP_FAILURE:
                    failure = "a worker could not start the service (its log says why)"
                    return
                young = worker.young + 1 if now - worker.started < YOUNG or not worker.served else 0
                if young >= YOUNG_DEATHS:
                    failure = (f"a worker died within {YOUNG:g} s of its start, or before it served, {young} times "
                               "in a row")
                    return
                log.warning("a worker died; starting another", extra={"exit_code": worker.process.exitcode})
                due.append((i, young))
            if any(young for _, young in due):
                stop.wait(PAUSE)
            for i, young in due if not stop.is_set() else ():
                running[i] = _Worker(context, host, port, options, young)
                watched = time.monotonic()
    finally:
        for worker in running:
            worker.end()
        deadline = time.monotonic() + GRACE
        for worker in running:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.exitcode is None:
                worker.process.kill()
                worker.process.join()
        held.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if failure is not None:
            raise ConfigError(f"stopped serving on {host}:{port}: {failure}")


def _worker(host: str, port: int, options: dict[str, Any], beat: Synchronized[float], supervisor: int) -> None:
    """One worker: its own socket on the port, and uvicorn serving ``options`` on it, beating while it serves and
    ending (as on SIGTERM) when its supervisor is gone."""
    import uvicorn

    class Server(uvicorn.Server):
        async def on_tick(self, counter: int) -> bool:
            if counter % int(10 * BEAT) == 0:  # (uvicorn ticks every 0.1 s)
                beat.value = time.monotonic()
                if os.getppid() != supervisor:
                    self.should_exit = True
            return await super().on_tick(counter)

    sock = listening(host, port, listen=False)  # listened on once the service is built and served
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C reaches the whole process group: the supervisor stops all
        Server(uvicorn.Config(**options)).run(sockets=[sock])
