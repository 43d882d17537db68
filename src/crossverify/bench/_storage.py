"""The stores on PostgreSQL beside SQLite, in the same run: the regulator's index of a million sealed receipts
synced and opened, and queried; the bank's service with 1, 2 and 4 replicas over one database; and what the
exactly-once receipt outbox costs per receipt on each engine.

PostgreSQL runs with its durable defaults (``fsync``, synchronous commit), as SQLite runs with ``synchronous
= FULL``; its server's CPU time is read from /proc and given beside this process's.
"""

from __future__ import annotations

import http.client
import os
import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..chain.connection import connect
from ..chain.records import Role
from ..consortium.operator import OperatorClient
from ..issuer.client import IssuerClient
from ..issuer.journal import Journal
from ..regulator.circulation import PURPOSES, CirculationTrail
from ..regulator.index import RegulatorReader
from ..regulator.queries import Supervision
from ..sealing import Receipt, seal_receipts
from ..service.auth import new_key
from ..store import Location
from ..verifier.outbox import RECEIPTS_PER_TX, ReceiptOutbox
from ._clock import load
from ._console import ninety_fifth, questions_of
from ._node import hardhat_node
from ._postgres import PostgresServer, postgres_server
from ._sections import Section
from ._world import ISSUER, REGULATORS, World, statements, world

#: Receipts per transaction when the index's receipts are emitted (one `ReceiptsSealed` event each), the banks
#: recording them, and the document types they name.
PER_EVENT = 500
BANKS = 5
TYPES = ("DEPCERT", "ACCTSTMT")
DAY = 86400
REPLICAS = (1, 2, 4)
CLIENTS = 64


@contextmanager
def _clock(server: PostgresServer | None = None) -> Iterator[dict[str, float]]:
    """Wall seconds, this process's CPU seconds and the PostgreSQL server's, of the block it wraps."""
    out: dict[str, float] = {}
    wall, cpu, db = time.perf_counter(), time.process_time(), _server_cpu(server)
    yield out
    out.update(wall=time.perf_counter() - wall, cpu=time.process_time() - cpu, db=_server_cpu(server) - db)


def _server_cpu(server: PostgresServer | None) -> float:
    """CPU seconds the server's processes have used: the postmaster with its reaped children, and the live ones."""
    if server is None or not (server.data / "postmaster.pid").exists():
        return 0.0
    master = int((server.data / "postmaster.pid").read_text().split()[0])
    ticks, total = os.sysconf("SC_CLK_TCK"), 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == master:
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        elif int(fields[1]) == master:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def _cpu(c: dict[str, float]) -> str:
    return f"{c['cpu']:.1f} + {c['db']:.1f}" if c["db"] else f"{c['cpu']:.1f}"


# -- the regulator's index -------------------------------------------------------------------------------------


def storage_index(n: int, root: Path) -> Section:
    """``n`` sealed receipts on a Hardhat node, synced and opened into a fresh index on each engine; queries, and
    every page the regulator's console reads."""
    with hardhat_node(root / "hardhat") as url:
        w = world(w3=connect(url, chain_id=1337))
        banks = _admit_banks(w, BANKS)
        with _clock() as emitted:
            digests = _emit(w, n, banks)
        loads = [f"emitting {load()}"]
        with postgres_server(settings=()) as server:
            results = {}
            for engine in ("sqlite", "postgresql"):
                results[engine] = _index_on(engine, w, n, digests, banks, root, server)
                loads.append(f"after {engine} {load()}")
    s = Section(
        "Regulator index on PostgreSQL and SQLite",
        f"{n:,} sealed receipts (X25519, two regulators, {PER_EVENT} to a `ReceiptsSealed` event) on a Hardhat "
        f"node over a year of chain time, from {len(banks)} banks, for {len(PURPOSES)} purposes, of one issuer's two "
        "document types (1% stating no consent, 39% in person, the rest a signed presentation), synced by the "
        "second regulator into a fresh index on each engine: events indexed, every receipt opened into the "
        "trail's tables and its anomalies raised. SQLite with `synchronous = FULL` in a file; PostgreSQL 15 with "
        "its durable defaults on a Unix socket of the same machine. The baseline is SQLite in the same run; CPU "
        "is this process's, plus the database server's for PostgreSQL (`+`), and the ratio compares wall time "
        "and CPU (both processes) to SQLite's. Queries at that size: a document's trail "
        "(`CirculationTrail.circulation`, by the indexed digest; mean of 200 random documents), a page of 100 "
        "receipts in chain order after a position in the middle (keyset on the primary key `id`, which numbers "
        "the rows in chain order), receipts per bank (one aggregate over the table), the whole circulation "
        "report, and then every page the console reads, "
        "asked as its routes ask them (`Supervision`, the same questions as the console section: a page is 50 "
        "rows, newest first, continued by keyset; median and 95th percentile of each kind, CPU per page).",
        ["step", "engine", "wall", "p95", "CPU", "receipts/s", "vs SQLite", "size"])
    s.rows.append(["emitting the receipts (Hardhat)", "", _duration(emitted["wall"]), "", _duration(emitted["cpu"]),
                   f"{n / emitted['wall']:,.0f}", "", ""])
    base = results["sqlite"]
    for step in base:
        for engine, measured in results.items():
            m, b = measured[step], base[step]
            ratio = "baseline" if engine == "sqlite" else \
                f"{m.wall / b.wall:.2f}x wall, {(m.cpu + m.db) / max(b.cpu + b.db, 1e-9):.2f}x CPU"
            s.rows.append([step if engine == "sqlite" else "", engine, _duration(m.wall),
                           _duration(m.p95) if m.p95 is not None else "", _duration(m.cpu) + (
                               f" + {_duration(m.db)}" if engine == "postgresql" else ""), m.rate, ratio, m.size])
    s.load = "; ".join(loads)
    return s


