"""Local stores: one writer, owner-only files, integrity, schema versions, chain binding, backups, and every
storage failure named."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

from crossverify import store as store_module
from crossverify.bench._postgres import PostgresServer
from crossverify.errors import (
    StoreChainMismatch,
    StoreCorrupt,
    StoreError,
    StoreLocked,
    StoreTooNew,
    StoreUnavailable,
)
from crossverify.issuer.journal import MIGRATIONS, Journal
from crossverify.store import Migration, Store, store_errors

from .postgres import Locate, empty

SCHEMA = ("CREATE TABLE items (id INTEGER PRIMARY KEY, value TEXT NOT NULL);",
          "ALTER TABLE items ADD COLUMN note TEXT;")
IDENTITY = {"chain_id": "1337", "genesis": "0x" + "aa" * 32, "registry": "0x" + "11" * 20}


def test_a_second_writer_is_refused_at_once(tmp_path: Path) -> None:
    first = Store(tmp_path / "s.sqlite", SCHEMA, kind="test store")
    with pytest.raises(StoreLocked, match=f"in use by process {os.getpid()}"):
        Store(tmp_path / "s.sqlite", SCHEMA, kind="test store")
    first.close()
    Store(tmp_path / "s.sqlite", SCHEMA, kind="test store").close()


def test_a_reader_takes_no_lock_writes_nothing_and_refuses_an_unmigrated_store(tmp_path: Path) -> None:
    old = Store(tmp_path / "s.sqlite", SCHEMA[:1], kind="test store")
    with old.transaction() as db:
        db.execute("INSERT INTO items (value) VALUES ('kept')")
    with pytest.raises(StoreUnavailable, match="schema version 1, this crossverify reads 2: migrate it first"):
        Store(tmp_path / "s.sqlite", SCHEMA, kind="test store", read_only=True)
    reader = Store(tmp_path / "s.sqlite", SCHEMA[:1], kind="test store", read_only=True)  # beside the writer
    assert reader.db.execute("SELECT value FROM items").fetchall() == [("kept",)]
    with pytest.raises(StoreUnavailable, match="read-only"), reader.transaction() as db:
        db.execute("INSERT INTO items (value) VALUES ('lost')")
    reader.close()
    old.close()


def test_another_process_is_refused_while_one_holds_it(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from crossverify.store import Store; "
         f"held = Store({str(tmp_path / 's.sqlite')!r}, ['CREATE TABLE t (x)'], kind='x'); print('held', flush=True); "
         "sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreLocked, match=f"process {holder.pid}"):
            Store(tmp_path / "s.sqlite", ["CREATE TABLE t (x)"], kind="x")
    finally:
        holder.communicate("")
    Store(tmp_path / "s.sqlite", ["CREATE TABLE t (x)"], kind="x").close()  # released with the process


def test_files_are_owner_only(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite", SCHEMA, kind="test store")
    with store.transaction() as db:
        db.execute("INSERT INTO items (value) VALUES ('personal')")
    for suffix in ("", "-wal", "-shm"):
        path = tmp_path / f"s.sqlite{suffix}"
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    store.close()


def test_migrations_bring_an_old_store_up_to_date(location: Locate) -> None:
    Store(location("s.sqlite"), SCHEMA[:1], kind="test store").close()
    store = Store(location("s.sqlite"), SCHEMA, kind="test store")
    assert (store.opened_at_version, store.version) == (1, 2)
    with store.transaction() as db:
        db.execute("INSERT INTO items (value, note) VALUES ('v', 'n')")
        assert db.execute("INSERT INTO items (value) VALUES ('w') RETURNING id").fetchone()[0] == 2
    assert store.db.execute("SELECT value, note FROM items ORDER BY id").fetchall() == [("v", "n"), ("w", None)]
    store.close()


def test_a_journal_from_before_schema_versions_opens_and_migrates(tmp_path: Path) -> None:
    legacy = sqlite3.connect(tmp_path / "journal.sqlite")
    legacy.executescript(MIGRATIONS[0])  # what earlier versions created, with user_version 0
    legacy.close()
    journal = Journal(tmp_path / "journal.sqlite")
    assert journal.store.version == len(MIGRATIONS)
    journal.close()


def test_a_store_from_a_newer_version_is_refused(location: Locate) -> None:
    Store(location("s.sqlite"), SCHEMA, kind="test store").close()
    with pytest.raises(StoreTooNew, match="schema version 2"):
        Store(location("s.sqlite"), SCHEMA[:1], kind="test store")


def test_a_failed_migration_changes_nothing(location: Locate) -> None:
    Store(location("s.sqlite"), SCHEMA[:1], kind="test store").close()
    with pytest.raises((StoreUnavailable, StoreCorrupt)):
        Store(location("s.sqlite"), (SCHEMA[0], "ALTER TABLE items ADD COLUMN x TEXT; ALTER TABLE nowhere ADD y TEXT;"),
              kind="test store")
    store = Store(location("s.sqlite"), SCHEMA[:1], kind="test store")
    assert store.version == 1
    with pytest.raises((StoreUnavailable, StoreCorrupt)), store_errors(store.where):
        store.db.execute("SELECT x FROM items")
    store.close()


def test_each_engine_has_its_rowid_types_and_upserts(location: Locate) -> None:
    """The portable subset: rowid in insertion order, BLOB as bytes, large integers, upserts, RETURNING."""
    store = Store(location("s.sqlite"), ["""
        CREATE TABLE kv (k BLOB PRIMARY KEY, n INTEGER NOT NULL, t REAL, note TEXT);  -- a comment; with a semicolon
        CREATE TABLE ids (id INTEGER PRIMARY KEY, v TEXT)"""], kind="test store")
    with store.transaction() as db:
        db.executemany("INSERT INTO kv (k, n, t) VALUES (?, ?, ?)", [(bytes([9 - i]) * 3, 2**40 + i, 0.5)
                                                                     for i in range(3)])
        db.execute("INSERT INTO kv (k, n) VALUES (?, ?) ON CONFLICT DO NOTHING", (bytes([9]) * 3, 0))
        db.execute("INSERT INTO kv (k, n) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET n = excluded.n, note = '100%'",
                   (bytes([8]) * 3, 7))
    rows = store.db.execute("SELECT k, n, t, note FROM kv ORDER BY rowid").fetchall()
    assert rows == [(b"\t\t\t", 2**40, 0.5, None), (b"\x08\x08\x08", 7, 0.5, "100%"),
                    (b"\x07\x07\x07", 2**40 + 2, 0.5, None)]
    with store.transaction() as db:
        assert [db.execute("INSERT INTO ids (v) VALUES (?) RETURNING id", (v,)).fetchone()[0] for v in "ab"] == [1, 2]
    store.close()


def test_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "s.sqlite").write_bytes(b"this is a spreadsheet, not a database" * 200)
    with pytest.raises(StoreCorrupt, match="restore it from a backup"):
        Store(tmp_path / "s.sqlite", SCHEMA, kind="test store")


@pytest.mark.parametrize(("message", "error", "remedy"), [
    ("attempt to write a readonly database", StoreUnavailable, "read-only"),
    ("database or disk is full", StoreUnavailable, "full"),
    ("database is locked", StoreLocked, "busy"),
    ("disk I/O error", StoreUnavailable, "cannot be used"),
])
def test_sqlite_failures_are_named_with_a_remedy(tmp_path: Path, message: str, error: type[StoreError],
                                                 remedy: str) -> None:
    with pytest.raises(error, match=remedy), store_errors(tmp_path / "s.sqlite"):
        raise sqlite3.OperationalError(message)


def test_binding_refuses_another_chain(location: Locate) -> None:
    store = Store(location("s.sqlite"), SCHEMA, kind="journal")
    store.bind(IDENTITY)
    store.bind(IDENTITY)
    with pytest.raises(StoreChainMismatch, match="genesis"):
        store.bind({**IDENTITY, "genesis": "0x" + "bb" * 32})
    assert store.binding() == IDENTITY
    store.close()


def test_a_task_runs_in_one_process_and_passes_on_when_its_holder_dies(location: Locate) -> None:
    where = str(location("s.sqlite"))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from crossverify.store import Store; "
         f"store = Store({where!r}, {list(SCHEMA)!r}, kind='test store', exclusive=False); "
         "held = store.exclusively('audit sync'); held.__enter__(); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    store = Store(where, SCHEMA, kind="test store", exclusive=False)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreLocked, match=f"the audit sync of .* runs in process .*{holder.pid}"), \
                store.exclusively("audit sync"):
            pass
        with store.exclusively("issuer pipeline"):  # another task is free
            pass
    finally:
        holder.kill()  # as kill -9: the holder never lets go itself
        holder.wait()
    other = Store(where, SCHEMA, kind="test store", exclusive=False)
    with store.exclusively("audit sync", wait=10), pytest.raises(StoreLocked), other.exclusively("audit sync"):
        pass
    store.close()


def test_a_task_runs_in_one_thread_of_a_process_at_a_time(location: Locate) -> None:
    """A replica's request thread opening the regulator's new receipts while its audit worker syncs them: the
    second thread is refused, as another process is (PostgreSQL's session lock, on the connection the threads
    share, let both in), and the holder's statements stay on the connection that holds the lock."""
    store = Store(location("s.sqlite"), SCHEMA, kind="test store")
    held, done = threading.Event(), threading.Event()
    refused: list[BaseException] = []

    def worker() -> None:
        with store.exclusively("audit sync"):
            held.set()
            done.wait(10)

    def request() -> None:
        try:
            with store.exclusively("audit sync", wait=0.3):
                pass
        except StoreLocked as exc:
            refused.append(exc)

    holder = threading.Thread(target=worker)
    holder.start()
    assert held.wait(10)
    other = threading.Thread(target=request)
    other.start()
    other.join()
    if store.engine == "postgresql":
        assert store._pg.holders == {"audit sync": holder.ident}
    done.set()
    holder.join()
    assert len(refused) == 1 and "runs in" in str(refused[0])
    with store.exclusively("audit sync"):  # free again
        pass
    store.close()


