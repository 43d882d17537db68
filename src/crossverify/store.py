"""Local stores (the issuer's journal and pickups, the regulator's index, the bank's challenges and receipt outbox)
on two engines: an SQLite file beside one process (the default), or a schema in a PostgreSQL database that
several replicas share.

Every store is opened the same way: a schema version brought up to date by the store's numbered migrations (each
in one transaction with its version change), and an optional binding to one chain and registry, so that a journal
or an index is never silently applied to another network. Engine failures become named
:class:`~crossverify.errors.StoreError`\\ s with a remedy.

*SQLite*: owner-only files (they hold personal data or its traces), one writing process at a time (an exclusive
lock beside the file, so a second process is told at once instead of racing), an integrity check, the version in
``PRAGMA user_version``; one connection, which the process's threads share: a statement outside a transaction waits
for the transaction another thread holds open, so that no thread reads what another has not committed.

*PostgreSQL* (a ``postgresql://`` location): each store kind lives in its own schema (``journal``,
``receipt_outbox``, ...) of the database the URL names, its version in the schema's ``store_version`` table.
Replicas share it, so no process holds a store alone: work that must run once at a time takes a named
:meth:`Store.exclusively` lock (a session advisory lock, freed when its holder's connection ends, so another
replica takes over when a holder dies). A broken connection (the server restarted) fails the statement that
found it, named, and the store connects again on its next use.

SQL is written once, in the subset both engines run: ``?`` placeholders, the types INTEGER, TEXT, BLOB and REAL
(on PostgreSQL: BIGINT, TEXT, BYTEA, DOUBLE PRECISION), ``INTEGER PRIMARY KEY`` for a generated id (an identity
column there), ``INSERT ... ON CONFLICT ... DO NOTHING / DO UPDATE SET v = excluded.v`` for upserts, ``RETURNING``
for generated ids; a table without an ``INTEGER PRIMARY KEY`` has a ``rowid`` (insertion order) on both.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import os
import random
import re
import socket
import sqlite3
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from .errors import (
    StoreChainMismatch,
    StoreCorrupt,
    StoreError,
    StoreLocked,
    StoreMisconfigured,
    StoreTooNew,
    StoreUnavailable,
)

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")

#: Where a store lives: an SQLite file, or a ``postgresql://`` URL (the database; the store's kind names its schema).
Location = str | Path
#: How long a statement waits for another connection's lock before the engine reports it busy.
BUSY_TIMEOUT = 30.0
#: How long connecting to a PostgreSQL server may take before the store is reported unavailable.
CONNECT_TIMEOUT = 5
#: How long a process waits for another that opens (and migrates) the same PostgreSQL store, in seconds.
OPEN_WAIT = 600
#: How long copying waits for another process to close the SQLite store it copies, in seconds.
HOLD_WAIT = 1
#: Connections a PostgreSQL store's pool opens at most (beside the store's own): requests in flight at once.
POOL_SIZE = 4
#: The store's own bookkeeping: what chain and registry it belongs to.
_META = "CREATE TABLE IF NOT EXISTS store_binding (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


class Cursor(Protocol):
    """What a statement returns on either engine."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchmany(self, size: int = ..., /) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A store's connection on either engine: ``?`` placeholders, rows as tuples."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...
    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...


#: Values one ``IN (...)`` list binds at most, far within both engines' limits on a statement's parameters.
IN_PART = 500


def rows_in(db: Connection, query: str, values: Sequence[Any], *before: Any) -> Iterator[Any]:
    """The rows ``query`` answers for ``values``, asked :data:`IN_PART` at a time: its ``{}`` is the ``?`` of each
    part's ``IN`` list, and ``before`` binds the ``?`` that come before it."""
    for at in range(0, len(values), IN_PART):
        part = values[at:at + IN_PART]
        yield from db.execute(query.format(",".join("?" * len(part))), (*before, *part))


class _Shared:
    """A SQLite store's one connection, shared by the threads of its process (a service's workers and requests),
    as :attr:`Store.db` offers it: a statement waits for a transaction another thread holds open, and its rows
    are read before the store's lock is let go, so that no read sees rows not committed yet, or rolled back, and
    the connection never closes under one (PostgreSQL's statements outside a transaction are read whole too).
    Inside :meth:`Store.transaction` the connection itself is used."""

    def __init__(self, connection: sqlite3.Connection, lock: threading.RLock, where: str) -> None:
        self.connection, self.lock, self.where = connection, lock, where
        self.closed = False

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> _Rows:
        with self.lock:
            _refuse_closed(self.closed, self.where)
            return _Rows(self.connection.execute(sql, parameters))

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> _Rows:
        with self.lock:
            _refuse_closed(self.closed, self.where)
            return _Rows(self.connection.executemany(sql, parameters))

    def __getattr__(self, name: str) -> Any:  # the connection's other methods (a progress handler, ...)
        return getattr(self.connection, name)


@dataclass(frozen=True, slots=True)
class PerEngine:
    """A schema step written once per engine (for what the portable subset cannot say)."""

    sqlite: str | Callable[[Connection], None]
    postgresql: str | Callable[[Connection], None]


