"""Local stores: one writer, owner-only files, integrity, schema versions, chain binding, backups, and every
storage failure named."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from crossverify.errors import (
    StoreChainMismatch,
    StoreCorrupt,
    StoreError,
    StoreLocked,
    StoreTooNew,
    StoreUnavailable,
)
from crossverify.issuer.journal import MIGRATIONS, Journal
from crossverify.store import Store, store_errors

SCHEMA = ("CREATE TABLE items (id INTEGER PRIMARY KEY, value TEXT NOT NULL);",
          "ALTER TABLE items ADD COLUMN note TEXT;")
IDENTITY = {"chain_id": "1337", "genesis": "0x" + "aa" * 32, "registry": "0x" + "11" * 20}


def test_a_second_writer_is_refused_at_once(tmp_path: Path) -> None:
    first = Store(tmp_path / "s.sqlite", SCHEMA, kind="test store")
    with pytest.raises(StoreLocked, match=f"in use by process {os.getpid()}"):
        Store(tmp_path / "s.sqlite", SCHEMA, kind="test store")
    first.close()
    Store(tmp_path / "s.sqlite", SCHEMA, kind="test store").close()


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


def test_migrations_bring_an_old_store_up_to_date(tmp_path: Path) -> None:
    Store(tmp_path / "s.sqlite", SCHEMA[:1], kind="test store").close()
    store = Store(tmp_path / "s.sqlite", SCHEMA, kind="test store")
    assert store.version == 2
    with store.transaction() as db:
        db.execute("INSERT INTO items (value, note) VALUES ('v', 'n')")
    store.close()


def test_a_journal_from_before_schema_versions_opens_and_migrates(tmp_path: Path) -> None:
    legacy = sqlite3.connect(tmp_path / "journal.sqlite")
    legacy.executescript(MIGRATIONS[0])  # what earlier versions created, with user_version 0
    legacy.close()
    journal = Journal(tmp_path / "journal.sqlite")
    assert journal.store.version == len(MIGRATIONS)
    journal.close()


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    Store(tmp_path / "s.sqlite", SCHEMA, kind="test store").close()
    with pytest.raises(StoreTooNew, match="schema version 2"):
        Store(tmp_path / "s.sqlite", SCHEMA[:1], kind="test store")


def test_a_failed_migration_changes_nothing(tmp_path: Path) -> None:
    Store(tmp_path / "s.sqlite", SCHEMA[:1], kind="test store").close()
    with pytest.raises(StoreUnavailable):
        Store(tmp_path / "s.sqlite", (SCHEMA[0], "ALTER TABLE items ADD COLUMN x; ALTER TABLE nowhere ADD y;"),
              kind="test store")
    store = Store(tmp_path / "s.sqlite", SCHEMA[:1], kind="test store")
    assert store.version == 1
    assert [r[1] for r in store.db.execute("PRAGMA table_info(items)")] == ["id", "value"]
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


def test_binding_refuses_another_chain(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite", SCHEMA, kind="journal")
    store.bind(IDENTITY)
    store.bind(IDENTITY)
    with pytest.raises(StoreChainMismatch, match="genesis"):
        store.bind({**IDENTITY, "genesis": "0x" + "bb" * 32})
    assert store.binding() == IDENTITY
    store.close()


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
    assert "named:" in out.stdout and "full" in out.stdout, out.stderr
    store = Store(tmp_path / "s.sqlite", ["CREATE TABLE items (id INTEGER PRIMARY KEY, value TEXT)"], kind="x")
    assert store.db.execute("SELECT value FROM items").fetchall() == [("kept",)]
    store.close()