def test_a_postgresql_store_connects_again_after_the_server_restarts(postgres: PostgresServer,
                                                                     postgres_url: str) -> None:
    store = Store(postgres_url, SCHEMA, kind="test store")
    with store.transaction() as db:
        db.execute("INSERT INTO items (value) VALUES ('before')")
    postgres.stop("immediate")  # as a crash
    try:
        with pytest.raises(StoreUnavailable, match="cannot be reached"):
            store.db.execute("SELECT COUNT(*) FROM items")
        with pytest.raises(StoreUnavailable, match="cannot be reached"), store.transaction() as db:
            db.execute("INSERT INTO items (value) VALUES ('lost')")
    finally:
        postgres.start()
    with store.transaction() as db:
        db.execute("INSERT INTO items (value) VALUES ('after')")
    assert store.db.execute("SELECT value FROM items ORDER BY id").fetchall() == [("before",), ("after",)]
    with store.exclusively("audit sync"):
        postgres.stop("immediate")
        postgres.start()
        with pytest.raises(StoreUnavailable, match="broke while this process ran audit sync"):
            store.db.execute("SELECT 1")
    store.db.execute("SELECT 1")  # the next use connects again
    empty(postgres_url)


def test_every_postgresql_connection_has_tcp_keepalives_unless_its_url_sets_them(postgres_url: str) -> None:
    """Without them a replica whose database server vanished waits for the kernel's two hours, holding locks."""
    store = Store(postgres_url, SCHEMA, kind="test store")
    with store._pg.pooled() as pooled:
        for conn in (store._pg.connection(), pooled):
            assert {k: conn.info.get_parameters().get(k) for k in store_module.KEEPALIVES} == store_module.KEEPALIVES
    store.close()
    own = Store(postgres_url + ("&" if "?" in postgres_url else "?") + "keepalives_idle=5", SCHEMA, kind="test store")
    assert own._pg.connection().info.get_parameters()["keepalives_idle"] == "5"
    own.close()
    empty(postgres_url)