#: One schema step: portable SQL, a function that rewrites the store on the connection it is given (for data that
#: SQL alone cannot convert), or one of each per engine. Each runs in one transaction with the version change.
Migration = str | Callable[[Connection], None] | PerEngine


def is_postgresql(location: Location) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def redacted(url: str) -> str:
    """``url`` without its passwords (the role's, the client key's ``sslpassword``), for messages and logs."""
    parts = urlsplit(url)
    netloc = parts.netloc if parts.password is None else parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc, query=_SECRET_PARAMETERS.sub(r"\1***", parts.query)))


#: A URL's query parameters that hold a secret, with their values.
_SECRET_PARAMETERS = re.compile(r"((?:^|&)(?:ssl)?password=)[^&]*")


def schema_name(kind: str) -> str:
    """The PostgreSQL schema a store kind lives in: ``receipt outbox`` -> ``receipt_outbox``."""
    return re.sub(r"\W+", "_", kind.lower()).strip("_")


@contextmanager
def store_errors(where: str | Path) -> Iterator[None]:
    """Re-raise engine and file-system failures on ``where`` as named store errors with a remedy."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise StoreLocked(f"{where} is busy in another process: {text}") from exc
        if "readonly" in text or "read-only" in text:
            raise StoreUnavailable(f"{where} is read-only: make it and its folder writable ({text})") from exc
        if "full" in text or getattr(exc, "sqlite_errorname", "") in ("SQLITE_IOERR_WRITE", "SQLITE_IOERR_FSYNC"):
            raise StoreUnavailable(f"{where} could not be written: its disk is full, failing or over a file-size "
                                   f"limit; free space and run again (nothing was committed: {text})") from exc
        raise StoreUnavailable(f"{where} cannot be used: {text}") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreCorrupt(f"{where} is damaged or not a crossverify store ({exc}): restore it from a backup") \
            from exc
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise StoreUnavailable(f"the disk holding {where} is full: free space and run again") from exc
        raise StoreUnavailable(f"{where} cannot be used: {exc}") from exc
    except Exception as exc:
        if "psycopg" not in sys.modules or not isinstance(exc, sys.modules["psycopg"].Error):
            raise
        raise _postgresql_error(where, exc) from exc


def _raced(exc: StoreLocked) -> bool:
    """Whether ``exc`` is PostgreSQL's verdict on a race with another transaction that a new attempt settles: a
    deadlock (this transaction chosen as its victim), or a row another wrote with the same key meanwhile."""
    if "psycopg" not in sys.modules:
        return False
    import psycopg.errors as e

    return isinstance(exc.__cause__, e.DeadlockDetected | e.UniqueViolation)


#: How a PostgreSQL server refuses a connection's database, role or password (its messages in English).
_REFUSED = re.compile(r'FATAL:\s+((?:database|role) "[^"]*" does not exist|password authentication failed[^\n]*)')


def _postgresql_error(where: str | Path, exc: Exception) -> StoreError:
    import psycopg.errors as e

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, e.SerializationFailure | e.DeadlockDetected | e.LockNotAvailable | e.QueryCanceled):
        return StoreLocked(f"{where} is busy in another transaction: {text}")
    if isinstance(exc, e.UniqueViolation):  # replicas racing to write one key: not a damaged store
        return StoreLocked(f"{where}: another process wrote a row of the same key at the same moment ({text}); "
                           "nothing of this transaction was committed: run it again")
    if isinstance(exc, e.DiskFull):
        return StoreUnavailable(f"the database server of {where} is out of disk space: free space ({text})")
    refused = _REFUSED.search(str(exc))  # libpq gives a refused connection no SQLSTATE: the server's words
    if isinstance(exc, e.OperationalError) and refused:
        return StoreMisconfigured(f"the database server of {where} refuses its URL: {refused[1]}")
    if isinstance(exc, e.InsufficientPrivilege):
        return StoreUnavailable(f"{where} refuses this role: grant it the store's schema ({text})")
    if isinstance(exc, e.OperationalError | e.InterfaceError):
        return StoreUnavailable(f"the database server of {where} cannot be reached: {text}; it is retried on the "
                                "next use")
    if isinstance(exc, e.DataError | e.IntegrityError | e.ProgrammingError):
        return StoreCorrupt(f"{where} is not the crossverify store this version expects ({text})")
    return StoreUnavailable(f"{where} cannot be used: {text}")


class Store:
    """One open store. ``migrations[i]`` takes the schema from version ``i`` to ``i + 1``.

    ``exclusive=False`` holds SQLite's one-process lock only while opening (and migrating), for a store whose every
    write is a single atomic statement that many processes may run at once (a bank's challenges, consumed by all
    its workers); SQLite's own locking then orders them. On PostgreSQL every store is shared. ``durable=False``
    commits without waiting for the write-ahead log to reach the disk (SQLite: ``synchronous=OFF``), for state a
    crash of the server may lose (a rate limit's tokens), never for a record.

    ``read_only=True`` opens an existing SQLite store for reading only: no lock file, no migration, nothing written,
    so a store on a read-only disk or folder, or one another process is writing, can still be read (a store that
    does not exist yet is created first, as by a writer).
    """

    def __init__(self, location: Location, migrations: Sequence[Migration], *, kind: str,
                 exclusive: bool = True, durable: bool = True, read_only: bool = False) -> None:
        self.kind = kind
        self.durable = durable
        #: Serialises this process's threads on the one connection (a service's workers and requests).
        self.lock = threading.RLock()
        self._lock_file: IO[str] | None = None
        self.db: Connection
        if is_postgresql(location):
            self.engine = "postgresql"
            self.path: Path | None = None
            self.schema = schema_name(kind)
            #: Where the store is, for messages: the file, or the database (password left out) and schema.
            self.where = f"{redacted(str(location))} (schema {self.schema})"
            self._pg = _Postgres(str(location), self.schema, self.where, self.lock, durable)
            self.db = self._pg
            try:
                with store_errors(self.where):
                    self.opened_at_version = self._pg.open(migrations)
            except BaseException:
                self._pg.close()
                raise
            weakref.finalize(self, self._pg.close)
            return
        self.engine = "sqlite"
        self.path = Path(location)
        self.schema = ""
        self.where = str(self.path)
        if read_only and self.path.exists():
            with store_errors(self.path):
                self._sqlite = self._open_read_only(len(migrations))
            self.db = self._shared = _Shared(self._sqlite, self.lock, self.where)
            weakref.finalize(self, _close_quietly, self._sqlite, None)
            return
        with store_errors(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if exclusive:
                self._lock_file = self._acquire()
            try:
                if exclusive:
                    self._sqlite = self._open(migrations)
                else:
                    with self._opening():
                        self._sqlite = self._open(migrations)
            except BaseException:
                self._release()
                raise
        self.db = self._shared = _Shared(self._sqlite, self.lock, self.where)
        # A store dropped without close() still releases its lock and connection when collected.
        weakref.finalize(self, _close_quietly, self._sqlite, self._lock_file)

    @property
    def skip_locked(self) -> str:
        """The clause that claims the rows a ``SELECT`` finds for this transaction, passing over rows another one
        claimed (PostgreSQL); empty on SQLite, whose write transactions exclude each other."""
        return " FOR UPDATE SKIP LOCKED" if self.engine == "postgresql" else ""

    @property
    def for_update(self) -> str:
        """The clause that locks the rows a ``SELECT`` finds until the transaction ends (PostgreSQL); empty on
        SQLite, whose write transactions exclude each other."""
        return " FOR UPDATE" if self.engine == "postgresql" else ""

    def _acquire(self) -> IO[str]:
        assert self.path is not None
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
        assert self.path is not None
        with self.path.with_name(self.path.name + ".lock").open("a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            yield

    def _release(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing the file drops the lock
            self._lock_file = None

    def _open(self, migrations: Sequence[Migration]) -> sqlite3.Connection:
        assert self.path is not None
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'OFF'}")
            db.execute("PRAGMA foreign_keys=ON")
            if (verdict := db.execute("PRAGMA quick_check").fetchone()[0]) != "ok":
                raise StoreCorrupt(f"{self.path} failed its integrity check ({verdict}): restore it from a backup")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            #: The schema version the store had before this open migrated it (0: a new store).
            self.opened_at_version = int(version)
            _refuse_newer(self.where, version, len(migrations))
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

    def _open_read_only(self, known: int) -> sqlite3.Connection:
        """The store for reading only, at this crossverify's schema version. A folder nobody may write to cannot
        take SQLite's shared-memory index beside the file: while no writer has the store open (it has no
        write-ahead log then) the file is read as it is."""
        assert self.path is not None
        try:
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                 timeout=BUSY_TIMEOUT, check_same_thread=False)
            db.execute("PRAGMA user_version").fetchone()
        except sqlite3.OperationalError as exc:
            wal = self.path.with_name(self.path.name + "-wal")
            if getattr(exc, "sqlite_errorname", "") not in ("SQLITE_CANTOPEN", "SQLITE_READONLY_DIRECTORY") \
                    or wal.exists():
                raise
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?immutable=1", uri=True, isolation_level=None,
                                 check_same_thread=False)
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            self.opened_at_version = version
            _refuse_newer(self.where, version, known)
            if version < known:
                raise StoreUnavailable(f"{self.where} has schema version {version}, this crossverify reads {known}: "
                                       "migrate it first (crossverify store migrate, which writes it)")
        except BaseException:
            db.close()
            raise
        return db

    @property
    def version(self) -> int:
        if self.engine == "postgresql":
            return self._pg.version()
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One atomic, durable step: all of it is committed, or none; failures come back named."""
        if self.engine == "postgresql":
            with store_errors(self.where), self._pg.transaction() as db:
                yield db
            return
        with self.lock:
            _refuse_closed(self._shared.closed, self.where)
            with store_errors(self.where), transaction(self._sqlite) as sqlite_db:
                yield sqlite_db

    def transact(self, work: Callable[[Connection], T], attempts: int = 3) -> T:
        """``work`` in one :meth:`transaction`, run again (``attempts`` times at most) when PostgreSQL ended it as a
        deadlock's victim, or refused a row another process wrote with the same key meanwhile, rolled back whole:
        for work whose rows another process may take in another order, or write too (two replicas queuing the same
        receipts). ``work`` must be safe to run again. It runs again after a pause of a
        tenth of a second or so (random, longer each time), so that the other transaction, free to go on, commits
        first: run again at once, it would meet the other in the same crossed order."""
        for attempt in range(1, attempts + 1):
            try:
                with self.transaction() as db:
                    return work(db)
            except StoreLocked as exc:
                if attempt == attempts or not _raced(exc):
                    raise
            time.sleep(attempt * random.uniform(0.05, 0.15))
        raise AssertionError("unreachable")

    @contextmanager
    def exclusively(self, task: str, *, wait: float = 0.0) -> Iterator[None]:
        """Run ``task`` (a name: ``"issuer pipeline"``) in one process at a time, across every replica sharing the
        store; waits up to ``wait`` seconds for the process running it, then raises :class:`StoreLocked` naming
        it. A holder that dies frees it."""
        if self.engine == "postgresql":
            with store_errors(self.where):
                self._pg.acquire(task, wait)
            try:
                yield
            finally:
                self._pg.release(task)
            return
        assert self.path is not None
        _refuse_closed(self._shared.closed, self.where)
        with store_errors(self.path):
            lock = self.path.with_name(f"{self.path.name}.{schema_name(task)}.lock").open("a+")
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        lock.seek(0)
                        holder = lock.read().strip() or "another process"
                        raise StoreLocked(f"the {task} of {self.path} runs in {holder}; it is left to it") from None
                    time.sleep(0.05)
            lock.seek(0)
            lock.truncate()
            lock.write(f"process {os.getpid()}\n")
            lock.flush()
            yield
        finally:
            lock.close()  # closing the file drops the lock

    def stream(self, sql: str, parameters: Sequence[Any] = ()) -> Iterator[Any]:
        """The rows of a large query, read a few thousand at a time instead of all at once (PostgreSQL: a
        server-side cursor on a connection of its own, so the store's connection stays free meanwhile; SQLite: the
        store's connection, not waiting for other threads: for commands, not for a service's threads)."""
        if self.engine == "postgresql":
            yield from self._pg.stream(sql, parameters)
            return
        _refuse_closed(self._shared.closed, self.where)
        with store_errors(self.where):
            yield from self._sqlite.execute(sql, parameters)

    def ping(self) -> None:
        """Check that the store can be used now (on PostgreSQL: the server answers, connecting again if needed)."""
        with self.lock, store_errors(self.where):
            self.db.execute("SELECT 1").fetchone()

    def bind(self, identity: Mapping[str, str]) -> None:
        """Tie the store to ``identity`` (chain id, genesis hash, registry address) on first use; refuse another.

        Keys the store does not hold yet are added, so a store made before a key existed is bound from now on.
        """
        with self.transaction() as db:
            for key, value in identity.items():
                row = db.execute("SELECT value FROM store_binding WHERE key = ?", (key,)).fetchone()
                if row is None:  # insert, then read what is held: replicas binding at once all see the winner's
                    db.execute("INSERT INTO store_binding (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                               (key, value))
                    row = db.execute("SELECT value FROM store_binding WHERE key = ?", (key,)).fetchone()
                if row[0] != value:
                    raise StoreChainMismatch(
                        f"the {self.kind} {self.where} belongs to {key} {row[0]}, but the network has {value}: the "
                        "network was reset or the configuration names another one; use another "
                        f"{'database' if self.engine == 'postgresql' else 'file'} for it")

    def rebind(self, identity: Mapping[str, str], db: Connection | None = None) -> dict[str, str]:
        """Tie the store to ``identity`` in place of the one it has (a registry that succeeds it: the caller checks
        the succession on chain); the old one is kept as ``predecessor.N.<key>``. Returns the old binding. Given
        ``db``, runs inside that transaction of the caller's."""
        if db is None:
            with self.transaction() as tx:
                return self.rebind(identity, tx)
        rows = db.execute("SELECT key, value FROM store_binding").fetchall()
        old = {k: v for k, v in rows if not k.startswith("predecessor.")}
        n = 1 + len({k.split(".")[1] for k, _ in rows if k.startswith("predecessor.")})
        for key, value in old.items():
            db.execute("INSERT INTO store_binding (key, value) VALUES (?, ?)", (f"predecessor.{n}.{key}", value))
        for key, value in identity.items():
            db.execute("INSERT INTO store_binding (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                       "value = excluded.value", (key, value))
        return old

    def binding(self) -> dict[str, str]:
        with self.lock, store_errors(self.where):
            return dict(self.db.execute("SELECT key, value FROM store_binding").fetchall())

    def backup(self, target: str | Path) -> Path:
        """A consistent copy of the store at ``target`` (SQLite's online backup: writers may go on)."""
        if self.engine == "postgresql":
            raise StoreError(f"{self.where} lives in PostgreSQL: back it up with pg_dump or continuous archiving "
                             "(docs/deploy.md)")
        target = Path(target)
        if target.exists():
            raise StoreError(f"{target} exists; not overwriting it")
        _refuse_closed(self._shared.closed, self.where)
        with store_errors(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
            copy = sqlite3.connect(target)
            try:
                self._sqlite.backup(copy)
            finally:
                copy.close()
        return target

    def close(self) -> None:
        with self.lock:  # never under a statement another thread (a worker, a sweep) is running
            if self.engine == "postgresql":
                self._pg.close()
                return
            self._shared.closed = True
            self._sqlite.close()
            self._release()


def _close_quietly(db: sqlite3.Connection, lock: IO[str] | None) -> None:
    db.close()
    if lock is not None:
        lock.close()


def _refuse_closed(closed: bool, where: str) -> None:
    """A statement on a store its process closed (a worker's round at shutdown) is refused by name: not as a
    damaged store (SQLite), nor by connecting again (PostgreSQL)."""
    if closed:
        raise StoreUnavailable(f"{where} was closed by this process; nothing was done")


def _refuse_newer(where: str, version: int, known: int) -> None:
    if version > known:
        raise StoreTooNew(f"{where} has schema version {version}; this crossverify reads up to {known}: upgrade "
                          "crossverify")


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One atomic, durable step on ``db`` (in autocommit mode): all of it is committed, or none."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.in_transaction:  # SQLite rolls back by itself after some failures (a full disk, an I/O error)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _migrate(db: sqlite3.Connection, migration: Migration, target: int) -> None:
    """Run one migration and set the schema version to ``target``, atomically."""
    if isinstance(migration, PerEngine):
        migration = migration.sqlite
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


# -- PostgreSQL ------------------------------------------------------------------------------------------------


#: TCP keepalives of every connection (libpq's), unless its URL sets them: a replica whose database server vanished
#: (power, a network partition) learns it in about two minutes, not after the kernel's two hours, blocked meanwhile
#: in a statement or holding a lock the server no longer grants it (deploy.md, "Replicas").
KEEPALIVES = {"keepalives": "1", "keepalives_idle": "60", "keepalives_interval": "10", "keepalives_count": "6"}


def connect_postgresql(url: str, **options: Any) -> psycopg.Connection[Any]:
    """A connection to ``url`` with the store's connect timeout and keepalives, where the URL does not set them."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    given = conninfo_to_dict(url)
    defaults: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT, **KEEPALIVES, **options}
    return psycopg.connect(url, **{k: v for k, v in defaults.items() if k not in given or k in options})


class _Postgres:
    """A store's schema in a PostgreSQL database. Requests' statements and transactions take a connection from a
    small pool (so a replica's threads do not wait for each other); the store's own connection opens and migrates
    the store and holds its advisory locks, and the thread holding one works on it, so that it learns when the
    lock is lost with the connection. Every connection is autocommit outside transactions and opened again after
    it broke."""

    def __init__(self, url: str, schema: str, where: str, lock: threading.RLock, durable: bool = True) -> None:
        self.url, self.schema, self.where, self.lock, self.durable = url, schema, where, lock, durable
        self.conn: psycopg.Connection[Any] | None = None
        self.held: dict[str, int] = {}  # advisory locks held on the store's connection, by task
        self.holders: dict[str, int] = {}  # the thread holding each
        self._idle: list[psycopg.Connection[Any]] = []  # the pool's connections not in use
        self._opened = 0  # the pool's connections, in use or idle
        self._freed = threading.Condition()
        self.closed = False

    def _settings(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(f"SET lock_timeout = '{int(BUSY_TIMEOUT * 1000)}ms'")
        conn.execute(f'SET search_path TO "{self.schema}"')
        if not self.durable:
            conn.execute("SET synchronous_commit = off")

    def _pooled(self) -> bool:
        """Whether this thread's statements go to the pool (it holds none of the store's locks)."""
        return threading.get_ident() not in self.holders.values()

    def _connect(self) -> psycopg.Connection[Any]:
        conn = connect_postgresql(self.url, autocommit=True,
                                  application_name=f"crossverify {socket.gethostname()}:{os.getpid()}"[:63])
        self._settings(conn)
        return conn

    @contextmanager
    def pooled(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection of the pool for one statement or transaction: an idle one, a new one while fewer than
        ``POOL_SIZE`` are open (failing at once when the server is away), else the next one freed."""
        with self._freed:
            _refuse_closed(self.closed, self.where)
            while not self._idle and self._opened >= POOL_SIZE:
                if not self._freed.wait(BUSY_TIMEOUT):
                    raise StoreLocked(f"{self.where}: every connection stayed busy for {BUSY_TIMEOUT:.0f} s")
            conn = self._idle.pop() if self._idle else None
            self._opened += conn is None
        if conn is None:
            try:
                conn = self._connect()
            except BaseException:
                with self._freed:
                    self._opened -= 1
                    self._freed.notify()
                raise
        try:
            yield conn
        finally:
            with self._freed:
                if self.closed and not conn.closed:  # its store was closed meanwhile: not kept
                    conn.close()
                if conn.broken or conn.closed:
                    self._opened -= 1
                else:
                    self._idle.append(conn)
                self._freed.notify()

    def connection(self) -> psycopg.Connection[Any]:
        """The live connection, connected (again) if needed."""
        _refuse_closed(self.closed, self.where)
        conn = self.conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        if self.held:
            tasks = ", ".join(self.held)
            self.held.clear()
            raise StoreUnavailable(f"the connection to {self.where} broke while this process ran {tasks}; another "
                                   "replica may have taken it over")
        self.conn = self._connect()
        return self.conn

    def open(self, migrations: Sequence[Migration]) -> int:
        """Create the schema if needed and bring it up to date, one replica at a time; the version it had."""
        conn = self.connection()
        key = _lock_key(self.schema, "open")
        deadline = time.monotonic() + OPEN_WAIT  # (not the lock timeout: another's migration may take minutes)
        while not conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:  # type: ignore[index]
            if time.monotonic() >= deadline:
                raise StoreLocked(f"{self.where} has been opened (migrated) by another process for {OPEN_WAIT} s; "
                                  "it is left to it: start this one again once it is done")
            time.sleep(0.1)
        self.holders["open"] = threading.get_ident()  # migrations run on this connection, under this lock
        try:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            conn.execute("CREATE TABLE IF NOT EXISTS store_version (version BIGINT NOT NULL)")
            version = self.version()
            _refuse_newer(self.where, version, len(migrations))
            for target in range(version + 1, len(migrations) + 1):
                migration = migrations[target - 1]
                if isinstance(migration, PerEngine):
                    migration = migration.postgresql
                with self.transaction() as db:
                    if callable(migration):
                        migration(db)
                    else:
                        for statement in statements(migration):
                            db.execute(statement)
                    db.execute("DELETE FROM store_version")
                    db.execute("INSERT INTO store_version (version) VALUES (?)", (target,))
            self.execute(_META)
        finally:
            self.holders.pop("open", None)
            if not conn.broken:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return version

    def version(self) -> int:
        row = self.execute("SELECT version FROM store_version").fetchone()
        return 0 if row is None else int(row[0])

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        if self._pooled():
            with self.guard(), self.pooled() as conn:
                return _Rows(conn.execute(translate(sql), tuple(parameters)))
        with self.lock, self.guard():
            cursor = self.connection().cursor()
            cursor.execute(translate(sql), tuple(parameters))
            return cursor

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Any:
        if self._pooled():
            with self.guard(), self.pooled() as conn, conn.cursor() as cursor:
                cursor.executemany(translate(sql), [tuple(p) for p in parameters])
                return _Rows(cursor)
        with self.lock, self.guard():
            cursor = self.connection().cursor()
            cursor.executemany(translate(sql), [tuple(p) for p in parameters])
            return cursor

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        if self._pooled():
            with self.guard(), self.pooled() as conn, conn.transaction():
                yield _Session(conn)
            return
        with self.lock, self.guard(), self.connection().transaction():
            yield self

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Failures named; a connection that broke under a held advisory lock says which work lost it."""
        try:
            with store_errors(self.where):
                yield
        except StoreUnavailable as exc:
            self._drop_idle()  # a server that closed one connection closed them all: none is handed out again
            if not self._pooled() and self.held and (self.conn is None or self.conn.broken):
                tasks = ", ".join(self.held)
                self.held.clear()
                raise StoreUnavailable(f"the connection to {self.where} broke while this process ran {tasks}; "
                                       "another replica may have taken it over") from exc
            raise

    def _drop_idle(self) -> None:
        with self._freed:
            for idle in self._idle:
                idle.close()
            self._opened -= len(self._idle)
            self._idle.clear()

    def stream(self, sql: str, parameters: Sequence[Any]) -> Iterator[Any]:
        with store_errors(self.where), connect_postgresql(self.url) as conn:
            conn.execute(f'SET search_path TO "{self.schema}"')
            with conn.cursor(name="crossverify_stream") as cursor:
                cursor.itersize = 5_000
                cursor.execute(translate(sql), tuple(parameters))
                yield from cursor

    def acquire(self, task: str, wait: float) -> None:
        """Take ``task``'s advisory lock on this connection, waiting up to ``wait`` seconds for its holder (another
        thread of this process too: the session's lock would let every thread sharing the connection in)."""
        key = _lock_key(self.schema, task)
        deadline = time.monotonic() + wait
        while not self._take(task, key):
            if time.monotonic() >= deadline:
                row = self.execute(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = ? AND l.objid = ?",
                    ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF)).fetchone()
                holder = f"process {row[0].removeprefix('crossverify ')}" if row else "another replica"
                raise StoreLocked(f"the {task} of {self.where} runs in {holder}; it is left to it")
            time.sleep(0.1)

    def _take(self, task: str, key: int) -> bool:
        """Whether this thread now holds ``task`` (it may hold it already; another thread's hold is refused)."""
        with self.lock:
            if self.holders.get(task, threading.get_ident()) != threading.get_ident() \
                    or not self._on_own("SELECT pg_try_advisory_lock(%s)", key):
                return False
            self.held[task] = self.held.get(task, 0) + 1
            self.holders[task] = threading.get_ident()
            return True

    def _on_own(self, sql: str, key: int) -> Any:
        """One advisory-lock call on the store's own connection (the session that holds its locks); a connection
        that broke while it held none (the server restarted meanwhile) is opened again first."""
        with self.lock:
            for attempt in (1, 2):
                try:
                    with self.guard():
                        return self.connection().execute(sql, (key,)).fetchone()[0]  # type: ignore[index]
                except StoreUnavailable:
                    if self.held or attempt == 2 or self.conn is None or not self.conn.broken:
                        raise

    def release(self, task: str) -> None:
        """Give ``task``'s lock back (a broken connection gave it back already)."""
        count = self.held.pop(task, 0)
        if count > 1:
            self.held[task] = count - 1
        else:
            self.holders.pop(task, None)
        conn = self.conn
        if count and conn is not None and not conn.broken and not conn.closed:
            with self.lock, contextlib.suppress(Exception):  # the server went away: the lock went with it
                conn.execute("SELECT pg_advisory_unlock(%s)", (_lock_key(self.schema, task),))

    def close(self) -> None:
        self.closed = True
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self._drop_idle()
        self.held.clear()
        self.holders.clear()


class _Session:
    """A pooled connection inside one transaction, as stores use it."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        return _Rows(self.conn.execute(translate(sql), tuple(parameters)))

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Any:
        with self.conn.cursor() as cursor:
            cursor.executemany(translate(sql), [tuple(p) for p in parameters])
            return _Rows(cursor)


class _Rows:
    """A statement's rows, read while its connection was held (before it goes back to the pool, or to another
    thread)."""

    rowcount: int

    def __init__(self, cursor: psycopg.Cursor[Any] | sqlite3.Cursor) -> None:
        self.rowcount = cursor.rowcount
        self.rows = cursor.fetchall() if cursor.description is not None else []
        self._next = 0

    def fetchone(self) -> Any:
        if self._next >= len(self.rows):
            return None
        self._next += 1
        return self.rows[self._next - 1]

    def fetchmany(self, size: int = 1) -> list[Any]:
        out = self.rows[self._next:self._next + size]
        self._next += len(out)
        return out

    def fetchall(self) -> list[Any]:
        out = self.rows[self._next:]
        self._next = len(self.rows)
        return out

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


def _lock_key(schema: str, task: str) -> int:
    """The advisory lock key (a signed 64-bit number) of ``task`` on the store in ``schema``."""
    return int.from_bytes(hashlib.sha256(f"crossverify:{schema}:{task}".encode()).digest()[:8], "big", signed=True)


def statements(script: str) -> list[str]:
    """A script's statements (``--`` comments dropped)."""
    text = re.sub(r"--[^\n]*", "", script)
    return [s.strip() for s in text.split(";") if s.strip()]


_TYPES = [
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\b", re.I), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
    (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
    (re.compile(r"\bX'([0-9A-Fa-f]*)'"), r"'\\x\1'::bytea"),
]
_CREATE_TABLE = re.compile(r"^\s*CREATE\s+TABLE\b", re.I)
_WITHOUT_ROWID = re.compile(r"\)\s*WITHOUT\s+ROWID\s*$", re.I)


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """Portable SQL as PostgreSQL (psycopg) reads it: ``%s`` placeholders, and in table definitions its types
    and an identity ``rowid`` where SQLite has an implicit one."""
    if re.match(r"^\s*(CREATE|ALTER)\s+TABLE\b", sql, re.I):
        sql = sql.strip().rstrip(";")
        implicit_rowid = bool(_CREATE_TABLE.match(sql)) and not _WITHOUT_ROWID.search(sql) and not re.search(
            r"\bINTEGER\s+PRIMARY\s+KEY\b", sql, re.I) and " AS SELECT" not in sql.upper()
        sql = _WITHOUT_ROWID.sub(")", sql)
        for pattern, replacement in _TYPES:
            sql = pattern.sub(replacement, sql)
        if implicit_rowid:
            sql = sql[:sql.rindex(")")] + ",\n    rowid BIGINT GENERATED ALWAYS AS IDENTITY)"
    out, quoted = [], False
    for char in sql:
        if char == "'":
            quoted = not quoted
        if char == "%":
            out.append("%%")
        elif char == "?" and not quoted:
            out.append("%s")
        else:
            out.append(char)
    return "".join(out)


# -- inspecting and copying ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoreState:
    """A store as it is, read without migrating or creating it: its schema version, the version this crossverify
    writes, its tables' row counts, and the engine's integrity verdict (``ok``, or what is wrong)."""

    where: str
    version: int
    current: int
    rows: dict[str, int]
    integrity: str

    @property
    def verdict(self) -> str:
        if self.integrity != "ok":
            return "damaged"
        if self.version > self.current:
            return "newer than this crossverify"
        return "current" if self.version == self.current else "needs migrating"


def inspect(location: Location, migrations: Sequence[Migration], kind: str) -> StoreState | None:
    """What the store of ``kind`` at ``location`` holds, or ``None`` where there is none; changes nothing."""
    if is_postgresql(location):
        schema, where = schema_name(kind), f"{redacted(str(location))} (schema {schema_name(kind)})"
        with store_errors(where), connect_postgresql(str(location), autocommit=True) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name",
                (schema,))]
            if not tables:
                return None
            conn.execute(f'SET search_path TO "{schema}"')
            row = conn.execute("SELECT version FROM store_version").fetchone() if "store_version" in tables else None
            rows = {t: int(conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0])  # type: ignore[index]
                    for t in tables if t != "store_version"}
            return StoreState(where, 0 if row is None else int(row[0]), len(migrations), rows, "ok")
    path = Path(location)
    if not path.exists():
        return None
    with store_errors(path):
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = "; ".join(r[0] for r in db.execute("PRAGMA integrity_check").fetchall())
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            rows = {t: int(db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]) for t in _sqlite_tables(db)}
        finally:
            db.close()
    return StoreState(str(path), version, len(migrations), rows, verdict)


