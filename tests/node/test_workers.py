"""``crossverify serve --workers 2`` against the real node: two processes serve one bank, a receipt asked for
through both is recorded once, and a client's rate limit holds across them; two processes serve a regulator over
PostgreSQL, and its console's session, opened at one, holds at both until it is closed."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from crossverify.bench._clock import supervised
from crossverify.chain.connection import connect
from crossverify.service.auth import new_key

from ..conftest import deposit_certificates
from ..postgres import empty
from .conftest import free_port
from .test_flow import Net, _Clock

PER_MINUTE = 120  # bursts of 12, then 2 a second


def _post(port: int, key: str, body: bytes, path: str) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", path, body, {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    reply = connection.getresponse()
    status, data = reply.status, json.loads(reply.read())
    connection.close()  # a new connection each time: the kernel hands them to either worker
    return status, data


def test_two_workers_serve_one_bank(node_url: str, dev_accounts: list[LocalAccount], tmp_path: Path) -> None:
    net = Net(connect(node_url, chain_id=1337), dev_accounts, list(dev_accounts[:5]))
    issuer = net.issuer(tmp_path, "journal")
    issuer.issue(deposit_certificates(_Clock(net), 6))
    bundles = [p.read_bytes() for p in issuer.run().delivered]
    clerk, clerk_digest = new_key()
    probe, probe_digest = new_key()
    config = tmp_path / "bank.toml"
    config.write_text(
        f'[network]\nrpc = "{node_url}"\nregistry = "{net.registry.address}"\n'
        f'circulation = "{net.circulation.address}"\ngas_price = 0\n'
        f'[keys]\ndev_mode = true\nsender_private_key = "0x{dev_accounts[3].key.hex()}"\n'
        f'[verifier]\noutbox = "outbox.sqlite"\nchallenges = "challenges.sqlite"\naudience = "ICBKCNBJGDG"\n'
        f'[service]\nrequests_per_minute = {PER_MINUTE}\nrun_every = 1.0\nrate_limits = "limits.sqlite"\n'
        f'[service.api_keys]\nclerk = "bank {clerk_digest}"\nprobe = "bank {probe_digest}"\n')
    with _two_workers(config, _answers) as (server, port):
        workers = supervised(server.pid)

        # Every bundle asked for twice under the same case, on new connections from 4 threads (12 requests: the
        # clerk's burst).
        verdicts: list[tuple[int, dict[str, object]]] = []
        asks = [b for b in bundles for _ in range(2)]

        def ask(part: list[bytes]) -> None:
            for body in part:
                verdicts.append(_post(port, clerk, body, "/v1/verifications?purpose=ACCTOPEN&case=C-1"))

        threads = [threading.Thread(target=ask, args=(asks[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [s for s, _ in verdicts] == [200] * 12 and all(v["valid"] for _, v in verdicts)
        assert len({v["receipt"]["commitment"] for _, v in verdicts}) == 6  # type: ignore[index]
        deadline = time.monotonic() + 60
        while len(net.commitments()) < 6:
            assert time.monotonic() < deadline, "the outbox did not record the receipts"
            time.sleep(0.5)
        time.sleep(2)  # another worker's flush round, were it to send them again
        assert len(net.commitments()) == 6

        # One client, many connections: its limit holds across the workers.
        started = time.monotonic()
        statuses = [_post(port, probe, b"{}", "/v1/challenges?purpose=ACCTOPEN")[0] for _ in range(40)]
        elapsed = time.monotonic() - started
        assert statuses.count(429) > 0, (statuses.count(200), elapsed)
        assert statuses.count(200) <= PER_MINUTE / 10 + PER_MINUTE / 60 * elapsed + 1
        assert set(supervised(server.pid)) == set(workers)  # neither worker died meanwhile


def test_a_console_session_holds_at_both_workers_of_a_regulator(node_url: str, dev_accounts: list[LocalAccount],
                                                               postgres_url: str, tmp_path: Path) -> None:
    net = Net(connect(node_url, chain_id=1337), dev_accounts, list(dev_accounts[:5]))
    key, digest = new_key()
    config = tmp_path / "regulator.toml"
    config.write_text(
        f'[network]\nrpc = "{node_url}"\nregistry = "{net.registry.address}"\n'
        f'circulation = "{net.circulation.address}"\n[storage]\nurl = "{postgres_url}"\n'
        f'[service]\nrequests_per_minute = 100000\nrun_every = 1.0\n[service.api_keys]\namcm = "regulator {digest}"\n')
    synced = {"Authorization": f"Bearer {key}"}  # the overview answers: up, and the index synced once
    try:
        with _two_workers(config, lambda port: _get(port, "/v1/regulator/overview", synced)[0] == 200) as (_, port):
            status, cookie = _login(port, key)
            assert status == 200
            # Read with the session on new connections until both workers have answered some of the reads (the
            # kernel hands a connection to whichever worker accepts first: a pause lets a busy one catch up).
            statuses: list[int] = []
            deadline = time.monotonic() + 90
            while not 0 < _served(port) < len(statuses):
                assert time.monotonic() < deadline, f"one worker took all {len(statuses)} connections"
                statuses += [_get(port, "/v1/regulator/freshness", {"Cookie": cookie})[0] for _ in range(5)]
                time.sleep(0.1)
            assert set(statuses) == {200}
            assert _get(port, "/regulator/session", {"Cookie": cookie}) == (200, {"name": "amcm", "idleSeconds": 900})

            _delete(port, "/regulator/session", cookie)  # signed out at one worker: refused at both
            after = [_get(port, "/v1/regulator/freshness", {"Cookie": cookie})[0] for _ in range(len(statuses))]
            assert set(after) == {401}
    finally:
        empty(postgres_url)


@contextmanager
def _two_workers(config: Path, up: Callable[[int], bool]) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``crossverify serve --workers 2`` with ``config`` on a free port, once both workers run and ``up(port)``
    holds: the server and its port; the whole process group is stopped after the block."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "crossverify.cli", "--config", str(config), "serve",
                               "--workers", "2", "--port", str(port)], cwd=config.parent, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(supervised(server.pid)) < 2 or not up(port):
            assert server.poll() is None and time.monotonic() < deadline, server.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            time.sleep(0.5)
        yield server, port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def _get(port: int, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        reply = connection.getresponse()
        body = reply.read()
        return reply.status, json.loads(body) if reply.getheader("content-type", "").endswith("json") else body
    except OSError:
        return 0, None
    finally:
        connection.close()


def _login(port: int, key: str) -> tuple[int, str]:
    """Sign in with the regulator's key: the status, and the session's cookie as the browser sends it back."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/regulator/session", json.dumps({"key": key}), {"Content-Type": "application/json"})
    reply = connection.getresponse()
    reply.read()
    connection.close()
    return reply.status, (reply.getheader("set-cookie") or "").split(";", 1)[0]


def _delete(port: int, path: str, cookie: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("DELETE", path, headers={"Cookie": cookie})
    assert connection.getresponse().status == 204
    connection.close()


def _served(port: int) -> int:
    """How many session reads the worker answering this request has served (each worker counts its own)."""
    text = _get(port, "/metrics", {})[1]
    found = re.search(rb'crossverify_requests_total\{route="/v1/regulator/freshness",status="200"\} (\d+)', text)
    return int(found[1]) if found else 0


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
