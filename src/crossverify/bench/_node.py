"""A Hardhat node for the benchmarks that run on a real JSON-RPC node: the node test tier's configuration, on a
free port, stopped by its process group when the section ends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[3]
HARDHAT = ROOT / "node_modules" / ".bin" / "hardhat"
CONFIG = ROOT / "tests" / "node" / "hardhat.config.js"


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
            yield url
        finally:
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
