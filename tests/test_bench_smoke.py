"""The benchmarks run (tiny sizes); their figures are for docs/benchmarks.md, never asserted as times."""

from __future__ import annotations

import subprocess
import sys


def test_benchmarks_run_on_tiny_sizes() -> None:
    result = subprocess.run([sys.executable, "-m", "crossverify.bench", "--smoke", "--no-write"],
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    for title in ("Gas per operation", "Anchoring gas per document", "Issuance end to end",
                  "Verification", "Audit sync", "Verification against batch size", "Bank service under load",
                  "Signing with a key in an HSM (SoftHSM2)", "Issuance with the keys in an HSM", "Presentations",
                  "Sealed receipts", "Regulator sync with decryption", "Verification on a Hardhat node",
                  "Regulator index on PostgreSQL and SQLite", "Exactly-once receipt outbox on each engine",
                  "Bank service replicas over one PostgreSQL", "Regulator's console at scale",
                  "GM suite: gas of SM2 on chain", "GM suite: presentations"):
        assert title in result.stdout