def _sqlite_tables(db: sqlite3.Connection) -> list[str]:
    return [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                                     "'sqlite\\_%' ESCAPE '\\' ORDER BY name")]


def copy_rows(source: Store, target: Store, *, batch: int = 10_000) -> dict[str, int]:
    """Copy every row of the SQLite store ``source`` (held alone from now on: :func:`hold_alone`) into the
    PostgreSQL store ``target`` (both open, so at the same schema version; ``target`` new, or with no rows) in one
    transaction, in insertion order, then verify the copy row for row (each table's count and an order-free digest
    of its rows on both sides). Returns the rows copied per table."""
    if source.engine != "sqlite" or target.engine != "postgresql":
        raise StoreError("a store is copied from an SQLite file into PostgreSQL")
    hold_alone(source)
    with source.lock:
        tables = {t: [r[1] for r in source._sqlite.execute(f'PRAGMA table_info("{t}")')]
                  for t in _sqlite_tables(source._sqlite)}
    with target.transaction() as db:
        for table in tables:
            if target.opened_at_version == 0:  # created by this copy: what its migrations seeded gives way
                db.execute(f'DELETE FROM "{table}"')
            elif db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]:
                raise StoreError(f"{target.where} already holds {table} rows: copy into an empty database (or drop "
                                 f"the schema {target.schema} first)")
        for table, columns in tables.items():
            listed = ", ".join(f'"{c}"' for c in columns)
            insert = f'INSERT INTO "{table}" ({listed}) VALUES ({", ".join("?" * len(columns))})'
            with source.lock, store_errors(source.where):
                rows = source._sqlite.execute(f'SELECT {listed} FROM "{table}" ORDER BY {_order(source, table)}')
                while chunk := rows.fetchmany(batch):
                    db.executemany(insert, chunk)
        for table, column in db.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = ? AND "
                "is_identity = 'YES' AND column_name <> 'rowid'", (target.schema,)).fetchall():
            db.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
                       f'COALESCE(MAX("{column}"), 0) + 1, false) FROM "{table}"')
    copied = {}
    for table, columns in tables.items():
        theirs, ours = _digest(source, table, columns), _digest(target, table, columns)
        if theirs != ours:
            raise StoreCorrupt(f"{table} differs after the copy ({theirs[0]} rows in {source.where}, {ours[0]} in "
                               f"{target.where}): nothing is relied on; drop the schema {target.schema} and copy again")
        copied[table] = theirs[0]
    return copied


