"""How the tests measure a store's work without timing it: SQLite's virtual-machine steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def counted(db: Any, work: Callable[[], T]) -> tuple[T, int]:
    """``work()``'s result, and how many times SQLite's virtual machine ran 10 instructions on ``db`` (a store's
    SQLite connection) meanwhile: the same for the same work however long the tables it searches."""
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    db.set_progress_handler(step, 10)
    try:
        return work(), steps[0]
    finally:
        db.set_progress_handler(None, 10)
