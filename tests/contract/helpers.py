"""Assertions shared by the contract tests."""

from __future__ import annotations

from typing import Any

from crossverify.chain.registry import Registry


def events(registry: Registry, receipt: Any, name: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The registry events of a receipt, decoded strictly, as (name, args); filtered by name if given."""
    decoded = [(e.name, e.args) for e in registry.decode_logs(receipt["logs"])]
    return [e for e in decoded if name is None or e[0] == name]


def only_event(registry: Registry, receipt: Any, name: str) -> dict[str, Any]:
    found = events(registry, receipt, name)
    assert len(found) == 1, f"expected one {name}, got {events(registry, receipt)}"
    return found[0][1]
