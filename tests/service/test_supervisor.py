"""``crossverify serve --workers N``'s supervisor: each worker on a socket of its own, so that connections opened at
once spread across the workers; a worker that dies, or stops serving, is started again; workers that cannot start
stop the supervisor; the port is the supervisor's alone; a stopping signal stops all, and workers whose supervisor
is gone end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crossverify.bench._clock import supervised
from crossverify.errors import ConfigError
from crossverify.service.supervisor import supervise

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.service.test_supervisor:pid_app"
#: A supervisor of two workers: ``sys.argv`` the port, the app, then ``NAME=seconds`` settings of the supervisor
#: module, shortened for a test.
SUPERVISOR = """import sys
from crossverify.service import supervisor
for setting in sys.argv[3:]:
    name, value = setting.split("=")
    setattr(supervisor, name, float(value))
supervisor.supervise(2, "127.0.0.1", int(sys.argv[1]), {"app": sys.argv[2], "factory": sys.argv[2].endswith("factory"),
                                                       "lifespan": "off", "log_level": "warning"})
"""


async def pid_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers with the process id of the worker that served the request."""
    body = str(os.getpid()).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


def failing_factory() -> Any:
    """A service that cannot be built (its node cannot be reached, say)."""
    raise RuntimeError("the node cannot be reached")


def slow_factory() -> Any:
    """A service that takes a while to build (its node's first answers, say)."""
    time.sleep(3)
    return pid_app


def hanging_factory() -> Any:
    """A service whose building never ends (a store or node that holds it without timing out, say)."""
    time.sleep(3600)
    return pid_app


def hanging_once_factory() -> Any:
    """The first worker to build this service hangs (its pid written to the file ``HUNG`` names); the others serve."""
    try:
        marker = os.open(os.environ["HUNG"], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return pid_app
    os.write(marker, str(os.getpid()).encode())
    os.close(marker)
    return hanging_factory()


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _ask(sock: socket.socket) -> int:
    sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
            data.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0]):
        if not (chunk := sock.recv(4096)):
            raise ConnectionError("closed")
        data += chunk
    return int(data.split(b"\r\n\r\n", 1)[1])


def _served(port: int, n: int) -> Counter[int]:
    """The workers that answered ``n`` connections opened at once."""
    connections = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]
    try:
        return Counter(_ask(c) for c in connections)
    finally:
        for c in connections:
            c.close()