def hold_alone(store: Store) -> None:
    """Hold the SQLite ``store`` alone until it is closed: no other process reads or writes it meanwhile. Refused
    (:class:`StoreLocked`) while another process has it open: a service's workers share a bank's challenges and
    outbox without holding its lock file, and what they wrote after a copy would stay behind."""
    assert store.path is not None
    with store.lock, store_errors(store.where):
        db = store._sqlite
        db.execute("PRAGMA locking_mode = EXCLUSIVE")  # kept till the connection closes, once taken
        db.execute(f"PRAGMA busy_timeout = {HOLD_WAIT * 1000}")
        try:
            db.execute("BEGIN EXCLUSIVE")
        except sqlite3.OperationalError as exc:
            db.execute("PRAGMA locking_mode = NORMAL")
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            raise StoreLocked(f"{store.where} is open in another process (a service, a worker, a command): stop it, "
                              "then copy (what it writes later would not be copied)") from None
        db.execute("COMMIT")


def _order(store: Store, table: str) -> str:
    """The insertion order of an SQLite table: its rowid, or its primary key for a table without one."""
    sql = store._sqlite.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    if not _WITHOUT_ROWID.search(sql.strip().rstrip(";")):
        return "rowid"
    keys = sorted((r[5], r[1]) for r in store._sqlite.execute(f'PRAGMA table_info("{table}")') if r[5])
    return ", ".join(f'"{name}"' for _, name in keys)


def _digest(store: Store, table: str, columns: Sequence[str]) -> tuple[int, int]:
    """A table's row count and the sum (mod 2**256) of its rows' SHA-256: equal for equal multisets of rows."""
    count = total = 0
    listed = ", ".join(f'"{c}"' for c in columns)
    for row in store.stream(f'SELECT {listed} FROM "{table}"'):
        text = repr(tuple(bytes(v) if isinstance(v, bytes | memoryview) else v for v in row)).encode()
        total = (total + int.from_bytes(hashlib.sha256(text).digest(), "big")) % 2**256
        count += 1
    return count, total
