"""How values read in front of people: counts in words."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun`` in agreement: ``counted(1, "batch") == "1 batch"``, ``counted(3, "batch") == "3 batches"``."""
    if n == 1:
        return f"1 {noun}"
    if plural is None:
        plural = noun + ("es" if noun.endswith(("s", "sh", "ch", "x", "z")) else "s")
    return f"{n:,} {plural}"
