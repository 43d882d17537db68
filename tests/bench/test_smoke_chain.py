"""Benchmark sections on the embedded chain and off it, at tiny sizes."""

from __future__ import annotations

from .smoke import run_sections


def test_gas_verification_and_cryptography_sections_run() -> None:
    run_sections("gas", "anchoring", "issuance", "verification", "core", "reading", "scaling", "presentations",
                 "sealing", "sealed_receipts", "gm_primitives", "gm_gas", "gm_presentations")
