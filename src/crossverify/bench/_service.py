"""The bank's HTTP service under load: 1, 16 and 64 concurrent clients on the loopback, against the embedded chain
and against a Hardhat node, beside ``verify_many`` measured in the same server process.

The server runs in a child process (``python -m crossverify.bench._service N WORK [NODE_URL]``) that builds a
consortium on its chain, issues ``N`` bundles, times ``verify_many`` over them, then serves. This process drives
it with keep-alive ``http.client`` connections in threads (the lightest client the standard library has), so
the load generator and the server do not share an interpreter lock; they, and the Hardhat node, still share
the machine's cores. Each level sends bundles the others do not, so no level finds another's reads cached.
"""

from __future__ import annotations

import gc
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ._sections import Section

LEVELS = (1, 16, 64)
ROOT = Path(__file__).resolve().parents[3]
HARDHAT = ROOT / "node_modules" / ".bin" / "hardhat"
HARDHAT_CONFIG = ROOT / "tests" / "node" / "hardhat.config.js"


def service_load(documents: int, requests_per_level: int, chains: tuple[str, ...] = ("embedded", "hardhat")
                 ) -> Section:
    rows = []
    baselines = {}
    for chain in chains:
        baseline, measured = _chain_load(chain, documents, requests_per_level)
        baselines[chain] = baseline
        rows += [(chain, *row) for row in measured]
    measured_baselines = ", ".join(f"{rate:,.0f} documents/s on {chain}" for chain, rate in baselines.items())
    s = Section("Bank service under load",
                f"`POST /v1/verifications`, one bundle per request, from 1, 16 and 64 keep-alive clients on the "
                f"loopback ({requests_per_level:,} requests each level, bundles no other level sends, connections "
                f"made before the clock starts) against a server in its own process, on the embedded chain and on a "
                f"Hardhat node. The load generator (`http.client` in threads) is a third process, the Hardhat node "
                f"a fourth: all share the machine's cores. Concurrent requests are coalesced into one `verify_many` "
                f"under the service's chain lock, reading the registry once per batch root for all of them. "
                f"Baseline: `verify_many` over the same {documents:,} bundles in the server process "
                f"({measured_baselines}). Goal at 64 clients: >= 50% of the baseline, p99 < 250 ms on Hardhat. "
                f"Load average when measured: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other jobs share "
                f"the machine; figures move by a fifth between runs).\n\n"
                f"Where a request's time went before (py-spy on the server at 64 clients): three quarters of the "
                f"coalescer's time in registry reads (a `documentStatuses` and a `documentRevocations` round per "
                f"coalesced batch), most of the rest in the HTTP stack (a `BaseHTTPMiddleware`, a thread-pool hop per "
                f"request, pydantic re-validating each verdict, HTTP parsed by h11 in Python); JSON parsing, the "
                f"I-JSON pre-check (the verify routes skip it), logging and metrics were each under 2%. Now the "
                f"registry reads are bare `eth_call`s that return only the revoked documents, the middleware is plain "
                f"ASGI, requests await the coalescer without a thread, verdicts are written directly, uvicorn parses "
                f"with httptools, and `serve` freezes what setting up made out of the collector's way. What is left is "
                f"the verification itself (JSON Schema validation its largest part) on one core under the interpreter "
                f"lock, and on the embedded chain the EVM running in the server's own process.",
                ["chain", "clients", "requests/s", "vs verify_many", "p50 ms", "p99 ms"])
    for chain, clients, rate, p50, p99 in rows:
        s.rows.append([chain, str(clients), f"{rate:,.0f}", f"{rate / baselines[chain]:.0%}", f"{p50:.1f}",
                       f"{p99:.1f}"])
    return s


