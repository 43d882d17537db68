"""Local SQLite stores (the issuer's journal, the regulator's index): one way to open them and one way to
make a step atomic and durable."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: How long a writer waits for another connection's lock before SQLite reports it busy.
BUSY_TIMEOUT = 30.0


def open_store(path: str | Path, schema: str) -> sqlite3.Connection:
    """Open (creating folders and tables as needed) a store in WAL mode with full sync and foreign keys.

    The connection is in autocommit mode: group writes with :func:`transaction`.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    db.executescript(schema)
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One atomic, durable step: all of it is committed, or none."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
