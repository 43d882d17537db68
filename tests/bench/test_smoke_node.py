"""Benchmark sections on a Hardhat node, the bank's service and the HSM token, at tiny sizes."""

from __future__ import annotations

from .smoke import run_sections


def test_node_service_and_token_sections_run() -> None:
    run_sections("verification_node", "audit", "service", "hsm_signing", "hsm_issuance", "sharing")