@dataclass(frozen=True)
class _Step:
    """One measured step: wall seconds (a page's median), this process's CPU seconds and the server's (per page
    for pages), the 95th percentile of pages, a rate, the store's size."""

    wall: float
    cpu: float
    db: float = 0.0
    p95: float | None = None
    rate: str = ""
    size: str = ""


def _duration(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:,.1f} s"
    if seconds >= 0.01:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds * 1000:.2f} ms"


def _admit_banks(w: World, count: int) -> list[str]:
    """``count`` banks: the world's verifier and more of the node's accounts, admitted by both operators."""
    accounts = list(w.w3.eth.accounts)
    macao, guangdong = (OperatorClient(w.registry, account) for account in accounts[:2])
    banks = [w.verifier]
    for account in accounts[4:4 + count - 1]:
        guangdong.approve(macao.propose_admit_member(account, Role.VERIFIER))
        banks.append(str(account))
    return banks


def _emit(w: World, n: int, banks: list[str]) -> list[bytes]:
    """``n`` receipts of distinct documents recorded on ``w`` over a year of chain time by ``banks`` (some much
    busier than others); their digests."""
    rng = random.Random(3)
    digests = [secrets.token_bytes(32) for _ in range(n)]
    keys = [k.public_key for k in REGULATORS]
    events = -(-n // PER_EVENT)
    step = 364 * DAY // events
    for start in range(0, n, PER_EVENT):
        w.w3.provider.make_request("evm_increaseTime", [step])  # type: ignore[arg-type]
        now = w.now()
        receipts = []
        for digest in digests[start:start + PER_EVENT]:
            roll = rng.random()
            consent: dict[str, Any] = {} if roll < 0.01 else {"case": f"C-{start}"} if roll < 0.4 else \
                {"presentation_hash": rng.randbytes(32)}
            receipts.append(Receipt.new(digest, ISSUER, rng.choice(TYPES), secrets.token_bytes(32),
                                        rng.choice(list(PURPOSES)), now - rng.randrange(60, 3600), **consent))
        batch = seal_receipts(receipts, keys)
        bank = banks[min(int(rng.paretovariate(1.2)) - 1, len(banks) - 1)]
        w.circulation.record(batch.commitments, batch.sealed, bank)
    return digests


def _index_on(engine: str, w: World, n: int, digests: list[bytes], banks: list[str], root: Path,
              server: PostgresServer) -> dict[str, _Step]:
    location: Location = root / "index.sqlite" if engine == "sqlite" else server.create_database("index")
    pg = server if engine == "postgresql" else None  # an idle server's CPU is not this engine's
    now = w.now()  # disputes age by it; read once, not per query
    trail = CirculationTrail(RegulatorReader(w.registry, location, circulation=w.circulation), [REGULATORS[1]],
                             now=lambda: now)
    with _clock(pg) as c:
        _, opened = trail.sync()
    assert opened.receipts == n and opened.unreadable == 0
    out = {"full sync and open": _Step(c["wall"], c["cpu"], c["db"], rate=f"{n / c['wall']:,.0f}",
                                       size=_size(trail.reader, location))}
    picks = random.Random(7).sample(digests, min(200, n))
    with _clock(pg) as c:
        trails = [trail.circulation(d) for d in picks]
    assert all(len(t.receipts) == 1 for t in trails)
    out["a document's trail (one lookup)"] = _per(c, len(picks))
    db = trail.reader.store.db
    middle = db.execute("SELECT id FROM circulation_receipts ORDER BY id LIMIT 1 OFFSET ?", (n // 2,)).fetchone()
    with _clock(pg) as c:
        for _ in range(100):
            page = db.execute("SELECT verifier, block_time, document_digest, purpose FROM circulation_receipts WHERE "
                              "id > ? ORDER BY id LIMIT 100", tuple(middle)).fetchall()
    assert len(page) == min(100, n - n // 2 - 1)
    out["a page of 100 in chain order (keyset)"] = _per(c, 100)
    with _clock(pg) as c:
        per_bank = db.execute("SELECT verifier, COUNT(*) FROM circulation_receipts GROUP BY verifier").fetchall()
    assert sum(count for _, count in per_bank) == n
    out["receipts per bank (aggregate)"] = _Step(c["wall"], c["cpu"], c["db"], rate=f"{n / c['wall']:,.0f}")
    supervision = Supervision(trail.reader, trail, now=lambda: now)
    with _clock(pg) as c:
        report = supervision.report()
    assert report.circulation is not None and report.circulation["receipts"] == n
    out["circulation report"] = _Step(c["wall"], c["cpu"], c["db"], rate=f"{n / c['wall']:,.0f}")
    end = int(db.execute("SELECT MAX(block_time) FROM circulation_receipts").fetchone()[0])
    for label, questions in questions_of(supervision, end, banks, [(ISSUER, t) for t in TYPES]):
        times = []
        with _clock(pg) as c:
            for ask in questions:
                started = time.perf_counter()
                ask()
                times.append(time.perf_counter() - started)
        out[f"console: {label}"] = _Step(statistics.median(times), c["cpu"] / len(times), c["db"] / len(times),
                                         p95=ninety_fifth(times))
    trail.reader.close()
    return out


def _per(c: dict[str, float], count: int) -> _Step:
    return _Step(c["wall"] / count, c["cpu"] / count, c["db"] / count)


def _size(reader: RegulatorReader, location: Location) -> str:
    if reader.store.engine == "sqlite":
        path = Path(location)
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if not p.name.endswith(".lock"))
    else:
        size = int(reader.store.db.execute(
            "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = "
            "c.relnamespace WHERE n.nspname = ? AND c.relkind = 'r'", (reader.store.schema,)).fetchone()[0])
    return f"{size / 2**20:,.0f} MiB"


# -- the exactly-once outbox -----------------------------------------------------------------------------------


def storage_outbox(n: int, history: int, root: Path) -> Section:
    """Receipts recorded through the outbox on each engine, beside the same receipts sealed and sent directly, and
    beside ``history`` receipts recorded before."""
    s = Section(
        "Exactly-once receipt outbox on each engine",
        f"{n:,} verification receipts recorded on the embedded chain, 200 to a transaction, one envelope each. "
        "The floor seals and sends the same receipts directly (`VerifierClient.record` without an outbox: nothing "
        "is journalled, a crash may lose or double them); through the outbox each receipt is first queued with its "
        "plaintext, each transaction's hash journalled before its broadcast and its receipts claimed, then marked "
        "recorded. Then the same through an outbox that holds "
        f"{history:,} receipts recorded and final before (a bank's years; written straight into its table before "
        "the clock starts, and on PostgreSQL analyzed, as its autovacuum would have): a flush reads what it settles, "
        "so they should cost nothing. Best of 3 runs each, fresh "
        "chain and store per run; the difference to the floor is what exactly-once costs per receipt.",
        ["path", "engine", "seconds", "CPU s", "µs per receipt", "over the floor per receipt"])
    with postgres_server(settings=()) as server:
        floor = min((_record(n, None, server) for _ in range(3)), key=lambda c: c["wall"])
        s.rows.append(["sealed and sent directly (floor)", "", f"{floor['wall']:.2f}", _cpu(floor),
                       f"{floor['wall'] / n * 1e6:,.0f}", ""])
        for before in (0, history):
            for engine in ("sqlite", "postgresql"):
                runs = []
                for i in range(3):
                    location: Location = root / f"outbox-{before}-{i}.sqlite" if engine == "sqlite" else \
                        server.create_database(f"outbox_{before}_{i}")
                    runs.append(_record(n, location, server, before))
                best = min(runs, key=lambda c: c["wall"])
                path = f"through the outbox, beside {before:,} recorded before" if before else "through the outbox"
                s.rows.append([path, engine, f"{best['wall']:.2f}", _cpu(best), f"{best['wall'] / n * 1e6:,.0f}",
                               f"{(best['wall'] - floor['wall']) / n * 1e6:+,.0f} µs"])
    return s


def _record(n: int, location: Location | None, server: PostgresServer, history: int = 0) -> dict[str, float]:
    """Record ``n`` receipts on a fresh chain: sealed and sent directly (``location`` None), or through an outbox
    at ``location`` holding ``history`` receipts recorded before; the clock of it."""
    w = world()
    keys = [k.public_key for k in REGULATORS]
    now = w.now()
    receipts = [Receipt.new(secrets.token_bytes(32), ISSUER, "DEPCERT", secrets.token_bytes(32), "ACCTOPEN", now,
                            case="ACCTOPEN-1") for _ in range(n)]
    outbox = None if location is None else ReceiptOutbox(location)
    if outbox is not None and history:
        _recorded_before(outbox, history, bytes(w.w3.eth.get_block(0)["hash"]))
    with _clock(server) as c:
        if outbox is None:  # what VerifierClient.record does without an outbox
            for start in range(0, n, RECEIPTS_PER_TX):
                batch = seal_receipts(receipts[start:start + RECEIPTS_PER_TX], keys)
                w.circulation.record(batch.commitments, batch.sealed, w.verifier)
        else:
            outbox.enqueue(receipts)
            done = outbox.flush(w.circulation, w.verifier)
    if outbox is not None:
        assert done.recorded == n and done.transactions == -(-n // RECEIPTS_PER_TX)
        assert outbox.counts() == {"recorded": n + history}
        outbox.close()
    return c


def _recorded_before(outbox: ReceiptOutbox, count: int, genesis: bytes) -> None:
    """Write ``count`` receipts recorded and final into ``outbox``, as if in the genesis block (which stays the
    chain's, so none is checked again), in one statement the engine runs on its own."""
    if outbox.store.engine == "postgresql":
        rows, random = "generate_series(1, ?)", "decode(md5(random()::text) || md5(random()::text), 'hex')"
    else:
        rows = "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) SELECT i FROM n)"
        random = "randomblob(32)"
    with outbox.store.transaction() as db:
        db.execute("INSERT INTO sealed_receipts (commitment, plaintext, document_digest, purpose, reference, state, "
                   f"tx_hash, block, block_hash, final) SELECT {random}, {random}, {random}, 'ACCTOPEN', '', "
                   f"'recorded', {random}, 0, ?, 1 FROM {rows} AS history", (genesis, count))
    if outbox.store.engine == "postgresql":  # the statistics PostgreSQL's autovacuum keeps of a table years old
        with outbox.store.transaction() as db:
            db.execute("ANALYZE sealed_receipts")


# -- the service, replicated -----------------------------------------------------------------------------------


def storage_replicas(requests_per_level: int, root: Path) -> Section:
    """The bank's service as 1, 2 and 4 replicas over one PostgreSQL database at 64 clients, beside one service
    on SQLite files."""
    s = Section(
        f"Bank service replicas over one PostgreSQL ({CLIENTS} clients)",
        f"`POST /v1/verifications?purpose=ACCTOPEN&case=...` (every verification queues its receipt: the rate "
        f"limit and the outbox in the store), {requests_per_level:,} requests per row from {CLIENTS} keep-alive "
        "clients spread over the replicas, against `crossverify serve` processes on a Hardhat node; the replicas "
        "flush the outbox one at a time while they serve. Baseline: one process on SQLite files (the "
        "single-machine default) in the same run. Every process (replicas, PostgreSQL, the node, the load "
        f"generator) shares this machine's {os.cpu_count()} cores, so more replicas add no cores here: the rows "
        "show what sharing the database costs, not what a replica on its own machine adds. Load average when "
        f"measured: {os.getloadavg()[0]:.1f}.",
        ["storage", "replicas", "requests/s", "p50 ms", "p99 ms", "vs SQLite", "receipts recorded once"])
    with hardhat_node(root / "hardhat") as url, postgres_server(settings=()) as server:
        w = world(w3=connect(url, chain_id=1337))
        bundles = _bundles(w, requests_per_level * (1 + len(REPLICAS)), root)
        baseline = _replicated(w, url, None, 1, bundles[:requests_per_level], root / "sqlite")
        s.rows.append(["SQLite files", "1", f"{baseline[0]:,.0f}", f"{baseline[1]:.0f}", f"{baseline[2]:.0f}",
                       "baseline", baseline[3]])
        for i, count in enumerate(REPLICAS, start=1):
            mine = bundles[i * requests_per_level:(i + 1) * requests_per_level]
            measured = _replicated(w, url, server.create_database(f"bank_{count}"), count, mine,
                                   root / f"pg{count}")
            s.rows.append(["PostgreSQL", str(count), f"{measured[0]:,.0f}", f"{measured[1]:.0f}",
                           f"{measured[2]:.0f}", f"{measured[0] / baseline[0]:.2f}x", measured[3]])
    return s


def _bundles(w: World, n: int, root: Path) -> list[bytes]:
    issuer = IssuerClient(w.registry, ISSUER, w.key, w.operator, Journal(root / "journal.sqlite"), root / "bundles")
    issuer.issue(statements(n, now=w.now()))
    issuer.run(max_batch=1000)
    issuer.journal.close()
    return [p.read_bytes() for p in sorted((root / "bundles" / ISSUER).glob("*.json"))]


def _replicated(w: World, node_url: str, url: str | None, count: int, bundles: list[bytes],
                folder: Path) -> tuple[float, float, float, str]:
    """Requests/s, p50 and p99 ms of ``bundles`` posted to ``count`` replicas, and whether every receipt was
    recorded once once the outboxes drained."""
    folder.mkdir(parents=True)
    key, digest = new_key()
    config = folder / "bank.toml"
    config.write_text(f"""
[network]
rpc = "{node_url}"
registry = "{w.registry.address}"
circulation = "{w.circulation.address}"
gas_price = 0
[keys]
sender_address = "{w.verifier}"
[verifier]
outbox = "outbox.sqlite"
[service]
api_keys = {{ bench = "bank {digest}" }}
requests_per_minute = 1000000000
""" + ("" if url is None else f'[storage]\nurl = "{url}"\n'))
    before = len(_commitments(w))
    processes = []
    try:
        ports = []
        for i in range(count):
            with socket_port() as port:
                ports.append(port)
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "crossverify.cli", "--config", str(config), "serve", "--port", str(port)],
                stdout=(folder / f"replica-{i}.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True))
        for port in ports:
            _wait_up(port)
        rate, p50, p99 = _load(ports, key, bundles)
        deadline = time.monotonic() + 300
        while len(_commitments(w)) < before + len(bundles) and time.monotonic() < deadline:
            time.sleep(0.5)
        recorded = _commitments(w)[before:]
        once = "yes" if len(recorded) == len(set(recorded)) == len(bundles) else \
            f"no: {len(recorded)} on chain, {len(set(recorded))} distinct"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    return rate, p50, p99, once


@contextmanager
def socket_port() -> Iterator[int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    yield port


def _wait_up(port: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the replica on port {port} did not start")


def _commitments(w: World) -> list[bytes]:
    return [bytes(c) for e in w.circulation.events() if e.name == "ReceiptsSealed" for c in e.args["commitments"]]


def _load(ports: list[int], key: str, bundles: list[bytes]) -> tuple[float, float, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    share = len(bundles) // CLIENTS
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    connected = threading.Barrier(CLIENTS + 1)

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", ports[offset % len(ports)], timeout=120)
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        connected.wait()
        mine = []
        for i, body in enumerate(bundles[offset * share:(offset + 1) * share]):
            started = time.perf_counter()
            connection.request("POST", f"/v1/verifications?purpose=ACCTOPEN&case=C-{offset}-{i}", body, headers)
            reply = connection.getresponse()
            data = reply.read()
            mine.append(time.perf_counter() - started)
            assert reply.status == 200 and b'"valid":true' in data, data[:300]
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    connected.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return len(latencies) / wall, cuts[49] * 1000, cuts[98] * 1000
