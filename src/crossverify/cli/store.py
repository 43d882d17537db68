"""``crossverify store``: the institution's stores (journal, pickups, outbox, challenges, audit index, console
sessions) as the configuration places them: check them, migrate them, and move SQLite files into PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ..chain.logs import LogDecoder
from ..chain.registry import CONTRACTS, artifact
from ..config import Config, holds_password
from ..errors import ConfigError, StoreError, StoreUnavailable
from ..issuer import journal, pickup
from ..regulator import schema
from ..service import sessions
from ..store import Location, Migration, Store, copy_rows, hold_alone, inspect, is_postgresql, redacted
from ..verifier import challenges, outbox
from ._shell import App, BadInput, command


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of store: its name here, its kind (which names its PostgreSQL schema), its SQLite file in the
    configuration, and its migrations."""

    name: str
    kind: str
    file: Callable[[Config], Path]
    migrations: Callable[[], Sequence[Migration]]


def _index_migrations() -> Sequence[Migration]:
    """The audit index's steps; its JSON-to-packed step reads events with the contracts' ABIs (no chain)."""
    return schema.migrations(LogDecoder((f"0x{i + 1:040x}", artifact(name)["abi"]) for i, name in
                                        enumerate(CONTRACTS)))


KINDS = (
    Kind("journal", "journal", lambda c: c.issuer.journal, lambda: journal.MIGRATIONS),
    Kind("pickups", "pickup store", lambda c: c.issuer.pickups, lambda: pickup.MIGRATIONS),
    Kind("outbox", "receipt outbox", lambda c: c.verifier.outbox, lambda: outbox.MIGRATIONS),
    Kind("challenges", "challenge store", lambda c: c.verifier.challenges, lambda: challenges.MIGRATIONS),
    Kind("audit", "audit index", lambda c: c.audit.index, _index_migrations),
    Kind("sessions", "console sessions", sessions.sessions_file, lambda: sessions.MIGRATIONS),
)
NAMES = [k.name for k in KINDS]


def _chosen(only: Sequence[str]) -> list[Kind]:
    return [k for k in KINDS if not only or k.name in only]


@click.group("store")
def store() -> None:
    """The stores: check, migrate, copy into PostgreSQL ([storage] url; unset: the SQLite files)."""


@store.command("check")
@click.option("--only", multiple=True, type=click.Choice(NAMES), help="Only these stores (default: all).")
@command
def check(app: App, only: Sequence[str]) -> None:
    """Each store's schema version against this crossverify's, its integrity and its rows; changes nothing.
    Exits 1 when a store is damaged, too new or needs migrating."""
    config = app.session.config
    found: list[dict[str, Any]] = []
    rows = Table("store", "where", "version", "state", "rows", title_justify="left")
    for k in _chosen(only):
        state = inspect(config.storage.location(k.file(config)), k.migrations(), k.kind)
        if state is None:
            rows.add_row(k.name, str(config.storage.location(k.file(config))), "-", "absent", "-")
            found.append({"store": k.name, "state": "absent"})
            continue
        total = sum(state.rows.values())
        rows.add_row(k.name, state.where, f"{state.version}/{state.current}", state.verdict, f"{total:,}")
        found.append({"store": k.name, "where": state.where, "version": state.version, "current": state.current,
                      "state": state.verdict, "integrity": state.integrity, "rows": state.rows})
    app.emit(found, rows)
    if any(f["state"] not in ("current", "absent") for f in found):
        raise SystemExit(1)


@store.command("migrate")
@click.option("--only", multiple=True, type=click.Choice(NAMES), help="Only these stores (default: all that exist).")
@command
def migrate(app: App, only: Sequence[str]) -> None:
    """Bring every existing store to this crossverify's schema version, one numbered, transactional step at a
    time (replicas sharing a PostgreSQL store wait for each other; each step commits with its version)."""
    config = app.session.config
    done, rows = [], Table("store", "where", "from", "to", title_justify="left")
    for k in _chosen(only):
        location = config.storage.location(k.file(config))
        if inspect(location, k.migrations(), k.kind) is None:
            continue  # never created: nothing to migrate (the first use creates it at the current version)
        opened = Store(location, k.migrations(), kind=k.kind, exclusive=False)
        try:
            rows.add_row(k.name, opened.where, str(opened.opened_at_version), str(opened.version))
            done.append({"store": k.name, "where": opened.where, "from": opened.opened_at_version,
                         "to": opened.version})
        finally:
            opened.close()
    if not done:  # a first install, or the wrong folder or --config: say which, not an empty table
        app.emit(done, f"nothing to migrate: none of the stores the configuration ({config.source}) names exists yet "
                       f"({', '.join(str(config.storage.location(k.file(config))) for k in _chosen(only))}); each is "
                       "made at this version when first used")
        return
    app.emit(done, rows)


@store.command("copy")
@click.option("--to", "target", required=True, metavar="URL",
              help="The PostgreSQL database (postgresql://...) to copy into; its stores must be empty.")
@click.option("--only", multiple=True, type=click.Choice(NAMES), help="Only these stores (default: all that exist).")
@command
def copy(app: App, target: str, only: Sequence[str]) -> None:
    """Copy the SQLite stores the configuration names into the PostgreSQL database --to, each in one
    transaction, and verify each table row for row. Stop the service first (a file another process has open is
    refused; each is held alone while copying); then set [storage] url to the database. The files are not changed:
    one at an older schema version is refused (store migrate first)."""
    if not is_postgresql(target):
        raise ConfigError(f"--to must be a postgresql:// URL, got one of scheme {target.partition(':')[0]!r}")
    if holds_password(target):
        raise ConfigError("--to holds a password, which the process list shows: put it in PGPASSWORD or a "
                          ".pgpass file")
    config = app.session.config
    chosen = [(k, k.file(config)) for k in _chosen(only)]
    if missing := [f"{k.name} ({path})" for k, path in chosen if only and not path.exists()]:
        raise BadInput(f"--only {', '.join(missing)}: the file does not exist (in {config.source})")
    if not any(path.exists() for _, path in chosen):
        raise BadInput(f"no store to copy: none of the SQLite files the configuration ({config.source}) names exists "
                       f"({', '.join(str(path) for _, path in chosen)}); give the institution's --config")
    chosen = [(k, path) for k, path in chosen if path.exists()]
    for k, path in chosen:  # all checked before any is copied: nothing made in PostgreSQL for a refused one
        state = inspect(path, k.migrations(), k.kind)
        if state is not None and state.version < state.current:
            raise StoreUnavailable(f"{path} has schema version {state.version}, this crossverify copies "
                                   f"{state.current}: the copy never changes its source, so migrate it first "
                                   f"(crossverify store migrate --only {k.name}, which writes it), then copy")
    done, rows = [], Table("store", "from", "to", "tables", "rows", title_justify="left")
    for k, path in chosen:
        source: Location = path
        held = Store(source, k.migrations(), kind=k.kind)  # refused first: nothing made in PostgreSQL then
        try:
            hold_alone(held)
            into = Store(target, k.migrations(), kind=k.kind)
            try:
                if held.version != into.version:
                    raise StoreError(f"{path} is at version {held.version}, {into.where} at {into.version}")
                copied = copy_rows(held, into)
            finally:
                into.close()
        finally:
            held.close()
        rows.add_row(k.name, str(path), f"{redacted(target)} ({into.schema})", str(len(copied)),
                     f"{sum(copied.values()):,} (verified)")
        done.append({"store": k.name, "from": str(path), "to": into.where, "rows": copied, "verified": True})
    app.emit(done, rows)
