"""The bank's HTTP service under load: 1, 16 and 64 concurrent clients on the loopback, against the embedded chain
and against a Hardhat node, beside ``verify_many`` measured in the same server process.

The server runs in a child process (``python -m crossverify.bench._service N WORK [NODE_URL]``) that builds a
consortium on its chain, issues ``N`` bundles, times ``verify_many`` over their texts (warm, the best of 3),
then serves as a bank does (the HTTP server ``crossverify serve`` runs, with its outbox, its challenge store and
the circulation contract its receipts go to). This process drives it with keep-alive connections on one asyncio
event loop, each request written whole from bytes made before the clock starts and each answer read by its
status line and Content-Length (threads of ``http.client`` cost the machine three to five times the CPU per request,
taken from the server on two cores); the load generator, the server and the Hardhat node still share the
machine's cores. Each level sends bundles the others do not: what a verifier keeps between batches, the
statuses of the anchored batches as of the latest block, is shared by every level; each document's own
revocation is read with every request.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import http.client
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, closing
from pathlib import Path
from typing import TYPE_CHECKING

from ._clock import best, group_cpu, load, machine_cpu, process_cpu, supervised, supervised_cpu
from ._node import GROUPS, hardhat_node
from ._sections import Section

if TYPE_CHECKING:
    from ..config import Config

LEVELS = (1, 16, 64)
#: The server that checks each batch on its worker thread instead of its event loop, beside the one that does.
ON_THREAD = "hardhat, batches on a worker thread"
#: Clients for the levels served by two workers.
WORKER_LEVELS = (16, 64)
#: The server that records a sealed receipt of every verification (the bank gives a purpose code), beside the one
#: that does not.
WITH_RECEIPTS = "hardhat, with receipts"
#: The query by which a bank asks for a verification's receipt.
RECEIPT_QUERY = "?purpose=ACCTOPEN"


def service_load(documents: int, requests_per_level: int, chains: tuple[str, ...] = ("embedded", "hardhat")
                 ) -> Section:
    rows = []
    baselines: dict[str, dict[str, float]] = {}
    loads = []
    for chain in chains:
        baseline, measured = _chain_load(chain, documents, requests_per_level)
        baselines[chain] = baseline
        rows += measured
        loads.append(f"{chain}: {load()}")
    measured_baselines = ", ".join(
        f"{b['rate']:,.0f} documents/s on {chain} ({b['cpu_ms']:.2f} ms CPU each, {b['node_ms']:.2f} ms of the node's)"
        for chain, b in baselines.items())
    s = Section("Bank service under load",
                f"`POST /v1/verifications`, one bundle per request, from 1, 16 and 64 keep-alive clients on the "
                f"loopback ({requests_per_level:,} requests each level, bundles no other level sends, connections "
                f"made before the clock starts) against a server in its own process, configured as a bank runs it "
                f"(its receipt outbox, its challenge store, the circulation contract), on the embedded chain and on "
                f"a Hardhat node. The load generator is a third process (keep-alive connections on one asyncio loop, "
                f"requests prepared before the clock starts, answers read by status line and Content-Length: the "
                f"server does the same work for it as for any client), the Hardhat node a fourth: all share the "
                f"machine's cores. Each request is answered by the server's fast lane (the plain verification, read "
                f"and answered inside the HTTP protocol, no ASGI app per request); concurrent requests are coalesced "
                f"into one `verify_many`, which a server on a node checks on its event loop (docs/deploy.md); at "
                f"64 clients on the Hardhat node the same server then records a sealed receipt of every verification "
                f"(`{RECEIPT_QUERY}`: each batch's receipts queued in its outbox in one transaction before the "
                f"verdicts are written, then sealed and sent on chain by its outbox worker; the level's CPU counted "
                f"until every receipt is recorded), and checks its batches on its worker thread instead of its event "
                f"loop, as on the embedded chain, for comparison. "
                f"Baseline: `verify_many` over the texts of the same {documents:,} bundles in the server process, "
                f"warm, the best of 3 runs ({measured_baselines}). CPU per request is the server process's CPU "
                f"seconds over the level divided by its requests; beyond verification, what the service adds to "
                f"the baseline's CPU per document. On the Hardhat node the same chain and bundles are then served by "
                f"`crossverify serve --workers 2` (two processes, each on a socket of its own on the port; the CPU "
                f"is both workers', and in brackets each worker's share of it: the kernel spreads new connections "
                f"by their addresses' hash; they share the rate limit through a store), warmed by one untimed "
                f"level at {LEVELS[-1]} clients as the one process was by the levels before, sending "
                f"bundles of the earlier levels again (each worker, as the one process before it, keeps what the "
                f"registry says of each anchored batch at the latest block, and the checks made from it; each "
                f"document's revocation is read with every request). Cores busy: the "
                f"CPU seconds per second of the server, the node and the load generator together, of the whole "
                f"machine's busy cores (its {os.cpu_count()}, shared with whatever else runs). Goals: at 64 "
                f"clients >= 60% of the baseline, p99 < 150 ms on Hardhat; one client >= 200 requests/s; the "
                f"service's own code under 0.5 ms of CPU per request; two workers >= 1.6x one at 64 clients.",
                ["server", "clients", "requests/s", "vs verify_many", "p50 ms", "p99 ms", "server CPU ms per request",
                 "beyond verification", "node CPU ms per request", "load generator CPU ms per request",
                 "cores busy (of the machine's)"])
    one_worker = {clients: rate for server, clients, rate, *_ in rows if server == "hardhat"}
    for server, clients, rate, p50, p99, cpu_ms, node_ms, generator_ms, machine, shares in rows:
        b = baselines[server.split(",")[0]]
        versus = f"{rate / b['rate']:.0%}"
        if server.endswith("workers") and clients in one_worker:
            versus += f" ({rate / one_worker[clients]:.2f}x one worker)"
        if server == ON_THREAD:
            versus += f" (on the loop: {one_worker[clients] / rate:.2f}x this)"
        if server == WITH_RECEIPTS:
            versus += f" ({rate / one_worker[clients]:.2f}x without)"
        split = f" ({' / '.join(f'{share:.0%}' for share in shares)})" if shares else ""
        busy = rate * (cpu_ms + node_ms + generator_ms) / 1000
        s.rows.append([server, str(clients), f"{rate:,.0f}", versus, f"{p50:.1f}", f"{p99:.1f}",
                       f"{cpu_ms:.2f}{split}", f"{cpu_ms - b['cpu_ms']:.2f}",
                       f"{node_ms:.2f}" if server != "embedded" else "", f"{generator_ms:.2f}",
                       f"{busy:.2f} of {machine:.2f}"])
    s.load = "; ".join(loads)
    s.notes = _ceilings(rows, baselines)
    return s


def _ceilings(rows: list[Level], baselines: dict[str, dict[str, float]]) -> str:
    """What the CPU per request allows at 64 clients: the rate one process serving with a core to itself could
    reach (its event loop and its verification share one interpreter lock), against the baseline."""
    said = []
    for server, clients, _, _, _, cpu_ms, node_ms, generator_ms, _, _ in rows:
        if clients == LEVELS[-1] and server in baselines:
            b = baselines[server]
            ceiling = 1000 / cpu_ms
            beside = f"the node's {node_ms:.2f} ms and " if server != "embedded" else ""
            said.append(f"on {server}, {cpu_ms:.2f} ms of server CPU per request (the baseline's {b['cpu_ms']:.2f} "
                        f"ms per document included) allow at most {ceiling:,.0f} requests/s, {ceiling / b['rate']:.0%} "
                        f"of the baseline, with {beside}the load generator's {generator_ms:.2f} ms per request on "
                        f"the other core (60% of the baseline would need at most {1000 / (0.6 * b['rate']):.2f} ms "
                        f"of server CPU per request, and the whole core)")
    text = ("Ceilings at 64 clients, for one process with a core to itself: " + "; ".join(said) + ".") if said else ""
    return " ".join(filter(None, [text, _workers_ceiling(rows)]))


def _workers_ceiling(rows: list[Level]) -> str:
    """What the machine's cores allow two workers against one at 64 clients, from the CPU each spent per request
    (server, node and load generator, which all run on the same cores): the most any scheduling could give."""
    spent = {server: (rate, cpu_ms, cpu_ms + node_ms + generator_ms)
             for server, clients, rate, _, _, cpu_ms, node_ms, generator_ms, _, _ in rows
             if clients == LEVELS[-1] and server.startswith("hardhat")}
    if "hardhat" not in spent or "hardhat, 2 workers" not in spent:
        return ""
    (one_rate, one_server, one_total), (two_rate, two_server, two_total) = spent["hardhat"], spent["hardhat, 2 workers"]
    cores = os.cpu_count() or 1
    one = min(1000 / one_server, cores * 1000 / one_total)  # one interpreter lock: at most a core for the server
    two = cores * 1000 / two_total
    return (f"Two workers against one, at 64 clients on Hardhat: one process spent {one_total:.2f} ms of CPU per "
            f"request in all ({one_server:.2f} of them the server's, on one core), two workers {two_total:.2f} ms "
            f"({two_server:.2f} the servers'; each worker verifies half the clients in half-size batches, each "
            f"paying its own `verify_many` and node round trip): with the machine's {cores} cores to themselves "
            f"two workers could serve at most {two:,.0f} requests/s, {two / one_rate:.2f}x the {one_rate:,.0f} one "
            f"process served and {two / one:.2f}x the {one:,.0f} it could serve with a core to itself (measured: "
            f"{two_rate / one_rate:.2f}x).")


#: One level's figures: server, clients, requests/s, p50 and p99 ms, CPU ms per request of the server, the node
#: and the load generator, the whole machine's busy cores, and each worker's share of the server's CPU (none for
#: one process).
Level = tuple[str, int, float, float, float, float, float, float, float, list[float]]


def _chain_load(chain: str, documents: int, requests_per_level: int) -> tuple[dict[str, float], list[Level]]:
    with tempfile.TemporaryDirectory() as work, ExitStack() as stack:
        url = stack.enter_context(hardhat_node(Path(work) / "hardhat")) if chain == "hardhat" else None
        node = GROUPS.get(url) if url else None
        args = [sys.executable, "-m", "crossverify.bench._service", str(documents), work]
        child = subprocess.Popen([*args, url, str(node)] if url else args, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None and child.stdin is not None
            ready = json.loads(child.stdout.readline())
            bundles = [p.read_bytes() for p in sorted(Path(ready["bundles"]).glob("*.json"))]
            rows: list[Level] = []
            plan = [(chain, clients) for clients in LEVELS]
            if url:
                plan += [(WITH_RECEIPTS, LEVELS[-1]), (ON_THREAD, LEVELS[-1]),
                         *[(f"{chain}, 2 workers", clients) for clients in WORKER_LEVELS]]
            for level, (server, clients) in enumerate(plan):
                if server == ON_THREAD:
                    child.stdin.write("on thread\n")
                    child.stdin.flush()
                    ready = json.loads(child.stdout.readline())
                elif server.endswith("workers") and ready.get("workers") is None:
                    child.stdin.write("workers 2\n")
                    child.stdin.flush()
                    ready = json.loads(child.stdout.readline())
                    # warmed as the one process was by the levels before: untimed, from every client at once,
                    # with the bundles of the level before (no workers' level sends them)
                    warm = (level - 1) * requests_per_level
                    _level(ready["port"], ready["key"],
                           [bundles[(warm + i) % len(bundles)] for i in range(requests_per_level)], LEVELS[-1])
                group = ready.get("workers")
                start = level * requests_per_level
                mine = [bundles[(start + i) % len(bundles)] for i in range(requests_per_level)]
                server_before, node_before = _server_cpu(child.pid, group), group_cpu(node)
                generator_before, machine_before, wall_before = time.process_time(), machine_cpu(), time.monotonic()
                receipts = server == WITH_RECEIPTS
                measured = _level(ready["port"], ready["key"], mine, clients, RECEIPT_QUERY if receipts else "")
                if receipts:  # the level's CPU includes recording its receipts on chain
                    _recorded(Path(work) / "outbox.sqlite")
                machine = (machine_cpu() - machine_before) / (time.monotonic() - wall_before)
                generator_ms = (time.process_time() - generator_before) / requests_per_level * 1000
                server_after = _server_cpu(child.pid, group)
                cpu_ms = sum(server_after.values()) - sum(server_before.values())
                node_ms = (group_cpu(node) - node_before) / requests_per_level * 1000
                shares = sorted((server_after[p] - server_before.get(p, 0.0)) / cpu_ms for p in server_after)
                rows.append((server, *measured, cpu_ms / requests_per_level * 1000, node_ms, generator_ms,
                             machine, shares if group else []))
        finally:
            child.terminate()
            child.wait(timeout=60)
    return ready["baseline"], rows


def _recorded(outbox: Path, timeout: float = 120.0) -> None:
    """Wait until the outbox at ``outbox`` has recorded on chain every receipt it holds (a request is answered
    once its receipt is queued: after a level, all of its receipts are)."""
    deadline = time.monotonic() + timeout
    while True:
        with closing(sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=10)) as db:
            (left,) = db.execute("SELECT COUNT(*) FROM sealed_receipts WHERE state != 'recorded'").fetchone()
        if not left:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"the outbox had {left} receipts left to record after {timeout:g} s")
        time.sleep(0.05)


def _server_cpu(child: int, supervisor: int | None) -> dict[int, float]:
    """CPU seconds of the server by process: the child serving in process, or each worker under ``supervisor``
    (its own CPU is the supervisor's pings, left out)."""
    return {child: process_cpu(child)} if supervisor is None else supervised_cpu(supervisor)


def _level(port: int, key: str, bundles: list[bytes], clients: int, query: str = ""
           ) -> tuple[int, float, float, float]:
    """``bundles`` sent by ``clients`` keep-alive connections, each a request at a time (with ``query``): the
    clients, requests per second, p50 and p99 seconds."""
    return asyncio.run(_clients(port, key, bundles, clients, query))


async def _clients(port: int, key: str, bundles: list[bytes], clients: int, query: str
                   ) -> tuple[int, float, float, float]:
    share = len(bundles) // clients
    head = (f"POST /v1/verifications{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: ").encode()
    latencies: list[float] = []
    connections = [await _connected(port) for _ in range(clients)]  # before the clock starts

    async def client(offset: int) -> None:
        reader, writer = connections[offset]
        requests = [b"%s%d\r\n\r\n%s" % (head, len(body), body)
                    for body in bundles[offset * share:(offset + 1) * share]]
        for request in requests:
            started = time.perf_counter()
            writer.write(request)
            status, data = await _answer(reader)
            latencies.append(time.perf_counter() - started)
            assert status == 200 and b'"valid":true' in data, data[:300]
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    wall = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return clients, len(latencies) / wall, cuts[49] * 1000, cuts[98] * 1000


async def _connected(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A keep-alive connection to the server, that has had its first answer (``GET /healthz``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    status, _ = await _answer(reader)
    assert status == 200
    return reader, writer


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The status and body of the next answer on ``reader`` (the server gives every answer a Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    return int(head[9:12]), await reader.readexactly(length)


def _serve(documents: int, work: Path, node_url: str | None, node: int | None) -> None:
    """The child: a chain (embedded, or the node at ``node_url``, process group ``node``), a consortium,
    ``documents`` bundles, the baseline, then the service, configured as a bank runs it."""
    import uvicorn

    from ..chain.connection import connect
    from ..config import Config, KeySettings, NetworkSettings, ServiceSettings, VerifierSettings
    from ..issuer.client import IssuerClient
    from ..issuer.journal import Journal
    from ..service import server as service_server
    from ..service.app import create_app
    from ..service.auth import new_key
    from ..session import Session
    from ..verifier.client import VerifierClient
    from ._world import ISSUER, statements, world

    w = world(w3=connect(node_url) if node_url else None)
    issuer = IssuerClient(w.registry, ISSUER, w.key, w.operator, Journal(work / "journal.sqlite"), work / "bundles")
    issuer.issue(statements(documents, now=w.now()))
    issuer.run(max_batch=1000)
    texts = [p.read_bytes() for p in sorted((work / "bundles" / ISSUER).glob("*.json"))]
    verifier = VerifierClient(w.registry)
    warm, reports = best(lambda: verifier.verify_many(texts), node)
    assert all(r.valid for r in reports)
    key, digest = new_key()
    config = Config(network=NetworkSettings(rpc=node_url or "embedded", registry=w.registry.address,
                                            circulation=w.circulation.address),
                    keys=KeySettings(sender_address=w.verifier),
                    verifier=VerifierSettings(outbox=work / "outbox.sqlite", audience="ICBKCNBJGDG",
                                              challenges=work / "challenges.sqlite"),
                    service=ServiceSettings(api_keys={"bench": f"bank {digest}"}, requests_per_minute=10**9,
                                            rate_limits=work / "limits.sqlite"))
    app = create_app(Session(config, w3=w.w3))
    gc.freeze()  # as `crossverify serve` does: what setting up made is never scanned by the collector again
    server = uvicorn.Server(service_server.config(app, config.service, host="127.0.0.1", port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    baseline = {"rate": len(texts) / warm.wall, "cpu_ms": warm.cpu / len(texts) * 1000,
                "node_ms": warm.node / len(texts) * 1000}
    ready = {"port": port, "key": key, "bundles": str(work / "bundles" / ISSUER), "baseline": baseline}
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:  # "on thread": batches on the queue's worker thread; "workers N": N processes instead
        if line.startswith("on thread"):
            app.state.context.queue.on_loop = False
            print(json.dumps(ready), flush=True)
            continue
        server.should_exit = True
        workers = _serve_in_workers(config, work, int(line.split()[1]))
        print(json.dumps({**ready, **workers}), flush=True)
    while True:  # until the parent terminates us
        time.sleep(1)


def _serve_in_workers(config: Config, work: Path, workers: int) -> dict[str, int]:
    """``crossverify serve --workers N`` for ``config`` in its own process group (ended with this process); its
    port and process group."""
    network, verifier = config.network, config.verifier
    keys = "\n".join(f'{name} = "{entry}"' for name, entry in config.service.api_keys.items())
    (work / "bank.toml").write_text(
        f'[network]\nrpc = "{network.rpc}"\nregistry = "{network.registry}"\ncirculation = "{network.circulation}"\n'
        f'[keys]\nsender_address = "{config.keys.sender_address}"\n'
        f'[verifier]\noutbox = "{verifier.outbox}"\naudience = "{verifier.audience}"\n'
        f'challenges = "{verifier.challenges}"\n'
        f'[service]\nrequests_per_minute = {config.service.requests_per_minute}\n'
        f'rate_limits = "{config.service.rate_limits}"\n[service.api_keys]\n{keys}\n')
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    process = subprocess.Popen([sys.executable, "-m", "crossverify.cli", "--config", str(work / "bank.toml"), "serve",
                                "--workers", str(workers), "--port", str(port)], start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    atexit.register(lambda: os.killpg(process.pid, signal.SIGTERM))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so that the workers end with us
    deadline = time.monotonic() + 120
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200 and _workers_up(process.pid, workers):
                return {"port": port, "workers": process.pid}
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"crossverify serve --workers {workers} did not start")
        time.sleep(0.3)


def _workers_up(supervisor: int, workers: int) -> bool:
    """Whether the supervisor has its ``workers`` processes (each answers once started)."""
    return len(supervised(supervisor)) >= workers


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    _serve(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None,
           int(sys.argv[4]) if len(sys.argv) > 4 else None)
