"""Benchmark sections of the stores, the regulator's index and console, at tiny sizes."""

from __future__ import annotations

from .smoke import run_sections


def test_storage_regulator_and_console_sections_run() -> None:
    run_sections("regulator_sync", "storage_index", "storage_outbox", "storage_replicas", "console")
