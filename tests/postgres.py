"""The PostgreSQL tier: one throw-away server per test session, a database per test module, emptied after each
test; ``location(name)`` is where a test's store lives on the engine it runs on (a test asking for it runs
twice: on SQLite files and on PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from crossverify.bench._postgres import PostgresServer, postgres_server
from crossverify.store import Location

#: Where a test's store named ``name`` (an SQLite file name) lives.
Locate = Callable[[str], Location]
ENGINES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="module")
def postgres_databases(postgres: PostgresServer, request: pytest.FixtureRequest) -> dict[str, str]:
    """The test module's databases by store name, made on first use: the first one is :func:`postgres_url`."""
    return {"": postgres.create_database(re.sub(r"\W", "_", request.module.__name__)[-50:])}


@pytest.fixture(scope="module")
def postgres_url(postgres_databases: dict[str, str]) -> str:
    """An empty database for this test module."""
    return postgres_databases[""]


def empty(url: str) -> None:
    """Drop every store of the database (closing what the test left open), for the next test."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                     "AND pid <> pg_backend_pid()")
        schemas = [r[0] for r in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema') "
            "AND nspname NOT LIKE 'pg\\_%'")]
        for schema in schemas:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def location(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Locate]:
    """Where this test's stores live: files in ``tmp_path``, or the module's PostgreSQL database."""
    if engine == "sqlite":
        yield lambda name: tmp_path / name
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    databases: dict[str, str] = request.getfixturevalue("postgres_databases")
    names: dict[str, str] = {}  # the test's store names: the first in the module's database, others in their own

    def locate(name: str) -> str:
        if name not in names:
            key = "" if not names else name
            if key not in databases:
                databases[key] = server.create_database(
                    re.sub(r"\W", "_", f"{request.module.__name__}_{Path(name).stem}")[-60:])
            names[name] = databases[key]
        return names[name]

    yield locate
    for url in set(names.values()):
        empty(url)