def test_a_replica_opening_a_store_waits_for_another_s_long_migration(postgres_url: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Replicas started together: one migrates (a large journal or index: minutes), the others wait for it, as
    deploy.md says, however long it takes past a statement's lock timeout (they stopped at it: StoreLocked, 'busy in
    another transaction: canceling statement due to lock timeout')."""
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT", 0.2)
    Store(postgres_url, SCHEMA[:1], kind="test store").close()
    migrating = psycopg.connect(postgres_url, autocommit=True)
    migrating.execute("SELECT pg_advisory_lock(%s)", (store_module._lock_key("test_store", "open"),))
    with monkeypatch.context() as short:
        short.setattr(store_module, "OPEN_WAIT", 0.3)
        with pytest.raises(StoreLocked, match=r"opened \(migrated\) by another process for 0.3 s"):
            Store(postgres_url, SCHEMA, kind="test store")
    threading.Timer(1.0, migrating.close).start()  # its migration done (or it died)
    store = Store(postgres_url, SCHEMA, kind="test store")
    assert (store.opened_at_version, store.version) == (1, 2)
    store.close()
    empty(postgres_url)


def test_a_deadlocks_victim_runs_again_once_the_other_commits(postgres_url: str) -> None:
    """Two replicas update the same two rows in opposite orders (``Store.transact``): PostgreSQL ends one
    transaction as a deadlock's victim, rolled back whole; it runs again after the other commits, and both land."""
    replicas = [Store(postgres_url, SCHEMA, kind="test store") for _ in range(2)]
    with replicas[0].transaction() as db:
        first, second = (db.execute("INSERT INTO items (value) VALUES ('') RETURNING id").fetchone()[0]
                         for _ in range(2))
    together = threading.Barrier(2, timeout=10)
    runs: Counter[int] = Counter()
    failures: list[Exception] = []

    def crosswise(n: int) -> None:
        rows = (first, second) if n == 0 else (second, first)

        def work(db: Any) -> None:
            runs[n] += 1
            db.execute("UPDATE items SET value = value || ? WHERE id = ?", (str(n), rows[0]))
            if runs[n] == 1:
                together.wait()  # each holds its first row: the second crosses the other's
            db.execute("UPDATE items SET value = value || ? WHERE id = ?", (str(n), rows[1]))

        try:
            replicas[n].transact(work)
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=crosswise, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures and sorted(runs.values()) == [1, 2], (failures, runs)
    values = [v for (v,) in replicas[1].db.execute("SELECT value FROM items WHERE id IN (?, ?)", (first, second))]
    assert sorted(values) in (["01", "01"], ["10", "10"])  # the survivor's, then the victim's, on both rows
    for store in replicas:
        store.close()
    empty(postgres_url)


def test_a_key_two_replicas_write_at_once_is_a_race_run_again_not_a_damaged_store(postgres_url: str) -> None:
    """Two replicas insert the same key: the second waits for the first, then PostgreSQL refuses it with a unique
    violation, which read as ``StoreCorrupt`` ("restore it from a backup"). It is ``StoreLocked``, and
    ``Store.transact`` runs the work again, which then finds the other's row."""
    replicas = [Store(postgres_url, SCHEMA, kind="test store") for _ in range(2)]
    looked = threading.Barrier(2, timeout=10)
    runs: Counter[int] = Counter()
    failures: list[Exception] = []

    def write(n: int, db: Any) -> None:
        runs[n] += 1
        found = db.execute("SELECT 1 FROM items WHERE id = 7").fetchone()
        if runs[n] == 1:
            looked.wait()  # both found no row
            time.sleep(0.1 * n)  # replica 0 inserts first
        if found is None:
            db.execute("INSERT INTO items (id, value) VALUES (7, ?)", (str(n),))
        time.sleep(0.3 * (n == 0))  # replica 1's insert waits for this commit, then is refused

    def replica(n: int, once: bool) -> None:
        try:
            if once:
                with replicas[n].transaction() as db:
                    write(n, db)
            else:
                replicas[n].transact(lambda db: write(n, db))
        except Exception as exc:
            failures.append(exc)

    for once in (True, False):
        replicas[0].db.execute("DELETE FROM items")
        runs.clear()
        threads = [threading.Thread(target=replica, args=(n, once)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert [type(f) for f in failures] == [StoreLocked] and "same key" in str(failures[0])  # the plain transaction
    assert runs == {0: 1, 1: 2}  # the transacted work ran again, and found the row
    assert replicas[1].db.execute("SELECT value FROM items").fetchall() == [("0",)]
    for store in replicas:
        store.close()
    empty(postgres_url)


def test_a_closed_store_refuses_every_statement_by_name(location: Locate) -> None:
    """A thread still at work when its process closes a store (a worker's round at shutdown) is told the store was
    closed: not that it is damaged (SQLite's closed connection is a DatabaseError), and without a connection
    opened again behind the close (PostgreSQL's pool and its own connection reconnected quietly)."""
    store = Store(location("s.sqlite"), SCHEMA, kind="test store")
    with store.transaction() as db:
        db.execute("INSERT INTO items (value) VALUES ('kept')")
    store.close()
    with pytest.raises(StoreUnavailable, match="was closed"):
        store.db.execute("SELECT COUNT(*) FROM items")
    with pytest.raises(StoreUnavailable, match="was closed"), store.transaction() as db:
        db.execute("INSERT INTO items (value) VALUES ('after')")
    with pytest.raises(StoreUnavailable, match="was closed"), store.exclusively("audit sync"):
        pass
    if store.engine == "postgresql":
        assert store._pg.conn is None and store._pg._opened == 0  # nothing opened again
    store.close()  # closing again is harmless
    again = Store(location("s.sqlite"), SCHEMA, kind="test store")
    assert again.db.execute("SELECT value FROM items").fetchall() == [("kept",)]
    again.close()


def test_backup_is_a_consistent_owner_only_copy(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite", SCHEMA, kind="test store")
    with store.transaction() as db:
        db.executemany("INSERT INTO items (value) VALUES (?)", [(str(i),) for i in range(100)])
    copy = store.backup(tmp_path / "backup" / "s.sqlite")
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    with pytest.raises(StoreError, match="exists"):
        store.backup(copy)
    store.close()
    restored = Store(copy, SCHEMA, kind="test store")
    assert restored.db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 100
    restored.close()


def test_a_full_disk_is_named_and_commits_nothing(tmp_path: Path) -> None:
    """A file-size limit (as a full disk) stops a large write: the error is named and the store is unchanged."""
    code = f"""
import resource, sys
from crossverify.store import Store, store_errors
from crossverify.errors import StoreUnavailable
store = Store({str(tmp_path / 's.sqlite')!r}, ["CREATE TABLE items (id INTEGER PRIMARY KEY, value TEXT)"], kind="x")
with store.transaction() as db:
    db.execute("INSERT INTO items (value) VALUES ('kept')")
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
try:
    with store.transaction() as db:
        db.executemany("INSERT INTO items (value) VALUES (?)", [("x" * 1000,) for _ in range(1000)])
except StoreUnavailable as exc:
    print("named:", exc)
"""
    import signal
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGXFSZ, signal.SIG_IGN))
    assert "named:" in out.stdout and "disk is full" in out.stdout and "rollback" not in out.stdout, out.stderr
    store = Store(tmp_path / "s.sqlite", ["CREATE TABLE items (id INTEGER PRIMARY KEY, value TEXT)"], kind="x")
    assert store.db.execute("SELECT value FROM items").fetchall() == [("kept",)]
    store.close()


def _every_store() -> list[tuple[str, Sequence[Migration]]]:
    from crossverify.cli.store import KINDS
    from crossverify.service.auth import BUCKETS

    return [(k.kind, k.migrations()) for k in KINDS] + [("rate limits", BUCKETS)]


@pytest.mark.parametrize(("kind", "version"), [(kind, version) for kind, steps in _every_store()
                                                 for version in range(len(steps))])
def test_every_store_migrates_from_each_older_version(location: Locate, kind: str, version: int) -> None:
    steps = dict(_every_store())[kind]
    if version:
        Store(location("s.sqlite"), steps[:version], kind=kind).close()
    store = Store(location("s.sqlite"), steps, kind=kind)
    assert (store.opened_at_version, store.version) == (version, len(steps))
    store.bind(IDENTITY)
    store.close()
    assert Store(location("s.sqlite"), steps, kind=kind).binding() == IDENTITY
