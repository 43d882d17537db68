"""The bank's HTTP service under load: 1, 16 and 64 concurrent clients on the loopback, beside ``verify_many``
measured in the same server process.

The server runs in a child process (``python -m crossverify.bench._service N``) that builds a chain, issues
``N`` bundles, times ``verify_many`` over them, then serves; this process drives it with keep-alive clients in
threads, so the load generator and the server do not share an interpreter lock.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from ._sections import Section

LEVELS = (1, 16, 64)


def service_load(documents: int, requests_per_level: int) -> Section:
    with tempfile.TemporaryDirectory() as work:
        child = subprocess.Popen([sys.executable, "-m", "crossverify.bench._service", str(documents), work],
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            ready = json.loads(child.stdout.readline())
            bundles = [p.read_bytes() for p in sorted(Path(ready["bundles"]).glob("*.json"))]
            url, key = f"http://127.0.0.1:{ready['port']}/v1/verifications", ready["key"]
            rows = [_level(url, key, bundles, c, requests_per_level) for c in LEVELS]
        finally:
            child.terminate()
            child.wait(timeout=30)
    baseline = ready["verify_many_per_s"]
    s = Section("Bank service under load",
                f"`POST /v1/verifications`, one bundle per request, from 1, 16 and 64 keep-alive clients on the "
                f"loopback ({requests_per_level:,} requests each level) against a server on the embedded chain. "
                f"Concurrent requests are coalesced into one `verify_many` under the service's chain lock. Baseline: "
                f"`verify_many` over the same {documents:,} bundles in the server process "
                f"({baseline:,.0f} documents/s). Goal at 64 clients: >= 50% of the baseline.",
                ["clients", "requests/s", "vs verify_many", "p50 ms", "p99 ms"])
    for clients, rate, p50, p99 in rows:
        s.rows.append([str(clients), f"{rate:,.0f}", f"{rate / baseline:.0%}", f"{p50:.1f}", f"{p99:.1f}"])
    return s


def _level(url: str, key: str, bundles: list[bytes], clients: int, total: int) -> tuple[int, float, float, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = max(1, total // clients)

    def client(offset: int) -> None:
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {key}"
            mine = []
            for i in range(per_client):
                body = bundles[(offset * per_client + i) % len(bundles)]
                started = time.perf_counter()
                reply = http.post(url, data=body, timeout=60)
                mine.append(time.perf_counter() - started)
                assert reply.status_code == 200 and reply.json()["valid"], reply.text[:300]
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return clients, len(latencies) / wall, cuts[49] * 1000, cuts[98] * 1000


def _serve(documents: int, work: Path) -> None:
    """The child: a chain, a consortium, ``documents`` bundles, the baseline, then the service."""
    import uvicorn

    from ..config import Config, KeySettings, NetworkSettings, ServiceSettings, VerifierSettings
    from ..issuer.client import IssuerClient
    from ..issuer.journal import Journal
    from ..service.app import create_app
    from ..service.auth import new_key
    from ..session import Session
    from ..verifier.client import VerifierClient
    from ._sections import timed
    from ._world import ISSUER, statements, world

    w = world()
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
    _serve(int(sys.argv[1]), Path(sys.argv[2]))