def _until(condition: Callable[[], Any], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serving(process: subprocess.Popen[bytes], port: int) -> bool:
    """Whether both workers of ``process`` answer."""
    try:
        return len(supervised(process.pid)) == 2 and set(_served(port, 16)) == supervised(process.pid)
    except OSError:
        return False


Started = Callable[..., tuple[subprocess.Popen[bytes], int]]


@pytest.fixture
def started() -> Iterator[Started]:
    """Start a supervisor (``app``, then the module's settings); returned once both workers serve."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(*settings: str, app: str = APP, serving: bool = True, port: int = 0
              ) -> tuple[subprocess.Popen[bytes], int]:
        port = port or _free_port()
        process = subprocess.Popen([sys.executable, "-c", SUPERVISOR, str(port), app, *settings], cwd=ROOT,
                                   start_new_session=True, stderr=subprocess.PIPE)
        processes.append(process)

        if serving:
            _until(lambda: _serving(process, port) or process.poll() is not None, "the workers did not both serve")
            assert process.poll() is None, process.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
        return process, port

    yield start
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _refused(started: Started, port: int) -> None:
    """A second supervisor on ``port`` stops at once, saying the port is in use (in a process of its own: were it
    let in, it would serve)."""
    second, _ = started(port=port, serving=False)
    assert second.wait(timeout=30) == 1
    assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in second.stderr.read().decode()  # type: ignore[union-attr]


def test_connections_opened_at_once_spread_across_the_workers(started: Started) -> None:
    """64 keep-alive connections opened at once (a bank's gateway): each worker serves a fair share (the kernel's
    hash: 32 ± 4 each; one socket shared by both gave one worker 92% of them)."""
    process, port = started()
    served = _served(port, 64)
    assert set(served) == supervised(process.pid)
    assert min(served.values()) >= 16, served


def test_a_worker_that_dies_is_started_again_and_sigterm_stops_all(started: Started) -> None:
    process, port = started("PAUSE=0.1")
    workers = supervised(process.pid)
    os.kill(min(workers), signal.SIGKILL)
    _until(lambda: len(supervised(process.pid)) == 2 and min(workers) not in supervised(process.pid),
           "the dead worker was not replaced")
    _until(lambda: set(_served(port, 16)) == supervised(process.pid), "the new worker does not serve")
    now = supervised(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert not any(_alive(pid) for pid in now)


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGQUIT])
def test_a_hangup_stops_the_workers_too(started: Started, sig: signal.Signals) -> None:
    process, _ = started()
    workers = supervised(process.pid)
    process.send_signal(sig)
    assert process.wait(timeout=60) == 0
    assert not any(_alive(pid) for pid in workers)


def test_a_worker_that_stops_serving_is_replaced(started: Started) -> None:
    """Stopped (SIGSTOP: its event loop as blocked), it leaves its share of new connections unanswered: it is
    killed and started again once silent for the supervisor's ``SILENT`` seconds."""
    process, port = started("SILENT=2", "PAUSE=0.1")
    stuck = min(supervised(process.pid))
    os.kill(stuck, signal.SIGSTOP)
    _until(lambda: not _alive(stuck) and len(supervised(process.pid)) == 2, "the silent worker was not replaced")
    _until(lambda: set(_served(port, 16)) == supervised(process.pid), "the new worker does not serve")


def test_a_worker_whose_service_is_not_built_in_time_is_replaced(started: Started, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A build that hangs leaves no connection unanswered (the worker's socket does not listen) but serves nothing:
    the worker is killed and started again once ``STARTING`` seconds passed without its serving."""
    monkeypatch.setenv("HUNG", str(tmp_path / "hung"))
    process, _ = started("STARTING=2", "PAUSE=0.1", app="tests.service.test_supervisor:hanging_once_factory")
    hung = int((tmp_path / "hung").read_text())
    assert not _alive(hung) and hung not in supervised(process.pid)


@pytest.mark.parametrize(("app", "said"), [
    ("no_such_app", "a worker could not start the service (its log says why)"),
    ("failing_factory", "a worker died within 5 s of its start, or before it served, 5 times in a row"),
    ("hanging_factory", "a worker died within 5 s of its start, or before it served, 5 times in a row"),
])
def test_workers_that_cannot_start_stop_the_supervisor(started: Started, app: str, said: str) -> None:
    """An app that uvicorn cannot load (its startup failure), or a service whose building fails, or hangs, each
    time: the supervisor stops, saying why, rather than serve nothing for ever."""
    process, _ = started("PAUSE=0.1", "STARTING=1", app=f"tests.service.test_supervisor:{app}", serving=False)
    assert process.wait(timeout=60) == 1
    assert said in process.stderr.read().decode()  # type: ignore[union-attr]
    assert not supervised(process.pid)


def test_workers_whose_supervisor_is_gone_end(started: Started) -> None:
    process, _ = started()
    workers = supervised(process.pid)
    os.kill(process.pid, signal.SIGKILL)
    _until(lambda: not any(_alive(pid) for pid in workers), "the orphaned workers still serve", 15)


def test_a_second_supervisor_is_refused_while_the_first_ones_workers_build(started: Started) -> None:
    """No worker listens yet: the port is held all the same."""
    process, port = started(app="tests.service.test_supervisor:slow_factory", serving=False)
    _until(lambda: len(supervised(process.pid)) == 2, "the workers did not start")
    _refused(started, port)
    _until(lambda: _serving(process, port), "the first supervisor's workers do not serve")


def test_a_pause_of_the_whole_group_kills_no_worker(started: Started) -> None:
    """Stopped together (Ctrl-Z, a container paused) for longer than ``SILENT``: on resuming, the supervisor holds
    the pause against no worker."""
    process, port = started("SILENT=2")
    workers = supervised(process.pid)
    for pid in workers:  # the workers stopped first, and the supervisor sees their last beat go by
        os.kill(pid, signal.SIGSTOP)
    time.sleep(1.2)
    os.kill(process.pid, signal.SIGSTOP)
    time.sleep(4)
    os.kill(process.pid, signal.SIGCONT)  # the supervisor resumes first: every beat it heard is 5 s old
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGCONT)
    time.sleep(3)
    assert supervised(process.pid) == workers
    assert set(_served(port, 16)) == workers


def test_a_supervisor_started_again_at_once_gets_its_port(started: Started) -> None:
    """Connections the workers closed linger in TIME-WAIT on the port for a minute: a restart is not refused."""
    process, port = started()
    for _ in range(8):
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.sendall(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            while c.recv(4096):
                pass
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    started(port=port)


def test_the_port_is_the_supervisors_alone(started: Started) -> None:
    """A second supervisor on the same port is refused, and so is a port a program without ``SO_REUSEPORT``
    holds: before any worker starts."""
    _, port = started()
    _refused(started, port)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot serve on 127.0.0.1:{port}: Address already in use"):
            supervise(2, "127.0.0.1", port, {"app": APP})
    assert not [p for p in supervised(os.getpid()) if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
