#!/usr/bin/env python3
"""Benchmark the certificate core: build a batch of documents and verify every proof, against the raw hashing
of the same bytes measured in the same run. Writes its section of docs/benchmarks.md.

    .venv/bin/python scripts/bench_core.py [--docs 10000] [--claims 12] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import time
from collections.abc import Callable
from pathlib import Path

from crossverify import Bundle, Certificate, DocumentHeader, HashAlgorithm, _hashing, salt_document, seal_batch

BENCHMARKS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def certificates(n: int, claims: int) -> list[Certificate]:
    header = DocumentHeader("ACCTSTMT", "BNUMMOMX", 1_790_000_000, 1_789_862_400, 1_821_398_400)
    return [
        Certificate(header, {
            "holder_name": f"CHAN Tai Man {i}", "account_no": f"9-101-{i:06d}-8", "balance_mop": 1000 * i + 17,
            "joint": i % 2 == 0, **{f"line_{j:02d}": f"2026-10-{j:02d} deposit {i * j} MOP" for j in range(claims - 4)},
        })
        for i in range(n)
    ]


def recorded(alg: HashAlgorithm, run: Callable[[], object]) -> list[bytes]:
    """Every preimage the hasher sees while ``run`` runs."""
    seen: list[bytes] = []
    inner = alg.hasher()
    _hashing._hasher.cache_clear()
    original = _hashing._hasher
    _hashing._hasher = lambda a: (lambda data: (seen.append(data), inner(data))[1])  # type: ignore[assignment]
    try:
        run()
    finally:
        _hashing._hasher = original
    return seen


def floor(alg: HashAlgorithm, preimages: list[bytes]) -> float:
    hasher = alg.hasher()
    start = time.perf_counter()
    for data in preimages:
        hasher(data)
    return time.perf_counter() - start


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(n: int, claims: int, alg: HashAlgorithm) -> dict[str, float]:
    certs = certificates(n, claims)
    bundles: list[Bundle] = []

    def build() -> None:
        batch = seal_batch([salt_document(c, alg) for c in certs], alg)
        bundles[:] = [batch.bundle(i, 1, "0x" + "ab" * 20) for i in range(n)]

    def verify() -> None:
        for bundle in bundles:
            if not bundle.leads_to_root():
                raise AssertionError("a genuine bundle failed")

    build_s = best_of(1, build)
    build_floor = floor(alg, recorded(alg, build))
    verify_s = best_of(3, verify)
    verify_floor = min(floor(alg, pre) for pre in [recorded(alg, verify)] * 3)
    return {"build_s": build_s, "build_floor_s": build_floor, "verify_s": verify_s, "verify_floor_s": verify_floor}


def render(n: int, claims: int, results: dict[str, dict[str, float]]) -> str:
    lines = [
        "<!-- core:begin (written by scripts/bench_core.py) -->",
        "## Certificate core: build and verify, against raw hashing of the same bytes",
        "",
        f"{n:,} documents of {claims} claims in one batch; {os.cpu_count()} cores, Python "
        f"{platform.python_version()}. The floor is the time the same hash function takes over exactly the "
        "preimages the step hashes, measured in the same run; the ratio is step time / floor.",
        "",
        "| hash | build docs/s | build / floor | verify docs/s | verify / floor (goal <= 2) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, r in results.items():
        lines.append(
            f"| {label} | {n / r['build_s']:,.0f} | {r['build_s'] / r['build_floor_s']:.2f}x | "
            f"{n / r['verify_s']:,.0f} | {r['verify_s'] / r['verify_floor_s']:.2f}x |")
    lines.append("<!-- core:end -->")
    return "\n".join(lines)


def write(section: str) -> None:
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    pattern = re.compile(r"<!-- core:begin.*?<!-- core:end -->", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    BENCHMARKS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--claims", type=int, default=12)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    results = {alg.label: measure(args.docs, args.claims, alg) for alg in HashAlgorithm}
    section = render(args.docs, args.claims, results)
    print(section)
    if not args.no_write:
        write(section)


if __name__ == "__main__":
    main()