def _chain_load(chain: str, documents: int, requests_per_level: int) -> tuple[float, list[tuple[int, float, float,
                                                                                               float]]]:
    with tempfile.TemporaryDirectory() as work:
        node = _hardhat(Path(work)) if chain == "hardhat" else None
        try:
            args = [sys.executable, "-m", "crossverify.bench._service", str(documents), work]
            child = subprocess.Popen([*args, node[1]] if node else args, stdout=subprocess.PIPE, text=True)
            try:
                assert child.stdout is not None
                ready = json.loads(child.stdout.readline())
                bundles = [p.read_bytes() for p in sorted(Path(ready["bundles"]).glob("*.json"))]
                rows = []
                for level, clients in enumerate(LEVELS):
                    start = level * requests_per_level
                    mine = [bundles[(start + i) % len(bundles)] for i in range(requests_per_level)]
                    rows.append(_level(ready["port"], ready["key"], mine, clients))
            finally:
                child.terminate()
                child.wait(timeout=30)
        finally:
            if node:
                os.killpg(node[0].pid, signal.SIGTERM)
                node[0].wait(timeout=30)
    return float(ready["verify_many_per_s"]), rows


def _hardhat(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Hardhat node on a free loopback port (stopped by the caller, by its process group)."""
    if not HARDHAT.exists():
        raise SystemExit("node_modules/.bin/hardhat is missing: run ./scripts/setup")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([str(HARDHAT), "node", "--hostname", "127.0.0.1", "--port", str(port), "--config",
                                str(HARDHAT_CONFIG)], cwd=ROOT, env={**os.environ, "HARDHAT_CACHE": str(work / "hh")},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("POST", "/", b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
                               {"Content-Type": "application/json"})
            if connection.getresponse().status == 200:
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.3)
    os.killpg(process.pid, signal.SIGTERM)
    raise SystemExit("the Hardhat node did not answer within 90 s")


def _level(port: int, key: str, bundles: list[bytes], clients: int) -> tuple[int, float, float, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    share = len(bundles) // clients
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    connected = threading.Barrier(clients + 1)

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", "/healthz")  # connect first: the timed requests are keep-alive ones
        connection.getresponse().read()
        connected.wait()
        mine = []
        for body in bundles[offset * share:(offset + 1) * share]:
            started = time.perf_counter()
            connection.request("POST", "/v1/verifications", body, headers)
            reply = connection.getresponse()
            data = reply.read()
            mine.append(time.perf_counter() - started)
            assert reply.status == 200 and b'"valid":true' in data, data[:300]
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    connected.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return clients, len(latencies) / wall, cuts[49] * 1000, cuts[98] * 1000


def _serve(documents: int, work: Path, node_url: str | None) -> None:
    """The child: a chain (embedded, or the node at ``node_url``), a consortium, ``documents`` bundles, the
    baseline, then the service."""
    import uvicorn
    from web3 import Web3

    from ..config import Config, KeySettings, NetworkSettings, ServiceSettings, VerifierSettings
    from ..issuer.client import IssuerClient
    from ..issuer.journal import Journal
    from ..service.app import create_app
    from ..service.auth import new_key
    from ..session import Session
    from ..verifier.client import VerifierClient
    from ._sections import timed
    from ._world import ISSUER, statements, world

    w = world(w3=Web3(Web3.HTTPProvider(node_url)) if node_url else None)
    issuer = IssuerClient(w.registry, ISSUER, w.key, w.operator, Journal(work / "journal.sqlite"), work / "bundles")
    issuer.issue(statements(documents, now=w.now()))
    issuer.run(max_batch=1000)
    texts = [p.read_bytes() for p in sorted((work / "bundles" / ISSUER).glob("*.json"))]
    elapsed, reports = timed(lambda: VerifierClient(w.registry).verify_many(texts))
    assert all(r.valid for r in reports)
    key, digest = new_key()
    config = Config(network=NetworkSettings(registry=w.registry.address),
                    keys=KeySettings(sender_address=w.verifier),
                    verifier=VerifierSettings(outbox=work / "outbox.sqlite"),
                    service=ServiceSettings(api_keys={"bench": f"bank {digest}"}, requests_per_minute=10**9))
    app = create_app(Session(config, w3=w.w3))
    gc.freeze()  # as `crossverify serve` does: what setting up made is never scanned by the collector again
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    print(json.dumps({"port": port, "key": key, "bundles": str(work / "bundles" / ISSUER),
                      "verify_many_per_s": len(texts) / elapsed}), flush=True)
    while True:  # until the parent terminates us
        time.sleep(1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    _serve(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
