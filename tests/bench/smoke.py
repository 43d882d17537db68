"""Running benchmark sections on tiny sizes: their figures are for docs/benchmarks.md, never asserted as times.
The sections are split over a few test modules so that the suite's processes share them."""

from __future__ import annotations

import subprocess
import sys

#: What each section prints as its title.
TITLES = {
    "gas": "Gas per operation", "anchoring": "Anchoring gas per document", "issuance": "Issuance end to end",
    "hsm_issuance": "Issuance with the keys in an HSM", "verification": "Verification",
    "verification_node": "Verification on a Hardhat node", "core": "Certificate core: build and verify",
    "hsm_signing": "Signing with a key in an HSM (SoftHSM2)", "reading": "Reading bundle files",
    "audit": "Audit sync", "scaling": "Verification against batch size", "service": "Bank service under load",
    "presentations": "Presentations", "sealing": "Sealed receipts", "sealed_receipts": "Sealed receipts on chain",
    "regulator_sync": "Regulator sync with decryption", "storage_index": "Regulator index on PostgreSQL and SQLite",
    "storage_outbox": "Exactly-once receipt outbox on each engine",
    "storage_replicas": "Bank service replicas over one PostgreSQL", "gm_primitives": "GM suite: primitives",
    "gm_gas": "GM suite: gas of SM2 on chain", "gm_presentations": "GM suite: presentations",
    "console": "Regulator's console at scale", "sharing": "A bank's reads beside an issuer's check",
}


def run_sections(*names: str) -> None:
    """Run the named sections at smoke sizes, leaving the docs alone, and check each printed its table."""
    result = subprocess.run([sys.executable, "-m", "crossverify.bench", "--smoke", "--no-write", "--only", *names],
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in names:
        assert TITLES[name] in result.stdout, name
