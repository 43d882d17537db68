"""Local SQLite stores (the issuer's journal, the regulator's index, the bank's receipt outbox).

Every store is opened the same way: owner-only files (they hold personal data or its traces), one writing
process at a time (an exclusive lock beside the file, so a second process is told at once instead of racing),
an integrity check, a schema version (``PRAGMA user_version``) brought up to date by the store's migrations,
and an optional binding to one chain and registry, so that a journal or an index is never silently applied to
another network. SQLite's own failures become named :class:`~crossverify.errors.StoreError`\\ s with a remedy.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .errors import StoreChainMismatch, StoreCorrupt, StoreError, StoreLocked, StoreTooNew, StoreUnavailable

#: One schema step: SQL, or a function that rewrites the store on the connection it is given (for data that
#: SQL alone cannot convert). Either runs in one transaction with the version change.
Migration = str | Callable[[sqlite3.Connection], None]

#: How long a statement waits for another connection's lock before SQLite reports it busy.
BUSY_TIMEOUT = 30.0
#: The store's own bookkeeping: what chain and registry it belongs to.
_META = "CREATE TABLE IF NOT EXISTS store_binding (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


@contextmanager
def store_errors(path: Path) -> Iterator[None]:
    """Re-raise SQLite and file-system failures on ``path`` as named store errors with a remedy."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise StoreLocked(f"{path} is busy in another process: {text}") from exc
        if "readonly" in text or "read-only" in text:
            raise StoreUnavailable(f"{path} is read-only: make it and its folder writable ({text})") from exc
        if "full" in text:
            raise StoreUnavailable(f"the disk holding {path} is full: free space and run again ({text})") from exc
        raise StoreUnavailable(f"{path} cannot be used: {text}") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreCorrupt(f"{path} is damaged or not a crossverify store ({exc}): restore it from a backup") \
            from exc
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise StoreUnavailable(f"the disk holding {path} is full: free space and run again") from exc
        raise StoreUnavailable(f"{path} cannot be used: {exc}") from exc


class Store:
    """One open store. ``migrations[i]`` takes the schema from version ``i`` to ``i + 1``.

    ``exclusive=False`` holds the one-process lock only while opening (and migrating), for a store whose every
    write is a single atomic statement that many processes may run at once (a bank's challenges, consumed by all
    its workers); SQLite's own locking then orders them.
    """

    def __init__(self, path: str | Path, migrations: Sequence[Migration], *, kind: str,
                 exclusive: bool = True) -> None:
        self.path = Path(path)
        self.kind = kind
        #: Serialises this process's threads on the one connection (a service's workers and requests).
        self.lock = threading.RLock()
        self._lock_file: IO[str] | None = None
        with store_errors(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if exclusive:
                self._lock_file = self._acquire()
            try:
                if exclusive:
                    self.db = self._open(migrations)
                else:
                    with self._opening():
                        self.db = self._open(migrations)
            except BaseException:
                self._release()
                raise
        # A store dropped without close() still releases its lock and connection when collected.
        weakref.finalize(self, _close_quietly, self.db, self._lock_file)

    def _acquire(self) -> IO[str]:
        lock = self.path.with_name(self.path.name + ".lock").open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            lock.close()
            raise StoreLocked(f"the {self.kind} {self.path} is in use by {holder}; wait for it to finish "
                              "(one process writes a store at a time)") from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"process {os.getpid()}\n")
        lock.flush()
        return lock

    @contextmanager
    def _opening(self) -> Iterator[None]:
        """For a shared store: processes open (and migrate) it one at a time, then share it."""
        with self.path.with_name(self.path.name + ".lock").open("a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            yield

    def _release(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing the file drops the lock
            self._lock_file = None

    def _open(self, migrations: Sequence[Migration]) -> sqlite3.Connection:
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            if (verdict := db.execute("PRAGMA quick_check").fetchone()[0]) != "ok":
                raise StoreCorrupt(f"{self.path} failed its integrity check ({verdict}): restore it from a backup")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            #: The schema version the store had before this open migrated it (0: a new store).
            self.opened_at_version = int(version)
            if version > len(migrations):
                raise StoreTooNew(f"{self.path} has schema version {version}; this crossverify reads up to "
                                  f"{len(migrations)}: upgrade crossverify")
            for target in range(version + 1, len(migrations) + 1):
                _migrate(db, migrations[target - 1], target)
            db.execute(_META)
        except BaseException:
            db.close()
            raise
        for suffix in ("", "-wal", "-shm"):
            sibling = self.path.with_name(self.path.name + suffix)
            if sibling.exists():
                sibling.chmod(0o600)
        return db

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic, durable step: all of it is committed, or none; failures come back named."""
        with self.lock, store_errors(self.path), transaction(self.db) as db:
            yield db

    def bind(self, identity: Mapping[str, str]) -> None:
        """Tie the store to ``identity`` (chain id, genesis hash, registry address) on first use; refuse another.

        Keys the store does not hold yet are added, so a store made before a key existed is bound from now on.
        """
        with self.transaction() as db:
            for key, value in identity.items():
                row = db.execute("SELECT value FROM store_binding WHERE key = ?", (key,)).fetchone()
                if row is None:
                    db.execute("INSERT INTO store_binding VALUES (?, ?)", (key, value))
                elif row[0] != value:
                    raise StoreChainMismatch(
                        f"the {self.kind} {self.path} belongs to {key} {row[0]}, but the network has {value}: the "
                        "network was reset or the configuration names another one; use another file for it")

    def binding(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM store_binding").fetchall())

    def backup(self, target: str | Path) -> Path:
        """A consistent copy of the store at ``target`` (SQLite's online backup: writers may go on)."""
        target = Path(target)
        if target.exists():
            raise StoreError(f"{target} exists; not overwriting it")
        with store_errors(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
            copy = sqlite3.connect(target)
            try:
                self.db.backup(copy)
            finally:
                copy.close()
        return target

    def close(self) -> None:
        self.db.close()
        self._release()


def _close_quietly(db: sqlite3.Connection, lock: IO[str] | None) -> None:
    db.close()
    if lock is not None:
        lock.close()


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One atomic, durable step on ``db`` (in autocommit mode): all of it is committed, or none."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _migrate(db: sqlite3.Connection, migration: Migration, target: int) -> None:
    """Run one migration and set the schema version to ``target``, atomically."""
    if callable(migration):
        with transaction(db):
            migration(db)
            db.execute(f"PRAGMA user_version = {target}")
        return
    try:  # one script, so that its statements and the version change commit together
        statements = migration.strip().rstrip(";")
        db.executescript(f"BEGIN IMMEDIATE;\n{statements};\nPRAGMA user_version = {target};\nCOMMIT;")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
