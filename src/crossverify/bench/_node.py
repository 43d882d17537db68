"""A Hardhat node for the benchmarks that run on a real JSON-RPC node: the node test tier's configuration, on a
free port, stopped by its process group when the section ends."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[3]
HARDHAT = ROOT / "node_modules" / ".bin" / "hardhat"
CONFIG = ROOT / "tests" / "node" / "hardhat.config.js"
#: The process group of each running node, by URL: its CPU seconds are read from it (``_clock.group_cpu``).
GROUPS: dict[str, int] = {}


@contextmanager
def hardhat_node(work: Path) -> Iterator[str]:
    """The URL of a fresh Hardhat node (chain id 1337, gas price zero); needs ``npm ci`` (``scripts/setup``)."""
    if not HARDHAT.exists():
        raise RuntimeError("node_modules/.bin/hardhat is missing: run ./scripts/setup")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    work.mkdir(parents=True, exist_ok=True)
    with (work / "hardhat.log").open("w") as log:
        process = subprocess.Popen(
            [str(HARDHAT), "node", "--hostname", "127.0.0.1", "--port", str(port), "--config", str(CONFIG)],
            cwd=ROOT, env={**os.environ, "HARDHAT_CACHE": str(work / "cache")}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while not _answers(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the hardhat node did not start: {(work / 'hardhat.log').read_text()[-800:]}")
                time.sleep(0.3)
            GROUPS[url] = process.pid
            yield url
        finally:
            GROUPS.pop(url, None)
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _answers(url: str) -> bool:
    try:
        reply = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                              timeout=2)
        return bool(reply.json().get("result") == hex(1337))
    except (requests.RequestException, ValueError):
        return False


class BareRpc:
    """The least a JSON-RPC client can do: one keep-alive ``http.client`` connection, ``json.dumps`` of the
    request and ``json.loads`` of the answer (no web3, no ``requests``). The floor of every read over HTTP."""

    def __init__(self, url: str) -> None:
        host, _, port = url.removeprefix("http://").partition(":")
        self.connection = http.client.HTTPConnection(host, int(port or 80), timeout=60)
        #: Bytes of JSON the node answered, since this client was made.
        self.received = 0

    def __call__(self, method: str, params: list[Any]) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        self.connection.request("POST", "/", body, {"Content-Type": "application/json"})
        data = self.connection.getresponse().read()
        self.received += len(data)
        return json.loads(data)["result"]

    def batch(self, requests: list[tuple[str, list[Any]]]) -> list[Any]:
        """``requests`` (method, params) in one JSON-RPC batch, one round trip; their results in order."""
        body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(requests)])
        self.connection.request("POST", "/", body, {"Content-Type": "application/json"})
        data = self.connection.getresponse().read()
        self.received += len(data)
        return [answer["result"] for answer in sorted(json.loads(data), key=lambda a: a["id"])]

    def close(self) -> None:
        self.connection.close()
