"""A bank's reads on a node an issuer checks its live batches on: how long the bank waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from web3 import Web3

from ..chain.connection import connect
from ..chain.registry import STATUSES_PER_ROUND_TRIP, Registry, _status_calls
from ..chain.typed_data import AnchorRequest, Domain, sign
from ..format.codes import doc_type_code, issuer_id_code
from ._clock import RUNS, group_cpu
from ._node import GROUPS, hardhat_node
from ._sections import Section
from ._world import ISSUER, scratch, world

#: Batches anchored per ``anchorMany`` transaction while the section sets up.
ANCHORS_PER_TX = 400
#: Seconds the bank reads on the idle node, for the baseline.
IDLE_SECONDS = 2.0
#: Documents a bank's read asks about (one verification request of a few documents).
READ_DOCUMENTS = 4


def sharing(batches: int, root: Path) -> Section:
    """An issuer's full check of ``batches`` live batches on a Hardhat node, all in one request and in round trips
    of ``STATUSES_PER_ROUND_TRIP``, while a bank reads the same node; the bank's waits against the idle node's."""
    with hardhat_node(scratch(root, "sharing")) as url:
        w = world(w3=connect(url, chain_id=1337, timeout=120.0))  # (one request of every status takes long)
        issuer, domain, now = issuer_id_code(ISSUER), Domain.of(w.registry), w.now()
        roots = [Web3.keccak(text=f"live batch {i}") for i in range(batches)]
        for start in range(0, batches, ANCHORS_PER_TX):
            requests = [AnchorRequest(r, doc_type_code("DEPCERT"), 1, 1000, now + 365 * 86400, now + 86400)
                        for r in roots[start:start + ANCHORS_PER_TX]]
            abi, signatures = [r.as_abi() for r in requests], [sign(r, domain, w.key) for r in requests]
            w.registry.transact(lambda f, a=abi, s=signatures: f.anchorMany(a, s), w.operator)  # type: ignore[misc]
        triples = [(issuer, r, bytes(32)) for r in roots]
        bank = Registry.at(connect(url, chain_id=1337, timeout=120.0), w.registry.address)
        asked = [(issuer, r, Web3.keccak(r)) for r in roots[:READ_DOCUMENTS]]
        node = GROUPS.get(url)

        def reads_during(check: Callable[[], object] | None) -> tuple[list[float], float, float, float]:
            """The bank's read latencies while ``check()`` runs (or for ``IDLE_SECONDS``), and the check's wall,
            CPU and node CPU seconds."""
            waits: list[float] = []
            done = threading.Event()

            def read() -> None:
                while not done.is_set():
                    began = time.perf_counter()
                    bank.document_statuses(asked)
                    waits.append(time.perf_counter() - began)

            reader = threading.Thread(target=read)
            reader.start()
            time.sleep(0.2)  # the bank reads before the check begins, and after it ends
            wall, cpu, node_cpu = time.perf_counter(), time.thread_time(), group_cpu(node)
            if check is None:
                time.sleep(IDLE_SECONDS)
            else:
                check()
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            node_cpu = group_cpu(node) - node_cpu
            time.sleep(0.2)
            done.set()
            reader.join()
            return sorted(waits), wall, cpu, node_cpu

        w.registry.document_statuses(triples[:STATUSES_PER_ROUND_TRIP])  # both connections warm
        bank.document_statuses(asked)
        runs: dict[str, list[tuple[list[float], float, float, float]]] = {"idle": [], "whole": [], "split": []}
        for _ in range(RUNS):  # in turns, so that other work on the machine weighs on each alike
            runs["idle"].append(reads_during(None))
            runs["whole"].append(reads_during(lambda: w.registry.raw_calls(_status_calls(triples))))
            runs["split"].append(reads_during(lambda: w.registry.document_statuses(triples)))
        idle = min(runs["idle"], key=lambda run: run[0][-1])[0]  # the calmest idle node: the strictest baseline
        whole, split = (min(runs[arm], key=lambda run: run[2] + run[3]) for arm in ("whole", "split"))
    s = Section("A bank's reads beside an issuer's check",
                f"An issuer's pipeline checks the statuses of its {batches:,} live batches (anchored on a Hardhat 2 "
                "node, as a full check of its round reads them) while a bank's thread reads the statuses of "
                f"{READ_DOCUMENTS} documents (one verification) from the same node in a loop, on a connection of "
                "its own. A node answers a JSON-RPC batch whole, and the others wait. `document_statuses` asks "
                f"for {STATUSES_PER_ROUND_TRIP:,} statuses a round trip at most; the same statuses asked in one "
                f"request beside it. Baseline: the bank's reads on the idle node for {IDLE_SECONDS:g} s, in the "
                f"same run. Each is run {RUNS} times in turns, after a read on each connection; each check's figures "
                "are those of its run with the least CPU seconds (the issuer's thread's, and the node's), the "
                "baseline's those of its run whose longest wait was the shortest.",
                ["the issuer asks", "check seconds (CPU)", "bank reads", "bank p50 ms", "bank p99 ms",
                 "bank's longest wait ms", "longest vs idle"])

    def row(what: str, result: tuple[list[float], float, float, float] | None) -> list[str]:
        waits, seconds = (idle, "") if result is None else (result[0], f"{result[1]:.2f} ({result[2]:.2f} + "
                                                                       f"{result[3]:.2f} node CPU)")
        longest = waits[-1] / idle[-1]
        return [what, seconds, f"{len(waits):,}", f"{waits[len(waits) // 2] * 1000:.1f}",
                f"{waits[min(len(waits) - 1, len(waits) * 99 // 100)] * 1000:.1f}", f"{waits[-1] * 1000:,.0f}",
                "baseline" if result is None else f"{longest:,.1f}x"]

    s.rows += [row(f"in round trips of {STATUSES_PER_ROUND_TRIP:,}", split),
               row("all in one request", whole), row("nothing (the idle node)", None)]
    return s
